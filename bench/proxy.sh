#!/usr/bin/env bash
# Side-by-side proxy benchmark: direct vs nginx vs portcullis (and, with --tls, both again
# terminating TLS, and with --auth portcullis on an authenticated route), all on loopback, against one nginx upstream that returns a fixed JSON-RPC
# reply. See bench/README.md.
#
#   bench/proxy.sh [--rounds N] [--duration S] [--portcullis PATH] [--fronts LIST] [--tls] [--auth] [--no-build]
#
# Everything it starts lives in a temp dir and is killed on exit (normal, error, Ctrl-C).
set -euo pipefail

# ---------------------------------------------------------------------------------------------
# options
ROUNDS=3
DURATION=5
WARMUP=1
THREADS=2
CONNS=32
PORTCULLIS=""
BASELINE=""
PC_THREADS=1
NO_BUILD=0
KEEP_TMP=0
SAVE=1
RATE=0
# Fronts, measured interleaved in this order in every round. Each NAME needs functions
# front_NAME_setup (start it, set FRONT_URL[NAME]; return non-zero with SKIP_REASON set to skip)
# and front_NAME_pids (PIDs whose CPU time counts as the front's). --tls adds the TLS-terminating
# variants nginx_tls and portcullis_tls (https:// URLs; wrk keeps its connections alive, so they
# measure TLS record cost, not handshakes). --auth adds pc_hs256, pc_es256 and pc_apikey: the
# portcullis front with `auth = "required"` and an HS256 JWT, an ES256 JWT or an API key sent
# by wrk on every request.
FRONTS="direct nginx portcullis"
TLS=0
AUTH=0
AUTHZ=0
LIST=0
STATE=0
EXTRA_HEADERS=()

usage() {
    cat <<'EOF'
usage: bench/proxy.sh [options]
  --rounds N         interleaved rounds (default 3; use 5 for decisions)
  --duration S       seconds of load per front per round (default 5)
  --warmup S         seconds of unrecorded load per front before round 1 (default 1, 0 = none)
  --portcullis PATH  portcullis binary (default: target/release/portcullis, built if missing)
  --pc-threads N     portcullis worker threads (default 1: the core budget of nginx's one worker; 0 = one per core)
  --no-build         never run cargo; skip portcullis if the binary is missing
  --baseline PATH    also measure pc_baseline: the portcullis front's exact config served by the
                     binary at PATH (an older build), and report portcullis ÷ pc_baseline per round
  --tls              also measure nginx_tls and portcullis_tls: the same two proxies terminating
                     TLS 1.2/1.3 with a throwaway ECDSA P-256 certificate (made with openssl)
  --auth             also measure pc_hs256, pc_es256 and pc_apikey: the portcullis front with the
                     route protected (auth = "required") and wrk sending an HS256 JWT, an ES256
                     JWT or an API key with every request
  --authz            also measure pc_authz: pc_hs256 plus the seed's roles and a per-tool policy
                     (9 tools listed, default deny); compare it with pc_hs256 (authentication alone)
  --list             the workload is tools/list (a 9-tool reply, filtered to the caller's 3 tools
                     by pc_authz) instead of tools/call
  --state            also measure pc_embedded and pc_redis: pc_hs256 plus a role rate limit
                     (never reached) with the embedded backend, or with [state] backend = "redis"
                     against a redis-server started on a free port (one script call per request)
  --fronts LIST      comma/space separated fronts (default: direct,nginx,portcullis; with --tls
                     also nginx_tls,portcullis_tls; with --auth also pc_hs256,pc_es256,pc_apikey)
  --connections N    wrk connections (default 32)
  --threads N        wrk threads (default 2)
  --header 'K: V'    extra request header (repeatable)
  --rate R           also measure latency at about R req/s (paced wrk, same duration) per front
                     per round, after the saturating runs; off by default (doubles the time)
  --no-save          do not write bench/results/proxy-<date>.md
  --keep-tmp         keep the temp dir (configs, logs, raw wrk output)
EOF
}

is_uint() { [[ "$1" =~ ^[0-9]+$ ]]; }
die() { printf 'proxy.sh: error: %s\n' "$*" >&2; exit 1; }
log() { printf '[proxy.sh] %s\n' "$*" >&2; }

while (($#)); do
    case "$1" in
        --rounds) ROUNDS="${2:?}"; shift 2 ;;
        --duration) DURATION="${2:?}"; shift 2 ;;
        --warmup) WARMUP="${2:?}"; shift 2 ;;
        --threads) THREADS="${2:?}"; shift 2 ;;
        --connections) CONNS="${2:?}"; shift 2 ;;
        --portcullis) PORTCULLIS="${2:?}"; shift 2 ;;
        --baseline) BASELINE="${2:?}"; shift 2 ;;
        --pc-threads) PC_THREADS="${2:?}"; shift 2 ;;
        --no-build) NO_BUILD=1; shift ;;
        --fronts) FRONTS="${2:?}"; FRONTS="${FRONTS//,/ }"; shift 2 ;;
        --tls) TLS=1; shift ;;
        --auth) AUTH=1; shift ;;
        --authz) AUTHZ=1; shift ;;
        --list) LIST=1; shift ;;
        --state) STATE=1; shift ;;
        --header) EXTRA_HEADERS+=("${2:?}"); shift 2 ;;
        --rate) RATE="${2:?}"; shift 2 ;;
        --no-save) SAVE=0; shift ;;
        --keep-tmp) KEEP_TMP=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown option: $1" ;;
    esac
done
for v in ROUNDS DURATION WARMUP THREADS CONNS RATE; do
    is_uint "${!v}" || die "$v wants a non-negative integer, got '${!v}'"
done
((ROUNDS >= 1 && DURATION >= 1 && THREADS >= 1 && CONNS >= THREADS)) || die "bad load parameters"
if ((TLS)); then   # add the TLS fronts (to --fronts too, unless listed there already)
    for f in nginx_tls portcullis_tls; do
        [[ " $FRONTS " == *" $f "* ]] || FRONTS+=" $f"
    done
fi
if [[ -n "$BASELINE" ]]; then  # the same front from another binary, for before/after ratios
    [[ -x "$BASELINE" ]] || die "--baseline $BASELINE is not an executable file"
    BASELINE="$(cd "$(dirname "$BASELINE")" && pwd)/$(basename "$BASELINE")"
    for f in portcullis pc_baseline; do
        [[ " $FRONTS " == *" $f "* ]] || FRONTS+=" $f"
    done
fi
AUTH_FRONTS="pc_hs256 pc_es256 pc_apikey pc_authz pc_embedded pc_redis pc_baseline"
if ((AUTH)); then   # add the authenticated fronts likewise
    for f in pc_hs256 pc_es256 pc_apikey; do
        [[ " $FRONTS " == *" $f "* ]] || FRONTS+=" $f"
    done
fi
if ((STATE)); then  # rate limits: embedded buckets against Redis, side by side
    for f in pc_embedded pc_redis; do
        [[ " $FRONTS " == *" $f "* ]] || FRONTS+=" $f"
    done
fi
if ((AUTHZ)); then  # authorization against authentication alone: pc_hs256 is the baseline
    for f in pc_hs256 pc_authz; do
        [[ " $FRONTS " == *" $f "* ]] || FRONTS+=" $f"
    done
fi

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(dirname "$BENCH_DIR")"
STATS="$BENCH_DIR/proxy_stats.py"

# ---------------------------------------------------------------------------------------------
# cleanup: kill exactly what we started (and nginx workers of masters we started)
TMP=""
STARTED_PIDS=()
POLICY_RC_CREATED=0
WRK_PID=""

child_pids() { pgrep -P "$1" 2>/dev/null || true; }

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    set +e
    [[ -n "$WRK_PID" ]] && kill -TERM "$WRK_PID" 2>/dev/null
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
    if ((POLICY_RC_CREATED)); then rm -f /usr/sbin/policy-rc.d; fi
    if [[ -n "$TMP" && -d "$TMP" ]]; then
        if ((KEEP_TMP)); then log "kept temp dir $TMP"; else rm -rf "$TMP"; fi
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------------------------
# tools: wrk, nginx, curl, python3 from Debian if missing
SUDO=""
if [[ "$(id -u)" != 0 ]]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi
fi

install_tools() {
    local missing=() pkgs=()
    command -v wrk >/dev/null 2>&1 || missing+=(wrk)
    command -v nginx >/dev/null 2>&1 || [[ -x /usr/sbin/nginx ]] || missing+=(nginx)
    command -v curl >/dev/null 2>&1 || missing+=(curl)
    command -v python3 >/dev/null 2>&1 || missing+=(python3)
    command -v pgrep >/dev/null 2>&1 || missing+=(procps)
    command -v openssl >/dev/null 2>&1 || missing+=(openssl)
    ((${#missing[@]})) || return 0
    command -v apt-get >/dev/null 2>&1 || die "missing ${missing[*]} and no apt-get to install them"
    if [[ "$(id -u)" != 0 && -z "$SUDO" ]]; then die "missing ${missing[*]}; run as root or install them"; fi
    log "installing: ${missing[*]} (apt-get update + install)"
    $SUDO env DEBIAN_FRONTEND=noninteractive timeout 600 apt-get update -q >&2 \
        || die "apt-get update failed"
    local m nginx_pkg=""
    for m in "${missing[@]}"; do
        if [[ "$m" == nginx ]]; then
            # nginx-light is enough (http, proxy, upstream keepalive, ssl); fall back to nginx.
            for cand in nginx-light nginx; do
                if apt-cache policy "$cand" 2>/dev/null | grep 'Candidate: [^(]' >/dev/null; then  # no -q: an early exit would SIGPIPE apt-cache under pipefail
                    nginx_pkg="$cand"; break
                fi
            done
            [[ -n "$nginx_pkg" ]] || die "neither nginx-light nor nginx is installable"
            pkgs+=("$nginx_pkg")
        else
            pkgs+=("$m")
        fi
    done
    # Keep the distro's nginx service from starting (and taking port 80) during install.
    if [[ -n "$nginx_pkg" && ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
        $SUDO chmod 755 /usr/sbin/policy-rc.d
        POLICY_RC_CREATED=1
    fi
    $SUDO env DEBIAN_FRONTEND=noninteractive timeout 900 \
        apt-get install -y -q --no-install-recommends "${pkgs[@]}" >&2 || die "apt-get install failed"
    if ((POLICY_RC_CREATED)); then $SUDO rm -f /usr/sbin/policy-rc.d; POLICY_RC_CREATED=0; fi
    if [[ -n "$nginx_pkg" && -d /run/systemd/system ]] && command -v systemctl >/dev/null 2>&1; then
        $SUDO systemctl disable --now nginx >/dev/null 2>&1 || true
    fi
}
install_tools
NGINX_BIN="$(command -v nginx || echo /usr/sbin/nginx)"
CLK_TCK="$(getconf CLK_TCK)"

# ---------------------------------------------------------------------------------------------
# helpers
TMP="$(mktemp -d /tmp/portcullis-bench.XXXXXX)"
chmod 755 "$TMP"   # nginx workers may run as nobody

# N free loopback ports at once (all bound simultaneously, so they are distinct)
free_ports() {
    python3 - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
for s in socks: s.close()
PY
}

# sum of utime+stime (clock ticks) over the given PIDs; whole process incl. all threads
cpu_ticks() {
    local total=0 p st a
    for p in "$@"; do
        st="$(cat "/proc/$p/stat" 2>/dev/null)" || continue
        read -r -a a <<<"${st##*) }"   # drop "pid (comm) ": a[0] is state, a[11] utime, a[12] stime
        total=$((total + a[11] + a[12]))
    done
    echo "$total"
}

# curl options for https:// fronts: trust the throwaway CA (set by make_tls_cert)
CURL_TLS=()

# wait until METHOD URL answers EXPECT (http code), at most SECS seconds
wait_http() {
    local url="$1" expect="$2" secs="$3" pid="${4:-}" code i
    for ((i = 0; i < secs * 10; i++)); do
        if [[ -n "$pid" ]] && ! kill -0 "$pid" 2>/dev/null; then return 1; fi
        code="$(curl -s "${CURL_TLS[@]}" -o /dev/null -m 1 -w '%{http_code}' "$url" 2>/dev/null || true)"
        [[ "$code" == "$expect" ]] && return 0
        sleep 0.1
    done
    return 1
}

REQ_BODY='{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hi"}}}'
REPLY_BODY='{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"ok"}]}}'
if ((LIST)); then   # a tools/list page of 9 tools, each with a small input schema
    REQ_BODY='{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}'
    tools=""
    for t in echo get_weather set_weather read_file write_file delete_file list_users add slow_count; do
        tools+="${tools:+,}{\"name\":\"$t\",\"description\":\"The $t tool of the benchmark upstream.\",\"inputSchema\":{\"type\":\"object\",\"properties\":{\"text\":{\"type\":\"string\"}}}}"
    done
    REPLY_BODY="{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"tools\":[$tools],\"nextCursor\":\"page-2\"}}"
fi

post_once() {   # URL [HEADER...]: prints "BODY\nHTTPCODE"
    local url="$1" hargs=() h
    shift
    for h in "${EXTRA_HEADERS[@]}" "$@"; do hargs+=(-H "$h"); done
    curl -s "${CURL_TLS[@]}" --http1.1 -m 5 -X POST -H 'Content-Type: application/json' \
        -H 'Accept: application/json, text/event-stream' "${hargs[@]}" \
        --data-binary "$REQ_BODY" -w '\n%{http_code}' "$url" 2>/dev/null || true
}

# wrk request scripts: post.lua, and post-NAME.lua for a front that sends its own header
# (FRONT_HEADER[NAME], e.g. a credential); paced*.lua likewise when --rate is given
declare -A FRONT_HEADER=()
write_lua() {   # OUT [HEADER...]
    local out="$1" h
    shift
    {
        printf 'wrk.method = "POST"\n'
        printf "wrk.body = '%s'\n" "$REQ_BODY"
        printf 'wrk.headers["Content-Type"] = "application/json"\n'
        printf 'wrk.headers["Accept"] = "application/json, text/event-stream"\n'
        for h in "${EXTRA_HEADERS[@]}" "$@"; do
            printf 'wrk.headers["%s"] = "%s"\n' "${h%%:*}" "$(sed 's/^ *//' <<<"${h#*:}")"
        done
    } >"$out"
    # paced variant: each connection waits CONNS/RATE s between requests (closed loop, so the
    # rate reached is a bit below RATE; wrk times each request from its write, so no pacing in
    # latency)
    if ((RATE > 0)); then
        local paced="${out%/*}/paced${out##*/post}"
        cp "$out" "$paced"
        printf 'function delay() return %s end\n' \
            "$(awk -v c="$CONNS" -v r="$RATE" 'BEGIN{printf "%.3f", c*1000/r}')" >>"$paced"
    fi
}
write_lua "$TMP/post.lua"

# nginx instance NAME with the given http{} server body; sets NGX_PID[NAME]
declare -A NGX_PID=()
start_nginx() {
    local name="$1" server_conf="$2" dir="$TMP/$1"
    mkdir -p "$dir/logs"
    chmod 755 "$dir"
    cat >"$dir/nginx.conf" <<EOF
worker_processes 1;
daemon off;
master_process on;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $dir/body;
    proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fastcgi;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;
    keepalive_requests 100000000;
    keepalive_timeout 65s;
$server_conf
}
EOF
    "$NGINX_BIN" -t -q -p "$dir/" -c "$dir/nginx.conf" -e "$dir/error.log" \
        || { cat "$dir/error.log" >&2 || true; die "nginx config for $name rejected"; }
    "$NGINX_BIN" -p "$dir/" -c "$dir/nginx.conf" -e "$dir/error.log" >"$dir/stdout.log" 2>&1 &
    NGX_PID[$name]=$!
    STARTED_PIDS+=("$!")
}
nginx_pids() { local m="${NGX_PID[$1]}"; echo "$m" $(child_pids "$m"); }

# ---------------------------------------------------------------------------------------------
# ports and the upstream
read -r P_UP P_NGX P_PC P_PC_ADMIN P_NGX_TLS P_PC_TLS P_PC_TLS_ADMIN \
    P_HS P_HS_ADMIN P_ES P_ES_ADMIN P_AK P_AK_ADMIN P_SPARE1 P_SPARE2 \
    P_EMB P_EMB_ADMIN P_RED P_RED_ADMIN P_REDIS P_BASE P_BASE_ADMIN \
    <<<"$(free_ports 22)"
UPSTREAM_URL="http://127.0.0.1:$P_UP/mcp"

start_nginx upstream "
    server {
        listen 127.0.0.1:$P_UP;
        location = /mcp {
            default_type application/json;
            return 200 '$REPLY_BODY';
        }
    }"
wait_http "http://127.0.0.1:$P_UP/mcp" 200 10 "${NGX_PID[upstream]}" \
    || { cat "$TMP/upstream/error.log" >&2 || true; die "upstream nginx did not come up"; }

# ---------------------------------------------------------------------------------------------
# fronts
declare -A FRONT_URL=()
declare -A SKIPPED=()
declare -A DEAD=()
SKIP_REASON=""

front_direct_setup() { FRONT_URL[direct]="$UPSTREAM_URL"; }
front_direct_pids() { :; }   # no process of its own

# throwaway CA + ECDSA P-256 server certificate for 127.0.0.1/localhost, made once per run (on
# first use) in $TMP/tls; both TLS fronts serve it (leaf only), curl checks it against the CA
TLS_DIR=""
make_tls_cert() {
    [[ -n "$TLS_DIR" ]] && return 0
    local d="$TMP/tls"
    mkdir -p "$d"
    chmod 755 "$d"
    (
        # (set -e does not apply inside a function called from `if`, hence the && chain)
        cd "$d" &&
        openssl ecparam -name prime256v1 -genkey -noout -out ca-key.pem &&
        openssl req -x509 -new -key ca-key.pem -sha256 -days 30 -subj "/CN=portcullis bench CA" \
            -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" \
            -out ca.pem &&
        openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out server-key.pem &&
        openssl req -new -key server-key.pem -subj "/CN=localhost" -out server.csr &&
        printf '%s\n' "basicConstraints = critical, CA:FALSE" "keyUsage = critical, digitalSignature" \
            "extendedKeyUsage = serverAuth" "subjectAltName = DNS:localhost, IP:127.0.0.1" >server.ext &&
        openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -sha256 \
            -days 30 -extfile server.ext -out server.pem &&
        openssl verify -CAfile ca.pem server.pem
    ) >"$d/openssl.log" 2>&1 || { cat "$d/openssl.log" >&2; die "certificate generation with openssl failed"; }
    TLS_DIR="$d"
    CURL_TLS=(--cacert "$d/ca.pem")
}

# what a TLS front negotiates with an OpenSSL client on defaults (what wrk uses): for the report
declare -A TLS_NEGOTIATED=()
tls_probe() {   # NAME PORT
    local out proto cipher group
    out="$(timeout 10 openssl s_client -connect "127.0.0.1:$2" -servername localhost \
        -CAfile "$TLS_DIR/ca.pem" </dev/null 2>&1 || true)"
    proto="$(sed -n 's/^New, \(TLS[^,]*\), Cipher is \(.*\)$/\1/p' <<<"$out" | head -n1)"
    cipher="$(sed -n 's/^New, TLS[^,]*, Cipher is \(.*\)$/\1/p' <<<"$out" | head -n1)"
    group="$(sed -n 's/^Server Temp Key: \(.*\)$/\1/p' <<<"$out" | head -n1)"
    TLS_NEGOTIATED[$1]="${proto:-?} ${cipher:-?}, key exchange ${group:-?}"
}

nginx_proxy_conf() {   # LISTEN_DIRECTIVES...: one server proxying to a keep-alive upstream pool
    printf '
    upstream u {
        server 127.0.0.1:%s;
        keepalive 64;
        keepalive_requests 100000000;
    }
    server {
%s
        location / {
            proxy_pass http://u;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }' "$P_UP" "$1"
}

front_nginx_setup() {
    start_nginx proxy "$(nginx_proxy_conf "        listen 127.0.0.1:$P_NGX;")"
    FRONT_URL[nginx]="http://127.0.0.1:$P_NGX/mcp"
    wait_http "${FRONT_URL[nginx]}" 200 10 "${NGX_PID[proxy]}" \
        || { SKIP_REASON="nginx proxy did not come up (see $TMP/proxy/error.log)"; return 1; }
}
front_nginx_pids() { nginx_pids proxy; }

# nginx_tls: the nginx front plus TLS 1.2/1.3 termination (ssl_session_cache left at its default,
# none; ciphers and curves at nginx's defaults)
front_nginx_tls_setup() {
    make_tls_cert
    start_nginx proxy_tls "$(nginx_proxy_conf "        listen 127.0.0.1:$P_NGX_TLS ssl;
        ssl_certificate $TLS_DIR/server.pem;
        ssl_certificate_key $TLS_DIR/server-key.pem;
        ssl_protocols TLSv1.2 TLSv1.3;")"
    FRONT_URL[nginx_tls]="https://127.0.0.1:$P_NGX_TLS/mcp"
    wait_http "${FRONT_URL[nginx_tls]}" 200 10 "${NGX_PID[proxy_tls]}" \
        || { SKIP_REASON="nginx TLS proxy did not come up (see $TMP/proxy_tls/error.log)"; return 1; }
    tls_probe nginx_tls "$P_NGX_TLS"
}
front_nginx_tls_pids() { nginx_pids proxy_tls; }

# the portcullis binary, built once if missing (unless --no-build); sets PC_BIN or PC_BIN_ERR
PC_BIN=""
PC_BIN_ERR=""
resolve_portcullis() {
    [[ -n "$PC_BIN" ]] && return 0
    [[ -n "$PC_BIN_ERR" ]] && { SKIP_REASON="$PC_BIN_ERR"; return 1; }
    local bin="${PORTCULLIS:-$REPO_DIR/target/release/portcullis}"
    if [[ ! -x "$bin" ]]; then
        if [[ -n "$PORTCULLIS" ]]; then die "--portcullis $PORTCULLIS is not an executable file"; fi
        if ((NO_BUILD)); then
            PC_BIN_ERR="binary $bin missing (--no-build)"
        elif ! command -v cargo >/dev/null 2>&1; then
            PC_BIN_ERR="binary $bin missing and no cargo to build it"
        else
            log "building portcullis: cargo build --release (this can take minutes)"
            if ! (cd "$REPO_DIR" && timeout 1800 cargo build --release >&2); then
                PC_BIN_ERR="cargo build --release failed"
            elif [[ ! -x "$bin" ]]; then
                PC_BIN_ERR="binary $bin still missing after build"
            fi
        fi
        [[ -n "$PC_BIN_ERR" ]] && { SKIP_REASON="$PC_BIN_ERR"; return 1; }
    fi
    PC_BIN="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"
}

# portcullis instance NAME on PORT/ADMIN_PORT, with [server.tls] if TLS=1; with AUTH_TOML
# (an [auth...] section), the route has auth = "required" and that section is appended (and the
# config is checked with `portcullis check` first); sets PC_PID[NAME] and PC_CONF[NAME]
declare -A PC_PID=()
declare -A PC_CONF=()
start_portcullis() {   # NAME PORT ADMIN_PORT TLS [AUTH_TOML [POLICY_TOML]]
    local name="$1" port="$2" admin="$3" tls="$4" auth_toml="${5:-}" dir="$TMP/$1" scheme=http
    # Without a policy the route lets every call through (no rules, no list filtering).
    local policy_toml="${6:-default = \"allow\"}"
    local route_auth=none
    [[ -n "$auth_toml" ]] && route_auth=required
    resolve_portcullis || return 1
    mkdir -p "$dir"
    {
        printf '[server]\nlisten = "127.0.0.1:%s"\nworker_threads = %s\n\n' "$port" "$PC_THREADS"
        if ((tls)); then
            printf '[server.tls]\ncert = "%s"\nkey = "%s"\n\n' "$TLS_DIR/server.pem" "$TLS_DIR/server-key.pem"
            scheme=https
        fi
        cat <<EOF
[admin]
listen = "127.0.0.1:$admin"

[[upstreams]]
name = "bench"
route = "/mcp"
url = "$UPSTREAM_URL"
auth = "$route_auth"
$policy_toml

[audit]
sink = "file"
path = "$dir/audit.jsonl"
EOF
        [[ -n "$auth_toml" ]] && printf '\n%s\n' "$auth_toml"
    } >"$dir/gateway.toml"
    PC_CONF[$name]="$dir/gateway.toml"
    if [[ -n "$auth_toml" ]] && ! "$PC_BIN" check --config "$dir/gateway.toml" >"$dir/check.log" 2>&1; then
        cat "$dir/check.log" >&2
        SKIP_REASON="$name: portcullis check rejected its config"
        return 1
    fi
    local bin="${PC_BIN_OVERRIDE:-$PC_BIN}"
    (cd "$dir" && exec "$bin" run --config "$dir/gateway.toml") >"$dir/$name.log" 2>&1 &
    PC_PID[$name]=$!
    STARTED_PIDS+=("$!")
    FRONT_URL[$name]="$scheme://127.0.0.1:$port/mcp"
    if ! wait_http "http://127.0.0.1:$admin/readyz" 200 30 "${PC_PID[$name]}"; then
        log "$name log (last 20 lines):"; tail -n 20 "$dir/$name.log" >&2 || true
        SKIP_REASON="$name not ready on /readyz within 30 s"
        kill -TERM "${PC_PID[$name]}" 2>/dev/null || true
        return 1
    fi
}

front_portcullis_setup() { start_portcullis portcullis "$P_PC" "$P_PC_ADMIN" 0; }
front_portcullis_pids() { [[ -n "${PC_PID[portcullis]:-}" ]] && echo "${PC_PID[portcullis]}"; }

# --baseline: the portcullis front from another binary (same config, same worker threads).
front_pc_baseline_setup() { PC_BIN_OVERRIDE="$BASELINE" start_portcullis pc_baseline "$P_BASE" "$P_BASE_ADMIN" 0; }
front_pc_baseline_pids() { [[ -n "${PC_PID[pc_baseline]:-}" ]] && echo "${PC_PID[pc_baseline]}"; }

front_portcullis_tls_setup() {
    make_tls_cert
    start_portcullis portcullis_tls "$P_PC_TLS" "$P_PC_TLS_ADMIN" 1 || return 1
    tls_probe portcullis_tls "$P_PC_TLS"
}
front_portcullis_tls_pids() { [[ -n "${PC_PID[portcullis_tls]:-}" ]] && echo "${PC_PID[portcullis_tls]}"; }

# --auth fronts: the portcullis front with auth = "required" on the route. The credential goes in
# FRONT_HEADER[NAME] (sent by wrk on every request, via post-NAME.lua). Before measuring, one
# POST with it must get 200 and one without it 401; otherwise the front is skipped.
mint_token() {   # NAME: prints the access token minted with NAME's config
    "$PC_BIN" token issue --config "${PC_CONF[$1]}" --sub bench --role user --ttl 12h 2>"$TMP/$1/token.log" \
        | python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])' 2>>"$TMP/$1/token.log"
}

auth_front_check() {   # NAME HEADER: 200 with the credential, 401 without; else skip
    local f="$1" hdr="$2" resp code body
    FRONT_HEADER[$f]="$hdr"
    write_lua "$TMP/post-$f.lua" "$hdr"
    resp="$(post_once "${FRONT_URL[$f]}" "$hdr")"
    code="${resp##*$'\n'}"; body="${resp%$'\n'*}"
    if [[ "$code" != 200 ]]; then
        log "WARNING: $f answered HTTP $code with its credential (${hdr%%:*}): ${body:0:300}"
        SKIP_REASON="did not answer 200 with its credential (HTTP $code)"
    else
        resp="$(post_once "${FRONT_URL[$f]}")"
        code="${resp##*$'\n'}"; body="${resp%$'\n'*}"
        if [[ "$code" != 401 ]]; then
            log "WARNING: $f answered HTTP $code without a credential (want 401): ${body:0:300}"
            SKIP_REASON="did not answer 401 without a credential (HTTP $code)"
        fi
    fi
    if [[ -n "$SKIP_REASON" ]]; then
        kill -TERM "${PC_PID[$f]}" 2>/dev/null || true
        return 1
    fi
}

# An HS256 front: NAME PORT ADMIN [EXTRA_TOML [POLICY_TOML]] — one fresh `[auth.jwt]` key plus
# EXTRA_TOML (more tables) and the route's POLICY_TOML, then a minted token checked as for
# every authenticated front. pc_hs256, pc_authz, pc_embedded and pc_redis differ only there.
hs256_front() {
    resolve_portcullis || return 1
    local name="$1" secret tok
    secret="$("$PC_BIN" gen-secret 2>/dev/null)" && [[ ${#secret} -ge 64 ]] \
        || { SKIP_REASON="portcullis gen-secret failed"; return 1; }
    start_portcullis "$name" "$2" "$3" 0 "[auth.jwt]
[[auth.jwt.keys]]
kid = \"k1\"
alg = \"HS256\"
secret = \"$secret\"

${4:-}" ${5:+"$5"} || return 1
    tok="$(mint_token "$name")" && [[ -n "$tok" ]] \
        || { cat "$TMP/$name/token.log" >&2; SKIP_REASON="portcullis token issue failed"; return 1; }
    auth_front_check "$name" "Authorization: Bearer $tok"
}

front_pc_hs256_setup() { hs256_front pc_hs256 "$P_HS" "$P_HS_ADMIN"; }
front_pc_hs256_pids() { [[ -n "${PC_PID[pc_hs256]:-}" ]] && echo "${PC_PID[pc_hs256]}"; }

# pc_authz: pc_hs256 plus authorization: the seed's roles, 9 tools listed (echo allowed to the
# bench token's role `user`), default deny, so a tools/list reply is filtered to 3 of 9 tools.
front_pc_authz_setup() {
    hs256_front pc_authz "$P_SPARE1" "$P_SPARE2" "[roles]
guest = [\"weather:read\"]
user = [\"weather:read\", \"files:read\", \"bench:echo\"]
premium = [\"weather:read\", \"weather:write\", \"files:read\", \"files:write\"]
admin = [\"*\"]" "default = \"deny\"
[upstreams.tools]
echo = \"bench:echo\"
get_weather = \"weather:read\"
set_weather = \"weather:write\"
read_file = { permission = \"files:read\", args = { path = { pattern = \"/srv/data/[^/]+\" } } }
write_file = \"files:write\"
delete_file = \"files:delete\"
list_users = \"users:read\"
add = \"math:use\"
slow_count = \"math:use\"
[upstreams.resources]
\"weather://*\" = \"weather:read\"
[upstreams.prompts]
forecast_summary = \"weather:read\""
}
front_pc_authz_pids() { [[ -n "${PC_PID[pc_authz]:-}" ]] && echo "${PC_PID[pc_authz]}"; }

# --state fronts: pc_hs256 plus a role bucket the load never empties, in process or in Redis.
limited_front() {   # NAME PORT ADMIN STATE_TOML
    hs256_front "$1" "$2" "$3" "[roles]
user = [\"*\"]

[rate_limits.roles]
user = { capacity = 1000000000, refill_per_sec = 1000000000 }

$4"
}
front_pc_embedded_setup() { limited_front pc_embedded "$P_EMB" "$P_EMB_ADMIN" ""; }
front_pc_embedded_pids() { [[ -n "${PC_PID[pc_embedded]:-}" ]] && echo "${PC_PID[pc_embedded]}"; }
front_pc_redis_setup() {
    command -v redis-server >/dev/null || { SKIP_REASON="redis-server not installed"; return 1; }
    mkdir -p "$TMP/redis"
    redis-server --port "$P_REDIS" --bind 127.0.0.1 --save "" --appendonly no --dir "$TMP/redis" \
        >"$TMP/redis/redis.log" 2>&1 &
    REDIS_PID=$!
    STARTED_PIDS+=("$REDIS_PID")
    for _ in $(seq 50); do redis-cli -p "$P_REDIS" ping >/dev/null 2>&1 && break; sleep 0.1; done
    limited_front pc_redis "$P_RED" "$P_RED_ADMIN" "[state]
backend = \"redis\"
redis_url = \"redis://127.0.0.1:$P_REDIS\"
redis_timeout = \"200ms\""
}
# The Redis server's CPU counts as the front's: it is part of what the front costs.
front_pc_redis_pids() { [[ -n "${PC_PID[pc_redis]:-}" ]] && echo "${PC_PID[pc_redis]}" "${REDIS_PID:-}"; }

front_pc_es256_setup() {
    resolve_portcullis || return 1
    local d="$TMP/jwt-es256" tok
    mkdir -p "$d"
    (
        cd "$d" &&
        openssl ecparam -name prime256v1 -genkey -noout -out ec.pem &&
        openssl pkcs8 -topk8 -nocrypt -in ec.pem -out es-private.pem &&
        openssl ec -in ec.pem -pubout -out es-public.pem
    ) >"$d/openssl.log" 2>&1 || { cat "$d/openssl.log" >&2; SKIP_REASON="ES256 key generation with openssl failed"; return 1; }
    start_portcullis pc_es256 "$P_ES" "$P_ES_ADMIN" 0 "[auth.jwt]
[[auth.jwt.keys]]
kid = \"k1\"
alg = \"ES256\"
public_key = \"$d/es-public.pem\"
private_key = \"$d/es-private.pem\"" || return 1
    tok="$(mint_token pc_es256)" && [[ -n "$tok" ]] \
        || { cat "$TMP/pc_es256/token.log" >&2; SKIP_REASON="portcullis token issue failed"; return 1; }
    auth_front_check pc_es256 "Authorization: Bearer $tok"
}
front_pc_es256_pids() { [[ -n "${PC_PID[pc_es256]:-}" ]] && echo "${PC_PID[pc_es256]}"; }

front_pc_apikey_setup() {
    resolve_portcullis || return 1
    local out key hash
    out="$("$PC_BIN" hash-key 2>/dev/null)" || true
    key="$(awk '$1 == "key:" {print $2}' <<<"$out")"
    hash="$(awk '$1 == "hash:" {print $2}' <<<"$out")"
    [[ "$key" == mcp_* && "$hash" == sha256:* ]] \
        || { SKIP_REASON="portcullis hash-key printed no key/hash"; return 1; }
    start_portcullis pc_apikey "$P_AK" "$P_AK_ADMIN" 0 "[auth.api_keys]
[[auth.api_keys.static]]
id = \"bench\"
hash = \"$hash\"
subject = \"svc:bench\"" || return 1
    auth_front_check pc_apikey "X-API-Key: $key"
}
front_pc_apikey_pids() { [[ -n "${PC_PID[pc_apikey]:-}" ]] && echo "${PC_PID[pc_apikey]}"; }

ACTIVE=()
for f in $FRONTS; do
    declare -F "front_${f}_setup" >/dev/null || die "unknown front '$f' (have: direct nginx portcullis nginx_tls portcullis_tls $AUTH_FRONTS)"
    SKIP_REASON=""
    if "front_${f}_setup"; then
        # the reply must be the upstream's, as a plain 200
        resp="$(post_once "${FRONT_URL[$f]}" ${FRONT_HEADER[$f]:+"${FRONT_HEADER[$f]}"})"
        code="${resp##*$'\n'}"; body="${resp%$'\n'*}"
        if [[ "$code" != 200 ]]; then
            log "WARNING: $f answered HTTP $code to the bench request: ${body:0:300}"
        elif [[ "$f" == pc_authz ]] && ((LIST)); then
            [[ "$body" == *'"name":"echo"'* && "$body" != *'"name":"add"'* ]] \
                || log "WARNING: pc_authz did not filter the list: ${body:0:300}"
        elif [[ "$body" != "$REPLY_BODY" ]]; then
            log "WARNING: $f reply differs from the upstream's: ${body:0:300}"
        fi
        ACTIVE+=("$f")
    else
        SKIPPED[$f]="$SKIP_REASON"
        log "skipping $f: $SKIP_REASON"
    fi
done
((${#ACTIVE[@]})) || die "no front to measure"

# ---------------------------------------------------------------------------------------------
# measurement
RUNS="$TMP/runs.tsv"
RUNS_PACED="$TMP/runs-paced.tsv"
: >"$RUNS"
: >"$RUNS_PACED"
ROUND_LINES=()

run_wrk() {   # URL SECONDS OUTFILE [LUA]
    timeout -k 5 $(($2 + 30)) wrk -t"$THREADS" -c"$CONNS" -d"$2"s --latency -s "${4:-$TMP/post.lua}" "$1" >"$3" 2>&1 &
    WRK_PID=$!
    local rc=0
    wait "$WRK_PID" || rc=$?
    WRK_PID=""
    return "$rc"
}

measure() {   # ROUND FRONT [paced]
    local round="$1" f="$2" mode="${3:-}" out="$TMP/wrk-r$1-$2${3:+-$3}.txt"
    local lua="$TMP/post.lua" runs="$RUNS" tag=""
    [[ -n "${FRONT_HEADER[$f]:-}" ]] && lua="$TMP/post-$f.lua"
    if [[ "$mode" == paced ]]; then lua="${lua%/*}/paced${lua##*/post}"; runs="$RUNS_PACED"; tag=" @${RATE}/s"; fi
    local fpids upids f0 f1 u0 u1
    fpids="$("front_${f}_pids" || true)"
    upids="$(nginx_pids upstream)"
    f0="$(cpu_ticks $fpids)"; u0="$(cpu_ticks $upids)"
    run_wrk "${FRONT_URL[$f]}" "$DURATION" "$out" "$lua" || { cat "$out" >&2; die "wrk failed for $f"; }
    f1="$(cpu_ticks $fpids)"; u1="$(cpu_ticks $upids)"
    # a front that died during the run is reported and dropped from later rounds
    local p
    for p in $fpids; do
        if ! kill -0 "$p" 2>/dev/null; then
            SKIPPED[$f]="died during round $round (its measurements are dropped)"
            DEAD[$f]=1
            log "front $f (pid $p) died during round $round; wrk said:"; tail -n 15 "$out" >&2
            [[ -f "$TMP/$f/$f.log" ]] && { log "$f log tail:"; tail -n 20 "$TMP/$f/$f.log" >&2; }
            return 0
        fi
    done
    local rps reqs p50 p99 non2xx sockerr
    read -r rps reqs p50 p99 non2xx sockerr <<<"$(python3 "$STATS" parse "$out")"
    local fcpu="-" ucpu="-"
    if ((reqs > 0)); then
        [[ -n "${fpids// /}" ]] && fcpu="$(awk -v t=$((f1 - f0)) -v hz="$CLK_TCK" -v n="$reqs" 'BEGIN{printf "%.1f", t/hz*1e6/n}')"
        ucpu="$(awk -v t=$((u1 - u0)) -v hz="$CLK_TCK" -v n="$reqs" 'BEGIN{printf "%.1f", t/hz*1e6/n}')"
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
        "$round" "$f" "$rps" "$reqs" "$p50" "$p99" "$fcpu" "$ucpu" "$non2xx" "$sockerr" >>"$runs"
    local line
    line="$(printf 'round %d/%d  %-14s %9.0f req/s  p50 %6s µs  p99 %6s µs  front CPU %6s µs/req  upstream CPU %5s µs/req  errors %s' \
        "$round" "$ROUNDS" "$f$tag" "$rps" "$p50" "$p99" "$fcpu" "$ucpu" "$((non2xx + sockerr))")"
    ROUND_LINES+=("$line")
    printf '%s\n' "$line"
}

LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"
START_TS="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
est=$(( (ROUNDS * DURATION * (RATE > 0 ? 2 : 1) + WARMUP) * ${#ACTIVE[@]} ))
log "fronts: ${ACTIVE[*]}; $ROUNDS rounds x ${DURATION}s; wrk -t$THREADS -c$CONNS; ~${est}s of load"

if ((WARMUP > 0)); then
    for f in "${ACTIVE[@]}"; do
        lua="$TMP/post.lua"
        [[ -n "${FRONT_HEADER[$f]:-}" ]] && lua="$TMP/post-$f.lua"
        run_wrk "${FRONT_URL[$f]}" "$WARMUP" "$TMP/wrk-warmup-$f.txt" "$lua" || die "warm-up wrk failed for $f"
    done
fi
# Even rounds run the fronts in reverse order, so no front always follows the same neighbour
# (the one after `direct` inherits its heat; with two close fronts, position alone shows up).
for ((r = 1; r <= ROUNDS; r++)); do
    order=("${ACTIVE[@]}")
    if ((r % 2 == 0)); then
        order=()
        for ((i = ${#ACTIVE[@]} - 1; i >= 0; i--)); do order+=("${ACTIVE[$i]}"); done
    fi
    for f in "${order[@]}"; do
        [[ -n "${DEAD[$f]:-}" ]] || measure "$r" "$f"
    done
    if ((RATE > 0)); then
        for f in "${order[@]}"; do
            [[ -n "${DEAD[$f]:-}" ]] || measure "$r" "$f" paced
        done
    fi
done

# ---------------------------------------------------------------------------------------------
# report
SUMMARY="$(python3 "$STATS" summary "$RUNS")"
SUMMARY_PACED=""
if ((RATE > 0)) && [[ -s "$RUNS_PACED" ]]; then
    SUMMARY_PACED="$(python3 "$STATS" summary "$RUNS_PACED")"
fi
# authenticated vs public route, per round (interleaved), when the fronts are there
AUTH_RATIOS="$(python3 - "$RUNS" <<'PY'
import statistics, sys
rps = {}
for line in open(sys.argv[1], encoding="utf-8"):
    p = line.rstrip("\n").split("\t")
    if len(p) >= 3:
        rps[(p[1], int(p[0]))] = float(p[2])
pairs = [(a, "portcullis") for a in ("pc_hs256", "pc_es256", "pc_apikey")] + [("pc_es256", "pc_hs256"), ("portcullis", "pc_baseline")]
rows = []
for a, b in pairs:
    rs = sorted(r for (f, r) in rps if f == a and (b, r) in rps and rps[(b, r)] > 0)
    if not rs:
        continue
    q = [rps[(a, r)] / rps[(b, r)] for r in rs]
    rows.append("| %s ÷ %s | %d | %.3f | %.3f–%.3f | %s |" % (
        a, b, len(q), statistics.median(q), min(q), max(q), " ".join("%.3f" % x for x in q)))
if rows:
    print("| req/s ratio | rounds | median | min–max | per round |")
    print("|---|---:|---:|---:|---|")
    print("\n".join(rows))
PY
)"
NGINX_VER="$("$NGINX_BIN" -v 2>&1 | sed 's/^nginx version: //')"
WRK_VER="$(wrk -v 2>&1 | head -n1 | awk '{print $2}' || true)"
PC_DESC="skipped"
if [[ -n "$PC_BIN" ]]; then
    PC_DESC="$PC_BIN (worker_threads = $PC_THREADS)"
    rev="$(git -C "$REPO_DIR" rev-parse --short HEAD 2>/dev/null || true)"
    [[ -n "$rev" ]] && PC_DESC+=" (repo HEAD $rev$(git -C "$REPO_DIR" diff --quiet HEAD 2>/dev/null || echo ', dirty'))"
fi

REPORT="$TMP/report.md"
{
    echo "# Proxy benchmark, $START_TS"
    echo
    echo "- machine: $(nproc) CPUs ($(uname -r)), load average before: $LOAD_BEFORE"
    echo "- load: wrk $WRK_VER, -t$THREADS -c$CONNS, ${DURATION}s per front per round, $ROUNDS interleaved rounds, ${WARMUP}s warm-up per front"
    echo "- request: POST /mcp $(if ((LIST)); then echo tools/list; else echo tools/call; fi) (${#REQ_BODY} B), reply ${#REPLY_BODY} B application/json"
    echo "- upstream: $NGINX_VER, 1 worker, \`return 200\`"
    [[ " ${ACTIVE[*]} " == *" nginx "* ]] && echo "- nginx front: $NGINX_VER, 1 worker, keep-alive upstream pool (64)"
    [[ " ${ACTIVE[*]} " == *" nginx_tls "* ]] && echo "- nginx_tls front: the nginx front plus \`listen ... ssl\`, TLS 1.2/1.3, default ciphers and ssl_session_cache"
    [[ " ${ACTIVE[*]} " == *" portcullis_tls "* ]] && echo "- portcullis_tls front: the portcullis front plus \`[server.tls]\`"
    [[ " ${ACTIVE[*]} " == *" pc_hs256 "* ]] && echo "- pc_hs256 front: the portcullis front with \`auth = \"required\"\` and one \`[auth.jwt]\` HS256 key; wrk sends \`Authorization: Bearer <access token from portcullis token issue>\`"
    [[ " ${ACTIVE[*]} " == *" pc_es256 "* ]] && echo "- pc_es256 front: the same with an ES256 (P-256) key pair made with openssl (the verified-token cache makes repeats of one token cheap)"
    [[ " ${ACTIVE[*]} " == *" pc_apikey "* ]] && echo "- pc_apikey front: the portcullis front with \`auth = \"required\"\` and one \`[[auth.api_keys.static]]\` key (sha256); wrk sends \`X-API-Key\`"
    if [[ -n "$TLS_DIR" ]]; then
        echo "- TLS: throwaway ECDSA P-256 certificate (leaf only, own CA), wrk keeps its $CONNS connections alive ($CONNS handshakes per run)"
        for f in "${ACTIVE[@]}"; do
            [[ -n "${TLS_NEGOTIATED[$f]:-}" ]] && echo "  - $f negotiates with OpenSSL $(openssl version | awk '{print $2}') defaults (as wrk): ${TLS_NEGOTIATED[$f]}"
        done
    fi
    echo "- portcullis: $PC_DESC"
    for f in "${!SKIPPED[@]}"; do echo "- **skipped $f**: ${SKIPPED[$f]}"; done
    echo
    echo "## Rounds"
    echo
    echo '```'
    printf '%s\n' "${ROUND_LINES[@]}"
    echo '```'
    echo
    echo "## Summary (medians over rounds)"
    echo
    echo "$SUMMARY"
    echo
    if [[ -n "$AUTH_RATIOS" ]]; then
        echo "## Front against front (req/s ratios within each round)"
        echo
        echo "$AUTH_RATIOS"
        echo
    fi
    if [[ -n "$SUMMARY_PACED" ]]; then
        echo "## Paced at about $RATE req/s (latency below saturation; medians over rounds)"
        echo
        echo "$SUMMARY_PACED"
        echo
    fi
    echo "Ratio = front req/s ÷ direct req/s in the same round. CPU = utime+stime of the front's"
    echo "processes (nginx: master + worker) over the run ÷ requests. Only ratios and CPU/request"
    echo "within one run are meaningful: wrk, upstream and front share $(nproc) cores."
} >"$REPORT"

echo
echo "## Summary (medians over $ROUNDS rounds)"
echo
echo "$SUMMARY"
if [[ -n "$AUTH_RATIOS" ]]; then
    echo
    echo "## Front against front (req/s ratios within each round)"
    echo
    echo "$AUTH_RATIOS"
fi
if [[ -n "$SUMMARY_PACED" ]]; then
    echo
    echo "## Paced at about $RATE req/s"
    echo
    echo "$SUMMARY_PACED"
fi
for f in "${!SKIPPED[@]}"; do echo; echo "skipped $f: ${SKIPPED[$f]}"; done
if ((SAVE)); then
    mkdir -p "$BENCH_DIR/results"
    dest="$BENCH_DIR/results/proxy-$(date +%Y-%m-%d-%H%M%S).md"
    cp "$REPORT" "$dest"
    echo
    echo "written: ${dest#"$REPO_DIR"/}"
fi
