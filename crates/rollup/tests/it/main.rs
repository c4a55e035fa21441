//! Integration tests of the rollup codec: batches, channels, malformed input and a
//! differential check against kona-protocol.

mod batches;
mod channels;
mod common;
mod differential;
mod malformed;
