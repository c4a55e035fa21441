//! `--jobs.*`: the job service that serves, attributes, records and fulfils paid inference
//! requests on a sequencer.

use alloy::signers::local::PrivateKeySigner;
use alloy_primitives::B256;
use clap::Args;
use eyre::WrapErr as _;
use std::path::{Path, PathBuf};

/// The job service (`InferenceMarket` requests served by this sequencer).
#[derive(Debug, Clone, Default, PartialEq, Eq, Args)]
#[command(next_help_heading = "Job service")]
pub struct JobsArgs {
    /// Serve the market's requests on this base model (a Hugging Face folder; its Model
    /// Factory hash is the `weightsHash` of the base model registered on chain)
    ///
    /// Requests for adapters of other base models are refused (and refunded on expiry).
    /// Without this flag the node runs no job service.
    #[arg(long = "jobs.base-model", value_name = "DIR", verbatim_doc_comment)]
    pub base_model: Option<PathBuf>,

    /// File holding the attestor's private key (hex), which records attributions and fulfils
    /// requests; it must be a registered attestor of the PoA precompile
    ///
    /// With `--dev`, the dev attestor (mnemonic index 10) by default.
    #[arg(long = "jobs.attestor-key", value_name = "PATH", verbatim_doc_comment)]
    pub attestor_key: Option<PathBuf>,

    /// Compute threads of an inference (default: the cores the node leaves to jobs)
    #[arg(long = "jobs.threads", value_name = "N", value_parser = clap::value_parser!(u64).range(1..=256))]
    pub threads: Option<u64>,

    /// Also settle every request the service fulfilled (`InferenceMarket.settle` from the
    /// attestor key), so the fee is split at once
    #[arg(long = "jobs.settle")]
    pub settle: bool,

    /// Halt the job service (not the node) after a job reaches this point: `requested`,
    /// `answered`, `record-sent` or `fulfill-sent`; a fault-injection aid for crash tests
    #[arg(long = "jobs.halt-after", value_name = "POINT", hide = true)]
    pub halt_after: Option<ol_jobs::HaltPoint>,
}

impl JobsArgs {
    /// The attestor's key: `--jobs.attestor-key`, else the dev attestor on a dev chain.
    pub fn attestor(&self, dev: bool) -> eyre::Result<PrivateKeySigner> {
        match &self.attestor_key {
            Some(path) => read_key_file(path, "--jobs.attestor-key"),
            None if dev => Ok(ol_primitives::dev::dev_attestor()),
            None => eyre::bail!("--jobs.base-model needs --jobs.attestor-key outside --dev"),
        }
    }
}

/// Reads the hex private key that `flag` names from `path`.
pub fn read_key_file(path: &Path, flag: &str) -> eyre::Result<PrivateKeySigner> {
    let text = std::fs::read_to_string(path)
        .wrap_err_with(|| format!("reading {flag} {}", path.display()))?;
    let key: B256 = text
        .trim()
        .parse()
        .map_err(|_| eyre::eyre!("{} does not hold a 32-byte hex key", path.display()))?;
    super::rollup::signer(&key, flag)
}
