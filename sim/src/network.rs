//! The client↔server network: TCP-like connections with drawn latency, in-order delivery per
//! direction, loss that breaks the connection (TCP hides loss until it gives up), and clogs
//! that slow every link for a while.

use crate::options::Options;
use crate::rng::{SimRng, Stream};
use std::collections::BTreeMap;
use zab_core::ConnectionId;

/// Which way a message travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Client to server.
    ToServer,
    /// Server to client.
    ToClient,
}

/// What became of a message handed to the network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// It arrives at this virtual time.
    At(u64),
    /// The connection broke: this message and everything after it is lost.
    Broken,
    /// The connection was already gone.
    Closed,
}

#[derive(Clone, Debug)]
struct Link {
    client: usize,
    /// The server (ensemble member index) this connection goes to.
    server: usize,
    alive: bool,
    /// Arrival time of the last message each way: TCP delivers in order.
    to_server_last: u64,
    to_client_last: u64,
}

/// All connections between clients and the node.
#[derive(Debug)]
pub struct Network {
    rng: SimRng,
    links: BTreeMap<ConnectionId, Link>,
    next_connection: u64,
    /// The server each client connects to next, and how many servers there are: a client
    /// cycles through them on each new connection, as ZooKeeper's `HostProvider` does.
    targets: Vec<usize>,
    servers: usize,
    latency_ms_min: u64,
    latency_ms_mean: u64,
    drop_probability: f64,
    clogged_until: u64,
    clog_extra_ms: u64,
    faults: bool,
}

impl Network {
    /// A network with the latency and loss the options drew.
    pub fn new(options: &Options) -> Network {
        Network {
            rng: SimRng::new(options.seed, Stream::Network),
            links: BTreeMap::new(),
            next_connection: 1,
            targets: (0..options.clients).map(|c| c % options.servers.max(1)).collect(),
            servers: options.servers.max(1),
            latency_ms_min: options.latency_ms_min,
            latency_ms_mean: options.latency_ms_mean,
            drop_probability: options.drop_probability,
            clogged_until: 0,
            clog_extra_ms: 0,
            faults: true,
        }
    }

    /// Opens a connection for `client`. Connection ids are never reused, across node restarts
    /// too, so a late message can never reach the wrong connection.
    pub fn open(&mut self, client: usize, now: u64) -> ConnectionId {
        let connection = ConnectionId(self.next_connection);
        self.next_connection += 1;
        let server = self.targets.get(client).copied().unwrap_or(0);
        if let Some(target) = self.targets.get_mut(client) {
            *target = (server + 1) % self.servers;
        }
        let link = Link { client, server, alive: true, to_server_last: now, to_client_last: now };
        self.links.insert(connection, link);
        connection
    }

    /// Sends one message; in-order delivery means it never overtakes an earlier one.
    pub fn send(&mut self, now: u64, connection: ConnectionId, direction: Direction) -> Delivery {
        let faults = self.faults;
        let drop = faults && self.rng.chance(self.drop_probability);
        let latency = self.latency(now);
        let Some(link) = self.links.get_mut(&connection) else { return Delivery::Closed };
        if !link.alive {
            return Delivery::Closed;
        }
        if drop {
            link.alive = false;
            return Delivery::Broken;
        }
        let last = match direction {
            Direction::ToServer => &mut link.to_server_last,
            Direction::ToClient => &mut link.to_client_last,
        };
        let at = (now + latency).max(*last);
        *last = at;
        Delivery::At(at)
    }

    /// One drawn one-way latency, plus the clog's extra delay while a clog lasts.
    pub fn latency(&mut self, now: u64) -> u64 {
        let clog = if now < self.clogged_until { self.clog_extra_ms } else { 0 };
        self.latency_ms_min + self.rng.exponential(self.latency_ms_mean as f64) + clog
    }

    /// Whether the connection still carries messages.
    pub fn is_alive(&self, connection: ConnectionId) -> bool {
        self.links.get(&connection).is_some_and(|link| link.alive)
    }

    /// The client at the far end of a connection.
    pub fn client_of(&self, connection: ConnectionId) -> Option<usize> {
        self.links.get(&connection).map(|link| link.client)
    }

    /// The server (member index) at the far end of a connection.
    pub fn server_of(&self, connection: ConnectionId) -> Option<usize> {
        self.links.get(&connection).map(|link| link.server)
    }

    /// Makes client `client` connect to `server` next.
    pub fn set_target(&mut self, client: usize, server: usize) {
        self.targets[client] = server % self.servers;
    }

    /// The live connections to `server`.
    pub fn alive_connections_to(&self, server: usize) -> Vec<ConnectionId> {
        self.links.iter().filter(|(_, l)| l.alive && l.server == server).map(|(id, _)| *id).collect()
    }

    /// Breaks a connection (a reset, a dead peer): nothing more is delivered on it.
    pub fn break_link(&mut self, connection: ConnectionId) {
        if let Some(link) = self.links.get_mut(&connection) {
            link.alive = false;
        }
    }

    /// Forgets a connection both ends have given up.
    pub fn forget(&mut self, connection: ConnectionId) {
        self.links.remove(&connection);
    }

    /// Every connection still alive, in id order.
    pub fn alive_connections(&self) -> Vec<ConnectionId> {
        self.links.iter().filter(|(_, link)| link.alive).map(|(id, _)| *id).collect()
    }

    /// Slows every link by `extra_ms` until `until`.
    pub fn clog(&mut self, until: u64, extra_ms: u64) {
        self.clogged_until = until;
        self.clog_extra_ms = extra_ms;
    }

    /// Liveness phase: no more loss and no clogs.
    pub fn heal(&mut self) {
        self.faults = false;
        self.clogged_until = 0;
    }

    /// The generator, for a driver that draws detection delays on the network stream.
    pub fn rng(&mut self) -> &mut SimRng {
        &mut self.rng
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_on_one_connection_arrive_in_order() {
        let mut options = Options::quiet(3, 1);
        options.latency_ms_mean = 50;
        let mut network = Network::new(&options);
        let connection = network.open(0, 0);
        let mut last = 0;
        for now in 0..200 {
            let Delivery::At(at) = network.send(now, connection, Direction::ToServer) else { panic!("no loss") };
            assert!(at >= last && at > now);
            last = at;
        }
    }

    #[test]
    fn a_dropped_message_breaks_the_connection_for_good() {
        let mut options = Options::quiet(3, 1);
        options.drop_probability = 1.0;
        let mut network = Network::new(&options);
        let connection = network.open(0, 0);
        assert_eq!(network.send(0, connection, Direction::ToClient), Delivery::Broken);
        assert_eq!(network.send(0, connection, Direction::ToServer), Delivery::Closed);
        assert!(!network.is_alive(connection));
        network.heal();
        let fresh = network.open(0, 0);
        assert!(matches!(network.send(0, fresh, Direction::ToServer), Delivery::At(_)));
    }
}
