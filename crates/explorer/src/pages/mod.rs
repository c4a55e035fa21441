//! The pages, grouped by what they show: the chain ([`chain`]), Datanets and contributors
//! ([`datanets`]), models and adapters ([`models`]) and paid inferences ([`requests`]).
//!
//! Every handler parses its own parameters (a bad one is a 400 page that says what was
//! wrong, never a panic), reads the node through [`crate::Reader`] and renders server-side.

pub(crate) mod chain;
pub(crate) mod datanets;
pub(crate) mod models;
pub(crate) mod requests;

use crate::{
    ReadError,
    html::{PAGE_SIZE, Page, Row, Text},
};
use alloy_primitives::{Address, B256, U256};
use axum::{
    http::StatusCode,
    response::{Html, IntoResponse, Response},
};
use serde::Deserialize;
use std::future::Future;

/// Why a page could not be shown.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PageError {
    /// The parameter does not name anything that could exist.
    #[error("{0}")]
    BadInput(String),
    /// Nothing has that id.
    #[error("{0}")]
    NotFound(String),
    /// The node could not be read.
    #[error(transparent)]
    Read(#[from] ReadError),
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, title) = match &self {
            Self::BadInput(_) => (StatusCode::BAD_REQUEST, "Bad request"),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "Not found"),
            Self::Read(err) => {
                tracing::warn!(%err, "explorer: reading the node failed");
                metrics::counter!("explorer_read_errors_total").increment(1);
                (StatusCode::BAD_GATEWAY, "The node did not answer")
            }
        };
        // The transport's error names the node's URL, which may carry a provider's key: it
        // goes to the log, never to the visitor.
        let shown = match &self {
            Self::Read(_) => "The node's JSON-RPC did not answer; try again later.".to_string(),
            other => other.to_string(),
        };
        let mut page = Page::default();
        page.push(format_args!("<p class=\"error\">{}</p>", Text(&shown)));
        (status, Html(page.finish(title))).into_response()
    }
}

/// What a page handler returns.
pub(crate) type PageResult = Result<Html<String>, PageError>;

/// `?page=N` of a paginated list (1-based; absent is 1).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct PageQuery {
    page: Option<String>,
}

impl PageQuery {
    /// The page number.
    pub(crate) fn number(&self) -> Result<u64, PageError> {
        match &self.page {
            None => Ok(1),
            Some(text) => text
                .parse::<u64>()
                .ok()
                .filter(|page| (1..=u64::MAX / PAGE_SIZE).contains(page))
                .ok_or_else(|| {
                    PageError::BadInput(format!("page must be a number from 1: {text:?}"))
                }),
        }
    }
}

/// The ids `count, count-1, …` of page `page` of a list of `count` items, newest first.
pub(crate) fn newest_first(count: u64, page: u64) -> Vec<u64> {
    let skip = (page - 1) * PAGE_SIZE;
    let top = count.saturating_sub(skip);
    (top.saturating_sub(PAGE_SIZE) + 1..=top).rev().collect()
}

/// Whether a list paged by [`newest_first`] has a page after the one holding `numbers`.
pub(crate) fn has_older(numbers: &[u64]) -> bool {
    numbers.last().is_some_and(|&n| n > 1)
}

/// Page `page` of `items` (newest first), and whether another page follows.
pub(crate) fn page_of<T>(items: &[T], page: u64) -> (&[T], bool) {
    let start = usize::try_from((page - 1) * PAGE_SIZE)
        .unwrap_or(usize::MAX)
        .min(items.len());
    let end = start.saturating_add(PAGE_SIZE as usize).min(items.len());
    (&items[start..end], end < items.len())
}

/// One row per item, each read by `read` concurrently, in the items' order; an item whose read
/// finds nothing (an id that reverts) is left out.
pub(crate) async fn read_rows<T, Fut>(
    items: impl IntoIterator<Item = T>,
    read: impl Fn(T) -> Fut,
) -> Result<Vec<Row>, PageError>
where
    Fut: Future<Output = Result<Option<Row>, PageError>>,
{
    let rows = futures_util::future::try_join_all(items.into_iter().map(read)).await?;
    Ok(rows.into_iter().flatten().collect())
}

/// A 32-byte hash parameter.
pub(crate) fn parse_hash(text: &str, what: &str) -> Result<B256, PageError> {
    text.parse()
        .map_err(|_| PageError::BadInput(format!("{what} must be 0x and 64 hex digits: {text:?}")))
}

/// An address parameter.
pub(crate) fn parse_address(text: &str) -> Result<Address, PageError> {
    text.parse()
        .map_err(|_| PageError::BadInput(format!("an address is 0x and 40 hex digits: {text:?}")))
}

/// A decimal id parameter.
pub(crate) fn parse_id(text: &str, what: &str) -> Result<U256, PageError> {
    U256::from_str_radix(text, 10)
        .map_err(|_| PageError::BadInput(format!("{what} must be a decimal number: {text:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_count_down_from_the_newest() {
        assert_eq!(newest_first(3, 1), vec![3, 2, 1]);
        assert_eq!(newest_first(0, 1), Vec::<u64>::new());
        let first = newest_first(60, 1);
        assert_eq!((first[0], first.len()), (60, 25));
        assert_eq!(newest_first(60, 3), (1..=10).rev().collect::<Vec<_>>());
        assert!(newest_first(60, 4).is_empty());
        assert!(newest_first(5, u64::MAX / PAGE_SIZE).is_empty());
    }

    #[test]
    fn in_memory_pages_hold_25_and_say_what_follows() {
        let items: Vec<u64> = (0..60).collect();
        assert_eq!(page_of(&items, 1), (&items[..25], true));
        assert_eq!(page_of(&items, 3), (&items[50..], false));
        assert_eq!(page_of(&items, 4), (&items[60..], false));
        assert_eq!(page_of(&items[..25], 1), (&items[..25], false));
        assert!(page_of(&items, u64::MAX / PAGE_SIZE).0.is_empty());
        assert!(has_older(&newest_first(26, 1)) && !has_older(&newest_first(26, 2)));
    }

    #[test]
    fn bad_parameters_are_refused_with_what_was_wrong() {
        let bad = PageQuery {
            page: Some("0".into()),
        };
        assert!(matches!(bad.number(), Err(PageError::BadInput(m)) if m.contains("\"0\"")));
        assert_eq!(PageQuery::default().number().ok(), Some(1));
        assert!(parse_hash("0x12", "a request id").is_err());
        assert!(parse_address("nope").is_err());
        assert!(parse_id("-1", "a Datanet id").is_err());
    }
}
