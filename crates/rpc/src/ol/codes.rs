//! Error codes of the `ol` namespace. They sit in JSON-RPC's server-error range
//! (`-32000`–`-32099`) above the codes EIP-1474 names, so a client can tell every refusal
//! apart; limits reached use EIP-1474's `-32005` as the rest of the RPC does.

/// The signature is malformed, or is not by the account the request names.
pub const BAD_SIGNATURE: i32 = -32040;
/// The bytes do not hash to the `contentHash` the request names.
pub const HASH_MISMATCH: i32 = -32041;
/// The upload is larger than one object may be.
pub const TOO_LARGE: i32 = -32042;
/// The signer may not read the plaintext.
pub const UNAUTHORIZED: i32 = -32043;
/// The read signature is expired, valid for too long, or was already used.
pub const STALE_SIGNATURE: i32 = -32044;
/// The node serves no content store.
pub const NO_CONTENT_STORE: i32 = -32045;
/// The node runs no job service.
pub const NO_JOB_SERVICE: i32 = -32046;
/// The job service has not seen the request (yet).
pub const UNKNOWN_REQUEST: i32 = -32047;
/// The node runs no attribution verifier.
pub const NO_VERIFIER: i32 = -32048;
