//! The fault schedule, drawn from the seed: minutes of simulated time in which bursts of faults
//! (server kills and restarts, whole-ensemble power failures, some timed to strike the moment
//! a client is told a write succeeded, isolated servers and clients, partitions between groups
//! of servers) alternate with quiet stretches in which everything is healed. Every fault heals
//! after a drawn time, and every burst ends with [`heal`]; a stretch outlasts every timer a
//! serving server arms, so the links and sessions born at its start must outlive them.

use std::time::Duration;

use madsim::net::NetSim;
use madsim::runtime::NodeHandle;
use madsim_tokio::time::{sleep, sleep_until, Instant};
use zab_core::proto::Request;
use zab_core::ErrorCode;
use zab_sim::history::Op;
use zab_sim::rng::SimRng;

use crate::clients::World;
use crate::cluster::Cluster;

/// Mean time between two faults in a burst, ms.
pub const FAULT_INTERVAL_MS_MEAN: u64 = 1_500;
/// Longest a fault lasts before it heals, ms.
pub const FAULT_MS_MAX: u64 = 4_000;
/// Longest a timed power failure waits for an acknowledged write, ms.
pub const ACK_WAIT_MS_MAX: u64 = 1_000;
/// Shortest and longest burst of faults, ms.
pub const BURST_MS_MIN: u64 = 5_000;
/// See [`BURST_MS_MIN`].
pub const BURST_MS_MAX: u64 = 20_000;
/// Shortest and longest quiet stretch between two bursts, ms: longer than the longest timer a
/// serving server arms (10 s, `main.rs`'s `SERVING_TIMER_MS_MAX`) plus the recovery bounds.
pub const STRETCH_MS_MIN: u64 = 25_000;
/// See [`STRETCH_MS_MIN`].
pub const STRETCH_MS_MAX: u64 = 45_000;

/// In quiet stretches and the quiet phase clients think this many times longer: the load
/// goes on, at a rate that keeps minutes of quiet affordable (the bursts keep the drawn one).
pub const QUIET_THINK_FACTOR: u64 = 5;

/// A fault that is on, and how it ends.
#[derive(Debug, Clone)]
enum Undo {
    Restart(usize),
    RestartAll(Vec<usize>),
    UnclogServer(usize),
    UnclogClient(usize),
    Unpartition(Vec<usize>),
}

/// What the schedule did: its faults, and when each burst healed (ms on the clients' clock).
#[derive(Debug, Default)]
pub struct Schedule {
    /// The faults of every burst.
    pub faults: Faults,
    /// When each burst's faults were all healed, ms; the last is the end of the schedule.
    pub heals_ms: Vec<u64>,
    /// The quiet stretches, (heal, start of the next burst), ms.
    pub stretches_ms: Vec<(u64, u64)>,
}

/// Runs bursts of faults, each healed and followed by a quiet stretch, until `length` has
/// passed; returns right after the last burst's heal.
pub async fn schedule(
    cluster: &mut Cluster,
    clients: &[NodeHandle],
    world: &World,
    rng: &mut SimRng,
    length: Duration,
) -> Schedule {
    let end = Instant::now() + length;
    let mut schedule = Schedule::default();
    loop {
        world.lock().expect("world").set_think_factor(1);
        let until = Instant::now() + Duration::from_millis(rng.range(BURST_MS_MIN, BURST_MS_MAX));
        let pending = burst(cluster, clients, world, rng, until, &mut schedule.faults).await;
        heal(cluster, clients, &pending);
        schedule.heals_ms.push(world.lock().expect("world").now_ms());
        if Instant::now() >= end {
            return schedule;
        }
        world.lock().expect("world").set_think_factor(QUIET_THINK_FACTOR);
        sleep(Duration::from_millis(rng.range(STRETCH_MS_MIN, STRETCH_MS_MAX))).await;
        let healed_ms = *schedule.heals_ms.last().expect("just healed");
        schedule.stretches_ms.push((healed_ms, world.lock().expect("world").now_ms()));
    }
}

/// Injects faults until `until`; returns those still on (see [`heal`]).
async fn burst(
    cluster: &mut Cluster,
    clients: &[NodeHandle],
    world: &World,
    rng: &mut SimRng,
    until: Instant,
    faults: &mut Faults,
) -> Vec<Undo> {
    let mut pending: Vec<(Instant, Undo)> = Vec::new();
    let mut next_fault = Instant::now() + Duration::from_millis(rng.exponential(FAULT_INTERVAL_MS_MEAN as f64));
    loop {
        let next_undo = pending.iter().map(|(at, _)| *at).min();
        let wake = next_undo.map_or(next_fault, |undo| undo.min(next_fault)).min(until);
        sleep_until(wake).await;
        let now = Instant::now();
        if now >= until {
            return pending.into_iter().map(|(_, undo)| undo).collect();
        }
        let (due, later): (Vec<_>, Vec<_>) = pending.into_iter().partition(|(at, _)| *at <= now);
        pending = later;
        for (_, undo) in due {
            apply_undo(cluster, clients, &undo);
        }
        if now >= next_fault {
            let length = Duration::from_millis(rng.range(100, FAULT_MS_MAX));
            if let Some(undo) = inject(cluster, clients, world, rng, faults).await {
                pending.push((now + length, undo));
            }
            next_fault = now + Duration::from_millis(rng.exponential(FAULT_INTERVAL_MS_MEAN as f64).max(1));
        }
    }
}

/// What the bursts did, for the run's summary.
#[derive(Debug, Default)]
pub struct Faults {
    /// Single servers killed.
    pub kills: usize,
    /// Whole-ensemble power failures.
    pub power_failures: usize,
    /// Power failures the moment a client was told a write succeeded.
    pub power_failures_after_ack: usize,
    /// Servers cut off from everyone.
    pub isolated_servers: usize,
    /// Clients cut off from everyone.
    pub isolated_clients: usize,
    /// Partitions between groups of servers.
    pub partitions: usize,
}

impl Faults {
    /// One line for the run summary.
    pub fn summary(&self) -> String {
        format!(
            "kills={} power_failures={}+{} isolated_servers={} isolated_clients={} partitions={}",
            self.kills,
            self.power_failures,
            self.power_failures_after_ack,
            self.isolated_servers,
            self.isolated_clients,
            self.partitions
        )
    }
}

/// Ends every fault still on: restarts killed servers, unclogs every node and link.
fn heal(cluster: &mut Cluster, clients: &[NodeHandle], pending: &[Undo]) {
    for undo in pending {
        apply_undo(cluster, clients, undo);
    }
    for index in 0..cluster.servers.len() {
        cluster.restart(index);
    }
}

async fn inject(
    cluster: &mut Cluster,
    clients: &[NodeHandle],
    world: &World,
    rng: &mut SimRng,
    faults: &mut Faults,
) -> Option<Undo> {
    let servers = cluster.servers.len();
    let net = NetSim::current();
    match rng.weighted(&[4, 2, 2, 2, 3, 2]) {
        5 => {
            // The window a runtime that answers before its fsync leaves open: every server
            // loses all it had not synced, right after a client heard "ok".
            after_next_acknowledged_write(world).await;
            let alive = cluster.alive();
            for index in &alive {
                cluster.kill_losing_unsynced(*index);
            }
            faults.power_failures_after_ack += 1;
            Some(Undo::RestartAll(alive))
        }
        0 => {
            let alive = cluster.alive();
            let index = *alive.get(rng.range(0, alive.len().max(1) as u64 - 1) as usize)?;
            cluster.kill(index, rng.range(0, u64::MAX));
            faults.kills += 1;
            Some(Undo::Restart(index))
        }
        1 => {
            let alive = cluster.alive();
            for index in &alive {
                cluster.kill(*index, rng.range(0, u64::MAX));
            }
            faults.power_failures += 1;
            Some(Undo::RestartAll(alive))
        }
        2 => {
            let index = rng.range(0, servers as u64 - 1) as usize;
            net.clog_node(cluster.servers[index].node.id());
            faults.isolated_servers += 1;
            Some(Undo::UnclogServer(index))
        }
        3 => {
            let index = rng.range(0, clients.len() as u64 - 1) as usize;
            net.clog_node(clients[index].id());
            faults.isolated_clients += 1;
            Some(Undo::UnclogClient(index))
        }
        _ => {
            // A minority side: one server, or two of five.
            let size = rng.range(1, ((servers - 1) / 2) as u64) as usize;
            let mut side: Vec<usize> = Vec::new();
            while side.len() < size {
                let index = rng.range(0, servers as u64 - 1) as usize;
                if !side.contains(&index) {
                    side.push(index);
                }
            }
            cluster.partition(&side);
            faults.partitions += 1;
            Some(Undo::Unpartition(side))
        }
    }
}

fn apply_undo(cluster: &mut Cluster, clients: &[NodeHandle], undo: &Undo) {
    let net = NetSim::current();
    match undo {
        Undo::Restart(index) => cluster.restart(*index),
        Undo::RestartAll(indexes) => indexes.iter().for_each(|index| cluster.restart(*index)),
        Undo::UnclogServer(index) => net.unclog_node(cluster.servers[*index].node.id()),
        Undo::UnclogClient(index) => net.unclog_node(clients[*index].id()),
        Undo::Unpartition(side) => cluster.unpartition(side),
    }
}

/// Returns once a write invoked from now on is answered OK (or after [`ACK_WAIT_MS_MAX`]).
async fn after_next_acknowledged_write(world: &World) {
    let mark = world.lock().expect("world").history.ops.len();
    let deadline = Instant::now() + Duration::from_millis(ACK_WAIT_MS_MAX);
    while Instant::now() < deadline {
        if world.lock().expect("world").history.ops[mark..].iter().any(acknowledged_write) {
            return;
        }
        sleep(Duration::from_millis(1)).await;
    }
}

fn acknowledged_write(op: &Op) -> bool {
    let write = matches!(
        op.request,
        Request::Create(_) | Request::Create2(_) | Request::SetData(_) | Request::Delete(_) | Request::Multi(_)
    );
    write && op.completion.as_ref().is_some_and(|c| c.err == ErrorCode::Ok)
}
