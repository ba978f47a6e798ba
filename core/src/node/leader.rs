//! The leader: discovery (FOLLOWERINFO → LEADERINFO → ACKEPOCH), synchronization (DIFF,
//! TRUNC, SNAP, then NEWLEADER; UPTODATE after a quorum of NEWLEADER ACKs) and broadcast
//! (PROPOSAL → quorum of ACKs → COMMIT, in zxid order), as `Leader.lead` and
//! `LearnerHandler.run` do it in ZooKeeper 3.8.

use super::read_index::{PingRounds, PingsInFlight, SyncFrom, WaitingSync};
use super::types::{is_write, After, Effect, Log, Origin, Pending};
// `pub`: `stats.rs` of branches in flight reaches it as `leader::Stage`.
pub(super) use super::types::Stage;
use super::{Node, Output, Role};
use crate::constants::ZXID_COUNTER_MAX;
use crate::error::ErrorCode;
use crate::ids::{Epoch, Millis, ServerId, SessionId, Zxid};
use crate::session::SessionTracker;
use crate::tree::AuthInfo;
use crate::txn::{Txn, TxnBody};
use crate::wire::client::{op, Id, Request, RequestHeader};
use crate::wire::quorum::QuorumMessage;
use crate::zab::{is_quorum, plan_sync, PeerMessage, PeerRole, SyncPlan, PROTOCOL_VERSION};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Where the leader is in establishing its epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum LeaderPhase {
    /// Gathering FOLLOWERINFOs, then ACKEPOCHs from a quorum.
    Discovery,
    /// currentEpoch written (or being written); learners are synced; waiting for a quorum of
    /// NEWLEADER ACKs.
    Synchronization,
    /// Established: serving clients and proposing.
    Broadcast,
}

/// The leader's view of one learner (`LearnerHandler`).
#[derive(Debug)]
pub(super) struct LearnerHandle {
    pub(super) observer: bool,
    pub(super) stage: Stage,
    pub(super) last_heard: Millis,
    /// Proposals sent and not yet acknowledged, with when (`SyncLimitCheck`).
    pub(super) unacked: VecDeque<(Zxid, Millis)>,
    /// Pings sent since its UPTODATE and their answers (see `read_index`).
    pub(super) pings: PingsInFlight,
    /// When it registered (the `CloseLinksAfterTenSeconds` mutant's timer).
    #[cfg(feature = "mutants")]
    pub(super) registered: Millis,
}

/// One proposal waiting for its quorum.
#[derive(Debug)]
pub(super) struct Proposal {
    pending: Pending,
    acks: BTreeSet<ServerId>,
}

/// The leader's state.
#[derive(Debug)]
pub(super) struct LeaderState {
    pub(super) phase: LeaderPhase,
    /// The new epoch, once a quorum's FOLLOWERINFOs fixed it.
    epoch: Option<Epoch>,
    started: Millis,
    /// Voters (us included) whose FOLLOWERINFO arrived before the epoch was fixed.
    infos: BTreeSet<ServerId>,
    /// The largest acceptedEpoch among them.
    accepted_max: Epoch,
    /// Our acceptedEpoch write is durable: LEADERINFO may go out.
    epoch_durable: bool,
    /// Voters (us included) that acknowledged the epoch.
    epoch_acks: BTreeSet<ServerId>,
    /// Our currentEpoch write is durable: syncs may go out.
    current_durable: bool,
    /// Voters (us included) that acknowledged NEWLEADER.
    newleader_acks: BTreeSet<ServerId>,
    pub(super) learners: BTreeMap<ServerId, LearnerHandle>,
    outstanding: BTreeMap<Zxid, Proposal>,
    /// `sync`s waiting for their proposals and for a quorum to confirm us (see `read_index`).
    pub(super) syncs: Vec<WaitingSync>,
    pub(super) rounds: PingRounds,
    ping_at: Millis,
}

impl LeaderState {
    pub(super) fn established(&self) -> bool {
        self.phase == LeaderPhase::Broadcast
    }

    pub(super) fn deadline(&self) -> Millis {
        self.ping_at
    }

    pub(super) fn epoch(&self) -> Option<Epoch> {
        self.epoch
    }

    pub(super) fn check_invariants(&self, log: &Log) {
        let mut previous = log.committed;
        for zxid in self.outstanding.keys() {
            assert!(*zxid > previous, "outstanding proposals are above the committed zxid, in order");
            previous = *zxid;
        }
        if let Some(epoch) = self.epoch {
            for sync in self.syncs.iter() {
                assert!(sync.zxid.epoch() <= epoch, "a sync waits for a zxid of this epoch or before");
            }
        }
        if self.phase != LeaderPhase::Discovery {
            assert!(self.epoch.is_some(), "past discovery, the epoch is fixed");
        }
    }
}

/// Becoming leader, and discovery.
impl Node {
    pub(super) fn become_leader(&mut self, now: Millis) {
        tracing::info!(server = self.config.server_id.0, "LEADING");
        let state = LeaderState {
            phase: LeaderPhase::Discovery,
            epoch: None,
            started: now,
            infos: BTreeSet::from([self.config.server_id]),
            accepted_max: self.epoch_accepted,
            epoch_durable: false,
            epoch_acks: BTreeSet::new(),
            current_durable: false,
            newleader_acks: BTreeSet::new(),
            learners: BTreeMap::new(),
            outstanding: BTreeMap::new(),
            syncs: Vec::new(),
            rounds: PingRounds::default(),
            ping_at: now.plus(self.half_tick()),
        };
        self.change_role(Role::Leading(Box::new(state)));
        self.leader_maybe_fix_epoch();
    }

    fn half_tick(&self) -> u64 {
        (self.config.tick_time_ms / 2).max(1)
    }

    pub(super) fn leader(&mut self) -> Option<&mut LeaderState> {
        match &mut self.role {
            Role::Leading(leader) => Some(leader),
            _ => None,
        }
    }

    pub(super) fn voter_count(&self) -> usize {
        crate::zab::voters(&self.config.peers).len()
    }

    pub(super) fn is_voter(&self, id: ServerId) -> bool {
        self.config.peers.get(&id) == Some(&PeerRole::Participant)
    }

    /// `getEpochToPropose`: once a quorum of voters has said which epoch it accepted, the new
    /// epoch is one more than the largest; it is made durable as our acceptedEpoch first.
    fn leader_maybe_fix_epoch(&mut self) {
        let voters = self.voter_count();
        let Some(leader) = self.leader() else { return };
        if leader.epoch.is_some() || !is_quorum(leader.infos.len(), voters) {
            return;
        }
        let epoch = Epoch(leader.accepted_max.0 + 1);
        leader.epoch = Some(epoch);
        self.epoch_accepted = epoch;
        self.push_durable(
            |token| Output::PersistEpoch { accepted: Some(epoch), current: None, token },
            Effect::Epoch,
            vec![After::LeaderInfo],
        );
    }

    /// acceptedEpoch is durable: LEADERINFO to every registered learner; our own epoch ACK.
    pub(super) fn leader_epoch_accepted(&mut self, now: Millis) {
        let me = self.config.server_id;
        let Some(leader) = self.leader() else { return };
        leader.epoch_durable = true;
        leader.epoch_acks.insert(me);
        let epoch = leader.epoch.expect("fixed before its write");
        let waiting: Vec<ServerId> =
            leader.learners.iter().filter(|(_, h)| h.stage == Stage::Info).map(|(id, _)| *id).collect();
        for to in waiting {
            self.send_quorum(to, leader_info(epoch));
        }
        self.leader_maybe_epoch_quorum(now);
    }

    /// A quorum acknowledged the epoch: write currentEpoch (ZooKeeper's leader does it after
    /// `waitForEpochAck`).
    fn leader_maybe_epoch_quorum(&mut self, _now: Millis) {
        let voters = self.voter_count();
        let Some(leader) = self.leader() else { return };
        if leader.phase != LeaderPhase::Discovery || !is_quorum(leader.epoch_acks.len(), voters) {
            return;
        }
        leader.phase = LeaderPhase::Synchronization;
        let epoch = leader.epoch.expect("acked epochs are fixed");
        self.epoch_current = epoch;
        self.push_durable(
            |token| Output::PersistEpoch { accepted: None, current: Some(epoch), token },
            Effect::Epoch,
            vec![After::LeaderCurrentEpoch],
        );
    }

    /// currentEpoch is durable (after our whole log): our NEWLEADER ACK counts, and every
    /// learner that acknowledged the epoch is synced.
    pub(super) fn leader_epoch_current(&mut self, now: Millis) {
        let me = self.config.server_id;
        let Some(leader) = self.leader() else { return };
        leader.current_durable = true;
        leader.newleader_acks.insert(me);
        let acked: Vec<ServerId> = leader
            .learners
            .iter()
            .filter(|(_, h)| matches!(h.stage, Stage::EpochAcked(_)))
            .map(|(id, _)| *id)
            .collect();
        for learner in acked {
            self.leader_sync_learner(now, learner);
        }
        self.leader_maybe_establish(now);
    }

    fn leader_on_learner_info(&mut self, now: Millis, from: ServerId, accepted: Epoch, observer: bool) {
        let expected = if observer { PeerRole::Observer } else { PeerRole::Participant };
        if self.config.peers.get(&from) != Some(&expected) {
            return; // A server registering in a role it does not have.
        }
        let voter = !observer;
        let me = self.config.server_id;
        let Some(leader) = self.leader() else { return };
        if leader.epoch.is_some_and(|epoch| accepted > epoch) {
            // The learner promised a newer epoch (to a would-be leader that never got
            // established, often itself) and so must refuse ours: ZooKeeper's learner throws
            // "Leaders epoch ... is less than accepted epoch" and comes back forever, one member
            // short for as long as this leader lasts. Electing again once lets the next leader
            // pick an epoch at least that new, and every member serves again.
            tracing::warn!(
                server = me.0,
                learner = from.0,
                accepted = accepted.0,
                "a learner accepted a newer epoch than ours; electing again"
            );
            self.become_looking(now);
            return;
        }
        // A learner that registers again has reconnected: it starts over.
        let handle = LearnerHandle {
            observer,
            stage: Stage::Info,
            last_heard: now,
            unacked: VecDeque::new(),
            pings: PingsInFlight::default(),
            #[cfg(feature = "mutants")]
            registered: now,
        };
        leader.learners.insert(from, handle);
        leader.epoch_acks.remove(&from);
        leader.newleader_acks.remove(&from);
        match leader.epoch {
            None => {
                if voter {
                    leader.infos.insert(from);
                }
                leader.accepted_max = leader.accepted_max.max(accepted);
                self.leader_maybe_fix_epoch();
            }
            Some(epoch) if leader.epoch_durable => self.send_quorum(from, leader_info(epoch)),
            Some(_) => {} // LEADERINFO goes out when the epoch is durable.
        }
    }

    fn leader_on_ack_epoch(&mut self, now: Millis, from: ServerId, last: Zxid, current: i32) {
        let ours = (self.epoch_current, self.log.logged);
        let voter = self.is_voter(from);
        let Some(leader) = self.leader() else { return };
        let Some(handle) = leader.learners.get_mut(&from) else { return };
        if handle.stage != Stage::Info {
            return;
        }
        handle.stage = Stage::EpochAcked(last);
        if leader.phase == LeaderPhase::Discovery {
            // `waitForEpochAck`: a voter with a newer history than ours must not be led by us.
            let theirs_epoch = u32::try_from(current).map(Epoch).ok();
            if voter && theirs_epoch.is_some_and(|epoch| (epoch, last) > ours) {
                tracing::warn!(?from, "follower is ahead of the leader; electing again");
                self.become_looking(now);
                return;
            }
            if voter {
                leader.epoch_acks.insert(from);
            }
            self.leader_maybe_epoch_quorum(now);
        } else if leader.current_durable {
            self.leader_sync_learner(now, from);
        }
    }
}

/// Synchronization.
impl Node {
    /// `LearnerHandler.syncFollower` and what follows: DIFF, TRUNC or SNAP, the transactions
    /// as PROPOSAL+COMMIT pairs, NEWLEADER, then (to a follower) the proposals still waiting
    /// for their quorum, which it must log and ACK like any other.
    fn leader_sync_learner(&mut self, now: Millis, to: ServerId) {
        let Some(leader) = self.leader() else { return };
        let Some(handle) = leader.learners.get(&to) else { return };
        let Stage::EpochAcked(peer_last) = handle.stage else { return };
        let observer = handle.observer;
        let epoch = leader.epoch.expect("syncing in a fixed epoch");
        let established = leader.established();
        let limit = if established { self.log.committed } else { self.log.logged };
        let history: Vec<Txn> = self.log.history.iter().cloned().collect();
        let plan = plan_sync(&history, self.log.base, limit, peer_last, self.tree.last_zxid());
        let txns = match plan {
            SyncPlan::Diff(txns) => {
                self.send_quorum(to, QuorumMessage::Diff { zxid: limit });
                txns
            }
            SyncPlan::Trunc { zxid, txns } => {
                self.send_quorum(to, QuorumMessage::Trunc { zxid });
                txns
            }
            SyncPlan::Snap(txns) => {
                let zxid = self.tree.last_zxid();
                self.send_quorum(to, QuorumMessage::Snap { zxid });
                let sessions: Vec<_> = self.sessions.iter().collect();
                let database = crate::zab::database_from_snapshot(&self.tree.snapshot(), &sessions);
                self.outputs.push_back(Output::Send { to, message: PeerMessage::SnapDatabase(Box::new(database)) });
                txns
            }
        };
        for txn in txns {
            let zxid = txn.header.zxid;
            self.send_quorum(to, QuorumMessage::Proposal { zxid, txn, digest: None });
            self.send_quorum(to, QuorumMessage::Commit { zxid });
        }
        self.send_quorum(to, QuorumMessage::NewLeader { zxid: Zxid::new(epoch, 0), config: None });
        let outstanding: Vec<Txn> = match &self.role {
            Role::Leading(leader) if !observer => leader.outstanding.values().map(|p| p.pending.txn.clone()).collect(),
            _ => Vec::new(),
        };
        for txn in &outstanding {
            let zxid = txn.header.zxid;
            self.send_quorum(to, QuorumMessage::Proposal { zxid, txn: txn.clone(), digest: None });
        }
        let Some(leader) = self.leader() else { return };
        let handle = leader.learners.get_mut(&to).expect("checked above");
        handle.stage = Stage::Synced;
        handle.unacked = outstanding.iter().map(|t| (t.header.zxid, now)).collect();
    }

    fn leader_on_newleader_ack(&mut self, now: Millis, from: ServerId) {
        let voter = self.is_voter(from);
        let Some(leader) = self.leader() else { return };
        let established = leader.established();
        let Some(handle) = leader.learners.get_mut(&from) else { return };
        if handle.stage != Stage::Synced {
            return;
        }
        handle.stage = Stage::NewLeaderAcked;
        if voter {
            leader.newleader_acks.insert(from);
        }
        if established {
            handle.stage = Stage::UpToDate;
            self.send_quorum(from, QuorumMessage::UpToDate { zxid: Zxid(-1) });
        } else {
            self.leader_maybe_establish(now);
        }
    }

    /// A quorum holds our history durably under the new epoch: it is committed. Apply it,
    /// tell the synced learners to serve, and start serving.
    fn leader_maybe_establish(&mut self, now: Millis) {
        let voters = self.voter_count();
        let half_tick = self.half_tick();
        let Some(leader) = self.leader() else { return };
        let ready = leader.phase == LeaderPhase::Synchronization
            && leader.current_durable
            && is_quorum(leader.newleader_acks.len(), voters);
        if !ready {
            return;
        }
        leader.phase = LeaderPhase::Broadcast;
        leader.ping_at = now.plus(half_tick);
        let epoch = leader.epoch.expect("established in a fixed epoch");
        tracing::info!(server = self.config.server_id.0, epoch = epoch.0, "leader established");
        // Leader.startZkServer: report the new epoch to servers that come LOOKING later.
        self.election.as_mut().expect("ensemble has an election").update_peer_epoch(epoch);
        let synced: Vec<ServerId> = match &mut self.role {
            Role::Leading(leader) => leader
                .learners
                .iter_mut()
                .filter(|(_, h)| h.stage == Stage::NewLeaderAcked)
                .map(|(id, h)| {
                    h.stage = Stage::UpToDate;
                    *id
                })
                .collect(),
            _ => unreachable!("still leading"),
        };
        self.log.committed = self.log.logged;
        self.apply_committed(now);
        assert_eq!(self.tree.last_zxid(), self.log.logged, "an established leader has applied its history");
        self.zxid_prepared = Zxid::new(epoch, 0);
        // `SessionTrackerImpl` starts afresh on a new leader: every session gets a full
        // timeout from now, and nothing the previous leader was closing stays half-closed.
        let mut sessions = SessionTracker::new(self.config.server_id, now, self.config.tick_time_ms);
        for (id, timeout_ms) in self.sessions.iter() {
            sessions.add(id, timeout_ms, now);
        }
        self.sessions = sessions;
        for to in synced {
            self.send_quorum(to, QuorumMessage::UpToDate { zxid: Zxid(-1) });
        }
    }
}

/// Broadcast.
impl Node {
    /// The zxid of the next proposal (see [`Node::zxid_next`]), or `None` when this is not an
    /// established leader, or when it has just given up leading because its epoch's counter
    /// reached [`ZXID_COUNTER_MAX`] (ZOOKEEPER-1277).
    pub(super) fn leader_zxid_next(&mut self, now: Millis) -> Option<Zxid> {
        let fresh = self.log.logged == Zxid::ZERO;
        let start = self.config.zxid_counter_start.min(ZXID_COUNTER_MAX - 1);
        let me = self.config.server_id;
        let prepared = self.zxid_prepared;
        let Role::Leading(leader) = &self.role else { return None };
        if !leader.established() {
            return None; // elected again within the input that made us give up
        }
        let epoch = leader.epoch.expect("established in a fixed epoch");
        assert_eq!(prepared.epoch(), epoch, "an established leader prepares in its own epoch");
        let counter = match prepared.counter() {
            0 if fresh => start,
            counter => counter,
        };
        if counter >= ZXID_COUNTER_MAX {
            tracing::warn!(server = me.0, last = %prepared, "zxid counter exhausted in this epoch; electing again");
            self.become_looking(now);
            return None;
        }
        Some(Zxid::new(epoch, counter + 1))
    }

    /// Logs the prepared transactions (one group commit) and proposes them to every synced
    /// follower; each waits in `outstanding` for its quorum.
    pub(super) fn leader_flush(&mut self) {
        let batch = std::mem::take(&mut self.unpersisted);
        let Role::Leading(leader) = &self.role else {
            unreachable!("only an established leader prepares transactions");
        };
        assert!(leader.established(), "only an established leader prepares transactions");
        let txns: Vec<Txn> = batch.iter().map(|p| p.txn.clone()).collect();
        let last = txns.last().expect("flush of a non-empty batch").header.zxid;
        for txn in &txns {
            // Checked again where it is proposed: a counter past the limit would wrap.
            assert!(txn.header.zxid.counter() <= ZXID_COUNTER_MAX, "a proposal within the epoch's counter");
            let applied = self.tree.last_zxid();
            self.log.append(txn.clone(), self.config.commit_log_count, applied);
            // Also unapplied until its commit: should we stop leading first, it stays logged
            // and is applied if a later leader's history confirms it.
            self.log.unapplied.push_back(txn.clone());
        }
        self.push_durable(
            |token| Output::Persist { txns: txns.clone(), token },
            Effect::Logged(last),
            vec![After::LeaderLogged(last)],
        );
        let followers: Vec<ServerId> = match &self.role {
            Role::Leading(leader) => leader
                .learners
                .iter()
                .filter(|(_, h)| !h.observer && h.stage >= Stage::Synced)
                .map(|(id, _)| *id)
                .collect(),
            _ => unreachable!(),
        };
        for to in followers {
            for txn in &txns {
                let zxid = txn.header.zxid;
                self.send_quorum(to, QuorumMessage::Proposal { zxid, txn: txn.clone(), digest: None });
            }
        }
        // The monotonic time of the input that prepared them: the txn's own time is a wall time
        // and would drop every learner (syncLimit) after the wall clock steps back.
        let now_sent = batch.first().map(|p| p.prepared_at).unwrap_or_default();
        let Some(leader) = self.leader() else { unreachable!() };
        for handle in leader.learners.values_mut().filter(|h| !h.observer && h.stage >= Stage::Synced) {
            handle.unacked.extend(txns.iter().map(|t| (t.header.zxid, now_sent)));
        }
        for pending in batch {
            leader.outstanding.insert(pending.txn.header.zxid, Proposal { pending, acks: BTreeSet::new() });
        }
    }

    /// Our own log holds our proposals up to `zxid`: our ACK counts for them.
    pub(super) fn leader_logged(&mut self, now: Millis, zxid: Zxid) {
        let me = self.config.server_id;
        let Some(leader) = self.leader() else { return };
        for (_, proposal) in leader.outstanding.range_mut(..=zxid) {
            proposal.acks.insert(me);
        }
        self.leader_maybe_commit(now);
    }

    /// An ACK of `zxid` from a follower. A follower logs in order and acknowledges after
    /// logging, so it also acknowledges every proposal before it (an ACK lost on a broken
    /// link is made good by the next).
    fn leader_on_ack(&mut self, now: Millis, from: ServerId, zxid: Zxid) {
        if !self.is_voter(from) {
            return;
        }
        let Some(leader) = self.leader() else { return };
        let Some(handle) = leader.learners.get_mut(&from) else { return };
        if handle.stage < Stage::NewLeaderAcked {
            return; // ZOOKEEPER-4685: an ACK before the NEWLEADER ACK is not counted.
        }
        while handle.unacked.front().is_some_and(|(z, _)| *z <= zxid) {
            handle.unacked.pop_front();
        }
        for (_, proposal) in leader.outstanding.range_mut(..=zxid) {
            proposal.acks.insert(from);
        }
        self.leader_maybe_commit(now);
    }

    /// Commits, in zxid order, every proposal at the front that a quorum (us included, so
    /// only after our own log write) has acknowledged: COMMIT to followers, INFORM to
    /// observers, then apply here (watch events, then the client's reply).
    fn leader_maybe_commit(&mut self, now: Millis) {
        let me = self.config.server_id;
        #[cfg(feature = "mutants")]
        let quorum_half = self.config.mutant == Some(crate::mutants::Mutant::QuorumHalf);
        loop {
            let voters: BTreeSet<ServerId> = crate::zab::voters(&self.config.peers).into_iter().collect();
            let Some(leader) = self.leader() else { return };
            let Some(entry) = leader.outstanding.first_entry() else { break };
            let acks = &entry.get().acks;
            #[allow(unused_mut)] // only the mutants build changes it
            let mut quorum = is_quorum(acks.intersection(&voters).count(), voters.len());
            #[cfg(feature = "mutants")]
            if quorum_half {
                quorum = acks.intersection(&voters).count() >= voters.len() / 2;
            }
            if !acks.contains(&me) || !quorum {
                break;
            }
            let (zxid, proposal) = entry.remove_entry();
            let recipients: Vec<(ServerId, bool)> = leader
                .learners
                .iter()
                .filter(|(_, h)| h.stage >= Stage::Synced)
                .map(|(id, h)| (*id, h.observer))
                .collect();
            for (to, observer) in recipients {
                let message = if observer {
                    QuorumMessage::Inform { zxid, txn: proposal.pending.txn.clone(), digest: None }
                } else {
                    QuorumMessage::Commit { zxid }
                };
                self.send_quorum(to, message);
            }
            self.log.committed = zxid;
            self.log.unapplied.retain(|t| t.header.zxid > zxid);
            self.on_applied(now, proposal.pending);
        }
        self.leader_answer_syncs(now);
    }
}

/// Messages from learners, and the leader's clock.
impl Node {
    pub(super) fn leader_receive(&mut self, now: Millis, from: ServerId, message: QuorumMessage) {
        match self.leader().and_then(|leader| leader.learners.get_mut(&from)) {
            Some(handle) => handle.last_heard = now,
            // A learner this leader dropped (or never registered) must register again: answering
            // its SYNC or REQUEST would let it serve reads after a sync from a history it no
            // longer receives (ZooKeeper closes the dropped learner's socket instead).
            // Closing the link tells it at once, as ZooKeeper's closed socket does.
            None if !matches!(message, QuorumMessage::FollowerInfo { .. } | QuorumMessage::ObserverInfo { .. }) => {
                tracing::debug!(?from, "leader closes the link of a learner it does not hold");
                self.outputs.push_back(Output::ClosePeer { peer: from });
                return;
            }
            None => {}
        }
        match message {
            QuorumMessage::FollowerInfo { zxid, .. } => self.leader_on_learner_info(now, from, zxid.epoch(), false),
            QuorumMessage::ObserverInfo { zxid, .. } => self.leader_on_learner_info(now, from, zxid.epoch(), true),
            QuorumMessage::AckEpoch { zxid, epoch_current } => self.leader_on_ack_epoch(now, from, zxid, epoch_current),
            QuorumMessage::Ack { zxid } if zxid.counter() == 0 => {
                if self.leader().and_then(|l| l.epoch) == Some(zxid.epoch()) {
                    self.leader_on_newleader_ack(now, from);
                }
            }
            QuorumMessage::Ack { zxid } => self.leader_on_ack(now, from, zxid),
            QuorumMessage::Ping { sessions, .. } => {
                if self.owns_sessions() {
                    for (session, _) in sessions.unwrap_or_default() {
                        self.sessions.touch(session, now);
                    }
                }
                self.leader_on_ping_answer(now, from);
            }
            QuorumMessage::Request { session_id, cxid, op, request, authinfo, .. } => {
                self.leader_on_request(now, from, session_id, cxid, op, &request, authinfo)
            }
            QuorumMessage::Revalidate { zxid, session_id, .. } => {
                let valid = self.owns_sessions() && self.sessions.touch(session_id, now);
                self.send_quorum(from, QuorumMessage::RevalidateReply { zxid, session_id, valid });
            }
            other => tracing::debug!(?from, ?other, "leader ignores"),
        }
    }

    /// A write forwarded by a learner (`Request` packets): prepared exactly as a local one,
    /// except that the learner, not us, answers the client once the commit reaches it.
    #[allow(clippy::too_many_arguments)] // the fields of a REQUEST packet
    fn leader_on_request(
        &mut self,
        now: Millis,
        from: ServerId,
        session: SessionId,
        cxid: i32,
        opcode: i32,
        body: &[u8],
        authinfo: Option<Vec<Id>>,
    ) {
        if !self.owns_sessions() {
            return; // Not established: the learner is not serving either.
        }
        match opcode {
            op::CREATE_SESSION => {
                let timeout_ms = body.get(..4).map_or(0, |b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]));
                let body = TxnBody::CreateSession { timeout_ms };
                self.push_txn(now, session, cxid, op::CREATE_SESSION, body, Origin::Internal);
            }
            op::CLOSE_SESSION => self.prepare_close_session(now, session, cxid),
            op::SYNC => self.leader_on_sync(now, SyncFrom::Learner(from)),
            _ => {
                let mut bytes = Vec::with_capacity(8 + body.len());
                bytes.extend_from_slice(&cxid.to_be_bytes());
                bytes.extend_from_slice(&opcode.to_be_bytes());
                bytes.extend_from_slice(body);
                let auth = AuthInfo { ids: authinfo.unwrap_or_default() };
                match crate::wire::client::decode_request(&bytes) {
                    Ok((RequestHeader { xid, op }, request)) if is_forwardable(&request) => {
                        self.prepare_write(now, session, xid, op, &request, Origin::Internal, Some(&auth));
                    }
                    _ => {
                        let body = TxnBody::Error { err: ErrorCode::MarshallingError.code() };
                        self.push_txn(now, session, cxid, op::ERROR, body, Origin::Internal);
                    }
                }
            }
        }
    }

    /// Every half tick: ping the learners (`Leader.lead`), drop those that stopped
    /// acknowledging (`SyncLimitCheck`), and give up leading without a quorum of voters heard
    /// from within syncLimit ticks, or without an established epoch after initLimit ticks.
    pub(super) fn leader_tick(&mut self, now: Millis) {
        let tick = self.config.tick_time_ms;
        let sync_ms = self.config.sync_limit * tick;
        let init_ms = self.config.init_limit * tick;
        let voters = self.voter_count();
        let me = self.config.server_id;
        let half_tick = self.half_tick();
        let Some(leader) = self.leader() else { return };
        if now < leader.ping_at {
            return;
        }
        leader.ping_at = now.plus(half_tick);
        if !leader.established() {
            if now.0 >= leader.started.0 + init_ms {
                tracing::warn!(server = me.0, "no quorum synced within initLimit; electing again");
                self.become_looking(now);
            }
            return;
        }
        let stalled = self.leader_stalled_learners(now, sync_ms);
        let Some(leader) = self.leader() else { return };
        for id in &stalled {
            tracing::warn!(
                server = me.0,
                learner = id.0,
                "dropping a learner that went silent or stopped acknowledging"
            );
            leader.learners.remove(id);
        }
        let heard = leader
            .learners
            .iter()
            .filter(|(_, h)| !h.observer && h.stage >= Stage::NewLeaderAcked && h.last_heard.0 + sync_ms > now.0)
            .count();
        for peer in stalled {
            self.outputs.push_back(Output::ClosePeer { peer });
        }
        if !is_quorum(heard + 1, voters) {
            tracing::warn!(server = me.0, "lost the quorum; electing again");
            self.become_looking(now);
            return;
        }
        self.leader_ping_round();
    }

    /// Learners to drop: a proposal unacknowledged for syncLimit ticks (`SyncLimitCheck`), or
    /// silence (not even a PING answer) for syncLimit ticks once serving, initLimit ticks while
    /// syncing: the read timeouts ZooKeeper's `LearnerHandler` sets on its socket.
    fn leader_stalled_learners(&self, now: Millis, sync_ms: u64) -> Vec<ServerId> {
        let Role::Leading(leader) = &self.role else { return Vec::new() };
        let init_ms = self.config.init_limit * self.config.tick_time_ms;
        #[cfg(feature = "mutants")]
        let closes_at_ten_seconds = self.mutant_is(crate::mutants::Mutant::CloseLinksAfterTenSeconds);
        let stalled = |handle: &LearnerHandle| {
            #[cfg(feature = "mutants")]
            if closes_at_ten_seconds && handle.registered.0 + 10_000 <= now.0 {
                return true;
            }
            let silence_ms = if handle.stage >= Stage::UpToDate { sync_ms } else { init_ms };
            handle.last_heard.0 + silence_ms <= now.0
                || handle.unacked.front().is_some_and(|(_, sent)| sent.0 + sync_ms <= now.0)
        };
        leader.learners.iter().filter(|(_, handle)| stalled(handle)).map(|(id, _)| *id).collect()
    }

    pub(super) fn send_quorum(&mut self, to: ServerId, message: QuorumMessage) {
        self.outputs.push_back(Output::Send { to, message: PeerMessage::Quorum(message) });
    }
}

fn leader_info(epoch: Epoch) -> QuorumMessage {
    QuorumMessage::LeaderInfo { zxid: Zxid::new(epoch, 0), protocol_version: PROTOCOL_VERSION }
}

/// Whether a forwarded request is one a learner may forward: a write (reads, pings and
/// session control never travel as REQUEST).
fn is_forwardable(request: &Request) -> bool {
    is_write(request) && !matches!(request, Request::CloseSession)
}
