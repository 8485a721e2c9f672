#!/usr/bin/env bash
# The contract test runs Shopify's @shopify/shopify-api (Node) against the devstore.
# Installs it from tests/contract/package-lock.json when Node is there; without Node the
# test skips locally with a clear message (and fails on CI, where it must run).
set -euo pipefail
dir="$(cd "$(dirname "$0")/../tests/contract" && pwd)"
if ! command -v npm >/dev/null 2>&1; then
  echo "npm not found: the contract test will skip (install Node.js >= 20 to run it)" >&2
  exit 0
fi
stamp="$dir/node_modules/.installed-stamp"
if [ ! -f "$stamp" ] || [ "$dir/package-lock.json" -nt "$stamp" ]; then
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  touch "$stamp"
fi
