//! `openledger attribution verify`: re-runs a paid inference and its attribution from what a
//! node serves over JSON-RPC (chain state at the request's block, the content store read with a
//! signed request) and the base model's files, and compares the result with the record on
//! chain, bit for bit.

use super::remote::RpcInputs;
use alloy::{
    primitives::B256,
    providers::{DynProvider, Provider},
    rpc::types::Filter,
    sol_types::SolEvent,
};
use clap::Args;
use eyre::{WrapErr as _, bail, eyre};
use ol_jobs::{
    Executor, Gather, JobInputs, OnChain, Outcome, compare, gather, journal::RequestInfo,
};
use ol_primitives::{
    addresses::{PROOF_OF_ATTRIBUTION, dev_suite::INFERENCE_MARKET},
    contracts::{IProofOfAttribution, InferenceMarket},
};
use serde_json::json;
use std::path::PathBuf;
use tokio::runtime::Runtime;

/// `openledger attribution verify`.
#[derive(Debug, Clone, Args)]
pub struct VerifyCommand {
    /// The request id (the PoA record key).
    #[arg(long = "request", value_name = "ID")]
    pub request: B256,
    /// The node to read from.
    #[arg(
        long = "rpc",
        default_value = "http://127.0.0.1:8545",
        value_name = "URL"
    )]
    pub rpc: alloy::transports::http::reqwest::Url,
    /// The base model's folder (Hugging Face layout), the one the adapter was trained on.
    #[arg(long = "base-model", value_name = "DIR")]
    pub base_model: PathBuf,
    /// File with the private key (hex) that signs the content reads: an attestor, a
    /// `--content.verifier` of the node, or the Datanet's owner.
    #[arg(long = "key", value_name = "PATH")]
    pub key: PathBuf,
    /// Print the result as JSON.
    #[arg(long = "json")]
    pub json: bool,
}

impl VerifyCommand {
    /// Re-runs the request and compares; an error when the record is not reproduced.
    pub fn run(&self, threads: usize) -> eyre::Result<()> {
        let runtime = Runtime::new().wrap_err("starting the tokio runtime")?;
        let signer = crate::args::read_key_file(&self.key, "--key")?;
        let inputs = RpcInputs::connect(&runtime, &self.rpc, signer)?;
        let (request, prompt) = runtime.block_on(find_request(inputs.provider(), self.request))?;
        let index_dir = tempfile::tempdir().wrap_err("creating a temporary folder")?;
        let executor = Executor::new(&self.base_model, index_dir.path().to_path_buf(), threads)?;
        let recorded = IProofOfAttribution::isRecordedCall {
            requestId: self.request,
        };
        let head = inputs.head()?;
        if inputs.view_at(head, PROOF_OF_ATTRIBUTION, &recorded)? != Some(true) {
            bail!("request {} has no record on chain yet", self.request);
        }
        let record = inputs
            .view_at(
                head,
                PROOF_OF_ATTRIBUTION,
                &IProofOfAttribution::attributionOfCall {
                    requestId: self.request,
                },
            )?
            .ok_or_else(|| eyre!("attributionOf reverted"))?;
        let market = inputs
            .view_at(
                head,
                INFERENCE_MARKET,
                &InferenceMarket::getRequestCall {
                    requestId: self.request,
                },
            )?
            .ok_or_else(|| eyre!("getRequest reverted"))?;
        let on_chain = OnChain {
            output_hash: record.outputHash,
            method: record.method,
            contributors: record.contributors,
            weights_ppm: record.weightsPpm,
            evidence_root: record.evidenceRoot,
            // Fulfilled, settled: the counted tokens are final.
            tokens: (market.status >= 2 && market.status <= 3)
                .then_some((market.tokensIn, market.tokensOut)),
        };
        let task = match gather(&inputs, &request, &prompt, executor.base_hash())? {
            Ok(task) => task,
            Err(Gather::Refused(reason) | Gather::Waiting(reason)) => {
                bail!("mismatch: the request is recorded, but cannot be served: {reason}")
            }
        };
        let answer = match executor.run(&task)? {
            Outcome::Answer(answer) => answer,
            Outcome::Refused(reason) => {
                bail!("mismatch: the request is recorded, but is refused here: {reason}")
            }
        };
        let mismatches = compare(&on_chain, &answer);
        if self.json {
            println!(
                "{}",
                json!({
                    "requestId": self.request,
                    "agrees": mismatches.is_empty(),
                    "outputHash": answer.output_hash,
                    "snapshot": answer.snapshot,
                    "documents": task.documents.len(),
                    "mismatches": mismatches.iter().map(ToString::to_string).collect::<Vec<_>>(),
                })
            );
        } else {
            println!("request:      {}", self.request);
            println!(
                "snapshot:     {} ({} documents)",
                answer.snapshot,
                task.documents.len()
            );
            println!("output hash:  {}", answer.output_hash);
            for mismatch in &mismatches {
                println!("MISMATCH      {mismatch}");
            }
        }
        if !mismatches.is_empty() {
            bail!(
                "the record of {} is not reproduced ({} fields differ)",
                self.request,
                mismatches.len()
            );
        }
        if !self.json {
            println!("verified:     the record is reproduced bit for bit");
        }
        Ok(())
    }
}

/// The request's `Requested` event and the prompt `PromptSubmitted` published.
async fn find_request(provider: &DynProvider, id: B256) -> eyre::Result<(RequestInfo, Vec<u8>)> {
    let filter = Filter::new()
        .address(INFERENCE_MARKET)
        .topic1(id)
        .from_block(0u64);
    let logs = provider
        .get_logs(&filter)
        .await
        .wrap_err("reading the request's events")?;
    let mut request = None;
    let mut prompt = None;
    for log in &logs {
        if let Ok(event) = InferenceMarket::Requested::decode_log(&log.inner) {
            let block = log
                .block_number
                .ok_or_else(|| eyre!("a log without a block"))?;
            request = Some(RequestInfo::from_event(&event, block));
        } else if let Ok(event) = InferenceMarket::PromptSubmitted::decode_log(&log.inner) {
            prompt = Some(event.prompt.to_vec());
        }
    }
    let request = request.ok_or_else(|| eyre!("no request {id} on chain"))?;
    let prompt = prompt.ok_or_else(|| eyre!("the prompt of {id} was not published on chain"))?;
    Ok((request, prompt))
}
