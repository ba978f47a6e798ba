//! The soak's load: several sessions of the third-party `zookeeper-client`, each sending
//! batches of `depth` pipelined requests (sent back to back, then awaited in order), mostly
//! reads, plus writes whose acknowledgements are kept to prove none was lost:
//! - creates of `/soak/sN/nM` with M increasing per session (every acknowledged M must exist
//!   at the end);
//! - setData of the session's own keys `/soak/vN-K` with increasing values (each key must end
//!   at its last acknowledged value or a later one that session attempted);
//! - operations on shared registers `/kR` (create, setData, sync + getData, from every
//!   session), recorded in the simulator's [`History`] and judged by its linearizability
//!   checker; each register takes at most [`REGISTER_OPS_MAX`] operations, so the checker
//!   sees all of them.
//!
//! Every answer's latency goes into an HDR histogram; every failure, session state change and
//! acknowledged write is kept with its time, to attribute them to faults afterwards.

use super::Clock;
use hdrhistogram::Histogram;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;
use zab_core::proto::{self, CreateRequest, PathWatchRequest, Request, Response, SetDataRequest};
use zab_core::{ErrorCode, SessionId, Zxid};
use zab_sim::history::{History, OpId, OpKind};
use zookeeper_client as zk;

/// Own keys per session.
pub const KEYS_PER_SESSION: usize = 8;
/// Operations per shared register before the load moves to the next one.
pub const REGISTER_OPS_MAX: u64 = 100;
/// Slowest latency the histogram holds, µs (slower answers are counted at this value).
const LATENCY_US_MAX: u64 = 120_000_000;
/// Longest error name kept (a client's own error is named by its message).
const ERROR_NAME_CHARS_MAX: usize = 80;
/// Most timestamped events of each kind kept (errors, disconnects, acknowledged writes).
const EVENTS_MAX: usize = 5_000_000;
/// How long a session waits for its connection to come back after a failed batch before it
/// tries again (so a dead connection does not spin out millions of errors).
const RECONNECT_WAIT_MAX: Duration = Duration::from_secs(1);

const OPEN: zk::CreateOptions<'static> = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());

/// How much load, and how.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// Concurrent sessions.
    pub sessions: usize,
    /// Requests in flight per session.
    pub depth: usize,
    /// Requests per second per session; 0 sends as fast as answers come.
    pub rate_per_session: u32,
    /// The session timeout the clients ask for.
    pub session_timeout: Duration,
    /// Seeds the choice of operations.
    pub seed: u64,
}

/// Counters of one phase (quiet, chaos), reset by [`Load::take_stats`].
pub struct Stats {
    /// Latency of every successful answer, µs.
    pub latency_us: Histogram<u64>,
    /// Successful reads.
    pub reads: u64,
    /// Successful writes.
    pub writes: u64,
    /// Failed requests by error.
    pub errors: BTreeMap<String, u64>,
    /// Sessions that saw their connection drop (state Disconnected).
    pub disconnects: u64,
    /// Sessions that expired.
    pub expirations: u64,
}

impl Stats {
    fn new() -> Stats {
        let latency_us = Histogram::new_with_bounds(1, LATENCY_US_MAX, 3).expect("histogram bounds");
        Stats { latency_us, reads: 0, writes: 0, errors: BTreeMap::new(), disconnects: 0, expirations: 0 }
    }
}

/// Timestamped events of the whole run (µs since the run's start).
#[derive(Default)]
pub struct Events {
    /// (when, error).
    pub errors: Vec<(u64, String)>,
    /// (when, session index): the session's connection dropped.
    pub disconnects: Vec<(u64, usize)>,
    /// (invoked, answered) of every acknowledged write.
    pub writes: Vec<(u64, u64)>,
}

fn push_bounded<T>(events: &mut Vec<T>, event: T) {
    if events.len() < EVENTS_MAX {
        events.push(event);
    }
}

/// What one session wrote, for the final check.
#[derive(Clone, Debug, Default)]
pub struct Written {
    /// The session's index.
    pub session: usize,
    /// M of every acknowledged create of `/soak/sN/nM`.
    pub creates_acknowledged: Vec<u64>,
    /// Per own key: the last acknowledged value.
    pub values_acknowledged: Vec<u64>,
    /// Per own key: the highest value attempted.
    pub values_attempted: Vec<u64>,
    next_create: u64,
}

/// Own key `key` of session `session`.
pub fn key_path(session: usize, key: usize) -> String {
    format!("/soak/v{session}-{key}")
}

/// The parent of session `session`'s creates.
pub fn creates_parent(session: usize) -> String {
    format!("/soak/s{session}")
}

struct Shared {
    clock: Clock,
    options: LoadOptions,
    connect: String,
    stop: AtomicBool,
    ready: AtomicUsize,
    register_ops: AtomicU64,
    stats: Mutex<Stats>,
    events: Mutex<Events>,
    history: Mutex<History>,
}

/// The running load.
pub struct Load {
    shared: Arc<Shared>,
    sessions: Vec<JoinHandle<Written>>,
}

impl Load {
    /// Creates `/soak` and starts the sessions on the current runtime.
    pub async fn start(connect: String, options: LoadOptions, clock: Clock) -> Result<Load, String> {
        let client = connect_client(&connect, &options).await.map_err(|e| format!("connect {connect}: {e}"))?;
        match client.create("/soak", b"", &OPEN).await {
            Ok(_) | Err(zk::Error::NodeExists) => {}
            Err(error) => return Err(format!("create /soak: {error}")),
        }
        let shared = Arc::new(Shared {
            clock,
            options: options.clone(),
            connect,
            stop: AtomicBool::new(false),
            ready: AtomicUsize::new(0),
            register_ops: AtomicU64::new(0),
            stats: Mutex::new(Stats::new()),
            events: Mutex::new(Events::default()),
            history: Mutex::new(History::default()),
        });
        let sessions = (0..options.sessions).map(|index| tokio::spawn(run_session(shared.clone(), index))).collect();
        Ok(Load { shared, sessions })
    }

    /// Waits until every session has connected and made its keys.
    pub async fn wait_ready(&self, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        while self.shared.ready.load(Ordering::Relaxed) < self.shared.options.sessions {
            if Instant::now() > deadline {
                let ready = self.shared.ready.load(Ordering::Relaxed);
                return Err(format!(
                    "only {ready} of {} sessions ready after {timeout:?}",
                    self.shared.options.sessions
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(())
    }

    /// The counters since the last call, and a fresh set for the next phase.
    pub fn take_stats(&self) -> Stats {
        std::mem::replace(&mut *self.shared.stats.lock().expect("stats lock"), Stats::new())
    }

    /// (successful requests, failed requests, disconnects) of the current phase so far.
    pub fn progress(&self) -> (u64, u64, u64) {
        let stats = self.shared.stats.lock().expect("stats lock");
        (stats.reads + stats.writes, stats.errors.values().sum(), stats.disconnects)
    }

    /// Runs `f` over the timestamped events so far.
    pub fn with_events<T>(&self, f: impl FnOnce(&Events) -> T) -> T {
        f(&self.shared.events.lock().expect("events lock"))
    }

    /// Stops the sessions (each finishes its batch) and returns what they wrote and the
    /// register history.
    pub async fn stop(self, timeout: Duration) -> Result<(Vec<Written>, History), String> {
        self.shared.stop.store(true, Ordering::Relaxed);
        let mut written = Vec::new();
        for (index, session) in self.sessions.into_iter().enumerate() {
            match tokio::time::timeout(timeout, session).await {
                Ok(Ok(record)) => written.push(record),
                Ok(Err(error)) => return Err(format!("session {index} panicked: {error}")),
                Err(_) => return Err(format!("session {index} did not stop within {timeout:?}")),
            }
        }
        let history = std::mem::take(&mut *self.shared.history.lock().expect("history lock"));
        Ok((written, history))
    }
}

/// A client of the whole ensemble, or of one server.
pub async fn connect_client(connect: &str, options: &LoadOptions) -> Result<zk::Client, zk::Error> {
    zk::Client::connector()
        .with_session_timeout(options.session_timeout)
        .with_connection_timeout(Duration::from_secs(5))
        .connect(connect)
        .await
}

async fn run_session(shared: Arc<Shared>, index: usize) -> Written {
    let mut written = Written {
        session: index,
        values_acknowledged: vec![0; KEYS_PER_SESSION],
        values_attempted: vec![0; KEYS_PER_SESSION],
        ..Written::default()
    };
    let mut rng = ChaCha8Rng::seed_from_u64(shared.options.seed.wrapping_add(index as u64));
    let mut first = true;
    while !shared.stop.load(Ordering::Relaxed) {
        let client = match connect_client(&shared.connect, &shared.options).await {
            Ok(client) => client,
            Err(error) => {
                shared.record_error(format!("connect: {}", error_name(&error)));
                tokio::time::sleep(RECONNECT_WAIT_MAX).await;
                continue;
            }
        };
        watch_state(&shared, &client, index);
        if let Err(error) = prepare(&client, index).await {
            shared.record_error(format!("prepare: {}", error_name(&error)));
            continue;
        }
        if std::mem::take(&mut first) {
            shared.ready.fetch_add(1, Ordering::Relaxed);
        }
        run_batches(&shared, &client, &mut rng, &mut written).await;
    }
    written
}

/// Makes the session's parent and keys (again, after an expiry: they may exist).
async fn prepare(client: &zk::Client, index: usize) -> Result<(), zk::Error> {
    let mut paths = vec![creates_parent(index)];
    paths.extend((0..KEYS_PER_SESSION).map(|key| key_path(index, key)));
    for path in paths {
        match client.create(&path, b"0", &OPEN).await {
            Ok(_) | Err(zk::Error::NodeExists) => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

/// One request of the mix.
enum Op {
    Read(String),
    SetOwn { path: String, key: usize, value: u64 },
    CreateOwn { path: String, n: u64 },
    RegisterCreate(String, Vec<u8>),
    RegisterSet(String, Vec<u8>),
    RegisterSyncRead(String),
}

impl Op {
    fn is_write(&self) -> bool {
        !matches!(self, Op::Read(_) | Op::RegisterSyncRead(_))
    }

    fn is_register(&self) -> bool {
        matches!(self, Op::RegisterCreate(..) | Op::RegisterSet(..) | Op::RegisterSyncRead(_))
    }
}

/// What a successful request returned.
enum Reply {
    Data(Vec<u8>, zk::Stat),
    Stat(zk::Stat),
}

type ReplyFuture<'a> = Pin<Box<dyn Future<Output = Result<Reply, zk::Error>> + Send + 'a>>;

struct InFlight<'a> {
    op: &'a Op,
    invoked_us: u64,
    sent: Instant,
    history: Option<OpId>,
    reply: ReplyFuture<'a>,
}

async fn run_batches(shared: &Shared, client: &zk::Client, rng: &mut ChaCha8Rng, written: &mut Written) {
    let options = &shared.options;
    let session = SessionId(client.session_id().0);
    while !shared.stop.load(Ordering::Relaxed) {
        let started = Instant::now();
        // The ops outlive their requests: a create's answer borrows its path.
        let ops: Vec<Op> = (0..options.depth).map(|_| choose(shared, rng, written)).collect();
        let batch: Vec<InFlight<'_>> = ops.iter().map(|op| shared.send(client, op, written.session, session)).collect();
        let mut failed = false;
        for in_flight in batch {
            failed |= !shared.complete(in_flight, written).await;
        }
        if matches!(client.state(), zk::SessionState::Expired | zk::SessionState::Closed | zk::SessionState::AuthFailed)
        {
            return;
        }
        if failed {
            let mut state = client.state_watcher();
            let _ = tokio::time::timeout(RECONNECT_WAIT_MAX, async {
                while state.state() != zk::SessionState::SyncConnected {
                    state.changed().await;
                }
            })
            .await;
        }
        if options.rate_per_session > 0 {
            let pace = Duration::from_secs_f64(options.depth as f64 / f64::from(options.rate_per_session));
            tokio::time::sleep_until((started + pace).into()).await;
        }
    }
}

/// The mix: 88% reads, 4% own setData, 4% own creates, 4% shared-register operations.
fn choose(shared: &Shared, rng: &mut ChaCha8Rng, written: &mut Written) -> Op {
    let session = written.session;
    let draw = rng.gen_range(0..100);
    match draw {
        0..=87 => Op::Read(key_path(session, rng.gen_range(0..KEYS_PER_SESSION))),
        88..=91 => {
            let key = rng.gen_range(0..KEYS_PER_SESSION);
            written.values_attempted[key] += 1;
            Op::SetOwn { path: key_path(session, key), key, value: written.values_attempted[key] }
        }
        92..=95 => {
            written.next_create += 1;
            let n = written.next_create;
            Op::CreateOwn { path: format!("{}/n{n}", creates_parent(session)), n }
        }
        _ => {
            let n = shared.register_ops.fetch_add(1, Ordering::Relaxed);
            let path = format!("/k{}", n / REGISTER_OPS_MAX);
            let data = format!("s{session}-{n}").into_bytes();
            match (n % REGISTER_OPS_MAX, draw % 2) {
                (0, _) => Op::RegisterCreate(path, data),
                (_, 0) => Op::RegisterSet(path, data),
                _ => Op::RegisterSyncRead(path),
            }
        }
    }
}

impl Shared {
    /// Sends one request (the client queues it at once: pipelining) and records its invocation.
    fn send<'a>(&self, client: &'a zk::Client, op: &'a Op, index: usize, session: SessionId) -> InFlight<'a> {
        let invoked_us = self.clock.now_us();
        let history = self.invoke(op, index, session, invoked_us);
        let reply: ReplyFuture<'a> = match op {
            Op::Read(path) => {
                let read = client.get_data(path);
                Box::pin(async move { read.await.map(|(data, stat)| Reply::Data(data, stat)) })
            }
            Op::SetOwn { path, value, .. } => {
                let set = client.set_data(path, value.to_string().as_bytes(), None);
                Box::pin(async move { set.await.map(Reply::Stat) })
            }
            Op::CreateOwn { path, .. } => {
                let create = client.create(path, b"", &OPEN);
                Box::pin(async move { create.await.map(|(stat, _)| Reply::Stat(stat)) })
            }
            Op::RegisterCreate(path, data) => {
                let create = client.create(path, data, &OPEN);
                Box::pin(async move { create.await.map(|(stat, _)| Reply::Stat(stat)) })
            }
            Op::RegisterSet(path, data) => {
                let set = client.set_data(path, data, None);
                Box::pin(async move { set.await.map(Reply::Stat) })
            }
            Op::RegisterSyncRead(path) => {
                let (sync, read) = (client.sync(path), client.get_data(path));
                Box::pin(async move {
                    sync.await?;
                    read.await.map(|(data, stat)| Reply::Data(data, stat))
                })
            }
        };
        InFlight { op, invoked_us, sent: Instant::now(), history, reply }
    }

    fn invoke(&self, op: &Op, client: usize, session: SessionId, invoked_us: u64) -> Option<OpId> {
        let (request, kind) = match op {
            Op::RegisterCreate(path, data) => {
                let request = CreateRequest { path: path.clone(), data: data.clone(), acl: Vec::new(), flags: 0 };
                (Request::Create2(request), OpKind::Plain)
            }
            Op::RegisterSet(path, data) => {
                let request = SetDataRequest { path: path.clone(), data: data.clone(), version: -1 };
                (Request::SetData(request), OpKind::Plain)
            }
            Op::RegisterSyncRead(path) => {
                (Request::GetData(PathWatchRequest { path: path.clone(), watch: false }), OpKind::ReadAfterSync)
            }
            _ => return None,
        };
        let mut history = self.history.lock().expect("history lock");
        Some(history.invoke(invoked_us / 1000, client, session, request, kind))
    }

    /// Awaits one answer and records it; returns whether it succeeded (as far as the
    /// connection goes: a register's NoNode or NodeExists is an answer, not a failure).
    async fn complete(&self, in_flight: InFlight<'_>, written: &mut Written) -> bool {
        let InFlight { op, invoked_us, sent, history, reply } = in_flight;
        let result = reply.await;
        let latency_us = sent.elapsed().as_micros() as u64;
        let now_us = self.clock.now_us();
        if let Some(id) = history {
            self.complete_history(id, now_us, &result);
        }
        match result {
            Ok(_) => {
                match *op {
                    Op::SetOwn { key, value, .. } => {
                        written.values_acknowledged[key] = written.values_acknowledged[key].max(value)
                    }
                    Op::CreateOwn { n, .. } => written.creates_acknowledged.push(n),
                    _ => {}
                }
                self.record_success(op.is_write(), latency_us, invoked_us, now_us);
                true
            }
            Err(zk::Error::NoNode | zk::Error::NodeExists) if op.is_register() => {
                self.stats.lock().expect("stats lock").latency_us.saturating_record(latency_us);
                true
            }
            Err(error) => {
                self.record_error(error_name(&error));
                false
            }
        }
    }

    fn complete_history(&self, id: OpId, now_us: u64, result: &Result<Reply, zk::Error>) {
        let (err, response) = match result {
            Ok(Reply::Stat(stat)) => (ErrorCode::Ok, Response::Stat(core_stat(stat))),
            Ok(Reply::Data(data, stat)) => {
                (ErrorCode::Ok, Response::GetData { data: data.clone(), stat: core_stat(stat) })
            }
            Err(zk::Error::NoNode) => (ErrorCode::NoNode, Response::Empty),
            Err(zk::Error::NodeExists) => (ErrorCode::NodeExists, Response::Empty),
            Err(zk::Error::BadVersion) => (ErrorCode::BadVersion, Response::Empty),
            // Connection loss, timeouts, expiry: the outcome is unknown, the op stays open.
            Err(_) => return,
        };
        let zxid = match result {
            Ok(Reply::Stat(stat) | Reply::Data(_, stat)) => Zxid(stat.mzxid),
            Err(_) => Zxid::ZERO,
        };
        let mut history = self.history.lock().expect("history lock");
        // A register create answers with a Create2 response; the checker only needs "OK".
        let response = match (&history.ops[id].request, response) {
            (Request::Create2(request), Response::Stat(stat)) => Response::Create2 { path: request.path.clone(), stat },
            (_, response) => response,
        };
        history.complete(now_us / 1000, id, zxid, err, response);
    }

    fn record_success(&self, write: bool, latency_us: u64, invoked_us: u64, now_us: u64) {
        {
            let mut stats = self.stats.lock().expect("stats lock");
            stats.latency_us.saturating_record(latency_us);
            if write {
                stats.writes += 1;
            } else {
                stats.reads += 1;
            }
        }
        if write {
            push_bounded(&mut self.events.lock().expect("events lock").writes, (invoked_us, now_us));
        }
    }

    fn record_error(&self, error: String) {
        let now_us = self.clock.now_us();
        *self.stats.lock().expect("stats lock").errors.entry(error.clone()).or_default() += 1;
        push_bounded(&mut self.events.lock().expect("events lock").errors, (now_us, error));
    }

    fn disconnected(&self, index: usize) {
        let now_us = self.clock.now_us();
        self.stats.lock().expect("stats lock").disconnects += 1;
        push_bounded(&mut self.events.lock().expect("events lock").disconnects, (now_us, index));
    }
}

/// Counts the session's connection drops and expiry as the client reports them.
fn watch_state(shared: &Arc<Shared>, client: &zk::Client, index: usize) {
    let mut watcher = client.state_watcher();
    let shared = shared.clone();
    tokio::spawn(async move {
        loop {
            match watcher.changed().await {
                zk::SessionState::Disconnected => shared.disconnected(index),
                zk::SessionState::Expired => {
                    shared.stats.lock().expect("stats lock").expirations += 1;
                    return;
                }
                zk::SessionState::Closed | zk::SessionState::AuthFailed => return,
                _ => {}
            }
        }
    });
}

fn core_stat(stat: &zk::Stat) -> proto::Stat {
    proto::Stat { czxid: stat.czxid, mzxid: stat.mzxid, version: stat.version, ..proto::Stat::default() }
}

/// The error's variant name (`ConnectionLoss`, `Timeout`, ...) without its payload; the
/// client's own errors (`Custom`) by their message, which says what happened.
pub fn error_name(error: &zk::Error) -> String {
    if let zk::Error::Custom(_) = error {
        return format!("{error}").chars().take(ERROR_NAME_CHARS_MAX).collect();
    }
    let debug = format!("{error:?}");
    debug.split(['(', ' ', '{']).next().unwrap_or("unknown").to_string()
}
