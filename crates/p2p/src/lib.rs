//! Unsafe-block gossip in op-node's format.
//!
//! This crate owns what a block looks like on the wire and what makes a gossiped block
//! acceptable: the blocks topic of the chain ([`blocks_topic`]), the signed snappy SSZ payload
//! envelope op-node publishes ([`encode_block`], [`decode_block`]: `op-alloy`'s
//! `OpNetworkPayloadEnvelope`, Isthmus layout), and op-node's validation rules ([`Validator`]:
//! time bounds, block hash, at most five blocks per height, the unsafe block signer). The libp2p
//! transport that carries the messages builds on it.

mod envelope;
mod topic;
mod validate;

pub use envelope::{EnvelopeError, GossipBlock, MAX_GOSSIP_SIZE, decode_block, encode_block};
pub use topic::{BLOCKS_TOPIC_VERSION, blocks_topic};
pub use validate::{Rejection, Validator, Verdict};
