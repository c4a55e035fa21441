//! `openledger genesis`.

use alloy_genesis::Genesis;
use alloy_primitives::{Bytes, hex};
use clap::{Args, Subcommand};
use eyre::{WrapErr, eyre};
use ol_primitives::{ChainSpec, RollupConfig};
use serde::Serialize;
use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

/// Genesis tools.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct GenesisCommand {
    /// The genesis command.
    #[command(subcommand)]
    pub command: GenesisSubcommand,
}

/// The genesis commands.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum GenesisSubcommand {
    /// Compute the state root and account roots of a genesis file
    ///
    /// Computes, in memory and without any database, the state root of the alloc and the
    /// storage root and code hash of every alloc account. Prints
    /// `{"stateRoot", "accounts": {"0x<address>": {"storageRoot", "codeHash"}}}` to stdout.
    #[command(verbatim_doc_comment)]
    Inspect(InspectCommand),
    /// Regenerate the embedded dev genesis from the compiled predeploys
    ///
    /// Writes `dev.json` (the genesis) and `dev-rollup.json` (the rollup configuration) with
    /// the runtime code of L1Block and L2ToL1MessagePasser, the PoA precompile's account, and
    /// the L2 contract suite (TimelockController, Governance, DatanetRegistry, ModelRegistry,
    /// Staking, InferenceMarket) constructed in place and initialised. The binary embeds the
    /// repository's `genesis/` copies: rebuild after regenerating them.
    #[command(verbatim_doc_comment)]
    Dev(DevGenesisCommand),
}

/// `openledger genesis inspect`.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct InspectCommand {
    /// The genesis file (go-ethereum format).
    #[arg(long = "genesis", value_name = "GENESIS_JSON")]
    pub genesis: PathBuf,
}

/// `openledger genesis dev`.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct DevGenesisCommand {
    /// Directory of the contract artifacts (`contracts/artifacts/`)
    ///
    /// `L1Block.json` and `L2ToL1MessagePasser.json` need a `deployedBytecode` hex string, the
    /// suite's contracts a `bytecode` (creation code), as `contracts/export-artifacts.sh`
    /// writes them.
    #[arg(long = "artifacts", value_name = "DIR", verbatim_doc_comment)]
    pub artifacts: PathBuf,

    /// Directory to write `dev.json` and `dev-rollup.json` into (the repository's `genesis/`)
    #[arg(long = "out", value_name = "DIR")]
    pub out: PathBuf,
}

/// What `genesis inspect` prints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GenesisReport {
    /// The genesis state root.
    pub state_root: String,
    /// Roots by lowercase `0x` address.
    pub accounts: BTreeMap<String, AccountReport>,
}

/// One account of [`GenesisReport`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountReport {
    /// Storage root.
    pub storage_root: String,
    /// Code hash (`keccak256("")` for accounts without code).
    pub code_hash: String,
}

impl GenesisCommand {
    /// Runs the command.
    pub fn execute(self) -> eyre::Result<()> {
        match self.command {
            GenesisSubcommand::Inspect(command) => command.execute(),
            GenesisSubcommand::Dev(command) => command.execute(),
        }
    }
}

impl InspectCommand {
    /// Runs the command.
    pub fn execute(self) -> eyre::Result<()> {
        let text = std::fs::read_to_string(&self.genesis)
            .wrap_err_with(|| format!("cannot read {}", self.genesis.display()))?;
        let genesis: Genesis = serde_json::from_str(&text).wrap_err_with(|| {
            format!(
                "{} is not a go-ethereum genesis file",
                self.genesis.display()
            )
        })?;
        println!("{}", serde_json::to_string_pretty(&inspect(genesis))?);
        Ok(())
    }
}

/// The roots of a genesis alloc.
pub fn inspect(genesis: Genesis) -> GenesisReport {
    // `genesis_roots` reads only the alloc; the rollup half of the spec is a placeholder.
    let rollup = RollupConfig::dev(genesis.config.chain_id);
    let roots = ol_storage::genesis_roots(&ChainSpec { genesis, rollup });
    GenesisReport {
        state_root: roots.state_root.to_string(),
        accounts: roots
            .accounts
            .into_iter()
            .map(|(address, (storage_root, code_hash))| {
                let report = AccountReport {
                    storage_root: storage_root.to_string(),
                    code_hash: code_hash.to_string(),
                };
                (format!("{address:#x}"), report)
            })
            .collect(),
    }
}

impl DevGenesisCommand {
    /// Runs the command.
    pub fn execute(self) -> eyre::Result<()> {
        let [genesis, rollup] = write_dev_genesis(&self.artifacts, &self.out)?;
        println!("wrote {}", genesis.display());
        println!("wrote {}", rollup.display());
        Ok(())
    }
}

/// File name of the dev genesis.
pub const DEV_GENESIS_FILE: &str = "dev.json";
/// File name of the dev rollup configuration.
pub const DEV_ROLLUP_FILE: &str = "dev-rollup.json";

/// Generates the dev genesis from the artifacts in `artifacts` and writes `dev.json` and
/// `dev-rollup.json` (pretty JSON, newline-terminated) into `out`; returns their paths.
pub fn write_dev_genesis(artifacts: &Path, out: &Path) -> eyre::Result<[PathBuf; 2]> {
    let l1_block = deployed_bytecode(&artifacts.join("L1Block.json"))?;
    let message_passer = deployed_bytecode(&artifacts.join("L2ToL1MessagePasser.json"))?;
    let (mut genesis, rollup) = ol_primitives::dev::generate_dev_genesis(l1_block, message_passer);
    let spec = ol_primitives::genesis::chain_spec(genesis.clone(), rollup.clone())
        .wrap_err("the generated dev genesis is inconsistent")?;
    let mut builder = ol_evm::genesis::GenesisBuilder::new(&spec);
    super::dev_suite::deploy(&mut builder, artifacts)?;
    genesis.alloc = builder.alloc()?;
    std::fs::create_dir_all(out).wrap_err_with(|| format!("cannot create {}", out.display()))?;
    let genesis_path = out.join(DEV_GENESIS_FILE);
    let rollup_path = out.join(DEV_ROLLUP_FILE);
    write_pretty_json(&genesis_path, &genesis)?;
    write_pretty_json(&rollup_path, &rollup)?;
    Ok([genesis_path, rollup_path])
}

fn write_pretty_json(path: &Path, value: &impl Serialize) -> eyre::Result<()> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    std::fs::write(path, text).wrap_err_with(|| format!("cannot write {}", path.display()))
}

/// The `deployedBytecode` of a contract artifact.
fn deployed_bytecode(path: &Path) -> eyre::Result<Bytes> {
    let text = std::fs::read_to_string(path)
        .wrap_err_with(|| format!("cannot read {}", path.display()))?;
    let artifact: serde_json::Value =
        serde_json::from_str(&text).wrap_err_with(|| format!("{} is not JSON", path.display()))?;
    let code = artifact
        .get("deployedBytecode")
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| eyre!("{} has no `deployedBytecode` string", path.display()))?;
    let code = hex::decode(code)
        .wrap_err_with(|| format!("the deployedBytecode of {} is not hex", path.display()))?;
    if code.is_empty() {
        return Err(eyre!("the deployedBytecode of {} is empty", path.display()));
    }
    Ok(code.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo_root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
    }

    /// The committed dev genesis must be what the generator writes from the committed artifacts:
    /// after changing the predeploys or the generator, run
    /// `cargo run -p openledger -- genesis dev --artifacts contracts/artifacts --out genesis`.
    #[test]
    fn committed_dev_genesis_is_up_to_date() {
        let root = repo_root();
        let out = tempfile::tempdir().unwrap();
        write_dev_genesis(&root.join("contracts/artifacts"), out.path()).unwrap();
        for file in [DEV_GENESIS_FILE, DEV_ROLLUP_FILE] {
            let committed = std::fs::read(root.join("genesis").join(file)).unwrap();
            let generated = std::fs::read(out.path().join(file)).unwrap();
            assert!(
                committed == generated,
                "genesis/{file} is stale: run `cargo run -p openledger -- genesis dev \
                 --artifacts contracts/artifacts --out genesis`"
            );
        }
    }

    #[test]
    fn inspect_lists_every_alloc_account_in_lowercase() {
        let spec = ol_primitives::dev::dev_chain_spec(None, 0).unwrap();
        let expected = ol_storage::genesis_roots(&spec);
        let report = inspect(spec.genesis.clone());
        assert_eq!(report.state_root, expected.state_root.to_string());
        assert_eq!(report.accounts.len(), spec.genesis.alloc.len());
        for key in report.accounts.keys() {
            assert_eq!(key, &key.to_lowercase());
            assert_eq!(key.len(), 42);
        }
        let passer = format!("{:#x}", ol_primitives::addresses::L2_TO_L1_MESSAGE_PASSER);
        assert_eq!(
            report.accounts[&passer].storage_root,
            expected.withdrawals_root.to_string()
        );
    }

    #[test]
    fn missing_bytecode_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("L1Block.json"), r#"{"bytecode":"0x00"}"#).unwrap();
        let err = write_dev_genesis(dir.path(), dir.path()).unwrap_err();
        assert!(err.to_string().contains("deployedBytecode"), "{err}");
    }
}
