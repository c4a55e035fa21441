//! Unsigned base-128 varints (protobuf encoding) as span batches use them.
//!
//! Decoding follows Go's `binary.ReadUvarint`, which op-node uses: at most 10 bytes, the tenth
//! may only be 0 or 1, and non-minimal encodings (such as `0x80 0x00`) are accepted, because a
//! follower must accept every batch op-node accepts.

/// Longest encoding of a `u64`.
pub(crate) const MAX_VARINT_LEN: usize = 10;

/// Why a varint did not decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VarintError {
    /// The input ended inside the varint.
    Truncated,
    /// The value does not fit in a `u64`.
    Overflow,
}

/// Appends `value` as a minimal uvarint.
pub(crate) fn write_uvarint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Reads a uvarint from the front of `buf`, advancing it.
pub(crate) fn read_uvarint(buf: &mut &[u8]) -> Result<u64, VarintError> {
    let mut value = 0u64;
    for (i, &byte) in buf.iter().enumerate() {
        // The tenth byte holds bit 63 only; anything more (or a continuation) overflows.
        if i == MAX_VARINT_LEN - 1 && byte > 1 {
            return Err(VarintError::Overflow);
        }
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte < 0x80 {
            *buf = &buf[i + 1..];
            return Ok(value);
        }
    }
    Err(VarintError::Truncated)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_encodings() {
        let mut out = Vec::new();
        write_uvarint(&mut out, 300);
        assert_eq!(out, [0xac, 0x02]);
        out.clear();
        write_uvarint(&mut out, u64::MAX);
        assert_eq!(out.len(), MAX_VARINT_LEN);
        assert_eq!(read_uvarint(&mut out.as_slice()), Ok(u64::MAX));
    }

    #[test]
    fn accepts_non_minimal_like_go() {
        assert_eq!(read_uvarint(&mut [0x80, 0x00].as_slice()), Ok(0));
    }

    #[test]
    fn rejects_overflow_and_truncation() {
        assert_eq!(
            read_uvarint(&mut [0xff; 9].as_slice()),
            Err(VarintError::Truncated)
        );
        let mut ten = [0xff; 10];
        ten[9] = 0x02;
        assert_eq!(
            read_uvarint(&mut ten.as_slice()),
            Err(VarintError::Overflow)
        );
        assert_eq!(
            read_uvarint(&mut [0x80; 11].as_slice()),
            Err(VarintError::Overflow)
        );
        assert_eq!(
            read_uvarint(&mut [].as_slice()),
            Err(VarintError::Truncated)
        );
    }

    proptest! {
        #[test]
        fn roundtrip(value: u64, tail in proptest::collection::vec(any::<u8>(), 0..4)) {
            let mut out = Vec::new();
            write_uvarint(&mut out, value);
            out.extend_from_slice(&tail);
            let mut buf = out.as_slice();
            prop_assert_eq!(read_uvarint(&mut buf), Ok(value));
            prop_assert_eq!(buf, tail.as_slice());
        }
    }
}
