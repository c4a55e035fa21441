//! The service loop: scan sealed blocks for requests, gather each job's inputs from chain
//! state and the content store, run it on the worker pool, then record and fulfil it from the
//! attestor key, one journaled step at a time.

use crate::{
    JobsError,
    attestor::{Attestor, Sending, TxState},
    executor::{Executor, METHODS_RUN, Outcome},
    inputs::{AdapterInputs, Gather, LocalInputs, check_prompt, gather_adapter, task},
    journal::{Job, Journal, RequestInfo, Stage},
    private::PrivateError,
};
use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_sol_types::{SolCall, SolEvent};
use ol_chain::Chain;
use ol_content::ContentStore;
use ol_primitives::{
    addresses::{
        PROOF_OF_ATTRIBUTION,
        dev_suite::{INFERENCE_MARKET, MODEL_REGISTRY},
    },
    contracts::{IProofOfAttribution, InferenceMarket, ModelRegistry},
};
use ol_workers::{Priority, WorkerPool};
use parking_lot::Mutex;
use std::{
    collections::{BTreeMap, HashMap, HashSet, hash_map::Entry},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};
use tokio::sync::{mpsc, watch};
use tracing::{debug, info, warn};

mod send;
use send::{Outgoing, Step};

/// Most attestor transactions waiting in the pool at once: the pool refuses a nonce more than
/// 64 above the account's, so the service holds back instead of being refused.
const MAX_IN_FLIGHT: u64 = 48;

/// How long after the last pass results are gathered before the next one: a block time (1 s
/// on the dev chain) holds several such passes, each sending what was answered since.
const RESULT_COALESCING: Duration = Duration::from_millis(200);

/// Most jobs whose calls share one batch transaction.
const MAX_BATCH_JOBS: usize = 24;

/// Most gas of one batch transaction: a batch estimated above it is split (a quarter of a
/// 60M-gas block, and well under EIP-7825's 2^24 cap on one transaction).
const MAX_BATCH_GAS: u64 = 15_000_000;

/// `InferenceMarket.Status` values the service acts on.
const STATUS_OPEN: u8 = 1;
const STATUS_FULFILLED: u8 = 2;

/// An adapter as `ol_listAdapters` lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AdapterListing {
    /// Its id.
    pub adapter_id: U256,
    /// Its base model.
    pub base_model_id: U256,
    /// Who registered it.
    pub owner: Address,
    /// Its content hash.
    pub adapter_hash: B256,
    /// Wei per 1,000 prompt tokens.
    pub price_in_per_1k: u128,
    /// Wei per 1,000 output tokens.
    pub price_out_per_1k: u128,
    /// The attribution method its inferences are attributed with (`AttributionMethod`).
    pub attribution_method: u8,
    /// Whether it is active on chain.
    pub active: bool,
    /// Whether this node serves it.
    pub served: bool,
}

/// What each (request block, adapter) brings to its jobs, read once per pass.
type Gathered = HashMap<(u64, U256), Result<AdapterInputs, Gather>>;

/// A worker's result for a request: the outcome, or the node-side error to retry after.
type Finished = (B256, Result<Outcome, String>);

/// The job service.
pub struct JobService {
    chain: Arc<Chain>,
    content: Arc<dyn ContentStore>,
    journal: Journal,
    executor: Arc<Executor>,
    attestor: Attestor,
    workers: Arc<WorkerPool>,
    running: Mutex<HashSet<B256>>,
    results: mpsc::UnboundedSender<Finished>,
    inbox: Mutex<Option<mpsc::UnboundedReceiver<Finished>>>,
    halt_after: Option<HaltPoint>,
    halted: AtomicBool,
    /// The chain's unwind count the scan last saw.
    unwinds_seen: std::sync::atomic::AtomicU64,
    /// Serialises `ol_submitPrompt` writes.
    prompts: Mutex<()>,
    /// Whether the service settles what it fulfilled.
    settle: bool,
}

/// A point in a job's life after which the service can be told to halt (stop working, without
/// exiting), so that a crash test kills the node exactly there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HaltPoint {
    /// A request journaled.
    Requested,
    /// An answer journaled.
    Answered,
    /// The `record` transaction put into the pool.
    RecordSent,
    /// The `fulfill` transaction put into the pool.
    FulfillSent,
}

impl std::str::FromStr for HaltPoint {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "requested" => Ok(Self::Requested),
            "answered" => Ok(Self::Answered),
            "record-sent" => Ok(Self::RecordSent),
            "fulfill-sent" => Ok(Self::FulfillSent),
            other => Err(format!(
                "unknown halt point {other:?} (requested, answered, record-sent, fulfill-sent)"
            )),
        }
    }
}

impl std::fmt::Debug for JobService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobService")
            .field("journal", &self.journal)
            .field("executor", &self.executor)
            .field("attestor", &self.attestor)
            .finish_non_exhaustive()
    }
}

impl JobService {
    /// A service over `chain` that reads contributions and adapters from `content`, keeps its
    /// journal in `journal`, runs jobs with `executor` on `workers` (at normal priority: the
    /// node shares the pool with the inference API, whose steps go first) and sends from
    /// `attestor`.
    pub fn new(
        chain: Arc<Chain>,
        content: Arc<dyn ContentStore>,
        journal: Journal,
        executor: Executor,
        attestor: Attestor,
        workers: Arc<WorkerPool>,
    ) -> Self {
        let (results, inbox) = mpsc::unbounded_channel();
        let chain_unwinds = chain.unwind_count();
        Self {
            chain,
            content,
            journal,
            executor: Arc::new(executor),
            attestor,
            workers,
            running: Mutex::new(HashSet::new()),
            results,
            inbox: Mutex::new(Some(inbox)),
            halt_after: None,
            halted: AtomicBool::new(false),
            unwinds_seen: std::sync::atomic::AtomicU64::new(chain_unwinds),
            prompts: Mutex::new(()),
            settle: false,
        }
    }

    /// Also settles every request the service fulfilled (`InferenceMarket.settle`, from the
    /// attestor key), so the fee is split without waiting for someone else to.
    pub const fn with_settle(mut self) -> Self {
        self.settle = true;
        self
    }

    /// Halts the service (it stops working but keeps running) the first time a job passes
    /// `point`: a fault-injection aid for crash tests.
    pub const fn with_halt_after(mut self, point: HaltPoint) -> Self {
        self.halt_after = Some(point);
        self
    }

    fn reached(&self, point: HaltPoint) {
        if self.halt_after == Some(point) && !self.halted.swap(true, Ordering::SeqCst) {
            warn!(target: "jobs", ?point, "job service halted (--jobs.halt-after)");
        }
    }

    fn is_halted(&self) -> bool {
        self.halted.load(Ordering::SeqCst)
    }

    /// Adapters `first..first + limit` (ids from 1) as registered at the head, with whether
    /// this node serves each: its base model is the one loaded, it is active and its bundle is
    /// in the content store.
    pub fn adapters(&self, first: u64, limit: u64) -> Result<Vec<AdapterListing>, JobsError> {
        let from = self.attestor.address();
        let count: U256 =
            self.chain
                .view(from, MODEL_REGISTRY, &ModelRegistry::adapterCountCall {})?;
        let count = u64::try_from(count).unwrap_or(u64::MAX);
        let mut out = Vec::new();
        for id in first.max(1)..=count.min(first.max(1).saturating_add(limit).saturating_sub(1)) {
            let adapter = self.chain.view(
                from,
                MODEL_REGISTRY,
                &ModelRegistry::getAdapterCall {
                    adapterId: U256::from(id),
                },
            )?;
            let base = self.chain.view(
                from,
                MODEL_REGISTRY,
                &ModelRegistry::getBaseModelCall {
                    baseModelId: adapter.baseModelId,
                },
            )?;
            let held = self.content.meta(adapter.adapterHash)?.is_some();
            let served = adapter.active
                && base.active
                && base.weightsHash == self.executor.base_hash()
                && held
                && METHODS_RUN.contains(&adapter.attributionMethod);
            out.push(AdapterListing {
                adapter_id: U256::from(id),
                base_model_id: adapter.baseModelId,
                owner: adapter.owner,
                adapter_hash: adapter.adapterHash,
                price_in_per_1k: adapter.priceInPer1k,
                price_out_per_1k: adapter.priceOutPer1k,
                attribution_method: adapter.attributionMethod,
                active: adapter.active,
                served,
            });
        }
        Ok(out)
    }

    /// The EIP-712 domain of `ol_submitPrompt` and private `ol_getInference` on this chain.
    pub fn inference_domain(&self) -> alloy_sol_types::Eip712Domain {
        crate::private::inference_domain(self.chain.chain_id(), INFERENCE_MARKET)
    }

    /// Takes the prompt of a hash-only request, signed by its requester; the job then runs as
    /// one with an on-chain prompt, its output readable by the requester only.
    pub fn submit_prompt(
        &self,
        request_id: B256,
        prompt: &[u8],
        signature: &[u8],
    ) -> Result<Result<(), PrivateError>, JobsError> {
        let _serial = self.prompts.lock();
        let Some(mut job) = self.journal.get(request_id)? else {
            return Ok(Err(PrivateError::UnknownRequest(request_id)));
        };
        if let Err(err) = crate::private::check_submission(
            &self.inference_domain(),
            request_id,
            job.request.requester,
            job.request.prompt_hash,
            prompt,
            signature,
        ) {
            return Ok(Err(err));
        }
        if job.prompt.is_none() {
            job.prompt = Some(Bytes::copy_from_slice(prompt));
            job.private = true;
            self.journal.put(&job)?;
            info!(target: "jobs", request = %request_id, "private prompt received");
        }
        Ok(Ok(()))
    }

    /// The journal (for `ol_jobStatus`-style reads).
    pub const fn journal(&self) -> &Journal {
        &self.journal
    }

    /// Runs until `shutdown` turns true: a pass on every new block, on every finished job and
    /// at least once a second.
    pub async fn run(
        self: Arc<Self>,
        mut shutdown: watch::Receiver<bool>,
    ) -> Result<(), JobsError> {
        let mut inbox = self
            .inbox
            .lock()
            .take()
            .ok_or_else(|| JobsError::Workers("the job service runs once".into()))?;
        let mut blocks = self.chain.subscribe();
        info!(target: "jobs", attestor = %self.attestor.address(), base = %self.executor.base_hash(), "job service started");
        loop {
            if *shutdown.borrow() {
                return Ok(());
            }
            let service = self.clone();
            let started = std::time::Instant::now();
            tokio::task::spawn_blocking(move || service.pass())
                .await
                .map_err(|e| JobsError::Workers(format!("a pass panicked: {e}")))??;
            metrics::histogram!("jobs_pass_seconds").record(started.elapsed().as_secs_f64());
            let last_pass = tokio::time::Instant::now();
            let mut results = Vec::new();
            tokio::select! {
                changed = shutdown.changed() => {
                    if changed.is_err() {
                        return Ok(());
                    }
                }
                _ = blocks.recv() => {}
                Some(result) = inbox.recv() => {
                    // Results come one job at a time: gather those of the next moments too,
                    // so that one pass sends them in one batch rather than one each.
                    results.push(result);
                    let until = last_pass + RESULT_COALESCING;
                    loop {
                        tokio::select! {
                            Some(result) = inbox.recv() => results.push(result),
                            _ = blocks.recv() => break,
                            () = tokio::time::sleep_until(until) => break,
                        }
                    }
                }
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
            if !results.is_empty() {
                let service = self.clone();
                tokio::task::spawn_blocking(move || {
                    results
                        .into_iter()
                        .try_for_each(|(id, result)| service.finished(id, result))
                })
                .await
                .map_err(|e| JobsError::Workers(format!("storing a result panicked: {e}")))??;
            }
        }
    }

    /// One pass: scan new blocks, move every open job one step, then send what the steps ask
    /// for: stuck transactions replaced once each, and the calls of many jobs in one batch
    /// transaction where the attestor's account delegates to `AttestorBatch`.
    fn pass(&self) -> Result<(), JobsError> {
        if self.is_halted() {
            return Ok(());
        }
        self.scan()?;
        let mut gathered = Gathered::new();
        let head = self.chain.head().number;
        let sending = self.attestor.sending()?;
        let mut sends = Vec::new();
        let mut stuck: BTreeMap<B256, Vec<Job>> = BTreeMap::new();
        let open = self.journal.open_jobs()?;
        metrics::gauge!("jobs_open_requests").set(open.len() as f64);
        for job in open {
            if self.is_halted() {
                return Ok(());
            }
            let id = job.request.request_id;
            match self.advance(job, head, &mut gathered) {
                Ok(Step::Idle | Step::Moved(_)) => {}
                Ok(Step::Replace(job, tx)) => stuck.entry(tx).or_default().push(job),
                Ok(Step::Send(outgoing)) => sends.push(outgoing),
                Err(err) => self.step_failed(id, &err),
            }
        }
        for (tx, jobs) in stuck {
            if let Err(err) = self.replace_if_stuck(jobs, tx) {
                warn!(target: "jobs", %tx, %err, "fee bump failed; retrying");
                metrics::counter!("jobs_step_errors_total").increment(1);
            }
        }
        match sending {
            Sending::Waiting => {}
            Sending::Single => {
                for outgoing in sends {
                    let id = outgoing.job.request.request_id;
                    if let Err(err) = self.submit_single(outgoing) {
                        self.step_failed(id, &err);
                    }
                }
            }
            Sending::Batched => {
                let mut sends = sends.into_iter().peekable();
                while sends.peek().is_some() {
                    let chunk: Vec<_> = sends.by_ref().take(MAX_BATCH_JOBS).collect();
                    if let Err(err) = self.submit_batch(chunk) {
                        warn!(target: "jobs", %err, "batch transaction failed; retrying");
                        metrics::counter!("jobs_step_errors_total").increment(1);
                    }
                }
            }
        }
        Ok(())
    }

    /// A job's trouble (a refused transaction, a read that failed) is retried on the next
    /// pass; it never stops the service.
    fn step_failed(&self, id: B256, err: &JobsError) {
        warn!(target: "jobs", request = %id, %err, "job step failed; retrying");
        metrics::counter!("jobs_step_errors_total").increment(1);
    }

    /// Journals the requests and prompts of blocks after the scan cursor.
    fn scan(&self) -> Result<(), JobsError> {
        let head = self.chain.head().number;
        let from = crate::scan::scan_from(&self.chain, self.journal.scanned()?, &self.unwinds_seen);
        for number in from..=head.min(from + crate::scan::SCAN_BATCH - 1) {
            let Some(logs) = crate::scan::block_logs(&self.chain, number, &[INFERENCE_MARKET])?
            else {
                break;
            };
            let mut requests = Vec::new();
            let mut prompts = Vec::new();
            for log in &logs {
                if let Ok(event) = InferenceMarket::Requested::decode_log(log) {
                    requests.push(RequestInfo::from_event(&event, number));
                } else if let Ok(event) = InferenceMarket::PromptSubmitted::decode_log(log) {
                    prompts.push((event.requestId, event.prompt.clone()));
                }
            }
            for request in &requests {
                info!(target: "jobs", request = %request.request_id, adapter = %request.adapter_id, block = number, "inference requested");
                metrics::counter!("jobs_requests_total").increment(1);
            }
            self.journal.record_block(number, &requests, &prompts)?;
            if !requests.is_empty() {
                self.reached(HaltPoint::Requested);
                if self.is_halted() {
                    break;
                }
            }
        }
        Ok(())
    }

    fn view<C: SolCall>(&self, to: Address, call: &C) -> Result<C::Return, JobsError> {
        Ok(self.chain.view(self.attestor.address(), to, call)?)
    }

    /// Moves `job` one step, and says what it needs sent. The calls are those that finish the
    /// job from its stage on; with one call per transaction ([`Sending::Single`]) only the
    /// first is sent, and the rest follow once it is seen on chain.
    fn advance(&self, job: Job, head: u64, gathered: &mut Gathered) -> Result<Step, JobsError> {
        let mut step = self.advance_once(job, head, gathered)?;
        while let Step::Moved(job) = step {
            step = self.advance_once(job, head, gathered)?;
        }
        Ok(step)
    }

    /// [`Self::advance`]'s one step.
    fn advance_once(
        &self,
        mut job: Job,
        head: u64,
        gathered: &mut Gathered,
    ) -> Result<Step, JobsError> {
        let id = job.request.request_id;
        let expired = head > job.request.expiry_block;
        let sent = job
            .stage
            .last_transaction()
            .map(|tx| self.attestor.state(tx).map(|s| (tx, s)))
            .transpose()?;
        match job.stage.clone() {
            Stage::Pending | Stage::Answered { .. } if expired => {
                warn!(target: "jobs", request = %id, expiry = job.request.expiry_block, "request expired before it was fulfilled");
                metrics::counter!("jobs_expired_total").increment(1);
                job.stage = Stage::Expired;
                self.journal.put(&job)?;
            }
            Stage::Pending => self.dispatch(&job, gathered)?,
            Stage::Answered { answer, .. } => {
                // The transaction's place first (read above): one seen mined is then in the
                // state read next.
                let recorded = self.view(
                    PROOF_OF_ATTRIBUTION,
                    &IProofOfAttribution::isRecordedCall { requestId: id },
                )?;
                if recorded {
                    let attestor = self
                        .view(
                            PROOF_OF_ATTRIBUTION,
                            &IProofOfAttribution::summaryOfCall { requestId: id },
                        )?
                        .attestor;
                    if attestor != self.attestor.address() {
                        // Someone else's record (another attestor's, perhaps forged before the
                        // request was even made): this node does not fulfil what it did not
                        // attest; the request expires and is refunded.
                        self.refuse(
                            job,
                            format!("recorded by another attestor ({attestor}); not fulfilled by this node"),
                        )?;
                        return Ok(Step::Idle);
                    }
                    info!(target: "jobs", request = %id, "attribution recorded");
                    job.stage = Stage::Recorded {
                        answer,
                        fulfill_tx: None,
                    };
                    self.journal.put(&job)?;
                    return Ok(Step::Moved(job));
                }
                match sent {
                    Some((tx, TxState::Pooled)) => return Ok(Step::Replace(job, tx)),
                    Some((tx, TxState::Mined)) => {
                        self.refuse(job, format!("the record transaction {tx} reverted"))?;
                        return Ok(Step::Idle);
                    }
                    Some((tx, TxState::Unknown)) => {
                        debug!(target: "jobs", request = %id, %tx, "record transaction lost; sending again");
                    }
                    None => {}
                }
                let request = self.view(
                    INFERENCE_MARKET,
                    &InferenceMarket::getRequestCall { requestId: id },
                )?;
                let calls = self.closing_calls(id, &answer, request.promptOnChain, true);
                return Ok(Step::Send(Outgoing {
                    job,
                    calls,
                    halts: vec![HaltPoint::RecordSent, HaltPoint::FulfillSent],
                }));
            }
            Stage::Recorded { answer, .. } => {
                let request = self.view(
                    INFERENCE_MARKET,
                    &InferenceMarket::getRequestCall { requestId: id },
                )?;
                let status = request.status;
                if status != STATUS_OPEN {
                    // Fulfilled, or settled or refunded since.
                    info!(target: "jobs", request = %id, tokens_in = answer.tokens_in, tokens_out = answer.tokens_out, "request fulfilled");
                    metrics::counter!("jobs_fulfilled_total").increment(1);
                    job.stage = if self.settle && status == STATUS_FULFILLED {
                        Stage::Settling {
                            answer,
                            settle_tx: None,
                        }
                    } else {
                        Stage::Fulfilled { answer }
                    };
                    self.journal.put(&job)?;
                    return Ok(Step::Moved(job));
                }
                if expired {
                    job.stage = Stage::Expired;
                    metrics::counter!("jobs_expired_total").increment(1);
                    self.journal.put(&job)?;
                    return Ok(Step::Idle);
                }
                match sent {
                    Some((tx, TxState::Pooled)) => return Ok(Step::Replace(job, tx)),
                    Some((tx, TxState::Mined)) => {
                        self.refuse(job, format!("the fulfil transaction {tx} reverted"))?;
                        return Ok(Step::Idle);
                    }
                    Some((_, TxState::Unknown)) | None => {}
                }
                let calls = self.closing_calls(id, &answer, request.promptOnChain, false);
                return Ok(Step::Send(Outgoing {
                    job,
                    calls,
                    halts: vec![HaltPoint::FulfillSent],
                }));
            }
            Stage::Settling { answer, .. } => {
                let request = self.view(
                    INFERENCE_MARKET,
                    &InferenceMarket::getRequestCall { requestId: id },
                )?;
                if request.status != STATUS_FULFILLED {
                    // Settled (by us or anyone).
                    info!(target: "jobs", request = %id, "request settled");
                    job.stage = Stage::Fulfilled { answer };
                    self.journal.put(&job)?;
                    return Ok(Step::Idle);
                }
                match sent {
                    Some((tx, TxState::Pooled)) => return Ok(Step::Replace(job, tx)),
                    Some((tx, TxState::Mined)) => {
                        warn!(target: "jobs", request = %id, %tx, "the settle transaction reverted; leaving settlement to others");
                        job.stage = Stage::Fulfilled { answer };
                        self.journal.put(&job)?;
                        return Ok(Step::Idle);
                    }
                    Some((_, TxState::Unknown)) | None => {}
                }
                return Ok(Step::Send(Outgoing {
                    job,
                    calls: vec![send::settle_call(id)],
                    halts: Vec::new(),
                }));
            }
            Stage::Fulfilled { .. } | Stage::Refused { .. } | Stage::Expired => {}
        }
        Ok(Step::Idle)
    }

    fn refuse(&self, mut job: Job, reason: String) -> Result<(), JobsError> {
        warn!(target: "jobs", request = %job.request.request_id, %reason, "request refused");
        metrics::counter!("jobs_refused_total").increment(1);
        job.stage = Stage::Refused { reason };
        self.journal.put(&job)
    }

    /// Gathers a pending job's inputs and hands it to the worker pool.
    fn dispatch(&self, job: &Job, gathered: &mut Gathered) -> Result<(), JobsError> {
        let id = job.request.request_id;
        if self.running.lock().contains(&id) {
            return Ok(());
        }
        let Some(prompt) = &job.prompt else {
            // A `requestWithHash` prompt has not arrived.
            return Ok(());
        };
        if let Err(Gather::Refused(reason)) = check_prompt(&job.request, prompt) {
            return self.refuse(job.clone(), reason);
        }
        let key = (job.request.block, job.request.adapter_id);
        let adapter = match gathered.entry(key) {
            Entry::Occupied(known) => known.get().clone(),
            Entry::Vacant(slot) => {
                let inputs = LocalInputs {
                    chain: &self.chain,
                    from: self.attestor.address(),
                    content: self.content.as_ref(),
                    replicate: None,
                };
                let adapter = gather_adapter(
                    &inputs,
                    job.request.block,
                    job.request.adapter_id,
                    self.executor.base_hash(),
                )?;
                slot.insert(adapter).clone()
            }
        };
        let task = match adapter {
            Ok(adapter) => task(&job.request, prompt, &adapter),
            Err(Gather::Refused(reason)) => return self.refuse(job.clone(), reason),
            Err(Gather::Waiting(what)) => {
                debug!(target: "jobs", request = %id, %what, "waiting");
                return Ok(());
            }
        };
        let executor = self.executor.clone();
        let results = self.results.clone();
        self.running.lock().insert(id);
        let submitted = self
            .workers
            .submit("inference", Priority::Normal, move |_ctx| {
                let result = executor.run(&task).map_err(|e| e.to_string());
                let _ = results.send((id, result));
                Ok(())
            });
        if let Err(err) = submitted {
            // A full queue leaves the request pending; it is tried again next pass.
            self.running.lock().remove(&id);
            debug!(target: "jobs", request = %id, %err, "worker pool busy");
        }
        Ok(())
    }

    /// Stores what a worker computed.
    fn finished(&self, id: B256, result: Result<Outcome, String>) -> Result<(), JobsError> {
        self.running.lock().remove(&id);
        if self.is_halted() {
            return Ok(());
        }
        let Some(mut job) = self.journal.get(id)? else {
            return Ok(());
        };
        if !matches!(job.stage, Stage::Pending) {
            return Ok(());
        }
        match result {
            Ok(Outcome::Answer(answer)) => {
                info!(
                    target: "jobs",
                    request = %id,
                    tokens_in = answer.tokens_in,
                    tokens_out = answer.tokens_out,
                    contributors = answer.contributors.len(),
                    output = %answer.output.chars().take(160).collect::<String>(),
                    "served and attributed"
                );
                job.stage = Stage::Answered {
                    answer: *answer,
                    record_tx: None,
                };
                self.journal.put(&job)?;
                self.reached(HaltPoint::Answered);
                Ok(())
            }
            Ok(Outcome::Refused(reason)) => self.refuse(job, reason),
            Err(err) => {
                // An error of the node (not of the request) is retried.
                warn!(target: "jobs", request = %id, %err, "job failed; retrying");
                Ok(())
            }
        }
    }
}
