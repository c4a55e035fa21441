//! The factory's error type.

use std::path::{Path, PathBuf};

/// What can go wrong in a factory job. Every input problem is reported before training starts.
#[derive(Debug, thiserror::Error)]
pub enum FactoryError {
    /// A hyper-parameter, a data set or a base model that cannot be trained as asked.
    #[error("{0}")]
    Invalid(String),
    /// A file could not be read or written.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A file that is not what it should be (a manifest, a checkpoint).
    #[error("{}: {reason}", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// From the model code.
    #[error(transparent)]
    Inference(#[from] ol_inference::InferenceError),
    /// From the attribution engine.
    #[error(transparent)]
    Attribution(#[from] ol_attribution::AttributionError),
    /// From candle.
    #[error("tensor error: {0}")]
    Tensor(#[from] candle_core::Error),
    /// The job was cancelled.
    #[error("cancelled")]
    Cancelled,
}

impl FactoryError {
    /// An [`FactoryError::Invalid`].
    pub fn invalid(msg: impl Into<String>) -> Self {
        Self::Invalid(msg.into())
    }

    /// A closure mapping an I/O error on `path` during `action`.
    pub fn io<'a>(
        action: &'static str,
        path: &'a Path,
    ) -> impl FnOnce(std::io::Error) -> Self + 'a {
        move |source| Self::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }

    /// A [`FactoryError::Format`].
    pub fn format(path: &Path, reason: impl Into<String>) -> Self {
        Self::Format {
            path: path.to_path_buf(),
            reason: reason.into(),
        }
    }
}

/// The factory's result type.
pub type Result<T, E = FactoryError> = std::result::Result<T, E>;
