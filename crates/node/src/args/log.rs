//! `--log.*` and `-v`.

use clap::{ArgAction, Args, ValueEnum};
use tracing::level_filters::LevelFilter;

/// How log lines are written (always to stderr).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines, coloured when stderr is a terminal.
    #[default]
    Terminal,
    /// One JSON object per line.
    Json,
}

/// Logging.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Args)]
#[command(next_help_heading = "Logging")]
pub struct LogArgs {
    /// The format of log lines written to stderr.
    #[arg(long = "log.format", value_name = "FORMAT", value_enum, default_value_t = LogFormat::Terminal, global = true)]
    pub format: LogFormat,

    /// Set the minimum log level
    ///
    /// -v      Debug
    /// -vv     Trace
    ///
    /// The default level is info. `RUST_LOG` directives (e.g. `RUST_LOG=ol_chain=trace`)
    /// apply on top; a bare level in `RUST_LOG` replaces this one.
    #[arg(short = 'v', long = "verbosity", action = ArgAction::Count, global = true, verbatim_doc_comment)]
    pub verbosity: u8,
}

impl LogArgs {
    /// The level selected by `-v`.
    pub const fn level(&self) -> LevelFilter {
        match self.verbosity {
            0 => LevelFilter::INFO,
            1 => LevelFilter::DEBUG,
            _ => LevelFilter::TRACE,
        }
    }
}
