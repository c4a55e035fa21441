//! One measured phase: submit signed transactions concurrently in JSON-RPC batches and follow
//! the chain until every accepted one is mined; throughput from the first submission to the
//! last inclusion, latency from each transaction's submission to the block that included it.

use super::{
    client::{Included, RpcClient},
    workload::SignedTx,
};
use eyre::{WrapErr, bail};
use indicatif::{ProgressBar, ProgressStyle};
use parking_lot::Mutex;
use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

/// How long the chain may go without including anything before the phase is abandoned.
const STALL_TIMEOUT: Duration = Duration::from_secs(60);
/// How often the head is polled.
const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// What one phase measured on one target.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub(crate) struct PhaseResult {
    /// Transactions submitted.
    pub(crate) sent: usize,
    /// Transactions the target refused at submission.
    pub(crate) refused: usize,
    /// The first refusal, verbatim.
    pub(crate) first_refusal: Option<String>,
    /// Transactions mined.
    pub(crate) included: usize,
    /// Mined transactions whose receipt says failure.
    pub(crate) failed: usize,
    /// From the first submission to the last inclusion, in seconds.
    pub(crate) seconds: f64,
    /// Mined transactions per second over `seconds`.
    pub(crate) tx_per_s: f64,
    /// Median submit-to-inclusion latency in milliseconds.
    pub(crate) p50_ms: f64,
    /// 99th-percentile submit-to-inclusion latency in milliseconds.
    pub(crate) p99_ms: f64,
    /// Gas used by the mined transactions.
    pub(crate) gas_used: u64,
    /// Millions of gas per second over `seconds`.
    pub(crate) mgas_per_s: f64,
}

/// The `q`-quantile of sorted `values` (nearest rank).
pub(crate) fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// Submits `txs` to `client` with `concurrency` requests in flight, `batch` transactions per
/// request, and waits until each accepted transaction is mined.
pub(crate) async fn run_phase(
    client: Arc<RpcClient>,
    txs: &[SignedTx],
    concurrency: usize,
    batch: usize,
    label: &str,
) -> eyre::Result<PhaseResult> {
    let batch = batch.max(1);
    let index: HashMap<_, _> = txs.iter().enumerate().map(|(i, tx)| (tx.hash, i)).collect();
    let chunks: Arc<Vec<Vec<String>>> = Arc::new(
        txs.chunks(batch)
            .map(|chunk| {
                chunk
                    .iter()
                    .map(|tx| alloy::hex::encode_prefixed(&tx.raw))
                    .collect()
            })
            .collect(),
    );
    let submitted_at: Arc<Mutex<Vec<Option<Instant>>>> =
        Arc::new(Mutex::new(vec![None; chunks.len()]));
    let refusals: Arc<Mutex<Vec<(usize, String)>>> = Arc::default();
    let next_chunk = Arc::new(AtomicUsize::new(0));
    let done_chunks = Arc::new(AtomicUsize::new(0));
    let mut next_block = client.block_number().await? + 1;

    let progress = ProgressBar::new(txs.len() as u64);
    progress.set_style(
        ProgressStyle::with_template("{msg:>28} [{bar:40}] {pos}/{len} mined ({per_sec})")
            .wrap_err("progress template")?
            .progress_chars("=> "),
    );
    progress.set_message(label.to_owned());

    let submitters: Vec<_> = (0..concurrency.max(1))
        .map(|_| {
            let (client, chunks, submitted_at, refusals, next_chunk, done_chunks) = (
                client.clone(),
                chunks.clone(),
                submitted_at.clone(),
                refusals.clone(),
                next_chunk.clone(),
                done_chunks.clone(),
            );
            tokio::spawn(async move {
                loop {
                    let chunk = next_chunk.fetch_add(1, Ordering::Relaxed);
                    let Some(raws) = chunks.get(chunk) else {
                        return Ok::<_, eyre::Report>(());
                    };
                    submitted_at.lock()[chunk] = Some(Instant::now());
                    let outcomes = client.send_raw_batch(raws).await?;
                    let mut refused = refusals.lock();
                    for (offset, outcome) in outcomes.into_iter().enumerate() {
                        if let Some(message) = outcome {
                            refused.push((chunk * batch + offset, message));
                        }
                    }
                    drop(refused);
                    done_chunks.fetch_add(1, Ordering::Release);
                }
            })
        })
        .collect();

    let mut included: Vec<Option<(Instant, Included)>> = vec![None; txs.len()];
    let mut included_count = 0;
    let mut last_progress = Instant::now();
    loop {
        let head = client.block_number().await?;
        while next_block <= head {
            let receipts = client.block_receipts(next_block).await?;
            let now = Instant::now();
            for (hash, receipt) in receipts {
                if let Some(&i) = index.get(&hash)
                    && included[i].is_none()
                {
                    included[i] = Some((now, receipt));
                    included_count += 1;
                    progress.inc(1);
                    last_progress = now;
                }
            }
            next_block += 1;
        }
        let submitted = done_chunks.load(Ordering::Acquire) == chunks.len();
        if submitted && included_count + refusals.lock().len() >= txs.len() {
            break;
        }
        if last_progress.elapsed() > STALL_TIMEOUT {
            progress.abandon();
            bail!(
                "{label}: nothing mined for {}s with {included_count} of {} included and {} refused",
                STALL_TIMEOUT.as_secs(),
                txs.len(),
                refusals.lock().len()
            );
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
    progress.finish();
    for submitter in submitters {
        submitter.await.wrap_err("a submitter task failed")??;
    }

    let submitted_at = submitted_at.lock();
    let first_submit = submitted_at.iter().flatten().min().copied();
    let mut latencies = Vec::with_capacity(included_count);
    let (mut gas_used, mut failed, mut last_inclusion) = (0u64, 0usize, None);
    for (i, entry) in included.iter().enumerate() {
        let Some((at, receipt)) = entry else { continue };
        if let Some(sent) = submitted_at[i / batch] {
            latencies.push(at.saturating_duration_since(sent).as_secs_f64() * 1000.0);
        }
        gas_used += receipt.gas_used;
        failed += usize::from(!receipt.success);
        last_inclusion = last_inclusion.max(Some(*at));
    }
    latencies.sort_by(f64::total_cmp);
    let seconds = match (first_submit, last_inclusion) {
        (Some(first), Some(last)) => last.saturating_duration_since(first).as_secs_f64(),
        _ => 0.0,
    };
    let per_second = |amount: f64| if seconds > 0.0 { amount / seconds } else { 0.0 };
    let refusals = refusals.lock();
    Ok(PhaseResult {
        sent: txs.len(),
        refused: refusals.len(),
        first_refusal: refusals.first().map(|(_, message)| message.clone()),
        included: included_count,
        failed,
        seconds,
        tx_per_s: per_second(included_count as f64),
        p50_ms: quantile(&latencies, 0.50),
        p99_ms: quantile(&latencies, 0.99),
        gas_used,
        mgas_per_s: per_second(gas_used as f64 / 1e6),
    })
}

#[cfg(test)]
mod tests {
    use super::quantile;

    #[test]
    fn quantiles_use_the_nearest_rank() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(quantile(&values, 0.5), 50.0);
        assert_eq!(quantile(&values, 0.99), 99.0);
        assert_eq!(quantile(&values, 1.0), 100.0);
        assert_eq!(quantile(&[7.0], 0.99), 7.0);
        assert_eq!(quantile(&[], 0.5), 0.0);
    }
}
