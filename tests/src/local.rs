//! zab-core driven in-process by a minimal synchronous driver: persists complete at once,
//! and every request and reply goes through the codec's bytes, as over TCP.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use zab_core::node::{ClientEvent, Config, DurableState, Node, Output};
use zab_core::proto::{self, ConnectRequest, ReplyHeader, Request, Response, WatcherEvent};
use zab_core::{ConnectionId, Millis, SessionId, Zxid};

/// What one connection has received.
#[derive(Default)]
struct Inbox {
    replies: Vec<Vec<u8>>,
    events: Vec<(Zxid, WatcherEvent)>,
    connected: Option<proto::ConnectResponse>,
    closed: bool,
}

/// An in-process zab node with clients attached by connection id.
pub struct LocalNode {
    node: Node,
    now: Millis,
    inboxes: BTreeMap<ConnectionId, Inbox>,
    next_connection: u64,
}

impl LocalNode {
    /// A fresh standalone node.
    pub fn new(config: Config, now: Millis) -> LocalNode {
        LocalNode {
            node: Node::new(config, DurableState::default(), now, 1),
            now,
            inboxes: BTreeMap::new(),
            next_connection: 1,
        }
    }

    /// The node, for inspection.
    pub fn node(&self) -> &Node {
        &self.node
    }

    /// Moves virtual time forward, firing timeouts on the way.
    pub fn advance(&mut self, ms: u64) {
        let until = self.now.plus(ms);
        while let Some(deadline) = self.node.poll_timeout().filter(|d| *d <= until) {
            self.now = deadline.max(self.now);
            self.node.handle_timeout(self.now);
            self.run_outputs();
        }
        self.now = until;
    }

    fn run_outputs(&mut self) {
        loop {
            self.node.check_invariants();
            let Some(output) = self.node.poll_output() else { return };
            match output {
                Output::Persist { token, .. } => self.node.handle_persisted(self.now, token),
                Output::WriteSnapshot { .. } => {}
                Output::Connected { connection, response } => {
                    let bytes = proto::encode_connect_response(&response);
                    let decoded = proto::decode_connect_response(&bytes).expect("own connect response decodes");
                    self.inboxes.entry(connection).or_default().connected = Some(decoded);
                }
                Output::Reply { connection, header, response } => {
                    let bytes = proto::encode_reply(&header, &response);
                    self.inboxes.entry(connection).or_default().replies.push(bytes);
                }
                Output::WatchEvent { connection, zxid, event } => {
                    let bytes = proto::encode_watch_event(zxid, &event);
                    let decoded = proto::decode_watch_event(&bytes).expect("own watch event decodes");
                    self.inboxes.entry(connection).or_default().events.push(decoded);
                }
                Output::CloseConnection { connection } => self.inboxes.entry(connection).or_default().closed = true,
                ensemble @ (Output::Send { .. }
                | Output::ClosePeer { .. }
                | Output::PersistEpoch { .. }
                | Output::Truncate { .. }
                | Output::ResetToSnapshot { .. }
                | Output::Restart) => panic!("a standalone node emitted an ensemble output: {ensemble:?}"),
            }
        }
    }

    /// Connects a new client; returns its connection id and the handshake answer.
    pub fn connect(&mut self, request: ConnectRequest) -> (ConnectionId, Option<proto::ConnectResponse>) {
        let connection = ConnectionId(self.next_connection);
        self.next_connection += 1;
        let bytes = proto::encode_connect_request(&request);
        let request = proto::decode_connect_request(&bytes).expect("own connect request decodes");
        let address = IpAddr::V4(Ipv4Addr::LOCALHOST);
        self.node.handle_client(self.now, connection, ClientEvent::Connect { request, address });
        self.run_outputs();
        let connected = self.inboxes.entry(connection).or_default().connected.take();
        (connection, connected)
    }

    /// Sends a request and returns its decoded reply (the node answers synchronously here).
    pub fn call(&mut self, connection: ConnectionId, xid: i32, op: i32, request: &Request) -> (ReplyHeader, Response) {
        self.now = self.now.plus(1);
        let bytes = proto::encode_request(&proto::RequestHeader { xid, op }, request);
        let event = match proto::decode_request(&bytes) {
            Ok((header, request)) => ClientEvent::Request { header, request },
            Err(e) => panic!("own request encoding does not decode: {e}"),
        };
        self.node.handle_client(self.now, connection, event);
        self.run_outputs();
        let inbox = self.inboxes.entry(connection).or_default();
        assert_eq!(inbox.replies.len(), 1, "expected exactly one reply to xid {xid} op {op}");
        let bytes = inbox.replies.pop().expect("one reply");
        proto::decode_reply(op, &bytes).expect("own reply decodes")
    }

    /// Watch events received by a connection so far; clears them.
    pub fn take_events(&mut self, connection: ConnectionId) -> Vec<(Zxid, WatcherEvent)> {
        std::mem::take(&mut self.inboxes.entry(connection).or_default().events)
    }

    /// Whether the node closed this connection.
    pub fn is_closed(&self, connection: ConnectionId) -> bool {
        self.inboxes.get(&connection).is_some_and(|i| i.closed)
    }

    /// Tells the node a client went away.
    pub fn disconnect(&mut self, connection: ConnectionId) {
        self.node.handle_client(self.now, connection, ClientEvent::Disconnected);
        self.run_outputs();
    }

    /// The session a connection holds.
    pub fn session(&self, connection: ConnectionId) -> Option<SessionId> {
        self.node.connection_session(connection)
    }
}
