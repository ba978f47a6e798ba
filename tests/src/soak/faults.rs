//! The chaos run's faults, one at a time on a serving ensemble, each measured from outside:
//! how long no write succeeded, and how long after the heal until every server served again.

use super::disk::SlowDisk;
use super::ensemble::Ensemble;
use super::load::Load;
use super::logs::{self, Marks};
use super::network::Network;
use super::observer::Observer;
use super::report::FaultReport;
use super::Clock;
use nix::sys::signal::Signal;
use std::time::{Duration, Instant};

/// A fault the chaos run can inject.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// kill -9 of the leader; restarted after the hold.
    KillLeader,
    /// kill -9 of a follower; restarted after the hold.
    KillFollower,
    /// SIGSTOP of the leader, SIGCONT after a hold shorter than the session timeout.
    StopLeader,
    /// The leader cut off from everyone (peers and clients).
    PartitionLeader,
    /// A follower cut off from everyone.
    PartitionFollower,
    /// The leader's disk limited to a few writes per second.
    SlowDiskLeader,
}

impl Fault {
    /// Every fault, in the order the long chaos run injects them.
    pub const ALL: &'static [Fault] = &[
        Fault::KillLeader,
        Fault::KillFollower,
        Fault::StopLeader,
        Fault::PartitionLeader,
        Fault::PartitionFollower,
        Fault::SlowDiskLeader,
    ];

    /// Its name on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Fault::KillLeader => "kill-leader",
            Fault::KillFollower => "kill-follower",
            Fault::StopLeader => "stop-leader",
            Fault::PartitionLeader => "partition-leader",
            Fault::PartitionFollower => "partition-follower",
            Fault::SlowDiskLeader => "slow-disk-leader",
        }
    }

    /// The fault of a name.
    pub fn parse(name: &str) -> Option<Fault> {
        Fault::ALL.iter().copied().find(|fault| fault.name() == name)
    }

    fn hits_leader(self) -> bool {
        matches!(self, Fault::KillLeader | Fault::StopLeader | Fault::PartitionLeader | Fault::SlowDiskLeader)
    }
}

/// How long faults last and how long recovery may take, derived from tickTime and the
/// session timeout.
#[derive(Clone, Debug)]
pub struct Timing {
    /// A killed server stays down this long.
    pub kill_hold: Duration,
    /// A stopped leader stays stopped this long (less than the session timeout).
    pub stop_hold: Duration,
    /// A partition lasts this long (longer than syncLimit, so an isolated leader is replaced).
    pub partition_hold: Duration,
    /// The slow disk lasts this long.
    pub slow_disk_hold: Duration,
    /// Writes per second the slow disk allows.
    pub slow_disk_write_iops: u32,
    /// Every server must serve again within this long after the heal.
    pub serving_bound: Duration,
    /// Load runs this long between a recovery and the next fault.
    pub settle: Duration,
}

impl Timing {
    /// How long `fault` stays in place.
    pub fn hold(&self, fault: Fault) -> Duration {
        match fault {
            Fault::KillLeader | Fault::KillFollower => self.kill_hold,
            Fault::StopLeader => self.stop_hold,
            Fault::PartitionLeader | Fault::PartitionFollower => self.partition_hold,
            Fault::SlowDiskLeader => self.slow_disk_hold,
        }
    }

    /// The timing for an ensemble with `tick_ms` and clients with `session_timeout`
    /// (syncLimit is 5 ticks, initLimit 10).
    pub fn new(tick_ms: u64, session_timeout: Duration) -> Timing {
        let tick = Duration::from_millis(tick_ms);
        Timing {
            kill_hold: (tick * 4).max(Duration::from_secs(3)),
            stop_hold: session_timeout / 3,
            partition_hold: tick * 10,
            slow_disk_hold: (tick * 10).max(Duration::from_secs(10)),
            slow_disk_write_iops: 10,
            // initLimit (10 ticks) for a sync, plus an election's worth, generously.
            serving_bound: tick * 20 + Duration::from_secs(10),
            settle: (tick * 2).max(Duration::from_secs(2)),
        }
    }
}

/// What a fault needs to reach.
pub struct Chaos<'a> {
    /// The servers.
    pub ensemble: &'a mut Ensemble,
    /// Their namespaces.
    pub network: &'a Network,
    /// Who serves.
    pub observer: &'a Observer,
    /// The load, for its timestamped events.
    pub load: &'a Load,
    /// The run's clock.
    pub clock: Clock,
    /// How long things take.
    pub timing: Timing,
}

impl Chaos<'_> {
    /// Waits for a serving ensemble, injects `fault`, heals it and measures.
    pub async fn run(&mut self, fault: Fault) -> Result<FaultReport, String> {
        let ids = self.ensemble.ids();
        if !wait_until(self.timing.serving_bound, || self.observer.all_serving(&ids)).await {
            return Err(format!("{}: the ensemble did not serve before the fault", fault.name()));
        }
        let leader = self.observer.leader().ok_or("no single leader")?;
        let target =
            if fault.hits_leader() { leader } else { *ids.iter().find(|id| **id != leader).expect("a follower") };
        let marks = Marks::now(self.ensemble);
        // A kill's effects (clients disconnected, followers LOOKING) come before kill returns;
        // a partition's only once nft has run. Events count from the first moment, windows
        // from the second, so no write answered before the fault took effect shortens them.
        let injected_us = self.clock.now_us();
        let active = self.inject(fault, target)?;
        let fault_us = self.clock.now_us();
        let mut report = FaultReport {
            fault,
            target,
            at_s: injected_us as f64 / 1e6,
            held_ms: 0,
            quorum_without_target_ms: None,
            write_unavailable_ms: None,
            serving_after_heal_ms: None,
            write_latency_max_ms: 0,
            errors: 0,
            disconnects: 0,
            elections: 0,
            link_events: 0,
            note: None,
            skipped: None,
        };
        if let Active::Skipped(reason) = active {
            report.skipped = Some(reason);
            return Ok(report);
        }
        let held = Instant::now();
        // While the fault holds: when do the other servers serve by themselves again?
        while held.elapsed() < self.timing.hold(fault) {
            if report.quorum_without_target_ms.is_none() && self.observer.quorum_serving_without(&ids, target) {
                report.quorum_without_target_ms = Some((self.clock.now_us() - fault_us) / 1000);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        report.note = self.heal(target, active)?;
        report.held_ms = held.elapsed().as_millis() as u64;
        let healed = Instant::now();
        if wait_until(self.timing.serving_bound * 2, || self.observer.all_serving(&ids)).await {
            report.serving_after_heal_ms = Some(healed.elapsed().as_millis() as u64);
        }
        let first_write = |us: u64| self.first_write_after(us);
        if wait_until(self.timing.serving_bound, || first_write(fault_us).is_some()).await {
            report.write_unavailable_ms = first_write(fault_us).map(|at_us| (at_us - fault_us) / 1000);
        }
        tokio::time::sleep(self.timing.settle).await;
        let end_us = self.clock.now_us();
        self.load.with_events(|events| {
            let within = |at: u64| at >= injected_us && at <= end_us;
            report.errors = events.errors.iter().filter(|(at, _)| within(*at)).count() as u64;
            report.disconnects = events.disconnects.iter().filter(|(at, _)| within(*at)).count() as u64;
            let latencies = events.writes.iter().filter(|(_, answered)| within(*answered));
            report.write_latency_max_ms = latencies.map(|(sent, answered)| (answered - sent) / 1000).max().unwrap_or(0);
        });
        report.elections = self.observer.leaders_since(injected_us).len();
        report.link_events = logs::count(&logs::lines_since(self.ensemble, &marks)).1.values().sum();
        Ok(report)
    }

    /// The answer time of the first acknowledged write sent at or after `since_us`.
    fn first_write_after(&self, since_us: u64) -> Option<u64> {
        self.load.with_events(|events| {
            events.writes.iter().filter(|(invoked, _)| *invoked >= since_us).map(|(_, answered)| *answered).min()
        })
    }

    fn inject(&mut self, fault: Fault, target: u8) -> Result<Active, String> {
        match fault {
            Fault::KillLeader | Fault::KillFollower => self.ensemble.kill(target).map(|()| Active::Killed),
            Fault::StopLeader => self.ensemble.signal(target, Signal::SIGSTOP).map(|()| Active::Stopped),
            Fault::PartitionLeader | Fault::PartitionFollower => {
                self.network.isolate(target).map(|()| Active::Isolated)
            }
            Fault::SlowDiskLeader => {
                let pid = self.ensemble.pid(target).ok_or("the leader is not running")?;
                let name = format!("zab-soak-{}-{target}", std::process::id());
                let iops = self.timing.slow_disk_write_iops;
                // A machine without a block-I/O controller cannot slow a disk: say so, go on.
                Ok(match SlowDisk::apply(pid, &self.ensemble.data_dir(target), iops, &name) {
                    Ok(slow) => Active::Slow(slow),
                    Err(reason) => Active::Skipped(reason),
                })
            }
        }
    }

    /// Ends the fault; returns a note on what it did, if there is one to tell.
    fn heal(&mut self, target: u8, active: Active) -> Result<Option<String>, String> {
        match active {
            Active::Killed => self.ensemble.start_member(target).map(|()| None),
            Active::Stopped => self.ensemble.signal(target, Signal::SIGCONT).map(|()| None),
            Active::Isolated => self.network.heal(target).map(|()| None),
            Active::Slow(mut slow) => {
                let writes = slow.writes_done();
                slow.remove()?;
                Ok(Some(match writes {
                    Some(writes) => format!("{writes} disk writes at most {}/s", self.timing.slow_disk_write_iops),
                    None => "the cgroup did not count disk writes".to_string(),
                }))
            }
            Active::Skipped(_) => Ok(None),
        }
    }
}

/// A fault in place, and what healing it needs.
enum Active {
    Killed,
    Stopped,
    Isolated,
    Slow(SlowDisk),
    Skipped(String),
}

/// Polls `condition` every 50 ms until it holds (true) or `timeout` passes (false).
pub async fn wait_until(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
