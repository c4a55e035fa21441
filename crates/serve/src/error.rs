//! Errors in OpenAI's shape, `{"error": {"message", "type", "param", "code"}}`, with the HTTP
//! status and `type` names vLLM uses, so the official clients raise the matching exception
//! (`BadRequestError`, `NotFoundError`, `RateLimitError`, ...).

use axum::{
    Json,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use ol_inference::serve::SubmitError;
use serde_json::json;

/// An error answered to an API client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// What went wrong, for a person.
    pub message: String,
    /// The request field at fault, when one is.
    pub param: Option<String>,
}

impl ApiError {
    /// 400: the request is malformed or asks for something the model cannot do.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 400 naming the field at fault.
    pub fn bad_param(param: &str, message: impl Into<String>) -> Self {
        Self {
            param: Some(param.to_string()),
            ..Self::bad_request(message)
        }
    }

    /// 404: no such model.
    pub fn model_not_found(model: &str) -> Self {
        Self {
            param: Some("model".into()),
            ..Self::new(
                StatusCode::NOT_FOUND,
                format!("The model `{model}` does not exist."),
            )
        }
    }

    /// An error with `status`.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            param: None,
        }
    }

    /// The `type` field: the exception name vLLM reports for the status.
    fn kind(&self) -> &'static str {
        match self.status {
            StatusCode::BAD_REQUEST => "BadRequestError",
            StatusCode::UNAUTHORIZED => "AuthenticationError",
            StatusCode::FORBIDDEN => "PermissionDeniedError",
            StatusCode::NOT_FOUND => "NotFoundError",
            StatusCode::TOO_MANY_REQUESTS => "RateLimitError",
            StatusCode::SERVICE_UNAVAILABLE => "ServiceUnavailableError",
            _ => "InternalServerError",
        }
    }

    /// The error object (also sent as an SSE event when a stream fails after it started).
    pub fn body(&self) -> serde_json::Value {
        json!({
            "error": {
                "message": self.message,
                "type": self.kind(),
                "param": self.param,
                "code": self.status.as_u16(),
            }
        })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body())).into_response()
    }
}

impl From<SubmitError> for ApiError {
    fn from(e: SubmitError) -> Self {
        match &e {
            SubmitError::QueueFull(_) => Self::new(StatusCode::TOO_MANY_REQUESTS, e.to_string()),
            SubmitError::UnknownModel(m) => Self::model_not_found(m),
            SubmitError::Invalid(_) => Self::bad_request(e.to_string()),
            SubmitError::Stopped => Self::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_have_openais_shape_and_statuses() {
        let e = ApiError::from(SubmitError::QueueFull(3));
        assert_eq!(e.status, StatusCode::TOO_MANY_REQUESTS);
        let b = e.body();
        assert_eq!(b["error"]["type"], "RateLimitError");
        assert_eq!(b["error"]["code"], 429);
        let nf = ApiError::from(SubmitError::UnknownModel("x".into())).body();
        assert_eq!(nf["error"]["code"], 404);
        assert_eq!(nf["error"]["param"], "model");
        assert_eq!(nf["error"]["message"], "The model `x` does not exist.");
    }
}
