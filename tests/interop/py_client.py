"""Python SDK (mcp 2.x) client fixture for the Portcullis interop tests (talks to py_server.py).

Usage: py_client.py URL MODE [-H 'Name: value']...
  URL    http://127.0.0.1:PORT/mcp (Streamable HTTP) or http://127.0.0.1:PORT/sse (MODE sse)
  MODE   legacy       Streamable HTTP, initialize handshake (negotiates 2025-11-25)
         2026-07-28   Streamable HTTP, stateless modern era (no handshake)
         auto         Streamable HTTP, server/discover probe, falls back to initialize
         sse          legacy HTTP+SSE transport (GET URL, POST to the announced endpoint),
                      initialize handshake
  -H     extra HTTP header sent on every request (repeatable)

Env:
  MCP_HEADERS         JSON object of extra HTTP headers, e.g. {"Authorization": "Bearer t"}
                      (-H wins on a name clash)
  MCP_CLIENT_TIMEOUT  overall timeout in seconds (default 30)
  SSL_CERT_FILE / SSL_CERT_DIR  custom CA for https URLs (honoured by httpx2)
  MCP_CLIENT_CERT / MCP_CLIENT_KEY  PEM client certificate and key for mTLS

Steps: list tools, call add(2, 3), call slow_count(n=3) with a progress callback.
Prints ONE JSON line on stdout:
  {"protocol": ..., "tools": [sorted names], "add": "5", "progress": [1, 2, 3], "slow_count": "counted to 3"}
Exit status: 0 on success, 1 on any failure (message on stderr), 2 on bad usage.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import anyio
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

MODES = ("legacy", "2026-07-28", "auto", "sse")


def parse_headers(extra: list[str]) -> dict[str, str]:
    headers: dict[str, str] = {}
    raw = os.environ.get("MCP_HEADERS", "").strip()
    if raw:
        obj = json.loads(raw)
        if not isinstance(obj, dict):
            raise ValueError("MCP_HEADERS must be a JSON object")
        headers.update({str(k): str(v) for k, v in obj.items()})
    for h in extra:
        name, sep, value = h.partition(":")
        if not sep or not name.strip():
            raise ValueError(f"bad header {h!r}, expected 'Name: value'")
        headers[name.strip()] = value.strip()
    return headers


def num(v: float) -> float | int:
    return int(v) if float(v).is_integer() else v


def text_of(result: Any) -> str:
    if result.is_error:
        raise RuntimeError(f"tool returned isError: {result.content!r}")
    texts = [c.text for c in result.content if getattr(c, "type", None) == "text"]
    if not texts:
        raise RuntimeError(f"no text content in {result!r}")
    return texts[0]


async def log_http_errors(response: Any) -> None:
    # The SDK turns a non-2xx answer into a bare MCPError(-32603) or HTTPStatusError; keep the
    # HTTP status visible on stderr for test diagnostics.
    if response.status_code >= 400:
        await response.aread()
        body = response.text[:300].replace("\n", " ")
        req = response.request
        print(f"py_client: HTTP {response.status_code} for {req.method} {req.url}: {body}", file=sys.stderr)


def http_client_factory(**kwargs: Any) -> Any:
    http = create_mcp_http_client(**kwargs)
    cert, key = os.environ.get("MCP_CLIENT_CERT"), os.environ.get("MCP_CLIENT_KEY")
    if cert and key:
        # mTLS: present a client certificate (CA from SSL_CERT_FILE as usual).
        import ssl
        import httpx2

        context = ssl.create_default_context(cafile=os.environ.get("SSL_CERT_FILE"))
        context.load_cert_chain(cert, key)
        http = httpx2.AsyncClient(verify=context, timeout=http.timeout, headers=kwargs.get("headers"))
    http.event_hooks["response"] = [log_http_errors]
    return http


async def run(url: str, mode: str, headers: dict[str, str]) -> dict[str, Any]:
    if mode == "sse":
        client = Client(
            sse_client(url, headers=headers or None, httpx_client_factory=http_client_factory), mode="legacy"
        )
    else:
        http = http_client_factory(headers=headers or None)
        client = Client(streamable_http_client(url, http_client=http), mode=mode)
        # streamable_http_client leaves a caller-provided httpx client open; close it ourselves.
    progress: list[float | int] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append(num(value))

    try:
        async with client:
            tools = sorted(t.name for t in (await client.list_tools()).tools)
            add = text_of(await client.call_tool("add", {"a": 2, "b": 3}))
            slow = text_of(await client.call_tool("slow_count", {"n": 3}, progress_callback=on_progress))
            protocol = client.protocol_version
    finally:
        if mode != "sse":
            await http.aclose()
    return {"protocol": protocol, "tools": tools, "add": add, "progress": progress, "slow_count": slow}


def main(argv: list[str]) -> int:
    args = argv[1:]
    extra: list[str] = []
    pos: list[str] = []
    i = 0
    while i < len(args):
        if args[i] == "-H" and i + 1 < len(args):
            extra.append(args[i + 1])
            i += 2
        else:
            pos.append(args[i])
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

        async def guarded() -> dict[str, Any]:
            with anyio.fail_after(timeout):
                return await run(url, mode, headers)

        out = anyio.run(guarded)
    except BaseException as e:  # noqa: BLE001 - report anything (incl. ExceptionGroup, TimeoutError)
        if isinstance(e, KeyboardInterrupt):
            raise
        print(f"py_client: FAILED ({mode} {url}): {type(e).__name__}: {describe(e)}", file=sys.stderr)
        return 1
    print(json.dumps(out), flush=True)
    return 0


def describe(e: BaseException) -> str:
    if isinstance(e, BaseExceptionGroup):
        return "; ".join(f"{type(x).__name__}: {describe(x)}" for x in e.exceptions)
    err = getattr(e, "error", None)  # MCPError carries the JSON-RPC ErrorData
    if err is not None and hasattr(err, "code"):
        return f"{e} [code {err.code}: {err.message}; data={err.data!r}]"
    return str(e) or repr(e)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
