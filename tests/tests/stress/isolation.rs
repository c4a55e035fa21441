//! RPC work must not stall block production: a client that pipelines a thousand heavy
//! `eth_call`s over one WebSocket does not delay any block by more than a tenth of the block
//! time, another client's `eth_blockNumber` stays fast, and a call that cannot finish before
//! `--rpc.evmtimeout` (a huge BLAKE2F) is stopped on time.

use crate::{percentile, still_sealing};
use alloy::{
    primitives::{Address, Bytes},
    providers::Provider,
    rpc::types::TransactionRequest,
};
use eyre::{Result, ensure};
use futures_util::StreamExt;
use ol_e2e::{DEV_BLOCK_TIME_SECS, TestNode, rpc_error};
use serde_json::json;
use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

/// BLAKE2F's input with `rounds` rounds (EIP-152 layout, final-block flag set).
fn blake2f_input(rounds: u32) -> Bytes {
    let mut input = vec![0u8; 213];
    input[..4].copy_from_slice(&rounds.to_be_bytes());
    input[212] = 1;
    Bytes::from(input)
}

fn unix_now() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_pipelined_heavy_calls_do_not_delay_blocks_or_other_clients() -> Result<()> {
    let _alone = crate::ONE_AT_A_TIME.lock().await;
    let node = TestNode::start_with_ws().await?;
    let http = node.provider();
    let heads = node.ws_provider().await?;
    let attacker = node.ws_provider().await?;

    // Record when each new head reaches a subscriber, against the block's own timestamp.
    let mut subscription = heads.subscribe_blocks().await?.into_stream();
    let watching = Arc::new(AtomicBool::new(true));
    let watcher = {
        let watching = watching.clone();
        tokio::spawn(async move {
            let mut delays = Vec::new();
            while watching.load(Ordering::Acquire) {
                let next = tokio::time::timeout(Duration::from_secs(3), subscription.next()).await;
                let Ok(Some(header)) = next else { break };
                let late = unix_now().saturating_sub(Duration::from_secs(header.timestamp));
                delays.push((header.number, late));
            }
            delays
        })
    };

    // Another client polls the head throughout.
    let poller = {
        let http = http.clone();
        let watching = watching.clone();
        tokio::spawn(async move {
            let mut latencies = Vec::new();
            while watching.load(Ordering::Acquire) {
                let started = Instant::now();
                if http.get_block_number().await.is_ok() {
                    latencies.push(started.elapsed());
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            latencies
        })
    };
    tokio::time::sleep(Duration::from_secs(2)).await;

    // A thousand BLAKE2F calls of about 30 ms of CPU each, all at once on one connection.
    let call = TransactionRequest::default()
        .to(Address::with_last_byte(9))
        .input(blake2f_input(2_500_000).into());
    let started = Instant::now();
    let calls = (0..1000).map(|_| {
        let attacker = attacker.clone();
        let call = call.clone();
        async move { attacker.call(call).await }
    });
    let results = futures_util::future::join_all(calls).await;
    let attack = started.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    watching.store(false, Ordering::Release);
    let delays = watcher.await?;
    let mut latencies = poller.await?;

    let served = results.iter().filter(|result| result.is_ok()).count();
    let busy = results
        .iter()
        .filter_map(|result| result.as_ref().err())
        .filter(|err| {
            err.as_error_resp()
                .is_some_and(|resp| resp.code == -32005 && resp.message.contains("busy"))
        })
        .count();
    // Calls still queued when their --rpc.evmtimeout ran out (it starts on arrival).
    let timed_out = results
        .iter()
        .filter_map(|result| result.as_ref().err())
        .filter(|err| {
            err.as_error_resp()
                .is_some_and(|resp| resp.message.starts_with("execution aborted (timeout"))
        })
        .count();
    let p50 = percentile(&mut latencies, 50.0);
    let p99 = percentile(&mut latencies, 99.0);
    let worst = delays
        .iter()
        .map(|(_, late)| *late)
        .max()
        .unwrap_or_default();
    eprintln!(
        "isolation: {served} calls served, {busy} refused busy, {timed_out} timed out in \
         {attack:?}; {} blocks, \
         latest arrival {worst:?} after its slot; eth_blockNumber p50 {p50:?} p99 {p99:?} \
         over {} polls",
        delays.len(),
        latencies.len()
    );
    ensure!(
        served + busy + timed_out == 1000,
        "every call is served, refused as busy or timed out"
    );
    ensure!(served > 0, "the pool serves calls under load");
    ensure!(
        delays.len() as u64 >= attack.as_secs() / DEV_BLOCK_TIME_SECS,
        "blocks kept coming: {delays:?}"
    );
    let allowed = Duration::from_secs(DEV_BLOCK_TIME_SECS) / 10;
    for (number, late) in &delays {
        ensure!(
            *late <= allowed,
            "block {number} arrived {late:?} after its slot"
        );
    }
    ensure!(
        p99 < Duration::from_millis(50),
        "eth_blockNumber p99 {p99:?}"
    );
    still_sealing(&http).await?;
    node.finish().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_precompile_call_does_not_outlive_the_evm_timeout() -> Result<()> {
    let _alone = crate::ONE_AT_A_TIME.lock().await;
    let args = ["--rpc.evmtimeout", "1s"];
    let node = TestNode::start_with_args(args.map(String::from).to_vec()).await?;
    let provider = node.provider();
    let timeout = Duration::from_secs(1);
    // 45M rounds fit the 50M gas cap and take about half a second of CPU each; eight at once
    // on a two-core machine cannot all finish within the second, and none may answer late.
    let call = json!({ "to": Address::with_last_byte(9), "data": blake2f_input(45_000_000) });
    let concurrent = (0..8).map(|_| {
        let provider = provider.clone();
        let call = call.clone();
        async move {
            let started = Instant::now();
            let refused = rpc_error(&provider, "eth_call", (call, "latest")).await;
            (refused, started.elapsed())
        }
    });
    let mut timed_out = 0;
    for (refused, took) in futures_util::future::join_all(concurrent).await {
        match refused? {
            None => {}
            Some((-32000, message)) if message == "execution aborted (timeout = 1s)" => {
                timed_out += 1;
            }
            other => eyre::bail!("unexpected answer {other:?}"),
        }
        ensure!(
            took < timeout + Duration::from_millis(500),
            "answered {took:?} after the request, for a timeout of {timeout:?}"
        );
    }
    ensure!(timed_out > 0, "some of the calls could not finish in time");
    still_sealing(&provider).await?;
    node.finish().await
}
