//! Reading the servers' logs from outside: counts of the lines that say a role changed or a
//! peer link went down or was made, between two marks (byte offsets; logs only grow, and a
//! restarted server appends to its old log).

use super::ensemble::Ensemble;
use std::collections::BTreeMap;

/// Logged on every role change (LOOKING, LEADING, FOLLOWING).
pub const ROLE_CHANGE: &str = "replica state";

/// Logged when a peer link goes down, is refused, or is made (once the ensemble formed, a new
/// link means an old one dropped; a quorum link that hits EOF logs nothing itself, its
/// successor does).
pub const LINK_EVENTS: &[&str] = &[
    "election link down",
    "closing the election link",
    "closing the quorum link",
    "quorum connection refused",
    "quorum link connected",
    "quorum link accepted",
];

/// Lines that must appear while an ensemble forms: if a release renames them, the soak
/// stops rather than count nothing forever.
pub const FORMATION_LINES: &[&str] = &[ROLE_CHANGE, "election link up"];

/// Where each server's log ended at some moment.
#[derive(Clone, Debug, Default)]
pub struct Marks(BTreeMap<u8, u64>);

impl Marks {
    /// The current end of every server's log.
    pub fn now(ensemble: &Ensemble) -> Marks {
        let ends = ensemble
            .ids()
            .into_iter()
            .map(|id| (id, std::fs::metadata(ensemble.log_path(id)).map_or(0, |m| m.len())))
            .collect();
        Marks(ends)
    }
}

/// The lines each server logged since `since`, prefixed with its id.
pub fn lines_since(ensemble: &Ensemble, since: &Marks) -> Vec<String> {
    let mut lines = Vec::new();
    for id in ensemble.ids() {
        let text = std::fs::read(ensemble.log_path(id)).unwrap_or_default();
        let from = (since.0.get(&id).copied().unwrap_or(0) as usize).min(text.len());
        lines.extend(String::from_utf8_lossy(&text[from..]).lines().map(|line| format!("server {id}: {line}")));
    }
    lines
}

/// Counts of [`ROLE_CHANGE`] and each of [`LINK_EVENTS`] in `lines`.
pub fn count(lines: &[String]) -> (u64, BTreeMap<String, u64>) {
    let roles = lines.iter().filter(|line| line.contains(ROLE_CHANGE)).count() as u64;
    let mut links = BTreeMap::new();
    for pattern in LINK_EVENTS {
        let n = lines.iter().filter(|line| line.contains(pattern)).count() as u64;
        if n > 0 {
            links.insert(pattern.to_string(), n);
        }
    }
    (roles, links)
}

/// The first `max` lines about roles and links, for a report.
pub fn excerpt(lines: &[String], max: usize) -> Vec<String> {
    lines
        .iter()
        .filter(|line| line.contains(ROLE_CHANGE) || LINK_EVENTS.iter().any(|pattern| line.contains(pattern)))
        .take(max)
        .cloned()
        .collect()
}
