#!/usr/bin/env bash
# Instructions per proxied request, counted by valgrind (callgrind), for one or more portcullis
# binaries side by side: a figure the machine's noise does not move, for before/after checks of
# the hot path when wall-clock runs (bench/proxy.sh) are too noisy to call a few percent.
#
#   bench/instructions.sh [--requests N] BIN [BIN...]
#
# Each binary serves the same config (the proxy.sh `portcullis` front: one public route, audit to
# a file, worker_threads = 1) in front of a small loopback upstream. It is run twice under
# callgrind, for WARM and WARM + N sequential keep-alive tools/call POSTs, and stopped with
# SIGTERM; (Ir of the long run - Ir of the short run) / N is the cost of one request with
# start-up, warm-up and shutdown cancelled out. Prints one line per binary and the ratios to the
# first. Needs valgrind and python3 (apt-installed when missing, as root). Loopback only; every
# process it starts is killed on exit.
set -euo pipefail

REQUESTS=2000
WARM=200
BINS=()
while (($#)); do
    case "$1" in
        --requests) REQUESTS="${2:?}"; shift 2 ;;
        -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
        *) BINS+=("$1"); shift ;;
    esac
done
((${#BINS[@]})) || { echo "usage: bench/instructions.sh [--requests N] BIN [BIN...]" >&2; exit 1; }
for b in "${BINS[@]}"; do [[ -x "$b" ]] || { echo "not an executable: $b" >&2; exit 1; }; done
missing=()
command -v valgrind >/dev/null || missing+=(valgrind)
command -v python3 >/dev/null || missing+=(python3)
if ((${#missing[@]})); then apt-get update -qq && apt-get install -y -qq "${missing[@]}"; fi

TMP="$(mktemp -d /tmp/portcullis-instructions.XXXXXX)"
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# The upstream: a fixed JSON-RPC result for every POST, HTTP/1.1 keep-alive.
UP_PORT="$(free_port)"
python3 - "$UP_PORT" >"$TMP/upstream.log" 2>&1 <<'PY' &
import http.server, sys
BODY = b'{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"ok"}]}}'
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
PIDS+=("$!")

# COUNT sequential POSTs on one keep-alive connection; exits non-zero on any non-200.
client() {   # PORT COUNT
    python3 - "$1" "$2" <<'PY'
import http.client, sys, time
port, count = int(sys.argv[1]), int(sys.argv[2])
body = b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hi"}}}'
headers = {"content-type": "application/json", "accept": "application/json, text/event-stream"}
for _ in range(600):
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("POST", "/mcp", body, headers)
        conn.getresponse().read()
        break
    except OSError:
        time.sleep(0.1)
else:
    sys.exit("gateway never answered")
for _ in range(count - 1):
    conn.request("POST", "/mcp", body, headers)
    r = conn.getresponse()
    r.read()
    if r.status != 200:
        sys.exit(f"status {r.status}")
PY
}

# Ir of BIN serving COUNT requests (callgrind, whole process, every thread).
instructions() {   # BIN COUNT TAG
    local bin="$1" count="$2" dir="$TMP/$3"
    mkdir -p "$dir"
    local port admin
    port="$(free_port)"; admin="$(free_port)"
    cat >"$dir/gateway.toml" <<EOF
[server]
listen = "127.0.0.1:$port"
worker_threads = 1

[admin]
listen = "127.0.0.1:$admin"

[[upstreams]]
name = "bench"
route = "/mcp"
url = "http://127.0.0.1:$UP_PORT/mcp"
auth = "none"
default = "allow"

[audit]
sink = "file"
path = "$dir/audit.jsonl"
EOF
    valgrind --tool=callgrind --callgrind-out-file="$dir/cg.%p" "$bin" run --config "$dir/gateway.toml" \
        >"$dir/gateway.log" 2>&1 &
    local pid=$!
    PIDS+=("$pid")
    client "$port" "$count" || { tail -n 20 "$dir/gateway.log" >&2; exit 1; }
    kill -TERM "$pid"
    for _ in $(seq 1 600); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    wait "$pid" 2>/dev/null || true
    grep -h '^summary:' "$dir"/cg.* | awk '{s += $2} END {print s}'
}

declare -a PER=()
for i in "${!BINS[@]}"; do
    short="$(instructions "${BINS[$i]}" "$WARM" "b$i-short")"
    long="$(instructions "${BINS[$i]}" $((WARM + REQUESTS)) "b$i-long")"
    PER[$i]=$(( (long - short) / REQUESTS ))
    printf '%-60s %10d instructions/request\n' "${BINS[$i]}" "${PER[$i]}"
done
for i in "${!BINS[@]}"; do
    ((i == 0)) && continue
    python3 -c "import sys; print('%s / %s = %.3f' % (sys.argv[1], sys.argv[2], int(sys.argv[3]) / int(sys.argv[4])))" \
        "${BINS[$i]}" "${BINS[0]}" "${PER[$i]}" "${PER[0]}"
done
