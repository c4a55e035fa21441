//! The fee cap of `eth_sendRawTransaction` (`--rpc.txfeecap`): a transaction that commits more
//! than the cap to fees (gas limit × max fee per gas) is refused before it reaches the pool, as
//! geth and reth do, so that a wallet's mistake cannot spend a fortune on gas.

use crate::{EthRpc, error};
use alloy_consensus::Transaction as _;
use alloy_eips::eip2718::Decodable2718;
use jsonrpsee::core::RpcResult;
use ol_primitives::OpTxEnvelope;

/// Wei in one OPEN (geth's messages say "ether").
const WEI_PER_ETHER: f64 = 1e18;

impl EthRpc {
    /// Refuses `raw` when its maximum fee exceeds the cap, with geth's message. Bytes that do
    /// not decode (or exceed the pool's size limit) pass: the pool says what is wrong with them.
    pub(crate) fn check_fee_cap(&self, raw: &[u8]) -> RpcResult<()> {
        let cap = self.tx_fee_cap;
        if cap == 0 || raw.len() > self.pool.config().max_tx_bytes {
            return Ok(());
        }
        let Ok(tx) = OpTxEnvelope::decode_2718(&mut &raw[..]) else {
            return Ok(());
        };
        let max_fee = tx.max_fee_per_gas();
        let gas = u128::from(tx.gas_limit());
        if max_fee.checked_mul(gas).is_some_and(|fee| fee <= cap) {
            return Ok(());
        }
        let fee = max_fee as f64 * gas as f64 / WEI_PER_ETHER;
        Err(error::server(format!(
            "tx fee ({fee:.2} ether) exceeds the configured cap ({:.2} ether)",
            cap as f64 / WEI_PER_ETHER
        )))
    }
}
