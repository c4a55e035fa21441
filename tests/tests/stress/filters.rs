//! Installed filters are capped: per connection and on the whole node, with the limit's code
//! (-32005) and a message that says what to do; filters larger than geth allows are refused
//! with geth's messages, for installed filters and `eth_getLogs` alike.

use crate::still_sealing;
use alloy::{
    primitives::{Address, B256},
    providers::{DynProvider, Provider},
};
use eyre::{Result, ensure, eyre};
use ol_e2e::{TestNode, raw_rpc, rpc_error};
use serde_json::{Value, json};

/// Installs block filters on `provider` until one is refused; returns the ids and the refusal.
async fn install_until_refused(
    provider: &DynProvider,
    most: usize,
) -> Result<(Vec<Value>, (i64, String))> {
    let mut ids = Vec::new();
    for _ in 0..=most {
        let answer = provider
            .raw_request::<_, Value>("eth_newBlockFilter".into(), ())
            .await;
        match answer {
            Ok(id) => ids.push(id),
            Err(err) => {
                let refusal = err
                    .as_error_resp()
                    .ok_or_else(|| eyre!("eth_newBlockFilter failed: {err}"))?;
                return Ok((ids, (refusal.code, refusal.message.to_string())));
            }
        }
    }
    Err(eyre!(
        "{} filters were installed without a refusal",
        ids.len()
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filter_counts_and_sizes_are_capped_with_clear_errors() -> Result<()> {
    let _alone = crate::ONE_AT_A_TIME.lock().await;
    let args = [
        "--rpc.max-filters",
        "60",
        "--rpc.max-filters-per-connection",
        "40",
    ];
    let node = TestNode::start_with_ws_and_args(args.map(String::from).to_vec()).await?;
    // A WebSocket provider is one connection for its whole life; an HTTP client may open a new
    // connection between two requests, which would start a new per-connection count.
    let first = node.ws_provider().await?;
    let second = node.ws_provider().await?;

    let (mine, (code, message)) = install_until_refused(&first, 40).await?;
    ensure!(code == -32005, "code {code}: {message}");
    ensure!(
        message.contains("on this connection (limit 40)"),
        "{message}"
    );
    ensure!(
        mine.len() == 40,
        "{} filters before the refusal",
        mine.len()
    );

    let (_, (code, message)) = install_until_refused(&second, 60).await?;
    ensure!(code == -32005, "code {code}: {message}");
    ensure!(message.contains("limit of 60"), "{message}");

    // Uninstalling frees a place, and the remaining filters still answer.
    let uninstalled = raw_rpc(&first, "eth_uninstallFilter", (mine[0].clone(),)).await?;
    ensure!(uninstalled == json!(true), "{uninstalled}");
    raw_rpc(&second, "eth_newBlockFilter", ()).await?;
    raw_rpc(&first, "eth_getFilterChanges", (mine[1].clone(),)).await?;

    // Sizes: geth's 1,000 addresses and 1,000 values per topic position.
    let addresses: Vec<Address> = (0..1001u64)
        .map(|i| Address::left_padding_from(&i.to_be_bytes()))
        .collect();
    let topics: Vec<B256> = (0..1001u64)
        .map(|i| B256::left_padding_from(&i.to_be_bytes()))
        .collect();
    let too_many_addresses = json!({ "address": addresses });
    let third = ol_e2e::dev_provider(node.url())?;
    let too_many_topics = json!({ "topics": [topics] });
    for (method, filter, expected) in [
        ("eth_newFilter", &too_many_addresses, "exceed max addresses"),
        ("eth_getLogs", &too_many_addresses, "exceed max addresses"),
        ("eth_getLogs", &too_many_topics, "exceed max topics"),
    ] {
        let refused = rpc_error(&third, method, (filter.clone(),)).await?;
        ensure!(
            refused == Some((-32000, expected.to_string())),
            "{method}: {refused:?}"
        );
    }
    still_sealing(&first).await?;
    node.finish().await
}
