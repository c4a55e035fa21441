//! `debug`: `debug_traceTransaction`, `debug_traceCall`, `debug_traceBlockByNumber` and
//! `debug_traceBlockByHash` with the struct logger, `callTracer` and `prestateTracer` (also in
//! diff mode), checked against the receipts and the state they describe; and state reads at past
//! blocks (`eth_getBalance`, `eth_getStorageAt`, `eth_getCode`, `eth_getTransactionCount`,
//! `eth_call`) through the history tables.

use crate::{deploy_emitter, rpc_error, store};
use alloy::{
    eips::BlockId,
    primitives::{B256, Bytes, TxKind, U256},
    providers::Provider,
    sol_types::{SolCall, SolError},
};
use eyre::{Result, ensure, eyre};
use ol_e2e::{
    DEV_CHAIN_ID, TestNode, contracts::EventEmitter, dev_address, dev_signer, generous_fees,
    json_quantity, raw_receipt, raw_rpc, sign_eip1559, wait_for_receipt,
};
use serde_json::{Value, json};

fn quantity(value: &Value) -> Result<u64> {
    let text = value
        .as_str()
        .ok_or_else(|| eyre!("not a quantity: {value}"))?;
    Ok(u64::from_str_radix(text.trim_start_matches("0x"), 16)?)
}

/// Storage slot 0 (`value`) as the prestate tracer prints it, if present.
fn slot0(account: &Value) -> Option<U256> {
    account["storage"][format!("{:#066x}", 0)]
        .as_str()
        .and_then(|text| text.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_at_past_blocks() -> Result<()> {
    let node = TestNode::start().await?;
    let provider = node.provider();
    let sender = dev_address(0);
    let (contract, deployed) = deploy_emitter(&provider).await?;
    let deploy_block = deployed.block_number.unwrap_or_default();
    let first = store(&provider, contract, 0, 11).await?;
    let second = store(&provider, contract, 0, 22).await?;
    let (a, b) = (
        first.block_number.unwrap_or_default(),
        second.block_number.unwrap_or_default(),
    );
    ensure!(a < b, "each store waits for its receipt");
    let at = |number: u64| BlockId::number(number);

    // Storage and eth_call see each block's value, not the head's.
    for (number, expected) in [(deploy_block, 0u64), (a, 11), (b, 22)] {
        let slot = provider
            .get_storage_at(contract, U256::ZERO)
            .block_id(at(number))
            .await?;
        assert_eq!(slot, U256::from(expected), "slot 0 after block {number}");
        let called = EventEmitter::new(contract, provider.clone())
            .value()
            .block(at(number))
            .call()
            .await?;
        assert_eq!(called, U256::from(expected), "value() after block {number}");
    }
    // Before its deployment the contract has no code.
    let code_before = provider
        .get_code_at(contract)
        .block_id(at(deploy_block - 1))
        .await?;
    assert!(
        code_before.is_empty(),
        "code before deployment: {code_before}"
    );
    assert!(!provider.get_code_at(contract).await?.is_empty());

    // The sender's balance and nonce between the two stores differ by exactly the second
    // store's cost and one nonce.
    let raw = raw_receipt(&provider, second.transaction_hash)
        .await?
        .ok_or_else(|| eyre!("receipt of the second store"))?;
    let cost = U256::from(second.gas_used) * U256::from(second.effective_gas_price)
        + json_quantity(&raw, "l1Fee")?;
    let before = provider.get_balance(sender).block_id(at(a)).await?;
    let after = provider.get_balance(sender).block_id(at(b)).await?;
    assert_eq!(before - after, cost, "balance history");
    let nonce_a = provider
        .get_transaction_count(sender)
        .block_id(at(a))
        .await?;
    let nonce_b = provider
        .get_transaction_count(sender)
        .block_id(at(b))
        .await?;
    assert_eq!(nonce_b, nonce_a + 1, "nonce history");
    // By hash too (EIP-1898).
    let by_hash = provider
        .get_balance(sender)
        .block_id(BlockId::hash(
            first.block_hash.ok_or_else(|| eyre!("block hash"))?,
        ))
        .await?;
    assert_eq!(by_hash, before);

    // A block that does not exist is refused, not answered with the head's state.
    let (code, message) = rpc_error(&provider, "eth_getBalance", (sender, "0xffffff"))
        .await?
        .ok_or_else(|| eyre!("a state read at a future block must fail"))?;
    assert_eq!((code, message.as_str()), (-32000, "header not found"));
    node.finish().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_transactions_blocks_and_calls() -> Result<()> {
    let node = TestNode::start().await?;
    let provider = node.provider();
    let sender = dev_address(0);
    let (contract, _) = deploy_emitter(&provider).await?;
    let first = store(&provider, contract, 0, 1).await?;
    let second = store(&provider, contract, 0, 2).await?;
    let hash = second.transaction_hash;
    let input = Bytes::from(
        EventEmitter::storeCall {
            newValue: U256::from(2),
        }
        .abi_encode(),
    );

    // Struct logger: the gas of the receipt, success, and the opcodes a store runs.
    let default = raw_rpc(&provider, "debug_traceTransaction", (hash, json!({}))).await?;
    assert_eq!(
        default["gas"].as_u64(),
        Some(second.gas_used),
        "{}",
        default["gas"]
    );
    assert_eq!(default["failed"], json!(false));
    let ops: Vec<&str> = default["structLogs"]
        .as_array()
        .ok_or_else(|| eyre!("structLogs: {default}"))?
        .iter()
        .filter_map(|log| log["op"].as_str())
        .collect();
    for op in ["SLOAD", "SSTORE", "LOG3", "STOP"] {
        assert!(ops.contains(&op), "{op} missing from {ops:?}");
    }

    // callTracer: one top-level CALL with the receipt's gas and no error.
    let call = raw_rpc(
        &provider,
        "debug_traceTransaction",
        (hash, json!({ "tracer": "callTracer" })),
    )
    .await?;
    assert_eq!(call["type"], json!("CALL"));
    assert_eq!(
        call["from"].as_str().map(str::to_lowercase),
        Some(format!("{sender:#x}"))
    );
    assert_eq!(
        call["to"].as_str().map(str::to_lowercase),
        Some(format!("{contract:#x}"))
    );
    assert_eq!(call["input"], json!(input));
    assert_eq!(quantity(&call["gasUsed"])?, second.gas_used);
    assert!(call.get("error").is_none(), "{call}");

    // prestateTracer: the contract's slot 0 held 1 before the transaction; in diff mode it
    // holds 2 after.
    let pre = raw_rpc(
        &provider,
        "debug_traceTransaction",
        (hash, json!({ "tracer": "prestateTracer" })),
    )
    .await?;
    let contract_key = format!("{contract:#x}");
    assert_eq!(slot0(&pre[&contract_key]), Some(U256::from(1)), "{pre}");
    let diff = raw_rpc(
        &provider,
        "debug_traceTransaction",
        (
            hash,
            json!({ "tracer": "prestateTracer", "tracerConfig": { "diffMode": true } }),
        ),
    )
    .await?;
    assert_eq!(
        slot0(&diff["pre"][&contract_key]),
        Some(U256::from(1)),
        "{diff}"
    );
    assert_eq!(
        slot0(&diff["post"][&contract_key]),
        Some(U256::from(2)),
        "{diff}"
    );

    // traceBlockByNumber and traceBlockByHash: one result per transaction of the block, in
    // block order (the L1-info deposit first), identical by number and by hash.
    let number = second.block_number.unwrap_or_default();
    let block = provider
        .get_block_by_number(number.into())
        .await?
        .ok_or_else(|| eyre!("block {number}"))?;
    let hashes: Vec<B256> = block.transactions.hashes().collect();
    let options = json!({ "tracer": "callTracer" });
    let by_number = raw_rpc(
        &provider,
        "debug_traceBlockByNumber",
        (format!("{number:#x}"), options.clone()),
    )
    .await?;
    let by_hash = raw_rpc(
        &provider,
        "debug_traceBlockByHash",
        (block.header.hash, options),
    )
    .await?;
    assert_eq!(by_number, by_hash);
    let traced: Vec<B256> = by_number
        .as_array()
        .ok_or_else(|| eyre!("a list: {by_number}"))?
        .iter()
        .map(|item| serde_json::from_value(item["txHash"].clone()))
        .collect::<Result<_, _>>()?;
    assert_eq!(traced, hashes);
    let ours = by_number
        .as_array()
        .and_then(|items| items.iter().find(|item| item["txHash"] == json!(hash)))
        .ok_or_else(|| eyre!("the store is traced in its block"))?;
    assert_eq!(
        ours["result"], call,
        "the block trace equals the transaction trace"
    );

    // traceCall at the block of the first store sees that block's state: slot 0 was 1.
    let request = json!({ "from": sender, "to": contract, "input": Bytes::from(EventEmitter::storeCall { newValue: U256::from(9) }.abi_encode()) });
    let at_first = raw_rpc(
        &provider,
        "debug_traceCall",
        (
            request.clone(),
            format!("{:#x}", first.block_number.unwrap_or_default()),
            json!({ "tracer": "prestateTracer" }),
        ),
    )
    .await?;
    assert_eq!(
        slot0(&at_first[&contract_key]),
        Some(U256::from(1)),
        "{at_first}"
    );
    let at_head = raw_rpc(
        &provider,
        "debug_traceCall",
        (request, "latest", json!({ "tracer": "prestateTracer" })),
    )
    .await?;
    assert_eq!(
        slot0(&at_head[&contract_key]),
        Some(U256::from(2)),
        "{at_head}"
    );

    // A reverting call: the callTracer reports the revert and its data.
    let fail = Bytes::from(
        EventEmitter::failCall {
            code: U256::from(7),
        }
        .abi_encode(),
    );
    let reverted = raw_rpc(
        &provider,
        "debug_traceCall",
        (
            json!({ "from": sender, "to": contract, "input": fail }),
            "latest",
            json!({ "tracer": "callTracer" }),
        ),
    )
    .await?;
    assert_eq!(reverted["error"], json!("execution reverted"), "{reverted}");
    assert_eq!(
        reverted["output"],
        json!(Bytes::from(
            EventEmitter::Refused {
                code: U256::from(7)
            }
            .abi_encode()
        ))
    );

    // A mined transaction that reverts is traced as failed too.
    let fees = generous_fees(&provider).await?;
    let nonce = provider.get_transaction_count(dev_address(1)).await?;
    let (failed_hash, raw) = sign_eip1559(
        &dev_signer(1),
        DEV_CHAIN_ID,
        nonce,
        TxKind::Call(contract),
        U256::ZERO,
        Bytes::from(
            EventEmitter::failCall {
                code: U256::from(8),
            }
            .abi_encode(),
        ),
        100_000,
        fees,
    )?;
    let _ = provider.send_raw_transaction(&raw).await?;
    let failed = wait_for_receipt(&provider, failed_hash).await?;
    ensure!(!failed.status(), "fail(8) reverts on chain");
    let failed_trace = raw_rpc(
        &provider,
        "debug_traceTransaction",
        (failed_hash, json!({})),
    )
    .await?;
    assert_eq!(failed_trace["failed"], json!(true));
    assert_eq!(
        failed_trace["returnValue"]
            .as_str()
            .map(|value| value.trim_start_matches("0x").to_owned()),
        Some(alloy::hex::encode(
            EventEmitter::Refused {
                code: U256::from(8)
            }
            .abi_encode()
        ))
    );

    // Bad requests: an unknown transaction, an unknown tracer.
    let (code, message) = rpc_error(
        &provider,
        "debug_traceTransaction",
        (B256::repeat_byte(7), json!({})),
    )
    .await?
    .ok_or_else(|| eyre!("tracing an unknown transaction must fail"))?;
    assert_eq!((code, message.as_str()), (-32000, "transaction not found"));
    let (code, _) = rpc_error(
        &provider,
        "debug_traceTransaction",
        (hash, json!({ "tracer": "noSuchTracer" })),
    )
    .await?
    .ok_or_else(|| eyre!("an unknown tracer must fail"))?;
    assert_eq!(code, -32602);
    node.finish().await
}
