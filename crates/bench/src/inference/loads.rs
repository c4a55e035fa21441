//! Adapter cold loads through the [`AdapterCache`] serving uses: from a PEFT folder on disk and
//! from the two files' bytes in RAM (what the content store hands over), timed per load.

use super::{quantile, setup};
use candle_core::Device;
use eyre::{WrapErr, eyre};
use ol_inference::{
    ModelConfig, StoreDtype,
    serve::{AdapterCache, AdapterSource},
};
use serde::Serialize;
use std::{path::Path, sync::Arc, time::Instant};

/// Cold loads of one rank from one source.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct LoadResult {
    /// `disk` or `bytes`.
    pub(crate) source: &'static str,
    pub(crate) rank: usize,
    /// Loads timed.
    pub(crate) samples: usize,
    /// Distinct adapters they cycle through.
    pub(crate) distinct: usize,
    /// Size of `adapter_model.safetensors` (F32).
    pub(crate) file_bytes: usize,
    pub(crate) p50_ms: f64,
    pub(crate) p99_ms: f64,
    pub(crate) max_ms: f64,
}

/// Times `samples` cold loads of rank-`r` adapters from each source. Each sample registers a
/// new name, so every load parses, validates and converts the files afresh; the `distinct`
/// folders are written once, so disk reads come from the page cache after the first pass.
pub(crate) fn cold_loads(
    config: &ModelConfig,
    r: usize,
    samples: usize,
    distinct: usize,
    dir: &Path,
) -> eyre::Result<Vec<LoadResult>> {
    let mut dirs = Vec::with_capacity(distinct);
    let mut blobs = Vec::with_capacity(distinct);
    for i in 0..distinct {
        let adapter = setup::adapter(config, r, 10_000 + i as u64)?;
        let path = dir.join(format!("r{r}-{i}"));
        adapter
            .save_dir(&path, StoreDtype::F32)
            .wrap_err_with(|| format!("writing {}", path.display()))?;
        blobs.push(AdapterSource::read_dir(&path)?);
        dirs.push(AdapterSource::Dir(path));
    }
    let file_bytes = match blobs.first() {
        Some(AdapterSource::Bytes { weights, .. }) => weights.len(),
        _ => 0,
    };
    let mut results = Vec::new();
    for (source, sources) in [("disk", &dirs), ("bytes", &blobs)] {
        // Room for everything: these loads measure reading, not eviction.
        let cache = AdapterCache::new(config.clone(), Device::Cpu, usize::MAX);
        let mut ms = Vec::with_capacity(samples);
        // One untimed load first, so the first sample does not pay for page faults of the
        // allocator's first large blocks.
        cache.register("warm-up", sources[0].clone())?;
        cache.load("warm-up")?;
        for i in 0..samples {
            let name = format!("{source}-{i}");
            cache.register(&name, sources[i % sources.len()].clone())?;
            let started = Instant::now();
            let loaded = cache.load(&name)?;
            ms.push(started.elapsed().as_secs_f64() * 1e3);
            drop(loaded);
            cache.unregister(&name);
        }
        ms.sort_by(f64::total_cmp);
        results.push(LoadResult {
            source,
            rank: r,
            samples,
            distinct: sources.len(),
            file_bytes,
            p50_ms: quantile(&ms, 0.50),
            p99_ms: quantile(&ms, 0.99),
            max_ms: ms.last().copied().ok_or_else(|| eyre!("no load timed"))?,
        });
    }
    Ok(results)
}

/// `n` rank-`r` adapters as in-memory sources, for registering many names cheaply.
pub(crate) fn byte_sources(
    config: &ModelConfig,
    r: usize,
    n: usize,
) -> eyre::Result<(Vec<AdapterSource>, usize)> {
    let mut sources = Vec::with_capacity(n);
    let mut resident_bytes = 0;
    for i in 0..n {
        let adapter = setup::adapter(config, r, 20_000 + i as u64)?;
        resident_bytes = adapter.byte_size();
        let (config_json, weights) = adapter.to_bytes(StoreDtype::F32)?;
        sources.push(AdapterSource::Bytes {
            config: Arc::from(config_json),
            weights: Arc::from(weights),
        });
    }
    Ok((sources, resident_bytes))
}
