//! zab-scenarios: the swarm runner, the named scenarios and the `zab-sim` binary.
//!
//! [`run_seed`] runs one swarm seed (options drawn from the seed, random faults, then the
//! liveness phase) and judges it; [`catalogue`] lists the hand-written scenarios, each a short
//! story in the DSL of [`zab_sim::script`]; [`run_scenario`] runs one by name.
#![deny(missing_docs)]

mod catalogue;

pub use catalogue::{catalogue, known_node_bugs, Scenario, REGRESSION_SEEDS};

use std::panic::{catch_unwind, AssertUnwindSafe};
use zab_sim::{RunReport, World};

/// The line that replays a failing seed.
pub fn replay_line(seed: u64) -> String {
    format!("replay: cargo run -p zab-scenarios --bin zab-sim -- --seed {seed}")
}

/// How a seed ended.
#[derive(Debug)]
pub enum Outcome {
    /// The run finished; its report says whether any property failed.
    Finished(Box<RunReport>),
    /// The simulator or the node panicked (an assertion failed).
    Panicked {
        /// The seed.
        seed: u64,
        /// The panic message.
        message: String,
    },
}

impl Outcome {
    /// Whether every property held.
    pub fn is_ok(&self) -> bool {
        matches!(self, Outcome::Finished(report) if report.violations.is_empty())
    }

    /// The trace hash (0 for a panic).
    pub fn hash(&self) -> u64 {
        match self {
            Outcome::Finished(report) => report.hash,
            Outcome::Panicked { .. } => 0,
        }
    }

    /// Virtual time covered, ms.
    pub fn simulated_ms(&self) -> u64 {
        match self {
            Outcome::Finished(report) => report.stats.simulated_ms,
            Outcome::Panicked { .. } => 0,
        }
    }

    /// One line: seed, hash, counts.
    pub fn summary(&self) -> String {
        match self {
            Outcome::Finished(r) => format!(
                "seed {} ok servers={} hash={:016x} events={} ops={}/{} crashes={} torn={} snapshots={} expired={} zxid=0x{:x} lin_ops={} lin_unknown={} leaders={} truncs={} snaps={} rebuilds={} partitions={} recovery={}/{} quiet={}",
                r.seed,
                r.stats.servers,
                r.hash,
                r.stats.events,
                r.stats.ops_completed,
                r.stats.ops,
                r.stats.crashes,
                r.stats.torn_tails,
                r.stats.snapshots,
                r.stats.sessions_expired,
                r.stats.last_zxid,
                r.coverage.linearizable_ops,
                r.coverage.linearizable_unknown_paths,
                r.stats.leaders,
                r.stats.truncations,
                r.stats.snap_syncs,
                r.stats.rebuilds,
                r.stats.partitions,
                r.stats.recovery_leader_ms.map_or("-".into(), |ms| format!("{ms}ms")),
                r.stats.recovery_serving_ms.map_or("-".into(), |ms| format!("{ms}ms")),
                if r.stats.quiet_judged_clients { "all" } else { "servers" }
            ),
            Outcome::Panicked { seed, message } => format!("seed {seed} panicked: {message}"),
        }
    }

    /// The violations and the end of the trace.
    pub fn details(&self) -> String {
        match self {
            Outcome::Finished(report) => {
                let mut text = String::new();
                for violation in report.violations.iter().take(10) {
                    text.push_str(&format!("  {violation}\n"));
                }
                text.push_str("  last trace lines:\n");
                for line in &report.trace_tail {
                    text.push_str(&format!("    {line}\n"));
                }
                text
            }
            Outcome::Panicked { message, .. } => format!("  panic: {message}"),
        }
    }
}

/// Runs one swarm seed; a panic inside the node or the simulator becomes an outcome.
pub fn run_seed(seed: u64, print_trace: bool) -> Outcome {
    let result = catch_unwind(AssertUnwindSafe(|| World::swarm(seed, print_trace).run()));
    match result {
        Ok(report) => Outcome::Finished(Box::new(report)),
        Err(panic) => Outcome::Panicked { seed, message: panic_message(&panic) },
    }
}

/// Runs one named scenario; `Err` carries what failed.
pub fn run_scenario(name: &str, print_trace: bool) -> Result<(), String> {
    let scenario = catalogue()
        .into_iter()
        .chain(known_node_bugs().into_iter().map(|(scenario, _)| scenario))
        .find(|s| s.name == name)
        .ok_or(format!("no scenario named {name}"))?;
    let result = catch_unwind(AssertUnwindSafe(|| zab_sim::script::run(scenario.text, print_trace)));
    match result {
        Ok(result) => result,
        Err(panic) => Err(format!("panicked: {}", panic_message(&panic))),
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "non-string panic".into())
}
