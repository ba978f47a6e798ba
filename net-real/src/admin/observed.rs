//! What the core task measures by watching the node's outputs go by, for `mntr` and
//! `/metrics`: the syncs a leader sends (DIFF, TRUNC, SNAP: Apache's `diff_count` and
//! `snap_count`), how long a proposal waits for its COMMIT, and how long a batch of
//! transactions takes from being handed to the persister to being durable (queue, write and
//! fdatasync). Watching only: nothing here changes what the node does.

use std::collections::BTreeMap;

use zab_core::node::Summary;
use zab_core::quorum::QuorumMessage;
use zab_core::{PeerMessage, PersistToken, Zxid};

/// Proposals (and persists) tracked at most; past it the oldest half is forgotten, so a
/// leader that proposes without ever committing (it lost its quorum) cannot grow the table.
pub const TRACKED_MAX: usize = 100_000;

/// The counts and latencies, as `mntr` and `/metrics` print them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObservedCounts {
    /// DIFF syncs sent to learners.
    pub diff: u64,
    /// TRUNC syncs sent to learners.
    pub trunc: u64,
    /// SNAP syncs sent to learners.
    pub snap: u64,
    /// A proposal's first send to its COMMIT's first send, ms (a leader's).
    pub proposal_commit: Summary,
    /// A `Persist` output queued to the persister until reported durable, ms.
    pub persist: Summary,
}

/// The bookkeeping behind [`ObservedCounts`].
#[derive(Debug, Default)]
pub struct Observed {
    counts: ObservedCounts,
    proposed: BTreeMap<Zxid, u64>,
    persisting: BTreeMap<PersistToken, u64>,
}

impl Observed {
    /// The counts so far.
    pub fn counts(&self) -> &ObservedCounts {
        &self.counts
    }

    /// A message the node sends to a peer.
    pub fn on_send(&mut self, now_ms: u64, message: &PeerMessage) {
        let PeerMessage::Quorum(message) = message else { return };
        match message {
            QuorumMessage::Diff { .. } => self.counts.diff += 1,
            QuorumMessage::Trunc { .. } => self.counts.trunc += 1,
            QuorumMessage::Snap { .. } => self.counts.snap += 1,
            QuorumMessage::Proposal { zxid, .. } => {
                self.proposed.entry(*zxid).or_insert(now_ms);
                bound(&mut self.proposed);
            }
            QuorumMessage::Commit { zxid } => {
                let later = self.proposed.split_off(&Zxid(zxid.0 + 1));
                for (_, sent) in std::mem::replace(&mut self.proposed, later) {
                    self.counts.proposal_commit.record(now_ms.saturating_sub(sent));
                }
            }
            _ => {}
        }
    }

    /// A `Persist` output handed to the persister.
    pub fn on_persist_queued(&mut self, now_ms: u64, token: PersistToken) {
        self.persisting.insert(token, now_ms);
        bound(&mut self.persisting);
    }

    /// The persister reported `token` durable.
    pub fn on_persisted(&mut self, now_ms: u64, token: PersistToken) {
        if let Some(queued) = self.persisting.remove(&token) {
            self.counts.persist.record(now_ms.saturating_sub(queued));
        }
    }

    /// The node was rebuilt: what was in flight belonged to the old one.
    pub fn forget_in_flight(&mut self) {
        self.proposed.clear();
        self.persisting.clear();
    }

    /// `srst`.
    pub fn reset(&mut self) {
        self.counts = ObservedCounts::default();
    }
}

fn bound<K: Ord + Copy>(table: &mut BTreeMap<K, u64>) {
    if table.len() > TRACKED_MAX {
        let keep = *table.keys().nth(TRACKED_MAX / 2).expect("more than half remain");
        *table = table.split_off(&keep);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quorum(message: QuorumMessage) -> PeerMessage {
        PeerMessage::Quorum(message)
    }

    /// A COMMIT settles every proposal up to its zxid with the time since its first send.
    #[test]
    fn commits_settle_proposals_up_to_their_zxid() {
        let mut observed = Observed::default();
        for (at, zxid) in [(10, 1), (12, 2), (13, 3)] {
            let header = zab_core::txn::TxnHeader {
                client_id: zab_core::SessionId(1),
                cxid: 1,
                zxid: Zxid(zxid),
                time: 0,
                op: -1,
            };
            let txn = zab_core::txn::Txn { header, body: zab_core::txn::TxnBody::Error { err: -1 } };
            observed.on_send(at, &quorum(QuorumMessage::Proposal { zxid: Zxid(zxid), txn, digest: None }));
        }
        observed.on_send(20, &quorum(QuorumMessage::Commit { zxid: Zxid(2) }));
        let summary = &observed.counts().proposal_commit;
        assert_eq!((summary.count, summary.min, summary.max), (2, 8, 10));
        observed.on_send(30, &quorum(QuorumMessage::Commit { zxid: Zxid(3) }));
        assert_eq!((observed.counts().proposal_commit.count, observed.counts().proposal_commit.max), (3, 17));
        observed.on_persist_queued(5, PersistToken(1));
        observed.on_persisted(9, PersistToken(1));
        observed.on_persisted(9, PersistToken(2));
        assert_eq!((observed.counts().persist.count, observed.counts().persist.sum), (1, 4));
    }
}
