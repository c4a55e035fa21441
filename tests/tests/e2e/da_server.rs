//! `openledger da serve`: the built-in DA server as a process, driven over HTTP. Payloads put
//! before a graceful stop or a SIGKILL are served after a restart; bad requests change nothing.

use alloy::transports::http::reqwest;
use eyre::{Result, ensure};
use ol_e2e::{DaProcess, free_port};

async fn put(base: &str, payload: &[u8]) -> Result<String> {
    let response = reqwest::Client::new()
        .post(format!("{base}/put"))
        .body(payload.to_vec())
        .send()
        .await?;
    ensure!(response.status().is_success(), "put: {}", response.status());
    let commitment = response.bytes().await?;
    ensure!(
        commitment[..2] == [0x01, 0x4f],
        "a generic commitment: {commitment:?}"
    );
    Ok(format!("0x{}", alloy::hex::encode(&commitment)))
}

async fn get(base: &str, commitment: &str) -> Result<(u16, Vec<u8>)> {
    let response = reqwest::get(format!("{base}/get/{commitment}")).await?;
    Ok((response.status().as_u16(), response.bytes().await?.to_vec()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn da_server_keeps_payloads_across_stops_and_crashes() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let port = free_port()?;

    let server = DaProcess::start(dir.path(), port, false).await?;
    let first = put(server.base(), b"\x00frames before a graceful stop").await?;
    let status = server.stop(libc::SIGTERM).await?;
    ensure!(
        status.success(),
        "SIGTERM ends the server cleanly: {status}"
    );

    let server = DaProcess::start(dir.path(), port, false).await?;
    assert_eq!(
        get(server.base(), &first).await?,
        (200, b"\x00frames before a graceful stop".to_vec())
    );
    // An acknowledged put is on disk: a SIGKILL right after it loses nothing.
    let second = put(server.base(), &vec![9u8; 1 << 20]).await?;
    server.stop(libc::SIGKILL).await?;

    let server = DaProcess::start(dir.path(), port, false).await?;
    assert_eq!(
        get(server.base(), &second).await?,
        (200, vec![9u8; 1 << 20])
    );
    assert_eq!(get(server.base(), &first).await?.0, 200);
    // Unknown and malformed commitments.
    let unknown = format!("0x00{}", "11".repeat(32));
    assert_eq!(get(server.base(), &unknown).await?.0, 404);
    assert_eq!(get(server.base(), "0x7700").await?.0, 400);
    // Over 16 MiB is refused.
    let response = reqwest::Client::new()
        .post(format!("{}/put", server.base()))
        .body(vec![0u8; 16 * 1024 * 1024 + 1])
        .send()
        .await?;
    assert_eq!(response.status().as_u16(), 413);
    let status = server.stop(libc::SIGTERM).await?;
    ensure!(status.success(), "{status}");
    Ok(())
}
