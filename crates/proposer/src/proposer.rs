//! The proposal step and loop: read the oracle's next block, propose its output once the block is
//! safe and in L1's past, wait for the receipt; on L1 trouble, back off and try again.

use crate::ProposerError;
use alloy::{
    primitives::{Address, B256, TxKind, U256},
    signers::local::PrivateKeySigner,
    sol_types::SolCall,
};
use ol_l1::{
    BlockTag, GasQuery, L1Client,
    contracts::L2OutputOracle,
    tx::{L1Call, send_signed, sign_call, wait_for_receipt},
};
use ol_primitives::L1BlockRef;
use ol_storage::Storage;
use std::time::Duration;
use tokio::sync::watch;
use tracing::{debug, error, info, warn};

/// Proposer settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProposerConfig {
    /// The `L2OutputOracle` on L1.
    pub oracle: Address,
    /// How often to look again when there is nothing to propose (the next output's block is not
    /// safe yet, or not yet in L1's past), and how often to poll for a receipt (at most 1 s).
    pub poll_interval: Duration,
    /// How long to wait for a proposal to be mined before giving the attempt up.
    pub receipt_timeout: Duration,
    /// The longest pause between attempts after failures (the pause starts at `poll_interval`
    /// and doubles).
    pub max_backoff: Duration,
}

impl ProposerConfig {
    /// Settings for `oracle`: poll every 2 s, wait 2 min for a receipt, back off up to 1 min.
    pub const fn new(oracle: Address) -> Self {
        Self {
            oracle,
            poll_interval: Duration::from_secs(2),
            receipt_timeout: Duration::from_secs(120),
            max_backoff: Duration::from_secs(60),
        }
    }
}

/// An output proposed and mined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Proposal {
    /// The L2 block.
    pub l2_block_number: u64,
    /// Its output root.
    pub output_root: B256,
    /// The L1 transaction.
    pub l1_tx: B256,
    /// The L1 block it was mined in.
    pub l1_block: L1BlockRef,
}

/// Posts output roots to the `L2OutputOracle`.
#[derive(Debug)]
pub struct Proposer<C> {
    config: ProposerConfig,
    storage: Storage,
    l1: C,
    signer: PrivateKeySigner,
    /// The L1 chain id, once read (with the check that the key is the oracle's proposer).
    l1_chain_id: Option<u64>,
}

impl<C: L1Client> Proposer<C> {
    /// A proposer of the chain in `storage`, signing with `signer` (the oracle's `PROPOSER`).
    pub const fn new(
        config: ProposerConfig,
        storage: Storage,
        l1: C,
        signer: PrivateKeySigner,
    ) -> Self {
        Self {
            config,
            storage,
            l1,
            signer,
            l1_chain_id: None,
        }
    }

    /// The L2 block the oracle expects the next output for.
    pub async fn next_block_number(&self) -> Result<u64, ProposerError> {
        let next = self
            .oracle_call(L2OutputOracle::nextBlockNumberCall {})
            .await?;
        u64::try_from(next).map_err(|_| ProposerError::BadOracleResponse {
            method: L2OutputOracle::nextBlockNumberCall::SIGNATURE,
            message: format!("{next} is not a block number"),
        })
    }

    /// Proposes the next output if its block is at or below `safe_l2` and its timestamp is before
    /// the L1 head's (the oracle refuses outputs that are not in the past), and waits for it to
    /// be mined. `None`: nothing to propose now.
    pub async fn step(&mut self, safe_l2: u64) -> Result<Option<Proposal>, ProposerError> {
        let chain_id = self.ready().await?;
        let next = self.next_block_number().await?;
        if next > safe_l2 {
            debug!(next, safe_l2, "next output block not safe yet");
            return Ok(None);
        }
        let output = self
            .storage
            .output_at(next)?
            .ok_or(ProposerError::MissingBlock {
                number: next,
                safe: safe_l2,
            })?;
        let head = self.l1.block_ref(BlockTag::Latest).await?;
        if output.timestamp >= head.timestamp {
            debug!(
                next,
                l2_timestamp = output.timestamp,
                l1_timestamp = head.timestamp,
                "next output block not in L1's past yet"
            );
            return Ok(None);
        }
        // Committing to the L1 head makes the proposal fail rather than land on another L1
        // branch after a reorg.
        let call = L2OutputOracle::proposeL2OutputCall {
            _outputRoot: output.output_root,
            _l2BlockNumber: U256::from(next),
            _l1BlockHash: head.hash,
            _l1BlockNumber: U256::from(head.number),
        };
        let call = L1Call {
            to: self.config.oracle,
            value: U256::ZERO,
            input: call.abi_encode().into(),
            gas_limit: None,
        };
        let signed = sign_call(&self.l1, &self.signer, chain_id, call).await?;
        send_signed(&self.l1, &signed).await?;
        let poll = self.config.poll_interval.min(Duration::from_secs(1));
        let receipt =
            wait_for_receipt(&self.l1, signed.hash, poll, self.config.receipt_timeout).await?;
        if !receipt.success {
            return Err(ProposerError::Reverted {
                l2_block: next,
                tx: signed.hash,
            });
        }
        metrics::counter!("proposer_outputs_total").increment(1);
        metrics::gauge!("proposer_last_output_block").set(next as f64);
        info!(
            l2_block = next,
            output_root = %output.output_root,
            tx = %signed.hash,
            l1_block = receipt.block.number,
            "output proposed"
        );
        Ok(Some(Proposal {
            l2_block_number: next,
            output_root: output.output_root,
            l1_tx: signed.hash,
            l1_block: receipt.block,
        }))
    }

    /// Proposes outputs as the safe head advances, until `shutdown` turns true or either sender
    /// is dropped (the node is stopping). L1 failures are retried with a doubling pause; a fatal
    /// error ([`ProposerError::is_fatal`]) ends the loop.
    pub async fn run(
        mut self,
        mut safe_head: watch::Receiver<u64>,
        mut shutdown: watch::Receiver<bool>,
    ) -> Result<(), ProposerError> {
        let poll = self.config.poll_interval;
        let mut backoff = poll;
        loop {
            if *shutdown.borrow() {
                return Ok(());
            }
            let safe = *safe_head.borrow_and_update();
            let (wait, wake_on_safe_head) = match self.step(safe).await {
                Ok(Some(_)) => {
                    backoff = poll;
                    continue;
                }
                Ok(None) => {
                    backoff = poll;
                    (poll, true)
                }
                Err(err) if err.is_fatal() => {
                    metrics::counter!("proposer_errors_total").increment(1);
                    error!(%err, "stopping the proposer");
                    return Err(err);
                }
                Err(err) => {
                    metrics::counter!("proposer_errors_total").increment(1);
                    warn!(%err, retry_in = ?backoff, "proposal failed");
                    let wait = backoff;
                    backoff = (backoff * 2).min(self.config.max_backoff.max(poll));
                    (wait, false)
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                changed = safe_head.changed(), if wake_on_safe_head => {
                    if changed.is_err() {
                        return Ok(());
                    }
                }
                changed = shutdown.changed() => {
                    if changed.is_err() {
                        return Ok(());
                    }
                }
            }
        }
    }

    /// Reads the L1 chain id and checks the key against the oracle's `PROPOSER()`, once.
    async fn ready(&mut self) -> Result<u64, ProposerError> {
        if let Some(chain_id) = self.l1_chain_id {
            return Ok(chain_id);
        }
        let chain_id = self.l1.chain_id().await?;
        let expected = self.oracle_call(L2OutputOracle::PROPOSERCall {}).await?;
        if expected != self.signer.address() {
            return Err(ProposerError::NotProposer {
                signer: self.signer.address(),
                expected,
            });
        }
        info!(oracle = %self.config.oracle, l1_chain_id = chain_id, proposer = %expected, "proposer ready");
        self.l1_chain_id = Some(chain_id);
        Ok(chain_id)
    }

    async fn oracle_call<T: SolCall>(&self, call: T) -> Result<T::Return, ProposerError> {
        let query = GasQuery {
            from: self.signer.address(),
            to: TxKind::Call(self.config.oracle),
            value: U256::ZERO,
            input: call.abi_encode().into(),
        };
        let output = self.l1.call(query, BlockTag::Latest).await?;
        T::abi_decode_returns(&output).map_err(|err| ProposerError::BadOracleResponse {
            method: T::SIGNATURE,
            message: err.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::sol_types::SolValue;
    use ol_chain::{Chain, Sequencer, SequencerConfig};
    use ol_l1::test_utils::{MEMORY_L1_GENESIS_TIME, MemoryL1};
    use ol_txpool::{PoolConfig, TxPool};
    use std::sync::Arc;

    const ORACLE: Address = Address::repeat_byte(0x0c);

    /// A dev chain of `blocks` blocks starting at MemoryL1's genesis time (one second apart).
    fn chain(blocks: u64) -> (tempfile::TempDir, Storage) {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::open(dir.path()).unwrap();
        let spec = ol_primitives::dev::dev_chain_spec(None, MEMORY_L1_GENESIS_TIME).unwrap();
        storage.init_genesis(&spec).unwrap();
        let chain = Chain::new(storage.clone(), None).unwrap();
        let pool = Arc::new(TxPool::new(PoolConfig::default(), chain.chain_id()));
        let sequencer = Sequencer::new(chain, pool, SequencerConfig { block_time: 1 });
        for _ in 0..blocks {
            sequencer.produce_block().unwrap();
        }
        (dir, storage)
    }

    /// An L1 whose oracle answers `PROPOSER()` with `proposer` and `nextBlockNumber()` with
    /// `next`.
    fn l1(proposer: Address, next: u64) -> Arc<MemoryL1> {
        let l1 = Arc::new(MemoryL1::new(1));
        l1.set_call_result(
            ORACLE,
            L2OutputOracle::PROPOSERCall {}.abi_encode().into(),
            proposer.abi_encode().into(),
        );
        l1.set_call_result(
            ORACLE,
            L2OutputOracle::nextBlockNumberCall {}.abi_encode().into(),
            U256::from(next).abi_encode().into(),
        );
        l1
    }

    fn config() -> ProposerConfig {
        ProposerConfig {
            poll_interval: Duration::from_millis(10),
            receipt_timeout: Duration::from_secs(10),
            max_backoff: Duration::from_millis(40),
            ..ProposerConfig::new(ORACLE)
        }
    }

    /// Mines a MemoryL1 block every 10 ms (so that receipts appear) until dropped.
    fn miner(l1: Arc<MemoryL1>) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(10)).await;
                l1.mine(1);
            }
        })
    }

    #[tokio::test]
    async fn proposes_only_safe_blocks_in_l1_past_with_the_block_output_root() {
        let (_dir, storage) = chain(12);
        let signer = PrivateKeySigner::random();
        let l1 = l1(signer.address(), 10);
        let mut proposer = Proposer::new(config(), storage.clone(), l1.clone(), signer.clone());

        // Block 10 is not safe yet.
        assert_eq!(proposer.step(9).await.unwrap(), None);
        // Safe, but 10 s after the L1 head (L1 genesis): the oracle would refuse it.
        assert_eq!(proposer.step(12).await.unwrap(), None);
        assert_eq!(l1.nonce(signer.address()).await.unwrap(), 0, "nothing sent");

        l1.mine(1); // 12 s later: block 10 (at +10 s) is in the past.
        let mining = miner(l1.clone());
        let proposal = proposer.step(12).await.unwrap().expect("a proposal");
        mining.abort();
        let expected = storage.output_at(10).unwrap().unwrap();
        assert_eq!(proposal.l2_block_number, 10);
        assert_eq!(proposal.output_root, expected.output_root);
        let sent = l1.block_transactions(proposal.l1_block.hash).await.unwrap();
        assert_eq!(sent.len(), 1);
        assert_eq!((sent[0].from, sent[0].to), (signer.address(), Some(ORACLE)));
        let call = L2OutputOracle::proposeL2OutputCall::abi_decode(&sent[0].input).unwrap();
        assert_eq!(call._outputRoot, expected.output_root);
        assert_eq!(call._l2BlockNumber, U256::from(10));
        // It commits to the L1 head it saw, an earlier block than its own.
        let l1_number = u64::try_from(call._l1BlockNumber).unwrap();
        assert!(l1_number >= 1 && l1_number < proposal.l1_block.number);
        assert_eq!(call._l1BlockHash, l1.block(l1_number).unwrap().hash);
    }

    #[tokio::test]
    async fn a_safe_head_beyond_the_database_is_an_error_not_a_proposal() {
        let (_dir, storage) = chain(3);
        let signer = PrivateKeySigner::random();
        let mut proposer = Proposer::new(config(), storage, l1(signer.address(), 10), signer);
        assert!(matches!(
            proposer.step(10).await,
            Err(ProposerError::MissingBlock {
                number: 10,
                safe: 10
            })
        ));
    }

    #[tokio::test]
    async fn the_loop_stops_on_a_foreign_key_and_retries_through_l1_outages() {
        let (_dir, storage) = chain(10);
        let signer = PrivateKeySigner::random();
        let (_safe_tx, safe) = watch::channel(10);
        let (_stop_tx, stop) = watch::channel(false);
        let foreign = Proposer::new(
            config(),
            storage.clone(),
            l1(Address::repeat_byte(1), 10),
            signer.clone(),
        );
        let err = tokio::time::timeout(Duration::from_secs(10), foreign.run(safe.clone(), stop))
            .await
            .expect("a fatal error ends the loop")
            .unwrap_err();
        assert!(matches!(err, ProposerError::NotProposer { .. }), "{err}");

        let l1 = l1(signer.address(), 10);
        l1.mine(1);
        l1.fail_next(5);
        let (stop_tx, stop) = watch::channel(false);
        let task = tokio::spawn(
            Proposer::new(config(), storage, l1.clone(), signer.clone()).run(safe, stop),
        );
        let mining = miner(l1.clone());
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        // `unwrap_or`: this read may draw one of the injected failures itself.
        while l1.nonce(signer.address()).await.unwrap_or(0) == 0 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "no proposal after the outage"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        stop_tx.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .expect("shutdown ends the loop")
            .unwrap()
            .unwrap();
        mining.abort();
    }
}
