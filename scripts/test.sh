#!/usr/bin/env bash
# The whole test suite: installs the real MCP software the interop tests drive (Python `mcp`,
# the TypeScript SDK, server-everything) into tests/interop/, then runs every Rust test.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/setup-interop.sh
cargo test --all-targets "$@"
