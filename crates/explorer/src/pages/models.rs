//! Models: base models and adapters with their prices, and an adapter with the Datanets it
//! was trained on and the inferences paid for on it.

use super::{
    PageError, PageQuery, PageResult, datanets::datanet_link, has_older, newest_first, page_of,
    parse_id, read_rows, requests,
};
use crate::{
    Reader,
    html::{self, Page, Row, Text},
};
use alloy::rpc::types::Filter;
use alloy_primitives::{B256, U256};
use alloy_sol_types::SolEvent;
use axum::{
    extract::{Path, Query, State},
    response::Html,
};
use ol_primitives::{
    addresses::dev_suite::{INFERENCE_MARKET, MODEL_REGISTRY},
    contracts::{InferenceMarket, ModelRegistry},
};
use std::sync::Arc;

fn active(active: bool) -> &'static str {
    if active { "active" } else { "deactivated" }
}

/// `/models?page=N`: base models and adapters, newest first, page by page.
pub(crate) async fn list(
    State(reader): State<Arc<Reader>>,
    Query(query): Query<PageQuery>,
) -> PageResult {
    let page_number = query.number()?;
    let base_count: u64 = reader
        .view_required(MODEL_REGISTRY, &ModelRegistry::baseModelCountCall {})
        .await?
        .saturating_to();
    let base_numbers = newest_first(base_count, page_number);
    let rows = read_rows(base_numbers.iter().map(|&n| U256::from(n)), |id| {
        let reader = &reader;
        async move {
            let Some(m) = reader
                .view(
                    MODEL_REGISTRY,
                    &ModelRegistry::getBaseModelCall { baseModelId: id },
                )
                .await?
            else {
                return Ok(None);
            };
            Ok(Some(
                Row::new([
                    id.to_string(),
                    html::address(&m.owner),
                    active(m.active).to_string(),
                    html::short(&m.weightsHash),
                    Text(&m.uri).to_string(),
                ])
                .with("base-model", id),
            ))
        }
    })
    .await?;
    let mut page = Page::default();
    page.heading(&format!("Base models ({base_count})"));
    page.table(
        "base-models",
        &["id", "owner", "state", "weights", "URI"],
        &rows,
        "no base models yet",
    );

    let adapter_count: u64 = reader
        .view_required(MODEL_REGISTRY, &ModelRegistry::adapterCountCall {})
        .await?
        .saturating_to();
    let numbers = newest_first(adapter_count, page_number);
    let rows = read_rows(numbers.iter().map(|&n| U256::from(n)), |id| {
        let reader = &reader;
        async move {
            let Some(a) = reader
                .view(
                    MODEL_REGISTRY,
                    &ModelRegistry::getAdapterCall { adapterId: id },
                )
                .await?
            else {
                return Ok(None);
            };
            Ok(Some(
                Row::new([
                    format!("<a href=\"/adapter/{id}\">{id}</a>"),
                    a.baseModelId.to_string(),
                    html::address(&a.owner),
                    format!("{} (v{})", active(a.active), a.version),
                    html::wei(U256::from(a.priceInPer1k)),
                    html::wei(U256::from(a.priceOutPer1k)),
                    requests::method_name(a.attributionMethod),
                ])
                .with("adapter", id)
                .with("price-in", a.priceInPer1k)
                .with("price-out", a.priceOutPer1k),
            ))
        }
    })
    .await?;
    page.heading(&format!("Adapters ({adapter_count})"));
    page.table(
        "adapters",
        &[
            "adapter",
            "base model",
            "owner",
            "state",
            "per 1,000 tokens in",
            "per 1,000 tokens out",
            "attribution",
        ],
        &rows,
        "no adapters yet",
    );
    // One page number pages both lists.
    page.pager(
        "/models",
        page_number,
        has_older(&numbers) || has_older(&base_numbers),
    );
    Ok(Html(page.finish("Models")))
}

/// `/adapter/{id}?page=N`: the adapter, its Datanets and the inferences paid on it.
pub(crate) async fn adapter(
    State(reader): State<Arc<Reader>>,
    Path(id): Path<String>,
    Query(query): Query<PageQuery>,
) -> PageResult {
    let id = parse_id(&id, "an adapter id")?;
    let page_number = query.number()?;
    let a = reader
        .view(
            MODEL_REGISTRY,
            &ModelRegistry::getAdapterCall { adapterId: id },
        )
        .await?
        .ok_or_else(|| PageError::NotFound(format!("there is no adapter {id}")))?;
    let mut page = Page::default();
    let mut fields = vec![
        ("base model", a.baseModelId.to_string()),
        ("owner", html::address(&a.owner)),
        ("state", active(a.active).to_string()),
        ("version", a.version.to_string()),
        ("per 1,000 tokens in", html::wei(U256::from(a.priceInPer1k))),
        (
            "per 1,000 tokens out",
            html::wei(U256::from(a.priceOutPer1k)),
        ),
        ("attribution", requests::method_name(a.attributionMethod)),
        ("adapter hash", format!("<code>{}</code>", a.adapterHash)),
        ("URI", Text(&a.uri).to_string()),
    ];
    if !a.previousVersionId.is_zero() {
        fields.push((
            "previous version",
            format!("<a href=\"/adapter/{0}\">{0}</a>", a.previousVersionId),
        ));
    }
    if !a.nextVersionId.is_zero() {
        fields.push((
            "next version",
            format!("<a href=\"/adapter/{0}\">{0}</a>", a.nextVersionId),
        ));
    }
    page.fields(&fields);
    let rows: Vec<Row> = a
        .datanets
        .iter()
        .map(|used| {
            Row::new([
                datanet_link(used.datanetId),
                used.contributionCount.to_string(),
            ])
        })
        .collect();
    page.heading("Trained on");
    page.table(
        "trained-on",
        &["Datanet", "contributions used"],
        &rows,
        "no Datanets",
    );

    // Its requests, from the market's `Requested` events (the adapter is the third topic).
    let head = reader.head().await?;
    let filter = Filter::new()
        .address(INFERENCE_MARKET)
        .event_signature(InferenceMarket::Requested::SIGNATURE_HASH)
        .topic3(B256::from(id));
    let ids: Vec<B256> = reader
        .logs(&filter, 0, head)
        .await?
        .into_iter()
        .rev()
        .filter_map(|log| log.topics().get(1).copied())
        .collect();
    page.heading(&format!("Paid inferences ({})", ids.len()));
    let (shown, has_next) = page_of(&ids, page_number);
    let rows: Vec<Row> = shown
        .iter()
        .map(|request| Row::new([html::request(request)]).with("request", request))
        .collect();
    page.table(
        "requests",
        &["request"],
        &rows,
        "no paid inferences on this adapter yet",
    );
    page.pager(&format!("/adapter/{id}"), page_number, has_next);
    Ok(Html(page.finish(&format!("Adapter {id}"))))
}
