#!/usr/bin/env bash
# Runs every test of the project: formatting and lints, the contracts (forge, artifacts up to
# date, genesis up to date), and the whole Rust workspace including the end-to-end tests that
# start the real node and drive it with alloy, cast, anvil, viem and the Python trie oracle.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh

export PATH="$PWD/.venv/bin:$PWD/node_modules/.bin:$PATH"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"

echo "==> contracts: forge test, artifacts up to date"
(cd contracts && forge test)
contracts/export-artifacts.sh --check

echo "==> rust: fmt, clippy"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "==> rust: build the node, then run every test"
cargo build --locked -p openledger
export OPENLEDGER_BIN="$CARGO_TARGET_DIR/debug/openledger"
cargo test --workspace --locked

echo "==> fuzz: the decoders, 20 s each (cargo-fuzz, nightly)"
./scripts/fuzz.sh
