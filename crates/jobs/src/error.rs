//! Errors of the job service.

use std::path::{Path, PathBuf};

/// What can go wrong in the job service. A request that cannot be served is not an error of
/// the service: it ends as `Stage::Refused` with its reason.
#[derive(Debug, thiserror::Error)]
pub enum JobsError {
    /// The journal's database.
    #[error("job journal: {0}")]
    Database(#[from] rocksdb::Error),
    /// A journal entry that does not decode.
    #[error("job journal: {0}")]
    Journal(String),
    /// A file or folder.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The base model or the engine.
    #[error("model: {0}")]
    Model(String),
    /// `ol-inference`.
    #[error(transparent)]
    Inference(#[from] ol_inference::InferenceError),
    /// `ol-attribution`.
    #[error(transparent)]
    Attribution(#[from] ol_attribution::AttributionError),
    /// `ol-factory` (the base model's identity, index builds).
    #[error(transparent)]
    Factory(#[from] ol_factory::FactoryError),
    /// Chain state.
    #[error(transparent)]
    Storage(#[from] ol_storage::StorageError),
    /// A head-state read.
    #[error(transparent)]
    View(#[from] ol_chain::ViewError),
    /// The content store.
    #[error(transparent)]
    Content(#[from] ol_content::ContentError),
    /// The attestor's transaction was refused by the pool.
    #[error("the pool refused the attestor's transaction: {0}")]
    Pool(#[from] ol_txpool::PoolError),
    /// The attestor's transaction could not be built.
    #[error("attestor transaction: {0}")]
    Transaction(String),
    /// A remote node's JSON-RPC (a verifier's or a trainer's reads).
    #[error("reading the node: {0}")]
    Remote(String),
    /// The worker pool.
    #[error("worker pool: {0}")]
    Workers(String),
}

impl JobsError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}
