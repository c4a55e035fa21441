//! The L2 contract suite of the dev genesis: TimelockController, Governance, DatanetRegistry,
//! ModelRegistry, Staking, InferenceMarket and AttestorBatch (the code the attestor's account
//! delegates to), deployed in place at the addresses of
//! [`ol_primitives::addresses::dev_suite`] and initialised as the timelock would through executed
//! proposals: the dev attestor registered in the PoA precompile (through `Governance`, so through
//! the native precompile), every attribution method enabled, the market allowed to report to the
//! Datanet registry.
//!
//! Roles: the timelock (delay [`DEV_TIMELOCK_DELAY_SECS`]) owns `Governance` and is the treasury;
//! dev account [`DEV_COUNCIL_INDEX`] is its only proposer and executor; the dev attestor
//! ([`ol_primitives::dev::DEV_ATTESTOR_INDEX`]) is the only attestor. The other parameters are in
//! [`dev_params`].

use alloy_primitives::{Address, Bytes, U256, hex, keccak256};
use alloy_sol_types::{SolCall, SolConstructor, SolValue};
use eyre::{WrapErr, ensure, eyre};
use ol_evm::{genesis::GenesisBuilder, poa};
use ol_primitives::{
    addresses::dev_suite::{
        ATTESTOR_BATCH, DATANET_REGISTRY, GOVERNANCE, INFERENCE_MARKET, MODEL_REGISTRY, STAKING,
        TIMELOCK,
    },
    dev::{DEV_COUNCIL_INDEX, DEV_TIMELOCK_DELAY_SECS, dev_attestor, dev_params, dev_signer},
};
use std::path::Path;

#[allow(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    clippy::all,
    clippy::pedantic,
    rustdoc::all
)]
mod bindings {
    alloy_sol_types::sol!(Governance, "../../contracts/artifacts/Governance.json");
    alloy_sol_types::sol!(
        TimelockController,
        "../../contracts/artifacts/TimelockController.json"
    );
    alloy_sol_types::sol!(
        DatanetRegistry,
        "../../contracts/artifacts/DatanetRegistry.json"
    );
}
use bindings::{DatanetRegistry, Governance, TimelockController};

/// Deploys and initialises the suite into `builder`, reading the creation code of each contract
/// from `artifacts/<Contract>.json` (`bytecode`).
pub(crate) fn deploy(builder: &mut GenesisBuilder, artifacts: &Path) -> eyre::Result<()> {
    let council = dev_signer(DEV_COUNCIL_INDEX).address();
    let attestor = dev_attestor().address();
    let creation = |name: &str, args: Vec<u8>| -> eyre::Result<Bytes> {
        let mut code = creation_code(&artifacts.join(format!("{name}.json")))?;
        code.extend_from_slice(&args);
        Ok(code.into())
    };

    let timelock_args = TimelockController::constructorCall {
        minDelay: U256::from(DEV_TIMELOCK_DELAY_SECS),
        proposers: vec![council],
        executors: vec![council],
        admin: Address::ZERO,
    };
    let governance_args = Governance::constructorCall {
        owner_: TIMELOCK,
        init: Governance::InitParams {
            feeShares: Governance::FeeShares {
                modelOwnerPpm: dev_params::MODEL_OWNER_PPM,
                stakersPpm: dev_params::STAKERS_PPM,
                contributorsPpm: dev_params::CONTRIBUTORS_PPM,
                treasuryPpm: dev_params::TREASURY_PPM,
            },
            platformFee: U256::from(dev_params::PLATFORM_FEE_WEI),
            treasury: TIMELOCK,
            contributionUnbondingPeriod: dev_params::CONTRIBUTION_UNBONDING_SECS,
            stakingUnbondingPeriod: dev_params::STAKING_UNBONDING_SECS,
            requestExpiryBlocks: dev_params::REQUEST_EXPIRY_BLOCKS,
        },
    };
    let deployments = [
        (TIMELOCK, "TimelockController", timelock_args.abi_encode()),
        (GOVERNANCE, "Governance", governance_args.abi_encode()),
        (DATANET_REGISTRY, "DatanetRegistry", GOVERNANCE.abi_encode()),
        (
            MODEL_REGISTRY,
            "ModelRegistry",
            (GOVERNANCE, DATANET_REGISTRY).abi_encode_params(),
        ),
        (STAKING, "Staking", GOVERNANCE.abi_encode()),
        (
            INFERENCE_MARKET,
            "InferenceMarket",
            (GOVERNANCE, MODEL_REGISTRY, DATANET_REGISTRY, STAKING).abi_encode_params(),
        ),
        (ATTESTOR_BATCH, "AttestorBatch", Vec::new()),
    ];
    for (address, name, args) in deployments {
        builder
            .deploy(address, creation(name, args)?)
            .wrap_err_with(|| format!("deploying {name} at {address}"))?;
    }

    // What the timelock would execute: attestor, methods, reporter.
    let mut calls = vec![(
        GOVERNANCE,
        Governance::setAttestorCall {
            attestor,
            allowed: true,
        }
        .abi_encode(),
    )];
    for (method, name) in dev_params::METHODS {
        let params = Governance::MethodParams {
            enabled: true,
            maxContributors: dev_params::METHOD_MAX_CONTRIBUTORS,
            gpuTolerancePpm: dev_params::METHOD_GPU_TOLERANCE_PPM,
            configHash: keccak256(name),
        };
        calls.push((
            GOVERNANCE,
            Governance::setMethodParamsCall { method, params }.abi_encode(),
        ));
    }
    calls.push((
        DATANET_REGISTRY,
        DatanetRegistry::setReporterCall {
            reporter: INFERENCE_MARKET,
            allowed: true,
        }
        .abi_encode(),
    ));
    for (to, data) in calls {
        builder
            .call(TIMELOCK, to, data.into())
            .wrap_err("initialising the dev suite as the timelock")?;
    }
    check(builder, council, attestor)
}

/// Reads back what the suite must hold, through the contracts (and the native precompile).
fn check(builder: &mut GenesisBuilder, council: Address, attestor: Address) -> eyre::Result<()> {
    let mut view = |to: Address, data: Vec<u8>| builder.view(to, data.into());
    let owner = view(GOVERNANCE, Governance::ownerCall {}.abi_encode())?;
    ensure!(
        Governance::ownerCall::abi_decode_returns(&owner)? == TIMELOCK,
        "Governance is not owned by the timelock"
    );
    let through_governance = view(
        GOVERNANCE,
        Governance::isAttestorCall { account: attestor }.abi_encode(),
    )?;
    let direct = view(
        poa::ADDRESS,
        poa::abi::ProofOfAttributionImpl::isAttestorCall(attestor).abi_encode(),
    )?;
    ensure!(
        Governance::isAttestorCall::abi_decode_returns(&through_governance)?
            && bool::abi_decode(&direct)?,
        "the dev attestor is not registered in the PoA precompile"
    );
    let proposer = TimelockController::PROPOSER_ROLECall {}.abi_encode();
    let role =
        TimelockController::PROPOSER_ROLECall::abi_decode_returns(&view(TIMELOCK, proposer)?)?;
    let has_role = view(
        TIMELOCK,
        TimelockController::hasRoleCall {
            role,
            account: council,
        }
        .abi_encode(),
    )?;
    ensure!(
        TimelockController::hasRoleCall::abi_decode_returns(&has_role)?,
        "the dev council cannot propose"
    );
    let reporter = view(
        DATANET_REGISTRY,
        DatanetRegistry::isReporterCall(INFERENCE_MARKET).abi_encode(),
    )?;
    ensure!(
        DatanetRegistry::isReporterCall::abi_decode_returns(&reporter)?,
        "the market is not a reporter of the Datanet registry"
    );
    Ok(())
}

/// The creation code (`bytecode`) of a contract artifact.
fn creation_code(path: &Path) -> eyre::Result<Vec<u8>> {
    let text = std::fs::read_to_string(path)
        .wrap_err_with(|| format!("cannot read {}", path.display()))?;
    let artifact: serde_json::Value =
        serde_json::from_str(&text).wrap_err_with(|| format!("{} is not JSON", path.display()))?;
    let code = artifact
        .get("bytecode")
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| eyre!("{} has no `bytecode` string", path.display()))?;
    let code = hex::decode(code)
        .wrap_err_with(|| format!("the bytecode of {} is not hex", path.display()))?;
    ensure!(
        !code.is_empty(),
        "the bytecode of {} is empty",
        path.display()
    );
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The embedded dev genesis holds the suite, owned and initialised as documented.
    #[test]
    fn committed_dev_genesis_holds_the_initialised_suite() {
        let spec = ol_primitives::dev::dev_chain_spec(None, 0).unwrap();
        let mut builder = GenesisBuilder::new(&spec);
        check(
            &mut builder,
            dev_signer(DEV_COUNCIL_INDEX).address(),
            dev_attestor().address(),
        )
        .unwrap();
    }

    #[test]
    fn a_missing_artifact_is_reported() {
        let spec = ol_primitives::dev::dev_chain_spec(None, 0).unwrap();
        let mut builder = GenesisBuilder::new(&spec);
        let dir = tempfile::tempdir().unwrap();
        let err = deploy(&mut builder, dir.path()).unwrap_err();
        assert!(
            format!("{err:#}").contains("TimelockController.json"),
            "{err:#}"
        );
    }
}
