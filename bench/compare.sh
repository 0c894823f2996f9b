#!/usr/bin/env bash
# Regression guard, to run before merging: the working tree's portcullis against an older
# revision's, side by side in one bench/proxy.sh run (each front and its NAME@base twin
# interleaved in every round), with a verdict. See bench/README.md.
#
#   bench/compare.sh [--rev REV] [--rounds N] [--fronts LIST] [--instructions] [-- PROXY_ARGS...]
#
# Exit status: 0 PASS, 1 FAIL, 2 an error (nothing measured, a build failed, ...).
set -euo pipefail

REV="HEAD~1"
ROUNDS=5
FRONTS="portcullis,pc_full"
DURATION=""
NO_BUILD=0
BASE_BIN=""
NEW_BIN=""
INSTRUCTIONS=0
MIN_RATIO=0.95
MAX_CPU_RISE=5
SAVE=0
PROXY_ARGS=()

usage() {
    cat <<'EOF'
usage: bench/compare.sh [options] [-- PROXY_SH_OPTIONS...]
  --rev REV           the base revision (default HEAD~1); its release binary is built once in a
                      cached git worktree, target/compare/<sha>/ (CARGO_TARGET_DIR=<that>/target),
                      and reused while target/compare/<sha>/target/release/portcullis exists
  --rounds N          interleaved rounds (default 5)
  --fronts LIST       portcullis fronts to compare, comma separated (default portcullis,pc_full);
                      each runs next to its NAME@base twin (bench/proxy.sh --baseline)
  --duration S        seconds of load per front per round (proxy.sh's default: 5)
  --no-build          do not build the working tree (use target/release/portcullis as it is);
                      the base is still built if its cached binary is missing
  --base-bin PATH     use this binary as the base (no worktree, no build)
  --new-bin PATH      use this binary as the new one (no build)
  --min-ratio R       FAIL when a front's median new ÷ base req/s is below R (default 0.95)
  --max-cpu-rise PCT  FAIL when a front's CPU µs/req rose by more than PCT % (median of the
                      per-round new ÷ base ratios; default 5)
  --instructions      also run bench/instructions.sh BASE NEW (callgrind instructions/request,
                      noise-free; informational, not part of the verdict)
  --save              keep proxy.sh's report in bench/results/ (default: not saved)
  -- ...              the rest goes to bench/proxy.sh (e.g. -- --pc-threads 2 --sse)
EOF
}

die() { printf 'compare.sh: error: %s\n' "$*" >&2; exit 2; }
log() { printf '[compare.sh] %s\n' "$*" >&2; }

while (($#)); do
    case "$1" in
        --rev) REV="${2:?}"; shift 2 ;;
        --rounds) ROUNDS="${2:?}"; shift 2 ;;
        --fronts) FRONTS="${2:?}"; shift 2 ;;
        --duration) DURATION="${2:?}"; shift 2 ;;
        --no-build) NO_BUILD=1; shift ;;
        --base-bin) BASE_BIN="${2:?}"; shift 2 ;;
        --new-bin) NEW_BIN="${2:?}"; shift 2 ;;
        --min-ratio) MIN_RATIO="${2:?}"; shift 2 ;;
        --max-cpu-rise) MAX_CPU_RISE="${2:?}"; shift 2 ;;
        --instructions) INSTRUCTIONS=1; shift ;;
        --save) SAVE=1; shift ;;
        --) shift; PROXY_ARGS=("$@"); break ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown option: $1" ;;
    esac
done
[[ "$ROUNDS" =~ ^[0-9]+$ ]] && ((ROUNDS >= 1)) || die "--rounds wants a positive integer"
[[ -z "$DURATION" || "$DURATION" =~ ^[0-9]+$ ]] || die "--duration wants a positive integer"
[[ "$MIN_RATIO" =~ ^[0-9]*\.?[0-9]+$ && "$MAX_CPU_RISE" =~ ^[0-9]*\.?[0-9]+$ ]] \
    || die "--min-ratio and --max-cpu-rise want numbers"
FRONTS="${FRONTS//,/ }"
for f in $FRONTS; do
    [[ "$f" == portcullis || "$f" == portcullis_tls || "$f" == pc_* ]] && [[ "$f" != pc_redis && "$f" != *@base ]] \
        || die "--fronts: '$f' is not a portcullis front with an @base twin (portcullis, portcullis_tls, pc_*; not pc_redis)"
done
[[ -n "${FRONTS// /}" ]] || die "--fronts is empty"

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(dirname "$BENCH_DIR")"
abs() { echo "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"; }

TMP="$(mktemp -d /tmp/portcullis-compare.XXXXXX)"
trap 'rm -rf "$TMP"' EXIT

# ---------------------------------------------------------------------------------------------
# the base binary: REV built in its own cached worktree
BASE_DESC=""
if [[ -n "$BASE_BIN" ]]; then
    [[ -x "$BASE_BIN" ]] || die "--base-bin $BASE_BIN is not an executable file"
    BASE_BIN="$(abs "$BASE_BIN")"
    BASE_DESC="$BASE_BIN (--base-bin)"
else
    sha="$(git -C "$REPO_DIR" rev-parse --verify --quiet "$REV^{commit}")" || die "unknown revision: $REV"
    wt="$REPO_DIR/target/compare/$sha"
    BASE_BIN="$wt/target/release/portcullis"
    BASE_DESC="$REV = $(git -C "$REPO_DIR" log -1 --format='%h %s' "$sha" | cut -c1-100)"
    if [[ -x "$BASE_BIN" ]]; then
        log "base: cached $BASE_BIN"
    else
        command -v cargo >/dev/null 2>&1 || die "no cargo to build the base revision $REV"
        if [[ ! -e "$wt/.git" ]]; then
            git -C "$REPO_DIR" worktree prune   # forget worktrees whose directory is gone (cargo clean)
            rm -rf "$wt"
            mkdir -p "$(dirname "$wt")"
            log "base: git worktree add --detach $wt $sha"
            git -C "$REPO_DIR" worktree add --detach "$wt" "$sha" >&2 || die "git worktree add failed"
        fi
        log "base: cargo build --release in $wt (CARGO_TARGET_DIR=$wt/target; minutes the first time)"
        (cd "$wt" && CARGO_TARGET_DIR="$wt/target" timeout 3600 cargo build --release >&2) \
            || die "cargo build --release of $REV failed (in $wt)"
        [[ -x "$BASE_BIN" ]] || die "no $BASE_BIN after the build"
    fi
fi

# ---------------------------------------------------------------------------------------------
# the new binary: the working tree's, copied so that a rebuild during the run cannot change it
NEW_DESC=""
if [[ -n "$NEW_BIN" ]]; then
    [[ -x "$NEW_BIN" ]] || die "--new-bin $NEW_BIN is not an executable file"
    NEW_BIN="$(abs "$NEW_BIN")"
    NEW_DESC="$NEW_BIN (--new-bin)"
else
    target="${CARGO_TARGET_DIR:-$REPO_DIR/target}"
    if ((NO_BUILD == 0)); then
        command -v cargo >/dev/null 2>&1 || die "no cargo to build the working tree (use --no-build or --new-bin)"
        log "new: cargo build --release in $REPO_DIR"
        (cd "$REPO_DIR" && timeout 3600 cargo build --release >&2) || die "cargo build --release of the working tree failed"
    fi
    [[ -x "$target/release/portcullis" ]] || die "no $target/release/portcullis (build it, or drop --no-build)"
    cp "$target/release/portcullis" "$TMP/portcullis-new"
    NEW_BIN="$TMP/portcullis-new"
    NEW_DESC="working tree, HEAD $(git -C "$REPO_DIR" rev-parse --short HEAD)$(git -C "$REPO_DIR" diff --quiet HEAD 2>/dev/null || echo ' + uncommitted changes')"
fi

# ---------------------------------------------------------------------------------------------
# one proxy.sh run: every front next to its @base twin, interleaved
args=(--portcullis "$NEW_BIN" --baseline "$BASE_BIN" --no-build --fronts "${FRONTS// /,}"
      --rounds "$ROUNDS" --tsv "$TMP/runs.tsv")
[[ -n "$DURATION" ]] && args+=(--duration "$DURATION")
((SAVE)) || args+=(--no-save)
log "base: $BASE_DESC"
log "new:  $NEW_DESC"
LOAD="$(cut -d' ' -f1 /proc/loadavg)"
if awk -v l="$LOAD" 'BEGIN {exit !(l > 1.0)}'; then
    log "WARNING: load average $LOAD before the run: something else is busy; a verdict under load can be noise"
fi
bash "$BENCH_DIR/proxy.sh" "${args[@]}" "${PROXY_ARGS[@]}" || die "bench/proxy.sh failed"
[[ -s "$TMP/runs.tsv" ]] || die "bench/proxy.sh measured nothing"

INSTR=""
if ((INSTRUCTIONS)); then
    log "bench/instructions.sh $BASE_BIN $NEW_BIN (callgrind; a few minutes)"
    INSTR="$(bash "$BENCH_DIR/instructions.sh" "$BASE_BIN" "$NEW_BIN")" || die "bench/instructions.sh failed"
fi

echo
echo "## compare: new ÷ base"
echo
echo "- base: $BASE_DESC"
echo "- new:  $NEW_DESC"
echo "- $ROUNDS interleaved rounds, load average $LOAD before; FAIL below ${MIN_RATIO} req/s ratio or above +${MAX_CPU_RISE}% CPU/req (medians over rounds)"
echo
rc=0
python3 "$BENCH_DIR/proxy_stats.py" compare "$TMP/runs.tsv" "$MIN_RATIO" "$MAX_CPU_RISE" $FRONTS || rc=$?
if [[ -n "$INSTR" ]]; then
    echo
    echo "instructions per request (callgrind, base first; not part of the verdict):"
    echo "$INSTR"
fi
exit "$rc"
