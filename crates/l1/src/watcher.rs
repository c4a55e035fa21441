//! `L1Watcher`: follows the L1 chain `confirmations` blocks behind its head, keeps a window of
//! recent block refs, reports new blocks and reorgs as events, and publishes its last good view.
//!
//! Each poll reads the head, then walks the confirmed chain one block at a time, checking every
//! new block's parent hash against the block before it. A mismatch (or the confirmed head
//! disappearing) is a reorg: the watcher walks its window back until the canonical chain agrees
//! with it, drops what is above that common ancestor, reports it, and continues on the new
//! branch. Errors never stop it: a failed poll is logged, counted, shown in the view, and retried
//! after a growing pause.

use crate::{
    block::L1BlockRef,
    client::{BlockTag, L1Client},
    error::L1Error,
};
use std::{collections::VecDeque, time::Duration};
use tokio::sync::{mpsc, watch};

/// Where the watcher starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StartAt {
    /// At the confirmed head when the watcher starts.
    #[default]
    Head,
    /// At this block number (reported as the first `NewHead`), for example the rollup's genesis
    /// L1 block; the watcher waits until it is confirmed.
    Number(u64),
    /// After this already-processed block (a restart): it is checked, not reported again, so a
    /// reorg of it while the node was down is detected.
    After(L1BlockRef),
}

/// Settings of the watcher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatcherConfig {
    /// Blocks kept between the L1 head and the newest block reported (op-node's
    /// `verifier.l1-confs` / `sequencer.l1-confs`; 0 follows the head itself).
    pub confirmations: u64,
    /// Pause between polls when caught up.
    pub poll_interval: Duration,
    /// Block refs kept; also the deepest reorg that can be resolved to a common ancestor.
    pub window: usize,
    /// Blocks fetched per poll at most, so that catching up yields the view regularly.
    pub max_blocks_per_poll: u64,
    /// Longest pause after failed polls (the pause doubles from `poll_interval` up to this).
    pub max_error_backoff: Duration,
    /// Where to start.
    pub start: StartAt,
}

impl Default for WatcherConfig {
    /// Four seconds between polls (a third of an Ethereum slot), a window of 256 blocks (deeper
    /// than any reorg Ethereum has had since the merge), and no confirmations, as op-node.
    fn default() -> Self {
        Self {
            confirmations: 0,
            poll_interval: Duration::from_secs(4),
            window: 256,
            max_blocks_per_poll: 100,
            max_error_backoff: Duration::from_secs(60),
            start: StartAt::Head,
        }
    }
}

/// What the watcher reports, in chain order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum L1Event {
    /// A new confirmed block, the child of the previous `NewHead` (or of a reorg's ancestor).
    NewHead(L1BlockRef),
    /// Blocks previously reported are no longer canonical; `NewHead`s from `common_ancestor`'s
    /// child on follow.
    Reorg {
        /// The newest block both branches share.
        common_ancestor: L1BlockRef,
        /// The blocks dropped, oldest first.
        removed: Vec<L1BlockRef>,
    },
    /// Every block in the window was replaced: the common ancestor is older than the window. The
    /// consumer must reset from its own records; the watcher continues from the confirmed head.
    ReorgBeyondWindow {
        /// The dropped blocks, oldest first.
        removed: Vec<L1BlockRef>,
    },
}

/// The watcher's last good view of L1.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct L1View {
    /// The newest confirmed block reported.
    pub head: Option<L1BlockRef>,
    /// The L1 head itself (unconfirmed).
    pub latest: Option<L1BlockRef>,
    /// The `safe` block of the L1 endpoint.
    pub safe: Option<L1BlockRef>,
    /// The `finalized` block of the L1 endpoint.
    pub finalized: Option<L1BlockRef>,
    /// Polls failed in a row (0 when the last poll succeeded).
    pub consecutive_failures: u32,
    /// The error of the last failed poll, while failures continue.
    pub last_error: Option<String>,
}

/// The watcher task. Create it with [`L1Watcher::new`] and drive it with [`L1Watcher::run`].
#[derive(Debug)]
pub struct L1Watcher<C> {
    client: C,
    config: WatcherConfig,
    window: VecDeque<L1BlockRef>,
    started: bool,
    events: mpsc::Sender<L1Event>,
    view: watch::Sender<L1View>,
}

/// Events from a poll, sent after the poll (also when it failed part-way).
type Batch = Vec<L1Event>;

impl<C: L1Client> L1Watcher<C> {
    /// A watcher over `client`, with the receiving ends of its events (bounded: a slow consumer
    /// slows the watcher, nothing is dropped) and of its view.
    pub fn new(
        client: C,
        config: WatcherConfig,
    ) -> (Self, mpsc::Receiver<L1Event>, watch::Receiver<L1View>) {
        let (events, events_rx) = mpsc::channel(1024);
        let (view, view_rx) = watch::channel(L1View::default());
        let mut window = VecDeque::new();
        if let StartAt::After(block) = config.start {
            window.push_back(block);
        }
        let config = WatcherConfig {
            window: config.window.max(1),
            ..config
        };
        (
            Self {
                client,
                config,
                window,
                started: false,
                events,
                view,
            },
            events_rx,
            view_rx,
        )
    }

    /// The blocks in the window, oldest first.
    pub fn window(&self) -> impl Iterator<Item = &L1BlockRef> {
        self.window.iter()
    }

    /// Polls until the event receiver is dropped. Never returns on L1 errors.
    pub async fn run(mut self) {
        loop {
            let mut batch = Batch::new();
            let result = self.poll(&mut batch).await;
            for event in batch {
                if self.events.send(event).await.is_err() {
                    tracing::debug!(target: "ol_l1", "event receiver dropped, L1 watcher stops");
                    return;
                }
            }
            if self.events.is_closed() {
                return;
            }
            let pause = match result {
                Ok(caught_up) => {
                    self.view.send_modify(|view| {
                        view.consecutive_failures = 0;
                        view.last_error = None;
                    });
                    if caught_up {
                        self.config.poll_interval
                    } else {
                        Duration::ZERO
                    }
                }
                Err(err) => self.failed(&err),
            };
            tokio::time::sleep(pause).await;
        }
    }

    fn failed(&self, err: &L1Error) -> Duration {
        let mut failures = 0;
        self.view.send_modify(|view| {
            view.consecutive_failures = view.consecutive_failures.saturating_add(1);
            view.last_error = Some(err.to_string());
            failures = view.consecutive_failures;
        });
        let pause = self
            .config
            .poll_interval
            .max(Duration::from_millis(10))
            .saturating_mul(1 << failures.saturating_sub(1).min(16))
            .min(self.config.max_error_backoff);
        tracing::warn!(target: "ol_l1", %err, failures, ?pause, "L1 poll failed");
        pause
    }

    /// One poll: reads the head and reports up to `max_blocks_per_poll` blocks. Returns whether
    /// the watcher has caught up with the confirmed head.
    pub async fn poll(&mut self, batch: &mut Batch) -> Result<bool, L1Error> {
        let latest = self.client.block_ref(BlockTag::Latest).await?;
        self.view.send_modify(|view| view.latest = Some(latest));
        let target = latest.number.saturating_sub(self.config.confirmations);

        let caught_up = self.follow(target, batch).await?;
        self.refresh_tags().await;
        Ok(caught_up)
    }

    async fn follow(&mut self, target: u64, batch: &mut Batch) -> Result<bool, L1Error> {
        if !self.started {
            if let Some(anchor) = self.anchor(target).await? {
                self.push(anchor, batch);
            } else if self.window.is_empty() {
                return Ok(true);
            }
            self.started = true;
        }
        let mut fetched = 0;
        while let Some(&head) = self.window.back() {
            if head.number >= target {
                // Nothing new is confirmed; the head must still be canonical though.
                match self.client.header_by_number(head.number).await? {
                    Some(header) if header.hash == head.hash => return Ok(true),
                    _ => {
                        self.resolve_reorg(batch).await?;
                        continue;
                    }
                }
            }
            if fetched >= self.config.max_blocks_per_poll {
                return Ok(false);
            }
            fetched += 1;
            let Some(next) = self.client.header_by_number(head.number + 1).await? else {
                // The chain got shorter since we read its head: check our head next round.
                return Ok(false);
            };
            let next = next.block_ref();
            if next.parent_hash == head.hash {
                self.push(next, batch);
            } else {
                self.resolve_reorg(batch).await?;
            }
        }
        Ok(false)
    }

    /// The first block to report when starting, if it is confirmed yet.
    async fn anchor(&self, target: u64) -> Result<Option<L1BlockRef>, L1Error> {
        let number = match self.config.start {
            StartAt::After(_) => return Ok(None),
            StartAt::Head => target,
            StartAt::Number(number) if number > target => return Ok(None),
            StartAt::Number(number) => number,
        };
        let header = self
            .client
            .header_by_number(number)
            .await?
            .ok_or_else(|| L1Error::BlockNotFound(format!("#{number}")))?;
        Ok(Some(header.block_ref()))
    }

    fn push(&mut self, block: L1BlockRef, batch: &mut Batch) {
        self.window.push_back(block);
        while self.window.len() > self.config.window {
            self.window.pop_front();
        }
        metrics::gauge!("l1_head_number").set(block.number as f64);
        tracing::debug!(target: "ol_l1", number = block.number, hash = %block.hash, "new L1 block");
        self.view.send_modify(|view| view.head = Some(block));
        batch.push(L1Event::NewHead(block));
    }

    /// Walks the window back to the newest block the canonical chain still has.
    async fn resolve_reorg(&mut self, batch: &mut Batch) -> Result<(), L1Error> {
        let mut ancestor = None;
        for block in self.window.iter().rev() {
            match self.client.header_by_number(block.number).await? {
                Some(header) if header.hash == block.hash => {
                    ancestor = Some(*block);
                    break;
                }
                _ => {}
            }
        }
        match ancestor {
            Some(common_ancestor) => {
                let keep = self
                    .window
                    .iter()
                    .position(|b| b.hash == common_ancestor.hash)
                    .unwrap_or(0)
                    + 1;
                let removed: Vec<_> = self.window.drain(keep..).collect();
                if removed.is_empty() {
                    // The head is canonical after all: an endpoint whose backends disagreed
                    // for a moment. Nothing was replaced.
                    return Ok(());
                }
                metrics::counter!("l1_reorgs_total").increment(1);
                tracing::warn!(
                    target: "ol_l1",
                    ancestor = common_ancestor.number,
                    depth = removed.len(),
                    "L1 reorg"
                );
                self.view
                    .send_modify(|view| view.head = Some(common_ancestor));
                batch.push(L1Event::Reorg {
                    common_ancestor,
                    removed,
                });
            }
            None => {
                metrics::counter!("l1_reorgs_total").increment(1);
                let removed: Vec<_> = self.window.drain(..).collect();
                tracing::error!(
                    target: "ol_l1",
                    depth = removed.len(),
                    "L1 reorg deeper than the watcher's window; restarting at the confirmed head"
                );
                self.started = false;
                self.config.start = StartAt::Head;
                self.view.send_modify(|view| view.head = None);
                batch.push(L1Event::ReorgBeyondWindow { removed });
            }
        }
        Ok(())
    }

    /// Reads the `safe` and `finalized` tags; an endpoint without them keeps the last values.
    async fn refresh_tags(&self) {
        for tag in [BlockTag::Safe, BlockTag::Finalized] {
            match self.client.block_ref(tag).await {
                Ok(block) => self.view.send_modify(|view| match tag {
                    BlockTag::Safe => view.safe = Some(block),
                    _ => view.finalized = Some(block),
                }),
                Err(err) => {
                    tracing::debug!(target: "ol_l1", tag = tag.as_str(), %err, "L1 tag unavailable");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_utils::MemoryL1;
    use std::sync::Arc;

    fn config(confirmations: u64, start: StartAt) -> WatcherConfig {
        WatcherConfig {
            confirmations,
            poll_interval: Duration::from_millis(5),
            window: 16,
            max_blocks_per_poll: 4,
            max_error_backoff: Duration::from_millis(40),
            start,
        }
    }

    /// Polls until caught up and returns the events.
    async fn settle(watcher: &mut L1Watcher<Arc<MemoryL1>>) -> Vec<L1Event> {
        let mut all = Vec::new();
        for _ in 0..100 {
            let mut batch = Batch::new();
            let caught_up = watcher.poll(&mut batch).await.unwrap();
            all.extend(batch);
            if caught_up {
                return all;
            }
        }
        panic!("the watcher did not catch up: {all:?}");
    }

    fn heads(l1: &MemoryL1, numbers: std::ops::RangeInclusive<u64>) -> Vec<L1Event> {
        numbers
            .map(|n| L1Event::NewHead(l1.block(n).unwrap()))
            .collect()
    }

    #[tokio::test]
    async fn reports_every_confirmed_block_in_order() {
        let l1 = Arc::new(MemoryL1::new(1));
        l1.mine(10);
        let (mut watcher, _events, view) =
            L1Watcher::new(l1.clone(), config(2, StartAt::Number(0)));
        assert_eq!(settle(&mut watcher).await, heads(&l1, 0..=8));
        assert_eq!(view.borrow().head, l1.block(8));
        assert_eq!(view.borrow().latest, l1.block(10));
        assert_eq!(view.borrow().finalized, l1.block(0));
        l1.mine(3);
        assert_eq!(settle(&mut watcher).await, heads(&l1, 9..=11));
        assert!(settle(&mut watcher).await.is_empty());
    }

    #[tokio::test]
    async fn waits_for_the_start_block_to_be_confirmed() {
        let l1 = Arc::new(MemoryL1::new(1));
        l1.mine(3);
        let (mut watcher, _events, _view) =
            L1Watcher::new(l1.clone(), config(2, StartAt::Number(4)));
        assert!(settle(&mut watcher).await.is_empty());
        l1.mine(3);
        assert_eq!(settle(&mut watcher).await, heads(&l1, 4..=4));
    }

    #[tokio::test]
    async fn a_reorg_reports_the_common_ancestor_and_the_new_branch() {
        let l1 = Arc::new(MemoryL1::new(1));
        l1.mine(10);
        let (mut watcher, _events, view) =
            L1Watcher::new(l1.clone(), config(2, StartAt::Number(0)));
        settle(&mut watcher).await;
        let old: Vec<_> = (7..=8).map(|n| l1.block(n).unwrap()).collect();
        l1.reorg(4, 5);
        let ancestor = l1.block(6).unwrap();
        let mut expected = vec![L1Event::Reorg {
            common_ancestor: ancestor,
            removed: old,
        }];
        expected.extend(heads(&l1, 7..=9));
        assert_eq!(settle(&mut watcher).await, expected);
        assert_eq!(view.borrow().head, l1.block(9));
        let window: Vec<_> = watcher.window().copied().collect();
        for pair in window.windows(2) {
            assert_eq!(pair[1].parent_hash, pair[0].hash);
        }
    }

    #[tokio::test]
    async fn a_shorter_canonical_chain_is_a_reorg_too() {
        let l1 = Arc::new(MemoryL1::new(1));
        l1.mine(10);
        let (mut watcher, _events, view) =
            L1Watcher::new(l1.clone(), config(2, StartAt::Number(0)));
        settle(&mut watcher).await;
        let old: Vec<_> = (6..=8).map(|n| l1.block(n).unwrap()).collect();
        // Blocks 6..=10 replaced by one new block 6: the head 8 no longer exists.
        l1.reorg(5, 1);
        let events = settle(&mut watcher).await;
        assert_eq!(
            events,
            vec![L1Event::Reorg {
                common_ancestor: l1.block(5).unwrap(),
                removed: old
            }]
        );
        assert_eq!(view.borrow().head, l1.block(5));
        l1.mine(2);
        assert_eq!(settle(&mut watcher).await, heads(&l1, 6..=6));
    }

    #[tokio::test]
    async fn a_reorg_deeper_than_the_window_resets_at_the_head() {
        let l1 = Arc::new(MemoryL1::new(1));
        l1.mine(10);
        let mut cfg = config(0, StartAt::Number(0));
        cfg.window = 3;
        let (mut watcher, _events, _view) = L1Watcher::new(l1.clone(), cfg);
        settle(&mut watcher).await;
        let old: Vec<_> = (8..=10).map(|n| l1.block(n).unwrap()).collect();
        l1.reorg(6, 6);
        let events = settle(&mut watcher).await;
        assert_eq!(events[0], L1Event::ReorgBeyondWindow { removed: old });
        assert_eq!(events[1..], heads(&l1, 10..=10));
    }

    #[tokio::test]
    async fn a_restart_detects_a_reorg_of_the_last_processed_block() {
        let l1 = Arc::new(MemoryL1::new(1));
        l1.mine(5);
        let last = l1.block(5).unwrap();
        let (mut watcher, _events, _view) =
            L1Watcher::new(l1.clone(), config(0, StartAt::After(last)));
        l1.mine(1);
        assert_eq!(settle(&mut watcher).await, heads(&l1, 6..=6));

        let (mut watcher, _events, _view) =
            L1Watcher::new(l1.clone(), config(0, StartAt::After(last)));
        l1.reorg(2, 2);
        let events = settle(&mut watcher).await;
        assert_eq!(
            events[0],
            L1Event::ReorgBeyondWindow {
                removed: vec![last]
            }
        );
    }

    #[tokio::test]
    async fn failures_are_survived_and_shown_in_the_view() {
        let l1 = Arc::new(MemoryL1::new(1));
        l1.mine(3);
        let (watcher, mut events, mut view) =
            L1Watcher::new(l1.clone(), config(0, StartAt::Number(0)));
        l1.fail_next(5);
        let task = tokio::spawn(watcher.run());
        view.wait_for(|view| view.consecutive_failures >= 2)
            .await
            .unwrap();
        assert!(
            view.borrow()
                .last_error
                .as_deref()
                .unwrap()
                .contains("injected failure")
        );
        let mut seen = Vec::new();
        while seen.len() < 4 {
            seen.push(events.recv().await.unwrap());
        }
        assert_eq!(seen, heads(&l1, 0..=3));
        view.wait_for(|view| view.consecutive_failures == 0 && view.last_error.is_none())
            .await
            .unwrap();
        l1.mine(1);
        assert_eq!(
            events.recv().await,
            Some(L1Event::NewHead(l1.block(4).unwrap()))
        );
        drop(events);
        // The watcher stops once nobody listens.
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .unwrap()
            .unwrap();
    }
}
