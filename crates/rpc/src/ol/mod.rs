//! The `ol` namespace: the node's Proof of Attribution services over JSON-RPC.
//!
//! It serves the content store of contributions ([`content`]: `ol_putContent`,
//! `ol_getContent`, `ol_contentDomain`) and what the job service did with paid requests
//! ([`jobs`]: `ol_jobStatus`, `ol_getInference`, `ol_getAttribution`). Errors follow geth's JSON-RPC style: a code, a
//! message that says what was refused, and nothing changed; the codes of the namespace are
//! listed in [`codes`].

pub mod codes;
mod content;
mod jobs;

pub use content::{
    ContentAnswer, ContentDomain, ContentInfo, ContentRpc, OlApiServer, PutContentRequest,
    ReadAuthorization,
};
pub use jobs::{AttributionAnswer, ContributorWeight, InferenceAnswer, JobStatus, OlJobsApiServer};
