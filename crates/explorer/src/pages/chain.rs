//! The chain: the home page (heads, counts, recent blocks and inferences), the block list, a
//! block, a transaction, and the search box.

use super::{PageError, PageQuery, PageResult, newest_first, parse_hash, read_rows, requests};
use crate::{
    BlockId, Reader,
    html::{self, Page, Row, Text},
};
use alloy_primitives::{Address, B256, U256};
use axum::{
    extract::{Path, Query, State},
    response::{Html, IntoResponse, Redirect, Response},
};
use ol_primitives::{
    addresses::{PROOF_OF_ATTRIBUTION, dev_suite},
    contracts::{DatanetRegistry, InferenceMarket, ModelRegistry},
};
use serde::Deserialize;
use serde_json::Value;
use std::sync::Arc;

/// Blocks and inferences on the home page.
const RECENT: u64 = 10;
const _: () = assert!(RECENT <= crate::html::PAGE_SIZE);

/// A hex quantity field of a JSON object.
pub(crate) fn quantity(object: &Value, field: &str) -> Option<U256> {
    let text = object.get(field)?.as_str()?;
    U256::from_str_radix(text.strip_prefix("0x")?, 16).ok()
}

/// [`quantity`] as a `u64`, 0 when absent.
fn number(object: &Value, field: &str) -> u64 {
    quantity(object, field).map_or(0, |q| q.saturating_to())
}

/// A 32-byte hash field of a JSON object, zero when absent.
fn hash(object: &Value, field: &str) -> B256 {
    object
        .get(field)
        .and_then(|value| serde_json::from_value(value.clone()).ok())
        .unwrap_or_default()
}

/// An address field of a JSON object.
fn address(object: &Value, field: &str) -> Option<Address> {
    object
        .get(field)
        .and_then(|value| serde_json::from_value(value.clone()).ok())
}

/// The name of a contract of the suite at `address`, if it is one.
fn contract_name(address: &Address) -> Option<&'static str> {
    [
        (dev_suite::DATANET_REGISTRY, "DatanetRegistry"),
        (dev_suite::MODEL_REGISTRY, "ModelRegistry"),
        (dev_suite::INFERENCE_MARKET, "InferenceMarket"),
        (dev_suite::STAKING, "Staking"),
        (dev_suite::GOVERNANCE, "Governance"),
        (dev_suite::ATTESTOR_BATCH, "AttestorBatch"),
        (PROOF_OF_ATTRIBUTION, "Proof of Attribution"),
    ]
    .into_iter()
    .find_map(|(known, name)| (known == *address).then_some(name))
}

/// An address with the suite contract's name when it is one.
fn account(address: Option<Address>) -> String {
    match address {
        None => "<span class=\"note\">contract creation</span>".into(),
        Some(address) => match contract_name(&address) {
            Some(name) => format!("{name} <code>{address}</code>"),
            None => html::address(&address),
        },
    }
}

/// Rows of blocks, newest first.
async fn block_rows(reader: &Reader, numbers: &[u64]) -> Result<Vec<Row>, PageError> {
    read_rows(numbers.iter().copied(), |n| async move {
        let Some(block) = reader.block(BlockId::Number(n), false).await? else {
            return Ok(None);
        };
        let txs = block["transactions"].as_array().map_or(0, Vec::len);
        Ok(Some(
            Row::new([
                html::block(n),
                html::short(&hash(&block, "hash")),
                html::utc(number(&block, "timestamp")),
                txs.to_string(),
                number(&block, "gasUsed").to_string(),
            ])
            .with("number", n),
        ))
    })
    .await
}

const BLOCK_HEADERS: [&str; 5] = ["block", "hash", "time", "transactions", "gas used"];

/// `/`: the heads, the registries' counts, recent blocks and inferences.
pub(crate) async fn home(State(reader): State<Arc<Reader>>) -> PageResult {
    let mut heads = Vec::new();
    let mut head = 0;
    for tag in ["latest", "safe", "finalized"] {
        let block = reader.block(BlockId::Tag(tag), false).await?;
        if tag == "latest" {
            head = block.as_ref().map_or(0, |block| number(block, "number"));
        }
        let shown = block.map_or_else(
            || "<span class=\"note\">none yet</span>".to_string(),
            |block| html::block(number(&block, "number")),
        );
        heads.push((tag, shown));
    }
    let counts = [
        (
            "Datanets",
            reader
                .view_required(
                    dev_suite::DATANET_REGISTRY,
                    &DatanetRegistry::datanetCountCall {},
                )
                .await?,
        ),
        (
            "contributions",
            reader
                .view_required(
                    dev_suite::DATANET_REGISTRY,
                    &DatanetRegistry::contributionCountCall {},
                )
                .await?,
        ),
        (
            "base models",
            reader
                .view_required(
                    dev_suite::MODEL_REGISTRY,
                    &ModelRegistry::baseModelCountCall {},
                )
                .await?,
        ),
        (
            "adapters",
            reader
                .view_required(
                    dev_suite::MODEL_REGISTRY,
                    &ModelRegistry::adapterCountCall {},
                )
                .await?,
        ),
        (
            "paid inferences",
            reader
                .view_required(
                    dev_suite::INFERENCE_MARKET,
                    &InferenceMarket::requestCountCall {},
                )
                .await?,
        ),
    ];
    let mut page = Page::default();
    page.fields(&heads);
    page.fields(
        &counts
            .iter()
            .map(|(label, count)| {
                (
                    *label,
                    format!("<span data-count=\"{label}\">{count}</span>"),
                )
            })
            .collect::<Vec<_>>(),
    );
    let recent: Vec<u64> = (head.saturating_sub(RECENT - 1)..=head).rev().collect();
    page.heading("Recent blocks");
    page.table(
        "blocks",
        &BLOCK_HEADERS,
        &block_rows(&reader, &recent).await?,
        "no blocks",
    );
    page.push("<p><a href=\"/blocks\">all blocks</a></p>");
    page.heading("Recent inferences");
    let request_count = counts[4].1.saturating_to::<u64>();
    let numbers: Vec<u64> = newest_first(request_count, 1)
        .into_iter()
        .take(RECENT as usize)
        .collect();
    requests::table(&reader, &mut page, &numbers).await?;
    page.push("<p><a href=\"/requests\">all inferences</a></p>");
    Ok(Html(page.finish("OpenLedger")))
}

/// `/blocks?page=N`.
pub(crate) async fn blocks(
    State(reader): State<Arc<Reader>>,
    Query(query): Query<PageQuery>,
) -> PageResult {
    let page_number = query.number()?;
    let head = reader.head().await?;
    // Block numbers start at 0: the list has head + 1 entries.
    let numbers: Vec<u64> = newest_first(head.saturating_add(1), page_number)
        .into_iter()
        .map(|n| n - 1)
        .collect();
    let has_next = numbers.last().is_some_and(|&n| n > 0);
    let mut page = Page::default();
    page.table(
        "blocks",
        &BLOCK_HEADERS,
        &block_rows(&reader, &numbers).await?,
        "no blocks on this page",
    );
    page.pager("/blocks", page_number, has_next);
    Ok(Html(page.finish("Blocks")))
}

/// `/block/{number or hash}`.
pub(crate) async fn block(State(reader): State<Arc<Reader>>, Path(id): Path<String>) -> PageResult {
    let block_id = match id.parse::<u64>() {
        Ok(n) => BlockId::Number(n),
        Err(_) => BlockId::Hash(parse_hash(&id, "a block is a number or a hash, which")?),
    };
    let block = reader
        .block(block_id, true)
        .await?
        .ok_or_else(|| PageError::NotFound(format!("the node has no block {id}")))?;
    let n = number(&block, "number");
    let mut page = Page::default();
    page.fields(&[
        ("hash", format!("<code>{}</code>", hash(&block, "hash"))),
        (
            "parent",
            format!("<code>{}</code>", hash(&block, "parentHash")),
        ),
        ("time", html::utc(number(&block, "timestamp"))),
        (
            "gas used",
            format!(
                "{} of {}",
                number(&block, "gasUsed"),
                number(&block, "gasLimit")
            ),
        ),
        (
            "base fee",
            html::wei(quantity(&block, "baseFeePerGas").unwrap_or_default()),
        ),
        (
            "state root",
            format!("<code>{}</code>", hash(&block, "stateRoot")),
        ),
    ]);
    let rows: Vec<Row> = block["transactions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|tx| {
            Row::new([
                html::transaction(&hash(tx, "hash")),
                Text(tx["type"].as_str().unwrap_or("?")).to_string(),
                account(address(tx, "from")),
                account(address(tx, "to")),
                html::wei(quantity(tx, "value").unwrap_or_default()),
            ])
        })
        .collect();
    page.heading("Transactions");
    page.table(
        "transactions",
        &["hash", "type", "from", "to", "value"],
        &rows,
        "no transactions",
    );
    let mut nav = String::new();
    if n > 0 {
        nav.push_str(&format!(
            "<a rel=\"prev\" href=\"/block/{}\">&larr; block {}</a> ",
            n - 1,
            n - 1
        ));
    }
    if n < reader.head().await? {
        nav.push_str(&format!(
            "<a rel=\"next\" href=\"/block/{0}\">block {0} &rarr;</a>",
            n + 1
        ));
    }
    page.push(format_args!("<nav class=\"pager\">{nav}</nav>"));
    Ok(Html(page.finish(&format!("Block {n}"))))
}

/// `/tx/{hash}`.
pub(crate) async fn transaction(
    State(reader): State<Arc<Reader>>,
    Path(id): Path<String>,
) -> PageResult {
    let tx_hash = parse_hash(&id, "a transaction hash")?;
    let (tx, receipt) = reader
        .transaction(tx_hash)
        .await?
        .ok_or_else(|| PageError::NotFound(format!("the node has no transaction {tx_hash}")))?;
    let status = match receipt["status"].as_str() {
        Some("0x1") => "success",
        Some("0x0") => "reverted",
        _ => "pending",
    };
    let mut page = Page::default();
    page.fields(&[
        (
            "block",
            quantity(&tx, "blockNumber")
                .map_or_else(|| "pending".into(), |n| html::block(n.saturating_to())),
        ),
        ("status", status.to_string()),
        ("type", Text(tx["type"].as_str().unwrap_or("?")).to_string()),
        ("from", account(address(&tx, "from"))),
        ("to", account(address(&tx, "to"))),
        (
            "value",
            html::wei(quantity(&tx, "value").unwrap_or_default()),
        ),
        ("gas used", number(&receipt, "gasUsed").to_string()),
        ("nonce", number(&tx, "nonce").to_string()),
        (
            "input",
            format!(
                "{} bytes",
                tx["input"]
                    .as_str()
                    .map_or(0, |s| s.len().saturating_sub(2) / 2)
            ),
        ),
    ]);
    let rows: Vec<Row> = receipt["logs"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|log| {
            let topics: Vec<String> = log["topics"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|t| format!("<code>{}</code>", Text(t.as_str().unwrap_or(""))))
                .collect();
            Row::new([
                account(address(log, "address")),
                topics.join("<br>"),
                format!(
                    "{} bytes",
                    log["data"]
                        .as_str()
                        .map_or(0, |s| s.len().saturating_sub(2) / 2)
                ),
            ])
        })
        .collect();
    page.heading("Logs");
    page.table("logs", &["address", "topics", "data"], &rows, "no logs");
    Ok(Html(page.finish("Transaction")))
}

/// `?q=` of the search box.
#[derive(Debug, Deserialize)]
pub(crate) struct SearchQuery {
    q: Option<String>,
}

/// `/search?q=`: a block number, an address, a request id, a transaction or a block hash.
pub(crate) async fn search(
    State(reader): State<Arc<Reader>>,
    Query(query): Query<SearchQuery>,
) -> Result<Response, PageError> {
    let q = query.q.unwrap_or_default();
    let q = q.trim();
    if q.parse::<u64>().is_ok() {
        return Ok(Redirect::to(&format!("/block/{q}")).into_response());
    }
    if let Ok(address) = q.parse::<Address>() {
        return Ok(Redirect::to(&format!("/contributor/{address}")).into_response());
    }
    if let Ok(id) = q.parse::<B256>() {
        let request = reader
            .view(
                dev_suite::INFERENCE_MARKET,
                &InferenceMarket::getRequestCall { requestId: id },
            )
            .await?;
        if request.is_some() {
            return Ok(Redirect::to(&format!("/request/{id}")).into_response());
        }
        if reader.transaction(id).await?.is_some() {
            return Ok(Redirect::to(&format!("/tx/{id}")).into_response());
        }
        if reader.block(BlockId::Hash(id), false).await?.is_some() {
            return Ok(Redirect::to(&format!("/block/{id}")).into_response());
        }
    }
    Err(PageError::NotFound(format!(
        "nothing on this chain is named {q:?}: search for a block number, an address, a request id, a transaction or a block hash"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_of_rpc_objects() {
        let block = serde_json::json!({"number": "0x1f", "gasUsed": "zz", "hash": 7});
        assert_eq!(number(&block, "number"), 31);
        assert_eq!(number(&block, "gasUsed"), 0);
        assert_eq!(number(&block, "missing"), 0);
        assert_eq!(hash(&block, "hash"), B256::ZERO);
        assert_eq!(
            contract_name(&dev_suite::INFERENCE_MARKET),
            Some("InferenceMarket")
        );
        assert!(account(None).contains("creation"));
    }
}
