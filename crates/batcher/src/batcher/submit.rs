//! Posting sealed channels: the DA put (or the calldata fallback when DA answers 503), signing
//! each inbox transaction, recording it, then sending it; and re-sending what was recorded but
//! not (or no longer) known to be sent.

use super::{Batcher, StepReport};
use crate::{
    BatcherError,
    store::{Plan, TxRecord},
};
use alloy_primitives::{Bytes, U256};
use ol_da::{ALT_DA_TX_VERSION, DaClient};
use ol_l1::{
    L1Client, L1Error,
    tx::{L1Call, SignedCall, send_signed, sign_call},
};
use ol_rollup::{channel::split_frames as frames, frame::encode_batcher_payload};
use tracing::{debug, warn};

/// Sends a recorded transaction. A refusal means the endpoint already has it (a re-send) or
/// its nonce was taken; either way waiting for its receipt, and the channel timeout, decide.
async fn broadcast<L: L1Client>(l1: &L, tx: &mut TxRecord) -> Result<(), BatcherError> {
    let signed = SignedCall {
        hash: tx.hash,
        nonce: tx.nonce,
        raw: tx.raw.clone(),
    };
    match send_signed(l1, &signed).await {
        Ok(_) => {}
        Err(L1Error::Rejected { message, .. }) => {
            debug!(hash = %tx.hash, %message, "endpoint refused a batcher transaction; waiting for its receipt");
        }
        Err(err) => return Err(err.into()),
    }
    tx.broadcast = true;
    metrics::counter!("batcher_l1_txs_total").increment(1);
    Ok(())
}

impl<L: L1Client, D: DaClient> Batcher<L, D> {
    pub(super) async fn send_pending(
        &mut self,
        report: &mut StepReport,
    ) -> Result<(), BatcherError> {
        let resend = self.resend_unconfirmed;
        for record in self.channels.values_mut() {
            let mut changed = false;
            for tx in &mut record.txs {
                let resending = resend && tx.broadcast && tx.included.is_none();
                if tx.broadcast && !resending {
                    continue;
                }
                broadcast(&self.l1, tx).await?;
                if resending {
                    metrics::counter!("batcher_rebroadcasts_total").increment(1);
                }
                report.txs_sent += 1;
                changed = true;
            }
            if changed {
                self.store.update(record)?;
            }
        }
        self.resend_unconfirmed = false;
        Ok(())
    }

    pub(super) async fn submit_sealed(
        &mut self,
        l1_head: u64,
        report: &mut StepReport,
    ) -> Result<(), BatcherError> {
        let unsent: Vec<u64> = self
            .channels
            .values()
            .filter(|record| record.planned_txs() != Some(record.txs.len()))
            .map(|record| record.seq)
            .collect();
        for seq in unsent {
            self.submit(seq, l1_head, report).await?;
        }
        Ok(())
    }

    /// Decides how channel `seq` is posted (DA, or calldata on failover) and signs, records and
    /// sends the transactions it still lacks.
    async fn submit(
        &mut self,
        seq: u64,
        l1_head: u64,
        report: &mut StepReport,
    ) -> Result<(), BatcherError> {
        let mut record = self.channels[&seq].clone();
        if record.plan.is_none() {
            let da_frames = frames(record.id, &record.data, self.config.da_frame_data_len());
            let payload = encode_batcher_payload(&da_frames)?;
            let size = payload.len();
            match self.da.put(payload.into()).await {
                Ok(commitment) => {
                    metrics::counter!("batcher_da_bytes_total").increment(size as u64);
                    debug!(channel = seq, %commitment, bytes = size, "channel stored in DA");
                    record.plan = Some(Plan::Da {
                        commitment: commitment.encode().into(),
                    });
                }
                Err(err) if err.should_fail_over() => {
                    let count = frames(
                        record.id,
                        &record.data,
                        self.config.calldata_frame_data_len(),
                    )
                    .len();
                    warn!(channel = seq, %err, frames = count, "DA failed over: posting the channel as L1 calldata");
                    metrics::counter!("batcher_calldata_fallbacks_total").increment(1);
                    report.fallbacks += 1;
                    record.plan = Some(Plan::Calldata {
                        // Bounded by `BatcherConfig::validate`.
                        frames: count as u16,
                    });
                }
                Err(err) => return Err(err.into()),
            }
            self.store.update(&record)?;
            self.channels.insert(seq, record.clone());
        }
        let inputs: Vec<Bytes> = match &record.plan {
            Some(Plan::Da { commitment }) => {
                let mut input = vec![ALT_DA_TX_VERSION];
                input.extend_from_slice(commitment);
                vec![input.into()]
            }
            Some(Plan::Calldata { .. }) => frames(
                record.id,
                &record.data,
                self.config.calldata_frame_data_len(),
            )
            .iter()
            .map(|frame| encode_batcher_payload(std::slice::from_ref(frame)).map(Bytes::from))
            .collect::<Result<_, _>>()?,
            None => Vec::new(),
        };
        for (item, input) in inputs.into_iter().enumerate().skip(record.txs.len()) {
            let call = L1Call {
                to: self.rollup.batch_inbox_address,
                value: U256::ZERO,
                input,
                gas_limit: None,
            };
            let signed = sign_call(&self.l1, &self.signer, self.rollup.l1_chain_id, call).await?;
            record.submitted_at.get_or_insert(l1_head);
            record.txs.push(TxRecord {
                hash: signed.hash,
                nonce: signed.nonce,
                raw: signed.raw,
                // Bounded by the frame count.
                item: item as u16,
                broadcast: false,
                included: None,
            });
            // Recorded before it is sent: a crash in between re-sends these exact bytes.
            self.store.update(&record)?;
            self.channels.insert(seq, record.clone());
            let tx = record.txs.last_mut().expect("just pushed");
            broadcast(&self.l1, tx).await?;
            self.store.update(&record)?;
            self.channels.insert(seq, record.clone());
            report.txs_sent += 1;
            debug!(channel = seq, hash = %record.txs[item].hash, item, "inbox transaction sent");
        }
        Ok(())
    }
}
