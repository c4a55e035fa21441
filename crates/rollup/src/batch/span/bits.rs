//! Span batch bitlists: `n` bits as a big-endian integer left-padded to whole bytes.
//!
//! Element `i` is bit `i` of that integer, so element 0 is the lowest bit of the last byte.
//! A set padding bit means the integer is longer than `n` bits, which op-node rejects.

use super::SpanBatchError;

/// Bytes a bitlist of `n` bits occupies.
pub(crate) const fn byte_len(n: usize) -> usize {
    n.div_ceil(8)
}

/// Appends `bits` as a bitlist.
pub(crate) fn write_bits(out: &mut Vec<u8>, bits: impl ExactSizeIterator<Item = bool>) {
    let len = byte_len(bits.len());
    let start = out.len();
    out.resize(start + len, 0);
    for (i, bit) in bits.enumerate() {
        if bit {
            out[start + len - 1 - i / 8] |= 1 << (i % 8);
        }
    }
}

/// Reads a bitlist of `n` bits from the front of `buf`, advancing it.
pub(crate) fn read_bits(
    buf: &mut &[u8],
    n: usize,
    field: &'static str,
) -> Result<Vec<bool>, SpanBatchError> {
    let len = byte_len(n);
    if buf.len() < len {
        return Err(SpanBatchError::Truncated(field));
    }
    let (bytes, rest) = buf.split_at(len);
    // Bits above `n` in the first byte are padding and must be zero.
    let padding = len * 8 - n;
    if padding > 0 && bytes[0] >> (8 - padding) != 0 {
        return Err(SpanBatchError::BitlistOverflow(field));
    }
    *buf = rest;
    Ok((0..n)
        .map(|i| bytes[len - 1 - i / 8] & (1 << (i % 8)) != 0)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn element_zero_is_lowest_bit_of_last_byte() {
        let mut out = Vec::new();
        let mut bits = vec![false; 10];
        bits[0] = true;
        bits[9] = true;
        write_bits(&mut out, bits.into_iter());
        assert_eq!(out, [0b10, 0b1]);
    }

    #[test]
    fn rejects_set_padding_bit() {
        assert_eq!(
            read_bits(&mut [0b100, 0].as_slice(), 10, "bits"),
            Err(SpanBatchError::BitlistOverflow("bits"))
        );
        assert_eq!(
            read_bits(&mut [0].as_slice(), 10, "bits"),
            Err(SpanBatchError::Truncated("bits"))
        );
    }

    proptest! {
        #[test]
        fn roundtrip(bits in proptest::collection::vec(any::<bool>(), 0..100)) {
            let mut out = Vec::new();
            write_bits(&mut out, bits.iter().copied());
            prop_assert_eq!(out.len(), byte_len(bits.len()));
            let mut buf = out.as_slice();
            prop_assert_eq!(read_bits(&mut buf, bits.len(), "bits").unwrap(), bits);
            prop_assert!(buf.is_empty());
        }
    }
}
