//! The attribution explorer: web pages that show what the chain paid for and why.
//!
//! Served by `openledger node --explorer` next to its own JSON-RPC, or by `openledger explorer`
//! against any node, it renders server-side HTML (a little JavaScript for the span details; no
//! build step) from the node's RPC alone ([`Reader`]):
//!
//! - recent blocks and transactions, a block, a transaction with its logs;
//! - Datanets with their contributions and curators; models and adapters with their prices;
//! - paid inferences: the prompt and the output with the spans traced to the Datanet
//!   highlighted OLMoTrace-style (a click or a hover shows each span's documents, their
//!   contributors and the span's count), the record's per-contributor weights and the shares
//!   the settlement paid them, and the verifier's verdict on the record;
//! - a contributor's contributions, reputation, attributed weight and earnings.
//!
//! The lists of requests, Datanets, models and blocks are paginated from the contracts' counters
//! and the head, so such a page costs the same with thousands of requests as with ten; a
//! request's page reads its events near its own block. The histories read from logs (an
//! adapter's requests, a Datanet's contributions and curators, a contributor's credits) cost
//! what the node's log index costs for the matching events, in ranges the node accepts. Every
//! user-supplied string is escaped, and the pages' content security policy runs no inline
//! script.

mod highlight;
mod html;
mod pages;
mod reader;

pub use alloy::transports::http::reqwest::Url;
pub use reader::{BlockId, ReadError, Reader, Served};

use axum::{
    Router,
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
    routing::get,
};
use pages::{chain, datanets, models, requests};
use std::{future::Future, sync::Arc};

/// The pages' content security policy: scripts and styles from this server only, no inline
/// script, no frames, no forms posting elsewhere.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The script of the span details.
const SCRIPT: &str = include_str!("assets/explorer.js");
/// The style sheet.
const STYLE: &str = include_str!("assets/explorer.css");

/// The explorer's routes over `reader`.
pub fn router(reader: Reader) -> Router {
    Router::new()
        .route("/", get(chain::home))
        .route("/blocks", get(chain::blocks))
        .route("/block/{id}", get(chain::block))
        .route("/tx/{hash}", get(chain::transaction))
        .route("/search", get(chain::search))
        .route("/datanets", get(datanets::list))
        .route("/datanet/{id}", get(datanets::datanet))
        .route("/contributor/{address}", get(datanets::contributor))
        .route("/models", get(models::list))
        .route("/adapter/{id}", get(models::adapter))
        .route("/requests", get(requests::list))
        .route("/request/{id}", get(requests::request))
        .route("/health", get(health))
        .route("/assets/explorer.js", get(script))
        .route("/assets/explorer.css", get(style))
        .fallback(not_found)
        .layer(axum::middleware::map_response(secure))
        .layer(axum::middleware::from_fn(measure))
        .with_state(Arc::new(reader))
}

/// Serves the explorer on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    reader: Reader,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(reader))
        .with_graceful_shutdown(shutdown)
        .await
}

/// Liveness of the explorer process itself (a page says when its node does not answer).
async fn health() -> &'static str {
    "ok"
}

async fn script() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        SCRIPT,
    )
}

async fn style() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE)
}

async fn not_found() -> pages::PageError {
    pages::PageError::NotFound("no such page".into())
}

/// Counts answers by status and times them (`explorer_responses_total`,
/// `explorer_response_seconds`): a page's time is mostly the node's RPC answering it.
async fn measure(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    metrics::histogram!("explorer_response_seconds").record(started.elapsed().as_secs_f64());
    metrics::counter!("explorer_responses_total", "status" => response.status().as_str().to_owned())
        .increment(1);
    response
}

/// Adds the headers every answer carries.
async fn secure(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}
