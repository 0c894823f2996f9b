#!/usr/bin/env python3
"""Many open SSE streams, for bench/memory.sh. Python 3.11 stdlib only (asyncio streams).

  sse_hold.py upstream --port P [--ping S]
      An MCP-ish upstream on 127.0.0.1:P. Every `POST /mcp` is answered with 200,
      `Content-Type: text/event-stream` (chunked), one SSE event
      (`event: message`, `data: <a notifications/message>`), and the stream then stays open,
      with a `: ping` comment every S seconds (default 15), until the client goes.
      `GET /health` answers 200 "ok"; `GET /stats` answers JSON
      {"open": streams open now, "max": most open at once, "total": streams served}.

  sse_hold.py client --port P --streams N --status FILE [--open-timeout S] [--concurrency C]
      Opens N keep-alive connections to 127.0.0.1:P, POSTs a JSON-RPC tools/call on each
      (Accept: application/json, text/event-stream) and waits until every stream has received
      its first event (at most S seconds, default 120; at most C connections being opened at
      once, default 200). Then it writes FILE (JSON: opened, responded, events, failed,
      errors by kind, the first error, seconds taken, ok) and holds every stream open until
      SIGTERM/SIGINT (or --hold seconds, default 900), when it rewrites FILE with
      `closed_early` (streams that ended while held) and `final: true`, and exits.
"""

import argparse
import asyncio
import json
import os
import signal
import sys
import time

EVENT = (
    b"event: message\n"
    b'data: {"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"hi"}}\n\n'
)
PING = b": ping\n\n"


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


# ------------------------------------------------------------------------------------------
# upstream

class Upstream:
    def __init__(self, ping: float):
        self.ping = ping
        self.open = 0
        self.max = 0
        self.total = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                parts = lines[0].split(" ")
                if len(parts) != 3:
                    return
                method, target = parts[0], parts[1]
                length = 0
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value.strip() or 0)
                    elif name.strip().lower() == "transfer-encoding":
                        return  # not expected from the gateway or nginx (bodies have a length)
                if length:
                    await reader.readexactly(length)
                path = target.split("?", 1)[0]
                if method == "POST" and path == "/mcp":
                    await self.stream(reader, writer)
                    return  # a stream ends its connection
                if method == "GET" and path in ("/health", "/stats"):
                    body = b"ok" if path == "/health" else json.dumps(
                        {"open": self.open, "max": self.max, "total": self.total}).encode()
                    ctype = b"text/plain" if path == "/health" else b"application/json"
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n%s"
                                 % (ctype, len(body), body))
                    await writer.drain()
                    continue
                writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def stream(self, reader, writer):
        self.open += 1
        self.total += 1
        self.max = max(self.max, self.open)
        try:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                         b"Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk(EVENT))
            await writer.drain()
            while True:
                try:
                    data = await asyncio.wait_for(reader.read(4096), self.ping)
                except asyncio.TimeoutError:
                    writer.write(chunk(PING))
                    await writer.drain()
                    continue
                if not data:  # the client went
                    return
        finally:
            self.open -= 1


async def run_upstream(args):
    up = Upstream(args.ping)
    server = await asyncio.start_server(up.handle, "127.0.0.1", args.port, backlog=4096,
                                        reuse_address=True)
    print(f"listening on 127.0.0.1:{args.port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()
    os._exit(0)  # no graceful close of thousands of streams


# ------------------------------------------------------------------------------------------
# client

class StreamFailed(Exception):
    def __init__(self, kind, detail):
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail


class Body:
    """Reads a response body (chunked, Content-Length or until EOF) as decoded bytes."""

    def __init__(self, reader, chunked, length):
        self.reader = reader
        self.chunked = chunked
        self.left = length  # None: until EOF
        self.done = False

    async def read(self) -> bytes:
        """The next piece of the body; b"" at its end."""
        if self.done:
            return b""
        r = self.reader
        if self.chunked:
            line = await r.readuntil(b"\r\n")
            size = int(line.split(b";", 1)[0].strip(), 16)
            if size == 0:
                self.done = True
                return b""
            data = await r.readexactly(size)
            await r.readexactly(2)
            return data
        if self.left is not None:
            if self.left == 0:
                self.done = True
                return b""
            data = await r.read(min(self.left, 65536))
            if not data:
                raise asyncio.IncompleteReadError(b"", self.left)
            self.left -= len(data)
            return data
        data = await r.read(65536)
        if not data:
            self.done = True
        return data


class Client:
    def __init__(self, args):
        self.args = args
        self.opened = 0      # TCP connected
        self.responded = 0   # 200 text/event-stream head received
        self.events = 0      # first event received
        self.closed_early = 0
        self.errors = {}
        self.first_error = None
        self.ready = 0       # streams done with their opening phase (event or failure)
        self.all_ready = asyncio.Event()
        self.sem = asyncio.Semaphore(args.concurrency)
        self.writers = []

    def fail(self, index, kind, detail):
        self.errors[kind] = self.errors.get(kind, 0) + 1
        if self.first_error is None:
            self.first_error = {"stream": index, "kind": kind, "detail": detail,
                                "at_seconds": round(time.monotonic() - self.t0, 3),
                                "opened_so_far": self.opened, "events_so_far": self.events}

    def done_opening(self):
        self.ready += 1
        if self.ready == self.args.streams:
            self.all_ready.set()

    async def one(self, index):
        args = self.args
        body = None
        async with self.sem:
            try:
                try:
                    reader, writer = await asyncio.open_connection("127.0.0.1", args.port)
                except OSError as e:
                    raise StreamFailed("connect", f"{type(e).__name__}: {e}")
                self.opened += 1
                self.writers.append(writer)
                req = json.dumps({"jsonrpc": "2.0", "id": index + 1, "method": "tools/call",
                                  "params": {"name": "echo", "arguments": {}}},
                                 separators=(",", ":")).encode()
                writer.write(b"POST %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                             b"Content-Type: application/json\r\n"
                             b"Accept: application/json, text/event-stream\r\n"
                             b"Content-Length: %d\r\n\r\n%s"
                             % (args.path.encode(), args.port, len(req), req))
                await writer.drain()
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except asyncio.IncompleteReadError:
                    raise StreamFailed("closed_before_response", "connection closed with no response head")
                lines = head.decode("latin-1").split("\r\n")
                status = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        k, v = line.split(":", 1)
                        headers[k.strip().lower()] = v.strip()
                chunked = "chunked" in headers.get("transfer-encoding", "").lower()
                length = None if chunked or "content-length" not in headers else int(headers["content-length"])
                if len(status) < 2 or status[1] != "200":
                    text = b""
                    try:
                        text = await asyncio.wait_for(Body(reader, chunked, length).read(), 2)
                    except Exception:
                        pass
                    raise StreamFailed(f"http_{status[1] if len(status) > 1 else '?'}",
                                       f"{lines[0]}: {text[:300].decode('utf-8', 'replace')}")
                ctype = headers.get("content-type", "")
                if not ctype.startswith("text/event-stream"):
                    raise StreamFailed("not_sse", f"Content-Type {ctype!r}")
                self.responded += 1
                body = Body(reader, chunked, length)
                buf = b""
                while True:
                    data = await body.read()
                    if not data:
                        raise StreamFailed("ended_before_event", f"stream ended after {buf[:200]!r}")
                    buf += data.replace(b"\r\n", b"\n")
                    got = False
                    while b"\n\n" in buf:
                        block, buf = buf.split(b"\n\n", 1)
                        fields = [ln for ln in block.split(b"\n") if ln and not ln.startswith(b":")]
                        if not fields:
                            continue  # a comment (keep-alive)
                        if not any(f.startswith(b"data:") and b"notifications/message" in f for f in fields):
                            raise StreamFailed("unexpected_event", repr(block[:300]))
                        got = True
                        break
                    if got:
                        break
                self.events += 1
            except StreamFailed as e:
                self.fail(index, e.kind, e.detail)
                self.done_opening()
                return
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as e:
                self.fail(index, "io", f"{type(e).__name__}: {e}")
                self.done_opening()
                return
        self.done_opening()
        # hold: read (and drop) whatever comes (keep-alive comments) until the stream ends
        try:
            while await body.read():
                pass
        except (OSError, asyncio.IncompleteReadError, ValueError):
            pass
        self.closed_early += 1

    def status(self, final=False):
        return {
            "streams": self.args.streams, "opened": self.opened, "responded": self.responded,
            "events": self.events, "failed": sum(self.errors.values()), "errors": self.errors,
            "first_error": self.first_error, "seconds": round(self.t_ready - self.t0, 3)
            if self.t_ready else None,
            "ok": self.events == self.args.streams, "closed_early": self.closed_early,
            "final": final,
        }

    def write_status(self, final=False):
        tmp = self.args.status + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.status(final), f)
        os.replace(tmp, self.args.status)

    async def run(self):
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        self.t0 = time.monotonic()
        self.t_ready = None
        tasks = [asyncio.create_task(self.one(i)) for i in range(self.args.streams)]
        try:
            await asyncio.wait_for(self.all_ready.wait(), self.args.open_timeout)
        except asyncio.TimeoutError:
            self.fail(-1, "open_timeout",
                      f"{self.args.streams - self.ready} streams still opening after {self.args.open_timeout} s")
        self.t_ready = time.monotonic()
        self.write_status()
        try:
            await asyncio.wait_for(stop.wait(), self.args.hold)
        except asyncio.TimeoutError:
            pass
        self.write_status(final=True)
        sys.stdout.flush()
        os._exit(0)  # the kernel closes every socket at once


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    u = sub.add_parser("upstream")
    u.add_argument("--port", type=int, required=True)
    u.add_argument("--ping", type=float, default=15.0)
    c = sub.add_parser("client")
    c.add_argument("--port", type=int, required=True)
    c.add_argument("--path", default="/mcp")
    c.add_argument("--streams", type=int, required=True)
    c.add_argument("--status", required=True)
    c.add_argument("--open-timeout", type=float, default=120.0)
    c.add_argument("--concurrency", type=int, default=200)
    c.add_argument("--hold", type=float, default=900.0)
    args = ap.parse_args()
    if args.cmd == "upstream":
        asyncio.run(run_upstream(args))
    else:
        if args.streams < 1 or args.concurrency < 1:
            ap.error("--streams and --concurrency must be at least 1")
        asyncio.run(Client(args).run())


if __name__ == "__main__":
    main()
