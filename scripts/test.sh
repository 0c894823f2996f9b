#!/usr/bin/env bash
# The whole test suite: installs the real MCP software the interop tests drive (Python `mcp`,
# the TypeScript SDK, server-everything) into tests/interop/ and the browser of the dashboard
# test (tests/browser/), then runs every Rust test.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# The TLS tests drive the openssl and curl command-line tools; the state tests spawn their own
# redis-server (on a free port, killed and restarted by the fault tests).
missing=()
for tool in openssl curl; do command -v "$tool" >/dev/null || missing+=("$tool"); done
command -v redis-server >/dev/null || missing+=(redis-server)
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq && apt-get install -y -qq "${missing[@]}"
fi
bash scripts/setup-interop.sh
# The dashboard test drives headless Chromium (Debian chromium + chromium-driver, Selenium).
bash scripts/setup-browser.sh
cargo test --all-targets "$@"
