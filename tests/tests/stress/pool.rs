//! The pool is bounded by bytes, not only by count: a pool filled to its byte budget evicts the
//! cheapest transactions for dearer ones and never holds more than the budget; a nonce far
//! ahead is refused; a sender's transactions must be payable together; afterwards the pool's
//! status agrees with its content and the chain goes on including transactions.

use crate::{percentile, still_sealing};
use alloy::transports::http::reqwest;
use alloy::{
    primitives::{Address, B256, Bytes, TxKind, U256},
    providers::{DynProvider, Provider},
    signers::local::PrivateKeySigner,
};
use eyre::{Result, ensure, eyre};
use ol_e2e::{
    DEV_CHAIN_ID, Fees, TestNode, dev_signer, generous_fees, raw_rpc, rpc_error, sign_eip1559,
    sign_transfer, wait_for_receipt,
};
use serde_json::Value;
use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

/// Bytes of call data in each filler transaction.
const DATA: usize = 60_000;
/// The queue's budget the node runs with (`--txpool.queued-max-size 1`).
const QUEUED_BUDGET: usize = 1024 * 1024;

/// A signed transfer carrying `DATA` bytes of call data.
fn filler(signer: &PrivateKeySigner, nonce: u64, fees: Fees) -> Result<(B256, Bytes)> {
    sign_eip1559(
        signer,
        DEV_CHAIN_ID,
        nonce,
        TxKind::Call(Address::repeat_byte(0x77)),
        U256::ZERO,
        Bytes::from(vec![0xab; DATA]),
        // Enough for Prague's calldata floor (40 gas per non-zero byte).
        21_000 + 64 * DATA as u64,
        fees,
    )
}

/// Hashes in the pool's `queued` (or `pending`) section of `txpool_content`.
fn hashes(content: &Value, section: &str) -> Vec<B256> {
    content[section]
        .as_object()
        .into_iter()
        .flat_map(|senders| senders.values())
        .filter_map(Value::as_object)
        .flat_map(|txs| txs.values())
        .filter_map(|tx| tx["hash"].as_str()?.parse().ok())
        .collect()
}

/// Sends `raw`; returns the refusal message, if any.
async fn send(provider: &DynProvider, raw: &Bytes) -> Result<Option<String>> {
    Ok(rpc_error(provider, "eth_sendRawTransaction", (raw,))
        .await?
        .map(|(_, message)| message))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_at_its_byte_budget_evicts_by_price_and_stays_under_it() -> Result<()> {
    let _alone = crate::ONE_AT_A_TIME.lock().await;
    let args = [
        "--txpool.queued-max-size",
        "1",
        "--txpool.pending-max-size",
        "1",
        "--txpool.max-nonce-gap",
        "32",
    ];
    let node = TestNode::start_with_args(args.map(String::from).to_vec()).await?;
    let provider = node.provider();
    let base = generous_fees(&provider).await?;
    let tip = |gwei: u128| Fees {
        max_fee_per_gas: base.max_fee_per_gas + gwei * 1_000_000_000,
        max_priority_fee_per_gas: gwei * 1_000_000_000,
    };
    let mut sizes: HashMap<B256, usize> = HashMap::new();
    let queued_bytes = |content: &Value, sizes: &HashMap<B256, usize>| -> usize {
        hashes(content, "queued")
            .iter()
            .map(|hash| sizes.get(hash).copied().unwrap_or(0))
            .sum()
    };

    // Four senders queue (nonce 0 left open) five 60 KB transactions each at a 1 gwei tip:
    // the queue's megabyte holds seventeen, the rest are refused as the pool being full.
    let mut refused_full = 0;
    for sender in 1..=4 {
        for nonce in 1..=5 {
            let (hash, raw) = filler(&dev_signer(sender), nonce, tip(1))?;
            sizes.insert(hash, raw.len());
            match send(&provider, &raw).await? {
                None => {}
                Some(message) if message == "txpool is full" => refused_full += 1,
                Some(other) => return Err(eyre!("unexpected refusal: {other}")),
            }
        }
    }
    let content = raw_rpc(&provider, "txpool_content", ()).await?;
    let queued = hashes(&content, "queued");
    let per_tx = sizes.values().copied().max().unwrap_or(1);
    ensure!(
        refused_full == 20 - queued.len(),
        "{refused_full} refused, {} queued",
        queued.len()
    );
    ensure!(
        queued.len() == QUEUED_BUDGET / per_tx,
        "{} queued of {per_tx} bytes",
        queued.len()
    );
    ensure!(queued_bytes(&content, &sizes) <= QUEUED_BUDGET);

    // A dearer one evicts a cheaper one; the queue stays within its budget.
    let (dear, raw) = filler(&dev_signer(5), 1, tip(3))?;
    sizes.insert(dear, raw.len());
    ensure!(
        send(&provider, &raw).await?.is_none(),
        "the dearer transaction is taken"
    );
    let content = raw_rpc(&provider, "txpool_content", ()).await?;
    let after = hashes(&content, "queued");
    ensure!(
        after.contains(&dear) && after.len() == queued.len(),
        "{} queued",
        after.len()
    );
    ensure!(queued_bytes(&content, &sizes) <= QUEUED_BUDGET);

    // Four clients copying the whole (megabyte) pool in a loop leave other clients fast.
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let url = node.url().clone();
            tokio::spawn(async move {
                // Raw HTTP, the body read and dropped: the test must not spend the CPU parsing.
                let client = reqwest::Client::new();
                let request = r#"{"jsonrpc":"2.0","id":1,"method":"txpool_content","params":[]}"#;
                let until = Instant::now() + Duration::from_secs(3);
                let mut copies = 0;
                while Instant::now() < until {
                    let body = client
                        .post(url.clone())
                        .header("content-type", "application/json")
                        .body(request)
                        .send()
                        .await?
                        .bytes()
                        .await?;
                    ensure!(
                        body.len() > QUEUED_BUDGET,
                        "a copy of the pool: {} bytes",
                        body.len()
                    );
                    copies += 1;
                }
                Ok::<_, eyre::Report>(copies)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < until {
        let started = Instant::now();
        provider.get_block_number().await?;
        latencies.push(started.elapsed());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut copies = 0;
    for reader in readers {
        copies += reader.await??;
    }
    let p99 = percentile(&mut latencies, 99.0);
    eprintln!("pool case: {copies} txpool_content copies in 3 s; eth_blockNumber p99 {p99:?}");
    ensure!(
        copies > 0 && p99 < Duration::from_millis(50),
        "eth_blockNumber p99 {p99:?}"
    );

    // A nonce further ahead than --txpool.max-nonce-gap is refused.
    let (_, far) = filler(&dev_signer(6), 33, tip(3))?;
    let message = send(&provider, &far).await?.unwrap_or_default();
    ensure!(message.starts_with("nonce too high"), "{message}");

    // A sender funded for two transfers cannot queue a third.
    let poor = PrivateKeySigner::random();
    let fees = tip(1);
    let transfer_cost = U256::from(21_000u128 * fees.max_fee_per_gas) + U256::from(1);
    let funding = transfer_cost * U256::from(2) + transfer_cost / U256::from(2);
    let (funded, raw) = sign_transfer(&dev_signer(0), 0, poor.address(), funding, fees)?;
    ensure!(send(&provider, &raw).await?.is_none());
    wait_for_receipt(&provider, funded).await?;
    for nonce in 0..3 {
        let (_, raw) = sign_transfer(&poor, nonce, Address::repeat_byte(1), U256::from(1), fees)?;
        let refused = send(&provider, &raw).await?;
        if nonce < 2 {
            // The first may already be mined by the time the second arrives: both are fine.
            ensure!(
                refused.is_none() || refused.as_deref() == Some("nonce too low"),
                "{refused:?}"
            );
        } else {
            let message = refused.unwrap_or_default();
            ensure!(
                message.starts_with("insufficient funds"),
                "third: {message}"
            );
        }
    }

    // Filling sender 5's gap makes its transactions pending and mined; the pool stays coherent.
    let (gap, raw) = filler(&dev_signer(5), 0, tip(3))?;
    ensure!(send(&provider, &raw).await?.is_none());
    let included = wait_for_receipt(&provider, gap).await?;
    ensure!(included.status());
    wait_for_receipt(&provider, dear).await?;
    let status = raw_rpc(&provider, "txpool_status", ()).await?;
    let content = raw_rpc(&provider, "txpool_content", ()).await?;
    let count = |field: &str| {
        u64::from_str_radix(
            status[field]
                .as_str()
                .unwrap_or("0x0")
                .trim_start_matches("0x"),
            16,
        )
        .unwrap_or(u64::MAX) as usize
    };
    ensure!(
        count("queued") == hashes(&content, "queued").len(),
        "{status} vs content"
    );
    ensure!(
        count("pending") == hashes(&content, "pending").len(),
        "{status} vs content"
    );
    still_sealing(&provider).await?;
    node.finish().await
}
