//! Datanets and contributors: the Datanet list, a Datanet with its curators and contributions,
//! and a contributor's contributions, reputation, attributed weight and earnings.

use super::{
    PageError, PageQuery, PageResult, has_older, newest_first, page_of, parse_address, parse_id,
    read_rows,
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
    addresses::dev_suite::{DATANET_REGISTRY, INFERENCE_MARKET},
    contracts::{DatanetRegistry, InferenceMarket},
};
use std::{collections::BTreeMap, sync::Arc};

/// `DatanetRegistry.Status` by value.
const CONTRIBUTION_STATUS: [&str; 4] = ["none", "pending", "approved", "rejected"];

fn contribution_status(status: u8) -> &'static str {
    CONTRIBUTION_STATUS
        .get(usize::from(status))
        .copied()
        .unwrap_or("unknown")
}

fn policy(policy: u8) -> &'static str {
    if policy == 0 { "open" } else { "curated" }
}

/// A link to Datanet `id`.
pub(crate) fn datanet_link(id: U256) -> String {
    format!("<a href=\"/datanet/{id}\">Datanet {id}</a>")
}

/// `/datanets?page=N`.
pub(crate) async fn list(
    State(reader): State<Arc<Reader>>,
    Query(query): Query<PageQuery>,
) -> PageResult {
    let page_number = query.number()?;
    let count: u64 = reader
        .view_required(DATANET_REGISTRY, &DatanetRegistry::datanetCountCall {})
        .await?
        .saturating_to();
    let numbers = newest_first(count, page_number);
    let rows = read_rows(numbers.iter().map(|&n| U256::from(n)), |id| {
        let reader = &reader;
        async move {
            let Some(d) = reader
                .view(
                    DATANET_REGISTRY,
                    &DatanetRegistry::getDatanetCall { datanetId: id },
                )
                .await?
            else {
                return Ok(None);
            };
            Ok(Some(
                Row::new([
                    datanet_link(id),
                    html::address(&d.owner),
                    policy(d.policy).to_string(),
                    d.contributionCount.to_string(),
                    html::wei(d.minStake),
                    Text(&d.metadataURI).to_string(),
                ])
                .with("datanet", id),
            ))
        }
    })
    .await?;
    let mut page = Page::default();
    page.table(
        "datanets",
        &[
            "Datanet",
            "owner",
            "policy",
            "contributions",
            "minimum stake",
            "metadata URI",
        ],
        &rows,
        "no Datanets yet",
    );
    page.pager("/datanets", page_number, has_older(&numbers));
    Ok(Html(page.finish("Datanets")))
}

/// Rows of contributions from their `ContributionSubmitted` events, with their current state.
async fn contribution_rows(
    reader: &Reader,
    events: &[DatanetRegistry::ContributionSubmitted],
) -> Result<Vec<Row>, PageError> {
    read_rows(events, |event| async move {
        let Some(c) = reader
            .view(
                DATANET_REGISTRY,
                &DatanetRegistry::getContributionCall {
                    contributionId: event.contributionId,
                },
            )
            .await?
        else {
            return Ok(None);
        };
        Ok(Some(
            Row::new([
                event.contributionId.to_string(),
                datanet_link(c.datanetId),
                html::address(&c.contributor),
                contribution_status(c.status).to_string(),
                html::short(&c.contentHash),
                c.size.to_string(),
                html::wei(c.stake),
                Text(&c.uri).to_string(),
            ])
            .with("contribution", event.contributionId)
            .with("status", contribution_status(c.status)),
        ))
    })
    .await
}

const CONTRIBUTION_HEADERS: [&str; 8] = [
    "id",
    "Datanet",
    "contributor",
    "status",
    "content",
    "bytes",
    "stake",
    "URI",
];

/// The `ContributionSubmitted` events matching `filter`, newest first, page `page_number`;
/// and whether an older page exists.
async fn contributions_page(
    reader: &Reader,
    filter: Filter,
    head: u64,
    page_number: u64,
) -> Result<(Vec<DatanetRegistry::ContributionSubmitted>, u64, bool), PageError> {
    let filter = filter
        .address(DATANET_REGISTRY)
        .event_signature(DatanetRegistry::ContributionSubmitted::SIGNATURE_HASH);
    let mut events: Vec<_> = reader
        .logs(&filter, 0, head)
        .await?
        .into_iter()
        .filter_map(|log| {
            log.log_decode::<DatanetRegistry::ContributionSubmitted>()
                .ok()
        })
        .map(|decoded| decoded.inner.data)
        .collect();
    events.reverse();
    let (page, has_next) = page_of(&events, page_number);
    Ok((page.to_vec(), events.len() as u64, has_next))
}

/// `/datanet/{id}?page=N`: the Datanet, its curators and its contributions.
pub(crate) async fn datanet(
    State(reader): State<Arc<Reader>>,
    Path(id): Path<String>,
    Query(query): Query<PageQuery>,
) -> PageResult {
    let id = parse_id(&id, "a Datanet id")?;
    let page_number = query.number()?;
    let d = reader
        .view(
            DATANET_REGISTRY,
            &DatanetRegistry::getDatanetCall { datanetId: id },
        )
        .await?
        .ok_or_else(|| PageError::NotFound(format!("there is no Datanet {id}")))?;
    let approved = reader
        .view_required(
            DATANET_REGISTRY,
            &DatanetRegistry::approvedCountCall { datanetId: id },
        )
        .await?;
    let mut page = Page::default();
    page.fields(&[
        ("owner", html::address(&d.owner)),
        ("policy", policy(d.policy).to_string()),
        ("contributions", d.contributionCount.to_string()),
        ("approved", approved.to_string()),
        ("minimum stake", html::wei(d.minStake)),
        ("slashed on rejection", html::ppm(u64::from(d.slashPpm))),
        ("licence", format!("<code>{}</code>", d.licenseId)),
        ("metadata URI", Text(&d.metadataURI).to_string()),
    ]);

    // Curators: the latest `CuratorSet` of each account.
    let head = reader.head().await?;
    let filter = Filter::new()
        .address(DATANET_REGISTRY)
        .event_signature(DatanetRegistry::CuratorSet::SIGNATURE_HASH)
        .topic1(B256::from(id));
    let mut curators = BTreeMap::new();
    for log in reader.logs(&filter, 0, head).await? {
        if let Ok(decoded) = log.log_decode::<DatanetRegistry::CuratorSet>() {
            curators.insert(decoded.inner.data.curator, decoded.inner.data.allowed);
        }
    }
    let rows: Vec<Row> = curators
        .iter()
        .filter(|(_, allowed)| **allowed)
        .map(|(curator, _)| Row::new([html::address(curator)]).with("curator", curator))
        .collect();
    page.heading("Curators");
    page.push("<p class=\"note\">The owner curates too.</p>");
    page.table(
        "curators",
        &["curator"],
        &rows,
        "no curators besides the owner",
    );

    let (events, total, has_next) = contributions_page(
        &reader,
        Filter::new().topic2(B256::from(id)),
        head,
        page_number,
    )
    .await?;
    page.heading(&format!("Contributions ({total})"));
    page.table(
        "contributions",
        &CONTRIBUTION_HEADERS,
        &contribution_rows(&reader, &events).await?,
        "no contributions yet",
    );
    page.pager(&format!("/datanet/{id}"), page_number, has_next);
    Ok(Html(page.finish(&format!("Datanet {id}"))))
}

/// `/contributor/{address}?page=N`: contributions, reputation, attributed weight, earnings.
pub(crate) async fn contributor(
    State(reader): State<Arc<Reader>>,
    Path(address): Path<String>,
    Query(query): Query<PageQuery>,
) -> PageResult {
    let account = parse_address(&address)?;
    let page_number = query.number()?;
    let reputation = reader
        .view_required(
            DATANET_REGISTRY,
            &DatanetRegistry::reputationOfCall {
                contributor: account,
            },
        )
        .await?;
    let balance = reader
        .view_required(INFERENCE_MARKET, &InferenceMarket::balanceOfCall(account))
        .await?;
    let head = reader.head().await?;
    let topic = B256::left_padding_from(account.as_slice());
    let credited_filter = Filter::new()
        .address(INFERENCE_MARKET)
        .event_signature(InferenceMarket::Credited::SIGNATURE_HASH)
        .topic1(topic);
    let credits: Vec<(InferenceMarket::Credited, u64)> = reader
        .logs(&credited_filter, 0, head)
        .await?
        .into_iter()
        .filter_map(|log| {
            let block = log.block_number?;
            Some((
                log.log_decode::<InferenceMarket::Credited>()
                    .ok()?
                    .inner
                    .data,
                block,
            ))
        })
        .collect();
    let earned = credits
        .iter()
        .fold(U256::ZERO, |sum, (c, _)| sum.saturating_add(c.amount));
    let withdrawn_filter = Filter::new()
        .address(INFERENCE_MARKET)
        .event_signature(InferenceMarket::Withdrawn::SIGNATURE_HASH)
        .topic1(topic);
    let withdrawn = reader
        .logs(&withdrawn_filter, 0, head)
        .await?
        .into_iter()
        .filter_map(|log| log.log_decode::<InferenceMarket::Withdrawn>().ok())
        .fold(U256::ZERO, |sum, w| sum.saturating_add(w.inner.data.amount));

    let mut page = Page::default();
    page.fields(&[
        ("approved contributions", format!("<span id=\"approved\">{}</span>", reputation.approved)),
        ("rejected contributions", format!("<span id=\"rejected\">{}</span>", reputation.rejected)),
        (
            "attributed weight",
            format!(
                "<span id=\"attributed-weight\" data-ppm=\"{0}\">{0} ppm over all settled inferences</span>",
                reputation.attributedWeightPpm
            ),
        ),
        ("credited in all", format!("<span id=\"earned\">{}</span>", html::wei(earned))),
        ("withdrawn", html::wei(withdrawn)),
        ("balance to withdraw", format!("<span id=\"balance\">{}</span>", html::wei(balance))),
    ]);

    let (events, total, has_next) =
        contributions_page(&reader, Filter::new().topic3(topic), head, page_number).await?;
    page.heading(&format!("Contributions ({total})"));
    page.table(
        "contributions",
        &CONTRIBUTION_HEADERS,
        &contribution_rows(&reader, &events).await?,
        "no contributions",
    );

    page.heading(&format!(
        "Earnings ({})",
        html::counted(credits.len() as u128, "credit")
    ));
    page.push("<p class=\"note\">Every credit of the inference market to this account: contributor shares, and refunds or model-owner shares where it was also the requester or owner.</p>");
    let newest: Vec<_> = credits.iter().rev().collect();
    let (shown, more_credits) = page_of(&newest, page_number);
    let rows: Vec<Row> = shown
        .iter()
        .map(|(credit, block)| {
            Row::new([
                html::request(&credit.requestId),
                html::block(*block),
                html::wei(credit.amount),
            ])
            .with("request", credit.requestId)
            .with("amount", credit.amount)
        })
        .collect();
    page.table(
        "earnings",
        &["request", "block", "amount"],
        &rows,
        "no earnings yet",
    );
    page.pager(
        &format!("/contributor/{account}"),
        page_number,
        has_next || more_credits,
    );
    Ok(Html(page.finish(&format!("Contributor {account}"))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_of_enum_values() {
        assert_eq!(contribution_status(2), "approved");
        assert_eq!(contribution_status(9), "unknown");
        assert_eq!((policy(0), policy(1)), ("open", "curated"));
        assert_eq!(
            datanet_link(U256::from(3u64)),
            "<a href=\"/datanet/3\">Datanet 3</a>"
        );
    }
}
