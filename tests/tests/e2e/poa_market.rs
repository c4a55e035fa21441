//! `poa_market`: the whole Proof of Attribution market on `openledger node --dev`, against the
//! contracts the dev genesis predeploys and the node's native PoA precompile at `0x…0A00`.
//!
//! A curator creates a Datanet, three contributors stake data and are approved, a model owner
//! registers a base model and an adapter, a staker stakes, a user requests an inference (escrow).
//! A stranger's `record` and the attestor's `record` with bad weights are mined as failed
//! transactions and change nothing; the attestor records the real attribution (with an
//! OpenZeppelin `StandardMerkleTree` evidence root from the workers' builder) and the token
//! counts, anyone settles, and everyone withdraws. Every amount is checked against the fee
//! formula of `contracts/README.md`, the largest-remainder split and the wallets' balances (gas
//! and L1 fee of each transaction accounted for).

use alloy::{
    network::EthereumWallet,
    primitives::{Address, B256, Bytes, U256, address, keccak256},
    providers::{DynProvider, Provider, ProviderBuilder},
    rpc::types::TransactionReceipt,
    sol_types::SolError,
};
use eyre::{Context as _, Result, ensure, eyre};
use ol_attribution::merkle::{EvidenceLeaf, EvidenceTree};
use ol_e2e::{
    TestNode, dev_address, dev_signer, event, json_quantity, mined, one_ether, raw_receipt,
};

use ol_e2e::contracts::{
    DatanetRegistry, IProofOfAttribution, InferenceMarket, ModelRegistry, Staking,
};

// The dev genesis (README "Contracts", `contracts/addresses.json`).
const POA: Address = address!("0x0000000000000000000000000000000000000A00");
const TIMELOCK: Address = address!("0x4200000000000000000000000000000000001000");
const DATANETS: Address = address!("0x4200000000000000000000000000000000001002");
const MODELS: Address = address!("0x4200000000000000000000000000000000001003");
const STAKING: Address = address!("0x4200000000000000000000000000000000001004");
const MARKET: Address = address!("0x4200000000000000000000000000000000001005");
/// Index of the dev attestor in the dev mnemonic.
const ATTESTOR_INDEX: u32 = 10;
/// Governance parameters of the dev genesis (`crates/primitives/src/dev.rs`).
const PLATFORM_FEE: u64 = 1_000_000_000_000_000;
const SHARES_PPM: [u64; 3] = [300_000, 100_000, 500_000]; // model owner, stakers, contributors
const PPM: u64 = 1_000_000;

/// Prices (wei per 1,000 tokens) and counts chosen so that every division rounds.
const PRICE_IN: u128 = 123_456_789_011;
const PRICE_OUT: u128 = 987_654_321_099;
const MAX_IN: u32 = 500;
const MAX_OUT: u32 = 1_000;
const TOKENS_IN: u32 = 421;
const TOKENS_OUT: u32 = 803;
const WEIGHTS: [u32; 3] = [500_001, 299_999, 200_000];

/// What an account paid for a transaction: execution gas plus the OP L1 data fee.
async fn cost(provider: &DynProvider, receipt: &TransactionReceipt) -> Result<U256> {
    let raw = raw_receipt(provider, receipt.transaction_hash)
        .await?
        .ok_or_else(|| eyre!("no receipt for {}", receipt.transaction_hash))?;
    let l1_fee = json_quantity(&raw, "l1Fee")?;
    Ok(U256::from(receipt.gas_used) * U256::from(receipt.effective_gas_price) + l1_fee)
}

/// Largest remainder, written independently of the precompile: floors, then one unit more to
/// the `amount - Σfloors` indices ranked first by (remainder desc, index asc).
fn reference_split(amount: u128, weights: &[u32]) -> Vec<u128> {
    let total: u128 = weights.iter().map(|&w| u128::from(w)).sum();
    let floors: Vec<u128> = weights
        .iter()
        .map(|&w| amount * u128::from(w) / total)
        .collect();
    let rems: Vec<u128> = weights
        .iter()
        .map(|&w| amount * u128::from(w) % total)
        .collect();
    let left = amount - floors.iter().sum::<u128>();
    (0..weights.len())
        .map(|i| {
            let rank = (0..weights.len())
                .filter(|&j| rems[j] > rems[i] || (rems[j] == rems[i] && j < i))
                .count() as u128;
            floors[i] + u128::from(rank < left)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poa_market() -> Result<()> {
    let node = TestNode::start().await?;
    let provider = node.provider();
    let attestor_key = dev_signer(ATTESTOR_INDEX);
    let attestor = attestor_key.address();
    let attestor_provider = ProviderBuilder::new()
        .wallet(EthereumWallet::new(attestor_key))
        .connect_http(node.url().clone())
        .erased();

    let curator = dev_address(1);
    let contributors = [dev_address(2), dev_address(3), dev_address(4)];
    let model_owner = dev_address(5);
    let staker = dev_address(6);
    let user = dev_address(7);
    let anyone = dev_address(8);

    let datanets = DatanetRegistry::new(DATANETS, provider.clone());
    let models = ModelRegistry::new(MODELS, provider.clone());
    let market = InferenceMarket::new(MARKET, provider.clone());
    let staking = Staking::new(STAKING, provider.clone());
    let poa = IProofOfAttribution::new(POA, provider.clone());
    let poa_as_attestor = IProofOfAttribution::new(POA, attestor_provider.clone());
    let market_as_attestor = InferenceMarket::new(MARKET, attestor_provider.clone());

    // The genesis wiring, read through the precompile.
    ensure!(poa.isAttestor(attestor).call().await?, "dev attestor");
    ensure!(!poa.isAttestor(anyone).call().await?, "not an attestor");
    ensure!(
        provider.get_code_at(POA).await?.as_ref() == [0xfe],
        "the precompile's account carries 0xFE"
    );

    // --- data ---------------------------------------------------------------------------------
    let stake = one_ether();
    let receipt = mined(
        &provider,
        datanets
            .createDatanet(
                "ipfs://medical".into(),
                B256::right_padding_from(b"CC-BY-4.0"),
                1, // Curated
                stake,
                500_000,
            )
            .from(curator)
            .send()
            .await?,
        true,
        "createDatanet",
    )
    .await?;
    let datanet_id = event::<DatanetRegistry::DatanetCreated>(&receipt)?.datanetId;
    let mut contribution_ids = Vec::new();
    let mut content_hashes = Vec::new();
    for (i, contributor) in contributors.iter().enumerate() {
        let content = keccak256(format!("contribution {i}"));
        let receipt = mined(
            &provider,
            datanets
                .contribute(datanet_id, content, 4096, format!("ol://data/{i}"))
                .value(stake)
                .from(*contributor)
                .send()
                .await?,
            true,
            "contribute",
        )
        .await?;
        contribution_ids
            .push(event::<DatanetRegistry::ContributionSubmitted>(&receipt)?.contributionId);
        content_hashes.push(content);
    }
    for id in &contribution_ids {
        mined(
            &provider,
            datanets.approve(*id).from(curator).send().await?,
            true,
            "approve",
        )
        .await?;
    }

    // --- model, staker, request ---------------------------------------------------------------
    let receipt = mined(
        &provider,
        models
            .registerBaseModel(
                keccak256("weights"),
                B256::right_padding_from(b"qwen2"),
                B256::right_padding_from(b"apache-2.0"),
                "ol://base".into(),
            )
            .from(model_owner)
            .send()
            .await?,
        true,
        "registerBaseModel",
    )
    .await?;
    let base_id = event::<ModelRegistry::BaseModelRegistered>(&receipt)?.baseModelId;
    let params = ModelRegistry::AdapterParams {
        adapterHash: keccak256("lora"),
        priceInPer1k: PRICE_IN,
        priceOutPer1k: PRICE_OUT,
        attributionMethod: 0, // DataInf
        uri: "ol://lora".into(),
        datanets: vec![ModelRegistry::DatanetUse {
            datanetId: datanet_id,
            contributionCount: 3,
        }],
    };
    let receipt = mined(
        &provider,
        models
            .registerAdapter(base_id, params)
            .from(model_owner)
            .send()
            .await?,
        true,
        "registerAdapter",
    )
    .await?;
    let adapter_id = event::<ModelRegistry::AdapterRegistered>(&receipt)?.adapterId;

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

    let escrow = market.quote(adapter_id, MAX_IN, MAX_OUT).call().await?;
    let receipt = mined(
        &provider,
        market
            .request(
                adapter_id,
                Bytes::from_static(b"What is the dosage of ...?"),
                MAX_IN,
                MAX_OUT,
            )
            .value(escrow)
            .from(user)
            .send()
            .await?,
        true,
        "request",
    )
    .await?;
    let request_id = event::<InferenceMarket::Requested>(&receipt)?.requestId;

    // --- refused records change nothing --------------------------------------------------------
    let leaves: Vec<EvidenceLeaf> = (0..3)
        .map(|i| EvidenceLeaf {
            datapoint: content_hashes[i],
            contributor: contributors[i],
            score: U256::from(WEIGHTS[i]) * U256::from(1_000_000_000_000u64),
        })
        .collect();
    let tree = EvidenceTree::new(leaves.clone());
    let output_hash = keccak256("the answer");
    let storage_hash =
        async || -> Result<B256> { Ok(provider.get_proof(POA, vec![]).await?.storage_hash) };
    let before = storage_hash().await?;
    let record = |weights: Vec<u32>| {
        (
            request_id,
            output_hash,
            0u8, // DataInf
            contributors.to_vec(),
            weights,
            tree.root(),
        )
    };
    let (id, out, method, c, w, root) = record(WEIGHTS.to_vec());
    let stranger_record = poa.record(id, out, method, c, w, root).from(anyone);
    let err = stranger_record
        .call()
        .await
        .err()
        .ok_or_else(|| eyre!("a stranger's record must revert"))?;
    ensure!(
        err.as_revert_data()
            == Some(
                IProofOfAttribution::NotAttestor { caller: anyone }
                    .abi_encode()
                    .into()
            ),
        "NotAttestor revert data, got {err}"
    );
    mined(
        &provider,
        stranger_record.gas(1_000_000).send().await?,
        false,
        "record by a non-attestor",
    )
    .await?;
    let mut bad = WEIGHTS.to_vec();
    bad[0] -= 1;
    let (id, out, method, c, w, root) = record(bad);
    let bad_record = poa_as_attestor.record(id, out, method, c, w, root);
    let err = bad_record
        .call()
        .await
        .err()
        .ok_or_else(|| eyre!("a record with bad weights must revert"))?;
    ensure!(
        err.as_revert_data()
            == Some(
                IProofOfAttribution::WeightsDoNotSum {
                    sum: U256::from(999_999)
                }
                .abi_encode()
                .into()
            ),
        "WeightsDoNotSum revert data, got {err}"
    );
    mined(
        &attestor_provider,
        bad_record.gas(1_000_000).send().await?,
        false,
        "record with bad weights",
    )
    .await?;
    ensure!(
        storage_hash().await? == before,
        "refused records changed the precompile's storage"
    );
    ensure!(
        !poa.isRecorded(request_id).call().await?,
        "not recorded yet"
    );

    // --- the attestor records, reports the counts; anyone settles -------------------------------
    let (id, out, method, c, w, root) = record(WEIGHTS.to_vec());
    let receipt = mined(
        &attestor_provider,
        poa_as_attestor
            .record(id, out, method, c, w, root)
            .send()
            .await?,
        true,
        "record",
    )
    .await?;
    let recorded = receipt
        .inner
        .logs()
        .iter()
        .find(|log| log.address() == POA)
        .ok_or_else(|| eyre!("no log from the precompile"))?
        .log_decode::<IProofOfAttribution::AttributionRecorded>()?
        .inner
        .data;
    ensure!(
        recorded.requestId == request_id
            && recorded.attestor == attestor
            && recorded.contributors == contributors.to_vec()
            && recorded.weightsPpm == WEIGHTS.to_vec()
            && recorded.evidenceRoot == tree.root(),
        "AttributionRecorded event: {recorded:?}"
    );
    ensure!(
        storage_hash().await? != before,
        "a record changes the precompile's storage"
    );
    let stored = poa.attributionOf(request_id).call().await?;
    ensure!(
        stored.attestor == attestor
            && stored.blockNumber == receipt.block_number.unwrap_or_default()
            && stored.outputHash == output_hash
            && stored.weightsPpm == WEIGHTS.to_vec(),
        "attributionOf: {stored:?}"
    );
    // The output of a public request is published with the counts, checked against the record.
    let wrong_output = market_as_attestor.fulfill(
        request_id,
        TOKENS_IN,
        TOKENS_OUT,
        Bytes::from_static(b"another answer"),
    );
    ensure!(
        wrong_output.call().await.is_err(),
        "an output the record does not hash is refused"
    );
    let receipt = mined(
        &attestor_provider,
        market_as_attestor
            .fulfill(
                request_id,
                TOKENS_IN,
                TOKENS_OUT,
                Bytes::from_static(b"the answer"),
            )
            .send()
            .await?,
        true,
        "fulfill",
    )
    .await?;
    ensure!(
        event::<InferenceMarket::OutputPublished>(&receipt)?
            .output
            .as_ref()
            == b"the answer",
        "the output is on chain"
    );
    let receipt = mined(
        &provider,
        market.settle(request_id).from(anyone).send().await?,
        true,
        "settle",
    )
    .await?;
    let settled = event::<InferenceMarket::Settled>(&receipt)?;

    // --- the fee formula and the split ---------------------------------------------------------
    let token_part =
        (u128::from(TOKENS_IN) * PRICE_IN + u128::from(TOKENS_OUT) * PRICE_OUT).div_ceil(1000);
    let fee = token_part + u128::from(PLATFORM_FEE);
    let net = token_part;
    let owner_share = net * u128::from(SHARES_PPM[0]) / u128::from(PPM);
    let stakers_share = net * u128::from(SHARES_PPM[1]) / u128::from(PPM);
    let contributors_share = net * u128::from(SHARES_PPM[2]) / u128::from(PPM);
    let treasury_share = fee - owner_share - stakers_share - contributors_share;
    let escrow_u128: u128 = escrow.to();
    let refund = escrow_u128 - fee;
    let u = U256::from;
    ensure!(
        (
            settled.fee,
            settled.refund,
            settled.modelOwnerShare,
            settled.stakersShare,
            settled.contributorsShare,
            settled.treasuryShare
        ) == (
            u(fee),
            u(refund),
            u(owner_share),
            u(stakers_share),
            u(contributors_share),
            u(treasury_share)
        ),
        "Settled event {settled:?} differs from the fee formula"
    );
    ensure!(
        settled.fee + settled.refund == escrow,
        "fee + refund == escrow"
    );
    let shares = reference_split(contributors_share, &WEIGHTS);
    ensure!(
        shares.iter().sum::<u128>() == contributors_share,
        "the split is exact"
    );
    ensure!(
        poa.split(u(contributors_share), WEIGHTS.to_vec())
            .call()
            .await?
            == shares.iter().map(|&s| u(s)).collect::<Vec<_>>(),
        "the precompile's split is the largest-remainder split"
    );
    let floors: u128 = WEIGHTS
        .iter()
        .map(|&w| contributors_share * u128::from(w) / u128::from(PPM))
        .sum();
    ensure!(
        floors < contributors_share,
        "the test amounts must leave remainders for the largest-remainder step"
    );
    for (i, contributor) in contributors.iter().enumerate() {
        ensure!(
            market.balanceOf(*contributor).call().await? == u(shares[i]),
            "contributor {i} credited by weight"
        );
        ensure!(
            datanets
                .reputationOf(*contributor)
                .call()
                .await?
                .attributedWeightPpm
                == u(u128::from(WEIGHTS[i])),
            "contributor {i} reputation"
        );
    }
    ensure!(market.balanceOf(model_owner).call().await? == u(owner_share));
    ensure!(market.balanceOf(user).call().await? == u(refund));
    ensure!(staking.earned(staker).call().await? == u(stakers_share));
    ensure!(market.treasuryAccrued().call().await? == u(treasury_share));

    // --- evidence ------------------------------------------------------------------------------
    for (i, leaf) in leaves.iter().enumerate() {
        ensure!(
            poa.evidenceLeaf(leaf.datapoint, leaf.contributor, leaf.score)
                .call()
                .await?
                == leaf.hash(),
            "evidenceLeaf {i}"
        );
        ensure!(
            poa.verifyEvidence(request_id, leaf.hash(), tree.proof(i))
                .call()
                .await?,
            "proof of leaf {i} verifies"
        );
    }
    let forged = EvidenceLeaf {
        score: leaves[0].score + u(1),
        ..leaves[0]
    };
    ensure!(
        !poa.verifyEvidence(request_id, forged.hash(), tree.proof(0))
            .call()
            .await?,
        "a changed score does not verify"
    );
    ensure!(
        !poa.verifyEvidence(request_id, leaves[0].hash(), tree.proof(1))
            .call()
            .await?,
        "a wrong proof does not verify"
    );

    // --- everyone is paid ----------------------------------------------------------------------
    let mut payees: Vec<(Address, u128)> = contributors
        .iter()
        .copied()
        .zip(shares.iter().copied())
        .collect();
    payees.push((model_owner, owner_share));
    payees.push((user, refund));
    for (account, amount) in payees {
        let balance = provider.get_balance(account).await?;
        let receipt = mined(
            &provider,
            market.withdraw().from(account).send().await?,
            true,
            "withdraw",
        )
        .await?;
        let paid = cost(&provider, &receipt).await?;
        ensure!(
            provider.get_balance(account).await? == balance + u(amount) - paid,
            "{account} received exactly its balance"
        );
        ensure!(market.balanceOf(account).call().await? == U256::ZERO);
    }
    let balance = provider.get_balance(staker).await?;
    let receipt = mined(
        &provider,
        staking.claimRewards().from(staker).send().await?,
        true,
        "claimRewards",
    )
    .await?;
    let paid = cost(&provider, &receipt).await?;
    ensure!(
        provider.get_balance(staker).await? == balance + u(stakers_share) - paid,
        "the staker received the stakers' share"
    );
    let treasury_before = provider.get_balance(TIMELOCK).await?;
    mined(
        &provider,
        market.flushTreasury().from(anyone).send().await?,
        true,
        "flushTreasury",
    )
    .await?;
    ensure!(
        provider.get_balance(TIMELOCK).await? == treasury_before + u(treasury_share),
        "the treasury (the timelock) received its share"
    );
    ensure!(
        provider.get_balance(MARKET).await? == U256::ZERO,
        "the market keeps nothing once everyone withdrew"
    );
    node.finish().await.wrap_err("stopping the node")
}
