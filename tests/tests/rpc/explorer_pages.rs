//! `openledger node --explorer`: the attribution explorer next to the node's own RPC. Every
//! page answers on a fresh dev chain, with the pages' security headers; bad parameters are a
//! 400 page that says what was wrong, unknown ids a 404, and an explorer whose node does not
//! answer a 502, never a crash. (The browser test of the pages after a whole lifecycle is in
//! the rollup tests: `rollup::explorer`.)

use eyre::{Result, ensure};
use ol_e2e::{TestNode, dev_address, free_port};

async fn get(url: &str) -> Result<(u16, String, reqwest::header::HeaderMap)> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let response = client.get(url).send().await?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    Ok((status, response.text().await?, headers))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_node_serves_the_explorer_and_refuses_bad_parameters() -> Result<()> {
    let port = free_port()?;
    let node = TestNode::start_with_args(vec![
        "--explorer".into(),
        "--explorer.port".into(),
        port.to_string(),
    ])
    .await?;
    let base = format!("http://127.0.0.1:{port}");
    let contributor = dev_address(2);
    for page in [
        "/".to_string(),
        "/blocks".into(),
        "/blocks?page=2".into(),
        "/block/0".into(),
        "/datanets".into(),
        "/models".into(),
        "/requests".into(),
        format!("/contributor/{contributor}"),
        "/assets/explorer.js".into(),
        "/assets/explorer.css".into(),
    ] {
        let (status, body, headers) = get(&format!("{base}{page}")).await?;
        ensure!(status == 200, "{page}: {status}\n{body}");
        ensure!(
            headers
                .get("content-security-policy")
                .and_then(|v| v.to_str().ok())
                .is_some_and(
                    |csp| csp.contains("script-src 'self'") && !csp.contains("unsafe-inline")
                ),
            "{page} carries the content security policy: {headers:?}"
        );
    }
    let (_, home, _) = get(&format!("{base}/")).await?;
    ensure!(
        home.contains("OpenLedger explorer") && home.contains("data-count=\"paid inferences\">0<"),
        "the home page of a fresh chain: {home}"
    );

    for (page, status, says) in [
        ("/request/0x12", 400, "64 hex digits"),
        (
            "/request/0x00000000000000000000000000000000000000000000000000000000000000aa",
            404,
            "no paid inference",
        ),
        ("/block/99999999", 404, "no block"),
        ("/block/zz", 400, "a block is a number or a hash"),
        ("/datanet/7", 404, "no Datanet 7"),
        ("/datanet/-1", 400, "decimal"),
        ("/adapter/3", 404, "no adapter 3"),
        ("/contributor/0xnot", 400, "40 hex digits"),
        ("/requests?page=0", 400, "page must be"),
        (
            "/requests?page=99999999999999999999999",
            400,
            "page must be",
        ),
        (
            "/tx/0x0000000000000000000000000000000000000000000000000000000000000001",
            404,
            "no transaction",
        ),
        ("/search?q=%3Cscript%3E", 404, "&quot;&lt;script&gt;&quot;"),
        ("/nowhere", 404, "no such page"),
    ] {
        let (got, body, _) = get(&format!("{base}{page}")).await?;
        ensure!(
            got == status && body.contains(says) && !body.contains("<script>"),
            "{page}: expected {status} saying {says:?}, got {got}:\n{body}"
        );
    }
    let (status, _, headers) = get(&format!("{base}/search?q={contributor}")).await?;
    ensure!(
        status == 303
            && headers.get("location").and_then(|v| v.to_str().ok())
                == Some(format!("/contributor/{contributor}").as_str()),
        "searching an address leads to its page: {status} {headers:?}"
    );
    let (status, _, headers) = get(&format!("{base}/search?q=0")).await?;
    ensure!(
        status == 303 && headers.get("location").is_some_and(|l| l == "/block/0"),
        "searching a number leads to the block"
    );
    node.finish().await?;

    // The node is gone: the explorer process alone answers 502 pages, and keeps running.
    let port = free_port()?;
    let rpc_port = free_port()?;
    let mut explorer = tokio::process::Command::new(ol_e2e::openledger_bin()?)
        .args([
            "explorer",
            "--rpc-url",
            &format!("http://127.0.0.1:{rpc_port}"),
            "--http.port",
            &port.to_string(),
        ])
        .kill_on_drop(true)
        .spawn()?;
    let url = format!("http://127.0.0.1:{port}/");
    let answer = ol_e2e::wait_until(
        "the explorer to listen",
        std::time::Duration::from_secs(20),
        std::time::Duration::from_millis(200),
        async || Ok(get(&url).await.ok()),
    )
    .await?;
    ensure!(
        answer.0 == 502 && answer.1.contains("did not answer"),
        "a node that does not answer: {answer:?}"
    );
    ensure!(
        explorer.try_wait()?.is_none(),
        "the explorer is still running"
    );
    explorer.start_kill()?;
    Ok(())
}
