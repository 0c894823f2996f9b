"""Python SDK (mcp 2.x) client for the gateway's admin MCP server (`/admin/mcp`).

Usage: admin_mcp_client.py URL MODE [--range RANGE] [-H 'Name: value']...
  URL    http://127.0.0.1:PORT/admin/mcp (Streamable HTTP)
  MODE   legacy       initialize handshake (negotiates 2025-11-25), Mcp-Session-Id
         2026-07-28   stateless modern era, pinned (no handshake, no server/discover)
         auto         server/discover probe, falls back to initialize (proves server/discover:
                      expect "protocol": "2026-07-28" against a modern-capable server)
  --range  time_range argument for get_security_audit (default 24h; passed through unchecked,
           so an invalid value can be sent on purpose)
  -H     extra HTTP header sent on every request (repeatable)

Env:
  MCP_HEADERS         JSON object of extra HTTP headers, e.g. {"Authorization": "Bearer t"}
                      (-H wins on a name clash)
  MCP_CLIENT_TIMEOUT  overall timeout in seconds (default 30)
  SSL_CERT_FILE / SSL_CERT_DIR  custom CA for https URLs (honoured by httpx2)

Steps: connect in MODE, list tools, call get_security_audit({"time_range": RANGE}) whether or not
it was listed (an unlisted tool is expected to be answered with a JSON-RPC error, e.g.
-32602 "Unknown tool: get_security_audit").
Prints ONE JSON line on stdout:
  {"protocol": "2025-11-25"|"2026-07-28", "tools": [sorted names], "listed": bool,
   "called": bool, "is_error": bool|null, "structured": {...}|null, "text": "..."|null,
   "error": {"code": n, "message": "..."}|null}
  listed    get_security_audit was in tools/list
  called    tools/call returned a CallToolResult (false: answered with a JSON-RPC error)
  is_error  the result's isError flag (null when not called)
  structured / text  the result's structuredContent / first text content block
  error     the JSON-RPC error the server answered tools/call with
Exit status: 0 when the run completed (also when the tool was hidden and the call got a
JSON-RPC error), 1 on a connection/protocol failure (connect, handshake, tools/list, an
invalid result, a transport-level failure of tools/call; message on stderr), 2 on bad usage.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import anyio
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.exceptions import MCPError

from py_client import describe, parse_headers  # the same MCP_HEADERS / -H rules and error text

MODES = ("legacy", "2026-07-28", "auto")
TOOL = "get_security_audit"
PROG = "admin_mcp_client"

# Codes the SDK synthesizes itself when the transport fails (never a server verdict here):
# -32000 connection closed, -32001 request timeout, -32700 unparseable JSON-RPC response.
TRANSPORT_CODES = (-32000, -32001, -32700)


class ProtocolFailure(Exception):
    """tools/call did not get a genuine JSON-RPC answer from the server."""


def rpc_method(request: Any) -> str | None:
    """JSON-RPC method of an outgoing POST (None for GET/DELETE or unreadable bodies)."""
    if request.method != "POST":
        return None
    try:
        body = json.loads(request.content or b"null")
    except Exception:  # noqa: BLE001 - streaming body not readable, not JSON, ...
        return None
    return body.get("method") if isinstance(body, dict) else None


def make_http_client(headers: dict[str, str], call_info: dict[str, Any]) -> Any:
    """httpx2 client that logs HTTP errors and records how the server answered tools/call."""

    async def on_response(response: Any) -> None:
        req = response.request
        method = rpc_method(req)
        ctype = response.headers.get("content-type", "").lower()
        info: dict[str, Any] = {"status": response.status_code, "content_type": ctype, "rpc_error_body": False}
        if response.status_code >= 400:
            await response.aread()
            body = response.text
            try:
                parsed = json.loads(body)
                info["rpc_error_body"] = isinstance(parsed, dict) and isinstance(parsed.get("error"), dict)
            except ValueError:
                pass
            # GET 405 is the expected answer to the legacy-era standalone SSE stream probe.
            if not (req.method == "GET" and response.status_code == 405):
                snippet = body[:300].replace("\n", " ")
                print(f"{PROG}: HTTP {response.status_code} for {req.method} {req.url} ({method}): {snippet}",
                      file=sys.stderr)
        if method == "tools/call":
            call_info.update(info)

    http = create_mcp_http_client(headers=headers or None)
    http.event_hooks["response"] = [on_response]
    return http


def error_is_genuine(e: MCPError, call_info: dict[str, Any]) -> bool:
    """True when the MCPError is the server's own JSON-RPC answer, not a transport stand-in."""
    if e.code in TRANSPORT_CODES:
        return False
    status = call_info.get("status")
    if status is None or status == 202:
        return False  # no HTTP answer at all, or "202 Accepted" to a request (SDK synthesizes -32600)
    ctype = call_info.get("content_type", "")
    if status >= 400:
        return bool(call_info.get("rpc_error_body")) and ctype.startswith("application/json")
    return ctype.startswith("application/json") or ctype.startswith("text/event-stream")


async def run(url: str, mode: str, headers: dict[str, str], time_range: str) -> dict[str, Any]:
    call_info: dict[str, Any] = {}
    http = make_http_client(headers, call_info)
    client = Client(streamable_http_client(url, http_client=http), mode=mode)
    out: dict[str, Any] = {
        "protocol": None,
        "tools": [],
        "listed": False,
        "called": False,
        "is_error": None,
        "structured": None,
        "text": None,
        "error": None,
    }
    try:
        async with client:
            out["protocol"] = client.protocol_version
            tools = sorted(t.name for t in (await client.list_tools()).tools)
            out["tools"] = tools
            out["listed"] = TOOL in tools
            try:
                result = await client.call_tool(TOOL, {"time_range": time_range})
            except MCPError as e:
                if not error_is_genuine(e, call_info):
                    raise ProtocolFailure(
                        f"tools/call failed at the transport level (HTTP {call_info.get('status')}, "
                        f"content-type {call_info.get('content_type')!r}): code {e.code}: {e.message}"
                    ) from e
                out["error"] = {"code": e.code, "message": e.message}
            else:
                out["called"] = True
                out["is_error"] = bool(result.is_error)
                sc = result.structured_content
                out["structured"] = sc if sc is not None else None
                texts = [c.text for c in result.content if getattr(c, "type", None) == "text"]
                out["text"] = texts[0] if texts else None
    finally:
        # streamable_http_client leaves a caller-provided httpx client open.
        await http.aclose()
    return out


def main(argv: list[str]) -> int:
    args = argv[1:]
    extra: list[str] = []
    pos: list[str] = []
    time_range = "24h"
    i = 0
    while i < len(args):
        a = args[i]
        if a in ("-H", "--range") and i + 1 < len(args):
            if a == "-H":
                extra.append(args[i + 1])
            else:
                time_range = args[i + 1]
            i += 2
        elif a.startswith("--range="):
            time_range = a.split("=", 1)[1]
            i += 1
        elif a.startswith("-") and a not in ("-",):
            print(f"{PROG}: unknown option {a!r}\n{__doc__}", file=sys.stderr)
            return 2
        else:
            pos.append(a)
            i += 1
    if len(pos) != 2 or pos[1] not in MODES:
        print(__doc__, file=sys.stderr)
        return 2
    url, mode = pos
    # Never route loopback test traffic through a proxy picked up from the environment.
    no_proxy = os.environ.get("NO_PROXY", os.environ.get("no_proxy", ""))
    loop = "127.0.0.1,localhost,::1"
    os.environ["NO_PROXY"] = os.environ["no_proxy"] = f"{no_proxy},{loop}" if no_proxy else loop
    try:
        headers = parse_headers(extra)
        timeout = float(os.environ.get("MCP_CLIENT_TIMEOUT", "30"))
    except ValueError as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return 2
    try:

        async def guarded() -> dict[str, Any]:
            with anyio.fail_after(timeout):
                return await run(url, mode, headers, time_range)

        out = anyio.run(guarded)
    except BaseException as e:  # noqa: BLE001 - report anything (incl. ExceptionGroup, TimeoutError)
        if isinstance(e, KeyboardInterrupt):
            raise
        print(f"{PROG}: FAILED ({mode} {url}): {type(e).__name__}: {describe(e)}", file=sys.stderr)
        return 1
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
