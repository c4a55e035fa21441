//! Logging to stderr through `tracing-subscriber`.

use crate::args::{LogArgs, LogFormat};
use std::io::IsTerminal;
use tracing_subscriber::{EnvFilter, fmt};

/// Installs the global subscriber: the level of `-v` (info by default) with `RUST_LOG`
/// directives applied on top, in the chosen format, to stderr.
pub fn init(args: &LogArgs) -> eyre::Result<()> {
    let filter = EnvFilter::builder()
        .with_default_directive(args.level().into())
        .from_env_lossy();
    let builder = fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let installed = match args.format {
        LogFormat::Terminal => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
        LogFormat::Json => builder.json().with_current_span(false).try_init(),
    };
    installed.map_err(|err| eyre::eyre!("cannot install the logger: {err}"))
}
