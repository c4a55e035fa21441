//! `--verify-attributions` and `--verify.*`: a node that re-checks every attribution record its
//! chain carries.

use clap::Args;
use std::path::PathBuf;

/// The attribution verifier.
#[derive(Debug, Clone, Default, PartialEq, Eq, Args)]
#[command(next_help_heading = "Attribution verifier")]
pub struct VerifyArgs {
    /// Re-run every Proof of Attribution record the chain carries (inference and attribution,
    /// from chain state, the content store and the base model's files) and compare it with
    /// what the attestor wrote, bit for bit
    ///
    /// Verdicts are served by `ol_verification`, logged, and counted in the metrics
    /// (`verify_records_total`, `verify_mismatches_total`). Needs `--verify.base-model`.
    #[arg(
        id = "verify_attributions",
        long = "verify-attributions",
        verbatim_doc_comment
    )]
    pub enabled: bool,

    /// The base model's folder (Hugging Face layout) the verified adapters were trained on
    #[arg(
        id = "verify_base_model",
        long = "verify.base-model",
        value_name = "DIR",
        requires = "verify_attributions"
    )]
    pub base_model: Option<PathBuf>,

    /// File with the verifier's private key (hex): it signs the content reads from the
    /// sequencer, which must let it read (`--content.verifier`, an attestor, or a Datanet's
    /// owner or curator)
    ///
    /// Without it, only content already in this node's store is used.
    #[arg(
        id = "verify_key",
        long = "verify.key",
        value_name = "PATH",
        requires = "verify_attributions",
        verbatim_doc_comment
    )]
    pub key: Option<PathBuf>,

    /// The node whose content store the verifier replicates what it lacks from (default:
    /// `--rollup.sequencer-http`)
    #[arg(
        id = "verify_content_rpc",
        long = "verify.content-rpc",
        value_name = "URL",
        requires = "verify_attributions"
    )]
    pub content_rpc: Option<String>,

    /// Compute threads of a re-run (default: the cores the node leaves to jobs)
    #[arg(id = "verify_threads", long = "verify.threads", value_name = "N", requires = "verify_attributions", value_parser = clap::value_parser!(u64).range(1..=256))]
    pub threads: Option<u64>,
}
