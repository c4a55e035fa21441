//! The `ol` namespace: the node's Proof of Attribution services over JSON-RPC.
//!
//! It serves the content store of contributions ([`content`]: `ol_putContent`,
//! `ol_getContent`, `ol_contentDomain`) and what the job service did with paid requests
//! ([`jobs`]: `ol_jobStatus`, `ol_getInference`, `ol_getAttribution`), and a verifier's
//! verdicts on records ([`verify`]: `ol_verification`), and takes training requests for the
//! Model Factory ([`training`]: `ol_trainAdapter`). Errors follow geth's JSON-RPC style: a code, a
//! message that says what was refused, and nothing changed; the codes of the namespace are
//! listed in [`codes`].

pub mod codes;
mod content;
mod jobs;
mod training;
mod verify;

pub use content::{
    ContentAnswer, ContentDomain, ContentInfo, ContentRpc, OlApiServer, PutContentRequest,
    ReadAuthorization,
};
pub use jobs::{
    AttributionAnswer, ContributorWeight, InferenceAnswer, InferenceReadAuthorization, JobStatus,
    JobStatusAnswer, OlJobsApiServer, PromptSubmission,
};
pub use training::{OlTrainingApiServer, TrainAdapterAnswer, TrainAdapterRequest, TrainingStatus};
pub use verify::{OlVerifyApiServer, VerificationAnswer};

/// Seconds since the Unix epoch, the clock signed reads expire by.
fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}
