//! Frames through the channel bank and channels through the reader never panic, and the
//! reader never yields more than its decompression limit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ol_rollup::{
    ChannelBank, ChannelReader, channel::ChannelBankConfig, frame::parse_batcher_payload,
};

/// Small enough to keep runs fast, large enough for real channels.
const LIMIT: usize = 1 << 20;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let brotli_allowed = selector & 1 == 1;
    if selector & 2 == 0 {
        // The bytes are a compressed channel.
        if let Ok(reader) = ChannelReader::new(rest, LIMIT, brotli_allowed) {
            assert!(reader.decompressed_len() <= LIMIT);
            for batch in reader {
                let _ = batch;
            }
        }
        return;
    }
    // The bytes are batcher payloads split at 0xff bytes, each read in its own L1 block.
    let mut bank = ChannelBank::new(ChannelBankConfig {
        channel_timeout: 3,
        max_size: 4_096,
    });
    for (l1_block, payload) in rest.split(|&b| b == 0xff).enumerate() {
        if let Ok(frames) = parse_batcher_payload(payload) {
            for frame in frames {
                let _ = bank.add_frame(frame, l1_block as u64);
            }
        }
        while let Some(channel) = bank.read(l1_block as u64) {
            if let Ok(reader) = ChannelReader::new(&channel.data, LIMIT, brotli_allowed) {
                reader.for_each(drop);
            }
        }
        assert!(bank.size() <= 4_096);
    }
});
