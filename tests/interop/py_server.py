"""Python SDK (mcp 2.x) MCPServer fixture for the Portcullis interop tests.

Usage: py_server.py PORT MODE [OPTION...]
  PORT   TCP port on 127.0.0.1 (loopback only)
  MODE   streamable-http   Streamable HTTP, endpoint /mcp (legacy sessions + 2026-07-28)
         sse               legacy HTTP+SSE: GET /sse, POST /messages/?session_id=...
  OPTION (streamable-http only; any combination)
         json              json_response=True (legacy-era answers as application/json, not SSE)
         stateless         stateless_http=True (no Mcp-Session-Id in legacy era)
         paged             tools/list, resources/list, resources/templates/list and prompts/list
                           answer pages of at most 2 items (registration order) with an opaque
                           `nextCursor` (urlsafe base64 of "<method>@<offset>", e.g. tools/list
                           page 2 = "dG9vbHMvbGlzdEAy"); the last page has no nextCursor. A
                           cursor that was not issued for that method (bad base64, other method,
                           offset out of range) -> JSON-RPC error -32602 "Invalid cursor".
                           Without `paged` every list is one unpaginated page and a cursor is
                           ignored. Works in both eras (2025-11-25 sessions and 2026-07-28).
         headers           adds the tool `deploy(region, replicas)` whose arguments are mirrored in
                           `Mcp-Param-Region` / `Mcp-Param-Replicas` (`x-mcp-header`, 2026-07-28);
                           it answers "deployed N to REGION".
         leaky             adds the tool `catalog`, a hostile server's leak: its structuredContent
                           is {"tools": [every tool definition of this server]}.

Tools: add, echo, slow_count (progress), and the seed tools get_weather, set_weather,
read_file, write_file, delete_file, list_users (dummy data, no real file access).
  paged tools/list: [add, echo] [slow_count, get_weather] [set_weather, read_file]
                    [write_file, delete_file] [list_users]
Resources (text/plain, dummy): weather://london, weather://paris (weather:read),
  file:///srv/data/readme.txt, users://all. paged: [london, paris] [readme.txt, users://all].
Resource templates: weather://{city}, users://{id}, file:///srv/data/{name}
  (paged: [weather, users] [file]). A static URI wins over a template; an unknown URI
  -> JSON-RPC error -32602 "Unknown resource: URI" (data {"uri": URI}).
Prompts: forecast_summary(city), admin_report(), echo_prompt(text)
  (paged: [forecast_summary, admin_report] [echo_prompt]).
SDK answers for unknown names (not changed here): tools/call -> result isError:true, text
"Unknown tool: NAME"; prompts/get -> error code 0 "Unknown prompt: NAME" (2025-11-25) or
-32603 "Internal server error" (2026-07-28, HTTP 200). A 2026-07-28 -32602 error (invalid
cursor, unknown resource) comes with HTTP 400.

Env PY_SERVER_CALL_LOG=/path/file: append one line per received request, written (O_APPEND,
unbuffered) before the request is handled, so before any reply:
  tools/call NAME | resources/read URI | prompts/get NAME | tools/list | resources/list |
  prompts/list
(resources/templates/list and every other method are not logged). It is logged whether or not
the request then succeeds (unknown tool, invalid cursor, ...); a NAME/URI that is not a string
or contains a line break is written as JSON. Requests the SDK's HTTP layer rejects before
dispatch (bad headers, 2026-07-28 header/body mismatch, unknown session) are not logged.

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

import base64  # noqa: E402
import binascii  # noqa: E402
import json  # noqa: E402
from collections.abc import Mapping  # noqa: E402
from typing import Annotated, Any  # noqa: E402

import anyio  # noqa: E402
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext  # noqa: E402
from mcp.server.mcpserver import Context, MCPServer  # noqa: E402
from mcp.shared.exceptions import MCPError  # noqa: E402
from mcp.types import INVALID_PARAMS, ToolAnnotations  # noqa: E402
from pydantic import Field  # noqa: E402

RO = ToolAnnotations(readOnlyHint=True, destructiveHint=False, idempotentHint=True, openWorldHint=False)
WRITE = ToolAnnotations(readOnlyHint=False, destructiveHint=False, idempotentHint=True, openWorldHint=False)
DESTRUCTIVE = ToolAnnotations(readOnlyHint=False, destructiveHint=True, idempotentHint=True, openWorldHint=False)

PAGE_SIZE = 2
# Wire key of the item array in each paginated list result.
_LIST_KEYS = {
    "tools/list": "tools",
    "resources/list": "resources",
    "resources/templates/list": "resourceTemplates",
    "prompts/list": "prompts",
}
# Requests recorded in PY_SERVER_CALL_LOG, with the params field appended to the line (if any).
_LOGGED = {
    "tools/call": "name",
    "resources/read": "uri",
    "prompts/get": "name",
    "tools/list": None,
    "resources/list": None,
    "prompts/list": None,
}


def _encode_cursor(method: str, offset: int) -> str:
    return base64.urlsafe_b64encode(f"{method}@{offset}".encode()).decode()


def _decode_cursor(method: str, cursor: str, total: int) -> int:
    """Offset of a cursor this server issued for `method`; MCPError -32602 otherwise."""
    try:
        text = base64.urlsafe_b64decode(cursor.encode("ascii")).decode()
        for_method, _, digits = text.rpartition("@")
        offset = int(digits) if digits.isdigit() else -1
    except (UnicodeError, binascii.Error, ValueError):
        for_method, offset = "", -1
    if for_method != method or not 0 < offset < total:
        raise MCPError(code=INVALID_PARAMS, message="Invalid cursor", data={"cursor": cursor})
    return offset


class FixtureMiddleware:
    """Server middleware (runs for every inbound message, both eras, all transports).

    Writes the PY_SERVER_CALL_LOG line before handing the request on, and in `paged` mode cuts
    the (already validated, wire-shaped) list result down to one page.
    """

    def __init__(self) -> None:
        self.call_log = os.environ.get("PY_SERVER_CALL_LOG") or None
        self.paged = False

    def _log(self, method: str, params: Mapping[str, Any] | None) -> None:
        line = method
        field = _LOGGED[method]
        if field is not None:
            value = params.get(field) if isinstance(params, Mapping) else None
            if not isinstance(value, str) or "\n" in value or "\r" in value:
                value = json.dumps(value)
            line = f"{method} {value}"
        assert self.call_log is not None
        fd = os.open(self.call_log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, (line + "\n").encode())
        finally:
            os.close(fd)

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        is_request = ctx.request_id is not None
        if is_request and self.call_log and ctx.method in _LOGGED:
            self._log(ctx.method, ctx.params)
        result = await call_next(ctx)
        key = _LIST_KEYS.get(ctx.method)
        if self.paged and is_request and key is not None and isinstance(result, dict):
            items = result.get(key)
            if isinstance(items, list):
                cursor = ctx.params.get("cursor") if isinstance(ctx.params, Mapping) else None
                start = 0 if cursor is None else _decode_cursor(ctx.method, str(cursor), len(items))
                end = start + PAGE_SIZE
                result = {**result, key: items[start:end]}
                result.pop("nextCursor", None)
                if end < len(items):
                    result["nextCursor"] = _encode_cursor(ctx.method, end)
        return result


_fixture = FixtureMiddleware()

_LOG_LEVEL = os.environ.get("PY_SERVER_LOG_LEVEL", "INFO").upper()
mcp = MCPServer(
    "portcullis-interop-py",
    version="1.0.0",
    log_level=_LOG_LEVEL,  # type: ignore[arg-type]
    middleware=[_fixture],
)

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


def deploy(
    region: Annotated[str, Field(json_schema_extra={"x-mcp-header": "Region"})],
    replicas: Annotated[int, Field(json_schema_extra={"x-mcp-header": "Replicas"})] = 1,
) -> str:
    """Deploy to a region (dummy); registered with the `headers` option."""
    return f"deployed {replicas} to {region}"


async def catalog() -> dict[str, Any]:
    """Every tool definition of this server (registered with the `leaky` option)."""
    tools = await mcp.list_tools()
    return {"tools": [t.model_dump(by_alias=True, exclude_none=True, mode="json") for t in tools]}


# Resources (dummy text, nothing read from disk). Static URIs win over the templates below.
@mcp.resource("weather://london", name="weather-london", mime_type="text/plain",
              description="Current weather in London (weather:read)")
def weather_london() -> str:
    return f"London: {_weather['London']}"


@mcp.resource("weather://paris", name="weather-paris", mime_type="text/plain",
              description="Current weather in Paris (weather:read)")
def weather_paris() -> str:
    return f"Paris: {_weather['Paris']}"


@mcp.resource("file:///srv/data/readme.txt", name="readme", mime_type="text/plain",
              description="Dummy readme file")
def readme() -> str:
    return "readme: dummy content of /srv/data/readme.txt\n"


@mcp.resource("users://all", name="users", mime_type="text/plain", description="All users (dummy)")
def users_all() -> str:
    return "\n".join(f"{u['id']} {u['name']} {u['role']}" for u in _users) + "\n"


@mcp.resource("weather://{city}", name="weather-city", mime_type="text/plain",
              description="Current weather for any city (weather:read)")
def weather_city(city: str) -> str:
    return f"{city}: {_weather.get(city.capitalize(), 'clear, 20 C')}"


@mcp.resource("users://{id}", name="user", mime_type="text/plain", description="One user by id (dummy)")
def user_by_id(id: str) -> str:  # noqa: A002 - the URI variable's name
    user = next((u for u in _users if str(u["id"]) == id), None)
    return f"{user['id']} {user['name']} {user['role']}\n" if user else f"no user {id}\n"


@mcp.resource("file:///srv/data/{name}", name="data-file", mime_type="text/plain",
              description="Any file under /srv/data (dummy)")
def data_file(name: str) -> str:
    return f"(dummy content of /srv/data/{name})\n"


@mcp.prompt(description="Summarise the forecast for a city")
def forecast_summary(city: str) -> str:
    return f"Summarise the weather forecast for {city}: {_weather.get(city, 'clear, 20 C')}."


@mcp.prompt(description="Administrative report over all users (privileged)")
def admin_report() -> str:
    return "Write an admin report for users: " + ", ".join(f"{u['name']} ({u['role']})" for u in _users) + "."


@mcp.prompt(description="Echo the text back as a prompt")
def echo_prompt(text: str) -> str:
    return text


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[2] not in ("streamable-http", "sse"):
        print(__doc__, file=sys.stderr)
        return 2
    port = int(argv[1])
    mode = argv[2]
    opts = set(argv[3:])
    unknown = opts - {"json", "stateless", "paged", "leaky", "headers"}
    if unknown or (opts and mode != "streamable-http"):
        print(f"py_server: bad options {sorted(opts)} for mode {mode}", file=sys.stderr)
        return 2
    _fixture.paged = "paged" in opts
    if "headers" in opts:
        mcp.tool(annotations=WRITE)(deploy)
    if "leaky" in opts:
        mcp.tool(annotations=RO)(catalog)
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
