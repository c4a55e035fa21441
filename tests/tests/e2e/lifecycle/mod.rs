//! `lifecycle`: Proof of Attribution end to end inside `openledger node --dev`, driven by alloy
//! wallets, on a model the test trains with the Model Factory.
//!
//! The project's own base model is trained from scratch on its generated corpus (with the
//! Datanet's documents). On chain: a curated Datanet of three contributors (one plants a
//! distinctive passage), their six documents uploaded with `ol_putContent` and approved, a
//! spammer's contribution rejected and slashed. The base model's owner registers it and has
//! the node's Model Factory train the adapter (`ol_trainAdapter`, signed; a stranger's request
//! and out-of-bounds hyper-parameters are refused), following the job with `ol_jobStatus`
//! (steps and loss while it runs; the node is killed with SIGKILL mid-training and the restarted
//! node resumes the job; then the adapter hash and contribution counts to register);
//! the adapter is trained on exactly the approved contributions and its bundle is in the
//! content store, `adapterHash` its keccak; the owner registers it with prices. A user pays
//! for an inference whose prompt begins the planted passage; the node's job service serves it,
//! attributes it and, from the attestor key, records and fulfils it within a bounded number of
//! blocks, the output published on chain with `fulfill` (a `requestWithHash` output is not).
//! The record names the planted contributor with the largest weight; `settle` splits
//! the fee with `fee + refund == escrow`, and the contributors withdraw their credits to the
//! wei. `ol_getInference` serves the recorded output and `ol_getAttribution` every
//! contributor's evidence, which the precompile's `verifyEvidence` accepts. Then the node is
//! killed with SIGKILL at each stage of a job (request journaled, answer journaled, `record`
//! sent, `fulfill` sent; the job service halted there by `--jobs.halt-after`) and restarted:
//! each request is recorded and fulfilled exactly once. `openledger attribution verify`
//! re-runs a request from the node's RPC (reading contributions as a `--content.verifier`) and
//! the base model's files and reproduces its record bit for bit; a record the attestor key
//! forged with altered weights is flagged. With `--jobs.settle` the node settles what it
//! fulfilled.

use alloy::{
    primitives::{Address, B256, Bytes, U256, keccak256},
    providers::Provider,
};
use eyre::{Context as _, Result, ensure, eyre};
use ol_e2e::{
    TestNode,
    contracts::{DatanetRegistry, IProofOfAttribution, InferenceMarket, Staking},
    dev_signer, event, json_quantity, mined, one_ether, openledger_bin,
    private::{read_inference, submit_prompt},
    raw_receipt, raw_rpc, rpc_error, wait_until,
};
use serde_json::Value;
use std::time::Duration;

use ol_e2e::lifecycle::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paid_inference_is_served_attributed_recorded_and_settled() -> Result<()> {
    let work = tempfile::tempdir()?;
    let curator = dev_signer(1);
    let planter = dev_signer(2);
    let contributors = [
        planter.address(),
        dev_signer(3).address(),
        dev_signer(4).address(),
    ];
    let owner = dev_signer(5);
    let staker = dev_signer(6).address();
    let user = dev_signer(7).address();
    let anyone = dev_signer(8).address();
    let spammer = dev_signer(9).address();

    let datanet_dir = write_datanet(work.path(), contributors).await?;
    let base_dir = train_base(work.path(), &datanet_dir).await?;

    // A verifier that may read every contribution re-checks records.
    let verifier = dev_signer(8);
    let verifier_key = work.path().join("verifier.key");
    std::fs::write(&verifier_key, ol_e2e::dev_private_key_hex(8))?;
    let jobs_args = vec![
        "--jobs.base-model".to_string(),
        path(&base_dir).to_string(),
        "--content.verifier".to_string(),
        verifier.address().to_string(),
    ];
    let mut node = TestNode::start_with_args(jobs_args.clone()).await?;
    let provider = node.provider();
    let datanets = DatanetRegistry::new(DATANETS, provider.clone());

    // --- the Datanet: uploads, contributions, curation -------------------------------------
    let docs = documents(&datanet_dir)?;
    let approved = docs.len() as u64;
    let datanet = curated_datanet(&provider, curator.address(), &docs).await?;
    // A spammer's contribution (never uploaded, nothing to read) is rejected and slashed.
    let receipt = mined(
        &provider,
        datanets
            .contribute(
                datanet,
                keccak256("buy cheap tokens"),
                16,
                "ol://spam".into(),
            )
            .value(one_ether())
            .from(spammer)
            .send()
            .await?,
        true,
        "spam contribute",
    )
    .await?;
    let spam = event::<DatanetRegistry::ContributionSubmitted>(&receipt)?.contributionId;
    let receipt = mined(
        &provider,
        datanets
            .reject(spam, keccak256("spam"))
            .from(curator.address())
            .send()
            .await?,
        true,
        "reject",
    )
    .await?;
    let rejected = event::<DatanetRegistry::ContributionRejected>(&receipt)?;
    ensure!(
        rejected.slashed == one_ether() / U256::from(2),
        "half the spammer's stake is slashed"
    );

    // --- the Model Factory in the node, asked by the base model's owner ---------------------
    let weights = weights_hash(base_dir.parent().ok_or_else(|| eyre!("base job folder"))?).await?;
    let base_id = register_base(&provider, owner.address(), weights).await?;
    // A stranger may not train on the owner's model; nothing is queued.
    let stranger =
        ol_e2e::training::train_request(&dev_signer(9), base_id, datanet, "{}", unix_now() + 60);
    let refused = rpc_error(&provider, "ol_trainAdapter", (stranger,)).await?;
    ensure!(
        matches!(&refused, Some((-32040, message)) if message.contains("owned by")),
        "a stranger's training request: {refused:?}"
    );
    let bad = ol_e2e::training::train_request(
        &owner,
        base_id,
        datanet,
        r#"{"rank": 0}"#,
        unix_now() + 60,
    );
    let refused = rpc_error(&provider, "ol_trainAdapter", (bad,)).await?;
    ensure!(
        matches!(&refused, Some((-32602, _))),
        "out-of-bounds hyper-parameters: {refused:?}"
    );
    let job = start_training(&provider, &owner, base_id, datanet).await?;
    // A node killed mid-training resumes the job from its checkpoint after a restart.
    node.kill9().await?;
    node.restart().await?;
    let provider = node.provider();
    let market = InferenceMarket::new(MARKET, provider.clone());
    let poa = IProofOfAttribution::new(POA, provider.clone());
    let adapter = finish_training(&provider, &owner, job)
        .await
        .wrap_err_with(|| node.log_tail(40))?;
    ensure!(
        node.log_tail(400).contains("resuming a training job"),
        "the restarted node resumed the job"
    );
    let adapter_hash = manifest_b256(&adapter.status, "/result/adapterHash")?;
    ensure!(
        keccak256(&adapter.bundle) == adapter_hash,
        "adapterHash is the bundle's keccak"
    );
    ensure!(
        adapter.status["result"]["datanets"]
            == serde_json::json!([{"datanetId": datanet, "contributionCount": approved}]),
        "what to register: {}",
        adapter.status
    );
    let manifest = &adapter.manifest;
    ensure!(
        manifest_b256(manifest, "/base_model/hash")? == weights,
        "trained on the registered base model"
    );
    let trained: Vec<B256> = manifest["data"]["datapoints"]
        .as_array()
        .ok_or_else(|| eyre!("manifest datapoints"))?
        .iter()
        .map(|d| serde_json::from_value(d["hash"].clone()))
        .collect::<Result<_, _>>()?;
    let mut expected: Vec<B256> = docs.iter().map(|(_, bytes)| keccak256(bytes)).collect();
    expected.sort();
    ensure!(
        trained.len() == expected.len() && trained.iter().all(|h| expected.contains(h)),
        "the adapter is trained on exactly the approved contributions (not the spam)"
    );

    // --- the adapter registered with prices -------------------------------------------------
    let adapter_id = register_adapter(
        &provider,
        owner.address(),
        base_id,
        adapter_hash,
        datanet,
        approved,
        METHOD_LINEAGE,
    )
    .await?;
    let staking = Staking::new(STAKING, provider.clone());
    mined(
        &provider,
        staking
            .stake()
            .value(one_ether())
            .from(staker)
            .send()
            .await?,
        true,
        "stake",
    )
    .await?;

    let listed = raw_rpc(&provider, "ol_listAdapters", ()).await?;
    ensure!(
        listed.as_array().map(Vec::len) == Some(1)
            && listed[0]["served"] == true
            && listed[0]["attributionMethod"] == METHOD_LINEAGE
            && listed[0]["adapterHash"] == serde_json::json!(adapter_hash),
        "ol_listAdapters: {listed}"
    );

    // --- a paid inference -------------------------------------------------------------------
    let escrow = market.quote(adapter_id, MAX_IN, MAX_OUT).call().await?;
    let (request_id, request_block) = pay(&provider, adapter_id, escrow, user).await?;
    let request = wait_until(
        "the request to be fulfilled",
        Duration::from_secs(90),
        Duration::from_millis(500),
        async || {
            let request = market.getRequest(request_id).call().await?;
            Ok((request.status as u8 == FULFILLED).then_some(request))
        },
    )
    .await
    .wrap_err_with(|| node.log_tail(40))?;
    let record = poa.attributionOf(request_id).call().await?;
    ensure!(
        record.blockNumber - request_block <= MAX_BLOCKS_TO_FULFIL,
        "recorded {} blocks after the request",
        record.blockNumber - request_block
    );
    ensure!(
        record.method == METHOD_LINEAGE && !record.outputHash.is_zero(),
        "record: {record:?}"
    );
    ensure!(
        record.attestor == dev_signer(10).address(),
        "recorded by the dev attestor"
    );
    let weight_of = |who: Address| {
        record
            .contributors
            .iter()
            .position(|c| *c == who)
            .map_or(0, |i| record.weightsPpm[i])
    };
    let planted_weight = weight_of(planter.address());
    ensure!(
        contributors[1..]
            .iter()
            .all(|c| weight_of(*c) < planted_weight)
            && planted_weight > 500_000,
        "the planted contributor's weight is the largest: {:?} {:?}",
        record.contributors,
        record.weightsPpm
    );
    ensure!(
        record.weightsPpm.iter().map(|w| u64::from(*w)).sum::<u64>() == 1_000_000,
        "weights sum to 1,000,000 ppm"
    );
    ensure!(
        request.tokensIn > 0
            && request.tokensIn <= MAX_IN
            && request.tokensOut > 0
            && request.tokensOut <= MAX_OUT,
        "counted tokens {} / {}",
        request.tokensIn,
        request.tokensOut
    );

    // --- what the node serves about it ------------------------------------------------------
    let status = raw_rpc(&provider, "ol_jobStatus", (request_id,)).await?;
    ensure!(status["stage"] == "fulfilled", "ol_jobStatus: {status}");
    let inference = raw_rpc(&provider, "ol_getInference", (request_id,)).await?;
    let output = inference["output"]
        .as_str()
        .ok_or_else(|| eyre!("ol_getInference: {inference}"))?;
    ensure!(
        keccak256(output.as_bytes()) == record.outputHash
            && json_quantity(&inference, "tokensOut")? == U256::from(request.tokensOut),
        "the served output is the recorded one: {inference}"
    );
    ensure!(
        output.contains("gortenqua sleeps"),
        "the output continues the planted passage: {output:?}"
    );
    ensure!(
        published_output(&provider, request_id).await? == output.as_bytes(),
        "the public request's output is on chain (OutputPublished)"
    );
    let attribution = raw_rpc(&provider, "ol_getAttribution", (request_id,)).await?;
    ensure!(
        attribution["evidenceRoot"] == serde_json::json!(record.evidenceRoot),
        "ol_getAttribution's root is the record's: {attribution}"
    );
    let evidence = attribution["evidence"]
        .as_array()
        .ok_or_else(|| eyre!("evidence"))?;
    ensure!(!evidence.is_empty(), "evidence is served");
    for item in evidence {
        let leaf: B256 = serde_json::from_value(item["leaf"].clone())?;
        let proof: Vec<B256> = serde_json::from_value(item["proof"].clone())?;
        let datapoint: B256 = serde_json::from_value(item["datapoint"].clone())?;
        let contributor: Address = serde_json::from_value(item["contributor"].clone())?;
        let score: U256 = serde_json::from_value(item["score"].clone())?;
        ensure!(
            poa.evidenceLeaf(datapoint, contributor, score)
                .call()
                .await?
                == leaf,
            "the precompile hashes the leaf the same way"
        );
        ensure!(
            poa.verifyEvidence(request_id, leaf, proof.clone())
                .call()
                .await?,
            "verifyEvidence accepts {item}"
        );
        let mut forged = proof.clone();
        forged.push(B256::repeat_byte(0xab));
        ensure!(
            !poa.verifyEvidence(request_id, keccak256(leaf), proof)
                .call()
                .await?
                && (forged.len() == 1
                    || !poa.verifyEvidence(request_id, leaf, forged).call().await?),
            "verifyEvidence refuses a forged leaf or proof"
        );
    }

    // The spans that earned the weights: byte ranges of the output found in documents of the
    // evidence, the planted passage's among them, credited to its planter.
    let spans = attribution["spans"]
        .as_array()
        .ok_or_else(|| eyre!("no spans: {attribution}"))?;
    ensure!(
        !spans.is_empty(),
        "the lineage spans are served: {attribution}"
    );
    let cited: Vec<&Value> = evidence.iter().map(|item| &item["datapoint"]).collect();
    let planted_twice = format!("{PLANTED} {PLANTED}");
    let mut planted_span = false;
    for span in spans {
        let start = usize::try_from(json_quantity(span, "start")?)?;
        let end = usize::try_from(json_quantity(span, "end")?)?;
        let text = output
            .get(start..end)
            .filter(|text| !text.is_empty())
            .ok_or_else(|| eyre!("span {span} is not a piece of the output {output:?}"))?;
        let documents = span["documents"]
            .as_array()
            .filter(|documents| !documents.is_empty())
            .ok_or_else(|| eyre!("span {span} credits no document"))?;
        ensure!(
            documents
                .iter()
                .all(|document| cited.contains(&&document["datapoint"])),
            "span {span} credits a document outside the evidence"
        );
        // A span of at least three words, so that a common word alone does not count.
        planted_span |= text.split_whitespace().count() >= 3
            && planted_twice.contains(text.trim())
            && documents
                .iter()
                .any(|document| document["contributor"] == serde_json::json!(planter.address()));
    }
    ensure!(
        planted_span,
        "a span of the planted passage is credited to its planter: {spans:?}"
    );

    // --- a verifier re-runs it from the node's RPC and the model files ---------------------
    let verify = |id: B256, url: String| {
        let (base, key) = (base_dir.clone(), verifier_key.clone());
        async move {
            tokio::process::Command::new(openledger_bin()?)
                .args([
                    "attribution",
                    "verify",
                    "--request",
                    &id.to_string(),
                    "--rpc",
                    &url,
                ])
                .args(["--base-model", path(&base), "--key", path(&key)])
                .output()
                .await
                .wrap_err("running attribution verify")
        }
    };
    let verified = verify(request_id, node.url().to_string()).await?;
    ensure!(
        verified.status.success()
            && String::from_utf8_lossy(&verified.stdout).contains("reproduced bit for bit"),
        "attribution verify: {}\n{}",
        String::from_utf8_lossy(&verified.stdout),
        String::from_utf8_lossy(&verified.stderr)
    );

    // --- settlement and withdrawals ---------------------------------------------------------
    let receipt = mined(
        &provider,
        market.settle(request_id).from(anyone).send().await?,
        true,
        "settle",
    )
    .await?;
    let settled = event::<InferenceMarket::Settled>(&receipt)?;
    ensure!(
        settled.fee + settled.refund == escrow,
        "fee + refund == escrow"
    );
    let token_part = (u128::from(request.tokensIn) * PRICE_IN
        + u128::from(request.tokensOut) * PRICE_OUT)
        .div_ceil(1000);
    ensure!(
        settled.fee == U256::from(token_part) + U256::from(request.platformFee),
        "the fee follows the counted tokens"
    );
    let planted_credit = market.balanceOf(planter.address()).call().await?;
    for other in &contributors[1..] {
        let credit = market.balanceOf(*other).call().await?;
        ensure!(
            credit <= planted_credit,
            "the planted contributor is paid the most"
        );
    }
    ensure!(
        planted_credit > U256::ZERO,
        "the planted contributor is credited"
    );
    for who in contributors.iter().filter(|c| weight_of(**c) > 0) {
        let before = provider.get_balance(*who).await?;
        let credit = market.balanceOf(*who).call().await?;
        let receipt = mined(
            &provider,
            market.withdraw().from(*who).send().await?,
            true,
            "withdraw",
        )
        .await?;
        // Gas and, on an OP chain, the L1 data fee: the credit arrives whole, to the wei.
        let raw = raw_receipt(&provider, receipt.transaction_hash)
            .await?
            .ok_or_else(|| eyre!("withdraw receipt"))?;
        let cost = U256::from(receipt.gas_used) * U256::from(receipt.effective_gas_price)
            + json_quantity(&raw, "l1Fee")?;
        let after = provider.get_balance(*who).await?;
        ensure!(
            after + cost == before + credit,
            "withdrawal of {credit}: {before} -> {after}"
        );
        ensure!(
            market.balanceOf(*who).call().await?.is_zero(),
            "credit withdrawn"
        );
    }

    // --- a private request: the prompt handed over off chain, the output the requester's ----
    let requester = dev_signer(7);
    let secret_prompt = PROMPT.as_bytes();
    let receipt = mined(
        &provider,
        market
            .requestWithHash(adapter_id, keccak256(secret_prompt), MAX_IN, MAX_OUT)
            .value(escrow)
            .from(user)
            .send()
            .await?,
        true,
        "requestWithHash",
    )
    .await?;
    let private_id = event::<InferenceMarket::Requested>(&receipt)?.requestId;
    // Once the service has journaled the request; refusals first: another key, other bytes.
    wait_until(
        "the request to be journaled",
        Duration::from_secs(30),
        Duration::from_millis(200),
        async || {
            let status = raw_rpc(&provider, "ol_jobStatus", (private_id,)).await?;
            Ok((!status.is_null()).then_some(()))
        },
    )
    .await?;
    let refused = rpc_error(
        &provider,
        "ol_submitPrompt",
        (submit_prompt(&dev_signer(3), private_id, secret_prompt),),
    )
    .await?;
    ensure!(
        matches!(refused, Some((-32040, _))),
        "another key's prompt: {refused:?}"
    );
    let mut wrong = submit_prompt(&requester, private_id, secret_prompt);
    wrong["prompt"] = serde_json::json!(Bytes::from_static(b"another prompt"));
    let refused = rpc_error(&provider, "ol_submitPrompt", (wrong,)).await?;
    ensure!(
        matches!(refused, Some((-32041, _))),
        "bytes that do not hash to promptHash: {refused:?}"
    );
    let accepted = raw_rpc(
        &provider,
        "ol_submitPrompt",
        (submit_prompt(&requester, private_id, secret_prompt),),
    )
    .await?;
    ensure!(
        accepted == serde_json::json!(keccak256(secret_prompt)),
        "ol_submitPrompt: {accepted}"
    );
    wait_until(
        "the private request to be fulfilled",
        Duration::from_secs(60),
        Duration::from_millis(500),
        async || {
            Ok((market.getRequest(private_id).call().await?.status == FULFILLED).then_some(()))
        },
    )
    .await
    .wrap_err_with(|| node.log_tail(30))?;
    let refused = rpc_error(&provider, "ol_getInference", (private_id,)).await?;
    ensure!(
        matches!(refused, Some((-32043, _))),
        "an unsigned read of a private output: {refused:?}"
    );
    let expiry = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs()
        + 60;
    let refused = rpc_error(
        &provider,
        "ol_getInference",
        (
            private_id,
            read_inference(&dev_signer(3), private_id, expiry),
        ),
    )
    .await?;
    ensure!(
        matches!(refused, Some((-32040, _))),
        "a stranger's read of a private output: {refused:?}"
    );
    let private = raw_rpc(
        &provider,
        "ol_getInference",
        (private_id, read_inference(&requester, private_id, expiry)),
    )
    .await?;
    let private_record = poa.attributionOf(private_id).call().await?;
    ensure!(
        private["output"].as_str().map(|o| keccak256(o.as_bytes()))
            == Some(private_record.outputHash),
        "the requester reads the recorded output: {private}"
    );
    ensure!(
        published_output(&provider, private_id).await.is_err(),
        "a requestWithHash output stays off chain"
    );

    // --- kill -9 at every stage of a job: each request fulfilled exactly once -----------------
    for point in ["requested", "answered", "record-sent", "fulfill-sent"] {
        let provider = restart(&mut node, &jobs_args, Some(point)).await?;
        let (id, _) = pay(&provider, adapter_id, escrow, user).await?;
        // The attestor's account delegates to AttestorBatch, so a job's record and fulfilment
        // leave in one transaction: "fulfill-sent" is the same send as "record-sent", and the
        // kill there waits until that transaction is in a block, so the journal (halted) is
        // behind the chain when the node restarts.
        let market = InferenceMarket::new(MARKET, provider.clone());
        let reached = async |status: &Value| -> Result<bool> {
            let sent = status["lastTransaction"].is_string();
            Ok(match point {
                "requested" => status["stage"] == "pending",
                "answered" => status["stage"] == "answered",
                "record-sent" => status["stage"] == "answered" && sent,
                _ => {
                    status["stage"] == "answered"
                        && sent
                        && market.getRequest(id).call().await?.status == FULFILLED
                }
            })
        };
        wait_until(
            point,
            Duration::from_secs(60),
            Duration::from_millis(100),
            async || {
                let status = raw_rpc(&provider, "ol_jobStatus", (id,)).await?;
                Ok(reached(&status).await?.then_some(()))
            },
        )
        .await
        .wrap_err_with(|| node.log_tail(30))?;
        node.kill9().await?;
        let provider = restart(&mut node, &jobs_args, None).await?;
        let market = InferenceMarket::new(MARKET, provider.clone());
        wait_until(
            "fulfilment after the restart",
            Duration::from_secs(60),
            Duration::from_millis(500),
            async || Ok((market.getRequest(id).call().await?.status == FULFILLED).then_some(())),
        )
        .await
        .wrap_err_with(|| format!("killed after {point}\n{}", node.log_tail(40)))?;
        // A few more blocks, in case a second record or fulfilment were on its way.
        let head = provider.get_block_number().await?;
        ol_e2e::wait_for_block(&provider, head + 3).await?;
        let count = async |address: Address, topic: B256| -> Result<usize> {
            let filter = alloy::rpc::types::Filter::new()
                .address(address)
                .event_signature(topic)
                .topic1(id)
                .from_block(0u64);
            Ok(provider.get_logs(&filter).await?.len())
        };
        use alloy::sol_types::SolEvent as _;
        let records = count(
            POA,
            IProofOfAttribution::AttributionRecorded::SIGNATURE_HASH,
        )
        .await?;
        let fulfilments = count(MARKET, InferenceMarket::Fulfilled::SIGNATURE_HASH).await?;
        ensure!(
            (records, fulfilments) == (1, 1),
            "killed after {point}: {records} records and {fulfilments} fulfilments"
        );
    }

    // --- with --jobs.settle the node also settles what it fulfilled --------------------------
    let mut settling = jobs_args.clone();
    settling.push("--jobs.settle".to_string());
    let provider = restart(&mut node, &settling, None).await?;
    let (id, _) = pay(&provider, adapter_id, escrow, user).await?;
    let market = InferenceMarket::new(MARKET, provider.clone());
    wait_until(
        "the node to settle",
        Duration::from_secs(60),
        Duration::from_millis(500),
        async || Ok((market.getRequest(id).call().await?.status == SETTLED).then_some(())),
    )
    .await
    .wrap_err_with(|| node.log_tail(30))?;
    wait_until(
        "the job to end",
        Duration::from_secs(30),
        Duration::from_millis(300),
        async || {
            let status = raw_rpc(&provider, "ol_jobStatus", (id,)).await?;
            Ok((status["stage"] == "fulfilled").then_some(()))
        },
    )
    .await?;

    // --- a forged record is flagged -------------------------------------------------------------
    // The service halts once the request is journaled; the attestor key then records altered
    // weights itself, and the verifier does not reproduce them.
    let provider = restart(&mut node, &jobs_args, Some("requested")).await?;
    let (id, _) = pay(&provider, adapter_id, escrow, user).await?;
    let honest = raw_rpc(&provider, "ol_getAttribution", (request_id,)).await?;
    let attestor = alloy::providers::ProviderBuilder::new()
        .wallet(alloy::network::EthereumWallet::new(dev_signer(10)))
        .connect_http(node.url().clone())
        .erased();
    let forged = IProofOfAttribution::new(POA, attestor.clone());
    mined(
        &attestor,
        forged
            .record(
                id,
                record.outputHash,
                METHOD_LINEAGE,
                {
                    let mut sorted = contributors.to_vec();
                    sorted.sort();
                    sorted
                },
                vec![100_000, 450_000, 450_000],
                serde_json::from_value(honest["evidenceRoot"].clone())?,
            )
            .send()
            .await?,
        true,
        "forged record",
    )
    .await?;
    let flagged = verify(id, node.url().to_string()).await?;
    let stdout = String::from_utf8_lossy(&flagged.stdout);
    ensure!(
        !flagged.status.success() && stdout.contains("MISMATCH") && stdout.contains("weightsPpm"),
        "a forged record is flagged: {stdout}\n{}",
        String::from_utf8_lossy(&flagged.stderr)
    );
    node.finish().await
}
