//! Where a job's inputs come from. The sequencer reads its own chain and content store
//! ([`LocalInputs`]); a verifier reads a node over JSON-RPC. Both go through [`JobInputs`], and
//! [`gather`] turns either into the same [`Task`] for the same request, so a verifier re-runs
//! exactly what the sequencer ran. A follower that verifies reads its own chain and fills its
//! content store from the sequencer's as it needs ([`ContentSource`]).

use crate::{JobsError, executor::Task, journal::RequestInfo};
use alloy_primitives::{Address, B256, U256, keccak256};
use alloy_sol_types::SolCall;
use ol_attribution::lineage::{DocMeta, TextDocument};
use ol_chain::Chain;
use ol_content::ContentStore;
use ol_primitives::{
    addresses::dev_suite::{DATANET_REGISTRY, MODEL_REGISTRY},
    contracts::{DatanetRegistry, ModelRegistry},
};
use std::sync::Arc;

/// Page size of `approvedContributions` reads.
const PAGE: u64 = 100;

/// Reads of chain state and content.
pub trait JobInputs {
    /// Calls a view function on `to` at the state after `block`; `None` when it reverts.
    fn view_at<C: SolCall>(
        &self,
        block: u64,
        to: Address,
        call: &C,
    ) -> Result<Option<C::Return>, JobsError>;

    /// The bytes stored under `hash` (checked against it), if available.
    fn content(&self, hash: B256) -> Result<Option<Vec<u8>>, JobsError>;
}

/// Another node's content store that this one may read from: a follower's verifier fetches
/// the contributions and adapter bundles it lacks from the sequencer with its verifier key.
pub trait ContentSource: Send + Sync + std::fmt::Debug {
    /// The bytes stored there under `hash`, if it holds them and lets this node read them.
    fn fetch(&self, hash: B256) -> Result<Option<Vec<u8>>, JobsError>;
}

/// A node's own chain and content store.
#[derive(Debug)]
pub struct LocalInputs<'a> {
    /// The chain.
    pub chain: &'a Chain,
    /// The caller of view functions, and the uploader of what is replicated.
    pub from: Address,
    /// The content store.
    pub content: &'a dyn ContentStore,
    /// Where content missing from the store is fetched (and then stored): none on the
    /// sequencer, which holds what was uploaded to it.
    pub replicate: Option<&'a dyn ContentSource>,
}

impl JobInputs for LocalInputs<'_> {
    fn view_at<C: SolCall>(
        &self,
        block: u64,
        to: Address,
        call: &C,
    ) -> Result<Option<C::Return>, JobsError> {
        match self.chain.view_at(block, self.from, to, call) {
            Ok(answer) => Ok(Some(answer)),
            Err(err) if err.revert_data().is_some() => Ok(None),
            Err(err) => Err(err.into()),
        }
    }

    fn content(&self, hash: B256) -> Result<Option<Vec<u8>>, JobsError> {
        if let Some(bytes) = self.content.get(hash)? {
            return Ok(Some(bytes));
        }
        let Some(source) = self.replicate else {
            return Ok(None);
        };
        let Some(bytes) = source.fetch(hash)? else {
            return Ok(None);
        };
        if keccak256(&bytes) != hash {
            return Err(JobsError::Remote(format!(
                "the content source served bytes that do not hash to {hash}"
            )));
        }
        self.content.put(self.from, &bytes)?;
        tracing::debug!(target: "verify", %hash, bytes = bytes.len(), "content replicated");
        metrics::counter!("content_replicated_total").increment(1);
        Ok(Some(bytes))
    }
}

/// Why a job's inputs are not all there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gather {
    /// For good: the request cannot be served.
    Refused(String),
    /// Not yet (an adapter bundle not uploaded).
    Waiting(String),
}

/// What a request's adapter brings to its job, the same for every request of that adapter in
/// one block: the service reads it once per block and adapter, not once per request.
#[derive(Debug, Clone)]
pub struct AdapterInputs {
    /// The adapter's content hash (`adapterHash`).
    pub adapter_hash: B256,
    /// Its bundle.
    pub bundle: Arc<[u8]>,
    /// The attribution method it registered.
    pub method: u8,
    /// The approved contributions of its Datanets that this node holds.
    pub documents: Arc<[TextDocument]>,
}

/// The task of `request` with `prompt`, for a node serving the base model `base_hash`: the
/// adapter, its bundle and the approved contributions of its Datanets, read at the request's
/// block. Contributions whose content is not available (or not text) are left out; the
/// answer's snapshot root names exactly what was attributed over.
pub fn gather(
    inputs: &impl JobInputs,
    request: &RequestInfo,
    prompt: &[u8],
    base_hash: B256,
) -> Result<Result<Task, Gather>, JobsError> {
    if let Err(refused) = check_prompt(request, prompt) {
        return Ok(Err(refused));
    }
    Ok(
        gather_adapter(inputs, request.block, request.adapter_id, base_hash)?
            .map(|adapter| task(request, prompt, &adapter)),
    )
}

/// Refuses a prompt that does not hash to the request's `promptHash`.
pub fn check_prompt(request: &RequestInfo, prompt: &[u8]) -> Result<(), Gather> {
    if keccak256(prompt) == request.prompt_hash {
        Ok(())
    } else {
        Err(Gather::Refused(
            "the prompt does not hash to promptHash".into(),
        ))
    }
}

/// The task of `request` with `prompt` (checked) on `adapter`'s inputs.
pub fn task(request: &RequestInfo, prompt: &[u8], adapter: &AdapterInputs) -> Task {
    Task {
        request: request.clone(),
        prompt: prompt.to_vec(),
        adapter_hash: adapter.adapter_hash,
        adapter_bundle: adapter.bundle.clone(),
        method: adapter.method,
        documents: adapter.documents.clone(),
    }
}

/// The inputs of adapter `adapter_id` at the state after `block`, for a node serving the base
/// model `base_hash`.
pub fn gather_adapter(
    inputs: &impl JobInputs,
    block: u64,
    adapter_id: U256,
    base_hash: B256,
) -> Result<Result<AdapterInputs, Gather>, JobsError> {
    let call = ModelRegistry::getAdapterCall {
        adapterId: adapter_id,
    };
    let Some(adapter) = inputs.view_at(block, MODEL_REGISTRY, &call)? else {
        return Ok(Err(Gather::Refused(format!(
            "unknown adapter {adapter_id}"
        ))));
    };
    if !adapter.active {
        return Ok(Err(Gather::Refused(format!(
            "adapter {adapter_id} is not active"
        ))));
    }
    let call = ModelRegistry::getBaseModelCall {
        baseModelId: adapter.baseModelId,
    };
    let base = inputs
        .view_at(block, MODEL_REGISTRY, &call)?
        .ok_or_else(|| {
            JobsError::Transaction(format!("base model {} unreadable", adapter.baseModelId))
        })?;
    if base.weightsHash != base_hash {
        return Ok(Err(Gather::Refused(format!(
            "adapter {adapter_id} is of base model {} ({}), which is not the one served ({base_hash})",
            adapter.baseModelId, base.weightsHash
        ))));
    }
    let Some(bundle) = inputs.content(adapter.adapterHash)? else {
        return Ok(Err(Gather::Waiting(format!(
            "adapter {adapter_id}'s bundle {} is not in the content store",
            adapter.adapterHash
        ))));
    };
    let mut documents = Vec::new();
    for used in &adapter.datanets {
        documents.extend(approved_documents(inputs, block, used.datanetId)?);
    }
    Ok(Ok(AdapterInputs {
        adapter_hash: adapter.adapterHash,
        bundle: bundle.into(),
        method: adapter.attributionMethod,
        documents: documents.into(),
    }))
}

/// The approved contributions of `datanet` at the state after `block` whose content is
/// available, as documents whose datapoint is their `contentHash` (content that is not text is
/// left out, as is content not available).
pub fn approved_documents(
    inputs: &impl JobInputs,
    block: u64,
    datanet: U256,
) -> Result<Vec<TextDocument>, JobsError> {
    let mut documents = Vec::new();
    let mut offset = 0u64;
    loop {
        let call = DatanetRegistry::approvedContributionsCall {
            datanetId: datanet,
            offset: U256::from(offset),
            limit: U256::from(PAGE),
        };
        let Some(page) = inputs.view_at(block, DATANET_REGISTRY, &call)? else {
            break;
        };
        for item in &page.items {
            let Some(bytes) = inputs.content(item.contentHash)? else {
                continue;
            };
            let Ok(text) = String::from_utf8(bytes) else {
                continue;
            };
            documents.push(TextDocument {
                meta: DocMeta {
                    datapoint: item.contentHash,
                    contributor: item.contributor,
                    datanet: B256::from(datanet),
                },
                text,
            });
        }
        offset += page.items.len() as u64;
        if page.items.is_empty() || U256::from(offset) >= page.total {
            break;
        }
    }
    Ok(documents)
}
