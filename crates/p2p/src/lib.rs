//! Unsafe-block gossip in op-node's format.
//!
//! This crate owns what a block looks like on the wire and what makes a gossiped block
//! acceptable: the blocks topic of the chain ([`blocks_topic`]), the signed snappy SSZ payload
//! envelope op-node publishes ([`encode_block`], [`decode_block`]: `op-alloy`'s
//! `OpNetworkPayloadEnvelope`, Isthmus layout), and op-node's validation rules ([`Validator`]:
//! time bounds, block hash, at most five blocks per height, the unsafe block signer), and the
//! libp2p node that carries them ([`network`]: gossipsub, `payload_by_number` for gap filling,
//! static peers, peer scores).

mod envelope;
#[cfg(feature = "network")]
pub mod network;
mod topic;
mod validate;

pub use envelope::{
    EnvelopeError, GossipBlock, MAX_GOSSIP_SIZE, decode_block, decode_payload, encode_block,
    encode_payload,
};
pub use topic::{BLOCKS_TOPIC_VERSION, blocks_topic};
pub use validate::{Rejection, SIGNER_GRACE_SECS, Validator, Verdict};
