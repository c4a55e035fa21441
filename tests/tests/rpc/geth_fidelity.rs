//! Answers scripts compare with geth's word for word: a plain transfer estimated at exactly
//! 21,000; an access list applied when the request has no `type` (web3.py sends none); a revert
//! reason as `execution reverted: <reason>`; `blockTimestamp` in receipts.

use crate::rpc_error;
use alloy::{
    primitives::{Address, B256, U256},
    providers::Provider,
    sol_types::SolError,
};
use eyre::{Result, ensure};
use ol_e2e::{TestNode, dev_address, dev_signer, generous_fees, raw_rpc, sign_transfer};
use serde_json::json;

fn quantity(value: &serde_json::Value) -> u64 {
    value
        .as_str()
        .and_then(|text| u64::from_str_radix(text.trim_start_matches("0x"), 16).ok())
        .unwrap_or(u64::MAX)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn estimates_errors_and_receipts_read_as_geths() -> Result<()> {
    let node = TestNode::start().await?;
    let provider = node.provider();
    let to = Address::repeat_byte(0x42);

    let plain = json!({ "from": dev_address(0), "to": to, "value": "0x1" });
    let estimate = raw_rpc(&provider, "eth_estimateGas", (plain,)).await?;
    ensure!(
        quantity(&estimate) == 21_000,
        "plain transfer estimated at {estimate}"
    );

    // One address and two keys, no `type`: 21,000 + 2,400 + 2 × 1,900.
    let listed = json!({
        "from": dev_address(0), "to": to, "value": "0x1",
        "accessList": [{ "address": Address::repeat_byte(7), "storageKeys": [B256::ZERO, B256::repeat_byte(1)] }],
    });
    let estimate = raw_rpc(&provider, "eth_estimateGas", (listed,)).await?;
    ensure!(
        quantity(&estimate) == 27_200,
        "access list estimated at {estimate}"
    );

    let data = alloy::sol_types::Revert::from("not allowed").abi_encode();
    let call = json!({ "from": dev_address(0), "data": ol_e2e::init_code(&data, 0xfd) });
    let refused = rpc_error(&provider, "eth_call", (call, "latest")).await?;
    ensure!(
        refused == Some((3, "execution reverted: not allowed".to_string())),
        "{refused:?}"
    );

    let fees = generous_fees(&provider).await?;
    let (hash, raw) = sign_transfer(&dev_signer(0), 0, to, U256::from(1), fees)?;
    let _pending = provider.send_raw_transaction(&raw).await?;
    ol_e2e::wait_for_receipt(&provider, hash).await?;
    let receipt = raw_rpc(&provider, "eth_getTransactionReceipt", (hash,)).await?;
    let block = raw_rpc(
        &provider,
        "eth_getBlockByHash",
        (receipt["blockHash"].clone(), false),
    )
    .await?;
    ensure!(
        receipt["blockTimestamp"] == block["timestamp"] && receipt["blockTimestamp"].is_string(),
        "receipt {receipt} in block {block}"
    );
    let receipts = raw_rpc(
        &provider,
        "eth_getBlockReceipts",
        (receipt["blockHash"].clone(),),
    )
    .await?;
    ensure!(
        receipts[0]["blockTimestamp"] == block["timestamp"],
        "{receipts}"
    );
    node.finish().await
}

/// A word as `eth_call` returns it.
fn word(value: u64) -> String {
    format!("{:#066x}", value)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_and_block_overrides_apply_to_calls_estimates_and_traces() -> Result<()> {
    let node = TestNode::start().await?;
    let provider = node.provider();
    let target = Address::repeat_byte(0x51);
    let call = json!({ "from": dev_address(0), "to": target });
    // Code that returns slot 0, its own balance, the block number.
    let returning = |op: &str| format!("0x{op}5f5260205ff3");
    let with = |code: String, extra: serde_json::Value| {
        let mut account = json!({ "code": code });
        if let (Some(account), Some(extra)) = (account.as_object_mut(), extra.as_object()) {
            account.extend(extra.clone());
        }
        json!({ target.to_string(): account })
    };

    let slot = with(
        returning("5f54"),
        json!({ "stateDiff": { B256::ZERO.to_string(): word(7) } }),
    );
    let answer = raw_rpc(&provider, "eth_call", (call.clone(), "latest", slot)).await?;
    ensure!(answer == json!(word(7)), "stateDiff: {answer}");

    let balance = with(returning("47"), json!({ "balance": "0x1234" }));
    let answer = raw_rpc(&provider, "eth_call", (call.clone(), "latest", balance)).await?;
    ensure!(answer == json!(word(0x1234)), "balance: {answer}");

    let number = with(returning("43"), json!({}));
    let answer = raw_rpc(
        &provider,
        "eth_call",
        (call.clone(), "latest", number, json!({ "number": "0x999" })),
    )
    .await?;
    ensure!(
        answer == json!(word(0x999)),
        "block number override: {answer}"
    );

    // The identity precompile moved to another address answers there, and no longer at 0x04.
    let moved_to = Address::repeat_byte(0x61);
    let identity = Address::with_last_byte(4);
    let moving = json!({ identity.to_string(): { "movePrecompileToAddress": moved_to } });
    let echo = |to: Address| json!({ "from": dev_address(0), "to": to, "data": "0xabcd" });
    let answer = raw_rpc(
        &provider,
        "eth_call",
        (echo(moved_to), "latest", moving.clone()),
    )
    .await?;
    ensure!(answer == json!("0xabcd"), "moved identity: {answer}");
    let answer = raw_rpc(&provider, "eth_call", (echo(identity), "latest", moving)).await?;
    ensure!(answer == json!("0x"), "the old address: {answer}");

    // An estimate runs the overridden code: not the plain-transfer shortcut.
    let slow = with(returning("5f54"), json!({}));
    let estimate = raw_rpc(
        &provider,
        "eth_estimateGas",
        (call.clone(), "latest", slow.clone()),
    )
    .await?;
    ensure!(
        quantity(&estimate) > 21_000,
        "estimate with code: {estimate}"
    );

    // debug_traceCall takes them in its options.
    let traced = raw_rpc(
        &provider,
        "debug_traceCall",
        (
            call.clone(),
            "latest",
            json!({ "tracer": "callTracer", "stateOverrides": slow }),
        ),
    )
    .await?;
    ensure!(traced["output"] == json!(word(0)), "{traced}");

    // `state` and `stateDiff` together are refused as bad parameters.
    let both = with(returning("5f54"), json!({ "state": {}, "stateDiff": {} }));
    let refused = rpc_error(&provider, "eth_call", (call, "latest", both)).await?;
    ensure!(matches!(refused, Some((-32602, _))), "{refused:?}");
    node.finish().await
}
