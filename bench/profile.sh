#!/usr/bin/env bash
# Where the gateway's CPU goes, per request stage: perf samples (cpu-clock, DWARF call graphs with
# inlined frames) of `portcullis run` under wrk load, folded by bench/profile_stages.py into the
# share of each stage, for the public route and the full pipeline (HS256 JWT + IP/role/tool
# buckets + tool authorization + audit), side by side.
#
#   bench/profile.sh [--portcullis BIN] [--seconds S] [--routes public,full] [--no-save] [--keep-tmp]
#
# Upstream: nginx (1 worker) answering every POST with a fixed JSON-RPC result, as in proxy.sh.
# The gateway runs with worker_threads = 1; wrk -t2 -c32 loads it for 1 s unrecorded, then
# S seconds (default 5) recorded. Installs perf (linux-perf), wrk and nginx from Debian when
# missing. Loopback only; everything it starts is killed on exit. The report goes to
# bench/results/profile-<date>-<time>.md (with the perf.data files' top functions).
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(dirname "$BENCH_DIR")"
PC_BIN="$REPO_DIR/target/release/portcullis"
SECONDS_RECORDED=5
ROUTES="public full"
SAVE=1
KEEP_TMP=0
while (($#)); do
    case "$1" in
        --portcullis) PC_BIN="${2:?}"; shift 2 ;;
        --seconds) SECONDS_RECORDED="${2:?}"; shift 2 ;;
        --routes) ROUTES="${2//,/ }"; shift 2 ;;
        --no-save) SAVE=0; shift ;;
        --keep-tmp) KEEP_TMP=1; shift ;;
        -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
        *) echo "profile.sh: unknown option $1" >&2; exit 1 ;;
    esac
done
[[ -x "$PC_BIN" ]] || { echo "profile.sh: $PC_BIN missing (cargo build --release)" >&2; exit 1; }

missing=()
command -v perf >/dev/null || missing+=(linux-perf)
command -v wrk >/dev/null || missing+=(wrk)
command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || missing+=(nginx-light)
command -v curl >/dev/null || missing+=(curl)
if ((${#missing[@]})); then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
NGINX_BIN="$(command -v nginx || echo /usr/sbin/nginx)"

TMP="$(mktemp -d /tmp/portcullis-profile.XXXXXX)"
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    sleep 0.3
    for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    if ((KEEP_TMP)); then echo "kept $TMP (perf.data, script.txt per route)" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT

# shellcheck source=bench/lib.sh
source "$BENCH_DIR/lib.sh"   # free_ports
wait_200() {   # URL
    for _ in $(seq 1 100); do
        [[ "$(curl -s -o /dev/null -w '%{http_code}' "$1" || true)" == 200 ]] && return 0
        sleep 0.1
    done
    return 1
}

REPLY='{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"ok"}]}}'
UP_PORT="$(free_ports 1)"
mkdir -p "$TMP/up"
cat >"$TMP/up/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $TMP/up/nginx.pid;
error_log $TMP/up/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $TMP/up/body;
    proxy_temp_path $TMP/up/proxy;
    fastcgi_temp_path $TMP/up/fastcgi;
    uwsgi_temp_path $TMP/up/uwsgi;
    scgi_temp_path $TMP/up/scgi;
    keepalive_requests 100000000;
    server {
        listen 127.0.0.1:$UP_PORT;
        location = /mcp { default_type application/json; return 200 '$REPLY'; }
    }
}
EOF
"$NGINX_BIN" -p "$TMP/up/" -c "$TMP/up/nginx.conf" -e "$TMP/up/error.log" &
PIDS+=("$!")

cat >"$TMP/post.lua" <<'EOF'
wrk.method = "POST"
wrk.body = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hi"}}}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json, text/event-stream"
EOF

# gateway.toml for ROUTE (public | full) on PORT / ADMIN
config() {   # ROUTE PORT ADMIN DIR
    local route="$1" port="$2" admin="$3" dir="$4"
    printf '[server]\nlisten = "127.0.0.1:%s"\nworker_threads = 1\n\n[admin]\nlisten = "127.0.0.1:%s"\n\n' "$port" "$admin"
    if [[ "$route" == public ]]; then
        cat <<EOF
[[upstreams]]
name = "bench"
route = "/mcp"
url = "http://127.0.0.1:$UP_PORT/mcp"
auth = "none"
default = "allow"
EOF
    else
        cat <<EOF
[auth.jwt]
[[auth.jwt.keys]]
kid = "k1"
alg = "HS256"
secret = "$("$PC_BIN" gen-secret)"

[roles]
user = ["bench:echo", "weather:read"]

[rate_limits]
ip = { capacity = 1000000000, refill_per_sec = 1000000000 }
[rate_limits.roles]
user = { capacity = 1000000000, refill_per_sec = 1000000000 }
[[rate_limits.tools]]
tool = "echo"
capacity = 1000000000
refill_per_sec = 1000000000

[[upstreams]]
name = "bench"
route = "/mcp"
url = "http://127.0.0.1:$UP_PORT/mcp"
auth = "required"
default = "deny"
[upstreams.tools]
echo = "bench:echo"
get_weather = "weather:read"
EOF
    fi
    printf '\n[audit]\nsink = "file"\npath = "%s/audit.jsonl"\n' "$dir"
}

REPORT="$TMP/report.md"
{
    echo "# Gateway profile, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo
    echo "- machine: $(nproc) CPUs ($(uname -r)), load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "- portcullis: $PC_BIN (worker_threads = 1) (repo HEAD $(git -C "$REPO_DIR" rev-parse --short HEAD 2>/dev/null || echo '?'))"
    echo "- load: wrk -t2 -c32, POST /mcp tools/call echo; upstream nginx \`return 200\` (1 worker)"
    echo "- sampling: \`perf record -e cpu-clock -F 999 --call-graph dwarf\` of the gateway process for ${SECONDS_RECORDED}s; each sample charged to the innermost frame naming a stage (bench/profile_stages.py)"
    echo
} >"$REPORT"

for route in $ROUTES; do
    dir="$TMP/$route"; mkdir -p "$dir"
    read -r port admin <<<"$(free_ports 2)"
    config "$route" "$port" "$admin" "$dir" >"$dir/gateway.toml"
    "$PC_BIN" run --config "$dir/gateway.toml" >"$dir/gateway.log" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    wait_200 "http://127.0.0.1:$admin/readyz" || { tail "$dir/gateway.log" >&2; exit 1; }
    lua="$TMP/post.lua"
    if [[ "$route" == full ]]; then
        token="$("$PC_BIN" token issue --config "$dir/gateway.toml" --sub bench --role user --ttl 1h \
            | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')"
        sed "\$a wrk.headers[\"Authorization\"] = \"Bearer $token\"" "$TMP/post.lua" >"$dir/post.lua"
        lua="$dir/post.lua"
    fi
    code="$(curl -s -o "$dir/check.out" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
        -H 'Accept: application/json, text/event-stream' ${token:+-H "Authorization: Bearer $token"} \
        -d '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hi"}}}' \
        "http://127.0.0.1:$port/mcp")"
    [[ "$code" == 200 && "$(cat "$dir/check.out")" == "$REPLY" ]] \
        || { echo "profile.sh: $route answered $code: $(head -c 300 "$dir/check.out")" >&2; exit 1; }
    timeout 60 wrk -t2 -c32 -d1s -s "$lua" "http://127.0.0.1:$port/mcp" >/dev/null
    timeout 120 wrk -t2 -c32 -d$((SECONDS_RECORDED + 2))s -s "$lua" "http://127.0.0.1:$port/mcp" >"$dir/wrk.out" &
    wrk_pid=$!
    sleep 1
    perf record -q -e cpu-clock -F 999 --call-graph dwarf,16384 -p "$pid" -o "$dir/perf.data" \
        -- sleep "$SECONDS_RECORDED" >/dev/null 2>&1
    wait "$wrk_pid"
    perf script -i "$dir/perf.data" -F comm,tid,ip,sym,srcline 2>/dev/null >"$dir/script.txt"
    {
        echo "## Route: $route ($(awk '/Requests\/sec/{printf "%.0f req/s", $2}' "$dir/wrk.out") under wrk)"
        echo
        python3 "$BENCH_DIR/profile_stages.py" --top 20 <"$dir/script.txt"
        echo
    } >>"$REPORT"
    kill -TERM "$pid" 2>/dev/null || true
done

cat "$REPORT"
if ((SAVE)); then
    mkdir -p "$BENCH_DIR/results"
    dest="$BENCH_DIR/results/profile-$(date +%Y-%m-%d-%H%M%S).md"
    cp "$REPORT" "$dest"
    echo; echo "written: ${dest#"$REPO_DIR"/}"
fi
