//! A simulated ZooKeeper client: one session at a time, pipelined requests, watches, pings,
//! and reconnects that resume the session with its id, password and last zxid seen (as
//! `ClientCnxn` does). A client that learns its session expired opens a new one.
//!
//! Sans-IO like the node: the world calls `on_*` with what arrived and sends what the client
//! returns. Everything the client sees goes into the [`History`].

mod workload;

pub use workload::{multi_applied, Shared};

use crate::history::{History, Observation, OpId, OpKind};
use crate::network::Network;
use crate::options::Options;
use crate::rng::SimRng;
use std::collections::{BTreeSet, VecDeque};
use zab_core::proto::{
    op, xid, ConnectRequest, ConnectResponse, MultiReadOp, MultiReadResult, PathRequest, ReplyHeader, Request,
    RequestHeader, Response, SetWatches, WatcherEvent,
};
use zab_core::{ConnectionId, ErrorCode, SessionId, Xid, Zxid};

/// Something a client sends.
#[derive(Clone, Debug, PartialEq)]
pub enum ClientMessage {
    /// The handshake on a new connection.
    Connect(ConnectRequest),
    /// A request.
    Request(RequestHeader, Request),
    /// The client closes its end.
    Close,
}

/// The client's connection state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link {
    /// No connection; try again at `retry_at`.
    Down {
        /// When to reconnect.
        retry_at: u64,
    },
    /// Handshake sent, no answer yet.
    Handshake {
        /// The connection.
        connection: ConnectionId,
        /// When it was sent.
        since: u64,
    },
    /// Connected in a session.
    Up {
        /// The connection.
        connection: ConnectionId,
    },
}

/// Why a request is outstanding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Purpose {
    Op(OpId),
    /// The sync half of a read-after-sync; the read is the next request.
    Sync,
    Ping,
    SetWatches,
}

#[derive(Clone, Debug)]
struct Outstanding {
    xid: Xid,
    purpose: Purpose,
    request: Request,
}

/// The watches a client would re-register after a reconnect.
#[derive(Clone, Debug, Default)]
struct WatchTables {
    data: BTreeSet<String>,
    exist: BTreeSet<String>,
    child: BTreeSet<String>,
    persistent: BTreeSet<String>,
    recursive: BTreeSet<String>,
}

impl WatchTables {
    fn is_empty(&self) -> bool {
        self.data.is_empty()
            && self.exist.is_empty()
            && self.child.is_empty()
            && self.persistent.is_empty()
            && self.recursive.is_empty()
    }

    /// Every watched path, sorted, without repeats.
    fn paths(&self) -> Vec<String> {
        let all = [&self.data, &self.exist, &self.child, &self.persistent, &self.recursive];
        let paths: BTreeSet<&String> = all.into_iter().flatten().collect();
        paths.into_iter().cloned().collect()
    }

    /// A successful removeWatches: drops what the client would re-register, and returns the
    /// events ZooKeeper's client raises locally (`ClientCnxn.finishPacket` runs the watch
    /// deregistration; the server itself sends no event for a removal). As 3.8's
    /// `ZKWatchManager` does, removing either half also forgets a persistent watch on the path.
    fn remove(&mut self, path: &str, watcher_type: i32) -> Vec<WatcherEvent> {
        use zab_core::proto::event_type as e;
        let mut events = Vec::new();
        let local = |event_type| WatcherEvent { event_type, state: 3, path: path.to_string() };
        if watcher_type != 1 && (self.data.remove(path) | self.exist.remove(path)) {
            events.push(local(e::DATA_WATCH_REMOVED));
        }
        if watcher_type != 2 && self.child.remove(path) {
            events.push(local(e::CHILD_WATCH_REMOVED));
        }
        if self.persistent.remove(path) | self.recursive.remove(path) {
            events.push(local(e::PERSISTENT_WATCH_REMOVED));
        }
        events
    }
}

/// Everything a client method may touch besides the client itself.
pub struct Context<'a> {
    /// Virtual time, ms.
    pub now: u64,
    /// The history to record into.
    pub history: &'a mut History,
    /// The client generator.
    pub rng: &'a mut SimRng,
    /// The network, to open connections.
    pub network: &'a mut Network,
    /// The run's options.
    pub options: &'a Options,
    /// What all clients know (ephemeral paths created so far).
    pub shared: &'a mut Shared,
}

/// One simulated client.
#[derive(Debug)]
pub struct SimClient {
    id: usize,
    link: Link,
    session: SessionId,
    passwd: Vec<u8>,
    timeout_ms: i32,
    last_zxid_seen: Zxid,
    next_xid: Xid,
    outstanding: VecDeque<Outstanding>,
    /// When something was last heard from / sent to the server on the current connection.
    last_heard: u64,
    last_sent: u64,
    watches: WatchTables,
    /// A closeSession is outstanding: issue nothing more.
    closing: bool,
    /// Issue random operations (the swarm) or only what a script submits.
    random: bool,
    /// A client told to stay silent until then (scenarios: let its session expire).
    silent_until: u64,
    /// Per-client workload memory (versions seen, counters).
    workload: workload::Memory,
    /// The last completed operation and the watch events since the last `take_events`.
    last_completed: Option<OpId>,
    events: Vec<WatcherEvent>,
    ops_issued: usize,
}

impl SimClient {
    /// A client that connects at `start_ms`; `random` makes it issue the swarm workload.
    pub fn new(id: usize, start_ms: u64, random: bool) -> SimClient {
        SimClient {
            id,
            link: Link::Down { retry_at: start_ms },
            session: SessionId(0),
            passwd: vec![0; 16],
            timeout_ms: 0,
            last_zxid_seen: Zxid::ZERO,
            next_xid: 1,
            outstanding: VecDeque::new(),
            last_heard: 0,
            last_sent: 0,
            watches: WatchTables::default(),
            closing: false,
            random,
            silent_until: 0,
            workload: workload::Memory::default(),
            last_completed: None,
            events: Vec::new(),
            ops_issued: 0,
        }
    }

    /// The connection state.
    pub fn link(&self) -> Link {
        self.link
    }

    /// The current session (0 before the first handshake completes).
    pub fn session(&self) -> SessionId {
        self.session
    }

    /// Operations issued so far.
    pub fn ops_issued(&self) -> usize {
        self.ops_issued
    }

    /// Whether the client has a live connection in a session and room to send.
    pub fn is_up(&self) -> bool {
        matches!(self.link, Link::Up { .. })
    }

    /// Whether requests other than pings are outstanding.
    pub fn is_busy(&self) -> bool {
        self.outstanding.iter().any(|o| o.purpose != Purpose::Ping)
    }

    /// Whether operation `op` is still waiting for its reply on the current connection.
    pub fn awaits(&self, op: OpId) -> bool {
        self.outstanding.iter().any(|o| o.purpose == Purpose::Op(op))
    }

    /// The last operation that got a reply (scenarios check it).
    pub fn last_completed(&self) -> Option<OpId> {
        self.last_completed
    }

    /// Watch events received since the last call.
    pub fn take_events(&mut self) -> Vec<WatcherEvent> {
        std::mem::take(&mut self.events)
    }

    /// Stops the client from sending anything (pings included) until `until`.
    pub fn silence(&mut self, until: u64) {
        self.silent_until = until;
    }

    /// Switches the swarm workload on or off.
    pub fn set_random(&mut self, random: bool) {
        self.random = random;
    }

    /// The periodic wake-up: reconnect, ping, time out a silent server, issue operations.
    /// Returns the messages to send and when to wake again.
    pub fn on_tick(&mut self, cx: &mut Context) -> (Vec<(ConnectionId, ClientMessage)>, u64) {
        let mut out = Vec::new();
        let now = cx.now;
        let ping_ms = (self.timeout_ms.max(300) as u64) / 3;
        if now < self.silent_until {
            return (out, self.silent_until);
        }
        match self.link {
            Link::Down { retry_at } if now >= retry_at => out.push(self.connect(cx)),
            Link::Handshake { connection, since } if now.saturating_sub(since) > self.handshake_ms(cx.options) => {
                out.push((connection, ClientMessage::Close));
                self.lose_connection(cx, connection);
            }
            Link::Up { connection } if now.saturating_sub(self.last_heard) > 2 * ping_ms => {
                // ClientCnxn's read timeout (2/3 of the session timeout): the server is gone.
                out.push((connection, ClientMessage::Close));
                self.lose_connection(cx, connection);
            }
            Link::Up { .. } if self.closing && self.session == SessionId(0) => {} // closed; the server hangs up
            Link::Up { connection } => {
                if now.saturating_sub(self.last_sent) >= ping_ms {
                    out.push(self.send(cx, connection, Request::Ping, Purpose::Ping));
                }
                if self.random && !self.closing && self.op_count() < cx.options.pipeline_max {
                    out.extend(self.issue_random(cx, connection));
                }
            }
            _ => {}
        }
        let think = cx.rng.exponential(cx.options.think_ms_mean as f64).max(1);
        (out, now + think.min(ping_ms / 2).max(1))
    }

    fn handshake_ms(&self, options: &Options) -> u64 {
        options.session_timeout_ms.max(1000) as u64
    }

    fn op_count(&self) -> usize {
        self.outstanding.iter().filter(|o| matches!(o.purpose, Purpose::Op(_) | Purpose::Sync)).count()
    }

    /// Opens a connection and sends the handshake, resuming the session if there is one.
    fn connect(&mut self, cx: &mut Context) -> (ConnectionId, ClientMessage) {
        let connection = cx.network.open(self.id, cx.now);
        self.link = Link::Handshake { connection, since: cx.now };
        let request = ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: self.last_zxid_seen,
            timeout_ms: cx.options.session_timeout_ms,
            session_id: self.session,
            passwd: self.passwd.clone(),
            read_only: Some(false),
        };
        let observation =
            Observation::Connecting { connection, session: self.session, last_zxid_seen: self.last_zxid_seen };
        cx.history.observe(cx.now, self.id, observation);
        (connection, ClientMessage::Connect(request))
    }

    /// Sends one request and remembers it.
    fn send(
        &mut self,
        cx: &mut Context,
        connection: ConnectionId,
        request: Request,
        purpose: Purpose,
    ) -> (ConnectionId, ClientMessage) {
        let (xid, opcode) = match (&request, purpose) {
            (_, Purpose::Ping) => (xid::PING, op::PING),
            (_, Purpose::SetWatches) => (xid::SET_WATCHES, op::SET_WATCHES2),
            (request, _) => {
                self.next_xid += 1;
                (self.next_xid, request.op())
            }
        };
        let op = match purpose {
            Purpose::Op(id) => Some(id),
            _ => None,
        };
        cx.history.observe(cx.now, self.id, Observation::Sent { connection, xid, op });
        self.outstanding.push_back(Outstanding { xid, purpose, request: request.clone() });
        self.last_sent = cx.now;
        (connection, ClientMessage::Request(RequestHeader { xid, op: opcode }, request))
    }

    /// Submits one operation now (scenarios, and the random workload). A read-after-sync
    /// sends a sync of the path first, pipelined.
    pub fn submit(&mut self, cx: &mut Context, request: Request, kind: OpKind) -> Vec<(ConnectionId, ClientMessage)> {
        let Link::Up { connection } = self.link else { return Vec::new() };
        let id = cx.history.invoke(cx.now, self.id, self.session, request.clone(), kind.clone());
        self.ops_issued += 1;
        let mut out = Vec::new();
        if kind == OpKind::ReadAfterSync {
            let path = path_of(&request).unwrap_or("/").to_string();
            out.push(self.send(cx, connection, Request::Sync(PathRequest { path }), Purpose::Sync));
        }
        if request == Request::CloseSession {
            self.closing = true;
        }
        out.push(self.send(cx, connection, request, Purpose::Op(id)));
        out
    }

    /// The handshake was answered.
    pub fn on_connected(
        &mut self,
        cx: &mut Context,
        connection: ConnectionId,
        response: ConnectResponse,
    ) -> Vec<(ConnectionId, ClientMessage)> {
        if !matches!(self.link, Link::Handshake { connection: c, .. } if c == connection) {
            return Vec::new();
        }
        self.last_heard = cx.now;
        if response.timeout_ms <= 0 || response.session_id == SessionId(0) {
            // ZooKeeper's answer to a session it no longer has: the client's session expired.
            cx.history.observe(cx.now, self.id, Observation::SessionExpired { session: self.session });
            self.forget_session();
            self.lose_connection(cx, connection);
            self.link = Link::Down { retry_at: cx.now };
            return vec![(connection, ClientMessage::Close)];
        }
        if response.session_id != self.session {
            self.forget_session();
        }
        self.session = response.session_id;
        self.passwd = response.passwd;
        self.timeout_ms = response.timeout_ms;
        self.link = Link::Up { connection };
        let established = Observation::Established { connection, session: self.session, timeout_ms: self.timeout_ms };
        cx.history.observe(cx.now, self.id, established);
        if self.watches.is_empty() {
            return Vec::new();
        }
        let tables = &self.watches;
        let request = Request::SetWatches2(SetWatches {
            relative_zxid: self.last_zxid_seen,
            data_watches: tables.data.iter().cloned().collect(),
            exist_watches: tables.exist.iter().cloned().collect(),
            child_watches: tables.child.iter().cloned().collect(),
            persistent_watches: tables.persistent.iter().cloned().collect(),
            persistent_recursive_watches: tables.recursive.iter().cloned().collect(),
        });
        vec![self.send(cx, connection, request, Purpose::SetWatches)]
    }

    /// A new session starts empty: no watches, nothing to resume.
    fn forget_session(&mut self) {
        self.session = SessionId(0);
        self.passwd = vec![0; 16];
        self.watches = WatchTables::default();
        self.closing = false;
    }

    /// A reply arrived on `connection`.
    pub fn on_reply(&mut self, cx: &mut Context, connection: ConnectionId, header: ReplyHeader, response: Response) {
        if self.link != (Link::Up { connection }) {
            return;
        }
        self.last_heard = cx.now;
        if header.zxid > Zxid::ZERO {
            self.last_zxid_seen = self.last_zxid_seen.max(header.zxid);
        }
        let op = match self.outstanding.front() {
            Some(Outstanding { xid, purpose: Purpose::Op(id), .. }) if *xid == header.xid => Some(*id),
            _ => None,
        };
        let observation = Observation::Reply { connection, xid: header.xid, zxid: header.zxid, err: header.err, op };
        cx.history.observe(cx.now, self.id, observation);
        if self.outstanding.front().is_none_or(|front| front.xid != header.xid) {
            return; // out of order or unasked: the fifo checker reports it
        }
        let front = self.outstanding.pop_front().expect("front exists");
        if let Purpose::Op(id) = front.purpose {
            self.complete(cx, id, &front.request, header, response);
        }
    }

    fn complete(&mut self, cx: &mut Context, id: OpId, request: &Request, header: ReplyHeader, response: Response) {
        self.note_watch(request, header.err, &response);
        self.workload.learn(cx.shared, self.session, request, header.err, &response);
        cx.history.complete(cx.now, id, header.zxid, header.err, response);
        self.last_completed = Some(id);
        if *request == Request::CloseSession && header.err == ErrorCode::Ok {
            // The session is over; the server closes the connection next. Stay `closing` so
            // nothing more is sent on it; the next connection opens a new session.
            cx.history.observe(cx.now, self.id, Observation::SessionClosed { session: self.session });
            self.forget_session();
            self.closing = true;
        }
    }

    /// Keeps the tables `setWatches` re-registers after a reconnect.
    fn note_watch(&mut self, request: &Request, err: ErrorCode, response: &Response) {
        let tables = &mut self.watches;
        let (table, path) = match (request, err) {
            (Request::GetData(r) | Request::Exists(r), ErrorCode::Ok) if r.watch => (&mut tables.data, &r.path),
            (Request::Exists(r), ErrorCode::NoNode) if r.watch => (&mut tables.exist, &r.path),
            (Request::GetChildren(r) | Request::GetChildren2(r), ErrorCode::Ok) if r.watch => {
                (&mut tables.child, &r.path)
            }
            (Request::AddWatch(r), ErrorCode::Ok) if r.mode == 0 => (&mut tables.persistent, &r.path),
            (Request::AddWatch(r), ErrorCode::Ok) => (&mut tables.recursive, &r.path),
            (Request::MultiRead(ops), ErrorCode::Ok) => {
                let Response::MultiRead(results) = response else { return };
                for (sub, result) in ops.iter().zip(results) {
                    match (sub, result) {
                        (MultiReadOp::GetData(r), MultiReadResult::GetData { .. }) if r.watch => {
                            tables.data.insert(r.path.clone());
                        }
                        (MultiReadOp::GetChildren(r), MultiReadResult::GetChildren(_)) if r.watch => {
                            tables.child.insert(r.path.clone());
                        }
                        _ => {}
                    }
                }
                return;
            }
            (Request::RemoveWatches(r), ErrorCode::Ok) => {
                let removed = tables.remove(&r.path, r.watcher_type);
                self.events.extend(removed);
                return;
            }
            _ => return,
        };
        table.insert(path.clone());
    }

    /// A watch notification arrived.
    pub fn on_event(&mut self, cx: &mut Context, connection: ConnectionId, event: WatcherEvent) {
        if self.link != (Link::Up { connection }) {
            return;
        }
        self.last_heard = cx.now;
        let tables = &mut self.watches;
        let path = event.path.clone();
        use zab_core::proto::event_type as e;
        match event.event_type {
            e::NODE_CREATED | e::NODE_DATA_CHANGED => {
                tables.data.remove(&path);
                tables.exist.remove(&path);
            }
            e::NODE_CHILDREN_CHANGED => drop(tables.child.remove(&path)),
            e::NODE_DELETED => {
                tables.data.remove(&path);
                tables.exist.remove(&path);
                tables.child.remove(&path);
            }
            _ => {}
        }
        cx.history.observe(cx.now, self.id, Observation::Event { connection, event: event.clone() });
        self.events.push(event);
    }

    /// The connection is gone (closed by the server, reset, or given up by the client).
    /// Outstanding requests fail with CONNECTIONLOSS: their outcome stays unknown.
    pub fn on_connection_lost(&mut self, cx: &mut Context, connection: ConnectionId) {
        let current = match self.link {
            Link::Up { connection: c } | Link::Handshake { connection: c, .. } => c == connection,
            Link::Down { .. } => false,
        };
        if current {
            self.lose_connection(cx, connection);
        }
    }

    fn lose_connection(&mut self, cx: &mut Context, connection: ConnectionId) {
        cx.history.observe(cx.now, self.id, Observation::ConnectionLost { connection });
        cx.network.break_link(connection);
        self.outstanding.clear();
        if self.closing {
            // The close may or may not have happened; start afresh in a new session.
            self.forget_session();
        }
        let backoff = cx.rng.range(0, 200);
        self.link = Link::Down { retry_at: cx.now + backoff };
    }
}

/// The path a request is about, if it has one.
pub fn path_of(request: &Request) -> Option<&str> {
    Some(match request {
        Request::Create(r) | Request::Create2(r) | Request::CreateContainer(r) => &r.path,
        Request::Delete(r) => &r.path,
        Request::Exists(r) | Request::GetData(r) | Request::GetChildren(r) | Request::GetChildren2(r) => &r.path,
        Request::SetData(r) => &r.path,
        Request::Sync(r) | Request::GetEphemerals(r) => &r.path,
        Request::AddWatch(r) => &r.path,
        Request::RemoveWatches(r) | Request::CheckWatches(r) => &r.path,
        _ => return None,
    })
}
