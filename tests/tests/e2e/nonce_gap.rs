//! `nonce_gap`: a transaction whose nonce is ahead of the account waits (queued, not mined, not
//! counted by the pending nonce) until the gap is filled; then both are mined in nonce order.

use alloy::{
    primitives::{Address, U256, address},
    providers::Provider,
};
use eyre::Result;
use ol_e2e::{
    TestNode, dev_address, dev_signer, generous_fees, sign_transfer, wait_for_block,
    wait_for_receipt,
};

const RECIPIENT: Address = address!("0x00000000000000000000000000000000000e2e02");

/// Blocks to wait with the gap open.
const GAP_BLOCKS: u64 = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nonce_gap() -> Result<()> {
    let node = TestNode::start().await?;
    let provider = node.provider();
    let signer = dev_signer(3);
    let account = dev_address(3);
    let value = U256::from(1_000_000_007u64);

    let n = provider.get_transaction_count(account).latest().await?;
    let fees = generous_fees(&provider).await?;
    let (hash_late, raw_late) = sign_transfer(&signer, n + 1, RECIPIENT, value, fees)?;
    let (hash_first, raw_first) = sign_transfer(&signer, n, RECIPIENT, value, fees)?;

    // Nonce n+1 first: accepted by the pool, but it cannot be mined.
    let sent = provider.send_raw_transaction(&raw_late).await?;
    assert_eq!(
        *sent.tx_hash(),
        hash_late,
        "eth_sendRawTransaction returns the hash"
    );
    let head = provider.get_block_number().await?;
    wait_for_block(&provider, head + GAP_BLOCKS).await?;
    assert!(
        provider.get_transaction_receipt(hash_late).await?.is_none(),
        "nonce {} was mined although nonce {n} was never sent",
        n + 1
    );
    assert_eq!(
        provider.get_transaction_count(account).latest().await?,
        n,
        "latest nonce while the gap is open"
    );
    assert_eq!(
        provider.get_transaction_count(account).pending().await?,
        n,
        "pending nonce while the gap is open (a queued future-nonce tx is not counted)"
    );
    assert_eq!(
        provider.get_balance(RECIPIENT).await?,
        U256::ZERO,
        "nothing arrived yet"
    );

    // Fill the gap: both are mined, in nonce order.
    let sent = provider.send_raw_transaction(&raw_first).await?;
    assert_eq!(
        *sent.tx_hash(),
        hash_first,
        "eth_sendRawTransaction returns the hash"
    );
    let first = wait_for_receipt(&provider, hash_first).await?;
    let late = wait_for_receipt(&provider, hash_late).await?;
    assert!(first.status(), "nonce {n} failed: {first:?}");
    assert!(late.status(), "nonce {} failed: {late:?}", n + 1);
    let position = |r: &alloy::rpc::types::TransactionReceipt| {
        (
            r.block_number.unwrap_or_default(),
            r.transaction_index.unwrap_or_default(),
        )
    };
    assert!(
        position(&first) < position(&late),
        "nonce {n} at (block, index) {:?} must come before nonce {} at {:?}",
        position(&first),
        n + 1,
        position(&late)
    );
    assert_eq!(
        provider.get_transaction_count(account).latest().await?,
        n + 2,
        "latest nonce after"
    );
    assert_eq!(
        provider.get_transaction_count(account).pending().await?,
        n + 2,
        "pending nonce after"
    );
    assert_eq!(
        provider.get_balance(RECIPIENT).await?,
        value * U256::from(2u64),
        "both transfers arrived"
    );

    node.finish().await
}
