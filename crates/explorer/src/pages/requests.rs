//! Paid inferences: the list, and one request with its prompt, its output with the spans
//! traced to the Datanet highlighted, the record's weights, the shares the settlement paid,
//! and the verifier's verdict.
//!
//! The chain gives the request, the prompt (`PromptSubmitted`), the output (`OutputPublished`),
//! the record (the PoA precompile's `attributionOf`) and the settlement (`Settled`); the
//! contributors' shares are the precompile's own `split` of the contributors' part by the
//! record's weights, which is exactly what `settle` credited. The spans come from the job
//! service's journal (`ol_getAttribution`), the verdict from the verifier (`ol_verification`).

use super::{
    PageError, PageQuery, PageResult, chain::quantity, has_older, newest_first, parse_hash,
    read_rows,
};
use crate::{
    Reader, Served,
    highlight::{self, ByteRange},
    html::{self, Page, Row, Text},
};
use alloy::rpc::types::{Filter, Log};
use alloy_primitives::{Address, B256, U256, keccak256};
use alloy_sol_types::{SolEvent, SolValue};
use axum::{
    extract::{Path, Query, State},
    response::Html,
};
use ol_primitives::{
    addresses::{
        PROOF_OF_ATTRIBUTION,
        dev_suite::{DATANET_REGISTRY, INFERENCE_MARKET, MODEL_REGISTRY},
    },
    contracts::{
        DatanetRegistry, IProofOfAttribution, InferenceMarket, ModelRegistry, attribution_method,
    },
};
use serde_json::Value;
use std::{
    collections::{BTreeMap, btree_map::Entry},
    sync::Arc,
};

/// `InferenceMarket.Status` by value.
const STATUS: [&str; 5] = ["none", "open", "fulfilled", "settled", "refunded"];
/// `Status.Fulfilled`.
const FULFILLED: u8 = 2;
/// `Status.Settled`.
const SETTLED: u8 = 3;
/// `Status.Refunded`.
const REFUNDED: u8 = 4;
/// Documents listed per span (the count says how many there are in all).
const DOCUMENTS_PER_SPAN: usize = 10;

/// The name of a request status.
fn status_name(status: u8) -> &'static str {
    STATUS
        .get(usize::from(status))
        .copied()
        .unwrap_or("unknown")
}

/// The name of an attribution method id.
pub(crate) fn method_name(method: u8) -> String {
    match method {
        attribution_method::DATAINF => "DataInf".into(),
        attribution_method::INFINIGRAM => "lineage (suffix array)".into(),
        attribution_method::GAUSS_NEWTON => "Gauss-Newton influence".into(),
        other => format!("method {other}"),
    }
}

/// The id `InferenceMarket.requestIdOf(n)` gives the `n`-th request on chain `chain_id`.
fn request_id(chain_id: u64, n: u64) -> B256 {
    keccak256((U256::from(chain_id), INFERENCE_MARKET, U256::from(n)).abi_encode_params())
}

/// The row of request number `n`, if it exists.
async fn request_row(reader: &Reader, chain_id: u64, n: u64) -> Result<Option<Row>, PageError> {
    let id = request_id(chain_id, n);
    let Some(r) = reader
        .view(
            INFERENCE_MARKET,
            &InferenceMarket::getRequestCall { requestId: id },
        )
        .await?
    else {
        return Ok(None);
    };
    Ok(Some(
        Row::new([
            html::request(&id),
            n.to_string(),
            format!("<a href=\"/adapter/{0}\">{0}</a>", r.adapterId),
            html::address(&r.requester),
            status_name(r.status).to_string(),
            html::wei(U256::from(r.escrow)),
            format!("{} / {}", r.tokensIn, r.tokensOut),
        ])
        .with("request", id),
    ))
}

/// The table of requests number `numbers` (1-based, as `requestIdOf` counts them), read
/// concurrently.
pub(crate) async fn table(
    reader: &Reader,
    page: &mut Page,
    numbers: &[u64],
) -> Result<(), PageError> {
    let chain_id = reader.chain_id().await?;
    let rows = read_rows(numbers.iter().copied(), |n| {
        request_row(reader, chain_id, n)
    })
    .await?;
    page.table(
        "requests",
        &[
            "request",
            "#",
            "adapter",
            "requester",
            "status",
            "escrow",
            "tokens in / out",
        ],
        &rows,
        "no paid inferences yet",
    );
    Ok(())
}

/// `/requests?page=N`: every paid inference, newest first.
pub(crate) async fn list(
    State(reader): State<Arc<Reader>>,
    Query(query): Query<PageQuery>,
) -> PageResult {
    let page_number = query.number()?;
    let count: u64 = reader
        .view_required(INFERENCE_MARKET, &InferenceMarket::requestCountCall {})
        .await?
        .saturating_to();
    let numbers = newest_first(count, page_number);
    let mut page = Page::default();
    page.push(format_args!(
        "<p>{}.</p>",
        html::counted(count, "paid inference")
    ));
    table(&reader, &mut page, &numbers).await?;
    page.pager("/requests", page_number, has_older(&numbers));
    Ok(Html(page.finish("Paid inferences")))
}

/// A filter for `event` of `address` whose first indexed topic is `id`.
fn by_id<E: SolEvent>(address: Address, id: B256) -> Filter {
    Filter::new()
        .address(address)
        .event_signature(E::SIGNATURE_HASH)
        .topic1(id)
}

/// The first `E` of `address` about `id` in blocks `from..=to`, decoded.
async fn first_event<E: SolEvent>(
    reader: &Reader,
    address: Address,
    id: B256,
    from: u64,
    to: u64,
) -> Result<Option<(E, Log)>, PageError> {
    let Some(log) = reader.first_log(&by_id::<E>(address, id), from, to).await? else {
        return Ok(None);
    };
    Ok(log
        .log_decode::<E>()
        .ok()
        .map(|decoded| (decoded.inner.data, log)))
}

/// `/request/{id}`.
pub(crate) async fn request(
    State(reader): State<Arc<Reader>>,
    Path(id): Path<String>,
) -> PageResult {
    let id = parse_hash(&id, "a request id")?;
    let r = reader
        .view(
            INFERENCE_MARKET,
            &InferenceMarket::getRequestCall { requestId: id },
        )
        .await?
        .ok_or_else(|| PageError::NotFound(format!("no paid inference has the id {id}")))?;
    let head = reader.head().await?;
    // The job service knows the request's block; any node finds it in the logs.
    let job = match reader.job_service("ol_jobStatus", id).await? {
        Served::Answer(status) if !status.is_null() => Some(status),
        _ => None,
    };
    let request_block = match job.as_ref().and_then(|status| quantity(status, "block")) {
        Some(block) => Some(block.saturating_to()),
        // A request is made at or before its expiry block: read back from there.
        None => reader
            .last_log(
                &by_id::<InferenceMarket::Requested>(INFERENCE_MARKET, id),
                0,
                head.min(r.expiryBlock),
            )
            .await?
            .and_then(|log| log.block_number),
    };
    let record = reader
        .view(
            PROOF_OF_ATTRIBUTION,
            &IProofOfAttribution::attributionOfCall { requestId: id },
        )
        .await?;

    let mut fields = vec![
        (
            "status",
            format!(
                "<span id=\"request-status\">{}</span>",
                status_name(r.status)
            ),
        ),
        ("requester", html::address(&r.requester)),
        (
            "adapter",
            format!("<a href=\"/adapter/{0}\">{0}</a>", r.adapterId),
        ),
        ("escrow", html::wei(U256::from(r.escrow))),
        (
            "tokens in / out",
            format!(
                "{} / {} (at most {} / {})",
                r.tokensIn, r.tokensOut, r.maxTokensIn, r.maxTokensOut
            ),
        ),
        (
            "prices per 1,000 tokens in / out",
            format!(
                "{} / {}",
                html::wei(U256::from(r.priceInPer1k)),
                html::wei(U256::from(r.priceOutPer1k))
            ),
        ),
        ("expires after block", html::block(r.expiryBlock)),
        ("method", method_name(r.attributionMethod)),
    ];
    if let Some(block) = request_block {
        fields.push(("requested in block", html::block(block)));
    }
    if let Some(job) = &job {
        let stage = Text(job["stage"].as_str().unwrap_or("unknown")).to_string();
        let shown = match job["reason"].as_str() {
            Some(reason) => format!("{stage}: {}", Text(reason)),
            None => stage,
        };
        fields.push((
            "job service",
            format!("<span id=\"job-stage\">{shown}</span>"),
        ));
    }
    if let Some(record) = &record {
        fields.push(("recorded in block", html::block(record.blockNumber)));
        fields.push(("attestor", html::address(&record.attestor)));
        fields.push(("output hash", format!("<code>{}</code>", record.outputHash)));
        fields.push((
            "evidence root",
            format!("<code>{}</code>", record.evidenceRoot),
        ));
    }
    let mut page = Page::default();
    page.fields(&fields);

    page.heading("Prompt");
    let from = request_block.unwrap_or(0);
    // `request` emits the prompt in the transaction that opens the request.
    let prompt_to = request_block.unwrap_or(head);
    if !r.promptOnChain {
        page.push(format_args!(
            "<p class=\"note\">The prompt is the requester's (sent off chain; its hash is <code>{}</code>).</p>",
            r.promptHash
        ));
    } else if let Some((event, _)) = first_event::<InferenceMarket::PromptSubmitted>(
        &reader,
        INFERENCE_MARKET,
        id,
        from,
        prompt_to,
    )
    .await?
    {
        page.push(format_args!(
            "<div class=\"text\" id=\"prompt\">{}</div>",
            Text(&String::from_utf8_lossy(&event.prompt))
        ));
    } else {
        page.push("<p class=\"note\">The prompt's event is not on this node's chain.</p>");
    }

    page.heading("Output");
    let output = match &record {
        Some(record) if r.promptOnChain && (r.status == FULFILLED || r.status == SETTLED) => {
            let to = head.min(r.expiryBlock);
            first_event::<InferenceMarket::OutputPublished>(
                &reader,
                INFERENCE_MARKET,
                id,
                record.blockNumber,
                to,
            )
            .await?
            .map(|(event, _)| String::from_utf8_lossy(&event.output).into_owned())
        }
        _ => None,
    };
    let attribution = reader.job_service("ol_getAttribution", id).await?;
    let spans = match &attribution {
        Served::Answer(answer) => answer["spans"].as_array().cloned().unwrap_or_default(),
        Served::NotServed(_) => Vec::new(),
    };
    match &output {
        Some(text) => {
            let trained_on: Vec<U256> = reader
                .view(
                    MODEL_REGISTRY,
                    &ModelRegistry::getAdapterCall {
                        adapterId: U256::from(r.adapterId),
                    },
                )
                .await?
                .map(|adapter| adapter.datanets.iter().map(|used| used.datanetId).collect())
                .unwrap_or_default();
            spans_section(&reader, &mut page, text, &spans, &attribution, &trained_on).await?;
        }
        None if !r.promptOnChain => {
            page.push(
                "<p class=\"note\">The output of an off-chain prompt is the requester's.</p>",
            );
        }
        None if r.status == REFUNDED => {
            page.push(
                "<p class=\"note\">Not fulfilled before it expired: the escrow was refunded.</p>",
            );
        }
        None => {
            page.push("<p class=\"note\">Not fulfilled yet.</p>");
        }
    }

    let settlement = if r.status == SETTLED {
        let from = record.as_ref().map_or(from, |record| record.blockNumber);
        first_event::<InferenceMarket::Settled>(&reader, INFERENCE_MARKET, id, from, head)
            .await?
            .map(|(event, _)| event)
    } else {
        None
    };
    page.heading("Contributors");
    match &record {
        None => {
            page.push("<p class=\"note\">No attribution is recorded yet.</p>");
        }
        Some(record) => {
            contributors_section(&reader, &mut page, record, settlement.as_ref()).await?
        }
    }
    if let Some(s) = &settlement {
        page.heading("Settlement");
        page.fields(&[
            ("fee", html::wei(s.fee)),
            ("refund", html::wei(s.refund)),
            ("model owner", html::wei(s.modelOwnerShare)),
            ("stakers", html::wei(s.stakersShare)),
            ("contributors", html::wei(s.contributorsShare)),
            ("treasury", html::wei(s.treasuryShare)),
        ]);
    }

    page.heading("Verification");
    verification_section(&mut page, reader.verification(id).await?);
    Ok(Html(page.finish("Paid inference")))
}

/// The output with its spans marked, and each span's documents.
async fn spans_section(
    reader: &Reader,
    page: &mut Page,
    output: &str,
    spans: &[Value],
    attribution: &Served,
    trained_on: &[U256],
) -> Result<(), PageError> {
    let placed: Vec<Option<ByteRange>> = spans
        .iter()
        .map(|span| {
            let start = quantity(span, "start")?.try_into().ok()?;
            let end = quantity(span, "end")?.try_into().ok()?;
            highlight::on_boundaries(output, ByteRange { start, end })
        })
        .collect();
    page.push(format_args!(
        "<div class=\"text\" id=\"output\">{}</div>",
        highlight::mark(output, &placed)
    ));
    if let Served::NotServed(why) = attribution {
        page.push(format_args!(
            "<p class=\"note\">This node keeps no job journal, so the spans are not shown ({}).</p>",
            Text(why)
        ));
        return Ok(());
    }
    if placed.iter().all(Option::is_none) {
        page.push("<p class=\"note\">No span of the output was traced to the Datanet (a gradient method attributes the whole output).</p>");
        return Ok(());
    }
    page.heading("Spans traced to the Datanet");
    page.push("<p class=\"note\">Click or hover a highlighted part of the output to see its documents.</p><ol class=\"spans\">");
    let mut uris: BTreeMap<B256, String> = BTreeMap::new();
    for (i, (span, range)) in spans.iter().zip(&placed).enumerate() {
        let Some(range) = range else { continue };
        let count = quantity(span, "count").unwrap_or_default();
        let documents = span["documents"].as_array().cloned().unwrap_or_default();
        page.push(format_args!(
            "<li class=\"span-detail\" id=\"span-{i}\" data-span=\"{i}\" data-count=\"{count}\">\
             <q class=\"span-text\">{}</q> occurs {} in the Datanet; {} credited.",
            Text(&output[range.start..range.end]),
            html::counted(count.saturating_to::<u128>(), "time"),
            html::counted(documents.len() as u128, "document")
        ));
        let mut rows = Vec::new();
        for document in documents.iter().take(DOCUMENTS_PER_SPAN) {
            let datapoint: B256 =
                serde_json::from_value(document["datapoint"].clone()).unwrap_or_default();
            let contributor: Address =
                serde_json::from_value(document["contributor"].clone()).unwrap_or_default();
            let uri = match uris.entry(datapoint) {
                Entry::Occupied(known) => known.into_mut(),
                Entry::Vacant(slot) => {
                    slot.insert(contribution_uri(reader, trained_on, datapoint).await?)
                }
            };
            rows.push(
                Row::new([
                    html::short(&datapoint),
                    Text(uri).to_string(),
                    html::address(&contributor),
                ])
                .with("contributor", contributor)
                .with("datapoint", datapoint),
            );
        }
        page.table(
            "documents",
            &["document", "contribution URI", "contributor"],
            &rows,
            "no documents",
        );
        page.push("</li>");
    }
    page.push("</ol>");
    Ok(())
}

/// The URI `datapoint` was contributed under in the first of the adapter's Datanets that holds
/// it (a content hash is unique within a Datanet, not across them); empty when none does.
async fn contribution_uri(
    reader: &Reader,
    trained_on: &[U256],
    datapoint: B256,
) -> Result<String, PageError> {
    for &datanet in trained_on {
        let id = reader
            .view(
                DATANET_REGISTRY,
                &DatanetRegistry::contributionByContentCall {
                    datanetId: datanet,
                    contentHash: datapoint,
                },
            )
            .await?;
        let Some(id) = id.filter(|id| !id.is_zero()) else {
            continue;
        };
        if let Some(c) = reader
            .view(
                DATANET_REGISTRY,
                &DatanetRegistry::getContributionCall { contributionId: id },
            )
            .await?
        {
            return Ok(c.uri);
        }
    }
    Ok(String::new())
}

/// The record's contributors, weights and (once settled) paid shares.
async fn contributors_section(
    reader: &Reader,
    page: &mut Page,
    record: &IProofOfAttribution::Attribution,
    settlement: Option<&InferenceMarket::Settled>,
) -> Result<(), PageError> {
    if record.contributors.is_empty() {
        page.push("<p class=\"note\" id=\"no-source\">The attribution found no source: no contributor is paid, and the contributors' part goes to the treasury.</p>");
        return Ok(());
    }
    let shares = match settlement {
        Some(s) if !s.contributorsShare.is_zero() => Some(
            reader
                .view_required(
                    PROOF_OF_ATTRIBUTION,
                    &IProofOfAttribution::splitCall {
                        amount: s.contributorsShare,
                        weightsPpm: record.weightsPpm.clone(),
                    },
                )
                .await?,
        ),
        _ => None,
    };
    let rows: Vec<Row> = record
        .contributors
        .iter()
        .zip(&record.weightsPpm)
        .enumerate()
        .map(|(i, (contributor, &weight))| {
            let paid = shares.as_ref().and_then(|s| s.get(i)).copied();
            let row = Row::new([
                html::address(contributor),
                html::ppm(u64::from(weight)),
                paid.map_or_else(
                    || "<span class=\"note\">not settled</span>".into(),
                    html::wei,
                ),
            ])
            .with("contributor", contributor)
            .with("weight-ppm", weight);
            match paid {
                Some(paid) => row.with("paid-wei", paid),
                None => row,
            }
        })
        .collect();
    page.table("weights", &["contributor", "weight", "paid"], &rows, "");
    Ok(())
}

/// The verifier's verdict.
fn verification_section(page: &mut Page, verdict: Served) {
    match verdict {
        Served::NotServed(why) => {
            page.push(format_args!(
                "<p class=\"note\" id=\"verification\" data-status=\"unavailable\">No verifier answered ({}).</p>",
                Text(&why)
            ));
        }
        Served::Answer(Value::Null) => {
            page.push("<p class=\"note\" id=\"verification\" data-status=\"unseen\">The verifier has not seen this request yet.</p>");
        }
        Served::Answer(answer) => {
            let status = answer["status"].as_str().unwrap_or("unknown");
            page.push(format_args!(
                "<p id=\"verification\" class=\"status-{0}\" data-status=\"{0}\">{0}</p>",
                Text(status)
            ));
            if let Some(reason) = answer["reason"].as_str() {
                page.push(format_args!("<p class=\"note\">{}</p>", Text(reason)));
            }
            let rows: Vec<Row> = answer["mismatches"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|m| {
                    let text = |field: &str| Text(m[field].as_str().unwrap_or("")).to_string();
                    Row::new([text("field"), text("recorded"), text("recomputed")])
                        .with("field", m["field"].as_str().unwrap_or(""))
                })
                .collect();
            if !rows.is_empty() {
                page.table("mismatches", &["field", "recorded", "re-run"], &rows, "");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_the_markets() {
        // keccak256(abi.encode(1611, market, 1)), as `requestIdOf(1)` answers on the dev chain.
        let encoded = [
            U256::from(1611u64).to_be_bytes::<32>().to_vec(),
            B256::left_padding_from(INFERENCE_MARKET.as_slice()).to_vec(),
            U256::from(1u64).to_be_bytes::<32>().to_vec(),
        ]
        .concat();
        assert_eq!(request_id(1611, 1), keccak256(encoded));
        assert_ne!(request_id(1611, 1), request_id(1611, 2));
        assert_eq!(status_name(REFUNDED), "refunded");
        assert_eq!(status_name(200), "unknown");
    }
}
