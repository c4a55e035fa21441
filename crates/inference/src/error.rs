//! The error type of the inference crate.
//!
//! Every failure caused by a file, an adapter or a request is a value of [`InferenceError`] that
//! names what is wrong (the tensor, the field, the file), so an operator can act on it; nothing
//! here panics on input.

use std::path::{Path, PathBuf};

/// Result alias for the inference crate.
pub type Result<T, E = InferenceError> = std::result::Result<T, E>;

/// Everything that can go wrong while loading models and adapters or generating.
#[derive(Debug, thiserror::Error)]
pub enum InferenceError {
    /// A candle operation failed (shape mismatch, unsupported dtype, device error).
    #[error("tensor operation failed: {0}")]
    Candle(#[from] candle_core::Error),
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
    /// A JSON file (`config.json`, `adapter_config.json`, an index) does not parse.
    #[error("{what} is not valid JSON: {reason}")]
    Json {
        /// Which file.
        what: String,
        /// The parser's message.
        reason: String,
    },
    /// A configuration field is missing, has the wrong type or an unsupported value.
    #[error("{file}: field `{field}`: {reason}")]
    Config {
        /// Which file (`config.json`, `adapter_config.json`, ...).
        file: &'static str,
        /// The field.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A safetensors file is malformed (bad header, truncated data, unsupported dtype).
    #[error("safetensors {what}: {reason}")]
    Safetensors {
        /// The file or buffer.
        what: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A tensor the architecture needs is absent.
    #[error("missing tensor `{name}` ({context})")]
    MissingTensor {
        /// The tensor's name in the checkpoint.
        name: String,
        /// Where it was looked for.
        context: String,
    },
    /// A tensor is present that the architecture does not use.
    #[error("unexpected tensor `{name}` ({context})")]
    UnexpectedTensor {
        /// The tensor's name in the checkpoint.
        name: String,
        /// Why it is not expected.
        context: String,
    },
    /// A tensor has another shape than the configuration implies.
    #[error("tensor `{name}` has shape {actual:?}, expected {expected:?}")]
    TensorShape {
        /// The tensor's name in the checkpoint.
        name: String,
        /// The shape the configuration implies.
        expected: Vec<usize>,
        /// The shape in the file.
        actual: Vec<usize>,
    },
    /// An adapter does not fit the base model it is used with.
    #[error("adapter does not fit the base model: {0}")]
    AdapterMismatch(String),
    /// The tokenizer could not be loaded, built or saved.
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// A generation request is invalid (empty prompt, token out of range, bad parameter).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The device or thread pool could not be set up.
    #[error("runtime: {0}")]
    Runtime(String),
}

impl InferenceError {
    /// An I/O error with the file it concerns.
    pub(crate) fn io(context: &'static str, path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            context,
            path: path.to_path_buf(),
            source,
        }
    }

    /// A configuration error.
    pub(crate) fn config(
        file: &'static str,
        field: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        Self::Config {
            file,
            field: field.into(),
            reason: reason.into(),
        }
    }
}
