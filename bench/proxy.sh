#!/usr/bin/env bash
# Side-by-side proxy benchmark: direct vs nginx vs HAProxy vs portcullis (and, with --tls, both
# again terminating TLS, with --auth portcullis on an authenticated route, with --table the
# project's comparison table), all on loopback, against one nginx upstream that returns a fixed
# JSON-RPC reply (or, with --sse, the same reply as one SSE event). See bench/README.md.
#
#   bench/proxy.sh [--rounds N] [--duration S] [--portcullis PATH] [--fronts LIST] [--tls] [--auth] [--no-build]
#   bench/proxy.sh --table [--rounds N]          # the table: nginx, HAProxy, portcullis, full pipeline
#   bench/proxy.sh --sse --fronts direct,nginx,haproxy,portcullis
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
SSE=0
TABLE=0
TSV_OUT=""
ROUNDS_SET=0
RATE_SET=0
FRONTS_SET=0
# Fronts, measured interleaved in this order in every round. Each NAME needs functions
# front_NAME_setup (start it, set FRONT_URL[NAME]; return non-zero with SKIP_REASON set to skip)
# and front_NAME_pids (PIDs whose CPU time counts as the front's). --tls adds the TLS-terminating
# variants nginx_tls and portcullis_tls (https:// URLs; wrk keeps its connections alive, so they
# measure TLS record cost, not handshakes). --auth adds pc_hs256, pc_es256 and pc_apikey: the
# portcullis front with `auth = "required"` and an HS256 JWT, an ES256 JWT or an API key sent
# by wrk on every request. --baseline adds a twin NAME@base of every portcullis front NAME: the
# same setup served by the --baseline binary (see front_call).
FRONTS="direct nginx portcullis"
# the project's table (--table): peers and the full pipeline, paced latency, >= 3 rounds
TABLE_FRONTS="direct nginx haproxy haproxy_jwt portcullis pc_full pc_full_es256"
TLS=0
AUTH=0
AUTHZ=0
LIST=0
STATE=0
EXTRA_HEADERS=()

usage() {
    cat <<'EOF'
usage: bench/proxy.sh [options]
  --rounds N         interleaved rounds (default 3, 5 with --table; use 5 for decisions)
  --duration S       seconds of load per front per round (default 5)
  --warmup S         seconds of unrecorded load per front before round 1 (default 1, 0 = none)
  --portcullis PATH  portcullis binary (default: target/release/portcullis, built if missing)
  --pc-threads N     portcullis worker threads (default 1: the core budget of nginx's one worker; 0 = one per core)
  --no-build         never run cargo; skip portcullis if the binary is missing
  --baseline PATH    also measure NAME@base for every portcullis front NAME in the list (portcullis,
                     pc_*; not pc_redis): the same setup served by the binary at PATH (an older
                     build), interleaved, and report NAME ÷ NAME@base per round (no portcullis front
                     in the list: adds portcullis and portcullis@base; pc_baseline = portcullis@base)
  --table            the project's table: fronts direct,nginx,haproxy,haproxy_jwt,portcullis,
                     pc_full,pc_full_es256 (unless --fronts), --rate 2000 (unless --rate), 5 rounds
                     (unless --rounds; fewer than 3 is a test run, said so), plus "Ratios to nginx"
  --sse              the upstream answers with Content-Type text/event-stream and one SSE event
                     (event: message, data: <the same JSON-RPC reply>); nginx fronts get
                     proxy_buffering off
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
                     also nginx_tls,portcullis_tls; with --auth also pc_hs256,pc_es256,pc_apikey).
                     Also: haproxy, haproxy_jwt (HAProxy 2.6 plain / with HS256 JWT, stick-table
                     limit and tool check), pc_full, pc_full_es256 (JWT + IP/role/tool limits +
                     tool policy), pc_authz, pc_embedded, pc_redis, NAME@base (with --baseline)
  --connections N    wrk connections (default 32)
  --threads N        wrk threads (default 2)
  --header 'K: V'    extra request header (repeatable)
  --rate R           also measure latency at about R req/s (paced wrk, same duration) per front
                     per round, after the saturating runs; off by default (doubles the time)
  --tsv PATH         also write the saturating runs as TSV to PATH (one line per round x front:
                     round front rps requests p50 p99 front_cpu upstream_cpu non2xx sockerr)
  --no-save          do not write bench/results/proxy-<date>.md
  --keep-tmp         keep the temp dir (configs, logs, raw wrk output)
EOF
}

is_uint() { [[ "$1" =~ ^[0-9]+$ ]]; }
die() { printf 'proxy.sh: error: %s\n' "$*" >&2; exit 1; }
log() { printf '[proxy.sh] %s\n' "$*" >&2; }

while (($#)); do
    case "$1" in
        --rounds) ROUNDS="${2:?}"; ROUNDS_SET=1; shift 2 ;;
        --duration) DURATION="${2:?}"; shift 2 ;;
        --warmup) WARMUP="${2:?}"; shift 2 ;;
        --threads) THREADS="${2:?}"; shift 2 ;;
        --connections) CONNS="${2:?}"; shift 2 ;;
        --portcullis) PORTCULLIS="${2:?}"; shift 2 ;;
        --baseline) BASELINE="${2:?}"; shift 2 ;;
        --pc-threads) PC_THREADS="${2:?}"; shift 2 ;;
        --no-build) NO_BUILD=1; shift ;;
        --fronts) FRONTS="${2:?}"; FRONTS="${FRONTS//,/ }"; FRONTS_SET=1; shift 2 ;;
        --tls) TLS=1; shift ;;
        --auth) AUTH=1; shift ;;
        --authz) AUTHZ=1; shift ;;
        --list) LIST=1; shift ;;
        --state) STATE=1; shift ;;
        --header) EXTRA_HEADERS+=("${2:?}"); shift 2 ;;
        --rate) RATE="${2:?}"; RATE_SET=1; shift 2 ;;
        --sse) SSE=1; shift ;;
        --table) TABLE=1; shift ;;
        --tsv) TSV_OUT="${2:?}"; shift 2 ;;
        --no-save) SAVE=0; shift ;;
        --keep-tmp) KEEP_TMP=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown option: $1" ;;
    esac
done
if ((TABLE)); then  # the table run: its fronts, paced latency, enough rounds (unless given)
    ((FRONTS_SET)) || FRONTS="$TABLE_FRONTS"
    ((RATE_SET)) || RATE=2000
    ((ROUNDS_SET)) || ROUNDS=5
fi
for v in ROUNDS DURATION WARMUP THREADS CONNS RATE; do
    is_uint "${!v}" || die "$v wants a non-negative integer, got '${!v}'"
done
((ROUNDS >= 1 && DURATION >= 1 && THREADS >= 1 && CONNS >= THREADS)) || die "bad load parameters"
if ((TABLE && ROUNDS < 3)); then
    printf '[proxy.sh] %s\n' "--table with $ROUNDS round(s): a test run, not the table (that needs >= 3 rounds)" >&2
fi
if ((TLS)); then   # add the TLS fronts (to --fronts too, unless listed there already)
    for f in nginx_tls portcullis_tls; do
        [[ " $FRONTS " == *" $f "* ]] || FRONTS+=" $f"
    done
fi
AUTH_FRONTS="pc_hs256 pc_es256 pc_apikey pc_authz pc_embedded pc_redis pc_full pc_full_es256"
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
is_pc_front() { [[ "$1" == portcullis || "$1" == portcullis_tls || "$1" == pc_* ]]; }
# --baseline: every portcullis front NAME gets a twin NAME@base right after it (the same setup,
# served by the --baseline binary), so the two always run side by side in each round
if [[ -n "$BASELINE" ]]; then
    [[ -x "$BASELINE" ]] || die "--baseline $BASELINE is not an executable file"
    BASELINE="$(cd "$(dirname "$BASELINE")" && pwd)/$(basename "$BASELINE")"
    fr=""
    for f in $FRONTS; do [[ "$f" == pc_baseline ]] && f="portcullis@base"; fr+=" $f"; done
    have_pc=0
    for f in $fr; do is_pc_front "${f%@base}" && have_pc=1; done
    ((have_pc)) || fr+=" portcullis"
    FRONTS=""
    for f in $fr; do
        [[ " $FRONTS " == *" $f "* ]] || FRONTS+=" $f"
        if [[ "$f" != *@base && "$f" != pc_redis ]] && is_pc_front "$f" && [[ " $fr $FRONTS " != *" $f@base "* ]]; then
            FRONTS+=" $f@base"
        fi
    done
    FRONTS="${FRONTS# }"
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

# shellcheck source=bench/lib.sh
source "$BENCH_DIR/lib.sh"   # free_ports, child_pids

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

# HAProxy only when a haproxy front is asked for
NEED_HAPROXY=0
for f in $FRONTS; do [[ "$f" == haproxy* ]] && NEED_HAPROXY=1; done

install_tools() {
    local missing=() pkgs=()
    command -v wrk >/dev/null 2>&1 || missing+=(wrk)
    command -v nginx >/dev/null 2>&1 || [[ -x /usr/sbin/nginx ]] || missing+=(nginx)
    if ((NEED_HAPROXY)); then
        command -v haproxy >/dev/null 2>&1 || [[ -x /usr/sbin/haproxy ]] || missing+=(haproxy)
    fi
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
    # Keep the distro's nginx/haproxy services from starting (and taking ports) during install.
    local services=()
    [[ -n "$nginx_pkg" ]] && services+=(nginx)
    [[ " ${missing[*]} " == *" haproxy "* ]] && services+=(haproxy)
    if ((${#services[@]})) && [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
        $SUDO chmod 755 /usr/sbin/policy-rc.d
        POLICY_RC_CREATED=1
    fi
    $SUDO env DEBIAN_FRONTEND=noninteractive timeout 900 \
        apt-get install -y -q --no-install-recommends "${pkgs[@]}" >&2 || die "apt-get install failed"
    if ((POLICY_RC_CREATED)); then $SUDO rm -f /usr/sbin/policy-rc.d; POLICY_RC_CREATED=0; fi
    if ((${#services[@]})) && [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null 2>&1; then
        $SUDO systemctl disable --now "${services[@]}" >/dev/null 2>&1 || true
    fi
}
install_tools
NGINX_BIN="$(command -v nginx || echo /usr/sbin/nginx)"
HAPROXY_BIN="$(command -v haproxy || echo /usr/sbin/haproxy)"
CLK_TCK="$(getconf CLK_TCK)"

# ---------------------------------------------------------------------------------------------
# helpers
TMP="$(mktemp -d /tmp/portcullis-bench.XXXXXX)"
chmod 755 "$TMP"   # nginx workers may run as nobody


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
# What the upstream sends (and every front must pass on unchanged): the JSON-RPC reply as is, or
# with --sse the same reply as one SSE event, the way a Streamable HTTP server may answer a POST.
UP_BODY="$REPLY_BODY"
UP_TYPE="application/json"
if ((SSE)); then
    UP_BODY="event: message"$'\n'"data: $REPLY_BODY"$'\n\n'
    UP_TYPE="text/event-stream"
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
    P_EMB P_EMB_ADMIN P_RED P_RED_ADMIN P_REDIS P_HA P_HAJ \
    P_FULL P_FULL_ADMIN P_FES P_FES_ADMIN \
    <<<"$(free_ports 26)"
UPSTREAM_URL="http://127.0.0.1:$P_UP/mcp"

# nginx reads \n in a quoted string as a newline
UP_BODY_NGX="${UP_BODY//$'\n'/\\n}"
start_nginx upstream "
    server {
        listen 127.0.0.1:$P_UP;
        location = /mcp {
            default_type $UP_TYPE;
            return 200 '$UP_BODY_NGX';
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

# With --sse, proxy_buffering off: what an SSE deployment of nginx configures (each event is
# passed on as it arrives instead of being collected in nginx's buffers).
NGX_SSE_CONF=""
((SSE)) && NGX_SSE_CONF="
            proxy_buffering off;"
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
            proxy_set_header Connection "";%s
        }
    }' "$P_UP" "$1" "$NGX_SSE_CONF"
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

# HAProxy instance NAME: the shared global/defaults plus SECTIONS (frontend/backend), one
# thread, no log lines (nothing is logged), HTTP keep-alive on both sides and server
# connections reused across client connections (http-reuse always). Run in the foreground (-db:
# no daemon, no master), so its PID is the one process doing the work; sets HA_PID[NAME].
declare -A HA_PID=()
start_haproxy() {   # NAME SECTIONS
    local name="$1" dir="$TMP/$1"
    mkdir -p "$dir"
    cat >"$dir/haproxy.cfg" <<EOF
global
    nbthread 1
    maxconn 4096

defaults
    mode http
    option http-keep-alive
    http-reuse always
    timeout connect 5s
    timeout client 65s
    timeout server 65s
    timeout http-keep-alive 65s
$2
EOF
    "$HAPROXY_BIN" -c -q -f "$dir/haproxy.cfg" >"$dir/check.log" 2>&1 \
        || { cat "$dir/check.log" >&2; die "haproxy config for $name rejected"; }
    "$HAPROXY_BIN" -db -f "$dir/haproxy.cfg" >"$dir/haproxy.log" 2>&1 &
    HA_PID[$name]=$!
    STARTED_PIDS+=("$!")
}
ha_backend() {   # the upstream, as backend `be`
    printf '
backend be
    server up 127.0.0.1:%s
' "$P_UP"
}

front_haproxy_setup() {
    start_haproxy haproxy "
frontend fe
    bind 127.0.0.1:$P_HA
    default_backend be
$(ha_backend)"
    FRONT_URL[haproxy]="http://127.0.0.1:$P_HA/mcp"
    wait_http "${FRONT_URL[haproxy]}" 200 10 "${HA_PID[haproxy]}" \
        || { SKIP_REASON="haproxy did not come up (see $TMP/haproxy/haproxy.log)"; return 1; }
}
front_haproxy_pids() { [[ -n "${HA_PID[haproxy]:-}" ]] && echo "${HA_PID[haproxy]}"; }

# haproxy_jwt: "the gateway's job, general-purpose", in HAProxy's own terms (2.5+ JWT converters):
# a Bearer JWT verified with jwt_verify (HS256, the secret's bytes as written in the portcullis
# config, which are the bytes portcullis signs with: `secret.as_bytes()`, no base64 decoding),
# header alg/kid/typ and claims exp/iss/aud/type checked, a stick-table rate per `sub` that the
# load never reaches, and a tool check from the buffered body: a tools/call must name "echo"
# and the token's first role must be `user`.
# 401 for any credential problem, 403 for the tool, 429 for the rate. The token comes from
# `portcullis token issue` with a config holding the same secret (mint.toml, listen = this
# front's address, so `aud` is this front's URL).
front_haproxy_jwt_setup() {
    resolve_portcullis || return 1
    local d="$TMP/haproxy_jwt" secret tok aud="http://127.0.0.1:$P_HAJ"
    mkdir -p "$d"
    secret="$("$PC_BIN" gen-secret 2>/dev/null)" && [[ "$secret" =~ ^[A-Za-z0-9_-]{64,}$ ]] \
        || { SKIP_REASON="portcullis gen-secret failed"; return 1; }
    cat >"$d/mint.toml" <<EOF
[server]
listen = "127.0.0.1:$P_HAJ"

[[upstreams]]
name = "bench"
route = "/mcp"
url = "$UPSTREAM_URL"
auth = "required"

[auth.jwt]
[[auth.jwt.keys]]
kid = "k1"
alg = "HS256"
secret = "$secret"
EOF
    PC_CONF[haproxy_jwt]="$d/mint.toml"
    tok="$(mint_token haproxy_jwt)" && [[ -n "$tok" ]] \
        || { cat "$d/token.log" >&2; SKIP_REASON="portcullis token issue failed"; return 1; }
    # ('$.x' in single quotes: HAProxy expands environment variables in double quotes only)
    start_haproxy haproxy_jwt "
backend st_sub
    stick-table type string len 64 size 100k expire 60s store http_req_rate(10s)

frontend fe
    bind 127.0.0.1:$P_HAJ
    option http-buffer-request
    # authentication: a Bearer JWT, HS256, kid k1, an access token (typ at+jwt). Header and
    # payload are decoded once each and read with json_query: about 5 % less CPU here than one
    # jwt_header_query('\$.x') / jwt_payload_query('\$.x') per field (each decodes again), and
    # HAProxy 2.6.12's path-less jwt_*_query returns nothing. jwt_verify checks the signature
    # over the whole token.
    http-request set-var(txn.bearer) http_auth_bearer
    http-request deny deny_status 401 unless { var(txn.bearer) -m found }
    http-request set-var(txn.jwt_h) var(txn.bearer),field(1,.),ub64dec
    http-request set-var(txn.alg) var(txn.jwt_h),json_query('\$.alg')
    http-request deny deny_status 401 unless { var(txn.alg) -m str HS256 }
    http-request deny deny_status 401 unless { var(txn.jwt_h),json_query('\$.kid') -m str k1 }
    http-request deny deny_status 401 unless { var(txn.jwt_h),json_query('\$.typ') -m str at+jwt }
    http-request deny deny_status 401 unless { var(txn.bearer),jwt_verify(txn.alg,\"$secret\") -m int 1 }
    # claims: not expired, this issuer and audience, type access
    http-request set-var(txn.jwt_p) var(txn.bearer),field(2,.),ub64dec
    http-request set-var(txn.now) date
    http-request deny deny_status 401 unless { var(txn.jwt_p),json_query('\$.exp','int'),sub(txn.now) gt 0 }
    http-request deny deny_status 401 unless { var(txn.jwt_p),json_query('\$.iss') -m str portcullis }
    http-request deny deny_status 401 unless { var(txn.jwt_p),json_query('\$.aud') -m str $aud }
    http-request deny deny_status 401 unless { var(txn.jwt_p),json_query('\$.type') -m str access }
    # rate limit per subject (a rate the load never reaches)
    http-request set-var(txn.sub) var(txn.jwt_p),json_query('\$.sub')
    http-request deny deny_status 401 unless { var(txn.sub) -m len gt 0 }
    http-request track-sc0 var(txn.sub) table st_sub
    http-request deny deny_status 429 if { sc_http_req_rate(0) gt 1000000000 }
    # authorization from the body: role user, and a tools/call must name echo
    http-request deny deny_status 403 unless { var(txn.jwt_p),json_query('\$.roles[0]') -m str user }
    http-request deny deny_status 403 if { req.body -m sub '\"method\":\"tools/call\"' } !{ req.body -m sub '\"name\":\"echo\"' }
    default_backend be
$(ha_backend)"
    FRONT_URL[haproxy_jwt]="$aud/mcp"
    wait_http "${FRONT_URL[haproxy_jwt]}" 401 10 "${HA_PID[haproxy_jwt]}" \
        || { SKIP_REASON="haproxy_jwt did not come up (see $d/haproxy.log)"; return 1; }
    auth_front_check haproxy_jwt "Authorization: Bearer $tok" || return 1
    # it must refuse what it claims to check: a wrong key, an expired token, alg none, a
    # tampered payload (401), and a tools/call of another tool (403)
    local bad code want kind checked=0
    while read -r kind want bad; do
        checked=$((checked + 1))
        if [[ "$kind" == other_tool ]]; then
            code="$(curl -s -o /dev/null -m 5 -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
                -H "Authorization: Bearer $tok" \
                --data-binary '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add","arguments":{}}}' \
                "${FRONT_URL[haproxy_jwt]}" 2>/dev/null || true)"
        else
            code="$(curl -s -o /dev/null -m 5 -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
                -H "Authorization: Bearer $bad" --data-binary "$REQ_BODY" "${FRONT_URL[haproxy_jwt]}" 2>/dev/null || true)"
        fi
        if [[ "$code" != "$want" ]]; then
            SKIP_REASON="haproxy_jwt answered HTTP $code to $kind (want $want): its checks are not what they claim"
            kill -TERM "${HA_PID[haproxy_jwt]}" 2>/dev/null || true
            return 1
        fi
    done < <(python3 - "$secret" "$tok" <<'PY'
import base64, hashlib, hmac, json, sys, time
secret, good = sys.argv[1].encode(), sys.argv[2]
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
unb64 = lambda s: base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
h, p, _ = good.split(".")
claims = json.loads(unb64(p))
def sign(header, payload, key=secret):
    msg = (b64(json.dumps(header).encode()) + "." + b64(json.dumps(payload).encode())).encode()
    return msg.decode() + "." + b64(hmac.new(key, msg, hashlib.sha256).digest())
header = json.loads(unb64(h))
print("wrong_key 401", sign(header, claims, b"x" * 64))
print("expired 401", sign(header, dict(claims, exp=int(time.time()) - 60)))
print("alg_none 401", b64(json.dumps(dict(header, alg="none")).encode()) + "." + p + ".")
print("tampered 401", h + "." + b64(json.dumps(dict(claims, sub="admin")).encode()) + "." + good.split(".")[2])
print("other_tool 403 -")
PY
)
    if ((checked != 5)); then
        SKIP_REASON="haproxy_jwt: the forged tokens could not be made (python3)"
        kill -TERM "${HA_PID[haproxy_jwt]}" 2>/dev/null || true
        return 1
    fi
    log "haproxy_jwt refuses a wrong key, an expired token, alg none, a tampered payload (401) and another tool (403)"
}
front_haproxy_jwt_pids() { [[ -n "${HA_PID[haproxy_jwt]:-}" ]] && echo "${HA_PID[haproxy_jwt]}"; }

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
# config is checked with `portcullis check` first); sets PC_PID[NAME] and PC_CONF[NAME].
# While a --baseline twin is set up (PC_SUFFIX=@base, see front_call), every helper below keys
# its instance as NAME@base, and start_portcullis serves it with the --baseline binary on two
# fresh ports (PC_PORT is the public port actually used).
declare -A PC_PID=()
declare -A PC_CONF=()
declare -A PC_EXE=()
PC_SUFFIX=""
PC_PORT=""
start_portcullis() {   # NAME PORT ADMIN_PORT TLS [AUTH_TOML [POLICY_TOML]]
    local name="$1$PC_SUFFIX" port="$2" admin="$3" tls="$4" auth_toml="${5:-}" dir scheme=http
    dir="$TMP/$name"
    # Without a policy the route lets every call through (no rules, no list filtering).
    local policy_toml="${6:-default = \"allow\"}"
    local route_auth=none
    [[ -n "$auth_toml" ]] && route_auth=required
    resolve_portcullis || return 1
    local bin="$PC_BIN"
    if [[ -n "$PC_SUFFIX" ]]; then
        bin="$BASELINE"
        read -r port admin <<<"$(free_ports 2)"
    fi
    PC_PORT="$port"
    PC_EXE[$name]="$bin"
    # Audit to a (hash-chained) file unless the front says otherwise (pc_audit_off).
    local audit_toml="${PC_AUDIT_TOML:-}"
    [[ -n "$audit_toml" ]] || audit_toml="sink = \"file\"
path = \"$dir/audit.jsonl\""
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
$audit_toml
EOF
        [[ -n "$auth_toml" ]] && printf '\n%s\n' "$auth_toml"
    } >"$dir/gateway.toml"
    PC_CONF[$name]="$dir/gateway.toml"
    if [[ -n "$auth_toml" ]] && ! "$bin" check --config "$dir/gateway.toml" >"$dir/check.log" 2>&1; then
        cat "$dir/check.log" >&2
        SKIP_REASON="$name: portcullis check rejected its config"
        return 1
    fi
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
pc_pids() { local n="$1$PC_SUFFIX"; [[ -n "${PC_PID[$n]:-}" ]] && echo "${PC_PID[$n]}"; }

front_portcullis_setup() { start_portcullis portcullis "$P_PC" "$P_PC_ADMIN" 0; }
front_portcullis_pids() { pc_pids portcullis; }
# The `portcullis` front with no audit at all (`sink = "off"`: no chain, no aggregates), the
# baseline of the audit trail's cost (bench/audit.sh).
front_pc_audit_off_setup() {
    local port admin
    read -r port admin <<<"$(free_ports 2)"
    PC_AUDIT_TOML='sink = "off"' start_portcullis pc_audit_off "$port" "$admin" 0
}
front_pc_audit_off_pids() { pc_pids pc_audit_off; }
# The `portcullis` front auditing as before the audit trail: plain JSON lines on standard
# output (into its log file), no chain, no aggregates.
front_pc_audit_plain_setup() {
    local port admin
    read -r port admin <<<"$(free_ports 2)"
    PC_AUDIT_TOML=$'sink = "stdout"\naggregate = false' start_portcullis pc_audit_plain "$port" "$admin" 0
}
front_pc_audit_plain_pids() { pc_pids pc_audit_plain; }

front_portcullis_tls_setup() {
    make_tls_cert
    start_portcullis portcullis_tls "$P_PC_TLS" "$P_PC_TLS_ADMIN" 1 || return 1
    tls_probe "portcullis_tls$PC_SUFFIX" "$PC_PORT"
}
front_portcullis_tls_pids() { pc_pids portcullis_tls; }

# --auth fronts: the portcullis front with auth = "required" on the route. The credential goes in
# FRONT_HEADER[NAME] (sent by wrk on every request, via post-NAME.lua). Before measuring, one
# POST with it must get 200 and one without it 401; otherwise the front is skipped.
mint_token() {   # NAME: prints the access token minted with NAME's config (and NAME's binary)
    local n="$1$PC_SUFFIX"
    "${PC_EXE[$n]:-$PC_BIN}" token issue --config "${PC_CONF[$n]}" --sub bench --role user --ttl 12h 2>"$TMP/$n/token.log" \
        | python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])' 2>>"$TMP/$n/token.log"
}

auth_front_check() {   # NAME HEADER: 200 with the credential, 401 without; else skip
    local f="$1$PC_SUFFIX" hdr="$2" resp code body
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
        local pid="${PC_PID[$f]:-${HA_PID[$f]:-}}"
        [[ -n "$pid" ]] && kill -TERM "$pid" 2>/dev/null
        return 1
    fi
}

# An HS256 front: NAME PORT ADMIN [EXTRA_TOML [POLICY_TOML]] — one fresh `[auth.jwt]` key plus
# EXTRA_TOML (more tables) and the route's POLICY_TOML, then a minted token checked as for
# every authenticated front. pc_hs256, pc_authz, pc_embedded, pc_redis and pc_full differ only
# there.
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
        || { cat "$TMP/$name$PC_SUFFIX/token.log" >&2; SKIP_REASON="portcullis token issue failed"; return 1; }
    auth_front_check "$name" "Authorization: Bearer $tok"
}

# An ES256 front: NAME PORT ADMIN [EXTRA_TOML [POLICY_TOML]] — hs256_front with a fresh P-256
# key pair made with openssl instead of the secret. wrk reuses one token, so after the first
# request it comes from the verified-token cache.
es256_front() {
    resolve_portcullis || return 1
    local name="$1" d="$TMP/jwt-$1$PC_SUFFIX" tok
    mkdir -p "$d"
    (
        cd "$d" &&
        openssl ecparam -name prime256v1 -genkey -noout -out ec.pem &&
        openssl pkcs8 -topk8 -nocrypt -in ec.pem -out es-private.pem &&
        openssl ec -in ec.pem -pubout -out es-public.pem
    ) >"$d/openssl.log" 2>&1 || { cat "$d/openssl.log" >&2; SKIP_REASON="ES256 key generation with openssl failed"; return 1; }
    start_portcullis "$name" "$2" "$3" 0 "[auth.jwt]
[[auth.jwt.keys]]
kid = \"k1\"
alg = \"ES256\"
public_key = \"$d/es-public.pem\"
private_key = \"$d/es-private.pem\"

${4:-}" ${5:+"$5"} || return 1
    tok="$(mint_token "$name")" && [[ -n "$tok" ]] \
        || { cat "$TMP/$name$PC_SUFFIX/token.log" >&2; SKIP_REASON="portcullis token issue failed"; return 1; }
    auth_front_check "$name" "Authorization: Bearer $tok"
}

front_pc_hs256_setup() { hs256_front pc_hs256 "$P_HS" "$P_HS_ADMIN"; }
front_pc_hs256_pids() { pc_pids pc_hs256; }

# The seed's roles and a per-tool policy: 9 tools listed (echo allowed to the bench token's
# role `user`), default deny, so a tools/list reply is filtered to 3 of 9 tools.
AUTHZ_ROLES="[roles]
guest = [\"weather:read\"]
user = [\"weather:read\", \"files:read\", \"bench:echo\"]
premium = [\"weather:read\", \"weather:write\", \"files:read\", \"files:write\"]
admin = [\"*\"]"
AUTHZ_POLICY="default = \"deny\"
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

# pc_authz: pc_hs256 plus authorization (AUTHZ_ROLES, AUTHZ_POLICY).
front_pc_authz_setup() { hs256_front pc_authz "$P_SPARE1" "$P_SPARE2" "$AUTHZ_ROLES" "$AUTHZ_POLICY"; }
front_pc_authz_pids() { pc_pids pc_authz; }

# pc_full, pc_full_es256: the whole pipeline. A JWT required (HS256, or ES256 with one reused
# token), every kind of rate limit with buckets the load never empties — per client IP (before
# authentication), failed credentials per IP, per principal by role, per principal and tool —
# and pc_authz's tool policy (default deny, echo allowed to role user), audit to a file.
FULL_LIMITS="[rate_limits]
ip = { capacity = 1000000000, refill_per_sec = 1000000000 }
auth_failures = { max = 1000000, window = \"1m\", block = \"1s\" }

[rate_limits.roles]
guest = { capacity = 1000000000, refill_per_sec = 1000000000 }
user = { capacity = 1000000000, refill_per_sec = 1000000000 }

[[rate_limits.tools]]
tool = \"echo\"
capacity = 1000000000
refill_per_sec = 1000000000"
# The policy must be on: a tools/call of `add` (not the bench role's) must not get the
# upstream's answer.
denied_tool_check() {   # NAME
    local f="$1$PC_SUFFIX" resp
    resp="$(curl -s -m 5 -X POST -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
        -H "${FRONT_HEADER[$f]}" -w '\n%{http_code}' \
        --data-binary '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add","arguments":{}}}' \
        "${FRONT_URL[$f]}" 2>/dev/null || true)"
    if [[ "${resp%$'\n'*}" == "$UP_BODY" ]]; then
        SKIP_REASON="$f forwarded a tools/call its policy denies"
        kill -TERM "${PC_PID[$f]}" 2>/dev/null
        return 1
    fi
}
front_pc_full_setup() {
    hs256_front pc_full "$P_FULL" "$P_FULL_ADMIN" "$AUTHZ_ROLES

$FULL_LIMITS" "$AUTHZ_POLICY" && denied_tool_check pc_full
}
front_pc_full_pids() { pc_pids pc_full; }
front_pc_full_es256_setup() {
    es256_front pc_full_es256 "$P_FES" "$P_FES_ADMIN" "$AUTHZ_ROLES

$FULL_LIMITS" "$AUTHZ_POLICY" && denied_tool_check pc_full_es256
}
front_pc_full_es256_pids() { pc_pids pc_full_es256; }

# --state fronts: pc_hs256 plus a role bucket the load never empties, in process or in Redis.
limited_front() {   # NAME PORT ADMIN STATE_TOML
    hs256_front "$1" "$2" "$3" "[roles]
user = [\"*\"]

[rate_limits.roles]
user = { capacity = 1000000000, refill_per_sec = 1000000000 }

$4"
}
front_pc_embedded_setup() { limited_front pc_embedded "$P_EMB" "$P_EMB_ADMIN" ""; }
front_pc_embedded_pids() { pc_pids pc_embedded; }
front_pc_redis_setup() {
    [[ -z "$PC_SUFFIX" ]] || { SKIP_REASON="pc_redis has no @base twin (one redis-server per run)"; return 1; }
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

front_pc_es256_setup() { es256_front pc_es256 "$P_ES" "$P_ES_ADMIN"; }
front_pc_es256_pids() { pc_pids pc_es256; }

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
front_pc_apikey_pids() { pc_pids pc_apikey; }

# front_NAME_setup / front_NAME_pids for front F; for a twin NAME@base the same functions run
# with PC_SUFFIX=@base (the instance is NAME@base, served by the --baseline binary)
front_call() {   # F setup|pids
    local f="$1" what="$2"
    if [[ "$f" == *@base ]]; then
        PC_SUFFIX=@base "front_${f%@base}_$what"
    else
        "front_${f}_$what"
    fi
}

ACTIVE=()
for f in $FRONTS; do
    declare -F "front_${f%@base}_setup" >/dev/null \
        || die "unknown front '$f' (have: direct nginx haproxy haproxy_jwt portcullis nginx_tls portcullis_tls $AUTH_FRONTS, NAME@base with --baseline)"
    if [[ "$f" == *@base ]]; then
        [[ -n "$BASELINE" ]] || die "front $f needs --baseline PATH"
        is_pc_front "${f%@base}" || die "front $f: only portcullis fronts have an @base twin"
    fi
    SKIP_REASON=""
    if front_call "$f" setup; then
        # the reply must be the upstream's, as a plain 200
        resp="$(post_once "${FRONT_URL[$f]}" ${FRONT_HEADER[$f]:+"${FRONT_HEADER[$f]}"})"
        code="${resp##*$'\n'}"; body="${resp%$'\n'*}"
        if [[ "$code" != 200 ]]; then
            log "WARNING: $f answered HTTP $code to the bench request: ${body:0:300}"
        elif [[ " pc_authz pc_full pc_full_es256 " == *" ${f%@base} "* ]] && ((LIST)); then
            [[ "$body" == *'"name":"echo"'* && "$body" != *'"name":"add"'* ]] \
                || log "WARNING: $f did not filter the list: ${body:0:300}"
        elif [[ "$body" != "$UP_BODY" ]]; then
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
    fpids="$(front_call "$f" pids || true)"
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
    line="$(printf "round %d/%d  %-${NAME_W}s %9.0f req/s  p50 %6s µs  p99 %6s µs  front CPU %6s µs/req  upstream CPU %5s µs/req  errors %s" \
        "$round" "$ROUNDS" "$f$tag" "$rps" "$p50" "$p99" "$fcpu" "$ucpu" "$((non2xx + sockerr))")"
    ROUND_LINES+=("$line")
    printf '%s\n' "$line"
}

# width of the front column in the round lines: the longest name (with the paced tag)
NAME_W=14
for f in "${ACTIVE[@]}"; do
    w=${#f}
    ((RATE > 0)) && w=$((w + ${#RATE} + 4))
    ((w > NAME_W)) && NAME_W=$w
done
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
# front against front, per round (interleaved), for the pairs whose fronts are there:
# authenticated vs public route, and each --baseline twin
pairs=(pc_hs256/portcullis pc_es256/portcullis pc_apikey/portcullis pc_es256/pc_hs256
       pc_authz/pc_hs256 pc_full/portcullis)
for f in "${ACTIVE[@]}"; do [[ "$f" == *@base ]] && pairs+=("${f%@base}/$f"); done
# peers and portcullis against nginx (and the full pipeline against HAProxy doing that job);
# without nginx in the run, the last two go with the pairs above
peer_pairs=(pc_full/haproxy_jwt pc_full_es256/pc_full)
NGINX_RATIOS=""
NGINX_RATIOS_PACED=""
if [[ " ${ACTIVE[*]} " == *" nginx "* ]]; then
    nginx_pairs=(haproxy/nginx haproxy_jwt/nginx portcullis/nginx pc_full/nginx pc_full_es256/nginx "${peer_pairs[@]}")
    NGINX_RATIOS="$(python3 "$STATS" ratios "$RUNS" "${nginx_pairs[@]}")"
    if ((RATE > 0)) && [[ -s "$RUNS_PACED" ]]; then
        NGINX_RATIOS_PACED="$(python3 "$STATS" ratios "$RUNS_PACED" "${nginx_pairs[@]}")"
    fi
else
    pairs+=("${peer_pairs[@]}")
fi
AUTH_RATIOS="$(python3 "$STATS" ratios "$RUNS" "${pairs[@]}")"
if [[ -n "$TSV_OUT" ]]; then cp "$RUNS" "$TSV_OUT"; fi
NGINX_VER="$("$NGINX_BIN" -v 2>&1 | sed 's/^nginx version: //')"
HAPROXY_VER=""
[[ " ${ACTIVE[*]} " == *" haproxy"* ]] && HAPROXY_VER="HAProxy $("$HAPROXY_BIN" -v 2>&1 | awk 'NR == 1 {print $3}')"
WRK_VER="$(wrk -v 2>&1 | head -n1 | awk '{print $2}' || true)"
PC_DESC="skipped"
if [[ -n "$PC_BIN" ]]; then
    PC_DESC="$PC_BIN (worker_threads = $PC_THREADS)"
    rev="$(git -C "$REPO_DIR" rev-parse --short HEAD 2>/dev/null || true)"
    [[ -n "$rev" ]] && PC_DESC+=" (repo HEAD $rev$(git -C "$REPO_DIR" diff --quiet HEAD 2>/dev/null || echo ', dirty'))"
fi
has() { [[ " ${ACTIVE[*]} " == *" $1 "* ]]; }

REPORT="$TMP/report.md"
{
    echo "# Proxy benchmark, $START_TS"
    echo
    if ((TABLE)); then
        if ((ROUNDS >= 3)); then echo "The table run (\`bench/proxy.sh --table\`)."
        else echo "A test of the table run (\`--table\` with $ROUNDS round(s); the table needs >= 3)."; fi
        echo
    fi
    echo "- machine: $(nproc) CPUs ($(uname -r)), load average before: $LOAD_BEFORE"
    echo "- load: wrk $WRK_VER, -t$THREADS -c$CONNS, ${DURATION}s per front per round, $ROUNDS interleaved rounds, ${WARMUP}s warm-up per front"
    if ((SSE)); then
        echo "- request: POST /mcp $(if ((LIST)); then echo tools/list; else echo tools/call; fi) (${#REQ_BODY} B); **SSE (--sse)**: the reply is ${#UP_BODY} B \`text/event-stream\`, one event (\`event: message\`, \`data: <the ${#REPLY_BODY} B JSON-RPC reply>\`), with a Content-Length, so every front measures SSE pass-through"
    else
        echo "- request: POST /mcp $(if ((LIST)); then echo tools/list; else echo tools/call; fi) (${#REQ_BODY} B), reply ${#REPLY_BODY} B application/json"
    fi
    echo "- upstream: $NGINX_VER, 1 worker, \`return 200\`"
    has nginx && echo "- nginx front: $NGINX_VER, 1 worker, keep-alive upstream pool (64)$( ((SSE)) && echo ", \`proxy_buffering off\` (--sse: as SSE deployments configure it)")"
    has haproxy && echo "- haproxy front: $HAPROXY_VER, \`nbthread 1\`, no logging, \`option http-keep-alive\`, \`http-reuse always\`"
    has haproxy_jwt && echo "- haproxy_jwt front: the haproxy front plus \`option http-buffer-request\`, a Bearer JWT checked with \`jwt_verify\` (HS256; header and payload decoded once, \`json_query\` for alg/kid/typ and exp/iss/aud/type), a stick-table rate per \`sub\` (never reached) and a tool check from the body (role \`user\` from \`roles[0]\`, a tools/call must contain \`\"name\":\"echo\"\`); 401/429/403 otherwise"
    [[ " ${ACTIVE[*]} " == *" nginx_tls "* ]] && echo "- nginx_tls front: the nginx front plus \`listen ... ssl\`, TLS 1.2/1.3, default ciphers and ssl_session_cache"
    [[ " ${ACTIVE[*]} " == *" portcullis_tls "* ]] && echo "- portcullis_tls front: the portcullis front plus \`[server.tls]\`"
    [[ " ${ACTIVE[*]} " == *" pc_hs256 "* ]] && echo "- pc_hs256 front: the portcullis front with \`auth = \"required\"\` and one \`[auth.jwt]\` HS256 key; wrk sends \`Authorization: Bearer <access token from portcullis token issue>\`"
    [[ " ${ACTIVE[*]} " == *" pc_es256 "* ]] && echo "- pc_es256 front: the same with an ES256 (P-256) key pair made with openssl (the verified-token cache makes repeats of one token cheap)"
    [[ " ${ACTIVE[*]} " == *" pc_apikey "* ]] && echo "- pc_apikey front: the portcullis front with \`auth = \"required\"\` and one \`[[auth.api_keys.static]]\` key (sha256); wrk sends \`X-API-Key\`"
    has pc_authz && echo "- pc_authz front: pc_hs256 plus the seed's \`[roles]\` and a 9-tool policy, \`default = \"deny\"\` (echo allowed to role \`user\`)"
    has pc_full && echo "- pc_full front: the full pipeline: HS256 JWT required, rate limits never reached (\`ip\`, \`auth_failures\`, \`[rate_limits.roles]\` per principal, \`[[rate_limits.tools]]\` echo per principal), pc_authz's policy, audit to a file"
    has pc_full_es256 && echo "- pc_full_es256 front: pc_full with an ES256 key; one token reused (the verified-token cache)"
    [[ -n "$BASELINE" ]] && echo "- NAME@base fronts: the same setup served by the baseline binary $BASELINE"
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
    if [[ -n "$NGINX_RATIOS" ]]; then
        echo "## Ratios to nginx (req/s ratios within each round)"
        echo
        echo "$NGINX_RATIOS"
        echo
    fi
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
        if [[ -n "$NGINX_RATIOS_PACED" ]]; then
            echo "Paced, against nginx (req/s here is the pacing, so the CPU/req ratio is the figure):"
            echo
            echo "$NGINX_RATIOS_PACED"
            echo
        fi
    fi
    echo "Ratio = front req/s ÷ direct req/s in the same round. CPU = utime+stime of the front's"
    echo "processes (nginx: master + worker; haproxy: its one process) over the run ÷ requests. Only ratios and CPU/request"
    echo "within one run are meaningful: wrk, upstream and front share $(nproc) cores."
} >"$REPORT"

echo
echo "## Summary (medians over $ROUNDS rounds)"
echo
echo "$SUMMARY"
if [[ -n "$NGINX_RATIOS" ]]; then
    echo
    echo "## Ratios to nginx (req/s ratios within each round)"
    echo
    echo "$NGINX_RATIOS"
fi
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
    if [[ -n "$NGINX_RATIOS_PACED" ]]; then
        echo
        echo "Paced, against nginx:"
        echo
        echo "$NGINX_RATIOS_PACED"
    fi
fi
for f in "${!SKIPPED[@]}"; do echo; echo "skipped $f: ${SKIPPED[$f]}"; done
if ((SAVE)); then
    mkdir -p "$BENCH_DIR/results"
    dest="$BENCH_DIR/results/proxy-$(date +%Y-%m-%d-%H%M%S).md"
    cp "$REPORT" "$dest"
    echo
    echo "written: ${dest#"$REPO_DIR"/}"
fi
