//! [`Node`]: one zab server as a state machine.
//!
//! The boundary follows quinn-proto: inputs arrive through `handle_*` methods, each with the
//! current time; outputs are drained with [`Node::poll_output`]; the next deadline comes from
//! [`Node::poll_timeout`]. The node never replies to a write before the driver has reported,
//! through [`Node::handle_persisted`], that the transaction is durable.
//!
//! # Standalone and ensemble
//!
//! With no peers in [`Config::peers`] the node is a standalone server: a write is prepared,
//! persisted ([`Output::Persist`]) and applied. With peers it is one replica of an ensemble
//! and runs Fast Leader Election, then ZAB (zookeeper-features.md §5.3):
//!
//! - peer messages come in through [`Node::handle_peer_message`] and leave as
//!   [`Output::Send`]; a driver that sees a peer connection break may say so with
//!   [`Node::handle_peer_disconnected`] (timeouts alone also work: `syncLimit`/`initLimit`);
//!   the node decides when a quorum link closes ([`Output::ClosePeer`]) and how long an
//!   accepted one may take to name itself ([`Config::quorum_first_packet_timeout_ms`]), and
//!   holds quorum messages that arrive while it elects for the role it then takes;
//! - durable steps other than log appends are outputs too, acknowledged in order with
//!   [`Node::handle_persisted`] like [`Output::Persist`]: [`Output::PersistEpoch`],
//!   [`Output::Truncate`], [`Output::ResetToSnapshot`];
//! - [`Output::Restart`] asks the driver to rebuild the node from its durable state (after a
//!   TRUNC below transactions already in the tree, the one case where rolling back is needed).
//!
//! Ordering rules kept here rather than in drivers: a learner sends ACKEPOCH only after its
//! acceptedEpoch is durable; it acknowledges NEWLEADER only after the synced transactions
//! and then currentEpoch are durable, in that order (ZOOKEEPER-3911, 4643, 4646); it
//! acknowledges a proposal only after it is logged; the leader counts its own ACK only after
//! its own log write and commits in zxid order on a quorum; a client is answered only after
//! the commit is applied locally. A server that is not serving (electing, syncing) closes
//! its client connections and refuses new ones, as ZooKeeper does.

mod client;
#[cfg(test)]
mod ensemble_tests;
mod leader;
mod learner;
mod read_index;
mod reads;
mod replica;
mod stats;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod transcripts;
mod types;
#[cfg(test)]
mod zab_tests;

pub use crate::zab::{PeerMessage, PeerRole};
pub use replica::ReplicaState;
pub use stats::{LeaderCounts, LearnerView, Stats, Summary, SUMMARY_BUCKET_BOUNDS_MS};

use crate::ids::{ConnectionId, Epoch, Millis, PersistToken, ServerId, SessionId, Zxid};
use crate::session::SessionTracker;
use crate::tree::{DataTree, PendingChanges, TreeSnapshot};
use crate::txn::Txn;
use crate::watch::WatchManager;
use crate::wire::client::{
    ConnectRequest, ConnectResponse, ReplyHeader, Request, RequestHeader, Response, WatcherEvent,
};
use client::Connection;
use leader::LeaderState;
use learner::Learning;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};
use std::net::IpAddr;
use types::{Durable, Effect, Log, Origin, Pending};

/// What a node needs to know about its configuration (the core's view of zoo.cfg).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// This server's id (`myid`; 0 for a standalone server without one).
    pub server_id: ServerId,
    /// `tickTime` in ms.
    pub tick_time_ms: u64,
    /// `minSessionTimeout` in ms.
    pub session_timeout_ms_min: i32,
    /// `maxSessionTimeout` in ms.
    pub session_timeout_ms_max: i32,
    /// `jute.maxbuffer`: the largest znode data accepted.
    pub max_buffer: usize,
    /// `DigestAuthenticationProvider.superDigest` (`super:<base64 sha1>`).
    pub super_digest: Option<String>,
    /// `extendedTypesEnabled`: allows TTL nodes.
    pub extended_types_enabled: bool,
    /// How often containers and TTL nodes are swept, in ms.
    pub container_check_interval_ms: u64,
    /// Transactions between snapshots (`snapCount`).
    pub snap_count: u64,
    /// The ensemble, this server included (`server.N=...` lines). Empty: standalone.
    pub peers: BTreeMap<ServerId, PeerRole>,
    /// `initLimit`: ticks a learner may take to connect and sync, and a new leader to gather
    /// a quorum of synced followers.
    pub init_limit: u64,
    /// `syncLimit`: ticks a follower may go without hearing from its leader, and a leader
    /// without hearing from a quorum, before giving up (back to LOOKING).
    pub sync_limit: u64,
    /// `zookeeper.commitLogCount`: committed transactions a leader keeps in memory to sync
    /// learners by DIFF; a learner further behind gets a SNAP.
    pub commit_log_count: usize,
    /// Testing aid, 0 in production: a leader proposing the first transaction of an epoch
    /// over an empty history numbers it from this counter instead of from 0, so tests reach
    /// the counter's limit (`ZXID_COUNTER_MAX`, ZOOKEEPER-1277) without billions of writes.
    /// ZooKeeper's `ZxidRolloverTest` moves its leader's counter the same way (`setZxid`).
    pub zxid_counter_start: u32,
    /// A deliberate bug to switch on (tests of the checkers only).
    #[cfg(feature = "mutants")]
    pub mutant: Option<crate::mutants::Mutant>,
}

impl Config {
    /// ZooKeeper's defaults for a standalone server with the given tick.
    pub fn standalone(tick_time_ms: u64) -> Config {
        Config {
            server_id: ServerId(0),
            tick_time_ms,
            session_timeout_ms_min: (2 * tick_time_ms) as i32,
            session_timeout_ms_max: (20 * tick_time_ms) as i32,
            max_buffer: crate::constants::JUTE_MAX_BUFFER_DEFAULT,
            super_digest: None,
            extended_types_enabled: false,
            container_check_interval_ms: crate::constants::CONTAINER_CHECK_INTERVAL_MS_DEFAULT,
            snap_count: 100_000,
            peers: BTreeMap::new(),
            init_limit: crate::constants::ZAB_INIT_LIMIT_DEFAULT,
            sync_limit: crate::constants::ZAB_SYNC_LIMIT_DEFAULT,
            commit_log_count: crate::constants::ZAB_COMMIT_LOG_COUNT_DEFAULT,
            zxid_counter_start: 0,
            #[cfg(feature = "mutants")]
            mutant: None,
        }
    }

    /// ZooKeeper's defaults for server `server_id` of an ensemble (`peers` includes it).
    pub fn ensemble(server_id: ServerId, tick_time_ms: u64, peers: BTreeMap<ServerId, PeerRole>) -> Config {
        assert!(peers.contains_key(&server_id), "the ensemble must include this server");
        Config { server_id, peers, ..Config::standalone(tick_time_ms) }
    }

    /// Whether this server is one of an ensemble (it has peers).
    pub fn is_ensemble(&self) -> bool {
        !self.peers.is_empty()
    }

    /// How long an accepted quorum connection may take to send its first packet
    /// (FOLLOWERINFO or OBSERVERINFO) before the driver drops it: initLimit ticks, the socket
    /// timeout ZooKeeper's `LearnerHandler` reads that packet with. Only the first packet:
    /// once named, a link lives until it breaks or the node closes it ([`Output::ClosePeer`]).
    pub fn quorum_first_packet_timeout_ms(&self) -> u64 {
        self.init_limit * self.tick_time_ms
    }

    /// How long an accepted election connection may take to send its handshake before the
    /// driver drops it (`zookeeper.cnxTimeout`).
    pub fn election_handshake_timeout_ms(&self) -> u64 {
        crate::constants::ELECTION_HANDSHAKE_TIMEOUT_MS
    }
}

/// A snapshot of a node's database: the tree and the live sessions at a zxid.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// The last transaction included.
    pub zxid: Zxid,
    /// The tree.
    pub tree: TreeSnapshot,
    /// Live sessions and their timeouts, sorted by id.
    pub sessions: Vec<(SessionId, i32)>,
}

/// What the driver recovered from disk: the newest valid snapshot and the log after it.
#[derive(Clone, Debug, Default)]
pub struct DurableState {
    /// The newest valid snapshot, if any.
    pub snapshot: Option<Snapshot>,
    /// Logged transactions after the snapshot, in zxid order.
    pub log: Vec<Txn>,
    /// `acceptedEpoch`: the newest epoch this server agreed to follow (ensembles only).
    pub epoch_accepted: Epoch,
    /// `currentEpoch`: the epoch of the leader this server last synced with (ensembles only).
    pub epoch_current: Epoch,
}

/// An input from a client connection, already decoded by the driver.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientEvent {
    /// The first frame of a connection.
    Connect {
        /// The handshake.
        request: ConnectRequest,
        /// The client's address (for `ip` ACLs).
        address: IpAddr,
    },
    /// A request after the handshake.
    Request {
        /// Its header.
        header: RequestHeader,
        /// Its body.
        request: Request,
    },
    /// A request the codec could not decode (unknown opcode, bad body). It is answered in
    /// order with this error, as ZooKeeper does (see `proto::DecodeError::reply`); after
    /// UNIMPLEMENTED the connection is closed.
    Undecodable {
        /// Its header.
        header: RequestHeader,
        /// The error to answer with.
        err: crate::error::ErrorCode,
    },
    /// The connection is gone (closed by the client, or by the driver).
    Disconnected,
}

/// Something the driver must do. Execute them in the order they are polled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// Answer a handshake. A zero timeout means the session is invalid; a close follows.
    Connected {
        /// The connection.
        connection: ConnectionId,
        /// The answer.
        response: ConnectResponse,
    },
    /// Answer a request.
    Reply {
        /// The connection.
        connection: ConnectionId,
        /// The header (xid, zxid, error).
        header: ReplyHeader,
        /// The body (ignored by the encoder unless `header.err` is OK, or for multi).
        response: Response,
    },
    /// Deliver a watch notification (xid −1).
    WatchEvent {
        /// The connection.
        connection: ConnectionId,
        /// The zxid of the change that fired it.
        zxid: Zxid,
        /// The event.
        event: WatcherEvent,
    },
    /// Append these transactions to the log and make them durable, then call
    /// [`Node::handle_persisted`] with the token. Tokens must be reported in order.
    Persist {
        /// The transactions, in zxid order.
        txns: Vec<Txn>,
        /// The token to report.
        token: PersistToken,
    },
    /// Write this snapshot (temp file, fsync, rename). Its loss is harmless: the log covers it.
    WriteSnapshot {
        /// The snapshot.
        snapshot: Box<Snapshot>,
    },
    /// Close the connection (after sending what was polled before).
    CloseConnection {
        /// The connection.
        connection: ConnectionId,
    },
    /// Send a message to a peer (ensembles only), on the election or the quorum port.
    Send {
        /// The recipient.
        to: ServerId,
        /// The message.
        message: PeerMessage,
    },
    /// Write these epochs durably (`acceptedEpoch`, `currentEpoch` files; `None` leaves one
    /// unchanged), then call [`Node::handle_persisted`] with the token.
    PersistEpoch {
        /// The new `acceptedEpoch`.
        accepted: Option<Epoch>,
        /// The new `currentEpoch`.
        current: Option<Epoch>,
        /// The token to report.
        token: PersistToken,
    },
    /// Drop every logged transaction with a zxid above `after` (TRUNC), durably, then call
    /// [`Node::handle_persisted`] with the token. Snapshots above `after` must go too.
    Truncate {
        /// The last zxid kept.
        after: Zxid,
        /// The token to report.
        token: PersistToken,
    },
    /// Replace the durable database with this snapshot (received by SNAP): write it, drop the
    /// whole log and older snapshots, then call [`Node::handle_persisted`] with the token.
    ResetToSnapshot {
        /// The snapshot.
        snapshot: Box<Snapshot>,
        /// The token to report.
        token: PersistToken,
    },
    /// Close the quorum connection (port 2888) to `peer`, after sending what was polled
    /// before. The node has already forgotten the link: the driver reports nothing back for
    /// it (no [`Node::handle_peer_disconnected`]), and the next `Send` of a quorum message to
    /// that peer opens a new connection. Election connections are not affected.
    ///
    /// Emitted when the node leaves the role the link served (a learner leaving its leader,
    /// a leader stepping down: ZooKeeper closes those sockets too), when a leader drops a
    /// learner that stopped acknowledging or went silent, when a leader hears from a learner
    /// it does not hold, and when a server that does not lead is registered with as leader
    /// (the other end then notices at once and elects or registers again instead of waiting
    /// out syncLimit or initLimit).
    ClosePeer {
        /// The peer.
        peer: ServerId,
    },
    /// Discard this node and build a new one with [`Node::new`] from the durable state, after
    /// executing every output polled before. Emitted when a TRUNC removed transactions the
    /// tree had already applied (recovered from the log at start): rebuilding from disk is
    /// ZooKeeper's way too (`ZKDatabase.truncateLog` reloads the database). The node ignores
    /// every input after it.
    Restart,
}

/// What this node is doing.
enum Role {
    /// No peers: the original single-server node.
    Standalone,
    /// Electing (ZooKeeper's LOOKING); serves no client.
    Looking,
    /// Leading, from discovery to broadcast.
    Leading(Box<LeaderState>),
    /// Following or observing a leader.
    Learning(Box<Learning>),
    /// After `Output::Restart`: waits to be rebuilt from disk.
    Halted,
}

impl Role {
    fn is_halted(&self) -> bool {
        matches!(self, Role::Halted)
    }
}

/// One zab server's state machine.
pub struct Node {
    config: Config,
    tree: DataTree,
    /// The tree's last zxid and size when its invariants last held: the full walk runs only
    /// after the tree changed (every change applies a transaction or restores a snapshot),
    /// not after each of the many inputs that leave it alone.
    /// (Atomics, not a `Cell`: the driver moves the Node between threads.)
    tree_checked_zxid: std::sync::atomic::AtomicI64,
    tree_checked_nodes: std::sync::atomic::AtomicUsize,
    pending: PendingChanges,
    sessions: SessionTracker,
    watches: WatchManager,
    connections: BTreeMap<ConnectionId, Connection>,
    /// Which connection currently holds each session.
    session_connections: BTreeMap<SessionId, ConnectionId>,
    /// Prepared transactions not yet handed to the driver.
    unpersisted: Vec<Pending>,
    /// Durable outputs handed to the driver, by token, awaiting `handle_persisted`.
    persisting: VecDeque<(PersistToken, Durable)>,
    /// Standalone, electing, leading or learning.
    role: Role,
    /// Fast Leader Election (ensembles only).
    election: Option<crate::election::Election>,
    /// The replicated log as this node knows it (ensembles only).
    log: Log,
    /// Bumped on every role change: work queued for an older role is not resumed.
    generation: u64,
    epoch_accepted: Epoch,
    epoch_current: Epoch,
    /// The zxid of the last prepared transaction.
    zxid_prepared: Zxid,
    token_next: u64,
    txns_since_snapshot: u64,
    /// Applied transactions after which the next snapshot is written.
    snapshot_at: u64,
    container_check_at: Millis,
    /// The wall clock minus `now`, from [`Node::set_wall_clock`] (0 until a driver sets it).
    wall_offset_ms: i64,
    outputs: VecDeque<Output>,
    /// Quorum messages that arrived while electing: a learner that finished the election
    /// first sends FOLLOWERINFO before its leader knows it leads. Handed to the node once it
    /// leads (ZooKeeper's leader reads them from the socket once it starts leading), dropped
    /// if it ends up following. At most `HELD_QUORUM_MESSAGES_MAX`.
    held: Vec<(ServerId, crate::wire::quorum::QuorumMessage)>,
    stats: Stats,
    /// The time of the input being handled (the mutant that applies before persisting needs it).
    #[cfg(feature = "mutants")]
    mutant_now: Millis,
}

impl Node {
    /// Builds a node from its configuration and recovered durable state, replaying the log.
    ///
    /// `now` starts the session clocks of recovered sessions (they expire unless their clients
    /// come back) and seeds session ids; `seed` drives every random choice the node makes.
    /// A member of an ensemble starts LOOKING: its first outputs are election notifications.
    pub fn new(config: Config, durable: DurableState, now: Millis, seed: u64) -> Node {
        assert!(config.tick_time_ms > 0, "tickTime must be positive");
        assert!(config.session_timeout_ms_min <= config.session_timeout_ms_max);
        let (tree, snapshot_sessions) = match durable.snapshot {
            Some(snapshot) => {
                let tree = DataTree::from_snapshot(snapshot.tree)
                    .unwrap_or_else(|e| panic!("snapshot at {} is inconsistent: {e}", snapshot.zxid));
                (tree, snapshot.sessions)
            }
            None => (DataTree::new(), Vec::new()),
        };
        let mut sessions = SessionTracker::new(config.server_id, now, config.tick_time_ms);
        for (id, timeout_ms) in snapshot_sessions {
            sessions.add(id, timeout_ms, now);
        }
        let container_check_at = now.plus(config.container_check_interval_ms);
        let election = config.is_ensemble().then(|| replica::new_election(&config, seed));
        let log = Log::new(tree.last_zxid());
        let mut node = Node {
            config,
            tree,
            pending: PendingChanges::default(),
            sessions,
            watches: WatchManager::new(),
            connections: BTreeMap::new(),
            session_connections: BTreeMap::new(),
            unpersisted: Vec::new(),
            persisting: VecDeque::new(),
            role: Role::Standalone,
            election,
            log,
            generation: 0,
            epoch_accepted: durable.epoch_accepted,
            epoch_current: durable.epoch_current,
            zxid_prepared: Zxid::ZERO,
            token_next: 0,
            txns_since_snapshot: 0,
            snapshot_at: u64::MAX,
            container_check_at,
            wall_offset_ms: 0,
            outputs: VecDeque::new(),
            held: Vec::new(),
            stats: Stats::new(seed),
            tree_checked_zxid: std::sync::atomic::AtomicI64::new(i64::MIN),
            tree_checked_nodes: std::sync::atomic::AtomicUsize::new(usize::MAX),
            #[cfg(feature = "mutants")]
            mutant_now: now,
        };
        node.snapshot_at = node.stats.snapshot_threshold(node.config.snap_count);
        for txn in durable.log {
            if txn.header.zxid > node.tree.last_zxid() {
                node.apply_txn(now, &txn);
                if node.config.is_ensemble() {
                    node.log.recovered(txn, node.config.commit_log_count);
                }
            }
        }
        node.zxid_prepared = node.tree.last_zxid();
        if node.config.is_ensemble() {
            node.become_looking(now);
        }
        node
    }

    /// Handles one input from a client connection.
    pub fn handle_client(&mut self, now: Millis, connection: ConnectionId, event: ClientEvent) {
        if self.is_frozen() {
            return;
        }
        #[cfg(feature = "mutants")]
        {
            self.mutant_now = now;
        }
        match event {
            ClientEvent::Connect { request, address } => self.on_connect(now, connection, request, address),
            ClientEvent::Request { header, request } => self.on_request(now, connection, header, Ok(request)),
            ClientEvent::Undecodable { header, err } => self.on_request(now, connection, header, Err(err)),
            ClientEvent::Disconnected => self.on_disconnected(connection),
        }
        self.flush_prepared();
    }

    /// Handles one message from a peer of the ensemble (ignored by a standalone server).
    pub fn handle_peer_message(&mut self, now: Millis, from: ServerId, message: PeerMessage) {
        if self.is_frozen() || !self.config.peers.contains_key(&from) || from == self.config.server_id {
            return;
        }
        match message {
            PeerMessage::Election(notification) => {
                let notification = crate::election::notification_from_wire(&notification);
                tracing::debug!(server = self.config.server_id.0, from = from.0, %notification, "notification");
                if let Some(election) = &mut self.election {
                    election.handle_notification(now, from, notification);
                }
                self.pump_election(now);
            }
            PeerMessage::Quorum(message) => match self.role {
                Role::Leading(_) => self.leader_receive(now, from, message),
                Role::Learning(_) => self.learner_receive(now, from, message),
                Role::Looking => self.hold_while_looking(from, message),
                _ => {}
            },
            PeerMessage::SnapDatabase(database) => self.learner_receive_database(now, from, *database),
        }
        self.flush_prepared();
    }

    /// The driver saw the connection to `peer` break. A learner whose leader is gone looks
    /// for a new one; a leader forgets the learner (it must sync again to come back).
    pub fn handle_peer_disconnected(&mut self, now: Millis, peer: ServerId) {
        if self.is_frozen() {
            return;
        }
        match &mut self.role {
            Role::Learning(learning) if learning.learner.leader() == peer => self.become_looking(now),
            Role::Leading(leader) => {
                leader.learners.remove(&peer);
            }
            // What that connection carried is gone with it: the peer registers again.
            Role::Looking => self.held.retain(|(from, _)| *from != peer),
            _ => {}
        }
        self.flush_prepared();
    }

    /// The driver made durable everything in the output carrying `token` (`Persist`,
    /// `PersistEpoch`, `Truncate`, `ResetToSnapshot`). Tokens must be reported in order.
    ///
    /// Standalone, this applies the persisted transactions in zxid order: watch events first,
    /// then the replies. In an ensemble it lets the step that waited on it go on (an ACK, an
    /// ACKEPOCH, the NEWLEADER ACK, the leader's own ACK, applying committed transactions).
    pub fn handle_persisted(&mut self, now: Millis, token: PersistToken) {
        if self.role.is_halted() {
            return;
        }
        #[cfg(feature = "mutants")]
        {
            self.mutant_now = now;
        }
        let (expected, durable) = self.persisting.pop_front().expect("handle_persisted with nothing persisting");
        assert_eq!(expected, token, "persist tokens must be reported in order");
        self.on_persisted(now, durable);
        self.flush_prepared();
    }

    /// Time has reached (or passed) the deadline given by [`Node::poll_timeout`].
    pub fn handle_timeout(&mut self, now: Millis) {
        if self.is_frozen() {
            return;
        }
        #[cfg(feature = "mutants")]
        {
            self.mutant_now = now;
        }
        if self.config.is_ensemble() {
            self.replica_timeout(now);
        }
        if self.owns_sessions() {
            self.expire_sessions_and_containers(now);
        }
        self.flush_prepared();
    }

    /// Session expiry and the container/TTL sweep: only where sessions are owned (standalone,
    /// or an established leader), so every replica deletes through consensus.
    fn expire_sessions_and_containers(&mut self, now: Millis) {
        for session in self.sessions.expired(now) {
            tracing::info!(%session, "session expired");
            #[cfg(feature = "mutants")]
            if self.mutant_is(crate::mutants::Mutant::ForgetEphemeralsOnExpiry) {
                self.sessions.remove(session);
                continue;
            }
            self.prepare_close_session(now, session, 0);
        }
        if now >= self.container_check_at {
            self.container_check_at = now.plus(self.config.container_check_interval_ms);
            let never_used_ms = crate::constants::CONTAINER_MAX_NEVER_USED_INTERVAL_MS_DEFAULT;
            // Against mtime, a wall time: Apache's `ContainerManager.getElapsed` uses the wall clock too.
            for path in self.tree.expired_containers_and_ttls(self.wall_time(now), never_used_ms) {
                let request = Request::DeleteContainer(crate::wire::client::PathRequest { path });
                self.prepare_write(
                    now,
                    SessionId(0),
                    0,
                    crate::wire::client::op::DELETE_CONTAINER,
                    &request,
                    Origin::Internal,
                    None,
                );
            }
        }
    }

    /// Tells the node the wall clock (ms since the Unix epoch) at monotonic time `now`.
    ///
    /// `now` on every `handle_*` call is a monotonic clock: it drives every timer (session
    /// expiry, ticks, election and sync deadlines). The wall clock is used only where
    /// ZooKeeper records or compares wall times: a transaction's time (ctime and mtime, on the
    /// leader: `Time.currentWallTime()`) and the TTL and container sweep, which compares with
    /// mtime. A step of the wall clock therefore moves those and nothing else. The node keeps
    /// the difference, so a driver calls this at start and whenever the wall clock may have
    /// stepped (calling it before every input is fine). Until it is called, the wall clock
    /// is taken to read `now`.
    pub fn set_wall_clock(&mut self, now: Millis, wall_ms: i64) {
        self.wall_offset_ms = wall_ms.saturating_sub(now.0 as i64);
    }

    /// The wall clock at monotonic time `now` (see [`Node::set_wall_clock`]).
    pub fn wall_time(&self, now: Millis) -> i64 {
        (now.0 as i64).saturating_add(self.wall_offset_ms)
    }

    /// The next output to execute, if any. Drain after every `handle_*` call.
    pub fn poll_output(&mut self) -> Option<Output> {
        let output = self.outputs.pop_front();
        if let Some(Output::Reply { .. } | Output::WatchEvent { .. } | Output::Connected { .. }) = output {
            self.stats.packets_sent += 1;
        }
        output
    }

    /// The next deadline at which [`Node::handle_timeout`] must be called.
    pub fn poll_timeout(&self) -> Option<Millis> {
        if self.is_frozen() {
            return None;
        }
        let mut deadline = self.replica_deadline();
        if self.owns_sessions() {
            let sessions = match self.sessions.next_expiry() {
                Some(at) => at.min(self.container_check_at),
                None => self.container_check_at,
            };
            deadline = Some(deadline.map_or(sessions, |d| d.min(sessions)));
        }
        deadline
    }

    /// Asserts every internal invariant; the simulator and tests call it after each input.
    pub fn check_invariants(&self) {
        use std::sync::atomic::Ordering::Relaxed;
        let (zxid, nodes) = (self.tree.last_zxid().0, self.tree.node_count());
        if self.tree_checked_zxid.load(Relaxed) != zxid || self.tree_checked_nodes.load(Relaxed) != nodes {
            self.tree.check_invariants();
            self.tree_checked_zxid.store(zxid, Relaxed);
            self.tree_checked_nodes.store(nodes, Relaxed);
        }
        self.watches.check_invariants();
        for (session, connection) in &self.session_connections {
            let holder = self.connections.get(connection).expect("session bound to a missing connection");
            assert_eq!(holder.session, Some(*session), "session/connection binding disagrees");
        }
        if self.config.is_ensemble() {
            self.check_replica_invariants();
            return;
        }
        assert!(self.zxid_prepared >= self.tree.last_zxid(), "prepared zxid behind applied zxid");
        let persisting: usize = self
            .persisting
            .iter()
            .map(|(_, durable)| match &durable.effect {
                Effect::Standalone(batch) => batch.len(),
                _ => 0,
            })
            .sum();
        let in_flight = self.unpersisted.len() + persisting;
        let expected = self.zxid_prepared.0 - self.tree.last_zxid().0;
        assert_eq!(in_flight as i64, expected, "every prepared zxid is in flight exactly once");
    }

    /// The last applied zxid.
    pub fn last_zxid(&self) -> Zxid {
        self.tree.last_zxid()
    }

    /// The data tree (read-only), for four-letter words and tests.
    pub fn tree(&self) -> &DataTree {
        &self.tree
    }

    /// The watch tables (read-only), for `wchs`, `wchc`, `wchp`.
    pub fn watches(&self) -> &WatchManager {
        &self.watches
    }

    /// The session tracker (read-only), for `dump` and `mntr`.
    pub fn sessions(&self) -> &SessionTracker {
        &self.sessions
    }

    /// Request statistics.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Resets latency and packet statistics (`srst`).
    pub fn reset_stats(&mut self) {
        self.stats.reset();
    }

    /// Requests received and not yet answered, over all connections.
    pub fn outstanding_requests(&self) -> usize {
        self.connections.values().map(|c| c.queue.len()).sum()
    }

    /// The session a connection holds, if any.
    pub fn connection_session(&self, connection: ConnectionId) -> Option<SessionId> {
        self.connections.get(&connection).and_then(|c| c.session)
    }

    #[cfg(feature = "mutants")]
    fn mutant_is(&self, mutant: crate::mutants::Mutant) -> bool {
        self.config.mutant == Some(mutant)
    }

    /// Hands prepared transactions to the driver as one `Persist` (one group commit); a
    /// leader also proposes them to its followers.
    fn flush_prepared(&mut self) {
        if self.unpersisted.is_empty() {
            return;
        }
        if self.config.is_ensemble() {
            self.leader_flush();
            return;
        }
        let batch = std::mem::take(&mut self.unpersisted);
        let txns = batch.iter().map(|p| p.txn.clone()).collect();
        let token = self.next_token();
        self.outputs.push_back(Output::Persist { txns, token });
        #[cfg(feature = "mutants")]
        if self.mutant_is(crate::mutants::Mutant::ReplyBeforeFsync) {
            self.persisting.push_back((token, Durable::standalone(Vec::new())));
            for pending in batch {
                self.on_applied(self.mutant_now, pending);
            }
            return;
        }
        self.persisting.push_back((token, Durable::standalone(batch)));
    }

    fn next_token(&mut self) -> PersistToken {
        let token = PersistToken(self.token_next);
        self.token_next += 1;
        token
    }
}
