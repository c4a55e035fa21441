//! JSON-RPC errors with go-ethereum's codes and messages.

use alloy_primitives::Bytes;
use jsonrpsee::types::ErrorObjectOwned;
use ol_evm::call::CallError;
use ol_txpool::PoolError;

/// geth's code for errors of the request's content (`-32000`).
pub const SERVER_ERROR: i32 = -32000;
/// Invalid method parameters.
pub const INVALID_PARAMS: i32 = -32602;
/// Internal error.
pub const INTERNAL_ERROR: i32 = -32603;
/// A limit of the node was reached (EIP-1474's "limit exceeded"); retrying later may succeed.
pub const LIMIT_EXCEEDED: i32 = -32005;
/// `eth_call`/`eth_estimateGas` revert, with the revert data in `data`.
pub const EXECUTION_REVERTED: i32 = 3;

/// Errors of the RPC layer.
#[derive(Debug, thiserror::Error)]
pub enum RpcError {
    /// The server could not start.
    #[error("cannot start the RPC server on {addr}: {source}")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// An internal failure (storage, execution) as a JSON-RPC error.
pub fn internal(err: impl std::fmt::Display) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(INTERNAL_ERROR, err.to_string(), None::<()>)
}

/// A request the node cannot serve, with geth's `-32000`.
pub fn server(message: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(SERVER_ERROR, message.into(), None::<()>)
}

/// Bad parameters.
pub fn invalid_params(message: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(INVALID_PARAMS, message.into(), None::<()>)
}

/// A refused transaction.
pub fn pool(err: PoolError) -> ErrorObjectOwned {
    match err {
        PoolError::State(err) => internal(err),
        other => server(other.to_string()),
    }
}

/// A failed call. Reverts carry the revert data as geth does, decoded reason in the message.
pub fn call(err: CallError) -> ErrorObjectOwned {
    match err {
        CallError::Revert(data) => revert(&data),
        CallError::Internal(err) => internal(err),
        CallError::Halt(reason) => server(format!("execution halted: {reason}")),
        CallError::BadOverride(reason) => invalid_params(reason),
        other => server(other.to_string()),
    }
}

fn revert(data: &Bytes) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(EXECUTION_REVERTED, revert_message(data), Some(data.clone()))
}

/// geth's message for a revert with `data`: `execution reverted: <reason>` for `Error(string)`,
/// plain `execution reverted` for anything else;
/// alloy's display of a decoded revert adds its own `revert: ` in front, which clients matching
/// geth do not expect.
pub(crate) fn revert_message(data: &Bytes) -> String {
    // Only `Error(string)` carries a reason geth prints; a custom error or a panic is data.
    let reason = match alloy_sol_types::GenericRevertReason::decode(data) {
        Some(alloy_sol_types::GenericRevertReason::ContractError(
            alloy_sol_types::GenericContractError::Revert(revert),
        )) => Some(revert.reason),
        _ => None,
    };
    match reason.filter(|reason| !reason.is_empty()) {
        Some(reason) => format!("execution reverted: {reason}"),
        None => "execution reverted".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reverts_are_code_3_with_data() {
        let data = Bytes::from_static(&[0xde, 0xad]);
        let err = call(CallError::Revert(data));
        assert_eq!(err.code(), EXECUTION_REVERTED);
        assert_eq!(err.data().map(|raw| raw.get()), Some("\"0xdead\""));
    }

    #[test]
    fn a_revert_reason_reads_as_geths() {
        use alloy_sol_types::SolError;
        let data = alloy_sol_types::Revert::from("not enough").abi_encode();
        let err = call(CallError::Revert(data.into()));
        assert_eq!(err.message(), "execution reverted: not enough");
        let err = call(CallError::Revert(Bytes::new()));
        assert_eq!(err.message(), "execution reverted");
    }

    #[test]
    fn pool_errors_use_geth_messages() {
        let err = pool(PoolError::NonceTooLow);
        assert_eq!(err.code(), SERVER_ERROR);
        assert_eq!(err.message(), "nonce too low");
    }
}
