//! `crash_kill9_ten_times`: ten rounds of "stream transfers, SIGKILL the node mid-load, restart".
//! Whatever the node reported before a kill — receipts, blocks, the head number — must still be
//! there after the restart, unchanged. At the end `openledger db check` must find the stored
//! state consistent (the state root recomputed from the plain state equals the head's).

use std::{
    collections::{BTreeMap, HashSet},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use alloy::{
    primitives::{B256, TxHash, U256},
    providers::{DynProvider, Provider},
    signers::local::PrivateKeySigner,
};
use eyre::{Context as _, Result, ensure, eyre};
use ol_e2e::{
    TestNode, dev_address, dev_signer, generous_fees, json_b256, sign_transfer, wait_for_block,
};
use serde_json::Value;

const ROUNDS: u32 = 10;
/// Dev accounts streaming transfers (the others are left alone).
const SENDERS: [u32; 4] = [4, 5, 6, 7];
/// Recipient of every transfer.
const RECIPIENT: u32 = 9;
/// Pause between two batches (one transfer per sender each).
const BATCH_INTERVAL: Duration = Duration::from_millis(100);

/// What the node reported before a kill: it must survive the kill.
#[derive(Debug, Default)]
struct Observed {
    /// tx hash → (block number, block hash) of receipts the node returned.
    receipts: BTreeMap<TxHash, (u64, B256)>,
    /// block number → hash of blocks the node returned.
    blocks: BTreeMap<u64, B256>,
    /// Highest `eth_blockNumber` answer.
    last_head: u64,
    /// Transactions accepted by `eth_sendRawTransaction`.
    sent: u64,
    /// A few RPC errors seen (for diagnostics; the node is killed under the load).
    errors: Vec<String>,
    /// Inconsistencies in what the node answered (a block listing a tx without receipt, ...).
    violations: Vec<String>,
}

impl Observed {
    fn note_error(&mut self, error: String) {
        if self.errors.len() < 10 {
            self.errors.push(error);
        }
    }
}

/// Load duration of a round: 2.5 – 4.0 s, varying deterministically between rounds so that
/// kills land at different points of block production.
fn load_duration(round: u32) -> Duration {
    Duration::from_millis(2_500 + u64::from(round * 397 % 1_500))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_kill9_ten_times() -> Result<()> {
    let mut node = TestNode::start().await?;
    let mut ledger = Observed::default();

    for round in 1..=ROUNDS {
        let observed = Arc::new(Mutex::new(Observed::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let loader = tokio::spawn(stream_transfers(
            node.provider(),
            round,
            Arc::clone(&observed),
            Arc::clone(&stop),
        ));

        tokio::time::sleep(load_duration(round)).await;
        node.kill9()
            .await
            .wrap_err_with(|| format!("round {round}: SIGKILL"))?;
        stop.store(true, Ordering::SeqCst);
        loader.await.wrap_err("the load task panicked")?;

        let observed = std::mem::take(&mut *observed.lock().expect("load task does not poison"));
        ensure!(
            observed.violations.is_empty(),
            "round {round}: the node gave inconsistent answers: {:#?}",
            observed.violations
        );
        ensure!(
            !observed.receipts.is_empty(),
            "round {round}: no transfer was mined during {:?} of load ({} sent; errors: {:?})",
            load_duration(round),
            observed.sent,
            observed.errors
        );
        eprintln!(
            "crash round {round}: sent {}, mined+seen {}, head {}, then SIGKILL",
            observed.sent,
            observed.receipts.len(),
            observed.last_head
        );
        merge(&mut ledger, observed)?;

        // Straight after the kill, before the node runs again: the database opens (its
        // consistency check passes), the head is at least the last one reported, and the head's
        // stored state root equals a recomputation from the plain state.
        let (output, report) = node.db_check().await?;
        ensure!(
            report.get("ok") == Some(&Value::Bool(true)) && output.status.success(),
            "round {round}: db check after SIGKILL is not ok:\n{output}"
        );
        let head_on_disk = report["head"].as_u64().unwrap_or_default();
        ensure!(
            head_on_disk >= ledger.last_head,
            "round {round}: head on disk {head_on_disk} is behind the reported head {}",
            ledger.last_head
        );

        node.restart()
            .await
            .wrap_err_with(|| format!("round {round}: restart after SIGKILL"))?;
        let provider = node.provider();
        verify(&provider, &ledger)
            .await
            .wrap_err_with(|| format!("round {round}: after restart"))?;
        // The chain goes on.
        let head = provider.get_block_number().await?;
        wait_for_block(&provider, head + 1)
            .await
            .wrap_err_with(|| format!("round {round}: no new block after restart"))?;
    }

    // Final: graceful stop, then the offline consistency check.
    let provider = node.provider();
    let head_before_stop = provider.get_block_number().await?;
    node.stop().await?;
    let (output, report) = node.db_check().await?;
    eprintln!("db check: {}", output.stdout.trim());
    ensure!(
        report.get("ok") == Some(&Value::Bool(true)),
        "db check is not ok:\n{output}"
    );
    ensure!(
        output.status.success(),
        "db check reported ok but exited non-zero:\n{output}"
    );
    let state_root = json_b256(&report, "stateRoot")?;
    let recomputed = json_b256(&report, "recomputedStateRoot")?;
    ensure!(
        state_root == recomputed,
        "db check: stateRoot {state_root} != recomputed {recomputed}"
    );
    let db_head = report
        .get("head")
        .and_then(Value::as_u64)
        .ok_or_else(|| eyre!("db check report has no numeric `head`:\n{output}"))?;
    let db_head_hash = json_b256(&report, "headHash")?;
    ensure!(
        db_head >= head_before_stop && db_head >= ledger.last_head,
        "db check head {db_head} is behind the head the node reported ({head_before_stop})"
    );
    if let Some(hash) = ledger.blocks.get(&db_head) {
        ensure!(
            *hash == db_head_hash,
            "db check headHash {db_head_hash} != reported hash {hash}"
        );
    }

    // The report describes the chain the node serves: same head hash and state root.
    node.restart().await?;
    let provider = node.provider();
    let block = provider
        .get_block_by_number(db_head.into())
        .await?
        .ok_or_else(|| eyre!("block {db_head} (db check head) not found after restart"))?;
    ensure!(
        block.header.hash == db_head_hash,
        "db check headHash differs from block {db_head}'s hash"
    );
    ensure!(
        block.header.state_root == state_root,
        "db check stateRoot {state_root} differs from block {db_head}'s stateRoot {}",
        block.header.state_root
    );
    verify(&provider, &ledger)
        .await
        .wrap_err("after the final restart")?;
    node.finish().await
}

/// Adds a round's observations to the ledger; a block number seen twice must have one hash.
fn merge(ledger: &mut Observed, observed: Observed) -> Result<()> {
    for (number, hash) in observed.blocks {
        if let Some(known) = ledger.blocks.insert(number, hash) {
            ensure!(
                known == hash,
                "block {number} was reported as {known} and later as {hash}"
            );
        }
    }
    ledger.receipts.extend(observed.receipts);
    ledger.last_head = ledger.last_head.max(observed.last_head);
    ledger.sent += observed.sent;
    Ok(())
}

/// Everything in the ledger is still served, unchanged.
async fn verify(provider: &DynProvider, ledger: &Observed) -> Result<()> {
    let head = provider.get_block_number().await?;
    ensure!(
        head >= ledger.last_head,
        "head after restart is {head}, but the node had reported head {} before the kill",
        ledger.last_head
    );
    for (number, hash) in &ledger.blocks {
        let block = provider
            .get_block_by_number((*number).into())
            .await?
            .ok_or_else(|| eyre!("block {number} (reported before a kill) is gone"))?;
        ensure!(
            block.header.hash == *hash,
            "block {number} was {hash} before the kill, now {}",
            block.header.hash
        );
    }
    for (tx, (number, hash)) in &ledger.receipts {
        let receipt = provider
            .get_transaction_receipt(*tx)
            .await?
            .ok_or_else(|| eyre!("the receipt of {tx} (block {number}) is gone"))?;
        ensure!(
            receipt.block_hash == Some(*hash) && receipt.block_number == Some(*number),
            "the receipt of {tx} moved from block {number} ({hash}) to {:?} ({:?})",
            receipt.block_number,
            receipt.block_hash
        );
        ensure!(receipt.status(), "the receipt of {tx} now says failed");
    }
    Ok(())
}

/// Streams transfers from [`SENDERS`] (nonces kept locally, no waiting for receipts) and records
/// what the node reports, until `stop` is set. RPC errors (the node gets killed under it) are
/// tolerated; only answers are recorded.
async fn stream_transfers(
    provider: DynProvider,
    round: u32,
    observed: Arc<Mutex<Observed>>,
    stop: Arc<AtomicBool>,
) {
    let record = |f: &mut dyn FnMut(&mut Observed)| f(&mut observed.lock().expect("not poisoned"));
    let senders: Vec<PrivateKeySigner> = SENDERS.iter().map(|i| dev_signer(*i)).collect();
    let recipient = dev_address(RECIPIENT);

    // Setup: fees, nonces (what a previous run left in its pool is gone or still pending: start
    // from the pending count) and the first block to scan.
    let setup = async {
        let fees = generous_fees(&provider).await?;
        let mut nonces = Vec::new();
        for signer in &senders {
            nonces.push(
                provider
                    .get_transaction_count(signer.address())
                    .pending()
                    .await?,
            );
        }
        let next_block = provider.get_block_number().await? + 1;
        Ok::<_, eyre::Report>((fees, nonces, next_block))
    };
    let (fees, mut nonces, mut next_block) = match setup.await {
        Ok(setup) => setup,
        Err(err) => {
            record(&mut |o| o.note_error(format!("setup: {err:#}")));
            return;
        }
    };

    let mut in_flight: HashSet<TxHash> = HashSet::new();
    // Distinct amounts per round: a transfer lost with a killed node's pool is never re-sent
    // with the same hash.
    let mut amount = u64::from(round) * 1_000_000;
    while !stop.load(Ordering::SeqCst) {
        for (signer, nonce) in senders.iter().zip(nonces.iter_mut()) {
            amount += 1;
            let (hash, raw) =
                match sign_transfer(signer, *nonce, recipient, U256::from(amount), fees) {
                    Ok(signed) => signed,
                    Err(err) => {
                        record(&mut |o| o.note_error(format!("signing: {err:#}")));
                        continue;
                    }
                };
            match provider.send_raw_transaction(&raw).await {
                Ok(_) => {
                    *nonce += 1;
                    in_flight.insert(hash);
                    record(&mut |o| o.sent += 1);
                }
                Err(err) => {
                    record(&mut |o| o.note_error(format!("send nonce {nonce}: {err}")));
                    // Resynchronise with the node's view of the account.
                    if let Ok(pending) = provider
                        .get_transaction_count(signer.address())
                        .pending()
                        .await
                    {
                        *nonce = pending;
                    }
                }
            }
        }

        // Walk the new blocks and record the receipts of our transactions found in them.
        if let Ok(head) = provider.get_block_number().await {
            record(&mut |o| o.last_head = o.last_head.max(head));
            while next_block <= head && !stop.load(Ordering::SeqCst) {
                let mut violations = Vec::new();
                let scanned =
                    scan_block(&provider, next_block, &mut in_flight, &mut violations).await;
                record(&mut |o| o.violations.append(&mut violations));
                match scanned {
                    Ok((hash, receipts)) => {
                        record(&mut |o| {
                            o.blocks.insert(next_block, hash);
                            for tx in &receipts {
                                o.receipts.insert(*tx, (next_block, hash));
                            }
                        });
                        next_block += 1;
                    }
                    Err(err) => {
                        record(&mut |o| o.note_error(format!("scan block {next_block}: {err:#}")));
                        break;
                    }
                }
            }
        }
        tokio::time::sleep(BATCH_INTERVAL).await;
    }
}

/// Fetches block `number` (hashes only) and the receipts of the in-flight transactions it holds;
/// returns the block hash and those transactions (removed from `in_flight`). RPC failures are
/// errors; inconsistent answers are pushed to `violations`.
async fn scan_block(
    provider: &DynProvider,
    number: u64,
    in_flight: &mut HashSet<TxHash>,
    violations: &mut Vec<String>,
) -> Result<(B256, Vec<TxHash>)> {
    let block = provider
        .get_block_by_number(number.into())
        .await?
        .ok_or_else(|| eyre!("block {number} <= head not found"))?;
    let hash = block.header.hash;
    let mut mined = Vec::new();
    for tx in block.transactions.hashes() {
        if !in_flight.contains(&tx) {
            continue;
        }
        let receipt = provider.get_transaction_receipt(tx).await?;
        in_flight.remove(&tx);
        let Some(receipt) = receipt else {
            violations.push(format!(
                "block {number} ({hash}) lists {tx} but it has no receipt"
            ));
            continue;
        };
        if receipt.block_hash != Some(hash) || receipt.block_number != Some(number) {
            violations.push(format!(
                "receipt of {tx} names block {:?} ({:?}), but it is in block {number} ({hash})",
                receipt.block_number, receipt.block_hash
            ));
            continue;
        }
        if !receipt.status() {
            violations.push(format!("transfer {tx} failed: {receipt:?}"));
            continue;
        }
        mined.push(tx);
    }
    Ok((hash, mined))
}
