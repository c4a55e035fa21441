//! Requests whose prompt is not on chain (`InferenceMarket.requestWithHash`): the requester
//! hands the prompt to the sequencer with a signed `ol_submitPrompt`, and reads the output back
//! with a signed `ol_getInference`. Both are EIP-712 messages in the domain "OpenLedger
//! Inference", version 1, of the chain and the market contract.

use alloy_primitives::{Address, B256, U256, keccak256};
use alloy_sol_types::{Eip712Domain, SolStruct as _};
use std::borrow::Cow;

/// Largest prompt accepted, as `InferenceMarket.MAX_PROMPT_BYTES` for on-chain prompts.
pub const MAX_PROMPT_BYTES: usize = 65_536;

/// The EIP-712 messages.
#[allow(missing_docs)]
mod messages {
    alloy_sol_types::sol! {
        /// A prompt handed to the sequencer for a hash-only request.
        #[derive(Debug, PartialEq, Eq)]
        struct SubmitPrompt {
            bytes32 requestId;
            bytes32 promptHash;
        }

        /// A read of a private request's output.
        #[derive(Debug, PartialEq, Eq)]
        struct GetInference {
            bytes32 requestId;
            uint64 expiry;
        }
    }
}
pub use messages::{GetInference, SubmitPrompt};

/// The domain of the messages on chain `chain_id` with the market at `market`.
pub fn inference_domain(chain_id: u64, market: Address) -> Eip712Domain {
    Eip712Domain::new(
        Some(Cow::Borrowed("OpenLedger Inference")),
        Some(Cow::Borrowed("1")),
        Some(U256::from(chain_id)),
        Some(market),
        None,
    )
}

/// Why a private-request message is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrivateError {
    /// The service has not seen the request (not yet sealed, or unknown).
    #[error("request {0} is not known to the job service (retry once its block is sealed)")]
    UnknownRequest(B256),
    /// The signature is malformed or not the requester's.
    #[error("the signature is not the requester's: {0}")]
    BadSignature(String),
    /// The prompt does not hash to the request's `promptHash`.
    #[error("the prompt hashes to {got}, the request's promptHash is {want}")]
    HashMismatch {
        /// keccak256 of the prompt sent.
        got: B256,
        /// The request's.
        want: B256,
    },
    /// The prompt is empty or too long.
    #[error("the prompt must be 1 to {MAX_PROMPT_BYTES} bytes, got {0}")]
    BadSize(usize),
    /// A read signature that expired.
    #[error("the signature expired at {0}")]
    Expired(u64),
    /// The request's prompt is public: its output needs no signature.
    #[error("the request's prompt is public")]
    Public,
}

/// The signer of `hash` with the 65-byte `signature`.
pub fn signer(hash: &B256, signature: &[u8]) -> Result<Address, PrivateError> {
    ol_content::recover(hash, signature).map_err(|e| PrivateError::BadSignature(e.to_string()))
}

/// Checks a `SubmitPrompt` of `prompt` for the request of `requester` with `prompt_hash`.
pub fn check_submission(
    domain: &Eip712Domain,
    request_id: B256,
    requester: Address,
    prompt_hash: B256,
    prompt: &[u8],
    signature: &[u8],
) -> Result<(), PrivateError> {
    if prompt.is_empty() || prompt.len() > MAX_PROMPT_BYTES {
        return Err(PrivateError::BadSize(prompt.len()));
    }
    let got = keccak256(prompt);
    if got != prompt_hash {
        return Err(PrivateError::HashMismatch {
            got,
            want: prompt_hash,
        });
    }
    let message = SubmitPrompt {
        requestId: request_id,
        promptHash: prompt_hash,
    };
    let who = signer(&message.eip712_signing_hash(domain), signature)?;
    if who != requester {
        return Err(PrivateError::BadSignature(format!(
            "signed by {who}, the requester is {requester}"
        )));
    }
    Ok(())
}

/// Checks a `GetInference` read of the request of `requester`, valid until `expiry`, at `now`.
pub fn check_read(
    domain: &Eip712Domain,
    request_id: B256,
    requester: Address,
    expiry: u64,
    now: u64,
    signature: &[u8],
) -> Result<(), PrivateError> {
    if expiry < now {
        return Err(PrivateError::Expired(expiry));
    }
    let message = GetInference {
        requestId: request_id,
        expiry,
    };
    let who = signer(&message.eip712_signing_hash(domain), signature)?;
    if who != requester {
        return Err(PrivateError::BadSignature(format!(
            "signed by {who}, the requester is {requester}"
        )));
    }
    Ok(())
}
