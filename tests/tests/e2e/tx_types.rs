//! `transaction_types`: every transaction type the chain accepts from users is mined with a
//! receipt of its type (legacy with EIP-155, EIP-2930, EIP-1559, EIP-7702 with a delegation that
//! takes effect), and the types it refuses (pre-EIP-155 legacy, EIP-4844 blobs, deposits) are
//! refused over RPC with go-ethereum's messages and change nothing.

use alloy::{
    consensus::{SignableTransaction, TxEip2930, TxEip7702, TxEnvelope, TxLegacy},
    eips::{
        eip2718::Encodable2718, eip2930::AccessList, eip2930::AccessListItem,
        eip7702::Authorization,
    },
    network::TxSignerSync,
    primitives::{Address, B256, Bytes, TxKind, U256, address},
    providers::Provider,
    signers::SignerSync,
};
use eyre::{Result, ensure};
use ol_e2e::{
    DEV_CHAIN_ID, TestNode, dev_address, dev_signer, generous_fees, raw_receipt, wait_for_receipt,
};

const RECIPIENT: Address = address!("0x00000000000000000000000000000000000e2e07");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transaction_types() -> Result<()> {
    let node = TestNode::start().await?;
    let provider = node.provider();
    let fees = generous_fees(&provider).await?;
    let signer = dev_signer(5);
    let sender = dev_address(5);
    let mut nonce = provider.get_transaction_count(sender).await?;

    // Legacy, replay-protected.
    let mut legacy = TxLegacy {
        chain_id: Some(DEV_CHAIN_ID),
        nonce,
        gas_price: fees.max_fee_per_gas,
        gas_limit: 21_000,
        to: TxKind::Call(RECIPIENT),
        value: U256::from(1),
        input: Bytes::new(),
    };
    let signature = signer.sign_transaction_sync(&mut legacy)?;
    let legacy = TxEnvelope::from(legacy.into_signed(signature));
    nonce += 1;

    // EIP-2930 with an access list.
    let mut eip2930 = TxEip2930 {
        chain_id: DEV_CHAIN_ID,
        nonce,
        gas_price: fees.max_fee_per_gas,
        gas_limit: 30_000,
        to: TxKind::Call(RECIPIENT),
        value: U256::from(2),
        access_list: AccessList(vec![AccessListItem {
            address: RECIPIENT,
            storage_keys: vec![B256::ZERO],
        }]),
        input: Bytes::new(),
    };
    let signature = signer.sign_transaction_sync(&mut eip2930)?;
    let eip2930 = TxEnvelope::from(eip2930.into_signed(signature));
    nonce += 1;

    // EIP-7702: account 6 delegates its code to an address, in a transaction sent by account 5.
    let authority = dev_signer(6);
    let delegate = address!("0x00000000000000000000000000000000000d7702");
    let authorization = Authorization {
        chain_id: U256::from(DEV_CHAIN_ID),
        address: delegate,
        nonce: provider.get_transaction_count(authority.address()).await?,
    };
    let auth_signature = authority.sign_hash_sync(&authorization.signature_hash())?;
    let mut eip7702 = TxEip7702 {
        chain_id: DEV_CHAIN_ID,
        nonce,
        gas_limit: 100_000,
        max_fee_per_gas: fees.max_fee_per_gas,
        max_priority_fee_per_gas: fees.max_priority_fee_per_gas,
        to: RECIPIENT,
        value: U256::from(3),
        access_list: Default::default(),
        authorization_list: vec![authorization.into_signed(auth_signature)],
        input: Bytes::new(),
    };
    let signature = signer.sign_transaction_sync(&mut eip7702)?;
    let eip7702 = TxEnvelope::from(eip7702.into_signed(signature));

    for (envelope, expected_type) in [(&legacy, "0x0"), (&eip2930, "0x1"), (&eip7702, "0x4")] {
        let sent = provider
            .send_raw_transaction(&envelope.encoded_2718())
            .await?;
        let receipt = wait_for_receipt(&provider, *sent.tx_hash()).await?;
        ensure!(
            receipt.status(),
            "{expected_type} transaction failed: {receipt:?}"
        );
        let raw = raw_receipt(&provider, *sent.tx_hash())
            .await?
            .expect("receipt exists");
        ensure!(
            raw["type"] == expected_type,
            "receipt type {} is not {expected_type}",
            raw["type"]
        );
        ensure!(
            raw.get("l1Fee").is_some(),
            "receipt of {expected_type} lacks the OP l1Fee field"
        );
    }
    let code = provider.get_code_at(authority.address()).await?;
    let mut designator = vec![0xef, 0x01, 0x00];
    designator.extend_from_slice(delegate.as_slice());
    ensure!(
        code.as_ref() == designator.as_slice(),
        "the 7702 delegation is in place: code {code}"
    );
    ensure!(
        provider.get_balance(RECIPIENT).await? == U256::from(6),
        "all three values arrived"
    );

    // Refused types change nothing.
    let balance_before = provider.get_balance(sender).await?;
    let nonce_before = provider.get_transaction_count(sender).await?;
    let mut unprotected = TxLegacy {
        chain_id: None,
        nonce: nonce_before,
        gas_price: fees.max_fee_per_gas,
        gas_limit: 21_000,
        to: TxKind::Call(RECIPIENT),
        value: U256::from(1),
        input: Bytes::new(),
    };
    let signature = signer.sign_transaction_sync(&mut unprotected)?;
    let unprotected = TxEnvelope::from(unprotected.into_signed(signature)).encoded_2718();
    let blob = [&[0x03u8][..], &alloy::rlp::encode(vec![0u8; 8])[..]].concat();
    let deposit = [&[0x7eu8][..], &alloy::rlp::encode(vec![0u8; 8])[..]].concat();
    for (raw, message) in [
        (
            unprotected,
            "only replay-protected (EIP-155) transactions allowed over RPC",
        ),
        (blob, "transaction type not supported"),
        (deposit, "transaction type not supported"),
    ] {
        let err = provider
            .send_raw_transaction(&raw)
            .await
            .expect_err("refused");
        let payload = err.as_error_resp().expect("a JSON-RPC error");
        ensure!(
            payload.code == -32000,
            "code {} for {message}",
            payload.code
        );
        ensure!(
            payload.message == message,
            "message {:?}, expected {message:?}",
            payload.message
        );
    }
    ensure!(
        provider.get_balance(sender).await? == balance_before,
        "refusals change no balance"
    );
    ensure!(
        provider.get_transaction_count(sender).pending().await? == nonce_before,
        "nor the nonce"
    );
    node.finish().await
}
