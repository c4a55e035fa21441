//! The gossip topic of unsafe blocks.

/// The topic version of Isthmus blocks (`ExecutionPayloadV4` with the parent beacon block root).
/// This node runs Jovian, and so Isthmus, from genesis: every block goes on this topic.
pub const BLOCKS_TOPIC_VERSION: u8 = 3;

/// op-node's topic for the unsafe blocks of chain `chain_id`: `/optimism/<chainId>/3/blocks`.
pub fn blocks_topic(chain_id: u64) -> String {
    format!("/optimism/{chain_id}/{BLOCKS_TOPIC_VERSION}/blocks")
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_topic_is_op_nodes() {
        assert_eq!(super::blocks_topic(10), "/optimism/10/3/blocks");
    }
}
