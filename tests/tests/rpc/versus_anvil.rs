//! Message and field fidelity as a test: the same requests go to the node and to anvil, and the
//! answers must agree in shape (field names, hex quantity or data, nesting), in error codes and
//! messages, and in the values that do not depend on the chain. Every intended difference is
//! listed here with its reason.

use alloy::{
    primitives::{Address, Bytes, TxKind, U256},
    providers::{DynProvider, Provider},
    sol_types::SolError,
};
use eyre::{Result, ensure, eyre};
use ol_e2e::{
    AnvilProcess, DEV_CHAIN_ID, TestNode, dev_address, dev_signer, generous_fees, raw_rpc,
    sign_eip1559, wait_for_receipt,
};
use serde_json::{Value, json};
use std::collections::BTreeSet;

/// anvil's chain id.
const ANVIL_CHAIN_ID: u64 = 31337;

/// Fields the node serves and anvil does not, and why.
const NODE_ONLY: &[(&str, &str)] = &[
    ("l1Fee", "OP receipt: the L1 data fee"),
    ("l1GasUsed", "OP receipt"),
    ("l1GasPrice", "OP receipt"),
    ("l1BaseFeeScalar", "OP receipt (Ecotone)"),
    ("l1BlobBaseFee", "OP receipt (Ecotone)"),
    ("l1BlobBaseFeeScalar", "OP receipt (Ecotone)"),
    ("operatorFeeScalar", "OP receipt (Isthmus)"),
    ("operatorFeeConstant", "OP receipt (Isthmus)"),
    ("daFootprintGasScalar", "OP receipt (Jovian)"),
    (
        "blobGasUsed",
        "OP blocks carry blob gas fields (always 0 on L2)",
    ),
    (
        "excessBlobGas",
        "OP blocks carry blob gas fields (always 0 on L2)",
    ),
    ("parentBeaconBlockRoot", "OP blocks from Ecotone on"),
    ("requestsHash", "OP blocks from Isthmus on"),
    (
        "withdrawalsRoot",
        "OP blocks from Isthmus on hold the message passer's storage root",
    ),
    ("withdrawals", "OP blocks from Canyon on"),
];

/// Fields anvil serves and the node does not, and why.
const ANVIL_ONLY: &[(&str, &str)] = &[(
    "blobGasPrice",
    "anvil writes it in every receipt; geth and reth only for blob transactions, which an OP \
     chain does not accept",
)];

/// Fields both serve in a different form, and why ours is the one we keep.
const FORM_DIFFERS: &[(&str, &str)] = &[(
    "blockTimestamp",
    "anvil 1.7 writes a receipt's blockTimestamp as a JSON number; geth writes a hex quantity, \
     as logs do everywhere, and so do we",
)];

/// The shape of a JSON answer: field names with the kind of each value (hex string, other
/// string, number, bool, null), recursively (array elements by their first one).
fn shape(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(key, _)| !listed(key))
                .map(|(key, value)| {
                    let form_differs = FORM_DIFFERS.iter().any(|(name, _)| name == key);
                    (
                        key.clone(),
                        if form_differs {
                            json!("either")
                        } else {
                            shape(value)
                        },
                    )
                })
                .collect(),
        ),
        Value::Array(items) => json!([items.first().map(shape)]),
        // Quantities and data alike (which is which is checked by the equal values below).
        Value::String(text) if text.starts_with("0x") => json!("hex"),
        Value::String(_) => json!("string"),
        Value::Number(_) => json!("number"),
        Value::Bool(_) => json!("bool"),
        Value::Null => json!("null"),
    }
}

fn listed(key: &str) -> bool {
    NODE_ONLY
        .iter()
        .chain(ANVIL_ONLY)
        .any(|(name, _)| *name == key)
}

/// The field names of an object answer.
fn keys(value: &Value) -> BTreeSet<String> {
    value
        .as_object()
        .map(|map| map.keys().filter(|key| !listed(key)).cloned().collect())
        .unwrap_or_default()
}

/// The error code and message of a request, or its result.
async fn answer(
    provider: &DynProvider,
    method: &str,
    params: Value,
) -> Result<std::result::Result<Value, (i64, String)>> {
    match provider
        .raw_request::<_, Value>(method.to_owned().into(), params)
        .await
    {
        Ok(value) => Ok(Ok(value)),
        Err(err) => {
            let resp = err
                .as_error_resp()
                .ok_or_else(|| eyre!("{method} failed without a JSON-RPC error: {err}"))?;
            Ok(Err((resp.code, resp.message.to_string())))
        }
    }
}

/// A transfer of 1 wei, mined; returns its hash.
async fn transfer(provider: &DynProvider, chain_id: u64) -> Result<alloy::primitives::B256> {
    let fees = generous_fees(provider).await?;
    let nonce = provider.get_transaction_count(dev_address(0)).await?;
    let (hash, raw) = sign_eip1559(
        &dev_signer(0),
        chain_id,
        nonce,
        TxKind::Call(Address::repeat_byte(0x42)),
        U256::from(1),
        Bytes::new(),
        21_000,
        fees,
    )?;
    let _pending = provider.send_raw_transaction(&raw).await?;
    wait_for_receipt(provider, hash).await?;
    Ok(hash)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_agree_with_anvils() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let anvil = AnvilProcess::start(&["--block-time", "1"], &dir.path().join("anvil.log")).await?;
    let node = TestNode::start().await?;
    let ours = node.provider();
    let theirs = anvil.provider()?;

    let our_tx = transfer(&ours, DEV_CHAIN_ID).await?;
    let their_tx = transfer(&theirs, ANVIL_CHAIN_ID).await?;

    // Objects: the same fields, each value of the same kind.
    for (method, our_params, their_params) in [
        (
            "eth_getTransactionReceipt",
            json!([our_tx]),
            json!([their_tx]),
        ),
        (
            "eth_getTransactionByHash",
            json!([our_tx]),
            json!([their_tx]),
        ),
    ] {
        let a = raw_rpc(&ours, method, our_params).await?;
        let b = raw_rpc(&theirs, method, their_params).await?;
        ensure!(
            keys(&a) == keys(&b),
            "{method}: fields differ\n node:  {:?}\n anvil: {:?}",
            keys(&a),
            keys(&b)
        );
        ensure!(
            shape(&a) == shape(&b),
            "{method}: shapes differ\n node:  {}\n anvil: {}",
            shape(&a),
            shape(&b)
        );
    }
    let block = |provider: &DynProvider| {
        let provider = provider.clone();
        async move { raw_rpc(&provider, "eth_getBlockByNumber", ("latest", false)).await }
    };
    let (a, b) = (block(&ours).await?, block(&theirs).await?);
    ensure!(
        keys(&a) == keys(&b),
        "block fields differ\n node:  {:?}\n anvil: {:?}",
        keys(&a),
        keys(&b)
    );

    // Values that do not depend on the chain, and errors, must be equal.
    let data = alloy::sol_types::Revert::from("not allowed").abi_encode();
    let revert = json!({ "from": dev_address(0), "data": ol_e2e::init_code(&data, 0xfd) });
    let unknown = Address::repeat_byte(0x99);
    let cases: Vec<(&str, Value)> = vec![
        (
            "eth_estimateGas",
            json!([{ "from": dev_address(0), "to": unknown, "value": "0x1" }]),
        ),
        ("eth_getBalance", json!([unknown, "latest"])),
        ("eth_getCode", json!([unknown, "latest"])),
        ("eth_getTransactionCount", json!([unknown, "latest"])),
        ("eth_getStorageAt", json!([unknown, "0x0", "latest"])),
        ("eth_call", json!([revert, "latest"])),
        (
            "eth_getTransactionByHash",
            json!([format!("0x{}", "ab".repeat(32))]),
        ),
        (
            "eth_getTransactionReceipt",
            json!([format!("0x{}", "ab".repeat(32))]),
        ),
        ("eth_noSuchMethod", json!([])),
        ("web3_sha3", json!(["0x68656c6c6f"])),
    ];
    for (method, params) in cases {
        let a = answer(&ours, method, params.clone()).await?;
        let b = answer(&theirs, method, params).await?;
        let same = match (&a, &b) {
            (Ok(a), Ok(b)) => a == b,
            // Codes must agree; messages too, where geth's wording is the contract.
            (Err((code_a, message_a)), Err((code_b, message_b))) => {
                code_a == code_b && (method == "eth_noSuchMethod" || message_a == message_b)
            }
            _ => false,
        };
        ensure!(same, "{method}: node {a:?}, anvil {b:?}");
    }
    node.finish().await
}
