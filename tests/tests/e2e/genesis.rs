//! Genesis state against independent implementations:
//!
//! * `genesis_state_root_matches_python_trie`: the state root of `genesis/dev.json` computed by
//!   `tests/scripts/genesis_root.py` (py-trie) equals `openledger genesis inspect`'s and block 0's
//!   of a running dev node;
//! * `genesis_account_roots_match_anvil`: every alloc account's storage root and code hash from
//!   `openledger genesis inspect` equal anvil's (`eth_getProof`) for the same alloc.

use std::{collections::BTreeMap, path::Path};

use alloy::{
    primitives::{Address, B256},
    providers::Provider,
};
use eyre::{Context as _, Result, ensure, eyre};
use ol_e2e::{
    AnvilProcess, CommandOutput, DEV_CHAIN_ID, TestNode, dev_genesis_path, openledger_bin,
    repo_file, run_command,
};
use serde_json::{Map, Value, json};

/// Per-account roots: address (lowercase `0x` hex) → (storage root, code hash).
type AccountRoots = BTreeMap<String, (B256, B256)>;

/// The dev genesis, checked to exist.
fn genesis_file() -> Result<std::path::PathBuf> {
    let path = dev_genesis_path();
    ensure!(
        path.is_file(),
        "the dev genesis {} does not exist",
        path.display()
    );
    Ok(path)
}

fn normalize_address(key: &str) -> Result<String> {
    let address: Address = key
        .parse()
        .wrap_err_with(|| format!("{key:?} is not an address"))?;
    Ok(format!("{address:#x}"))
}

fn b256_field(object: &Value, field: &str, context: &str) -> Result<B256> {
    object
        .get(field)
        .and_then(Value::as_str)
        .ok_or_else(|| eyre!("{context}: `{field}` missing or not a string in {object}"))?
        .parse()
        .wrap_err_with(|| format!("{context}: `{field}` is not 32-byte hex"))
}

/// Parses `{"stateRoot", "accounts": {addr: {storageRoot, codeHash}}}` (the shape of both
/// `openledger genesis inspect` and `genesis_root.py --json`).
fn parse_roots(report: &Value, context: &str) -> Result<(B256, AccountRoots)> {
    let state_root = b256_field(report, "stateRoot", context)?;
    let accounts = report
        .get("accounts")
        .and_then(Value::as_object)
        .ok_or_else(|| eyre!("{context}: no `accounts` object"))?;
    let mut roots = AccountRoots::new();
    for (key, account) in accounts {
        let what = format!("{context}: account {key}");
        let entry = (
            b256_field(account, "storageRoot", &what)?,
            b256_field(account, "codeHash", &what)?,
        );
        roots.insert(normalize_address(key)?, entry);
    }
    Ok((state_root, roots))
}

/// Runs `openledger genesis inspect --genesis <file>`.
async fn inspect(genesis: &Path, cwd: &Path) -> Result<(CommandOutput, B256, AccountRoots)> {
    let output = run_command(
        &openledger_bin()?,
        &[
            "genesis".as_ref(),
            "inspect".as_ref(),
            "--genesis".as_ref(),
            genesis.as_os_str(),
        ],
        cwd,
    )
    .await?
    .ensure_success()?;
    let (root, accounts) = parse_roots(&output.json()?, "openledger genesis inspect")?;
    Ok((output, root, accounts))
}

/// The alloc addresses of a genesis file (lowercase `0x` hex).
fn alloc_addresses(genesis: &Value) -> Result<Vec<String>> {
    genesis
        .get("alloc")
        .and_then(Value::as_object)
        .ok_or_else(|| eyre!("the genesis has no `alloc` object"))?
        .keys()
        .map(|key| normalize_address(key))
        .collect()
}

/// Lists the accounts whose roots differ, or that only one side has.
fn diff_roots(
    left_name: &str,
    left: &AccountRoots,
    right_name: &str,
    right: &AccountRoots,
) -> Vec<String> {
    let mut diffs = Vec::new();
    for (address, roots) in left {
        match right.get(address) {
            None => diffs.push(format!("{address}: only in {left_name}")),
            Some(other) if other != roots => diffs.push(format!(
                "{address}: {left_name} (storageRoot {}, codeHash {}) vs {right_name} (storageRoot {}, codeHash {})",
                roots.0, roots.1, other.0, other.1
            )),
            Some(_) => {}
        }
    }
    for address in right.keys().filter(|a| !left.contains_key(*a)) {
        diffs.push(format!("{address}: only in {right_name}"));
    }
    diffs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn genesis_state_root_matches_python_trie() -> Result<()> {
    let genesis = genesis_file()?;
    let script = repo_file("tests/scripts/genesis_root.py")?;
    let scratch = tempfile::tempdir()?;

    // The independent computation (py-trie).
    let python = run_command(
        Path::new("python3"),
        &[script.as_os_str(), "--json".as_ref(), genesis.as_os_str()],
        scratch.path(),
    )
    .await
    .wrap_err("running python3 (is it installed?)")?;
    ensure!(
        python.status.success(),
        "genesis_root.py failed (install its packages: pip install -r tests/requirements.txt):\n{python}"
    );
    let (python_root, python_accounts) = parse_roots(&python.json()?, "genesis_root.py")?;
    // The plain output (no --json) is the same root.
    let plain = run_command(
        Path::new("python3"),
        &[script.as_os_str(), genesis.as_os_str()],
        scratch.path(),
    )
    .await?
    .ensure_success()?;
    assert_eq!(
        plain.stdout.trim(),
        format!("{python_root:#x}"),
        "genesis_root.py plain output"
    );

    // Ours, offline.
    let (_, inspect_root, inspect_accounts) = inspect(&genesis, scratch.path()).await?;
    let diffs = diff_roots(
        "genesis_root.py",
        &python_accounts,
        "openledger genesis inspect",
        &inspect_accounts,
    );
    ensure!(
        diffs.is_empty(),
        "per-account roots differ:\n{}",
        diffs.join("\n")
    );
    let genesis_json: Value = serde_json::from_str(&std::fs::read_to_string(&genesis)?)?;
    let alloc: Vec<String> = alloc_addresses(&genesis_json)?;
    ensure!(
        inspect_accounts.keys().cloned().collect::<Vec<_>>() == {
            let mut sorted = alloc.clone();
            sorted.sort();
            sorted
        },
        "openledger genesis inspect must list exactly the alloc accounts"
    );
    assert_eq!(
        inspect_root, python_root,
        "state root: openledger genesis inspect vs genesis_root.py (py-trie)"
    );

    // Ours, live: block 0 of a dev node.
    let node = TestNode::start().await?;
    let provider = node.provider();
    let block0 = provider
        .get_block_by_number(0u64.into())
        .await?
        .ok_or_else(|| eyre!("block 0 not found"))?;
    assert_eq!(
        block0.header.state_root, python_root,
        "block 0's stateRoot vs genesis_root.py"
    );
    assert_eq!(
        provider.get_chain_id().await?,
        DEV_CHAIN_ID,
        "the dev node runs the dev chain"
    );
    node.finish().await
}

/// A copy of the genesis anvil can load: the alloc with zero-valued storage slots dropped (anvil
/// stores them as trie leaves; go-ethereum — and we — treat them as absent) and a minimal config.
fn genesis_for_anvil(genesis: &Value) -> Result<Value> {
    let alloc = genesis
        .get("alloc")
        .and_then(Value::as_object)
        .ok_or_else(|| eyre!("the genesis has no `alloc` object"))?;
    let mut filtered = Map::new();
    for (address, account) in alloc {
        let mut account = account.clone();
        if let Some(storage) = account.get_mut("storage").and_then(Value::as_object_mut) {
            storage.retain(|_, value| {
                value
                    .as_str()
                    .is_none_or(|v| v.trim_start_matches("0x").chars().any(|c| c != '0'))
            });
        }
        filtered.insert(address.clone(), account);
    }
    let chain_id = genesis
        .pointer("/config/chainId")
        .and_then(Value::as_u64)
        .unwrap_or(DEV_CHAIN_ID);
    let mut copy = json!({ "config": { "chainId": chain_id }, "alloc": filtered });
    for field in ["gasLimit", "timestamp", "extraData"] {
        if let Some(value) = genesis.get(field) {
            copy[field] = value.clone();
        }
    }
    Ok(copy)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn genesis_account_roots_match_anvil() -> Result<()> {
    let genesis = genesis_file()?;
    let scratch = tempfile::tempdir()?;
    let genesis_json: Value = serde_json::from_str(&std::fs::read_to_string(&genesis)?)
        .wrap_err_with(|| format!("parsing {}", genesis.display()))?;
    let anvil_genesis = scratch.path().join("anvil-genesis.json");
    std::fs::write(
        &anvil_genesis,
        serde_json::to_vec_pretty(&genesis_for_anvil(&genesis_json)?)?,
    )?;

    let (_, _, ours) = inspect(&genesis, scratch.path()).await?;

    let anvil = AnvilProcess::start(
        &["--init".as_ref(), anvil_genesis.as_os_str()],
        &scratch.path().join("anvil.log"),
    )
    .await?;
    let provider = anvil.provider()?;
    let mut theirs = AccountRoots::new();
    for address in alloc_addresses(&genesis_json)? {
        let proof = provider
            .get_proof(address.parse()?, Vec::new())
            .latest()
            .await
            .wrap_err_with(|| format!("anvil eth_getProof({address})"))?;
        theirs.insert(address, (proof.storage_hash, proof.code_hash));
    }
    drop(anvil);

    ensure!(!theirs.is_empty(), "the dev genesis alloc is empty");
    let diffs = diff_roots("anvil", &theirs, "openledger genesis inspect", &ours);
    ensure!(
        diffs.is_empty(),
        "storage roots / code hashes differ for {} of {} alloc accounts:\n{}",
        diffs.len(),
        theirs.len(),
        diffs.join("\n")
    );
    Ok(())
}
