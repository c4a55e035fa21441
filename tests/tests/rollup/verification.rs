//! Attribution records re-checked by a follower: the sequencer runs the job service on a base
//! model the test trains with the Model Factory; the follower (`--follow`) runs
//! `--verify-attributions` with a verifier key the sequencer lets read contributions
//! (`--content.verifier`). It derives the chain from L1 + DA, fetches the contributions and the
//! adapter bundle it lacks from the sequencer's content store, re-runs every record and agrees
//! with the honest ones. A second attestor, added by governance through the timelock, records
//! altered weights for a request before it is even made (request ids are predictable): the
//! sequencer does not fulfil a record it did not write, and the follower flags it in
//! `ol_verification` and in its metrics. Every metric of the Grafana dashboard is then in the
//! scrapes of the two nodes, and the attribution explorer shows the run in a browser
//! ([`crate::explorer`]). The sequencer settles what it fulfils (`--jobs.settle`).

use crate::devnet::{Devnet, metric};
use alloy::{
    primitives::{Address, B256, Bytes, U256, address, keccak256},
    providers::Provider,
    sol,
};
use eyre::{Context as _, Result, ensure, eyre};
use ol_e2e::lifecycle::*;
use ol_e2e::{
    contracts::{IProofOfAttribution, InferenceMarket},
    dev_private_key_hex, dev_signer, mined, raw_rpc, wait_until,
};
use serde_json::Value;
use std::time::{Duration, Instant};

/// The dev genesis's `TimelockController` (owner of `Governance`) and `Governance`.
const TIMELOCK: Address = address!("0x4200000000000000000000000000000000001000");
const GOVERNANCE: Address = address!("0x4200000000000000000000000000000000001001");
/// The dev timelock's `minDelay`.
const TIMELOCK_DELAY: Duration = Duration::from_secs(60);

sol! {
    #[sol(rpc)]
    interface TimelockController {
        function schedule(address target, uint256 value, bytes data, bytes32 predecessor, bytes32 salt, uint256 delay) external;
        function execute(address target, uint256 value, bytes payload, bytes32 predecessor, bytes32 salt) external payable;
    }
    function setAttestor(address attestor, bool allowed) external;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_re_checks_every_record_and_flags_a_forged_one() -> Result<()> {
    let work = tempfile::tempdir()?;
    let curator = dev_signer(1);
    let contributors = [
        dev_signer(2).address(),
        dev_signer(3).address(),
        dev_signer(4).address(),
    ];
    let owner = dev_signer(5);
    let forger = dev_signer(6);
    let user = dev_signer(7).address();
    let verifier = dev_signer(8);
    let council = dev_signer(0).address();

    let datanet_dir = write_datanet(work.path(), contributors).await?;
    let base_dir = train_base(work.path(), &datanet_dir).await?;
    let verifier_key = work.path().join("verifier.key");
    std::fs::write(&verifier_key, dev_private_key_hex(8))?;
    // The genesis of `l1 deploy` has the dev attestor (account 10) as its attestor.
    let attestor_key = work.path().join("attestor.key");
    std::fs::write(&attestor_key, dev_private_key_hex(10))?;
    // The sequencer also serves the OpenAI API on the base model, so that the dashboard check
    // at the end sees the inference server's metrics next to the job service's.
    let inference_port = ol_e2e::free_port()?;
    let devnet = Devnet::start_with(
        2,
        true,
        vec![
            "--inference.model".into(),
            path(&base_dir).into(),
            "--inference.port".into(),
            inference_port.to_string(),
            "--jobs.base-model".into(),
            path(&base_dir).into(),
            "--jobs.attestor-key".into(),
            path(&attestor_key).into(),
            "--jobs.settle".into(),
            "--content.verifier".into(),
            verifier.address().to_string(),
        ],
        vec![
            "--verify-attributions".into(),
            "--verify.base-model".into(),
            path(&base_dir).into(),
            "--verify.key".into(),
            path(&verifier_key).into(),
        ],
    )
    .await?;
    let l2 = devnet.sequencer.provider();
    let follower = devnet.follower.provider();

    // Governance adds a second attestor: scheduled now, executed once the delay has passed.
    let timelock = TimelockController::new(TIMELOCK, l2.clone());
    let add_forger = Bytes::from(alloy::sol_types::SolCall::abi_encode(&setAttestorCall {
        attestor: forger.address(),
        allowed: true,
    }));
    mined(
        &l2,
        timelock
            .schedule(
                GOVERNANCE,
                U256::ZERO,
                add_forger.clone(),
                B256::ZERO,
                B256::ZERO,
                U256::from(TIMELOCK_DELAY.as_secs()),
            )
            .from(council)
            .send()
            .await?,
        true,
        "schedule setAttestor",
    )
    .await?;
    let scheduled = Instant::now();

    // The Datanet, the adapter trained on it through the sequencer's RPC, the model.
    let docs = documents(&datanet_dir)?;
    let datanet = curated_datanet(&l2, curator.address(), &docs).await?;
    let curator_key = work.path().join("curator.key");
    std::fs::write(&curator_key, dev_private_key_hex(1))?;
    let adapter = train_adapter(
        work.path(),
        &base_dir,
        datanet,
        devnet.sequencer.url().as_str(),
        &curator_key,
    )
    .await?;
    let contributions = docs.len() as u64;
    let (base_id, adapter_id) = register_model(
        &l2,
        &owner,
        &adapter,
        datanet,
        contributions,
        METHOD_LINEAGE,
    )
    .await?;
    // The same weights registered again, attributed with DataInf on the gradient store their
    // bundle carries.
    let datainf_adapter = register_adapter(
        &l2,
        owner.address(),
        base_id,
        adapter.adapter_hash,
        datanet,
        contributions,
        METHOD_DATAINF,
    )
    .await?;

    // Two honest requests, one for each method, recorded and fulfilled by the sequencer.
    let market = InferenceMarket::new(MARKET, l2.clone());
    let escrow = market.quote(adapter_id, MAX_IN, MAX_OUT).call().await?;
    let mut honest = Vec::new();
    for adapter in [adapter_id, datainf_adapter] {
        honest.push(pay(&l2, adapter, escrow, user).await?.0);
    }
    for id in &honest {
        wait_until(
            "an honest request to be fulfilled",
            Duration::from_secs(90),
            Duration::from_millis(500),
            async || {
                let request = market.getRequest(*id).call().await?;
                Ok((request.status >= FULFILLED).then_some(()))
            },
        )
        .await
        .wrap_err_with(|| devnet.sequencer.log_tail(40))?;
    }
    let poa = IProofOfAttribution::new(POA, l2.clone());
    let record = poa.attributionOf(honest[0]).call().await?;
    let datainf_record = poa.attributionOf(honest[1]).call().await?;
    ensure!(
        record.method == METHOD_LINEAGE && datainf_record.method == METHOD_DATAINF,
        "each request is attributed with its adapter's method: {} and {}",
        record.method,
        datainf_record.method
    );
    for id in &honest {
        let output = published_output(&l2, *id).await?;
        ensure!(
            keccak256(&output) == poa.outputHashOf(*id).call().await?,
            "the output published for {id} is the recorded one"
        );
    }

    // The second attestor, once governance has added it, records altered weights under the id
    // the next request will get.
    tokio::time::sleep(TIMELOCK_DELAY.saturating_sub(scheduled.elapsed()) + Duration::from_secs(2))
        .await;
    mined(
        &l2,
        timelock
            .execute(GOVERNANCE, U256::ZERO, add_forger, B256::ZERO, B256::ZERO)
            .from(council)
            .send()
            .await?,
        true,
        "execute setAttestor",
    )
    .await?;
    ensure!(
        poa.isAttestor(forger.address()).call().await?,
        "governance added the second attestor"
    );
    let next = market
        .requestIdOf(market.requestCount().call().await? + U256::from(1))
        .call()
        .await?;
    let forger_wallet = alloy::providers::ProviderBuilder::new()
        .wallet(alloy::network::EthereumWallet::new(forger.clone()))
        .connect_http(devnet.sequencer.url().clone())
        .erased();
    // Every contributor of the Datanet, the planted one given the least.
    let mut forged_contributors = contributors.to_vec();
    forged_contributors.sort();
    let weights: Vec<u32> = forged_contributors
        .iter()
        .map(|c| {
            if *c == contributors[0] {
                100_000
            } else {
                450_000
            }
        })
        .collect();
    mined(
        &forger_wallet,
        IProofOfAttribution::new(POA, forger_wallet.clone())
            .record(
                next,
                record.outputHash,
                record.method,
                forged_contributors,
                weights.clone(),
                record.evidenceRoot,
            )
            .send()
            .await?,
        true,
        "forged record",
    )
    .await?;
    let (forged, _) = pay(&l2, adapter_id, escrow, user).await?;
    ensure!(forged == next, "the forged record's id is the request's");
    // The sequencer does not fulfil a record another attestor wrote.
    let status = wait_until(
        "the sequencer to refuse the forged request",
        Duration::from_secs(60),
        Duration::from_millis(500),
        async || {
            let status = raw_rpc(&l2, "ol_jobStatus", (forged,)).await?;
            Ok((status["stage"] == "refused").then_some(status))
        },
    )
    .await
    .wrap_err_with(|| devnet.sequencer.log_tail(40))?;
    ensure!(
        status["reason"]
            .as_str()
            .is_some_and(|r| r.contains("another attestor")),
        "refused for another attestor's record: {status}"
    );

    // The follower, from L1 + DA and the content it replicated, agrees with the honest records
    // and flags the forged one.
    let verdict = async |id: B256| -> Result<Value> {
        wait_until(
            "the follower's verdict",
            Duration::from_secs(240),
            Duration::from_secs(1),
            async || {
                let answer = raw_rpc(&follower, "ol_verification", (id,)).await?;
                let settled = answer["status"] != "unchecked"
                    && !answer.is_null()
                    // An honest record is final once its fulfilment (tokens) is taken in too.
                    && (answer["status"] != "agrees" || follower_saw_fulfilment(&follower, id).await?);
                Ok(settled.then_some(answer))
            },
        )
        .await
        .wrap_err_with(|| devnet.follower.log_tail(60))
    };
    for id in &honest {
        let answer = verdict(*id).await?;
        ensure!(
            answer["status"] == "agrees"
                && answer["attestor"] == serde_json::json!(record.attestor),
            "the follower reproduces the honest record {id}: {answer}"
        );
    }
    let answer = verdict(forged).await?;
    let mismatches = answer["mismatches"]
        .as_array()
        .ok_or_else(|| eyre!("ol_verification: {answer}"))?;
    ensure!(
        answer["status"] == "mismatch"
            && answer["attestor"] == serde_json::json!(forger.address())
            && mismatches.iter().any(|m| m["field"] == "weightsPpm")
            && mismatches
                .iter()
                .all(|m| m["field"] == "weightsPpm" || m["field"] == "contributors"),
        "the forged record is flagged for its weights: {answer}"
    );
    let unknown = raw_rpc(&follower, "ol_verification", (B256::repeat_byte(0x5a),)).await?;
    ensure!(unknown.is_null(), "an unknown request: {unknown}");

    let port = devnet.metrics.1;
    ensure!(
        metric(port, "verify_mismatches_total").await? == 1.0
            && metric(port, "verify_records_total").await? == 3.0,
        "the follower's metrics count 3 records, 1 mismatch"
    );
    // Six contributions and the adapter bundle came from the sequencer's store.
    ensure!(
        metric(port, "content_replicated_total").await? == (docs.len() + 1) as f64,
        "the follower replicated the Datanet's contributions and the bundle"
    );

    // One completion through the API, then every metric the Grafana dashboard reads must be in
    // one of the two scrapes.
    let completion: Value = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{inference_port}/v1/completions"))
        .json(&serde_json::json!({"model": "model", "prompt": "the", "max_tokens": 4, "ignore_eos": true}))
        .send()
        .await?
        .json()
        .await?;
    ensure!(
        completion["usage"]["completion_tokens"] == 4,
        "completion: {completion}"
    );
    crate::dashboard::check_dashboard_against(&[devnet.metrics.0, devnet.metrics.1]).await?;
    crate::explorer::check_explorer(
        &devnet,
        &crate::explorer::Run {
            lineage_request: honest[0],
            forged_request: forged,
            adapter: adapter_id,
            datanet,
            curator: curator.address(),
            contributor: contributors[0],
            escrow,
            user,
        },
    )
    .await?;
    devnet.finish().await
}

/// Whether the follower's chain carries the fulfilment of `id`.
async fn follower_saw_fulfilment(
    follower: &alloy::providers::DynProvider,
    id: B256,
) -> Result<bool> {
    let market = InferenceMarket::new(MARKET, follower.clone());
    Ok(market.getRequest(id).call().await?.status >= FULFILLED)
}
