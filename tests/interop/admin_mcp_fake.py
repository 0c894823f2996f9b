"""Hand-written fake of the gateway's admin MCP endpoint, implementing admin_mcp_spec.md exactly.

Standard library only (http.server + json): no MCP SDK server classes, so a passing
admin_mcp_client.py run proves the hand-written wire format in the spec is sufficient.

Usage: admin_mcp_fake.py PORT [--no-session] [--sse] [--error-status N] [--log FILE]
  PORT             TCP port on 127.0.0.1 (0 = pick one); prints "READY <port>" on stdout
  --no-session     legacy era: do not mint Mcp-Session-Id (stateless legacy; the client then
                   sends no GET and no DELETE)
  --sse            answer requests with text/event-stream (one `event: message` event)
                   instead of application/json
  --error-status N HTTP status for the JSON-RPC -32602 "Unknown tool" error (default 200;
                   400 is what the Python SDK server uses at 2026-07-28)
  --log FILE       append one JSON line per HTTP request (method, path, headers, body, status)
  --break WHAT     deliberately violate the spec (to see how the SDK client reacts; repeatable):
                   no-ttl | no-cache-scope | no-result-type (2026 tools/list and server/discover),
                   call-no-result-type (2026 tools/call), bad-structured | no-structured
                   (structuredContent vs outputSchema), wrong-id (tools/call answered with
                   another id), init-2026 (initialize answers protocolVersion 2026-07-28),
                   call-202 (tools/call answered 202), error-text-plain (-32602 sent as
                   text/plain at --error-status)

Endpoint: /admin/mcp (POST; GET and DELETE per the spec). Auth: `Authorization: Bearer good`
= admin (tool visible); any other bearer token = authenticated, tool hidden; no bearer
token = 401.
"""

from __future__ import annotations

import json
import secrets
import sys
import threading
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PATH = "/admin/mcp"
TOOL = "get_security_audit"
RANGES = ("1h", "24h", "7d")
HANDSHAKE_VERSIONS = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25")
MODERN_VERSIONS = ("2026-07-28",)
SERVER_INFO = {"name": "portcullis-admin", "version": "0.0.0-fake"}
META_PV = "io.modelcontextprotocol/protocolVersion"
META_CAPS = "io.modelcontextprotocol/clientCapabilities"
META_SERVER_INFO = "io.modelcontextprotocol/serverInfo"

OPTS: dict[str, Any] = {"session": True, "sse": False, "error_status": 200, "log": None, "break": set()}
BREAKS = ("no-ttl", "no-cache-scope", "no-result-type", "call-no-result-type", "bad-structured",
          "no-structured", "wrong-id", "init-2026", "call-202", "error-text-plain")


def broken(what: str) -> bool:
    return what in OPTS["break"]


def strip(result: dict[str, Any]) -> dict[str, Any]:
    """Apply the --break options that drop 2026 cacheable-result fields."""
    for flag, key in (("no-ttl", "ttlMs"), ("no-cache-scope", "cacheScope"), ("no-result-type", "resultType")):
        if broken(flag):
            result.pop(key, None)
    return result
SESSIONS: dict[str, str] = {}  # session id -> principal (token) that initialized it
LOCK = threading.Lock()

TOOL_DEF: dict[str, Any] = {
    "name": TOOL,
    "title": "Security audit",
    "description": "Summarise the gateway's security events (denials, auth failures, rate limits) "
    "over a time window.",
    "inputSchema": {
        "type": "object",
        "properties": {
            "time_range": {
                "type": "string",
                "enum": list(RANGES),
                "description": "Window to summarise: 1h, 24h or 7d.",
            }
        },
        "required": ["time_range"],
        "additionalProperties": False,
    },
    "outputSchema": {
        "type": "object",
        "properties": {
            "time_range": {"type": "string", "enum": list(RANGES)},
            "from": {"type": "string"},
            "to": {"type": "string"},
            "totals": {"type": "object"},
        },
        "required": ["time_range", "from", "to", "totals"],
    },
    "annotations": {
        "title": "Security audit",
        "readOnlyHint": True,
        "destructiveHint": False,
        "idempotentHint": True,
        "openWorldHint": False,
    },
}


def audit(time_range: str) -> dict[str, Any]:
    now = datetime.now(timezone.utc).replace(microsecond=0)
    span = {"1h": timedelta(hours=1), "24h": timedelta(hours=24), "7d": timedelta(days=7)}[time_range]
    return {
        "time_range": time_range,
        "from": (now - span).isoformat().replace("+00:00", "Z"),
        "to": now.isoformat().replace("+00:00", "Z"),
        "totals": {"requests": 42, "denied": 3, "auth_failures": 1, "rate_limited": 0},
        "top_denied_tools": [{"tool": "delete_file", "count": 3}],
    }


class RpcError(Exception):
    def __init__(self, status: int, code: int, message: str, data: Any = None, rid: Any = None):
        super().__init__(message)
        self.status, self.code, self.message, self.data, self.rid = status, code, message, data, rid


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "admin-mcp-fake"

    def log_message(self, fmt: str, *args: Any) -> None:  # quiet
        pass

    # ------------------------------------------------------------------ plumbing
    def _log(self, status: int, body: Any) -> None:
        if not OPTS["log"]:
            return
        rec = {"method": self.command, "path": self.path, "headers": dict(self.headers.items()),
               "body": body, "status": status}
        with LOCK, open(OPTS["log"], "a") as f:
            f.write(json.dumps(rec) + "\n")

    def _send(self, status: int, body: bytes = b"", ctype: str | None = None,
              extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        if ctype:
            self.send_header("Content-Type", ctype)
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def _send_rpc(self, status: int, msg: dict[str, Any], extra: dict[str, str] | None = None) -> None:
        data = json.dumps(msg, separators=(",", ":"))
        if OPTS["sse"] and status == 200:
            extra = {**(extra or {}), "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
            self._send(200, f"event: message\ndata: {data}\n\n".encode(), "text/event-stream", extra)
        else:
            self._send(status, data.encode(), "application/json", extra)

    def _send_error(self, e: RpcError) -> None:
        err: dict[str, Any] = {"code": e.code, "message": e.message}
        if e.data is not None:
            err["data"] = e.data
        if broken("error-text-plain") and e.code == -32602:
            return self._send(e.status, json.dumps({"jsonrpc": "2.0", "id": e.rid, "error": err}).encode(),
                              "text/plain")
        self._send_rpc(e.status, {"jsonrpc": "2.0", "id": e.rid, "error": err})

    def _principal(self) -> str | None:
        auth = self.headers.get("Authorization", "")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        return token.strip()

    def _unauthorized(self) -> None:
        body = json.dumps({"error": "invalid_token", "error_description": "Missing bearer token"}).encode()
        self._send(401, body, "application/json", {"WWW-Authenticate": 'Bearer error="invalid_token"'})

    def _route(self) -> bool:
        if self.path.split("?", 1)[0] != PATH:
            self._send(404, b"not found", "text/plain")
            return False
        return True

    # ------------------------------------------------------------------ GET / DELETE
    def do_GET(self) -> None:
        self._log(405, None)
        if not self._route():
            return
        if self._principal() is None:
            return self._unauthorized()
        # No standalone SSE stream in either era.
        self._send(405, b"", None, {"Allow": "POST, DELETE" if OPTS["session"] else "POST"})

    def do_DELETE(self) -> None:
        if not self._route():
            return
        principal = self._principal()
        if principal is None:
            self._log(401, None)
            return self._unauthorized()
        sid = self.headers.get("Mcp-Session-Id")
        with LOCK:
            owner = SESSIONS.get(sid) if sid else None
            if owner is not None and owner == principal:
                del SESSIONS[sid]
                status = 200
            else:
                status = 405 if not sid else 404
        self._log(status, None)
        self._send(status, b"", None, {"Allow": "POST"} if status == 405 else None)

    # ------------------------------------------------------------------ POST
    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            msg = json.loads(raw)
        except ValueError:
            msg = None
        if not self._route():
            return
        if self._principal() is None:
            self._log(401, msg)
            return self._unauthorized()
        try:
            status = self._post(msg)
        except RpcError as e:
            self._log(e.status, msg)
            return self._send_error(e)
        self._log(status, msg)

    def _post(self, msg: Any) -> int:
        if not isinstance(msg, dict) or msg.get("jsonrpc") != "2.0":
            raise RpcError(400, -32600, "Invalid Request: expected one JSON-RPC 2.0 object")
        method = msg.get("method")
        rid = msg.get("id")
        is_request = "id" in msg and rid is not None
        if not isinstance(method, str):
            # A JSON-RPC response from the client (legacy only); nothing to do with it.
            self._send(202)
            return 202
        params = msg.get("params") if isinstance(msg.get("params"), dict) else {}
        pv = self.headers.get("MCP-Protocol-Version")
        if pv is not None and pv not in HANDSHAKE_VERSIONS + MODERN_VERSIONS:
            raise RpcError(400, -32022, f"Unsupported protocol version: {pv}",
                           {"supported": list(HANDSHAKE_VERSIONS + MODERN_VERSIONS), "requested": pv}, rid)
        if pv in MODERN_VERSIONS:
            return self._modern(method, rid, is_request, params, pv)
        return self._legacy(method, rid, is_request, params)

    # ------------------------------------------------------------------ 2026-07-28
    def _modern(self, method: str, rid: Any, is_request: bool, params: dict[str, Any], pv: str) -> int:
        if not is_request:
            self._send(202)  # the 2026 HTTP wire defines no client notifications; accept and drop
            return 202
        if self.headers.get("Mcp-Method") != method:
            raise RpcError(400, -32020, "Header mismatch: Mcp-Method does not match the body's method",
                           None, rid)
        meta = params.get("_meta")
        if not isinstance(meta, dict) or not isinstance(meta.get(META_CAPS), dict):
            raise RpcError(400, -32602, "params._meta must be an object with protocolVersion and "
                           "clientCapabilities", None, rid)
        if meta.get(META_PV) != pv:
            raise RpcError(400, -32020, "Header mismatch: MCP-Protocol-Version does not match "
                           "params._meta protocolVersion", None, rid)
        if method == "tools/call" and self.headers.get("Mcp-Name") != params.get("name"):
            raise RpcError(400, -32020, "Header mismatch: Mcp-Name does not match params.name", None, rid)
        meta_out = {META_SERVER_INFO: SERVER_INFO}
        if method == "server/discover":
            result: dict[str, Any] = {
                "supportedVersions": list(MODERN_VERSIONS),
                "capabilities": {"tools": {"listChanged": False}},
                "instructions": "Portcullis admin MCP server.",
                "resultType": "complete",
                "ttlMs": 0,
                "cacheScope": "private",
                "_meta": meta_out,
            }
            strip(result)
        elif method == "tools/list":
            result = strip({**self._tools_list(), "resultType": "complete", "ttlMs": 0, "cacheScope": "private",
                            "_meta": meta_out})
        elif method == "tools/call":
            result = {**self._tools_call(rid, params), "resultType": "complete", "_meta": meta_out}
            if broken("call-no-result-type"):
                del result["resultType"]
        else:
            raise RpcError(404, -32601, f"Method not found: {method}", None, rid)
        return self._reply(method, rid, result)

    # ------------------------------------------------------------------ legacy era
    def _legacy(self, method: str, rid: Any, is_request: bool, params: dict[str, Any]) -> int:
        principal = self._principal()
        if method == "initialize":
            if not is_request:
                raise RpcError(400, -32600, "initialize must be a request")
            requested = params.get("protocolVersion")
            version = requested if requested in HANDSHAKE_VERSIONS else HANDSHAKE_VERSIONS[-1]
            if broken("init-2026"):
                version = "2026-07-28"
            result = {
                "protocolVersion": version,
                "capabilities": {"tools": {"listChanged": False}},
                "serverInfo": SERVER_INFO,
                "instructions": "Portcullis admin MCP server.",
            }
            extra = {}
            if OPTS["session"]:
                sid = secrets.token_hex(16)
                with LOCK:
                    SESSIONS[sid] = principal or ""
                extra["Mcp-Session-Id"] = sid
            self._send_rpc(200, {"jsonrpc": "2.0", "id": rid, "result": result}, extra)
            return 200
        if OPTS["session"]:
            sid = self.headers.get("Mcp-Session-Id")
            if not sid:
                raise RpcError(400, -32600, "Bad Request: Missing session ID", None, None)
            with LOCK:
                owner = SESSIONS.get(sid)
            if owner is None or owner != principal:
                raise RpcError(404, -32600, "Session not found", None, None)
        if not is_request:
            self._send(202)  # notifications/initialized, notifications/cancelled, ...
            return 202
        if method == "ping":
            result: dict[str, Any] = {}
        elif method == "tools/list":
            result = self._tools_list()
        elif method == "tools/call":
            result = self._tools_call(rid, params)
        else:
            raise RpcError(200, -32601, f"Method not found: {method}", None, rid)
        return self._reply(method, rid, result)

    def _reply(self, method: str, rid: Any, result: dict[str, Any]) -> int:
        if method == "tools/call" and broken("call-202"):
            self._send(202)
            return 202
        if method == "tools/call" and broken("wrong-id"):
            rid = f"{rid}-wrong" if isinstance(rid, str) else (rid or 0) + 1000
        self._send_rpc(200, {"jsonrpc": "2.0", "id": rid, "result": result})
        return 200

    # ------------------------------------------------------------------ the tool
    def _visible(self) -> bool:
        return self._principal() == "good"

    def _tools_list(self) -> dict[str, Any]:
        return {"tools": [TOOL_DEF] if self._visible() else []}

    def _tools_call(self, rid: Any, params: dict[str, Any]) -> dict[str, Any]:
        name = params.get("name")
        if name != TOOL or not self._visible():
            raise RpcError(OPTS["error_status"], -32602, f"Unknown tool: {name}", None, rid)
        args = params.get("arguments") if isinstance(params.get("arguments"), dict) else {}
        tr = args.get("time_range")
        if tr not in RANGES:
            return {
                "content": [{"type": "text", "text": f"Invalid time_range {tr!r}: expected one of 1h, 24h, 7d"}],
                "isError": True,
            }
        sc = audit(tr)
        if broken("bad-structured"):
            del sc["totals"]
        out = {"content": [{"type": "text", "text": json.dumps(sc)}], "structuredContent": sc, "isError": False}
        if broken("no-structured"):
            del out["structuredContent"]
        return out


def main(argv: list[str]) -> int:
    args = argv[1:]
    if not args:
        print(__doc__, file=sys.stderr)
        return 2
    port = int(args[0])
    i = 1
    while i < len(args):
        a = args[i]
        if a == "--no-session":
            OPTS["session"] = False
        elif a == "--sse":
            OPTS["sse"] = True
        elif a == "--error-status" and i + 1 < len(args):
            OPTS["error_status"] = int(args[i + 1])
            i += 1
        elif a == "--log" and i + 1 < len(args):
            OPTS["log"] = args[i + 1]
            i += 1
        elif a == "--break" and i + 1 < len(args) and args[i + 1] in BREAKS:
            OPTS["break"].add(args[i + 1])
            i += 1
        else:
            print(__doc__, file=sys.stderr)
            return 2
        i += 1
    srv = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    srv.daemon_threads = True
    print(f"READY {srv.server_address[1]}", flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
