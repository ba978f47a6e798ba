//! What the tier sees of the servers, from two outputs they already have:
//!
//! - `srvr` on each server's client port, polled every [`POLL_MS`] from a node of its own
//!   (an operator's view: `Mode: leader|follower`, or "not currently serving"), gives the
//!   [`Sample`]s the recovery check judges, and from them [`ServerEvent::StoppedServing`]
//!   and role changes between two polls;
//! - the servers' log lines, caught by a tracing subscriber ([`LogSink`]) that knows which
//!   madsim node each line came from: `LOOKING` (the core starts an election), `quorum link
//!   closed` and `election link down` (peers.rs: a link to a peer ended, by either end).
//!
//! What it cannot see: a link that closes and reopens inside the core without a log line, and
//! a member that stops serving and recovers between two polls without an election (no such
//! path exists today: leaving service goes through LOOKING).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use madsim::runtime::{Handle, NodeHandle};
use madsim::task::NodeId;
use madsim_tokio::io::{AsyncReadExt, AsyncWriteExt};
use madsim_tokio::net::TcpStream;
use madsim_tokio::time::{sleep, timeout, Instant};
use tracing::field::{Field, Visit};
use tracing::{span, Event, Level, Metadata};
use zab_sim::checker::availability::ServerEvent;
use zab_sim::checker::recovery::Sample;

use crate::cluster::client_address;

/// How often each server's `srvr` is polled, ms.
pub const POLL_MS: u64 = 250;
/// How long one poll waits for its answer before it counts as "not serving", ms.
const POLL_TIMEOUT_MS: u64 = 1_000;
/// Largest `srvr` answer read (it is a few hundred bytes).
const SRVR_BYTES_MAX: u64 = 64 * 1024;

/// Everything observed of the servers in one run.
#[derive(Debug)]
pub struct Observed {
    start: Instant,
    /// The madsim node of each server, by index.
    nodes: Vec<NodeId>,
    /// `srvr` answers in time order.
    pub samples: Vec<Sample>,
    /// Events from the servers' log lines, in time order.
    pub logged: Vec<(u64, usize, ServerEvent)>,
}

/// The observations, shared by the pollers and the log sink.
pub type Observer = Arc<Mutex<Observed>>;

/// A new observer; time 0 is `start` (the clients' time 0 too).
pub fn observer(start: Instant) -> Observer {
    Arc::new(Mutex::new(Observed { start, nodes: Vec::new(), samples: Vec::new(), logged: Vec::new() }))
}

impl Observed {
    fn now_ms(&self) -> u64 {
        Instant::now().duration_since(self.start).as_millis() as u64
    }

    /// The server events of the whole run: the logged ones, and those the samples show (a
    /// member that served and then did not; a role that changed between two polls, which takes
    /// an election). In time order.
    pub fn server_events(&self) -> Vec<(u64, usize, ServerEvent)> {
        let mut events = self.logged.clone();
        for server in 0..self.nodes.len() {
            let mut previous: Option<&Sample> = None;
            for sample in self.samples.iter().filter(|s| s.server == server) {
                if let Some(before) = previous.filter(|before| before.serving) {
                    if !sample.serving {
                        events.push((sample.at_ms, server, ServerEvent::StoppedServing));
                    } else if before.leading != sample.leading {
                        events.push((sample.at_ms, server, ServerEvent::ElectionStarted));
                    }
                }
                previous = Some(sample);
            }
        }
        events.sort_by_key(|(at_ms, server, _)| (*at_ms, *server));
        events
    }

    /// Servers that never logged `LOOKING` (every server does as it starts): if any did not,
    /// the log sink no longer sees the servers' lines and the quiet phase would be blind.
    pub fn deaf_to(&self) -> Vec<usize> {
        let heard = |server: usize| {
            self.logged.iter().any(|(_, s, event)| *s == server && *event == ServerEvent::ElectionStarted)
        };
        (0..self.nodes.len()).filter(|server| !heard(*server)).collect()
    }
}

/// Tells the observer which madsim node each server runs on.
pub fn watch_servers(observer: &Observer, nodes: Vec<NodeId>) {
    observer.lock().expect("observer").nodes = nodes;
}

/// Starts one `srvr` poller per server, on a node of its own (never clogged by a fault).
pub fn start_pollers(handle: &Handle, servers: usize, observer: &Observer) -> NodeHandle {
    let node = handle.create_node().name("observer").ip([10, 0, 3, 1].into()).build();
    for server in 0..servers {
        node.spawn(poll(server, observer.clone()));
    }
    node
}

async fn poll(server: usize, observer: Observer) {
    loop {
        sleep(Duration::from_millis(POLL_MS)).await;
        let answer = timeout(Duration::from_millis(POLL_TIMEOUT_MS), srvr(server)).await;
        let mode = answer
            .ok()
            .and_then(Result::ok)
            .and_then(|text| text.lines().find_map(|line| line.strip_prefix("Mode: ").map(str::to_string)));
        let serving = mode.is_some();
        let leading = mode.as_deref() == Some("leader");
        let mut observed = observer.lock().expect("observer");
        let at_ms = observed.now_ms();
        observed.samples.push(Sample { at_ms, server, serving, leading });
    }
}

/// One `srvr`: what the server answered, up to its hang-up.
async fn srvr(server: usize) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(client_address(server)).await?;
    stream.write_all(b"srvr").await?;
    // madsim's stream sends on flush only.
    stream.flush().await?;
    let mut answer = Vec::new();
    (&mut stream).take(SRVR_BYTES_MAX).read_to_end(&mut answer).await?;
    Ok(String::from_utf8_lossy(&answer).into_owned())
}

/// A tracing subscriber that turns the servers' log lines into [`ServerEvent`]s. It enables
/// only INFO-and-above events of zab's crates (no spans), so madsim's own task spans cost
/// nothing. Installed as the thread's default for one run (madsim runs a seed on one thread).
pub struct LogSink {
    observer: Observer,
}

impl LogSink {
    /// A sink recording into `observer`.
    pub fn new(observer: &Observer) -> LogSink {
        LogSink { observer: observer.clone() }
    }

    fn wanted(metadata: &Metadata<'_>) -> bool {
        metadata.is_event() && *metadata.level() <= Level::INFO && metadata.target().starts_with("zab_")
    }
}

impl tracing::Subscriber for LogSink {
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> tracing::subscriber::Interest {
        match LogSink::wanted(metadata) {
            true => tracing::subscriber::Interest::always(),
            false => tracing::subscriber::Interest::never(),
        }
    }

    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        LogSink::wanted(metadata)
    }

    fn new_span(&self, _: &span::Attributes<'_>) -> span::Id {
        span::Id::from_u64(1)
    }

    fn record(&self, _: &span::Id, _: &span::Record<'_>) {}

    fn record_follows_from(&self, _: &span::Id, _: &span::Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut line = LogLine::default();
        event.record(&mut line);
        let what = match line.message.as_str() {
            "LOOKING" => ServerEvent::ElectionStarted,
            "quorum link closed" | "election link down" => match line.peer {
                Some(id) if id > 0 => ServerEvent::PeerLinkClosed { peer: id as usize - 1 },
                _ => return,
            },
            _ => return,
        };
        let node = madsim::plugin::node();
        let mut observed = self.observer.lock().expect("observer");
        if let Some(server) = observed.nodes.iter().position(|n| *n == node) {
            let at_ms = observed.now_ms();
            observed.logged.push((at_ms, server, what));
        }
    }

    fn enter(&self, _: &span::Id) {}

    fn exit(&self, _: &span::Id) {}
}

/// The fields of one log line the sink reads: its message and the `peer` it names.
#[derive(Default)]
struct LogLine {
    message: String,
    /// The peer's server id (`ServerId(N)` in the line).
    peer: Option<u64>,
}

impl Visit for LogLine {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "message" => self.message = format!("{value:?}"),
            "peer" => {
                let digits: String = format!("{value:?}").chars().filter(char::is_ascii_digit).collect();
                self.peer = digits.parse().ok();
            }
            _ => {}
        }
    }
}
