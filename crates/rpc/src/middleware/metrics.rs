//! Requests, latency and errors per JSON-RPC method, recorded through the `metrics` facade
//! (exported by the node's Prometheus recorder when `--metrics` is on).
//!
//! Method names come from the request, so anything a client sends would become a label: names
//! the server does not serve are all recorded as `unknown`, which keeps the label set bounded.

use super::batch_through;
use jsonrpsee::server::{
    MethodResponse,
    middleware::rpc::{Batch, Notification, Request, RpcServiceT},
};
use std::{collections::HashSet, future::Future, sync::Arc, time::Instant};
use tower::Layer;

/// Calls received, by `method`.
pub const REQUESTS: &str = "rpc_requests_total";
/// Calls answered with an error, by `method` and JSON-RPC `code`.
pub const ERRORS: &str = "rpc_errors_total";
/// Time from receiving a call to having its answer, by `method`.
pub const LATENCY: &str = "rpc_request_duration_seconds";
/// The `method` label of calls to methods the server does not serve.
const UNKNOWN_METHOD: &str = "unknown";

/// Wraps a JSON-RPC service in [`RpcMetrics`].
#[derive(Debug, Clone)]
pub(crate) struct RpcMetricsLayer {
    methods: Arc<HashSet<&'static str>>,
    max_response_bytes: usize,
}

impl RpcMetricsLayer {
    /// Records the calls of `methods` under their names (others as `unknown`); batches are
    /// answered within `max_response_bytes`.
    pub(crate) fn new(
        methods: impl IntoIterator<Item = &'static str>,
        max_response_bytes: usize,
    ) -> Self {
        Self {
            methods: Arc::new(methods.into_iter().collect()),
            max_response_bytes,
        }
    }
}

impl<S> Layer<S> for RpcMetricsLayer {
    type Service = RpcMetrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RpcMetrics {
            inner,
            layer: self.clone(),
        }
    }
}

/// Records every call of the inner service.
#[derive(Debug, Clone)]
pub(crate) struct RpcMetrics<S> {
    inner: S,
    layer: RpcMetricsLayer,
}

impl<S> RpcMetrics<S> {
    fn label(&self, method: &str) -> &'static str {
        self.layer
            .methods
            .get(method)
            .copied()
            .unwrap_or(UNKNOWN_METHOD)
    }
}

impl<S> RpcServiceT for RpcMetrics<S>
where
    S: RpcServiceT<
            MethodResponse = MethodResponse,
            BatchResponse = MethodResponse,
            NotificationResponse = MethodResponse,
        > + Clone
        + Send
        + Sync
        + 'static,
{
    type MethodResponse = MethodResponse;
    type NotificationResponse = MethodResponse;
    type BatchResponse = MethodResponse;

    fn call<'a>(&self, request: Request<'a>) -> impl Future<Output = MethodResponse> + Send + 'a {
        let method = self.label(request.method_name());
        let started = Instant::now();
        let answer = self.inner.call(request);
        async move {
            let answer = answer.await;
            metrics::counter!(REQUESTS, "method" => method).increment(1);
            metrics::histogram!(LATENCY, "method" => method).record(started.elapsed());
            if let Some(code) = answer.as_error_code() {
                metrics::counter!(ERRORS, "method" => method, "code" => code.to_string())
                    .increment(1);
            }
            answer
        }
    }

    fn batch<'a>(&self, batch: Batch<'a>) -> impl Future<Output = MethodResponse> + Send + 'a {
        batch_through(self.clone(), batch, self.layer.max_response_bytes)
    }

    fn notification<'a>(
        &self,
        notification: Notification<'a>,
    ) -> impl Future<Output = MethodResponse> + Send + 'a {
        self.inner.notification(notification)
    }
}
