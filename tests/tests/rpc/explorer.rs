//! What indexers and explorers read: the `trace_` namespace (Parity traces) and Otterscan's
//! `ots_` namespace, on one transaction that runs a tree of internal frames (`CallTree.grow`:
//! CREATE with value, CALL with value, STATICCALL, DELEGATECALL, CREATE2, SELFDESTRUCT) and
//! one that reverts after a CREATE. The same signed transactions go to the node and to anvil;
//! traces must agree field for field, and every intended difference is listed with its reason.

use alloy::{
    primitives::{Address, B256, Bytes, TxHash, TxKind, U256},
    providers::{DynProvider, Provider},
    sol_types::{SolCall, SolError},
};
use eyre::{Result, ensure, eyre};
use ol_e2e::{
    AnvilProcess, DEV_CHAIN_ID, TestNode,
    contracts::{CallTree, CallTreeChild},
    dev_address, dev_signer, generous_fees, raw_rpc, rpc_error, sign_eip1559, wait_for_receipt,
};
use serde_json::{Value, json};

/// anvil's chain id.
const ANVIL_CHAIN_ID: u64 = 31337;
/// The dev account that sends everything here (unused by the node itself, so its nonce
/// starts at 0 on both chains and the contracts land at the same addresses).
const SENDER: u32 = 7;
/// Gas for every transaction, fixed so that frames get the same gas on both chains.
const GAS: u64 = 3_000_000;
/// Value sent to `grow`: half goes to the child, a quarter to the payee.
const VALUE: u64 = 1_000;

fn payee() -> Address {
    Address::repeat_byte(0x5a)
}

fn salt() -> B256 {
    B256::repeat_byte(0x11)
}

/// The transactions of the scenario, mined.
struct Scenario {
    deploy: TxHash,
    grow: TxHash,
    wither: TxHash,
    tree: Address,
    child: Address,
    sibling: Address,
}

async fn send(
    provider: &DynProvider,
    chain_id: u64,
    nonce: u64,
    to: TxKind,
    value: u64,
    input: Bytes,
) -> Result<TxHash> {
    let fees = generous_fees(provider).await?;
    let (hash, raw) = sign_eip1559(
        &dev_signer(SENDER),
        chain_id,
        nonce,
        to,
        U256::from(value),
        input,
        GAS,
        fees,
    )?;
    let _pending = provider.send_raw_transaction(&raw).await?;
    wait_for_receipt(provider, hash).await?;
    Ok(hash)
}

async fn scenario(provider: &DynProvider, chain_id: u64) -> Result<Scenario> {
    let sender = dev_address(SENDER);
    ensure!(provider.get_transaction_count(sender).await? == 0);
    let deploy = send(
        provider,
        chain_id,
        0,
        TxKind::Create,
        0,
        CallTree::BYTECODE.clone(),
    )
    .await?;
    let tree = sender.create(0);
    let grow_call = CallTree::growCall {
        payee: payee(),
        salt: salt(),
    };
    let grow = send(
        provider,
        chain_id,
        1,
        TxKind::Call(tree),
        VALUE,
        grow_call.abi_encode().into(),
    )
    .await?;
    let wither_call = CallTree::witherCall {
        code: U256::from(5),
    };
    let wither = send(
        provider,
        chain_id,
        2,
        TxKind::Call(tree),
        0,
        wither_call.abi_encode().into(),
    )
    .await?;
    ensure!(
        !provider
            .get_transaction_receipt(wither)
            .await?
            .ok_or_else(|| eyre!("wither receipt"))?
            .status(),
        "wither must revert"
    );
    let sibling = tree.create2_from_code(salt(), CallTreeChild::BYTECODE.clone());
    Ok(Scenario {
        deploy,
        grow,
        wither,
        tree,
        // The tree's first CREATE (a contract's nonce starts at 1).
        child: tree.create(1),
        sibling,
    })
}

/// A localized trace without the fields that name the chain it ran on.
fn chain_free(trace: &Value) -> Value {
    let mut trace = trace.clone();
    if let Some(map) = trace.as_object_mut() {
        for key in [
            "blockHash",
            "blockNumber",
            "transactionHash",
            "transactionPosition",
        ] {
            map.remove(key);
        }
    }
    trace
}

fn list(value: &Value) -> Result<&Vec<Value>> {
    value.as_array().ok_or_else(|| eyre!("not a list: {value}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_namespace_agrees_with_anvil() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let anvil = AnvilProcess::start(&["--block-time", "1"], &dir.path().join("anvil.log")).await?;
    let node = TestNode::start().await?;
    let ours = node.provider();
    let anvil_rpc = anvil.provider()?;
    let a = scenario(&ours, DEV_CHAIN_ID).await?;
    let b = scenario(&anvil_rpc, ANVIL_CHAIN_ID).await?;
    ensure!(a.tree == b.tree, "same sender and nonce, same address");

    // trace_transaction: the same frames, actions, results and trace addresses.
    for (name, our_tx, their_tx) in [
        ("deploy", a.deploy, b.deploy),
        ("grow", a.grow, b.grow),
        ("wither", a.wither, b.wither),
    ] {
        let mine = raw_rpc(&ours, "trace_transaction", [our_tx]).await?;
        let theirs = raw_rpc(&anvil_rpc, "trace_transaction", [their_tx]).await?;
        let mine: Vec<Value> = list(&mine)?.iter().map(chain_free).collect();
        let theirs: Vec<Value> = list(&theirs)?.iter().map(chain_free).collect();
        ensure!(
            mine == theirs,
            "trace_transaction({name}) differs\n node:  {mine:#?}\n anvil: {theirs:#?}"
        );
    }
    let grow = raw_rpc(&ours, "trace_transaction", [a.grow]).await?;
    let grow = list(&grow)?;
    // call, create, transfer, staticcall, delegatecall, create2, destroy call, suicide.
    let kinds: Vec<String> = grow
        .iter()
        .map(|trace| {
            let action = &trace["action"];
            let kind = trace["type"].as_str().unwrap_or_default();
            match kind {
                "call" => action["callType"].as_str().unwrap_or_default().to_owned(),
                "create" => action["creationMethod"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                other => other.to_owned(),
            }
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "call",
            "create",
            "call",
            "staticcall",
            "delegatecall",
            "create2",
            "call",
            "suicide"
        ],
        "{grow:#?}"
    );
    assert_eq!(grow[0]["subtraces"], json!(6));
    assert_eq!(grow[1]["result"]["address"], json!(a.child));
    assert_eq!(
        grow[1]["action"]["value"],
        json!(format!("{:#x}", VALUE / 2))
    );
    assert_eq!(grow[7]["action"]["refundAddress"], json!(payee()));
    assert_eq!(grow[7]["traceAddress"], json!([5, 0]));

    // trace_get: one index is a position in that list; more than one is null (as reth).
    let third = raw_rpc(&ours, "trace_get", json!([a.grow, ["0x2"]])).await?;
    assert_eq!(third, grow[2]);
    let none = raw_rpc(&ours, "trace_get", json!([a.grow, ["0x0", "0x1"]])).await?;
    assert_eq!(none, Value::Null);
    let past_the_end = raw_rpc(&ours, "trace_get", json!([a.grow, ["0x40"]])).await?;
    assert_eq!(past_the_end, Value::Null);

    // Replays with every trace type: the same call trace and VM trace as anvil's
    // trace_replayBlockTransactions (anvil has no trace_replayTransaction); the state diff of
    // the accounts the chain's fees do not touch is equal too.
    let types = json!(["trace", "vmTrace", "stateDiff"]);
    let mine = raw_rpc(&ours, "trace_replayTransaction", json!([a.grow, types])).await?;
    let their_block = wait_for_receipt(&anvil_rpc, b.grow)
        .await?
        .block_number
        .ok_or_else(|| eyre!("anvil block of grow"))?;
    let their_replays = raw_rpc(
        &anvil_rpc,
        "trace_replayBlockTransactions",
        json!([format!("{their_block:#x}"), types]),
    )
    .await?;
    let theirs = list(&their_replays)?
        .iter()
        .find(|entry| entry["transactionHash"] == json!(b.grow))
        .ok_or_else(|| eyre!("grow missing from anvil's replay"))?
        .clone();
    assert_eq!(mine["trace"], theirs["trace"], "replayed call trace");
    assert_eq!(mine["vmTrace"], theirs["vmTrace"], "replayed VM trace");
    assert_eq!(mine["output"], theirs["output"]);
    for account in [a.tree, a.child, payee()] {
        let key = format!("{account:#x}");
        assert_eq!(
            mine["stateDiff"][&key], theirs["stateDiff"][&key],
            "state diff of {key}"
        );
        ensure!(
            !mine["stateDiff"][&key].is_null(),
            "{key} changed: {mine:#}"
        );
    }
    // The sibling was created and destroyed in the same transaction: no diff at all.
    ensure!(mine["stateDiff"][format!("{:#x}", a.sibling)].is_null());

    // trace_call: a call on the head's state, traced without being mined (anvil serves no
    // trace_call, so it is checked against the call itself).
    let call = json!({ "from": dev_address(SENDER), "to": a.tree, "data": Bytes::from(CallTree::versionCall {}.abi_encode()) });
    let mine = raw_rpc(&ours, "trace_call", json!([call, ["trace"], "latest"])).await?;
    assert_eq!(mine["output"], json!(format!("{:#066x}", 2)));
    let root = &list(&mine["trace"])?[0];
    assert_eq!(root["action"]["to"], json!(a.tree));
    assert_eq!(root["result"]["output"], mine["output"]);
    assert_eq!(root["traceAddress"], json!([]));

    // trace_block and trace_replayBlockTransactions: the block's other transactions (the
    // L1-info deposit) come first, then grow's frames exactly as trace_transaction gave them.
    let receipt = wait_for_receipt(&ours, a.grow).await?;
    let number = receipt.block_number.ok_or_else(|| eyre!("block number"))?;
    let block = raw_rpc(&ours, "trace_block", [format!("{number:#x}")]).await?;
    let in_block: Vec<&Value> = list(&block)?
        .iter()
        .filter(|trace| trace["transactionHash"] == json!(a.grow))
        .collect();
    assert_eq!(in_block.len(), grow.len());
    ensure!(
        in_block.iter().zip(grow).all(|(x, y)| *x == y),
        "trace_block"
    );
    let replayed = raw_rpc(
        &ours,
        "trace_replayBlockTransactions",
        json!([format!("{number:#x}"), ["trace"]]),
    )
    .await?;
    let replayed = list(&replayed)?;
    let entry = replayed
        .iter()
        .find(|entry| entry["transactionHash"] == json!(a.grow))
        .ok_or_else(|| eyre!("grow missing from trace_replayBlockTransactions"))?;
    assert_eq!(list(&entry["trace"])?.len(), grow.len());
    assert_eq!(entry["stateDiff"], Value::Null, "not asked for");

    // trace_filter: the frames that paid the payee (the transfer and the self-destruct), with
    // after/count paging; an unknown field and a range past the head are refused.
    let filter = json!({ "fromBlock": format!("{:#x}", number), "toBlock": format!("{:#x}", number), "toAddress": [payee()] });
    let paid = raw_rpc(&ours, "trace_filter", [filter.clone()]).await?;
    let paid = list(&paid)?;
    assert_eq!(paid.len(), 2, "{paid:#?}");
    assert_eq!(paid[0], grow[2]);
    assert_eq!(paid[1], grow[7]);
    let mut second = filter.clone();
    second["after"] = json!(1);
    second["count"] = json!(1);
    let page = raw_rpc(&ours, "trace_filter", [second]).await?;
    assert_eq!(list(&page)?, &vec![grow[7].clone()]);
    let (code, _) = rpc_error(
        &ours,
        "trace_filter",
        [json!({ "fromBlock": "0x0", "toBlock": format!("{number:#x}"), "toAddres": [] })],
    )
    .await?
    .ok_or_else(|| eyre!("an unknown filter field must be refused"))?;
    assert_eq!(code, -32602);
    let (code, message) = rpc_error(
        &ours,
        "trace_filter",
        [json!({ "fromBlock": "0x0", "toBlock": "0xffffff" })],
    )
    .await?
    .ok_or_else(|| eyre!("a range past the head must be refused"))?;
    assert_eq!(code, -32602, "{message}");
    let unknown = raw_rpc(&ours, "trace_transaction", [B256::repeat_byte(0xab)]).await?;
    assert_eq!(unknown, Value::Null);
    node.finish().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otterscan_namespace_over_the_address_index() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let anvil = AnvilProcess::start(&["--block-time", "1"], &dir.path().join("anvil.log")).await?;
    let node = TestNode::start().await?;
    let ours = node.provider();
    let theirs = anvil.provider()?;
    let a = scenario(&ours, DEV_CHAIN_ID).await?;
    let b = scenario(&theirs, ANVIL_CHAIN_ID).await?;
    let sender = dev_address(SENDER);

    assert_eq!(raw_rpc(&ours, "ots_getApiLevel", ()).await?, json!(8));
    assert_eq!(
        raw_rpc(&ours, "ots_hasCode", json!([a.tree, "latest"])).await?,
        json!(true)
    );
    assert_eq!(
        raw_rpc(&ours, "ots_hasCode", json!([payee(), "latest"])).await?,
        json!(false)
    );
    let header = raw_rpc(&ours, "ots_getHeaderByNumber", [1]).await?;
    assert_eq!(header["number"], json!("0x1"));

    // Internal operations as Erigon (Otterscan's reference) reports them: inside the
    // transaction only, creations whatever their value. anvil also lists the transaction's
    // own top-level transfer first: that is the one intended difference.
    let mine = raw_rpc(&ours, "ots_getInternalOperations", [a.grow]).await?;
    let expected = json!([
        { "type": 2, "from": a.tree, "to": a.child, "value": format!("{:#x}", VALUE / 2) },
        { "type": 0, "from": a.tree, "to": payee(), "value": format!("{:#x}", VALUE / 4) },
        { "type": 3, "from": a.tree, "to": a.sibling, "value": "0x0" },
        { "type": 1, "from": a.sibling, "to": payee(), "value": "0x0" },
    ]);
    assert_eq!(mine, expected);
    let theirs_ops = raw_rpc(&theirs, "ots_getInternalOperations", [b.grow]).await?;
    let theirs_ops = list(&theirs_ops)?;
    assert_eq!(
        theirs_ops.first(),
        Some(&json!({ "type": 0, "from": sender, "to": a.tree, "value": format!("{VALUE:#x}") })),
        "anvil's first operation is the top-level transfer"
    );
    assert_eq!(
        &theirs_ops[1..],
        list(&expected)?.as_slice(),
        "the rest agrees"
    );

    // Revert data: the custom error of wither, and 0x for a success (as anvil answers).
    let withered = Bytes::from(
        CallTree::Withered {
            code: U256::from(5),
        }
        .abi_encode(),
    );
    for (provider, s) in [(&ours, &a), (&theirs, &b)] {
        assert_eq!(
            raw_rpc(provider, "ots_getTransactionError", [s.wither]).await?,
            json!(withered)
        );
        assert_eq!(
            raw_rpc(provider, "ots_getTransactionError", [s.grow]).await?,
            json!("0x")
        );
    }

    // ots_traceTransaction: every frame with its depth, self-destruct one level below its
    // frame, value null where a frame moves none (Erigon's format; anvil leaves creations and
    // self-destructs out and always writes a value).
    let entries = raw_rpc(&ours, "ots_traceTransaction", [a.grow]).await?;
    let entries = list(&entries)?;
    let summary: Vec<(String, u64, Value)> = entries
        .iter()
        .map(|entry| {
            (
                entry["type"].as_str().unwrap_or_default().to_owned(),
                entry["depth"].as_u64().unwrap_or(99),
                entry["value"].clone(),
            )
        })
        .collect();
    let hex = |value: u64| json!(format!("{value:#x}"));
    assert_eq!(
        summary,
        vec![
            ("CALL".to_owned(), 0, hex(VALUE)),
            ("CREATE".to_owned(), 1, hex(VALUE / 2)),
            ("CALL".to_owned(), 1, hex(VALUE / 4)),
            ("STATICCALL".to_owned(), 1, Value::Null),
            ("DELEGATECALL".to_owned(), 1, Value::Null),
            ("CREATE2".to_owned(), 1, hex(0)),
            ("CALL".to_owned(), 1, hex(0)),
            ("SELFDESTRUCT".to_owned(), 2, hex(0)),
        ],
        "{entries:#?}"
    );
    assert_eq!(entries[3]["output"], json!(format!("{:#066x}", 7)));

    // Block details and one page of a block's transactions.
    let receipt = wait_for_receipt(&ours, a.grow).await?;
    let number = receipt.block_number.ok_or_else(|| eyre!("block number"))?;
    let details = raw_rpc(&ours, "ots_getBlockDetails", [number]).await?;
    let receipts = raw_rpc(&ours, "eth_getBlockReceipts", [format!("{number:#x}")]).await?;
    let mut fees = U256::ZERO;
    for receipt in list(&receipts)? {
        let used: U256 = receipt["gasUsed"].as_str().unwrap_or("0x0").parse()?;
        let price: U256 = receipt["effectiveGasPrice"]
            .as_str()
            .unwrap_or("0x0")
            .parse()?;
        fees += used * price;
    }
    assert_eq!(details["totalFees"], json!(fees));
    assert_eq!(
        details["block"]["transactionCount"],
        json!(list(&receipts)?.len())
    );
    assert_eq!(details["issuance"]["issuance"], json!("0x0"));
    let by_hash = raw_rpc(
        &ours,
        "ots_getBlockDetailsByHash",
        [receipt.block_hash.ok_or_else(|| eyre!("hash"))?],
    )
    .await?;
    assert_eq!(by_hash, details);
    let count = list(&receipts)?.len();
    let page = raw_rpc(&ours, "ots_getBlockTransactions", json!([number, 0, count])).await?;
    let txs = list(&page["fullblock"]["transactions"])?;
    assert_eq!(txs.len(), count);
    assert_eq!(page["fullblock"]["transactionCount"], json!(count));
    let grow_tx = txs
        .iter()
        .find(|tx| tx["hash"] == json!(a.grow))
        .ok_or_else(|| eyre!("grow in its block"))?;
    let selector = format!("0x{}", alloy::hex::encode(CallTree::growCall::SELECTOR));
    assert_eq!(
        grow_tx["input"],
        json!(selector),
        "input cut to its selector"
    );
    let grow_receipt = list(&page["receipts"])?
        .iter()
        .find(|receipt| receipt["transactionHash"] == json!(a.grow))
        .ok_or_else(|| eyre!("grow's receipt in the page"))?;
    assert_eq!(grow_receipt["logs"], Value::Null);
    assert_eq!(grow_receipt["status"], json!("0x1"));

    // The address index: the payee and the child were reached only by internal frames.
    let search = |method: &'static str, who: Address, block: u64, size: u64| {
        let ours = ours.clone();
        async move { raw_rpc(&ours, method, json!([who, block, size])).await }
    };
    let hashes = |page: &Value| -> Vec<Value> {
        page["txs"]
            .as_array()
            .map(|txs| txs.iter().map(|tx| tx["hash"].clone()).collect())
            .unwrap_or_default()
    };
    for who in [payee(), a.child, a.sibling] {
        let found = search("ots_searchTransactionsBefore", who, 0, 10).await?;
        assert_eq!(hashes(&found), vec![json!(a.grow)], "{who}");
        assert_eq!(
            (found["firstPage"].clone(), found["lastPage"].clone()),
            (json!(true), json!(true))
        );
    }
    let all = vec![json!(a.wither), json!(a.grow), json!(a.deploy)];
    let before = search("ots_searchTransactionsBefore", a.tree, 0, 10).await?;
    assert_eq!(hashes(&before), all, "newest first");
    let after = search("ots_searchTransactionsAfter", a.tree, 0, 10).await?;
    assert_eq!(hashes(&after), all, "newest first after too");
    assert_eq!(
        list(&before["receipts"])?.len(),
        3,
        "one receipt per transaction"
    );
    // Paging back one block at a time, then forward from the first block.
    let deploy_block = wait_for_receipt(&ours, a.deploy)
        .await?
        .block_number
        .unwrap_or_default();
    let first = search("ots_searchTransactionsBefore", a.tree, 0, 1).await?;
    assert_eq!(hashes(&first), vec![json!(a.wither)]);
    assert_eq!(first["lastPage"], json!(false));
    let next = search("ots_searchTransactionsBefore", a.tree, number + 1, 1).await?;
    assert_eq!(hashes(&next), vec![json!(a.grow)]);
    let forward = search("ots_searchTransactionsAfter", a.tree, deploy_block, 1).await?;
    assert_eq!(hashes(&forward), vec![json!(a.grow)]);
    assert_eq!(
        (forward["firstPage"].clone(), forward["lastPage"].clone()),
        (json!(false), json!(false))
    );
    let (code, _) = rpc_error(&ours, "ots_searchTransactionsBefore", json!([a.tree, 0, 0]))
        .await?
        .ok_or_else(|| eyre!("a zero page size must be refused"))?;
    assert_eq!(code, -32602);

    // Sender and nonce; contract creators (the factory for an internal CREATE; none for a
    // contract that no longer has code, for an account without code, or for the child a
    // reverted frame created).
    for (nonce, expected) in [(0, json!(a.deploy)), (1, json!(a.grow)), (9, Value::Null)] {
        assert_eq!(
            raw_rpc(
                &ours,
                "ots_getTransactionBySenderAndNonce",
                json!([sender, nonce])
            )
            .await?,
            expected,
            "nonce {nonce}"
        );
    }
    let creators = [
        (a.tree, json!({ "hash": a.deploy, "creator": sender })),
        (a.child, json!({ "hash": a.grow, "creator": a.tree })),
        (a.sibling, Value::Null),
        (payee(), Value::Null),
        (a.tree.create(3), Value::Null),
    ];
    for (contract, expected) in creators {
        assert_eq!(
            raw_rpc(&ours, "ots_getContractCreator", [contract]).await?,
            expected,
            "creator of {contract}"
        );
    }
    let child_by_anvil = raw_rpc(&theirs, "ots_getContractCreator", [b.child]).await?;
    assert_eq!(child_by_anvil["creator"], json!(a.tree), "anvil agrees");
    node.finish().await
}
