//! The world: a standalone node or an ensemble of 3 or 5, each server with its own disk and
//! clock, the client network, the peer links, and the clients, over virtual time.
//!
//! An ensemble member is driven like the standalone node plus its peer traffic
//! ([`peer_io`]): `Send` goes over a FIFO link that breaks on loss, every durable output
//! (`Persist`, `PersistEpoch`, `Truncate`, `ResetToSnapshot`) goes through the member's disk
//! and is acknowledged in token order after its fsync, and `Restart` rebuilds the node from
//! its disk. Clients start spread over the members and move to the next one whenever their
//! connection dies, resuming their session. After every input the ensemble checkers see the
//! member's state.
//!
//! A swarm run ([`World::swarm`]) has a safety phase with the faults the options switched on,
//! then heals everything for a liveness phase in which every client must complete a write
//! and the ensemble must recover within stated bounds, then a quiet phase in which nothing
//! may go wrong ([`quiet`]).
//! A scripted run ([`World::scripted`]) has no random faults and no workload: the scenario
//! DSL submits operations and injects faults itself.
//!
//! Every event is one trace line; the trace hash proves determinism.

mod describe;
mod hooks;
mod node_io;
mod peer_io;
mod quiet;

pub use quiet::{QUIET_ANSWER_TICKS_MAX, RECOVERY_LEADER_MS_MAX, RECOVERY_SYNC_MS_MAX};
mod quorum_codec;
mod wall_clock;

use crate::checker::committed_prefix::CommittedPrefix;
use crate::checker::durability::Durability;
use crate::checker::primary::Primaries;
use crate::checker::replica_digests::ReplicaDigests;
use crate::checker::{self, Coverage, Violation};
use crate::client::{ClientMessage, Context, Link, Shared, SimClient};
use crate::disk::Disk;
use crate::history::{History, OpKind};
use crate::network::{Delivery, Direction, Network};
use crate::options::{CrashMode, Options};
use crate::peers::PeerNetwork;
use crate::queue::EventQueue;
use crate::rng::{SimRng, Stream};
use crate::trace::Trace;
use std::collections::BTreeMap;
use zab_core::node::{Config, Node, PeerMessage, PeerRole, ReplicaState, Snapshot};
use zab_core::proto::{ConnectResponse, ReplyHeader, Request, Response, WatcherEvent};
use zab_core::ServerId;
use zab_core::{ConnectionId, PersistToken};

/// A response body as the trace shows it (for scenario failure messages).
pub fn describe_response(response: &Response) -> String {
    describe::response(response)
}

/// Most events one run may process: a run that exceeds it is stuck in a loop.
pub const EVENTS_MAX: u64 = 5_000_000;
/// Trace lines kept for a failure report.
pub const TRACE_TAIL_MAX: usize = 40;

/// Something the node sends to a client.
#[derive(Clone, Debug)]
enum ServerMessage {
    Connected(ConnectResponse),
    Reply(ReplyHeader, Response),
    Watch(WatcherEvent),
    /// The node closed the connection (after everything sent before).
    Closed,
}

#[derive(Clone, Debug)]
enum Event {
    ToServer(ConnectionId, ClientMessage),
    ToClient(ConnectionId, ServerMessage),
    /// The client notices its connection died (a reset).
    ClientNotices(ConnectionId),
    /// The node notices a connection died.
    ServerNotices(ConnectionId),
    Fsync {
        server: usize,
        incarnation: u64,
    },
    SnapshotDone {
        server: usize,
        incarnation: u64,
        id: u64,
    },
    NodeTimer {
        server: usize,
        incarnation: u64,
        generation: u64,
    },
    ClientTick {
        client: usize,
        generation: u64,
    },
    /// A peer message arrives, if its link (and for a quorum message, its quorum
    /// connection: `quorum`) is still of this generation.
    PeerDeliver {
        from: usize,
        to: usize,
        generation: u64,
        quorum: Option<u64>,
        message: Box<PeerMessage>,
    },
    /// `server` hears that `peer` closed their quorum connection (of these generations).
    QuorumClosed {
        server: usize,
        peer: usize,
        generation: u64,
        quorum: u64,
    },
    /// `server` hears that its link to `peer` (of this generation) broke.
    PeerNotice {
        server: usize,
        peer: usize,
        generation: u64,
    },
    Crash,
    Restart(usize),
    /// A server's wall clock steps (its timer clock does not).
    WallClockStep {
        server: usize,
        delta_ms: i64,
    },
    Clog,
    ClientPause,
    Partition,
    Unpartition,
    Heal,
    Quiet,
    End,
}

/// Where a scripted crash strikes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CrashPoint {
    /// Right after the next `Persist` is written, before its fsync completes.
    BeforeFsync,
    /// Right after the next fsync completes, before the node hears of it (so before any reply).
    AfterFsync,
    /// Right after the next write of `currentEpoch` (ensembles), before its fsync: whatever
    /// was written before it and not yet synced may be lost with it, or survive without it.
    BeforeCurrentEpochFsync,
}

/// The phase of a swarm run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Faults on.
    Safety,
    /// Faults healed; progress required.
    Liveness,
    /// Recovered and healthy: nothing may go wrong ([`crate::checker::availability`]).
    Quiet,
}

/// Counters for the run summary and the benchmark.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunStats {
    /// Events processed.
    pub events: u64,
    /// Virtual time reached, ms.
    pub simulated_ms: u64,
    /// Operations issued.
    pub ops: usize,
    /// Operations that got a reply.
    pub ops_completed: usize,
    /// Node crashes.
    pub crashes: u64,
    /// Snapshots completed.
    pub snapshots: u64,
    /// Torn tails found at recovery.
    pub torn_tails: u64,
    /// Sessions that clients saw expire.
    pub sessions_expired: u64,
    /// The highest last zxid of a live node at the end (0 if all are down).
    pub last_zxid: i64,
    /// Servers in the run (1: standalone).
    pub servers: usize,
    /// TRUNCs executed (ensembles).
    pub truncations: u64,
    /// SNAP syncs executed (ensembles).
    pub snap_syncs: u64,
    /// Nodes rebuilt from disk on `Output::Restart`.
    pub rebuilds: u64,
    /// Partitions started.
    pub partitions: u64,
    /// Established leaders (one per epoch).
    pub leaders: u64,
    /// Time from the heal to an established leader (ensemble swarm runs).
    pub recovery_leader_ms: Option<u64>,
    /// Time from the heal until the last member first served (ensemble swarm runs).
    pub recovery_serving_ms: Option<u64>,
    /// Whether the quiet phase judged the clients' side ([`Options::quiet_judges_clients`]).
    pub quiet_judged_clients: bool,
}

/// The outcome of a run.
#[derive(Clone, Debug)]
pub struct RunReport {
    /// The seed.
    pub seed: u64,
    /// The trace hash.
    pub hash: u64,
    /// Every property that failed.
    pub violations: Vec<Violation>,
    /// What the checkers looked at.
    pub coverage: Coverage,
    /// Counters.
    pub stats: RunStats,
    /// The last trace lines.
    pub trace_tail: Vec<String>,
}

/// The node's local clock: an epoch offset plus a rate error (timer skew).
#[derive(Clone, Copy, Debug)]
struct NodeClock {
    skew_ppm: i64,
}

/// The node clock starts at a realistic wall time so ctime/mtime and session ids look real.
const NODE_EPOCH_MS: u64 = 1_700_000_000_000;

impl NodeClock {
    fn local(&self, global: u64) -> u64 {
        let drift = (global as i128 * self.skew_ppm as i128 / 1_000_000) as i64;
        NODE_EPOCH_MS + (global as i64 + drift) as u64
    }

    /// The first global time at which the local clock reads at least `local`.
    fn global(&self, local: u64) -> u64 {
        let elapsed = local.saturating_sub(NODE_EPOCH_MS) as i128;
        let mut global = (elapsed * 1_000_000 / (1_000_000 + self.skew_ppm as i128)).max(0) as u64;
        // The estimate can be off by a millisecond either way from integer rounding.
        while global > 0 && self.local(global - 1) >= local {
            global -= 1;
        }
        while self.local(global) < local {
            global += 1;
        }
        global
    }
}

/// One server: its node (unless crashed), its disk, its clock and timer.
struct Server {
    id: ServerId,
    node: Option<Node>,
    /// Bumped at every crash and rebuild, so events of an older incarnation are ignored.
    incarnation: u64,
    config: Config,
    clock: NodeClock,
    disk: Disk<Snapshot>,
    rng_node: SimRng,
    /// The armed node timer: (local deadline, generation).
    timer: Option<(u64, u64)>,
    timer_generation: u64,
    /// Persist tokens the AckBeforeFsync mutant already reported.
    acked_early: std::collections::BTreeSet<PersistToken>,
    /// The standalone durability checker (a restarted ensemble member may lag legitimately).
    durability: Durability<u64>,
    /// The last applied zxid the digest checker saw.
    digest_checked: zab_core::Zxid,
    /// Committed records already compared with the other replicas.
    committed_checked: zab_core::Zxid,
    /// The state last seen, to notice elections and members leaving service.
    observed: quiet::Observed,
    /// How far its wall clock was stepped from its timer clock (`wall_clock.rs`).
    wall_step_ms: i64,
}

/// The simulated world around a standalone node or an ensemble.
pub struct World {
    options: Options,
    queue: EventQueue<Event>,
    servers: Vec<Server>,
    network: Network,
    peers: PeerNetwork,
    /// The last election notification each server sent each peer, for re-sends on a new
    /// connection.
    election_last_sent: BTreeMap<(usize, usize), PeerMessage>,
    /// The newest election notification each server tried to send a peer while their link
    /// was down: sent when it comes back, as the real server's election link and ZooKeeper's
    /// one-slot send queue (`QuorumCnxManager`, SEND_CAPACITY 1) do.
    election_queued: BTreeMap<(usize, usize), PeerMessage>,
    /// Bit rot struck this server's disk (at most once per run): set until it serves again.
    rotted: Option<usize>,
    /// Whether bit rot already struck in this run.
    rot_used: bool,
    clients: Vec<SimClient>,
    client_ticks: Vec<(u64, u64)>,
    shared: Shared,
    history: History,
    trace: Trace,
    rng_clients: SimRng,
    rng_faults: SimRng,
    violations: Vec<Violation>,
    phase: Phase,
    /// Restart automatically after a crash (swarm) or only when told (scripts).
    auto_restart: bool,
    /// A crash armed at the next write or fsync of this server (any server if `None`).
    armed_crash: Option<(CrashPoint, Option<CrashMode>, Option<usize>)>,
    /// The next fsync (of this server, or of any if `None`) takes at least this long.
    slow_next_fsync_ms: Option<(u64, Option<usize>)>,
    heal_at: u64,
    ended: bool,
    /// Every session a client was ever given, for the server-side ephemerals check.
    known_sessions: std::collections::BTreeSet<zab_core::SessionId>,
    /// Ensemble-wide checkers.
    primaries: Primaries,
    replica_digests: ReplicaDigests,
    committed: CommittedPrefix,
    /// Recovery after the heal and the quiet phase.
    end: quiet::EndOfRun,
    stats: RunStats,
}

impl World {
    /// A swarm run of `seed`: options drawn from the seed, random workload and faults.
    pub fn swarm(seed: u64, print_trace: bool) -> World {
        World::swarm_with(Options::draw(seed), print_trace)
    }

    /// A swarm run with these options (tests switch a [`crate::options::Mutant`] on).
    pub fn swarm_with(options: Options, print_trace: bool) -> World {
        let mut world = World::new(options, true, print_trace);
        let safety = world.options.safety_ms;
        world.heal_at = safety;
        world.queue.schedule(safety, Event::Heal);
        world.schedule_quiet_phase();
        if let Some(mean) = world.options.crash_interval_ms_mean {
            let at = world.rng_faults.exponential(mean as f64);
            world.queue.schedule(at, Event::Crash);
        }
        if let Some(mean) = world.options.clog_interval_ms_mean {
            let at = world.rng_faults.exponential(mean as f64);
            world.queue.schedule(at, Event::Clog);
        }
        if let Some(mean) = world.options.client_pause_interval_ms_mean {
            let at = world.rng_faults.exponential(mean as f64);
            world.queue.schedule(at, Event::ClientPause);
        }
        if let (true, Some(mean)) = (world.is_ensemble(), world.options.partition_interval_ms_mean) {
            let at = world.rng_faults.exponential(mean as f64);
            world.queue.schedule(at, Event::Partition);
        }
        world.schedule_wall_clock_steps();
        world
    }

    /// A scripted run: quiet options with `clients` clients that issue only what is submitted.
    pub fn scripted(seed: u64, clients: usize, print_trace: bool) -> World {
        let mut world = World::new(Options::quiet(seed, clients), false, print_trace);
        world.auto_restart = false;
        world.heal_at = u64::MAX;
        world
    }

    /// A scripted ensemble of `servers` (1: standalone).
    pub fn scripted_ensemble(seed: u64, clients: usize, servers: usize, print_trace: bool) -> World {
        let mut options = Options::quiet(seed, clients);
        options.servers = servers;
        let mut world = World::new(options, false, print_trace);
        world.auto_restart = false;
        world.heal_at = u64::MAX;
        world
    }

    fn server_config(options: &Options, id: ServerId) -> Config {
        let mut config = if options.servers <= 1 {
            Config::standalone(options.tick_time_ms)
        } else {
            let peers = (1..=options.servers as u64).map(|id| (ServerId(id), PeerRole::Participant)).collect();
            Config::ensemble(id, options.tick_time_ms, peers)
        };
        config.container_check_interval_ms = options.container_check_interval_ms;
        config.snap_count = options.snap_count;
        #[cfg(feature = "mutants")]
        {
            config.mutant = options.core_mutant;
        }
        config
    }

    fn new(options: Options, random: bool, print_trace: bool) -> World {
        let mut trace = Trace::new(print_trace, TRACE_TAIL_MAX);
        trace.line(0, &format!("options {}", options.summary()));
        let ensemble = options.servers > 1;
        let servers = (0..options.servers.max(1))
            .map(|index| {
                let id = ServerId(if ensemble { index as u64 + 1 } else { 0 });
                let config = World::server_config(&options, id);
                let mut rng_node = SimRng::of_member(options.seed, Stream::Node, index);
                // Each member's clock has its own error, around the drawn one.
                let skew_ppm = options.clock_skew_ppm / (index as i64 + 1);
                let clock = NodeClock { skew_ppm };
                let now = zab_core::Millis(clock.local(0));
                let node = Node::new(config.clone(), Default::default(), now, rng_node.next_u64());
                Server {
                    id,
                    node: Some(node),
                    incarnation: 0,
                    config,
                    clock,
                    disk: Disk::of_member(&options, index),
                    rng_node,
                    timer: None,
                    timer_generation: 0,
                    acked_early: Default::default(),
                    durability: Durability::default(),
                    digest_checked: zab_core::Zxid::ZERO,
                    committed_checked: zab_core::Zxid::ZERO,
                    observed: quiet::Observed::fresh(),
                    wall_step_ms: 0,
                }
            })
            .collect();
        let mut world = World {
            queue: EventQueue::default(),
            servers,
            network: Network::new(&options),
            peers: PeerNetwork::new(&options),
            election_last_sent: BTreeMap::new(),
            election_queued: BTreeMap::new(),
            rotted: None,
            rot_used: false,
            clients: (0..options.clients).map(|id| SimClient::new(id, 0, random)).collect(),
            client_ticks: vec![(u64::MAX, 0); options.clients],
            shared: Shared::default(),
            history: History::default(),
            trace,
            rng_clients: SimRng::new(options.seed, Stream::Clients),
            rng_faults: SimRng::new(options.seed, Stream::Faults),
            violations: Vec::new(),
            phase: Phase::Safety,
            auto_restart: true,
            armed_crash: None,
            slow_next_fsync_ms: None,
            heal_at: 0,
            ended: false,
            known_sessions: Default::default(),
            primaries: Primaries::default(),
            replica_digests: ReplicaDigests::default(),
            committed: CommittedPrefix::default(),
            end: quiet::EndOfRun::default(),
            stats: RunStats { servers: options.servers.max(1), ..RunStats::default() },
            options,
        };
        for client in 0..world.clients.len() {
            world.wake_client(client, client as u64);
        }
        for server in 0..world.servers.len() {
            world.after_node_input(server);
        }
        world
    }

    /// Whether this world runs an ensemble (more than one server).
    pub fn is_ensemble(&self) -> bool {
        self.servers.len() > 1
    }

    /// How many servers there are.
    pub fn server_count(&self) -> usize {
        self.servers.len()
    }

    /// Virtual time, ms.
    pub fn now(&self) -> u64 {
        self.queue.now()
    }

    /// The run's options.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// The node of the first server, unless it is crashed.
    pub fn node(&self) -> Option<&Node> {
        self.servers[0].node.as_ref()
    }

    /// The node of server `index` (0-based), unless it is crashed.
    pub fn node_of(&self, index: usize) -> Option<&Node> {
        self.servers[index].node.as_ref()
    }

    /// The server index of the established leader, if exactly one node leads and serves.
    pub fn leader(&self) -> Option<usize> {
        self.servers.iter().position(|s| {
            s.node
                .as_ref()
                .is_some_and(|n| matches!(n.replica_state(), ReplicaState::Leading { established: true, .. }))
        })
    }

    /// A client.
    pub fn client(&self, index: usize) -> &SimClient {
        &self.clients[index]
    }

    /// Whether client `index` is up on a connection that still works (it may not have noticed
    /// yet that a crash broke it).
    pub fn client_connected(&self, index: usize) -> bool {
        match self.clients[index].link() {
            Link::Up { connection } => self.network.is_alive(connection),
            _ => false,
        }
    }

    /// A client, to take its events.
    pub fn client_mut(&mut self, index: usize) -> &mut SimClient {
        &mut self.clients[index]
    }

    /// The history so far.
    pub fn history(&self) -> &History {
        &self.history
    }

    /// The phase.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Violations found online so far.
    pub fn violations(&self) -> &[Violation] {
        &self.violations
    }

    /// Records a violation found online, once.
    fn violation(&mut self, violation: Violation) {
        if !self.violations.contains(&violation) {
            self.trace(format!("VIOLATION {violation}"));
            self.violations.push(violation);
        }
    }

    /// Records one trace line at the current time.
    fn trace(&mut self, text: impl AsRef<str>) {
        let now = self.queue.now();
        self.trace.line(now, text.as_ref());
    }

    /// Processes events until the end event (swarm) or until `until` (scripts); returns
    /// false when nothing is left to do.
    pub fn run_until(&mut self, until: u64) -> bool {
        while let Some(at) = self.queue.peek_time() {
            if at > until || self.ended {
                return !self.ended;
            }
            let (_, event) = self.queue.pop().expect("peeked");
            self.stats.events += 1;
            assert!(self.stats.events <= EVENTS_MAX, "seed {}: more than {EVENTS_MAX} events", self.options.seed);
            self.handle(event);
        }
        false
    }

    /// Processes the next event; false when the run has ended or nothing is scheduled.
    pub fn step(&mut self) -> bool {
        let Some((_, event)) = self.queue.pop() else { return false };
        self.stats.events += 1;
        self.handle(event);
        !self.ended
    }

    /// Runs a whole swarm run and checks it.
    pub fn run(mut self) -> RunReport {
        self.run_until(u64::MAX);
        self.finish()
    }

    fn handle(&mut self, event: Event) {
        match event {
            Event::ToServer(connection, message) => self.deliver_to_server(connection, message),
            Event::ToClient(connection, message) => self.deliver_to_client(connection, message),
            Event::ClientNotices(connection) => self.client_notices(connection),
            Event::ServerNotices(connection) => self.server_notices(connection),
            Event::Fsync { server, incarnation } if incarnation == self.servers[server].incarnation => {
                self.fsync_done(server)
            }
            Event::SnapshotDone { server, incarnation, id } if incarnation == self.servers[server].incarnation => {
                self.trace(format!("n{server} disk snapshot {id} in place"));
                self.stats.snapshots += 1;
                if let Err(message) = self.servers[server].disk.complete_snapshot(id) {
                    self.violation(Violation { checker: "durability", message });
                }
            }
            Event::NodeTimer { server, incarnation, generation }
                if incarnation == self.servers[server].incarnation
                    && generation == self.servers[server].timer_generation =>
            {
                self.node_timer(server)
            }
            Event::PeerDeliver { from, to, generation, quorum, message } => {
                self.peer_deliver(from, to, generation, quorum, *message)
            }
            Event::QuorumClosed { server, peer, generation, quorum } => {
                self.quorum_closed(server, peer, generation, quorum)
            }
            Event::PeerNotice { server, peer, generation } => self.peer_notice(server, peer, generation),
            Event::Partition => self.random_partition(),
            Event::Unpartition => self.unpartition(),
            Event::ClientTick { client, generation } if generation == self.client_ticks[client].1 => {
                self.client_tick(client)
            }
            Event::Crash => self.random_crash(),
            Event::Restart(server) => self.restart_server(server),
            Event::WallClockStep { server, delta_ms } => self.step_wall_clock(server, delta_ms),
            Event::Clog => self.clog(),
            Event::ClientPause => self.random_pause(),
            Event::Heal => self.heal(),
            Event::Quiet => self.begin_quiet(),
            Event::End => self.ended = true,
            _ => {} // stale: from an older incarnation or superseded timer
        }
    }

    /// Builds a client context and calls `f` on client `index`.
    fn with_client<R>(&mut self, index: usize, f: impl FnOnce(&mut SimClient, &mut Context) -> R) -> R {
        let mut cx = Context {
            now: self.queue.now(),
            history: &mut self.history,
            rng: &mut self.rng_clients,
            network: &mut self.network,
            options: &self.options,
            shared: &mut self.shared,
        };
        f(&mut self.clients[index], &mut cx)
    }

    /// Schedules client `index` to tick at `at` unless it already ticks earlier.
    fn wake_client(&mut self, index: usize, at: u64) {
        let (scheduled, generation) = self.client_ticks[index];
        if at < scheduled || scheduled < self.queue.now() {
            let generation = generation + 1;
            self.client_ticks[index] = (at, generation);
            self.queue.schedule(at, Event::ClientTick { client: index, generation });
        }
    }

    fn client_tick(&mut self, index: usize) {
        self.client_ticks[index].0 = u64::MAX;
        let (messages, next) = self.with_client(index, |client, cx| client.on_tick(cx));
        self.client_send(index, messages);
        self.wake_client(index, next);
    }

    /// Sends what a client produced.
    fn client_send(&mut self, index: usize, messages: Vec<(ConnectionId, ClientMessage)>) {
        for (connection, message) in messages {
            let line = match &message {
                ClientMessage::Connect(r) => {
                    format!(
                        "c{index} -> connect conn={} session={} seen={}",
                        connection.0, r.session_id, r.last_zxid_seen
                    )
                }
                ClientMessage::Request(h, r) => {
                    format!("c{index} -> conn={} xid={} {}", connection.0, h.xid, describe::request(r))
                }
                ClientMessage::Close => format!("c{index} -> close conn={}", connection.0),
            };
            self.trace(line);
            if message == ClientMessage::Close {
                // The client already gave the link up; the server hears the FIN a little later.
                let at = self.queue.now() + self.network.latency(self.queue.now());
                self.queue.schedule(at, Event::ServerNotices(connection));
                continue;
            }
            match self.network.send(self.queue.now(), connection, Direction::ToServer) {
                Delivery::At(at) => self.queue.schedule(at, Event::ToServer(connection, message)),
                Delivery::Broken => self.link_broke(connection),
                Delivery::Closed => {}
            }
        }
    }

    /// A message was lost: TCP gives up on the connection. Each side notices after a delay:
    /// at once (a reset) or only through its own timeouts.
    fn link_broke(&mut self, connection: ConnectionId) {
        self.trace(format!("net conn={} broken", connection.0));
        let now = self.queue.now();
        if self.network.rng().chance(0.5) {
            let at = now + self.network.latency(now);
            self.queue.schedule(at, Event::ClientNotices(connection));
        }
        let server_delay = self.network.rng().range(1, self.options.session_timeout_ms.max(1) as u64 * 2);
        self.queue.schedule(now + server_delay, Event::ServerNotices(connection));
    }

    fn client_notices(&mut self, connection: ConnectionId) {
        let Some(index) = self.network.client_of(connection) else { return };
        self.trace(format!("c{index} notices conn={} lost", connection.0));
        self.with_client(index, |client, cx| client.on_connection_lost(cx, connection));
        self.wake_client(index, self.queue.now() + 1);
    }

    fn deliver_to_client(&mut self, connection: ConnectionId, message: ServerMessage) {
        if !self.network.is_alive(connection) {
            return;
        }
        let Some(index) = self.network.client_of(connection) else { return };
        let conn = connection.0;
        match message {
            ServerMessage::Connected(response) => {
                self.trace(format!(
                    "c{index} <- connected conn={conn} session={} timeout={}",
                    response.session_id, response.timeout_ms
                ));
                if response.session_id.0 == 0 {
                    self.stats.sessions_expired += 1;
                } else {
                    self.known_sessions.insert(response.session_id);
                }
                let messages = self.with_client(index, |client, cx| client.on_connected(cx, connection, response));
                self.client_send(index, messages);
                self.wake_client(index, self.queue.now() + 1);
            }
            ServerMessage::Reply(header, response) => {
                self.trace(format!(
                    "c{index} <- conn={conn} xid={} zxid={} {:?}{}",
                    header.xid,
                    header.zxid,
                    header.err,
                    describe::response(&response)
                ));
                self.servers[0].durability.on_reply(header.zxid);
                self.with_client(index, |client, cx| client.on_reply(cx, connection, header, response));
            }
            ServerMessage::Watch(event) => {
                self.trace(format!("c{index} <- conn={conn} event {}", describe::event(&event)));
                self.with_client(index, |client, cx| client.on_event(cx, connection, event));
            }
            ServerMessage::Closed => {
                self.trace(format!("c{index} <- conn={conn} closed by server"));
                self.with_client(index, |client, cx| client.on_connection_lost(cx, connection));
                self.network.forget(connection);
                self.wake_client(index, self.queue.now() + 1);
            }
        }
    }

    /// Submits an operation for client `index` now (scripts). Returns false if the client is
    /// not connected.
    pub fn submit(&mut self, index: usize, request: Request, kind: OpKind) -> bool {
        if !self.clients[index].is_up() {
            return false;
        }
        let messages = self.with_client(index, |client, cx| client.submit(cx, request, kind));
        self.client_send(index, messages);
        true
    }

    /// Breaks client `index`'s connection now, as a network fault would.
    pub fn disconnect(&mut self, index: usize) {
        if let Link::Up { connection } | Link::Handshake { connection, .. } = self.clients[index].link() {
            self.network.break_link(connection);
            self.trace(format!("net conn={} cut", connection.0));
            let now = self.queue.now();
            self.queue.schedule(now + 1, Event::ClientNotices(connection));
            self.queue.schedule(now + 1, Event::ServerNotices(connection));
        }
    }

    /// Makes client `index` use server `server`: its next connection goes there, and a live
    /// connection to another server is cut so the session moves (scripts).
    pub fn move_client(&mut self, index: usize, server: usize) {
        self.network.set_target(index, server);
        if let Link::Up { connection } | Link::Handshake { connection, .. } = self.clients[index].link() {
            if self.network.server_of(connection) != Some(server) {
                self.disconnect(index);
            }
        }
        self.trace(format!("c{index} moves to n{server}"));
    }

    /// Whether a quorum of servers (`all`: every live server) serves clients.
    pub fn serving_quorum(&self, all: bool) -> bool {
        let live = self.servers.iter().filter(|s| s.node.is_some()).count();
        let serving = self.servers.iter().filter(|s| s.node.as_ref().is_some_and(Node::is_serving)).count();
        if all {
            serving == live
        } else {
            serving > self.servers.len() / 2
        }
    }

    /// Keeps client `index` silent (no pings, no reconnects) for `ms`, after cutting its link.
    pub fn silence(&mut self, index: usize, ms: u64) {
        let until = self.queue.now() + ms;
        self.clients[index].silence(until);
        if let Link::Up { connection } | Link::Handshake { connection, .. } = self.clients[index].link() {
            self.network.break_link(connection);
            self.trace(format!("c{index} goes silent for {ms} ms (conn={} cut)", connection.0));
        }
        self.wake_client(index, until);
    }

    /// Keeps client `index` from sending anything for `ms` while its link stays open.
    pub fn pause(&mut self, index: usize, ms: u64) {
        let until = self.queue.now() + ms;
        self.clients[index].silence(until);
        self.trace(format!("c{index} pauses for {ms} ms"));
        self.wake_client(index, until);
    }

    /// A swarm fault: one client stops sending for about its session timeout, or longer.
    fn random_pause(&mut self) {
        let Some(mean) = self.options.client_pause_interval_ms_mean else { return };
        if self.phase != Phase::Safety {
            return;
        }
        let client = self.rng_faults.range(0, self.clients.len() as u64 - 1) as usize;
        let timeout = self.options.session_timeout_ms as u64;
        let length = self.rng_faults.range(timeout / 2, timeout * 3);
        self.pause(client, length);
        let at = self.queue.now() + self.rng_faults.exponential(mean as f64).max(1);
        self.queue.schedule(at, Event::ClientPause);
    }

    fn clog(&mut self) {
        if self.phase != Phase::Safety {
            return;
        }
        let now = self.queue.now();
        let length = self.rng_faults.exponential(self.options.clog_ms_mean as f64);
        let extra = self.rng_faults.range(self.options.clog_ms_mean / 2, self.options.clog_ms_mean * 2);
        self.network.clog(now + length, extra);
        self.peers.clog(now + length, extra);
        self.trace(format!("net clogged for {length} ms (+{extra} ms per message)"));
        if let Some(mean) = self.options.clog_interval_ms_mean {
            let at = now + self.rng_faults.exponential(mean as f64);
            self.queue.schedule(at, Event::Clog);
        }
    }

    fn heal(&mut self) {
        self.phase = Phase::Liveness;
        self.shared.liveness = true;
        self.network.heal();
        self.peers.heal();
        self.resend_on_new_connections();
        for server in &mut self.servers {
            server.disk.heal();
        }
        self.armed_crash = None;
        self.trace("HEAL: faults off, liveness phase");
        self.sample_servers_at_heal();
        if self.options.mutant == Some(crate::options::Mutant::NoRestartAfterHeal) {
            self.auto_restart = false;
            self.crash_now(None);
            return;
        }
        for index in 0..self.servers.len() {
            if self.servers[index].node.is_none() {
                self.queue.schedule(self.queue.now(), Event::Restart(index));
            }
        }
    }

    /// Ends the run: the offline checkers and the liveness check.
    pub fn finish(mut self) -> RunReport {
        self.stats.simulated_ms = self.queue.now();
        self.stats.ops = self.history.ops.len();
        self.stats.ops_completed = self.history.ops.iter().filter(|op| op.completion.is_some()).count();
        self.stats.last_zxid =
            self.servers.iter().filter_map(|s| s.node.as_ref()).map(|n| n.last_zxid().0).max().unwrap_or(0);
        if self.is_ensemble() {
            self.final_ensemble_checks();
        }
        let (offline, coverage) = checker::check_history(&self.history);
        self.violations.extend(offline);
        if self.heal_at != u64::MAX {
            let deadline = self.heal_at + self.options.liveness_ms_max;
            self.violations.extend(checker::liveness::check(&self.history, self.clients.len(), self.heal_at, deadline));
        }
        let end = self.end_of_run_checks();
        self.violations.extend(end);
        RunReport {
            seed: self.options.seed,
            hash: self.trace.hash(),
            violations: self.violations,
            coverage,
            stats: self.stats,
            trace_tail: self.trace.tail().cloned().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_node_clock_round_trips_with_skew() {
        for skew_ppm in [-50_000, 0, 37_000] {
            let clock = NodeClock { skew_ppm };
            for global in [0, 1, 999, 60_000, 123_457] {
                let local = clock.local(global);
                assert!(clock.global(local) <= global);
                assert!(clock.local(clock.global(local)) >= local);
            }
        }
    }
}
