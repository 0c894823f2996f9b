#!/usr/bin/env bash
# The main job on a fresh machine: a real MCP server (Python `mcp` SDK) on 127.0.0.1:8001 and
# Portcullis in front of it on 127.0.0.1:8080 with the shipped gateway.toml. No Redis needed.
#   scripts/demo.sh          serve until Ctrl-C
#   scripts/demo.sh --smoke  call it once through the gateway with the Python MCP client, then stop
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/setup-interop.sh --python-only
cargo build --release --quiet
I="$ROOT/tests/interop"
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM
PY_SERVER_LOG_LEVEL=WARNING "$I/.venv/bin/python" "$I/py_server.py" 8001 streamable-http &
pids+=($!)
"${CARGO_TARGET_DIR:-target}/release/portcullis" run --config gateway.toml &
pids+=($!)
ready() { curl -s -o /dev/null http://127.0.0.1:8001/ && curl -sf -o /dev/null http://127.0.0.1:9090/readyz; }
for _ in $(seq 1 150); do ready && break; sleep 0.1; done
ready || { echo "demo: the MCP server or the gateway did not come up" >&2; exit 2; }
cat >&2 <<'MSG'

Portcullis is serving http://127.0.0.1:8080/mcp in front of the MCP server on 127.0.0.1:8001.
  MCP client:  tests/interop/.venv/bin/python tests/interop/py_client.py http://127.0.0.1:8080/mcp legacy
               (legacy = the 2025-era session handshake; 2026-07-28 = the stateless revision)
  curl:        curl -s http://127.0.0.1:8080/mcp -H 'content-type: application/json' \
                 -H 'accept: application/json, text/event-stream' -H 'mcp-protocol-version: 2026-07-28' \
                 -H 'mcp-method: tools/call' -H 'mcp-name: add' \
                 -d '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add","arguments":{"a":2,"b":3},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}'
  metrics:     curl -s http://127.0.0.1:9090/metrics
Audit events (one JSON line per request) appear on standard output.
MSG
if [ "${1:-}" = "--smoke" ]; then
  "$I/.venv/bin/python" "$I/py_client.py" http://127.0.0.1:8080/mcp 2026-07-28
  "$I/.venv/bin/python" "$I/py_client.py" http://127.0.0.1:8080/mcp legacy
  exit 0
fi
wait
