#!/usr/bin/env bash
# The audit trail's cost: proxy throughput of the `portcullis` front (audit to a hash-chained
# file, with the per-minute aggregates, the dashboard ticks and the live detector running)
# against `pc_audit_plain` (plain JSON lines on stdout, no chain, no aggregates: auditing as it
# was before the trail) and `pc_audit_off` (`[audit] sink = "off"`), loaded in turn in the same
# run by bench/proxy.sh (interleaved rounds, one worker thread each, wrk -t2 -c32).
# PASS when the median chained ÷ plain req/s ratio over the rounds is >= 0.90 (the ratio to
# `off`, the whole cost of auditing, is reported too).
#
#   bench/audit.sh [--rounds N] [--duration S] [--no-build] [--portcullis PATH]
set -euo pipefail
BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROUNDS=5; ARGS=()
while (($#)); do
    case "$1" in
        --rounds) ROUNDS="${2:?}"; shift 2 ;;
        --duration|--portcullis) ARGS+=("$1" "${2:?}"); shift 2 ;;
        --no-build) ARGS+=("$1"); shift ;;
        -h|--help) sed -n '2,8p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "audit.sh: unknown option: $1" >&2; exit 2 ;;
    esac
done
RUNS="$(mktemp /tmp/portcullis-audit-bench.XXXXXX.tsv)"
trap 'rm -f "$RUNS"' EXIT
"$BENCH_DIR/proxy.sh" --fronts portcullis,pc_audit_plain,pc_audit_off --rounds "$ROUNDS" --no-save --tsv "$RUNS" "${ARGS[@]}" >&2
python3 - "$RUNS" <<'PY'
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
rps = {(int(r[0]), r[1]): float(r[2]) for r in rows}
cpu = {(int(r[0]), r[1]): r[6] for r in rows}
errors = sum(int(r[8]) + int(r[9]) for r in rows)
rounds = sorted({int(r[0]) for r in rows})
fronts = ["portcullis", "pc_audit_plain", "pc_audit_off"]
print("| round | chained + aggregates req/s | plain stdout req/s | off req/s | chained ÷ plain | chained ÷ off | CPU µs/req (chained / plain / off) |")
print("|---:|---:|---:|---:|---:|---:|---:|")
plain, off = [], []
for r in rounds:
    plain.append(rps[(r, "portcullis")] / rps[(r, "pc_audit_plain")])
    off.append(rps[(r, "portcullis")] / rps[(r, "pc_audit_off")])
    print("| %d | %s | %.3f | %.3f | %s |" % (r, " | ".join("%.0f" % rps[(r, f)] for f in fronts), plain[-1], off[-1], " / ".join(cpu[(r, f)] for f in fronts)))
ok = errors == 0 and statistics.median(plain) >= 0.9
print("\nchained ÷ plain: median %.3f (min %.3f, max %.3f); chained ÷ off: median %.3f (min %.3f, max %.3f); %d rounds, %d errors: **%s** (chained ÷ plain >= 0.90)" % (
    statistics.median(plain), min(plain), max(plain), statistics.median(off), min(off), max(off), len(rounds), errors, "PASS" if ok else "FAIL"))
sys.exit(0 if ok else 1)
PY
