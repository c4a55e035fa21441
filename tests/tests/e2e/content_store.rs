//! `content_store`: the node's content store of contributions over JSON-RPC, with wallets that
//! sign EIP-712 typed data as alloy signs it.
//!
//! A curator creates a curated Datanet, a contributor uploads its bytes (`ol_putContent`) and
//! contributes their hash on chain. Refused, with their codes, and storing nothing: a signature
//! by another key, bytes that do not hash to the signed hash, an upload over the size limit.
//! Reads: without a signature, the hash and size only; the contributor, the Datanet's owner and
//! the attestor read the plaintext; a stranger is refused, a replayed read signature is refused,
//! a read signed to expire too late is refused. The store survives a kill -9, and its key file
//! is private.

use alloy::primitives::{Address, B256, Bytes, U256, address, keccak256};
use eyre::{Result, ensure, eyre};
use ol_e2e::{
    TestNode,
    content::{put_request, read_authorization},
    contracts::DatanetRegistry,
    dev_signer, event, mined, one_ether, raw_rpc, rpc_error,
};
use serde_json::json;
use std::os::unix::fs::PermissionsExt as _;

const DATANETS: Address = address!("0x4200000000000000000000000000000000001002");
const ATTESTOR_INDEX: u32 = 10;

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_store() -> Result<()> {
    let mut node =
        TestNode::start_with_args(vec!["--content.max-object-size".into(), "1".into()]).await?;
    let provider = node.provider();
    let curator = dev_signer(1);
    let contributor = dev_signer(2);
    let stranger = dev_signer(3);
    let attestor = dev_signer(ATTESTOR_INDEX);

    let domain_json = raw_rpc(&provider, "ol_contentDomain", ()).await?;
    ensure!(
        domain_json
            == json!({"name": "OpenLedger Content", "version": "1", "chainId": "0x64b",
                      "verifyingContract": DATANETS}),
        "ol_contentDomain: {domain_json}"
    );

    // A curated Datanet and a contribution to it.
    let datanets = DatanetRegistry::new(DATANETS, provider.clone());
    let receipt = mined(
        &provider,
        datanets
            .createDatanet(
                "ipfs://field-notes".into(),
                B256::right_padding_from(b"CC-BY-4.0"),
                1,
                one_ether(),
                500_000,
            )
            .from(curator.address())
            .send()
            .await?,
        true,
        "createDatanet",
    )
    .await?;
    let datanet = event::<DatanetRegistry::DatanetCreated>(&receipt)?.datanetId;
    let passage = b"Field note 17: the vindemiatrix quokka keeps its ledger under the third stone.";
    let hash = keccak256(passage);

    let stored = raw_rpc(
        &provider,
        "ol_putContent",
        (put_request(&contributor, contributor.address(), passage),),
    )
    .await?;
    ensure!(
        stored["contentHash"] == json!(hash)
            && stored["size"] == json!(format!("{:#x}", passage.len()))
            && stored["uploader"] == json!(contributor.address()),
        "ol_putContent: {stored}"
    );
    mined(
        &provider,
        datanets
            .contribute(
                datanet,
                hash,
                passage.len() as u64,
                "ol://field-notes/17".into(),
            )
            .value(one_ether())
            .from(contributor.address())
            .send()
            .await?,
        true,
        "contribute",
    )
    .await?;

    // Refusals store nothing.
    let other = b"bytes signed by someone else";
    let refused = rpc_error(
        &provider,
        "ol_putContent",
        (put_request(&stranger, contributor.address(), other),),
    )
    .await?;
    ensure!(
        matches!(&refused, Some((-32040, _))),
        "wrong signer: {refused:?}"
    );
    let mut mismatched = put_request(&contributor, contributor.address(), b"signed bytes");
    mismatched["content"] = json!(Bytes::from_static(b"other bytes"));
    let refused = rpc_error(&provider, "ol_putContent", (mismatched,)).await?;
    ensure!(
        matches!(&refused, Some((-32041, _))),
        "hash mismatch: {refused:?}"
    );
    let oversized = vec![b'z'; 1024 * 1024 + 1];
    let refused = rpc_error(
        &provider,
        "ol_putContent",
        (put_request(&contributor, contributor.address(), &oversized),),
    )
    .await?;
    ensure!(
        matches!(&refused, Some((-32042, _))),
        "oversized: {refused:?}"
    );
    for bytes in [&other[..], b"signed bytes", b"other bytes", &oversized] {
        let answer = raw_rpc(&provider, "ol_getContent", (keccak256(bytes),)).await?;
        ensure!(answer.is_null(), "a refused upload was stored: {answer}");
    }

    // Reads.
    let public = raw_rpc(&provider, "ol_getContent", (hash,)).await?;
    ensure!(
        public == json!({"contentHash": hash, "size": format!("{:#x}", passage.len())}),
        "an unsigned read sees the hash and size only: {public}"
    );
    let expiry = now() + 300;
    for (reader, datanet_id, role) in [
        (&contributor, U256::ZERO, "contributor"),
        (&curator, datanet, "datanetOwner"),
        (&attestor, U256::ZERO, "attestor"),
    ] {
        let auth = read_authorization(reader, hash, datanet_id, 1, expiry);
        let answer = raw_rpc(&provider, "ol_getContent", (hash, auth)).await?;
        ensure!(
            answer["content"] == json!(Bytes::copy_from_slice(passage)) && answer["role"] == role,
            "{role} read: {answer}"
        );
    }
    let replay = read_authorization(&curator, hash, datanet, 1, expiry);
    let refused = rpc_error(&provider, "ol_getContent", (hash, replay)).await?;
    ensure!(
        matches!(&refused, Some((-32044, message)) if message.contains("replayed")),
        "replayed read: {refused:?}"
    );
    let auth = read_authorization(&stranger, hash, datanet, 1, expiry);
    let refused = rpc_error(&provider, "ol_getContent", (hash, auth)).await?;
    ensure!(
        matches!(&refused, Some((-32043, _))),
        "stranger read: {refused:?}"
    );
    let auth = read_authorization(&contributor, hash, U256::ZERO, 2, now() + 3_600);
    let refused = rpc_error(&provider, "ol_getContent", (hash, auth)).await?;
    ensure!(
        matches!(&refused, Some((-32044, _))),
        "read valid for too long: {refused:?}"
    );

    // The key file is private; the store and the spent nonces survive a kill -9.
    let key_file = node.datadir().join("keys").join("content.key");
    let mode = std::fs::metadata(&key_file)?.permissions().mode() & 0o777;
    ensure!(mode == 0o600, "content key mode {mode:o}");
    node.kill9().await?;
    node.restart().await?;
    let provider = node.provider();
    let auth = read_authorization(&contributor, hash, U256::ZERO, 3, now() + 300);
    let answer = raw_rpc(&provider, "ol_getContent", (hash, auth)).await?;
    ensure!(
        answer["content"] == json!(Bytes::copy_from_slice(passage)),
        "after kill -9: {answer}"
    );
    let replay = read_authorization(&curator, hash, datanet, 1, expiry);
    let refused = rpc_error(&provider, "ol_getContent", (hash, replay)).await?;
    ensure!(
        matches!(&refused, Some((-32044, _))),
        "replay after restart: {refused:?}"
    );
    node.finish().await.map_err(|err| eyre!("{err}"))
}
