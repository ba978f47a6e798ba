//! Clients inside the simulation: tier 1's sans-IO [`SimClient`] (sessions, pipelining, pings,
//! watches, reconnects to the next server with session id, password and last zxid seen, the
//! swarm workload) driven over real TCP by zab's own async client ([`Connection`]). Every
//! client records into one [`History`], so tier 1's checkers judge this tier unchanged.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use madsim::runtime::{Handle, NodeHandle};
use madsim_tokio::sync::mpsc;
use madsim_tokio::task::JoinHandle;
use madsim_tokio::time::Instant;
use zab_core::proto::{ConnectRequest, ConnectResponse, ReplyHeader, Request, RequestHeader, Response, WatcherEvent};
use zab_core::ConnectionId;
use zab_net::client::{Connection, Incoming};
use zab_sim::client::{ClientMessage, Context, Shared, SimClient};
use zab_sim::history::History;
use zab_sim::network::Network;
use zab_sim::options::Options;
use zab_sim::rng::{SimRng, Stream};

use crate::cluster::client_address;

/// What all clients share: the history and the generators the sans-IO clients draw from.
/// madsim runs one task at a time, so the lock order is the (deterministic) schedule.
pub struct ClientWorld {
    /// What the clients asked and observed.
    pub history: History,
    /// Connection ids, and which server each client dials next (it cycles through them).
    pub network: Network,
    rng: SimRng,
    /// What all clients know (ephemerals; liveness phase).
    pub shared: Shared,
    options: Options,
    /// The run's drawn think time, ms.
    think_ms_mean: u64,
    start: Instant,
    /// Set to stop every client at the end of the run.
    pub stop: bool,
}

impl ClientWorld {
    /// A world for the run's options; time 0 is now.
    pub fn new(options: &Options) -> ClientWorld {
        ClientWorld {
            history: History::default(),
            network: Network::new(options),
            rng: SimRng::new(options.seed, Stream::Clients),
            shared: Shared::default(),
            options: options.clone(),
            think_ms_mean: options.think_ms_mean,
            start: Instant::now(),
            stop: false,
        }
    }

    /// Simulated ms since the run started.
    pub fn now_ms(&self) -> u64 {
        Instant::now().duration_since(self.start).as_millis() as u64
    }

    /// Sets how long clients think between operations: the drawn mean times `factor` (1: the
    /// run's own load).
    pub fn set_think_factor(&mut self, factor: u64) {
        self.options.think_ms_mean = self.think_ms_mean * factor;
    }

    /// The instant of time 0.
    pub fn start(&self) -> Instant {
        self.start
    }

    fn at(&self, ms: u64) -> Instant {
        self.start + Duration::from_millis(ms)
    }
}

/// The client world, shared by every client node.
pub type World = Arc<Mutex<ClientWorld>>;

/// The address of client `index`.
pub fn client_ip(index: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 0, 2, index as u8 + 1))
}

/// Starts client `index` on its own node (so clogging the node cuts the client off).
pub fn start_client(handle: &Handle, index: usize, servers: usize, world: World) -> NodeHandle {
    let node = handle.create_node().name(format!("client-{index}")).ip(client_ip(index)).build();
    node.spawn(drive(index, servers, world));
    node
}

/// What a connection task reports to its client.
enum Arrival {
    Connected(ConnectionId, ConnectResponse),
    Reply(ConnectionId, ReplyHeader, Response),
    Event(ConnectionId, WatcherEvent),
    Lost(ConnectionId),
}

/// One live connection: where to queue its requests, and its task.
struct Link {
    requests: mpsc::UnboundedSender<(RequestHeader, Request)>,
    task: JoinHandle<()>,
}

/// Runs one client until the world stops.
async fn drive(index: usize, servers: usize, world: World) {
    let mut client = SimClient::new(index, 0, true);
    let (arrivals_tx, mut arrivals) = mpsc::unbounded_channel();
    let mut links: BTreeMap<ConnectionId, Link> = BTreeMap::new();
    let mut wake = 0;
    loop {
        let wake_at = world.lock().expect("world").at(wake);
        // Biased: tokio's random branch order is not replayable by madsim (see zab-net's
        // `select_fair`).
        let out = madsim_tokio::select! {
            biased;
            _ = madsim_tokio::time::sleep_until(wake_at) => {
                let (out, next) = with_context(&world, |cx| client.on_tick(cx));
                wake = next;
                out
            }
            Some(arrival) = arrivals.recv() => with_context(&world, |cx| match arrival {
                Arrival::Connected(connection, response) => client.on_connected(cx, connection, response),
                Arrival::Reply(connection, header, response) => {
                    client.on_reply(cx, connection, header, response);
                    Vec::new()
                }
                Arrival::Event(connection, event) => {
                    client.on_event(cx, connection, event);
                    Vec::new()
                }
                Arrival::Lost(connection) => {
                    client.on_connection_lost(cx, connection);
                    Vec::new()
                }
            }),
        };
        if world.lock().expect("world").stop {
            break;
        }
        for (connection, message) in out {
            dispatch(&world, &mut links, servers, connection, message, &arrivals_tx);
        }
        // Connections the client gave up on or lost: their tasks end.
        links.retain(|connection, link| {
            let alive = world.lock().expect("world").network.is_alive(*connection);
            if !alive {
                link.task.abort();
            }
            alive
        });
    }
    for link in links.into_values() {
        link.task.abort();
    }
}

/// Executes one message of the sans-IO client.
fn dispatch(
    world: &World,
    links: &mut BTreeMap<ConnectionId, Link>,
    servers: usize,
    connection: ConnectionId,
    message: ClientMessage,
    arrivals: &mpsc::UnboundedSender<Arrival>,
) {
    match message {
        ClientMessage::Connect(request) => {
            let server = world.lock().expect("world").network.server_of(connection).unwrap_or(0) % servers;
            let (requests, queued) = mpsc::unbounded_channel();
            let task = madsim_tokio::spawn(run_connection(
                connection,
                client_address(server),
                request,
                queued,
                arrivals.clone(),
            ));
            links.insert(connection, Link { requests, task });
        }
        ClientMessage::Request(header, request) => {
            if let Some(link) = links.get(&connection) {
                let _ = link.requests.send((header, request));
            }
        }
        ClientMessage::Close => {
            if let Some(link) = links.remove(&connection) {
                link.task.abort();
            }
        }
    }
}

/// Calls the sans-IO client with a context over the shared world.
fn with_context<R>(world: &World, f: impl FnOnce(&mut Context) -> R) -> R {
    let mut guard = world.lock().expect("world");
    let now = guard.now_ms();
    let ClientWorld { history, network, rng, shared, options, .. } = &mut *guard;
    let mut cx = Context { now, history, rng, network, options, shared };
    f(&mut cx)
}

/// One TCP connection: the handshake, then requests out and replies and events in, until
/// either side closes it (or the client aborts the task).
async fn run_connection(
    connection: ConnectionId,
    address: String,
    request: ConnectRequest,
    mut requests: mpsc::UnboundedReceiver<(RequestHeader, Request)>,
    arrivals: mpsc::UnboundedSender<Arrival>,
) {
    let Ok((mut link, response)) = Connection::connect(&address, &request).await else {
        let _ = arrivals.send(Arrival::Lost(connection));
        return;
    };
    let _ = arrivals.send(Arrival::Connected(connection, response));
    loop {
        // Both futures are cancel-safe: whichever loses the race loses nothing.
        let next = madsim_tokio::select! {
            biased;
            request = requests.recv() => Err(request),
            incoming = link.receive() => Ok(incoming),
        };
        let arrival = match next {
            Err(Some((header, request))) => match link.send(header, &request).await {
                Ok(()) => continue,
                Err(_) => Arrival::Lost(connection),
            },
            Err(None) => return,
            Ok(Ok(Incoming::Reply { header, response })) => Arrival::Reply(connection, header, response),
            Ok(Ok(Incoming::Event { event, .. })) => Arrival::Event(connection, event),
            Ok(Err(_)) => Arrival::Lost(connection),
        };
        let lost = matches!(arrival, Arrival::Lost(_));
        let _ = arrivals.send(arrival);
        if lost {
            return;
        }
    }
}
