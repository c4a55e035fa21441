//! One transaction as a span batch stores it, and its conversion to and from EIP-2718 bytes.
//!
//! A span batch splits each transaction into columns (signature, `to`, nonce, gas, y-parity,
//! protection) and keeps the rest as `tx_data`, whose encoding depends on the type:
//! legacy `rlp(value, gasPrice, data)`, `0x01 ++ rlp(value, gasPrice, data, accessList)`,
//! `0x02 ++ rlp(value, maxPriorityFee, maxFee, data, accessList)` and (Isthmus)
//! `0x04 ++ rlp(value, maxPriorityFee, maxFee, data, accessList, authorizationList)`
//! (specs `protocol/delta/span-batches.md`, `protocol/isthmus/derivation.md`). The chain id is
//! not stored; the reader supplies its own.

use super::SpanBatchError;
use alloy_consensus::{SignableTransaction, TxEip1559, TxEip2930, TxEip7702, TxLegacy};
use alloy_eips::{
    Typed2718,
    eip2718::{Decodable2718, Encodable2718},
    eip2930::AccessList,
    eip7702::SignedAuthorization,
};
use alloy_primitives::{Address, Bytes, Signature, TxKind, U256};
use alloy_rlp::{Decodable, Encodable, Header};
use op_alloy_consensus::OpTxEnvelope;

/// EIP-2930 transaction type byte.
const EIP2930_TYPE: u8 = 0x01;
/// EIP-1559 transaction type byte.
const EIP1559_TYPE: u8 = 0x02;
/// EIP-7702 transaction type byte.
const EIP7702_TYPE: u8 = 0x04;

/// The type-specific part of a span batch transaction (`tx_data`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpanTxData {
    /// A legacy transaction.
    Legacy {
        /// Wei transferred.
        value: U256,
        /// Gas price.
        gas_price: u128,
        /// Call data or init code.
        data: Bytes,
    },
    /// An EIP-2930 transaction.
    Eip2930 {
        /// Wei transferred.
        value: U256,
        /// Gas price.
        gas_price: u128,
        /// Call data or init code.
        data: Bytes,
        /// Access list.
        access_list: AccessList,
    },
    /// An EIP-1559 transaction.
    Eip1559 {
        /// Wei transferred.
        value: U256,
        /// Priority fee cap.
        max_priority_fee_per_gas: u128,
        /// Fee cap.
        max_fee_per_gas: u128,
        /// Call data or init code.
        data: Bytes,
        /// Access list.
        access_list: AccessList,
    },
    /// An EIP-7702 transaction.
    Eip7702 {
        /// Wei transferred.
        value: U256,
        /// Priority fee cap.
        max_priority_fee_per_gas: u128,
        /// Fee cap.
        max_fee_per_gas: u128,
        /// Call data.
        data: Bytes,
        /// Access list.
        access_list: AccessList,
        /// Signed delegations.
        authorization_list: Vec<SignedAuthorization>,
    },
}

impl SpanTxData {
    /// Whether this is a legacy transaction (the only kind with a protected bit).
    pub const fn is_legacy(&self) -> bool {
        matches!(self, Self::Legacy { .. })
    }

    /// Appends the `tx_data` encoding.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Self::Legacy {
                value,
                gas_price,
                data,
            } => {
                rlp_list(out, &[value, gas_price, data]);
            }
            Self::Eip2930 {
                value,
                gas_price,
                data,
                access_list,
            } => {
                out.push(EIP2930_TYPE);
                rlp_list(out, &[value, gas_price, data, access_list]);
            }
            Self::Eip1559 {
                value,
                max_priority_fee_per_gas,
                max_fee_per_gas,
                data,
                access_list,
            } => {
                out.push(EIP1559_TYPE);
                rlp_list(
                    out,
                    &[
                        value,
                        max_priority_fee_per_gas,
                        max_fee_per_gas,
                        data,
                        access_list,
                    ],
                );
            }
            Self::Eip7702 {
                value,
                max_priority_fee_per_gas,
                max_fee_per_gas,
                data,
                access_list,
                authorization_list,
            } => {
                out.push(EIP7702_TYPE);
                rlp_list(
                    out,
                    &[
                        value,
                        max_priority_fee_per_gas,
                        max_fee_per_gas,
                        data,
                        access_list,
                        authorization_list,
                    ],
                );
            }
        }
    }

    /// Reads one `tx_data` from the front of `buf`, advancing it.
    pub fn decode(buf: &mut &[u8]) -> Result<Self, SpanBatchError> {
        let &first = buf.first().ok_or(SpanBatchError::Truncated("tx_datas"))?;
        // An RLP list header starts at 0xc0; anything lower is a type byte.
        if first >= 0xc0 {
            let mut fields = list_payload(buf)?;
            let tx = Self::Legacy {
                value: field(&mut fields)?,
                gas_price: field(&mut fields)?,
                data: field(&mut fields)?,
            };
            return finish(fields, tx);
        }
        *buf = &buf[1..];
        let mut fields = list_payload(buf)?;
        let tx = match first {
            EIP2930_TYPE => Self::Eip2930 {
                value: field(&mut fields)?,
                gas_price: field(&mut fields)?,
                data: field(&mut fields)?,
                access_list: field(&mut fields)?,
            },
            EIP1559_TYPE => Self::Eip1559 {
                value: field(&mut fields)?,
                max_priority_fee_per_gas: field(&mut fields)?,
                max_fee_per_gas: field(&mut fields)?,
                data: field(&mut fields)?,
                access_list: field(&mut fields)?,
            },
            EIP7702_TYPE => Self::Eip7702 {
                value: field(&mut fields)?,
                max_priority_fee_per_gas: field(&mut fields)?,
                max_fee_per_gas: field(&mut fields)?,
                data: field(&mut fields)?,
                access_list: field(&mut fields)?,
                authorization_list: field(&mut fields)?,
            },
            other => return Err(SpanBatchError::UnknownTxType(other)),
        };
        finish(fields, tx)
    }
}

/// A transaction in span batch form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpanTx {
    /// Recipient; `None` for a contract creation.
    pub to: Option<Address>,
    /// Signature `r`.
    pub r: U256,
    /// Signature `s`.
    pub s: U256,
    /// Signature y-parity.
    pub y_parity: bool,
    /// Sender nonce.
    pub nonce: u64,
    /// Gas limit.
    pub gas_limit: u64,
    /// Whether a legacy transaction is EIP-155 protected (always false for typed ones).
    pub protected: bool,
    /// Type-specific fields.
    pub data: SpanTxData,
}

impl SpanTx {
    /// Splits an EIP-2718 encoded transaction of chain `chain_id` into span batch form.
    ///
    /// Deposits never go into batches; blob transactions and anything else OP does not
    /// sequence are refused, as are transactions signed for another chain and any encoding the
    /// span batch format cannot reproduce byte for byte.
    pub fn from_eip2718(bytes: &[u8], chain_id: u64) -> Result<Self, SpanBatchError> {
        let envelope = OpTxEnvelope::decode_2718_exact(bytes)
            .map_err(|err| SpanBatchError::InvalidTransaction(err.to_string()))?;
        let check_chain = |got: u64| {
            if got == chain_id {
                Ok(())
            } else {
                Err(SpanBatchError::ChainIdMismatch {
                    expected: chain_id,
                    got,
                })
            }
        };
        let tx = match &envelope {
            OpTxEnvelope::Legacy(signed) => {
                let tx = signed.tx();
                if let Some(id) = tx.chain_id {
                    check_chain(id)?;
                }
                Self::new(
                    tx.to,
                    signed.signature(),
                    tx.nonce,
                    tx.gas_limit,
                    tx.chain_id.is_some(),
                    SpanTxData::Legacy {
                        value: tx.value,
                        gas_price: tx.gas_price,
                        data: tx.input.clone(),
                    },
                )
            }
            OpTxEnvelope::Eip2930(signed) => {
                let tx = signed.tx();
                check_chain(tx.chain_id)?;
                Self::new(
                    tx.to,
                    signed.signature(),
                    tx.nonce,
                    tx.gas_limit,
                    false,
                    SpanTxData::Eip2930 {
                        value: tx.value,
                        gas_price: tx.gas_price,
                        data: tx.input.clone(),
                        access_list: tx.access_list.clone(),
                    },
                )
            }
            OpTxEnvelope::Eip1559(signed) => {
                let tx = signed.tx();
                check_chain(tx.chain_id)?;
                Self::new(
                    tx.to,
                    signed.signature(),
                    tx.nonce,
                    tx.gas_limit,
                    false,
                    SpanTxData::Eip1559 {
                        value: tx.value,
                        max_priority_fee_per_gas: tx.max_priority_fee_per_gas,
                        max_fee_per_gas: tx.max_fee_per_gas,
                        data: tx.input.clone(),
                        access_list: tx.access_list.clone(),
                    },
                )
            }
            OpTxEnvelope::Eip7702(signed) => {
                let tx = signed.tx();
                check_chain(tx.chain_id)?;
                Self::new(
                    TxKind::Call(tx.to),
                    signed.signature(),
                    tx.nonce,
                    tx.gas_limit,
                    false,
                    SpanTxData::Eip7702 {
                        value: tx.value,
                        max_priority_fee_per_gas: tx.max_priority_fee_per_gas,
                        max_fee_per_gas: tx.max_fee_per_gas,
                        data: tx.input.clone(),
                        access_list: tx.access_list.clone(),
                        authorization_list: tx.authorization_list.clone(),
                    },
                )
            }
            OpTxEnvelope::Deposit(_) => return Err(SpanBatchError::DepositTransaction),
            other => return Err(SpanBatchError::UnsupportedTxType(other.ty())),
        };
        // The format drops the chain id and keeps only y-parity, so a signature whose `v` the
        // reader would rebuild differently must not be batched.
        if tx.to_eip2718(chain_id)? != bytes {
            return Err(SpanBatchError::NotRepresentable);
        }
        Ok(tx)
    }

    fn new(
        to: TxKind,
        signature: &Signature,
        nonce: u64,
        gas_limit: u64,
        protected: bool,
        data: SpanTxData,
    ) -> Self {
        Self {
            to: to.to().copied(),
            r: signature.r(),
            s: signature.s(),
            y_parity: signature.v(),
            nonce,
            gas_limit,
            protected,
            data,
        }
    }

    /// Rebuilds the EIP-2718 encoding for chain `chain_id`.
    pub fn to_eip2718(&self, chain_id: u64) -> Result<Vec<u8>, SpanBatchError> {
        let signature = Signature::new(self.r, self.s, self.y_parity);
        let kind = self.to.map_or(TxKind::Create, TxKind::Call);
        let envelope = match &self.data {
            SpanTxData::Legacy {
                value,
                gas_price,
                data,
            } => OpTxEnvelope::Legacy(
                TxLegacy {
                    chain_id: self.protected.then_some(chain_id),
                    nonce: self.nonce,
                    gas_price: *gas_price,
                    gas_limit: self.gas_limit,
                    to: kind,
                    value: *value,
                    input: data.clone(),
                }
                .into_signed(signature),
            ),
            SpanTxData::Eip2930 {
                value,
                gas_price,
                data,
                access_list,
            } => OpTxEnvelope::Eip2930(
                TxEip2930 {
                    chain_id,
                    nonce: self.nonce,
                    gas_price: *gas_price,
                    gas_limit: self.gas_limit,
                    to: kind,
                    value: *value,
                    access_list: access_list.clone(),
                    input: data.clone(),
                }
                .into_signed(signature),
            ),
            SpanTxData::Eip1559 {
                value,
                max_priority_fee_per_gas,
                max_fee_per_gas,
                data,
                access_list,
            } => OpTxEnvelope::Eip1559(
                TxEip1559 {
                    chain_id,
                    nonce: self.nonce,
                    gas_limit: self.gas_limit,
                    max_fee_per_gas: *max_fee_per_gas,
                    max_priority_fee_per_gas: *max_priority_fee_per_gas,
                    to: kind,
                    value: *value,
                    access_list: access_list.clone(),
                    input: data.clone(),
                }
                .into_signed(signature),
            ),
            SpanTxData::Eip7702 {
                value,
                max_priority_fee_per_gas,
                max_fee_per_gas,
                data,
                access_list,
                authorization_list,
            } => OpTxEnvelope::Eip7702(
                TxEip7702 {
                    chain_id,
                    nonce: self.nonce,
                    gas_limit: self.gas_limit,
                    max_fee_per_gas: *max_fee_per_gas,
                    max_priority_fee_per_gas: *max_priority_fee_per_gas,
                    to: self.to.ok_or(SpanBatchError::CreationNotAllowed)?,
                    value: *value,
                    access_list: access_list.clone(),
                    authorization_list: authorization_list.clone(),
                    input: data.clone(),
                }
                .into_signed(signature),
            ),
        };
        Ok(envelope.encoded_2718())
    }
}

fn rlp_list(out: &mut Vec<u8>, fields: &[&dyn Encodable]) {
    let payload_length = fields.iter().map(|f| f.length()).sum();
    Header {
        list: true,
        payload_length,
    }
    .encode(out);
    for f in fields {
        f.encode(out);
    }
}

fn list_payload<'a>(buf: &mut &'a [u8]) -> Result<&'a [u8], SpanBatchError> {
    Header::decode_bytes(buf, true).map_err(SpanBatchError::TxData)
}

fn field<T: Decodable>(fields: &mut &[u8]) -> Result<T, SpanBatchError> {
    T::decode(fields).map_err(SpanBatchError::TxData)
}

fn finish(fields: &[u8], tx: SpanTxData) -> Result<SpanTxData, SpanBatchError> {
    if fields.is_empty() {
        Ok(tx)
    } else {
        Err(SpanBatchError::TxData(
            alloy_rlp::Error::ListLengthMismatch {
                expected: 0,
                got: fields.len(),
            },
        ))
    }
}
