//! OpenLoRA serving: one base model, many adapters, continuous heterogeneous batching.
//!
//! - [`adapters`]: registered adapters (disk or bytes) and the resident ones under a byte
//!   budget, with LRU eviction and pinning.
//! - [`scheduler`]: the loop that admits requests into one batch, steps it, and streams text;
//!   cold adapters load on other threads while the batch runs.
//! - [`text`]: incremental detokenization and stop strings.
//!
//! The HTTP API (OpenAI-compatible) lives in the `ol-serve` crate; this module has no network
//! code, so the node's job service and the benchmarks drive the same loop.

pub mod adapters;
pub mod scheduler;
#[cfg(test)]
mod tests;
pub mod text;

pub use adapters::{AdapterCache, AdapterInfo, AdapterSource, CacheStats, Lookup};
pub use scheduler::{
    Event, EventSink, Finish, GenerateRequest, InlineSteps, Scheduler, SchedulerConfig,
    SchedulerStats, Step, StepRunner, SubmitError,
};
pub use text::{IncrementalDecoder, StopMatcher};
