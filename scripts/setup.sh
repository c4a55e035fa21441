#!/usr/bin/env bash
# Installs what building and testing the node needs on a fresh Debian/Ubuntu machine:
# clang and libclang (RocksDB's build), the pinned npm tools (forge, cast, anvil, solc, and the
# viem client of the dApp test), and the Python packages of the independent state-root check. Safe to run again: it skips what is there.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

if ! command -v clang >/dev/null || ! ls /usr/lib/llvm-*/lib/libclang*.so* >/dev/null 2>&1; then
  echo "==> installing clang and libclang-dev (apt)"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq clang libclang-dev >/dev/null
fi

if [ ! -x node_modules/.bin/forge ] || [ ! -f node_modules/viem/package.json ] \
  || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  # `npm install` rather than `npm ci`: the lock pins every version, but `npm ci` insists on
  # lock entries for the other platforms' optional Foundry binaries, which this registry lacks.
  echo "==> installing pinned npm tools (npm install, from package-lock.json)"
  npm install --no-audit --no-fund --loglevel=error
fi

if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv for the Python test oracle"
  python3 -m venv .venv
fi
if ! .venv/bin/python -c 'import trie, rlp, eth_hash' 2>/dev/null; then
  echo "==> installing Python test requirements"
  .venv/bin/pip install --quiet -r tests/requirements.txt
fi
