//! The Proof of Attribution precompile at [`ADDRESS`] (`0x…0A00`), native and stateful in the
//! style of Arbitrum's ArbOS precompiles.
//!
//! It implements `contracts/src/L2/poa/IProofOfAttribution.sol` exactly as the Solidity reference
//! `ProofOfAttributionImpl.sol` does, so a contract calling it cannot tell the two apart (gas
//! aside): the same ABI, return values, custom errors as ABI-encoded revert data, events logged
//! from the precompile's address, and the same storage layout ([`storage`]) in the precompile
//! account, so records and attestors are part of the state root. Writes (`record`, `setAttestor`)
//! come only from registered attestors and from the governance address of the chain
//! configuration; in a static context they halt where the reference's `TSTORE`/`SSTORE` would.
//! Like the reference (which has no payable function and no fallback), it reverts with empty
//! data on a call with value, calldata it cannot decode or an unknown selector. A `DELEGATECALL`
//! or `CALLCODE` to it also reverts with empty data: its state lives in its own account only.
//!
//! Gas follows the schedule in [`gas`]. A database failure is the only fatal error; nothing a
//! caller sends can make it panic.

pub mod abi;
pub mod gas;
mod split;
mod storage;

pub use split::split;

use abi::ProofOfAttributionImpl::{self as sol, ProofOfAttributionImplCalls as Call};
use alloy_evm::{
    EvmInternals,
    precompiles::{DynPrecompile, PrecompileInput},
};
use alloy_primitives::{Address, B256, Bytes, Log, LogData, U256, keccak256};
use alloy_sol_types::{SolCall, SolError, SolEvent, SolInterface, SolValue, abi::AbiDecoderConfig};
use gas::{GasMeter, SstoreValues};
use revm::precompile::{
    PrecompileError, PrecompileHalt, PrecompileId, PrecompileOutput, PrecompileResult,
};
use std::collections::HashSet;
use storage::{Packed, field};

/// The precompile's address (`contracts/addresses.json`: `ProofOfAttribution`).
pub const ADDRESS: Address = ol_primitives::addresses::PROOF_OF_ATTRIBUTION;
/// Denominator of all weights: parts per million.
pub const WEIGHT_DENOMINATOR: u32 = 1_000_000;
/// Largest number of contributors in one record and of weights in one `split`.
pub const MAX_CONTRIBUTORS: usize = 256;
/// What `version()` returns (the reference implementation's version).
pub const VERSION: &str = "1.0.0";

/// The precompile, configured with its governance address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProofOfAttribution {
    governance: Address,
}

/// How a call ends when it does not return normally.
#[derive(Debug)]
enum Exit {
    /// Revert with this data, keeping the gas not spent.
    Revert(Bytes),
    /// Halt, spending all gas.
    Halt(PrecompileHalt),
    /// The state could not be read: abort the transaction.
    Fatal(String),
}

impl From<PrecompileHalt> for Exit {
    fn from(halt: PrecompileHalt) -> Self {
        Self::Halt(halt)
    }
}

/// Reverts with a custom error.
fn revert<E: SolError>(error: E) -> Exit {
    Exit::Revert(error.abi_encode().into())
}

/// What Solidity does when a write opcode runs in a static context.
fn static_write() -> Exit {
    Exit::Halt(PrecompileHalt::other_static(
        "state change during a static call",
    ))
}

impl ProofOfAttribution {
    /// The precompile with `governance` as the only caller of `setAttestor`. `Address::ZERO`
    /// means nobody: the attestor set then stays as genesis wrote it.
    pub const fn new(governance: Address) -> Self {
        Self { governance }
    }

    /// The governance address.
    pub const fn governance(&self) -> Address {
        self.governance
    }

    /// The precompile as an entry of alloy-evm's precompile map (never cached: it reads state).
    pub fn into_dyn(self) -> DynPrecompile {
        DynPrecompile::new_stateful(
            PrecompileId::Custom("ProofOfAttribution".into()),
            move |input| self.call(input),
        )
    }

    /// Runs one call.
    pub fn call(&self, input: PrecompileInput<'_>) -> PrecompileResult {
        let reservoir = input.reservoir;
        let mut frame = Frame {
            internals: input.internals,
            gas: GasMeter::new(input.gas),
            caller: input.caller,
            is_static: input.is_static,
        };
        let direct = input.target_address == input.bytecode_address;
        let result = self.dispatch(&mut frame, input.data, direct, input.value);
        Ok(match result {
            Ok(bytes) => PrecompileOutput {
                gas_refunded: frame.gas.refunded(),
                ..PrecompileOutput::new(frame.gas.used(), bytes, reservoir)
            },
            Err(Exit::Revert(bytes)) => {
                PrecompileOutput::revert(frame.gas.used(), bytes, reservoir)
            }
            Err(Exit::Halt(halt)) => PrecompileOutput::halt(halt, reservoir),
            Err(Exit::Fatal(message)) => return Err(PrecompileError::Fatal(message)),
        })
    }

    fn dispatch(
        &self,
        f: &mut Frame<'_>,
        data: &[u8],
        direct: bool,
        value: U256,
    ) -> Result<Bytes, Exit> {
        f.gas
            .charge(gas::BASE + gas::PER_WORD * gas::words(data.len()))?;
        if !direct || !value.is_zero() {
            return Err(Exit::Revert(Bytes::new()));
        }
        // Validation rejects dirty high bits in addresses and small integers, as Solidity's
        // decoder does; like it, trailing bytes are ignored.
        let call = Call::abi_decode_with_config(data, AbiDecoderConfig::new().validate(true))
            .map_err(|_| Exit::Revert(Bytes::new()))?;
        let output = match call {
            Call::WEIGHT_DENOMINATOR(_) => {
                sol::WEIGHT_DENOMINATORCall::abi_encode_returns(&WEIGHT_DENOMINATOR)
            }
            Call::MAX_CONTRIBUTORS(_) => {
                sol::MAX_CONTRIBUTORSCall::abi_encode_returns(&U256::from(MAX_CONTRIBUTORS))
            }
            Call::governance(_) => sol::governanceCall::abi_encode_returns(&self.governance),
            Call::version(_) => sol::versionCall::abi_encode_returns(&VERSION.to_owned()),
            Call::isAttestor(call) => {
                sol::isAttestorCall::abi_encode_returns(&f.is_attestor(call.0)?)
            }
            Call::setAttestor(call) => self.set_attestor(f, call)?,
            Call::record(call) => record(f, call)?,
            Call::isRecorded(call) => {
                let packed = f.packed(call.requestId)?;
                sol::isRecordedCall::abi_encode_returns(&!packed.attestor.is_zero())
            }
            Call::attributionOf(call) => {
                sol::attributionOfCall::abi_encode_returns(&attribution_of(f, call.requestId)?)
            }
            Call::summaryOf(call) => summary_of(f, call.requestId)?,
            Call::outputHashOf(call) => {
                let base = f.record_base(call.requestId)?;
                f.known_record(base, call.requestId)?;
                let output_hash = f.sload(base + U256::from(field::OUTPUT_HASH))?;
                sol::outputHashOfCall::abi_encode_returns(&B256::from(output_hash))
            }
            Call::split(call) => split_call(f, call)?,
            Call::verifyEvidence(call) => {
                sol::verifyEvidenceCall::abi_encode_returns(&verify_evidence(f, call)?)
            }
            Call::evidenceLeaf(call) => {
                let encoded = (call.datapoint, call.contributor, call.score).abi_encode();
                let inner = f.keccak(&encoded)?;
                sol::evidenceLeafCall::abi_encode_returns(&f.keccak(inner.as_slice())?)
            }
        };
        f.gas.charge(gas::PER_WORD * gas::words(output.len()))?;
        Ok(output.into())
    }

    fn set_attestor(&self, f: &mut Frame<'_>, call: sol::setAttestorCall) -> Result<Vec<u8>, Exit> {
        if self.governance.is_zero() || f.caller != self.governance {
            return Err(revert(sol::NotGovernance { caller: f.caller }));
        }
        if call.attestor.is_zero() {
            return Err(revert(sol::ZeroAddress {}));
        }
        if f.is_static {
            return Err(static_write());
        }
        let slot = f.slot(&storage::attestor_preimage(call.attestor))?;
        f.sstore(slot, U256::from(call.allowed))?;
        f.log(
            sol::AttestorSet {
                attestor: call.attestor,
                allowed: call.allowed,
            }
            .encode_log_data(),
        )?;
        Ok(Vec::new())
    }
}

/// `record`: checks in the reference's order, then the writes and the event.
fn record(f: &mut Frame<'_>, call: sol::recordCall) -> Result<Vec<u8>, Exit> {
    if !f.is_attestor(f.caller)? {
        return Err(revert(sol::NotAttestor { caller: f.caller }));
    }
    if call.requestId.is_zero() {
        return Err(revert(sol::ZeroRequestId {}));
    }
    if call.outputHash.is_zero() {
        return Err(revert(sol::ZeroOutputHash {}));
    }
    let base = f.record_base(call.requestId)?;
    let packed = Packed::decode(f.sload(base + U256::from(field::PACKED))?);
    if !packed.attestor.is_zero() {
        return Err(revert(sol::AlreadyRecorded {
            requestId: call.requestId,
        }));
    }
    validate(f, &call.contributors, &call.weightsPpm)?;
    if f.is_static {
        return Err(static_write());
    }

    let packed = Packed {
        attestor: f.caller,
        // `uint64(block.number)`: the low 64 bits.
        block_number: f.internals.block_number().as_limbs()[0],
        method: call.method,
    };
    f.sstore(
        base + U256::from(field::OUTPUT_HASH),
        call.outputHash.into(),
    )?;
    f.sstore(
        base + U256::from(field::EVIDENCE_ROOT),
        call.evidenceRoot.into(),
    )?;
    f.sstore(base + U256::from(field::PACKED), packed.encode())?;
    let n = call.contributors.len();
    if n != 0 {
        let length = U256::from(n);
        let slot = base + U256::from(field::CONTRIBUTORS);
        f.sstore(slot, length)?;
        let data = f.array_data(slot)?;
        for (i, contributor) in call.contributors.iter().enumerate() {
            f.sstore(
                data.wrapping_add(U256::from(i)),
                contributor.into_word().into(),
            )?;
        }
        let slot = base + U256::from(field::WEIGHTS);
        f.sstore(slot, length)?;
        let data = f.array_data(slot)?;
        for (j, chunk) in call
            .weightsPpm
            .chunks(storage::WEIGHTS_PER_SLOT)
            .enumerate()
        {
            f.sstore(
                data.wrapping_add(U256::from(j)),
                storage::pack_weights(chunk),
            )?;
        }
    }
    f.log(
        sol::AttributionRecorded {
            requestId: call.requestId,
            attestor: f.caller,
            method: call.method,
            outputHash: call.outputHash,
            evidenceRoot: call.evidenceRoot,
            contributors: call.contributors,
            weightsPpm: call.weightsPpm,
        }
        .encode_log_data(),
    )?;
    Ok(Vec::new())
}

/// The contributor and weight rules of a record, with the reference's errors in its order.
fn validate(f: &mut Frame<'_>, contributors: &[Address], weights: &[u32]) -> Result<(), Exit> {
    let n = contributors.len();
    if n != weights.len() {
        return Err(revert(sol::LengthMismatch {
            contributors: U256::from(n),
            weights: U256::from(weights.len()),
        }));
    }
    if n > MAX_CONTRIBUTORS {
        return Err(revert(sol::TooManyContributors {
            count: U256::from(n),
            max: U256::from(MAX_CONTRIBUTORS),
        }));
    }
    let mut seen = HashSet::with_capacity(n);
    let mut sum = 0u64;
    for (i, (&contributor, &weight)) in contributors.iter().zip(weights).enumerate() {
        f.gas.charge(gas::PER_ITEM)?;
        if contributor.is_zero() {
            return Err(revert(sol::ZeroContributor {
                index: U256::from(i),
            }));
        }
        if weight == 0 {
            return Err(revert(sol::ZeroWeight {
                index: U256::from(i),
            }));
        }
        sum += u64::from(weight);
        // The reference marks the contributor seen with `TSTORE` at this point.
        if f.is_static {
            return Err(static_write());
        }
        if !seen.insert(contributor) {
            return Err(revert(sol::DuplicateContributor { contributor }));
        }
    }
    if n != 0 && sum != u64::from(WEIGHT_DENOMINATOR) {
        return Err(revert(sol::WeightsDoNotSum {
            sum: U256::from(sum),
        }));
    }
    Ok(())
}

/// The full record of `request_id`, or `UnknownRequest`.
fn attribution_of(
    f: &mut Frame<'_>,
    request_id: B256,
) -> Result<abi::IProofOfAttribution::Attribution, Exit> {
    let base = f.record_base(request_id)?;
    let packed = f.known_record(base, request_id)?;
    let output_hash = f.sload(base + U256::from(field::OUTPUT_HASH))?;
    let evidence_root = f.sload(base + U256::from(field::EVIDENCE_ROOT))?;

    let slot = base + U256::from(field::CONTRIBUTORS);
    let count = f.sload(slot)?;
    let data = f.array_data(slot)?;
    let mut contributors = Vec::new();
    let mut i = U256::ZERO;
    // Lengths are only ever written by `record` (at most 256); the gas meter bounds the loop
    // regardless.
    while i < count {
        contributors.push(storage::word_to_address(f.sload(data.wrapping_add(i))?));
        i += U256::from(1);
    }

    let slot = base + U256::from(field::WEIGHTS);
    let count = f.sload(slot)?;
    let data = f.array_data(slot)?;
    let mut weights = Vec::new();
    let mut word = U256::ZERO;
    let mut i = 0usize;
    while U256::from(i) < count {
        let k = i % storage::WEIGHTS_PER_SLOT;
        if k == 0 {
            word = f.sload(data.wrapping_add(U256::from(i / storage::WEIGHTS_PER_SLOT)))?;
        }
        weights.push(storage::unpack_weight(word, k));
        i += 1;
    }

    Ok(abi::IProofOfAttribution::Attribution {
        outputHash: output_hash.into(),
        evidenceRoot: evidence_root.into(),
        attestor: packed.attestor,
        blockNumber: packed.block_number,
        method: packed.method,
        contributors,
        weightsPpm: weights,
    })
}

/// `summaryOf`: the fixed-size part of a record.
fn summary_of(f: &mut Frame<'_>, request_id: B256) -> Result<Vec<u8>, Exit> {
    let base = f.record_base(request_id)?;
    let packed = f.known_record(base, request_id)?;
    let count = f.sload(base + U256::from(field::CONTRIBUTORS))?;
    Ok(sol::summaryOfCall::abi_encode_returns(
        &sol::summaryOfReturn {
            attestor: packed.attestor,
            blockNumber: packed.block_number,
            method: packed.method,
            contributorCount: count,
        },
    ))
}

/// `split`: the contract-level checks, then the largest-remainder split.
fn split_call(f: &mut Frame<'_>, call: sol::splitCall) -> Result<Vec<u8>, Exit> {
    let n = call.weightsPpm.len();
    if n == 0 {
        return Err(revert(sol::EmptyWeights {}));
    }
    if n > MAX_CONTRIBUTORS {
        return Err(revert(sol::TooManyContributors {
            count: U256::from(n),
            max: U256::from(MAX_CONTRIBUTORS),
        }));
    }
    f.gas.charge(gas::PER_ITEM * n as u64)?;
    let shares =
        split(call.amount, &call.weightsPpm).ok_or_else(|| revert(sol::ZeroTotalWeight {}))?;
    Ok(sol::splitCall::abi_encode_returns(&shares))
}

/// `verifyEvidence`: OpenZeppelin `MerkleProof.verify` against the record's evidence root.
fn verify_evidence(f: &mut Frame<'_>, call: sol::verifyEvidenceCall) -> Result<bool, Exit> {
    let base = f.record_base(call.requestId)?;
    f.known_record(base, call.requestId)?;
    let root = B256::from(f.sload(base + U256::from(field::EVIDENCE_ROOT))?);
    if root.is_zero() {
        return Ok(false);
    }
    let mut node = call.leaf;
    for sibling in &call.proof {
        // `Hashes.commutativeKeccak256`: the smaller hash first.
        let (a, b) = if node < *sibling {
            (node, *sibling)
        } else {
            (*sibling, node)
        };
        let mut pair = [0u8; 64];
        pair[..32].copy_from_slice(a.as_slice());
        pair[32..].copy_from_slice(b.as_slice());
        node = f.keccak(&pair)?;
    }
    Ok(node == root)
}

/// One call's view of the EVM: state access through the journal, metered.
struct Frame<'a> {
    internals: EvmInternals<'a>,
    gas: GasMeter,
    caller: Address,
    is_static: bool,
}

impl Frame<'_> {
    fn keccak(&mut self, data: &[u8]) -> Result<B256, Exit> {
        self.gas.charge(gas::keccak_cost(data.len()))?;
        Ok(keccak256(data))
    }

    /// A mapping slot from its 64-byte preimage.
    fn slot(&mut self, preimage: &[u8; 64]) -> Result<U256, Exit> {
        Ok(self.keccak(preimage)?.into())
    }

    /// Where the data of the dynamic array whose length is at `slot` starts.
    fn array_data(&mut self, slot: U256) -> Result<U256, Exit> {
        Ok(self.keccak(&slot.to_be_bytes::<32>())?.into())
    }

    fn record_base(&mut self, request_id: B256) -> Result<U256, Exit> {
        self.slot(&storage::record_preimage(request_id))
    }

    fn packed(&mut self, request_id: B256) -> Result<Packed, Exit> {
        let base = self.record_base(request_id)?;
        Ok(Packed::decode(
            self.sload(base + U256::from(field::PACKED))?,
        ))
    }

    /// The packed word of the record at `base`, or `UnknownRequest` if there is none.
    fn known_record(&mut self, base: U256, request_id: B256) -> Result<Packed, Exit> {
        let packed = Packed::decode(self.sload(base + U256::from(field::PACKED))?);
        if packed.attestor.is_zero() {
            return Err(revert(sol::UnknownRequest {
                requestId: request_id,
            }));
        }
        Ok(packed)
    }

    fn is_attestor(&mut self, account: Address) -> Result<bool, Exit> {
        let slot = self.slot(&storage::attestor_preimage(account))?;
        Ok(!self.sload(slot)?.is_zero())
    }

    fn sload(&mut self, slot: U256) -> Result<U256, Exit> {
        self.gas.charge(gas::WARM_ACCESS)?;
        let load = self
            .internals
            .sload(ADDRESS, slot)
            .map_err(|err| Exit::Fatal(format!("PoA precompile storage read: {err}")))?;
        if load.is_cold {
            self.gas.charge(gas::COLD_SLOAD - gas::WARM_ACCESS)?;
        }
        Ok(load.data)
    }

    fn sstore(&mut self, slot: U256, value: U256) -> Result<(), Exit> {
        if self.is_static {
            return Err(static_write());
        }
        // The cheapest outcome first, so an almost exhausted call stops before it writes.
        self.gas.charge(gas::WARM_ACCESS)?;
        let store = self
            .internals
            .sstore(ADDRESS, slot, value)
            .map_err(|err| Exit::Fatal(format!("PoA precompile storage write: {err}")))?;
        let values = SstoreValues {
            original: store.data.original_value,
            present: store.data.present_value,
            new: store.data.new_value,
        };
        let cold = if store.is_cold { gas::COLD_SLOAD } else { 0 };
        self.gas.charge(values.cost() - gas::WARM_ACCESS + cold)?;
        self.gas.refund(values.refund());
        Ok(())
    }

    fn log(&mut self, data: LogData) -> Result<(), Exit> {
        self.gas
            .charge(gas::log_cost(data.topics().len(), data.data.len()))?;
        self.internals.log(Log {
            address: ADDRESS,
            data,
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests;
