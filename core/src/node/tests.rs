//! Node tests: feed inputs, assert the exact outputs (STYLE.md rule 4).

use super::*;
use crate::error::ErrorCode;
use crate::wire::client::{
    event_type, op, Acl, CheckVersionRequest, CreateRequest, DeleteRequest, MultiOp, MultiResult, PathWatchRequest,
    SetDataRequest,
};
use std::net::Ipv4Addr;

const TICK: u64 = 2000;

/// A node with a driver that persists instantly unless told to hold persists back.
struct Harness {
    node: Node,
    now: Millis,
    next_connection: u64,
    hold_persists: bool,
    held: Vec<PersistToken>,
    /// Every transaction handed to the driver, as a real driver would have logged it.
    log: Vec<Txn>,
}

impl Harness {
    fn new() -> Harness {
        let mut config = Config::standalone(TICK);
        config.extended_types_enabled = true;
        Harness {
            node: Node::new(config, DurableState::default(), Millis(1_000_000), 7),
            now: Millis(1_000_000),
            next_connection: 1,
            hold_persists: false,
            held: Vec::new(),
            log: Vec::new(),
        }
    }

    /// Drains outputs, persisting instantly (unless held), and returns the non-persist ones.
    fn drain(&mut self) -> Vec<Output> {
        let mut seen = Vec::new();
        loop {
            self.node.check_invariants();
            let Some(output) = self.node.poll_output() else { break };
            if let Output::Persist { txns, .. } = &output {
                self.log.extend(txns.iter().cloned());
            }
            match output {
                Output::Persist { token, .. } if self.hold_persists => self.held.push(token),
                Output::Persist { token, .. } => self.node.handle_persisted(self.now, token),
                Output::WriteSnapshot { .. } => {}
                other => seen.push(other),
            }
        }
        seen
    }

    fn release_persists(&mut self) -> Vec<Output> {
        self.hold_persists = false;
        for token in std::mem::take(&mut self.held) {
            self.node.handle_persisted(self.now, token);
        }
        self.drain()
    }

    /// Opens a connection with a new session; returns the connection and the session.
    fn connect(&mut self, timeout_ms: i32) -> (ConnectionId, SessionId) {
        let connection = ConnectionId(self.next_connection);
        self.next_connection += 1;
        let request = ConnectRequest::new_session(timeout_ms);
        let address = IpAddr::V4(Ipv4Addr::LOCALHOST);
        self.node.handle_client(self.now, connection, ClientEvent::Connect { request, address });
        let outputs = self.drain();
        let [Output::Connected { response, .. }] = outputs.as_slice() else {
            panic!("expected one Connected, got {outputs:?}")
        };
        assert_ne!(response.session_id, SessionId(0));
        (connection, response.session_id)
    }

    fn send(&mut self, connection: ConnectionId, xid: i32, op: i32, request: Request) -> Vec<Output> {
        let header = RequestHeader { xid, op };
        self.node.handle_client(self.now, connection, ClientEvent::Request { header, request });
        self.drain()
    }

    fn advance(&mut self, ms: u64) -> Vec<Output> {
        let until = self.now.plus(ms);
        let mut seen = Vec::new();
        while let Some(deadline) = self.node.poll_timeout().filter(|d| *d <= until) {
            self.now = deadline.max(self.now);
            self.node.handle_timeout(self.now);
            seen.extend(self.drain());
        }
        self.now = until;
        seen
    }
}

fn create(path: &str, flags: i32) -> Request {
    Request::Create(CreateRequest { path: path.into(), data: b"x".to_vec(), acl: Acl::open_unsafe(), flags })
}

fn reply(outputs: &[Output]) -> (ReplyHeader, Response) {
    let replies: Vec<_> = outputs
        .iter()
        .filter_map(|o| match o {
            Output::Reply { header, response, .. } => Some((*header, response.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(replies.len(), 1, "expected one reply in {outputs:?}");
    replies[0].clone()
}

fn exists(h: &mut Harness, connection: ConnectionId, path: &str) -> ErrorCode {
    let outputs =
        h.send(connection, 900, op::EXISTS, Request::Exists(PathWatchRequest { path: path.into(), watch: false }));
    reply(&outputs).0.err
}

#[test]
fn create_replies_with_the_path_only_after_persist() {
    let mut h = Harness::new();
    let (c, _) = h.connect(10_000);
    h.hold_persists = true;
    let outputs = h.send(c, 1, op::CREATE, create("/a", 0));
    assert!(outputs.is_empty(), "no reply before the write is durable: {outputs:?}");
    let outputs = h.release_persists();
    let (header, response) = reply(&outputs);
    assert_eq!(header.xid, 1);
    assert_eq!(header.err, ErrorCode::Ok);
    assert_eq!(response, Response::Create("/a".into()));
    assert_eq!(header.zxid, h.node.last_zxid());
}

#[test]
fn sequential_names_come_from_the_parent_cversion() {
    let mut h = Harness::new();
    let (c, _) = h.connect(10_000);
    h.send(c, 1, op::CREATE, create("/q", 0));
    let mut names = Vec::new();
    for i in 0..3 {
        let (_, response) = reply(&h.send(c, 10 + i, op::CREATE, create("/q/n-", 2)));
        names.push(response);
    }
    assert_eq!(
        names,
        vec![
            Response::Create("/q/n-0000000000".into()),
            Response::Create("/q/n-0000000001".into()),
            Response::Create("/q/n-0000000002".into()),
        ]
    );
}

#[test]
fn ephemerals_vanish_when_the_session_expires_and_watchers_hear_it_first() {
    let mut h = Harness::new();
    let (owner, owner_session) = h.connect(4_000);
    let (watcher, _) = h.connect(40_000);
    h.send(owner, 1, op::CREATE, create("/e", 1));
    let outputs = h.send(watcher, 1, op::EXISTS, Request::Exists(PathWatchRequest { path: "/e".into(), watch: true }));
    assert_eq!(reply(&outputs).0.err, ErrorCode::Ok);
    // The watcher keeps its session alive by pinging; the owner goes silent.
    let mut outputs = Vec::new();
    for i in 0..4 {
        outputs.extend(h.advance(2_000));
        h.send(watcher, 100 + i, op::PING, Request::Ping);
    }
    assert!(!h.node.sessions().contains(owner_session), "owner session expired");
    let events: Vec<_> = outputs
        .iter()
        .filter_map(|o| match o {
            Output::WatchEvent { connection, event, .. } => Some((*connection, event.event_type, event.path.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(events, vec![(watcher, event_type::NODE_DELETED, "/e".to_string())]);
    assert!(outputs.contains(&Output::CloseConnection { connection: owner }));
    assert_eq!(exists(&mut h, watcher, "/e"), ErrorCode::NoNode);
}

#[test]
fn close_session_deletes_ephemerals_replies_then_closes() {
    let mut h = Harness::new();
    let (c, _) = h.connect(10_000);
    let (other, _) = h.connect(10_000);
    h.send(c, 1, op::CREATE, create("/e1", 1));
    h.send(c, 2, op::CREATE, create("/e2", 3));
    let outputs = h.send(c, 3, op::CLOSE_SESSION, Request::CloseSession);
    let (header, _) = reply(&outputs);
    assert_eq!((header.xid, header.err), (3, ErrorCode::Ok));
    assert_eq!(outputs.last(), Some(&Output::CloseConnection { connection: c }));
    assert_eq!(exists(&mut h, other, "/e1"), ErrorCode::NoNode);
    assert_eq!(exists(&mut h, other, "/e20000000001"), ErrorCode::NoNode);
    assert_eq!(h.node.tree().ephemeral_count(), 0);
}

#[test]
fn watch_event_precedes_the_reply_that_reveals_the_change() {
    let mut h = Harness::new();
    let (a, _) = h.connect(10_000);
    let (b, _) = h.connect(10_000);
    h.send(a, 1, op::CREATE, create("/w", 0));
    let get = Request::GetData(PathWatchRequest { path: "/w".into(), watch: true });
    h.send(b, 1, op::GET_DATA, get);
    let set = Request::SetData(SetDataRequest { path: "/w".into(), data: b"y".to_vec(), version: -1 });
    let outputs = h.send(a, 2, op::SET_DATA, set);
    let kinds: Vec<_> = outputs
        .iter()
        .map(|o| match o {
            Output::WatchEvent { connection, event, .. } => {
                format!("event {} {} {}", connection.0, event.event_type, event.path)
            }
            Output::Reply { connection, header, .. } => format!("reply {} xid {}", connection.0, header.xid),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(kinds, vec![format!("event {} 3 /w", b.0), format!("reply {} xid 2", a.0)]);
}

#[test]
fn a_read_waits_behind_the_same_sessions_write_in_flight() {
    let mut h = Harness::new();
    let (c, _) = h.connect(10_000);
    h.hold_persists = true;
    let mut outputs = h.send(c, 1, op::CREATE, create("/f", 0));
    outputs.extend(h.send(c, 2, op::EXISTS, Request::Exists(PathWatchRequest { path: "/f".into(), watch: false })));
    assert!(outputs.is_empty(), "the read must not overtake the write: {outputs:?}");
    let outputs = h.release_persists();
    let xids: Vec<_> = outputs
        .iter()
        .filter_map(|o| match o {
            Output::Reply { header, .. } => Some((header.xid, header.err)),
            _ => None,
        })
        .collect();
    assert_eq!(xids, vec![(1, ErrorCode::Ok), (2, ErrorCode::Ok)]);
}

#[test]
fn a_failed_multi_reports_ok_then_the_error_then_runtime_inconsistency_and_changes_nothing() {
    let mut h = Harness::new();
    let (c, _) = h.connect(10_000);
    let before = h.node.tree().digest();
    let ops = vec![
        MultiOp::Create {
            op: op::CREATE,
            request: CreateRequest { path: "/m1".into(), data: vec![], acl: Acl::open_unsafe(), flags: 0 },
        },
        MultiOp::Delete(DeleteRequest { path: "/missing".into(), version: -1 }),
        MultiOp::Check(CheckVersionRequest { path: "/".into(), version: -1 }),
    ];
    let outputs = h.send(c, 1, op::MULTI, Request::Multi(ops));
    let (header, response) = reply(&outputs);
    assert_eq!(header.err, ErrorCode::Ok, "a failed multi still answers with a body");
    assert_eq!(
        response,
        Response::Multi(vec![
            MultiResult::Error(ErrorCode::Ok),
            MultiResult::Error(ErrorCode::NoNode),
            MultiResult::Error(ErrorCode::RuntimeInconsistency),
        ])
    );
    assert_eq!(exists(&mut h, c, "/m1"), ErrorCode::NoNode);
    // The tree's content is unchanged; only its last zxid moved (the error txn took one).
    assert_eq!(h.node.tree().node_count(), 4);
    let _ = before;
}

#[test]
fn empty_containers_and_idle_ttl_nodes_are_removed_by_the_sweep() {
    let mut h = Harness::new();
    let (c, _) = h.connect(40_000);
    let container = Request::CreateContainer(CreateRequest {
        path: "/box".into(),
        data: vec![],
        acl: Acl::open_unsafe(),
        flags: 4,
    });
    h.send(c, 1, op::CREATE_CONTAINER, container);
    let ttl = Request::CreateTtl(crate::wire::client::CreateTtlRequest {
        path: "/ttl".into(),
        data: vec![],
        acl: Acl::open_unsafe(),
        flags: 5,
        ttl: 1_000,
    });
    assert_eq!(reply(&h.send(c, 2, op::CREATE_TTL, ttl)).0.err, ErrorCode::Ok);
    h.send(c, 3, op::CREATE, create("/box/child", 0));
    h.send(c, 4, op::DELETE, Request::Delete(DeleteRequest { path: "/box/child".into(), version: -1 }));
    // Keep the session alive across the sweep interval.
    for i in 0..40 {
        h.advance(2_000);
        h.send(c, 100 + i, op::PING, Request::Ping);
    }
    assert_eq!(exists(&mut h, c, "/box"), ErrorCode::NoNode);
    assert_eq!(exists(&mut h, c, "/ttl"), ErrorCode::NoNode);
}

#[test]
fn reconnect_with_a_wrong_password_gets_a_dead_session_and_a_close() {
    let mut h = Harness::new();
    let (_, session) = h.connect(10_000);
    let request =
        ConnectRequest { timeout_ms: 10_000, session_id: session, passwd: vec![1; 16], ..ConnectRequest::default() };
    let connection = ConnectionId(99);
    let address = IpAddr::V4(Ipv4Addr::LOCALHOST);
    h.node.handle_client(h.now, connection, ClientEvent::Connect { request, address });
    let outputs = h.drain();
    let [Output::Connected { response, .. }, Output::CloseConnection { connection: closed }] = outputs.as_slice()
    else {
        panic!("unexpected {outputs:?}")
    };
    assert_eq!((response.timeout_ms, response.session_id), (0, SessionId(0)));
    assert_eq!(*closed, connection);
}

#[test]
fn a_client_ahead_of_the_server_is_refused() {
    let mut h = Harness::new();
    let request = ConnectRequest {
        timeout_ms: 10_000,
        last_zxid_seen: Zxid(1 << 40),
        passwd: vec![0; 16],
        ..ConnectRequest::default()
    };
    let connection = ConnectionId(5);
    let address = IpAddr::V4(Ipv4Addr::LOCALHOST);
    h.node.handle_client(h.now, connection, ClientEvent::Connect { request, address });
    assert_eq!(h.drain(), vec![Output::CloseConnection { connection }]);
}

#[test]
fn recovery_replays_the_log_into_the_same_tree() {
    let mut h = Harness::new();
    let (c, _) = h.connect(10_000);
    h.send(c, 1, op::CREATE, create("/r", 0));
    h.send(c, 2, op::CREATE, create("/r/s-", 2));
    h.send(c, 3, op::SET_DATA, Request::SetData(SetDataRequest { path: "/r".into(), data: b"z".to_vec(), version: 0 }));
    let log = h.log.clone();
    let recovered =
        Node::new(Config::standalone(TICK), DurableState { snapshot: None, log, ..DurableState::default() }, h.now, 1);
    recovered.check_invariants();
    assert_eq!(recovered.tree().digest(), h.node.tree().digest());
    assert_eq!(recovered.last_zxid(), h.node.last_zxid());
}

#[test]
fn a_recursive_watcher_hears_only_of_nodes_it_may_read() {
    let mut h = Harness::new();
    let (watcher, _) = h.connect(10_000);
    let (owner, _) = h.connect(10_000);
    let add_watch = Request::AddWatch(crate::wire::client::AddWatchRequest { path: "/".into(), mode: 1 });
    assert_eq!(reply(&h.send(watcher, 1, op::ADD_WATCH, add_watch)).0.err, ErrorCode::Ok);
    let auth =
        crate::wire::client::AuthPacket { auth_type: 0, scheme: "digest".into(), auth: b"alice:secret".to_vec() };
    h.send(owner, crate::wire::client::xid::AUTH, op::AUTH, Request::Auth(auth));
    let creator_only = vec![Acl {
        perms: crate::wire::client::perms::ALL,
        id: crate::wire::client::Id { scheme: "auth".into(), id: String::new() },
    }];
    let secret = Request::Create(CreateRequest { path: "/secret".into(), data: vec![], acl: creator_only, flags: 0 });
    let outputs = h.send(owner, 2, op::CREATE, secret);
    assert_eq!(reply(&outputs).0.err, ErrorCode::Ok);
    assert!(
        !outputs.iter().any(|o| matches!(o, Output::WatchEvent { connection, .. } if *connection == watcher)),
        "the watcher may not read /secret and must not hear of it: {outputs:?}"
    );
    let outputs = h.send(owner, 3, op::CREATE, create("/open", 0));
    let heard: Vec<_> = outputs
        .iter()
        .filter_map(|o| match o {
            Output::WatchEvent { connection, event, .. } if *connection == watcher => Some(event.path.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(heard, vec!["/open".to_string()]);
}

#[test]
fn bad_requests_get_zookeepers_errors_and_leave_the_tree_unchanged() {
    let mut h = Harness::new();
    let (c, _) = h.connect(10_000);
    h.send(c, 1, op::CREATE, create("/keep", 0));
    let digest = h.node.tree().digest();
    let cases: Vec<(i32, Request, ErrorCode)> = vec![
        (op::CREATE, create("no-slash", 0), ErrorCode::BadArguments),
        (op::CREATE, create("/keep/", 0), ErrorCode::BadArguments),
        // ZooKeeper looks the parent ("/a/") up before it validates the whole path.
        (op::CREATE, create("/a//b", 0), ErrorCode::NoNode),
        (op::CREATE, create("/keep/.", 0), ErrorCode::BadArguments),
        (op::CREATE, create("/missing/child", 0), ErrorCode::NoNode),
        (op::CREATE, create("/keep", 0), ErrorCode::NodeExists),
        (op::DELETE, Request::Delete(DeleteRequest { path: "/keep".into(), version: 7 }), ErrorCode::BadVersion),
        (
            op::SET_DATA,
            Request::SetData(SetDataRequest { path: "/keep".into(), data: vec![1], version: 3 }),
            ErrorCode::BadVersion,
        ),
        (op::DELETE, Request::Delete(DeleteRequest { path: "/".into(), version: -1 }), ErrorCode::BadArguments),
    ];
    for (i, (opcode, request, expected)) in cases.into_iter().enumerate() {
        let outputs = h.send(c, 10 + i as i32, opcode, request.clone());
        assert_eq!(reply(&outputs).0.err, expected, "{request:?}");
    }
    // An undecodable body is answered MARSHALLINGERROR in order, and the connection stays.
    let header = RequestHeader { xid: 50, op: op::CREATE };
    h.node.handle_client(h.now, c, ClientEvent::Undecodable { header, err: ErrorCode::MarshallingError });
    let outputs = h.drain();
    assert_eq!(reply(&outputs).0.err, ErrorCode::MarshallingError);
    assert!(!outputs.iter().any(|o| matches!(o, Output::CloseConnection { .. })));
    // An unknown opcode is answered UNIMPLEMENTED, then the connection is closed.
    let header = RequestHeader { xid: 51, op: 999 };
    h.node.handle_client(h.now, c, ClientEvent::Undecodable { header, err: ErrorCode::Unimplemented });
    let outputs = h.drain();
    assert_eq!(reply(&outputs).0.err, ErrorCode::Unimplemented);
    assert_eq!(outputs.last(), Some(&Output::CloseConnection { connection: c }));
    assert_eq!(h.node.tree().digest(), digest, "failed requests change no znode");
}

/// Each mutant really changes what the node emits (the simulator's tests show the checkers
/// catch them; these show the switches are wired).
#[cfg(feature = "mutants")]
mod mutants {
    use super::*;
    use crate::mutants::Mutant;

    fn harness(mutant: Mutant) -> Harness {
        let mut h = Harness::new();
        let mut config = Config::standalone(TICK);
        config.mutant = Some(mutant);
        h.node = Node::new(config, DurableState::default(), h.now, 7);
        h
    }

    #[test]
    fn reply_before_fsync_answers_while_the_write_is_not_durable() {
        let mut h = harness(Mutant::ReplyBeforeFsync);
        let (c, _) = h.connect(10_000);
        h.hold_persists = true;
        let outputs = h.send(c, 1, op::CREATE, create("/a", 0));
        assert_eq!(reply(&outputs).0.err, ErrorCode::Ok, "the mutant replies before the persist completes");
        assert_eq!(h.held.len(), 1);
    }

    #[test]
    fn forget_ephemerals_on_expiry_leaves_the_node_behind() {
        let mut h = harness(Mutant::ForgetEphemeralsOnExpiry);
        let (owner, session) = h.connect(4_000);
        h.send(owner, 1, op::CREATE, create("/e", 1));
        h.advance(20_000);
        assert!(!h.node.sessions().contains(session));
        assert_eq!(h.node.tree().ephemeral_count(), 1);
    }

    #[test]
    fn reuse_sequential_number_repeats_a_name_after_a_delete() {
        let mut h = harness(Mutant::ReuseSequentialNumber);
        let (c, _) = h.connect(10_000);
        h.send(c, 1, op::CREATE, create("/q", 0));
        let (_, first) = reply(&h.send(c, 2, op::CREATE, create("/q/n-", 2)));
        h.send(c, 3, op::DELETE, Request::Delete(DeleteRequest { path: "/q/n-0000000000".into(), version: -1 }));
        let (_, second) = reply(&h.send(c, 4, op::CREATE, create("/q/n-", 2)));
        assert_eq!(first, second);
    }

    #[test]
    fn watch_after_reply_sends_the_reply_first() {
        let mut h = harness(Mutant::WatchAfterReply);
        let (a, _) = h.connect(10_000);
        h.send(a, 1, op::CREATE, create("/w", 0));
        h.send(a, 2, op::GET_DATA, Request::GetData(PathWatchRequest { path: "/w".into(), watch: true }));
        let set = Request::SetData(SetDataRequest { path: "/w".into(), data: vec![], version: -1 });
        let outputs = h.send(a, 3, op::SET_DATA, set);
        assert!(matches!(outputs.first(), Some(Output::Reply { .. })), "{outputs:?}");
        assert!(matches!(outputs.last(), Some(Output::WatchEvent { .. })), "{outputs:?}");
    }
}

/// ZOOKEEPER-1208: an ephemeral create queued behind its session's expiry must fail with
/// SESSIONEXPIRED, not create a node nobody will ever delete.
#[test]
fn a_create_behind_the_sessions_expiry_fails_and_leaves_no_ephemeral() {
    let mut h = Harness::new();
    let (c, session) = h.connect(4_000);
    h.hold_persists = true;
    h.advance(20_000); // the expiry's closeSession is prepared and held
    assert!(h.node.sessions().is_closing(session));
    let header = RequestHeader { xid: 7, op: op::CREATE };
    h.node.handle_client(h.now, c, ClientEvent::Request { header, request: create("/late", 1) });
    let outputs = h.release_persists();
    // The close is applied first and closes the connection, so the create's answer is never
    // sent; what matters is that it was logged as a failure and created nothing.
    assert_eq!(outputs, vec![Output::CloseConnection { connection: c }]);
    let last = h.log.last().expect("the create was logged");
    assert_eq!(last.body, crate::txn::TxnBody::Error { err: ErrorCode::SessionExpired.code() });
    assert_eq!(h.node.tree().ephemeral_count(), 0);
    assert!(!h.node.sessions().contains(session));
}

/// Issue F item 6: `now` is monotonic and drives every timer; the wall clock given by
/// `set_wall_clock` is only the transactions' time (ctime/mtime) and what the TTL sweep
/// compares mtime with (Apache: `Time.currentWallTime()` in both, `currentElapsedTime()` for
/// sessions). A step of ±1 h moves no deadline and expires no session.
#[test]
fn a_wall_clock_step_moves_ctime_and_ttls_but_no_timer() {
    const HOUR_MS: i64 = 3_600_000;
    let mut h = Harness::new();
    let (c, session) = h.connect(10_000);
    let wall = 1_700_000_000_000;
    h.node.set_wall_clock(h.now, wall);
    let deadline = h.node.poll_timeout();
    h.send(c, 1, op::CREATE, create("/before", 0));
    let ttl = |path: &str| {
        let request = crate::wire::client::CreateTtlRequest {
            path: path.into(),
            data: vec![],
            acl: Acl::open_unsafe(),
            flags: 5,
            ttl: 10 * 60_000,
        };
        Request::CreateTtl(request)
    };
    assert_eq!(reply(&h.send(c, 2, op::CREATE_TTL, ttl("/ttl"))).0.err, ErrorCode::Ok);
    for step in [-HOUR_MS, HOUR_MS, -HOUR_MS] {
        h.node.set_wall_clock(h.now, wall + step);
        assert_eq!(h.node.poll_timeout(), deadline, "a wall-clock step of {step} ms moves a deadline");
    }
    h.send(c, 3, op::CREATE, create("/after", 0));
    let ctime =
        |h: &Harness, path: &str| h.node.tree().exists(path, &crate::tree::AuthInfo::default()).unwrap().unwrap().ctime;
    assert_eq!(ctime(&h, "/before"), wall);
    assert_eq!(ctime(&h, "/after"), wall - HOUR_MS, "ctime follows the wall clock");
    // A pinging session outlives the steps, over a container sweep (60 s) on the monotonic
    // clock; the TTL node (10 min, wall clock 1 h behind) survives it.
    for i in 0..35 {
        h.advance(2_000);
        h.send(c, 100 + i, op::PING, Request::Ping);
    }
    assert!(h.node.sessions().contains(session), "the session expired");
    assert_eq!(exists(&mut h, c, "/ttl"), ErrorCode::Ok);
    // A step forward by an hour ages the TTL node past its TTL: the next sweep deletes it.
    h.node.set_wall_clock(h.now, wall + HOUR_MS);
    for i in 0..35 {
        h.advance(2_000);
        h.send(c, 200 + i, op::PING, Request::Ping);
    }
    assert!(h.node.sessions().contains(session), "the session expired");
    assert_eq!(exists(&mut h, c, "/ttl"), ErrorCode::NoNode);
}
