//! The sequencer's choice of L1 origin for its next L2 block (op-node's `L1OriginSelector`), as a
//! pure function: advance to the next L1 block as soon as its timestamp allows, and never let the
//! L2 clock run more than the max sequencer drift ahead of the origin with transactions in it.

use crate::block::L1BlockRef;

/// The origin of the next L2 block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OriginChoice {
    /// The L1 origin (epoch) of the block.
    pub origin: L1BlockRef,
    /// Whether this starts a new epoch (the block then carries the origin's user deposits).
    pub advanced: bool,
    /// The block is past the drift limit of its origin: derivation drops such a batch unless it
    /// is empty, so the sequencer must leave the transaction pool out of it.
    pub past_drift: bool,
}

/// Why no origin can be chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OriginError {
    /// The candidate is not the child of the current origin (an L1 reorg happened under it).
    #[error("L1 block {next} is not the child of the current origin {current}")]
    NotNext {
        /// The current origin.
        current: L1BlockRef,
        /// The candidate.
        next: L1BlockRef,
    },
    /// The L2 block would be older than its origin.
    #[error("L2 timestamp {l2_timestamp} is before the origin {origin} at {}", origin.timestamp)]
    BeforeOrigin {
        /// The current origin.
        origin: L1BlockRef,
        /// The L2 block's timestamp.
        l2_timestamp: u64,
    },
    /// Past the max sequencer drift and the next L1 block is not known: no valid block can be
    /// built until L1 advances (or the L1 endpoint answers again).
    #[error(
        "L2 timestamp {l2_timestamp} is more than {max_drift}s past the L1 origin {origin} at {} and the next L1 block is unknown",
        origin.timestamp
    )]
    DriftExceeded {
        /// The current origin.
        origin: L1BlockRef,
        /// The L2 block's timestamp.
        l2_timestamp: u64,
        /// The max sequencer drift in seconds.
        max_drift: u64,
    },
}

/// Chooses the L1 origin of the L2 block with timestamp `l2_timestamp`, whose parent's origin is
/// `current`; `next_l1` is the L1 block after `current` if the node knows it (confirmed).
///
/// As op-node: the next L1 block becomes the origin once its timestamp is at most the L2
/// timestamp. Otherwise the current origin stays; if the L2 timestamp is then more than
/// `max_drift` past it, the block must be empty (`past_drift`), and if the next L1 block is not
/// even known the sequencer cannot tell whether it should have advanced, so it must wait.
pub fn next_l1_origin(
    current: L1BlockRef,
    next_l1: Option<L1BlockRef>,
    l2_timestamp: u64,
    max_drift: u64,
) -> Result<OriginChoice, OriginError> {
    if l2_timestamp < current.timestamp {
        return Err(OriginError::BeforeOrigin {
            origin: current,
            l2_timestamp,
        });
    }
    if let Some(next) = next_l1 {
        if next.number != current.number.saturating_add(1) || next.parent_hash != current.hash {
            return Err(OriginError::NotNext { current, next });
        }
        if next.timestamp <= l2_timestamp {
            return Ok(OriginChoice {
                origin: next,
                advanced: true,
                past_drift: l2_timestamp - next.timestamp > max_drift,
            });
        }
    }
    let past_drift = l2_timestamp - current.timestamp > max_drift;
    if past_drift && next_l1.is_none() {
        return Err(OriginError::DriftExceeded {
            origin: current,
            l2_timestamp,
            max_drift,
        });
    }
    Ok(OriginChoice {
        origin: current,
        advanced: false,
        past_drift,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::B256;

    fn block(number: u64, timestamp: u64) -> L1BlockRef {
        L1BlockRef {
            number,
            hash: B256::with_last_byte(number as u8 + 1),
            parent_hash: B256::with_last_byte(number as u8),
            timestamp,
        }
    }

    #[test]
    fn advances_when_the_next_l1_block_is_not_in_the_future() {
        let (current, next) = (block(10, 100), block(11, 112));
        let stay = next_l1_origin(current, Some(next), 111, 1800).unwrap();
        assert_eq!(
            stay,
            OriginChoice {
                origin: current,
                advanced: false,
                past_drift: false
            }
        );
        let equal = next_l1_origin(current, Some(next), 112, 1800).unwrap();
        assert_eq!(
            equal,
            OriginChoice {
                origin: next,
                advanced: true,
                past_drift: false
            }
        );
        assert!(
            next_l1_origin(current, Some(next), 500, 1800)
                .unwrap()
                .advanced
        );
    }

    #[test]
    fn stays_on_the_current_origin_while_the_next_is_unknown_within_the_drift() {
        let current = block(10, 100);
        let choice = next_l1_origin(current, None, 1900, 1800).unwrap();
        assert_eq!(
            choice,
            OriginChoice {
                origin: current,
                advanced: false,
                past_drift: false
            }
        );
    }

    #[test]
    fn past_the_drift_without_a_next_block_it_refuses() {
        let current = block(10, 100);
        assert_eq!(
            next_l1_origin(current, None, 1901, 1800),
            Err(OriginError::DriftExceeded {
                origin: current,
                l2_timestamp: 1901,
                max_drift: 1800
            })
        );
    }

    #[test]
    fn past_the_drift_with_a_later_next_block_it_builds_empty_blocks() {
        // op-node keeps the current origin when the next L1 block is still ahead of the L2 clock;
        // derivation accepts such a block only without transactions.
        let (current, next) = (block(10, 100), block(11, 2000));
        let choice = next_l1_origin(current, Some(next), 1901, 1800).unwrap();
        assert_eq!(
            choice,
            OriginChoice {
                origin: current,
                advanced: false,
                past_drift: true
            }
        );
        // Once the L2 clock reaches it, the next block is adopted.
        assert!(
            next_l1_origin(current, Some(next), 2000, 1800)
                .unwrap()
                .advanced
        );
    }

    #[test]
    fn a_next_block_far_behind_the_l2_clock_is_adopted_but_flagged() {
        let (current, next) = (block(10, 100), block(11, 112));
        let choice = next_l1_origin(current, Some(next), 5000, 1800).unwrap();
        assert_eq!(
            choice,
            OriginChoice {
                origin: next,
                advanced: true,
                past_drift: true
            }
        );
    }

    #[test]
    fn rejects_a_candidate_that_is_not_the_child() {
        let current = block(10, 100);
        let mut forked = block(11, 112);
        forked.parent_hash = B256::repeat_byte(0xee);
        assert!(matches!(
            next_l1_origin(current, Some(forked), 200, 1800),
            Err(OriginError::NotNext { .. })
        ));
        assert!(matches!(
            next_l1_origin(current, Some(block(12, 124)), 200, 1800),
            Err(OriginError::NotNext { .. })
        ));
    }

    #[test]
    fn rejects_an_l2_time_before_the_origin() {
        assert!(matches!(
            next_l1_origin(block(10, 100), None, 99, 1800),
            Err(OriginError::BeforeOrigin {
                l2_timestamp: 99,
                ..
            })
        ));
    }
}
