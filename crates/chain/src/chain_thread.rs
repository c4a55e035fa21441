//! The chain's own thread: block building, derivation execution and their commits run here,
//! never in tokio's blocking pool.
//!
//! That pool is shared with everything else in the process, so a burst of RPC work queued
//! there would make the next block wait behind it. This thread takes only the chain's own
//! jobs, one at a time in arrival order (the chain grows one block at a time anyway), and runs
//! at the normal scheduling priority, above the RPC's worker threads.

use crate::ChainError;
use std::{
    panic::{AssertUnwindSafe, catch_unwind},
    sync::mpsc,
    thread,
};
use tokio::sync::oneshot;
use tracing::error;

type Job = Box<dyn FnOnce() + Send + 'static>;

/// A handle to the chain's thread; the thread ends when the last handle is dropped.
#[derive(Debug)]
pub(crate) struct ChainThread {
    jobs: mpsc::Sender<Job>,
}

impl ChainThread {
    /// Starts the thread.
    pub(crate) fn start() -> std::io::Result<Self> {
        let (jobs, queue) = mpsc::channel::<Job>();
        thread::Builder::new()
            .name("chain-exec".into())
            .spawn(move || {
                for job in queue {
                    job();
                }
            })?;
        Ok(Self { jobs })
    }

    /// Runs `work` on the chain's thread and waits for its result. A panic in `work` is
    /// reported as an error and leaves the thread serving later jobs.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ChainError> {
        let (answer, answered) = oneshot::channel();
        let job: Job = Box::new(move || match catch_unwind(AssertUnwindSafe(work)) {
            Ok(result) => {
                let _ = answer.send(result);
            }
            Err(_) => error!("a job on the chain thread panicked"),
        });
        self.jobs
            .send(job)
            .map_err(|_| ChainError::ChainThread("the chain thread has stopped"))?;
        answered
            .await
            .map_err(|_| ChainError::ChainThread("a job on the chain thread panicked"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_jobs_in_order_on_one_named_thread_and_survives_a_panic() {
        let thread = ChainThread::start().unwrap();
        let name = thread
            .run(|| std::thread::current().name().map(str::to_owned))
            .await
            .unwrap();
        assert_eq!(name.as_deref(), Some("chain-exec"));
        let err = thread.run(|| -> u32 { panic!("boom") }).await.unwrap_err();
        assert!(err.to_string().contains("panicked"), "{err}");
        assert_eq!(thread.run(|| 7).await.unwrap(), 7);
    }
}
