//! `openledger bench rollup`: the batcher's and the follower's halves of the rollup, on blocks
//! of the throughput benchmark's workload.
//!
//! 1. The sequencer: the workload's transfers (ETH, then ERC-20) through the pool and block
//!    production in process, timed per block (execution, state root, commit).
//! 2. The batcher's data path, once with brotli-10 (Fjord) and once with zlib-9: every block read
//!    from the database as a batch, span-batch channels built and compressed at the batcher's
//!    default sizes, framed, and `POST /put` to the built-in DA server over HTTP. Reported in
//!    blocks/s, MB/s of payload into DA, and the compression ratio (batch RLP / compressed).
//! 3. The follower's data path on the brotli channels: `GET /get` of each commitment, frames
//!    parsed and assembled, the channel decompressed, span batches split, transactions decoded
//!    and their signatures recovered, each block executed, its state root computed and committed
//!    on a second database; every block hash is checked against the sequencer's. Reported in
//!    blocks/s and Mgas/s beside the sequencer's own rate. L1 reads are not part of it (they
//!    cost one request per L1 block and are bounded by L1's block time, not by the node).

use super::{ceiling::InProcess, workload::Workload};
use alloy_primitives::{B128, Bytes};
use clap::Args;
use eyre::{WrapErr, bail, ensure, eyre};
use ol_batcher::{BatcherConfig, read_block};
use ol_chain::{
    Chain, DevEpochs,
    derivation::{BatchTransactions, recover_batch},
};
use ol_da::{DaClient, DaServer, DaServerConfig, DaStore, HttpDaClient, PutMode};
use ol_rollup::{
    Batch, ChannelBuilder, CompressionAlgo,
    batch::SpanBatch,
    channel::{
        AddBlockError, ChannelAssembler, ChannelAssemblerConfig, MAX_RLP_BYTES_PER_CHANNEL_FJORD,
    },
    frame::{encode_batcher_payload, parse_batcher_payload},
};
use serde::Serialize;
use std::{path::PathBuf, sync::Arc, time::Instant};

/// Measure the batcher and follower derivation (see the README's Benchmark section)
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct BenchRollupCommand {
    /// Senders, each a fresh account funded in the setup
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub senders: u64,

    /// Transactions of each kind per sender
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub rounds: u64,

    /// Block gas limit (lower makes more, smaller blocks)
    #[arg(long = "gas-limit", default_value_t = 30_000_000)]
    pub gas_limit: u64,

    /// Also write the results as JSON to this file
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,

    /// Also write the results as an HTML page of tables to this file
    #[arg(long, value_name = "FILE.html")]
    pub report: Option<PathBuf>,
}

/// The batcher's data path with one compression.
#[derive(Debug, Clone, Serialize)]
struct BatcherRun {
    compression: &'static str,
    blocks: u64,
    channels: usize,
    seconds: f64,
    blocks_per_s: f64,
    /// Payload bytes into DA per second, in MB (10^6 bytes).
    da_mb_per_s: f64,
    rlp_bytes: usize,
    da_bytes: usize,
    compression_ratio: f64,
}

/// Block production or derivation speed.
#[derive(Debug, Clone, Copy, Serialize)]
struct ChainRun {
    blocks: u64,
    gas: u64,
    seconds: f64,
    blocks_per_s: f64,
    mgas_per_s: f64,
}

impl ChainRun {
    fn new(blocks: u64, gas: u64, seconds: f64) -> Self {
        Self {
            blocks,
            gas,
            seconds,
            blocks_per_s: blocks as f64 / seconds,
            mgas_per_s: gas as f64 / 1e6 / seconds,
        }
    }
}

#[derive(Debug, Serialize)]
struct RollupReport {
    senders: u64,
    rounds: u64,
    gas_limit: u64,
    sequencer: ChainRun,
    sequencer_with_admission: ChainRun,
    batcher: Vec<BatcherRun>,
    derivation: ChainRun,
}

impl BenchRollupCommand {
    /// Runs the benchmark on a new tokio runtime.
    pub fn execute(self) -> eyre::Result<()> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .wrap_err("cannot start the tokio runtime")?;
        runtime.block_on(self.run())
    }

    async fn run(self) -> eyre::Result<()> {
        let workload = Workload::new(
            ol_primitives::dev::DEV_CHAIN_ID,
            self.senders as usize,
            self.rounds as usize,
        )?;
        println!(
            "sequencer: {} senders × {} rounds of ETH then ERC-20 transfers, gas limit {}…",
            self.senders, self.rounds, self.gas_limit
        );
        let node = InProcess::new(self.gas_limit)?;
        let (sequencer, sequencer_with_admission) =
            tokio::task::block_in_place(|| produce(&node, &workload))?;

        let dir = tempfile::tempdir()?;
        let server = DaServer::start(
            DaStore::open(&dir.path().join("da"))?,
            "127.0.0.1:0".parse()?,
            DaServerConfig::default(),
        )
        .await
        .wrap_err("starting the DA server")?;
        let da = HttpDaClient::new(
            &format!("http://{}", server.local_addr()),
            PutMode::Generic,
            std::time::Duration::from_secs(60),
        )?;

        let mut batcher = Vec::new();
        let mut brotli_commitments = Vec::new();
        for (name, algo) in [
            ("brotli-10", CompressionAlgo::BROTLI_10),
            ("zlib-9", CompressionAlgo::ZLIB_BEST),
        ] {
            println!("batcher ({name}): blocks → channels → DA…");
            let (run, commitments) = batch(&node.chain, &da, name, algo).await?;
            if algo == CompressionAlgo::BROTLI_10 {
                brotli_commitments = commitments;
            }
            batcher.push(run);
        }

        println!("follower: DA → channels → blocks, executed on a second database…");
        let derivation = derive(&node.chain, &da, &brotli_commitments, self.gas_limit).await?;
        server.stop().await?;

        let report = RollupReport {
            senders: self.senders,
            rounds: self.rounds,
            gas_limit: self.gas_limit,
            sequencer,
            sequencer_with_admission,
            batcher,
            derivation,
        };
        print_report(&report);
        crate::write_results(
            &report,
            "the rollup benchmark",
            self.json.as_deref(),
            self.report.as_deref(),
        )?;
        Ok(())
    }
}

/// Runs the workload through the in-process sequencer. Returns block production alone, and
/// block production with pool admission (decoding and signature recovery, which a follower does
/// while deriving).
fn produce(node: &InProcess, workload: &Workload) -> eyre::Result<(ChainRun, ChainRun)> {
    let (mut gas, mut blocks, mut producing, mut admitting) = (0, 0, 0.0, 0.0);
    for txs in std::iter::once(&workload.setup).chain(workload.phases.iter().map(|(_, txs)| txs)) {
        let started = Instant::now();
        node.admit(txs)?;
        admitting += started.elapsed().as_secs_f64();
        let started = Instant::now();
        let (_, phase_gas, phase_blocks) = node.drain()?;
        producing += started.elapsed().as_secs_f64();
        gas += phase_gas;
        blocks += phase_blocks;
    }
    Ok((
        ChainRun::new(blocks, gas, producing),
        ChainRun::new(blocks, gas, producing + admitting),
    ))
}

/// The batcher's data path over every block after genesis.
async fn batch(
    chain: &Chain,
    da: &HttpDaClient,
    name: &'static str,
    compression: CompressionAlgo,
) -> eyre::Result<(BatcherRun, Vec<ol_da::Commitment>)> {
    let config = BatcherConfig {
        compression,
        ..BatcherConfig::default()
    }
    .channel_config(&chain.spec().rollup);
    let head = chain.head().number;
    let started = Instant::now();
    let (mut rlp_bytes, mut da_bytes, mut next_id) = (0, 0, 0u128);
    let mut commitments = Vec::new();
    let mut open = ChannelBuilder::new(B128::from(next_id), config, 0);
    for number in 1..=head {
        let (meta, block) = read_block(chain.storage(), number)?;
        match open.add_block(&block, meta.starts_epoch) {
            Ok(()) => continue,
            Err(AddBlockError::Full(_)) => {}
            Err(err) => bail!("block {number} does not fit a channel: {err}"),
        }
        next_id += 1;
        let full = std::mem::replace(
            &mut open,
            ChannelBuilder::new(B128::from(next_id), config, 0),
        );
        let (rlp, posted) = post(full, da, &mut commitments).await?;
        rlp_bytes += rlp;
        da_bytes += posted;
        open.add_block(&block, meta.starts_epoch)
            .wrap_err_with(|| format!("block {number} in a fresh channel"))?;
    }
    let (rlp, posted) = post(open, da, &mut commitments).await?;
    rlp_bytes += rlp;
    da_bytes += posted;
    let seconds = started.elapsed().as_secs_f64();
    Ok((
        BatcherRun {
            compression: name,
            blocks: head,
            channels: commitments.len(),
            seconds,
            blocks_per_s: head as f64 / seconds,
            da_mb_per_s: da_bytes as f64 / 1e6 / seconds,
            rlp_bytes,
            da_bytes,
            compression_ratio: rlp_bytes as f64 / da_bytes as f64,
        },
        commitments,
    ))
}

/// Seals a channel and puts its frames to DA as one payload; returns (RLP bytes, payload bytes).
async fn post(
    channel: ChannelBuilder,
    da: &HttpDaClient,
    commitments: &mut Vec<ol_da::Commitment>,
) -> eyre::Result<(usize, usize)> {
    let Some(sealed) = channel.seal()? else {
        return Ok((0, 0));
    };
    ensure!(
        sealed.returned.is_empty(),
        "a channel gave back blocks; the benchmark channel sizes are too tight"
    );
    let payload = encode_batcher_payload(&sealed.frames)?;
    let len = payload.len();
    commitments.push(da.put(Bytes::from(payload)).await?);
    Ok((sealed.rlp_len, len))
}

/// The follower's data path: every channel from DA into blocks on a fresh database.
async fn derive(
    sequencer: &Chain,
    da: &HttpDaClient,
    commitments: &[ol_da::Commitment],
    gas_limit: u64,
) -> eyre::Result<ChainRun> {
    let dir = tempfile::tempdir()?;
    let storage = ol_storage::Storage::open(&dir.path().join("db"))?;
    storage.init_genesis(sequencer.spec())?;
    let follower = Chain::new(storage, Some(gas_limit))?;
    let rollup = sequencer.spec().rollup.clone();
    let genesis_l1 = rollup.genesis.l1.hash;
    let mut assembler = ChannelAssembler::new(ChannelAssemblerConfig::default());
    let (mut gas, mut blocks) = (0, 0);
    let started = Instant::now();
    for commitment in commitments {
        let payload = da.get(commitment).await?;
        let mut ready = None;
        for frame in parse_batcher_payload(&payload)? {
            ready = assembler
                .add_frame(frame, 0)
                .map_err(|err| eyre!("frame refused: {err:?}"))?
                .or(ready);
        }
        let channel = ready.ok_or_else(|| eyre!("a DA payload did not complete its channel"))?;
        let reader =
            ol_rollup::ChannelReader::new(&channel.data, MAX_RLP_BYTES_PER_CHANNEL_FJORD, true)?;
        for batch in reader {
            let Batch::Span(raw) = batch? else {
                bail!("the batcher wrote a singular batch");
            };
            let span = SpanBatch::from_raw(
                &raw,
                rollup.genesis.l2_time,
                rollup.block_time,
                rollup.l2_chain_id,
            )?;
            let singles = span.to_singular_batches(follower.head().hash(), |_| Some(genesis_l1))?;
            for single in singles {
                let follower = follower.clone();
                let (block_gas, hash) = tokio::task::block_in_place(move || {
                    execute(&follower, single.timestamp, &single.transactions)
                })?;
                let expected = sequencer
                    .storage()
                    .canonical_hash(blocks + 1)?
                    .ok_or_else(|| eyre!("the sequencer has no block {}", blocks + 1))?;
                ensure!(
                    hash == expected,
                    "derived block {} is {hash}, the sequencer's is {expected}",
                    blocks + 1
                );
                gas += block_gas;
                blocks += 1;
            }
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    ensure!(
        blocks == sequencer.head().number,
        "derived {blocks} blocks of {}",
        sequencer.head().number
    );
    Ok(ChainRun::new(blocks, gas, seconds))
}

/// Executes one batch on the follower's head; returns its gas and hash.
fn execute(
    chain: &Arc<Chain>,
    timestamp: u64,
    transactions: &[Bytes],
) -> eyre::Result<(u64, alloy_primitives::B256)> {
    let parent = chain.head();
    let next = DevEpochs::next(chain, &parent, timestamp);
    let mut source = BatchTransactions::new(recover_batch(transactions)?);
    let expected = 1 + transactions.len();
    let committed = chain
        .build_and_commit_if(&parent, &next.attributes, &mut source, |built| {
            built.transactions.len() == expected
        })?
        .ok_or_else(|| {
            eyre!(
                "block {} left out a batch transaction: {:?}",
                parent.number + 1,
                source.refused()
            )
        })?;
    Ok((committed.header.gas_used, committed.header.hash()))
}

fn print_report(report: &RollupReport) {
    let seq = report.sequencer;
    println!(
        "\nsequencer block production: {} blocks, {:.1} Mgas in {:.2} s: {:.1} blocks/s, {:.1} Mgas/s",
        seq.blocks,
        seq.gas as f64 / 1e6,
        seq.seconds,
        seq.blocks_per_s,
        seq.mgas_per_s
    );
    let admitted = report.sequencer_with_admission;
    println!(
        "with pool admission (decoding, signature recovery): {:.2} s: {:.1} blocks/s, {:.1} Mgas/s",
        admitted.seconds, admitted.blocks_per_s, admitted.mgas_per_s
    );
    println!(
        "{:<10} {:>8} {:>9} {:>10} {:>11} {:>12} {:>12} {:>7}",
        "batcher", "blocks", "channels", "blocks/s", "DA MB/s", "batch MB", "DA MB", "ratio"
    );
    for run in &report.batcher {
        println!(
            "{:<10} {:>8} {:>9} {:>10.1} {:>11.2} {:>12.2} {:>12.2} {:>7.2}",
            run.compression,
            run.blocks,
            run.channels,
            run.blocks_per_s,
            run.da_mb_per_s,
            run.rlp_bytes as f64 / 1e6,
            run.da_bytes as f64 / 1e6,
            run.compression_ratio
        );
    }
    let derive = report.derivation;
    println!(
        "follower derivation: {} blocks in {:.2} s: {:.1} blocks/s, {:.1} Mgas/s ({:.2}× the sequencer's block production, {:.2}× with its pool admission)",
        derive.blocks,
        derive.seconds,
        derive.blocks_per_s,
        derive.mgas_per_s,
        derive.mgas_per_s / seq.mgas_per_s,
        derive.mgas_per_s / admitted.mgas_per_s
    );
}
