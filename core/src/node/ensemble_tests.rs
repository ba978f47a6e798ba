//! A deterministic multi-node harness over virtual time, in the spirit of
//! `election/harness.rs`: seeded message delays (FIFO per ordered pair of servers, as TCP),
//! partitions that drop what crosses them, crashes that lose every write not yet reported
//! durable, restarts from the in-memory disk, and clients writing through every member.
//!
//! Checked after every step: at most one established leader per epoch (Zab's primary
//! uniqueness); equal zxid means equal transaction on every replica that applied it
//! (prefix agreement) and equal tree digest; each disk log grows in zxid order. Checked at the
//! end of a run: once faults heal, a leader is established, every member serves, a fresh write
//! through a follower completes within a bounded time, every acknowledged write is on every
//! replica, and the replicas' trees are equal. Clients keep their session when they
//! reconnect, and every `sync` answer must reach the newest write acknowledged before it.

use super::*;
use crate::error::ErrorCode;
use crate::txn::Txn;
use crate::wire::client::{op, Acl, CreateRequest};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

const TICK_MS: u64 = 100;
const STEPS_MAX: usize = 400_000;

/// What a server keeps on disk, changed only when a write is reported durable.
#[derive(Clone, Debug, Default)]
struct Disk {
    snapshot: Option<Snapshot>,
    log: Vec<Txn>,
    epoch_accepted: Epoch,
    epoch_current: Epoch,
}

impl Disk {
    fn durable(&self) -> DurableState {
        DurableState {
            snapshot: self.snapshot.clone(),
            log: self.log.clone(),
            epoch_accepted: self.epoch_accepted,
            epoch_current: self.epoch_current,
        }
    }

    fn execute(&mut self, write: &DiskWrite) {
        match write {
            DiskWrite::Log(txns) => {
                for txn in txns {
                    let last = self.log.last().map(|t| t.header.zxid).or(self.snapshot.as_ref().map(|s| s.zxid));
                    assert!(last.is_none_or(|last| txn.header.zxid > last), "disk log must grow in zxid order");
                    self.log.push(txn.clone());
                }
            }
            DiskWrite::Epoch { accepted, current } => {
                if let Some(epoch) = accepted {
                    self.epoch_accepted = *epoch;
                }
                if let Some(epoch) = current {
                    assert!(*epoch <= self.epoch_accepted, "currentEpoch never passes acceptedEpoch");
                    self.epoch_current = *epoch;
                }
            }
            DiskWrite::Truncate(after) => {
                assert!(self.snapshot.as_ref().is_none_or(|s| s.zxid <= *after), "TRUNC below a SNAP");
                self.log.retain(|t| t.header.zxid <= *after);
            }
            DiskWrite::Reset(snapshot) => {
                self.snapshot = Some((**snapshot).clone());
                self.log.clear();
            }
        }
    }
}

#[derive(Clone, Debug)]
enum DiskWrite {
    Log(Vec<Txn>),
    Epoch { accepted: Option<Epoch>, current: Option<Epoch> },
    Truncate(Zxid),
    Reset(Box<Snapshot>),
}

struct Member {
    node: Option<Node>,
    config: Config,
    disk: Disk,
    /// Writes handed to the disk, completing in order at their times.
    writing: VecDeque<(Millis, DiskWrite, PersistToken)>,
    restarts: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum ClientState {
    Disconnected,
    Connecting(ConnectionId),
    Idle(ConnectionId),
    Waiting {
        connection: ConnectionId,
        path: String,
        ephemeral: bool,
    },
    /// A `sync` sent when the newest write acknowledged to any client had this zxid.
    Syncing {
        connection: ConnectionId,
        required: Zxid,
    },
}

struct Client {
    state: ClientState,
    server: ServerId,
    next_at: Millis,
    ops: u64,
    last_zxid_seen: Zxid,
    /// The session to present when reconnecting (0: none yet, or it expired).
    session: SessionId,
}

struct Ensemble {
    rng: ChaCha8Rng,
    now: Millis,
    members: BTreeMap<ServerId, Member>,
    /// (deliver at, sequence) → (from, to, message).
    network: BTreeMap<(Millis, u64), (ServerId, ServerId, PeerMessage)>,
    link_last: BTreeMap<(ServerId, ServerId), Millis>,
    sequence: u64,
    cut: BTreeSet<(ServerId, ServerId)>,
    /// Quorum connections that lost a message to a cut. TCP never loses a message and goes
    /// on: the connection is broken, so nothing more passes on it until the learner
    /// registers again (a new connection), whether or not the ends were told.
    broken: BTreeSet<(ServerId, ServerId)>,
    /// Whether cuts are reported to both ends (a TCP reset) or only found by timeouts.
    report_disconnects: bool,
    clients: Vec<Client>,
    connections: BTreeMap<ConnectionId, (usize, ServerId)>,
    next_connection: u64,
    acked: BTreeSet<String>,
    /// The newest zxid of a write acknowledged to a client: a later `sync` must reach it.
    acked_zxid_max: Zxid,
    seed: u64,
    leaders: BTreeMap<Epoch, ServerId>,
    applied: BTreeMap<Zxid, Txn>,
    digests: BTreeMap<Zxid, u64>,
    steps: usize,
    coverage: Coverage,
}

/// How often the rare paths ran, so a sweep that never reaches them fails.
#[derive(Clone, Copy, Debug, Default)]
struct Coverage {
    truncates: u64,
    snaps: u64,
    restarts_for_trunc: u64,
    session_closes: u64,
    /// `sync`s answered (each checked against the newest acknowledged write when sent).
    syncs: u64,
    /// Reconnections that kept their session (any member, chosen at random; a learner asks
    /// its leader with REVALIDATE first).
    sessions_resumed: u64,
}

impl Coverage {
    fn add(&mut self, other: Coverage) {
        self.truncates += other.truncates;
        self.snaps += other.snaps;
        self.restarts_for_trunc += other.restarts_for_trunc;
        self.session_closes += other.session_closes;
        self.syncs += other.syncs;
        self.sessions_resumed += other.sessions_resumed;
    }
}

impl Ensemble {
    fn new(seed: u64, voters: u64, observers: u64, clients: usize) -> Ensemble {
        let mut peers = BTreeMap::new();
        for id in 1..=voters {
            peers.insert(ServerId(id), PeerRole::Participant);
        }
        for id in voters + 1..=voters + observers {
            peers.insert(ServerId(id), PeerRole::Observer);
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let commit_log_count = rng.gen_range(2..20);
        let snap_count = rng.gen_range(4..40);
        let mut members = BTreeMap::new();
        for id in peers.keys() {
            let mut config = Config::ensemble(*id, TICK_MS, peers.clone());
            config.commit_log_count = commit_log_count;
            config.snap_count = snap_count;
            let node = Node::new(config.clone(), DurableState::default(), Millis(0), seed ^ id.0);
            members.insert(
                *id,
                Member { node: Some(node), config, disk: Disk::default(), writing: VecDeque::new(), restarts: 0 },
            );
        }
        let ids: Vec<ServerId> = peers.keys().copied().collect();
        let clients = (0..clients)
            .map(|i| Client {
                state: ClientState::Disconnected,
                server: ids[i % ids.len()],
                next_at: Millis(500 + i as u64 * 37),
                ops: 0,
                last_zxid_seen: Zxid::ZERO,
                session: SessionId(0),
            })
            .collect();
        let report_disconnects = rng.gen_bool(0.5);
        let mut ensemble = Ensemble {
            rng,
            now: Millis(0),
            members,
            network: BTreeMap::new(),
            link_last: BTreeMap::new(),
            sequence: 0,
            cut: BTreeSet::new(),
            broken: BTreeSet::new(),
            report_disconnects,
            clients,
            connections: BTreeMap::new(),
            next_connection: 1,
            acked: BTreeSet::new(),
            acked_zxid_max: Zxid::ZERO,
            seed,
            leaders: BTreeMap::new(),
            applied: BTreeMap::new(),
            digests: BTreeMap::new(),
            steps: 0,
            coverage: Coverage::default(),
        };
        for id in ids {
            ensemble.drain(id);
        }
        ensemble
    }

    fn ids(&self) -> Vec<ServerId> {
        self.members.keys().copied().collect()
    }

    /// Executes a node's outputs, then checks it and the ensemble-wide properties.
    fn drain(&mut self, id: ServerId) {
        let mut restart = false;
        let mut closes = Vec::new();
        loop {
            let member = self.members.get_mut(&id).expect("member");
            let Some(node) = member.node.as_mut() else { return };
            node.check_invariants();
            let Some(output) = node.poll_output() else { break };
            let disk_delay = self.rng.gen_range(0..4);
            let member = self.members.get_mut(&id).expect("member");
            let done_at = member.writing.back().map_or(self.now, |(at, _, _)| *at).max(self.now).plus(disk_delay);
            match output {
                Output::Send { to, message } => self.send(id, to, message),
                Output::Persist { txns, token } => {
                    let closes = txns.iter().filter(|t| matches!(t.body, crate::txn::TxnBody::CloseSession { .. }));
                    self.coverage.session_closes += closes.count() as u64;
                    member.writing.push_back((done_at, DiskWrite::Log(txns), token))
                }
                Output::PersistEpoch { accepted, current, token } => {
                    member.writing.push_back((done_at, DiskWrite::Epoch { accepted, current }, token))
                }
                Output::Truncate { after, token } => {
                    self.coverage.truncates += 1;
                    member.writing.push_back((done_at, DiskWrite::Truncate(after), token))
                }
                Output::ResetToSnapshot { snapshot, token } => {
                    self.coverage.snaps += 1;
                    member.writing.push_back((done_at, DiskWrite::Reset(snapshot), token))
                }
                Output::WriteSnapshot { .. } => {} // The log covers it.
                Output::Restart => {
                    self.coverage.restarts_for_trunc += 1;
                    restart = true
                }
                Output::Connected { connection, response } => self.client_connected(connection, response.session_id),
                Output::Reply { connection, header, .. } => self.client_reply(connection, header),
                Output::WatchEvent { .. } => {}
                Output::CloseConnection { connection } => self.client_closed(connection),
                Output::ClosePeer { peer } => closes.push(peer),
            }
        }
        for peer in closes {
            self.close_quorum(id, peer);
        }
        self.check_node(id);
        if restart {
            self.restart(id);
        }
    }

    fn send(&mut self, from: ServerId, to: ServerId, message: PeerMessage) {
        let up = self.members[&to].node.is_some();
        let pair = (from.min(to), from.max(to));
        let quorum = !matches!(message, PeerMessage::Election(_));
        let registers = matches!(
            message,
            PeerMessage::Quorum(
                crate::wire::quorum::QuorumMessage::FollowerInfo { .. }
                    | crate::wire::quorum::QuorumMessage::ObserverInfo { .. }
            )
        );
        if quorum && self.is_cut(from, to) {
            self.broken.insert(pair);
        }
        if !up || self.is_cut(from, to) {
            return;
        }
        if registers {
            self.broken.remove(&pair);
        }
        if quorum && self.broken.contains(&pair) {
            return;
        }
        let delay = self.rng.gen_range(1..15);
        let last = self.link_last.get(&(from, to)).copied().unwrap_or_default();
        let at = self.now.plus(delay).max(last);
        self.link_last.insert((from, to), at);
        self.sequence += 1;
        self.network.insert((at, self.sequence), (from, to, message));
    }

    /// `id` closed its quorum connection to `peer`: what is in flight on it is gone (a
    /// model coarser than TCP, which would deliver the closer's last messages before the
    /// FIN), nothing more passes until the learner registers again, and the peer hears of it.
    fn close_quorum(&mut self, id: ServerId, peer: ServerId) {
        let pair = (id.min(peer), id.max(peer));
        self.network.retain(|_, (from, to, message)| {
            (*from).min(*to) != pair.0 || (*from).max(*to) != pair.1 || matches!(message, PeerMessage::Election(_))
        });
        self.broken.insert(pair);
        if let Some(node) = self.members.get_mut(&peer).and_then(|m| m.node.as_mut()) {
            node.handle_peer_disconnected(self.now, id);
            self.drain(peer);
        }
    }

    fn is_cut(&self, a: ServerId, b: ServerId) -> bool {
        self.cut.contains(&(a.min(b), a.max(b)))
    }

    fn check_node(&mut self, id: ServerId) {
        let Some(node) = self.members[&id].node.as_ref() else { return };
        if let ReplicaState::Leading { epoch: Some(epoch), established: true } = node.replica_state() {
            let leader = *self.leaders.entry(epoch).or_insert(id);
            assert_eq!(leader, id, "two leaders established in epoch {}", epoch.0);
        }
        let zxid = node.last_zxid();
        let digest = node.tree().digest();
        let seen = *self.digests.entry(zxid).or_insert(digest);
        assert_eq!(seen, digest, "server {} has another tree at zxid {zxid}", id.0);
        let disk = &self.members[&id].disk;
        for txn in disk.log.iter().filter(|t| t.header.zxid <= zxid) {
            let known = self.applied.entry(txn.header.zxid).or_insert_with(|| txn.clone());
            assert_eq!(known, txn, "server {} applied another transaction at {}", id.0, txn.header.zxid);
        }
    }

    fn crash(&mut self, id: ServerId) {
        let member = self.members.get_mut(&id).expect("member");
        if member.node.take().is_none() {
            return;
        }
        member.writing.clear(); // Not reported durable: lost.
        self.network.retain(|_, (from, to, _)| *from != id && *to != id);
        let dropped: Vec<ConnectionId> =
            self.connections.iter().filter(|(_, (_, server))| *server == id).map(|(c, _)| *c).collect();
        for connection in dropped {
            self.client_closed(connection);
        }
    }

    fn restart(&mut self, id: ServerId) {
        self.crash(id);
        let seed = self.rng.gen();
        let member = self.members.get_mut(&id).expect("member");
        member.restarts += 1;
        let node = Node::new(member.config.clone(), member.disk.durable(), self.now, seed);
        member.node = Some(node);
        self.drain(id);
    }

    fn partition(&mut self, pairs: BTreeSet<(ServerId, ServerId)>) {
        for (from, to, message) in self.network.values() {
            let pair = ((*from).min(*to), (*from).max(*to));
            if pairs.contains(&pair) && !matches!(message, PeerMessage::Election(_)) {
                self.broken.insert(pair);
            }
        }
        self.network.retain(|_, (from, to, _)| !pairs.contains(&((*from).min(*to), (*from).max(*to))));
        self.cut.extend(pairs.iter().copied());
        if self.report_disconnects {
            for (a, b) in pairs {
                for (me, peer) in [(a, b), (b, a)] {
                    if let Some(node) = self.members.get_mut(&me).and_then(|m| m.node.as_mut()) {
                        node.handle_peer_disconnected(self.now, peer);
                        self.drain(me);
                    }
                }
            }
        }
    }

    fn heal(&mut self) {
        self.cut.clear();
    }

    /// Runs every event up to `until`, one at a time in time order.
    fn run_until(&mut self, until: Millis) {
        loop {
            self.steps += 1;
            assert!(self.steps < STEPS_MAX, "livelock: too many steps");
            let next_message = self.network.keys().next().map(|(at, _)| *at);
            let next_disk = self.members.values().filter_map(|m| m.writing.front().map(|(at, _, _)| *at)).min();
            let next_timer = self.members.values().filter_map(|m| m.node.as_ref().and_then(Node::poll_timeout)).min();
            let next_client = self.clients.iter().map(|c| c.next_at).min();
            let Some(at) = [next_message, next_disk, next_timer, next_client].into_iter().flatten().min() else {
                break;
            };
            if at > until {
                break;
            }
            self.now = self.now.max(at);
            if next_message == Some(at) {
                let ((_, _), (from, to, message)) = self.network.pop_first().expect("next message");
                if let Some(node) = self.members.get_mut(&to).and_then(|m| m.node.as_mut()) {
                    node.handle_peer_message(self.now, from, message);
                    self.drain(to);
                }
            } else if next_disk == Some(at) {
                let id = *self
                    .members
                    .iter()
                    .find(|(_, m)| m.writing.front().is_some_and(|(t, _, _)| *t == at))
                    .expect("due")
                    .0;
                let member = self.members.get_mut(&id).expect("member");
                let (_, write, token) = member.writing.pop_front().expect("due");
                member.disk.execute(&write);
                member.node.as_mut().expect("a down server writes nothing").handle_persisted(self.now, token);
                self.drain(id);
            } else if next_timer == Some(at) {
                let id = *self
                    .members
                    .iter()
                    .find(|(_, m)| m.node.as_ref().and_then(Node::poll_timeout) == Some(at))
                    .expect("due")
                    .0;
                self.members.get_mut(&id).and_then(|m| m.node.as_mut()).expect("up").handle_timeout(self.now);
                self.drain(id);
            } else {
                let index = self.clients.iter().position(|c| c.next_at == at).expect("due");
                self.client_step(index);
            }
        }
        self.now = self.now.max(until);
    }
}

/// Simulated clients: create znodes one at a time, reconnect elsewhere when cut off.
impl Ensemble {
    fn client_step(&mut self, index: usize) {
        let ids = self.ids();
        let acked_zxid_max = self.acked_zxid_max;
        let client = &mut self.clients[index];
        client.next_at = Millis(u64::MAX);
        match client.state.clone() {
            ClientState::Disconnected => {
                let server = ids[self.rng.gen_range(0..ids.len())];
                let connection = ConnectionId(self.next_connection);
                self.next_connection += 1;
                let client = &mut self.clients[index];
                client.server = server;
                client.state = ClientState::Connecting(connection);
                // A client keeps its session across servers (ZooKeeper's client does).
                let passwd = match client.session {
                    SessionId(0) => vec![0; 16],
                    session => crate::session::session_password(session).to_vec(),
                };
                let request = ConnectRequest {
                    timeout_ms: 1000,
                    passwd,
                    session_id: client.session,
                    last_zxid_seen: client.last_zxid_seen,
                    ..ConnectRequest::default()
                };
                self.connections.insert(connection, (index, server));
                let address = IpAddr::V4(Ipv4Addr::LOCALHOST);
                match self.members.get_mut(&server).and_then(|m| m.node.as_mut()) {
                    Some(node) => {
                        node.handle_client(self.now, connection, ClientEvent::Connect { request, address });
                        self.drain(server);
                    }
                    None => self.client_closed(connection),
                }
            }
            ClientState::Idle(connection) if client.ops % 4 == 2 => {
                client.ops += 1;
                client.state = ClientState::Syncing { connection, required: acked_zxid_max };
                let server = client.server;
                let request = Request::Sync(crate::wire::client::PathRequest { path: "/".into() });
                let header = RequestHeader { xid: client.ops as i32, op: op::SYNC };
                let node =
                    self.members.get_mut(&server).and_then(|m| m.node.as_mut()).expect("connected to a live server");
                node.handle_client(self.now, connection, ClientEvent::Request { header, request });
                self.drain(server);
            }
            ClientState::Idle(connection) => {
                client.ops += 1;
                let ephemeral = client.ops % 3 == 0;
                let path = format!("/c{index}-{}", client.ops);
                client.state = ClientState::Waiting { connection, path: path.clone(), ephemeral };
                let server = client.server;
                let request = Request::Create(CreateRequest {
                    path,
                    data: vec![index as u8],
                    acl: Acl::open_unsafe(),
                    flags: i32::from(ephemeral),
                });
                let header = RequestHeader { xid: client.ops as i32, op: op::CREATE };
                let node =
                    self.members.get_mut(&server).and_then(|m| m.node.as_mut()).expect("connected to a live server");
                node.handle_client(self.now, connection, ClientEvent::Request { header, request });
                self.drain(server);
            }
            ClientState::Connecting(_) | ClientState::Waiting { .. } | ClientState::Syncing { .. } => {}
        }
    }

    fn client_connected(&mut self, connection: ConnectionId, session: SessionId) {
        let Some((index, _)) = self.connections.get(&connection).copied() else { return };
        let client = &mut self.clients[index];
        if session == SessionId(0) {
            client.session = SessionId(0); // Expired: a close follows; the next is a new one.
            return;
        }
        if client.session == session {
            self.coverage.sessions_resumed += 1;
        }
        client.session = session;
        let pause = self.rng.gen_range(5..60);
        let client = &mut self.clients[index];
        client.state = ClientState::Idle(connection);
        client.next_at = self.now.plus(pause);
    }

    fn client_reply(&mut self, connection: ConnectionId, header: ReplyHeader) {
        let Some((index, _)) = self.connections.get(&connection).copied() else { return };
        let pause = self.rng.gen_range(5..60);
        let client = &mut self.clients[index];
        client.last_zxid_seen = client.last_zxid_seen.max(header.zxid);
        match &client.state {
            ClientState::Waiting { path, ephemeral, .. } if header.err == ErrorCode::Ok => {
                self.acked_zxid_max = self.acked_zxid_max.max(header.zxid);
                if !ephemeral {
                    self.acked.insert(path.clone());
                }
            }
            ClientState::Syncing { required, .. } => {
                // ZooKeeper's guarantee: a read after `sync` sees every write acknowledged
                // before the `sync` was sent, whichever server answers.
                let seed = self.seed;
                assert_eq!(header.err, ErrorCode::Ok, "seed {seed}: sync refused");
                assert!(header.zxid >= *required, "seed {seed}: sync answered at {} before {required}", header.zxid);
                self.coverage.syncs += 1;
            }
            _ => {}
        }
        client.state = ClientState::Idle(connection);
        client.next_at = self.now.plus(pause);
    }

    fn client_closed(&mut self, connection: ConnectionId) {
        let Some((index, _)) = self.connections.remove(&connection) else { return };
        let pause = self.rng.gen_range(20..200);
        let client = &mut self.clients[index];
        client.state = ClientState::Disconnected;
        client.next_at = self.now.plus(pause);
    }
}

/// A run: faults for a while, then healed; then the liveness and agreement checks.
fn run(seed: u64, voters: u64, observers: u64) -> Ensemble {
    let mut ensemble = Ensemble::new(seed, voters, observers, 3);
    let ids = ensemble.ids();
    let safety_end = Millis(6_000);
    while ensemble.now < safety_end {
        let step = ensemble.rng.gen_range(100..600);
        let at = ensemble.now.plus(step);
        ensemble.run_until(at);
        match ensemble.rng.gen_range(0..10) {
            0 | 1 => {
                let id = ids[ensemble.rng.gen_range(0..ids.len())];
                ensemble.crash(id);
            }
            2 | 3 => {
                let down: Vec<ServerId> =
                    ids.iter().copied().filter(|id| ensemble.members[id].node.is_none()).collect();
                for id in down {
                    ensemble.restart(id);
                }
            }
            4 => {
                let isolated = ids[ensemble.rng.gen_range(0..ids.len())];
                let pairs =
                    ids.iter().filter(|id| **id != isolated).map(|id| (isolated.min(*id), isolated.max(*id))).collect();
                ensemble.partition(pairs);
            }
            5 => ensemble.heal(),
            _ => {}
        }
    }
    ensemble.heal();
    let down: Vec<ServerId> = ids.iter().copied().filter(|id| ensemble.members[id].node.is_none()).collect();
    for id in down {
        ensemble.restart(id);
    }
    check_liveness(&mut ensemble, seed);
    ensemble
}

/// Once healed: within a bounded time a leader is established and every member serves; a
/// write through a follower then completes; all replicas converge on every acknowledged write.
fn check_liveness(ensemble: &mut Ensemble, seed: u64) {
    let healed = ensemble.now;
    let bound = Millis(healed.0 + 20_000);
    while ensemble.now < bound && !all_serving(ensemble) {
        let at = ensemble.now.plus(100);
        ensemble.run_until(at);
    }
    assert!(all_serving(ensemble), "seed {seed}: not every member serves 20 s after healing: {:?}", states(ensemble));
    // A fresh write through a follower (or the leader, in a one-voter ensemble).
    let through = ensemble
        .ids()
        .into_iter()
        .find(|id| {
            matches!(ensemble.members[id].node.as_ref().map(Node::replica_state), Some(ReplicaState::Learning { .. }))
        })
        .unwrap_or(ServerId(1));
    let index = ensemble.clients.len();
    ensemble.clients.push(Client {
        state: ClientState::Disconnected,
        server: through,
        next_at: Millis(u64::MAX),
        ops: 1000,
        last_zxid_seen: Zxid::ZERO,
        session: SessionId(0),
    });
    for client in &mut ensemble.clients {
        client.next_at = Millis(u64::MAX); // Only the probe runs now.
    }
    let connection = ConnectionId(ensemble.next_connection);
    ensemble.next_connection += 1;
    ensemble.connections.insert(connection, (index, through));
    ensemble.clients[index].state = ClientState::Connecting(connection);
    let request = ConnectRequest::new_session(4000);
    let node = ensemble.members.get_mut(&through).and_then(|m| m.node.as_mut()).expect("up");
    node.handle_client(
        ensemble.now,
        connection,
        ClientEvent::Connect { request, address: IpAddr::V4(Ipv4Addr::LOCALHOST) },
    );
    ensemble.drain(through);
    let deadline = ensemble.now.plus(3_000);
    while ensemble.now < deadline && !ensemble.acked.contains("/c3-1001") {
        let at = ensemble.now.plus(10);
        ensemble.run_until(at);
    }
    assert!(ensemble.acked.contains("/c3-1001"), "seed {seed}: a write after healing did not complete in 3 s");
    // Let every replica apply what was committed (sessions keep expiring meanwhile, so
    // compare at a quiet moment), then compare them.
    let settle = ensemble.now.plus(10_000);
    let mut digests = replica_digests(ensemble);
    while ensemble.now < settle && digests.len() > 1 {
        let at = ensemble.now.plus(20);
        ensemble.run_until(at);
        digests = replica_digests(ensemble);
    }
    assert_eq!(digests.len(), 1, "seed {seed}: replicas differ after settling: {digests:?}");
    for member in ensemble.members.values() {
        let tree = member.node.as_ref().expect("up").tree();
        for path in &ensemble.acked {
            assert_eq!(
                tree.exists(path, &crate::tree::AuthInfo::default()).map(|s| s.is_some()),
                Ok(true),
                "seed {seed}: acknowledged {path} lost"
            );
        }
    }
}

fn replica_digests(ensemble: &Ensemble) -> BTreeSet<(Zxid, u64)> {
    ensemble
        .members
        .values()
        .map(|m| m.node.as_ref().expect("up"))
        .map(|n| (n.last_zxid(), n.tree().digest()))
        .collect()
}

fn all_serving(ensemble: &Ensemble) -> bool {
    ensemble.members.values().all(|m| m.node.as_ref().is_some_and(Node::is_serving))
}

fn states(ensemble: &Ensemble) -> Vec<(ServerId, Option<ReplicaState>)> {
    ensemble.members.iter().map(|(id, m)| (*id, m.node.as_ref().map(Node::replica_state))).collect()
}

#[test]
fn three_servers_elect_one_leader_and_replicate_writes_from_every_member() {
    let ensemble = run(1, 3, 0);
    assert!(!ensemble.acked.is_empty(), "clients wrote something");
    assert!(!ensemble.leaders.is_empty(), "a leader was established");
}

/// Runs the seeds and checks the sweep reached the rare paths at least once each.
fn sweep(seeds: std::ops::Range<u64>, voters: u64, observers: u64) -> Coverage {
    let mut total = Coverage::default();
    let mut epochs_max = 0;
    for seed in seeds {
        let ensemble = run(seed, voters, observers);
        total.add(ensemble.coverage);
        epochs_max = epochs_max.max(ensemble.leaders.len());
    }
    assert!(epochs_max >= 3, "some run went through several epochs ({epochs_max})");
    assert!(total.truncates > 0, "TRUNC was exercised: {total:?}");
    assert!(total.snaps > 0, "SNAP was exercised: {total:?}");
    assert!(total.session_closes > 0, "sessions were closed through consensus: {total:?}");
    assert!(total.syncs > 0, "clients synced: {total:?}");
    assert!(total.sessions_resumed > 0, "clients resumed their sessions elsewhere: {total:?}");
    total
}

#[test]
fn randomized_three_servers_with_crashes_and_partitions_stay_safe_and_live() {
    let total = sweep(0..150, 3, 0);
    assert!(total.restarts_for_trunc > 0, "a TRUNC below the tree restarted a server: {total:?}");
}

#[test]
fn randomized_five_servers_and_an_observer_stay_safe_and_live() {
    sweep(1000..1050, 5, 1);
}

#[test]
fn the_same_seed_gives_the_same_run() {
    let fingerprint = |ensemble: &Ensemble| {
        (ensemble.acked.clone(), ensemble.leaders.clone(), ensemble.digests.clone(), ensemble.steps)
    };
    let first = run(77, 3, 1);
    let second = run(77, 3, 1);
    assert_eq!(fingerprint(&first), fingerprint(&second), "seed 77 diverged between two runs");
}
