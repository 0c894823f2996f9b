#!/usr/bin/env bash
# Credential store off the hot path: req/s of a portcullis gateway whose embedded store holds
# 100 000 revoked jtis and 10 000 dynamic API keys ("full") against the same gateway with an
# empty store ("empty"), four fronts interleaved in every round:
#   jwt_empty, jwt_full  an HS256 access token (Authorization: Bearer)
#   key_empty, key_full  a dynamic API key made with `keys create` in that store (X-API-Key)
# PASS when the median full ÷ empty ratio over the rounds is >= 0.95 for jwt and for key.
#
#   bench/credentials.sh [--rounds N] [--duration S] [--portcullis PATH] [--no-build] [--keep-tmp]
#     --rounds N (default 5), --duration S of load per front per round (default 5), --portcullis
#     PATH (default target/release/portcullis, built with cargo if missing unless --no-build),
#     --keep-tmp keeps the temp dir (configs, stores, logs, wrk output). Results in
#     bench/results/credentials-<date>.md. Exit status: 0 PASS, 1 FAIL, 2 an error.
set -euo pipefail

ROUNDS=5; DURATION=5; WARMUP=1; THREADS=2; CONNS=32; MIN_RATIO=0.95
PORTCULLIS=""; NO_BUILD=0; KEEP_TMP=0; N_REVOKED=100000; N_KEYS=10000

usage() { sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
die() { printf 'credentials.sh: error: %s\n' "$*" >&2; exit 2; }
log() { printf '[credentials.sh] %s\n' "$*" >&2; }

while (($#)); do
    case "$1" in
        --rounds) ROUNDS="${2:?}"; shift 2 ;;
        --duration) DURATION="${2:?}"; shift 2 ;;
        --portcullis) PORTCULLIS="${2:?}"; shift 2 ;;
        --no-build) NO_BUILD=1; shift ;;
        --keep-tmp) KEEP_TMP=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown option: $1" ;;
    esac
done
[[ "$ROUNDS" =~ ^[0-9]+$ && "$DURATION" =~ ^[0-9]+$ ]] && ((ROUNDS >= 1 && DURATION >= 1)) \
    || die "--rounds and --duration want positive integers"

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(dirname "$BENCH_DIR")"; STATS="$BENCH_DIR/proxy_stats.py"   # STATS parse: one wrk output
# shellcheck source=bench/lib.sh
source "$BENCH_DIR/lib.sh"   # free_ports, child_pids

# cleanup: kill exactly what we started (and the workers of the nginx master we started)
TMP=""; STARTED_PIDS=(); WRK_PID=""; POLICY_RC_CREATED=0; SUDO=""
cleanup() {
    local rc=$? all=() p c i alive
    trap - EXIT INT TERM; set +e
    [[ -n "$WRK_PID" ]] && kill -TERM "$WRK_PID" 2>/dev/null
    for p in "${STARTED_PIDS[@]}"; do all+=("$p"); for c in $(child_pids "$p"); do all+=("$c"); done; done
    for p in "${STARTED_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for i in $(seq 1 50); do   # up to 5 s for a clean exit, then KILL
        alive=0; for p in "${all[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
        ((alive)) && sleep 0.1 || break
    done
    for p in "${all[@]}"; do kill -KILL "$p" 2>/dev/null; done; wait 2>/dev/null
    ((POLICY_RC_CREATED)) && $SUDO rm -f /usr/sbin/policy-rc.d
    [[ -n "$TMP" && -d "$TMP" ]] && { if ((KEEP_TMP)); then log "kept temp dir $TMP"; else rm -rf "$TMP"; fi; }
    exit "$rc"
}
trap cleanup EXIT; trap 'exit 130' INT; trap 'exit 143' TERM

# the portcullis binary, built once if missing (unless --no-build)
PC_BIN="${PORTCULLIS:-$REPO_DIR/target/release/portcullis}"
if [[ ! -x "$PC_BIN" ]]; then
    [[ -z "$PORTCULLIS" ]] || die "--portcullis $PORTCULLIS is not an executable file"
    ((NO_BUILD == 0)) || die "binary $PC_BIN missing (--no-build)"
    command -v cargo >/dev/null 2>&1 || die "binary $PC_BIN missing and no cargo to build it"
    log "building portcullis: cargo build --release (this can take minutes)"
    (cd "$REPO_DIR" && timeout 1800 cargo build --release >&2) || die "cargo build --release failed"
    [[ -x "$PC_BIN" ]] || die "binary $PC_BIN still missing after the build"
fi
PC_BIN="$(cd "$(dirname "$PC_BIN")" && pwd)/$(basename "$PC_BIN")"

# tools (as bench/proxy.sh: from Debian when missing, nginx-light preferred, no service started)
[[ "$(id -u)" != 0 ]] && command -v sudo >/dev/null 2>&1 && SUDO="sudo"
missing=()
for t in wrk:wrk nginx:nginx curl:curl python3:python3 pgrep:procps; do
    command -v "${t%%:*}" >/dev/null 2>&1 || [[ -x "/usr/sbin/${t%%:*}" ]] || missing+=("${t#*:}")
done
if ((${#missing[@]})); then
    command -v apt-get >/dev/null 2>&1 || die "missing ${missing[*]} and no apt-get to install them"
    [[ "$(id -u)" == 0 || -n "$SUDO" ]] || die "missing ${missing[*]}; run as root or install them"
    log "installing: ${missing[*]} (apt-get update + install)"
    $SUDO env DEBIAN_FRONTEND=noninteractive timeout 600 apt-get update -q >&2 || die "apt-get update failed"
    pkgs=()
    for m in "${missing[@]}"; do
        if [[ "$m" == nginx ]]; then
            for cand in nginx-light nginx; do  # no -q: an early exit would SIGPIPE apt-cache
                if apt-cache policy "$cand" 2>/dev/null | grep 'Candidate: [^(]' >/dev/null; then m="$cand"; break; fi
            done
            [[ -e /usr/sbin/policy-rc.d ]] || { POLICY_RC_CREATED=1   # the distro's nginx service must not start
                printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null; $SUDO chmod 755 /usr/sbin/policy-rc.d; }
        fi
        pkgs+=("$m")
    done
    $SUDO env DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -q --no-install-recommends "${pkgs[@]}" >&2 \
        || die "apt-get install failed"
    if ((POLICY_RC_CREATED)); then $SUDO rm -f /usr/sbin/policy-rc.d; POLICY_RC_CREATED=0; fi
fi
NGINX_BIN="$(command -v nginx || echo /usr/sbin/nginx)"

TMP="$(mktemp -d /tmp/portcullis-credentials.XXXXXX)"
chmod 755 "$TMP"   # nginx workers may run as nobody
wait_http() {   # URL EXPECT SECS PID: until URL answers EXPECT, while PID lives
    local i
    for ((i = 0; i < $3 * 10; i++)); do
        kill -0 "$4" 2>/dev/null || return 1
        [[ "$(curl -s -o /dev/null -m 1 -w '%{http_code}' "$1" 2>/dev/null || true)" == "$2" ]] && return 0 || sleep 0.1
    done; return 1
}

REQ_BODY='{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"bench","arguments":{}}}'
REPLY_BODY='{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"ok"}]}}'
post_code() {   # URL [HEADER]: the HTTP code of one bench POST
    curl -s -o /dev/null -m 5 -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
        -H 'Accept: application/json, text/event-stream' ${2:+-H "$2"} --data-binary "$REQ_BODY" "$1" 2>/dev/null || true
}

# the upstream: nginx returning a fixed JSON-RPC reply (as bench/proxy.sh)
read -r P_UP P_EMPTY P_EMPTY_ADMIN P_FULL P_FULL_ADMIN <<<"$(free_ports 5)"
UPSTREAM_URL="http://127.0.0.1:$P_UP/mcp"
d="$TMP/upstream"; mkdir -p "$d"; chmod 755 "$d"
cat >"$d/nginx.conf" <<EOF
worker_processes 1; daemon off; master_process on; pid $d/nginx.pid; error_log $d/error.log warn;
events { worker_connections 4096; }
http {
    access_log off; keepalive_requests 100000000; keepalive_timeout 65s;
    client_body_temp_path $d/body; proxy_temp_path $d/proxy; fastcgi_temp_path $d/fastcgi;
    uwsgi_temp_path $d/uwsgi; scgi_temp_path $d/scgi;
    server {
        listen 127.0.0.1:$P_UP;
        location = /mcp { default_type application/json; return 200 '$REPLY_BODY'; }
    }
}
EOF
"$NGINX_BIN" -t -q -p "$d/" -c "$d/nginx.conf" -e "$d/error.log" || die "upstream nginx config rejected"
"$NGINX_BIN" -p "$d/" -c "$d/nginx.conf" -e "$d/error.log" >"$d/stdout.log" 2>&1 & UP_PID=$!; STARTED_PIDS+=("$UP_PID")
wait_http "$UPSTREAM_URL" 200 10 "$UP_PID" || die "upstream nginx did not come up (see $d/error.log)"

# the two gateways: same config (one HS256 secret), each its own embedded store
read -r SECRET ADMIN_TOKEN <<<"$(python3 -c 'import secrets; print(secrets.token_urlsafe(48), secrets.token_urlsafe(32))')"
declare -A GW_PID=() CRED=() URL=() STORE_DESC=()
setup_gateway() {   # NAME PORT ADMIN_PORT POPULATE(0/1)
    local name="$1" dir="$TMP/$1" out
    mkdir -p "$dir/store"
    cat >"$dir/gateway.toml" <<EOF
server = { listen = "127.0.0.1:$2", worker_threads = 1 }
admin = { listen = "127.0.0.1:$3", token = "$ADMIN_TOKEN" }
state = { backend = "embedded", path = "$dir/store" }
roles = { user = ["*"] }
audit = { sink = "file", path = "$dir/audit.jsonl" }
[auth.jwt]
issuer = "portcullis"
keys = [{ kid = "k1", alg = "HS256", secret = "$SECRET" }]
[auth.api_keys]
[[upstreams]]
name = "bench"
route = "/mcp"
url = "$UPSTREAM_URL"
auth = "required"
default = "allow"
EOF
    local pc=("$PC_BIN" --config "$dir/gateway.toml")
    "${pc[@]}" check >"$dir/check.log" 2>&1 || { cat "$dir/check.log" >&2; die "$name: portcullis check rejected its config"; }
    if (($4)); then
        log "$name: importing $N_REVOKED revoked jtis and $N_KEYS API keys"
        python3 - "$N_REVOKED" "$N_KEYS" >"$dir/import.jsonl" <<'PY'
import json, secrets, sys, time
now = int(time.time()); hx = secrets.token_hex; w = sys.stdout.write
for _ in range(int(sys.argv[1])):
    w(json.dumps({"kind": "revocation", "record": {"id": hx(16), "kind": "jti", "value": hx(16),
        "before": None, "created": now, "expires": now + 86400}}) + "\n")
for i in range(int(sys.argv[2])):
    w(json.dumps({"kind": "key", "record": {"id": "key_" + hx(8), "name": "bench-%d" % i,
        "subject": "svc:bench-%d" % i, "roles": ["user"], "permissions": [], "hash": hx(32),
        "hash_alg": "sha256", "created": now, "expires": now + 86400 * 90, "revoked": None,
        "grace_until": None, "replaced_by": None}}) + "\n")
PY
        "${pc[@]}" state import "$dir/import.jsonl" >"$dir/import.log" 2>&1 \
            || { cat "$dir/import.log" >&2; die "$name: state import failed"; }
        STORE_DESC[$name]="$N_REVOKED revoked jtis + $((N_KEYS + 1)) API keys"
    else
        STORE_DESC[$name]="empty (1 API key: the one it is called with)"
    fi
    out="$("${pc[@]}" keys create --subject svc:bench --role user --json 2>"$dir/keys.log")" \
        && CRED[key_$name]="X-API-Key: $(python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])' <<<"$out")" \
        || { cat "$dir/keys.log" >&2; die "$name: keys create failed"; }
    out="$("${pc[@]}" token issue --sub bench --role user --ttl 12h --json 2>"$dir/token.log")" \
        && CRED[jwt_$name]="Authorization: Bearer $(python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])' <<<"$out")" \
        || { cat "$dir/token.log" >&2; die "$name: token issue failed"; }
    STORE_DESC[$name]+=", store dir $(du -sh "$dir/store" | cut -f1)"
    (cd "$dir" && exec "${pc[@]}" run) >"$dir/gateway.log" 2>&1 &
    GW_PID[$name]=$!; STARTED_PIDS+=("$!")
    wait_http "http://127.0.0.1:$3/readyz" 200 60 "${GW_PID[$name]}" \
        || { tail -n 20 "$dir/gateway.log" >&2; die "$name not ready on /readyz within 60 s"; }
    URL[jwt_$name]="http://127.0.0.1:$2/mcp"; URL[key_$name]="http://127.0.0.1:$2/mcp"
}
setup_gateway empty "$P_EMPTY" "$P_EMPTY_ADMIN" 0
setup_gateway full "$P_FULL" "$P_FULL_ADMIN" 1

FRONTS=(jwt_empty jwt_full key_empty key_full)
for f in "${FRONTS[@]}"; do   # 200 with its credential, 401 without; one wrk script each
    c="$(post_code "${URL[$f]}" "${CRED[$f]}")"; [[ "$c" == 200 ]] || die "$f: HTTP $c with its credential (want 200)"
    c="$(post_code "${URL[$f]}")"; [[ "$c" == 401 ]] || die "$f: HTTP $c without a credential (want 401)"
    h="${CRED[$f]}"
    printf 'wrk.method = "POST"\nwrk.body = %s\nwrk.headers["Content-Type"] = "application/json"\nwrk.headers["Accept"] = "application/json, text/event-stream"\nwrk.headers["%s"] = "%s"\n' \
        "'$REQ_BODY'" "${h%%:*}" "${h#*: }" >"$TMP/post-$f.lua"
done

# measurement: every front in every round, reversed order on even rounds (as bench/proxy.sh)
run_wrk() {   # FRONT SECONDS OUTFILE
    timeout -k 5 $(($2 + 30)) wrk -t"$THREADS" -c"$CONNS" -d"$2"s --latency -s "$TMP/post-$1.lua" "${URL[$1]}" >"$3" 2>&1 &
    WRK_PID=$!; local rc=0; wait "$WRK_PID" || rc=$?; WRK_PID=""; return "$rc"
}
LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"
awk -v l="${LOAD_BEFORE%% *}" 'BEGIN {exit !(l > 1.0)}' && log "WARNING: load average $LOAD_BEFORE: something else is busy"
START_TS="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
log "fronts: ${FRONTS[*]}; $ROUNDS rounds x ${DURATION}s; wrk -t$THREADS -c$CONNS"
for f in "${FRONTS[@]}"; do run_wrk "$f" "$WARMUP" "$TMP/wrk-warmup-$f.txt" || die "warm-up wrk failed for $f"; done
RUNS="$TMP/runs.tsv"; : >"$RUNS"
for ((r = 1; r <= ROUNDS; r++)); do
    order=("${FRONTS[@]}"); ((r % 2)) || order=(key_full key_empty jwt_full jwt_empty)
    for f in "${order[@]}"; do
        out="$TMP/wrk-r$r-$f.txt"
        run_wrk "$f" "$DURATION" "$out" || { cat "$out" >&2; die "wrk failed for $f"; }
        g="${f#*_}"; kill -0 "${GW_PID[$g]}" 2>/dev/null || { tail -n 20 "$TMP/$g/gateway.log" >&2; die "gateway $g died in round $r"; }
        read -r rps reqs p50 p99 non2xx sockerr <<<"$(python3 "$STATS" parse "$out")"
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$r" "$f" "$rps" "$p50" "$p99" "$non2xx" "$sockerr" >>"$RUNS"
        printf 'round %d/%d  %-9s %9.0f req/s  p50 %6s µs  p99 %6s µs  errors %s\n' \
            "$r" "$ROUNDS" "$f" "$rps" "$p50" "$p99" "$((non2xx + sockerr))"
    done
done

# report and verdict
set +e
python3 - "$RUNS" "$MIN_RATIO" >"$TMP/verdict.md" <<'PY'
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
min_ratio, fronts = float(sys.argv[2]), ["jwt_empty", "jwt_full", "key_empty", "key_full"]
rps = {(int(r[0]), r[1]): float(r[2]) for r in rows}
errors, rounds = sum(int(r[5]) + int(r[6]) for r in rows), sorted({int(r[0]) for r in rows})
print("## Req/s per round\n\n| round | " + " | ".join(fronts) + " | jwt full ÷ empty | key full ÷ empty |")
print("|---:|" + "---:|" * (len(fronts) + 2))
ratios = {"jwt": [], "key": []}
for r in rounds:
    for k in ratios: ratios[k].append(rps[(r, k + "_full")] / rps[(r, k + "_empty")])
    print("| %d | %s | %.3f | %.3f |" % (r, " | ".join("%.0f" % rps[(r, f)] for f in fronts), ratios["jwt"][-1], ratios["key"][-1]))
print("\n## Full store ÷ empty store\n")
print("| credential | median | min | max |\n|---|---:|---:|---:|")
ok = errors == 0 and all(statistics.median(v) >= min_ratio for v in ratios.values())
for k, v in ratios.items(): print("| %s | %.3f | %.3f | %.3f |" % (k, statistics.median(v), min(v), max(v)))
print()
if errors:
    print("Errors (non-2xx or socket) during the load: %d; a refused request is cheaper, so the run does not count." % errors)
print("**%s**: the median ratio must be >= %.2f for both jwt and key%s." % (
    "PASS" if ok else "FAIL", min_ratio, " with no errors" if errors else ""))
sys.exit(0 if ok else 1)
PY
VERDICT_RC=$?
set -e
((VERDICT_RC <= 1)) || die "could not compute the verdict"
rev="$(git -C "$REPO_DIR" rev-parse --short HEAD 2>/dev/null || true)"
mkdir -p "$BENCH_DIR/results"
dest="$BENCH_DIR/results/credentials-$(date +%Y-%m-%d-%H%M%S).md"
{
    printf '# Credential store benchmark, %s\n\n%s\n%s\n\n' "$START_TS" \
        "Does a large credential store slow the request path? The same gateway with an empty store" \
        "and with a full one, measured interleaved in one run (bench/credentials.sh)."
    echo "- machine: $(nproc) CPUs ($(uname -r)), load average before: $LOAD_BEFORE"
    echo "- load: wrk $(wrk -v 2>&1 | head -n1 | awk '{print $2}' || true), -t$THREADS -c$CONNS, ${DURATION}s per front per round, $ROUNDS interleaved rounds (even rounds reversed), ${WARMUP}s warm-up per front"
    echo "- portcullis: $PC_BIN (worker_threads = 1)${rev:+ (repo HEAD $rev$(git -C "$REPO_DIR" diff --quiet HEAD 2>/dev/null || echo ', dirty'))}; \`[state] backend = \"embedded\"\`, route \`auth = \"required\"\`, \`default = \"allow\"\`"
    echo "- upstream: $("$NGINX_BIN" -v 2>&1 | sed 's/^nginx version: //'), 1 worker, \`return 200\` with a fixed JSON-RPC reply"
    echo "- request: POST /mcp tools/call (${#REQ_BODY} B)"
    echo "- empty gateway store: ${STORE_DESC[empty]}"
    echo "- full gateway store: ${STORE_DESC[full]} (loaded with \`portcullis state import\` before \`run\`)"
    echo "- jwt_*: an HS256 access token from \`portcullis token issue\`; key_*: an API key from \`portcullis keys create\` in that gateway's store"
    echo
    cat "$TMP/verdict.md"
} >"$dest"
echo; cat "$TMP/verdict.md"
log "report saved to $dest"
exit "$VERDICT_RC"
