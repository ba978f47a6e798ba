//! ReadIndex: the client `sync` as a quorum operation on the leader.
//!
//! ZooKeeper's leader answers a `sync` as soon as the proposals before it are committed, from
//! its own state; a leader cut off from its quorum keeps doing so until it notices, up to
//! syncLimit ticks later, while the majority may already have elected a successor and
//! committed newer writes: the "sync + read" of the consistency guarantees returns stale data
//! (ZOOKEEPER-1675, documented in ZooKeeper's internals as "sync is not a quorum operation").
//!
//! Here the leader confirms it still leads before it answers, the way Raft's ReadIndex does:
//! after the sync arrives it pings its learners (a *round*) and answers only once a quorum of
//! voters, itself included, has answered a ping of that round or a later one. A learner
//! answers a ping only while it follows this leader (ZooKeeper's learners too: `Learner.ping`),
//! and a voter follows one leader at a time, so a quorum of answers proves that at the moment
//! the sync arrived no successor could have gathered the quorum it needs to establish itself,
//! hence no write newer than our committed state existed. PINGs travel on FIFO links and are
//! answered one for one once the learner is up to date, so the n-th answer from a learner
//! belongs to the n-th ping sent to it after its UPTODATE.

use super::types::Stage;
use super::{Node, Role};
use crate::ids::{ConnectionId, Millis, ServerId, Zxid};
use crate::wire::quorum::QuorumMessage;
use crate::zab::is_quorum;
use std::collections::VecDeque;

/// Who asked for a sync.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum SyncFrom {
    /// A learner forwarded its client's sync: answer with a SYNC packet.
    Learner(ServerId),
    /// A client of ours: answer its queued `sync` request.
    Local(ConnectionId),
}

/// A sync waiting for its proposals to commit and for a quorum to confirm our leadership.
#[derive(Clone, Copy, Debug)]
pub(super) struct WaitingSync {
    /// Everything proposed before the sync arrived.
    pub(super) zxid: Zxid,
    /// The first ping round sent after the sync arrived.
    pub(super) round: u64,
    pub(super) from: SyncFrom,
}

/// The leader's ping rounds.
#[derive(Debug, Default)]
pub(super) struct PingRounds {
    /// The latest round sent (0: none yet).
    pub(super) sent: u64,
    /// A sync waits for a round that is not sent yet because one is still unanswered.
    pub(super) wanted: bool,
}

/// Per learner: the rounds of the pings it has not answered yet, and the latest it answered.
#[derive(Debug, Default)]
pub(super) struct PingsInFlight {
    pub(super) unanswered: VecDeque<u64>,
    pub(super) answered: u64,
}

impl Node {
    /// A sync from a learner or a client of ours: it waits for everything proposed so far
    /// and for the next round.
    pub(super) fn leader_on_sync(&mut self, now: Millis, from: SyncFrom) {
        // A new leader's `zxid_prepared` is (epoch, 0), which names no proposal and is never
        // committed: without a proposal of this epoch, the committed history is the target.
        let zxid = match self.zxid_prepared.counter() {
            0 => self.log.committed,
            _ => self.zxid_prepared.max(self.log.committed),
        };
        let Some(leader) = self.leader() else { return };
        let round = leader.rounds.sent + 1;
        leader.syncs.push(WaitingSync { zxid, round, from });
        if self.round_confirmed(round - 1) {
            self.leader_ping_round();
        } else if let Some(leader) = self.leader() {
            leader.rounds.wanted = true;
        }
        self.leader_answer_syncs(now);
    }

    /// Pings every synced learner (see the module comment for which pings count).
    pub(super) fn leader_ping_round(&mut self) {
        let logged = self.log.logged;
        let Some(leader) = self.leader() else { return };
        leader.rounds.sent += 1;
        leader.rounds.wanted = false;
        let round = leader.rounds.sent;
        let mut to = Vec::new();
        for (id, handle) in leader.learners.iter_mut() {
            if handle.stage == Stage::UpToDate {
                handle.pings.unanswered.push_back(round);
            }
            if handle.stage >= Stage::Synced {
                to.push(*id);
            }
        }
        for id in to {
            self.send_quorum(id, QuorumMessage::Ping { zxid: logged, sessions: None });
        }
    }

    /// A learner answered a ping.
    pub(super) fn leader_on_ping_answer(&mut self, now: Millis, from: ServerId) {
        let Some(leader) = self.leader() else { return };
        let Some(handle) = leader.learners.get_mut(&from) else { return };
        if let Some(round) = handle.pings.unanswered.pop_front() {
            handle.pings.answered = round;
        }
        let (sent, wanted) = (leader.rounds.sent, leader.rounds.wanted);
        if wanted && self.round_confirmed(sent) {
            self.leader_ping_round();
        }
        self.leader_answer_syncs(now);
    }

    /// Whether a quorum of voters (us included) answered round `round` or a later one.
    fn round_confirmed(&self, round: u64) -> bool {
        let Role::Leading(leader) = &self.role else { return false };
        let answered = leader
            .learners
            .iter()
            .filter(|(id, h)| self.is_voter(**id) && h.stage == Stage::UpToDate && h.pings.answered >= round)
            .count();
        is_quorum(answered + 1, self.voter_count())
    }

    /// Answers the syncs whose proposals are committed and whose round a quorum confirmed, in
    /// arrival order (a learner matches SYNC packets to its forwarded syncs by order; later
    /// syncs never become ready before earlier ones, their zxid and round being no smaller).
    pub(super) fn leader_answer_syncs(&mut self, now: Millis) {
        let committed = self.log.committed;
        let Role::Leading(leader) = &self.role else { return };
        let ready: Vec<bool> =
            leader.syncs.iter().map(|s| s.zxid <= committed && self.round_confirmed(s.round)).collect();
        if !ready.contains(&true) {
            return;
        }
        let Some(leader) = self.leader() else { return };
        let mut answer = Vec::new();
        let mut flags = ready.into_iter();
        leader.syncs.retain(|sync| {
            let ready = flags.next().unwrap_or(false);
            if ready {
                answer.push(sync.from);
            }
            !ready
        });
        for from in answer {
            match from {
                SyncFrom::Learner(to) => self.send_quorum(to, QuorumMessage::Sync { zxid: Zxid::ZERO }),
                SyncFrom::Local(connection) => {
                    let applied = self.tree.last_zxid();
                    self.reply_sync(now, connection, applied);
                }
            }
        }
    }
}
