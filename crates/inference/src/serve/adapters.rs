//! The adapter cache of OpenLoRA: thousands of registered adapters, a byte budget of resident
//! ones.
//!
//! Tiers: an adapter is *registered* with its source, a PEFT folder on disk or the two files'
//! bytes in host RAM (what the content store hands over); on first use it is *loaded*: parsed,
//! validated against the base and converted to F32 factors on the compute device (on the CPU
//! the host and the device are the same memory). Resident adapters are kept under
//! `budget_bytes`; the least recently used one that no running sequence holds is evicted first,
//! and pinned adapters are never evicted. An adapter a running sequence holds stays alive
//! through its `Arc` even when evicted, so eviction never disturbs a request in flight.
//!
//! Loading reads and parses outside the lock, so a cold load never blocks lookups of other
//! adapters.

use crate::{InferenceError, LoraAdapter, ModelConfig, Result, adapter};
use candle_core::Device;
use parking_lot::Mutex;
use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    sync::Arc,
};

/// Where an adapter's files come from.
#[derive(Debug, Clone)]
pub enum AdapterSource {
    /// A PEFT folder (`adapter_config.json` + `adapter_model.safetensors`).
    Dir(PathBuf),
    /// The two files' bytes in host RAM.
    Bytes {
        /// `adapter_config.json`.
        config: Arc<[u8]>,
        /// `adapter_model.safetensors`.
        weights: Arc<[u8]>,
    },
}

impl AdapterSource {
    /// Reads the source into host RAM (an `AdapterSource::Bytes`), e.g. to register many
    /// adapters whose files should not be re-read.
    pub fn read_dir(dir: &Path) -> Result<Self> {
        let read = |name: &str| -> Result<Arc<[u8]>> {
            let path = dir.join(name);
            std::fs::read(&path)
                .map(Arc::from)
                .map_err(|e| InferenceError::io("reading", &path, e))
        };
        Ok(Self::Bytes {
            config: read(adapter::ADAPTER_CONFIG)?,
            weights: read(adapter::ADAPTER_WEIGHTS)?,
        })
    }

    fn describe(&self) -> String {
        match self {
            Self::Dir(p) => p.display().to_string(),
            Self::Bytes { weights, .. } => format!("memory ({} bytes)", weights.len()),
        }
    }
}

/// One registered adapter, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdapterInfo {
    /// Its name (what requests put in `model`).
    pub name: String,
    /// Where it is loaded from (a path, or "memory").
    pub source: String,
    /// Whether it is resident.
    pub resident: bool,
    /// Whether it is pinned.
    pub pinned: bool,
    /// Its resident size in bytes (0 when not resident).
    pub bytes: usize,
}

/// Counters of the cache since it was made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Lookups that found the adapter resident.
    pub hits: u64,
    /// Lookups that needed a load.
    pub misses: u64,
    /// Loads completed.
    pub loads: u64,
    /// Adapters evicted to stay under the budget.
    pub evictions: u64,
    /// Bytes resident now.
    pub resident_bytes: usize,
    /// Adapters resident now.
    pub resident: usize,
    /// Adapters registered.
    pub registered: usize,
}

impl CacheStats {
    /// Exports the counters as the `inference_adapter_cache_*` and `inference_adapter*`
    /// metrics (the scheduler does after every pass, so any Prometheus endpoint sees them).
    pub fn publish(&self) {
        metrics::gauge!("inference_adapter_cache_resident_bytes").set(self.resident_bytes as f64);
        metrics::gauge!("inference_adapter_cache_resident").set(self.resident as f64);
        metrics::gauge!("inference_adapters_registered").set(self.registered as f64);
        metrics::counter!("inference_adapter_cache_hits_total").absolute(self.hits);
        metrics::counter!("inference_adapter_cache_misses_total").absolute(self.misses);
        metrics::counter!("inference_adapter_cache_evictions_total").absolute(self.evictions);
        metrics::counter!("inference_adapter_loads_total").absolute(self.loads);
    }
}

/// What a lookup found.
#[derive(Debug, Clone)]
pub enum Lookup {
    /// Resident: use it.
    Ready(Arc<LoraAdapter>),
    /// Registered but not resident: [`AdapterCache::load`] it.
    Cold,
    /// No adapter of that name.
    Unknown,
}

#[derive(Debug)]
struct Entry {
    source: AdapterSource,
    pinned: bool,
    resident: Option<Arc<LoraAdapter>>,
    last_used: u64,
}

#[derive(Debug, Default)]
struct State {
    entries: BTreeMap<String, Entry>,
    clock: u64,
    stats: CacheStats,
}

/// Registered adapters and the resident ones under a byte budget.
#[derive(Debug)]
pub struct AdapterCache {
    base: ModelConfig,
    device: Device,
    budget_bytes: usize,
    state: Mutex<State>,
}

impl AdapterCache {
    /// An empty cache for adapters of `base`, resident on `device`, under `budget_bytes`.
    pub fn new(base: ModelConfig, device: Device, budget_bytes: usize) -> Self {
        Self {
            base,
            device,
            budget_bytes,
            state: Mutex::new(State::default()),
        }
    }

    /// The byte budget of resident adapters.
    pub fn budget_bytes(&self) -> usize {
        self.budget_bytes
    }

    /// Registers `name` (refused when the name is taken or not a valid model name). Nothing is
    /// read until the adapter is first used; [`Self::load`] it to validate at once.
    pub fn register(&self, name: &str, source: AdapterSource) -> Result<()> {
        check_name(name)?;
        let mut st = self.state.lock();
        if st.entries.contains_key(name) {
            return Err(InferenceError::InvalidRequest(format!(
                "an adapter named `{name}` is already registered"
            )));
        }
        st.entries.insert(
            name.to_string(),
            Entry {
                source,
                pinned: false,
                resident: None,
                last_used: 0,
            },
        );
        st.stats.registered = st.entries.len();
        Ok(())
    }

    /// Removes `name`; a running sequence that holds it finishes with it. Returns whether it
    /// was registered.
    pub fn unregister(&self, name: &str) -> bool {
        let mut st = self.state.lock();
        let Some(e) = st.entries.remove(name) else {
            return false;
        };
        if let Some(a) = e.resident {
            st.stats.resident -= 1;
            st.stats.resident_bytes -= a.byte_size();
        }
        st.stats.registered = st.entries.len();
        true
    }

    /// Loads `name` if needed and pins it: it stays resident until unregistered.
    pub fn pin(&self, name: &str) -> Result<Arc<LoraAdapter>> {
        let adapter = self.load(name)?;
        let mut st = self.state.lock();
        if let Some(e) = st.entries.get_mut(name) {
            e.pinned = true;
        }
        Ok(adapter)
    }

    /// Whether `name` is registered.
    pub fn contains(&self, name: &str) -> bool {
        self.state.lock().entries.contains_key(name)
    }

    /// Finds `name`, marking it used when resident.
    pub fn lookup(&self, name: &str) -> Lookup {
        let mut st = self.state.lock();
        st.clock += 1;
        let clock = st.clock;
        let found = match st.entries.get_mut(name) {
            None => return Lookup::Unknown,
            Some(e) => e.resident.as_ref().map(|a| {
                e.last_used = clock;
                a.clone()
            }),
        };
        match found {
            Some(a) => {
                st.stats.hits += 1;
                Lookup::Ready(a)
            }
            None => {
                st.stats.misses += 1;
                Lookup::Cold
            }
        }
    }

    /// Makes `name` resident (reading and validating its files outside the lock) and returns
    /// it, evicting least recently used adapters to stay under the budget.
    pub fn load(&self, name: &str) -> Result<Arc<LoraAdapter>> {
        let source = {
            let st = self.state.lock();
            match st.entries.get(name) {
                None => return Err(unknown(name)),
                Some(Entry {
                    resident: Some(a), ..
                }) => return Ok(a.clone()),
                Some(e) => e.source.clone(),
            }
        };
        let adapter = Arc::new(match &source {
            AdapterSource::Dir(dir) => {
                LoraAdapter::load_dir(dir.as_path(), &self.base, &self.device)?
            }
            AdapterSource::Bytes { config, weights } => {
                LoraAdapter::from_bytes(&config[..], &weights[..], &self.base, &self.device)?
            }
        });
        let size = adapter.byte_size();
        let mut st = self.state.lock();
        st.clock += 1;
        let clock = st.clock;
        let Some(e) = st.entries.get_mut(name) else {
            // Unregistered while it was loading.
            return Err(unknown(name));
        };
        if let Some(a) = &e.resident {
            // Another load of the same adapter finished first.
            return Ok(a.clone());
        }
        e.resident = Some(adapter.clone());
        e.last_used = clock;
        st.stats.loads += 1;
        st.stats.resident += 1;
        st.stats.resident_bytes += size;
        evict_to_budget(&mut st, self.budget_bytes, name);
        Ok(adapter)
    }

    /// Every registered adapter, by name.
    pub fn list(&self) -> Vec<AdapterInfo> {
        self.state
            .lock()
            .entries
            .iter()
            .map(|(name, e)| AdapterInfo {
                name: name.clone(),
                source: e.source.describe(),
                resident: e.resident.is_some(),
                pinned: e.pinned,
                bytes: e.resident.as_ref().map_or(0, |a| a.byte_size()),
            })
            .collect()
    }

    /// The counters.
    pub fn stats(&self) -> CacheStats {
        self.state.lock().stats
    }
}

/// Evicts least recently used, unpinned adapters that no sequence holds until the resident
/// bytes fit `budget` (never `keep`, the one just loaded). When every candidate is pinned or in
/// use the cache stays over budget until they are released: refusing the load instead would
/// fail a request that the next eviction could serve.
fn evict_to_budget(st: &mut State, budget: usize, keep: &str) {
    while st.stats.resident_bytes > budget {
        let victim = st
            .entries
            .iter()
            .filter(|(name, e)| {
                name.as_str() != keep
                    && !e.pinned
                    && e.resident
                        .as_ref()
                        .is_some_and(|a| Arc::strong_count(a) == 1)
            })
            .min_by_key(|(_, e)| e.last_used)
            .map(|(name, _)| name.clone());
        let Some(victim) = victim else { break };
        let Some(a) = st.entries.get_mut(&victim).and_then(|e| e.resident.take()) else {
            break;
        };
        st.stats.resident -= 1;
        st.stats.resident_bytes -= a.byte_size();
        st.stats.evictions += 1;
    }
}

fn unknown(name: &str) -> InferenceError {
    InferenceError::InvalidRequest(format!("no adapter named `{name}` is registered"))
}

/// Adapter names go in the `model` field of requests and in URLs: printable ASCII without
/// spaces, at most 256 bytes.
fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 256
        && name.bytes().all(|b| b.is_ascii_graphic() && b != b'"');
    if ok {
        Ok(())
    } else {
        Err(InferenceError::InvalidRequest(format!(
            "adapter name {name:?} must be 1 to 256 printable ASCII characters without spaces or quotes"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AdapterConfig, model::Target, model::tests::tiny_config, weights::StoreDtype};

    fn source(seed: u64, r: usize) -> (AdapterSource, usize) {
        let a = LoraAdapter::random(
            AdapterConfig::new(r, 8.0, &[Target::Q, Target::V]),
            &tiny_config(),
            seed,
            &Device::Cpu,
        )
        .unwrap();
        let (config, weights) = a.to_bytes(StoreDtype::F32).unwrap();
        (
            AdapterSource::Bytes {
                config: config.into(),
                weights: weights.into(),
            },
            a.byte_size(),
        )
    }

    #[test]
    fn lru_eviction_keeps_pinned_and_in_use_adapters_under_the_budget() {
        let (_, size) = source(0, 4);
        // Room for two adapters.
        let cache = AdapterCache::new(tiny_config(), Device::Cpu, 2 * size + size / 2);
        for i in 0..5 {
            cache.register(&format!("a{i}"), source(i, 4).0).unwrap();
        }
        assert!(matches!(cache.lookup("a0"), Lookup::Cold));
        cache.pin("a0").unwrap();
        let held = cache.load("a1").unwrap();
        cache.load("a2").unwrap();
        // a0 pinned, a1 held by a "running sequence": a2 is over budget but nothing can go.
        assert_eq!(cache.stats().resident, 3);
        drop(held);
        cache.load("a3").unwrap();
        // a1 (least recently used, now free) and a2 were evicted to fit a3; a0 stays.
        let resident: Vec<String> = cache
            .list()
            .into_iter()
            .filter(|i| i.resident)
            .map(|i| i.name)
            .collect();
        assert_eq!(resident, vec!["a0", "a3"]);
        let s = cache.stats();
        assert!(s.resident_bytes <= cache.budget_bytes());
        assert_eq!((s.evictions, s.loads, s.registered), (2, 4, 5));
        assert!(matches!(cache.lookup("a3"), Lookup::Ready(_)));
        assert!(matches!(cache.lookup("nope"), Lookup::Unknown));
        assert!(cache.unregister("a3"));
        assert_eq!(cache.stats().resident, 1);
    }

    #[test]
    fn bad_names_duplicates_and_bad_files_are_refused_and_change_nothing() {
        let cache = AdapterCache::new(tiny_config(), Device::Cpu, 1 << 20);
        for bad in ["", "has space", "quo\"te", &"x".repeat(257)] {
            assert!(cache.register(bad, source(1, 2).0).is_err(), "{bad:?}");
        }
        cache.register("ok", source(1, 2).0).unwrap();
        assert!(cache.register("ok", source(2, 2).0).is_err());
        cache
            .register(
                "broken",
                AdapterSource::Bytes {
                    config: Arc::from(&b"{\"r\": 4}"[..]),
                    weights: Arc::from(&b"not safetensors"[..]),
                },
            )
            .unwrap();
        assert!(cache.load("broken").is_err());
        assert!(cache.load("missing").is_err());
        let s = cache.stats();
        assert_eq!((s.resident, s.registered, s.loads), (0, 2, 0));
    }
}
