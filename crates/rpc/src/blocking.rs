//! The RPC's own pool of threads for CPU-heavy and blocking work (`eth_call`, gas estimation,
//! traces, log scans, proofs).
//!
//! tokio's blocking pool grows to 512 threads and is shared with everything else in the
//! process, so a client that pipelines a thousand heavy calls would get a thousand threads and
//! starve block production of CPU. This pool has a fixed number of threads
//! (`--rpc.blocking-threads`, the core count by default), admits at most
//! `--rpc.max-blocking-io-requests` requests queued or running (reth's name and default, 256)
//! and refuses the rest at once with a "busy" error, so queued work never grows without bound.
//! Its threads run at a lower scheduling priority (nice 10 on Linux): when the machine is
//! saturated, the chain's own threads (block building, derivation, commit) keep the CPU they
//! need and RPC answers slow down instead.

use crate::error;
use jsonrpsee::{core::RpcResult, types::ErrorObjectOwned};
use parking_lot::Mutex;
use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
        mpsc,
    },
    thread,
};
use tokio::sync::oneshot;
use tracing::warn;

/// Gauge of the requests queued or running in the pool.
pub const BLOCKING_QUEUE_METRIC: &str = "rpc_blocking_requests";
/// Counter of requests refused because the pool was full.
pub const BLOCKING_REFUSED_METRIC: &str = "rpc_blocking_refused_total";

/// The nice value of the pool's threads: well below the chain's threads in the scheduler's
/// eyes (a nice-10 thread gets about a tenth of the CPU share of a nice-0 one).
const NICE: i32 = 10;

type Job = Box<dyn FnOnce() + Send + 'static>;

/// Limits of the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockingConfig {
    /// Worker threads.
    pub threads: usize,
    /// Most requests queued or running at once.
    pub max_requests: usize,
}

impl BlockingConfig {
    /// reth's `--rpc.max-blocking-io-requests` default.
    pub const DEFAULT_MAX_REQUESTS: usize = 256;

    /// One thread per core, and reth's request limit.
    pub fn default_for_machine() -> Self {
        Self {
            threads: thread::available_parallelism().map_or(1, usize::from),
            max_requests: Self::DEFAULT_MAX_REQUESTS,
        }
    }
}

/// A fixed pool of low-priority threads with a bounded queue.
#[derive(Debug, Clone)]
pub(crate) struct BlockingPool {
    inner: Arc<PoolInner>,
}

#[derive(Debug)]
struct PoolInner {
    sender: mpsc::Sender<Job>,
    admitted: AtomicUsize,
    max_requests: usize,
}

impl BlockingPool {
    /// Starts `config.threads` threads (at least one).
    pub(crate) fn new(config: BlockingConfig) -> Self {
        let (sender, receiver) = mpsc::channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        for index in 0..config.threads.max(1) {
            let receiver = receiver.clone();
            let spawned = thread::Builder::new()
                .name(format!("rpc-blocking-{index}"))
                .spawn(move || {
                    lower_priority();
                    loop {
                        // The lock is held only while waiting for the next job, never while
                        // running one.
                        let job = receiver.lock().recv();
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                });
            if let Err(err) = spawned {
                warn!(%err, "cannot start an RPC worker thread");
            }
        }
        Self {
            inner: Arc::new(PoolInner {
                sender,
                admitted: AtomicUsize::new(0),
                max_requests: config.max_requests.max(1),
            }),
        }
    }

    /// Runs `work` on the pool and waits for its answer; refuses at once when the pool already
    /// holds its limit of requests. Work whose caller has gone away (the client disconnected)
    /// is skipped when its turn comes.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> RpcResult<T> + Send + 'static,
    ) -> RpcResult<T> {
        let inner = &self.inner;
        let admitted = inner.admitted.fetch_add(1, Ordering::AcqRel);
        if admitted >= inner.max_requests {
            inner.admitted.fetch_sub(1, Ordering::AcqRel);
            metrics::counter!(BLOCKING_REFUSED_METRIC).increment(1);
            return Err(busy(inner.max_requests));
        }
        metrics::gauge!(BLOCKING_QUEUE_METRIC).increment(1.0);
        let slot = Slot(self.inner.clone());
        let (answer, answered) = oneshot::channel();
        let job: Job = Box::new(move || {
            if answer.is_closed() {
                return;
            }
            let result = work();
            // The place is free before the caller hears back, so it can be reused at once.
            drop(slot);
            let _ = answer.send(result);
        });
        if inner.sender.send(job).is_err() {
            return Err(error::internal("the RPC worker threads have stopped"));
        }
        answered
            .await
            .map_err(|_| error::internal("an RPC worker thread failed"))?
    }
}

/// A request's place in the pool, given back when its job ends (or is dropped unrun).
struct Slot(Arc<PoolInner>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.admitted.fetch_sub(1, Ordering::AcqRel);
        metrics::gauge!(BLOCKING_QUEUE_METRIC).decrement(1.0);
    }
}

/// The error of a full pool: the client should retry later (reth's code for a limit).
fn busy(limit: usize) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(
        error::LIMIT_EXCEEDED,
        format!(
            "server is busy: {limit} requests are already queued for execution \
             (--rpc.max-blocking-io-requests); retry later"
        ),
        None::<()>,
    )
}

/// Lowers the calling thread's scheduling priority (Linux: nice values are per thread).
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: gettid and setpriority have no memory-safety preconditions; a failure (for
    // example a sandbox that forbids it) only leaves the thread at normal priority.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, NICE);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::{sync::Barrier, time::Duration};

    #[tokio::test]
    async fn runs_work_and_returns_its_answer() {
        let pool = BlockingPool::new(BlockingConfig {
            threads: 2,
            max_requests: 4,
        });
        let answer = pool.run(|| Ok(6 * 7)).await.unwrap();
        assert_eq!(answer, 42);
        let err = pool
            .run(|| -> RpcResult<()> { Err(error::server("nope")) })
            .await
            .unwrap_err();
        assert_eq!(err.message(), "nope");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn refuses_past_its_limit_and_admits_again_once_work_ends() {
        let pool = BlockingPool::new(BlockingConfig {
            threads: 1,
            max_requests: 2,
        });
        // One job holds the only thread, a second waits in the queue: the pool is full. The
        // second is sent only once the first runs, so it cannot take the thread first (the
        // third request would then be admitted and wait behind the held job forever).
        let release = Arc::new(Barrier::new(2));
        let (started, running) = oneshot::channel();
        let held = {
            let (pool, release) = (pool.clone(), release.clone());
            tokio::spawn(async move {
                pool.run(move || {
                    let _ = started.send(());
                    release.wait();
                    Ok(1)
                })
                .await
            })
        };
        running.await.unwrap();
        let queued = {
            let pool = pool.clone();
            tokio::spawn(async move { pool.run(|| Ok(2)).await })
        };
        while pool.inner.admitted.load(Ordering::Acquire) < 2 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let err = pool.run(|| Ok(3)).await.unwrap_err();
        assert_eq!(err.code(), error::LIMIT_EXCEEDED);
        assert!(
            err.message().contains("server is busy"),
            "{}",
            err.message()
        );
        release.wait();
        assert_eq!(held.await.unwrap().unwrap(), 1);
        assert_eq!(queued.await.unwrap().unwrap(), 2);
        assert_eq!(pool.run(|| Ok(4)).await.unwrap(), 4);
        assert_eq!(pool.inner.admitted.load(Ordering::Acquire), 0);
    }
}
