//! Middleware of the JSON-RPC servers: per-method metrics ([`metrics`]) and the per-IP rate
//! limit ([`rate_limit`]).
//!
//! jsonrpsee hands a batch to the middleware as one unit and its innermost service runs the
//! batch's calls without passing them back through the middleware; [`batch_through`] runs them
//! through the middleware's own `call` instead, so that every call of a batch is counted (and
//! limited) like a single call.

pub(crate) mod metrics;
pub(crate) mod rate_limit;

use jsonrpsee::server::{
    BatchResponseBuilder, MethodResponse,
    middleware::rpc::{Batch, BatchEntry, RpcServiceT},
};

/// Runs every entry of `batch` through `service.call` (notifications through
/// `service.notification`) and assembles the answers, within `max_response_bytes`, as
/// jsonrpsee's own batch handling does.
pub(crate) async fn batch_through<S>(
    service: S,
    batch: Batch<'_>,
    max_response_bytes: usize,
) -> MethodResponse
where
    S: RpcServiceT<
            MethodResponse = MethodResponse,
            BatchResponse = MethodResponse,
            NotificationResponse = MethodResponse,
        > + Send
        + Sync,
{
    let mut answers = BatchResponseBuilder::new_with_limit(max_response_bytes);
    let mut got_notification = false;
    for entry in batch {
        let answer = match entry {
            Ok(BatchEntry::Call(request)) => service.call(request).await,
            Ok(BatchEntry::Notification(notification)) => {
                got_notification = true;
                service.notification(notification).await;
                continue;
            }
            Err(err) => {
                let (err, id) = err.into_parts();
                MethodResponse::error(id, err)
            }
        };
        if let Err(too_large) = answers.append(answer) {
            return too_large;
        }
    }
    if answers.is_empty() && got_notification {
        MethodResponse::notification()
    } else {
        MethodResponse::from_batch(answers.finish())
    }
}
