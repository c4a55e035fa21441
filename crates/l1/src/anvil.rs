//! A real L1 for tests: an anvil process from the repository's npm packages
//! (`node_modules/@foundry-rs/anvil-linux-amd64`), on a free port, killed on drop.

use crate::{client::L1Client, http::HttpL1Client, retry::RetryConfig};
use alloy::providers::RootProvider;
use std::{
    net::TcpListener,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// The chain id anvil runs with by default.
pub const ANVIL_CHAIN_ID: u64 = 31337;

/// The anvil binary the npm package installs.
pub fn anvil_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil")
}

/// A running anvil, automining every transaction into its own block.
#[derive(Debug)]
pub struct Anvil {
    child: Child,
    url: String,
}

impl Anvil {
    /// Starts anvil and waits until it answers. Panics when it cannot (a test set-up failure).
    pub async fn start() -> Self {
        let path = anvil_path();
        assert!(
            path.is_file(),
            "{} missing: run `npm ci` in the repository root",
            path.display()
        );
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(&path)
            .args(["--port", &port.to_string(), "--silent"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawning anvil");
        let anvil = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let client = anvil.client();
        let deadline = Instant::now() + Duration::from_secs(30);
        while client.chain_id().await.is_err() {
            assert!(
                Instant::now() < deadline,
                "anvil did not start on {}",
                anvil.url
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        anvil
    }

    /// The JSON-RPC URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// An [`HttpL1Client`] of this anvil with a short retry budget.
    pub fn client(&self) -> HttpL1Client {
        let retry = RetryConfig {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(20),
            max_backoff: Duration::from_millis(100),
            request_timeout: Duration::from_secs(5),
        };
        HttpL1Client::new(&self.url, retry).expect("a valid URL")
    }

    /// A plain alloy provider of this anvil, for what `L1Client` does not offer (`eth_getCode`,
    /// `evm_increaseTime`).
    pub fn provider(&self) -> RootProvider {
        RootProvider::new_http(self.url.parse().expect("a valid URL"))
    }
}

impl Drop for Anvil {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
