//! `ws`: the WebSocket server (`--ws`) serves the same namespaces as HTTP, plus
//! `eth_subscribe`: `newHeads` delivers the next headers, `logs` delivers exactly the matching
//! logs (and a filter that must miss delivers nothing), `newPendingTransactions` delivers the
//! hashes (or whole transactions) the pool accepts; `eth_unsubscribe` ends a subscription. Over
//! HTTP, `eth_subscribe` is not a method.

use crate::{address_topic, deploy_emitter, rpc_error, store};
use alloy::{
    primitives::{Address, B256, U256, address},
    providers::Provider,
    rpc::types::{Filter, Header, Log, Transaction},
    sol_types::SolEvent,
};
use eyre::{Result, ensure, eyre};
use ol_e2e::{
    DEV_CHAIN_ID, TestNode, contracts::EventEmitter, dev_address, dev_signer, generous_fees,
    raw_rpc, sign_transfer, wait_for_receipt,
};
use serde_json::json;
use std::time::Duration;

const NOBODY: Address = address!("0x00000000000000000000000000000000000e2e51");
const NOTIFICATION_TIMEOUT: Duration = Duration::from_secs(20);

async fn next<T: serde::de::DeserializeOwned + Clone>(
    subscription: &mut alloy::pubsub::Subscription<T>,
    what: &str,
) -> Result<T> {
    tokio::time::timeout(NOTIFICATION_TIMEOUT, subscription.recv())
        .await
        .map_err(|_| eyre!("no {what} within {NOTIFICATION_TIMEOUT:?}"))?
        .map_err(|err| eyre!("{what}: {err}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_subscriptions() -> Result<()> {
    let node = TestNode::start_with_ws().await?;
    let http = node.provider();
    let ws = node.ws_provider().await?;

    // The same namespaces over WebSocket.
    assert_eq!(
        ws.get_chain_id().await?,
        DEV_CHAIN_ID,
        "eth_chainId over WS"
    );
    let head = ws.get_block_number().await?;
    ensure!(
        head + 2 >= http.get_block_number().await?,
        "eth_blockNumber over WS"
    );
    assert_eq!(raw_rpc(&ws, "net_peerCount", ()).await?, json!("0x0"));
    assert_eq!(
        raw_rpc(&ws, "txpool_status", ()).await?,
        json!({ "pending": "0x0", "queued": "0x0" })
    );
    // eth_subscribe is a WebSocket method only.
    let (code, _) = rpc_error(&http, "eth_subscribe", ("newHeads",))
        .await?
        .ok_or_else(|| eyre!("eth_subscribe over HTTP must fail"))?;
    assert_eq!(code, -32601, "eth_subscribe over HTTP is an unknown method");
    let refused = rpc_error(&ws, "eth_subscribe", ("syncing",)).await?;
    assert!(
        refused.is_some(),
        "an unsupported subscription kind is refused"
    );

    // --- newHeads -----------------------------------------------------------------------------
    let mut heads = ws.subscribe_blocks().await?;
    let first: Header = next(&mut heads, "a new head").await?;
    let second: Header = next(&mut heads, "a second new head").await?;
    assert_eq!(second.number, first.number + 1, "consecutive heads");
    assert_eq!(second.parent_hash, first.hash, "linked heads");
    let stored = http
        .get_block_by_number(first.number.into())
        .await?
        .ok_or_else(|| eyre!("block {} missing", first.number))?;
    assert_eq!(
        stored.header.hash, first.hash,
        "the head's hash is the block's"
    );
    assert_eq!(
        stored.header.inner, first.inner,
        "the head's fields are the block's"
    );
    ws.unsubscribe(heads.local_id().to_owned()).await?;

    // --- logs ------------------------------------------------------------------------------
    let (contract, _) = deploy_emitter(&http).await?;
    let signature = EventEmitter::ValueChanged::SIGNATURE_HASH;
    let mut matching = ws
        .subscribe_logs(
            &Filter::new()
                .address(contract)
                .event_signature(signature)
                .topic1(address_topic(dev_address(1))),
        )
        .await?;
    let mut missing = ws.subscribe_logs(&Filter::new().address(NOBODY)).await?;
    let mut other_sender = ws
        .subscribe_logs(
            &Filter::new()
                .address(contract)
                .topic1(address_topic(dev_address(6))),
        )
        .await?;
    let stored = store(&http, contract, 1, 77).await?;
    let log: Log = next(&mut matching, "the matching log").await?;
    assert_eq!(
        log,
        stored.logs()[0],
        "the subscription delivers the receipt's log"
    );
    assert!(!log.removed);
    // One more block later nothing else arrived on any of the subscriptions.
    let mut heads = ws.subscribe_blocks().await?;
    next(&mut heads, "a head after the store").await?;
    next(&mut heads, "another head").await?;
    assert!(matching.try_recv().is_err(), "exactly one matching log");
    assert!(
        missing.try_recv().is_err(),
        "a filter of another address gets nothing"
    );
    assert!(
        other_sender.try_recv().is_err(),
        "a filter of another sender gets nothing"
    );

    // --- newPendingTransactions ----------------------------------------------------------------
    let mut hashes = ws.subscribe_pending_transactions().await?;
    let mut full = ws.subscribe_full_pending_transactions().await?;
    let fees = generous_fees(&http).await?;
    let (hash, raw) = sign_transfer(&dev_signer(8), 0, NOBODY, U256::from(9u64), fees)?;
    let _ = http.send_raw_transaction(&raw).await?;
    let announced: B256 = next(&mut hashes, "the pending transaction hash").await?;
    assert_eq!(announced, hash, "the accepted transaction's hash");
    let whole: Transaction = next(&mut full, "the pending transaction").await?;
    assert_eq!(
        *whole.inner.tx_hash(),
        hash,
        "the whole pending transaction"
    );
    assert_eq!(whole.inner.signer(), dev_address(8), "from");
    wait_for_receipt(&http, hash).await?;

    // --- eth_unsubscribe -------------------------------------------------------------------
    let id = *hashes.local_id();
    ws.unsubscribe(id).await?;
    let (hash, raw) = sign_transfer(&dev_signer(8), 1, NOBODY, U256::from(9u64), fees)?;
    let _ = http.send_raw_transaction(&raw).await?;
    let whole: Transaction = next(&mut full, "the second pending transaction").await?;
    assert_eq!(*whole.inner.tx_hash(), hash);
    assert!(
        hashes.try_recv().is_err(),
        "nothing arrives after eth_unsubscribe"
    );

    // Requests keep working on the same connection.
    assert_eq!(
        ws.get_transaction_count(dev_address(8)).pending().await?,
        2,
        "the pending nonce over WS"
    );
    node.finish().await
}
