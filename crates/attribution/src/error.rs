//! The error type of the attribution engine.

use std::path::PathBuf;

/// Result alias for the attribution engine.
pub type Result<T, E = AttributionError> = std::result::Result<T, E>;

/// Everything that can go wrong while building or querying attribution data.
#[derive(Debug, thiserror::Error)]
pub enum AttributionError {
    /// A candle operation failed (shape mismatch, unsupported dtype, device error).
    #[error("tensor operation failed: {0}")]
    Candle(#[from] candle_core::Error),
    /// `ol-inference`'s model refused an input or failed (the language model's forward pass).
    #[error("model: {0}")]
    Inference(#[from] ol_inference::InferenceError),
    /// Reading or writing a file failed.
    #[error("{context} {}: {source}", path.display())]
    Io {
        /// What was being done.
        context: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A file exists but is not in the expected format.
    #[error("{} is not a valid {what}: {reason}", path.display())]
    Format {
        /// The kind of file expected.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A gradient store was built for another model, Datanet snapshot or projection.
    #[error("gradient store mismatch: {0}")]
    StoreMismatch(String),
    /// The tokenizer could not be loaded, trained or applied.
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// Building a suffix array failed.
    #[error("suffix array construction failed: {0}")]
    SuffixArray(String),
    /// An argument is out of range or inconsistent.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// A JSON (de)serialisation failed.
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
    /// The job was cancelled.
    #[error("cancelled")]
    Cancelled,
}

impl AttributionError {
    /// Wraps an I/O error with what was being done and on which path.
    pub fn io(context: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            context,
            path: path.into(),
            source,
        }
    }

    /// An invalid-input error with a message.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::InvalidInput(message.into())
    }

    /// A format error for `path`.
    pub fn format(what: &'static str, path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Self::Format {
            what,
            path: path.into(),
            reason: reason.into(),
        }
    }
}
