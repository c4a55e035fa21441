#!/usr/bin/env bash
# Sets up a fresh machine (clang for the build, the npm tools: `scripts/setup.sh devnet`) and
# starts a dev sequencer on the embedded defaults:
# chain id 1611, one block per second, JSON-RPC on http://127.0.0.1:8545, the ten funded
# accounts of the `test test ... junk` mnemonic. Extra arguments go to `openledger node`.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh devnet
exec cargo run --release --locked -p openledger -- node --dev "$@"
