#!/usr/bin/env bash
# Builds the contracts with the pinned forge/solc and exports the artifacts the Rust crates and the
# genesis read (ABI + creation and runtime bytecode) to contracts/artifacts/<Contract>.json.
# With --check it exports to a temporary folder and fails when the committed artifacts differ.
set -euo pipefail
cd "$(dirname "$0")"
FORGE=../node_modules/.bin/forge
EXPORTED=(L1Block L2ToL1MessagePasser EventEmitter CallTree CallTreeChild BenchToken
  IProofOfAttribution ProofOfAttributionImpl Governance TimelockController DatanetRegistry ModelRegistry Staking
  InferenceMarket AttestorBatch OptimismPortal L2OutputOracle SystemConfig)
"$FORGE" build --quiet
dest=artifacts
if [ "${1:-}" = "--check" ]; then dest=$(mktemp -d); fi
mkdir -p "$dest"
for name in "${EXPORTED[@]}"; do
  src=$(find out -path "*/$name.sol/$name.json" | head -n 1)
  [ -n "$src" ] || { echo "no artifact for $name" >&2; exit 1; }
  node -e '
    const a = require(process.argv[1]);
    if (!a.bytecode || !a.deployedBytecode) {
      // `forge lint` after a source edit caches ABI-only artifacts that `forge build` then reuses.
      console.error(`${process.argv[1]} has no bytecode (stale forge cache): run \`forge build --force\``);
      process.exit(1);
    }
    const out = { contractName: process.argv[2], abi: a.abi, bytecode: a.bytecode.object, deployedBytecode: a.deployedBytecode.object };
    process.stdout.write(JSON.stringify(out, null, 2) + "\n");
  ' "$PWD/$src" "$name" > "$dest/$name.json"
done
if [ "${1:-}" = "--check" ]; then
  if ! diff -r artifacts "$dest" >/dev/null; then
    echo "contracts/artifacts is stale: run contracts/export-artifacts.sh and commit the result" >&2
    diff -r artifacts "$dest" | head -20 >&2
    exit 1
  fi
  echo "contracts/artifacts is up to date"
fi
