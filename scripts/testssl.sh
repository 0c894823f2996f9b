#!/usr/bin/env bash
# TLS scan of portcullis' listener with testssl.sh (not part of CI).
#
#   scripts/testssl.sh [--portcullis PATH] [--keep-tmp] [--timeout S]
#
# Installs the Debian package testssl.sh if missing, makes a throwaway CA and an ECDSA P-256
# server certificate for 127.0.0.1/localhost with the openssl CLI, starts portcullis with
# [server.tls] on a free loopback port (admin /readyz for readiness), runs testssl.sh against it
# (the throwaway CA is added to testssl's trust store with --add-ca, so the chain of trust checks
# the server rather than our CA being unknown; the certificate names a CRL distribution point, as
# a real CA's would, that is never fetched -- testssl does not phone out without --phone-out --
# so testssl's "Neither CRL nor OCSP URI provided" (HIGH, about the certificate, not the server)
# does not fire), then prints a summary: protocols offered, cipher suites per protocol, key
# exchange groups, and every finding that is MEDIUM/HIGH/CRITICAL or says "NOT ok"/"VULNERABLE".
# Exits 1 if any finding is HIGH or CRITICAL, 2 on setup errors.
# Everything it starts is stopped on exit; the temp dir is removed unless --keep-tmp.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PORTCULLIS="$ROOT/target/release/portcullis"
KEEP_TMP=0
SCAN_TIMEOUT=600

usage() {
    sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}
die() { printf 'testssl.sh: error: %s\n' "$*" >&2; exit 2; }
log() { printf '[testssl.sh] %s\n' "$*" >&2; }

while (($#)); do
    case "$1" in
        --portcullis) PORTCULLIS="${2:?}"; shift 2 ;;
        --keep-tmp) KEEP_TMP=1; shift ;;
        --timeout) SCAN_TIMEOUT="${2:?}"; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown option: $1" ;;
    esac
done
[[ "$SCAN_TIMEOUT" =~ ^[0-9]+$ ]] || die "--timeout wants seconds"
[[ -x "$PORTCULLIS" ]] || die "portcullis binary $PORTCULLIS missing (build it, or --portcullis PATH)"
PORTCULLIS="$(cd "$(dirname "$PORTCULLIS")" && pwd)/$(basename "$PORTCULLIS")"

TMP=""
PC_PID=""
SCAN_PID=""
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    set +e
    if [[ -n "$SCAN_PID" ]]; then kill -TERM -- "-$SCAN_PID" 2>/dev/null || kill -TERM "$SCAN_PID" 2>/dev/null; fi
    if [[ -n "$PC_PID" ]]; then
        kill -TERM "$PC_PID" 2>/dev/null
        for _ in $(seq 1 50); do kill -0 "$PC_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$PC_PID" 2>/dev/null
    fi
    wait 2>/dev/null
    if [[ -n "$TMP" && -d "$TMP" ]]; then
        if ((KEEP_TMP)); then log "kept temp dir $TMP"; else rm -rf "$TMP"; fi
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------------------------
# tools
SUDO=""
if [[ "$(id -u)" != 0 ]] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi
need=()
command -v testssl >/dev/null 2>&1 || command -v testssl.sh >/dev/null 2>&1 || need+=(testssl.sh)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v python3 >/dev/null 2>&1 || need+=(python3)
if ((${#need[@]})); then
    command -v apt-get >/dev/null 2>&1 || die "missing ${need[*]} and no apt-get"
    [[ "$(id -u)" == 0 || -n "$SUDO" ]] || die "missing ${need[*]}; run as root or install them"
    log "installing ${need[*]} (apt-get update + install)"
    $SUDO env DEBIAN_FRONTEND=noninteractive timeout 600 apt-get update -q >&2 || die "apt-get update failed"
    $SUDO env DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -q "${need[@]}" >&2 \
        || die "apt-get install ${need[*]} failed"
fi
TESTSSL="$(command -v testssl || command -v testssl.sh)" || die "testssl not found after install"

TMP="$(mktemp -d /tmp/portcullis-testssl.XXXXXX)"

# ---------------------------------------------------------------------------------------------
# throwaway CA + ECDSA P-256 server certificate (127.0.0.1, localhost)
(
    # (set -e does not apply inside `( ... ) || die`, hence the && chain)
    cd "$TMP" &&
    openssl ecparam -name prime256v1 -genkey -noout -out ca-key.pem &&
    openssl req -x509 -new -key ca-key.pem -sha256 -days 30 -subj "/CN=portcullis testssl throwaway CA" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
        -out ca.pem &&
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out server-key.pem &&
    openssl req -new -key server-key.pem -subj "/CN=localhost" -out server.csr &&
    printf '%s\n' "basicConstraints = critical, CA:FALSE" "keyUsage = critical, digitalSignature" \
        "extendedKeyUsage = serverAuth" "subjectAltName = DNS:localhost, IP:127.0.0.1" \
        "crlDistributionPoints = URI:http://127.0.0.1:9/throwaway-ca.crl" >server.ext &&
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -sha256 -days 365 \
        -extfile server.ext -out server.pem &&
    openssl verify -CAfile ca.pem server.pem
) >"$TMP/openssl.log" 2>&1 || { cat "$TMP/openssl.log" >&2; die "certificate generation with openssl failed"; }

read -r PORT ADMIN_PORT UP_PORT <<<"$(python3 - <<'PY'
import socket
socks = []
for _ in range(3):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
for s in socks: s.close()
PY
)"

# The upstream need not exist: testssl only talks TLS and plain GETs (404 / 502 are fine).
cat >"$TMP/gateway.toml" <<EOF
[server]
listen = "127.0.0.1:$PORT"
worker_threads = 1

[server.tls]
cert = "$TMP/server.pem"
key = "$TMP/server-key.pem"

[admin]
listen = "127.0.0.1:$ADMIN_PORT"

[[upstreams]]
name = "bench"
route = "/mcp"
url = "http://127.0.0.1:$UP_PORT/mcp"
auth = "none"

[audit]
sink = "file"
path = "$TMP/audit.jsonl"
EOF

(cd "$TMP" && exec "$PORTCULLIS" run --config "$TMP/gateway.toml") >"$TMP/portcullis.log" 2>&1 &
PC_PID=$!
ready=0
for _ in $(seq 1 300); do
    kill -0 "$PC_PID" 2>/dev/null || break
    code="$(curl -s -o /dev/null -m 1 -w '%{http_code}' "http://127.0.0.1:$ADMIN_PORT/readyz" 2>/dev/null || true)"
    if [[ "$code" == 200 ]]; then ready=1; break; fi
    sleep 0.1
done
if ((!ready)); then
    tail -n 30 "$TMP/portcullis.log" >&2 || true
    die "portcullis did not answer 200 on /readyz within 30 s"
fi
curl -s -o /dev/null --cacert "$TMP/ca.pem" --resolve "localhost:$PORT:127.0.0.1" "https://localhost:$PORT/" \
    || die "TLS handshake with curl against portcullis failed"
log "portcullis $("$PORTCULLIS" --version 2>/dev/null | awk '{print $2}') serving TLS on 127.0.0.1:$PORT (pid $PC_PID)"
log "running $("$TESTSSL" --version 2>/dev/null | grep -m1 -o 'testssl.sh *[0-9][^ ]*' || echo testssl.sh) (bounded by ${SCAN_TIMEOUT}s)"

# ---------------------------------------------------------------------------------------------
# scan: the default run (protocols, cipher categories, forward secrecy incl. groups, server
# defaults and preference, headers, vulnerabilities, client simulation) plus every cipher per
# protocol (-E)
JSON="$TMP/testssl.json"
LOGF="$TMP/testssl.log"
scan_rc=0
set +e
setsid timeout -k 10 "$SCAN_TIMEOUT" "$TESTSSL" --quiet --color 0 --warnings off \
    --add-ca "$TMP/ca.pem" --ip 127.0.0.1 \
    -p -s -f -S -P -h -U -c -E \
    --jsonfile "$JSON" --logfile "$LOGF" "localhost:$PORT" >"$TMP/testssl.stdout" 2>&1 &
SCAN_PID=$!
wait "$SCAN_PID"; scan_rc=$?
SCAN_PID=""
set -e
if ((scan_rc == 124 || scan_rc == 137)); then die "testssl.sh timed out after ${SCAN_TIMEOUT}s"; fi
[[ -s "$JSON" ]] || { tail -n 30 "$TMP/testssl.stdout" >&2; die "testssl.sh wrote no JSON (exit $scan_rc)"; }
kill -0 "$PC_PID" 2>/dev/null || die "portcullis died during the scan (see $TMP/portcullis.log)"

# ---------------------------------------------------------------------------------------------
# summary
sum_rc=0
python3 - "$JSON" <<'PY' || sum_rc=$?
import json, re, sys

items = json.load(open(sys.argv[1], encoding="utf-8"))
if isinstance(items, dict):          # --jsonfile-pretty layout
    items = [f for s in items.get("scanResult", []) for k, v in s.items()
             if isinstance(v, list) for f in v]
by_id = {}
for it in items:
    by_id.setdefault(it.get("id", ""), []).append(it)

def first(i):
    v = by_id.get(i)
    return v[0]["finding"] if v else "–"

print("== protocols")
for pid, name in [("SSLv2", "SSLv2"), ("SSLv3", "SSLv3"), ("TLS1", "TLS 1.0"), ("TLS1_1", "TLS 1.1"),
                  ("TLS1_2", "TLS 1.2"), ("TLS1_3", "TLS 1.3")]:
    print("  %-8s %s" % (name, first(pid)))
print("  ALPN     %s" % " ".join(first(k) for k in ("ALPN_HTTP2", "ALPN") if k in by_id))

print("== cipher suites offered")
ciphers = [it for it in items if it.get("id", "").startswith("cipher-")]
seen = set()
if ciphers:
    for it in ciphers:
        f = " ".join(it["finding"].split())
        if f not in seen:
            seen.add(f); print("  " + f)
else:
    for k in sorted(by_id):
        if k.startswith(("cipherorder_", "supportedciphers_")):
            print("  %s: %s" % (k, first(k)))
for k in ("cipher_order", "protocol_negotiated", "cipher_negotiated"):
    if k in by_id:
        print("  %s: %s" % (k, first(k)))

print("== key exchange")
for k in ("PFS", "FS", "PFS_ECDHE_curves", "FS_ECDHE_curves", "DH_groups", "PFS_DH_groups",
          "FS_KEMs", "FS_TLS12_sig_algs", "FS_TLS13_sig_algs", "cert_keySize",
          "cert_signatureAlgorithm", "TLS_session_ticket", "sessionresumption_ticket",
          "sessionresumption_ID"):
    if k in by_id:
        print("  %-24s %s" % (k, first(k)))

print("== findings: MEDIUM/HIGH/CRITICAL, or NOT ok / VULNERABLE")
bad = 0
n = 0
for it in items:
    sev = it.get("severity", "")
    f = it.get("finding", "")
    if sev in ("MEDIUM", "HIGH", "CRITICAL") or re.search(r"NOT ok|VULNERABLE", f) and "not vulnerable" not in f.lower():
        n += 1
        print("  [%s] %s: %s%s" % (sev, it.get("id"), " ".join(f.split()),
                                   (" (%s)" % it["cve"]) if it.get("cve") else ""))
        if sev in ("HIGH", "CRITICAL"):
            bad += 1
if n == 0:
    print("  none")
warns = [it for it in items if it.get("severity") == "WARN"]
if warns:
    print("== scan problems (WARN: a check testssl could not complete; rerun before trusting it)")
    for it in warns:
        print("  [WARN] %s: %s" % (it.get("id"), " ".join(it.get("finding", "").split())))
counts = {}
for it in items:
    counts[it.get("severity", "?")] = counts.get(it.get("severity", "?"), 0) + 1
print("== severity counts: " + ", ".join("%s %d" % (k, counts[k]) for k in
      ("CRITICAL", "HIGH", "MEDIUM", "LOW", "WARN", "INFO", "OK", "DEBUG") if k in counts))
sys.exit(1 if bad else 0)
PY
log "full testssl log: $LOGF$( ((KEEP_TMP)) || echo ' (removed on exit; --keep-tmp keeps it)')"
exit "$sum_rc"
