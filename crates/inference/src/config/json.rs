//! Typed access to the fields of a JSON object, with errors that name the file and the field.
//!
//! Hugging Face configuration files carry many fields we do not use and a few whose type varies
//! (`eos_token_id` is an integer or a list), so they are read field by field from a
//! `serde_json::Value` rather than through one derived struct.

use crate::{InferenceError, Result};
use serde_json::{Map, Value};

/// A JSON object being read, with the name of its file for error messages.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fields<'a> {
    file: &'static str,
    map: &'a Map<String, Value>,
}

impl<'a> Fields<'a> {
    /// Parses `bytes` as a JSON object.
    pub(crate) fn parse(file: &'static str, bytes: &[u8]) -> Result<Value> {
        let value: Value = serde_json::from_slice(bytes).map_err(|e| InferenceError::Json {
            what: file.to_string(),
            reason: e.to_string(),
        })?;
        if !value.is_object() {
            return Err(InferenceError::Json {
                what: file.to_string(),
                reason: "the top level is not an object".into(),
            });
        }
        Ok(value)
    }

    /// Wraps an object (`value` must be one; anything else reads as an empty object).
    pub(crate) fn new(file: &'static str, value: &'a Value) -> Self {
        static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
        let map = value
            .as_object()
            .unwrap_or_else(|| EMPTY.get_or_init(Map::new));
        Self { file, map }
    }

    /// The raw value of a field (`None` when absent or `null`).
    pub(crate) fn get(&self, field: &str) -> Option<&'a Value> {
        self.map.get(field).filter(|v| !v.is_null())
    }

    /// An error about `field` of this file.
    pub(crate) fn err(&self, field: &str, reason: impl Into<String>) -> InferenceError {
        InferenceError::config(self.file, field, reason)
    }

    /// A required non-negative integer.
    pub(crate) fn usize(&self, field: &str) -> Result<usize> {
        self.opt_usize(field)?
            .ok_or_else(|| self.err(field, "missing (a positive integer is required)"))
    }

    /// An optional non-negative integer.
    pub(crate) fn opt_usize(&self, field: &str) -> Result<Option<usize>> {
        match self.get(field) {
            None => Ok(None),
            Some(v) => v
                .as_u64()
                .and_then(|n| usize::try_from(n).ok())
                .map(Some)
                .ok_or_else(|| {
                    self.err(field, format!("expected a non-negative integer, got {v}"))
                }),
        }
    }

    /// An optional finite number.
    pub(crate) fn opt_f64(&self, field: &str) -> Result<Option<f64>> {
        match self.get(field) {
            None => Ok(None),
            Some(v) => v
                .as_f64()
                .filter(|x| x.is_finite())
                .map(Some)
                .ok_or_else(|| self.err(field, format!("expected a finite number, got {v}"))),
        }
    }

    /// An optional boolean.
    pub(crate) fn opt_bool(&self, field: &str) -> Result<Option<bool>> {
        match self.get(field) {
            None => Ok(None),
            Some(v) => v
                .as_bool()
                .map(Some)
                .ok_or_else(|| self.err(field, format!("expected a boolean, got {v}"))),
        }
    }

    /// An optional string.
    pub(crate) fn opt_str(&self, field: &str) -> Result<Option<&'a str>> {
        match self.get(field) {
            None => Ok(None),
            Some(v) => v
                .as_str()
                .map(Some)
                .ok_or_else(|| self.err(field, format!("expected a string, got {v}"))),
        }
    }

    /// An optional token id or list of token ids (`eos_token_id` is either in HF files).
    pub(crate) fn token_ids(&self, field: &str) -> Result<Vec<u32>> {
        let as_id = |v: &Value| v.as_u64().and_then(|n| u32::try_from(n).ok());
        match self.get(field) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| {
                    as_id(v).ok_or_else(|| self.err(field, format!("expected token ids, got {v}")))
                })
                .collect(),
            Some(v) => as_id(v)
                .map(|id| vec![id])
                .ok_or_else(|| self.err(field, format!("expected a token id, got {v}"))),
        }
    }
}
