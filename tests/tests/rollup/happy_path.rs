//! The devnet doing its job: L2 transactions, a deposit made on L1 with `cast` arriving on L2,
//! batches in the L1 inbox as `0x01`-prefixed DA commitments, a follower that agrees with the
//! sequencer on every block up to its safe head, and output roots on L1 equal to
//! `optimism_outputAtBlock`.

use crate::devnet::{
    Devnet, assert_same_chain, inbox_payloads, oracle_output, oracle_outputs, safe_number,
    wait_for_safe,
};
use alloy::{
    network::TransactionBuilder,
    primitives::{Address, U256},
    providers::Provider,
    rpc::types::TransactionRequest,
};
use eyre::{Result, ensure};
use ol_e2e::{dev_address, dev_private_key_hex, one_ether, raw_rpc, wait_for_receipt, wait_until};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_deposits_batches_follows_and_proposes() -> Result<()> {
    // The sequencer serves DA in process (`--da.builtin`); the follower reads it over HTTP.
    let devnet = Devnet::start(2, true).await?;
    let l2 = devnet.sequencer.provider();

    // An L2 transfer through the sequencer.
    let recipient = Address::repeat_byte(0x42);
    let sent = l2
        .send_transaction(
            TransactionRequest::default()
                .with_from(dev_address(0))
                .with_to(recipient)
                .with_value(U256::from(12_345)),
        )
        .await?;
    let receipt = wait_for_receipt(&l2, *sent.tx_hash()).await?;
    ensure!(receipt.status(), "the L2 transfer failed");

    // A transfer sent to the follower is forwarded to the sequencer and mined there.
    let forwarded = devnet
        .follower
        .provider()
        .send_transaction(
            TransactionRequest::default()
                .with_from(dev_address(1))
                .with_to(recipient)
                .with_value(U256::from(5)),
        )
        .await?;
    let forwarded = wait_for_receipt(&l2, *forwarded.tx_hash()).await?;
    ensure!(forwarded.status(), "the forwarded transfer failed");

    // A deposit on L1 with cast: 1 ether minted to a fresh L2 address.
    let depositee = Address::repeat_byte(0x77);
    let portal = devnet.address("optimismPortal")?.to_string();
    devnet
        .cast(&[
            "send",
            &portal,
            "depositTransaction(address,uint256,uint64,bool,bytes)",
            &depositee.to_string(),
            &one_ether().to_string(),
            "100000",
            "false",
            "0x",
            "--value",
            "1ether",
            "--private-key",
            &dev_private_key_hex(3),
        ])
        .await?;
    let deposit_block = wait_until(
        "the deposit on L2",
        Duration::from_secs(90),
        Duration::from_millis(500),
        async || {
            let balance = l2.get_balance(depositee).await?;
            if balance == one_ether() {
                Ok(Some(l2.get_block_number().await?))
            } else {
                Ok(None)
            }
        },
    )
    .await?;

    // A deposit whose call reverts on L2 (an unknown selector on the L1Block predeploy) still
    // mints to its sender and bumps its nonce; the value stays with the sender.
    let depositor = dev_address(3);
    let (balance_before, nonce_before) = (
        l2.get_balance(depositor).await?,
        l2.get_transaction_count(depositor).await?,
    );
    devnet
        .cast(&[
            "send",
            &portal,
            "depositTransaction(address,uint256,uint64,bool,bytes)",
            "0x4200000000000000000000000000000000000015",
            &one_ether().to_string(),
            "100000",
            "false",
            "0xdeadbeef",
            "--value",
            "1ether",
            "--private-key",
            &dev_private_key_hex(3),
        ])
        .await?;
    let failed_block = wait_until(
        "the failing deposit on L2",
        Duration::from_secs(90),
        Duration::from_millis(500),
        async || {
            if l2.get_transaction_count(depositor).await? == nonce_before + 1 {
                Ok(Some(l2.get_block_number().await?))
            } else {
                Ok(None)
            }
        },
    )
    .await?;
    ensure!(
        l2.get_balance(depositor).await? == balance_before + one_ether(),
        "a failed deposit must still mint to its sender"
    );
    // Hashes only: alloy's Ethereum types do not know the deposit transaction type.
    let block = l2
        .get_block_by_number(failed_block.into())
        .await?
        .ok_or_else(|| eyre::eyre!("block {failed_block}"))?;
    let deposit_hash = block
        .transactions
        .hashes()
        .nth(1)
        .ok_or_else(|| eyre::eyre!("no user deposit in block {failed_block}"))?;
    // The receipt raw: alloy's Ethereum receipt types do not know deposit receipts either.
    let failed = ol_e2e::raw_receipt(&l2, deposit_hash)
        .await?
        .ok_or_else(|| eyre::eyre!("no receipt for the failing deposit"))?;
    ensure!(
        failed["status"] == "0x0" && failed["type"] == "0x7e",
        "the reverting deposit's receipt: {failed}"
    );

    // The follower derives everything up to past the deposits and agrees block by block.
    let target = deposit_block
        .max(failed_block)
        .max(receipt.block_number.unwrap_or_default())
        .max(forwarded.block_number.unwrap_or_default());
    let safe = wait_for_safe(&devnet.follower, target, Duration::from_secs(120)).await?;
    let follower = devnet.follower.provider();
    assert_same_chain(&l2, &follower, safe).await?;
    ensure!(
        follower.get_balance(depositee).await? == one_ether(),
        "the follower lacks the deposit"
    );
    ensure!(
        follower.get_balance(recipient).await? == U256::from(12_350),
        "the follower lacks the L2 transfer"
    );
    // The sequencer's own safe head advances by consolidation.
    ensure!(
        safe_number(&devnet.sequencer).await? > 0,
        "the sequencer's safe head never advanced"
    );

    // Batches went through DA: every inbox transaction is 0x01 ++ commitment.
    let l1 = devnet.anvil.provider()?;
    let inbox = devnet.address("batchInbox")?;
    let payloads = inbox_payloads(&l1, inbox, 0, l1.get_block_number().await?).await?;
    ensure!(!payloads.is_empty(), "no batcher transactions on L1");
    for payload in &payloads {
        ensure!(
            payload.first() == Some(&0x01) && payload.len() > 3,
            "an inbox transaction is not an Alt-DA commitment: {payload}"
        );
    }

    // The proposer's outputs on L1 match optimism_outputAtBlock on both nodes.
    wait_until(
        "an output root on L1",
        Duration::from_secs(90),
        Duration::from_millis(500),
        async || Ok((oracle_outputs(&devnet).await? > 0).then_some(())),
    )
    .await?;
    let (root, number) = oracle_output(&devnet, 0).await?;
    ensure!(number > 0, "output for block 0");
    for node in [&devnet.sequencer, &devnet.follower] {
        wait_for_safe(node, number, Duration::from_secs(60)).await?;
        let output = raw_rpc(
            &node.provider(),
            "optimism_outputAtBlock",
            (format!("0x{number:x}"),),
        )
        .await?;
        ensure!(
            output["outputRoot"].as_str() == Some(&root.to_string()),
            "output root of block {number}: L1 {root}, node {output}"
        );
    }
    // A follower started from genesis now, long after the sequencer, catches up.
    let head = l2.get_block_number().await?;
    let late = ol_e2e::TestNode::start_chain(
        &devnet.genesis_path(),
        &devnet.rollup_path(),
        devnet.follower_args(),
    )
    .await?;
    let safe = wait_for_safe(&late, head, Duration::from_secs(120)).await?;
    assert_same_chain(&l2, &late.provider(), safe).await?;
    // Without --rollup.sequencer-http a follower refuses transactions it could never include.
    let fees = ol_e2e::generous_fees(&l2).await?;
    let nonce = l2.get_transaction_count(dev_address(2)).await?;
    let (_, raw) = ol_e2e::sign_transfer(
        &ol_e2e::dev_signer(2),
        nonce,
        recipient,
        U256::from(1),
        fees,
    )?;
    let refused = late.provider().send_raw_transaction(&raw).await;
    ensure!(
        refused
            .as_ref()
            .is_err_and(|err| err.to_string().contains("includes no transactions")),
        "a follower without a sequencer accepted a transaction: {refused:?}"
    );
    late.finish().await?;
    devnet.finish().await
}
