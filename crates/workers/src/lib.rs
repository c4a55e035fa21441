//! The in-process worker pool that runs inference and attribution jobs next to the node.
//!
//! - **Bounded queue with priorities.** Jobs wait in a priority queue (higher priority first,
//!   FIFO within a priority) where each priority has the same fixed capacity, so a flood of
//!   background or normal work never shuts out a higher priority; a full priority refuses a
//!   submission at once with [`SubmitError::QueueFull`] (back-pressure: the caller decides to
//!   retry or shed load), never by blocking the caller or growing without bound.
//! - **N workers**, each a named OS thread running one job at a time.
//! - **Cancellation.** [`JobHandle::cancel`] removes a queued job's chance to run and asks a
//!   running one to stop: jobs poll [`JobContext::is_cancelled`] (or hand
//!   [`JobContext::cancel_flag`] to a long scan) and return [`JobError::Cancelled`].
//! - **Progress.** Jobs report `(done, total)` through [`JobContext::set_progress`]; handles
//!   read it.
//! - **Device choice.** CPU by default; `DevicePreference::Cuda` uses a CUDA device when the
//!   crate is built with the `cuda` feature and the device opens, and otherwise falls back to the
//!   CPU with a warning ([`resolve_device`]).
//! - **Thread caps.** A pool refuses to start more compute threads (`workers ×
//!   threads_per_job`) than the machine's cores minus `reserved_cores` (default 1), so the node's
//!   own threads keep a core; [`cap_candle_threads`] bounds candle's internal CPU pool the same
//!   way.
//!
//! A panicking job fails with [`JobError::Panicked`]; the worker survives.

use candle_core::Device;
use parking_lot::{Condvar, Mutex};
use std::{
    collections::BinaryHeap,
    panic::AssertUnwindSafe,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    thread::JoinHandle,
    time::Duration,
};

/// Where jobs run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DevicePreference {
    /// The CPU (default).
    #[default]
    Cpu,
    /// The CUDA device with this ordinal, falling back to the CPU if unusable.
    Cuda(usize),
}

impl std::str::FromStr for DevicePreference {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "cpu" => Ok(Self::Cpu),
            "cuda" => Ok(Self::Cuda(0)),
            other => other
                .strip_prefix("cuda:")
                .and_then(|n| n.parse().ok())
                .map(Self::Cuda)
                .ok_or_else(|| {
                    format!("unknown device {other:?}: expected cpu, cuda or cuda:<ordinal>")
                }),
        }
    }
}

/// A resolved device, with the reason for a fallback to the CPU if there was one.
#[derive(Debug, Clone)]
pub struct ResolvedDevice {
    /// The device jobs get.
    pub device: Device,
    /// Why the preference could not be honoured (`None` when it was).
    pub fallback: Option<String>,
}

/// Opens the preferred device; a CUDA preference that cannot be met (built without the `cuda`
/// feature, no driver, no such device) falls back to the CPU and logs a warning.
pub fn resolve_device(pref: DevicePreference) -> ResolvedDevice {
    match pref {
        DevicePreference::Cpu => ResolvedDevice {
            device: Device::Cpu,
            fallback: None,
        },
        DevicePreference::Cuda(ordinal) => {
            let result = if cfg!(feature = "cuda") {
                Device::new_cuda(ordinal).map_err(|e| e.to_string())
            } else {
                Err("this binary was built without the `cuda` feature".to_string())
            };
            match result {
                Ok(device) => ResolvedDevice {
                    device,
                    fallback: None,
                },
                Err(reason) => {
                    let msg = format!(
                        "CUDA device {ordinal} unavailable ({reason}); running jobs on the CPU"
                    );
                    tracing::warn!(target: "ol_workers", "{msg}");
                    ResolvedDevice {
                        device: Device::Cpu,
                        fallback: Some(msg),
                    }
                }
            }
        }
    }
}

/// Logical cores available to this process.
pub fn available_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Compute threads a pool may use: the cores minus `reserved` (at least one).
pub fn thread_budget(reserved: usize) -> usize {
    available_cores().saturating_sub(reserved).max(1)
}

/// Caps candle's CPU thread pool (`RAYON_NUM_THREADS`, read once when candle first computes on
/// the CPU) at `threads`, unless the operator already set it. Returns the value in effect.
///
/// # Safety
///
/// Modifies the process environment: call it before any other thread that may read or write the
/// environment is started (at the top of `main` or of a command), as `std::env::set_var`
/// requires.
pub unsafe fn cap_candle_threads(threads: usize) -> usize {
    if let Some(n) = std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        return n;
    }
    let threads = threads.max(1);
    // SAFETY: forwarded to the caller (see above).
    unsafe { std::env::set_var("RAYON_NUM_THREADS", threads.to_string()) };
    threads
}

/// Job priority: higher runs first; equal priorities run in submission order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Priority {
    /// Background work (training, index builds, evaluations, verification).
    Low,
    /// The default: paid inference jobs and their attribution.
    #[default]
    Normal,
    /// Work a client is waiting on now: the serving loop's steps, a trace asked for on the
    /// command line.
    High,
}

impl Priority {
    /// Every priority, lowest first.
    const ALL: [Self; 3] = [Self::Low, Self::Normal, Self::High];

    const fn index(self) -> usize {
        self as usize
    }
}

/// Settings of a [`WorkerPool`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolConfig {
    /// Worker threads.
    pub workers: usize,
    /// Jobs that may wait at each priority (running jobs not counted).
    pub queue_capacity: usize,
    /// Compute threads each job may use (handed to jobs through [`JobContext::threads`]).
    pub threads_per_job: usize,
    /// Cores left to the rest of the node.
    pub reserved_cores: usize,
    /// Where jobs run.
    pub device: DevicePreference,
}

impl Default for PoolConfig {
    /// One worker per core but one, one thread per job, 64 queued jobs, CPU.
    fn default() -> Self {
        Self {
            workers: thread_budget(1),
            queue_capacity: 64,
            threads_per_job: 1,
            reserved_cores: 1,
            device: DevicePreference::Cpu,
        }
    }
}

/// Why a pool could not start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PoolError {
    /// A setting is zero.
    #[error("invalid worker pool configuration: {0}")]
    Invalid(&'static str),
    /// More compute threads than the budget.
    #[error(
        "{workers} workers × {threads_per_job} threads per job = {wanted} compute threads, but only {budget} \
         are available ({cores} cores, {reserved} reserved for the node)"
    )]
    TooManyThreads {
        /// Workers asked for.
        workers: usize,
        /// Threads per job asked for.
        threads_per_job: usize,
        /// Their product.
        wanted: usize,
        /// The budget.
        budget: usize,
        /// Cores of the machine.
        cores: usize,
        /// Cores reserved.
        reserved: usize,
    },
    /// The OS refused to start a thread.
    #[error("cannot start a worker thread: {0}")]
    Spawn(String),
}

/// Why a submission was refused. Nothing was queued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    /// The queue holds `capacity` jobs of the submission's priority already.
    #[error("the job queue is full ({capacity} jobs waiting); retry later")]
    QueueFull {
        /// The queue's capacity per priority.
        capacity: usize,
    },
    /// The pool is shutting down.
    #[error("the worker pool is shutting down")]
    ShuttingDown,
}

/// Why a job produced no result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobError {
    /// Cancelled before or while running.
    #[error("job cancelled")]
    Cancelled,
    /// The job returned an error.
    #[error("job failed: {0}")]
    Failed(String),
    /// The job panicked.
    #[error("job panicked: {0}")]
    Panicked(String),
    /// The pool shut down before the job ran.
    #[error("the worker pool shut down before the job ran")]
    ShutDown,
}

impl JobError {
    /// A failure with a message.
    pub fn failed(e: impl std::fmt::Display) -> Self {
        Self::Failed(e.to_string())
    }
}

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobStatus {
    /// Waiting in the queue.
    Queued,
    /// Running on a worker.
    Running,
    /// Finished with a result.
    Succeeded,
    /// Finished with an error, a panic or a cancellation.
    Failed,
}

#[derive(Debug)]
struct JobState {
    id: u64,
    name: String,
    cancel: AtomicBool,
    done: AtomicU64,
    total: AtomicU64,
    status: Mutex<JobStatus>,
}

/// What a running job sees.
#[derive(Debug)]
pub struct JobContext<'a> {
    state: &'a JobState,
    device: &'a Device,
    threads: usize,
}

impl JobContext<'_> {
    /// Whether cancellation was requested.
    pub fn is_cancelled(&self) -> bool {
        self.state.cancel.load(Ordering::Relaxed)
    }

    /// `Err(JobError::Cancelled)` once cancellation was requested.
    pub fn check_cancelled(&self) -> Result<(), JobError> {
        if self.is_cancelled() {
            Err(JobError::Cancelled)
        } else {
            Ok(())
        }
    }

    /// The cancellation flag, for code that polls an `AtomicBool` (long scans).
    pub fn cancel_flag(&self) -> &AtomicBool {
        &self.state.cancel
    }

    /// Reports progress.
    pub fn set_progress(&self, done: u64, total: u64) {
        self.state.total.store(total, Ordering::Relaxed);
        self.state.done.store(done, Ordering::Relaxed);
    }

    /// The device to compute on.
    pub const fn device(&self) -> &Device {
        self.device
    }

    /// Compute threads the job may use.
    pub const fn threads(&self) -> usize {
        self.threads
    }

    /// The job's id.
    pub fn id(&self) -> u64 {
        self.state.id
    }
}

type Slot<T> = Arc<(Mutex<Option<Result<T, JobError>>>, Condvar)>;

/// A submitted job.
#[derive(Debug)]
pub struct JobHandle<T> {
    state: Arc<JobState>,
    slot: Slot<T>,
}

impl<T> JobHandle<T> {
    /// The job's id (unique within the pool).
    pub fn id(&self) -> u64 {
        self.state.id
    }

    /// The job's name.
    pub fn name(&self) -> &str {
        &self.state.name
    }

    /// Requests cancellation: a queued job will not run; a running job sees
    /// [`JobContext::is_cancelled`].
    pub fn cancel(&self) {
        self.state.cancel.store(true, Ordering::Relaxed);
    }

    /// `(done, total)` as last reported by the job.
    pub fn progress(&self) -> (u64, u64) {
        (
            self.state.done.load(Ordering::Relaxed),
            self.state.total.load(Ordering::Relaxed),
        )
    }

    /// Where the job is.
    pub fn status(&self) -> JobStatus {
        *self.state.status.lock()
    }

    /// Waits for the result.
    pub fn wait(self) -> Result<T, JobError> {
        let (lock, cv) = &*self.slot;
        let mut guard = lock.lock();
        loop {
            if let Some(r) = guard.take() {
                return r;
            }
            cv.wait(&mut guard);
        }
    }

    /// Waits up to `timeout`; gives the handle back if the job is not done.
    pub fn wait_timeout(self, timeout: Duration) -> Result<Result<T, JobError>, Self> {
        let deadline = std::time::Instant::now() + timeout;
        {
            let (lock, cv) = &*self.slot;
            let mut guard = lock.lock();
            loop {
                if let Some(r) = guard.take() {
                    return Ok(r);
                }
                if cv.wait_until(&mut guard, deadline).timed_out() {
                    if let Some(r) = guard.take() {
                        return Ok(r);
                    }
                    break;
                }
            }
        }
        Err(self)
    }
}

/// A type-erased queued job: runs with a context, or is told it will never run (`None`). It
/// reports whether it succeeded to the callback *before* publishing its result, so that anyone
/// who has seen the result also sees the pool's counters include the job.
type Work = Box<dyn FnOnce(Option<&JobContext<'_>>, &dyn Fn(bool)) + Send>;

struct Queued {
    priority: Priority,
    seq: u64,
    state: Arc<JobState>,
    work: Work,
}

impl PartialEq for Queued {
    fn eq(&self, other: &Self) -> bool {
        self.priority == other.priority && self.seq == other.seq
    }
}

impl Eq for Queued {}

impl PartialOrd for Queued {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Queued {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        // Max-heap: higher priority first, then the earlier submission.
        self.priority
            .cmp(&other.priority)
            .then(other.seq.cmp(&self.seq))
    }
}

#[derive(Default)]
struct QueueState {
    heap: BinaryHeap<Queued>,
    /// Jobs in `heap` by [`Priority::index`].
    waiting: [usize; Priority::ALL.len()],
    next_seq: u64,
    running: usize,
    shutdown: bool,
    completed: u64,
}

struct Shared {
    queue: Mutex<QueueState>,
    available: Condvar,
    device: Device,
    threads_per_job: usize,
    capacity: usize,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

/// A snapshot of the pool's load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    /// Jobs waiting, all priorities together.
    pub queued: usize,
    /// Jobs running.
    pub running: usize,
    /// Jobs finished (any outcome).
    pub completed: u64,
    /// Queue capacity per priority.
    pub capacity: usize,
    /// Workers.
    pub workers: usize,
}

/// The worker pool (see the crate documentation).
#[derive(Debug)]
pub struct WorkerPool {
    shared: Arc<Shared>,
    workers: Vec<JoinHandle<()>>,
    config: PoolConfig,
    fallback: Option<String>,
}

impl WorkerPool {
    /// Starts `config.workers` workers after checking the thread budget.
    pub fn new(config: PoolConfig) -> Result<Self, PoolError> {
        if config.workers == 0 {
            return Err(PoolError::Invalid("workers must be at least 1"));
        }
        if config.queue_capacity == 0 {
            return Err(PoolError::Invalid("queue_capacity must be at least 1"));
        }
        if config.threads_per_job == 0 {
            return Err(PoolError::Invalid("threads_per_job must be at least 1"));
        }
        let budget = thread_budget(config.reserved_cores);
        let wanted = config.workers * config.threads_per_job;
        if wanted > budget {
            return Err(PoolError::TooManyThreads {
                workers: config.workers,
                threads_per_job: config.threads_per_job,
                wanted,
                budget,
                cores: available_cores(),
                reserved: config.reserved_cores,
            });
        }
        let resolved = resolve_device(config.device);
        let shared = Arc::new(Shared {
            queue: Mutex::new(QueueState::default()),
            available: Condvar::new(),
            device: resolved.device,
            threads_per_job: config.threads_per_job,
            capacity: config.queue_capacity,
        });
        let mut workers = Vec::with_capacity(config.workers);
        for i in 0..config.workers {
            let shared = Arc::clone(&shared);
            let handle = std::thread::Builder::new()
                .name(format!("ol-worker-{i}"))
                .spawn(move || worker_loop(&shared))
                .map_err(|e| PoolError::Spawn(e.to_string()))?;
            workers.push(handle);
        }
        Ok(Self {
            shared,
            workers,
            config,
            fallback: resolved.fallback,
        })
    }

    /// The configuration.
    pub const fn config(&self) -> &PoolConfig {
        &self.config
    }

    /// The device jobs run on.
    pub fn device(&self) -> &Device {
        &self.shared.device
    }

    /// Why the device preference was not honoured, if it was not.
    pub fn device_fallback(&self) -> Option<&str> {
        self.fallback.as_deref()
    }

    /// Queues a job; refuses at once when the queue is full or the pool is shutting down.
    pub fn submit<T, F>(
        &self,
        name: &str,
        priority: Priority,
        job: F,
    ) -> Result<JobHandle<T>, SubmitError>
    where
        T: Send + 'static,
        F: FnOnce(&JobContext<'_>) -> Result<T, JobError> + Send + 'static,
    {
        let mut q = self.shared.queue.lock();
        if q.shutdown {
            return Err(SubmitError::ShuttingDown);
        }
        if q.waiting[priority.index()] >= self.shared.capacity {
            return Err(SubmitError::QueueFull {
                capacity: self.shared.capacity,
            });
        }
        let seq = q.next_seq;
        q.next_seq += 1;
        let state = Arc::new(JobState {
            id: seq,
            name: name.to_string(),
            cancel: AtomicBool::new(false),
            done: AtomicU64::new(0),
            total: AtomicU64::new(0),
            status: Mutex::new(JobStatus::Queued),
        });
        let slot: Slot<T> = Arc::new((Mutex::new(None), Condvar::new()));
        let work_slot = Arc::clone(&slot);
        let work: Work = Box::new(move |ctx, finished| {
            let result = match ctx {
                None => Err(JobError::ShutDown),
                Some(ctx) if ctx.is_cancelled() => Err(JobError::Cancelled),
                Some(ctx) => match std::panic::catch_unwind(AssertUnwindSafe(|| job(ctx))) {
                    Ok(r) => r,
                    Err(payload) => Err(JobError::Panicked(panic_message(payload.as_ref()))),
                },
            };
            finished(result.is_ok());
            let (lock, cv) = &*work_slot;
            *lock.lock() = Some(result);
            cv.notify_all();
        });
        q.waiting[priority.index()] += 1;
        q.heap.push(Queued {
            priority,
            seq,
            state: Arc::clone(&state),
            work,
        });
        drop(q);
        self.shared.available.notify_one();
        Ok(JobHandle { state, slot })
    }

    /// The pool's load.
    pub fn stats(&self) -> PoolStats {
        let q = self.shared.queue.lock();
        PoolStats {
            queued: q.heap.len(),
            running: q.running,
            completed: q.completed,
            capacity: self.shared.capacity,
            workers: self.workers.len(),
        }
    }

    /// Stops accepting jobs, resolves queued ones with [`JobError::ShutDown`], asks running
    /// ones to cancel and waits for the workers.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        let pending: Vec<Queued> = {
            let mut q = self.shared.queue.lock();
            q.shutdown = true;
            q.waiting = [0; Priority::ALL.len()];
            std::mem::take(&mut q.heap).into_vec()
        };
        for job in pending {
            *job.state.status.lock() = JobStatus::Failed;
            (job.work)(None, &|_| {});
        }
        self.shared.available.notify_all();
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}

impl Drop for WorkerPool {
    fn drop(&mut self) {
        if !self.workers.is_empty() {
            self.stop();
        }
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".into())
}

fn worker_loop(shared: &Shared) {
    loop {
        let job = {
            let mut q = shared.queue.lock();
            loop {
                if let Some(job) = q.heap.pop() {
                    q.waiting[job.priority.index()] -= 1;
                    q.running += 1;
                    break job;
                }
                if q.shutdown {
                    return;
                }
                shared.available.wait(&mut q);
            }
        };
        *job.state.status.lock() = JobStatus::Running;
        let ctx = JobContext {
            state: &job.state,
            device: &shared.device,
            threads: shared.threads_per_job,
        };
        let finished = |ok: bool| {
            *job.state.status.lock() = if ok {
                JobStatus::Succeeded
            } else {
                JobStatus::Failed
            };
            let mut q = shared.queue.lock();
            q.running -= 1;
            q.completed += 1;
        };
        (job.work)(Some(&ctx), &finished);
    }
}

#[cfg(test)]
mod tests;
