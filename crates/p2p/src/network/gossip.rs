//! gossipsub as op-node runs it for blocks: StrictNoSign (the application signs), messages
//! validated by the node before they are forwarded, op-node's mesh parameters, flood-publish
//! (a network of two or three nodes never reaches a mesh of eight, base/base#4027), message ids
//! over the decompressed payload, and peer scores that graylist a peer after one invalid block.

use super::NetworkError;
use crate::MAX_GOSSIP_SIZE;
use libp2p::gossipsub::{
    self, ConfigBuilder, IdentTopic, Message, MessageAuthenticity, MessageId, PeerScoreParams,
    PeerScoreThresholds, TopicScoreParams, ValidationMode,
};
use sha2::{Digest, Sha256};
use std::time::Duration;

/// Domain of the id of a message that decompresses (op-node's `MessageDomainValidSnappy`).
const VALID_SNAPPY_DOMAIN: [u8; 4] = [1, 0, 0, 0];
/// Domain of the id of a message that does not.
const INVALID_SNAPPY_DOMAIN: [u8; 4] = [0, 0, 0, 0];

/// op-node's id of a message: the first 20 bytes of SHA-256 over a domain and the decompressed
/// data (the raw data when it does not decompress within the size limit).
pub(crate) fn message_id(message: &Message) -> MessageId {
    let decompressed = snap::raw::decompress_len(&message.data)
        .ok()
        .filter(|len| *len <= MAX_GOSSIP_SIZE)
        .and_then(|_| snap::raw::Decoder::new().decompress_vec(&message.data).ok());
    let mut hasher = Sha256::new();
    match &decompressed {
        Some(data) => {
            hasher.update(VALID_SNAPPY_DOMAIN);
            hasher.update(data);
        }
        None => {
            hasher.update(INVALID_SNAPPY_DOMAIN);
            hasher.update(&message.data);
        }
    }
    MessageId::from(hasher.finalize()[..20].to_vec())
}

/// The gossipsub behaviour of the blocks topic `topic`, subscribed.
pub(crate) fn behaviour(topic: &IdentTopic) -> Result<gossipsub::Behaviour, NetworkError> {
    let config = ConfigBuilder::default()
        .mesh_n(8)
        .mesh_n_low(6)
        .mesh_n_high(12)
        .gossip_lazy(6)
        .heartbeat_interval(Duration::from_millis(500))
        .fanout_ttl(Duration::from_secs(60))
        .history_length(12)
        .history_gossip(3)
        .duplicate_cache_time(Duration::from_secs(120))
        .max_transmit_size(MAX_GOSSIP_SIZE)
        .validation_mode(ValidationMode::Anonymous)
        .validate_messages()
        .flood_publish(true)
        .message_id_fn(message_id)
        .build()
        .map_err(|err| NetworkError::Gossip(err.to_string()))?;
    let mut behaviour = gossipsub::Behaviour::new(MessageAuthenticity::Anonymous, config)
        .map_err(|err| NetworkError::Gossip(err.to_owned()))?;
    let (params, thresholds) = scoring(topic);
    behaviour
        .with_peer_score(params, thresholds)
        .map_err(NetworkError::Gossip)?;
    behaviour
        .subscribe(topic)
        .map_err(|err| NetworkError::Gossip(err.to_string()))?;
    Ok(behaviour)
}

/// Peer scores after op-node's: thresholds gossip −10, publish and graylist −40; on the blocks
/// topic (weight 0.1) first deliveries earn up to 100 × 5 and an invalid block costs −1000, so
/// one invalid block graylists its sender. Mesh-delivery penalties are off: a block a second is
/// too slow a topic for them. The application score (blocks that fail to execute) weighs 1.
fn scoring(topic: &IdentTopic) -> (PeerScoreParams, PeerScoreThresholds) {
    let blocks = TopicScoreParams {
        topic_weight: 0.1,
        time_in_mesh_weight: 0.0,
        first_message_deliveries_weight: 5.0,
        first_message_deliveries_decay: 0.9,
        first_message_deliveries_cap: 100.0,
        mesh_message_deliveries_weight: 0.0,
        mesh_failure_penalty_weight: 0.0,
        invalid_message_deliveries_weight: -1000.0,
        invalid_message_deliveries_decay: 0.99,
        ..TopicScoreParams::default()
    };
    let mut params = PeerScoreParams {
        app_specific_weight: 1.0,
        // Every peer of a local devnet shares 127.0.0.1.
        ip_colocation_factor_weight: 0.0,
        ..PeerScoreParams::default()
    };
    params.topics.insert(topic.hash(), blocks);
    let thresholds = PeerScoreThresholds {
        gossip_threshold: -10.0,
        publish_threshold: -40.0,
        graylist_threshold: -40.0,
        accept_px_threshold: 20.0,
        opportunistic_graft_threshold: 0.05,
    };
    (params, thresholds)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(data: Vec<u8>) -> Message {
        Message {
            source: None,
            data,
            sequence_number: None,
            topic: IdentTopic::new("t").hash(),
        }
    }

    #[test]
    fn the_id_covers_the_decompressed_data_under_its_domain() {
        let body = b"a block".to_vec();
        let compressed = snap::raw::Encoder::new().compress_vec(&body).unwrap();
        let expected = Sha256::digest([&VALID_SNAPPY_DOMAIN[..], &body].concat());
        assert_eq!(message_id(&message(compressed)).0, expected[..20].to_vec());
        let garbage = vec![0xff; 7];
        let expected = Sha256::digest([&INVALID_SNAPPY_DOMAIN[..], &garbage].concat());
        assert_eq!(message_id(&message(garbage)).0, expected[..20].to_vec());
    }

    #[test]
    fn the_behaviour_builds_with_valid_scores() {
        behaviour(&IdentTopic::new(crate::blocks_topic(1611))).unwrap();
    }
}
