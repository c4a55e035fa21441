//! End-to-end tests of the JSON-RPC surface beyond the everyday tour: block and transaction
//! lookups by position, block receipts and block tags, `eth_getLogs` and installed filters,
//! `eth_simulateV1` against anvil's, the `txpool` namespace, the WebSocket server with
//! `eth_subscribe`, `eth_getProof`, the Prometheus metrics of RPC calls and the pool, the
//! `trace_` and `ots_` namespaces explorers read, the attribution explorer's pages, a viem dApp client, an ethers v6 script,
//! forge (`forge script --broadcast`, `forge test --fork-url`), and the matrix of bad input the
//! node must refuse without a change of state. Each test starts its own node (own temporary
//! data directory and ports) and checks values, not just shapes.
//!
//! ```text
//! cargo build -p openledger
//! cargo test -p ol-e2e --test rpc                 # all of them
//! cargo test -p ol-e2e --test rpc logs            # some of them
//! ```

mod access_list;
mod bad_input;
mod blocks;
mod debug;
mod dev_tools;
mod ethers;
mod explorer;
mod explorer_pages;
mod geth_fidelity;
mod logs;
mod metrics;
mod optimism;
mod proof;
mod simulate;
mod txpool;
mod versus_anvil;
mod viem;
mod ws;

use alloy::{
    primitives::{Address, B256, U256},
    providers::{DynProvider, Provider},
    rpc::types::TransactionReceipt,
};
use eyre::{Result, ensure, eyre};
use ol_e2e::{contracts::EventEmitter, dev_address, wait_for_receipt};

/// Deploys an `EventEmitter` from dev account 0; returns its address and the deployment receipt.
pub(crate) async fn deploy_emitter(
    provider: &DynProvider,
) -> Result<(Address, TransactionReceipt)> {
    let hash = *EventEmitter::deploy_builder(provider.clone())
        .send()
        .await?
        .tx_hash();
    let receipt = wait_for_receipt(provider, hash).await?;
    ensure!(receipt.status(), "deployment failed: {receipt:?}");
    let address = receipt
        .contract_address
        .ok_or_else(|| eyre!("deployment receipt without contractAddress"))?;
    Ok((address, receipt))
}

/// Calls `store(value)` from dev account `from` and waits for the receipt, which must succeed.
pub(crate) async fn store(
    provider: &DynProvider,
    contract: Address,
    from: u32,
    value: u64,
) -> Result<TransactionReceipt> {
    let emitter = EventEmitter::new(contract, provider.clone());
    let hash = *emitter
        .store(U256::from(value))
        .from(dev_address(from))
        .send()
        .await?
        .tx_hash();
    let receipt = wait_for_receipt(provider, hash).await?;
    ensure!(receipt.status(), "store({value}) failed: {receipt:?}");
    Ok(receipt)
}

/// An address as a 32-byte topic.
pub(crate) fn address_topic(address: Address) -> B256 {
    address.into_word()
}

/// A number as a 32-byte topic.
pub(crate) fn number_topic(value: u64) -> B256 {
    B256::from(U256::from(value))
}

pub(crate) use ol_e2e::rpc_error;

/// Waits until the head moves past its current number, so that what follows has nearly a whole
/// block time before the next block.
pub(crate) async fn wait_for_next_block(provider: &DynProvider) -> Result<u64> {
    let head = provider.get_block_number().await?;
    ol_e2e::wait_for_block(provider, head + 1).await
}
