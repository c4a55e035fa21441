//! `proof`: `eth_getProof` (EIP-1186) answers verify against the block's `stateRoot` with
//! alloy-trie's proof verifier: a contract with storage (set and unset slots), the L1Block
//! predeploy whose storage changes every block, a dev account, and an account that does not
//! exist (exclusion proofs); historical blocks are refused.

use crate::{deploy_emitter, rpc_error, store};
use alloy::{
    eips::BlockId,
    primitives::{Address, B256, U256, address, keccak256},
    providers::{DynProvider, Provider},
    rpc::types::EIP1186AccountProofResponse,
};
use alloy_trie::{EMPTY_ROOT_HASH, KECCAK_EMPTY, Nibbles, TrieAccount, proof::verify_proof};
use eyre::{Result, WrapErr as _, bail, eyre};
use ol_e2e::{TestNode, dev_address, raw_rpc};
use serde_json::{Value, json};

const L1_BLOCK: Address = address!("0x4200000000000000000000000000000000000015");
const NOBODY: Address = address!("0x00000000000000000000000000000000000e2e41");

/// `eth_getProof` at an explicit block number, with the block's state root. Retries when the
/// head moved between reading it and asking (the node proves the head only).
async fn proof_at_head(
    provider: &DynProvider,
    address: Address,
    keys: &[Value],
) -> Result<(EIP1186AccountProofResponse, B256)> {
    for _ in 0..10 {
        let number = provider.get_block_number().await?;
        let params = json!([address, keys, format!("{number:#x}")]);
        match provider
            .raw_request::<_, EIP1186AccountProofResponse>("eth_getProof".into(), params)
            .await
        {
            Ok(proof) => {
                let block = provider
                    .get_block_by_number(number.into())
                    .await?
                    .ok_or_else(|| eyre!("block {number} missing"))?;
                return Ok((proof, block.header.state_root));
            }
            Err(err) if err.to_string().contains("historical state") => {}
            Err(err) => return Err(err).wrap_err("eth_getProof"),
        }
    }
    bail!("the head kept moving while asking for a proof")
}

/// Checks the account proof and every storage proof of `proof` against `state_root`.
fn verify(proof: &EIP1186AccountProofResponse, state_root: B256) -> Result<()> {
    let exists = proof.nonce != 0
        || !proof.balance.is_zero()
        || proof.code_hash != KECCAK_EMPTY
        || proof.storage_hash != EMPTY_ROOT_HASH;
    let account = TrieAccount {
        nonce: proof.nonce,
        balance: proof.balance,
        storage_root: proof.storage_hash,
        code_hash: proof.code_hash,
    };
    verify_proof(
        state_root,
        Nibbles::unpack(keccak256(proof.address)),
        exists.then(|| alloy::rlp::encode(account)),
        &proof.account_proof,
    )
    .map_err(|err| eyre!("account proof of {}: {err}", proof.address))?;
    for slot in &proof.storage_proof {
        let expected = (!slot.value.is_zero()).then(|| alloy::rlp::encode(slot.value));
        verify_proof(
            proof.storage_hash,
            Nibbles::unpack(keccak256(slot.key.as_b256())),
            expected,
            &slot.proof,
        )
        .map_err(|err| {
            eyre!(
                "storage proof of {} slot {:?}: {err}",
                proof.address,
                slot.key
            )
        })?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_proof_verifies() -> Result<()> {
    let node = TestNode::start().await?;
    let provider = node.provider();
    let (contract, _) = deploy_emitter(&provider).await?;
    store(&provider, contract, 0, 42).await?;

    // The contract: slot 0 holds 42 (asked as a quantity and as 32 bytes), slot 1 is unset.
    let keys = [json!("0x0"), json!(B256::ZERO), json!("0x1")];
    let (proof, root) = proof_at_head(&provider, contract, &keys).await?;
    verify(&proof, root)?;
    assert_eq!(proof.address, contract);
    assert_eq!(proof.nonce, 1, "a contract starts at nonce 1");
    assert_eq!(proof.balance, U256::ZERO);
    assert_eq!(
        proof.code_hash,
        keccak256(provider.get_code_at(contract).await?),
        "codeHash"
    );
    assert_ne!(
        proof.storage_hash, EMPTY_ROOT_HASH,
        "the contract has storage"
    );
    let values: Vec<U256> = proof.storage_proof.iter().map(|slot| slot.value).collect();
    assert_eq!(
        values,
        [U256::from(42), U256::from(42), U256::ZERO],
        "slot values"
    );
    assert!(
        !proof.storage_proof[2].proof.is_empty(),
        "an absence is proven by nodes"
    );
    let raw = raw_rpc(&provider, "eth_getProof", (contract, ["0x0"], "latest")).await?;
    assert_eq!(
        raw["storageProof"][0]["key"],
        json!("0x0"),
        "keys are echoed as given"
    );

    // The L1Block predeploy: its storage is rewritten by every block's L1-info deposit.
    let slots: Vec<Value> = (0..8u64).map(|slot| json!(format!("{slot:#x}"))).collect();
    let (l1_block, root) = proof_at_head(&provider, L1_BLOCK, &slots).await?;
    verify(&l1_block, root)?;
    assert!(
        l1_block
            .storage_proof
            .iter()
            .any(|slot| !slot.value.is_zero()),
        "L1Block holds L1 attributes"
    );

    // A funded dev account, through alloy's typed call.
    let account = dev_address(7);
    let number = provider.get_block_number().await?;
    match provider
        .get_proof(account, vec![])
        .block_id(BlockId::number(number))
        .await
    {
        Ok(proof) => {
            let block = provider
                .get_block_by_number(number.into())
                .await?
                .ok_or_else(|| eyre!("block {number} missing"))?;
            verify(&proof, block.header.state_root)?;
            assert_eq!(proof.balance, provider.get_balance(account).await?);
            assert_eq!(proof.code_hash, KECCAK_EMPTY, "an account without code");
            assert_eq!(
                proof.storage_hash, EMPTY_ROOT_HASH,
                "an account without storage"
            );
        }
        Err(err) if err.to_string().contains("historical state") => {}
        Err(err) => return Err(err).wrap_err("alloy get_proof"),
    }

    // An account that does not exist: exclusion proof, empty storage proofs.
    let (missing, root) = proof_at_head(&provider, NOBODY, &[json!("0x0")]).await?;
    assert_eq!(
        (
            missing.nonce,
            missing.balance,
            missing.code_hash,
            missing.storage_hash
        ),
        (0, U256::ZERO, KECCAK_EMPTY, EMPTY_ROOT_HASH),
        "a missing account reads as empty"
    );
    assert!(missing.storage_proof[0].proof.is_empty());
    verify(&missing, root)?;
    // The verification has teeth: a wrong value or balance does not verify.
    let (fresh, root) = proof_at_head(&provider, contract, &keys).await?;
    verify(&fresh, root)?;
    let mut forged = fresh.clone();
    forged.storage_proof[0].value = U256::from(43);
    assert!(
        verify(&forged, root).is_err(),
        "a forged slot value verified"
    );
    let mut forged = fresh;
    forged.balance = U256::from(1);
    assert!(verify(&forged, root).is_err(), "a forged balance verified");

    // Historical blocks are refused.
    let (code, message) = rpc_error(&provider, "eth_getProof", (contract, ["0x0"], "0x1"))
        .await?
        .ok_or_else(|| eyre!("a proof at block 1 must be refused"))?;
    assert_eq!(code, -32000, "{message}");
    assert!(message.contains("historical state"), "{message}");
    node.finish().await
}
