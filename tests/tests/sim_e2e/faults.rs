//! The fault schedule of the safety phase, drawn from the seed: server kills and restarts,
//! whole-ensemble power failures (some timed to strike the moment a client is told a write
//! succeeded), isolated servers and clients (clogged nodes), and partitions between groups of
//! servers. Every fault heals after a drawn time; [`heal`]
//! ends them all.

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

/// Mean time between two faults, ms.
pub const FAULT_INTERVAL_MS_MEAN: u64 = 1_500;
/// Longest a fault lasts before it heals, ms.
pub const FAULT_MS_MAX: u64 = 4_000;
/// Longest a timed power failure waits for an acknowledged write, ms.
pub const ACK_WAIT_MS_MAX: u64 = 1_000;

/// A fault that is on, and how it ends.
#[derive(Debug, Clone)]
enum Undo {
    Restart(usize),
    RestartAll(Vec<usize>),
    UnclogServer(usize),
    UnclogClient(usize),
    Unpartition(Vec<usize>),
}

/// Injects faults until `until`, then leaves the ensemble as it is (see [`heal`]).
pub async fn safety_phase(
    cluster: &mut Cluster,
    clients: &[NodeHandle],
    world: &World,
    rng: &mut SimRng,
    until: Instant,
) -> Faults {
    let mut pending: Vec<(Instant, Undo)> = Vec::new();
    let mut faults = Faults::default();
    let mut next_fault = Instant::now() + Duration::from_millis(rng.exponential(FAULT_INTERVAL_MS_MEAN as f64));
    loop {
        let next_undo = pending.iter().map(|(at, _)| *at).min();
        let wake = next_undo.map_or(next_fault, |undo| undo.min(next_fault)).min(until);
        sleep_until(wake).await;
        let now = Instant::now();
        if now >= until {
            faults.pending = pending.into_iter().map(|(_, undo)| undo).collect();
            return faults;
        }
        let (due, later): (Vec<_>, Vec<_>) = pending.into_iter().partition(|(at, _)| *at <= now);
        pending = later;
        for (_, undo) in due {
            apply_undo(cluster, clients, &undo);
        }
        if now >= next_fault {
            let length = Duration::from_millis(rng.range(100, FAULT_MS_MAX));
            if let Some(undo) = inject(cluster, clients, world, rng, &mut faults).await {
                pending.push((now + length, undo));
            }
            next_fault = now + Duration::from_millis(rng.exponential(FAULT_INTERVAL_MS_MEAN as f64).max(1));
        }
    }
}

/// What the safety phase did, for the run's summary; and what it left on.
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
    pending: Vec<Undo>,
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
pub fn heal(cluster: &mut Cluster, clients: &[NodeHandle], faults: &Faults) {
    for undo in &faults.pending {
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
