#!/usr/bin/env bash
# The whole rollup on this machine: anvil as L1 with the rollup's L1 contracts deployed
# (`openledger l1 deploy`), the built-in DA server, a sequencer running the batcher, the
# proposer, the job service (paid inference served, attributed, recorded, fulfilled and
# settled), the OpenAI-compatible inference API and the attribution explorer, and a follower
# that derives every block from L1 + DA and re-checks every attribution record. The model is the
# project's own small base model, trained from scratch here first (no weights are downloaded).
# Prints the endpoints and runs
# until Ctrl-C, which stops everything. State lives in $DEVNET_DIR (default .devnet/), wiped at
# each start. It installs what it needs first (scripts/setup.sh devnet: clang for the build, the
# npm tools for anvil), so a fresh clone needs only Rust, Node.js and curl.
#
#   scripts/devnet.sh                      # builds the release binary first
#   OPENLEDGER_BIN=/path/to/openledger scripts/devnet.sh
#
# docker/docker-compose.yml runs the same processes with the same flags in containers
# (tests/tests/operator checks that the two agree).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="${DEVNET_DIR:-$root/.devnet}"
l1_port="${L1_PORT:-8545}"
da_port="${DA_PORT:-3100}"
seq_port="${SEQUENCER_PORT:-9545}"
seq_ws_port="${SEQUENCER_WS_PORT:-$((seq_port + 1))}"
follower_port="${FOLLOWER_PORT:-10545}"
seq_metrics_port="${SEQUENCER_METRICS_PORT:-9001}"
follower_metrics_port="${FOLLOWER_METRICS_PORT:-9002}"
inference_port="${INFERENCE_PORT:-8000}"
explorer_port="${EXPLORER_PORT:-5100}"
seq_p2p_port="${SEQUENCER_P2P_PORT:-9222}"
follower_p2p_port="${FOLLOWER_P2P_PORT:-9223}"

"$root/scripts/setup.sh" devnet
anvil="$root/node_modules/.bin/anvil"

bin="${OPENLEDGER_BIN:-}"
if [[ -z "$bin" ]]; then
  (cd "$root" && cargo build --release --locked -p openledger)
  bin="${CARGO_TARGET_DIR:-$root/target}/release/openledger"
fi

# The dev mnemonic's accounts ("test ... junk"): 8 and 9 the batcher and proposer that
# `openledger l1 deploy` registers by default, 10 the attestor of its genesis, 11 the follower's
# verifier (which the sequencer lets read contributions), 13 the unsafe block signer (the
# sequencer's --p2p.sequencer.key.path, registered by `l1 deploy`). Public keys for a local devnet only;
# the nodes read them from files, as the containers read their mounted secrets.
keys="$root/docker/devnet-keys"
verifier_address=0x71bE63f3384f5fb98995898A86B02Fb2426c5788

rm -rf "$dir"
mkdir -p "$dir"
# Each process runs in its own session, so that Ctrl-C reaches only this script, which then
# stops each of them once (a node treats a second signal as "exit now").
pids=()
cleanup() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup INT TERM EXIT

wait_http() { # url name
  for _ in $(seq 1 100); do
    curl -sf -o /dev/null -X POST -H 'content-type: application/json' \
      --data '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}' "$1" && return 0
    curl -sf -o /dev/null "$1/health" && return 0
    sleep 0.2
  done
  echo "$2 did not come up on $1; see $dir/*.log" >&2
  exit 1
}

setsid "$anvil" --port "$l1_port" --block-time 2 >"$dir/anvil.log" 2>&1 &
pids+=($!)
l1="http://127.0.0.1:$l1_port"
wait_http "$l1" anvil

"$bin" l1 deploy --l1.rpc "$l1" --out "$dir/config" >"$dir/deploy.log" 2>&1
oracle="$(node -p "require('$dir/config/l1-deployment.json').l2OutputOracle")"
portal="$(node -p "require('$dir/config/l1-deployment.json').optimismPortal")"
for role in sequencer follower; do
  "$bin" init --genesis "$dir/config/genesis.json" --rollup-config "$dir/config/rollup.json" \
    --datadir "$dir/$role" >"$dir/init-$role.log" 2>&1
done

# The base model the job service and the inference API serve: a small Llama trained from
# scratch (byte-level BPE tokenizer included) on the generated corpus, in a few seconds.
"$bin" factory corpus --out "$dir/corpus" --contributors 8 --docs-per-contributor 4 \
  --sentences-per-doc 6 --canaries 0 --seed 11 >"$dir/corpus.log" 2>&1
"$bin" factory train --from-scratch --config "$root/docker/devnet-base.json" --vocab-size 400 \
  --docs "$dir/corpus" --out "$dir/base" --epochs 20 --lr 3e-3 --batch-size 8 --max-seq-len 64 \
  --warmup-steps 4 --seed 1 >"$dir/base.log" 2>&1
base="$dir/base/model"

setsid "$bin" da serve --datadir "$dir/da" --da.port "$da_port" >"$dir/da.log" 2>&1 &
pids+=($!)
da="http://127.0.0.1:$da_port"
wait_http "$da" "the DA server"

setsid "$bin" node --datadir "$dir/sequencer" --http --http.port "$seq_port" --ws --ws.port "$seq_ws_port" \
  --l1.rpc "$l1" --l1.confirmations 2 --l1.poll-interval 1s --da.url "$da" \
  --batcher.key-file "$keys/batcher.key" --batcher.max-channel-duration 2 \
  --proposer.key-file "$keys/proposer.key" --proposer.l2oo "$oracle" \
  --jobs.base-model "$base" --jobs.attestor-key "$keys/attestor.key" --jobs.settle \
  --content.verifier "$verifier_address" --inference.model "$base" --inference.port "$inference_port" \
  --explorer --explorer.port "$explorer_port" --explorer.verifier-url "http://127.0.0.1:$follower_port" \
  --p2p.listen.ip 127.0.0.1 --p2p.listen.tcp "$seq_p2p_port" \
  --p2p.sequencer.key.path "$keys/unsafe-signer.key" \
  --metrics "127.0.0.1:$seq_metrics_port" >"$dir/sequencer.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$seq_port" "the sequencer"

# The follower peers with the sequencer: its p2p address (with the peer id) from opp2p_self.
seq_p2p=""
for _ in $(seq 1 100); do
  seq_p2p="$(curl -sf -X POST -H 'content-type: application/json' \
    --data '{"jsonrpc":"2.0","id":1,"method":"opp2p_self","params":[]}' \
    "http://127.0.0.1:$seq_port" | grep -o '/ip4/127.0.0.1/tcp/[0-9]*/p2p/[0-9A-Za-z]*' | head -n1)" || true
  [[ -n "$seq_p2p" ]] && break
  sleep 0.2
done
[[ -n "$seq_p2p" ]] || { echo "the sequencer's p2p did not start (see $dir/sequencer.log)" >&2; exit 1; }

setsid "$bin" node --datadir "$dir/follower" --follow --http --http.port "$follower_port" \
  --l1.rpc "$l1" --l1.confirmations 1 --l1.poll-interval 1s --da.url "$da" \
  --rollup.sequencer-http "http://127.0.0.1:$seq_port" \
  --p2p.listen.ip 127.0.0.1 --p2p.listen.tcp "$follower_p2p_port" --p2p.static "$seq_p2p" \
  --verify-attributions --verify.base-model "$base" --verify.key "$keys/verifier.key" \
  --metrics "127.0.0.1:$follower_metrics_port" >"$dir/follower.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$follower_port" "the follower"
wait_http "http://127.0.0.1:$inference_port" "the inference API"
wait_http "http://127.0.0.1:$explorer_port" "the explorer"

cat <<INFO
OpenLedger devnet is up (state and logs in $dir):
  L1 (anvil)        $l1          chain id $(node -p "require('$dir/config/l1-deployment.json').l1ChainId")
  DA server         $da
  sequencer p2p     $seq_p2p   (unsafe blocks gossiped to the follower)
  sequencer RPC     http://127.0.0.1:$seq_port  ws://127.0.0.1:$seq_ws_port  metrics http://127.0.0.1:$seq_metrics_port/metrics
  follower RPC      http://127.0.0.1:$follower_port  (forwards transactions to the sequencer; verifies records)  metrics http://127.0.0.1:$follower_metrics_port/metrics
  explorer          http://127.0.0.1:$explorer_port
  inference API     http://127.0.0.1:$inference_port  (OpenAI-compatible under /v1; model "model": the base trained above)
  OptimismPortal    $portal   (deposit: cast send $portal 'depositTransaction(address,uint256,uint64,bool,bytes)' <to> <wei> 100000 false 0x --value <wei> ...)
  L2OutputOracle    $oracle
  L2 accounts: the 'test ... junk' mnemonic, 10,000 OPEN each; L2 chain id $(node -p "require('$dir/config/rollup.json').l2_chain_id")
Ctrl-C stops everything.
INFO
wait -n "${pids[@]}"
echo "a devnet process exited; stopping (see $dir/*.log)" >&2
