#!/usr/bin/env bash
# Runs the decoder fuzz targets (cargo-fuzz, libFuzzer with AddressSanitizer on nightly) for a
# short while each: frames, channels, batches and deposit logs, the L1-info decoder, then the
# model-file loaders of ol-inference (config.json, generation_config.json, chat templates,
# adapter_config.json and PEFT adapters from bytes), the gradient store, and gossiped block
# messages (ol-p2p). A crash fails the script and leaves the
# input under fuzz/artifacts/<target>/.
#   scripts/fuzz.sh            # FUZZ_SECONDS=20 per target
#   FUZZ_SECONDS=600 scripts/fuzz.sh frame_decode
# The EVM targets (poa_precompile, raw_transaction) need `--features evm`:
#   cargo +nightly fuzz run --features evm poa_precompile
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${FUZZ_SECONDS:-20}"
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(frame_decode channel_read batch_decode deposit_log l1_info_decode model_files gradient_store gossip_block)

if ! rustup toolchain list | grep -q '^nightly'; then
  rustup toolchain install nightly --profile minimal
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi
# The fuzz build has its own target directory: its sanitizer flags would invalidate the
# workspace's artifacts.
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-${CARGO_TARGET_DIR:-$PWD/target}-fuzz}"
for target in "${targets[@]}"; do
  # Built first and on its own, so a compile error fails the script instead of vanishing in the
  # filtered output of the run.
  cargo +nightly fuzz build "$target"
  echo "==> fuzz $target for ${seconds}s"
  cargo +nightly fuzz run "$target" -- -max_total_time="$seconds" -print_final_stats=1 2>&1 \
    | grep -E "^(stat::number_of_executed_units|stat::peak_rss_mb|INFO: Running|==|SUMMARY)" || true
  # A crash makes cargo fuzz exit non-zero; pipefail would hide it behind grep, so check.
  if compgen -G "fuzz/artifacts/$target/crash-*" >/dev/null; then
    echo "fuzz target $target crashed; inputs in fuzz/artifacts/$target/" >&2
    exit 1
  fi
done
