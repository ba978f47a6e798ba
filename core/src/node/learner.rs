//! The node while it learns: it routes quorum messages to its [`Learner`] and executes the
//! effects the learner answers with (log and epoch writes, commits, serving), and does what a
//! learner does for its clients: forwarding writes and `sync`s, revalidating sessions,
//! reporting client activity in PING answers.

use super::types::{After, Effect, Origin};
use super::{Node, Output, Role, Snapshot};
use crate::ids::{ConnectionId, Epoch, Millis, ServerId, SessionId, Xid, Zxid};
use crate::session::SessionTracker;
use crate::tree::{AuthInfo, DataTree};
use crate::txn::Txn;
use crate::wire::client::{ConnectResponse, Request, RequestHeader};
use crate::wire::quorum::{QuorumMessage, WireDatabase};
use crate::zab::learner::{DatabaseVerdict, Learner, LearnerEffect, LearnerLimits, LearnerStep, LearnerView};
use std::collections::{BTreeMap, VecDeque};

/// The role of a learning node: the ZAB learner, and what it holds for its clients.
#[derive(Debug)]
pub(super) struct Learning {
    pub(super) learner: Learner,
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

impl super::Config {
    /// The limits a learner times its leader with.
    pub(super) fn learner_limits(&self) -> LearnerLimits {
        LearnerLimits { tick_time_ms: self.tick_time_ms, init_limit: self.init_limit, sync_limit: self.sync_limit }
    }
}

impl Node {
    pub(super) fn become_learner(&mut self, now: Millis, leader: ServerId, observer: bool) {
        tracing::info!(server = self.config.server_id.0, leader = leader.0, observer, "FOLLOWING");
        #[allow(unused_mut)] // only the mutants build changes it
        let mut learner = Learner::new(now, self.config.server_id, leader, observer);
        #[cfg(feature = "mutants")]
        if self.mutant_is(crate::mutants::Mutant::IgnorePing) {
            learner.ignore_pings();
        }
        let register = learner.register(self.learner_view());
        let state = Learning {
            learner,
            forwarded: BTreeMap::new(),
            revalidating: BTreeMap::new(),
            syncs_forwarded: VecDeque::new(),
            syncs_ready: VecDeque::new(),
            touched: BTreeMap::new(),
        };
        self.change_role(Role::Learning(Box::new(state)));
        self.learner_execute(now, vec![register]);
    }

    fn learning(&mut self) -> Option<&mut Learning> {
        match &mut self.role {
            Role::Learning(learning) => Some(learning),
            _ => None,
        }
    }

    /// What the learner reads of this replica now.
    fn learner_view(&self) -> LearnerView {
        LearnerView { epoch_accepted: self.epoch_accepted, epoch_current: self.epoch_current, logged: self.log.logged }
    }

    pub(super) fn learner_receive(&mut self, now: Millis, from: ServerId, message: QuorumMessage) {
        let view = self.learner_view();
        let Some(learning) = self.learning() else { return };
        let effects = learning.learner.receive(now, from, message, view);
        self.learner_execute(now, effects);
    }

    /// A step the learner queued is durable now.
    pub(super) fn learner_on_durable(&mut self, now: Millis, step: LearnerStep) {
        let view = self.learner_view();
        let Some(learning) = self.learning() else { return };
        let effects = learning.learner.on_durable(step, view);
        self.learner_execute(now, effects);
    }

    pub(super) fn learner_tick(&mut self, now: Millis) {
        let (limits, view) = (self.config.learner_limits(), self.learner_view());
        let Some(learning) = self.learning() else { return };
        let effects = learning.learner.tick(now, limits, view);
        self.learner_execute(now, effects);
    }

    /// Executes the learner's effects in order; leaving the leader ends the role, and with it
    /// whatever the learner asked after that.
    fn learner_execute(&mut self, now: Millis, effects: Vec<LearnerEffect>) {
        for effect in effects {
            let leader = match self.learning() {
                Some(learning) => learning.learner.leader(),
                None => return,
            };
            match effect {
                LearnerEffect::Send(message) => self.send_quorum(leader, message),
                LearnerEffect::Refuse(peer) => self.refuse_learner(peer),
                LearnerEffect::Abandon(why) => return self.learner_abandon(now, why),
                LearnerEffect::AcceptEpoch(epoch) => self.learner_accept_epoch(epoch),
                LearnerEffect::WhenDurable(step) => self.after_all_durable(now, After::Learner(step)),
                LearnerEffect::Truncate(zxid) => self.learner_truncate(zxid),
                LearnerEffect::Log { txn, then } => {
                    self.learner_log(txn, then.map(After::Learner).into_iter().collect())
                }
                LearnerEffect::LogCommitted(txn) => {
                    let zxid = txn.header.zxid;
                    self.learner_log(txn, Vec::new());
                    self.log.committed = zxid;
                }
                LearnerEffect::Commit(zxid) => {
                    self.log.committed = self.log.committed.max(zxid);
                    self.apply_committed(now);
                }
                LearnerEffect::WriteCurrentEpoch(epoch) => self.learner_write_current_epoch(epoch),
                LearnerEffect::Serve { epoch, synced } => {
                    // Learner.syncWithLeader at UPTODATE: report the leader's epoch, as the leader does.
                    self.election.as_mut().expect("ensemble has an election").update_peer_epoch(epoch);
                    self.log.committed = self.log.committed.max(synced);
                    self.apply_committed(now);
                }
                LearnerEffect::AnswerPing(zxid) => {
                    let touched = self.learning().map(|l| std::mem::take(&mut l.touched)).unwrap_or_default();
                    let sessions = Some(touched.into_iter().collect());
                    self.send_quorum(leader, QuorumMessage::Ping { zxid, sessions });
                }
                LearnerEffect::Revalidated { session, valid } => self.learner_on_revalidated(now, session, valid),
                LearnerEffect::SyncAnswered => self.learner_on_sync(now),
            }
        }
    }

    /// A protocol violation or a hole in the stream: the connection is as good as broken.
    fn learner_abandon(&mut self, now: Millis, why: &str) {
        tracing::warn!(server = self.config.server_id.0, why, "leaving the leader");
        self.become_looking(now);
    }

    /// LEADERINFO brought a new epoch: it becomes our acceptedEpoch durably, then ACKEPOCH.
    fn learner_accept_epoch(&mut self, epoch: Epoch) {
        self.epoch_accepted = epoch;
        self.push_durable(
            |token| Output::PersistEpoch { accepted: Some(epoch), current: None, token },
            Effect::Epoch,
            vec![After::Learner(LearnerStep::SendAckEpoch)],
        );
    }

    /// TRUNC: the log ends at `zxid`. If the tree already holds more (it was rebuilt from the
    /// whole log at start), the node is rebuilt from disk once the truncation is durable.
    fn learner_truncate(&mut self, zxid: Zxid) {
        self.log.restart_pending |= self.tree.last_zxid() > zxid;
        self.log.truncate(zxid);
        self.push_durable(|token| Output::Truncate { after: zxid, token }, Effect::Truncated(zxid), Vec::new());
    }

    /// The database after SNAP: it replaces the tree at once (nothing is served before
    /// UPTODATE) and, durably, the whole log.
    pub(super) fn learner_receive_database(&mut self, now: Millis, from: ServerId, database: WireDatabase) {
        let Some(learning) = self.learning() else { return };
        let zxid = match learning.learner.on_database(now, from) {
            DatabaseVerdict::Ignore => return,
            DatabaseVerdict::Abandon(why) => return self.learner_abandon(now, why),
            DatabaseVerdict::Install(zxid) => zxid,
        };
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

    fn learner_log(&mut self, txn: Txn, then: Vec<After>) {
        let zxid = txn.header.zxid;
        let applied = self.tree.last_zxid();
        self.log.append(txn.clone(), self.config.commit_log_count, applied);
        self.log.unapplied.push_back(txn.clone());
        self.push_durable(|token| Output::Persist { txns: vec![txn], token }, Effect::Logged(zxid), then);
    }

    /// The synced transactions are durable: write currentEpoch, then ACK NEWLEADER.
    fn learner_write_current_epoch(&mut self, epoch: Epoch) {
        self.epoch_current = epoch;
        self.push_durable(
            |token| Output::PersistEpoch { accepted: None, current: Some(epoch), token },
            Effect::Epoch,
            vec![After::Learner(LearnerStep::SendAck(Zxid::new(epoch, 0)))],
        );
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
        let Some(learning) = self.learning() else { return };
        let leader = learning.learner.leader();
        if let Request::Sync(_) = request {
            learning.syncs_forwarded.push_back(connection);
        } else {
            learning.forwarded.insert((session, header.xid), Origin::Request(connection));
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
        let Some(learning) = self.learning() else { return };
        let leader = learning.learner.leader();
        learning.forwarded.insert((session, 0), Origin::Connect(connection));
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
        let Some(learning) = self.learning() else { return };
        let leader = learning.learner.leader();
        let waiting = learning.revalidating.entry(session).or_default();
        waiting.push((connection, timeout_ms));
        if waiting.len() == 1 {
            let message = QuorumMessage::Revalidate { zxid: Zxid(-1), session_id: session, timeout_ms };
            self.send_quorum(leader, message);
        }
    }

    fn learner_on_revalidated(&mut self, now: Millis, session: SessionId, valid: bool) {
        let Some(learning) = self.learning() else { return };
        let waiting = learning.revalidating.remove(&session).unwrap_or_default();
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
        if let Some(learning) = self.learning() {
            learning.touched.insert(session, timeout_ms);
        }
    }

    /// The leader's SYNC: every commit sent before it has arrived; answer once applied.
    fn learner_on_sync(&mut self, now: Millis) {
        let committed = self.log.committed;
        let Some(learning) = self.learning() else { return };
        if let Some(connection) = learning.syncs_forwarded.pop_front() {
            learning.syncs_ready.push_back((committed, connection));
        }
        self.learner_answer_syncs(now);
    }

    pub(super) fn learner_answer_syncs(&mut self, now: Millis) {
        let applied = self.tree.last_zxid();
        loop {
            let Some(learning) = self.learning() else { return };
            if learning.syncs_ready.front().is_none_or(|(zxid, _)| *zxid > applied) {
                return;
            }
            let (_, connection) = learning.syncs_ready.pop_front().expect("checked");
            self.reply_sync(now, connection, applied);
        }
    }
}
