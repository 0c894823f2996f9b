#!/usr/bin/env bash
# Resident memory of the gateway: idle, and with N open SSE streams through it (and, with
# --with-nginx, of nginx doing the same job), on loopback, against a Python upstream that holds
# every stream open (bench/sse_hold.py). See bench/README.md.
#
#   bench/memory.sh [--streams N] [--portcullis PATH] [--no-build] [--with-nginx]
#
# Everything it starts lives in a temp dir and is killed on exit (normal, error, Ctrl-C).
set -euo pipefail

# ---------------------------------------------------------------------------------------------
# options
STREAMS=10000
PORTCULLIS=""
PC_THREADS=1
NO_BUILD=0
WITH_NGINX=0
OPEN_TIMEOUT=120
CONCURRENCY=200
SETTLE=2
KEEP_TMP=0
SAVE=1
IGNORE_FD_LIMIT=0
IDLE_GOAL_MB=20
STREAMS_GOAL_MB=300
GOAL_STREAMS=10000

usage() {
    cat <<'EOF'
usage: bench/memory.sh [options]
  --streams N        open SSE streams to hold through each front (default 10000)
  --portcullis PATH  portcullis binary (default: target/release/portcullis, built if missing)
  --no-build         never run cargo; fail if the binary is missing
  --pc-threads N     portcullis worker_threads (default 1, as bench/proxy.sh; 0 = one per core)
  --with-nginx       also measure nginx 1 worker in front of the same upstream
                     (proxy_buffering off, HTTP/1.1 keep-alive upstream), as a reference
  --open-timeout S   seconds allowed for opening all streams and getting their first event (120)
  --concurrency C    streams being opened at once by the client (default 200)
  --settle S         seconds to wait before each reading (default 2)
  --ignore-fd-limit  go on even when the open-file limit cannot hold 2 x N sockets plus the
                     process's own files (to see how the gateway fails at the limit)
  --no-save          do not write bench/results/memory-<date>-<time>.md
  --keep-tmp         keep the temp dir (configs, logs, client status)
EOF
}

is_uint() { [[ "$1" =~ ^[0-9]+$ ]]; }
die() { printf 'memory.sh: error: %s\n' "$*" >&2; exit 1; }
log() { printf '[memory.sh] %s\n' "$*" >&2; }

while (($#)); do
    case "$1" in
        --streams) STREAMS="${2:?}"; shift 2 ;;
        --portcullis) PORTCULLIS="${2:?}"; shift 2 ;;
        --no-build) NO_BUILD=1; shift ;;
        --pc-threads) PC_THREADS="${2:?}"; shift 2 ;;
        --with-nginx) WITH_NGINX=1; shift ;;
        --open-timeout) OPEN_TIMEOUT="${2:?}"; shift 2 ;;
        --concurrency) CONCURRENCY="${2:?}"; shift 2 ;;
        --settle) SETTLE="${2:?}"; shift 2 ;;
        --ignore-fd-limit) IGNORE_FD_LIMIT=1; shift ;;
        --no-save) SAVE=0; shift ;;
        --keep-tmp) KEEP_TMP=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown option: $1" ;;
    esac
done
for v in STREAMS PC_THREADS OPEN_TIMEOUT CONCURRENCY SETTLE; do
    is_uint "${!v}" || die "$v wants a non-negative integer, got '${!v}'"
done
((STREAMS >= 1 && OPEN_TIMEOUT >= 1 && CONCURRENCY >= 1)) || die "--streams, --open-timeout and --concurrency must be at least 1"

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(dirname "$BENCH_DIR")"
HOLD="$BENCH_DIR/sse_hold.py"
[[ -f "$HOLD" ]] || die "missing $HOLD"
for t in python3 curl; do command -v "$t" >/dev/null 2>&1 || die "needs $t"; done

# ---------------------------------------------------------------------------------------------
# open files: every stream costs the proxy two sockets (client side and upstream side), the
# client and the upstream one each. The processes started below inherit this shell's limit.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
NOFILE="$(ulimit -n)"
[[ "$NOFILE" == unlimited ]] && NOFILE=1048576
# the proxy's own files (listeners, epoll, eventfds, log, audit file...) are counted at idle
FD_MARGIN=16

# ---------------------------------------------------------------------------------------------
# cleanup: kill exactly what we started (and nginx workers of masters we started)
TMP=""
STARTED_PIDS=()
# shellcheck source=bench/lib.sh
source "$BENCH_DIR/lib.sh"   # free_ports, child_pids

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    set +e
    local all=() p c
    for p in "${STARTED_PIDS[@]}"; do
        all+=("$p")
        for c in $(child_pids "$p"); do all+=("$c"); done
    done
    for p in "${STARTED_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    local i
    for i in $(seq 1 50); do
        local alive=0
        for p in "${all[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
        ((alive)) || break
        sleep 0.1
    done
    for p in "${all[@]}"; do kill -KILL "$p" 2>/dev/null; done
    wait 2>/dev/null
    if [[ -n "$TMP" && -d "$TMP" ]]; then
        if ((KEEP_TMP)); then log "kept temp dir $TMP"; else rm -rf "$TMP"; fi
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

TMP="$(mktemp -d /tmp/portcullis-memory.XXXXXX)"
chmod 755 "$TMP"   # nginx workers may run as nobody


# wait until GET URL answers EXPECT (http code), at most SECS seconds, while PID lives
wait_http() {
    local url="$1" expect="$2" secs="$3" pid="${4:-}" code i
    for ((i = 0; i < secs * 10; i++)); do
        if [[ -n "$pid" ]] && ! kill -0 "$pid" 2>/dev/null; then return 1; fi
        code="$(curl -s -o /dev/null -m 1 -w '%{http_code}' "$url" 2>/dev/null || true)"
        [[ "$code" == "$expect" ]] && return 0
        sleep 0.1
    done
    return 1
}

# "VmRSS VmHWM" in kB (KiB), summed over the given PIDs; "0 0" for none alive
mem_kb() {
    local rss=0 hwm=0 p k v _
    for p in "$@"; do
        [[ -r "/proc/$p/status" ]] || continue
        while read -r k v _; do
            case "$k" in
                VmRSS:) rss=$((rss + v)) ;;
                VmHWM:) hwm=$((hwm + v)) ;;
            esac
        done <"/proc/$p/status" 2>/dev/null || true
    done
    echo "$rss $hwm"
}
# open files of the given PID that holds the most
fd_max() {
    local n=0 p c
    for p in "$@"; do
        c="$(ls "/proc/$p/fd" 2>/dev/null | wc -l)" || c=0
        ((c > n)) && n=$c
    done
    echo "$n"
}
# open files, summed over the given PIDs
fd_count() {
    local n=0 p c
    for p in "$@"; do
        c="$(ls "/proc/$p/fd" 2>/dev/null | wc -l)" || c=0
        n=$((n + c))
    done
    echo "$n"
}
# AnonHugePages (kB), summed over the given PIDs: memory backed by transparent huge pages
thp_kb() {
    local n=0 p v
    for p in "$@"; do
        v="$(awk '/^AnonHugePages:/ {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null || true)"
        n=$((n + ${v:-0}))
    done
    echo "$n"
}
THP_MODE="$(sed -n 's/.*\[\(.*\)\].*/\1/p' /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null || true)"
mb() { awk -v k="$1" 'BEGIN{printf "%.1f", k*1024/1e6}'; }   # kB (KiB) -> MB (10^6 bytes)

# ---------------------------------------------------------------------------------------------
# the portcullis binary, built once if missing (unless --no-build); as bench/proxy.sh
PC_BIN=""
resolve_portcullis() {
    local bin="${PORTCULLIS:-$REPO_DIR/target/release/portcullis}"
    if [[ ! -x "$bin" ]]; then
        if [[ -n "$PORTCULLIS" ]]; then die "--portcullis $PORTCULLIS is not an executable file"; fi
        if ((NO_BUILD)); then
            die "binary $bin missing (--no-build)"
        elif ! command -v cargo >/dev/null 2>&1; then
            die "binary $bin missing and no cargo to build it"
        else
            log "building portcullis: cargo build --release (this can take minutes)"
            (cd "$REPO_DIR" && timeout 1800 cargo build --release >&2) || die "cargo build --release failed"
            [[ -x "$bin" ]] || die "binary $bin still missing after build"
        fi
    fi
    PC_BIN="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"
}
resolve_portcullis

NGINX_BIN=""
NGINX_NOTE=""
if ((WITH_NGINX)); then
    NGINX_BIN="$(command -v nginx || true)"
    [[ -z "$NGINX_BIN" && -x /usr/sbin/nginx ]] && NGINX_BIN=/usr/sbin/nginx
    if [[ -z "$NGINX_BIN" ]]; then
        NGINX_NOTE="nginx not installed (apt-get install nginx-light): the nginx rows are skipped"
        log "$NGINX_NOTE"
        WITH_NGINX=0
    fi
fi

read -r P_UP P_PC P_PC_ADMIN P_NGX <<<"$(free_ports 4)"

# ---------------------------------------------------------------------------------------------
# the upstream: every POST /mcp is an SSE stream held open (bench/sse_hold.py upstream)
python3 "$HOLD" upstream --port "$P_UP" >"$TMP/upstream.log" 2>&1 &
UP_PID=$!
STARTED_PIDS+=("$UP_PID")
wait_http "http://127.0.0.1:$P_UP/health" 200 10 "$UP_PID" \
    || { cat "$TMP/upstream.log" >&2; die "the upstream (sse_hold.py upstream) did not come up"; }
up_stats() { curl -s -m 5 "http://127.0.0.1:$P_UP/stats" 2>/dev/null || echo '{}'; }

# ---------------------------------------------------------------------------------------------
# the gateway: bench/proxy.sh's portcullis front (one public route /mcp, auth none, audit to a
# file, [admin] listen) plus the limits that would otherwise refuse the streams: at most 10 000
# open client connections and 256 per client IP ([server] defaults) and 1 024 connections to
# one upstream ([[upstreams]] max_connections default); every stream comes from 127.0.0.1 and
# holds one upstream connection. No rate limit applies by default ([rate_limits] is empty).
CAP=$((STREAMS + 1024))
PC_DIR="$TMP/portcullis"
mkdir -p "$PC_DIR"
cat >"$PC_DIR/gateway.toml" <<EOF
[server]
listen = "127.0.0.1:$P_PC"
worker_threads = $PC_THREADS
max_connections = $CAP
max_connections_per_ip = $CAP

[admin]
listen = "127.0.0.1:$P_PC_ADMIN"

[[upstreams]]
name = "bench"
route = "/mcp"
url = "http://127.0.0.1:$P_UP/mcp"
auth = "none"
default = "allow"
max_connections = $CAP

[audit]
sink = "file"
path = "$PC_DIR/audit.jsonl"
EOF
"$PC_BIN" check --config "$PC_DIR/gateway.toml" >"$PC_DIR/check.log" 2>&1 \
    || { cat "$PC_DIR/check.log" >&2; die "portcullis check rejected the bench config"; }

# ---------------------------------------------------------------------------------------------
# one front: start, idle reading, N streams, reading, close, reading after
declare -A R=()   # results: R[front.key]
CLIENT_PID=""

# streams through PORT; sets CLIENT_PID and leaves the client holding the streams
open_streams() {   # FRONT PORT PIDS...
    local front="$1" port="$2"
    shift 2
    local status="$TMP/client-$front.json"
    rm -f "$status"
    log "$front: opening $STREAMS SSE streams (at most ${OPEN_TIMEOUT}s)"
    python3 "$HOLD" client --port "$port" --streams "$STREAMS" --status "$status" \
        --open-timeout "$OPEN_TIMEOUT" --concurrency "$CONCURRENCY" --hold 900 \
        >"$TMP/client-$front.log" 2>&1 &
    CLIENT_PID=$!
    STARTED_PIDS+=("$CLIENT_PID")
    local i p
    for ((i = 0; i < (OPEN_TIMEOUT + 30) * 10; i++)); do
        [[ -s "$status" ]] && break
        kill -0 "$CLIENT_PID" 2>/dev/null || break
        for p in "$@"; do
            kill -0 "$p" 2>/dev/null || { log "$front (pid $p) died while the streams were opening"; break 2; }
        done
        sleep 0.1
    done
    [[ -s "$status" ]] || {
        tail -n 20 "$TMP/client-$front.log" >&2
        die "$front: the client wrote no status within $((OPEN_TIMEOUT + 30))s"
    }
    python3 - "$status" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
print(f"[memory.sh]   {s['opened']} connected, {s['responded']} answered 200 text/event-stream, "
      f"{s['events']} got their first event, {s['failed']} failed, in {s['seconds']} s", file=sys.stderr)
PY
}

stream_failure() {   # FRONT LOG PIDS...: explain a run where not every stream got its event, then die
    local front="$1" flog="$2" status="$TMP/client-$1.json" rss hwm
    shift 2
    read -r rss hwm <<<"$(mem_kb "$@")"
    log "$front now: VmRSS $(mb "$rss") MB, VmHWM $(mb "$hwm") MB, $(fd_count "$@") open files (limit $NOFILE)"
    python3 - "$status" <<'PY' >&2
import json, sys
s = json.load(open(sys.argv[1]))
print(f"  streams wanted {s['streams']}: connected {s['opened']}, answered {s['responded']}, "
      f"got their event {s['events']}, failed {s['failed']}")
print(f"  errors by kind: {s['errors']}")
print(f"  first error: {s['first_error']}")
PY
    log "upstream: $(up_stats)"
    if [[ -f "$flog" ]]; then log "$front log (last 20 lines):"; tail -n 20 "$flog" >&2; fi
    die "$front: only $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["events"])' "$status") of $STREAMS streams got their first event"
}

close_streams() {   # FRONT: end the client (closing every stream), read its final status
    local front="$1" status="$TMP/client-$1.json" i
    kill -TERM "$CLIENT_PID" 2>/dev/null || true
    for ((i = 0; i < 300; i++)); do kill -0 "$CLIENT_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$CLIENT_PID" 2>/dev/null || true
    wait "$CLIENT_PID" 2>/dev/null || true
    CLIENT_PID=""
    R[$front.closed_early]="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("closed_early", "?"))' "$status")"
}

# wait (at most SECS) until the PIDs hold at most MAX open files
wait_fds_below() {   # MAX SECS PIDS...
    local max="$1" secs="$2" i
    shift 2
    for ((i = 0; i < secs * 10; i++)); do
        (($(fd_count "$@") <= max)) && return 0
        sleep 0.1
    done
    return 1
}

measure_front() {   # FRONT PORT FRONT_LOG PIDS...
    local front="$1" port="$2" flog="$3"
    shift 3
    local pids=("$@") rss hwm fds
    sleep "$SETTLE"
    read -r rss hwm <<<"$(mem_kb "${pids[@]}")"
    fds="$(fd_count "${pids[@]}")"
    R[$front.idle_rss]=$rss; R[$front.idle_hwm]=$hwm; R[$front.idle_fds]=$fds
    log "$front idle: VmRSS $(mb "$rss") MB, VmHWM $(mb "$hwm") MB, $fds open files"
    # every stream goes through one process (portcullis; nginx's one worker)
    local own need
    own="$(fd_max "${pids[@]}")"
    need=$((own + 2 * STREAMS + FD_MARGIN))
    if ((need > NOFILE)); then
        local msg="$front needs about $need open files for $STREAMS streams ($own at idle + 2 sockets a stream + $FD_MARGIN), the limit is $NOFILE (ulimit -Hn $(ulimit -Hn)); at most $(((NOFILE - own - FD_MARGIN) / 2)) streams fit"
        ((IGNORE_FD_LIMIT)) || die "$msg. Raise the hard limit (e.g. docker run --ulimit nofile=65536), use fewer --streams, or --ignore-fd-limit to see what fails"
        log "WARNING: $msg; going on (--ignore-fd-limit)"
    fi
    local up0
    up0="$(mem_kb "$UP_PID")"
    open_streams "$front" "$port" "${pids[@]}"
    local ok
    ok="$(python3 -c 'import json,sys; print(int(json.load(open(sys.argv[1]))["ok"]))' "$TMP/client-$front.json")"
    ((ok)) || stream_failure "$front" "$flog" "${pids[@]}"
    sleep "$SETTLE"
    read -r rss hwm <<<"$(mem_kb "${pids[@]}")"
    fds="$(fd_count "${pids[@]}")"
    R[$front.rss]=$rss; R[$front.hwm]=$hwm; R[$front.fds]=$fds; R[$front.thp]="$(thp_kb "${pids[@]}")"
    R[$front.open_s]="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["seconds"])' "$TMP/client-$front.json")"
    read -r rss hwm <<<"$(mem_kb "$UP_PID")"
    R[$front.up_rss]=$rss; R[$front.up_hwm]=$hwm
    R[$front.client_rss]="$(mem_kb "$CLIENT_PID" | cut -d' ' -f1)"
    R[$front.up_open]="$(up_stats | python3 -c 'import json,sys; print(json.load(sys.stdin).get("open","?"))' 2>/dev/null || echo '?')"
    log "$front with $STREAMS streams: VmRSS $(mb "${R[$front.rss]}") MB, VmHWM $(mb "${R[$front.hwm]}") MB, $fds open files; upstream holds ${R[$front.up_open]} streams"
    close_streams "$front"
    # after: once the proxy has closed the streams' sockets (it may notice a client gone only
    # at its next write to it, a keep-alive comment: up to sse_keepalive = 15 s)
    local idle_fds="${R[$front.idle_fds]}"
    if wait_fds_below $((idle_fds + 8)) 60 "${pids[@]}"; then
        sleep "$SETTLE"
        read -r rss hwm <<<"$(mem_kb "${pids[@]}")"
        R[$front.after_rss]=$rss
        R[$front.after_note]=""
    else
        read -r rss hwm <<<"$(mem_kb "${pids[@]}")"
        R[$front.after_rss]=$rss
        R[$front.after_note]=" (still $(fd_count "${pids[@]}") open files 60 s after the client went)"
    fi
    log "$front after the streams closed: VmRSS $(mb "${R[$front.after_rss]}") MB${R[$front.after_note]}"
    # the upstream's streams end when the proxy closes them; wait for that before the next front
    local i
    for ((i = 0; i < 600; i++)); do
        [[ "$(up_stats | python3 -c 'import json,sys; print(json.load(sys.stdin).get("open",1))' 2>/dev/null)" == 0 ]] && break
        sleep 0.1
    done
}

# ---------------------------------------------------------------------------------------------
START_TS="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"

(cd "$PC_DIR" && exec "$PC_BIN" run --config "$PC_DIR/gateway.toml") >"$PC_DIR/portcullis.log" 2>&1 &
PC_PID=$!
STARTED_PIDS+=("$PC_PID")
if ! wait_http "http://127.0.0.1:$P_PC_ADMIN/readyz" 200 30 "$PC_PID"; then
    tail -n 20 "$PC_DIR/portcullis.log" >&2 || true
    die "portcullis not ready on /readyz within 30 s"
fi
measure_front portcullis "$P_PC" "$PC_DIR/portcullis.log" "$PC_PID"
kill -0 "$PC_PID" 2>/dev/null || die "portcullis died during the run (see its log)"

if ((WITH_NGINX)); then
    NG_DIR="$TMP/nginx"
    mkdir -p "$NG_DIR/logs"
    chmod 755 "$NG_DIR"
    # worker_connections: 2 per stream, and more than 16/15 of what is in use, or nginx starts
    # closing connections that wait for a request ("worker_connections are not enough, reusing
    # connections") -- it warns that this exceeds the open-file limit; the files are what count
    cat >"$NG_DIR/nginx.conf" <<EOF
worker_processes 1;
worker_rlimit_nofile $NOFILE;
daemon off;
master_process on;
pid $NG_DIR/nginx.pid;
error_log $NG_DIR/error.log warn;
events { worker_connections $(((2 * STREAMS + 1024) * 17 / 16)); }
http {
    access_log off;
    client_body_temp_path $NG_DIR/body;
    proxy_temp_path $NG_DIR/proxy;
    fastcgi_temp_path $NG_DIR/fastcgi;
    uwsgi_temp_path $NG_DIR/uwsgi;
    scgi_temp_path $NG_DIR/scgi;
    keepalive_timeout 65s;
    upstream u {
        server 127.0.0.1:$P_UP;
        keepalive 64;
    }
    server {
        listen 127.0.0.1:$P_NGX backlog=4096;
        location / {
            proxy_pass http://u;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
            proxy_read_timeout 1h;
        }
    }
}
EOF
    "$NGINX_BIN" -t -q -p "$NG_DIR/" -c "$NG_DIR/nginx.conf" -e "$NG_DIR/error.log" \
        || { cat "$NG_DIR/error.log" >&2 || true; die "nginx config rejected"; }
    "$NGINX_BIN" -p "$NG_DIR/" -c "$NG_DIR/nginx.conf" -e "$NG_DIR/error.log" >"$NG_DIR/stdout.log" 2>&1 &
    NG_PID=$!
    STARTED_PIDS+=("$NG_PID")
    wait_http "http://127.0.0.1:$P_NGX/health" 200 10 "$NG_PID" \
        || { cat "$NG_DIR/error.log" >&2 || true; die "nginx did not come up"; }
    # master + worker (the worker's PID is known once it runs)
    NG_PIDS=("$NG_PID" $(child_pids "$NG_PID"))
    measure_front nginx "$P_NGX" "$NG_DIR/error.log" "${NG_PIDS[@]}"
fi

# ---------------------------------------------------------------------------------------------
# report
verdict() { awk -v k="$1" -v g="$2" 'BEGIN{print (k*1024 <= g*1e6) ? "met" : "**missed**"}'; }
per_stream() { awk -v a="$1" -v b="$2" -v n="$STREAMS" 'BEGIN{printf "%.1f", (a-b)/n}'; }   # KiB
PC_VER="$("$PC_BIN" --version 2>/dev/null | head -n1 || true)"
rev=""   # the repo's revision says what the binary is only for the default, built one
if [[ -z "$PORTCULLIS" ]]; then
    rev="$(git -C "$REPO_DIR" rev-parse --short HEAD 2>/dev/null || true)"
    [[ -n "$rev" ]] && rev=" (repo HEAD $rev$(git -C "$REPO_DIR" diff --quiet HEAD 2>/dev/null || echo ', dirty'))"
fi
# the streams goal is for 10 000 streams; another N is judged by the extrapolation row
if ((STREAMS == GOAL_STREAMS)); then
    GOAL_N_TEXT="≤ $STREAMS_GOAL_MB MB"
else
    GOAL_N_TEXT="(≤ $STREAMS_GOAL_MB MB is for 10 000: see below)"
fi

row() { printf '| %s | %s | %s | %s | %s |\n' "$@"; }
table() {
    echo "| measurement | VmRSS | VmHWM | goal | |"
    echo "|---|---:|---:|---|---|"
    local f=portcullis
    row "portcullis idle (${R[$f.idle_fds]} open files)" "$(mb "${R[$f.idle_rss]}") MB" "$(mb "${R[$f.idle_hwm]}") MB" \
        "≤ $IDLE_GOAL_MB MB" "$(verdict "${R[$f.idle_rss]}" "$IDLE_GOAL_MB")"
    row "portcullis, $STREAMS open SSE streams (${R[$f.fds]} open files)" "$(mb "${R[$f.rss]}") MB" "$(mb "${R[$f.hwm]}") MB" \
        "$GOAL_N_TEXT" "$( ((STREAMS == GOAL_STREAMS)) && verdict "${R[$f.rss]}" "$STREAMS_GOAL_MB")"
    row "portcullis, per stream ((RSS_N − idle) / N)" "$(per_stream "${R[$f.rss]}" "${R[$f.idle_rss]}") KiB" "" \
        "≤ $(awk -v g="$STREAMS_GOAL_MB" -v i="${R[$f.idle_rss]}" -v G="$GOAL_STREAMS" 'BEGIN{printf "%.1f", (g*1e6/1024 - i)/G}') KiB (300 MB − idle, ÷ 10 000)" ""
    if ((STREAMS != GOAL_STREAMS)); then
        row "portcullis, 10 000 streams at this rate (idle + 10 000 × per stream)" \
            "$(awk -v i="${R[$f.idle_rss]}" -v r="${R[$f.rss]}" -v n="$STREAMS" -v G="$GOAL_STREAMS" 'BEGIN{printf "%.1f", (i + (r-i)*G/n)*1024/1e6}') MB" "" \
            "≤ $STREAMS_GOAL_MB MB" "$(awk -v i="${R[$f.idle_rss]}" -v r="${R[$f.rss]}" -v n="$STREAMS" -v G="$GOAL_STREAMS" -v g="$STREAMS_GOAL_MB" 'BEGIN{print ((i + (r-i)*G/n)*1024 <= g*1e6) ? "met (extrapolated)" : "**missed** (extrapolated)"}')"
    fi
    row "portcullis, after the client closed them" "$(mb "${R[$f.after_rss]}") MB${R[$f.after_note]}" "" "" ""
    row "upstream (Python asyncio), $STREAMS streams through portcullis" "$(mb "${R[$f.up_rss]}") MB" "$(mb "${R[$f.up_hwm]}") MB" "" ""
    if ((WITH_NGINX)); then
        f=nginx
        row "nginx idle, master + worker (${R[$f.idle_fds]} open files)" "$(mb "${R[$f.idle_rss]}") MB" "$(mb "${R[$f.idle_hwm]}") MB" "" ""
        row "nginx, $STREAMS open SSE streams (${R[$f.fds]} open files)" "$(mb "${R[$f.rss]}") MB" "$(mb "${R[$f.hwm]}") MB" "" ""
        row "nginx, per stream" "$(per_stream "${R[$f.rss]}" "${R[$f.idle_rss]}") KiB" "" "" ""
        row "nginx, after the client closed them" "$(mb "${R[$f.after_rss]}") MB${R[$f.after_note]}" "" "" ""
        row "upstream (Python asyncio), $STREAMS streams through nginx" "$(mb "${R[$f.up_rss]}") MB" "$(mb "${R[$f.up_hwm]}") MB" "" ""
    fi
}
TABLE="$(table)"
NOTES="$(
    f=portcullis
    echo "- streams: $STREAMS through each front, opened $CONCURRENCY at a time; all got their first event in ${R[$f.open_s]} s (portcullis)$( ((WITH_NGINX)) && echo ", ${R[nginx.open_s]} s (nginx)"); readings ${SETTLE} s after that; streams that ended while held: ${R[$f.closed_early]} (portcullis)$( ((WITH_NGINX)) && echo ", ${R[nginx.closed_early]} (nginx)")"
    echo "- the client (Python asyncio, one process) held $(mb "${R[$f.client_rss]}") MB itself during the portcullis run"
    echo "- transparent huge pages: ${THP_MODE:-unknown} (/sys/kernel/mm/transparent_hugepage/enabled); of portcullis's VmRSS with the streams, $(mb "${R[$f.thp]}") MB is AnonHugePages${MIMALLOC_ALLOW_THP:+ (MIMALLOC_ALLOW_THP=$MIMALLOC_ALLOW_THP)}"
)"

REPORT="$TMP/report.md"
{
    echo "# Memory benchmark, $START_TS"
    echo
    echo "- machine: $(nproc) CPUs ($(uname -r)), $(awk '/MemTotal/ {printf "%.1f GB", $2*1024/1e9}' /proc/meminfo) RAM, load average before: $LOAD_BEFORE; open-file limit $NOFILE"
    echo "- portcullis: $PC_BIN${PC_VER:+ ($PC_VER)}$rev, worker_threads = $PC_THREADS; bench/proxy.sh's portcullis front (route /mcp, auth none, audit to a file, [admin]) with max_connections = max_connections_per_ip = [[upstreams]] max_connections = $CAP"
    echo "- upstream: bench/sse_hold.py upstream (Python $(python3 -c 'import sys; print(sys.version.split()[0])') asyncio): 200 text/event-stream, one event, then open (: ping every 15 s)"
    ((WITH_NGINX)) && echo "- nginx: $("$NGINX_BIN" -v 2>&1 | sed 's/^nginx version: //'), 1 worker, proxy_buffering off, HTTP/1.1 keep-alive upstream; RSS = master + worker"
    [[ -n "$NGINX_NOTE" ]] && echo "- $NGINX_NOTE"
    echo "$NOTES"
    echo
    echo "$TABLE"
    echo
    echo "VmRSS / VmHWM from /proc/PID/status (HWM: the peak resident size so far). MB = 10^6 bytes, KiB = 1024 bytes."
} >"$REPORT"

echo
echo "$TABLE"
echo
echo "$NOTES"
if ((SAVE)); then
    mkdir -p "$BENCH_DIR/results"
    dest="$BENCH_DIR/results/memory-$(date +%Y-%m-%d-%H%M%S).md"
    cp "$REPORT" "$dest"
    echo
    echo "written: ${dest#"$REPO_DIR"/}"
fi
