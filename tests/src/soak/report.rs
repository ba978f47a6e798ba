//! What a soak found: a struct to assert on, printed as a table.

use super::faults::Fault;
use std::collections::BTreeMap;
use std::fmt;

/// One phase of steady load: the quiet run, or the whole chaos run.
#[derive(Clone, Debug, Default)]
pub struct PhaseReport {
    /// "quiet" or "chaos".
    pub name: String,
    /// Length, s.
    pub seconds: f64,
    /// Successful reads and writes.
    pub reads: u64,
    /// Successful writes.
    pub writes: u64,
    /// Failed requests by error name.
    pub errors: BTreeMap<String, u64>,
    /// Client connection drops (session state Disconnected).
    pub disconnects: u64,
    /// Sessions expired.
    pub expirations: u64,
    /// Leaders (id, epoch) first seen in this phase, by polling `srvr`.
    pub elections: usize,
    /// Times a server stopped answering `srvr` as leader or follower.
    pub serving_lost: u64,
    /// "replica state" lines the servers logged (each is a role change).
    pub replica_state_lines: u64,
    /// Peer-link lines the servers logged, by pattern.
    pub link_events: BTreeMap<String, u64>,
    /// Latency percentiles of successful requests, µs.
    pub p50_us: u64,
    /// 99th percentile, µs.
    pub p99_us: u64,
    /// 99.9th percentile, µs.
    pub p999_us: u64,
    /// Slowest, µs.
    pub max_us: u64,
    /// The first log lines about roles and links logged in the phase, for the reader.
    pub log_excerpt: Vec<String>,
}

impl PhaseReport {
    /// Failed requests of all kinds.
    pub fn request_errors(&self) -> u64 {
        self.errors.values().sum()
    }

    /// Peer links that went down or were made anew (once the ensemble formed, each new link
    /// means an old one dropped).
    pub fn peer_link_drops(&self) -> u64 {
        self.link_events.values().sum()
    }
}

/// One injected fault.
#[derive(Clone, Debug)]
pub struct FaultReport {
    /// What.
    pub fault: Fault,
    /// The server it hit.
    pub target: u8,
    /// When it was injected, s since the start of the run (errors and disconnects count from
    /// here; the windows below from when it was in place, a few ms later for nft or a cgroup).
    pub at_s: f64,
    /// How long it lasted before it was healed (restart, SIGCONT, link back, disk fast), ms.
    pub held_ms: u64,
    /// From the fault until the other servers served by themselves (one leads, a quorum with
    /// it), as `srvr` showed it, ms: the servers' side of the window. `None`: not while the
    /// fault held.
    pub quorum_without_target_ms: Option<u64>,
    /// From the fault to the first acknowledged write sent after it, ms; `None` if none came
    /// within the bound. The clients' side: it adds their reconnecting (a client may spend its
    /// connection timeout on a stopped or cut-off server before it tries the next).
    pub write_unavailable_ms: Option<u64>,
    /// From the heal until every server served again (one leader, the rest followers), ms.
    pub serving_after_heal_ms: Option<u64>,
    /// The slowest acknowledged write answered from the fault until the end of its window, ms.
    pub write_latency_max_ms: u64,
    /// Failed requests from the fault until the ensemble served again.
    pub errors: u64,
    /// Client disconnects in that window.
    pub disconnects: u64,
    /// Leaders elected in that window.
    pub elections: usize,
    /// Peer-link log lines in that window.
    pub link_events: u64,
    /// What the fault did, where that is worth saying (the slow disk's write count).
    pub note: Option<String>,
    /// Why the fault could not be injected, if it could not.
    pub skipped: Option<String>,
}

/// The read-back of every acknowledged write.
#[derive(Clone, Debug, Default)]
pub struct Verification {
    /// Servers asked.
    pub servers_checked: usize,
    /// Acknowledged creates looked for (per server).
    pub creates_checked: u64,
    /// Of those, missing.
    pub creates_lost: u64,
    /// Own keys read (per server).
    pub values_checked: u64,
    /// Keys older than their last acknowledged value.
    pub values_lost: u64,
    /// Keys holding a value no client sent.
    pub values_invented: u64,
    /// The first few of each.
    pub examples: Vec<String>,
}

/// Everything a soak found.
#[derive(Clone, Debug, Default)]
pub struct SoakReport {
    /// The quiet run, if there was one.
    pub quiet: Option<PhaseReport>,
    /// The chaos run as a whole, if there was one.
    pub chaos: Option<PhaseReport>,
    /// Each fault of the chaos run.
    pub faults: Vec<FaultReport>,
    /// The bound every server must serve again within after a heal, ms.
    pub serving_bound_ms: u64,
    /// Lost acknowledged writes.
    pub verification: Verification,
    /// Register operations judged by the simulator's linearizability checker.
    pub linearizable_ops: usize,
    /// Registers whose search ran out of budget.
    pub linearizable_unknown_paths: usize,
    /// What it found.
    pub linearizable_violations: Vec<String>,
    /// Servers that exited without being killed, with their status.
    pub crashed: Vec<String>,
}

impl SoakReport {
    /// What the quiet run must not show: any election, link drop, disconnect or error.
    pub fn quiet_failures(&self) -> Vec<String> {
        let Some(quiet) = &self.quiet else { return Vec::new() };
        let mut failures = Vec::new();
        let mut check = |count: u64, what: &str| {
            if count > 0 {
                failures.push(format!("quiet run: {count} {what}"));
            }
        };
        check(quiet.elections as u64, "elections after the first (leader/epoch changes seen by srvr)");
        check(quiet.serving_lost, "times a server stopped serving");
        check(quiet.replica_state_lines, "\"replica state\" log lines (role changes)");
        check(quiet.peer_link_drops(), "peer-link log lines (links dropped or made anew)");
        check(quiet.disconnects, "client disconnects");
        check(quiet.expirations, "session expirations");
        check(quiet.request_errors(), "request errors");
        failures
    }

    /// What the chaos run must not show: a fault the ensemble did not recover from in time.
    pub fn chaos_failures(&self) -> Vec<String> {
        let mut failures = Vec::new();
        for fault in self.faults.iter().filter(|fault| fault.skipped.is_none()) {
            let name = fault.fault.name();
            match fault.serving_after_heal_ms {
                Some(ms) if ms <= self.serving_bound_ms => {}
                Some(ms) => failures.push(format!("{name}: all servers served again only {ms} ms after the heal")),
                None => failures.push(format!("{name}: the servers did not all serve again after the heal")),
            }
            if fault.write_unavailable_ms.is_none() {
                failures.push(format!("{name}: no write succeeded after the fault"));
            }
        }
        failures
    }

    /// Every failure: quiet, chaos, lost writes, linearizability, crashes.
    pub fn failures(&self) -> Vec<String> {
        let mut failures = self.quiet_failures();
        failures.extend(self.chaos_failures());
        let v = &self.verification;
        if v.creates_lost + v.values_lost + v.values_invented > 0 {
            failures.push(format!(
                "lost writes: {} acknowledged creates missing, {} keys older than acknowledged, {} keys invented",
                v.creates_lost, v.values_lost, v.values_invented
            ));
        }
        if v.servers_checked == 0 {
            failures.push("no server was asked to read back the acknowledged writes".to_string());
        }
        failures.extend(self.linearizable_violations.iter().map(|v| format!("linearizability: {v}")));
        failures.extend(self.crashed.iter().map(|c| format!("crashed: {c}")));
        failures
    }
}

impl fmt::Display for SoakReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for phase in self.quiet.iter().chain(self.chaos.iter()) {
            write_phase(f, phase)?;
        }
        if !self.faults.is_empty() {
            writeln!(
                f,
                "faults (quorum: until the others serve by themselves; no-write: until a write sent after \
                 the fault is acknowledged; serving: from the heal until all serve, bound {} ms):",
                self.serving_bound_ms
            )?;
            writeln!(
                f,
                "  {:<20} {:>6} {:>8} {:>8} {:>10} {:>12} {:>11} {:>13} {:>7} {:>7} {:>9} {:>6}",
                "fault",
                "server",
                "at s",
                "held ms",
                "quorum ms",
                "no-write ms",
                "serving ms",
                "max write ms",
                "errors",
                "discon",
                "elections",
                "links"
            )?;
            for fault in &self.faults {
                write_fault(f, fault)?;
            }
        }
        let v = &self.verification;
        writeln!(
            f,
            "acknowledged writes read back from {} servers: {} creates ({} lost), {} keys ({} lost, {} invented)",
            v.servers_checked, v.creates_checked, v.creates_lost, v.values_checked, v.values_lost, v.values_invented
        )?;
        for example in &v.examples {
            writeln!(f, "  {example}")?;
        }
        writeln!(
            f,
            "linearizability (simulator's checker, shared registers): {} ops, {} registers unknown, {} violations",
            self.linearizable_ops,
            self.linearizable_unknown_paths,
            self.linearizable_violations.len()
        )?;
        for crash in &self.crashed {
            writeln!(f, "crashed: {crash}")?;
        }
        Ok(())
    }
}

fn write_phase(f: &mut fmt::Formatter<'_>, phase: &PhaseReport) -> fmt::Result {
    let ms = |us: u64| us as f64 / 1000.0;
    writeln!(f, "{} run: {:.0} s", phase.name, phase.seconds)?;
    let rate = (phase.reads + phase.writes) as f64 / phase.seconds.max(0.001);
    writeln!(f, "  requests ok        {} reads, {} writes ({rate:.0}/s)", phase.reads, phase.writes)?;
    writeln!(
        f,
        "  latency ms         p50 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2}",
        ms(phase.p50_us),
        ms(phase.p99_us),
        ms(phase.p999_us),
        ms(phase.max_us)
    )?;
    writeln!(f, "  elections          {} (leaders first seen in this phase)", phase.elections)?;
    writeln!(f, "  serving lost       {}", phase.serving_lost)?;
    writeln!(f, "  replica state logs {}", phase.replica_state_lines)?;
    writeln!(f, "  peer-link drops    {} {:?}", phase.peer_link_drops(), phase.link_events)?;
    writeln!(f, "  client disconnects {}   expirations {}", phase.disconnects, phase.expirations)?;
    writeln!(f, "  request errors     {} {:?}", phase.request_errors(), phase.errors)?;
    for line in &phase.log_excerpt {
        writeln!(f, "    | {line}")?;
    }
    Ok(())
}

fn write_fault(f: &mut fmt::Formatter<'_>, fault: &FaultReport) -> fmt::Result {
    if let Some(reason) = &fault.skipped {
        return writeln!(f, "  {:<20} skipped: {reason}", fault.fault.name());
    }
    let or_none = |value: Option<u64>| value.map_or("never".to_string(), |v| v.to_string());
    // A slow disk leaves its server in the quorum: the others never need to serve alone.
    let quorum = match fault.fault {
        Fault::SlowDiskLeader => "-".to_string(),
        _ => or_none(fault.quorum_without_target_ms),
    };
    writeln!(
        f,
        "  {:<20} {:>6} {:>8.1} {:>8} {:>10} {:>12} {:>11} {:>13} {:>7} {:>7} {:>9} {:>6}{}",
        fault.fault.name(),
        fault.target,
        fault.at_s,
        fault.held_ms,
        quorum,
        or_none(fault.write_unavailable_ms),
        or_none(fault.serving_after_heal_ms),
        fault.write_latency_max_ms,
        fault.errors,
        fault.disconnects,
        fault.elections,
        fault.link_events,
        fault.note.as_ref().map_or(String::new(), |note| format!("  ({note})"))
    )
}
