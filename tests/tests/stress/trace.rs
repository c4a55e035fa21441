//! One free trace must not exhaust memory: the struct logger over a loop on a full stack is
//! refused before the trace is built, for a call and for a mined transaction, and a trace stops
//! at its deadline.

use crate::{rss, still_sealing};
use alloy::{
    primitives::{Bytes, TxKind, U256},
    providers::Provider,
};
use eyre::{Result, ensure};
use ol_e2e::{
    DEV_CHAIN_ID, TestNode, dev_address, dev_signer, generous_fees, raw_rpc, rpc_error,
    sign_eip1559, wait_for_receipt,
};
use serde_json::json;
use std::time::{Duration, Instant};

/// How much the node's peak RSS may exceed its idle RSS across the case.
const RSS_BOUND: u64 = 512 * 1024 * 1024;

/// Code that pushes 1,000 zeros and then loops forever: every step of it has a 1,000-item stack.
fn stack_loop() -> Vec<u8> {
    let mut code = vec![0x5f; 1000]; // PUSH0 × 1000
    code.extend_from_slice(&[0x5b, 0x61, 0x03, 0xe8, 0x56]); // JUMPDEST; PUSH2 1000; JUMP
    code
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_struct_logger_over_a_full_stack_is_refused_within_bounded_memory() -> Result<()> {
    let _alone = crate::ONE_AT_A_TIME.lock().await;
    let node = TestNode::start().await?;
    let provider = node.provider();
    let pid = node.pid().ok_or_else(|| eyre::eyre!("node has no pid"))?;
    let (idle, _) = rss(pid)?;

    // debug_traceCall at the default 50M gas cap with the default struct logger.
    let started = Instant::now();
    let call = json!({ "from": dev_address(0), "data": Bytes::from(stack_loop()) });
    let refused = rpc_error(
        &provider,
        "debug_traceCall",
        (call.clone(), "latest", json!({})),
    )
    .await?;
    let (code, message) = refused.ok_or_else(|| eyre::eyre!("the trace was served"))?;
    ensure!(code == -32000, "code {code}: {message}");
    ensure!(message.contains("trace too large"), "{message}");
    let took = started.elapsed();
    ensure!(took < Duration::from_secs(20), "refusing took {took:?}");

    // The same loop mined as a transaction (it runs out of gas), then traced as explorers do.
    let fees = generous_fees(&provider).await?;
    let signer = dev_signer(0);
    let (_, deploy) = sign_eip1559(
        &signer,
        DEV_CHAIN_ID,
        0,
        TxKind::Create,
        U256::ZERO,
        ol_e2e::init_code(&stack_loop(), 0xf3),
        1_000_000,
        fees,
    )?;
    let deploy_hash = provider
        .send_raw_transaction(&deploy)
        .await?
        .tx_hash()
        .to_owned();
    let deployed = wait_for_receipt(&provider, deploy_hash).await?;
    let contract = deployed
        .contract_address
        .ok_or_else(|| eyre::eyre!("no contract address"))?;
    let (_, looping) = sign_eip1559(
        &signer,
        DEV_CHAIN_ID,
        1,
        TxKind::Call(contract),
        U256::ZERO,
        Bytes::new(),
        3_000_000,
        fees,
    )?;
    let loop_hash = provider
        .send_raw_transaction(&looping)
        .await?
        .tx_hash()
        .to_owned();
    let mined = wait_for_receipt(&provider, loop_hash).await?;
    ensure!(!mined.status(), "the loop runs out of gas");
    let refused = rpc_error(&provider, "debug_traceTransaction", (loop_hash, json!({}))).await?;
    let (_, message) = refused.ok_or_else(|| eyre::eyre!("the trace was served"))?;
    ensure!(message.contains("trace too large"), "{message}");
    let block = mined.block_number.unwrap_or_default();
    let refused = rpc_error(
        &provider,
        "debug_traceBlockByNumber",
        (format!("{block:#x}"), json!({})),
    )
    .await?;
    let (_, message) = refused.ok_or_else(|| eyre::eyre!("the block trace was served"))?;
    ensure!(message.contains("trace too large"), "{message}");

    // A tracer that records per call still serves the same transaction.
    let calls = raw_rpc(
        &provider,
        "debug_traceTransaction",
        (loop_hash, json!({ "tracer": "callTracer" })),
    )
    .await?;
    ensure!(
        calls["to"].as_str().map(str::to_lowercase) == Some(format!("{contract:#x}")),
        "{calls}"
    );

    let (now, peak) = rss(pid)?;
    eprintln!(
        "trace case: idle RSS {} MB, peak {} MB, now {} MB",
        idle >> 20,
        peak >> 20,
        now >> 20
    );
    ensure!(
        peak.saturating_sub(idle) < RSS_BOUND,
        "peak RSS {} MB is more than {} MB above idle ({} MB)",
        peak >> 20,
        RSS_BOUND >> 20,
        idle >> 20
    );
    still_sealing(&provider).await?;
    node.finish().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trace_stops_at_its_timeout() -> Result<()> {
    let _alone = crate::ONE_AT_A_TIME.lock().await;
    // A gas cap far above what the loop below could burn in seconds: only time stops it.
    let args = ["--rpc.evmtimeout", "2s", "--rpc.gascap", "10000000000"];
    let node = TestNode::start_with_args(args.map(String::from).to_vec()).await?;
    let provider = node.provider();
    // An endless loop traced by the call tracer (which records no steps).
    let call = json!({ "from": dev_address(0), "data": "0x5b5f56", "gas": "0x2540be400" });
    for (options, limit) in [
        (
            json!({ "tracer": "callTracer", "timeout": "300ms" }),
            Duration::from_millis(300),
        ),
        // Asking for more than --rpc.evmtimeout gets --rpc.evmtimeout.
        (
            json!({ "tracer": "callTracer", "timeout": "1h" }),
            Duration::from_secs(2),
        ),
    ] {
        let started = Instant::now();
        let refused = rpc_error(
            &provider,
            "debug_traceCall",
            (call.clone(), "latest", options),
        )
        .await?;
        let took = started.elapsed();
        let (_, message) = refused.ok_or_else(|| eyre::eyre!("the endless trace returned"))?;
        ensure!(message == "execution timeout", "{message}");
        ensure!(
            took >= limit && took < limit + Duration::from_millis(1500),
            "stopped after {took:?} for a limit of {limit:?}"
        );
    }
    let refused = rpc_error(
        &provider,
        "debug_traceCall",
        (call, "latest", json!({ "timeout": "soon" })),
    )
    .await?;
    ensure!(matches!(refused, Some((-32602, _))), "{refused:?}");
    still_sealing(&provider).await?;
    node.finish().await
}
