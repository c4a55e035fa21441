//! Reading a node over JSON-RPC as a job's inputs: view calls at a block with `eth_call`, and
//! contributions with `ol_getContent` reads signed by a key the node lets read (an attestor, a
//! `--content.verifier`, a Datanet's owner or curator). Used by `attribution verify`, by
//! `factory train --datanet`, and by a follower's verifier, which replicates the content it
//! lacks from the sequencer ([`ContentSource`]).

use alloy::{
    network::TransactionBuilder as _,
    primitives::{Address, B256, Bytes, U256, keccak256},
    providers::{DynProvider, Provider, ProviderBuilder},
    rpc::types::TransactionRequest,
    signers::{SignerSync as _, local::PrivateKeySigner},
    sol_types::{SolCall, SolStruct as _},
};
use eyre::WrapErr as _;
use ol_jobs::{ContentSource, JobInputs, JobsError};
use ol_primitives::addresses::dev_suite::DATANET_REGISTRY;
use serde_json::{Value, json};
use tokio::runtime::{Handle, Runtime};

/// How long a content read signature stays valid.
const READ_VALIDITY_SECS: u64 = 60;

/// Reads a node over JSON-RPC from a thread outside the runtime (a blocking thread of it).
pub(crate) struct RpcInputs {
    runtime: Handle,
    provider: DynProvider,
    signer: PrivateKeySigner,
    chain_id: u64,
    /// The Datanet under whose owner or curators reads are signed (0: none).
    datanet: U256,
}

impl std::fmt::Debug for RpcInputs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RpcInputs")
            .field("reader", &self.signer.address())
            .field("chain_id", &self.chain_id)
            .finish_non_exhaustive()
    }
}

impl RpcInputs {
    /// Connects to `url`, signing reads with `signer`; calls run on `runtime`.
    pub(crate) fn connect(
        runtime: &Runtime,
        url: &alloy::transports::http::reqwest::Url,
        signer: PrivateKeySigner,
    ) -> eyre::Result<Self> {
        let mut inputs = Self::new(runtime.handle().clone(), url, signer, 0);
        inputs.chain_id = runtime
            .block_on(inputs.provider.get_chain_id())
            .wrap_err_with(|| format!("reaching {url}"))?;
        Ok(inputs)
    }

    /// Reads `url` (a node of chain `chain_id`) without reaching it first; calls run on
    /// `runtime` from its blocking threads.
    pub(crate) fn new(
        runtime: Handle,
        url: &alloy::transports::http::reqwest::Url,
        signer: PrivateKeySigner,
        chain_id: u64,
    ) -> Self {
        Self {
            runtime,
            provider: ProviderBuilder::new().connect_http(url.clone()).erased(),
            signer,
            chain_id,
            datanet: U256::ZERO,
        }
    }

    /// Signs reads as the owner or a curator of `datanet`.
    pub(crate) const fn for_datanet(mut self, datanet: U256) -> Self {
        self.datanet = datanet;
        self
    }

    /// The provider.
    pub(crate) const fn provider(&self) -> &DynProvider {
        &self.provider
    }

    /// The head block number.
    pub(crate) fn head(&self) -> eyre::Result<u64> {
        Ok(self.runtime.block_on(self.provider.get_block_number())?)
    }
}

impl RpcInputs {
    fn rpc_error(err: impl std::fmt::Display) -> JobsError {
        JobsError::Remote(err.to_string())
    }
}

impl JobInputs for RpcInputs {
    fn view_at<C: SolCall>(
        &self,
        block: u64,
        to: Address,
        call: &C,
    ) -> Result<Option<C::Return>, JobsError> {
        let request = TransactionRequest::default()
            .with_to(to)
            .with_input(Bytes::from(call.abi_encode()));
        let answer = self.runtime.block_on(
            self.provider
                .call(request)
                .block(block.into())
                .into_future(),
        );
        match answer {
            Ok(output) => C::abi_decode_returns(&output)
                .map(Some)
                .map_err(|e| Self::rpc_error(format!("{}: {e}", C::SIGNATURE))),
            // The node answered with an error: the call reverted.
            Err(err) if err.as_error_resp().is_some() => Ok(None),
            Err(err) => Err(Self::rpc_error(err)),
        }
    }

    fn content(&self, hash: B256) -> Result<Option<Vec<u8>>, JobsError> {
        let now = super::unix_now();
        let message = ol_content::GetContent {
            reader: self.signer.address(),
            contentHash: hash,
            datanetId: self.datanet,
            nonce: rand_nonce(),
            expiry: now + READ_VALIDITY_SECS,
        };
        let domain = ol_content::content_domain(self.chain_id, DATANET_REGISTRY);
        let signature = self
            .signer
            .sign_hash_sync(&message.eip712_signing_hash(&domain))
            .map_err(Self::rpc_error)?;
        let params = json!([hash, {
            "reader": message.reader,
            "datanetId": self.datanet,
            "nonce": format!("{:#x}", message.nonce),
            "expiry": format!("{:#x}", message.expiry),
            "signature": Bytes::from(signature.as_bytes()),
        }]);
        let answer: Value = self
            .runtime
            .block_on(self.provider.raw_request("ol_getContent".into(), params))
            .map_err(Self::rpc_error)?;
        if answer.is_null() {
            return Ok(None);
        }
        let bytes: Bytes = serde_json::from_value(answer["content"].clone())
            .map_err(|_| Self::rpc_error(format!("ol_getContent gave no plaintext of {hash}")))?;
        if keccak256(&bytes) != hash {
            return Err(Self::rpc_error(format!(
                "the node served bytes that do not hash to {hash}"
            )));
        }
        Ok(Some(bytes.to_vec()))
    }
}

impl ContentSource for RpcInputs {
    fn fetch(&self, hash: B256) -> Result<Option<Vec<u8>>, JobsError> {
        JobInputs::content(self, hash)
    }
}

fn rand_nonce() -> u64 {
    u64::from_be_bytes(B256::random()[..8].try_into().expect("8 bytes"))
}
