//! `eth_simulateV1` against anvil's: two simulated blocks on the head (state overrides that fund
//! a fresh account, a store, a value transfer reported as a log with `traceTransfers`, a revert
//! with its data; then a block that reads what the first one wrote), and the spec's error codes.
//! The calls' results must agree with anvil's field for field (the `error` object aside, see
//! [`chain_free`]); nothing simulated is mined.

use alloy::{
    primitives::{Address, Bytes, TxKind, U256},
    providers::{DynProvider, Provider},
    sol_types::{SolCall, SolError},
};
use eyre::{Result, ensure, eyre};
use ol_e2e::{
    AnvilProcess, DEV_CHAIN_ID, TestNode, contracts::EventEmitter, dev_address, dev_signer,
    generous_fees, raw_rpc, rpc_error, sign_eip1559, wait_for_receipt,
};
use serde_json::{Value, json};

/// anvil's chain id.
const ANVIL_CHAIN_ID: u64 = 31337;
/// The dev account that deploys (nonce 0 on both chains: the same contract address).
const DEPLOYER: u32 = 5;

/// The address of the ERC-20 `Transfer` logs `traceTransfers` adds.
const TRANSFER_EMITTER: &str = "0xeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee";

async fn deploy(provider: &DynProvider, chain_id: u64) -> Result<Address> {
    let fees = generous_fees(provider).await?;
    let (hash, raw) = sign_eip1559(
        &dev_signer(DEPLOYER),
        chain_id,
        0,
        TxKind::Create,
        U256::ZERO,
        EventEmitter::BYTECODE.clone(),
        1_000_000,
        fees,
    )?;
    let _pending = provider.send_raw_transaction(&raw).await?;
    let receipt = wait_for_receipt(provider, hash).await?;
    receipt
        .contract_address
        .ok_or_else(|| eyre!("no contract address"))
}

/// The parts of a call result that do not name the chain: logs without block or transaction
/// fields. The `error` object is left out too: anvil answers a revert with `-3200 execution
/// failed`, the execution-apis and geth with `3 execution reverted` and the revert data, which
/// is what the node answers (checked below).
fn chain_free(call: &Value) -> Value {
    let mut call = call.clone();
    if let Some(map) = call.as_object_mut() {
        map.remove("error");
    }
    if let Some(logs) = call["logs"].as_array_mut() {
        for log in logs {
            let Some(map) = log.as_object_mut() else {
                continue;
            };
            for key in [
                "blockHash",
                "blockNumber",
                "blockTimestamp",
                "transactionHash",
                "transactionIndex",
            ] {
                map.remove(key);
            }
        }
    }
    call
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulated_blocks_agree_with_anvil() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let anvil = AnvilProcess::start(&["--block-time", "1"], &dir.path().join("anvil.log")).await?;
    let node = TestNode::start().await?;
    let ours = node.provider();
    let theirs = anvil.provider()?;
    let emitter = deploy(&ours, DEV_CHAIN_ID).await?;
    ensure!(deploy(&theirs, ANVIL_CHAIN_ID).await? == emitter);
    assert_eq!(emitter, dev_address(DEPLOYER).create(0));

    let fresh = Address::repeat_byte(0x3c);
    let payee = Address::repeat_byte(0x3d);
    let store = Bytes::from(
        EventEmitter::storeCall {
            newValue: U256::from(5),
        }
        .abi_encode(),
    );
    let fail = Bytes::from(
        EventEmitter::failCall {
            code: U256::from(3),
        }
        .abi_encode(),
    );
    let read = Bytes::from(EventEmitter::valueCall {}.abi_encode());
    let payload = json!({
        "blockStateCalls": [
            {
                "stateOverrides": { fresh.to_string(): { "balance": "0xde0b6b3a7640000" } },
                "calls": [
                    { "from": fresh, "to": emitter, "data": store },
                    { "from": fresh, "to": payee, "value": "0x3e8" },
                    { "from": fresh, "to": emitter, "data": fail },
                ]
            },
            { "calls": [ { "from": fresh, "to": emitter, "data": read } ] }
        ],
        "traceTransfers": true
    });
    let head = ours.get_block_number().await?;
    let mine = raw_rpc(&ours, "eth_simulateV1", json!([payload, "latest"])).await?;
    let other = raw_rpc(&theirs, "eth_simulateV1", json!([payload, "latest"])).await?;
    let (mine, other) = (
        mine.as_array().ok_or_else(|| eyre!("not a list: {mine}"))?,
        other
            .as_array()
            .ok_or_else(|| eyre!("not a list: {other}"))?,
    );
    assert_eq!(mine.len(), 2);
    assert_eq!(other.len(), 2);
    for (index, (a, b)) in mine.iter().zip(other).enumerate() {
        let a_calls: Vec<Value> = a["calls"]
            .as_array()
            .ok_or_else(|| eyre!("no calls"))?
            .iter()
            .map(chain_free)
            .collect();
        let b_calls: Vec<Value> = b["calls"]
            .as_array()
            .ok_or_else(|| eyre!("no calls"))?
            .iter()
            .map(chain_free)
            .collect();
        ensure!(
            a_calls == b_calls,
            "block {index}: calls differ\n node:  {a_calls:#?}\n anvil: {b_calls:#?}"
        );
        // Numbered after the block simulated on, one by one.
        let number = |block: &Value| {
            u64::from_str_radix(
                block["number"]
                    .as_str()
                    .unwrap_or_default()
                    .trim_start_matches("0x"),
                16,
            )
            .unwrap_or_default()
        };
        // The head may have moved between the two reads: within one block.
        ensure!(
            (head + 1 + index as u64..=head + 2 + index as u64).contains(&number(a)),
            "simulated block {index} is {} on a head of {head}",
            number(a)
        );
        // Each call is a transaction of the block and its logs point at it.
        let hashes = a["transactions"]
            .as_array()
            .ok_or_else(|| eyre!("no transactions"))?;
        assert_eq!(hashes.len(), a_calls.len());
        for (call, hash) in a["calls"].as_array().into_iter().flatten().zip(hashes) {
            for log in call["logs"].as_array().into_iter().flatten() {
                assert_eq!(&log["transactionHash"], hash);
                assert_eq!(log["blockHash"], a["hash"]);
            }
        }
    }
    let first = &mine[0]["calls"];
    assert_eq!(first[0]["status"], json!("0x1"));
    // The transfer shows as an ERC-20 Transfer log from the sentinel address.
    let transfer_log = &first[1]["logs"][0];
    assert_eq!(transfer_log["address"], json!(TRANSFER_EMITTER));
    assert_eq!(transfer_log["topics"][1], json!(fresh.into_word()));
    assert_eq!(transfer_log["topics"][2], json!(payee.into_word()));
    assert_eq!(transfer_log["data"], json!(format!("{:#066x}", 1000)));
    // The revert carries its data and geth's code.
    let reverted = &first[2];
    assert_eq!(reverted["status"], json!("0x0"));
    assert_eq!(reverted["error"]["code"], json!(3));
    assert_eq!(reverted["error"]["message"], json!("execution reverted"));
    let refused = Bytes::from(
        EventEmitter::Refused {
            code: U256::from(3),
        }
        .abi_encode(),
    );
    assert_eq!(reverted["error"]["data"], json!(refused));
    assert_eq!(reverted["returnData"], json!(refused));
    // The second block sees the first one's store.
    assert_eq!(
        mine[1]["calls"][0]["returnData"],
        json!(format!("{:#066x}", 5))
    );
    // On the head, a simulated block's state root is that of the state its changes leave: a
    // transfer changes its parent's, an empty block keeps the one before it. (A head that
    // moves during the simulation gives zero roots, never wrong ones: then it is tried again.)
    let roots_payload = json!({
        "blockStateCalls": [
            {
                "stateOverrides": { fresh.to_string(): { "balance": "0xde0b6b3a7640000" } },
                "calls": [ { "from": fresh, "to": payee, "value": "0x3e8" } ]
            },
            { "calls": [] }
        ]
    });
    let mut checked = false;
    for _ in 0..5 {
        let blocks = raw_rpc(&ours, "eth_simulateV1", json!([roots_payload, "latest"])).await?;
        let root = |index: usize| {
            blocks[index]["stateRoot"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        };
        if root(0) == format!("{:#066x}", 0) {
            continue;
        }
        let parent = raw_rpc(
            &ours,
            "eth_getBlockByHash",
            json!([blocks[0]["parentHash"], false]),
        )
        .await?;
        ensure!(
            parent["stateRoot"].as_str() != Some(root(0).as_str()),
            "the transfer left the parent's root: {blocks}"
        );
        ensure!(
            root(1) == root(0),
            "an empty block changed the root: {blocks}"
        );
        checked = true;
        break;
    }
    ensure!(checked, "five simulations on the head all got zero roots");
    // Nothing was mined: the contract still holds 0 and the fresh account has nothing.
    let contract = EventEmitter::new(emitter, ours.clone());
    assert_eq!(contract.value().call().await?, U256::ZERO);
    assert_eq!(ours.get_balance(fresh).await?, U256::ZERO);

    // Errors with the spec's codes (anvil 1.7 accepts a block number before the head and
    // simulates it; geth and reth refuse it with -38020, as the node does).
    let backwards =
        json!([{ "blockStateCalls": [ { "blockOverrides": { "number": "0x1" } } ] }, "latest"]);
    let (code, message) = rpc_error(&ours, "eth_simulateV1", backwards)
        .await?
        .ok_or_else(|| eyre!("a block number before the head must be refused"))?;
    assert_eq!(code, -38020, "{message}");
    // With validation, an account without funds cannot pay.
    let unfunded = json!([{ "blockStateCalls": [ { "calls": [ { "from": fresh, "to": payee, "value": "0x1", "maxFeePerGas": "0x3b9aca00" } ] } ], "validation": true }, "latest"]);
    let (code, message) = rpc_error(&ours, "eth_simulateV1", unfunded)
        .await?
        .ok_or_else(|| eyre!("an unfunded call must be refused under validation"))?;
    assert_eq!(code, -38014, "{message}");
    node.finish().await
}
