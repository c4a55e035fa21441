//! `openledger bench lifecycle`: paid inferences end to end through the chain.
//!
//! The Model Factory trains a small base model from scratch and an adapter on a three-contributor
//! Datanet (in process, as `factory train` does); `openledger node --dev --jobs.base-model` is
//! started; the Datanet, its uploads and approvals, the base model and the adapter are set up
//! with ordinary transactions, the adapter registered twice: attributed with the suffix-array
//! lineage and with DataInf on the gradient store its bundle carries. Then users pay for
//! `--requests` inferences at once, alternating between the two, and the benchmark waits until
//! every one is fulfilled. Reported: fulfilled requests per second, request-to-fulfil latency
//! (p50/p99, in blocks and seconds), attribution time as a share of inference time for each
//! method (the node's `jobs_*_seconds` metrics), and how busy the job service's worker was over
//! the run.

use super::target::{DEV_GAS_LIMIT, Target};
use alloy::{
    consensus::{SignableTransaction as _, TxEip1559, TxEnvelope},
    eips::eip2718::Encodable2718 as _,
    network::{EthereumWallet, TransactionBuilder as _, TxSignerSync as _},
    primitives::{Address, B256, Bytes, TxKind, U256, keccak256},
    providers::{DynProvider, Provider, ProviderBuilder},
    rpc::types::{Filter, TransactionReceipt, TransactionRequest},
    signers::{SignerSync as _, local::PrivateKeySigner},
    sol_types::{SolCall, SolEvent, SolStruct as _},
};
use clap::Args;
use eyre::{WrapErr, ensure, eyre};
use indicatif::{ProgressBar, ProgressStyle};
use ol_attribution::data::{CorpusSpec, text_corpus};
use ol_factory::{AdapterJob, BaseJob, LoraSpec, LrSchedule, TokenizerChoice, TrainSpec};
use ol_inference::{ModelConfig, Target as Module};
use ol_primitives::{
    addresses::dev_suite::{DATANET_REGISTRY, INFERENCE_MARKET, MODEL_REGISTRY},
    contracts::{DatanetRegistry, InferenceMarket, ModelRegistry, attribution_method},
    dev::dev_signer,
};
use serde::Serialize;
use serde_json::json;
use std::{
    collections::{HashMap, HashSet},
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

/// The planted passage of the Datanet's first contributor.
const PLANTED: &str =
    "the keeper of omholo sings shifiel over tuanqua while gortenqua sleeps near zelika .";
/// Longest the benchmark waits for all requests.
const DEADLINE: Duration = Duration::from_secs(1800);
/// Longest the chain may go without fulfilling one of the requests.
const STALL: Duration = Duration::from_secs(60);
/// Requests per user: under the pool's 64-nonce window.
const REQUESTS_PER_USER: usize = 48;
/// Raw transactions per JSON-RPC batch of the load generator.
const SUBMIT_BATCH: usize = 100;
/// The users' fee cap: far above any base fee the run reaches.
const USER_MAX_FEE: u128 = 100_000_000_000;
/// The users' tip.
const USER_TIP: u128 = 1_000_000_000;

/// Measure paid inference end to end (request transaction to fulfilment; see the README)
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct BenchLifecycleCommand {
    /// Paid requests, sent at once
    #[arg(long, default_value_t = 24, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub requests: u64,

    /// Output tokens per request (maxTokensOut)
    #[arg(long = "max-tokens", default_value_t = 24, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub max_tokens: u32,

    /// The node's block gas limit (`node --gas-limit`; the dev chain's 60M by default): a
    /// higher one shows what the pipeline does when the chain's gas is not the bound
    #[arg(long = "gas-limit", value_name = "GAS", default_value_t = DEV_GAS_LIMIT)]
    pub gas_limit: u64,

    /// Also write the results as JSON to this file
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,

    /// Also write the results as an HTML page of tables to this file
    #[arg(long, value_name = "FILE.html")]
    pub report: Option<PathBuf>,
}

#[derive(Debug, Serialize)]
struct Report {
    requests: u64,
    fulfilled_per_s: f64,
    latency_blocks_p50: u64,
    latency_blocks_p99: u64,
    latency_s_p50: f64,
    latency_s_p99: f64,
    methods: Vec<MethodReport>,
    worker_busy_share: f64,
    users: usize,
    attestor_batches: f64,
    calls_per_batch: f64,
    service_passes: f64,
    pass_s_mean: f64,
}

/// Per-job means of one attribution method.
#[derive(Debug, Serialize)]
struct MethodReport {
    method: &'static str,
    jobs: f64,
    inference_s_mean: f64,
    attribution_s_mean: f64,
    attribution_share_of_inference: f64,
}

fn percentile<T: Copy + PartialOrd>(sorted: &[T], p: f64) -> T {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Trains the base model (on the generated corpus and the Datanet) and returns its folder and
/// the Datanet's documents `(contributor, text)` with the planted passage in the first's.
fn train_base(
    work: &Path,
    contributors: [Address; 3],
) -> eyre::Result<(PathBuf, Vec<(Address, String)>)> {
    let datanet = text_corpus(CorpusSpec {
        contributors: 3,
        docs_per_contributor: 2,
        sentences_per_doc: 3,
        canaries: 0,
        seed: 7,
    });
    let mut docs = Vec::new();
    for doc in &datanet.docs {
        let i = datanet
            .contributors
            .iter()
            .position(|c| *c == doc.contributor)
            .ok_or_else(|| eyre!("a corpus contributor"))?;
        let text = if i == 0 {
            format!("{} {PLANTED} {PLANTED}", doc.text)
        } else {
            doc.text.clone()
        };
        docs.push((contributors[i], text));
    }
    let general = text_corpus(CorpusSpec {
        contributors: 8,
        docs_per_contributor: 4,
        sentences_per_doc: 6,
        canaries: 0,
        seed: 11,
    });
    let corpus = work.join("general");
    let mut all: Vec<(Address, String)> = general
        .docs
        .iter()
        .map(|d| (d.contributor, d.text.clone()))
        .collect();
    all.extend(docs.iter().cloned());
    write_docs(&corpus, &all)?;
    let config = ModelConfig::from_json(
        json!({
            "model_type": "llama", "hidden_size": 64, "intermediate_size": 128,
            "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
            "vocab_size": 1, "max_position_embeddings": 128, "rms_norm_eps": 1e-5,
        })
        .to_string()
        .as_bytes(),
    )?;
    let out = work.join("base");
    BaseJob {
        config,
        docs_dir: corpus,
        datanet: B256::ZERO,
        tokenizer: TokenizerChoice::Train { vocab_size: 400 },
        out_dir: out.clone(),
        spec: TrainSpec {
            lora: None,
            learning_rate: 3e-3,
            schedule: LrSchedule::Cosine,
            warmup_steps: 4,
            epochs: 20,
            batch_size: 8,
            max_seq_len: 64,
            seed: 1,
            ..TrainSpec::default()
        },
        resume: false,
    }
    .run(None, &mut |_| {})?;
    Ok((out.join("model"), docs))
}

/// Writes `docs` in the documents layout, each named by its keccak (its `contentHash`).
fn write_docs(dir: &Path, docs: &[(Address, String)]) -> eyre::Result<()> {
    for (contributor, text) in docs {
        let folder = dir.join(contributor.to_string());
        std::fs::create_dir_all(&folder)?;
        std::fs::write(folder.join(format!("{}.txt", keccak256(text))), text)?;
    }
    Ok(())
}

/// The adapter on the Datanet, trained in process; its bundle and the manifest's base hash.
fn train_adapter(
    work: &Path,
    base: &Path,
    docs: &[(Address, String)],
    datanet: U256,
) -> eyre::Result<(Vec<u8>, B256)> {
    let dir = work.join("datanet");
    write_docs(&dir, docs)?;
    let out = work.join("adapter");
    let manifest = AdapterJob {
        base_dir: base.to_path_buf(),
        docs_dir: dir,
        datanet: B256::from(datanet),
        out_dir: out.clone(),
        spec: TrainSpec {
            lora: Some(LoraSpec {
                rank: 16,
                alpha: 32.0,
                target_modules: Module::ALL.iter().map(|t| t.name().to_string()).collect(),
            }),
            learning_rate: 5e-3,
            epochs: 60,
            batch_size: 4,
            max_seq_len: 64,
            heldout_fraction: 0.0,
            seed: 2,
            ..TrainSpec::default()
        },
        projection_dim: 4096,
        curvature: false,
        resume: false,
    }
    .run(None, &mut |_| {})?;
    let base_hash = manifest
        .base_model
        .ok_or_else(|| eyre!("an adapter job names its base"))?
        .hash;
    Ok((
        std::fs::read(out.join(ol_factory::ADAPTER_BUNDLE))?,
        base_hash,
    ))
}

/// Sends `call` to `to` from `from` with `value` and waits for a successful receipt.
async fn send<C: SolCall>(
    provider: &DynProvider,
    from: Address,
    to: Address,
    call: &C,
    value: U256,
) -> eyre::Result<TransactionReceipt> {
    let tx = TransactionRequest::default()
        .with_from(from)
        .with_to(to)
        .with_input(Bytes::from(call.abi_encode()))
        .with_value(value);
    let receipt = provider.send_transaction(tx).await?.get_receipt().await?;
    ensure!(receipt.status(), "{} from {from} reverted", C::SIGNATURE);
    Ok(receipt)
}

fn event<E: SolEvent>(receipt: &TransactionReceipt) -> eyre::Result<E> {
    receipt
        .inner
        .logs()
        .iter()
        .find_map(|log| E::decode_log(&log.inner).ok().map(|l| l.data))
        .ok_or_else(|| eyre!("no {} in the receipt", E::SIGNATURE))
}

/// Uploads `content` with `ol_putContent`, signed by dev account `index`.
async fn upload(provider: &DynProvider, index: u32, content: &[u8]) -> eyre::Result<()> {
    let signer = dev_signer(index);
    let message = ol_content::PutContent {
        contributor: signer.address(),
        contentHash: keccak256(content),
        size: content.len() as u64,
    };
    let domain = ol_content::content_domain(ol_primitives::dev::DEV_CHAIN_ID, DATANET_REGISTRY);
    let signature = signer.sign_hash_sync(&message.eip712_signing_hash(&domain))?;
    let request = json!({
        "contributor": signer.address(),
        "contentHash": keccak256(content),
        "content": Bytes::copy_from_slice(content),
        "signature": Bytes::from(signature.as_bytes()),
    });
    provider
        .raw_request::<_, serde_json::Value>("ol_putContent".into(), (request,))
        .await?;
    Ok(())
}

impl BenchLifecycleCommand {
    /// Runs the benchmark on a new tokio runtime.
    pub fn execute(self) -> eyre::Result<()> {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
            .block_on(self.run())
    }

    async fn run(self) -> eyre::Result<()> {
        let work = tempfile::tempdir()?;
        let contributors = [2, 3, 4].map(|i| dev_signer(i).address());
        eprintln!("training the base model from scratch ...");
        let (base, docs) = train_base(work.path(), contributors)?;
        let args = vec![
            "--jobs.base-model".into(),
            base.display().to_string(),
            "--jobs.settle".into(),
        ];
        let node = Target::openledger_with(self.gas_limit, args).await?;
        let result = self.measure(&node, work.path(), &base, &docs).await;
        if result.is_err() {
            eprintln!("{}", node.log_tail(40));
        }
        node.stop().await;
        result
    }

    async fn measure(
        &self,
        node: &Target,
        work: &Path,
        base: &Path,
        docs: &[(Address, String)],
    ) -> eyre::Result<()> {
        let mut wallet = EthereumWallet::new(dev_signer(0));
        for i in 1..10 {
            wallet.register_signer(dev_signer(i));
        }
        let provider = ProviderBuilder::new()
            .wallet(wallet)
            .connect_http(node.client.url().parse()?)
            .erased();
        let (curator, owner) = (dev_signer(1).address(), dev_signer(5).address());
        let stake = U256::from(10u64).pow(U256::from(18));
        eprintln!("setting up the Datanet, the model and the adapter ...");
        let created = send(
            &provider,
            curator,
            DATANET_REGISTRY,
            &DatanetRegistry::createDatanetCall {
                metadataURI: "ol://bench".into(),
                licenseId: B256::ZERO,
                policy: 1,
                minStake: stake,
                slashPpm: 500_000,
            },
            U256::ZERO,
        )
        .await?;
        let datanet = event::<DatanetRegistry::DatanetCreated>(&created)?.datanetId;
        for (i, (contributor, text)) in docs.iter().enumerate() {
            let index = (2..=4)
                .find(|i| dev_signer(*i).address() == *contributor)
                .ok_or_else(|| eyre!("a dev contributor"))?;
            upload(&provider, index, text.as_bytes()).await?;
            let receipt = send(
                &provider,
                *contributor,
                DATANET_REGISTRY,
                &DatanetRegistry::contributeCall {
                    datanetId: datanet,
                    contentHash: keccak256(text),
                    size: text.len() as u64,
                    uri: format!("ol://bench/{i}"),
                },
                stake,
            )
            .await?;
            let id = event::<DatanetRegistry::ContributionSubmitted>(&receipt)?.contributionId;
            send(
                &provider,
                curator,
                DATANET_REGISTRY,
                &DatanetRegistry::approveCall { contributionId: id },
                U256::ZERO,
            )
            .await?;
        }
        let (bundle, base_hash) = train_adapter(work, base, docs, datanet)?;
        upload(&provider, 5, &bundle).await?;
        let registered = send(
            &provider,
            owner,
            MODEL_REGISTRY,
            &ModelRegistry::registerBaseModelCall {
                weightsHash: base_hash,
                architectureId: B256::ZERO,
                licenseId: B256::ZERO,
                uri: "ol://bench/base".into(),
            },
            U256::ZERO,
        )
        .await?;
        let base_id = event::<ModelRegistry::BaseModelRegistered>(&registered)?.baseModelId;
        let mut adapters = Vec::new();
        for method in [attribution_method::INFINIGRAM, attribution_method::DATAINF] {
            let registered = send(
                &provider,
                owner,
                MODEL_REGISTRY,
                &ModelRegistry::registerAdapterCall {
                    baseModelId: base_id,
                    params: ModelRegistry::AdapterParams {
                        adapterHash: keccak256(&bundle),
                        priceInPer1k: 1_000_000_000_000,
                        priceOutPer1k: 1_000_000_000_000,
                        attributionMethod: method,
                        uri: "ol://bench/adapter".into(),
                        datanets: vec![ModelRegistry::DatanetUse {
                            datanetId: datanet,
                            contributionCount: docs.len() as u64,
                        }],
                    },
                },
                U256::ZERO,
            )
            .await?;
            adapters.push(event::<ModelRegistry::AdapterRegistered>(&registered)?.adapterId);
        }
        let quote = InferenceMarket::quoteCall {
            adapterId: adapters[0],
            tokensIn: 64,
            tokensOut: self.max_tokens,
        };
        let escrow = InferenceMarket::quoteCall::abi_decode_returns(
            &provider
                .call(
                    TransactionRequest::default()
                        .with_to(INFERENCE_MARKET)
                        .with_input(Bytes::from(quote.abi_encode())),
                )
                .await?,
        )?;
        // The users: fresh accounts, funded, each sending its requests presigned at consecutive
        // nonces (the pool takes 64 ahead of an account's nonce), so that the load generator
        // spends nothing per request but the raw submission.
        let users = (self.requests as usize).div_ceil(REQUESTS_PER_USER);
        let per_user = (self.requests as usize).div_ceil(users) as u64;
        let signers: Vec<PrivateKeySigner> = (0..users as u64)
            .map(|i| {
                let seed = keccak256(
                    [b"openledger-bench-lifecycle".as_slice(), &i.to_be_bytes()].concat(),
                );
                PrivateKeySigner::from_bytes(&seed).wrap_err("deriving a user")
            })
            .collect::<eyre::Result<_>>()?;
        let prompts: Vec<Bytes> = docs
            .iter()
            .map(|(_, text)| {
                Bytes::from(
                    text.split(' ')
                        .take(5)
                        .collect::<Vec<_>>()
                        .join(" ")
                        .into_bytes(),
                )
            })
            .collect();
        let call = |i: usize| InferenceMarket::requestCall {
            adapterId: adapters[i % adapters.len()],
            prompt: prompts[i % prompts.len()].clone(),
            maxTokensIn: 64,
            maxTokensOut: self.max_tokens,
        };
        let mut gas = 0;
        for i in 0..prompts.len() * adapters.len() {
            let estimate = TransactionRequest::default()
                .with_from(dev_signer(6).address())
                .with_to(INFERENCE_MARKET)
                .with_input(Bytes::from(call(i).abi_encode()))
                .with_value(escrow);
            gas = gas.max(provider.estimate_gas(estimate).await?);
        }
        // Each user pays its escrows and, at most, its gas at the fee cap and the L1 data fee
        // (the pool counts all three for every pending transaction): twice that, to spare.
        let funding = (escrow + U256::from(gas + gas / 4) * U256::from(USER_MAX_FEE))
            * U256::from(2 * per_user);
        let mut funded = Vec::new();
        for (i, user) in signers.iter().enumerate() {
            let funder = dev_signer(6 + (i % 4) as u32).address();
            let tx = TransactionRequest::default()
                .with_from(funder)
                .with_to(user.address())
                .with_value(funding);
            funded.push(provider.send_transaction(tx).await?);
        }
        for pending in funded {
            ensure!(
                pending.get_receipt().await?.status(),
                "funding a user failed"
            );
        }
        let mut raws = Vec::with_capacity(self.requests as usize);
        let mut ours = HashSet::new();
        for i in 0..self.requests as usize {
            let mut tx = TxEip1559 {
                chain_id: ol_primitives::dev::DEV_CHAIN_ID,
                nonce: (i / users) as u64,
                gas_limit: gas + gas / 4,
                max_fee_per_gas: USER_MAX_FEE,
                max_priority_fee_per_gas: USER_TIP,
                to: TxKind::Call(INFERENCE_MARKET),
                value: escrow,
                input: call(i).abi_encode().into(),
                access_list: Default::default(),
            };
            let signature = signers[i % users].sign_transaction_sync(&mut tx)?;
            let envelope = TxEnvelope::from(tx.into_signed(signature));
            ours.insert(*envelope.tx_hash());
            raws.push(alloy::hex::encode_prefixed(envelope.encoded_2718()));
        }
        let before = node.scrape().await?;

        // The load: every request submitted at once, users in turn, while the chain is followed
        // block by block for the requests and their fulfilments.
        eprintln!("{} paid requests from {users} users ...", self.requests);
        let started = Instant::now();
        let client = node.client.clone();
        let mut submitter = Some(tokio::spawn(async move {
            let mut refused = Vec::new();
            for chunk in raws.chunks(SUBMIT_BATCH) {
                refused.extend(client.send_raw_batch(chunk).await?.into_iter().flatten());
            }
            Ok::<_, eyre::Report>(refused)
        }));
        let progress = ProgressBar::new(self.requests);
        progress.set_style(
            ProgressStyle::with_template("{msg:>12} [{bar:40}] {pos}/{len} fulfilled ({per_sec})")
                .wrap_err("progress template")?
                .progress_chars("=> "),
        );
        progress.set_message("lifecycle");
        let mut requested: HashMap<B256, (u64, Instant)> = HashMap::new();
        let mut done: Vec<(u64, f64)> = Vec::new();
        let mut next_block = provider.get_block_number().await? + 1;
        let mut last_progress = Instant::now();
        while done.len() < self.requests as usize {
            let head = provider.get_block_number().await?;
            if head >= next_block {
                let filter = Filter::new()
                    .address(INFERENCE_MARKET)
                    .from_block(next_block)
                    .to_block(head);
                let seen = Instant::now();
                for log in provider.get_logs(&filter).await? {
                    let block = log.block_number.unwrap_or_default();
                    if let Ok(event) = InferenceMarket::Requested::decode_log(&log.inner)
                        && log.transaction_hash.is_some_and(|h| ours.contains(&h))
                    {
                        requested.insert(event.requestId, (block, seen));
                    } else if let Ok(event) = InferenceMarket::Fulfilled::decode_log(&log.inner)
                        && let Some((at_block, at)) = requested.remove(&event.requestId)
                    {
                        done.push((block - at_block, seen.duration_since(at).as_secs_f64()));
                        progress.inc(1);
                        last_progress = seen;
                    }
                }
                next_block = head + 1;
            }
            if let Some(handle) = submitter.take_if(|h| h.is_finished()) {
                let refused = handle.await??;
                ensure!(refused.is_empty(), "requests refused: {}", refused[0]);
            }
            if last_progress.elapsed() > STALL {
                let status: serde_json::Value = match requested.keys().next() {
                    Some(id) => provider.raw_request("ol_jobStatus".into(), (id,)).await?,
                    None => serde_json::Value::Null,
                };
                eyre::bail!(
                    "nothing fulfilled for {STALL:?} ({} of {} requests seen); a pending one: {status}",
                    requested.len() + done.len(),
                    self.requests
                );
            }
            ensure!(
                started.elapsed() < DEADLINE,
                "requests not fulfilled within {DEADLINE:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        progress.finish();
        if let Some(handle) = submitter {
            let refused = handle.await??;
            ensure!(refused.is_empty(), "requests refused: {}", refused[0]);
        }
        let wall = started.elapsed().as_secs_f64();
        let after = node.scrape().await?;
        let delta = |name: &str| {
            after.get(name).copied().unwrap_or_default()
                - before.get(name).copied().unwrap_or_default()
        };
        let methods = ["lineage", "datainf"]
            .into_iter()
            .map(|method| {
                let series = |name: &str| delta(&format!("{name}{{method=\"{method}\"}}"));
                let jobs = series("jobs_inference_seconds_count");
                let per_job = jobs.max(1.0);
                let inference = series("jobs_inference_seconds_sum") / per_job;
                let attribution = series("jobs_attribution_seconds_sum") / per_job;
                MethodReport {
                    method,
                    jobs,
                    inference_s_mean: inference,
                    attribution_s_mean: attribution,
                    attribution_share_of_inference: attribution / inference.max(f64::MIN_POSITIVE),
                }
            })
            .collect();
        let busy = delta("jobs_busy_microseconds_total") / 1e6 / wall;
        let mut blocks: Vec<u64> = done.iter().map(|d| d.0).collect();
        let mut seconds: Vec<f64> = done.iter().map(|d| d.1).collect();
        blocks.sort_unstable();
        seconds.sort_by(f64::total_cmp);
        let report = Report {
            requests: self.requests,
            fulfilled_per_s: self.requests as f64 / wall,
            latency_blocks_p50: percentile(&blocks, 0.5),
            latency_blocks_p99: percentile(&blocks, 0.99),
            latency_s_p50: percentile(&seconds, 0.5),
            latency_s_p99: percentile(&seconds, 0.99),
            methods,
            worker_busy_share: busy,
            users,
            attestor_batches: delta("jobs_batches_total"),
            calls_per_batch: delta("jobs_batch_calls_sum")
                / delta("jobs_batch_calls_count").max(1.0),
            service_passes: delta("jobs_pass_seconds_count"),
            pass_s_mean: delta("jobs_pass_seconds_sum") / delta("jobs_pass_seconds_count").max(1.0),
        };
        println!(
            "paid inference end to end ({} requests, {} output tokens each, settled by the node, 1 worker, {}M gas blocks)",
            report.requests,
            self.max_tokens,
            self.gas_limit / 1_000_000
        );
        println!(
            "  fulfilled/s                 {:>8.2}",
            report.fulfilled_per_s
        );
        println!(
            "  request->fulfil p50 / p99   {:>4} / {:<4} blocks   {:.2} / {:.2} s",
            report.latency_blocks_p50,
            report.latency_blocks_p99,
            report.latency_s_p50,
            report.latency_s_p99
        );
        for m in &report.methods {
            println!(
                "  {:<8} {:>4} jobs: inference {:>7.1} ms, attribution {:>7.1} ms per job ({:.1}% of inference; goal <= 25%)",
                m.method,
                m.jobs,
                m.inference_s_mean * 1e3,
                m.attribution_s_mean * 1e3,
                m.attribution_share_of_inference * 100.0
            );
        }
        println!(
            "  worker busy                 {:>8.1}%  (goal >= 90%)",
            report.worker_busy_share * 100.0
        );
        println!(
            "  attestor transactions       {:>8} batches, {:.1} calls each ({} users sending)",
            report.attestor_batches, report.calls_per_batch, report.users
        );
        println!(
            "  job service passes          {:>8}, {:.1} ms each",
            report.service_passes,
            report.pass_s_mean * 1e3
        );
        crate::write_results(
            &report,
            "the lifecycle benchmark",
            self.json.as_deref(),
            self.report.as_deref(),
        )?;
        Ok(())
    }
}
