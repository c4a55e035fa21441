//! The content store's EIP-712 messages as a wallet signs them (declared here independently of
//! the node's crate), for the tests that upload and read contributions.

use alloy::{
    primitives::{Address, B256, Bytes, U256, address, keccak256},
    signers::{SignerSync as _, local::PrivateKeySigner},
    sol_types::{SolStruct as _, eip712_domain},
};
use serde_json::{Value, json};

/// The `DatanetRegistry` predeploy, the domain's verifying contract.
const DATANETS: Address = address!("0x4200000000000000000000000000000000001002");
/// The dev chain's id.
const CHAIN_ID: u64 = 1611;

alloy::sol! {
    /// An upload.
    struct PutContent {
        address contributor;
        bytes32 contentHash;
        uint64 size;
    }
    /// A read.
    struct GetContent {
        address reader;
        bytes32 contentHash;
        uint256 datanetId;
        uint64 nonce;
        uint64 expiry;
    }
}

/// The content domain of the dev chain.
pub fn domain() -> alloy::sol_types::Eip712Domain {
    eip712_domain! {
        name: "OpenLedger Content",
        version: "1",
        chain_id: CHAIN_ID,
        verifying_contract: DATANETS,
    }
}

/// An `ol_putContent` request for `content`, signed by `signer` for `contributor`.
pub fn put_request(signer: &PrivateKeySigner, contributor: Address, content: &[u8]) -> Value {
    let message = PutContent {
        contributor,
        contentHash: keccak256(content),
        size: content.len() as u64,
    };
    let signature = signer
        .sign_hash_sync(&message.eip712_signing_hash(&domain()))
        .expect("signing");
    json!({
        "contributor": contributor,
        "contentHash": keccak256(content),
        "content": Bytes::copy_from_slice(content),
        "signature": Bytes::from(signature.as_bytes()),
    })
}

/// The read authorisation of `ol_getContent`, signed by `signer`.
pub fn read_authorization(
    signer: &PrivateKeySigner,
    hash: B256,
    datanet: U256,
    nonce: u64,
    expiry: u64,
) -> Value {
    let message = GetContent {
        reader: signer.address(),
        contentHash: hash,
        datanetId: datanet,
        nonce,
        expiry,
    };
    let signature = signer
        .sign_hash_sync(&message.eip712_signing_hash(&domain()))
        .expect("signing");
    json!({
        "reader": signer.address(),
        "datanetId": datanet,
        "nonce": format!("{nonce:#x}"),
        "expiry": format!("{expiry:#x}"),
        "signature": Bytes::from(signature.as_bytes()),
    })
}
