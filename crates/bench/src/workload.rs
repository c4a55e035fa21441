//! The benchmark's transactions, signed once and sent unchanged to every target: a setup that
//! deploys an ERC-20 and funds the senders, then one phase of plain transfers and one of ERC-20
//! transfers, each sender's nonces in order and the senders interleaved.

use alloy::{
    consensus::{SignableTransaction, TxEip1559, TxEnvelope},
    eips::eip2718::Encodable2718,
    network::TxSignerSync,
    primitives::{Address, B256, Bytes, TxKind, U256, keccak256},
    signers::local::PrivateKeySigner,
    sol,
    sol_types::SolCall,
};
use eyre::{WrapErr, eyre};

sol! {
    function transfer(address to, uint256 amount) external returns (bool);
}

/// The ERC-20 the benchmark deploys (OpenZeppelin's, see `contracts/src/test/BenchToken.sol`).
const BENCH_TOKEN_ARTIFACT: &str = include_str!("../../../contracts/artifacts/BenchToken.json");

/// Fee cap of every benchmark transaction: far above any base fee either target reaches, so
/// that no transaction waits for the fee to fall.
const MAX_FEE_PER_GAS: u128 = 100_000_000_000;
/// Tip of every benchmark transaction.
const PRIORITY_FEE_PER_GAS: u128 = 1_000_000_000;
/// Gas limit of a transfer of the native token.
const TRANSFER_GAS: u64 = 21_000;
/// Gas limit of an ERC-20 transfer (51,000 at most to a new holder with OpenZeppelin's ERC20).
const TOKEN_TRANSFER_GAS: u64 = 60_000;
/// Native tokens each sender receives for fees and values.
const SENDER_FUNDING: U256 = U256::from_limbs([10_000_000_000_000_000_000, 0, 0, 0]);
/// Tokens each sender receives.
const SENDER_TOKENS: U256 = U256::from_limbs([1_000_000_000_000_000_000, 0, 0, 0]);

/// Which kind of transfer a phase sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Native-token transfers (21,000 gas).
    Native,
    /// ERC-20 `transfer` calls.
    Erc20,
}

impl Kind {
    /// The name in reports.
    pub(crate) const fn label(self) -> &'static str {
        match self {
            Self::Native => "ETH transfers",
            Self::Erc20 => "ERC-20 transfers",
        }
    }
}

/// A signed transaction ready to submit.
#[derive(Debug, Clone)]
pub(crate) struct SignedTx {
    /// Its hash.
    pub(crate) hash: B256,
    /// Its EIP-2718 encoding.
    pub(crate) raw: Bytes,
}

/// Everything the benchmark sends.
#[derive(Debug)]
pub(crate) struct Workload {
    /// The ERC-20's address (the deployer's first creation on both targets).
    pub(crate) token: Address,
    /// Deployment and funding, from the dev accounts.
    pub(crate) setup: Vec<SignedTx>,
    /// The measured phases.
    pub(crate) phases: Vec<(Kind, Vec<SignedTx>)>,
}

fn sign(signer: &PrivateKeySigner, mut tx: TxEip1559) -> eyre::Result<SignedTx> {
    let signature = signer
        .sign_transaction_sync(&mut tx)
        .wrap_err("signing a benchmark transaction")?;
    let envelope = TxEnvelope::from(tx.into_signed(signature));
    Ok(SignedTx {
        hash: *envelope.tx_hash(),
        raw: envelope.encoded_2718().into(),
    })
}

fn eip1559(
    chain_id: u64,
    nonce: u64,
    to: TxKind,
    value: U256,
    input: Bytes,
    gas: u64,
) -> TxEip1559 {
    TxEip1559 {
        chain_id,
        nonce,
        gas_limit: gas,
        max_fee_per_gas: MAX_FEE_PER_GAS,
        max_priority_fee_per_gas: PRIORITY_FEE_PER_GAS,
        to,
        value,
        access_list: Default::default(),
        input,
    }
}

fn transfer_input(to: Address, amount: U256) -> Bytes {
    transferCall { to, amount }.abi_encode().into()
}

/// The creation code of the token with its constructor argument (the supply).
fn token_creation_code(supply: U256) -> eyre::Result<Bytes> {
    let artifact: serde_json::Value =
        serde_json::from_str(BENCH_TOKEN_ARTIFACT).wrap_err("the BenchToken artifact")?;
    let code = artifact["bytecode"]
        .as_str()
        .ok_or_else(|| eyre!("the BenchToken artifact has no bytecode"))?;
    let mut code = alloy::hex::decode(code).wrap_err("the BenchToken bytecode")?;
    code.extend_from_slice(&supply.to_be_bytes::<32>());
    Ok(code.into())
}

impl Workload {
    /// A workload of `total` transfers from `senders` accounts on the dev chain (the ETH phase,
    /// then the ERC-20 one, as many rounds as it takes), with those transfers in order.
    pub(crate) fn of_transfers(senders: u64, total: u64) -> eyre::Result<(Self, Vec<SignedTx>)> {
        let rounds = total.div_ceil(2 * senders).max(1);
        let workload = Self::new(
            ol_primitives::dev::DEV_CHAIN_ID,
            senders as usize,
            rounds as usize,
        )?;
        let transfers = workload
            .phases
            .iter()
            .flat_map(|(_, txs)| txs)
            .take(total as usize)
            .cloned()
            .collect();
        Ok((workload, transfers))
    }

    /// Signs the setup and `rounds` transfers of each kind from each of `senders` fresh accounts
    /// (derived from a fixed seed, so every run sends the same transactions).
    pub(crate) fn new(chain_id: u64, senders: usize, rounds: usize) -> eyre::Result<Self> {
        let dev = ol_primitives::dev::dev_signers();
        let deployer = &dev[0];
        let token = deployer.address().create(0);
        let accounts: Vec<PrivateKeySigner> = (0..senders as u64)
            .map(|index| {
                let seed =
                    keccak256([b"openledger-bench".as_slice(), &index.to_be_bytes()].concat());
                PrivateKeySigner::from_bytes(&seed).wrap_err("deriving a benchmark sender")
            })
            .collect::<eyre::Result<_>>()?;

        let mut dev_nonces = vec![0u64; dev.len()];
        let mut next_nonce = |index: usize| {
            let nonce = dev_nonces[index];
            dev_nonces[index] += 1;
            nonce
        };
        let mut setup = vec![sign(
            deployer,
            eip1559(
                chain_id,
                next_nonce(0),
                TxKind::Create,
                U256::ZERO,
                token_creation_code(U256::MAX >> 1)?,
                3_000_000,
            ),
        )?];
        for (index, account) in accounts.iter().enumerate() {
            let funder = index % dev.len();
            setup.push(sign(
                &dev[funder],
                eip1559(
                    chain_id,
                    next_nonce(funder),
                    TxKind::Call(account.address()),
                    SENDER_FUNDING,
                    Bytes::new(),
                    TRANSFER_GAS,
                ),
            )?);
            setup.push(sign(
                deployer,
                eip1559(
                    chain_id,
                    next_nonce(0),
                    TxKind::Call(token),
                    U256::ZERO,
                    transfer_input(account.address(), SENDER_TOKENS),
                    TOKEN_TRANSFER_GAS,
                ),
            )?);
        }

        let mut phases = Vec::new();
        for (phase, kind) in [Kind::Native, Kind::Erc20].into_iter().enumerate() {
            let mut txs = Vec::with_capacity(rounds * senders);
            for round in 0..rounds {
                for (index, account) in accounts.iter().enumerate() {
                    let recipient = accounts[(index + 1) % accounts.len()].address();
                    let nonce = (phase * rounds + round) as u64;
                    let tx = match kind {
                        Kind::Native => eip1559(
                            chain_id,
                            nonce,
                            TxKind::Call(recipient),
                            U256::from(1),
                            Bytes::new(),
                            TRANSFER_GAS,
                        ),
                        Kind::Erc20 => eip1559(
                            chain_id,
                            nonce,
                            TxKind::Call(token),
                            U256::ZERO,
                            transfer_input(recipient, U256::from(1)),
                            TOKEN_TRANSFER_GAS,
                        ),
                    };
                    txs.push(sign(account, tx)?);
                }
            }
            phases.push((kind, txs));
        }
        Ok(Self {
            token,
            setup,
            phases,
        })
    }
}
