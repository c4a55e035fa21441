//! The Proof of Attribution lifecycle as the tests drive it (the `lifecycle` test on `--dev`,
//! the rollup's verification test): the Model Factory run through the CLI, the Datanet's
//! documents uploaded, contributed and approved, the model registered, and the wallet steps
//! every phase repeats (paying for a request, restarting the node).

use crate::{
    TestNode,
    content::put_request,
    contracts::{DatanetRegistry, InferenceMarket, ModelRegistry},
    dev_signer, event, mined, one_ether, openledger_bin, raw_rpc,
};
use alloy::{
    primitives::{Address, B256, Bytes, U256, keccak256},
    providers::{DynProvider, Provider as _},
    signers::local::PrivateKeySigner,
    sol_types::SolEvent as _,
};
use eyre::{Context as _, Result, bail, ensure, eyre};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The `DatanetRegistry` predeploy.
pub const DATANETS: Address =
    alloy::primitives::address!("0x4200000000000000000000000000000000001002");
/// The `ModelRegistry` predeploy.
pub const MODELS: Address =
    alloy::primitives::address!("0x4200000000000000000000000000000000001003");
/// The `Staking` predeploy.
pub const STAKING: Address =
    alloy::primitives::address!("0x4200000000000000000000000000000000001004");
/// The `InferenceMarket` predeploy.
pub const MARKET: Address =
    alloy::primitives::address!("0x4200000000000000000000000000000000001005");
/// The Proof of Attribution precompile.
pub const POA: Address = alloy::primitives::address!("0x0000000000000000000000000000000000000A00");

/// The planted passage: words of the corpus in an order that occurs nowhere else.
pub const PLANTED: &str =
    "the keeper of omholo sings shifiel over tuanqua while gortenqua sleeps near zelika .";
/// The prompt: the passage's first words.
pub const PROMPT: &str = "the keeper of omholo sings";
/// The request's `maxTokensIn`.
pub const MAX_IN: u32 = 64;
/// The request's `maxTokensOut`.
pub const MAX_OUT: u32 = 24;
/// The adapter's price per 1,000 prompt tokens, wei.
pub const PRICE_IN: u128 = 2_000_000_000_000;
/// The adapter's price per 1,000 output tokens, wei.
pub const PRICE_OUT: u128 = 5_000_000_000_000;
/// Blocks from the request to its fulfilment the service must stay within.
pub const MAX_BLOCKS_TO_FULFIL: u64 = 30;
/// `InferenceMarket.Status.Fulfilled`.
pub const FULFILLED: u8 = 2;
/// `InferenceMarket.Status.Settled`.
pub const SETTLED: u8 = 3;
/// `AttributionMethod.INFINIGRAM`.
pub const METHOD_LINEAGE: u8 = 2;
/// `AttributionMethod.DATAINF`.
pub const METHOD_DATAINF: u8 = 0;
/// The adapter's hyper-parameters, as `ol_trainAdapter` takes them (those of
/// [`train_adapter`]'s command line).
pub const ADAPTER_PARAMS: &str = r#"{"rank": 16, "alpha": 32,
    "targetModules": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    "learningRate": 5e-3, "epochs": 60, "batchSize": 4, "maxSeqLen": 64,
    "heldoutFraction": 0, "seed": 2}"#;

/// Runs `openledger args...` and returns its standard output.
pub async fn openledger(args: &[&str]) -> Result<String> {
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

/// `p` as the UTF-8 argument a command takes.
pub fn path(p: &Path) -> &str {
    p.to_str().expect("temporary paths are UTF-8")
}

/// Trains the base model from scratch on the generated corpus and the documents of `datanet`
/// (the documents layout); returns the base model's folder.
pub async fn train_base(work: &Path, datanet: &Path) -> Result<PathBuf> {
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
pub async fn write_datanet(work: &Path, contributors: [Address; 3]) -> Result<PathBuf> {
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
pub fn documents(datanet: &Path) -> Result<Vec<(Address, Vec<u8>)>> {
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

/// The 32-byte hex value at `pointer` in a factory manifest.
pub fn manifest_b256(manifest: &Value, pointer: &str) -> Result<B256> {
    manifest
        .pointer(pointer)
        .and_then(Value::as_str)
        .ok_or_else(|| eyre!("manifest has no {pointer}"))?
        .parse()
        .wrap_err_with(|| format!("manifest {pointer}"))
}

/// `user` pays `escrow` for an inference of [`PROMPT`] on `adapter`: the request id and block.
pub async fn pay(
    provider: &DynProvider,
    adapter: U256,
    escrow: U256,
    user: Address,
) -> Result<(B256, u64)> {
    pay_for(provider, adapter, escrow, user, PROMPT).await
}

/// `user` pays `escrow` for an inference of `prompt` on `adapter`: the request id and block.
pub async fn pay_for(
    provider: &DynProvider,
    adapter: U256,
    escrow: U256,
    user: Address,
    prompt: &str,
) -> Result<(B256, u64)> {
    let market = InferenceMarket::new(MARKET, provider.clone());
    let receipt = mined(
        provider,
        market
            .request(
                adapter,
                Bytes::copy_from_slice(prompt.as_bytes()),
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
pub async fn restart(
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

/// A Datanet created by `curator` (dev account) whose `docs` were uploaded with
/// `ol_putContent`, contributed (1 OPEN stake each) and approved: its id.
pub async fn curated_datanet(
    provider: &DynProvider,
    curator: Address,
    docs: &[(Address, Vec<u8>)],
) -> Result<U256> {
    let datanets = DatanetRegistry::new(DATANETS, provider.clone());
    let receipt = mined(
        provider,
        datanets
            .createDatanet(
                "ol://datanet/keepers".into(),
                B256::right_padding_from(b"CC-BY-4.0"),
                1,
                one_ether(),
                500_000,
            )
            .from(curator)
            .send()
            .await?,
        true,
        "createDatanet",
    )
    .await?;
    let datanet = event::<DatanetRegistry::DatanetCreated>(&receipt)?.datanetId;
    for (i, (contributor, bytes)) in docs.iter().enumerate() {
        let signer = (0..crate::DEV_ACCOUNT_COUNT)
            .map(dev_signer)
            .find(|s| s.address() == *contributor)
            .ok_or_else(|| eyre!("{contributor} is not a dev account"))?;
        raw_rpc(
            provider,
            "ol_putContent",
            (put_request(&signer, *contributor, bytes),),
        )
        .await?;
        let receipt = mined(
            provider,
            datanets
                .contribute(
                    datanet,
                    keccak256(bytes),
                    bytes.len() as u64,
                    format!("ol://keepers/{i}"),
                )
                .value(one_ether())
                .from(*contributor)
                .send()
                .await?,
            true,
            "contribute",
        )
        .await?;
        let id = event::<DatanetRegistry::ContributionSubmitted>(&receipt)?.contributionId;
        mined(
            provider,
            datanets.approve(id).from(curator).send().await?,
            true,
            "approve",
        )
        .await?;
    }
    Ok(datanet)
}

/// An adapter the Model Factory trained on a Datanet.
#[derive(Debug, Clone)]
pub struct TrainedAdapter {
    /// The factory job's folder.
    pub dir: PathBuf,
    /// Its `manifest.json`.
    pub manifest: Value,
    /// The base model's factory hash (its `weightsHash` on chain).
    pub base_hash: B256,
    /// The adapter bundle's keccak (its `adapterHash`).
    pub adapter_hash: B256,
    /// The bundle (`adapter.tar`).
    pub bundle: Vec<u8>,
}

/// `factory train --datanet datanet --rpc url --key key` on the base model `base`: the
/// approved contributions read from the node, the adapter written under `work/adapter`.
pub async fn train_adapter(
    work: &Path,
    base: &Path,
    datanet: U256,
    url: &str,
    key: &Path,
) -> Result<TrainedAdapter> {
    let dir = work.join("adapter");
    openledger(&[
        "factory",
        "train",
        "--base",
        path(base),
        "--datanet",
        &datanet.to_string(),
        "--rpc",
        url,
        "--key",
        path(key),
        "--out",
        path(&dir),
        "--rank",
        "16",
        "--alpha",
        "32",
        "--target-modules",
        "q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj",
        "--lr",
        "5e-3",
        "--epochs",
        "60",
        "--batch-size",
        "4",
        "--max-seq-len",
        "64",
        "--heldout-fraction",
        "0",
        "--seed",
        "2",
    ])
    .await?;
    let manifest: Value = serde_json::from_slice(&std::fs::read(dir.join("manifest.json"))?)?;
    Ok(TrainedAdapter {
        base_hash: manifest_b256(&manifest, "/base_model/hash")?,
        adapter_hash: manifest_b256(&manifest, "/files/adapter.tar")?,
        bundle: std::fs::read(dir.join("adapter.tar"))?,
        dir,
        manifest,
    })
}

/// `owner` uploads the adapter's bundle and registers its base model and the adapter (trained
/// on `contributions` contributions of `datanet`, attributed with `method`) at [`PRICE_IN`] /
/// [`PRICE_OUT`]: the base model id and the adapter id.
pub async fn register_model(
    provider: &DynProvider,
    owner: &PrivateKeySigner,
    adapter: &TrainedAdapter,
    datanet: U256,
    contributions: u64,
    method: u8,
) -> Result<(U256, U256)> {
    raw_rpc(
        provider,
        "ol_putContent",
        (put_request(owner, owner.address(), &adapter.bundle),),
    )
    .await?;
    let base_id = register_base(provider, owner.address(), adapter.base_hash).await?;
    let adapter_id = register_adapter(
        provider,
        owner.address(),
        base_id,
        adapter.adapter_hash,
        datanet,
        contributions,
        method,
    )
    .await?;
    Ok((base_id, adapter_id))
}

/// The output `InferenceMarket.OutputPublished` carries for request `id` (a public request,
/// fulfilled).
pub async fn published_output(provider: &DynProvider, id: B256) -> Result<Vec<u8>> {
    let filter = alloy::rpc::types::Filter::new()
        .address(MARKET)
        .event_signature(InferenceMarket::OutputPublished::SIGNATURE_HASH)
        .topic1(id)
        .from_block(0);
    let logs = provider.get_logs(&filter).await?;
    let [log] = logs.as_slice() else {
        bail!("{} OutputPublished logs for {id}", logs.len());
    };
    Ok(log
        .log_decode::<InferenceMarket::OutputPublished>()?
        .inner
        .data
        .output
        .to_vec())
}

/// `owner` registers the base model whose factory hash is `weights_hash`: its id.
pub async fn register_base(
    provider: &DynProvider,
    owner: Address,
    weights_hash: B256,
) -> Result<U256> {
    let models = ModelRegistry::new(MODELS, provider.clone());
    let receipt = mined(
        provider,
        models
            .registerBaseModel(
                weights_hash,
                B256::right_padding_from(b"llama"),
                B256::right_padding_from(b"MIT"),
                "ol://base".into(),
            )
            .from(owner)
            .send()
            .await?,
        true,
        "registerBaseModel",
    )
    .await?;
    Ok(event::<ModelRegistry::BaseModelRegistered>(&receipt)?.baseModelId)
}

/// `owner` registers the adapter `adapter_hash` of base model `base_id`, trained on
/// `contributions` contributions of `datanet` and attributed with `method`, at [`PRICE_IN`] /
/// [`PRICE_OUT`]: its id.
pub async fn register_adapter(
    provider: &DynProvider,
    owner: Address,
    base_id: U256,
    adapter_hash: B256,
    datanet: U256,
    contributions: u64,
    method: u8,
) -> Result<U256> {
    let models = ModelRegistry::new(MODELS, provider.clone());
    let params = ModelRegistry::AdapterParams {
        adapterHash: adapter_hash,
        priceInPer1k: PRICE_IN,
        priceOutPer1k: PRICE_OUT,
        attributionMethod: method,
        uri: "ol://adapter/keepers".into(),
        datanets: vec![ModelRegistry::DatanetUse {
            datanetId: datanet,
            contributionCount: contributions,
        }],
    };
    let receipt = mined(
        provider,
        models
            .registerAdapter(base_id, params)
            .from(owner)
            .send()
            .await?,
        true,
        "registerAdapter",
    )
    .await?;
    Ok(event::<ModelRegistry::AdapterRegistered>(&receipt)?.adapterId)
}

/// The weights hash `factory info` prints for the base model trained into `base_job`.
pub async fn weights_hash(base_job: &Path) -> Result<B256> {
    let info = openledger(&["factory", "info", path(base_job)]).await?;
    info.lines()
        .find_map(|line| line.strip_prefix("weights hash:"))
        .and_then(|rest| rest.split_whitespace().next())
        .ok_or_else(|| eyre!("factory info prints no weights hash:\n{info}"))?
        .parse()
        .wrap_err("the weights hash")
}

/// An adapter the node's Model Factory trained (`ol_trainAdapter`).
#[derive(Debug, Clone)]
pub struct NodeTrainedAdapter {
    /// `ol_jobStatus`'s final answer.
    pub status: Value,
    /// The bundle, read back from the content store.
    pub bundle: Vec<u8>,
    /// The job's manifest, read back from the content store.
    pub manifest: Value,
}

/// Seconds since the Unix epoch, the clock signed requests expire by.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `owner` asks the node to train an adapter of `base_id` on `datanet` with
/// [`ADAPTER_PARAMS`] (`ol_trainAdapter`, sent twice: the same job id both times), and waits
/// until `ol_jobStatus` shows it running with a training step and its loss: the job id.
pub async fn start_training(
    provider: &DynProvider,
    owner: &PrivateKeySigner,
    base_id: U256,
    datanet: U256,
) -> Result<B256> {
    let request =
        crate::training::train_request(owner, base_id, datanet, ADAPTER_PARAMS, unix_now() + 600);
    let answer = raw_rpc(provider, "ol_trainAdapter", (request.clone(),)).await?;
    let job: B256 = serde_json::from_value(answer["jobId"].clone())
        .wrap_err_with(|| format!("ol_trainAdapter: {answer}"))?;
    let again = raw_rpc(provider, "ol_trainAdapter", (request,)).await?;
    ensure!(
        again["jobId"] == answer["jobId"],
        "the same signed request names the same job: {again}"
    );
    let status = crate::wait_until(
        "the training job to show a step",
        std::time::Duration::from_secs(300),
        std::time::Duration::from_millis(100),
        async || {
            let status = raw_rpc(provider, "ol_jobStatus", (job,)).await?;
            ensure!(status["kind"] == "training", "training job: {status}");
            let stepping = status["stage"] == "running"
                && status["progress"]["step"].as_u64().unwrap_or(0) > 0
                && status["progress"]["loss"].is_number();
            let over = status["stage"] == "trained" || status["stage"] == "failed";
            Ok((stepping || over).then_some(status))
        },
    )
    .await?;
    ensure!(
        status["stage"] == "running",
        "ol_jobStatus showed no training step: {status}"
    );
    Ok(job)
}

/// Follows the training job `job` of `owner` with `ol_jobStatus` to its end and reads the
/// bundle and manifest back from the content store with signed reads.
pub async fn finish_training(
    provider: &DynProvider,
    owner: &PrivateKeySigner,
    job: B256,
) -> Result<NodeTrainedAdapter> {
    let status = crate::wait_until(
        "the training job to finish",
        std::time::Duration::from_secs(600),
        std::time::Duration::from_millis(250),
        async || {
            let status = raw_rpc(provider, "ol_jobStatus", (job,)).await?;
            let done = status["stage"] == "trained" || status["stage"] == "failed";
            Ok(done.then_some(status))
        },
    )
    .await?;
    ensure!(
        status["stage"] == "trained",
        "the training job failed: {status}"
    );
    let mut nonce = 0;
    let mut read = async |hash: B256| -> Result<Vec<u8>> {
        nonce += 1;
        let auth =
            crate::content::read_authorization(owner, hash, U256::ZERO, nonce, unix_now() + 300);
        let answer = raw_rpc(provider, "ol_getContent", (hash, auth)).await?;
        let bytes: Bytes = serde_json::from_value(answer["content"].clone())
            .wrap_err_with(|| format!("ol_getContent {hash}: {answer}"))?;
        ensure!(
            keccak256(&bytes) == hash,
            "content {hash} hashes to its key"
        );
        Ok(bytes.to_vec())
    };
    let bundle = read(manifest_b256(&status, "/result/adapterHash")?).await?;
    let manifest = read(manifest_b256(&status, "/result/manifestHash")?).await?;
    Ok(NodeTrainedAdapter {
        status,
        bundle,
        manifest: serde_json::from_slice(&manifest).wrap_err("the manifest")?,
    })
}
