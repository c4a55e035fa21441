//! Stress tests of the node under RPC attack, against the real binary: each case plays one
//! abuse an unauthenticated client can commit with free calls, measures what matters (peak RSS,
//! block delays, another client's latency, pool bytes) and checks that the chain and the pool
//! are still consistent afterwards. Every case is bounded to seconds.
//!
//! ```text
//! cargo build -p openledger
//! cargo test -p ol-e2e --test stress
//! ```

mod filters;
mod isolation;
mod pool;
mod trace;

use alloy::providers::{DynProvider, Provider};
use eyre::{Result, ensure, eyre};
use std::time::Duration;

/// Held by every case for its whole run: the cases measure time and memory, so they must not
/// share the machine with each other (cargo runs a binary's tests in parallel).
pub(crate) static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Memory of a process in bytes, from `/proc/<pid>/status`: (current RSS, peak RSS).
pub(crate) fn rss(pid: u32) -> Result<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |name: &str| -> Result<u64> {
        let line = status
            .lines()
            .find(|line| line.starts_with(name))
            .ok_or_else(|| eyre!("{name} missing from /proc/{pid}/status"))?;
        let kib: u64 = line
            .split_whitespace()
            .nth(1)
            .ok_or_else(|| eyre!("malformed {line}"))?
            .parse()?;
        Ok(kib * 1024)
    };
    Ok((field("VmRSS:")?, field("VmHWM:")?))
}

/// The `p`-th percentile (0-100) of `samples`.
pub(crate) fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    if samples.is_empty() {
        return Duration::ZERO;
    }
    samples.sort_unstable();
    let rank = ((p / 100.0) * (samples.len() - 1) as f64).round() as usize;
    samples[rank.min(samples.len() - 1)]
}

/// Checks that the node still seals blocks after a case: the head moves on by two.
pub(crate) async fn still_sealing(provider: &DynProvider) -> Result<()> {
    let head = provider.get_block_number().await?;
    let reached = ol_e2e::wait_for_block(provider, head + 2).await?;
    ensure!(reached >= head + 2, "the head stopped at {head}");
    Ok(())
}
