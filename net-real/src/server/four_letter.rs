//! Four-letter words (`ruok`, `srvr`, `mntr`, ...) with Apache ZooKeeper 3.8's output formats.
//!
//! The texts are built from a [`ServerView`]: the node's read accessors plus what only the
//! driver knows (connections, directories, uptime). `crst` and `srst` reset counters; the
//! caller does that and [`answer`] only prints their acknowledgement.

use std::fmt::Write as _;
use std::net::SocketAddr;

use zab_core::node::ReplicaState;
use zab_core::{Node, SessionId};

use crate::config::ServerConfig;

/// The version reported to tools: the ZooKeeper release whose protocol zab speaks, then ours.
pub fn version_text() -> String {
    let built = option_env!("ZAB_BUILD_DATE").unwrap_or("unknown");
    format!("3.9.3-zab-{}, built on {built}", env!("CARGO_PKG_VERSION"))
}

/// What ZooKeeper 3.8 answers to a known word outside `4lw.commands.whitelist`.
pub fn refusal(word: &str) -> String {
    format!("{word} is not executed because it is not in the whitelist.\n")
}

/// One client connection as `cons` and `stat` show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionView {
    /// The client's address.
    pub address: SocketAddr,
    /// Requests received and not yet answered.
    pub queued: u64,
    /// Packets received.
    pub received: u64,
    /// Packets sent.
    pub sent: u64,
    /// Present once a session is bound.
    pub session: Option<SessionView>,
}

/// The session part of a `cons` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionView {
    /// The session id.
    pub id: SessionId,
    /// The last operation, abbreviated as ZooKeeper does (`GETD`, `CREA`, ...).
    pub last_op: &'static str,
    /// When the connection was established (ms since the epoch).
    pub established_ms: u64,
    /// The negotiated session timeout.
    pub timeout_ms: i32,
    /// The last client xid.
    pub last_cxid: i32,
    /// The zxid of the last reply.
    pub last_zxid: i64,
    /// When the last reply was sent (ms since the epoch).
    pub last_response_ms: u64,
    /// Latency of the last request, ms.
    pub last_latency_ms: u64,
    /// Smallest, average (integer, as ZooKeeper prints it) and largest latency, ms.
    pub latency_ms: (u64, u64, u64),
}

/// Everything the four-letter words print.
pub struct ServerView<'a> {
    /// The node.
    pub node: &'a Node,
    /// The configuration.
    pub config: &'a ServerConfig,
    /// Client connections, the asking connection last (ZooKeeper lists it too).
    pub connections: Vec<ConnectionView>,
    /// Now, ms since the epoch.
    pub now_ms: u64,
    /// When the server started, ms since the epoch.
    pub started_ms: u64,
    /// Bytes in the snapshot directory.
    pub data_dir_size: u64,
    /// Bytes in the log directory.
    pub data_log_size: u64,
    /// Open file descriptors, when known.
    pub open_file_descriptors: Option<u64>,
    /// The file descriptor limit, when known.
    pub max_file_descriptors: Option<u64>,
    /// When the replica state last changed (ms since the epoch): the last election's end.
    pub replica_since_ms: u64,
    /// A leader's learners (empty otherwise), measured on the core task's clock.
    pub learners: Vec<zab_core::node::LearnerView>,
    /// The newest snapshot file: its zxid and its modification time (s since the epoch).
    pub last_snapshot: Option<(i64, i64)>,
    /// Request latency by operation, measured by the core task (`/metrics`).
    pub request_latencies: crate::admin::metrics::RequestLatencies,
    /// Syncs sent, proposal-to-commit and persist latencies, watched by the core task.
    pub observed: crate::admin::observed::ObservedCounts,
}

/// The answer to `word` (one of [`super::frames::FOUR_LETTER_WORDS`]); `None` for a word zab
/// does not implement (the connection is closed without output).
pub fn answer(word: &str, view: &ServerView<'_>) -> Option<String> {
    Some(match word {
        "ruok" => "imok".to_string(),
        "isro" => "rw".to_string(),
        "crst" => "Connection stats reset.\n".to_string(),
        "srst" => "Server stats reset.\n".to_string(),
        "srvr" | "stat" | "mntr" if !view.node.is_serving() => NOT_SERVING.to_string(),
        "srvr" => srvr(view, false),
        "stat" => srvr(view, true),
        "conf" => conf(view),
        "cons" => cons(view),
        "mntr" => crate::admin::monitor::mntr_text(view),
        "envi" => answer_environment(),
        "dirs" => format!("datadir_size: {}\nlogdir_size: {}\n", view.data_dir_size, view.data_log_size),
        "wchs" => wchs(view.node),
        "wchc" => wchc(view.node),
        "wchp" => wchp(view.node),
        "dump" => dump(view),
        _ => return None,
    })
}

/// A double as Java prints ZooKeeper's rounded averages: four decimals at most, `.0` if whole.
pub fn java_double(value: f64) -> String {
    let rounded = (value * 10_000.0).round() / 10_000.0;
    let text = format!("{rounded}");
    if text.contains('.') {
        text
    } else {
        format!("{text}.0")
    }
}

/// ZooKeeper's `zk_znode_count`: its node map holds the root twice.
pub fn znode_count(node: &Node) -> usize {
    node.tree().node_count() + 1
}

/// ZooKeeper's `Mode:` / `zk_server_state` word for what the replica does.
pub fn mode(node: &Node) -> &'static str {
    match node.replica_state() {
        ReplicaState::Standalone => "standalone",
        ReplicaState::Leading { .. } => "leader",
        ReplicaState::Learning { observer: true, .. } => "observer",
        ReplicaState::Learning { .. } => "follower",
        ReplicaState::Looking | ReplicaState::Halted => "looking",
    }
}

/// What ZooKeeper answers `srvr`, `stat` and `mntr` with while it does not serve (electing, syncing).
pub const NOT_SERVING: &str = "This ZooKeeper instance is not currently serving requests\n";

fn srvr(view: &ServerView<'_>, with_clients: bool) -> String {
    let node = view.node;
    let stats = node.stats();
    let mut out = format!("Zookeeper version: {}\n", version_text());
    if with_clients {
        out.push_str("Clients:\n");
        for connection in &view.connections {
            let _ = writeln!(out, "{}", connection_brief(connection));
        }
        out.push('\n');
    }
    let avg = java_double(stats.latency_ms_avg());
    let _ = writeln!(out, "Latency min/avg/max: {}/{avg}/{}", stats.latency_ms_min, stats.latency_ms_max);
    let _ = writeln!(out, "Received: {}", stats.packets_received);
    let _ = writeln!(out, "Sent: {}", stats.packets_sent);
    let _ = writeln!(out, "Connections: {}", view.connections.len());
    let _ = writeln!(out, "Outstanding: {}", node.outstanding_requests());
    let _ = writeln!(out, "Zxid: {}", node.last_zxid());
    let _ = writeln!(out, "Mode: {}", mode(node));
    let _ = writeln!(out, "Node count: {}", znode_count(node));
    out
}

fn connection_brief(connection: &ConnectionView) -> String {
    let interest = u8::from(connection.session.is_some());
    format!(
        " /{}[{interest}](queued={},recved={},sent={}",
        connection.address, connection.queued, connection.received, connection.sent
    ) + ")"
}

fn cons(view: &ServerView<'_>) -> String {
    let mut out = String::new();
    for connection in &view.connections {
        let brief = connection_brief(connection);
        let Some(session) = &connection.session else {
            let _ = writeln!(out, "{brief}");
            continue;
        };
        let open = brief.trim_end_matches(')');
        let (min, avg, max) = session.latency_ms;
        let _ = writeln!(
            out,
            "{open},sid={},lop={},est={},to={},lcxid=0x{:x},lzxid=0x{:x},lresp={},llat={},minlat={min},avglat={avg},maxlat={max})",
            session.id,
            session.last_op,
            session.established_ms,
            session.timeout_ms,
            session.last_cxid,
            session.last_zxid,
            session.last_response_ms,
            session.last_latency_ms,
        );
    }
    out.push('\n');
    out
}

fn conf(view: &ServerView<'_>) -> String {
    let config = view.config;
    let dirs = config.storage_dirs();
    let mut out = String::new();
    let _ = writeln!(out, "clientPort={}", config.client_port);
    out.push_str("secureClientPort=-1\n");
    let _ = writeln!(out, "dataDir={}", dirs.snap_dir().display());
    let _ = writeln!(out, "dataDirSize={}", view.data_dir_size);
    let _ = writeln!(out, "dataLogDir={}", dirs.log_dir().display());
    let _ = writeln!(out, "dataLogSize={}", view.data_log_size);
    let _ = writeln!(out, "tickTime={}", config.tick_time_ms);
    let _ = writeln!(out, "maxClientCnxns={}", config.max_client_cnxns);
    let _ = writeln!(out, "minSessionTimeout={}", config.min_session_timeout_ms);
    let _ = writeln!(out, "maxSessionTimeout={}", config.max_session_timeout_ms);
    out.push_str("clientPortListenBacklog=-1\n");
    let _ = writeln!(out, "serverId={}", config.my_id.unwrap_or(0));
    out
}

/// `envi`'s text (also the AdminServer's `environment`, one `key=value` a line).
pub fn answer_environment() -> String {
    let read = |path: &str| std::fs::read_to_string(path).map(|s| s.trim().to_string()).ok();
    let env = |key: &str| std::env::var(key).unwrap_or_default();
    let cwd = std::env::current_dir().map(|d| d.display().to_string()).unwrap_or_default();
    let entries = [
        ("zookeeper.version", version_text()),
        ("host.name", read("/proc/sys/kernel/hostname").unwrap_or_else(|| "localhost".into())),
        // Java's names for what Rust calls "linux" and "x86_64".
        ("os.name", if std::env::consts::OS == "linux" { "Linux" } else { std::env::consts::OS }.to_string()),
        ("os.arch", if std::env::consts::ARCH == "x86_64" { "amd64" } else { std::env::consts::ARCH }.to_string()),
        ("os.version", read("/proc/sys/kernel/osrelease").unwrap_or_default()),
        ("user.name", env("USER")),
        ("user.home", env("HOME")),
        ("user.dir", cwd),
    ];
    let mut out = "Environment:\n".to_string();
    for (key, value) in entries {
        let _ = writeln!(out, "{key}={value}");
    }
    out
}

fn wchs(node: &Node) -> String {
    let watches = node.watches();
    format!(
        "{} connections watching {} paths\nTotal watches:{}\n",
        watches.connection_count(),
        watches.path_count(),
        watches.count()
    )
}

/// The session a connection holds, printed as ZooKeeper prints ids (0 without a session).
fn session_of(node: &Node, connection: zab_core::ConnectionId) -> SessionId {
    node.connection_session(connection).unwrap_or(SessionId(0))
}

fn wchc(node: &Node) -> String {
    let mut out = String::new();
    for (connection, paths) in node.watches().by_connection() {
        let _ = writeln!(out, "{}", session_of(node, connection));
        for path in paths {
            let _ = writeln!(out, "\t{path}");
        }
    }
    out.push('\n');
    out
}

fn wchp(node: &Node) -> String {
    let mut out = String::new();
    for (path, connections) in node.watches().by_path() {
        let _ = writeln!(out, "{path}");
        for connection in connections {
            let _ = writeln!(out, "\t{}", session_of(node, connection));
        }
    }
    out.push('\n');
    out
}

fn dump(view: &ServerView<'_>) -> String {
    let node = view.node;
    let mut by_expiry: std::collections::BTreeMap<u64, Vec<SessionId>> = Default::default();
    for (session, _) in node.sessions().iter() {
        let at = node.sessions().expiry(session).map_or(0, |m| m.0);
        by_expiry.entry(at).or_default().push(session);
    }
    let mut out = "SessionTracker dump:\n".to_string();
    let _ = writeln!(out, "Session Sets ({})/({}):", by_expiry.len(), node.sessions().len());
    for (at, sessions) in &by_expiry {
        let _ = writeln!(out, "{} expire at {}:", sessions.len(), java_date(*at));
        for session in sessions {
            let _ = writeln!(out, "\t{session}");
        }
    }
    out.push_str("ephemeral nodes dump:\n");
    let with_ephemerals: Vec<(SessionId, Vec<String>)> = node
        .sessions()
        .iter()
        .map(|(session, _)| (session, node.tree().session_ephemerals(session)))
        .filter(|(_, paths)| !paths.is_empty())
        .collect();
    let _ = writeln!(out, "Sessions with Ephemerals ({}):", with_ephemerals.len());
    for (session, paths) in with_ephemerals {
        let _ = writeln!(out, "{session}:");
        for path in paths {
            let _ = writeln!(out, "\t{path}");
        }
    }
    // ZooKeeper groups connections by its idle-expiry buckets, which zab does not have: one set.
    out.push_str("Connections dump:\n");
    let _ = writeln!(out, "Connections Sets (1)/({}):", view.connections.len());
    let _ = writeln!(out, "{} connections:", view.connections.len());
    for connection in &view.connections {
        let session = connection.session.as_ref().map_or(SessionId(0), |s| s.id);
        let _ = writeln!(out, "\tip: /{} sessionId: {session}", connection.address);
    }
    out
}

/// Formats ms since the epoch as Java's `Date.toString()` in UTC: `Wed Nov 25 08:37:48 UTC 2026`.
pub fn java_date(ms: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let seconds = ms / 1000;
    let days = seconds / 86_400;
    let (hour, minute, second) = (seconds % 86_400 / 3600, seconds % 3600 / 60, seconds % 60);
    let (year, month, day) = civil_from_days(days as i64);
    let weekday = DAYS[(days % 7) as usize];
    let month = MONTHS[(month - 1) as usize];
    format!("{weekday} {month} {day:02} {hour:02}:{minute:02}:{second:02} UTC {year}")
}

/// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian calendar).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests;
