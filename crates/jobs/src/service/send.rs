//! What the service sends from the attestor key: one call per transaction, or the calls of
//! many jobs in one `AttestorBatch` transaction, and replacements of stuck ones.

use super::{HaltPoint, JobService, MAX_BATCH_GAS, MAX_IN_FLIGHT};
use crate::{
    JobsError,
    attestor::Attestor,
    journal::{Answer, Job},
};
use alloy_primitives::{Address, B256, Bytes};
use alloy_sol_types::SolCall;
use ol_primitives::{
    addresses::{PROOF_OF_ATTRIBUTION, dev_suite::INFERENCE_MARKET},
    contracts::{IProofOfAttribution, InferenceMarket},
};
use tracing::{debug, info};

/// What a job needs sent, as [`JobService::advance`] finds it.
#[derive(Debug)]
pub(super) enum Step {
    /// Nothing (the job moved on in the journal, or waits).
    Idle,
    /// It moved to a stage with more to do (journaled): advance it again at once, so that a
    /// batch seen in a block finishes every stage it carried in one pass.
    Moved(Job),
    /// Its pooled transaction is stuck below the next base fee.
    Replace(Job, B256),
    /// Calls to send.
    Send(Outgoing),
}

/// A job's calls, in order, from the attestor.
#[derive(Debug)]
pub(super) struct Outgoing {
    pub(super) job: Job,
    pub(super) calls: Vec<(Address, Bytes)>,
    /// The points passed once they are sent.
    pub(super) halts: Vec<HaltPoint>,
}

impl JobService {
    /// Replaces the pooled transaction `tx` of `jobs` (every job it carries) when the base fee
    /// has risen above what it pays, journaling the replacement's hash in each before sending
    /// it, as for any transaction.
    pub(super) fn replace_if_stuck(&self, mut jobs: Vec<Job>, tx: B256) -> Result<(), JobsError> {
        let Some((hash, raw)) = self.attestor.replacement_if_stuck(tx)? else {
            return Ok(());
        };
        info!(target: "jobs", jobs = jobs.len(), stuck = %tx, replacement = %hash, "fee bumped");
        metrics::counter!("jobs_fee_bumps_total").increment(1);
        for job in &mut jobs {
            job.stage.set_last_transaction(hash);
        }
        self.journal.put_all(&jobs)?;
        self.attestor.send(&raw)?;
        Ok(())
    }

    /// Sends the first of `calls` as `job`'s next transaction, unless `MAX_IN_FLIGHT` of the
    /// attestor's transactions are pending already: one call per transaction, each waiting
    /// for the state the one before it leaves (a fulfilment is estimated on a recorded
    /// request). The hash is journaled before the bytes leave: after a crash the service looks
    /// for this transaction before it sends another.
    pub(super) fn submit_single(&self, outgoing: Outgoing) -> Result<(), JobsError> {
        let Outgoing {
            mut job,
            calls,
            halts,
        } = outgoing;
        let Some((to, input)) = calls.first() else {
            return Ok(());
        };
        if self.attestor.in_flight()? >= MAX_IN_FLIGHT {
            return Ok(());
        }
        let (hash, raw) = self.attestor.sign(*to, input.clone())?;
        job.stage.set_last_transaction(hash);
        self.journal.put(&job)?;
        self.attestor.send(&raw)?;
        if let Some(point) = halts.first() {
            self.reached(*point);
        }
        Ok(())
    }

    /// Sends the calls of `jobs` in one `AttestorBatch.execute` transaction (split in halves
    /// while its gas is over [`MAX_BATCH_GAS`]), journaling its hash in every job in one write
    /// before the bytes leave.
    pub(super) fn submit_batch(&self, mut jobs: Vec<Outgoing>) -> Result<(), JobsError> {
        if jobs.is_empty() || self.attestor.in_flight()? >= MAX_IN_FLIGHT {
            return Ok(());
        }
        let calls: Vec<(Address, Bytes)> =
            jobs.iter().flat_map(|o| o.calls.iter().cloned()).collect();
        let input = Attestor::batch_input(&calls);
        let to = self.attestor.address();
        let gas = self.attestor.estimate(to, input.clone())?;
        if gas > MAX_BATCH_GAS && jobs.len() > 1 {
            let second = jobs.split_off(jobs.len() / 2);
            self.submit_batch(jobs)?;
            return self.submit_batch(second);
        }
        let (hash, raw) = self.attestor.sign_with_gas(to, input, gas)?;
        let mut halts = Vec::new();
        let mut journaled = Vec::with_capacity(jobs.len());
        for Outgoing {
            mut job,
            halts: passed,
            ..
        } in jobs
        {
            job.stage.set_last_transaction(hash);
            journaled.push(job);
            halts.extend(passed);
        }
        self.journal.put_all(&journaled)?;
        self.attestor.send(&raw)?;
        debug!(target: "jobs", tx = %hash, jobs = journaled.len(), calls = calls.len(), gas, "batch sent");
        metrics::counter!("jobs_batches_total").increment(1);
        metrics::histogram!("jobs_batch_calls").record(calls.len() as f64);
        for point in halts {
            self.reached(point);
        }
        Ok(())
    }

    /// The calls that finish a job from `answer` on: `record` (when `with_record`), `fulfill`
    /// and `settle` (when the service settles). A public request's output goes on chain with
    /// the counts; a private one's stays with the requester (`ol_getInference`).
    pub(super) fn closing_calls(
        &self,
        id: B256,
        answer: &Answer,
        prompt_on_chain: bool,
        with_record: bool,
    ) -> Vec<(Address, Bytes)> {
        let mut calls = Vec::with_capacity(3);
        if with_record {
            let record = IProofOfAttribution::recordCall {
                requestId: id,
                outputHash: answer.output_hash,
                method: answer.method,
                contributors: answer.contributors.clone(),
                weightsPpm: answer.weights_ppm.clone(),
                evidenceRoot: answer.evidence_root,
            };
            calls.push((PROOF_OF_ATTRIBUTION, record.abi_encode().into()));
        }
        let output = if prompt_on_chain {
            answer.output.clone().into_bytes().into()
        } else {
            Bytes::new()
        };
        let fulfill = InferenceMarket::fulfillCall {
            requestId: id,
            tokensIn: answer.tokens_in,
            tokensOut: answer.tokens_out,
            output,
        };
        calls.push((INFERENCE_MARKET, fulfill.abi_encode().into()));
        if self.settle {
            calls.push(settle_call(id));
        }
        calls
    }
}

/// `InferenceMarket.settle(id)`.
pub(super) fn settle_call(id: B256) -> (Address, Bytes) {
    let settle = InferenceMarket::settleCall { requestId: id };
    (INFERENCE_MARKET, settle.abi_encode().into())
}
