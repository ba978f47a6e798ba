//! Golden transcripts for ZAB (STYLE.md rule 5): scripts in `testdata/*.txt`, run over whole
//! `Node`s by a tiny command language; the printed trace is an insta snapshot in
//! `snapshots/`. Read a snapshot diff as a sequence diagram; accept it only when you
//! understand why it changed. The same harness drives the targeted tests at the end of this
//! file (revalidation, forwarded `sync`, observers), which assert exact trace lines.
//!
//! The harness: every durable output is reported durable right after the node's outputs are
//! drained (the driver executes them in order, then the disk answers); messages wait in
//! flight until delivered; time moves only with `tick` and `elect`. Election notifications
//! are not printed (the election's own transcripts in `election/testdata` show them); every
//! other output is one line: `1 -> 2: COMMIT 0x100000001` (sent), `deliver 1->2: ...`
//! (received), `2 log ...` and `2 write ...` (durable writes), `2 => c1: ...` (to a client),
//! `2: FOLLOWING 1 serving` (a role change).
//!
//! Commands (one per line; `#` lines are comments, echoed):
//! - `add-nodes 3` or `add-nodes 3 observers=1`: voters 1..=3, then observers.
//! - `elect`: deliver everything, firing the next timeout whenever nothing is in flight,
//!   until every live server serves.
//! - `deliver 1->2`: the oldest message from 1 to 2 arrives; `deliver-all`: every message
//!   arrives, first sent first, including those sent meanwhile.
//! - `tick 2000`: 2000 ms pass; due timeouts fire in time order (messages wait).
//! - `idle 3000`: 3000 ms pass in steps of 50 ms, every message delivered after each step.
//! - `crash 1`: server 1 stops; messages to and from it are lost, its clients disconnected.
//! - `client c1 on 2 connect`: a new session through server 2.
//! - `client c1 on 3 reconnect` (or `... reconnect bad-password`): c1 leaves its server and
//!   presents its session (and last zxid seen) to server 3.
//! - `client c1 on 2 disconnect`: c1 goes away (its session lives on until it expires).
//! - `client c1 on 2 create /a` (or `create /e ephemeral`), `get /a`, `sync /`, `ping`.
//! - `status`: each server's role, last applied zxid and the root's children.

use super::*;
use crate::error::ErrorCode;
use crate::tree::AuthInfo;
use crate::txn::TxnBody;
use crate::wire::client::{op, Acl, CreateRequest, PathRequest, PathWatchRequest};
use crate::wire::quorum::QuorumMessage;
use std::fmt::Write;
use std::net::Ipv4Addr;

const TICK_MS: u64 = 100;
const STEPS_MAX: usize = 100_000;
const CLIENT_TIMEOUT_MS: i32 = 4000;
const IDLE_STEP_MS: u64 = 50;

/// A scripted client: the server it talks to and its session.
struct Client {
    server: ServerId,
    connection: Option<ConnectionId>,
    session: SessionId,
    xid: i32,
    last_zxid_seen: Zxid,
}

/// Servers, the messages in flight between them, and scripted clients.
pub(super) struct Cluster {
    now: Millis,
    nodes: BTreeMap<ServerId, Option<Node>>,
    /// In flight, by send order: (from, to, message); `None` is the FIN of a quorum link
    /// `from` closed.
    network: BTreeMap<u64, (ServerId, ServerId, Option<PeerMessage>)>,
    /// (unaware, closer): `closer` closed their quorum link and `unaware` has not yet read
    /// the FIN; what it sends on that link until then is lost.
    closed_unaware: std::collections::BTreeSet<(ServerId, ServerId)>,
    sequence: u64,
    clients: BTreeMap<String, Client>,
    owners: BTreeMap<ConnectionId, String>,
    next_connection: u64,
    states: BTreeMap<ServerId, ReplicaState>,
    trace: String,
}

impl Cluster {
    pub(super) fn new(voters: u64, observers: u64) -> Cluster {
        let mut peers = BTreeMap::new();
        for id in 1..=voters {
            peers.insert(ServerId(id), PeerRole::Participant);
        }
        for id in voters + 1..=voters + observers {
            peers.insert(ServerId(id), PeerRole::Observer);
        }
        let mut cluster = Cluster {
            now: Millis(0),
            nodes: BTreeMap::new(),
            network: BTreeMap::new(),
            closed_unaware: Default::default(),
            sequence: 0,
            clients: BTreeMap::new(),
            owners: BTreeMap::new(),
            next_connection: 1,
            states: BTreeMap::new(),
            trace: String::new(),
        };
        for id in peers.keys() {
            let config = Config::ensemble(*id, TICK_MS, peers.clone());
            let node = Node::new(config, DurableState::default(), Millis(0), id.0);
            cluster.nodes.insert(*id, Some(node));
            cluster.states.insert(*id, ReplicaState::Looking);
        }
        for id in peers.keys() {
            cluster.drain(*id);
        }
        cluster
    }

    pub(super) fn node(&self, id: u64) -> &Node {
        self.nodes[&ServerId(id)].as_ref().expect("up")
    }

    /// The session a scripted client holds.
    pub(super) fn session(&self, client: &str) -> SessionId {
        self.clients[client].session
    }

    fn node_mut(&mut self, id: ServerId) -> Option<&mut Node> {
        self.nodes.get_mut(&id).and_then(Option::as_mut)
    }

    /// Runs one command and returns what it printed.
    pub(super) fn run_line(&mut self, line: &str) -> String {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words[0] {
            "elect" => self.elect(),
            "deliver" => {
                let (from, to) = words[1].split_once("->").expect("from->to");
                let (from, to) = (server(from), server(to));
                let seq = self.network.iter().find(|(_, (f, t, _))| (*f, *t) == (from, to)).map(|(s, _)| *s);
                self.deliver(seq.unwrap_or_else(|| panic!("nothing in flight on {line}")));
            }
            "deliver-all" => self.deliver_all(),
            "tick" => {
                let until = self.now.plus(words[1].parse().expect("ms"));
                while self.fire_next_timeout(until) {}
                self.now = until;
            }
            "idle" => {
                let until = self.now.plus(words[1].parse().expect("ms"));
                while self.now < until {
                    let step = self.now.plus(IDLE_STEP_MS).min(until);
                    while self.fire_next_timeout(step) {}
                    self.now = step;
                    self.deliver_all();
                }
            }
            "crash" => self.crash(server(words[1])),
            "client" => self.client(&words[1..]),
            "status" => self.status(),
            other => panic!("unknown command {other}"),
        }
        std::mem::take(&mut self.trace)
    }

    fn elect(&mut self) {
        for _ in 0..STEPS_MAX {
            self.deliver_all();
            let serving = self.nodes.values().flatten().all(Node::is_serving);
            if serving || !self.fire_next_timeout(Millis(u64::MAX)) {
                assert!(serving, "nothing left to do and not every server serves");
                return;
            }
        }
        let tail: String = self.trace.lines().take(80).collect::<Vec<_>>().join("\n");
        panic!("elect does not settle at {:?}: {:?}\n{tail}", self.now, self.states);
    }

    fn deliver_all(&mut self) {
        for _ in 0..STEPS_MAX {
            let Some(seq) = self.network.keys().next().copied() else { return };
            self.deliver(seq);
        }
        panic!("deliver-all does not settle");
    }

    fn deliver(&mut self, seq: u64) {
        let (from, to, message) = self.network.remove(&seq).expect("in flight");
        let now = self.now;
        let Some(message) = message else {
            writeln!(self.trace, "  deliver {}->{}: FIN", from.0, to.0).unwrap();
            self.closed_unaware.remove(&(to, from));
            if let Some(node) = self.node_mut(to) {
                node.handle_peer_disconnected(now, from);
                self.drain(to);
            }
            return;
        };
        if let Some(text) = describe_message(&message) {
            writeln!(self.trace, "  deliver {}->{}: {text}", from.0, to.0).unwrap();
        }
        if let Some(node) = self.node_mut(to) {
            node.handle_peer_message(now, from, message);
            self.drain(to);
        }
    }

    /// Fires the earliest timeout due by `until`; false if there is none.
    fn fire_next_timeout(&mut self, until: Millis) -> bool {
        let next = self.nodes.iter().filter_map(|(id, n)| n.as_ref()?.poll_timeout().map(|at| (at, *id))).min();
        let Some((at, id)) = next.filter(|(at, _)| *at <= until) else { return false };
        if at > self.now {
            self.now = at;
            writeln!(self.trace, "  t={}", at.0).unwrap();
        }
        let now = self.now;
        self.node_mut(id).expect("up").handle_timeout(now);
        self.drain(id);
        true
    }

    fn crash(&mut self, id: ServerId) {
        self.nodes.insert(id, None);
        self.network.retain(|_, (from, to, _)| *from != id && *to != id);
        for client in self.clients.values_mut().filter(|c| c.server == id) {
            client.connection = None;
        }
    }

    /// Executes a node's outputs in order; reports its durable writes done once all its
    /// outputs are out; repeats until it is quiet.
    fn drain(&mut self, id: ServerId) {
        loop {
            let mut tokens = Vec::new();
            let mut closes = Vec::new();
            while let Some(output) = self.node_mut(id).and_then(Node::poll_output) {
                if let Output::ClosePeer { peer } = output {
                    writeln!(self.trace, "  {} closes its quorum link to {}", id.0, peer.0).unwrap();
                    closes.push(peer);
                } else if let Some(token) = self.execute(id, output) {
                    tokens.push(token);
                }
            }
            for peer in closes {
                self.close_quorum(id, peer);
            }
            let now = self.now;
            let Some(node) = self.node_mut(id) else { return };
            node.check_invariants();
            let state = node.replica_state();
            if self.states.insert(id, state) != Some(state) {
                writeln!(self.trace, "  {}: {}", id.0, describe_state(state)).unwrap();
            }
            if tokens.is_empty() {
                return;
            }
            let node = self.node_mut(id).expect("up");
            for token in tokens {
                node.handle_persisted(now, token);
            }
        }
    }

    /// As TCP does it: what `id` sent before still arrives, then its FIN; what is in flight
    /// towards `id` on the quorum link is lost.
    fn close_quorum(&mut self, id: ServerId, peer: ServerId) {
        self.network.retain(|_, (from, to, message)| {
            *from != peer || *to != id || matches!(message, Some(PeerMessage::Election(_)))
        });
        if self.nodes.get(&peer).is_some_and(Option::is_some) {
            self.sequence += 1;
            self.network.insert(self.sequence, (id, peer, None));
            self.closed_unaware.insert((peer, id));
        }
    }

    fn execute(&mut self, id: ServerId, output: Output) -> Option<PersistToken> {
        let me = id.0;
        match output {
            Output::Send { to, message } => {
                if let Some(text) = describe_message(&message) {
                    writeln!(self.trace, "  {me} -> {}: {text}", to.0).unwrap();
                }
                let lost = !matches!(message, PeerMessage::Election(_)) && self.closed_unaware.contains(&(id, to));
                if self.nodes[&to].is_some() && !lost {
                    self.sequence += 1;
                    self.network.insert(self.sequence, (id, to, Some(message)));
                }
                None
            }
            Output::Persist { txns, token } => {
                let txns: Vec<String> = txns.iter().map(describe_txn).collect();
                writeln!(self.trace, "  {me} log {}", txns.join(", ")).unwrap();
                Some(token)
            }
            Output::PersistEpoch { accepted, current, token } => {
                let accepted = accepted.map(|e| format!(" acceptedEpoch={}", e.0)).unwrap_or_default();
                let current = current.map(|e| format!(" currentEpoch={}", e.0)).unwrap_or_default();
                writeln!(self.trace, "  {me} write{accepted}{current}").unwrap();
                Some(token)
            }
            Output::Truncate { after, token } => {
                writeln!(self.trace, "  {me} truncate after {after}").unwrap();
                Some(token)
            }
            Output::ResetToSnapshot { snapshot, token } => {
                writeln!(self.trace, "  {me} reset to snapshot {}", snapshot.zxid).unwrap();
                Some(token)
            }
            Output::WriteSnapshot { snapshot } => {
                writeln!(self.trace, "  {me} snapshot {}", snapshot.zxid).unwrap();
                None
            }
            Output::Restart => panic!("no transcript truncates below the tree"),
            Output::ClosePeer { .. } => unreachable!("handled by drain"),
            Output::Connected { connection, response } => {
                let name = self.owner(connection);
                if response.timeout_ms == 0 {
                    writeln!(self.trace, "  {me} => {name}: session expired").unwrap();
                } else {
                    let client = self.clients.get_mut(&name).expect("client");
                    client.session = response.session_id;
                    let (session, timeout) = (response.session_id, response.timeout_ms);
                    writeln!(self.trace, "  {me} => {name}: connected session={session} timeout={timeout}").unwrap();
                }
                None
            }
            Output::Reply { connection, header, response } => {
                let name = self.owner(connection);
                let client = self.clients.get_mut(&name).expect("client");
                client.last_zxid_seen = client.last_zxid_seen.max(header.zxid);
                let result = describe_reply(header.err, &response);
                writeln!(self.trace, "  {me} => {name}: xid={} zxid={} {result}", header.xid, header.zxid).unwrap();
                None
            }
            Output::WatchEvent { connection, zxid, event } => {
                let name = self.owner(connection);
                writeln!(self.trace, "  {me} => {name}: watch {} {} at {zxid}", event.event_type, event.path).unwrap();
                None
            }
            Output::CloseConnection { connection } => {
                let name = self.owner(connection);
                if let Some(client) = self.clients.get_mut(&name).filter(|c| c.connection == Some(connection)) {
                    client.connection = None;
                }
                writeln!(self.trace, "  {me} => {name}: close").unwrap();
                None
            }
        }
    }

    fn owner(&self, connection: ConnectionId) -> String {
        self.owners.get(&connection).cloned().expect("a scripted client's connection")
    }

    fn status(&mut self) {
        for (id, node) in &self.nodes {
            let Some(node) = node else {
                writeln!(self.trace, "  {}: down", id.0).unwrap();
                continue;
            };
            let (children, _) = node.tree().get_children("/", &AuthInfo::default()).expect("root");
            let state = describe_state(node.replica_state());
            writeln!(self.trace, "  {}: {state} zxid={} / has {children:?}", id.0, node.last_zxid()).unwrap();
        }
    }
}

/// Scripted clients.
impl Cluster {
    fn client(&mut self, words: &[&str]) {
        let name = words[0].to_string();
        assert_eq!(words[1], "on", "client NAME on SERVER COMMAND");
        let id = server(words[2]);
        match words[3] {
            "connect" => self.client_connect(name, id, false, false),
            "reconnect" => self.client_connect(name, id, true, words.get(4) == Some(&"bad-password")),
            "disconnect" => {
                let client = self.clients.get_mut(&name).expect("connected first");
                let connection = client.connection.take().expect("an open connection");
                let now = self.now;
                self.node_mut(id).expect("up").handle_client(now, connection, ClientEvent::Disconnected);
                self.drain(id);
            }
            command => {
                let client = self.clients.get_mut(&name).expect("connected first");
                assert_eq!(client.server, id, "{name} talks to server {}", client.server.0);
                let connection = client.connection.expect("an open connection");
                client.xid += 1;
                let path = words.get(4).map_or(String::new(), |w| w.to_string());
                let (op, request) = match command {
                    "create" => {
                        let flags = i32::from(words.get(5) == Some(&"ephemeral"));
                        let request = CreateRequest { path, data: vec![], acl: Acl::open_unsafe(), flags };
                        (op::CREATE, Request::Create(request))
                    }
                    "get" => (op::GET_DATA, Request::GetData(PathWatchRequest { path, watch: false })),
                    "sync" => (op::SYNC, Request::Sync(PathRequest { path })),
                    "ping" => (op::PING, Request::Ping),
                    other => panic!("unknown client command {other}"),
                };
                let header = RequestHeader { xid: client.xid, op };
                let now = self.now;
                self.node_mut(id).expect("up").handle_client(now, connection, ClientEvent::Request { header, request });
                self.drain(id);
            }
        }
    }

    fn client_connect(&mut self, name: String, id: ServerId, reconnect: bool, bad_password: bool) {
        let connection = ConnectionId(self.next_connection);
        self.next_connection += 1;
        self.owners.insert(connection, name.clone());
        let now = self.now;
        let client = self.clients.entry(name).or_insert(Client {
            server: id,
            connection: None,
            session: SessionId(0),
            xid: 0,
            last_zxid_seen: Zxid::ZERO,
        });
        let (old_server, old_connection) = (client.server, client.connection.take());
        client.server = id;
        client.connection = Some(connection);
        let mut request = ConnectRequest {
            timeout_ms: CLIENT_TIMEOUT_MS,
            passwd: vec![0; 16],
            last_zxid_seen: client.last_zxid_seen,
            ..ConnectRequest::default()
        };
        if reconnect {
            request.session_id = client.session;
            request.passwd = crate::session::session_password(client.session).to_vec();
            if bad_password {
                request.passwd[0] ^= 0xff;
            }
        }
        if let Some(old) = old_connection {
            if let Some(node) = self.node_mut(old_server) {
                node.handle_client(now, old, ClientEvent::Disconnected);
                self.drain(old_server);
            }
        }
        let address = IpAddr::V4(Ipv4Addr::LOCALHOST);
        self.node_mut(id).expect("up").handle_client(now, connection, ClientEvent::Connect { request, address });
        self.drain(id);
    }
}

fn server(word: &str) -> ServerId {
    ServerId(word.parse().expect("server id"))
}

fn describe_state(state: ReplicaState) -> String {
    match state {
        ReplicaState::Standalone => "STANDALONE".into(),
        ReplicaState::Looking => "LOOKING".into(),
        ReplicaState::Leading { epoch, established } => {
            let epoch = epoch.map_or("?".to_string(), |e| e.0.to_string());
            format!("LEADING epoch={epoch}{}", if established { " established" } else { "" })
        }
        ReplicaState::Learning { leader, observer, serving } => {
            let role = if observer { "OBSERVING" } else { "FOLLOWING" };
            format!("{role} {}{}", leader.0, if serving { " serving" } else { "" })
        }
        ReplicaState::Halted => "HALTED".into(),
    }
}

fn describe_txn(txn: &Txn) -> String {
    let zxid = txn.header.zxid;
    let session = txn.header.client_id;
    match &txn.body {
        TxnBody::Create { path, ephemeral, .. } => {
            let kind = if *ephemeral { "ephemeral " } else { "" };
            format!("{zxid} create {kind}{path} by {session}")
        }
        TxnBody::CreateSession { timeout_ms } => format!("{zxid} createSession {session} timeout={timeout_ms}"),
        TxnBody::CloseSession { paths_to_delete } => format!("{zxid} closeSession {session} {paths_to_delete:?}"),
        other => format!("{zxid} {other:?}"),
    }
}

/// One line for a peer message; `None` for election notifications (not printed).
fn describe_message(message: &PeerMessage) -> Option<String> {
    let quorum = match message {
        PeerMessage::Election(_) => return None,
        PeerMessage::SnapDatabase(_) => return Some("database".into()),
        PeerMessage::Quorum(quorum) => quorum,
    };
    Some(match quorum {
        QuorumMessage::FollowerInfo { zxid, .. } => format!("FOLLOWERINFO {zxid}"),
        QuorumMessage::ObserverInfo { zxid, .. } => format!("OBSERVERINFO {zxid}"),
        QuorumMessage::LeaderInfo { zxid, .. } => format!("LEADERINFO {zxid}"),
        QuorumMessage::AckEpoch { zxid, epoch_current } => format!("ACKEPOCH {zxid} currentEpoch={epoch_current}"),
        QuorumMessage::Diff { zxid } => format!("DIFF {zxid}"),
        QuorumMessage::Trunc { zxid } => format!("TRUNC {zxid}"),
        QuorumMessage::Snap { zxid } => format!("SNAP {zxid}"),
        QuorumMessage::NewLeader { zxid, .. } => format!("NEWLEADER {zxid}"),
        QuorumMessage::UpToDate { .. } => "UPTODATE".into(),
        QuorumMessage::Proposal { txn, .. } => format!("PROPOSAL {}", describe_txn(txn)),
        QuorumMessage::Inform { txn, .. } => format!("INFORM {}", describe_txn(txn)),
        QuorumMessage::Ack { zxid } => format!("ACK {zxid}"),
        QuorumMessage::Commit { zxid } => format!("COMMIT {zxid}"),
        QuorumMessage::Ping { zxid, sessions } => format!("PING {zxid} {sessions:?}"),
        QuorumMessage::Request { session_id, cxid, op, .. } => {
            format!("REQUEST session={session_id} cxid={cxid} op={op}")
        }
        QuorumMessage::Revalidate { session_id, timeout_ms, .. } => {
            format!("REVALIDATE session={session_id} timeout={timeout_ms}")
        }
        QuorumMessage::RevalidateReply { session_id, valid, .. } => {
            format!("REVALIDATE session={session_id} valid={valid}")
        }
        QuorumMessage::Sync { zxid } => format!("SYNC {zxid}"),
        other => format!("{other:?}"),
    })
}

fn describe_reply(err: ErrorCode, response: &Response) -> String {
    if err != ErrorCode::Ok {
        return format!("error {err:?}");
    }
    match response {
        Response::Create(path) => format!("created {path}"),
        Response::GetData { data, stat } => format!("data={data:?} mzxid={:#x}", stat.mzxid),
        Response::Sync(path) => format!("synced {path}"),
        other => format!("{other:?}"),
    }
}

/// Runs a script and returns its trace (each command echoed, then what it printed).
fn run(script: &str) -> String {
    let mut cluster: Option<Cluster> = None;
    let mut out = String::new();
    for line in script.lines().map(str::trim).filter(|l| !l.is_empty()) {
        writeln!(out, "{line}").unwrap();
        if line.starts_with('#') {
            continue;
        }
        if let Some(rest) = line.strip_prefix("add-nodes ") {
            let mut words = rest.split_whitespace();
            let voters = words.next().expect("voters").parse().expect("voter count");
            let observers =
                words.next().map_or(0, |w| w.strip_prefix("observers=").expect("observers=").parse().unwrap());
            let mut built = Cluster::new(voters, observers);
            out.push_str(&std::mem::take(&mut built.trace));
            cluster = Some(built);
            continue;
        }
        out.push_str(&cluster.as_mut().expect("add-nodes comes first").run_line(line));
    }
    out
}

macro_rules! transcript {
    ($name:ident) => {
        #[test]
        fn $name() {
            let script = include_str!(concat!("testdata/", stringify!($name), ".txt"));
            insta::assert_snapshot!(stringify!($name), run(script));
        }
    };
}

transcript!(elect_and_write_through_a_follower);
transcript!(leader_crash_keeps_the_committed_write);
transcript!(observer_learns_by_inform);

/// Three voters led by 3 (plus `observers`), and client c1's session created through 1.
fn ensemble(observers: u64) -> Cluster {
    let mut cluster = Cluster::new(3, observers);
    cluster.run_line("elect");
    cluster.run_line("client c1 on 1 connect");
    cluster.run_line("deliver-all");
    assert_eq!(cluster.node(3).replica_state(), ReplicaState::Leading { epoch: Some(Epoch(1)), established: true });
    assert_eq!(cluster.node(1).connection_session(ConnectionId(1)), Some(cluster.session("c1")));
    cluster
}

#[test]
fn a_session_moves_to_another_follower_only_once_the_leader_revalidates_it() {
    // `Learner.validateSession`: only the leader knows whether the session lives; the
    // follower answers the handshake when the leader's REVALIDATE comes back, not before.
    let mut c = ensemble(0);
    c.run_line("client c1 on 1 create /e ephemeral");
    c.run_line("deliver-all");
    let s = c.session("c1");
    let out = c.run_line("client c1 on 2 reconnect");
    assert_eq!(out, format!("  2 -> 3: REVALIDATE session={s} timeout=2000\n"), "no answer before the leader's");
    let out = c.run_line("deliver 2->3");
    assert_eq!(
        out,
        format!("  deliver 2->3: REVALIDATE session={s} timeout=2000\n  3 -> 2: REVALIDATE session={s} valid=true\n")
    );
    let out = c.run_line("deliver 3->2");
    // The session's negotiated timeout (the client asked 4000; maxSessionTimeout is 2000).
    assert_eq!(
        out,
        format!("  deliver 3->2: REVALIDATE session={s} valid=true\n  2 => c1: connected session={s} timeout=2000\n")
    );
    // Kept alive through 2 (its PINGs carry the session to the leader) for longer than its
    // timeout: the ephemeral created through 1 survives the move on every replica.
    for _ in 0..30 {
        c.run_line("idle 100");
        c.run_line("client c1 on 2 ping");
    }
    for id in 1..=3 {
        assert_eq!(c.node(id).tree().session_ephemerals(s), vec!["/e".to_string()], "server {id}");
    }
    // Once the client goes silent the leader expires it, and the ephemeral goes everywhere.
    c.run_line("client c1 on 2 disconnect");
    c.run_line("idle 3000");
    for id in 1..=3 {
        assert_eq!(c.node(id).tree().session_ephemerals(s), Vec::<String>::new(), "server {id}");
    }
}

#[test]
fn a_wrong_password_is_refused_by_the_follower_without_asking_the_leader() {
    let mut c = ensemble(0);
    let s = c.session("c1");
    assert_eq!(c.run_line("client c1 on 2 reconnect bad-password"), "  2 => c1: session expired\n  2 => c1: close\n");
    assert_eq!(c.run_line("deliver-all"), "");
    assert!(c.node(3).sessions().contains(s), "a wrong password does not end the session");
}

#[test]
fn a_session_the_leader_expired_is_refused_by_the_follower_after_revalidate() {
    let mut c = ensemble(0);
    let s = c.session("c1");
    c.run_line("client c1 on 1 create /e ephemeral");
    c.run_line("deliver-all");
    c.run_line("client c1 on 1 disconnect");
    c.run_line("idle 3000");
    assert!(!c.node(3).sessions().contains(s), "expired at the leader");
    assert_eq!(c.run_line("client c1 on 2 reconnect"), format!("  2 -> 3: REVALIDATE session={s} timeout=2000\n"));
    let expected = format!(
        "  deliver 2->3: REVALIDATE session={s} timeout=2000\n  3 -> 2: REVALIDATE session={s} valid=false\n  \
         deliver 3->2: REVALIDATE session={s} valid=false\n  2 => c1: session expired\n  2 => c1: close\n"
    );
    assert_eq!(c.run_line("deliver-all"), expected);
}

#[test]
fn sync_on_a_follower_is_answered_after_the_leaders_sync_and_every_commit_before_it() {
    // ZooKeeper's `sync`: a read after it sees every write committed before it. The leader
    // holds the SYNC until what it had proposed is committed and a quorum answered a ping sent
    // after the sync arrived (`read_index`), and sends it after those COMMITs on the same
    // ordered link; the follower answers once they are applied.
    let mut c = ensemble(0);
    c.run_line("client c2 on 3 connect");
    c.run_line("deliver-all");
    let (s1, s2) = (c.session("c1"), c.session("c2"));
    c.run_line("client c2 on 3 create /b");
    assert_eq!(c.run_line("client c1 on 1 sync /"), format!("  1 -> 3: REQUEST session={s1} cxid=1 op=9\n"));
    let out = c.run_line("deliver 1->3");
    let expected = format!(
        "  deliver 1->3: REQUEST session={s1} cxid=1 op=9\n  3 -> 1: PING 0x100000003 None\n  \
         3 -> 2: PING 0x100000003 None\n"
    );
    assert_eq!(out, expected, "held: /b is not committed; a ping round starts");
    c.run_line("deliver 3->2");
    let expected = "  deliver 2->3: ACK 0x100000003\n  3 -> 1: COMMIT 0x100000003\n  3 -> 2: COMMIT 0x100000003\n  \
         3 => c2: xid=1 zxid=0x100000003 created /b\n";
    assert_eq!(c.run_line("deliver 2->3"), expected, "committed, but no quorum answered the round yet");
    c.run_line("deliver 3->2");
    let expected = "  deliver 2->3: PING 0x100000003 Some([])\n  3 -> 1: SYNC 0x0\n";
    assert_eq!(c.run_line("deliver 2->3"), expected);
    let expected = format!(
        "  deliver 3->1: PROPOSAL 0x100000003 create /b by {s2}\n  1 log 0x100000003 create /b by {s2}\n  \
         1 -> 3: ACK 0x100000003\n"
    );
    assert_eq!(c.run_line("deliver 3->1"), expected);
    c.run_line("deliver 3->1"); // the PING
    assert_eq!(c.run_line("deliver 3->1"), "  deliver 3->1: COMMIT 0x100000003\n", "no answer before SYNC");
    let expected = "  deliver 3->1: SYNC 0x0\n  1 => c1: xid=1 zxid=0x100000003 synced /\n";
    assert_eq!(c.run_line("deliver 3->1"), expected);
    let expected = "  1 => c1: xid=2 zxid=0x100000003 data=[] mzxid=0x100000003\n";
    assert_eq!(c.run_line("client c1 on 1 get /b"), expected);
}

#[test]
fn an_observer_learns_by_inform_forwards_writes_serves_reads_and_never_counts() {
    let mut c = ensemble(1);
    assert_eq!(
        c.node(4).replica_state(),
        ReplicaState::Learning { leader: ServerId(3), observer: true, serving: true }
    );
    // With voter 2 down, the leader commits on its own ACK and 1's: never waits for 4.
    c.run_line("crash 2");
    let request = c.run_line("client c3 on 4 connect");
    let delivered = c.run_line("deliver 4->3");
    let proposed = c.run_line("deliver 3->1");
    let committed = c.run_line("deliver 1->3");
    let informed = c.run_line("deliver 3->4");
    let s = c.session("c3");
    let create_session = format!("0x100000002 createSession {s} timeout=2000");
    assert_eq!(request, format!("  4 -> 3: REQUEST session={s} cxid=0 op=-10\n"));
    let expected = format!(
        "  deliver 4->3: REQUEST session={s} cxid=0 op=-10\n  3 log {create_session}\n  \
         3 -> 1: PROPOSAL {create_session}\n  3 -> 2: PROPOSAL {create_session}\n"
    );
    assert_eq!(delivered, expected, "no PROPOSAL to the observer");
    assert_eq!(
        proposed,
        format!("  deliver 3->1: PROPOSAL {create_session}\n  1 log {create_session}\n  1 -> 3: ACK 0x100000002\n")
    );
    let expected = format!(
        "  deliver 1->3: ACK 0x100000002\n  3 -> 1: COMMIT 0x100000002\n  3 -> 2: COMMIT 0x100000002\n  \
         3 -> 4: INFORM {create_session}\n"
    );
    assert_eq!(committed, expected, "committed by 3 and 1; the observer gets INFORM");
    let expected = format!(
        "  deliver 3->4: INFORM {create_session}\n  4 log {create_session}\n  4 => c3: connected session={s} timeout=2000\n"
    );
    assert_eq!(informed, expected, "logged and applied, never acknowledged");
    // A write through the observer is forwarded and answered once its INFORM is applied.
    assert_eq!(c.run_line("client c3 on 4 create /o"), format!("  4 -> 3: REQUEST session={s} cxid=1 op=1\n"));
    let out = c.run_line("deliver-all");
    let from_observer: Vec<&str> = out.lines().filter(|l| l.starts_with("  4 ")).collect();
    let expected =
        [format!("  4 log 0x100000003 create /o by {s}"), "  4 => c3: xid=1 zxid=0x100000003 created /o".into()];
    assert_eq!(from_observer, expected);
    let expected = "  4 => c3: xid=2 zxid=0x100000003 data=[] mzxid=0x100000003\n";
    assert_eq!(c.run_line("client c3 on 4 get /o"), expected);
    // With 1 down too, the observer still answers the leader's PINGs, but it is no voter: the
    // leader steps down within syncLimit, and no election succeeds without a voter quorum.
    c.run_line("crash 1");
    c.run_line("idle 1000");
    assert_eq!(c.node(3).replica_state(), ReplicaState::Looking);
    c.run_line("idle 5000");
    assert_eq!(c.node(3).replica_state(), ReplicaState::Looking);
    assert!(!c.node(4).is_serving());
}

#[test]
fn a_leader_answers_a_sync_of_its_own_client_once_a_quorum_answered_a_ping_sent_after_it() {
    let mut c = ensemble(0);
    c.run_line("client c2 on 3 connect");
    c.run_line("deliver-all");
    let ping = "  3 -> 1: PING 0x100000002 None\n  3 -> 2: PING 0x100000002 None\n";
    assert_eq!(c.run_line("client c2 on 3 sync /"), ping, "a ping round, no answer yet");
    assert_eq!(c.run_line("client c2 on 3 get /"), "", "the read waits behind the sync");
    assert_eq!(
        c.run_line("deliver 3->2"),
        "  deliver 3->2: PING 0x100000002 None\n  2 -> 3: PING 0x100000002 Some([])\n"
    );
    let expected = "  deliver 2->3: PING 0x100000002 Some([])\n  3 => c2: xid=1 zxid=0x100000002 synced /\n  \
         3 => c2: xid=2 zxid=0x100000002 data=[] mzxid=0x0\n";
    assert_eq!(c.run_line("deliver 2->3"), expected, "2 and the leader are a quorum");
}

#[test]
fn zookeeper_1675_a_leader_cut_off_from_its_quorum_never_answers_a_sync() {
    // ZOOKEEPER-1675: ZooKeeper's leader answers a sync from its own state, so one that lost
    // its followers (who may have elected a successor already) serves a stale "sync + read"
    // until it notices, syncLimit ticks later. Here the sync waits for a quorum's answers to a
    // ping sent after it; with both followers gone none come, and the leader steps down.
    let mut c = ensemble(0);
    c.run_line("client c2 on 3 connect");
    c.run_line("deliver-all");
    c.run_line("crash 1");
    c.run_line("crash 2");
    let ping = "  3 -> 1: PING 0x100000002 None\n  3 -> 2: PING 0x100000002 None\n";
    assert_eq!(c.run_line("client c2 on 3 sync /"), ping);
    assert_eq!(c.run_line("client c2 on 3 get /"), "");
    let later = c.run_line("idle 6000");
    assert!(!later.contains("=> c2: xid"), "no answer to the sync or the read:\n{later}");
    assert!(later.contains("3 => c2: close\n  3: LOOKING\n"), "the leader steps down:\n{later}");
}

#[test]
fn the_leader_counts_its_learners_and_pending_syncs_for_mntr() {
    let mut c = ensemble(1);
    let counts = LeaderCounts { learners: 3, synced_followers: 2, synced_observers: 1, pending_syncs: 0 };
    assert_eq!(c.node(3).leader_counts(), Some(counts));
    assert_eq!(c.node(1).leader_counts(), None, "a follower counts nothing");
    assert_eq!((c.node(3).quorum_size(), c.node(4).quorum_size()), (Some(3), Some(3)), "observers do not vote");
    c.run_line("client c2 on 3 connect");
    c.run_line("deliver-all");
    c.run_line("client c2 on 3 sync /");
    assert_eq!(c.node(3).leader_counts().map(|n| n.pending_syncs), Some(1), "waiting for a quorum's PING answers");
    c.run_line("deliver-all");
    assert_eq!(c.node(3).leader_counts().map(|n| n.pending_syncs), Some(0));
}

// ---- ZOOKEEPER-1277: the zxid counter runs out (branch `rollover`) ----

impl Cluster {
    /// `voters` fresh servers whose first leader numbers its first proposal from `start`
    /// ([`Config::zxid_counter_start`]), elected, with nothing written yet.
    fn with_zxid_counter_start(voters: u64, start: u32) -> Cluster {
        let mut cluster = Cluster::new(voters, 0);
        cluster.network.clear(); // the first notifications of the nodes about to be replaced
        let ids: Vec<ServerId> = cluster.nodes.keys().copied().collect();
        for id in ids {
            let mut config = cluster.node(id.0).config.clone();
            config.zxid_counter_start = start;
            cluster.nodes.insert(id, Some(Node::new(config, DurableState::default(), Millis(0), id.0)));
            cluster.drain(id);
        }
        cluster.run_line("elect");
        cluster.trace.clear();
        cluster
    }
}

/// Runs `lines` in order and returns everything they printed.
fn run_lines(cluster: &mut Cluster, lines: &[&str]) -> String {
    lines.iter().map(|line| cluster.run_line(line)).collect()
}

/// The transactions server `id` logged in `trace`, in order.
fn logged_by(trace: &str, id: u64) -> Vec<&str> {
    trace.lines().filter_map(|l| l.strip_prefix(&format!("  {id} log "))).collect()
}

#[test]
fn zookeeper_1277_a_leader_out_of_zxid_counter_elects_again_and_the_new_epoch_counts_from_one() {
    // `Leader.propose` refuses the zxid whose counter has all 32 bits set and gives up
    // leading (ZOOKEEPER-1277); ZooKeeper's `ZxidRolloverTest` then finds every write
    // acknowledged before it on the new leader and the write that hit the limit nowhere.
    use crate::constants::ZXID_COUNTER_MAX;
    let mut c = Cluster::with_zxid_counter_start(3, ZXID_COUNTER_MAX - 4);
    assert_eq!(c.node(3).replica_state(), ReplicaState::Leading { epoch: Some(Epoch(1)), established: true });
    let before = run_lines(
        &mut c,
        &[
            "client c1 on 1 connect",
            "deliver-all",
            "client c2 on 3 connect",
            "deliver-all",
            "client c1 on 1 create /a",
            "deliver-all",
            "client c2 on 3 create /b",
            "deliver-all",
        ],
    );
    let (s1, s2) = (c.session("c1"), c.session("c2"));
    let expected = [
        format!("0x1fffffffb createSession {s1} timeout=2000"),
        format!("0x1fffffffc createSession {s2} timeout=2000"),
        format!("0x1fffffffd create /a by {s1}"),
        format!("0x1fffffffe create /b by {s2}"),
    ];
    assert_eq!(logged_by(&before, 3), expected, "the last counter proposed is 0xfffffffe");
    assert!(before.contains("  1 => c1: xid=1 zxid=0x1fffffffd created /a\n"));
    assert!(before.contains("  3 => c2: xid=1 zxid=0x1fffffffe created /b\n"));
    // The next write would take counter 0xffffffff: the leader closes its quorum links and
    // its clients (they see a connection loss) and elects again, proposing nothing.
    let step_down =
        "  3 closes its quorum link to 1\n  3 closes its quorum link to 2\n  3 => c2: close\n  3: LOOKING\n";
    assert_eq!(c.run_line("client c2 on 3 create /c"), step_down);
    // A write through a follower that has not yet heard the close is lost on the closed
    // link; the follower hears the FIN, elects at once (not after syncLimit) and closes its
    // client too. Neither write is ever answered.
    assert_eq!(c.run_line("client c1 on 1 create /d"), format!("  1 -> 3: REQUEST session={s1} cxid=2 op=1\n"));
    let after = run_lines(&mut c, &["deliver-all", "idle 1000", "elect"]);
    assert!(
        after.contains("  deliver 3->1: FIN\n  1 closes its quorum link to 3\n  1 => c1: close\n  1: LOOKING\n"),
        "{after}"
    );
    assert!(!after.contains("REQUEST"), "the forwarded write is lost with the link:\n{after}");
    assert!(
        !after.contains("=> c1: xid=") && !after.contains("=> c2"),
        "no answer to the writes past the limit:\n{after}"
    );
    let status = c.run_line("status");
    let expected = "  1: FOLLOWING 2 serving zxid=0x1fffffffe / has [\"a\", \"b\", \"zookeeper\"]\n  \
         2: LEADING epoch=2 established zxid=0x1fffffffe / has [\"a\", \"b\", \"zookeeper\"]\n  \
         3: FOLLOWING 2 serving zxid=0x1fffffffe / has [\"a\", \"b\", \"zookeeper\"]\n";
    assert_eq!(status, expected, "a new epoch over every acknowledged write; /c and /d nowhere");
    // The new epoch's counter starts over.
    let out =
        run_lines(&mut c, &["client c1 on 1 reconnect", "deliver-all", "client c1 on 1 create /e", "deliver-all"]);
    assert_eq!(logged_by(&out, 2), [format!("0x200000001 create /e by {s1}")]);
    assert!(out.contains("  1 => c1: xid=3 zxid=0x200000001 created /e\n"), "{out}");
}

#[test]
fn zookeeper_1277_a_proposal_in_flight_when_the_leader_gives_up_is_never_acknowledged_by_it() {
    // The last proposal of the epoch is logged by the followers, but their ACKs are lost on
    // the quorum links the leader closed when it stopped leading: its client hears nothing,
    // and whether the write survives is up to the next leader's history (here it does: every
    // log holds it).
    use crate::constants::ZXID_COUNTER_MAX;
    let mut c = Cluster::with_zxid_counter_start(3, ZXID_COUNTER_MAX - 2);
    run_lines(&mut c, &["client c2 on 3 connect", "deliver-all"]);
    let s2 = c.session("c2");
    let proposed = c.run_line("client c2 on 3 create /b");
    let create_b = format!("0x1fffffffe create /b by {s2}");
    assert_eq!(logged_by(&proposed, 3), [create_b.as_str()]);
    // The followers' ACKs are lost with the quorum links the leader closed when it gave up.
    let step_down = c.run_line("client c2 on 3 create /c");
    assert!(
        step_down.starts_with("  3 closes its quorum link to 1\n  3 closes its quorum link to 2\n  3 => c2: close\n")
    );
    let after = run_lines(&mut c, &["deliver-all", "idle 1000", "elect"]);
    assert!(after.contains("  1 -> 3: ACK 0x1fffffffe\n"), "{after}");
    assert!(!after.contains("deliver 1->3: ACK 0x1fffffffe") && !after.contains("deliver 2->3: ACK"), "{after}");
    assert!(!after.contains("=> c2"), "nothing answered to c2:\n{after}");
    assert_eq!(logged_by(&after, 1), [create_b.as_str()]);
    for id in 1..=3 {
        assert_eq!(c.node(id).last_zxid(), Zxid(0x1_ffff_fffe), "server {id}");
        assert!(c.node(id).tree().get_children("/", &AuthInfo::default()).expect("root").0.contains(&"b".into()));
    }
    let leading = ReplicaState::Leading { epoch: Some(Epoch(2)), established: true };
    let leaders: Vec<u64> = (1..=3).filter(|id| c.node(*id).replica_state() == leading).collect();
    assert_eq!(leaders.len(), 1, "one leader, of epoch 2");
}

#[test]
fn zookeeper_1277_a_standalone_server_carries_its_counter_into_the_high_bits_as_zookeeper_does() {
    // `ZooKeeperServer.getNextZxid` is a plain 64-bit increment: only a leader checks the
    // counter. A standalone server has no epochs to protect, so its zxids simply go on.
    let txn = crate::txn::Txn {
        header: crate::txn::TxnHeader {
            client_id: SessionId(0),
            cxid: 0,
            zxid: Zxid(0xffff_fffe),
            time: 0,
            op: op::CREATE,
        },
        body: TxnBody::Create {
            path: "/before".into(),
            data: vec![],
            acl: Acl::open_unsafe(),
            ephemeral: false,
            parent_cversion: 1,
        },
    };
    let durable = DurableState { log: vec![txn], ..DurableState::default() };
    let mut node = Node::new(Config::standalone(TICK_MS), durable, Millis(0), 1);
    assert_eq!(node.last_zxid(), Zxid(0xffff_fffe));
    let mut outputs = Vec::new();
    let request = ConnectRequest::new_session(CLIENT_TIMEOUT_MS);
    let address = IpAddr::V4(Ipv4Addr::LOCALHOST);
    node.handle_client(Millis(0), ConnectionId(1), ClientEvent::Connect { request, address });
    standalone_drain(&mut node, &mut outputs);
    for (xid, path) in [(1, "/after"), (2, "/later")] {
        let request = CreateRequest { path: path.into(), data: vec![], acl: Acl::open_unsafe(), flags: 0 };
        let header = RequestHeader { xid, op: op::CREATE };
        node.handle_client(
            Millis(0),
            ConnectionId(1),
            ClientEvent::Request { header, request: Request::Create(request) },
        );
        standalone_drain(&mut node, &mut outputs);
    }
    let replies: Vec<(i32, Zxid)> = outputs
        .iter()
        .filter_map(|o| match o {
            Output::Reply { header, .. } => Some((header.xid, header.zxid)),
            _ => None,
        })
        .collect();
    assert_eq!(replies, [(1, Zxid(0x1_0000_0000)), (2, Zxid(0x1_0000_0001))]);
    let logged: Vec<Zxid> = outputs
        .iter()
        .filter_map(|o| match o {
            Output::Persist { txns, .. } => Some(txns.iter().map(|t| t.header.zxid)),
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(logged, [Zxid(0xffff_ffff), Zxid(0x1_0000_0000), Zxid(0x1_0000_0001)]);
    let (children, _) = node.tree().get_children("/", &AuthInfo::default()).expect("root");
    assert_eq!(children, ["after", "before", "later", "zookeeper"]);
}

/// Executes a standalone node's outputs, reporting every persist durable at once.
fn standalone_drain(node: &mut Node, seen: &mut Vec<Output>) {
    while let Some(output) = node.poll_output() {
        node.check_invariants();
        if let Output::Persist { token, .. } = &output {
            let token = *token;
            seen.push(output);
            node.handle_persisted(Millis(0), token);
        } else {
            seen.push(output);
        }
    }
    node.check_invariants();
}

#[test]
fn a_leader_closes_the_link_of_a_learner_that_stopped_acknowledging_and_keeps_leading() {
    // `SyncLimitCheck`: a follower that leaves a proposal unacknowledged for syncLimit ticks
    // is dropped, and its socket closed, so it notices and registers again; the leader keeps
    // its quorum with the other follower.
    let mut c = ensemble(0);
    c.run_line("client c2 on 3 connect");
    c.run_line("deliver-all");
    c.run_line("crash 1");
    c.run_line("client c2 on 3 create /a");
    let later = c.run_line("idle 1000");
    assert!(later.contains("  3 closes its quorum link to 1\n"), "{later}");
    assert!(!later.contains("closes its quorum link to 2"), "{later}");
    assert!(later.contains("3 => c2: xid=1"), "the write commits with the other follower:\n{later}");
    assert_eq!(c.node(3).replica_state(), ReplicaState::Leading { epoch: Some(Epoch(1)), established: true });
}

#[test]
fn a_leader_closes_the_link_of_a_learner_it_does_not_hold() {
    // A learner the leader forgot (dropped, or registered with an older leader on the same
    // server) must register again: the leader closes its link instead of answering, as
    // ZooKeeper's leader has no LearnerHandler for it and the socket is gone.
    let mut c = ensemble(0);
    let leader = c.node_mut(ServerId(3)).expect("up");
    leader.handle_peer_disconnected(Millis(0), ServerId(1));
    leader.handle_peer_message(
        Millis(0),
        ServerId(1),
        PeerMessage::Quorum(QuorumMessage::Ping { zxid: Zxid(0), sessions: None }),
    );
    let mut outputs = Vec::new();
    while let Some(output) = c.node_mut(ServerId(3)).and_then(Node::poll_output) {
        outputs.push(output);
    }
    assert_eq!(outputs, vec![Output::ClosePeer { peer: ServerId(1) }]);
}

#[test]
fn a_leader_closes_the_link_of_a_learner_silent_for_sync_limit_even_with_nothing_to_acknowledge() {
    // The read timeout of ZooKeeper's `LearnerHandler`: a follower that answers not even a
    // PING for syncLimit ticks is dropped and its link closed, so a paused follower notices
    // at once when it resumes instead of after its own read timeout.
    let mut c = ensemble(0);
    c.run_line("crash 1");
    let later = c.run_line("idle 1000");
    assert!(later.contains("  3 closes its quorum link to 1\n"), "{later}");
    assert_eq!(c.node(3).replica_state(), ReplicaState::Leading { epoch: Some(Epoch(1)), established: true });
}

#[test]
fn a_follower_closes_the_link_of_a_server_that_registers_with_it_as_leader() {
    // A server that took us for its leader waits initLimit ticks for a LEADERINFO that never
    // comes unless we close its link (an Apache follower has no quorum port open at all).
    let mut c = ensemble(0);
    let info =
        crate::wire::quorum::LearnerInfo { server_id: ServerId(2), protocol_version: 0x10000, config_version: 0 };
    let register = QuorumMessage::FollowerInfo { zxid: Zxid(0), info };
    let follower = c.node_mut(ServerId(1)).expect("up");
    follower.handle_peer_message(Millis(0), ServerId(2), PeerMessage::Quorum(register));
    let mut outputs = Vec::new();
    while let Some(output) = c.node_mut(ServerId(1)).and_then(Node::poll_output) {
        outputs.push(output);
    }
    assert_eq!(outputs, vec![Output::ClosePeer { peer: ServerId(2) }]);
}
