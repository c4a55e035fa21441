//! The follower's verifier (`--verify-attributions`): every record its chain carries is re-run
//! from the chain state at the request's block, the content store (filled from the sequencer's
//! as needed) and the base model's files, on the worker pool, and compared with what the
//! attestor wrote; the fulfilment's counted tokens are compared when it comes. Each verdict is
//! kept ([`Verifications`]), logged, and counted in the metrics.

use super::{
    Mismatch, compare,
    store::{Entry, Recorded, Verdict, Verifications},
};
use crate::{
    JobsError,
    executor::{Executor, Outcome},
    inputs::{ContentSource, Gather, LocalInputs, gather},
    journal::RequestInfo,
    scan::{SCAN_BATCH, block_logs},
};
use alloy_primitives::{Address, B256};
use alloy_sol_types::SolEvent;
use ol_chain::Chain;
use ol_content::ContentStore;
use ol_primitives::{
    addresses::{PROOF_OF_ATTRIBUTION, dev_suite::INFERENCE_MARKET},
    contracts::{IProofOfAttribution, InferenceMarket},
};
use ol_workers::{JobError, Priority, WorkerPool};
use std::{collections::BTreeMap, sync::Arc, time::Duration};
use tokio::sync::watch;
use tracing::{debug, info, warn};

/// Records checked per pass, so new blocks are taken in between long catch-ups.
const CHECKS_PER_PASS: usize = 8;

/// The verifier.
pub struct Verifier {
    chain: Arc<Chain>,
    content: Arc<dyn ContentStore>,
    source: Option<Arc<dyn ContentSource>>,
    store: Verifications,
    executor: Arc<Executor>,
    workers: Arc<WorkerPool>,
    reader: Address,
    /// The chain's unwind count the scan last saw.
    unwinds_seen: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("store", &self.store)
            .field("executor", &self.executor)
            .field("reader", &self.reader)
            .finish_non_exhaustive()
    }
}

impl Verifier {
    /// A verifier of `chain`'s records that reads contributions from `content`, fetching what
    /// it lacks from `source` (stored as uploaded by `reader`, the verifier's account, which
    /// also calls the view functions), keeps its verdicts in `store` and re-runs jobs with
    /// `executor` on `workers`.
    pub fn new(
        chain: Arc<Chain>,
        content: Arc<dyn ContentStore>,
        source: Option<Arc<dyn ContentSource>>,
        store: Verifications,
        executor: Executor,
        workers: Arc<WorkerPool>,
        reader: Address,
    ) -> Self {
        Self {
            unwinds_seen: std::sync::atomic::AtomicU64::new(chain.unwind_count()),
            chain,
            content,
            source,
            store,
            executor: Arc::new(executor),
            workers,
            reader,
        }
    }

    /// What the verifier knows of `request_id` (for `ol_verification`).
    pub fn entry(&self, request_id: B256) -> Result<Option<Entry>, JobsError> {
        self.store.get(request_id)
    }

    /// Runs until `shutdown` turns true: a pass on every new block and at least once a second.
    pub async fn run(
        self: Arc<Self>,
        mut shutdown: watch::Receiver<bool>,
    ) -> Result<(), JobsError> {
        let mut blocks = self.chain.subscribe();
        info!(target: "verify", reader = %self.reader, base = %self.executor.base_hash(), "attribution verifier started");
        loop {
            if *shutdown.borrow() {
                return Ok(());
            }
            let verifier = self.clone();
            tokio::task::spawn_blocking(move || verifier.pass())
                .await
                .map_err(|e| JobsError::Workers(format!("a verifier pass panicked: {e}")))??;
            tokio::select! {
                changed = shutdown.changed() => {
                    if changed.is_err() {
                        return Ok(());
                    }
                }
                _ = blocks.recv() => {}
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }

    /// One pass: take in new blocks, then check the records waiting for a verdict.
    fn pass(&self) -> Result<(), JobsError> {
        self.scan()?;
        for entry in self.store.open_entries()?.into_iter().take(CHECKS_PER_PASS) {
            let id = entry.request_id;
            if let Err(err) = self.check(entry) {
                // A read that failed or a source that did not answer: tried again next pass.
                warn!(target: "verify", request = %id, %err, "verification failed; retrying");
                metrics::counter!("verify_errors_total").increment(1);
            }
        }
        Ok(())
    }

    /// Takes in the requests, prompts, records and fulfilments of blocks after the cursor.
    fn scan(&self) -> Result<(), JobsError> {
        let head = self.chain.head().number;
        let from = crate::scan::scan_from(&self.chain, self.store.scanned()?, &self.unwinds_seen);
        for number in from..=head.min(from + SCAN_BATCH - 1) {
            let Some(logs) = block_logs(
                &self.chain,
                number,
                &[INFERENCE_MARKET, PROOF_OF_ATTRIBUTION],
            )?
            else {
                break;
            };
            let mut changed = BTreeMap::<B256, Entry>::new();
            for log in &logs {
                let (id, event) = if log.address == PROOF_OF_ATTRIBUTION {
                    let Ok(event) = IProofOfAttribution::AttributionRecorded::decode_log(log)
                    else {
                        continue;
                    };
                    (event.requestId, Seen::Recorded(recorded(&event, number)))
                } else if let Ok(event) = InferenceMarket::Requested::decode_log(log) {
                    (
                        event.requestId,
                        Seen::Requested(RequestInfo::from_event(&event, number)),
                    )
                } else if let Ok(event) = InferenceMarket::PromptSubmitted::decode_log(log) {
                    (event.requestId, Seen::Prompt(event.prompt.clone()))
                } else if let Ok(event) = InferenceMarket::Fulfilled::decode_log(log) {
                    (
                        event.requestId,
                        Seen::Fulfilled((event.tokensIn, event.tokensOut)),
                    )
                } else {
                    continue;
                };
                let entry = match changed.entry(id) {
                    std::collections::btree_map::Entry::Occupied(entry) => entry.into_mut(),
                    std::collections::btree_map::Entry::Vacant(slot) => {
                        slot.insert(self.store.get(id)?.unwrap_or_else(|| Entry::new(id)))
                    }
                };
                match event {
                    Seen::Requested(request) => entry.request = Some(request),
                    Seen::Prompt(prompt) => entry.prompt = Some(prompt),
                    Seen::Recorded(record) => entry.recorded = Some(record),
                    Seen::Fulfilled(tokens) => {
                        if fulfilled(entry, tokens) {
                            report(entry);
                        }
                    }
                }
            }
            self.store.commit_block(number, changed.values())?;
        }
        Ok(())
    }

    /// Re-runs the job of `entry`'s request and stores the verdict; leaves it unchecked while
    /// its inputs are not all there.
    fn check(&self, mut entry: Entry) -> Result<(), JobsError> {
        let (Some(request), Some(recorded)) = (&entry.request, &entry.recorded) else {
            return Ok(());
        };
        let Some(prompt) = &entry.prompt else {
            entry.verdict = Verdict::Unverifiable {
                reason: "the prompt is private (requestWithHash): it is not on chain".into(),
            };
            return self.conclude(&entry);
        };
        let inputs = LocalInputs {
            chain: &self.chain,
            from: self.reader,
            content: self.content.as_ref(),
            replicate: self.source.as_deref(),
        };
        let task = match gather(&inputs, request, prompt, self.executor.base_hash())? {
            Ok(task) => task,
            Err(Gather::Waiting(what)) => {
                debug!(target: "verify", request = %entry.request_id, %what, "waiting for inputs");
                return Ok(());
            }
            Err(Gather::Refused(reason)) => {
                entry.verdict = unservable(reason);
                return self.conclude(&entry);
            }
        };
        let executor = self.executor.clone();
        let outcome = self
            .workers
            .submit("verify", Priority::Low, move |_ctx| {
                executor.run(&task).map_err(JobError::failed)
            })
            .map_err(|e| JobsError::Workers(e.to_string()))?
            .wait()
            .map_err(|e| JobsError::Workers(e.to_string()))?;
        entry.verdict = match outcome {
            Outcome::Answer(answer) => {
                let mismatches = compare(&recorded.record, &answer);
                let tokens = (answer.tokens_in, answer.tokens_out);
                if mismatches.is_empty() {
                    Verdict::Agrees { tokens }
                } else {
                    Verdict::Mismatch {
                        mismatches,
                        tokens: Some(tokens),
                    }
                }
            }
            Outcome::Refused(reason) => unservable(reason),
        };
        self.conclude(&entry)
    }

    fn conclude(&self, entry: &Entry) -> Result<(), JobsError> {
        self.store.put(entry)?;
        report(entry);
        Ok(())
    }
}

/// An event of a block, for the entry of its request id.
enum Seen {
    Requested(RequestInfo),
    Prompt(alloy_primitives::Bytes),
    Recorded(Recorded),
    Fulfilled((u32, u32)),
}

fn recorded(event: &IProofOfAttribution::AttributionRecorded, block: u64) -> Recorded {
    Recorded {
        attestor: event.attestor,
        block,
        record: super::OnChain {
            output_hash: event.outputHash,
            method: event.method,
            contributors: event.contributors.clone(),
            weights_ppm: event.weightsPpm.clone(),
            evidence_root: event.evidenceRoot,
            tokens: None,
        },
    }
}

/// The verdict on a record of a request this node cannot serve: a record of a job that cannot
/// have run is not reproduced.
fn unservable(reason: String) -> Verdict {
    Verdict::Mismatch {
        mismatches: vec![Mismatch {
            field: "served".into(),
            recorded: "a record".into(),
            recomputed: format!("refused: {reason}"),
        }],
        tokens: None,
    }
}

/// Takes in the fulfilment's counted `tokens`; whether they turn an agreeing verdict into a
/// mismatch.
fn fulfilled(entry: &mut Entry, tokens: (u32, u32)) -> bool {
    if let Some(recorded) = &mut entry.recorded {
        recorded.record.tokens = Some(tokens);
    }
    let recomputed = match &entry.verdict {
        Verdict::Agrees { tokens } => *tokens,
        Verdict::Mismatch {
            tokens: Some(tokens),
            ..
        } => *tokens,
        _ => return false,
    };
    if recomputed == tokens {
        return false;
    }
    let mismatch = Mismatch {
        field: "tokens".into(),
        recorded: format!("{}/{}", tokens.0, tokens.1),
        recomputed: format!("{}/{}", recomputed.0, recomputed.1),
    };
    match &mut entry.verdict {
        Verdict::Mismatch { mismatches, .. } => {
            if !mismatches.iter().any(|m| m.field == "tokens") {
                mismatches.push(mismatch);
            }
            false
        }
        verdict => {
            *verdict = Verdict::Mismatch {
                mismatches: vec![mismatch],
                tokens: Some(recomputed),
            };
            true
        }
    }
}

/// Logs and counts a verdict just reached.
fn report(entry: &Entry) {
    let id = entry.request_id;
    let attestor = entry
        .recorded
        .as_ref()
        .map(|r| r.attestor)
        .unwrap_or_default();
    metrics::counter!("verify_records_total", "verdict" => entry.verdict.name()).increment(1);
    match &entry.verdict {
        Verdict::Agrees { .. } => {
            info!(target: "verify", request = %id, %attestor, "attribution record reproduced");
        }
        Verdict::Mismatch { mismatches, .. } => {
            let fields = mismatches
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ");
            warn!(target: "verify", request = %id, %attestor, %fields, "attribution record NOT reproduced");
            metrics::counter!("verify_mismatches_total").increment(1);
        }
        Verdict::Unverifiable { reason } => {
            info!(target: "verify", request = %id, %attestor, %reason, "attribution record cannot be checked");
        }
        Verdict::Unchecked => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fulfilment_with_other_tokens_turns_agreement_into_a_mismatch_once() {
        let mut entry = Entry::new(B256::repeat_byte(1));
        entry.verdict = Verdict::Agrees { tokens: (5, 7) };
        assert!(!fulfilled(&mut entry.clone(), (5, 7)));
        assert!(fulfilled(&mut entry, (5, 8)));
        let Verdict::Mismatch { mismatches, .. } = &entry.verdict else {
            panic!("a mismatch");
        };
        assert_eq!(
            mismatches[0].to_string(),
            "tokens: recorded 5/8, recomputed 5/7"
        );
        // Seen again (a rescan after a crash): flagged once, counted once.
        assert!(!fulfilled(&mut entry, (5, 8)));
        let Verdict::Mismatch { mismatches, .. } = &entry.verdict else {
            panic!("a mismatch");
        };
        assert_eq!(mismatches.len(), 1);
    }
}
