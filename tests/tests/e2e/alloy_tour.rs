//! `alloy_tour`: the everyday JSON-RPC surface driven by alloy — chain basics, a value transfer
//! with exact fee accounting (execution fee + OP L1 fee), a contract deployment, calls,
//! transactions, logs, a revert, nonces, code and storage.

use alloy::{
    network::TransactionBuilder,
    primitives::{Address, B256, U256, address},
    providers::Provider,
    rpc::types::TransactionRequest,
    sol_types::SolEvent,
};
use eyre::{Context as _, Result, ensure};
use ol_e2e::{
    DEV_ACCOUNT_COUNT, DEV_CHAIN_ID, TestNode, contracts::EventEmitter, dev_account_balance,
    dev_address, dev_signer, generous_fees, json_quantity, one_ether, raw_receipt, raw_rpc,
    sign_transfer, wait_for_block, wait_for_receipt,
};

/// A fresh address nobody funds at genesis.
const RECIPIENT: Address = address!("0x00000000000000000000000000000000000e2e01");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alloy_tour() -> Result<()> {
    let node = TestNode::start().await?;
    let provider = node.provider();

    // --- chain basics -------------------------------------------------------------------------
    let chain_id = provider.get_chain_id().await?;
    assert_eq!(chain_id, DEV_CHAIN_ID, "eth_chainId");
    let net_version = raw_rpc(&provider, "net_version", ()).await?;
    assert_eq!(
        net_version.as_str(),
        Some("1611"),
        "net_version is the chain id as a decimal string"
    );
    let client_version = raw_rpc(&provider, "web3_clientVersion", ()).await?;
    assert!(
        client_version.as_str().is_some_and(|v| !v.is_empty()),
        "web3_clientVersion must be a non-empty string, got {client_version}"
    );
    let gas_price = provider.get_gas_price().await?;
    assert!(
        gas_price > 0,
        "eth_gasPrice must be positive, got {gas_price}"
    );
    provider
        .get_max_priority_fee_per_gas()
        .await
        .wrap_err("eth_maxPriorityFeePerGas")?;
    let history = provider
        .get_fee_history(4, alloy::eips::BlockNumberOrTag::Latest, &[25.0, 75.0])
        .await
        .wrap_err("eth_feeHistory")?;
    assert!(
        !history.base_fee_per_gas.is_empty(),
        "eth_feeHistory returned no base fees"
    );

    // Every dev account starts with exactly 10,000 OPEN and nonce 0 (nothing was sent yet).
    for index in 0..DEV_ACCOUNT_COUNT {
        let addr = dev_address(index);
        assert_eq!(
            provider.get_balance(addr).await?,
            dev_account_balance(),
            "genesis balance of dev account {index} ({addr})"
        );
        assert_eq!(
            provider.get_transaction_count(addr).await?,
            0,
            "nonce of dev account {index}"
        );
    }

    // The chain is producing blocks; block 1+ starts with the L1-info deposit (type 0x7e).
    let head = provider.get_block_number().await?;
    wait_for_block(&provider, head.max(1) + 1).await?;
    let block1 = raw_rpc(&provider, "eth_getBlockByNumber", ("0x1", true)).await?;
    let first_tx = &block1["transactions"][0];
    assert_eq!(
        first_tx["type"].as_str(),
        Some("0x7e"),
        "the first transaction of block 1 must be the L1-info deposit (type 0x7e): {first_tx}"
    );

    // --- a value transfer, with exact fee accounting ------------------------------------------
    let sender = dev_address(1);
    let value = one_ether() + one_ether() / U256::from(2u64); // 1.5 OPEN
    let sender_before = provider.get_balance(sender).await?;
    let recipient_before = provider.get_balance(RECIPIENT).await?;
    assert_eq!(
        recipient_before,
        U256::ZERO,
        "{RECIPIENT} must be unfunded at genesis"
    );

    let tx = TransactionRequest::default()
        .with_from(sender)
        .with_to(RECIPIENT)
        .with_value(value);
    let hash = *provider
        .send_transaction(tx)
        .await
        .wrap_err("sending the transfer")?
        .tx_hash();
    let receipt = wait_for_receipt(&provider, hash).await?;
    assert!(receipt.status(), "the transfer failed: {receipt:?}");
    assert_eq!(receipt.from, sender, "receipt.from");
    assert_eq!(receipt.to, Some(RECIPIENT), "receipt.to");
    assert_eq!(receipt.gas_used, 21_000, "a plain transfer uses 21,000 gas");

    let raw = raw_receipt(&provider, hash)
        .await?
        .expect("the receipt exists: we just read it");
    let l1_fee = json_quantity(&raw, "l1Fee").wrap_err("OP receipts carry `l1Fee`")?;
    let execution_fee = U256::from(receipt.gas_used) * U256::from(receipt.effective_gas_price);
    let fee = execution_fee + l1_fee;
    let sender_after = provider.get_balance(sender).await?;
    let recipient_after = provider.get_balance(RECIPIENT).await?;
    assert_eq!(
        recipient_after - recipient_before,
        value,
        "the recipient gains exactly the value"
    );
    assert_eq!(
        sender_before - sender_after,
        value + fee,
        "the sender pays value + gasUsed*effectiveGasPrice ({execution_fee}) + l1Fee ({l1_fee})"
    );
    let tx_by_hash = provider
        .get_transaction_by_hash(hash)
        .await?
        .ok_or_else(|| eyre::eyre!("eth_getTransactionByHash({hash}) returned null"))?;
    assert_eq!(
        tx_by_hash.block_hash, receipt.block_hash,
        "tx and receipt agree on the block"
    );

    // The block that holds it lists it, after the L1-info deposit.
    let block_number = receipt
        .block_number
        .expect("mined receipt has a block number");
    let block = provider
        .get_block_by_number(block_number.into())
        .await?
        .ok_or_else(|| eyre::eyre!("block {block_number} not found"))?;
    let hashes: Vec<B256> = block.transactions.hashes().collect();
    let index = receipt
        .transaction_index
        .expect("mined receipt has an index") as usize;
    assert!(
        index >= 1,
        "user transactions come after the L1-info deposit, got index {index}"
    );
    assert_eq!(
        hashes.get(index),
        Some(&hash),
        "block {block_number} lists the tx at its index"
    );
    assert_eq!(
        Some(block.header.hash),
        receipt.block_hash,
        "receipt.blockHash is the block's hash"
    );
    let by_hash = provider
        .get_block_by_hash(block.header.hash)
        .await?
        .ok_or_else(|| eyre::eyre!("eth_getBlockByHash({}) returned null", block.header.hash))?;
    assert_eq!(
        by_hash.header.number, block_number,
        "eth_getBlockByHash finds the same block"
    );

    // --- deploy EventEmitter, call, transact, log ---------------------------------------------
    let deployer = dev_address(0); // the provider's default signer
    let deploy_hash = *EventEmitter::deploy_builder(provider.clone())
        .send()
        .await
        .wrap_err("sending the EventEmitter deployment")?
        .tx_hash();
    let deploy_receipt = wait_for_receipt(&provider, deploy_hash).await?;
    assert!(
        deploy_receipt.status(),
        "deployment failed: {deploy_receipt:?}"
    );
    let contract_address = deploy_receipt
        .contract_address
        .ok_or_else(|| eyre::eyre!("deployment receipt has no contractAddress"))?;
    assert_eq!(
        contract_address,
        deployer.create(deploy_receipt_nonce(&provider, deploy_hash).await?),
        "contractAddress is CREATE(deployer, nonce)"
    );
    let code = provider.get_code_at(contract_address).await?;
    assert_eq!(
        code,
        EventEmitter::DEPLOYED_BYTECODE,
        "eth_getCode returns the deployed bytecode"
    );

    let contract = EventEmitter::new(contract_address, provider.clone());
    assert_eq!(
        contract.value().call().await?,
        U256::ZERO,
        "value() before any store"
    );

    let store_hash = *contract.store(U256::from(42u64)).send().await?.tx_hash();
    let store_receipt = wait_for_receipt(&provider, store_hash).await?;
    assert!(
        store_receipt.status(),
        "store(42) failed: {store_receipt:?}"
    );
    let logs = store_receipt.logs();
    assert_eq!(logs.len(), 1, "store emits exactly one log: {logs:?}");
    let log = &logs[0];
    assert_eq!(log.address(), contract_address, "log emitter");
    let topics = log.topics();
    assert_eq!(
        topics.len(),
        3,
        "ValueChanged has two indexed params: {topics:?}"
    );
    assert_eq!(
        topics[0],
        EventEmitter::ValueChanged::SIGNATURE_HASH,
        "topic0 is the event signature"
    );
    assert_eq!(
        topics[1],
        deployer.into_word(),
        "topic1 is `by` (the sender)"
    );
    assert_eq!(topics[2], B256::ZERO, "topic2 is `oldValue` (0)");
    assert_eq!(
        log.data().data.as_ref(),
        U256::from(42u64).to_be_bytes::<32>().as_slice(),
        "data is `newValue` (42)"
    );
    let decoded = store_receipt
        .decoded_log::<EventEmitter::ValueChanged>()
        .ok_or_else(|| eyre::eyre!("the log does not decode as ValueChanged: {log:?}"))?;
    assert_eq!(decoded.by, deployer, "decoded `by`");
    assert_eq!(decoded.oldValue, U256::ZERO, "decoded `oldValue`");
    assert_eq!(decoded.newValue, U256::from(42u64), "decoded `newValue`");
    assert_eq!(log.block_hash, store_receipt.block_hash, "log.blockHash");
    assert_eq!(
        log.transaction_hash,
        Some(store_hash),
        "log.transactionHash"
    );

    assert_eq!(
        contract.value().call().await?,
        U256::from(42u64),
        "value() after store(42)"
    );
    let slot0 = provider
        .get_storage_at(contract_address, U256::ZERO)
        .await?;
    assert_eq!(slot0, U256::from(42u64), "eth_getStorageAt(contract, 0)");

    // --- a revert through eth_call (and eth_estimateGas) --------------------------------------
    match contract.fail(U256::from(7u64)).call().await {
        Ok(_) => eyre::bail!("fail(7) must revert, but eth_call succeeded"),
        Err(err) => {
            let refused = err
                .as_decoded_error::<EventEmitter::Refused>()
                .ok_or_else(|| {
                    eyre::eyre!(
                        "fail(7) must revert with Refused(7) revert data in the JSON-RPC error \
                     (message containing \"execution reverted\", data = revert bytes); got {err:?}"
                    )
                })?;
            assert_eq!(refused.code, U256::from(7u64), "Refused(code)");
        }
    }
    assert!(
        contract
            .fail(U256::from(7u64))
            .estimate_gas()
            .await
            .is_err(),
        "eth_estimateGas of a reverting call must fail"
    );
    let estimate = contract.store(U256::from(1u64)).estimate_gas().await?;
    assert!(
        estimate > 21_000,
        "eth_estimateGas of store(1) = {estimate}"
    );

    // --- pending vs latest nonce ---------------------------------------------------------------
    let account = dev_address(2);
    let signer = dev_signer(2);
    let latest_before = provider.get_transaction_count(account).latest().await?;
    // Send right after a new block so that the transaction most likely waits in the pool.
    let head = provider.get_block_number().await?;
    wait_for_block(&provider, head + 1).await?;
    let fees = generous_fees(&provider).await?;
    let (pending_hash, raw_tx) =
        sign_transfer(&signer, latest_before, RECIPIENT, U256::from(1u64), fees)?;
    let sent = provider.send_raw_transaction(&raw_tx).await?;
    assert_eq!(
        *sent.tx_hash(),
        pending_hash,
        "eth_sendRawTransaction returns the tx hash"
    );
    let pending_count = provider.get_transaction_count(account).pending().await?;
    let latest_count = provider.get_transaction_count(account).latest().await?;
    assert_eq!(
        pending_count,
        latest_before + 1,
        "eth_getTransactionCount(pending) counts the transaction right after sending"
    );
    ensure!(
        latest_count == latest_before || latest_count == latest_before + 1,
        "eth_getTransactionCount(latest) = {latest_count}, expected {latest_before} (in the pool) \
         or {} (already mined)",
        latest_before + 1
    );
    if latest_count == latest_before {
        eprintln!(
            "alloy_tour: observed pending ({pending_count}) ahead of latest ({latest_count})"
        );
    }
    let pending_receipt = wait_for_receipt(&provider, pending_hash).await?;
    assert!(pending_receipt.status(), "the nonce probe transfer failed");
    assert_eq!(
        provider.get_transaction_count(account).latest().await?,
        latest_before + 1,
        "latest nonce once mined"
    );
    assert_eq!(
        provider.get_transaction_count(account).pending().await?,
        latest_before + 1,
        "pending nonce once mined"
    );

    node.finish().await
}

/// The nonce the deployment transaction used.
async fn deploy_receipt_nonce(provider: &alloy::providers::DynProvider, hash: B256) -> Result<u64> {
    use alloy::consensus::Transaction as _;
    let tx = provider
        .get_transaction_by_hash(hash)
        .await?
        .ok_or_else(|| eyre::eyre!("eth_getTransactionByHash({hash}) returned null"))?;
    Ok(tx.nonce())
}
