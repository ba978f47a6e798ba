//! `mntr` and the AdminServer's `monitor`: Apache ZooKeeper 3.8's whole key set, in its order.
//!
//! The values zab measures come from the core ([`zab_core::node::Stats`], the tree, the
//! sessions, the leader's learners) and from what only the driver knows (connections, file
//! descriptors, uptime). Every other Apache key is printed with 0 (or -1 where Apache prints -1
//! before any sample), so tools that read a fixed key set find it; README's "mntr keys" lists
//! which keys are such placeholders and why.

use std::fmt::Write as _;

use zab_core::node::Summary;

use super::monitor_names::{COUNTERS, SUMMARIES, SUMMARIES_WITH_PERCENTILES};
use crate::server::four_letter::{java_double, mode, version_text, znode_count, ServerView};

/// One value of `mntr`.
#[derive(Debug, Clone, PartialEq)]
pub enum MonitorValue {
    /// A string (`zk_version`, `zk_server_state`).
    Text(String),
    /// An integer.
    Integer(i64),
    /// A double, printed as Java prints it.
    Double(f64),
}

impl MonitorValue {
    /// As `mntr` prints it.
    pub fn text(&self) -> String {
        match self {
            MonitorValue::Text(text) => text.clone(),
            MonitorValue::Integer(value) => value.to_string(),
            MonitorValue::Double(value) => java_double(*value),
        }
    }

    /// As the AdminServer's JSON holds it.
    pub fn json(&self) -> serde_json::Value {
        match self {
            MonitorValue::Text(text) => text.clone().into(),
            MonitorValue::Integer(value) => (*value).into(),
            MonitorValue::Double(value) => (*value).into(),
        }
    }
}

/// The summary sets zab measures, by Apache's name.
fn measured_summary<'a>(view: &'a ServerView<'_>, name: &str) -> Option<&'a Summary> {
    let stats = view.node.stats();
    match name {
        "readlatency" => Some(&stats.read_latency),
        "updatelatency" => Some(&stats.update_latency),
        _ => None,
    }
}

/// Every key and value, `zk_` prefix left off, in Apache's order.
pub fn monitor(view: &ServerView<'_>) -> Vec<(String, MonitorValue)> {
    use MonitorValue::{Double, Integer, Text};
    let node = view.node;
    let stats = node.stats();
    let count = |n: usize| Integer(n as i64);
    let open_fds = view.open_file_descriptors.map_or(-1, |n| n as i64);
    let max_fds = view.max_file_descriptors.map_or(-1, |n| n as i64);
    let mut lines: Vec<(String, MonitorValue)> = [
        ("version", Text(version_text())),
        ("server_state", Text(mode(node).into())),
        ("ephemerals_count", count(node.tree().ephemeral_count())),
        ("num_alive_connections", count(view.connections.len())),
        ("avg_latency", Double(stats.latency_ms_avg())),
        ("outstanding_requests", count(node.outstanding_requests())),
        ("znode_count", count(znode_count(node))),
        ("global_sessions", count(node.sessions().len())),
        ("non_mtls_remote_conn_count", Integer(0)),
        ("last_client_response_size", Integer(-1)),
        ("packets_sent", Integer(stats.packets_sent as i64)),
        ("packets_received", Integer(stats.packets_received as i64)),
        ("max_client_response_size", Integer(-1)),
        ("connection_drop_probability", Double(0.0)),
        ("watch_count", count(node.watches().count())),
        ("auth_failed_count", Integer(0)),
        ("min_latency", Integer(stats.latency_ms_min as i64)),
        ("max_file_descriptor_count", Integer(max_fds)),
        ("approximate_data_size", Integer(node.tree().approximate_data_size() as i64)),
        ("open_file_descriptor_count", Integer(open_fds)),
        ("local_sessions", Integer(0)),
        ("uptime", Integer(view.now_ms.saturating_sub(view.started_ms) as i64)),
        ("max_latency", Integer(stats.latency_ms_max as i64)),
        ("outstanding_tls_handshake", Integer(0)),
        ("min_client_response_size", Integer(-1)),
        ("non_mtls_local_conn_count", Integer(0)),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_string(), value))
    .collect();
    lines.extend(ensemble_gauges(view));
    let observed = &view.observed;
    lines.extend(COUNTERS.iter().map(|key| {
        let value = match *key {
            "diff_count" => observed.diff,
            "snap_count" => observed.snap,
            _ => 0,
        };
        (key.to_string(), Integer(value as i64))
    }));
    for name in SUMMARIES {
        push_summary(&mut lines, name, measured_summary(view, name), false);
    }
    for name in SUMMARIES_WITH_PERCENTILES {
        push_summary(&mut lines, name, measured_summary(view, name), true);
    }
    lines
}

/// The gauges a 3.8 ensemble member adds: the quorum size, and a leader's learner counts.
fn ensemble_gauges(view: &ServerView<'_>) -> Vec<(String, MonitorValue)> {
    let node = view.node;
    let mut lines = Vec::new();
    let mut push = |key: &str, value: usize| lines.push((key.to_string(), MonitorValue::Integer(value as i64)));
    if let Some(size) = node.quorum_size() {
        push("quorum_size", size);
    }
    if let Some(counts) = node.leader_counts() {
        push("learners", counts.learners);
        push("synced_followers", counts.synced_followers);
        push("synced_non_voting_followers", 0);
        push("synced_observers", counts.synced_observers);
        push("pending_syncs", counts.pending_syncs);
    }
    lines
}

fn push_summary(lines: &mut Vec<(String, MonitorValue)>, name: &str, summary: Option<&Summary>, percentiles: bool) {
    let empty = Summary::default();
    let summary = summary.unwrap_or(&empty);
    let integer = |value: u64| MonitorValue::Integer(value as i64);
    lines.push((format!("avg_{name}"), MonitorValue::Double(summary.avg())));
    lines.push((format!("min_{name}"), integer(summary.min)));
    lines.push((format!("max_{name}"), integer(summary.max)));
    lines.push((format!("cnt_{name}"), integer(summary.count)));
    lines.push((format!("sum_{name}"), integer(summary.sum)));
    if percentiles {
        for (prefix, q) in [("p50", 0.5), ("p95", 0.95), ("p99", 0.99), ("p999", 0.999)] {
            lines.push((format!("{prefix}_{name}"), integer(summary.quantile(q))));
        }
    }
}

/// The four-letter word's text: `zk_<key>\t<value>` lines.
pub fn mntr_text(view: &ServerView<'_>) -> String {
    let mut out = String::new();
    for (key, value) in monitor(view) {
        let _ = writeln!(out, "zk_{key}\t{}", value.text());
    }
    out
}
