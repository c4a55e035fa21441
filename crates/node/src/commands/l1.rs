//! `openledger l1`: the rollup's L1 side. `l1 deploy` deploys its contracts and writes the
//! configuration files of the L2 chain anchored on them.

use alloy::signers::local::PrivateKeySigner;
use alloy_primitives::{Address, B256};
use clap::{Args, Subcommand};
use eyre::{WrapErr, bail, eyre};
use ol_l1::{
    DeployedRollup, HttpL1Client, RetryConfig, RollupDeployParams,
    contracts::{DEV_FINALIZATION_PERIOD_SECS, DEV_OUTPUT_INTERVAL},
    deploy_rollup,
};
use ol_primitives::dev::{DEV_CHAIN_ID, dev_signer};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Dev account that deploys by default (anvil's account 0).
const DEV_DEPLOYER_INDEX: u32 = 0;
/// Dev account of the batcher by default.
const DEV_BATCHER_INDEX: u32 = 8;
/// Dev account of the proposer by default.
const DEV_PROPOSER_INDEX: u32 = 9;
/// Dev account whose key signs the sequencer's unsafe blocks by default.
pub const DEV_UNSAFE_SIGNER_INDEX: u32 = 13;

/// The file names `l1 deploy` writes.
pub const ROLLUP_FILE: &str = "rollup.json";
/// The L2 genesis.
pub const GENESIS_FILE: &str = "genesis.json";
/// The deployment record.
pub const DEPLOYMENT_FILE: &str = "l1-deployment.json";

/// L1 tools.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct L1Command {
    /// The L1 command.
    #[command(subcommand)]
    pub command: L1Subcommand,
}

/// The L1 commands.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum L1Subcommand {
    /// Deploy the rollup's L1 contracts and write the chain's configuration
    ///
    /// Deploys OptimismPortal, SystemConfig and L2OutputOracle, then writes into --out:
    /// rollup.json (anchored at the L1 block that created SystemConfig), genesis.json (the dev
    /// L2 genesis starting at that block's timestamp) and l1-deployment.json (the addresses).
    /// Nothing is written unless the deployment succeeds. Then:
    /// `openledger init --genesis <OUT>/genesis.json --rollup-config <OUT>/rollup.json`.
    #[command(verbatim_doc_comment)]
    Deploy(L1DeployCommand),
}

/// `openledger l1 deploy`.
#[derive(Clone, PartialEq, Eq, Args)]
pub struct L1DeployCommand {
    /// L1 JSON-RPC endpoint
    #[arg(long = "l1.rpc", value_name = "URL")]
    pub l1_rpc: String,

    /// Private key (hex) of the deployer, who owns SystemConfig and is the oracle's challenger;
    /// defaults to dev account 0 of the `test … junk` mnemonic (anvil's first account)
    #[arg(
        long = "l1.deployer-key",
        value_name = "HEX",
        env = "OPENLEDGER_L1_DEPLOYER_KEY",
        hide_env_values = true
    )]
    pub deployer_key: Option<String>,

    /// Directory to write rollup.json, genesis.json and l1-deployment.json into
    #[arg(long = "out", value_name = "DIR")]
    pub out: PathBuf,

    /// L2 chain id
    #[arg(long = "l2.chain-id", value_name = "ID", default_value_t = DEV_CHAIN_ID)]
    pub l2_chain_id: u64,

    /// Seconds per L2 block
    #[arg(long = "block-time", value_name = "SECS", default_value_t = 1)]
    pub block_time: u64,

    /// L2 blocks between output proposals
    #[arg(long = "output-interval", value_name = "BLOCKS", default_value_t = DEV_OUTPUT_INTERVAL)]
    pub output_interval: u64,

    /// Seconds until a proposed output is final
    #[arg(
        long = "finalization-period",
        value_name = "SECS",
        default_value_t = DEV_FINALIZATION_PERIOD_SECS
    )]
    pub finalization_period: u64,

    /// Batcher address; defaults to dev account 8
    #[arg(long = "batcher", value_name = "ADDR")]
    pub batcher: Option<Address>,

    /// Proposer address; defaults to dev account 9
    #[arg(long = "proposer", value_name = "ADDR")]
    pub proposer: Option<Address>,

    /// Unsafe block signer set in SystemConfig (the address of the sequencer's
    /// `--p2p.sequencer.key`); defaults to dev account 13
    #[arg(long = "unsafe-block-signer", value_name = "ADDR")]
    pub unsafe_block_signer: Option<Address>,
}

impl std::fmt::Debug for L1DeployCommand {
    /// Everything but the key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("L1DeployCommand")
            .field("l1_rpc", &self.l1_rpc)
            .field(
                "deployer_key",
                &self.deployer_key.as_ref().map(|_| "<redacted>"),
            )
            .field("out", &self.out)
            .field("l2_chain_id", &self.l2_chain_id)
            .field("block_time", &self.block_time)
            .field("output_interval", &self.output_interval)
            .field("finalization_period", &self.finalization_period)
            .field("batcher", &self.batcher)
            .field("proposer", &self.proposer)
            .field("unsafe_block_signer", &self.unsafe_block_signer)
            .finish()
    }
}

/// `l1-deployment.json`: where the rollup's L1 contracts are and how they were set up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct L1Deployment {
    /// L1 chain id.
    pub l1_chain_id: u64,
    /// L2 chain id.
    pub l2_chain_id: u64,
    /// The deployer (SystemConfig owner, oracle challenger).
    pub deployer: Address,
    /// `OptimismPortal`.
    pub optimism_portal: Address,
    /// `SystemConfig`.
    pub system_config: Address,
    /// `L2OutputOracle`.
    pub l2_output_oracle: Address,
    /// The batcher.
    pub batcher: Address,
    /// The proposer.
    pub proposer: Address,
    /// Whose signature gossiped unsafe blocks need.
    #[serde(default)]
    pub unsafe_block_signer: Address,
    /// The batch inbox.
    pub batch_inbox: Address,
    /// The L1 block the rollup is anchored at.
    pub anchor: L1Anchor,
    /// L2 blocks between outputs.
    pub output_interval: u64,
    /// Seconds until an output is final.
    pub finalization_period_seconds: u64,
}

/// The anchor block in `l1-deployment.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct L1Anchor {
    /// Number.
    pub number: u64,
    /// Hash.
    pub hash: B256,
    /// Timestamp (the L2 genesis time).
    pub timestamp: u64,
}

impl L1Deployment {
    fn new(deployed: &DeployedRollup, params: &RollupDeployParams) -> Self {
        Self {
            l1_chain_id: deployed.l1_chain_id,
            l2_chain_id: params.l2_chain_id,
            deployer: deployed.deployer,
            optimism_portal: deployed.portal,
            system_config: deployed.system_config,
            l2_output_oracle: deployed.output_oracle,
            batcher: params.system_config.batcher_addr,
            proposer: params.proposer,
            unsafe_block_signer: params.unsafe_block_signer,
            batch_inbox: params.batch_inbox(),
            anchor: L1Anchor {
                number: deployed.block.number,
                hash: deployed.block.hash,
                timestamp: deployed.block.timestamp,
            },
            output_interval: params.output_interval,
            finalization_period_seconds: params.finalization_period_secs,
        }
    }
}

impl L1Command {
    /// Runs the command.
    pub fn execute(self) -> eyre::Result<()> {
        match self.command {
            L1Subcommand::Deploy(command) => command.execute(),
        }
    }
}

impl L1DeployCommand {
    /// Deploys, writes the three files and prints the addresses.
    pub fn execute(self) -> eyre::Result<()> {
        let deployment = self.deploy()?;
        println!("L1 chain id:     {}", deployment.l1_chain_id);
        println!("OptimismPortal:  {}", deployment.optimism_portal);
        println!("SystemConfig:    {}", deployment.system_config);
        println!("L2OutputOracle:  {}", deployment.l2_output_oracle);
        println!(
            "anchor:          #{} {} (L2 genesis time {})",
            deployment.anchor.number, deployment.anchor.hash, deployment.anchor.timestamp
        );
        println!("written to:      {}", self.out.display());
        Ok(())
    }

    /// The work of [`Self::execute`] without the printing.
    pub fn deploy(&self) -> eyre::Result<L1Deployment> {
        let deployer = match &self.deployer_key {
            Some(key) => key.trim().parse::<PrivateKeySigner>().map_err(|err| {
                eyre!("invalid --l1.deployer-key (expected a 32-byte hex private key): {err}")
            })?,
            None => dev_signer(DEV_DEPLOYER_INDEX),
        };
        let params = RollupDeployParams {
            l2_block_time: self.block_time,
            output_interval: self.output_interval,
            finalization_period_secs: self.finalization_period,
            unsafe_block_signer: self
                .unsafe_block_signer
                .unwrap_or_else(|| dev_signer(DEV_UNSAFE_SIGNER_INDEX).address()),
            ..RollupDeployParams::dev(
                self.l2_chain_id,
                self.batcher
                    .unwrap_or_else(|| dev_signer(DEV_BATCHER_INDEX).address()),
                self.proposer
                    .unwrap_or_else(|| dev_signer(DEV_PROPOSER_INDEX).address()),
            )
        };
        params.validate()?;
        // An earlier deployment's files are not overwritten: they describe a live chain.
        for name in [ROLLUP_FILE, GENESIS_FILE, DEPLOYMENT_FILE] {
            let path = self.out.join(name);
            if path.exists() {
                bail!(
                    "{} already exists: remove it or choose another --out",
                    path.display()
                );
            }
        }
        let client = HttpL1Client::new(&self.l1_rpc, RetryConfig::default())?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .wrap_err("cannot start the tokio runtime")?;
        let deployed = runtime
            .block_on(deploy_rollup(&client, &deployer, &params))
            .wrap_err_with(|| format!("deploying the rollup contracts on {}", self.l1_rpc))?;
        let spec = deployed
            .dev_chain_spec(&params)
            .wrap_err("building the L2 genesis of the deployment")?;
        let deployment = L1Deployment::new(&deployed, &params);
        let files = [
            (ROLLUP_FILE, serde_json::to_string_pretty(&spec.rollup)?),
            (GENESIS_FILE, serde_json::to_string_pretty(&spec.genesis)?),
            (DEPLOYMENT_FILE, serde_json::to_string_pretty(&deployment)?),
        ];
        write_files(&self.out, &files)?;
        Ok(deployment)
    }
}

fn write_files(dir: &Path, files: &[(&str, String)]) -> eyre::Result<()> {
    std::fs::create_dir_all(dir).wrap_err_with(|| format!("cannot create {}", dir.display()))?;
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::write(&path, format!("{text}\n"))
            .wrap_err_with(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}
