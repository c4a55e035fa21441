//! The precompile's gas schedule and meter.
//!
//! The schedule prices the work like the opcodes a contract would spend on it:
//!
//! | item | gas |
//! |---|---|
//! | every call (dispatch) | [`BASE`] = 100 |
//! | per 32-byte word of calldata and of return data (ABI decoding/encoding) | [`PER_WORD`] = 3 |
//! | each Keccak-256 (storage slots, leaves, Merkle nodes) | 30 + 6 per word, as `KECCAK256` |
//! | storage read | EIP-2929 `SLOAD`: 2,100 cold, 100 warm |
//! | storage write | EIP-2200/2929 `SSTORE`: 20,000 set, 2,900 reset, 100 no-op, +2,100 cold; EIP-3529 refunds |
//! | log | 375 + 375 per topic + 8 per data byte, as `LOGn` |
//! | per contributor validated by `record` / per weight of `split` | [`PER_ITEM`] = 50 |
//!
//! Calldata is charged before it is decoded, and every storage access before it happens (the
//! cold surcharge right after, when the journal tells), so a call that runs out of gas stops
//! early with [`PrecompileHalt::OutOfGas`] and all of its gas spent.

use alloy_primitives::U256;
use revm::precompile::PrecompileHalt;

/// Charged on every call.
pub const BASE: u64 = 100;
/// Per 32-byte word of calldata and of return data.
pub const PER_WORD: u64 = 3;
/// Per contributor checked by `record` and per weight split by `split`.
pub const PER_ITEM: u64 = 50;
/// Static part of `KECCAK256`.
pub const KECCAK_BASE: u64 = 30;
/// Per word hashed by `KECCAK256`.
pub const KECCAK_WORD: u64 = 6;
/// EIP-2929 warm storage access (also the `SSTORE` no-op cost).
pub const WARM_ACCESS: u64 = 100;
/// EIP-2929 cold storage access.
pub const COLD_SLOAD: u64 = 2_100;
/// `SSTORE` of a non-zero value into a slot that was zero at the start of the transaction.
pub const SSTORE_SET: u64 = 20_000;
/// `SSTORE` changing a slot that was non-zero at the start of the transaction.
pub const SSTORE_RESET: u64 = 5_000 - COLD_SLOAD;
/// EIP-3529 refund for clearing a slot.
pub const SSTORE_CLEARS_REFUND: i64 = 4_800;
/// `LOG` static part.
pub const LOG: u64 = 375;
/// `LOG` per topic.
pub const LOG_TOPIC: u64 = 375;
/// `LOG` per data byte.
pub const LOG_DATA_BYTE: u64 = 8;

/// Number of 32-byte words covering `len` bytes.
pub const fn words(len: usize) -> u64 {
    (len as u64).div_ceil(32)
}

/// Gas of hashing `len` bytes.
pub const fn keccak_cost(len: usize) -> u64 {
    KECCAK_BASE + KECCAK_WORD * words(len)
}

/// Gas of a log with `topics` topics and `data_len` bytes of data.
pub const fn log_cost(topics: usize, data_len: usize) -> u64 {
    LOG + LOG_TOPIC * topics as u64 + LOG_DATA_BYTE * data_len as u64
}

/// The values an `SSTORE` sees: at the start of the transaction, now, and the one written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SstoreValues {
    /// The value at the start of the transaction.
    pub original: U256,
    /// The value before this write.
    pub present: U256,
    /// The value written.
    pub new: U256,
}

impl SstoreValues {
    /// EIP-2200 gas of the write, without the EIP-2929 cold surcharge.
    pub fn cost(&self) -> u64 {
        if self.new == self.present || self.original != self.present {
            WARM_ACCESS
        } else if self.original.is_zero() {
            SSTORE_SET
        } else {
            SSTORE_RESET
        }
    }

    /// EIP-2200 refund of the write with EIP-3529's clearing refund (may be negative).
    pub fn refund(&self) -> i64 {
        let Self {
            original,
            present,
            new,
        } = *self;
        if new == present {
            return 0;
        }
        if original == present {
            return if new.is_zero() {
                SSTORE_CLEARS_REFUND
            } else {
                0
            };
        }
        let mut refund = 0;
        if !original.is_zero() {
            if present.is_zero() {
                refund -= SSTORE_CLEARS_REFUND;
            } else if new.is_zero() {
                refund += SSTORE_CLEARS_REFUND;
            }
        }
        if original == new {
            refund += if original.is_zero() {
                (SSTORE_SET - WARM_ACCESS) as i64
            } else {
                (SSTORE_RESET - WARM_ACCESS) as i64
            };
        }
        refund
    }
}

/// Gas used so far against the call's limit, and the refund earned.
#[derive(Debug, Clone, Copy)]
pub struct GasMeter {
    limit: u64,
    used: u64,
    refund: i64,
}

impl GasMeter {
    /// A meter for a call given `limit` gas.
    pub const fn new(limit: u64) -> Self {
        Self {
            limit,
            used: 0,
            refund: 0,
        }
    }

    /// Spends `cost`, or fails with out-of-gas when the limit would be exceeded.
    pub fn charge(&mut self, cost: u64) -> Result<(), PrecompileHalt> {
        match self.used.checked_add(cost) {
            Some(used) if used <= self.limit => {
                self.used = used;
                Ok(())
            }
            _ => Err(PrecompileHalt::OutOfGas),
        }
    }

    /// Adds to the refund counter (negative to take back).
    pub const fn refund(&mut self, amount: i64) {
        self.refund += amount;
    }

    /// Gas used.
    pub const fn used(&self) -> u64 {
        self.used
    }

    /// Refund earned.
    pub const fn refunded(&self) -> i64 {
        self.refund
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(original: u64, present: u64, new: u64) -> SstoreValues {
        SstoreValues {
            original: U256::from(original),
            present: U256::from(present),
            new: U256::from(new),
        }
    }

    /// The EIP-3529 table of `SSTORE` gas and refunds (warm slot, so no cold surcharge).
    #[test]
    fn sstore_matches_the_eip_3529_table() {
        let cases = [
            // (original, present, new, gas, refund)
            (0, 0, 0, 100, 0),
            (0, 0, 1, 20_000, 0),
            (0, 1, 0, 100, 19_900),
            (0, 1, 2, 100, 0),
            (0, 1, 1, 100, 0),
            (1, 0, 0, 100, 0),
            (1, 0, 1, 100, -4_800 + 2_800),
            (1, 0, 2, 100, -4_800),
            (1, 2, 0, 100, 4_800),
            (1, 2, 2, 100, 0),
            (1, 2, 1, 100, 2_800),
            (1, 2, 3, 100, 0),
            (1, 1, 0, 2_900, 4_800),
            (1, 1, 2, 2_900, 0),
            (1, 1, 1, 100, 0),
        ];
        for (original, present, new, gas, refund) in cases {
            let v = values(original, present, new);
            assert_eq!(v.cost(), gas, "{v:?}");
            assert_eq!(v.refund(), refund, "{v:?}");
        }
    }

    #[test]
    fn meter_refuses_to_exceed_the_limit() {
        let mut meter = GasMeter::new(100);
        meter.charge(60).unwrap();
        assert_eq!(meter.charge(41), Err(PrecompileHalt::OutOfGas));
        assert_eq!(meter.used(), 60);
        meter.charge(40).unwrap();
        assert_eq!(meter.charge(u64::MAX), Err(PrecompileHalt::OutOfGas));
        assert_eq!(meter.used(), 100);
    }
}
