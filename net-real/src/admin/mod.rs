//! The AdminServer (Apache ZooKeeper 3.8's `/commands/*` JSON API), the web view at `/`, and
//! the Prometheus endpoint (`metricsProvider.*`).
//!
//! ```text
//!  HTTP task (axum) ──AdminRequest──> core task: builds a ServerView, answers ──> JSON / text
//! ```
//!
//! The HTTP servers ([`http`]) are shell code: they parse a request, send an [`AdminRequest`]
//! down the same channel the four-letter words use, and write back what the core task
//! answered, so a slow or stuck HTTP client never blocks the node. They build only in the real
//! runtime; the answers ([`commands`], [`monitor`], [`web`]) are pure and also build under
//! madsim.

pub mod commands;
#[cfg(not(madsim))]
pub mod http;
pub mod metrics;
pub mod monitor;
mod monitor_names;
pub mod observed;
pub mod web;

use std::collections::BTreeMap;

use crate::server::four_letter::ServerView;

/// What the HTTP side asks the core task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminRequest {
    /// `/commands/<name>` with its query arguments; `name` is a primary name or an alias.
    Command {
        /// The name as asked.
        name: String,
        /// The query arguments (`set_trace_mask?traceMask=...`).
        arguments: BTreeMap<String, String>,
    },
    /// The web view: one znode and its children's names.
    Znode {
        /// The path.
        path: String,
    },
    /// The web view: sessions with their ephemerals and watches.
    Sessions,
    /// The web view: who leads, the learners, the last election.
    Ensemble,
    /// `/metrics`: the `mntr` values and summaries, for the Prometheus encoder.
    Metrics,
}

impl AdminRequest {
    /// The reset this request asks the core task to do before answering, if any.
    pub fn reset(&self) -> Option<Reset> {
        let AdminRequest::Command { name, .. } = self else { return None };
        match commands::primary_name(name) {
            Some("connection_stat_reset") => Some(Reset::Connections),
            Some("stat_reset") => Some(Reset::Server),
            _ => None,
        }
    }
}

/// Counters a command resets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reset {
    /// `crst`: each connection's counters.
    Connections,
    /// `srst`: the server's request statistics.
    Server,
}

/// The core task's answer.
#[derive(Debug, Clone, PartialEq)]
pub enum AdminAnswer {
    /// A JSON document.
    Json(serde_json::Value),
    /// `/metrics`' Prometheus text.
    Text(String),
}

/// Answers `request` from the view (on the core task).
pub fn answer(request: &AdminRequest, view: &ServerView<'_>) -> AdminAnswer {
    match request {
        AdminRequest::Command { name, arguments } => match commands::primary_name(name) {
            Some(primary) => AdminAnswer::Json(commands::answer(primary, arguments, view)),
            None => AdminAnswer::Json(commands::unknown(name)),
        },
        AdminRequest::Znode { path } => AdminAnswer::Json(web::znode(view, path)),
        AdminRequest::Sessions => AdminAnswer::Json(web::sessions(view)),
        AdminRequest::Ensemble => AdminAnswer::Json(web::ensemble(view)),
        AdminRequest::Metrics => AdminAnswer::Text(metrics::encode(view)),
    }
}
