//! The EVM factory of the chain: alloy-op-evm's `OpEvmFactory` (op-revm with the OP precompiles
//! of the active spec) plus the Proof of Attribution precompile at `0x…0A00`.
//!
//! Every EVM the node creates (block building, `eth_call`, gas estimation, genesis construction)
//! comes from here, so they all see the same precompile set.

use crate::poa::{self, ProofOfAttribution};
use alloy_evm::{Database, Evm, EvmEnv, EvmFactory, precompiles::PrecompilesMap};
use alloy_op_evm::{OpEvm, OpEvmContext, OpEvmFactory, OpTx, OpTxError};
use op_revm::{OpHaltReason, OpSpecId};
use revm::{
    Inspector,
    context::{BlockEnv, result::EVMError},
    inspector::NoOpInspector,
};

/// Creates op-revm EVMs with the PoA precompile installed.
#[derive(Debug, Clone, Copy)]
pub struct OlEvmFactory {
    inner: OpEvmFactory,
    poa: ProofOfAttribution,
}

impl OlEvmFactory {
    /// A factory whose EVMs carry `poa` at [`poa::ADDRESS`].
    pub fn new(poa: ProofOfAttribution) -> Self {
        Self {
            inner: OpEvmFactory::default(),
            poa,
        }
    }

    /// The PoA precompile's configuration.
    pub const fn poa(&self) -> &ProofOfAttribution {
        &self.poa
    }

    fn install<E: Evm<Precompiles = PrecompilesMap>>(&self, mut evm: E) -> E {
        let poa = self.poa;
        evm.precompiles_mut()
            .apply_precompile(&poa::ADDRESS, move |_| Some(poa.into_dyn()));
        evm
    }
}

impl EvmFactory for OlEvmFactory {
    type Evm<DB: Database, I: Inspector<OpEvmContext<DB>>> = OpEvm<DB, I, PrecompilesMap, OpTx>;
    type Context<DB: Database> = OpEvmContext<DB>;
    type Tx = OpTx;
    type Error<DBError: core::error::Error + Send + Sync + 'static> = EVMError<DBError, OpTxError>;
    type HaltReason = OpHaltReason;
    type Spec = OpSpecId;
    type BlockEnv = BlockEnv;
    type Precompiles = PrecompilesMap;

    fn create_evm<DB: Database>(
        &self,
        db: DB,
        input: EvmEnv<OpSpecId, BlockEnv>,
    ) -> Self::Evm<DB, NoOpInspector> {
        self.install(self.inner.create_evm(db, input))
    }

    fn create_evm_with_inspector<DB: Database, I: Inspector<Self::Context<DB>>>(
        &self,
        db: DB,
        input: EvmEnv<OpSpecId, BlockEnv>,
        inspector: I,
    ) -> Self::Evm<DB, I> {
        self.install(self.inner.create_evm_with_inspector(db, input, inspector))
    }
}
