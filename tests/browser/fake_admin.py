#!/usr/bin/env python3
"""Fake Portcullis admin server for developing the dashboard front-end without the gateway.

Serves src/admin/dashboard/{index.html,app.js,app.css} exactly as the Rust server does
(same paths, same CSP) and a fake `dashboard/events` SSE stream that needs
`Authorization: Bearer <token>`: a `hello` with synthetic history and one old finding, then a
`tick` every second with random traffic, hostile strings in audit events (XSS probes), an
unhealthy upstream, and after ~5 s an auth_brute_force finding (more kinds follow later).

Usage: fake_admin.py [--port 0] [--token secret] [--prefix /gw] [--rate 170]
Prints `LISTENING http://127.0.0.1:PORT<prefix>/admin/dashboard` on stdout once bound.
Stdlib only.
"""
import argparse
import json
import math
import random
import sys
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ASSETS = ROOT / "src" / "admin" / "dashboard"
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
       "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
TYPES = {"index.html": "text/html; charset=utf-8", "app.js": "text/javascript; charset=utf-8",
         "app.css": "text/css; charset=utf-8"}

SUBJECTS = ["alice", "bob", "ci-deployer", "svc-reporting", "carol",
            "<img src=x onerror=alert(1)>", "<img src=x onerror=window.__pwned=1>"]
TOOLS = ["get_weather", "search_docs", "read_file", "list_tickets", "send_email",
         '"><script>alert(2)</script>', "echo"]
METHODS = ["tools/call", "tools/list", "resources/read", "initialize", "prompts/get"]
IPS = ["127.0.0.1", "10.0.0.7", "192.0.2.44", "198.51.100.9", "2001:db8::17"]
REASONS = {"allow": ["ok"], "deny": ["policy_denied", "bad_signature", "rate_limited", "unknown_tool",
                                      "</td><b>bold</b>"], "error": ["upstream_error"]}


def iso(ms):
    return datetime.fromtimestamp(ms / 1000, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Traffic:
    """Per-second synthetic traffic; shared by all streams (like the real gateway's counters)."""

    def __init__(self, rate):
        self.rate = rate
        self.lock = threading.Lock()
        self.start = None  # set when the first authorised stream opens: findings follow it
        self.history = []
        self.findings = [{"kind": "off_hours_admin", "severity": "low",
                          "summary": "admin API used at 03:12 by ops-bot",
                          "evidence": {"subject": "ops-bot", "hour": 3, "last_seen": iso((time.time() - 200) * 1000)}}]
        self.totals = {"requests": 0, "auth_failures": 0, "denials": 0, "rate_limited": 0}
        self.ip_failures = {}
        self.principals = {}
        self.tools = {}
        now_ms = int(time.time()) * 1000
        for s in range(120, 0, -1):  # 2 minutes of history before the server started
            self.history.append(self._second(now_ms - s * 1000)[0])

    def _second(self, unix_ms):
        t = unix_ms / 1000
        base = self.rate * (1 + 0.35 * math.sin(t / 23) + 0.15 * math.sin(t / 7))
        requests = max(1, int(random.gauss(base, base * 0.08)))
        auth = random.randint(0, 3) + (8 if int(t) % 45 < 4 else 0)
        limited = random.randint(0, 2) + (12 if int(t) % 60 < 5 else 0)
        policy = random.randint(0, 4)
        denied = min(requests, auth + limited + policy)
        h = {"unix_ms": unix_ms, "requests": requests, "denied": denied, "auth_failures": auth, "rate_limited": limited}
        return h, policy

    def tick(self, unix_ms):
        with self.lock:
            h, policy = self._second(unix_ms)
            self.history.append(h)
            self.history = self.history[-300:]
            allowed = h["requests"] - h["denied"]
            for k, v in (("requests", h["requests"]), ("auth_failures", h["auth_failures"]),
                         ("denials", h["denied"]), ("rate_limited", h["rate_limited"])):
                self.totals[k] += v
            ip = random.choice(IPS)
            self.ip_failures[ip] = self.ip_failures.get(ip, 0) + h["auth_failures"]
            events = []
            for i in range(min(50, h["requests"])):
                decision = "allow" if i >= h["denied"] else "deny"
                if decision == "allow" and random.random() < 0.02:
                    decision = "error"
                subject = random.choice(SUBJECTS)
                tool = random.choice(TOOLS)
                self.principals[subject] = self.principals.get(subject, 0) + 1
                self.tools[tool] = self.tools.get(tool, 0) + 1
                ev = {"time": iso(unix_ms - random.randint(0, 999)), "event": "request", "subject": subject,
                      "peer_ip": random.choice(IPS), "route": "/mcp", "jsonrpc_method": random.choice(METHODS),
                      "target": tool, "decision": decision, "reason": random.choice(REASONS[decision]),
                      "status": {"allow": 200, "deny": random.choice([401, 403, 429]), "error": 502}[decision],
                      "duration_ms": round(random.uniform(0.3, 40), 2)}
                if random.random() < 0.1:  # fields may be missing
                    ev.pop(random.choice(["subject", "jsonrpc_method", "target", "duration_ms"]))
                events.append(ev)
            if random.random() < 0.05:
                events.append({"time": iso(unix_ms), "event": "auth_failure", "peer_ip": ip, "reason": "bad_signature",
                               "status": 401})
            anomalies = []
            age = time.time() - (self.start or time.time())
            if 5 <= age < 6:
                anomalies.append({"kind": "auth_brute_force", "severity": "high",
                                  "summary": "127.0.0.1 failed authentication 25 times",
                                  "evidence": {"ip": "127.0.0.1", "count": 25, "first_seen": iso(unix_ms - 60000),
                                               "last_seen": iso(unix_ms)}})
            if 9 <= age < 10:
                anomalies.append({"kind": "tool_enumeration", "severity": "medium",
                                  "summary": "<img src=x onerror=alert(3)> called 14 distinct tools in 60 s",
                                  "evidence": {"subject": "<img src=x onerror=alert(3)>", "distinct_tools": 14,
                                               "tools": ["a", "b", "c"], "last_seen": iso(unix_ms)}})
            if 13 <= age < 14:
                anomalies.append({"kind": "rate_spike", "severity": "medium",
                                  "summary": "request rate 4.2x the 5-minute baseline",
                                  "evidence": {"rate": 714, "baseline": 170, "last_seen": iso(unix_ms)}})
            if random.random() < 0.03:
                anomalies.append({"kind": "new_ip_for_subject", "severity": "low",
                                  "summary": "alice seen from new IP " + random.choice(IPS),
                                  "evidence": {"subject": "alice", "ip": ip, "last_seen": iso(unix_ms)}})
            self.findings = (self.findings + anomalies)[-200:]
            top = lambda d, key: [{key: k, "count": v} for k, v in sorted(d.items(), key=lambda kv: -kv[1])[:8]]
            up_ok = int(unix_ms / 1000) % 40 >= 8
            return {
                "time": iso(unix_ms), "unix_ms": unix_ms,
                "requests": h["requests"], "allowed": allowed, "denied": h["denied"],
                "auth_failures": h["auth_failures"], "rate_limited": h["rate_limited"],
                "decisions": {"ok": allowed, "policy_denied": policy, "bad_signature": h["auth_failures"],
                              "rate_limited": h["rate_limited"]},
                "totals_1h": dict(self.totals),
                "auth_failures_by_ip": top(self.ip_failures, "ip"),
                "top_principals": top(self.principals, "subject"),
                "top_tools": top(self.tools, "tool"),
                "active": {"sessions": random.randint(2, 6), "streams": random.randint(0, 3),
                           "connections": random.randint(5, 14)},
                "upstreams": [
                    {"name": "weather", "route": "/mcp", "healthy": True, "detail": "ok"},
                    {"name": "docs-search", "route": "/docs/mcp", "healthy": up_ok,
                     "detail": "ok" if up_ok else "connect: connection refused (127.0.0.1:9102)"},
                    {"name": "tickets", "route": "/tickets/mcp", "healthy": True, "detail": "ok · 12 ms"},
                ],
                "anomalies": anomalies,
                "events": events,
            }

    def hello(self):
        with self.lock:
            if self.start is None:
                self.start = time.time()
            return {"findings": list(self.findings), "history": list(self.history)}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-portcullis"

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("fake_admin: " + fmt % args + "\n")

    def _headers(self, status, ctype, length=None):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Security-Policy", CSP)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Cache-Control", "no-store")
        if length is not None:
            self.send_header("Content-Length", str(length))
        else:
            self.send_header("Transfer-Encoding", "chunked")

    def _send(self, status, ctype, body):
        self._headers(status, ctype, len(body))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        base = self.server.prefix + "/admin/dashboard"
        path = self.path.split("?", 1)[0]
        if path == base:
            return self._send(200, TYPES["index.html"], (ASSETS / "index.html").read_bytes())
        if path.startswith(base + "/") and path[len(base) + 1:] in ("app.js", "app.css"):
            name = path[len(base) + 1:]
            return self._send(200, TYPES[name], (ASSETS / name).read_bytes())
        if path == base + "/events":
            return self._events()
        self._send(404, "application/json", b'{"error":"not_found"}')

    def _chunk(self, text):
        data = text.encode()
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _events(self):
        if self.headers.get("Authorization", "") != "Bearer " + self.server.token:
            body = b'{"error":"unauthorized"}'
            self._headers(401, "application/json", len(body))
            self.send_header("WWW-Authenticate", 'Bearer realm="portcullis-admin"')
            self.end_headers()
            self.wfile.write(body)
            return
        self._headers(200, "text/event-stream; charset=utf-8")
        self.send_header("X-Accel-Buffering", "no")
        self.end_headers()
        try:
            self._chunk(": portcullis dashboard stream\n\n")
            self._chunk("event: hello\ndata: " + json.dumps(self.server.traffic.hello()) + "\n\n")
            while not self.server.stopping.is_set():
                now = time.time()
                time.sleep(1 - (now % 1))
                tick = self.server.traffic.current(int(time.time()) * 1000)
                self._chunk("event: tick\ndata: " + json.dumps(tick, separators=(",", ":")) + "\n\n: keepalive\n\n")
        except (BrokenPipeError, ConnectionResetError):
            pass


class Server(ThreadingHTTPServer):
    daemon_threads = True


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--token", default="secret")
    ap.add_argument("--prefix", default="", help="mount under this path prefix, e.g. /gw")
    ap.add_argument("--rate", type=float, default=170.0, help="mean requests per second (170 = 10k/min)")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()

    traffic = Traffic(args.rate)
    ticks = {}
    tick_lock = threading.Lock()

    def current(unix_ms):  # one tick per second shared by every open stream
        with tick_lock:
            if unix_ms not in ticks:
                ticks.clear()
                ticks[unix_ms] = traffic.tick(unix_ms)
            return ticks[unix_ms]

    traffic.current = current
    srv = Server((args.host, args.port), Handler)
    srv.token, srv.prefix, srv.verbose = args.token, args.prefix.rstrip("/"), args.verbose
    srv.traffic, srv.stopping = traffic, threading.Event()
    print(f"LISTENING http://{args.host}:{srv.server_address[1]}{srv.prefix}/admin/dashboard", flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        srv.stopping.set()
        srv.server_close()


if __name__ == "__main__":
    main()
