#!/usr/bin/env bash
# Install what the Portcullis dashboard browser test (tests/browser/dashboard_check.py) needs:
#   chromium, chromedriver   Debian packages chromium + chromium-driver (apt, only when missing)
#   tests/browser/.venv      Python venv with tests/browser/requirements.txt (selenium)
#
# Idempotent and fast when nothing changed: a stamp file records the hash of the inputs
# (requirements.txt + interpreter version); the pip install is skipped when the stamp matches.
# Prints the resolved paths (CHROMIUM=, CHROMEDRIVER=, PYTHON=) on stdout.
#
# Usage: scripts/setup-browser.sh [--force] [--no-apt]
# Env:   PYTHON (default python3), CHROMIUM / CHROMEDRIVER (use these binaries instead of apt's)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="$ROOT/tests/browser"
PYTHON="${PYTHON:-python3}"

force=0; do_apt=1
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    --no-apt) do_apt=0 ;;
    -h|--help) sed -n '2,11p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "setup-browser: unknown argument: $arg" >&2; exit 2 ;;
  esac
done

log() { echo "setup-browser: $*" >&2; }

# Serialise concurrent runs (apt and pip both dislike being run twice at once).
# shellcheck source=scripts/setup-lib.sh
source "$ROOT/scripts/setup-lib.sh"
setup_lock setup-browser "$DIR"

# ---------------------------------------------------------------- browser + driver
setup_browser() {
  local chromium="${CHROMIUM:-}" driver="${CHROMEDRIVER:-}"
  [ -n "$chromium" ] || chromium="$(command -v chromium || true)"
  [ -n "$driver" ] || driver="$(command -v chromedriver || true)"
  if [ -z "$chromium" ] || [ -z "$driver" ]; then
    if [ "$do_apt" = 0 ]; then
      log "chromium/chromedriver missing and --no-apt given"; return 1
    fi
    command -v apt-get >/dev/null || { log "apt-get not found; install chromium + chromedriver by hand"; return 1; }
    local sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    log "installing Debian chromium + chromium-driver"
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
    chromium="${CHROMIUM:-$(command -v chromium || true)}"
    driver="${CHROMEDRIVER:-$(command -v chromedriver || true)}"
  else
    log "chromium + chromedriver already present"
  fi
  [ -x "$chromium" ] || { log "chromium not found after install"; return 1; }
  [ -x "$driver" ] || { log "chromedriver not found after install"; return 1; }
  CHROMIUM_PATH="$chromium"; DRIVER_PATH="$driver"
  log "$("$chromium" --headless --version 2>/dev/null || "$chromium" --version 2>/dev/null || echo 'chromium (version unknown)')"
  log "$("$driver" --version 2>/dev/null | head -1)"
}

# ---------------------------------------------------------------- Python side
setup_python() {
  local venv="$DIR/.venv" req="$DIR/requirements.txt" stamp="$DIR/.venv/.portcullis-stamp"
  command -v "$PYTHON" >/dev/null || { log "$PYTHON not found"; return 1; }
  local pyver; pyver="$("$PYTHON" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')"
  local want; want="$(hash_of "$req" "python=$pyver")"
  if [ "$force" = 0 ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] \
     && [ -x "$venv/bin/python" ] && compgen -G "$venv/lib/python*/site-packages/selenium/__init__.py" >/dev/null; then
    log "python venv up to date ($venv)"
    return 0
  fi
  if [ ! -x "$venv/bin/python" ] || [ "$force" = 1 ]; then
    log "creating venv $venv (python $pyver)"
    rm -rf "$venv"
    "$PYTHON" -m venv "$venv"
  fi
  log "pip install -r $req"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
  "$venv/bin/python" -c 'from selenium import webdriver; from selenium.webdriver.chrome.service import Service' \
    || { log "selenium import check failed"; return 1; }
  printf '%s\n' "$want" > "$stamp"
  log "python side installed: $("$venv/bin/python" -m pip show selenium 2>/dev/null | sed -n 's/^Version: /selenium /p')"
}

setup_browser
setup_python
echo "CHROMIUM=$CHROMIUM_PATH"
echo "CHROMEDRIVER=$DRIVER_PATH"
echo "PYTHON=$DIR/.venv/bin/python"
log "done"
