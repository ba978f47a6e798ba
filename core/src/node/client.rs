//! Client connections: the handshake, per-session FIFO queues, reads, and writes through the
//! prepare → persist → apply pipeline.

use super::types::{is_write, Origin, Pending};
use super::{Node, Output, Role};
use crate::error::ErrorCode;
use crate::ids::{ConnectionId, Millis, SessionId, Xid, Zxid};
use crate::session::{check_password, negotiate_timeout, session_password};
use crate::tree::{AuthInfo, WriteContext};
use crate::txn::{Txn, TxnBody, TxnHeader};
use crate::wire::client::{op, ConnectRequest, ConnectResponse, ReplyHeader, Request, RequestHeader, Response};
use std::collections::VecDeque;
use std::net::IpAddr;

/// The node's view of one client connection.
#[derive(Debug)]
pub(super) struct Connection {
    /// The session this connection holds, once established.
    pub(super) session: Option<SessionId>,
    /// Whether the handshake has been answered; requests wait until then.
    pub(super) established: bool,
    /// Whether the client sent the optional readOnly byte (the answer mirrors it).
    pub(super) read_only_byte: bool,
    /// Authenticated ids: always `ip`, plus what `addauth` added.
    pub(super) auth: AuthInfo,
    /// Requests in arrival order; replies leave in the same order (FIFO per session).
    pub(super) queue: VecDeque<Queued>,
}

/// A request waiting in its connection's queue.
#[derive(Debug)]
pub(super) struct Queued {
    pub(super) header: RequestHeader,
    /// The error to answer with, for a request the codec could not decode.
    pub(super) request: Result<Request, ErrorCode>,
    pub(super) received: Millis,
    /// Prepared and handed to the persist pipeline; the reply comes when it is applied.
    pub(super) in_flight: bool,
}

impl Node {
    pub(super) fn on_connect(
        &mut self,
        now: Millis,
        connection: ConnectionId,
        request: ConnectRequest,
        address: IpAddr,
    ) {
        self.stats.packets_received += 1;
        let auth = AuthInfo::from_ip(&address.to_string());
        let state = Connection {
            session: None,
            established: false,
            read_only_byte: request.read_only.is_some(),
            auth,
            queue: VecDeque::new(),
        };
        assert!(self.connections.insert(connection, state).is_none(), "connection id reused");
        if !self.serving() {
            // ZooKeeper closes a client's socket while it is not serving (electing, syncing).
            self.close_connection(connection);
            return;
        }
        if request.last_zxid_seen > self.tree.last_zxid() {
            // ZooKeeper refuses, without an answer, a client that has seen a newer zxid than
            // ours: it must try another server rather than see the tree go back in time.
            tracing::info!(?connection, seen = %request.last_zxid_seen, ours = %self.tree.last_zxid(),
                "refusing a client that has seen a newer zxid");
            self.close_connection(connection);
            return;
        }
        let timeout_ms = negotiate_timeout(
            request.timeout_ms,
            self.config.session_timeout_ms_min,
            self.config.session_timeout_ms_max,
        );
        if request.session_id == SessionId(0) {
            let session = self.sessions.next_session_id();
            self.connections.get_mut(&connection).expect("just inserted").session = Some(session);
            if self.is_learner() {
                self.learner_create_session(connection, session, timeout_ms);
                return;
            }
            let body = TxnBody::CreateSession { timeout_ms };
            self.push_txn(now, session, 0, op::CREATE_SESSION, body, Origin::Connect(connection));
            return;
        }
        let session = request.session_id;
        if self.is_learner() && check_password(session, &request.passwd) {
            self.learner_revalidate(connection, session, timeout_ms);
            return;
        }
        let valid = self.sessions.contains(session)
            && !self.sessions.is_closing(session)
            && check_password(session, &request.passwd);
        if !valid {
            let response = ConnectResponse {
                protocol_version: 0,
                timeout_ms: 0,
                session_id: SessionId(0),
                passwd: vec![0; crate::constants::SESSION_PASSWORD_LEN],
                read_only: request.read_only.map(|_| false),
            };
            self.outputs.push_back(Output::Connected { connection, response });
            self.close_connection(connection);
            return;
        }
        self.sessions.touch(session, now);
        self.bind_session(now, connection, session);
    }

    /// Gives `session` to `connection` (closing any older connection holding it) and answers
    /// the handshake.
    fn bind_session(&mut self, now: Millis, connection: ConnectionId, session: SessionId) {
        let timeout_ms = self.sessions.timeout_ms(session).expect("bound session is live");
        self.bind_session_with_timeout(now, connection, session, timeout_ms);
    }

    /// [`Self::bind_session`] with the timeout to announce when this replica may not have
    /// applied the session yet (a learner revalidating through its leader).
    pub(super) fn bind_session_with_timeout(
        &mut self,
        now: Millis,
        connection: ConnectionId,
        session: SessionId,
        timeout_ms: i32,
    ) {
        if let Some(previous) = self.session_connections.insert(session, connection) {
            if previous != connection {
                self.close_connection(previous);
                self.session_connections.insert(session, connection);
            }
        }
        let state = self.connections.get_mut(&connection).expect("binding a live connection");
        state.session = Some(session);
        state.established = true;
        let response = ConnectResponse {
            protocol_version: 0,
            timeout_ms: self.sessions.timeout_ms(session).unwrap_or(timeout_ms),
            session_id: session,
            passwd: session_password(session).to_vec(),
            read_only: state.read_only_byte.then_some(false),
        };
        self.outputs.push_back(Output::Connected { connection, response });
        self.drain(now, connection);
    }

    pub(super) fn on_request(
        &mut self,
        now: Millis,
        connection: ConnectionId,
        header: RequestHeader,
        request: Result<Request, ErrorCode>,
    ) {
        self.stats.packets_received += 1;
        let Some(state) = self.connections.get_mut(&connection) else {
            return; // a request racing its own disconnect
        };
        if let Some(session) = state.session {
            self.sessions.touch(session, now);
            if let Some(timeout_ms) = self.sessions.timeout_ms(session) {
                self.learner_touch(session, timeout_ms);
            }
        }
        let Some(state) = self.connections.get_mut(&connection) else { return };
        state.queue.push_back(Queued { header, request, received: now, in_flight: false });
        self.drain(now, connection);
    }

    pub(super) fn on_disconnected(&mut self, connection: ConnectionId) {
        if let Some(state) = self.connections.remove(&connection) {
            self.watches.remove_connection(connection);
            if let Some(session) = state.session {
                if self.session_connections.get(&session) == Some(&connection) {
                    self.session_connections.remove(&session);
                }
            }
        }
    }

    /// Emits a close for `connection` and forgets it (its session lives on until it expires).
    pub(super) fn close_connection(&mut self, connection: ConnectionId) {
        if self.connections.contains_key(&connection) {
            self.outputs.push_back(Output::CloseConnection { connection });
            self.on_disconnected(connection);
        }
    }

    /// Answers what can be answered at the front of a connection's queue, in order, and
    /// prepares writes. A read waits behind the session's earlier writes still in flight.
    pub(super) fn drain(&mut self, now: Millis, connection: ConnectionId) {
        let mut index = 0;
        loop {
            let Some(state) = self.connections.get_mut(&connection) else { return };
            if !state.established {
                return;
            }
            let Some(queued) = state.queue.get_mut(index) else { return };
            if queued.in_flight {
                index += 1;
                continue;
            }
            let session = state.session.expect("established connection has a session");
            let learner = matches!(self.role, Role::Learning(_));
            let leading = matches!(self.role, Role::Leading(_));
            match &queued.request {
                Ok(request) if learner && (is_write(request) || matches!(request, Request::Sync(_))) => {
                    queued.in_flight = true;
                    let (header, request) = (queued.header, request.clone());
                    let auth = state.auth.clone();
                    self.learner_forward(connection, session, header, &request, &auth);
                    index += 1;
                }
                Ok(Request::Sync(_)) if leading => {
                    // A leader confirms it still leads before it answers (`read_index`).
                    queued.in_flight = true;
                    self.leader_on_sync(now, super::read_index::SyncFrom::Local(connection));
                    return;
                }
                Ok(request) if is_write(request) => {
                    queued.in_flight = true;
                    let (header, request) = (queued.header, request.clone());
                    let auth = state.auth.clone();
                    let origin = Origin::Request(connection);
                    self.prepare_write(now, session, header.xid, header.op, &request, origin, Some(&auth));
                    index += 1;
                }
                _ if index > 0 => return, // a read behind an in-flight write of the same session
                _ => {
                    let queued = state.queue.pop_front().expect("front exists");
                    self.answer_read(now, connection, session, queued);
                }
            }
        }
    }

    /// Validates a write against the tree plus in-flight changes and queues its transaction;
    /// or, when no zxid may be issued (see [`Self::zxid_next`]), drops it unanswered: its
    /// connection is closed by then, so its client sees a connection loss.
    #[allow(clippy::too_many_arguments)] // the parts of a request, kept apart to avoid a clone
    pub(super) fn prepare_write(
        &mut self,
        now: Millis,
        session: SessionId,
        cxid: Xid,
        opcode: i32,
        request: &Request,
        origin: Origin,
        auth: Option<&AuthInfo>,
    ) {
        let Some(zxid) = self.zxid_next(now) else { return };
        self.prepare_write_at(now, zxid, session, cxid, opcode, request, origin, auth);
    }

    /// [`Self::prepare_write`] once `zxid` is known to be the next one.
    #[allow(clippy::too_many_arguments)] // the parts of a request, kept apart to avoid a clone
    fn prepare_write_at(
        &mut self,
        now: Millis,
        zxid: Zxid,
        session: SessionId,
        cxid: Xid,
        opcode: i32,
        request: &Request,
        origin: Origin,
        auth: Option<&AuthInfo>,
    ) {
        let nobody = AuthInfo::default();
        let context = WriteContext {
            session,
            auth: auth.unwrap_or(&nobody),
            zxid,
            time: self.wall_time(now),
            extended_types_enabled: self.config.extended_types_enabled,
            max_data_len: self.config.max_buffer,
            #[cfg(feature = "mutants")]
            mutant: self.config.mutant,
        };
        // ZOOKEEPER-1208: a write from a session that is closing (expiry or closeSession in
        // flight) must fail, or an ephemeral created behind the close would outlive it.
        let session_gone = session != SessionId(0)
            && opcode != op::CLOSE_SESSION
            && (!self.sessions.contains(session) || self.sessions.is_closing(session));
        let body = if session_gone {
            TxnBody::Error { err: ErrorCode::SessionExpired.code() }
        } else {
            self.tree.prepare(&mut self.pending, &context, opcode, request)
        };
        let opcode = body.header_op(opcode);
        self.push_txn_at(now, zxid, session, cxid, opcode, body, origin);
    }

    /// Prepares the closing of a session (expiry: `cxid` 0; or a client's closeSession
    /// forwarded by a learner, which answers it by `cxid`): its ephemerals go with it, at one
    /// zxid, on every replica.
    pub(super) fn prepare_close_session(&mut self, now: Millis, session: SessionId, cxid: Xid) {
        // Checked before marking the session closing: a leader that gives up leading here
        // must not leave a session half-closed behind it.
        let Some(zxid) = self.zxid_next(now) else { return };
        self.sessions.set_closing(session);
        let request = &Request::CloseSession;
        self.prepare_write_at(now, zxid, session, cxid, op::CLOSE_SESSION, request, Origin::Internal, None);
    }

    /// Queues a transaction built without the tree (a new session, an error), or drops it
    /// when no zxid may be issued (see [`Self::zxid_next`]).
    pub(super) fn push_txn(
        &mut self,
        now: Millis,
        session: SessionId,
        cxid: Xid,
        opcode: i32,
        body: TxnBody,
        origin: Origin,
    ) {
        let Some(zxid) = self.zxid_next(now) else { return };
        self.push_txn_at(now, zxid, session, cxid, opcode, body, origin);
    }

    /// The zxid the next transaction takes, or `None` when this node may not issue one now.
    ///
    /// A leader whose epoch has used up its counter gives up leading here, before the zxid
    /// with all counter bits set is issued (`Leader.propose`, ZOOKEEPER-1277): the election
    /// that follows starts a new epoch, whose counter starts over. Going LOOKING closes
    /// every client connection and drops what was prepared and not yet proposed, so the
    /// write that hit the limit, and any prepared with it, is never acknowledged: its client
    /// sees a connection loss, as ZooKeeper's does when its leader shuts down. Later writes
    /// of the same input find the node no longer leading and are dropped the same way.
    pub(super) fn zxid_next(&mut self, now: Millis) -> Option<Zxid> {
        match self.role {
            Role::Standalone => Some(standalone_zxid_next(self.zxid_prepared)),
            Role::Leading(_) => self.leader_zxid_next(now),
            _ => None,
        }
    }

    #[allow(clippy::too_many_arguments)] // the fields of a transaction header, and its body
    fn push_txn_at(
        &mut self,
        now: Millis,
        zxid: Zxid,
        session: SessionId,
        cxid: Xid,
        opcode: i32,
        body: TxnBody,
        origin: Origin,
    ) {
        assert!(zxid > self.zxid_prepared, "zxids are issued in increasing order");
        self.zxid_prepared = zxid;
        let header = TxnHeader { client_id: session, cxid, zxid, time: self.wall_time(now), op: opcode };
        self.unpersisted.push(Pending { txn: Txn { header, body }, origin, prepared_at: now });
    }

    /// A durable transaction is applied: watches fire, then its origin hears about it.
    pub(super) fn on_applied(&mut self, now: Millis, pending: Pending) {
        let zxid = pending.txn.header.zxid;
        let applied = self.apply_txn(now, &pending.txn);
        #[cfg(feature = "mutants")]
        let events_from = self.outputs.len();
        for change in &applied.changes {
            for (connection, event) in self.watches.trigger(&change.path, change.event_type, zxid) {
                // A watcher hears only of nodes it may read (ZooKeeper 3.8.4/3.9.2,
                // CVE-2024-23944: recursive watches would otherwise leak child paths).
                let readable = self.connections.get(&connection).is_some_and(|c| {
                    crate::tree::check_acl(&change.acl, crate::wire::client::perms::READ, &c.auth).is_ok()
                });
                if readable {
                    self.outputs.push_back(Output::WatchEvent { connection, zxid, event });
                }
            }
        }
        #[allow(unused_mut)] // only the mutants build sets it
        let mut result = Some(applied.result);
        #[cfg(feature = "mutants")]
        if let (Some(crate::mutants::Mutant::WatchAfterReply), Origin::Request(connection)) =
            (self.config.mutant, pending.origin)
        {
            let events: Vec<Output> = self.outputs.drain(events_from..).collect();
            self.reply_write(now, connection, zxid, result.take().expect("not yet replied"));
            self.outputs.extend(events);
        }
        match pending.origin {
            Origin::Request(connection) => {
                if let Some(result) = result {
                    self.reply_write(now, connection, zxid, result);
                }
            }
            Origin::Connect(connection) => {
                let session = pending.txn.header.client_id;
                if self.connections.contains_key(&connection) {
                    self.bind_session(now, connection, session);
                }
            }
            Origin::Internal => {}
        }
        if let TxnBody::CloseSession { .. } = pending.txn.body {
            if let Some(connection) = self.session_connections.get(&pending.txn.header.client_id).copied() {
                self.close_connection(connection);
            }
        }
    }

    fn reply_write(&mut self, now: Millis, connection: ConnectionId, zxid: Zxid, result: Result<Response, ErrorCode>) {
        let Some(state) = self.connections.get_mut(&connection) else { return };
        let queued = state.queue.pop_front().expect("an applied write is at the front of its queue");
        assert!(queued.in_flight, "the front of the queue is the applied write");
        self.stats.record_update_latency(now.0.saturating_sub(queued.received.0));
        let (err, response) = match result {
            Ok(response) => (ErrorCode::Ok, response),
            Err(err) => (err, Response::Empty),
        };
        let header = ReplyHeader { xid: queued.header.xid, zxid, err };
        self.outputs.push_back(Output::Reply { connection, header, response });
        self.drain(now, connection);
    }

    /// Applies one transaction to the tree and the session table.
    pub(super) fn apply_txn(&mut self, now: Millis, txn: &Txn) -> crate::tree::Applied {
        match &txn.body {
            TxnBody::CreateSession { timeout_ms } => self.sessions.add(txn.header.client_id, *timeout_ms, now),
            TxnBody::CloseSession { .. } => self.sessions.remove(txn.header.client_id),
            _ => {}
        }
        let applied = self.tree.apply(txn);
        self.pending.applied(txn.header.zxid);
        self.txns_since_snapshot += 1;
        if self.txns_since_snapshot >= self.snapshot_at {
            self.txns_since_snapshot = 0;
            self.snapshot_at = self.stats.snapshot_threshold(self.config.snap_count);
            let snapshot = super::Snapshot {
                zxid: self.tree.last_zxid(),
                tree: self.tree.snapshot(),
                sessions: self.sessions.iter().collect(),
            };
            self.outputs.push_back(Output::WriteSnapshot { snapshot: Box::new(snapshot) });
        }
        applied
    }
}

/// The zxid after `prepared` on a standalone server.
///
/// ZooKeeper's standalone server numbers transactions with a plain 64-bit increment
/// (`ZooKeeperServer.getNextZxid`) and has no rollover check: only `Leader.propose` has one.
/// Without a leader there is no epoch to protect, so the counter carries into the high 32
/// bits and the zxids stay unique and increasing; we do the same, and say so in the log
/// (ZooKeeper does not). If that data directory later joins an ensemble, its epoch must be
/// taken from the last zxid, as `QuorumPeer.loadDataBase` does without a currentEpoch file.
fn standalone_zxid_next(prepared: Zxid) -> Zxid {
    let next = Zxid(prepared.0.checked_add(1).expect("the 64-bit zxid space is exhausted"));
    if next.counter() == 0 {
        tracing::warn!(%prepared, %next, "standalone zxid counter carried into the epoch bits");
    }
    next
}

/// `sync` answers, for the leader's ReadIndex (`read_index.rs`) and a learner's SYNC.
impl Node {
    /// Answers the `sync` at the front of a connection's queue and goes on with its queue.
    pub(super) fn reply_sync(&mut self, now: Millis, connection: ConnectionId, zxid: Zxid) {
        let Some(state) = self.connections.get_mut(&connection) else { return };
        let Some(Queued { header, request: Ok(Request::Sync(request)), in_flight: true, .. }) = state.queue.front()
        else {
            return;
        };
        let header = ReplyHeader { xid: header.xid, zxid, err: ErrorCode::Ok };
        let response = Response::Sync(request.path.clone());
        state.queue.pop_front();
        self.outputs.push_back(Output::Reply { connection, header, response });
        self.drain(now, connection);
    }
}
