//! Checkers, one file per property (STYLE.md rule 8). Each opens with the source of its
//! property.
//!
//! Most judge the [`History`] after the run, from what clients observed. Some are online and
//! run inside the world: [`durability`] (at every restart of a standalone node),
//! [`node_invariants`] (after every input), and for ensembles [`primary`] and
//! [`replica_digests`] (after every input), [`committed_prefix`] (as replicas commit) and
//! [`acknowledged`] (at the end).

pub mod acknowledged;
pub mod availability;
pub mod committed_prefix;
pub mod durability;
pub mod ephemerals;
pub mod fifo;
pub mod linearizable;
pub mod liveness;
pub mod node_invariants;
pub mod primary;
pub mod recovery;
pub mod replica_digests;
pub mod sequential;
pub mod watches;

use crate::history::History;
use std::fmt;

/// A property that did not hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The checker that found it (its file name).
    pub checker: &'static str,
    /// What went wrong, with the paths, sessions, xids and zxids involved.
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}", self.checker, self.message)
    }
}

/// Counts of what the offline checkers looked at, for the run summary.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Coverage {
    /// Operations checked for linearizability.
    pub linearizable_ops: usize,
    /// Paths whose search ran out of budget (neither proven nor refuted).
    pub linearizable_unknown_paths: usize,
    /// Replies checked for FIFO order.
    pub fifo_replies: usize,
    /// Sequential creates checked.
    pub sequential_creates: usize,
    /// Ephemeral reads checked.
    pub ephemeral_reads: usize,
    /// Watch events checked.
    pub watch_events: usize,
}

/// Runs every offline checker over a finished history.
pub fn check_history(history: &History) -> (Vec<Violation>, Coverage) {
    let mut violations = Vec::new();
    let mut coverage = Coverage::default();
    let lin = linearizable::check(history);
    coverage.linearizable_ops = lin.ops;
    coverage.linearizable_unknown_paths = lin.unknown_paths;
    violations.extend(lin.violations);
    let (fifo, replies) = fifo::check(history);
    coverage.fifo_replies = replies;
    violations.extend(fifo);
    let (sequential, creates) = sequential::check(history);
    coverage.sequential_creates = creates;
    violations.extend(sequential);
    let (ephemerals, reads) = ephemerals::check(history);
    coverage.ephemeral_reads = reads;
    violations.extend(ephemerals);
    let (watches, events) = watches::check(history);
    coverage.watch_events = events;
    violations.extend(watches);
    (violations, coverage)
}
