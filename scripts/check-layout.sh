#!/usr/bin/env bash
# The layout check (see ARCHITECTURE.md): every import between top-level rooms points down the
# layer list, no import cycle inside a folder, no stray file at the src/ root. Exit 1 names each
# offending import with the files it stands in.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
exec python3 "$ROOT/scripts/check_layout.py" "$ROOT" "$@"
