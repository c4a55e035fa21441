//! The `openledger` binary: parses the command line and runs the chosen command.

fn main() -> std::process::ExitCode {
    ol_node::cli::run()
}
