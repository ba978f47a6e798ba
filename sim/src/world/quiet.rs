//! The end of a swarm run: recovery after the heal, then a quiet phase in which the ensemble
//! must simply keep serving ([`crate::checker::availability`]).
//!
//! ```text
//!  safety (faults) ── heal ── liveness ── quiet_from ───── quiet ───── end
//!                      │  leader within RECOVERY_LEADER_MS_MAX
//!                      │  then every member serving within RECOVERY_SYNC_MS_MAX
//! ```
//!
//! Recovery is judged by [`crate::checker::recovery`] (shared with tier 2) over the servers'
//! states: one sample each at the heal, then one at every change.
//!
//! The quiet phase lasts three times the longest timeout a healthy ensemble runs (initLimit
//! and syncLimit ticks, the session timeout, the peer-link handshake deadlines, the client's
//! own handshake and read timeouts; the election's notification timer does not run once a
//! leader is established). Clients keep their workload. The bounds are stated here, derived
//! from the options, and every one of them is checked.

use super::{Event, Phase, World};
use crate::checker::availability::{self, QuietWindow, ServerEvent};
use crate::checker::recovery::{self, Recovery, Sample};
use crate::checker::Violation;
use crate::options::Options;
use zab_core::node::ReplicaState;

/// After the heal, a leader must be established within this long. A link to a crashed or
/// cut-off peer comes back only once both ends noticed its death, which takes up to 10 s
/// ([`crate::peers::PeerNetwork::notice_delay`]); restarts at the heal take a few ms; an
/// election then needs a round of notifications and `finalizeWait` (200 ms) and a leader
/// initLimit ticks at most to gather a synced quorum. The notification timer of a server
/// that was LOOKING alone for long may have doubled up to seconds, but any notification
/// from a peer that comes back wakes it.
pub const RECOVERY_LEADER_MS_MAX: u64 = 25_000;

/// Once a leader is established after the heal, every member (all are restarted at the
/// heal) must serve within this long: its own notice of dead links (up to 10 s), an
/// election round of its own and initLimit ticks to sync.
pub const RECOVERY_SYNC_MS_MAX: u64 = 25_000;

/// Ticks a request may wait in the quiet phase on top of its messages and fsyncs: a `sync`
/// waits for the next PING round (sent every half tick) to come back from a quorum.
pub const QUIET_ANSWER_TICKS_MAX: u64 = 2;

/// Message hops on the longest request path: client → follower → leader (forward), leader
/// → follower (proposal), follower → leader (ACK), leader → follower (commit), follower →
/// client, plus a reply waiting behind one more write of the same session.
const WRITE_PATH_HOPS: u64 = 8;

const _: () = assert!(RECOVERY_LEADER_MS_MAX + RECOVERY_SYNC_MS_MAX > 10_000);

impl Options {
    /// The longest timeout a healthy ensemble and its clients run, ms.
    pub fn longest_healthy_timeout_ms(&self) -> u64 {
        let tick = self.tick_time_ms;
        let config = zab_core::node::Config::standalone(tick);
        [
            config.quorum_first_packet_timeout_ms(),
            config.sync_limit * tick,
            config.election_handshake_timeout_ms(),
            self.session_timeout_ms.max(1000) as u64,
        ]
        .into_iter()
        .max()
        .expect("not empty")
    }

    /// The quiet phase's length: three times the longest healthy timeout.
    pub fn quiet_ms(&self) -> u64 {
        3 * self.longest_healthy_timeout_ms()
    }

    /// The bound on every answer in the quiet phase, ms: [`QUIET_ANSWER_TICKS_MAX`] ticks
    /// plus what the drawn network and disk need for the longest path with two fsyncs. Their
    /// latencies are exponential: a sum over the path stays within four means but for odds
    /// far below one in a billion.
    pub fn quiet_answer_ms_max(&self) -> u64 {
        let hop = self.latency_ms_min + 4 * self.latency_ms_mean;
        let fsync = self.fsync_ms_min + 4 * self.fsync_ms_mean;
        QUIET_ANSWER_TICKS_MAX * self.tick_time_ms + WRITE_PATH_HOPS * hop + 2 * fsync
    }

    /// Whether the clients' side of the quiet phase is judged: only when a client waits at
    /// least the answer bound before it gives a silent server up (ZooKeeper's client read
    /// timeout, two thirds of the session timeout). A session timeout shorter than the
    /// network allows makes any ZooKeeper drop connections; that is the configuration's
    /// fault, not the server's, and such runs are judged on the servers' side only.
    pub fn quiet_judges_clients(&self) -> bool {
        let read_timeout_ms = 2 * (self.session_timeout_ms.max(300) as u64) / 3;
        read_timeout_ms >= self.quiet_answer_ms_max()
    }
}

/// What the world tracks for the end of the run.
#[derive(Clone, Debug, Default)]
pub(super) struct EndOfRun {
    /// The quiet window (swarm runs only).
    pub(super) window: Option<QuietWindow>,
    /// Every server's state at the heal and at each change after it.
    pub(super) samples: Vec<Sample>,
    /// What servers did that a healthy ensemble does not, from the heal on.
    pub(super) events: Vec<(u64, usize, ServerEvent)>,
    /// Entries into LOOKING of a running server (not its first election after a start).
    pub(super) elections_started: u64,
}

/// Per-server memory of the last observed state, to see transitions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Observed {
    pub(super) looking: bool,
    pub(super) serving: bool,
    pub(super) leading: bool,
}

impl Observed {
    /// A node that just started (or restarted): LOOKING, not serving, and neither counts as
    /// an event (the crash before it was the fault).
    pub(super) fn fresh() -> Observed {
        Observed { looking: true, serving: false, leading: false }
    }
}

impl World {
    /// Schedules the quiet phase after the liveness phase of a swarm run.
    pub(super) fn schedule_quiet_phase(&mut self) {
        let from_ms = self.heal_at + self.options.liveness_ms_max;
        let to_ms = from_ms + self.options.quiet_ms();
        let window = QuietWindow { from_ms, to_ms, answer_bound_ms: self.options.quiet_answer_ms_max() };
        self.end.window = Some(window);
        self.queue.schedule(from_ms, Event::Quiet);
        self.queue.schedule(to_ms, Event::End);
    }

    pub(super) fn begin_quiet(&mut self) {
        self.phase = Phase::Quiet;
        let not_serving: Vec<usize> = (0..self.servers.len())
            .filter(|&i| !self.servers[i].node.as_ref().is_some_and(|n| n.is_serving()))
            .collect();
        self.trace(format!("QUIET: no faults, nothing may go wrong (not serving now: {not_serving:?})"));
        for server in not_serving {
            self.server_event(server, ServerEvent::StoppedServing);
        }
    }

    /// The recovery check's first samples: every running server's state at the heal.
    pub(super) fn sample_servers_at_heal(&mut self) {
        let at_ms = self.queue.now();
        for (server, s) in self.servers.iter().enumerate().filter(|(_, s)| s.node.is_some()) {
            let Observed { serving, leading, .. } = s.observed;
            self.end.samples.push(Sample { at_ms, server, serving, leading });
        }
    }

    /// Records what a server did (from the heal on: before it, faults excuse everything).
    pub(super) fn server_event(&mut self, server: usize, event: ServerEvent) {
        if self.phase != Phase::Safety {
            self.end.events.push((self.queue.now(), server, event));
        }
    }

    /// After every input of `server`: its transitions, and from the heal on its samples.
    pub(super) fn observe_server(&mut self, server: usize) {
        if !self.is_ensemble() {
            return;
        }
        let Some(node) = self.servers[server].node.as_ref() else { return };
        let state = node.replica_state();
        let leading = matches!(state, ReplicaState::Leading { established: true, .. });
        let observed = Observed { looking: state == ReplicaState::Looking, serving: node.is_serving(), leading };
        let before = std::mem::replace(&mut self.servers[server].observed, observed);
        let Observed { looking, serving, .. } = observed;
        if looking && !before.looking {
            self.end.elections_started += 1;
            self.trace(format!("n{server} starts an election"));
            self.server_event(server, ServerEvent::ElectionStarted);
        }
        if before.serving && !serving {
            self.server_event(server, ServerEvent::StoppedServing);
        }
        if self.phase == Phase::Safety {
            return;
        }
        if before != observed {
            self.end.samples.push(Sample { at_ms: self.queue.now(), server, serving, leading });
        }
    }

    /// How many times a running server left its role and started electing.
    pub fn elections_started(&self) -> u64 {
        self.end.elections_started
    }

    /// The recovery and quiet-phase verdicts.
    pub(super) fn end_of_run_checks(&mut self) -> Vec<Violation> {
        let Some(window) = self.end.window else { return Vec::new() };
        let mut found = Vec::new();
        if self.options.quiet_judges_clients() {
            found.extend(availability::check_clients(&self.history, &window));
        }
        found.extend(availability::check_servers(&self.end.events, &window));
        self.stats.quiet_judged_clients = self.options.quiet_judges_clients();
        if self.is_ensemble() {
            let bounds = Recovery {
                heal_ms: self.heal_at,
                leader_ms_max: RECOVERY_LEADER_MS_MAX,
                sync_ms_max: RECOVERY_SYNC_MS_MAX,
            };
            let live: Vec<usize> = (0..self.servers.len()).collect();
            found.extend(recovery::check(&self.end.samples, &live, &bounds));
        }
        // For the summary line: from the heal to the first leader, and to the last member's
        // first moment of service.
        let samples = &self.end.samples;
        self.stats.recovery_leader_ms = samples.iter().find(|s| s.leading).map(|s| s.at_ms - self.heal_at);
        let first_serving = |server: usize| samples.iter().find(|s| s.server == server && s.serving).map(|s| s.at_ms);
        let all_serving: Option<Vec<u64>> = (0..self.servers.len()).map(first_serving).collect();
        self.stats.recovery_serving_ms = all_serving.and_then(|at| at.into_iter().max()).map(|at| at - self.heal_at);
        found
    }
}
