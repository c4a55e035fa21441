//! Payload attributes: the part of an L2 block that L1 determines.
//!
//! An L2 block on L1 origin `o` at position `n` of its epoch starts with the L1-info deposit of
//! `o` (sequence number `n`), followed, when `n == 0`, by the user deposits `o`'s deposit
//! contract logged; `prevRandao` is `o`'s mix hash and the parent beacon block root is `o`'s
//! (Ecotone). Gas limit, fee parameters and the batcher come from the system config.

use crate::DeriveError;
use alloy_eips::eip7840::BlobParams;
use alloy_primitives::B256;
use ol_evm::PayloadAttributes;
use ol_l1::{L1BlockRef, L1Client, L1Header, block_deposits};
use ol_primitives::{
    L1BlockInfo, L1Origin, RollupConfig, TxDeposit, addresses::SEQUENCER_FEE_VAULT,
    genesis::jovian_extra_data,
};

/// An L1 block as an epoch of L2 blocks: its header and its user deposits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Epoch {
    /// The L1 header.
    pub header: L1Header,
    /// The user deposits its deposit contract logged, in log order.
    pub deposits: Vec<TxDeposit>,
}

impl Epoch {
    /// The block reference of the epoch's L1 block.
    pub const fn block_ref(&self) -> L1BlockRef {
        self.header.block_ref()
    }

    /// The L1 origin fields of the L1-info deposit. The blob base fee follows from the header's
    /// excess blob gas under Prague's blob parameters (anvil's and Ethereum's fork since May
    /// 2025); a header without blob fields reports 1, as OP specifies for pre-Cancun L1s.
    pub fn origin(&self) -> L1Origin {
        let blob_base_fee = self
            .header
            .header
            .excess_blob_gas
            .map_or(1, |excess| BlobParams::prague().calc_blob_fee(excess));
        self.header.origin(blob_base_fee)
    }
}

/// Reads epoch `hash` from L1: its header and deposits.
pub async fn load_epoch<C: L1Client>(
    client: &C,
    rollup: &RollupConfig,
    hash: B256,
) -> Result<Epoch, DeriveError> {
    let header = client
        .header_by_hash(hash)
        .await?
        .ok_or(DeriveError::MissingL1Block(hash))?;
    epoch_of(client, rollup, header).await
}

/// The epoch of an L1 block whose header is already at hand: reads its deposits.
pub async fn epoch_of<C: L1Client>(
    client: &C,
    rollup: &RollupConfig,
    header: L1Header,
) -> Result<Epoch, DeriveError> {
    let deposits = block_deposits(client, rollup.deposit_contract_address, header.hash).await?;
    Ok(Epoch { header, deposits })
}

/// The attributes of the L2 block at `timestamp`, position `sequence_number` in `epoch`.
pub fn payload_attributes(
    rollup: &RollupConfig,
    epoch: &Epoch,
    sequence_number: u64,
    timestamp: u64,
) -> PayloadAttributes {
    let system_config = &rollup.genesis.system_config;
    PayloadAttributes {
        timestamp,
        prev_randao: epoch.header.header.mix_hash,
        fee_recipient: SEQUENCER_FEE_VAULT,
        gas_limit: system_config.gas_limit,
        l1_info: L1BlockInfo::new(epoch.origin(), sequence_number, system_config),
        deposits: if sequence_number == 0 {
            epoch.deposits.clone()
        } else {
            Vec::new()
        },
        parent_beacon_block_root: epoch
            .header
            .header
            .parent_beacon_block_root
            .unwrap_or_default(),
        extra_data: jovian_extra_data(system_config),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::{Address, U256};
    use ol_primitives::addresses::L1_BLOCK;

    fn epoch(excess_blob_gas: Option<u64>) -> Epoch {
        let mut header = ol_l1::L1Header {
            hash: B256::repeat_byte(7),
            header: Default::default(),
        };
        header.header.number = 42;
        header.header.timestamp = 1_700_000_000;
        header.header.base_fee_per_gas = Some(7_000_000_000);
        header.header.mix_hash = B256::repeat_byte(0x11);
        header.header.parent_beacon_block_root = Some(B256::repeat_byte(0x22));
        header.header.excess_blob_gas = excess_blob_gas;
        let deposit = TxDeposit {
            source_hash: B256::repeat_byte(0x33),
            from: Address::repeat_byte(1),
            to: Address::repeat_byte(2).into(),
            mint: 5,
            value: U256::from(5),
            gas_limit: 100_000,
            is_system_transaction: false,
            input: Default::default(),
        };
        Epoch {
            header,
            deposits: vec![deposit],
        }
    }

    #[test]
    fn first_block_of_an_epoch_carries_its_deposits_and_later_ones_do_not() {
        let rollup = RollupConfig::dev(1611);
        let epoch = epoch(Some(0));
        let first = payload_attributes(&rollup, &epoch, 0, 1_700_000_002);
        assert_eq!(first.deposits, epoch.deposits);
        assert_eq!(first.prev_randao, B256::repeat_byte(0x11));
        assert_eq!(first.parent_beacon_block_root, B256::repeat_byte(0x22));
        assert_eq!(first.l1_info.origin.number, 42);
        assert_eq!(first.l1_info.origin.base_fee, 7_000_000_000);
        assert_eq!(first.l1_info.origin.blob_base_fee, 1);
        assert_eq!(first.l1_info.sequence_number, 0);
        assert_eq!(first.l1_info.deposit_tx().to, L1_BLOCK.into());
        let third = payload_attributes(&rollup, &epoch, 2, 1_700_000_006);
        assert!(third.deposits.is_empty());
        assert_eq!(third.l1_info.sequence_number, 2);
    }

    #[test]
    fn blob_base_fee_follows_excess_blob_gas() {
        assert_eq!(epoch(None).origin().blob_base_fee, 1);
        let busy = epoch(Some(50_000_000)).origin().blob_base_fee;
        assert_eq!(busy, BlobParams::prague().calc_blob_fee(50_000_000));
        assert!(busy > 1);
    }
}
