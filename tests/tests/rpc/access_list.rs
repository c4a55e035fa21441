//! `access_list`: `eth_createAccessList` lists the slots a call reads and writes and the
//! accounts it touches (not the sender, recipient or precompiles), with the gas the call uses
//! once the list is attached — which a real transaction carrying that list then uses exactly; a
//! revert is reported in `error`, not as an RPC error.

use crate::deploy_emitter;
use alloy::{
    consensus::{SignableTransaction, TxEip1559, TxEnvelope},
    eips::eip2718::Encodable2718,
    network::TxSignerSync,
    primitives::{Address, B256, Bytes, TxKind, U256, address, hex},
    providers::Provider,
    rpc::types::{AccessList, AccessListItem, AccessListResult},
    sol_types::SolCall,
};
use eyre::{Result, eyre};
use ol_e2e::{
    DEV_CHAIN_ID, TestNode, contracts::EventEmitter, dev_address, dev_signer, generous_fees,
    raw_rpc, wait_for_receipt,
};
use serde_json::json;

const PROBED: Address = address!("0x00000000000000000000000000000000000e2e61");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_access_list() -> Result<()> {
    let node = TestNode::start().await?;
    let provider = node.provider();
    let (contract, _) = deploy_emitter(&provider).await?;
    let sender = dev_address(0);
    let store = Bytes::from(
        EventEmitter::storeCall {
            newValue: U256::from(5),
        }
        .abi_encode(),
    );

    // store(5) reads and writes slot 0 of the contract; the contract itself is the recipient.
    let request = json!({ "from": sender, "to": contract, "input": store });
    let result: AccessListResult = serde_json::from_value(
        raw_rpc(
            &provider,
            "eth_createAccessList",
            (request.clone(), "latest"),
        )
        .await?,
    )?;
    assert_eq!(result.error, None, "store(5) succeeds");
    assert_eq!(
        result.access_list,
        AccessList(vec![AccessListItem {
            address: contract,
            storage_keys: vec![B256::ZERO]
        }]),
        "the contract's slot 0"
    );
    let gas_used = result.gas_used.to::<u64>();

    // A transaction carrying the list, with exactly that much gas, uses exactly that much.
    let fees = generous_fees(&provider).await?;
    let nonce = provider.get_transaction_count(sender).pending().await?;
    let mut tx = TxEip1559 {
        chain_id: DEV_CHAIN_ID,
        nonce,
        gas_limit: gas_used,
        max_fee_per_gas: fees.max_fee_per_gas,
        max_priority_fee_per_gas: fees.max_priority_fee_per_gas,
        to: TxKind::Call(contract),
        value: U256::ZERO,
        access_list: result.access_list.clone(),
        input: store.clone(),
    };
    let signature = dev_signer(0).sign_transaction_sync(&mut tx)?;
    let envelope = TxEnvelope::from(tx.into_signed(signature));
    let _ = provider
        .send_raw_transaction(&envelope.encoded_2718())
        .await?;
    let receipt = wait_for_receipt(&provider, *envelope.tx_hash()).await?;
    assert!(
        receipt.status(),
        "the transaction with the list succeeds: {receipt:?}"
    );
    assert_eq!(
        receipt.gas_used, gas_used,
        "gasUsed of eth_createAccessList is exact"
    );

    // A plain transfer touches nothing: an empty list and 21,000 gas.
    let transfer = json!({ "from": sender, "to": PROBED, "value": "0x1" });
    let result: AccessListResult =
        serde_json::from_value(raw_rpc(&provider, "eth_createAccessList", (transfer,)).await?)?;
    assert_eq!(result.access_list, AccessList::default());
    assert_eq!(result.gas_used, U256::from(21_000));

    // Init code that reads BALANCE(PROBED) and SLOAD(1): PROBED is listed without slots, the
    // created contract with its slot 1 (the created address itself is never listed bare).
    let mut init = vec![0x73];
    init.extend_from_slice(PROBED.as_slice());
    init.extend_from_slice(&hex!("31 50 6001 54 50 00"));
    let created = sender.create(provider.get_transaction_count(sender).await?);
    let result: AccessListResult = serde_json::from_value(
        raw_rpc(
            &provider,
            "eth_createAccessList",
            (json!({ "from": sender, "input": Bytes::from(init) }),),
        )
        .await?,
    )?;
    let mut items = result.access_list.0.clone();
    items.sort_by_key(|item| item.address);
    let mut expected = vec![
        AccessListItem {
            address: PROBED,
            storage_keys: vec![],
        },
        AccessListItem {
            address: created,
            storage_keys: vec![B256::with_last_byte(1)],
        },
    ];
    expected.sort_by_key(|item| item.address);
    assert_eq!(items, expected, "BALANCE and SLOAD in a creation");

    // A revert is an answer with `error`, not an RPC error.
    let fail = Bytes::from(
        EventEmitter::failCall {
            code: U256::from(7),
        }
        .abi_encode(),
    );
    let reverted = raw_rpc(
        &provider,
        "eth_createAccessList",
        (json!({ "from": sender, "to": contract, "input": fail }),),
    )
    .await?;
    let message = reverted["error"]
        .as_str()
        .ok_or_else(|| eyre!("a reverting call reports `error`: {reverted}"))?;
    assert!(message.starts_with("execution reverted"), "{message}");
    assert_eq!(reverted["accessList"], json!([]));

    // At genesis the contract did not exist yet: the same call touches no storage.
    let at_genesis: AccessListResult = serde_json::from_value(
        raw_rpc(&provider, "eth_createAccessList", (request, "0x0")).await?,
    )?;
    assert_eq!(at_genesis.access_list, AccessList::default());
    assert!(
        at_genesis.gas_used > U256::from(21_000) && at_genesis.gas_used < U256::from(gas_used),
        "only intrinsic gas at genesis: {}",
        at_genesis.gas_used
    );
    node.finish().await
}
