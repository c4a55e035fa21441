//! `openledger l1 deploy` against anvil: the contracts are on L1 with the configured values, the
//! files describe them, `init` accepts the files, and failures write nothing.
#![allow(missing_docs)]

use alloy::{
    primitives::{Address, TxKind, U256},
    providers::Provider,
    sol_types::SolCall,
};
use ol_l1::{
    BlockTag, GasQuery, HttpL1Client, L1Client,
    anvil::{ANVIL_CHAIN_ID, Anvil},
    contracts::{L2OutputOracle, OptimismPortal, SystemConfigContract},
};
use ol_node::commands::{
    init::InitCommand,
    l1::{DEPLOYMENT_FILE, GENESIS_FILE, L1DeployCommand, L1Deployment, ROLLUP_FILE},
};
use ol_primitives::{RollupConfig, config::batch_inbox_address, dev::dev_signer};
use std::{net::TcpListener, path::Path};

const BATCHER: Address = Address::repeat_byte(0xba);

fn command(url: &str, out: &Path) -> L1DeployCommand {
    L1DeployCommand {
        l1_rpc: url.to_owned(),
        deployer_key: None,
        out: out.to_owned(),
        l2_chain_id: 4242,
        block_time: 2,
        output_interval: 5,
        finalization_period: 30,
        batcher: Some(BATCHER),
        proposer: None,
        unsafe_block_signer: None,
    }
}

async fn call<T: SolCall>(client: &HttpL1Client, to: Address, call: T) -> T::Return {
    let query = GasQuery {
        from: Address::ZERO,
        to: TxKind::Call(to),
        value: U256::ZERO,
        input: call.abi_encode().into(),
    };
    let raw = client.call(query, BlockTag::Latest).await.unwrap();
    T::abi_decode_returns(&raw).unwrap()
}

fn read<T: serde::de::DeserializeOwned>(path: &Path) -> T {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn deploy_writes_files_that_describe_the_contracts_and_init_accepts_them() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let anvil = runtime.block_on(Anvil::start());
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("chain");
    let deployment = command(anvil.url(), &out).deploy().unwrap();

    assert_eq!(deployment.l1_chain_id, ANVIL_CHAIN_ID);
    assert_eq!(deployment.deployer, dev_signer(0).address());
    assert_eq!(deployment.proposer, dev_signer(9).address());
    assert_eq!(deployment.batcher, BATCHER);
    assert_eq!(read::<L1Deployment>(&out.join(DEPLOYMENT_FILE)), deployment);

    let rollup: RollupConfig = read(&out.join(ROLLUP_FILE));
    assert_eq!(rollup.l1_chain_id, ANVIL_CHAIN_ID);
    assert_eq!(rollup.l2_chain_id, 4242);
    assert_eq!(rollup.block_time, 2);
    assert_eq!(rollup.genesis.l1.number, deployment.anchor.number);
    assert_eq!(rollup.genesis.l1.hash, deployment.anchor.hash);
    assert_eq!(rollup.genesis.l2_time, deployment.anchor.timestamp);
    assert_eq!(rollup.deposit_contract_address, deployment.optimism_portal);
    assert_eq!(rollup.l1_system_config_address, deployment.system_config);
    assert_eq!(rollup.batch_inbox_address, batch_inbox_address(4242));
    assert_eq!(rollup.genesis.system_config.batcher_addr, BATCHER);
    let genesis: serde_json::Value = read(&out.join(GENESIS_FILE));
    assert_eq!(genesis["config"]["chainId"], 4242);
    assert_eq!(
        genesis["timestamp"],
        format!("{:#x}", deployment.anchor.timestamp)
    );

    runtime.block_on(async {
        let provider = anvil.provider();
        for address in [
            deployment.optimism_portal,
            deployment.system_config,
            deployment.l2_output_oracle,
        ] {
            let code = provider.get_code_at(address).await.unwrap();
            assert!(!code.is_empty(), "no code at {address}");
        }
        let portal_code = provider
            .get_code_at(deployment.optimism_portal)
            .await
            .unwrap();
        assert_eq!(portal_code, OptimismPortal::DEPLOYED_BYTECODE);

        let client = anvil.client();
        let anchor = client
            .header_by_number(deployment.anchor.number)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(anchor.hash, deployment.anchor.hash);
        assert_eq!(anchor.header.timestamp, deployment.anchor.timestamp);

        let config = deployment.system_config;
        use SystemConfigContract as Sc;
        assert_eq!(
            call(&client, config, Sc::startBlockCall {}).await,
            U256::from(deployment.anchor.number)
        );
        assert_eq!(
            call(&client, config, Sc::batcherHashCall {}).await,
            BATCHER.into_word()
        );
        assert_eq!(
            call(&client, config, Sc::ownerCall {}).await,
            deployment.deployer
        );
        assert_eq!(
            call(&client, config, Sc::batchInboxCall {}).await,
            batch_inbox_address(4242)
        );
        assert_eq!(
            call(&client, config, Sc::gasLimitCall {}).await,
            rollup.genesis.system_config.gas_limit
        );

        let oracle = deployment.l2_output_oracle;
        use L2OutputOracle as Oo;
        assert_eq!(
            call(&client, oracle, Oo::SUBMISSION_INTERVALCall {}).await,
            U256::from(5)
        );
        assert_eq!(
            call(&client, oracle, Oo::L2_BLOCK_TIMECall {}).await,
            U256::from(2)
        );
        assert_eq!(
            call(&client, oracle, Oo::STARTING_TIMESTAMPCall {}).await,
            U256::from(deployment.anchor.timestamp)
        );
        assert_eq!(
            call(&client, oracle, Oo::STARTING_BLOCK_NUMBERCall {}).await,
            U256::ZERO
        );
        assert_eq!(
            call(&client, oracle, Oo::FINALIZATION_PERIOD_SECONDSCall {}).await,
            U256::from(30)
        );
        assert_eq!(
            call(&client, oracle, Oo::PROPOSERCall {}).await,
            dev_signer(9).address()
        );
        assert_eq!(
            call(&client, oracle, Oo::CHALLENGERCall {}).await,
            deployment.deployer
        );
    });

    InitCommand {
        genesis: out.join(GENESIS_FILE),
        rollup_config: out.join(ROLLUP_FILE),
        datadir: Some(dir.path().join("data")),
    }
    .execute()
    .unwrap();

    // A second deployment into the same directory would overwrite a live chain's files.
    let err = command(anvil.url(), &out).deploy().unwrap_err();
    assert!(format!("{err:#}").contains("already exists"), "{err:#}");
}

#[test]
fn failures_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("chain");

    let err = command("not a url", &out).deploy().unwrap_err();
    assert!(format!("{err:#}").contains("invalid L1 RPC URL"), "{err:#}");

    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = command(&format!("http://127.0.0.1:{port}"), &out)
        .deploy()
        .unwrap_err();
    assert!(
        format!("{err:#}").contains("L1 endpoint unavailable"),
        "{err:#}"
    );

    let mut bad_key = command("http://127.0.0.1:1", &out);
    bad_key.deployer_key = Some("0x1234".into());
    let err = bad_key.deploy().unwrap_err();
    assert!(
        format!("{err:#}").contains("invalid --l1.deployer-key"),
        "{err:#}"
    );

    let mut bad_interval = command("http://127.0.0.1:1", &out);
    bad_interval.output_interval = 0;
    let err = bad_interval.deploy().unwrap_err();
    assert!(format!("{err:#}").contains("output interval"), "{err:#}");

    assert!(!out.exists(), "nothing is written on failure");
}
