//! The real runtime: recovery, the client listener, connection tasks, the core task that owns
//! the [`Node`], and the persister that owns the log.
//!
//! ```text
//!  listener ──spawn──> connection task (reader) ──CoreInput──> core task ──PersistCommand──> persister
//!                      writer task <──frames (bounded)──────── (Node)    <──PersistEvent──── (blocking)
//! ```
//!
//! Tokio comes through `madsim-tokio`, so the same code can later run under madsim; storage
//! is generic over [`Disk`] for the same reason.

/// `tokio::select!` that polls its branches in random order in a real build (tokio's
/// fairness) and in written order under madsim: tokio draws that order from a generator
/// seeded from a process-wide counter, which madsim cannot replay, so one process running
/// two simulations (madsim's determinism check, a seed sweep) would see different schedules.
#[cfg(not(madsim))]
macro_rules! select_fair {
    ($($branches:tt)*) => { tokio::select! { $($branches)* } };
}
#[cfg(madsim)]
macro_rules! select_fair {
    ($($branches:tt)*) => { tokio::select! { biased; $($branches)* } };
}
pub(crate) use select_fair;

pub mod clock;
pub mod connection;
pub mod core;
pub mod four_letter;
pub mod frames;
pub mod messages;
pub mod peers;
pub mod persist;

use std::collections::BTreeMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use zab_core::{Config, ConnectionId, DurableState, Millis, Node, ServerId};

use crate::config::{PeerRole as LineRole, ServerConfig};
use crate::storage::{Disk, RecoveryError, RecoveryWarning, StorageError, TxnLog};
use connection::{serve_connection, Shared};
use persist::Persister;

/// Inputs queued for the core task before connections wait to send more.
pub const CORE_INPUTS_MAX: usize = 4096;
/// Commands queued for the persister before the core task waits.
pub const PERSIST_COMMANDS_MAX: usize = 1024;

/// Why the server stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// Recovery found data it must not serve from.
    #[error("recovery failed: {0}")]
    Recovery(#[from] RecoveryError),
    /// The client port could not be bound.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// The address.
        address: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// Writing or syncing the log failed: durability unknown, so the server stops.
    #[error("storage failed, stopping (durability of the last writes is unknown): {0}")]
    Storage(StorageError),
    /// The persister task ended unexpectedly.
    #[error("the persister task stopped")]
    PersisterGone,
}

pub use clock::{now_millis, reset_wall_clock_steps, step_wall_clock, wall_clock_millis};

/// The core's view of the configuration: an ensemble member when `server.N` lines make the
/// server replicated ([`ServerConfig::is_replicated`]), standalone otherwise.
pub fn node_config(config: &ServerConfig) -> Config {
    let mut node = Config::standalone(u64::from(config.tick_time_ms));
    if config.is_replicated() {
        let peers = config
            .servers
            .iter()
            .map(|line| {
                let role = match line.role {
                    LineRole::Participant => zab_core::PeerRole::Participant,
                    LineRole::Observer => zab_core::PeerRole::Observer,
                };
                (ServerId(u64::from(line.id)), role)
            })
            .collect();
        let me = ServerId(config.my_id.map_or(0, u64::from));
        node = Config::ensemble(me, u64::from(config.tick_time_ms), peers);
        node.init_limit = u64::from(config.init_limit);
        node.sync_limit = u64::from(config.sync_limit);
    }
    node.server_id = ServerId(config.my_id.map_or(0, u64::from));
    node.session_timeout_ms_min = config.min_session_timeout_ms as i32;
    node.session_timeout_ms_max = config.max_session_timeout_ms as i32;
    node.max_buffer = config.jute_max_buffer as usize;
    node.super_digest = config.super_digest.clone();
    node.extended_types_enabled = config.extended_types_enabled;
    node.snap_count = u64::from(config.snap_count);
    node.container_check_interval_ms = u64::from(config.container_check_interval_ms);
    node
}

/// What [`recover_node`] returns: the node, the log to append to, and what was repaired.
pub struct Recovered<D: Disk> {
    /// The node, replayed to the last durable transaction.
    pub node: Node,
    /// The log, ready to append.
    pub log: TxnLog<D>,
    /// Repairs made (torn tails truncated, bad snapshots skipped).
    pub warnings: Vec<RecoveryWarning>,
}

/// Recovers the newest snapshot and the log after it, and builds the node from them.
pub fn recover_node<D: Disk>(config: &ServerConfig, disk: &D, now: Millis) -> Result<Recovered<D>, RecoveryError> {
    let (durable, log, warnings) = persist::recover_durable(disk, &config.storage_dirs(), config.log_options())?;
    let node = build_node(config, durable, now);
    Ok(Recovered { node, log, warnings })
}

/// A node from recovered durable state (at start, and after `Output::Restart`), told the
/// wall clock.
pub fn build_node(config: &ServerConfig, durable: DurableState, now: Millis) -> Node {
    let seed = config.my_id.map_or(0, u64::from) ^ now.0;
    let mut node = Node::new(node_config(config), durable, now, seed);
    node.set_wall_clock(now, wall_clock_millis());
    node
}

/// Where each server of the ensemble listens (`server.N` lines).
pub fn peer_addresses(config: &ServerConfig) -> BTreeMap<ServerId, peers::PeerAddress> {
    let join = |host: &str, port: u16| match host.parse::<IpAddr>() {
        Ok(ip) => SocketAddr::new(ip, port).to_string(),
        Err(_) => format!("{host}:{port}"),
    };
    config
        .servers
        .iter()
        .map(|line| {
            let address = peers::PeerAddress {
                quorum: join(&line.host, line.quorum_port),
                election: join(&line.host, line.election_port),
            };
            (ServerId(u64::from(line.id)), address)
        })
        .collect()
}

/// Binds the client port (`clientPortAddress:clientPort`).
pub async fn bind(config: &ServerConfig) -> Result<TcpListener, ServerError> {
    let host = config.client_port_address.as_str();
    let address = match host.parse::<IpAddr>() {
        Ok(ip) => SocketAddr::new(ip, config.client_port).to_string(),
        Err(_) => format!("{host}:{}", config.client_port),
    };
    TcpListener::bind(address.as_str()).await.map_err(|source| ServerError::Bind { address, source })
}

/// Serves clients on `listener` until `shutdown` completes (then syncs the log and returns
/// `Ok`) or storage fails.
pub async fn serve<D: Disk>(
    config: ServerConfig,
    disk: D,
    recovered: Recovered<D>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServerError> {
    let (core_tx, core_rx) = mpsc::channel(CORE_INPUTS_MAX);
    let (persist_tx, persist_rx) = mpsc::channel(PERSIST_COMMANDS_MAX);
    let (events_tx, events_rx) = mpsc::unbounded_channel();
    let (paused_tx, paused_rx) = watch::channel(false);
    let purge_retain = (config.purge_interval_hours > 0).then_some(config.snap_retain_count as usize);
    let peer_links = match config.is_replicated() {
        true => {
            let me = ServerId(config.my_id.map_or(0, u64::from));
            let deadlines = peers::Deadlines::of(&node_config(&config));
            let limits = zab_core::quorum::QuorumLimits::new(config.jute_max_buffer as usize);
            let started = peers::start(me, peer_addresses(&config), core_tx.clone(), deadlines, limits).await;
            Some(
                started
                    .map_err(|source| ServerError::Bind { address: "the quorum or election port".into(), source })?,
            )
        }
        false => None,
    };
    let persister =
        Persister::new(disk, config.storage_dirs(), recovered.log, purge_retain).with_log_options(config.log_options());
    // The persister blocks on fsync: a blocking thread in a real build; under madsim (no
    // blocking threads, MemDisk never blocks) a task.
    #[cfg(not(madsim))]
    let persister_task = tokio::task::spawn_blocking(move || persister.run(persist_rx, events_tx));
    #[cfg(madsim)]
    let persister_task = tokio::spawn(persister.run_async(persist_rx, events_tx));
    // The AdminServer and /metrics: real build only (madsim has no HTTP stack to run them on).
    #[cfg(not(madsim))]
    let http = crate::admin::http::start(&config, core_tx.clone()).await;
    let shared = Arc::new(Shared {
        core: core_tx,
        paused: paused_rx,
        max_buffer: config.jute_max_buffer as usize,
        four_letter_words: config.four_letter_words.clone(),
    });
    let accepting = tokio::spawn(accept(listener, shared, config.max_client_cnxns));
    let core = core::Core::new(recovered.node, config, persist_tx, paused_tx).with_peers(peer_links);
    let result = core.run(core_rx, events_rx, shutdown).await;
    accepting.abort();
    #[cfg(not(madsim))]
    drop(http);
    if result.is_ok() {
        let _ = persister_task.await;
    }
    result
}

#[cfg(test)]
mod tests;

/// Connections per client address, for `maxClientCnxns`.
type PerAddress = Arc<Mutex<BTreeMap<IpAddr, u32>>>;

/// Accepts connections, refusing (closing) those over `maxClientCnxns` from one address.
async fn accept(listener: TcpListener, shared: Arc<Shared>, max_per_address: u32) {
    let per_address: PerAddress = Arc::default();
    let mut next_id = 0u64;
    loop {
        let (stream, address) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of file descriptors, usually: wait a little rather than spin.
                tracing::warn!(
                    "accept failed: {error}; if out of file descriptors, raise `ulimit -n` or lower maxClientCnxns"
                );
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let Some(slot) = AddressSlot::take(&per_address, address.ip(), max_per_address) else {
            // Apache's words first (operators grep for them), then what to do.
            tracing::warn!(
                "Too many connections from /{} - max is {max_per_address}; raise maxClientCnxns in zoo.cfg (0 = no limit) if this client needs more",
                address.ip()
            );
            drop(stream);
            continue;
        };
        next_id += 1;
        tokio::spawn(run_connection(stream, ConnectionId(next_id), address, shared.clone(), slot));
    }
}

async fn run_connection(
    stream: TcpStream,
    id: ConnectionId,
    address: SocketAddr,
    shared: Arc<Shared>,
    slot: AddressSlot,
) {
    let _ = stream.set_nodelay(true);
    serve_connection(stream, id, address, shared).await;
    drop(slot);
}

/// One connection counted against its address; released on drop.
struct AddressSlot {
    per_address: PerAddress,
    ip: IpAddr,
}

impl AddressSlot {
    fn take(per_address: &PerAddress, ip: IpAddr, max: u32) -> Option<AddressSlot> {
        let mut counts = per_address.lock().expect("connection counts lock");
        let count = counts.entry(ip).or_insert(0);
        if max > 0 && *count >= max {
            return None;
        }
        *count += 1;
        Some(AddressSlot { per_address: per_address.clone(), ip })
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut counts = self.per_address.lock().expect("connection counts lock");
        if let Some(count) = counts.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.ip);
            }
        }
    }
}
