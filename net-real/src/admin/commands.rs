//! The AdminServer's commands: Apache ZooKeeper 3.8's `Commands` table, names, aliases and
//! JSON shapes (keys in Apache's order; `command` and `error` last, as Apache adds them).
//!
//! Each answer is built from a [`ServerView`] on the core task, like the four-letter words.
//! docs/ADMIN.md lists where zab's answers differ from Apache's and why.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};
use zab_core::node::ReplicaState;

use super::monitor::monitor;
use crate::server::four_letter::{mode, version_text, znode_count, ConnectionView, ServerView};

/// One command: its primary name, then its aliases (the four-letter word among them).
pub struct CommandName {
    /// The name `/commands` lists.
    pub primary: &'static str,
    /// Other names it answers to.
    pub aliases: &'static [&'static str],
}

/// Apache 3.8's commands, sorted by primary name as `/commands` lists them.
pub const COMMANDS: &[CommandName] = &[
    CommandName { primary: "configuration", aliases: &["conf", "config"] },
    CommandName { primary: "connection_stat_reset", aliases: &["crst"] },
    CommandName { primary: "connections", aliases: &["cons"] },
    CommandName { primary: "dirs", aliases: &[] },
    CommandName { primary: "dump", aliases: &[] },
    CommandName { primary: "environment", aliases: &["env", "envi"] },
    CommandName { primary: "get_trace_mask", aliases: &["gtmk"] },
    CommandName { primary: "hash", aliases: &[] },
    CommandName { primary: "initial_configuration", aliases: &["icfg"] },
    CommandName { primary: "is_read_only", aliases: &["isro"] },
    CommandName { primary: "last_snapshot", aliases: &["lsnp"] },
    CommandName { primary: "leader", aliases: &["lead"] },
    CommandName { primary: "monitor", aliases: &["mntr"] },
    CommandName { primary: "observer_connection_stat_reset", aliases: &["orst"] },
    CommandName { primary: "observers", aliases: &["obsr"] },
    CommandName { primary: "ruok", aliases: &[] },
    CommandName { primary: "server_stats", aliases: &["srvr"] },
    CommandName { primary: "set_trace_mask", aliases: &["stmk"] },
    CommandName { primary: "stat_reset", aliases: &["srst"] },
    CommandName { primary: "stats", aliases: &["stat"] },
    CommandName { primary: "system_properties", aliases: &["sysp"] },
    CommandName { primary: "voting_view", aliases: &[] },
    CommandName { primary: "watch_summary", aliases: &["wchs"] },
    CommandName { primary: "watches", aliases: &["wchc"] },
    CommandName { primary: "watches_by_path", aliases: &["wchp"] },
    CommandName { primary: "zabstate", aliases: &[] },
];

/// The primary name of `name` (a primary name or an alias), if it is a command.
pub fn primary_name(name: &str) -> Option<&'static str> {
    COMMANDS.iter().find(|c| c.primary == name || c.aliases.contains(&name)).map(|c| c.primary)
}

/// The trace mask Apache reports by default (`ZooTrace`'s default); zab has no trace mask.
pub const TRACE_MASK_DEFAULT: i64 = 306;

/// The answer to command `name` (already resolved by [`primary_name`]) with its query
/// arguments. Resets (`crst`, `srst`) are done by the caller before the view is built.
pub fn answer(name: &str, arguments: &BTreeMap<String, String>, view: &ServerView<'_>) -> Value {
    let mut body = match name {
        "ruok" | "connection_stat_reset" | "stat_reset" | "observer_connection_stat_reset" => Map::new(),
        "server_stats" => server_stats(view),
        "stats" => stats(view),
        "configuration" => configuration(view),
        "connections" => connections(view),
        "dirs" => object(json!({"datadir_size": view.data_dir_size, "logdir_size": view.data_log_size})),
        "dump" => dump(view),
        "environment" => environment(),
        "system_properties" => system_properties(view),
        "get_trace_mask" => object(json!({"tracemask": TRACE_MASK_DEFAULT})),
        "set_trace_mask" => set_trace_mask(arguments),
        "hash" => object(json!({"digests": []})),
        "initial_configuration" => {
            object(json!({"initial_configuration": view.config.initial_configuration.clone().unwrap_or_default()}))
        }
        "is_read_only" => object(json!({"read_only": false})),
        "last_snapshot" => last_snapshot(view),
        "leader" => leader(view),
        "monitor" => monitor(view).into_iter().map(|(key, value)| (key, value.json())).collect(),
        "observers" => observers(view),
        "voting_view" => voting_view(view),
        "watch_summary" => watch_summary(view),
        "watches" => watches(view),
        "watches_by_path" => watches_by_path(view),
        "zabstate" => zabstate(view),
        other => return unknown(other),
    };
    body.insert("command".into(), name.into());
    body.entry("error").or_insert(Value::Null);
    Value::Object(body)
}

/// Apache's answer to a name that is no command (HTTP 200, like Apache).
pub fn unknown(name: &str) -> Value {
    json!({"command": name, "error": format!("Unknown command: {name}")})
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

fn server_stats_body(view: &ServerView<'_>) -> Map<String, Value> {
    let node = view.node;
    let stats = node.stats();
    let no_response = json!({"last_buffer_size": -1, "min_buffer_size": -1, "max_buffer_size": -1});
    let server = json!({
        "packets_sent": stats.packets_sent,
        "packets_received": stats.packets_received,
        "fsync_threshold_exceed_count": 0,
        "client_response_stats": no_response,
        "data_dir_size": view.data_dir_size,
        "log_dir_size": view.data_log_size,
        "provider_null": false,
        "server_state": mode(node),
        "last_processed_zxid": node.last_zxid().0,
        "outstanding_requests": node.outstanding_requests(),
        "avg_latency": stats.latency_ms_avg(),
        "max_latency": stats.latency_ms_max,
        "min_latency": stats.latency_ms_min,
        "num_alive_client_connections": view.connections.len(),
        "uptime": view.now_ms.saturating_sub(view.started_ms),
        "auth_failed_count": 0,
        "non_mtlsremote_conn_count": 0,
        "non_mtlslocal_conn_count": 0,
    });
    let mut body = object(json!({
        "version": version_text(),
        "read_only": false,
        "server_stats": server,
        "client_response": no_response.clone(),
        "node_count": znode_count(node),
    }));
    // A leader's proposal sizes: zab does not measure them, so Apache's unset values (-1).
    if matches!(node.replica_state(), ReplicaState::Leading { .. }) {
        body.insert("proposal_stats".into(), no_response);
    }
    body
}

fn server_stats(view: &ServerView<'_>) -> Map<String, Value> {
    server_stats_body(view)
}

fn stats(view: &ServerView<'_>) -> Map<String, Value> {
    let mut body = server_stats_body(view);
    // Apache's `stats` lists connections briefly (`getAllConnectionInfo(true)`).
    body.insert("connections".into(), view.connections.iter().map(|c| connection_info(c, true)).collect());
    body.insert("secure_connections".into(), json!([]));
    body
}

fn configuration(view: &ServerView<'_>) -> Map<String, Value> {
    let config = view.config;
    let dirs = config.storage_dirs();
    // Apache's ZooKeeperServerConf: the same nine keys standalone and in an ensemble.
    object(json!({
        "client_port": config.client_port,
        "data_dir": dirs.snap_dir().display().to_string(),
        "data_log_dir": dirs.log_dir().display().to_string(),
        "tick_time": config.tick_time_ms,
        "max_client_cnxns": config.max_client_cnxns,
        "min_session_timeout": config.min_session_timeout_ms,
        "max_session_timeout": config.max_session_timeout_ms,
        "server_id": config.my_id.unwrap_or(0),
        "client_port_listen_backlog": -1,
    }))
}

/// `getConnectionInfo(brief)` of Apache's `ServerCnxn`: the session's fields unless brief.
fn connection_info(connection: &ConnectionView, brief: bool) -> Value {
    let mut info = object(json!({
        "remote_socket_address": connection.address.to_string(),
        "interest_ops": u8::from(connection.session.is_some()),
        "outstanding_requests": connection.queued,
        "packets_received": connection.received,
        "packets_sent": connection.sent,
    }));
    if let Some(session) = connection.session.as_ref().filter(|_| !brief) {
        let (min, avg, max) = session.latency_ms;
        let more = json!({
            // Numbers, as Jackson writes Apache's longs and Dates (ms since the epoch).
            "session_id": session.id.0,
            "last_operation": session.last_op,
            "established": session.established_ms,
            "session_timeout": session.timeout_ms,
            "last_cxid": session.last_cxid,
            "last_zxid": session.last_zxid,
            "last_response_time": session.last_response_ms,
            "last_latency": session.last_latency_ms,
            "min_latency": min,
            "avg_latency": avg,
            "max_latency": max,
        });
        info.extend(object(more));
    }
    Value::Object(info)
}

fn connections(view: &ServerView<'_>) -> Map<String, Value> {
    object(json!({
        "connections": view.connections.iter().map(|c| connection_info(c, false)).collect::<Vec<_>>(),
        "secure_connections": [],
    }))
}

fn dump(view: &ServerView<'_>) -> Map<String, Value> {
    let node = view.node;
    let mut by_expiry: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    let mut ephemerals = Map::new();
    for (session, _) in node.sessions().iter() {
        let at = node.sessions().expiry(session).map_or(0, |m| m.0);
        by_expiry.entry(at.to_string()).or_default().push(session.0);
        let paths = node.tree().session_ephemerals(session);
        if !paths.is_empty() {
            ephemerals.insert(session.0.to_string(), paths.into());
        }
    }
    let expiry: Map<String, Value> = by_expiry.into_iter().map(|(at, ids)| (at, ids.into())).collect();
    object(json!({"expiry_time_to_session_ids": expiry, "session_id_to_ephemeral_paths": ephemerals}))
}

fn environment() -> Map<String, Value> {
    let text = crate::server::four_letter::answer_environment();
    text.lines().filter_map(|line| line.split_once('=')).map(|(k, v)| (k.to_string(), v.into())).collect()
}

/// Apache's JVM system properties that zab has: the OS and user ones, and those a zoo.cfg
/// sets as `zookeeper.*` properties (Apache copies those keys into system properties).
fn system_properties(view: &ServerView<'_>) -> Map<String, Value> {
    let mut body = environment();
    body.remove("host.name");
    body.remove("zookeeper.version");
    let config = view.config;
    let whitelist = match &config.four_letter_words {
        crate::config::FourLetterWords::All => "*".to_string(),
        crate::config::FourLetterWords::Only(words) => words.iter().cloned().collect::<Vec<_>>().join(","),
    };
    body.insert("zookeeper.4lw.commands.whitelist".into(), whitelist.into());
    body.insert("zookeeper.admin.enableServer".into(), config.admin_enable_server.to_string().into());
    body.insert("zookeeper.admin.serverAddress".into(), config.admin_server_address.clone().into());
    body.insert("zookeeper.admin.serverPort".into(), config.admin_server_port.to_string().into());
    body
}

fn set_trace_mask(arguments: &BTreeMap<String, String>) -> Map<String, Value> {
    match arguments.get("traceMask") {
        None => object(json!({"error": "setTraceMask requires long traceMask argument"})),
        Some(text) => match text.parse::<i64>() {
            // zab has no trace mask to set (its logs use RUST_LOG): it echoes, as Apache does.
            Ok(mask) => object(json!({"tracemask": mask})),
            Err(_) => object(json!({"error": format!("setTraceMask requires long traceMask argument, got {text}")})),
        },
    }
}

fn last_snapshot(view: &ServerView<'_>) -> Map<String, Value> {
    match &view.last_snapshot {
        Some((zxid, timestamp_s)) => object(json!({"zxid": format!("{:x}", zxid), "timestamp": timestamp_s})),
        None => object(json!({"zxid": "-1", "timestamp": -1})),
    }
}

fn leader(view: &ServerView<'_>) -> Map<String, Value> {
    let (is_leader, leader_id) = match view.node.replica_state() {
        ReplicaState::Standalone => return object(json!({"error": "server is not initialized"})),
        ReplicaState::Leading { .. } => (true, view.config.my_id.map_or(-1, i64::from)),
        ReplicaState::Learning { leader, .. } => (false, leader.0 as i64),
        ReplicaState::Looking | ReplicaState::Halted => (false, -1),
    };
    let leader_ip = view
        .config
        .servers
        .iter()
        .find(|line| i64::from(line.id) == leader_id)
        .map_or(String::new(), |line| line.host.clone());
    object(json!({"is_leader": is_leader, "leader_id": leader_id, "leader_ip": leader_ip}))
}

fn observers(view: &ServerView<'_>) -> Map<String, Value> {
    let observers: Vec<Value> = view
        .learners
        .iter()
        .filter(|l| l.observer && l.synced)
        .map(|l| json!({"sid": l.id.0, "qp_lag": l.lag_zxids}))
        .collect();
    object(json!({"synced_observers": observers.len(), "observers": observers}))
}

fn voting_view(view: &ServerView<'_>) -> Map<String, Value> {
    let mut current = Map::new();
    if view.config.is_replicated() {
        for line in &view.config.servers {
            let role = match line.role {
                crate::config::PeerRole::Participant => "participant",
                crate::config::PeerRole::Observer => "observer",
            };
            let client = match (&line.client_address, line.client_port) {
                (Some(address), Some(port)) => format!("{address}:{port}"),
                (None, Some(port)) => format!("0.0.0.0:{port}"),
                _ => String::new(),
            };
            let text = format!("{}:{}:{}:{role};{client}", line.host, line.quorum_port, line.election_port);
            current.insert(line.id.to_string(), text.into());
        }
    }
    object(json!({"current_config": current}))
}

fn watch_summary(view: &ServerView<'_>) -> Map<String, Value> {
    let watches = view.node.watches();
    object(json!({
        "num_connections": watches.connection_count(),
        "num_paths": watches.path_count(),
        "num_total_watches": watches.count(),
    }))
}

fn watches(view: &ServerView<'_>) -> Map<String, Value> {
    let node = view.node;
    let by_session: Map<String, Value> = node
        .watches()
        .by_connection()
        .into_iter()
        .map(|(connection, paths)| {
            let session = node.connection_session(connection).map_or(0, |s| s.0);
            (session.to_string(), paths.into())
        })
        .collect();
    object(json!({"session_id_to_watched_paths": by_session}))
}

fn watches_by_path(view: &ServerView<'_>) -> Map<String, Value> {
    let node = view.node;
    let by_path: Map<String, Value> = node
        .watches()
        .by_path()
        .into_iter()
        .map(|(path, connections)| {
            let sessions: Vec<i64> = connections
                .into_iter()
                .map(|connection| node.connection_session(connection).map_or(0, |s| s.0))
                .collect();
            (path.to_string(), sessions.into())
        })
        .collect();
    object(json!({"path_to_session_ids": by_path}))
}

fn zabstate(view: &ServerView<'_>) -> Map<String, Value> {
    let config = view.config;
    let Some(own) = config.own_server().filter(|_| config.is_replicated()) else {
        return object(json!({"voting": false, "zabstate": ""}));
    };
    let state = match view.node.replica_state() {
        ReplicaState::Looking | ReplicaState::Halted => "election",
        ReplicaState::Leading { established: false, .. } => "synchronization",
        ReplicaState::Learning { serving: false, .. } => "synchronization",
        _ => "broadcast",
    };
    let zxid = view.node.last_zxid().0;
    object(json!({
        "myid": own.id,
        "is_leader": matches!(view.node.replica_state(), ReplicaState::Leading { .. }),
        "quorum_address": format!("{}:{}", own.host, own.quorum_port),
        "election_address": format!("{}:{}", own.host, own.election_port),
        "client_address": format!("{}:{}", config.client_port_address, config.client_port),
        "voting": own.role == crate::config::PeerRole::Participant,
        "last_zxid": format!("0x{zxid:x}"),
        "zab_epoch": zxid >> 32,
        "zab_counter": zxid & 0xffff_ffff,
        "zabstate": state,
    }))
}
