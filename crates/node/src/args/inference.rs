//! `--inference.*`: OpenLoRA serving, for `openledger serve` and `openledger node`.

use super::positive_usize;
use clap::Args;
use ol_workers::DevicePreference;
use std::{
    net::{IpAddr, Ipv4Addr},
    path::PathBuf,
};

/// One gibibyte.
const GIB: u64 = 1 << 30;

/// Parses a byte count with an optional binary suffix (`512MiB`, `2GiB`, `1048576`).
pub(crate) fn parse_bytes(value: &str) -> Result<u64, String> {
    let v = value.trim();
    let (digits, unit) = v
        .find(|c: char| !c.is_ascii_digit())
        .map_or((v, ""), |i| v.split_at(i));
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{value:?} is not a byte count (e.g. 1073741824, 512MiB, 2GiB)"))?;
    let scale: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" | "K" => 1 << 10,
        "MiB" | "M" => 1 << 20,
        "GiB" | "G" => 1 << 30,
        other => return Err(format!("unknown unit {other:?}: use B, KiB, MiB or GiB")),
    };
    n.checked_mul(scale)
        .ok_or_else(|| format!("{value:?} is too large"))
}

/// The serving engine and its adapter cache.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
#[command(next_help_heading = "Inference")]
pub struct InferenceArgs {
    /// Name of the base model in requests and in `/v1/models` [default: the model folder's
    /// name].
    #[arg(
        id = "inference.served-model-name",
        long = "inference.served-model-name",
        value_name = "NAME"
    )]
    pub served_model_name: Option<String>,

    /// Bytes of resident adapters (LRU-evicted above it; pinned ones stay).
    #[arg(id = "inference.adapter-cache-bytes", long = "inference.adapter-cache-bytes", value_name = "BYTES", default_value_t = GIB, value_parser = parse_bytes)]
    pub adapter_cache_bytes: u64,

    /// Adapters loaded at start and never evicted (comma-separated names).
    #[arg(
        id = "inference.pinned-adapters",
        long = "inference.pinned-adapters",
        value_name = "NAMES",
        value_delimiter = ','
    )]
    pub pinned_adapters: Vec<String>,

    /// Most sequences in one batch.
    #[arg(id = "inference.max-batch-size", long = "inference.max-batch-size", value_name = "COUNT", default_value_t = 64, value_parser = positive_usize)]
    pub max_batch_size: usize,

    /// Most prompt tokens admitted into one step, so long prefills do not stall decodes.
    #[arg(id = "inference.max-prefill-tokens", long = "inference.max-prefill-tokens", value_name = "TOKENS", default_value_t = 2048, value_parser = positive_usize)]
    pub max_prefill_tokens: usize,

    /// Most requests waiting for a place in the batch; more are answered 429.
    #[arg(id = "inference.max-waiting", long = "inference.max-waiting", value_name = "COUNT", default_value_t = 256, value_parser = positive_usize)]
    pub max_waiting: usize,

    /// Compute threads of the engine [default: the cores minus one].
    #[arg(id = "inference.threads", long = "inference.threads", value_name = "COUNT", value_parser = positive_usize)]
    pub threads: Option<usize>,

    /// Device of the model: cpu, cuda or cuda:<ordinal> (CUDA falls back to the CPU with a
    /// warning when unavailable).
    #[arg(
        id = "inference.device",
        long = "inference.device",
        value_name = "DEVICE",
        default_value = "cpu"
    )]
    pub device: DevicePreference,

    /// Allow POST /v1/load_lora_adapter and /v1/unload_lora_adapter (anyone who reaches the
    /// port can then change the adapters).
    #[arg(
        id = "inference.allow-adapter-updates",
        long = "inference.allow-adapter-updates"
    )]
    pub allow_adapter_updates: bool,
}

/// Inference served by `openledger node` next to the chain, on a port of its own.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
#[command(next_help_heading = "Inference")]
pub struct NodeInferenceArgs {
    /// Serve this base model (a Hugging Face-layout folder) over the OpenAI API; off when unset.
    #[arg(id = "inference.model", long = "inference.model", value_name = "DIR")]
    pub model: Option<PathBuf>,

    /// A folder of PEFT adapters, one sub-folder per adapter. Only with `--inference.model`.
    #[arg(
        id = "inference.adapters",
        long = "inference.adapters",
        value_name = "DIR",
        requires = "inference.model"
    )]
    pub adapters: Option<PathBuf>,

    /// Address of the inference API.
    #[arg(id = "inference.addr", long = "inference.addr", value_name = "ADDR", default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    pub addr: IpAddr,

    /// Port of the inference API (0 picks a free port; the bound address is logged).
    #[arg(
        id = "inference.port",
        long = "inference.port",
        value_name = "PORT",
        default_value_t = 8000
    )]
    pub port: u16,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_counts_take_binary_suffixes_and_refuse_junk() {
        assert_eq!(parse_bytes("1048576"), Ok(1 << 20));
        assert_eq!(parse_bytes("512MiB"), Ok(512 << 20));
        assert_eq!(parse_bytes("2GiB"), Ok(2 << 30));
        assert!(parse_bytes("12 parsecs").is_err());
        assert!(parse_bytes("MiB").is_err());
        assert!(parse_bytes("99999999999GiB").is_err());
    }
}
