"""Python SDK (mcp 2.x) MCPServer fixture for the Portcullis interop tests.

Usage: py_server.py PORT MODE [OPTION...]
  PORT   TCP port on 127.0.0.1 (loopback only)
  MODE   streamable-http   Streamable HTTP, endpoint /mcp (legacy sessions + 2026-07-28)
         sse               legacy HTTP+SSE: GET /sse, POST /messages/?session_id=...
  OPTION (streamable-http only)
         json              json_response=True (legacy-era answers as application/json, not SSE)
         stateless         stateless_http=True (no Mcp-Session-Id in legacy era)

Tools: add, echo, slow_count (progress), and the seed tools get_weather, set_weather,
read_file, write_file, delete_file, list_users (dummy data, no real file access).

stdout stays empty: every log line (uvicorn's access log included) goes to stderr.
Env PY_SERVER_LOG_LEVEL (default INFO; WARNING silences startup and access logs).
Ready when 127.0.0.1:PORT accepts TCP connections (uvicorn logs
"Uvicorn running on http://127.0.0.1:PORT" to stderr at that moment).
"""

from __future__ import annotations

import os
import sys

# uvicorn's access logger writes to sys.stdout; route fd 1 to stderr so stdout stays clean.
os.dup2(2, 1)
sys.stdout = sys.stderr

import anyio  # noqa: E402
from mcp.server.mcpserver import Context, MCPServer  # noqa: E402
from mcp.types import ToolAnnotations  # noqa: E402

RO = ToolAnnotations(readOnlyHint=True, destructiveHint=False, idempotentHint=True, openWorldHint=False)
WRITE = ToolAnnotations(readOnlyHint=False, destructiveHint=False, idempotentHint=True, openWorldHint=False)
DESTRUCTIVE = ToolAnnotations(readOnlyHint=False, destructiveHint=True, idempotentHint=True, openWorldHint=False)

_LOG_LEVEL = os.environ.get("PY_SERVER_LOG_LEVEL", "INFO").upper()
mcp = MCPServer("portcullis-interop-py", version="1.0.0", log_level=_LOG_LEVEL)  # type: ignore[arg-type]

# In-memory state only: nothing here touches the real file system.
_weather: dict[str, str] = {"Paris": "sunny, 24 C", "London": "rain, 15 C", "Berlin": "cloudy, 18 C"}
_files: dict[str, str] = {
    "/data/report.txt": "quarterly report: all good\n",
    "/data/notes.md": "# notes\n- dummy file\n",
    "/etc/secret.conf": "password=not-a-real-secret\n",
}
_users = [
    {"id": 1, "name": "alice", "role": "admin"},
    {"id": 2, "name": "bob", "role": "user"},
    {"id": 3, "name": "carol", "role": "user"},
]


@mcp.tool(annotations=RO)
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@mcp.tool(annotations=RO)
def echo(text: str) -> str:
    """Echo the text back."""
    return text


@mcp.tool(annotations=RO)
async def slow_count(n: int, ctx: Context) -> str:
    """Count to n, sending one progress notification about every 200 ms."""
    for i in range(1, n + 1):
        await anyio.sleep(0.2)
        await ctx.report_progress(i, n, f"step {i}/{n}")
    return f"counted to {n}"


@mcp.tool(annotations=RO)
def get_weather(city: str) -> str:
    """Current weather for a city (dummy data)."""
    return f"{city}: {_weather.get(city, 'clear, 20 C')}"


@mcp.tool(annotations=WRITE)
def set_weather(city: str, forecast: str) -> str:
    """Set the forecast for a city (in memory)."""
    _weather[city] = forecast
    return f"{city}: forecast set to {forecast}"


@mcp.tool(annotations=RO)
def read_file(path: str) -> str:
    """Read a file (dummy, in-memory)."""
    return _files.get(path, f"(dummy content of {path})\n")


@mcp.tool(annotations=WRITE)
def write_file(path: str, content: str) -> str:
    """Write a file (dummy, in-memory)."""
    _files[path] = content
    return f"wrote {len(content)} bytes to {path}"


@mcp.tool(annotations=DESTRUCTIVE)
def delete_file(path: str) -> str:
    """Delete a file (dummy, in-memory)."""
    existed = _files.pop(path, None) is not None
    return f"deleted {path}" if existed else f"would delete {path} (not present)"


@mcp.tool(annotations=RO)
def list_users() -> list[dict[str, object]]:
    """List users (dummy data)."""
    return _users


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[2] not in ("streamable-http", "sse"):
        print(__doc__, file=sys.stderr)
        return 2
    port = int(argv[1])
    mode = argv[2]
    opts = set(argv[3:])
    unknown = opts - {"json", "stateless"}
    if unknown or (opts and mode != "streamable-http"):
        print(f"py_server: bad options {sorted(opts)} for mode {mode}", file=sys.stderr)
        return 2
    if mode == "sse":
        mcp.run(transport="sse", host="127.0.0.1", port=port)
    else:
        mcp.run(
            transport="streamable-http",
            host="127.0.0.1",
            port=port,
            json_response="json" in opts,
            stateless_http="stateless" in opts,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
