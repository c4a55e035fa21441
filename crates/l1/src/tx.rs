//! Sending L1 transactions from a local key (the batcher's inbox posts, the proposer's output
//! roots): build an EIP-1559 transaction from the endpoint's nonce, fees and gas estimate, sign it,
//! send it, and wait for its receipt.

use crate::{
    block::L1Receipt,
    client::{GasQuery, L1Client},
    error::L1Error,
};
use alloy::{
    consensus::{SignableTransaction, TxEip1559, TxEnvelope},
    eips::Encodable2718,
    primitives::{Address, B256, Bytes, TxKind, U256},
    signers::{SignerSync, local::PrivateKeySigner},
};
use std::time::{Duration, Instant};

/// A call to make on L1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct L1Call {
    /// Recipient.
    pub to: Address,
    /// Value in wei.
    pub value: U256,
    /// Calldata.
    pub input: Bytes,
    /// Gas limit; `None` estimates it and adds [`GAS_MARGIN_PERCENT`].
    pub gas_limit: Option<u64>,
}

/// Head-room added to an estimated gas limit: the estimate runs against the pending state, and a
/// contract call (an output proposal) may cost more by the time it is mined.
pub const GAS_MARGIN_PERCENT: u64 = 20;

/// A signed L1 transaction, ready to send (and to send again, byte for byte).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCall {
    /// The transaction hash.
    pub hash: B256,
    /// The nonce it was signed with.
    pub nonce: u64,
    /// The EIP-2718 encoding.
    pub raw: Bytes,
}

/// Signs `call` with `signer` for chain `chain_id`, with the endpoint's next nonce, fees and (when
/// `call.gas_limit` is `None`) gas estimate, without sending it. A caller that must survive a
/// crash between signing and sending (the batcher) records the result first, so that a restart
/// re-sends the very same transaction instead of a second one.
pub async fn sign_call<C: L1Client>(
    client: &C,
    signer: &PrivateKeySigner,
    chain_id: u64,
    call: L1Call,
) -> Result<SignedCall, L1Error> {
    let kind = TxKind::Call(call.to);
    sign_tx(
        client,
        signer,
        chain_id,
        kind,
        call.value,
        call.input,
        call.gas_limit,
    )
    .await
}

/// Signs the creation of a contract from `init_code` (creation code followed by the ABI-encoded
/// constructor arguments), with an estimated gas limit; the contract's address is
/// `signer.address().create(nonce)` of the result.
pub async fn sign_create<C: L1Client>(
    client: &C,
    signer: &PrivateKeySigner,
    chain_id: u64,
    init_code: Bytes,
) -> Result<SignedCall, L1Error> {
    sign_tx(
        client,
        signer,
        chain_id,
        TxKind::Create,
        U256::ZERO,
        init_code,
        None,
    )
    .await
}

async fn sign_tx<C: L1Client>(
    client: &C,
    signer: &PrivateKeySigner,
    chain_id: u64,
    to: TxKind,
    value: U256,
    input: Bytes,
    gas_limit: Option<u64>,
) -> Result<SignedCall, L1Error> {
    let from = signer.address();
    let nonce = client.nonce(from).await?;
    let fees = client.fees().await?;
    let gas_limit = match gas_limit {
        Some(gas) => gas,
        None => {
            let query = GasQuery {
                from,
                to,
                value,
                input: input.clone(),
            };
            let estimate = client.estimate_gas(query).await?;
            estimate.saturating_add(estimate * GAS_MARGIN_PERCENT / 100)
        }
    };
    let tx = TxEip1559 {
        chain_id,
        nonce,
        gas_limit,
        max_fee_per_gas: fees.max_fee_per_gas,
        max_priority_fee_per_gas: fees.max_priority_fee_per_gas,
        to,
        value,
        access_list: Default::default(),
        input,
    };
    let signature = signer
        .sign_hash_sync(&tx.signature_hash())
        .map_err(|err| L1Error::Signing(err.to_string()))?;
    let envelope = TxEnvelope::from(tx.into_signed(signature));
    Ok(SignedCall {
        hash: *envelope.tx_hash(),
        nonce,
        raw: envelope.encoded_2718().into(),
    })
}

/// Sends a transaction signed by [`sign_call`]; checks the endpoint acknowledges its hash.
pub async fn send_signed<C: L1Client>(client: &C, signed: &SignedCall) -> Result<B256, L1Error> {
    let sent = client.send_raw_transaction(signed.raw.clone()).await?;
    if sent != signed.hash {
        return Err(L1Error::InvalidResponse {
            method: "eth_sendRawTransaction",
            message: format!("sent {}, endpoint acknowledged {sent}", signed.hash),
        });
    }
    Ok(sent)
}

/// Signs `call` with `signer` for chain `chain_id` and sends it; returns the transaction hash.
pub async fn send_call<C: L1Client>(
    client: &C,
    signer: &PrivateKeySigner,
    chain_id: u64,
    call: L1Call,
) -> Result<B256, L1Error> {
    let signed = sign_call(client, signer, chain_id, call).await?;
    send_signed(client, &signed).await
}

/// Polls for the receipt of `hash` every `poll` until it is mined or `timeout` passes.
pub async fn wait_for_receipt<C: L1Client>(
    client: &C,
    hash: B256,
    poll: Duration,
    timeout: Duration,
) -> Result<L1Receipt, L1Error> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(receipt) = client.receipt(hash).await? {
            return Ok(receipt);
        }
        if Instant::now() >= deadline {
            return Err(L1Error::ReceiptTimeout { hash, timeout });
        }
        tokio::time::sleep(poll).await;
    }
}
