//! The workloads, driven by the third-party `zookeeper-client` crate: `sessions` sessions, each
//! sending batches of `depth` requests back to back (the client writes each request when it
//! is issued) and then awaiting them in order, as fast as answers come.
//!
//! Session `i` talks to server `i mod n` only, so an ensemble's load is spread evenly and the
//! same way for both flavors. Only answers that arrive inside the measured window count;
//! the warm-up before it lets the JVM compile its hot paths.

use crate::servers::{cpu_us, Cluster};
use hdrhistogram::Histogram;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use zookeeper_client as zk;

/// Znodes each session reads and writes in its own directory.
pub const KEYS_PER_SESSION: usize = 16;
/// Slowest latency the histogram holds, µs.
const LATENCY_US_MAX: u64 = 60_000_000;
/// How long a client waits to connect, and its session timeout.
pub const SESSION_TIMEOUT: Duration = Duration::from_secs(30);

pub const OPEN: zk::CreateOptions<'static> = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
const EPHEMERAL: zk::CreateOptions<'static> = zk::CreateMode::Ephemeral.with_acls(zk::Acls::anyone_all());

/// One workload of the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    /// create of a new znode.
    Create,
    /// setData of an existing znode.
    Set,
    /// getData.
    Get,
    /// exists.
    Exists,
    /// getChildren of a directory of [`KEYS_PER_SESSION`] znodes.
    GetChildren,
    /// 9 getData to 1 setData.
    Mixed,
    /// multi of two setData.
    Multi,
    /// ephemeral create, then delete (each request one operation).
    Ephemeral,
    /// Kafka's use: brokers registered as ephemerals under a chroot, a controller elected by
    /// an ephemeral znode, partition states updated by multi (check the controller epoch's
    /// version, setData with the expected version); every fourth request reads a neighbour's
    /// partition state and leaves a watch on it, which the neighbour's next update fires.
    Kafka,
}

impl Workload {
    /// Every workload, in table order.
    pub const ALL: [Workload; 9] = [
        Workload::Create,
        Workload::Set,
        Workload::Get,
        Workload::Exists,
        Workload::GetChildren,
        Workload::Mixed,
        Workload::Multi,
        Workload::Ephemeral,
        Workload::Kafka,
    ];

    /// The name in tables and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Workload::Create => "create",
            Workload::Set => "set",
            Workload::Get => "get",
            Workload::Exists => "exists",
            Workload::GetChildren => "getChildren",
            Workload::Mixed => "mixed 90/10",
            Workload::Multi => "multi",
            Workload::Ephemeral => "ephemeral create+delete",
            Workload::Kafka => "kafka-style",
        }
    }
}

/// How much load, and how long.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    /// Concurrent sessions.
    pub sessions: usize,
    /// Requests in flight per session.
    pub depth: usize,
    /// Payload bytes of each write.
    pub payload: usize,
    /// Unmeasured time first.
    pub warmup: Duration,
    /// The measured window.
    pub window: Duration,
}

/// What one workload measured.
pub struct Measurement {
    /// Successful answers in the window.
    pub ops: u64,
    /// Failed requests (in the window or not), by error.
    pub errors: BTreeMap<String, u64>,
    /// Latency of each successful answer in the window, µs.
    pub latency_us: Histogram<u64>,
    /// The window's length.
    pub seconds: f64,
    /// utime + stime of every server process in the window, µs.
    pub server_cpu_us: u64,
}

impl Measurement {
    /// Successful answers per second.
    pub fn ops_per_second(&self) -> f64 {
        self.ops as f64 / self.seconds.max(1e-9)
    }

    /// Server CPU per successful answer, µs.
    pub fn cpu_us_per_op(&self) -> f64 {
        self.server_cpu_us as f64 / (self.ops.max(1)) as f64
    }

    /// All failures.
    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }
}

/// What the sessions share.
struct Shared {
    measuring: AtomicBool,
    stop: AtomicBool,
    ops: AtomicU64,
    errors: Mutex<BTreeMap<String, u64>>,
}

impl Shared {
    fn error(&self, error: &zk::Error) {
        let name = format!("{error:?}");
        let name: String = name.chars().take(60).collect();
        *self.errors.lock().expect("errors").entry(name).or_default() += 1;
    }
}

/// Connects one session to `address`.
pub async fn connect(address: &str) -> Result<zk::Client, zk::Error> {
    zk::Client::connector()
        .with_session_timeout(SESSION_TIMEOUT)
        .with_connection_timeout(SESSION_TIMEOUT)
        .connect(address)
        .await
}

/// Runs `workload` against `cluster` under a fresh root `/r<run>`; returns its measurement.
pub async fn run(cluster: &Cluster, workload: Workload, shape: Shape, run: u64) -> Result<Measurement, String> {
    let root = format!("/r{run}");
    let addresses: Vec<String> = cluster.running().into_iter().map(|i| cluster.address(i).to_string()).collect();
    let admin = connect(&addresses[0]).await.map_err(|e| format!("connect {}: {e}", addresses[0]))?;
    prepare(&admin, workload, shape, &root).await.map_err(|e| format!("prepare {}: {e}", workload.name()))?;
    let shared = Arc::new(Shared {
        measuring: AtomicBool::new(false),
        stop: AtomicBool::new(false),
        ops: AtomicU64::new(0),
        errors: Mutex::new(BTreeMap::new()),
    });
    let mut clients = Vec::new();
    for index in 0..shape.sessions {
        let address = &addresses[index % addresses.len()];
        clients.push(connect(address).await.map_err(|e| format!("connect session {index} to {address}: {e}"))?);
    }
    let mut tasks = Vec::new();
    for (index, client) in clients.into_iter().enumerate() {
        let shared = Arc::clone(&shared);
        let root = root.clone();
        tasks.push(tokio::spawn(async move { session(shared, client, workload, shape, root, index).await }));
    }
    tokio::time::sleep(shape.warmup).await;
    let pids = cluster.pids();
    let cpu_before: u64 = pids.iter().map(|&p| cpu_us(p)).sum();
    let started = Instant::now();
    shared.measuring.store(true, Ordering::SeqCst);
    tokio::time::sleep(shape.window).await;
    shared.measuring.store(false, Ordering::SeqCst);
    let seconds = started.elapsed().as_secs_f64();
    let cpu_after: u64 = pids.iter().map(|&p| cpu_us(p)).sum();
    shared.stop.store(true, Ordering::SeqCst);
    let mut latency_us = new_histogram();
    for task in tasks {
        let histogram = task.await.map_err(|e| format!("session task: {e}"))?;
        latency_us.add(&histogram).map_err(|e| format!("histogram: {e}"))?;
    }
    let errors = shared.errors.lock().expect("errors").clone();
    Ok(Measurement {
        ops: shared.ops.load(Ordering::SeqCst),
        errors,
        latency_us,
        seconds,
        server_cpu_us: cpu_after.saturating_sub(cpu_before),
    })
}

/// Creates the root, each session's directory with its keys, and Kafka's tree.
async fn prepare(client: &zk::Client, workload: Workload, shape: Shape, root: &str) -> Result<(), zk::Error> {
    client.create(root, b"", &OPEN).await?;
    let payload = vec![b'x'; shape.payload];
    if workload == Workload::Kafka {
        let kafka = client.clone().chroot(root.to_string()).map_err(|_| zk::Error::BadArguments(&"chroot"))?;
        for path in ["/brokers", "/brokers/ids", "/brokers/topics", "/controller_epoch"] {
            kafka.create(path, b"0", &OPEN).await?;
        }
        for broker in 0..shape.sessions {
            let topic = format!("/brokers/topics/t{broker}");
            kafka.create(&topic, b"{}", &OPEN).await?;
            kafka.create(&format!("{topic}/partitions"), b"", &OPEN).await?;
            for partition in 0..shape.depth {
                kafka.create(&format!("{topic}/partitions/{partition}"), b"", &OPEN).await?;
                kafka.create(&format!("{topic}/partitions/{partition}/state"), &payload, &OPEN).await?;
            }
        }
        return Ok(());
    }
    for index in 0..shape.sessions {
        let dir = format!("{root}/s{index}");
        client.create(&dir, b"", &OPEN).await?;
        let keys: Vec<String> = (0..KEYS_PER_SESSION).map(|k| format!("{dir}/k{k}")).collect();
        let creates: Vec<_> = keys.iter().map(|key| client.create(key, &payload, &OPEN)).collect();
        for create in creates {
            create.await?;
        }
    }
    Ok(())
}

/// A request in flight.
type InFlight<'a> = Pin<Box<dyn Future<Output = Result<(), zk::Error>> + Send + 'a>>;

/// One session's loop: batches of `depth` requests until told to stop.
async fn session(
    shared: Arc<Shared>,
    client: zk::Client,
    workload: Workload,
    shape: Shape,
    root: String,
    index: usize,
) -> Histogram<u64> {
    // Each session keeps its own histogram (merged at the end), so sessions never contend.
    let mut histogram = new_histogram();
    let mut state = SessionState::new(&client, workload, shape, &root, index).await;
    if let Err(error) = &state.setup {
        shared.error(error);
        return histogram;
    }
    let mut counter: u64 = 0;
    while !shared.stop.load(Ordering::SeqCst) {
        // The client borrows a create's path until the answer: the paths outlive the batch.
        let paths: Vec<String> = (0..shape.depth).map(|slot| state.path(slot, counter + slot as u64)).collect();
        let sent = Instant::now();
        let batch: Vec<(usize, InFlight<'_>)> =
            (0..shape.depth).map(|slot| (slot, state.send(slot, counter + slot as u64, &paths[slot]))).collect();
        counter += shape.depth as u64;
        let mut outcomes = Vec::with_capacity(shape.depth);
        for (slot, request) in batch {
            let result = request.await;
            outcomes.push((slot, result, sent.elapsed()));
        }
        let first = counter - shape.depth as u64;
        let measuring = shared.measuring.load(Ordering::SeqCst);
        for (slot, result, latency) in outcomes {
            match result {
                Ok(()) if measuring => {
                    shared.ops.fetch_add(1, Ordering::Relaxed);
                    histogram.saturating_record(latency.as_micros() as u64);
                }
                Ok(()) => {}
                Err(error) => {
                    shared.error(&error);
                    continue;
                }
            }
            state.answered(slot, first + slot as u64);
        }
        if !matches!(client.state(), zk::SessionState::SyncConnected) {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    histogram
}

fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_max(LATENCY_US_MAX, 3).expect("histogram bounds")
}

/// What a session needs to choose its next request.
struct SessionState {
    client: zk::Client,
    workload: Workload,
    dir: String,
    payload: Vec<u8>,
    /// Ephemeral: whether slot j's znode exists now.
    exists: Vec<bool>,
    /// Kafka: the version of each of this broker's partition states.
    versions: Vec<i32>,
    /// Kafka: the neighbour broker's topic.
    neighbour: String,
    /// Kafka: the broker's own topic.
    topic: String,
    setup: Result<(), zk::Error>,
}

impl SessionState {
    async fn new(client: &zk::Client, workload: Workload, shape: Shape, root: &str, index: usize) -> SessionState {
        let mut client = client.clone();
        let mut setup = Ok(());
        if workload == Workload::Kafka {
            client = client.chroot(root.to_string()).unwrap_or_else(|c| c);
            setup = register_broker(&client, index).await;
        }
        SessionState {
            client,
            workload,
            dir: format!("{root}/s{index}"),
            payload: vec![b'x'; shape.payload],
            exists: vec![false; shape.depth],
            versions: vec![0; shape.depth],
            neighbour: format!("/brokers/topics/t{}", (index + 1) % shape.sessions),
            topic: format!("/brokers/topics/t{index}"),
            setup,
        }
    }

    /// The znode the `n`th request of this session (in `slot`) is about.
    fn path(&self, slot: usize, n: u64) -> String {
        match self.workload {
            Workload::Create => format!("{}/c{n}", self.dir),
            Workload::GetChildren => self.dir.clone(),
            Workload::Ephemeral => format!("{}/e{slot}", self.dir),
            Workload::Kafka if n % 4 == 3 => format!("{}/partitions/{slot}/state", self.neighbour),
            Workload::Kafka => format!("{}/partitions/{slot}/state", self.topic),
            _ => format!("{}/k{}", self.dir, n % KEYS_PER_SESSION as u64),
        }
    }

    /// Sends the request for `slot`, the `n`th of this session, about `path`.
    fn send<'a>(&'a self, slot: usize, n: u64, path: &'a str) -> InFlight<'a> {
        let client = &self.client;
        match self.workload {
            Workload::Create => ignore(client.create(path, &self.payload, &OPEN)),
            Workload::Set => ignore(client.set_data(path, &self.payload, None)),
            Workload::Get => ignore(client.get_data(path)),
            Workload::Exists => ignore(client.check_stat(path)),
            Workload::GetChildren => ignore(client.get_children(path)),
            Workload::Mixed if n % 10 == 9 => ignore(client.set_data(path, &self.payload, None)),
            Workload::Mixed => ignore(client.get_data(path)),
            Workload::Multi => {
                let mut writer = client.new_multi_writer();
                let other = format!("{}/k{}", self.dir, (n + 1) % KEYS_PER_SESSION as u64);
                let added = writer
                    .add_set_data(path, &self.payload, None)
                    .and_then(|()| writer.add_set_data(&other, &self.payload, None));
                match added {
                    Ok(()) => ignore_multi(writer.commit()),
                    Err(error) => Box::pin(async move { Err(error) }),
                }
            }
            Workload::Ephemeral if self.exists[slot] => Box::pin(client.delete(path, None)),
            Workload::Ephemeral => ignore(client.create(path, &self.payload, &EPHEMERAL)),
            Workload::Kafka if n % 4 == 3 => ignore(client.get_and_watch_data(path)),
            Workload::Kafka => self.update_partition(slot, path),
        }
    }

    /// Kafka's controller write: the partition state, guarded by the controller epoch.
    fn update_partition<'a>(&'a self, slot: usize, state: &'a str) -> InFlight<'a> {
        let mut writer = self.client.new_multi_writer();
        let added = writer
            .add_check_version("/controller_epoch", 0)
            .and_then(|()| writer.add_set_data(state, &self.payload, Some(self.versions[slot])));
        match added {
            Ok(()) => ignore_multi(writer.commit()),
            Err(error) => Box::pin(async move { Err(error) }),
        }
    }

    /// Bookkeeping after the `n`th request (in `slot`) succeeded. After a failure nothing is
    /// known; the next requests of that slot then fail too, and are counted.
    fn answered(&mut self, slot: usize, n: u64) {
        match self.workload {
            Workload::Ephemeral => self.exists[slot] = !self.exists[slot],
            Workload::Kafka if n % 4 != 3 => self.versions[slot] = self.versions[slot].wrapping_add(1),
            _ => {}
        }
    }
}

/// A broker's start: its ephemeral registration, a bid for the controller (one wins, the
/// others watch it), and a watch on the broker registry.
async fn register_broker(client: &zk::Client, index: usize) -> Result<(), zk::Error> {
    client.create(&format!("/brokers/ids/{index}"), b"{\"host\":\"127.0.0.1\"}", &EPHEMERAL).await?;
    match client.create("/controller", format!("{{\"brokerid\":{index}}}").as_bytes(), &EPHEMERAL).await {
        Ok(_) | Err(zk::Error::NodeExists) => {}
        Err(error) => return Err(error),
    }
    let (_, _, _registry_watch) = client.get_and_watch_children("/brokers/ids").await?;
    let _controller_watch = client.check_and_watch_stat("/controller").await?;
    Ok(())
}

fn ignore<'a, T>(request: impl Future<Output = Result<T, zk::Error>> + Send + 'a) -> InFlight<'a> {
    Box::pin(async move { request.await.map(|_| ()) })
}

fn ignore_multi<'a, T>(request: impl Future<Output = Result<T, zk::MultiWriteError>> + Send + 'a) -> InFlight<'a> {
    Box::pin(async move { request.await.map(|_| ()).map_err(zk::Error::from) })
}
