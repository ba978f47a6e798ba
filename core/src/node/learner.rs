//! The learner (follower or observer): registration, epoch, sync and broadcast as
//! `Learner.registerWithLeader`, `Learner.syncWithLeader` and `Follower.processPacket` do it
//! in ZooKeeper 3.8, with the NEWLEADER order fixed by ZOOKEEPER-3911/4643/4646: the synced
//! transactions are durable, then currentEpoch, and only then the ACK leaves.

use super::replica::{After, Effect, Role};
use super::{Node, Origin, Output, Snapshot};
use crate::ids::{ConnectionId, Epoch, Millis, ServerId, SessionId, Xid, Zxid};
use crate::session::SessionTracker;
use crate::tree::{AuthInfo, DataTree};
use crate::txn::Txn;
use crate::wire::client::{ConnectResponse, Request, RequestHeader};
use crate::wire::quorum::{LearnerInfo, QuorumMessage, WireDatabase};
use crate::zab::PROTOCOL_VERSION;
use std::collections::{BTreeMap, VecDeque};

/// How long a learner in discovery waits for LEADERINFO before registering again:
/// ZooKeeper's `leaderConnectDelayDuringRetryMs` default (`Learner.connectToLeader`).
const REGISTER_RETRY_MS: u64 = 100;

/// Where the learner is with its leader.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum LearnerPhase {
    /// FOLLOWERINFO sent; waiting for LEADERINFO (anything else is left over from an older
    /// connection and ignored).
    Discovery,
    /// ACKEPOCH sent (or waiting to be); receiving the sync.
    Synchronization,
    /// UPTODATE received: serving clients.
    Broadcast,
}

/// The learner's state.
#[derive(Debug)]
pub(super) struct LearnerState {
    pub(super) leader: ServerId,
    observer: bool,
    phase: LearnerPhase,
    /// The leader's new epoch (from LEADERINFO).
    epoch: Option<Epoch>,
    last_heard: Millis,
    /// In discovery: when to send FOLLOWERINFO (OBSERVERINFO) again. The leader may still
    /// be electing when the first one arrives, and drops it; ZooKeeper's learner likewise
    /// retries its connection every `leaderConnectDelayDuringRetryMs` (100 ms) within initLimit.
    register_again_at: Millis,
    /// Once NEWLEADER arrived (later proposals are acknowledged one by one): the last
    /// transaction synced before it, the new leader's history, which UPTODATE declares
    /// committed (ZOOKEEPER-2845: a txn we logged in an earlier epoch and the new leader holds
    /// too is not in its DIFF, and no COMMIT for it will come).
    newleader: Option<Zxid>,
    /// ACKEPOCH's data: our currentEpoch if LEADERINFO brought a newer epoch than the one we
    /// had accepted, else −1 (`registerWithLeader`).
    ack_epoch_current: i32,
    /// A SNAP packet arrived; its database is next.
    snap_zxid: Option<Zxid>,
    /// Writes forwarded to the leader, by (session, xid): who to answer at commit.
    pub(super) forwarded: BTreeMap<(SessionId, Xid), Origin>,
    /// Reconnecting clients waiting for REVALIDATE: connection and the timeout asked for.
    revalidating: BTreeMap<SessionId, Vec<(ConnectionId, i32)>>,
    /// Forwarded `sync`s in order; each waits for the leader's SYNC.
    syncs_forwarded: VecDeque<ConnectionId>,
    /// `sync`s the leader answered: reply once this zxid is applied here.
    syncs_ready: VecDeque<(Zxid, ConnectionId)>,
    /// Sessions active since the last PING, with their timeouts (`Learner.ping`).
    touched: BTreeMap<SessionId, i32>,
}

impl LearnerState {
    pub(super) fn is_observer(&self) -> bool {
        self.observer
    }

    pub(super) fn up_to_date(&self) -> bool {
        self.phase == LearnerPhase::Broadcast
    }

    /// When to give up on a silent leader: syncLimit ticks once serving, initLimit before;
    /// in discovery, earlier if registering again is due.
    pub(super) fn deadline(&self, config: &super::Config) -> Millis {
        let ticks = if self.up_to_date() { config.sync_limit } else { config.init_limit };
        let give_up = self.last_heard.plus(ticks * config.tick_time_ms);
        if self.phase == LearnerPhase::Discovery {
            return give_up.min(self.register_again_at);
        }
        give_up
    }
}

impl Node {
    pub(super) fn become_learner(&mut self, now: Millis, leader: ServerId, observer: bool) {
        tracing::info!(server = self.config.server_id.0, leader = leader.0, observer, "FOLLOWING");
        let state = LearnerState {
            leader,
            observer,
            phase: LearnerPhase::Discovery,
            epoch: None,
            last_heard: now,
            register_again_at: now.plus(REGISTER_RETRY_MS),
            newleader: None,
            ack_epoch_current: -1,
            snap_zxid: None,
            forwarded: BTreeMap::new(),
            revalidating: BTreeMap::new(),
            syncs_forwarded: VecDeque::new(),
            syncs_ready: VecDeque::new(),
            touched: BTreeMap::new(),
        };
        self.change_role(Role::Learning(Box::new(state)));
        self.learner_register();
    }

    /// FOLLOWERINFO (OBSERVERINFO): who we are and the epoch we accepted.
    fn learner_register(&mut self) {
        let Some(learner) = self.learner() else { return };
        let (leader, observer) = (learner.leader, learner.observer);
        let zxid = Zxid::new(self.epoch_accepted, 0);
        let info =
            LearnerInfo { server_id: self.config.server_id, protocol_version: PROTOCOL_VERSION, config_version: 0 };
        let message = if observer {
            QuorumMessage::ObserverInfo { zxid, info }
        } else {
            QuorumMessage::FollowerInfo { zxid, info }
        };
        self.send_quorum(leader, message);
    }

    fn learner(&mut self) -> Option<&mut LearnerState> {
        match &mut self.role {
            Role::Learning(learner) => Some(learner),
            _ => None,
        }
    }

    /// A protocol violation or a hole in the stream: the connection is as good as broken.
    fn learner_abandon(&mut self, now: Millis, why: &str) {
        tracing::warn!(server = self.config.server_id.0, why, "leaving the leader");
        self.become_looking(now);
    }

    pub(super) fn learner_receive(&mut self, now: Millis, from: ServerId, message: QuorumMessage) {
        let Some(learner) = self.learner() else { return };
        if from != learner.leader {
            if let QuorumMessage::FollowerInfo { .. } | QuorumMessage::ObserverInfo { .. } = message {
                self.refuse_learner(from);
            }
            return;
        }
        let phase = learner.phase;
        if phase == LearnerPhase::Discovery {
            // Until LEADERINFO, what arrives belongs to an older connection to this leader.
            if let QuorumMessage::LeaderInfo { zxid, .. } = message {
                learner.last_heard = now;
                self.learner_on_leader_info(now, zxid.epoch());
            }
            return;
        }
        learner.last_heard = now;
        match message {
            QuorumMessage::Diff { .. } => {}
            QuorumMessage::Trunc { zxid } => self.learner_on_trunc(zxid),
            QuorumMessage::Snap { zxid } => {
                if let Some(learner) = self.learner() {
                    learner.snap_zxid = Some(zxid);
                }
            }
            QuorumMessage::Proposal { txn, .. } => self.learner_on_proposal(now, txn),
            QuorumMessage::Inform { txn, .. } => self.learner_on_inform(now, txn),
            QuorumMessage::Commit { zxid } => self.learner_on_commit(now, zxid),
            QuorumMessage::NewLeader { zxid, .. } => self.learner_on_newleader(now, zxid.epoch()),
            QuorumMessage::UpToDate { .. } => self.learner_on_up_to_date(now),
            // An Apache ZooKeeper leader expects the NEWLEADER ACK before anything else from a
            // syncing learner and drops one that answers a PING first ("Next packet was supposed
            // to be an ACK"); ZooKeeper's learner only answers PINGs once up to date.
            QuorumMessage::Ping { .. } if phase != LearnerPhase::Broadcast => {}
            #[cfg(feature = "mutants")]
            QuorumMessage::Ping { .. } if self.mutant_is(crate::mutants::Mutant::IgnorePing) => {}
            QuorumMessage::Ping { zxid, .. } => {
                let touched = self.learner().map(|l| std::mem::take(&mut l.touched)).unwrap_or_default();
                let sessions = Some(touched.into_iter().collect());
                self.send_quorum(from, QuorumMessage::Ping { zxid, sessions });
            }
            QuorumMessage::RevalidateReply { session_id, valid, .. } => {
                self.learner_on_revalidated(now, session_id, valid)
            }
            QuorumMessage::Sync { .. } => self.learner_on_sync(now),
            other => tracing::debug!(?other, "learner ignores"),
        }
    }

    /// LEADERINFO: accept the new epoch durably (unless already accepted), then ACKEPOCH.
    fn learner_on_leader_info(&mut self, now: Millis, epoch: Epoch) {
        if epoch < self.epoch_accepted {
            return self.learner_abandon(now, "leader's epoch is older than our accepted epoch");
        }
        let current = self.epoch_current.0 as i32;
        let fresh = epoch > self.epoch_accepted;
        let Some(learner) = self.learner() else { return };
        learner.phase = LearnerPhase::Synchronization;
        learner.epoch = Some(epoch);
        learner.ack_epoch_current = if fresh { current } else { -1 };
        if fresh {
            self.epoch_accepted = epoch;
            self.push_durable(
                |token| Output::PersistEpoch { accepted: Some(epoch), current: None, token },
                Effect::Epoch,
                vec![After::SendAckEpoch],
            );
        } else {
            // The epoch was accepted before; still wait for every earlier log write, so the
            // last zxid we report is the one on disk.
            self.after_all_durable(now, After::SendAckEpoch);
        }
    }

    pub(super) fn learner_send_ack_epoch(&mut self) {
        let Some(learner) = self.learner() else { return };
        let leader = learner.leader;
        let epoch_current = learner.ack_epoch_current;
        let zxid = self.log.logged;
        self.send_quorum(leader, QuorumMessage::AckEpoch { zxid, epoch_current });
    }

    pub(super) fn learner_send_ack(&mut self, zxid: Zxid) {
        let Some(learner) = self.learner() else { return };
        let leader = learner.leader;
        self.send_quorum(leader, QuorumMessage::Ack { zxid });
    }

    /// TRUNC: the log ends at `zxid`. If the tree already holds more (it was rebuilt from the
    /// whole log at start), the node is rebuilt from disk once the truncation is durable.
    fn learner_on_trunc(&mut self, zxid: Zxid) {
        self.log.restart_pending |= self.tree.last_zxid() > zxid;
        self.log.truncate(zxid);
        self.push_durable(|token| Output::Truncate { after: zxid, token }, Effect::Truncated(zxid), Vec::new());
    }

    /// The database after SNAP: it replaces the tree at once (nothing is served before
    /// UPTODATE) and, durably, the whole log.
    pub(super) fn learner_receive_database(&mut self, now: Millis, from: ServerId, database: WireDatabase) {
        let Some(learner) = self.learner() else { return };
        if from != learner.leader {
            return;
        }
        let Some(zxid) = learner.snap_zxid.take() else {
            return self.learner_abandon(now, "database without SNAP");
        };
        learner.last_heard = now;
        let rebuilt = crate::zab::snapshot_from_database(zxid, &database)
            .and_then(|(tree, sessions)| DataTree::from_snapshot(tree.clone()).map(|built| (built, tree, sessions)));
        let (tree, tree_snapshot, sessions) = match rebuilt {
            Ok(parts) => parts,
            Err(error) => return self.learner_abandon(now, &format!("bad SNAP database: {error}")),
        };
        self.tree = tree;
        let mut tracker = SessionTracker::new(self.config.server_id, now, self.config.tick_time_ms);
        for (id, timeout_ms) in &sessions {
            tracker.add(*id, *timeout_ms, now);
        }
        self.sessions = tracker;
        self.pending.clear();
        self.log.reset(zxid);
        self.zxid_prepared = zxid;
        let snapshot = Box::new(Snapshot { zxid, tree: tree_snapshot, sessions });
        self.push_durable(|token| Output::ResetToSnapshot { snapshot, token }, Effect::Snapshot(zxid), Vec::new());
    }

    /// PROPOSAL: log it (in order, without holes); after NEWLEADER a follower ACKs it once
    /// logged.
    fn learner_on_proposal(&mut self, now: Millis, txn: Txn) {
        let Some(learner) = self.learner() else { return };
        if learner.observer && learner.up_to_date() {
            return; // Observers learn from INFORM once serving.
        }
        let ack = learner.newleader.is_some() && !learner.observer;
        let zxid = txn.header.zxid;
        if !self.learner_in_sequence(zxid) {
            return self.learner_abandon(now, "proposal out of sequence");
        }
        self.learner_log(txn, if ack { vec![After::SendAck(zxid)] } else { Vec::new() });
    }

    /// Whether `zxid` may follow what is logged: higher, and without a hole inside an epoch.
    fn learner_in_sequence(&self, zxid: Zxid) -> bool {
        let last = self.log.logged;
        if zxid <= last {
            return false;
        }
        zxid.epoch() != last.epoch() || zxid.counter() == last.counter() + 1
    }

    fn learner_log(&mut self, txn: Txn, then: Vec<After>) {
        let zxid = txn.header.zxid;
        let applied = self.tree.last_zxid();
        self.log.append(txn.clone(), self.config.commit_log_count, applied);
        self.log.unapplied.push_back(txn.clone());
        self.push_durable(|token| Output::Persist { txns: vec![txn], token }, Effect::Logged(zxid), then);
    }

    /// INFORM (observers): a committed transaction, logged then applied.
    fn learner_on_inform(&mut self, now: Millis, txn: Txn) {
        let zxid = txn.header.zxid;
        if !self.learner_in_sequence(zxid) {
            return self.learner_abandon(now, "inform out of sequence");
        }
        self.learner_log(txn, Vec::new());
        self.log.committed = zxid;
    }

    fn learner_on_commit(&mut self, now: Millis, zxid: Zxid) {
        if zxid > self.log.logged {
            return self.learner_abandon(now, "commit of a proposal never received");
        }
        self.log.committed = self.log.committed.max(zxid);
        self.apply_committed(now);
    }

    /// NEWLEADER: currentEpoch is written after every synced transaction (the outputs are
    /// executed in order), and the ACK leaves only once it is durable.
    fn learner_on_newleader(&mut self, now: Millis, epoch: Epoch) {
        let logged = self.log.logged;
        let Some(learner) = self.learner() else { return };
        if learner.epoch != Some(epoch) || learner.newleader.is_some() || learner.snap_zxid.is_some() {
            return self.learner_abandon(now, "unexpected NEWLEADER");
        }
        learner.newleader = Some(logged);
        // ZOOKEEPER-4646: currentEpoch may become durable only after the synced transactions:
        // it is written once everything logged before NEWLEADER is durable, then ACKed.
        self.after_all_durable(now, After::LearnerCurrentEpoch(epoch));
    }

    /// The synced transactions are durable: write currentEpoch, then ACK NEWLEADER.
    pub(super) fn learner_write_current_epoch(&mut self, epoch: Epoch) {
        self.epoch_current = epoch;
        self.push_durable(
            |token| Output::PersistEpoch { accepted: None, current: Some(epoch), token },
            Effect::Epoch,
            vec![After::SendAck(Zxid::new(epoch, 0))],
        );
    }

    pub(super) fn learner_on_up_to_date(&mut self, now: Millis) {
        let epoch_current = self.epoch_current;
        let Some(learner) = self.learner() else { return };
        let Some(synced) = learner.newleader else {
            return self.learner_abandon(now, "UPTODATE before NEWLEADER");
        };
        if learner.epoch != Some(epoch_current) {
            // NEWLEADER is still waiting for the synced txns to be durable: ZooKeeper handles
            // packets one after the other, so UPTODATE takes effect only after it.
            return self.after_all_durable(now, After::LearnerUpToDate);
        }
        learner.phase = LearnerPhase::Broadcast;
        tracing::info!(server = self.config.server_id.0, "learner up to date; serving");
        // Learner.syncWithLeader at UPTODATE: report the leader's epoch, as the leader does.
        self.election.as_mut().expect("ensemble has an election").update_peer_epoch(epoch_current);
        self.log.committed = self.log.committed.max(synced);
        self.apply_committed(now);
    }

    /// Once neither hearing from the leader within the limit, look for another.
    pub(super) fn learner_tick(&mut self, now: Millis) {
        let Role::Learning(learner) = &mut self.role else { return };
        let give_up = learner.last_heard.plus(self.config.init_limit * self.config.tick_time_ms);
        if learner.phase == LearnerPhase::Discovery && now >= learner.register_again_at && now < give_up {
            learner.register_again_at = now.plus(REGISTER_RETRY_MS);
            self.learner_register();
            return;
        }
        if now >= learner.deadline(&self.config) {
            self.learner_abandon(now, "leader silent");
        }
    }
}

/// Client-facing work of a learner: forwarding, revalidation, `sync`.
impl Node {
    /// Forwards a write (or `sync`) at the front of a connection's queue to the leader.
    pub(super) fn learner_forward(
        &mut self,
        connection: ConnectionId,
        session: SessionId,
        header: RequestHeader,
        request: &Request,
        auth: &AuthInfo,
    ) {
        let Some(learner) = self.learner() else { return };
        let leader = learner.leader;
        if let Request::Sync(_) = request {
            learner.syncs_forwarded.push_back(connection);
        } else {
            learner.forwarded.insert((session, header.xid), Origin::Request(connection));
        }
        let bytes = crate::wire::client::encode_request(&header, request);
        let message = QuorumMessage::Request {
            zxid: Zxid(-1),
            session_id: session,
            cxid: header.xid,
            op: header.op,
            request: bytes[8..].to_vec(),
            authinfo: Some(auth.ids.clone()),
        };
        self.send_quorum(leader, message);
    }

    /// A new session through a learner: the id is ours (server id in the top byte), the
    /// createSession travels as a REQUEST.
    pub(super) fn learner_create_session(&mut self, connection: ConnectionId, session: SessionId, timeout_ms: i32) {
        let Some(learner) = self.learner() else { return };
        let leader = learner.leader;
        learner.forwarded.insert((session, 0), Origin::Connect(connection));
        let message = QuorumMessage::Request {
            zxid: Zxid(-1),
            session_id: session,
            cxid: 0,
            op: crate::wire::client::op::CREATE_SESSION,
            request: timeout_ms.to_be_bytes().to_vec(),
            authinfo: None,
        };
        self.send_quorum(leader, message);
    }

    /// A client reconnects here with an existing session: only the leader knows whether it
    /// is still alive (`Learner.validateSession`).
    pub(super) fn learner_revalidate(&mut self, connection: ConnectionId, session: SessionId, timeout_ms: i32) {
        let Some(learner) = self.learner() else { return };
        let leader = learner.leader;
        let waiting = learner.revalidating.entry(session).or_default();
        waiting.push((connection, timeout_ms));
        if waiting.len() == 1 {
            let message = QuorumMessage::Revalidate { zxid: Zxid(-1), session_id: session, timeout_ms };
            self.send_quorum(leader, message);
        }
    }

    fn learner_on_revalidated(&mut self, now: Millis, session: SessionId, valid: bool) {
        let Some(learner) = self.learner() else { return };
        let waiting = learner.revalidating.remove(&session).unwrap_or_default();
        for (connection, timeout_ms) in waiting {
            if !self.connections.contains_key(&connection) {
                continue;
            }
            if valid {
                self.learner_touch(session, timeout_ms);
                self.bind_session_with_timeout(now, connection, session, timeout_ms);
            } else {
                let read_only = self.connections[&connection].read_only_byte.then_some(false);
                let response = ConnectResponse {
                    protocol_version: 0,
                    timeout_ms: 0,
                    session_id: SessionId(0),
                    passwd: vec![0; crate::constants::SESSION_PASSWORD_LEN],
                    read_only,
                };
                self.outputs.push_back(Output::Connected { connection, response });
                self.close_connection(connection);
            }
        }
    }

    /// Remembers client activity for the next PING reply.
    pub(super) fn learner_touch(&mut self, session: SessionId, timeout_ms: i32) {
        if let Some(learner) = self.learner() {
            learner.touched.insert(session, timeout_ms);
        }
    }

    /// The leader's SYNC: every commit sent before it has arrived; answer once applied.
    fn learner_on_sync(&mut self, now: Millis) {
        let committed = self.log.committed;
        let Some(learner) = self.learner() else { return };
        if let Some(connection) = learner.syncs_forwarded.pop_front() {
            learner.syncs_ready.push_back((committed, connection));
        }
        self.learner_answer_syncs(now);
    }

    pub(super) fn learner_answer_syncs(&mut self, now: Millis) {
        let applied = self.tree.last_zxid();
        loop {
            let Some(learner) = self.learner() else { return };
            if learner.syncs_ready.front().is_none_or(|(zxid, _)| *zxid > applied) {
                return;
            }
            let (_, connection) = learner.syncs_ready.pop_front().expect("checked");
            self.reply_sync(now, connection, applied);
        }
    }
}
