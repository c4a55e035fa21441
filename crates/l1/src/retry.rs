//! Retries of L1 requests: which failures are worth another attempt, and how long to wait.
//!
//! Every attempt runs under a per-request timeout. Transport failures (connection refused or
//! reset, timeouts), HTTP 408/429/5xx and the JSON-RPC errors that providers use for rate limits
//! are retried with exponential back-off and jitter, up to a bounded number of attempts; anything
//! else fails at once, because repeating a rejected request only delays the error.

use crate::error::L1Error;
use alloy::transports::{RpcError, TransportError};
use rand::Rng;
use std::{
    future::Future,
    time::{Duration, Instant},
};

/// Bounds of the retry loop around each L1 request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryConfig {
    /// Attempts per request, the first included (at least 1).
    pub max_attempts: u32,
    /// Back-off before the second attempt; it doubles per attempt.
    pub initial_backoff: Duration,
    /// Ceiling of the back-off (also of a server's `Retry-After`).
    pub max_backoff: Duration,
    /// Time allowed to one attempt.
    pub request_timeout: Duration,
}

impl Default for RetryConfig {
    /// Six attempts over about 6 s of back-off: long enough to ride out an L1 node restart or a
    /// provider's burst limit, short enough that the watcher reports an outage within a poll or
    /// two. The 10 s request timeout is geth's default HTTP write timeout.
    fn default() -> Self {
        Self {
            max_attempts: 6,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
            request_timeout: Duration::from_secs(10),
        }
    }
}

impl RetryConfig {
    /// The back-off after failed attempt number `attempt` (1-based): the exponential delay capped
    /// at `max_backoff`, of which the upper half is scaled by `jitter` in `[0, 1]` ("equal
    /// jitter"), so that clients that failed together do not retry together.
    pub fn backoff(&self, attempt: u32, jitter: f64) -> Duration {
        let exponent = attempt.saturating_sub(1).min(31);
        let full = self
            .initial_backoff
            .saturating_mul(1 << exponent)
            .min(self.max_backoff);
        let half = full / 2;
        half + half.mul_f64(jitter.clamp(0.0, 1.0))
    }
}

/// What to do after a failed attempt.
#[derive(Debug)]
pub(crate) enum Verdict {
    /// Try again, after at least the given server-requested delay.
    Retry {
        message: String,
        retry_after: Option<Duration>,
    },
    /// Give up with this error.
    Fail(L1Error),
}

/// Sorts a transport error into retry or fail.
pub(crate) fn classify(method: &'static str, err: TransportError) -> Verdict {
    let retry = |message: String, retry_after| Verdict::Retry {
        message,
        retry_after,
    };
    match err {
        RpcError::Transport(kind) => {
            if kind.is_non_retryable() {
                return Verdict::Fail(L1Error::Rejected {
                    method,
                    message: kind.to_string(),
                });
            }
            match kind.as_http_error() {
                Some(http) if !(http.status == 408 || http.status == 429 || http.status >= 500) => {
                    Verdict::Fail(L1Error::Rejected {
                        method,
                        message: kind.to_string(),
                    })
                }
                _ => retry(kind.to_string(), kind.retry_after()),
            }
        }
        RpcError::ErrorResp(payload) if payload.is_retry_err() => retry(payload.to_string(), None),
        RpcError::ErrorResp(payload) => Verdict::Fail(L1Error::Rejected {
            method,
            message: payload.to_string(),
        }),
        // A null where a value is due: a load-balanced endpoint whose backends lag each other.
        RpcError::NullResp => retry("null response".into(), None),
        RpcError::DeserError { err, text } => Verdict::Fail(L1Error::InvalidResponse {
            method,
            message: format!("{err}; body: {}", truncate(&text, 200)),
        }),
        other => Verdict::Fail(L1Error::Rejected {
            method,
            message: other.to_string(),
        }),
    }
}

fn truncate(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

/// Runs `attempt` until it succeeds, fails for good, or the attempts run out.
pub(crate) async fn with_retry<T, F, Fut>(
    config: &RetryConfig,
    method: &'static str,
    mut attempt: F,
) -> Result<T, L1Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, TransportError>>,
{
    let started = Instant::now();
    let max_attempts = config.max_attempts.max(1);
    let mut number = 0;
    loop {
        number += 1;
        let (message, retry_after) =
            match tokio::time::timeout(config.request_timeout, attempt()).await {
                Ok(Ok(value)) => return Ok(value),
                Ok(Err(err)) => match classify(method, err) {
                    Verdict::Retry {
                        message,
                        retry_after,
                    } => (message, retry_after),
                    Verdict::Fail(err) => {
                        metrics::counter!("l1_rpc_errors_total", "method" => method).increment(1);
                        return Err(err);
                    }
                },
                Err(_) => (
                    format!("timed out after {:?}", config.request_timeout),
                    None,
                ),
            };
        metrics::counter!("l1_rpc_errors_total", "method" => method).increment(1);
        if number >= max_attempts {
            return Err(L1Error::Unavailable {
                method,
                attempts: number,
                elapsed: started.elapsed(),
                last: message,
            });
        }
        let mut delay = config.backoff(number, rand::rng().random::<f64>());
        if let Some(requested) = retry_after {
            delay = delay.max(requested.min(config.max_backoff));
        }
        tracing::warn!(
            target: "ol_l1",
            method,
            attempt = number,
            max_attempts,
            ?delay,
            error = %message,
            "L1 request failed, retrying"
        );
        tokio::time::sleep(delay).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::{rpc::json_rpc::ErrorPayload, transports::TransportErrorKind};
    use std::sync::atomic::{AtomicU32, Ordering};

    fn fast() -> RetryConfig {
        RetryConfig {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(4),
            request_timeout: Duration::from_millis(200),
        }
    }

    #[test]
    fn backoff_doubles_is_capped_and_jitters_in_the_upper_half() {
        let config = RetryConfig {
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(1000),
            ..RetryConfig::default()
        };
        assert_eq!(config.backoff(1, 1.0), Duration::from_millis(100));
        assert_eq!(config.backoff(1, 0.0), Duration::from_millis(50));
        assert_eq!(config.backoff(2, 1.0), Duration::from_millis(200));
        assert_eq!(config.backoff(3, 0.5), Duration::from_millis(300));
        assert_eq!(config.backoff(5, 1.0), Duration::from_millis(1000));
        assert_eq!(config.backoff(u32::MAX, 1.0), Duration::from_millis(1000));
        assert_eq!(config.backoff(2, 7.0), Duration::from_millis(200));
    }

    #[test]
    fn classification_retries_transient_failures_only() {
        let retried = |err| matches!(classify("m", err), Verdict::Retry { .. });
        assert!(retried(TransportErrorKind::http_error(503, "busy".into())));
        assert!(retried(TransportErrorKind::http_error(500, String::new())));
        assert!(retried(TransportErrorKind::http_error(429, String::new())));
        assert!(retried(TransportErrorKind::http_error(408, String::new())));
        assert!(retried(TransportErrorKind::custom_str(
            "connection refused"
        )));
        assert!(retried(TransportErrorKind::backend_gone()));
        assert!(!retried(TransportErrorKind::http_error(404, String::new())));
        assert!(!retried(TransportErrorKind::http_error(401, String::new())));
        assert!(!retried(TransportErrorKind::non_retryable_str("no")));
        let rejected = ErrorPayload {
            code: -32000,
            message: "nonce too low".into(),
            data: None,
        };
        assert!(!retried(RpcError::ErrorResp(rejected)));
        let limited = ErrorPayload {
            code: 429,
            message: "rate limited".into(),
            data: None,
        };
        assert!(retried(RpcError::ErrorResp(limited)));
        match classify(
            "eth_chainId",
            TransportErrorKind::http_error(401, "denied".into()),
        ) {
            Verdict::Fail(L1Error::Rejected { method, message }) => {
                assert_eq!(method, "eth_chainId");
                assert!(message.contains("401"), "{message}");
            }
            other => panic!("expected a rejection, got {other:?}"),
        }
    }

    #[test]
    fn retry_after_is_honoured_up_to_the_cap() {
        let err = TransportErrorKind::http_error_with_retry_after(
            429,
            String::new(),
            Some(Duration::from_secs(3)),
        );
        match classify("m", err) {
            Verdict::Retry { retry_after, .. } => {
                assert_eq!(retry_after, Some(Duration::from_secs(3)));
            }
            other => panic!("expected a retry, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn transient_errors_are_retried_until_success() {
        let calls = AtomicU32::new(0);
        let value = with_retry(&fast(), "eth_blockNumber", || async {
            if calls.fetch_add(1, Ordering::SeqCst) < 2 {
                Err(TransportErrorKind::http_error(502, "bad gateway".into()))
            } else {
                Ok(7u64)
            }
        })
        .await
        .unwrap();
        assert_eq!(value, 7);
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn the_budget_is_bounded_and_the_error_names_the_cause() {
        let calls = AtomicU32::new(0);
        let err = with_retry(&fast(), "eth_getLogs", || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>(TransportErrorKind::http_error(503, "down".into()))
        })
        .await
        .unwrap_err();
        assert_eq!(calls.load(Ordering::SeqCst), 4);
        match &err {
            L1Error::Unavailable {
                method,
                attempts,
                last,
                ..
            } => {
                assert_eq!(*method, "eth_getLogs");
                assert_eq!(*attempts, 4);
                assert!(last.contains("503"), "{last}");
            }
            other => panic!("expected Unavailable, got {other:?}"),
        }
        assert!(err.is_transient());
    }

    #[tokio::test]
    async fn rejections_are_not_retried() {
        let calls = AtomicU32::new(0);
        let err = with_retry(&fast(), "eth_sendRawTransaction", || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>(RpcError::ErrorResp(ErrorPayload {
                code: -32000,
                message: "insufficient funds".into(),
                data: None,
            }))
        })
        .await
        .unwrap_err();
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert!(matches!(err, L1Error::Rejected { .. }), "{err}");
        assert!(err.to_string().contains("insufficient funds"));
    }

    #[tokio::test]
    async fn a_hung_attempt_times_out_and_counts_as_transient() {
        let config = RetryConfig {
            request_timeout: Duration::from_millis(20),
            ..fast()
        };
        let calls = AtomicU32::new(0);
        let err = with_retry(&config, "eth_chainId", || async {
            calls.fetch_add(1, Ordering::SeqCst);
            std::future::pending::<Result<(), TransportError>>().await
        })
        .await
        .unwrap_err();
        assert_eq!(calls.load(Ordering::SeqCst), 4);
        assert!(err.to_string().contains("timed out"), "{err}");
    }
}
