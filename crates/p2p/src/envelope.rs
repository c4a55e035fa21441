//! One block as a gossip message: `signature(65) ‖ parentBeaconBlockRoot(32) ‖
//! SSZ(ExecutionPayloadV4)`, snappy block-compressed. The signature is over
//! `keccak256(0³² ‖ chainId ‖ keccak256(parentBeaconBlockRoot ‖ payload))`.

use alloy_consensus::{Block, BlockBody, Header, Sealed};
use alloy_eips::{eip2718::Decodable2718, eip4895::Withdrawals, eip7685::EMPTY_REQUESTS_HASH};
use alloy_primitives::{Address, B256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use ol_primitives::OpTxEnvelope;
use op_alloy_rpc_types_engine::{
    OpExecutionPayload, OpNetworkPayloadEnvelope, PayloadEnvelopeError, PayloadHash,
};
use ssz::Encode;

/// The largest message, compressed or not (op-node's limit).
pub const MAX_GOSSIP_SIZE: usize = 10 * 1024 * 1024;

/// A block decoded from gossip, with the address that signed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GossipBlock {
    /// The header, sealed with the hash the payload claims and that it was checked against.
    pub header: Sealed<Header>,
    /// The transactions, in order.
    pub transactions: Vec<OpTxEnvelope>,
    /// Who signed the message.
    pub signer: Address,
}

/// Why a message is not a block.
#[derive(Debug, thiserror::Error)]
pub enum EnvelopeError {
    /// Over [`MAX_GOSSIP_SIZE`], compressed or decompressed.
    #[error("a message of {0} bytes is over the 10 MiB limit")]
    TooLarge(usize),
    /// Snappy, SSZ or the signature bytes are malformed.
    #[error("malformed envelope: {0}")]
    Malformed(#[from] PayloadEnvelopeError),
    /// The payload does not make a block (an undecodable transaction, a bad field).
    #[error("the payload is not a block: {0}")]
    Payload(String),
    /// The header rebuilt from the payload does not hash to the payload's block hash.
    #[error("the payload claims block hash {claimed}, its header hashes to {computed}")]
    BlockHash {
        /// The hash in the payload.
        claimed: B256,
        /// The hash of the header built from it.
        computed: B256,
    },
    /// No address recovers from the signature.
    #[error("the signature does not recover: {0}")]
    Signature(String),
    /// A block that has no Isthmus payload (no parent beacon root or withdrawals root).
    #[error("block {0} is not an Isthmus block")]
    NotIsthmus(u64),
}

/// An Isthmus block as op-node carries it: its parent beacon root and its SSZ
/// `ExecutionPayloadV4`, with the hash the signature covers.
struct Payload {
    parent_beacon_block_root: B256,
    payload: OpExecutionPayload,
    ssz: Vec<u8>,
}

impl Payload {
    fn of(header: &Sealed<Header>, transactions: &[OpTxEnvelope]) -> Result<Self, EnvelopeError> {
        let parent_beacon_block_root = header
            .parent_beacon_block_root
            .filter(|_| header.withdrawals_root.is_some() && header.requests_hash.is_some())
            .ok_or(EnvelopeError::NotIsthmus(header.number))?;
        let block = Block {
            header: header.inner().clone(),
            body: BlockBody {
                transactions: transactions.to_vec(),
                ommers: Vec::new(),
                withdrawals: Some(Withdrawals::default()),
            },
        };
        let (payload, _) = OpExecutionPayload::from_block_unchecked(header.hash(), &block);
        let OpExecutionPayload::V4(v4) = &payload else {
            return Err(EnvelopeError::NotIsthmus(header.number));
        };
        let ssz = v4.as_ssz_bytes();
        Ok(Self {
            parent_beacon_block_root,
            payload,
            ssz,
        })
    }

    fn hash(&self) -> PayloadHash {
        PayloadHash::from(
            [self.parent_beacon_block_root.as_slice(), &self.ssz]
                .concat()
                .as_slice(),
        )
    }
}

/// Encodes and signs a block of chain `chain_id` as the sequencer publishes it.
pub fn encode_block(
    header: &Sealed<Header>,
    transactions: &[OpTxEnvelope],
    signer: &PrivateKeySigner,
    chain_id: u64,
) -> Result<Vec<u8>, EnvelopeError> {
    let payload = Payload::of(header, transactions)?;
    let payload_hash = payload.hash();
    let signature = signer
        .sign_hash_sync(&payload_hash.signature_message(chain_id))
        .map_err(|err| EnvelopeError::Signature(err.to_string()))?;
    let envelope = OpNetworkPayloadEnvelope {
        payload: payload.payload,
        signature,
        payload_hash,
        parent_beacon_block_root: Some(payload.parent_beacon_block_root),
    };
    envelope
        .encode_v4()
        .map_err(|err| EnvelopeError::Payload(err.to_string()))
}

/// Encodes a block unsigned, as op-node's `payload_by_number` answers: `parentBeaconBlockRoot ‖
/// SSZ(ExecutionPayloadV4)`, uncompressed (the response stream frames it).
pub fn encode_payload(
    header: &Sealed<Header>,
    transactions: &[OpTxEnvelope],
) -> Result<Vec<u8>, EnvelopeError> {
    let payload = Payload::of(header, transactions)?;
    Ok([payload.parent_beacon_block_root.as_slice(), &payload.ssz].concat())
}

/// Decodes what [`encode_payload`] wrote and checks the block hash. Whether the block is the
/// one wanted is the caller's check (a child's parent hash): nothing here is signed.
pub fn decode_payload(data: &[u8]) -> Result<(Sealed<Header>, Vec<OpTxEnvelope>), EnvelopeError> {
    use ssz::Decode;
    if data.len() > MAX_GOSSIP_SIZE {
        return Err(EnvelopeError::TooLarge(data.len()));
    }
    let (root, ssz) = data.split_at_checked(32).ok_or(EnvelopeError::Malformed(
        PayloadEnvelopeError::InvalidLength,
    ))?;
    let payload = op_alloy_rpc_types_engine::OpExecutionPayloadV4::from_ssz_bytes(ssz)
        .map_err(|err| EnvelopeError::Payload(format!("{err:?}")))?;
    block_of(OpExecutionPayload::V4(payload), B256::from_slice(root))
}

/// Decodes a message of chain `chain_id`: checks its size before decompressing, rebuilds the
/// block, checks its hash, and recovers the signer. Never panics on any input.
pub fn decode_block(data: &[u8], chain_id: u64) -> Result<GossipBlock, EnvelopeError> {
    if data.len() > MAX_GOSSIP_SIZE {
        return Err(EnvelopeError::TooLarge(data.len()));
    }
    // Snappy states the decompressed length up front: refuse before allocating it.
    let decompressed = snap::raw::decompress_len(data)
        .map_err(|_| EnvelopeError::Malformed(PayloadEnvelopeError::BrokenSnappyEncoding))?;
    if decompressed > MAX_GOSSIP_SIZE {
        return Err(EnvelopeError::TooLarge(decompressed));
    }
    let envelope = OpNetworkPayloadEnvelope::decode_v4(data)?;
    let signer = envelope
        .signature
        .recover_address_from_prehash(&envelope.payload_hash.signature_message(chain_id))
        .map_err(|err| EnvelopeError::Signature(err.to_string()))?;
    let root = envelope
        .parent_beacon_block_root
        .ok_or(EnvelopeError::Malformed(
            PayloadEnvelopeError::InvalidLength,
        ))?;
    let (header, transactions) = block_of(envelope.payload, root)?;
    Ok(GossipBlock {
        header,
        transactions,
        signer,
    })
}

/// The block of an Isthmus payload, its header rebuilt (parent beacon root, empty requests) and
/// checked against the hash the payload claims.
fn block_of(
    payload: OpExecutionPayload,
    parent_beacon_block_root: B256,
) -> Result<(Sealed<Header>, Vec<OpTxEnvelope>), EnvelopeError> {
    let claimed = payload.block_hash();
    let raw = payload
        .into_block_raw()
        .map_err(|err| EnvelopeError::Payload(err.to_string()))?;
    let mut header = raw.header;
    header.parent_beacon_block_root = Some(parent_beacon_block_root);
    header.requests_hash = Some(EMPTY_REQUESTS_HASH);
    let computed = header.hash_slow();
    if computed != claimed {
        return Err(EnvelopeError::BlockHash { claimed, computed });
    }
    let transactions = raw
        .body
        .transactions
        .iter()
        .map(|tx| OpTxEnvelope::decode_2718_exact(tx))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| EnvelopeError::Payload(format!("a transaction does not decode: {err}")))?;
    Ok((Sealed::new_unchecked(header, computed), transactions))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_consensus::Sealable;
    use alloy_primitives::{Bytes, b256};
    use ol_primitives::TxDeposit;

    fn block() -> (Sealed<Header>, Vec<OpTxEnvelope>) {
        let deposit = OpTxEnvelope::Deposit(Sealed::new(TxDeposit {
            source_hash: B256::repeat_byte(7),
            from: Address::repeat_byte(1),
            to: alloy_primitives::TxKind::Call(Address::repeat_byte(2)),
            gas_limit: 1_000_000,
            input: Bytes::from_static(b"l1 info"),
            ..Default::default()
        }));
        let header = Header {
            parent_hash: B256::repeat_byte(9),
            beneficiary: Address::repeat_byte(0x42),
            state_root: B256::repeat_byte(3),
            receipts_root: B256::repeat_byte(4),
            number: 12,
            gas_limit: 60_000_000,
            gas_used: 50_000,
            timestamp: 1_700_000_012,
            extra_data: Bytes::from_static(&[1, 0, 0, 0, 250, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0]),
            mix_hash: B256::repeat_byte(5),
            base_fee_per_gas: Some(1_000_000),
            withdrawals_root: Some(B256::repeat_byte(6)),
            blob_gas_used: Some(0),
            excess_blob_gas: Some(0),
            parent_beacon_block_root: Some(B256::repeat_byte(8)),
            requests_hash: Some(EMPTY_REQUESTS_HASH),
            transactions_root: alloy_consensus::proofs::calculate_transaction_root(
                std::slice::from_ref(&deposit),
            ),
            ..Header::default()
        };
        (header.seal_slow(), vec![deposit])
    }

    fn key(byte: u8) -> PrivateKeySigner {
        PrivateKeySigner::from_bytes(&B256::repeat_byte(byte)).unwrap()
    }

    #[test]
    fn a_block_round_trips_with_its_signer() {
        let (header, txs) = block();
        let signer = key(0x11);
        let encoded = encode_block(&header, &txs, &signer, 1611).unwrap();
        let decoded = decode_block(&encoded, 1611).unwrap();
        assert_eq!(decoded.header.hash(), header.hash());
        assert_eq!(decoded.header.inner(), header.inner());
        assert_eq!(decoded.transactions, txs);
        assert_eq!(decoded.signer, signer.address());
        // On another chain the same message recovers someone else.
        assert_ne!(decode_block(&encoded, 10).unwrap().signer, signer.address());
    }

    #[test]
    fn the_signing_message_matches_op_alloys_vector() {
        // The payload hash of 32 bytes of 0x99 on chain 10 (op-alloy's test vector), and the
        // same message composed by hand: keccak256(0³² ‖ chainId ‖ payloadHash).
        let payload_hash = PayloadHash::from(B256::repeat_byte(0x99).as_slice());
        let message = payload_hash.signature_message(10);
        assert_eq!(
            message,
            b256!("44a0e2b1aba1aae1771eddae1dcd2ad18a8cdac8891517153f03253e49d3f206")
        );
        let by_hand = alloy_primitives::keccak256(
            [
                B256::ZERO.as_slice(),
                B256::with_last_byte(10).as_slice(),
                alloy_primitives::keccak256([0x99u8; 32]).as_slice(),
            ]
            .concat(),
        );
        assert_eq!(message, by_hand);
    }

    #[test]
    fn a_tampered_block_fails_its_hash() {
        let (header, txs) = block();
        let mut wrong = header.inner().clone();
        wrong.gas_used += 1;
        // Sealed with the old hash: the payload claims a hash its header does not have.
        let forged = Sealed::new_unchecked(wrong, header.hash());
        let encoded = encode_block(&forged, &txs, &key(0x11), 1611).unwrap();
        assert!(matches!(
            decode_block(&encoded, 1611),
            Err(EnvelopeError::BlockHash { .. })
        ));
    }

    #[test]
    fn oversized_and_malformed_messages_are_refused() {
        assert!(matches!(
            decode_block(&vec![0; MAX_GOSSIP_SIZE + 1], 1),
            Err(EnvelopeError::TooLarge(_))
        ));
        // A snappy header claiming 64 MiB.
        let claim = snap::raw::Encoder::new().compress_vec(&[0u8; 64]).unwrap();
        let mut lying = vec![0x80, 0x80, 0x80, 0x20];
        lying.extend_from_slice(&claim[1..]);
        assert!(matches!(
            decode_block(&lying, 1),
            Err(EnvelopeError::TooLarge(_))
        ));
        let short = snap::raw::Encoder::new().compress_vec(&[1u8; 80]).unwrap();
        assert!(matches!(
            decode_block(&short, 1),
            Err(EnvelopeError::Malformed(_))
        ));
        assert!(decode_block(&[], 1).is_err());
        let (header, txs) = block();
        let encoded = encode_block(&header, &txs, &key(1), 1).unwrap();
        for cut in [1, 10, encoded.len() / 2] {
            assert!(decode_block(&encoded[..encoded.len() - cut], 1).is_err());
        }
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_decode_or_fail_without_panicking(data in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = decode_block(&data, 1);
            let compressed = snap::raw::Encoder::new().compress_vec(&data).unwrap();
            let _ = decode_block(&compressed, 1);
        }
    }

    #[test]
    fn an_unsigned_payload_round_trips_and_refuses_garbage() {
        let (header, txs) = block();
        let encoded = encode_payload(&header, &txs).unwrap();
        let (decoded, decoded_txs) = decode_payload(&encoded).unwrap();
        assert_eq!(decoded.hash(), header.hash());
        assert_eq!(decoded_txs, txs);
        assert!(decode_payload(&encoded[..31]).is_err());
        assert!(decode_payload(&encoded[..encoded.len() - 1]).is_err());
        let mut other_root = encoded;
        other_root[0] ^= 1;
        assert!(matches!(
            decode_payload(&other_root),
            Err(EnvelopeError::BlockHash { .. })
        ));
    }

    #[test]
    fn a_pre_isthmus_header_is_not_encoded() {
        let (header, txs) = block();
        let mut old = header.inner().clone();
        old.requests_hash = None;
        let old = old.seal_slow();
        assert!(matches!(
            encode_block(&old, &txs, &key(1), 1),
            Err(EnvelopeError::NotIsthmus(12))
        ));
    }
}
