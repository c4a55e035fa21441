//! The per-IP rate limit (`--rpc.rate-limit`): a token bucket per client address.
//!
//! Every HTTP request (a batch counts once) and every WebSocket handshake takes a token at the
//! HTTP layer ([`RateLimiter::check_http`]); an exhausted bucket gets HTTP 429 with a JSON-RPC
//! error body. On an open WebSocket every call takes a token ([`WsRateLimitLayer`]); an
//! exhausted bucket gets the JSON-RPC error for that call and the connection stays open. A
//! bucket holds one second of requests and refills continuously.

use super::batch_through;
use jsonrpsee::{
    server::{
        HttpBody, HttpResponse, MethodResponse,
        middleware::rpc::{Batch, Notification, Request, RpcServiceT},
    },
    types::ErrorObjectOwned,
};
use parking_lot::Mutex;
use std::{collections::HashMap, future::Future, net::IpAddr, sync::Arc, time::Instant};
use tower::Layer;

/// JSON-RPC code of a refused request: "limit exceeded" (EIP-1474), as hosted providers use it
/// for rate limits.
pub const RATE_LIMITED: i32 = -32005;
/// Requests refused by the rate limit (HTTP requests, WebSocket handshakes and calls).
pub const RATE_LIMITED_METRIC: &str = "rpc_rate_limited_total";
/// Buckets kept before idle (full) ones are dropped.
const PRUNE_ABOVE: usize = 4096;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// Token buckets by client address.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    per_second: u32,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

impl RateLimiter {
    /// A limit of `per_second` requests per second per address (with a burst of as many).
    pub(crate) fn new(per_second: u32) -> Self {
        Self {
            per_second,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a token from `ip`'s bucket; `false` when it is empty.
    pub(crate) fn try_acquire(&self, ip: IpAddr) -> bool {
        self.try_acquire_at(ip, Instant::now())
    }

    fn try_acquire_at(&self, ip: IpAddr, now: Instant) -> bool {
        let capacity = f64::from(self.per_second);
        let refill = |bucket: &Bucket| {
            let elapsed = now.saturating_duration_since(bucket.updated);
            (bucket.tokens + elapsed.as_secs_f64() * capacity).min(capacity)
        };
        let mut buckets = self.buckets.lock();
        if buckets.len() > PRUNE_ABOVE {
            // A full bucket is the same as no bucket: forget addresses that went quiet.
            buckets.retain(|_, bucket| refill(bucket) < capacity);
        }
        let bucket = buckets.entry(ip).or_insert(Bucket {
            tokens: capacity,
            updated: now,
        });
        bucket.tokens = refill(bucket);
        bucket.updated = now;
        if bucket.tokens < 1.0 {
            return false;
        }
        bucket.tokens -= 1.0;
        true
    }

    /// The error a refused request gets.
    pub(crate) fn error(&self, ip: IpAddr) -> ErrorObjectOwned {
        ErrorObjectOwned::owned(
            RATE_LIMITED,
            format!(
                "rate limit exceeded: more than {} requests per second from {ip}",
                self.per_second
            ),
            None::<()>,
        )
    }

    /// `None` when `ip` may go on, else the HTTP 429 answer (a JSON-RPC error with a null id,
    /// as for other requests refused before they are read).
    pub(crate) fn check_http(&self, ip: IpAddr) -> Option<HttpResponse> {
        if self.try_acquire(ip) {
            return None;
        }
        metrics::counter!(RATE_LIMITED_METRIC).increment(1);
        let body = serde_json::json!({ "jsonrpc": "2.0", "id": null, "error": self.error(ip) });
        HttpResponse::builder()
            .status(429)
            .header("content-type", "application/json; charset=utf-8")
            .header("retry-after", "1")
            .body(HttpBody::from(body.to_string()))
            .ok()
    }
}

/// The address of a WebSocket client, put in the handshake request's extensions (jsonrpsee
/// hands them on to every call of the connection).
#[derive(Debug, Clone, Copy)]
pub(crate) struct WsClient(pub(crate) IpAddr);

/// Limits the calls of WebSocket connections (calls without a [`WsClient`] pass: HTTP requests
/// were limited before they were read).
#[derive(Debug, Clone)]
pub(crate) struct WsRateLimitLayer {
    limiter: Option<Arc<RateLimiter>>,
    max_response_bytes: usize,
}

impl WsRateLimitLayer {
    /// Limits with `limiter` (none: every call passes); batches are answered within
    /// `max_response_bytes`.
    pub(crate) const fn new(limiter: Option<Arc<RateLimiter>>, max_response_bytes: usize) -> Self {
        Self {
            limiter,
            max_response_bytes,
        }
    }
}

impl<S> Layer<S> for WsRateLimitLayer {
    type Service = WsRateLimit<S>;

    fn layer(&self, inner: S) -> Self::Service {
        WsRateLimit {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service of [`WsRateLimitLayer`].
#[derive(Debug, Clone)]
pub(crate) struct WsRateLimit<S> {
    inner: S,
    layer: WsRateLimitLayer,
}

impl<S> RpcServiceT for WsRateLimit<S>
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
        let refused = match (&self.layer.limiter, request.extensions().get::<WsClient>()) {
            (Some(limiter), Some(WsClient(ip))) if !limiter.try_acquire(*ip) => {
                metrics::counter!(RATE_LIMITED_METRIC).increment(1);
                Some(MethodResponse::error(
                    request.id().into_owned(),
                    limiter.error(*ip),
                ))
            }
            _ => None,
        };
        let inner = self.inner.clone();
        async move {
            match refused {
                Some(refused) => refused,
                None => inner.call(request).await,
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::{net::Ipv4Addr, time::Duration};

    const A: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
    const B: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));

    #[test]
    fn a_burst_of_one_second_then_refusals_then_refill() {
        let limiter = RateLimiter::new(5);
        let start = Instant::now();
        assert!((0..5).all(|_| limiter.try_acquire_at(A, start)));
        assert!(
            !limiter.try_acquire_at(A, start),
            "the sixth in the same instant"
        );
        assert!(
            limiter.try_acquire_at(B, start),
            "other addresses have their own bucket"
        );
        let later = start + Duration::from_millis(200);
        assert!(
            limiter.try_acquire_at(A, later),
            "one token back after 1/5 s"
        );
        assert!(!limiter.try_acquire_at(A, later));
        let much_later = later + Duration::from_secs(60);
        assert_eq!(
            (0..10)
                .filter(|_| limiter.try_acquire_at(A, much_later))
                .count(),
            5,
            "an idle bucket refills to one second's worth, no more"
        );
    }

    #[test]
    fn idle_addresses_are_forgotten() {
        let limiter = RateLimiter::new(1);
        let start = Instant::now();
        for i in 0..=PRUNE_ABOVE as u32 {
            assert!(limiter.try_acquire_at(IpAddr::V4(Ipv4Addr::from(i)), start));
        }
        limiter.try_acquire_at(A, start + Duration::from_secs(2));
        assert_eq!(
            limiter.buckets.lock().len(),
            1,
            "only the active address is kept"
        );
    }

    #[test]
    fn refusals_are_http_429_with_a_json_rpc_error() {
        let limiter = RateLimiter::new(1);
        assert!(limiter.check_http(A).is_none());
        let refused = limiter.check_http(A).expect("the second is refused");
        assert_eq!(refused.status(), 429);
        assert_eq!(limiter.error(A).code(), RATE_LIMITED);
        assert_eq!(
            limiter.error(A).message(),
            "rate limit exceeded: more than 1 requests per second from 10.0.0.1"
        );
    }
}
