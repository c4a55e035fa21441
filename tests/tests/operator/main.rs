//! What an operator runs: `scripts/devnet.sh` from a fresh clone, and the `docker/` files
//! (validated here, since these machines have no Docker engine).
//!
//! ```text
//! cargo build -p openledger
//! cargo test -p ol-e2e --test operator
//! ```

mod devnet_script;
mod docker;
