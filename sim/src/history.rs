//! The history: what the clients asked, what they were told, and when, in one global order.
//!
//! Checkers read only this (what a client could observe), never the node's insides, so the
//! same checkers will judge a replicated cluster. Times are positions in one global sequence:
//! operation A precedes B exactly when A's completion comes before B's invocation.

use zab_core::proto::{Request, Response, WatcherEvent};
use zab_core::{ConnectionId, ErrorCode, SessionId, Xid, Zxid};

/// Index of an operation in [`History::ops`].
pub type OpId = usize;

/// How an operation is judged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OpKind {
    /// One request, judged by its reply.
    Plain,
    /// A `sync` of the path followed by this read, pipelined: a linearizable read
    /// (ZooKeeper's consistency guarantees: "sync + read").
    ReadAfterSync,
}

/// One client operation.
#[derive(Clone, Debug)]
pub struct Op {
    /// The client that issued it.
    pub client: usize,
    /// The session it was issued in.
    pub session: SessionId,
    /// The request (for a read after sync, the read).
    pub request: Request,
    /// How it is judged.
    pub kind: OpKind,
    /// Position of the invocation in the global order.
    pub invoked: u64,
    /// Virtual time of the invocation, ms.
    pub invoked_ms: u64,
    /// The reply, if one came. `None` means the outcome is unknown: the connection was lost
    /// (a write may or may not have happened) or the run ended first.
    pub completion: Option<Completion>,
}

/// A reply to an operation.
#[derive(Clone, Debug)]
pub struct Completion {
    /// Position in the global order.
    pub at: u64,
    /// Virtual time, ms.
    pub at_ms: u64,
    /// The reply header's zxid.
    pub zxid: Zxid,
    /// The error code.
    pub err: ErrorCode,
    /// The body (meaningful when `err` is OK).
    pub response: Response,
}

/// Something one client observed, in global order.
#[derive(Clone, Debug, PartialEq)]
pub enum Observation {
    /// The client sent a handshake on a new connection.
    Connecting {
        /// The connection.
        connection: ConnectionId,
        /// The session it asks to resume (0 for a new one).
        session: SessionId,
        /// Its last zxid seen.
        last_zxid_seen: Zxid,
    },
    /// The handshake was accepted.
    Established {
        /// The connection.
        connection: ConnectionId,
        /// The session.
        session: SessionId,
        /// Negotiated timeout.
        timeout_ms: i32,
    },
    /// The server answered the handshake with session 0: the session is gone.
    SessionExpired {
        /// The session the client asked for.
        session: SessionId,
    },
    /// The client's closeSession was answered: the session is gone.
    SessionClosed {
        /// The session.
        session: SessionId,
    },
    /// The connection is gone (reset, closed by the server, or a client read timeout).
    ConnectionLost {
        /// The connection.
        connection: ConnectionId,
    },
    /// A request left the client.
    Sent {
        /// The connection.
        connection: ConnectionId,
        /// Its xid.
        xid: Xid,
        /// The operation it belongs to, if it is part of one.
        op: Option<OpId>,
    },
    /// A reply arrived.
    Reply {
        /// The connection.
        connection: ConnectionId,
        /// Its xid.
        xid: Xid,
        /// Its zxid.
        zxid: Zxid,
        /// Its error code.
        err: ErrorCode,
        /// The operation it completes, if any.
        op: Option<OpId>,
    },
    /// A watch notification arrived.
    Event {
        /// The connection.
        connection: ConnectionId,
        /// The event.
        event: WatcherEvent,
    },
}

/// The whole history of a run.
#[derive(Clone, Debug, Default)]
pub struct History {
    /// Operations, by id.
    pub ops: Vec<Op>,
    /// Per-client observations with their global position and time: (position, ms, client, what).
    pub observations: Vec<(u64, u64, usize, Observation)>,
    position: u64,
}

impl History {
    /// The next position in the global order.
    fn tick(&mut self) -> u64 {
        self.position += 1;
        self.position
    }

    /// Records an invocation and returns its id.
    pub fn invoke(&mut self, now_ms: u64, client: usize, session: SessionId, request: Request, kind: OpKind) -> OpId {
        let invoked = self.tick();
        self.ops.push(Op { client, session, request, kind, invoked, invoked_ms: now_ms, completion: None });
        self.ops.len() - 1
    }

    /// Records the reply that completes `op`.
    pub fn complete(&mut self, now_ms: u64, op: OpId, zxid: Zxid, err: ErrorCode, response: Response) {
        let at = self.tick();
        let slot = &mut self.ops[op].completion;
        assert!(slot.is_none(), "operation {op} completed twice");
        *slot = Some(Completion { at, at_ms: now_ms, zxid, err, response });
    }

    /// Records an observation of `client`.
    pub fn observe(&mut self, now_ms: u64, client: usize, observation: Observation) {
        let position = self.tick();
        self.observations.push((position, now_ms, client, observation));
    }

    /// The observations of one client, in order.
    pub fn of_client(&self, client: usize) -> impl Iterator<Item = &(u64, u64, usize, Observation)> {
        self.observations.iter().filter(move |(_, _, c, _)| *c == client)
    }

    /// Number of clients that observed anything.
    pub fn clients(&self) -> usize {
        self.observations.iter().map(|(_, _, c, _)| c + 1).max().unwrap_or(0)
    }
}
