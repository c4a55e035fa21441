//! Node wiring: CLI arguments, configuration, lifecycle, logging and metrics.
//!
//! The `openledger` binary is a thin `main` over [`cli::run`]. The command line follows reth's
//! layout: argument groups live in [`args`] (one struct per help heading, flattened into the
//! commands), the commands in [`commands`]:
//!
//! * `node`: opens the data directory (initialising it from the embedded dev genesis with
//!   `--dev`), starts the JSON-RPC server and the sequencer, and runs until SIGINT or SIGTERM;
//! * `init`: writes a genesis into a data directory;
//! * `db check`: verifies a stopped node's database and recomputes its state root;
//! * `genesis inspect` and `genesis dev`: compute the roots of a genesis file, and regenerate
//!   the embedded dev genesis from the compiled predeploys.

pub mod args;
pub mod cli;
pub mod commands;
pub mod dirs;
pub mod logging;
pub mod metrics;
