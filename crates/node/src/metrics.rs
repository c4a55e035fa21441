//! The Prometheus exporter and the descriptions of the node's metrics.

use eyre::WrapErr;
use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
use std::net::SocketAddr;

/// Buckets of the RPC latency histogram, in seconds: from cached reads (sub-millisecond) to
/// calls near the default `--rpc.evmtimeout` (5 s).
const RPC_LATENCY_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// Installs the global Prometheus recorder with its HTTP listener on `addr` and describes the
/// node's metrics. Must run inside a tokio runtime (the listener is spawned on it).
pub fn install_prometheus(addr: SocketAddr) -> eyre::Result<()> {
    PrometheusBuilder::new()
        .with_http_listener(addr)
        .set_buckets_for_metric(
            Matcher::Full(ol_rpc::RPC_LATENCY_METRIC.to_string()),
            RPC_LATENCY_BUCKETS,
        )
        .wrap_err("configuring the RPC latency buckets")?
        .set_buckets_for_metric(
            Matcher::Full("p2p_unsafe_block_import_seconds".to_owned()),
            RPC_LATENCY_BUCKETS,
        )
        .wrap_err("configuring the unsafe-block import buckets")?
        .install()
        .wrap_err_with(|| format!("cannot start the Prometheus exporter on {addr}"))?;
    describe();
    Ok(())
}

/// Describes the metrics of the job service (recorded by `ol-jobs`).
pub fn describe_jobs() {
    describe_histogram!(
        ol_jobs::executor::INFERENCE_SECONDS,
        Unit::Seconds,
        "Inference time of a paid request's job"
    );
    describe_histogram!(
        ol_jobs::executor::ATTRIBUTION_SECONDS,
        Unit::Seconds,
        "Attribution time of a paid request's job (with an index build on a new data snapshot)"
    );
    describe_gauge!(
        "jobs_open_requests",
        Unit::Count,
        "Paid requests the job service has seen and not yet fulfilled, refused or expired"
    );
    describe_counter!(
        ol_jobs::executor::BUSY_SECONDS,
        Unit::Microseconds,
        "Time the job service's worker pool spent on jobs"
    );
    counters_from_zero(&[
        (
            "jobs_requests_total",
            "Paid inference requests seen in sealed blocks",
        ),
        ("jobs_fulfilled_total", "Requests fulfilled on chain"),
        (
            "jobs_refused_total",
            "Requests refused for good (bad input, unknown adapter)",
        ),
        (
            "jobs_expired_total",
            "Requests that expired before fulfilment",
        ),
        (
            "jobs_step_errors_total",
            "Job steps that failed and are retried",
        ),
        (
            "jobs_fee_bumps_total",
            "Attestor transactions replaced with higher fees after the base fee rose above them",
        ),
    ]);
    describe_counter!(
        "training_jobs_total",
        Unit::Count,
        "Model Factory training jobs, by outcome (accepted, trained, failed)"
    );
}

/// Describes the metrics of the attribution verifier (recorded by `ol-jobs`).
pub fn describe_verify() {
    describe_counter!(
        "verify_records_total",
        Unit::Count,
        "Attribution records checked, by verdict (agrees, mismatch, unverifiable)"
    );
    counters_from_zero(&[
        (
            "verify_mismatches_total",
            "Attribution records the verifier did not reproduce",
        ),
        (
            "verify_errors_total",
            "Verification attempts that failed and are retried",
        ),
        (
            "content_replicated_total",
            "Contributions and adapter bundles copied from the content source",
        ),
    ]);
}

/// Describes the metrics of a sequencer that takes its origins from L1 (recorded by
/// `ol-chain`).
pub fn describe_sequencer() {
    describe_gauge!(
        "sequencer_l1_origin_number",
        Unit::Count,
        "L1 origin of the last block the sequencer sealed"
    );
    counters_from_zero(&[(
        "sequencer_origin_errors_total",
        "Block slots whose next L1 origin could not be read (retried)",
    )]);
}

/// Describes the metrics of the batcher (recorded by `ol-batcher`).
pub fn describe_batcher() {
    counters_from_zero(&[
        (
            "batcher_channels_sealed_total",
            "Channels sealed for posting",
        ),
        (
            "batcher_blocks_batched_total",
            "L2 blocks put into channels",
        ),
        ("batcher_l1_txs_total", "Batcher transactions sent to L1"),
        (
            "batcher_da_bytes_total",
            "Frame bytes posted to the DA server",
        ),
        (
            "batcher_calldata_fallbacks_total",
            "Frames posted as L1 calldata because the DA server failed (failover)",
        ),
        (
            "batcher_rebroadcasts_total",
            "Batcher transactions sent again after they left the L1 mempool",
        ),
        (
            "batcher_resubmitted_blocks_total",
            "L2 blocks batched again after their batch fell out of L1 or was not derived",
        ),
        (
            "batcher_step_errors_total",
            "Batcher steps that failed and are retried",
        ),
    ]);
}

/// Describes the metrics of the proposer (recorded by `ol-proposer`).
pub fn describe_proposer() {
    describe_gauge!(
        "proposer_last_output_block",
        Unit::Count,
        "L2 block of the last output root proposed to the L2OutputOracle"
    );
    counters_from_zero(&[
        ("proposer_outputs_total", "Output roots proposed"),
        (
            "proposer_errors_total",
            "Proposals that failed and are retried",
        ),
    ]);
}

/// Describes the p2p network's metrics.
pub fn describe_p2p() {
    describe_gauge!("p2p_peers", Unit::Count, "Connected p2p peers");
    describe_counter!(
        "p2p_gossip_messages_total",
        Unit::Count,
        "Gossip messages, by direction, result (published, accepted, ignored, rejected) and rejection reason"
    );
    describe_counter!(
        "p2p_unsafe_blocks_total",
        Unit::Count,
        "Gossiped blocks offered to the chain, by result (applied, gap, known, conflict, invalid, ...)"
    );
    describe_histogram!(
        "p2p_unsafe_block_import_seconds",
        Unit::Seconds,
        "From a gossiped block's arrival to its commit as the unsafe head"
    );
    describe_counter!(
        "p2p_gap_blocks_fetched_total",
        Unit::Count,
        "Blocks fetched from peers by number to fill a gap"
    );
    describe_counter!(
        "p2p_payload_requests_total",
        Unit::Count,
        "payload_by_number requests, by direction and result"
    );
    describe_counter!(
        "p2p_peer_penalties_total",
        Unit::Count,
        "Peers scored down, by reason"
    );
    describe_counter!(
        "p2p_peers_banned_total",
        Unit::Count,
        "Peers banned for an hour"
    );
    describe_counter!(
        "p2p_unsafe_block_signer_rotations_total",
        Unit::Count,
        "Rotations of SystemConfig's unsafe block signer followed from L1"
    );
}

/// Describes the metrics of L1 derivation (recorded by `ol-l1`, `ol-derive` and `ol-chain`).
pub fn describe_derivation() {
    describe_gauge!("l1_head_number", Unit::Count, "Number of the L1 head seen");
    describe_gauge!(
        "derive_l1_consumed_number",
        Unit::Count,
        "Last L1 block whose batches have been derived"
    );
    describe_gauge!("chain_safe_number", Unit::Count, "Number of the safe head");
    describe_gauge!(
        "refs_number",
        Unit::Count,
        "op-node's refs: the l2_unsafe, l2_safe and l2_finalized head numbers (a drop is a reorg)"
    );
    describe_gauge!(
        "chain_finalized_number",
        Unit::Count,
        "Number of the finalized head"
    );
    describe_counter!(
        "l1_rpc_errors_total",
        Unit::Count,
        "L1 JSON-RPC calls that failed, by method (retried)"
    );
    describe_counter!(
        "derive_blocks_total",
        Unit::Count,
        "L2 blocks derived, by kind"
    );
    describe_counter!(
        "derive_channels_dropped_total",
        Unit::Count,
        "Channels dropped, by reason"
    );
    counters_from_zero(&[
        ("l1_reorgs_total", "L1 reorgs seen by the L1 watcher"),
        ("derive_l1_blocks_total", "L1 blocks read by derivation"),
        ("derive_channels_total", "Channels assembled from frames"),
        (
            "derive_frames_dropped_total",
            "Frames dropped (duplicates, past a closed channel)",
        ),
        (
            "derive_resets_total",
            "Derivation resets onto the safe head",
        ),
        (
            "derive_step_errors_total",
            "Derivation steps that failed and are retried",
        ),
    ]);
}

/// Describes each counter and registers it at zero, so that it is exported (and `rate()` sees
/// its first increment) before the event it counts first happens.
fn counters_from_zero(counters: &[(&'static str, &'static str)]) {
    for &(name, what) in counters {
        describe_counter!(name, Unit::Count, what);
        metrics::counter!(name).increment(0);
    }
}

/// Describes the metrics of the attribution explorer (recorded by `ol-explorer`).
pub fn describe_explorer() {
    describe_counter!(
        "explorer_responses_total",
        Unit::Count,
        "Explorer answers, by HTTP status"
    );
    describe_histogram!(
        "explorer_response_seconds",
        Unit::Seconds,
        "Time to answer an explorer request (mostly the RPC reads of its page)"
    );
    describe_counter!(
        "explorer_read_errors_total",
        Unit::Count,
        "Explorer pages that failed because the node's RPC did not answer"
    );
}

/// Describes the metrics of the inference server (recorded by `ol-inference`'s scheduler and
/// `ol-serve`).
pub fn describe_inference() {
    describe_counter!(
        "inference_requests_total",
        Unit::Count,
        "Generation requests accepted"
    );
    describe_counter!(
        "inference_requests_rejected_total",
        Unit::Count,
        "Generation requests refused because the queue was full (answered 429)"
    );
    describe_counter!(
        "inference_requests_cancelled_total",
        Unit::Count,
        "Sequences cancelled because their client went away"
    );
    describe_counter!(
        "inference_generated_tokens_total",
        Unit::Count,
        "Tokens sampled by the engine"
    );
    describe_histogram!(
        "inference_step_seconds",
        Unit::Seconds,
        "Time of one batched forward step and sampling"
    );
    describe_histogram!(
        "inference_adapter_load_seconds",
        Unit::Seconds,
        "Time to read and validate a cold adapter"
    );
    describe_gauge!(
        "inference_running_sequences",
        Unit::Count,
        "Sequences in the batch"
    );
    describe_gauge!(
        "inference_waiting_requests",
        Unit::Count,
        "Requests waiting for a place in the batch or for their adapter"
    );
    describe_gauge!(
        "inference_adapter_cache_resident_bytes",
        Unit::Bytes,
        "Bytes of adapters resident in the cache"
    );
    describe_gauge!(
        "inference_adapter_cache_resident",
        Unit::Count,
        "Adapters resident"
    );
    describe_gauge!(
        "inference_adapters_registered",
        Unit::Count,
        "Adapters registered"
    );
    describe_counter!(
        "inference_adapter_cache_hits_total",
        Unit::Count,
        "Adapter lookups that found it resident"
    );
    describe_counter!(
        "inference_adapter_cache_misses_total",
        Unit::Count,
        "Adapter lookups that needed a load"
    );
    describe_counter!(
        "inference_adapter_cache_evictions_total",
        Unit::Count,
        "Adapters evicted to stay under the byte budget"
    );
    describe_counter!(
        "inference_adapter_loads_total",
        Unit::Count,
        "Adapter loads completed"
    );
}

/// Describes every metric the node records (names as recorded by `ol-chain`, `ol-txpool`
/// and `ol-rpc`).
pub fn describe() {
    describe_gauge!(
        "chain_head_number",
        Unit::Count,
        "Number of the canonical head block"
    );
    describe_histogram!(
        "sequencer_block_execution_seconds",
        Unit::Seconds,
        "Time to build and execute a block, from the start of production to the end of execution"
    );
    describe_histogram!(
        "sequencer_block_state_root_seconds",
        Unit::Seconds,
        "Time to compute a block's state root and the trie and history writes that persist it"
    );
    describe_histogram!(
        "sequencer_block_commit_seconds",
        Unit::Seconds,
        "Time to commit a sealed block to the database (one synced write batch)"
    );
    describe_histogram!(
        "sequencer_block_transactions",
        Unit::Count,
        "User transactions per block (the L1-info deposit is not counted)"
    );
    describe_histogram!(
        "sequencer_block_gas_used",
        Unit::Count,
        "Gas used per block"
    );
    describe_gauge!(
        ol_txpool::PENDING_METRIC,
        Unit::Count,
        "Transactions in the pool ready for the next block"
    );
    describe_gauge!(
        ol_txpool::QUEUED_METRIC,
        Unit::Count,
        "Transactions in the pool waiting for a nonce gap to fill"
    );
    describe_gauge!(
        ol_txpool::BYTES_METRIC,
        Unit::Bytes,
        "Encoded size of every transaction in the pool"
    );
    describe_counter!(
        ol_rpc::RPC_REQUESTS_METRIC,
        Unit::Count,
        "JSON-RPC calls answered, by method (calls inside batches count one by one; methods the \
         server does not serve are labelled `unknown`)"
    );
    describe_counter!(
        ol_rpc::RPC_ERRORS_METRIC,
        Unit::Count,
        "JSON-RPC calls answered with an error, by method and error code"
    );
    describe_histogram!(
        ol_rpc::RPC_LATENCY_METRIC,
        Unit::Seconds,
        "Time from receiving a JSON-RPC call to having its answer, by method"
    );
    describe_gauge!(
        ol_rpc::BLOCKING_QUEUE_METRIC,
        Unit::Count,
        "Blocking calls (traces, simulations) running or waiting for a place"
    );
    counters_from_zero(&[
        (
            ol_rpc::RATE_LIMITED_METRIC,
            "Requests refused by the per-IP rate limit (--rpc.rate-limit)",
        ),
        (
            ol_rpc::BLOCKING_REFUSED_METRIC,
            "Blocking calls refused because --rpc.max-tracing-requests were already running",
        ),
    ]);
}
