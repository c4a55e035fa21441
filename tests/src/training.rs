//! The Model Factory's EIP-712 message (`ol_trainAdapter`) as a wallet signs it (declared here
//! independently of the node's crates).

use alloy::{
    primitives::{Address, Bytes, U256, address},
    signers::{SignerSync as _, local::PrivateKeySigner},
    sol_types::{SolStruct as _, eip712_domain},
};
use serde_json::{Value, json};

/// The `ModelRegistry` predeploy, the domain's verifying contract.
const MODELS: Address = address!("0x4200000000000000000000000000000000001003");

alloy::sol! {
    /// A training request.
    struct TrainAdapter {
        uint256 baseModelId;
        uint256 datanetId;
        string hyperparameters;
        uint64 expiry;
    }
}

/// The domain on the dev chain.
pub fn domain() -> alloy::sol_types::Eip712Domain {
    eip712_domain! {
        name: "OpenLedger Model Factory",
        version: "1",
        chain_id: 1611,
        verifying_contract: MODELS,
    }
}

/// `ol_trainAdapter`'s parameter, signed by `signer`.
pub fn train_request(
    signer: &PrivateKeySigner,
    base_model: U256,
    datanet: U256,
    hyperparameters: &str,
    expiry: u64,
) -> Value {
    let message = TrainAdapter {
        baseModelId: base_model,
        datanetId: datanet,
        hyperparameters: hyperparameters.into(),
        expiry,
    };
    let signature = signer
        .sign_hash_sync(&message.eip712_signing_hash(&domain()))
        .expect("signing");
    json!({
        "baseModelId": base_model,
        "datanetId": datanet,
        "hyperparameters": hyperparameters,
        "expiry": format!("{expiry:#x}"),
        "signature": Bytes::from(signature.as_bytes()),
    })
}
