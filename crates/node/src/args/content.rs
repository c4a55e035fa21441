//! `--content.*`: the content store of contributions.

use alloy_primitives::Address;
use clap::Args;
use ol_content::{ContentAccess, ContentLimits};
use std::path::{Path, PathBuf};

/// One megabyte (MiB), the unit of the size flags.
const MB: u64 = 1024 * 1024;

fn default_limits() -> ContentLimits {
    ContentLimits::default()
}

/// The content store of contributions (`ol_putContent`, `ol_getContent`).
#[derive(Debug, Clone, PartialEq, Eq, Args)]
#[command(next_help_heading = "Content store")]
pub struct ContentArgs {
    /// The node's content key, which wraps the data key of every stored contribution: 32
    /// bytes in hex, readable by its owner only; created (mode 0600) on first start
    ///
    /// Default: `<DATADIR>/keys/content.key`. Losing it loses every stored contribution;
    /// anyone who reads it can decrypt the store.
    #[arg(long = "content.key-file", value_name = "PATH", verbatim_doc_comment)]
    pub key_file: Option<PathBuf>,

    /// Largest contribution one upload may carry, in megabytes.
    #[arg(long = "content.max-object-size", value_name = "MB", default_value_t = default_limits().max_object_bytes / MB, value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub max_object_mb: u64,

    /// Most bytes the whole store may hold, in megabytes.
    #[arg(long = "content.max-total-size", value_name = "MB", default_value_t = default_limits().max_total_bytes / MB, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_total_mb: u64,

    /// Most bytes one uploader may have stored, in megabytes.
    #[arg(long = "content.max-uploader-size", value_name = "MB", default_value_t = default_limits().max_bytes_per_uploader / MB, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_uploader_mb: u64,

    /// Longest validity (seconds) of a read signature; reads signed to expire later are
    /// refused.
    #[arg(long = "content.read-window", value_name = "SECS", default_value_t = ContentAccess::DEFAULT_READ_WINDOW_SECS, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub read_window_secs: u64,

    /// An account that may read every stored contribution (a follower that re-checks
    /// attributions); repeat for several.
    #[arg(long = "content.verifier", value_name = "ADDRESS")]
    pub verifiers: Vec<Address>,
}

impl Default for ContentArgs {
    fn default() -> Self {
        let limits = default_limits();
        Self {
            key_file: None,
            max_object_mb: limits.max_object_bytes / MB,
            max_total_mb: limits.max_total_bytes / MB,
            max_uploader_mb: limits.max_bytes_per_uploader / MB,
            read_window_secs: ContentAccess::DEFAULT_READ_WINDOW_SECS,
            verifiers: Vec::new(),
        }
    }
}

impl ContentArgs {
    /// The store's budgets.
    pub fn limits(&self) -> ContentLimits {
        ContentLimits {
            max_object_bytes: self.max_object_mb * MB,
            max_total_bytes: self.max_total_mb * MB,
            max_bytes_per_uploader: self.max_uploader_mb * MB,
        }
    }

    /// The key file: `--content.key-file`, else `<datadir>/keys/content.key`.
    pub fn key_file(&self, datadir: &Path) -> PathBuf {
        self.key_file
            .clone()
            .unwrap_or_else(|| datadir.join("keys").join("content.key"))
    }
}

impl ContentArgs {
    /// Opens the store under `<datadir>/content` with the content key (created on first
    /// start), for the chain `chain_id`, as the RPC serves it.
    pub fn open(&self, datadir: &Path, chain_id: u64) -> eyre::Result<ol_rpc::ol::ContentRpc> {
        use eyre::WrapErr as _;
        let key = ol_content::ContentKey::load_or_create(&self.key_file(datadir))
            .wrap_err("loading the content key")?;
        let path = datadir.join("content");
        let store = ol_content::RocksContentStore::open(&path, key, self.limits())
            .wrap_err_with(|| format!("opening the content store in {}", path.display()))?;
        let domain = ol_content::content_domain(
            chain_id,
            ol_primitives::addresses::dev_suite::DATANET_REGISTRY,
        );
        let access = ContentAccess::new(std::sync::Arc::new(store), domain, self.read_window_secs);
        Ok(ol_rpc::ol::ContentRpc::new(access, self.verifiers.clone()))
    }
}
