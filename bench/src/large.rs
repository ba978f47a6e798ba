//! The large-state rows, on a three-server ensemble of each flavor in turn:
//! 1. a set workload on the near-empty tree (the baseline p99.9, snapshots are tiny);
//! 2. one follower is killed, so it will miss everything that follows;
//! 3. `znodes` znodes of 100 B are created (1000 per parent), timed, with the leader's RSS
//!    sampled throughout (the snapshot peak) and read again when it settled (bytes per znode);
//! 4. the set workload again, on the large tree, until two snapshots were written (p99.9
//!    during snapshots);
//! 5. the killed follower starts and is timed until it serves the last znode (SNAP resync);
//! 6. the other follower is killed and restarted, timed until it serves the last znode.

use crate::servers::{java_live_heap, rss_bytes, Cluster, Flavor};
use crate::workload::{self, connect, Measurement, Shape, Workload, OPEN};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use zookeeper_client as zk;

/// Data bytes of each large-state znode.
pub const ZNODE_BYTES: usize = 100;
/// Children per parent directory.
const CHILDREN_PER_PARENT: u64 = 1000;
/// How often the leader's RSS is sampled.
const RSS_SAMPLE_INTERVAL: Duration = Duration::from_millis(50);
/// Longest the snapshot window waits for two snapshots.
const SNAPSHOT_WINDOW_MAX: Duration = Duration::from_secs(120);
/// How long a resync or restart may take before the row says it failed.
const SERVING_TIMEOUT_MAX: Duration = Duration::from_secs(600);
/// Snapshots the snapshot window waits for.
const SNAPSHOTS_IN_WINDOW: usize = 2;

/// What the large-state sequence measured on one flavor.
pub struct Large {
    /// Znodes created.
    pub znodes: u64,
    /// Creates per second while populating.
    pub populate_per_second: f64,
    /// Failed creates.
    pub populate_errors: u64,
    /// Leader RSS before populating and once settled after, bytes.
    pub rss_before: u64,
    pub rss_after: u64,
    /// Highest leader RSS sampled while populating and during the snapshot window, bytes.
    pub rss_peak: u64,
    /// Apache only: live heap after a full GC, before and after populating, bytes.
    pub heap_before: Option<u64>,
    pub heap_after: Option<u64>,
    /// The set workload on the small tree, and during snapshots of the large one.
    pub baseline: Measurement,
    pub during_snapshots: Measurement,
    /// Snapshots written in each of those two windows (all servers).
    pub baseline_snapshots: usize,
    pub window_snapshots: usize,
    /// A follower that missed every znode, from start to serving the last one.
    pub snap_resync: Result<Duration, String>,
    /// A follower killed and restarted with the large tree, from start to serving it.
    pub restart: Result<Duration, String>,
}

impl Large {
    /// RSS growth per znode, bytes.
    pub fn rss_per_znode(&self) -> f64 {
        self.rss_after.saturating_sub(self.rss_before) as f64 / self.znodes.max(1) as f64
    }

    /// Live-heap growth per znode (Apache), bytes.
    pub fn heap_per_znode(&self) -> Option<f64> {
        Some(self.heap_after?.saturating_sub(self.heap_before?) as f64 / self.znodes.max(1) as f64)
    }
}

/// Runs the sequence on a started three-server `cluster`.
pub async fn run(cluster: &mut Cluster, znodes: u64, shape: Shape) -> Result<Large, String> {
    let leader = cluster.leader().ok_or("no leader")?;
    let followers: Vec<usize> = (0..cluster.len()).filter(|&i| i != leader).collect();
    let (missing, restarted) = (followers[0], followers[1]);
    let leader_pid = cluster.pid(leader).ok_or("leader not running")?;
    let write = Shape { depth: 8, ..shape };
    let snapshots_before = total_snapshots(cluster);
    let baseline = workload::run(cluster, Workload::Set, write, 1_000_001).await?;
    let baseline_snapshots = total_snapshots(cluster) - snapshots_before;
    cluster.kill(missing);
    let heap_before = live_heap(cluster.flavor, leader_pid);
    let rss_before = rss_bytes(leader_pid);
    let peak = RssPeak::start(leader_pid);
    let leader_address = cluster.address(leader).to_string();
    let (populate_seconds, populate_errors) = populate(&leader_address, znodes, shape.sessions).await?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let rss_after = rss_bytes(leader_pid);
    let heap_after = live_heap(cluster.flavor, leader_pid);
    let snapshots_before = total_snapshots(cluster);
    let during_snapshots = snapshot_window(cluster, write).await?;
    let window_snapshots = total_snapshots(cluster) - snapshots_before;
    let rss_peak = peak.stop().max(rss_after);
    let last = znode_path(znodes - 1);
    let snap_resync = time_to_serve(cluster, missing, &last).await;
    cluster.kill(restarted);
    let restart = time_to_serve(cluster, restarted, &last).await;
    Ok(Large {
        znodes,
        populate_per_second: znodes as f64 / populate_seconds,
        populate_errors,
        rss_before,
        rss_after,
        rss_peak,
        heap_before,
        heap_after,
        baseline,
        during_snapshots,
        baseline_snapshots,
        window_snapshots,
        snap_resync,
        restart,
    })
}

fn live_heap(flavor: Flavor, pid: u32) -> Option<u64> {
    (flavor == Flavor::Apache).then(|| java_live_heap(pid)).flatten()
}

fn total_snapshots(cluster: &Cluster) -> usize {
    (0..cluster.len()).map(|i| cluster.snapshot_count(i)).sum()
}

/// `/large/p<i / 1000>/n<i % 1000>`.
fn znode_path(index: u64) -> String {
    format!("/large/p{}/n{}", index / CHILDREN_PER_PARENT, index % CHILDREN_PER_PARENT)
}

/// Creates the parents, then `znodes` znodes from `sessions` sessions at pipeline 8; returns
/// the seconds the znodes took and the failed creates.
async fn populate(address: &str, znodes: u64, sessions: usize) -> Result<(f64, u64), String> {
    let admin = connect(address).await.map_err(|e| format!("connect {address}: {e}"))?;
    admin.create("/large", b"", &OPEN).await.map_err(|e| format!("create /large: {e}"))?;
    for parent in 0..znodes.div_ceil(CHILDREN_PER_PARENT) {
        let path = format!("/large/p{parent}");
        admin.create(&path, b"", &OPEN).await.map_err(|e| format!("create {path}: {e}"))?;
    }
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for session in 0..sessions as u64 {
        let client = connect(address).await.map_err(|e| format!("connect {address}: {e}"))?;
        let errors = Arc::clone(&errors);
        tasks.push(tokio::spawn(async move {
            let data = [b'v'; ZNODE_BYTES];
            let mine: Vec<u64> = (session..znodes).step_by(sessions).collect();
            for chunk in mine.chunks(8) {
                let paths: Vec<String> = chunk.iter().map(|&i| znode_path(i)).collect();
                let creates: Vec<_> = paths.iter().map(|p| client.create(p, &data, &OPEN)).collect();
                for create in creates {
                    if create.await.is_err() {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    for task in tasks {
        task.await.map_err(|e| format!("populate task: {e}"))?;
    }
    Ok((started.elapsed().as_secs_f64(), errors.load(Ordering::SeqCst)))
}

/// The set workload on the large tree, in windows of 5 s until [`SNAPSHOTS_IN_WINDOW`] new
/// snapshots exist or [`SNAPSHOT_WINDOW_MAX`] passed; the windows' measurements merged.
async fn snapshot_window(cluster: &Cluster, write: Shape) -> Result<Measurement, String> {
    let started = Instant::now();
    let before = total_snapshots(cluster);
    let mut merged: Option<Measurement> = None;
    let mut run = 2_000_000;
    while merged.is_none()
        || (total_snapshots(cluster) - before < SNAPSHOTS_IN_WINDOW && started.elapsed() < SNAPSHOT_WINDOW_MAX)
    {
        let window = Shape { window: Duration::from_secs(5), warmup: Duration::ZERO, ..write };
        let next = workload::run(cluster, Workload::Set, window, run).await?;
        run += 1;
        merged = Some(match merged {
            None => next,
            Some(mut all) => {
                all.ops += next.ops;
                all.seconds += next.seconds;
                all.server_cpu_us += next.server_cpu_us;
                all.latency_us.add(&next.latency_us).map_err(|e| format!("histogram: {e}"))?;
                for (error, count) in next.errors {
                    *all.errors.entry(error).or_default() += count;
                }
                all
            }
        });
    }
    Ok(merged.expect("one window at least"))
}

/// Starts server `index` and times it until a session on it reads `last`.
async fn time_to_serve(cluster: &mut Cluster, index: usize, last: &str) -> Result<Duration, String> {
    let started = Instant::now();
    cluster.spawn(index)?;
    let address = cluster.address(index).to_string();
    while started.elapsed() < SERVING_TIMEOUT_MAX {
        if cluster.mode(index).is_some() {
            if let Ok(client) = zk::Client::connector()
                .with_session_timeout(Duration::from_secs(30))
                .with_connection_timeout(Duration::from_secs(2))
                .connect(&address)
                .await
            {
                if let Ok(Some(_)) = client.check_stat(last).await {
                    return Ok(started.elapsed());
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Err(format!("server.{} did not serve {last} within {SERVING_TIMEOUT_MAX:?}", index + 1))
}

/// Samples a process's RSS on a thread and keeps the highest.
struct RssPeak {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<u64>,
}

impl RssPeak {
    fn start(pid: u32) -> RssPeak {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut peak = 0;
            while !flag.load(Ordering::SeqCst) {
                peak = peak.max(rss_bytes(pid));
                std::thread::sleep(RSS_SAMPLE_INTERVAL);
            }
            peak
        });
        RssPeak { stop, thread }
    }

    fn stop(self) -> u64 {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().unwrap_or(0)
    }
}
