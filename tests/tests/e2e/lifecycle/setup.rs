//! The lifecycle test's setup: the Model Factory run through the CLI, the Datanet's documents,
//! and the wallet steps every phase repeats (paying for a request, restarting the node).

use alloy::{
    primitives::{Address, B256, Bytes, U256},
    providers::DynProvider,
};
use eyre::{Context as _, Result, ensure, eyre};
use ol_e2e::{TestNode, contracts::InferenceMarket, event, mined, openledger_bin};
use serde_json::Value;
use std::path::{Path, PathBuf};

pub(super) const DATANETS: Address =
    alloy::primitives::address!("0x4200000000000000000000000000000000001002");
pub(super) const MODELS: Address =
    alloy::primitives::address!("0x4200000000000000000000000000000000001003");
pub(super) const STAKING: Address =
    alloy::primitives::address!("0x4200000000000000000000000000000000001004");
pub(super) const MARKET: Address =
    alloy::primitives::address!("0x4200000000000000000000000000000000001005");
pub(super) const POA: Address =
    alloy::primitives::address!("0x0000000000000000000000000000000000000A00");

/// The planted passage: words of the corpus in an order that occurs nowhere else.
pub(super) const PLANTED: &str =
    "the keeper of omholo sings shifiel over tuanqua while gortenqua sleeps near zelika .";
/// The prompt: the passage's first words.
pub(super) const PROMPT: &str = "the keeper of omholo sings";
pub(super) const MAX_IN: u32 = 64;
pub(super) const MAX_OUT: u32 = 24;
pub(super) const PRICE_IN: u128 = 2_000_000_000_000;
pub(super) const PRICE_OUT: u128 = 5_000_000_000_000;
/// Blocks from the request to its fulfilment the service must stay within.
pub(super) const MAX_BLOCKS_TO_FULFIL: u64 = 30;
/// `InferenceMarket.Status.Fulfilled`.
pub(super) const FULFILLED: u8 = 2;
/// `InferenceMarket.Status.Settled`.
pub(super) const SETTLED: u8 = 3;
/// `AttributionMethod.INFINIGRAM`.
pub(super) const METHOD_LINEAGE: u8 = 2;

/// Runs `openledger args...` and returns its standard output.
pub(super) async fn openledger(args: &[&str]) -> Result<String> {
    let output = tokio::process::Command::new(openledger_bin()?)
        .args(args)
        .output()
        .await
        .wrap_err("running openledger")?;
    ensure!(
        output.status.success(),
        "openledger {}: {}\n{}",
        args.join(" "),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

pub(super) fn path(p: &Path) -> &str {
    p.to_str().expect("temporary paths are UTF-8")
}

/// Trains the base model from scratch on the generated corpus and the documents of `datanet`
/// (the documents layout); returns the base model's folder.
pub(super) async fn train_base(work: &Path, datanet: &Path) -> Result<PathBuf> {
    let general = work.join("general");
    openledger(&[
        "factory",
        "corpus",
        "--out",
        path(&general),
        "--contributors",
        "8",
        "--docs-per-contributor",
        "4",
        "--sentences-per-doc",
        "6",
        "--canaries",
        "0",
        "--seed",
        "11",
    ])
    .await?;
    // The base's corpus includes the Datanet's documents, so that its tokenizer and embeddings
    // know their words (an adapter cannot give a token the base never saw a useful embedding).
    for entry in std::fs::read_dir(datanet)? {
        let folder = entry?.path();
        let out = general.join(folder.file_name().ok_or_else(|| eyre!("folder name"))?);
        std::fs::create_dir_all(&out)?;
        for file in std::fs::read_dir(&folder)? {
            let file = file?.path();
            std::fs::copy(
                &file,
                out.join(file.file_name().ok_or_else(|| eyre!("file name"))?),
            )?;
        }
    }
    let config = work.join("config.json");
    std::fs::write(
        &config,
        r#"{"model_type": "llama", "hidden_size": 64, "intermediate_size": 128,
            "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
            "vocab_size": 1, "max_position_embeddings": 128, "rms_norm_eps": 1e-5}"#,
    )?;
    let base = work.join("base");
    openledger(&[
        "factory",
        "train",
        "--from-scratch",
        "--config",
        path(&config),
        "--vocab-size",
        "400",
        "--docs",
        path(&general),
        "--out",
        path(&base),
        "--epochs",
        "20",
        "--lr",
        "3e-3",
        "--batch-size",
        "8",
        "--max-seq-len",
        "64",
        "--warmup-steps",
        "4",
        "--seed",
        "1",
    ])
    .await?;
    Ok(base.join("model"))
}

/// Writes the Datanet: the generated documents of three contributors, renamed to the dev
/// accounts in `contributors`, with [`PLANTED`] twice in each document of the first.
pub(super) async fn write_datanet(work: &Path, contributors: [Address; 3]) -> Result<PathBuf> {
    let generated = work.join("generated");
    openledger(&[
        "factory",
        "corpus",
        "--out",
        path(&generated),
        "--contributors",
        "3",
        "--docs-per-contributor",
        "2",
        "--sentences-per-doc",
        "3",
        "--canaries",
        "0",
        "--seed",
        "7",
    ])
    .await?;
    let mut folders: Vec<PathBuf> = std::fs::read_dir(&generated)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    folders.sort();
    ensure!(folders.len() == 3, "three generated contributors");
    let datanet = work.join("datanet");
    for (i, (folder, contributor)) in folders.iter().zip(contributors).enumerate() {
        let out = datanet.join(contributor.to_string());
        std::fs::create_dir_all(&out)?;
        let mut files: Vec<PathBuf> = std::fs::read_dir(folder)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        files.sort();
        for file in files {
            let mut text = std::fs::read_to_string(&file)?;
            if i == 0 {
                text = format!("{text} {PLANTED} {PLANTED}");
            }
            std::fs::write(out.join(file.file_name().expect("a file")), text)?;
        }
    }
    Ok(datanet)
}

/// The Datanet's documents: `(contributor, bytes)`, in file order.
pub(super) fn documents(datanet: &Path) -> Result<Vec<(Address, Vec<u8>)>> {
    let mut docs = Vec::new();
    let mut folders: Vec<PathBuf> = std::fs::read_dir(datanet)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    folders.sort();
    for folder in folders {
        let contributor: Address = folder
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| eyre!("folder name"))?
            .parse()?;
        let mut files: Vec<PathBuf> = std::fs::read_dir(&folder)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        files.sort();
        for file in files {
            docs.push((contributor, std::fs::read(file)?));
        }
    }
    Ok(docs)
}

pub(super) fn manifest_b256(manifest: &Value, pointer: &str) -> Result<B256> {
    manifest
        .pointer(pointer)
        .and_then(Value::as_str)
        .ok_or_else(|| eyre!("manifest has no {pointer}"))?
        .parse()
        .wrap_err_with(|| format!("manifest {pointer}"))
}

/// `user` pays `escrow` for an inference of [`PROMPT`] on `adapter`: the request id and block.
pub(super) async fn pay(
    provider: &DynProvider,
    adapter: U256,
    escrow: U256,
    user: Address,
) -> Result<(B256, u64)> {
    let market = InferenceMarket::new(MARKET, provider.clone());
    let receipt = mined(
        provider,
        market
            .request(
                adapter,
                Bytes::from_static(PROMPT.as_bytes()),
                MAX_IN,
                MAX_OUT,
            )
            .value(escrow)
            .from(user)
            .send()
            .await?,
        true,
        "request",
    )
    .await?;
    let id = event::<InferenceMarket::Requested>(&receipt)?.requestId;
    Ok((id, receipt.block_number.unwrap_or_default()))
}

/// Restarts `node` (stopped gracefully if it runs) with `args`, its job service halting after
/// `halt` when given; a provider for the new port.
pub(super) async fn restart(
    node: &mut TestNode,
    args: &[String],
    halt: Option<&str>,
) -> Result<DynProvider> {
    let mut args = args.to_vec();
    if let Some(point) = halt {
        args.extend(["--jobs.halt-after".to_string(), point.to_string()]);
    }
    if node.pid().is_some() {
        node.stop().await?;
    }
    node.set_extra_args(args);
    node.restart().await?;
    Ok(node.provider())
}
