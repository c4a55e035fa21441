#!/usr/bin/env bash
# Installs what building and testing the node needs on a fresh Debian/Ubuntu machine:
# clang and libclang (RocksDB's build), the pinned npm tools (forge, cast, anvil, solc, and the
# viem and ethers clients of the dApp tests, puppeteer-core for the explorer's test in Debian's
# chromium; Hardhat 3 with its own Node.js 22 in tests/hardhat),
# and the Python packages of the test oracles (the independent state-root check; transformers +
# peft for the inference interop test) in a venv cached outside the clone. Safe to run again:
# it skips what is there.
#
#   scripts/setup.sh          # everything the tests need
#   scripts/setup.sh devnet   # only what scripts/devnet.sh needs (clang, the npm tools)
set -euo pipefail
cd "$(dirname "$0")/.."
only="${1:-all}"
case "$only" in
  all | devnet) ;;
  *) echo "usage: scripts/setup.sh [devnet]" >&2; exit 2 ;;
esac

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

if ! command -v clang >/dev/null || ! ls /usr/lib/llvm-*/lib/libclang*.so* >/dev/null 2>&1; then
  echo "==> installing clang and libclang-dev (apt)"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq clang libclang-dev >/dev/null
fi
# Debian's docker-compose validates docker/docker-compose.yml without a Docker engine.
if [ "$only" = all ] && ! command -v docker-compose >/dev/null; then
  echo "==> installing docker-compose (apt), to validate the compose file"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq docker-compose >/dev/null
fi

# Debian's Chromium, headless, renders the attribution explorer for its browser test.
if [ "$only" = all ] && ! command -v chromium >/dev/null; then
  echo "==> installing chromium (apt), for the explorer's browser test"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq chromium >/dev/null
fi

if [ ! -x node_modules/.bin/forge ] || [ ! -f node_modules/viem/package.json ] \
  || [ ! -f node_modules/ethers/package.json ] || [ ! -f node_modules/puppeteer-core/package.json ] \
  || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  # `npm install` rather than `npm ci`: the lock pins every version, but `npm ci` insists on
  # lock entries for the other platforms' optional Foundry binaries, which this registry lacks.
  echo "==> installing pinned npm tools (npm install, from package-lock.json)"
  npm install --no-audit --no-fund --loglevel=error
fi

[ "$only" = devnet ] && exit 0

# Hardhat 3 (tests/hardhat, its own npm project) needs Node.js 22, which the npm `node` package
# provides inside that project. npm skips optional packages whose engines the running Node.js does
# not meet (Hardhat's native EDR binding asks for Node.js 22), so a second pass runs npm under the
# Node.js 22 that the first pass installed.
if [ ! -x tests/hardhat/node_modules/.bin/hardhat ] || [ ! -x tests/hardhat/node_modules/.bin/node ] \
  || [ tests/hardhat/package-lock.json -nt tests/hardhat/node_modules/.package-lock.json ] \
  || ! ls -d tests/hardhat/node_modules/@nomicfoundation/edr-linux-* >/dev/null 2>&1; then
  echo "==> installing Hardhat 3 and Node.js 22 for the Hardhat test (npm install in tests/hardhat)"
  (
    cd tests/hardhat
    npm install --no-audit --no-fund --loglevel=error
    PATH="$PWD/node_modules/.bin:$PATH" npm install --no-audit --no-fund --loglevel=error
  )
fi

# The Python venv of the test oracles (tests/requirements.txt: the trie check, and torch +
# transformers + peft for the inference interop test, about 5.6 GB) lives outside the clone, like
# the cargo target of .ci/run, so a fresh clone on a warm machine reuses it; `.venv` in the clone
# is a link to it (scripts/test.sh puts `.venv/bin` on PATH).
VENV="${OPENLEDGER_VENV:-$HOME/.cache/openledger-venv}"
if [ ! -x "$VENV/bin/python" ]; then
  echo "==> creating the Python venv $VENV"
  mkdir -p "$(dirname "$VENV")"
  python3 -m venv "$VENV"
fi
if [ -d .venv ] && [ ! -L .venv ]; then
  # A venv made inside the clone by an older setup: replaced by the link.
  rm -rf .venv
fi
ln -sfn "$VENV" .venv
# Installing is skipped when every package is found (find_spec: no import, so no seconds spent
# importing torch) and the requirements are the ones installed last (a stamp of their hash).
REQ_HASH="$(sha256sum tests/requirements.txt | cut -d' ' -f1)"
if ! .venv/bin/python -c 'import importlib.util as u, sys
sys.exit(any(u.find_spec(m) is None for m in sys.argv[1:]))' \
  trie rlp eth_hash torch transformers peft safetensors openai 2>/dev/null \
  || [ ! -x .venv/bin/hadolint ] \
  || [ "$(cat "$VENV/.requirements.sha256" 2>/dev/null)" != "$REQ_HASH" ]; then
  echo "==> installing Python test requirements into $VENV (torch alone is ~5 GB the first time)"
  .venv/bin/pip install --quiet --disable-pip-version-check -r tests/requirements.txt
  echo "$REQ_HASH" >"$VENV/.requirements.sha256"
fi
