//! The job service's EIP-712 messages for requests whose prompt stays off chain
//! (`ol_submitPrompt`, a private `ol_getInference`), as a wallet signs them (declared here
//! independently of the node's crates).

use alloy::{
    primitives::{Address, B256, Bytes, address, keccak256},
    signers::{SignerSync as _, local::PrivateKeySigner},
    sol_types::{SolStruct as _, eip712_domain},
};
use serde_json::{Value, json};

/// The `InferenceMarket` predeploy, the domain's verifying contract.
const MARKET: Address = address!("0x4200000000000000000000000000000000001005");

alloy::sol! {
    /// A prompt handed to the sequencer.
    struct SubmitPrompt {
        bytes32 requestId;
        bytes32 promptHash;
    }
    /// A read of a private output.
    struct GetInference {
        bytes32 requestId;
        uint64 expiry;
    }
}

fn domain() -> alloy::sol_types::Eip712Domain {
    eip712_domain! {
        name: "OpenLedger Inference",
        version: "1",
        chain_id: 1611,
        verifying_contract: MARKET,
    }
}

/// `ol_submitPrompt`'s parameter: `prompt` for `request_id`, signed by `signer`.
pub fn submit_prompt(signer: &PrivateKeySigner, request_id: B256, prompt: &[u8]) -> Value {
    let message = SubmitPrompt {
        requestId: request_id,
        promptHash: keccak256(prompt),
    };
    let signature = signer
        .sign_hash_sync(&message.eip712_signing_hash(&domain()))
        .expect("signing");
    json!({
        "requestId": request_id,
        "prompt": Bytes::copy_from_slice(prompt),
        "signature": Bytes::from(signature.as_bytes()),
    })
}

/// A private `ol_getInference` authorisation by `signer`, valid until `expiry`.
pub fn read_inference(signer: &PrivateKeySigner, request_id: B256, expiry: u64) -> Value {
    let message = GetInference {
        requestId: request_id,
        expiry,
    };
    let signature = signer
        .sign_hash_sync(&message.eip712_signing_hash(&domain()))
        .expect("signing");
    json!({
        "expiry": format!("{expiry:#x}"),
        "signature": Bytes::from(signature.as_bytes()),
    })
}
