#!/usr/bin/env bash
# Fuzzing (not part of CI): runs every cargo-fuzz target in fuzz/ for SECONDS each (default 60)
# on seeds from the test suite (scripts/fuzz_seeds.py) plus whatever earlier runs kept in
# fuzz/corpus, and exits non-zero if any target crashed (its input is in fuzz/artifacts/TARGET;
# turn it into a regression test). Needs the nightly toolchain this machine kind ships (cargo
# fuzz builds with -Zsanitizer=address) and cargo-fuzz, installed from crates.io when missing.
#
#   scripts/fuzz.sh [SECONDS]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
SECONDS_PER_TARGET="${1:-60}"
[[ "$SECONDS_PER_TARGET" =~ ^[0-9]+$ ]] || { echo "usage: scripts/fuzz.sh [SECONDS]" >&2; exit 1; }
TARGETS=(envelope sse config jwt host_origin)

if ! rustup toolchain list | grep -q '^nightly'; then
    echo "fuzz.sh: cargo fuzz needs a nightly toolchain (rustup toolchain install nightly)" >&2
    exit 2
fi
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
python3 scripts/fuzz_seeds.py

failed=()
report=()
for target in "${TARGETS[@]}"; do
    log="$(mktemp)"
    mkdir -p "fuzz/corpus/$target"
    set +e
    cargo +nightly fuzz run --fuzz-dir fuzz "$target" "fuzz/corpus/$target" -- \
        -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
        >"$log" 2>&1
    rc=$?
    set -e
    runs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -n1)"
    secs="$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -n1)"
    if ((rc != 0)); then
        failed+=("$target")
        tail -n 40 "$log" >&2
    fi
    report+=("$(printf '%-12s %s  %s executions (%s/s) in %ss' "$target" "$([[ $rc == 0 ]] && echo ok || echo CRASH)" "${runs:-?}" "${secs:-?}" "$SECONDS_PER_TARGET")")
    rm -f "$log"
done
printf '%s\n' "${report[@]}"
if ((${#failed[@]})); then
    echo "fuzz.sh: crashes in: ${failed[*]} (inputs under fuzz/artifacts/)" >&2
    exit 1
fi
