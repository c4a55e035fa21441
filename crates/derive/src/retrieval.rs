//! L1 retrieval: the frames an L1 block carries for the rollup.
//!
//! A batcher transaction is one sent to the rollup's batch inbox by the system config's batcher
//! (specs `protocol/derivation.md`, "L1 Retrieval"). Its data is versioned ("Batcher Transaction
//! Format"): version 0 carries frames as calldata; version 1 carries an Alt-DA commitment whose
//! payload, fetched from DA, is again `0x00 ++ frames` (specs `experimental/alt-da.md`,
//! "Derivation"). Malformed data is skipped with a warning, as the spec says; a DA service that
//! is down, or does not have a payload (HTTP 404: Alt-DA derivation stalls rather than skip), is
//! an error the caller retries, so a payload is never lost to a transient fault. A certificate
//! the DA service rejects (HTTP 418, eigenda-proxy's "drop this cert") is skipped. A payload that
//! does not match its keccak commitment is the DA service's fault, not the batcher's, and is
//! retried like an outage.

use crate::DeriveError;
use ol_da::{ALT_DA_TX_VERSION, CALLDATA_TX_VERSION, Commitment, DaClient, DaError};
use ol_l1::{L1BlockRef, L1Client, L1Transaction};
use ol_primitives::RollupConfig;
use ol_rollup::{Frame, frame::parse_batcher_payload};
use tracing::{debug, warn};

/// `MAX_L1_TX_SIZE` of the Alt-DA spec: keccak-committed payloads above it are skipped (only
/// type-0 commitments can be resolved on L1, so only they are capped).
pub const MAX_KECCAK_INPUT_SIZE: usize = 130_672;

fn ignored(
    block: &L1BlockRef,
    tx: &L1Transaction,
    reason: &'static str,
    detail: &dyn std::fmt::Display,
) {
    warn!(block = block.number, tx = %tx.hash, reason, %detail, "ignoring batcher transaction");
    metrics::counter!("derive_batcher_txs_ignored_total", "reason" => reason).increment(1);
}

/// The frames of L1 block `block`'s batcher transactions, in block order. Reads the block's
/// transactions and resolves Alt-DA commitments; changes nothing, so an error can be retried.
pub(crate) async fn block_frames<L: L1Client, D: DaClient>(
    l1: &L,
    da: &D,
    rollup: &RollupConfig,
    block: &L1BlockRef,
) -> Result<Vec<Frame>, DeriveError> {
    let batcher = rollup.genesis.system_config.batcher_addr;
    let mut frames = Vec::new();
    for tx in l1.block_transactions(block.hash).await? {
        if tx.to != Some(rollup.batch_inbox_address) || tx.from != batcher {
            continue;
        }
        let (payload, source) = match tx.input.first() {
            None => {
                ignored(block, &tx, "empty", &"no data");
                continue;
            }
            Some(&CALLDATA_TX_VERSION) => (tx.input.clone(), "calldata"),
            Some(&ALT_DA_TX_VERSION) => {
                let commitment = match Commitment::from_tx_data(&tx.input) {
                    Ok(commitment) => commitment,
                    Err(err) => {
                        ignored(block, &tx, "bad_commitment", &err);
                        continue;
                    }
                };
                match da.get(&commitment).await {
                    Ok(payload) => {
                        if matches!(commitment, Commitment::Keccak(_))
                            && payload.len() > MAX_KECCAK_INPUT_SIZE
                        {
                            ignored(block, &tx, "keccak_payload_too_large", &payload.len());
                            continue;
                        }
                        (payload, "da")
                    }
                    Err(err @ DaError::InvalidCert(_)) => {
                        ignored(block, &tx, "da_rejected_cert", &err);
                        continue;
                    }
                    Err(source) => {
                        return Err(DeriveError::Da {
                            commitment: commitment.to_string(),
                            source,
                        });
                    }
                }
            }
            Some(&version) => {
                ignored(block, &tx, "unknown_version", &version);
                continue;
            }
        };
        match parse_batcher_payload(&payload) {
            Ok(parsed) => {
                debug!(block = block.number, tx = %tx.hash, source, frames = parsed.len(), "batcher transaction");
                metrics::counter!("derive_batcher_txs_total", "source" => source).increment(1);
                frames.extend(parsed);
            }
            Err(err) => ignored(block, &tx, "bad_frames", &err),
        }
    }
    Ok(frames)
}
