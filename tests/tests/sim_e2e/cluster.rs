//! The servers: the real `zab-net` server code, one madsim node each, with a [`MemDisk`] that
//! lives outside the node so it survives a kill (the crash model is applied at the kill).

use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};

use madsim::net::NetSim;
use madsim::runtime::{Handle, NodeHandle};
use zab_net::config::{PeerRole, ServerConfig, ServerLine};
use zab_net::server::{bind, now_millis, recover_node, serve};
use zab_net::storage::MemDisk;
use zab_sim::options::Options;

/// The client port every server listens on (each server has its own address).
pub const CLIENT_PORT: u16 = 2181;

/// The address of server `index` (0-based; server id `index + 1`).
pub fn server_ip(index: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 0, 1, index as u8 + 1))
}

/// The client address of server `index`.
pub fn client_address(index: usize) -> String {
    format!("{}:{CLIENT_PORT}", server_ip(index))
}

/// Errors the servers hit that a correct server never hits (recovery refusing its own disk,
/// storage failures), collected for the run's verdict.
pub type ServerErrors = Arc<Mutex<Vec<String>>>;

/// One server: its madsim node and its disk.
pub struct Server {
    /// The madsim node.
    pub node: NodeHandle,
    /// The disk, shared with the node's incarnations.
    pub disk: MemDisk,
    /// Whether the node is running (not killed).
    pub alive: bool,
}

/// The ensemble.
pub struct Cluster {
    /// The servers, by index.
    pub servers: Vec<Server>,
    handle: Handle,
}

impl Cluster {
    /// Starts `count` servers; each recovers from its disk and serves until killed.
    pub fn start(handle: &Handle, count: usize, options: &Options, errors: &ServerErrors) -> Cluster {
        let servers = (0..count)
            .map(|index| {
                let disk = MemDisk::new();
                let config = server_config(index, count, options);
                let node = start_node(handle, index, config, disk.clone(), errors.clone());
                Server { node, disk, alive: true }
            })
            .collect();
        Cluster { servers, handle: handle.clone() }
    }

    /// Kills server `index` (its tasks and connections vanish) and crashes its disk: what was
    /// not synced is lost or torn, as `crash_seed` decides.
    pub fn kill(&mut self, index: usize, crash_seed: u64) {
        let server = &mut self.servers[index];
        if server.alive {
            self.handle.kill(server.node.id());
            server.disk.crash(crash_seed);
            server.alive = false;
        }
    }

    /// Kills server `index` in the worst power failure: its disk keeps nothing unsynced.
    pub fn kill_losing_unsynced(&mut self, index: usize) {
        let server = &mut self.servers[index];
        if server.alive {
            self.handle.kill(server.node.id());
            server.disk.crash_losing_unsynced();
            server.alive = false;
        }
    }

    /// Restarts a killed server: it recovers from what its disk kept.
    pub fn restart(&mut self, index: usize) {
        let server = &mut self.servers[index];
        if !server.alive {
            self.handle.restart(server.node.id());
            server.alive = true;
        }
    }

    /// The madsim node of each server, by index.
    pub fn node_ids(&self) -> Vec<madsim::task::NodeId> {
        self.servers.iter().map(|server| server.node.id()).collect()
    }

    /// The indexes of the running servers.
    pub fn alive(&self) -> Vec<usize> {
        (0..self.servers.len()).filter(|i| self.servers[*i].alive).collect()
    }

    /// Cuts the links between the servers of `side` and the others, both ways.
    pub fn partition(&self, side: &[usize]) {
        self.set_partition(side, true);
    }

    /// Restores the links [`Cluster::partition`] cut.
    pub fn unpartition(&self, side: &[usize]) {
        self.set_partition(side, false);
    }

    fn set_partition(&self, side: &[usize], clog: bool) {
        let net = NetSim::current();
        for a in side {
            for b in (0..self.servers.len()).filter(|b| !side.contains(b)) {
                let (x, y) = (self.servers[*a].node.id(), self.servers[b].node.id());
                if clog {
                    net.clog_link(x, y);
                    net.clog_link(y, x);
                } else {
                    net.unclog_link(x, y);
                    net.unclog_link(y, x);
                }
            }
        }
    }
}

fn start_node(handle: &Handle, index: usize, config: ServerConfig, disk: MemDisk, errors: ServerErrors) -> NodeHandle {
    handle
        .create_node()
        .name(format!("server-{}", index + 1))
        .ip(server_ip(index))
        .init(move || run_server(config.clone(), disk.clone(), errors.clone()))
        .build()
}

/// One incarnation of a server: recovery, then `serve` until the node is killed.
async fn run_server(config: ServerConfig, disk: MemDisk, errors: ServerErrors) {
    let id = config.my_id.unwrap_or(0);
    let recovered = match recover_node(&config, &disk, now_millis()) {
        Ok(recovered) => recovered,
        Err(error) => return errors.lock().expect("errors").push(format!("server.{id}: recovery failed: {error}")),
    };
    let listener = match bind(&config).await {
        Ok(listener) => listener,
        Err(error) => return errors.lock().expect("errors").push(format!("server.{id}: {error}")),
    };
    if let Err(error) = serve(config, disk, recovered, listener, std::future::pending()).await {
        errors.lock().expect("errors").push(format!("server.{id}: stopped: {error}"));
    }
}

/// The zoo.cfg of server `index` of `count`, in the run's timing.
fn server_config(index: usize, count: usize, options: &Options) -> ServerConfig {
    let mut config = ServerConfig::standalone_default();
    let tick = options.tick_time_ms as u32;
    config.tick_time_ms = tick;
    config.init_limit = 10;
    config.sync_limit = 5;
    config.data_dir = "/data".into();
    config.data_log_dir = "/data".into();
    config.client_port = CLIENT_PORT;
    config.client_port_address = server_ip(index).to_string();
    config.max_client_cnxns = 0;
    config.min_session_timeout_ms = 2 * tick;
    config.max_session_timeout_ms = 20 * tick;
    config.snap_count = options.snap_count as u32;
    // Small preallocation: the simulated disk keeps every byte in memory.
    config.prealloc_size_kb = 64;
    config.container_check_interval_ms = options.container_check_interval_ms as u32;
    config.admin_enable_server = false;
    config.servers = (0..count)
        .map(|i| ServerLine {
            id: i as u8 + 1,
            host: server_ip(i).to_string(),
            quorum_port: 2888,
            election_port: 3888,
            role: PeerRole::Participant,
            client_address: None,
            client_port: Some(CLIENT_PORT),
        })
        .collect();
    config.my_id = Some(index as u8 + 1);
    config
}
