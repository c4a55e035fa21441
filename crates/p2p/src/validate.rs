//! op-node's rules for a gossiped block (specs `rollup-node-p2p.md`): REJECT a message that does
//! not decode, whose block hash is wrong, that is more than 5 s ahead of the local clock or more
//! than 60 s behind it, that the unsafe block signer did not sign, or that would be the sixth
//! block seen at its height; IGNORE one already seen. A rejected message scores its peer down.

use crate::{EnvelopeError, GossipBlock, decode_block};
use alloy_primitives::{Address, B256};
use std::collections::BTreeMap;

/// How far ahead of the local clock a block may be, in seconds.
const MAX_FUTURE_SECS: u64 = 5;
/// How far behind the local clock a block may be, in seconds.
const MAX_PAST_SECS: u64 = 60;
/// Different blocks accepted at one height (an equivocating signer cannot flood a height).
const MAX_BLOCKS_PER_HEIGHT: usize = 5;
/// Heights whose seen blocks are remembered.
const SEEN_HEIGHTS: usize = 1000;

/// Why a message was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// It does not decode (snappy, SSZ, transactions, signature bytes).
    Malformed,
    /// Over the size limit.
    TooLarge,
    /// Its header does not hash to the hash it claims.
    BlockHash,
    /// Its timestamp is too far ahead of the local clock.
    Future,
    /// Its timestamp is too far behind the local clock.
    Past,
    /// Someone other than the unsafe block signer signed it.
    WrongSigner,
    /// Five different blocks were already seen at its height.
    TooManyAtHeight,
}

impl Rejection {
    /// The reason as a metric label.
    pub const fn label(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::TooLarge => "too_large",
            Self::BlockHash => "block_hash",
            Self::Future => "future",
            Self::Past => "past",
            Self::WrongSigner => "signer",
            Self::TooManyAtHeight => "height_limit",
        }
    }
}

/// What to do with a message (gossipsub's accept, ignore or reject).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// A new, valid block: pass it on and apply it.
    Accept(Box<GossipBlock>),
    /// Already seen: drop it without blame.
    Ignore,
    /// Invalid: drop it and score the peer down.
    Reject(Rejection),
}

/// How long a replaced unsafe block signer stays valid, in seconds (op-node's
/// `DefaultSignerGracePeriod`, 3 h): blocks signed just before a rotation still arrive after it
/// (optimism#22839 is the hole a node without one fell into).
pub const SIGNER_GRACE_SECS: u64 = 3 * 3600;

/// Validates the messages of one chain against its unsafe block signer.
#[derive(Debug)]
pub struct Validator {
    chain_id: u64,
    signer: Address,
    /// Signers replaced by a rotation, each with the unix time until which it is still valid.
    retired: Vec<(Address, u64)>,
    seen: BTreeMap<u64, Vec<B256>>,
}

impl Validator {
    /// A validator for chain `chain_id` whose blocks `signer` signs.
    pub const fn new(chain_id: u64, signer: Address) -> Self {
        Self {
            chain_id,
            signer,
            retired: Vec::new(),
            seen: BTreeMap::new(),
        }
    }

    /// The signer L1 now names (a `SystemConfig` rotation) at unix time `now`: the one it
    /// replaces stays valid for [`SIGNER_GRACE_SECS`].
    pub fn set_signer(&mut self, signer: Address, now: u64) {
        if signer != self.signer {
            self.retired
                .push((self.signer, now.saturating_add(SIGNER_GRACE_SECS)));
            self.signer = signer;
        }
        self.retired
            .retain(|(retired, until)| *retired != signer && *until >= now);
    }

    /// The current unsafe block signer.
    pub const fn signer(&self) -> Address {
        self.signer
    }

    fn accepts(&self, signer: Address, now: u64) -> bool {
        signer == self.signer
            || self
                .retired
                .iter()
                .any(|(retired, until)| *retired == signer && now <= *until)
    }

    /// The verdict on message `data` at local time `now` (unix seconds).
    pub fn validate(&mut self, data: &[u8], now: u64) -> Verdict {
        let block = match decode_block(data, self.chain_id) {
            Ok(block) => block,
            Err(EnvelopeError::TooLarge(_)) => return Verdict::Reject(Rejection::TooLarge),
            Err(EnvelopeError::BlockHash { .. }) => return Verdict::Reject(Rejection::BlockHash),
            Err(_) => return Verdict::Reject(Rejection::Malformed),
        };
        let timestamp = block.header.timestamp;
        if timestamp > now.saturating_add(MAX_FUTURE_SECS) {
            return Verdict::Reject(Rejection::Future);
        }
        if timestamp < now.saturating_sub(MAX_PAST_SECS) {
            return Verdict::Reject(Rejection::Past);
        }
        // Only signed blocks count towards a height's limit.
        if !self.accepts(block.signer, now) {
            return Verdict::Reject(Rejection::WrongSigner);
        }
        let hashes = self.seen.entry(block.header.number).or_default();
        if hashes.contains(&block.header.hash()) {
            return Verdict::Ignore;
        }
        if hashes.len() >= MAX_BLOCKS_PER_HEIGHT {
            return Verdict::Reject(Rejection::TooManyAtHeight);
        }
        hashes.push(block.header.hash());
        while self.seen.len() > SEEN_HEIGHTS {
            self.seen.pop_first();
        }
        Verdict::Accept(Box::new(block))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode_block;
    use alloy_consensus::{Header, Sealable};
    use alloy_eips::eip7685::EMPTY_REQUESTS_HASH;
    use alloy_signer_local::PrivateKeySigner;

    const CHAIN: u64 = 1611;

    fn key(byte: u8) -> PrivateKeySigner {
        PrivateKeySigner::from_bytes(&B256::repeat_byte(byte)).unwrap()
    }

    /// An empty Isthmus block at `number` and `timestamp`, told apart by `salt`.
    fn message(number: u64, timestamp: u64, salt: u8, signer: &PrivateKeySigner) -> Vec<u8> {
        let header = Header {
            number,
            timestamp,
            mix_hash: B256::repeat_byte(salt),
            base_fee_per_gas: Some(1),
            withdrawals_root: Some(B256::ZERO),
            blob_gas_used: Some(0),
            excess_blob_gas: Some(0),
            parent_beacon_block_root: Some(B256::ZERO),
            requests_hash: Some(EMPTY_REQUESTS_HASH),
            ..Header::default()
        }
        .seal_slow();
        encode_block(&header, &[], signer, CHAIN).unwrap()
    }

    #[test]
    fn op_nodes_rules_hold() {
        let sequencer = key(1);
        let mut validator = Validator::new(CHAIN, sequencer.address());
        let now = 1_700_000_000;
        let good = message(5, now, 0, &sequencer);
        assert!(matches!(validator.validate(&good, now), Verdict::Accept(_)));
        assert_eq!(validator.validate(&good, now), Verdict::Ignore);
        assert_eq!(
            validator.validate(&message(6, now, 0, &key(2)), now),
            Verdict::Reject(Rejection::WrongSigner)
        );
        assert_eq!(
            validator.validate(&message(7, now + 6, 0, &sequencer), now),
            Verdict::Reject(Rejection::Future)
        );
        assert!(matches!(
            validator.validate(&message(7, now + 5, 0, &sequencer), now),
            Verdict::Accept(_)
        ));
        assert_eq!(
            validator.validate(&message(8, now - 61, 0, &sequencer), now),
            Verdict::Reject(Rejection::Past)
        );
        assert_eq!(
            validator.validate(b"not snappy", now),
            Verdict::Reject(Rejection::Malformed)
        );
        // Five blocks at one height, then the sixth is refused; a wrong signer's blocks at
        // that height did not use up the limit.
        for salt in 1..=4 {
            assert!(matches!(
                validator.validate(&message(5, now, salt, &sequencer), now),
                Verdict::Accept(_)
            ));
        }
        assert_eq!(
            validator.validate(&message(5, now, 9, &sequencer), now),
            Verdict::Reject(Rejection::TooManyAtHeight)
        );
    }

    #[test]
    fn a_rotated_signer_stays_valid_for_the_grace_period() {
        let (old, new) = (key(1), key(2));
        let mut validator = Validator::new(CHAIN, old.address());
        let now = 1_700_000_000;
        validator.set_signer(new.address(), now);
        assert_eq!(validator.signer(), new.address());
        assert!(matches!(
            validator.validate(&message(1, now, 0, &new), now),
            Verdict::Accept(_)
        ));
        assert!(matches!(
            validator.validate(&message(2, now, 0, &old), now),
            Verdict::Accept(_)
        ));
        // Past the grace period the old key is an impostor.
        let later = now + SIGNER_GRACE_SECS + 1;
        validator.set_signer(new.address(), later);
        assert_eq!(
            validator.validate(&message(3, later, 0, &old), later),
            Verdict::Reject(Rejection::WrongSigner)
        );
        // Rotating back makes the old key current again, with no stale grace entry.
        validator.set_signer(old.address(), later);
        assert!(matches!(
            validator.validate(&message(4, later, 0, &old), later),
            Verdict::Accept(_)
        ));
        assert!(matches!(
            validator.validate(&message(5, later, 0, &new), later),
            Verdict::Accept(_)
        ));
        assert_eq!(validator.retired.len(), 1);
    }
}
