//! A test network of [`Election`]s: FIFO channels per ordered pair (TCP, as `QuorumCnxManager`
//! uses), virtual time, crashes and drops. Shared by the transcripts and the randomized test.

use super::{Election, ElectionConfig, ElectionOutput, Notification, ServerState, Vote};
use crate::ids::{Epoch, Millis, ServerId, Zxid};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt::Write;

/// Most steps one `deliver_all` or `advance` may take before the test calls it a livelock.
pub const STEPS_MAX: usize = 100_000;

/// A message on the wire, due at `deliver_at`.
#[derive(Clone, Debug)]
pub struct InFlight {
    pub deliver_at: Millis,
    /// Send order across the whole network, to break ties between equal `deliver_at`s.
    pub seq: u64,
    pub notification: Notification,
}

/// A decision, with what the test needs to judge it.
#[derive(Clone, Debug)]
pub struct Decision {
    pub at: Millis,
    pub server: ServerId,
    pub leader: ServerId,
    pub my_state: ServerState,
    pub vote: Vote,
    pub supporters: BTreeSet<ServerId>,
    /// For each supporter (other than the decider), every notification it had delivered to the
    /// decider before the decision: what the decider may have counted.
    pub heard: BTreeMap<ServerId, Vec<Notification>>,
}

pub struct Server {
    pub election: Election,
    pub up: bool,
    /// The history the server started its latest round with: (currentEpoch, last zxid).
    pub history: Option<(Epoch, Zxid)>,
}

pub struct Cluster {
    pub now: Millis,
    pub servers: BTreeMap<ServerId, Server>,
    pub channels: BTreeMap<(ServerId, ServerId), VecDeque<InFlight>>,
    /// Every notification delivered on each channel, in order.
    pub delivered: BTreeMap<(ServerId, ServerId), Vec<Notification>>,
    pub decisions: Vec<Decision>,
    /// Human-readable record of every output, for transcripts.
    pub trace: String,
    /// Whether to record outputs in `trace`.
    pub tracing: bool,
    next_seq: u64,
}

impl Cluster {
    /// `voters` voters (ids 1..) and `observers` observers after them; server `i` is seeded
    /// with `seed + i`.
    pub fn new(voters: u64, observers: u64, seed: u64, jitter_ms_max: u64) -> Cluster {
        let voter_ids: BTreeSet<ServerId> = (1..=voters).map(ServerId).collect();
        let observer_ids: BTreeSet<ServerId> = (voters + 1..=voters + observers).map(ServerId).collect();
        let mut servers = BTreeMap::new();
        for id in voter_ids.iter().chain(observer_ids.iter()) {
            let mut config = ElectionConfig::new(*id, voter_ids.clone(), observer_ids.clone());
            config.timeout_jitter_ms_max = jitter_ms_max;
            let election = Election::new(config, seed.wrapping_add(id.0));
            servers.insert(*id, Server { election, up: true, history: None });
        }
        Cluster {
            now: Millis(0),
            servers,
            channels: BTreeMap::new(),
            delivered: BTreeMap::new(),
            decisions: Vec::new(),
            trace: String::new(),
            tracing: false,
            next_seq: 0,
        }
    }

    pub fn start(
        &mut self,
        id: ServerId,
        last_zxid: Zxid,
        current_epoch: Epoch,
        delay: &mut dyn FnMut() -> Option<u64>,
    ) {
        let now = self.now;
        let server = self.servers.get_mut(&id).expect("known server");
        server.up = true;
        server.history = Some((current_epoch, last_zxid));
        server.election.start(now, last_zxid, current_epoch);
        self.collect(id, delay);
    }

    /// Delivers the oldest message on `from -> to`; returns whether there was one.
    pub fn deliver(&mut self, from: ServerId, to: ServerId, delay: &mut dyn FnMut() -> Option<u64>) -> bool {
        let Some(message) = self.channels.get_mut(&(from, to)).and_then(|queue| queue.pop_front()) else {
            return false;
        };
        if self.tracing {
            writeln!(self.trace, "  deliver {}->{}: {}", from.0, to.0, message.notification).unwrap();
        }
        self.delivered.entry((from, to)).or_default().push(message.notification);
        let now = self.now;
        let server = self.servers.get_mut(&to).expect("known server");
        server.election.handle_notification(now, from, message.notification);
        self.collect(to, delay);
        true
    }

    /// Fires `id`'s timeout if it is due.
    pub fn fire_timeout(&mut self, id: ServerId, delay: &mut dyn FnMut() -> Option<u64>) {
        let now = self.now;
        let server = self.servers.get_mut(&id).expect("known server");
        if server.up && server.election.poll_timeout().is_some_and(|at| at <= now) {
            if self.tracing {
                writeln!(self.trace, "  timeout {}", id.0).unwrap();
            }
            server.election.handle_timeout(now);
            self.collect(id, delay);
        }
    }

    /// The earliest timer of any running server.
    pub fn next_timeout(&self) -> Option<(Millis, ServerId)> {
        self.servers
            .iter()
            .filter(|(_, server)| server.up)
            .filter_map(|(id, server)| server.election.poll_timeout().map(|at| (at, *id)))
            .min()
    }

    /// The earliest due message, first sent first: (due time, from, to). Messages to a server
    /// that has not booted wait, as `QuorumCnxManager` keeps them queued until it can connect.
    pub fn next_message(&self) -> Option<(Millis, ServerId, ServerId)> {
        self.channels
            .iter()
            .filter(|((_, to), _)| self.servers[to].history.is_some())
            .filter_map(|(&(from, to), queue)| queue.front().map(|message| (message.deliver_at, message.seq, from, to)))
            .min()
            .map(|(at, _, from, to)| (at, from, to))
    }

    /// Crashes `id`: it stops, and everything to or from it is lost.
    pub fn crash(&mut self, id: ServerId) {
        self.servers.get_mut(&id).expect("known server").up = false;
        self.channels.retain(|&(from, to), _| from != id && to != id);
    }

    /// Drains `id`'s outputs onto the channels; `delay` gives each send its latency or `None`
    /// to drop it. Checks the election's invariants, as the simulator does.
    fn collect(&mut self, id: ServerId, delay: &mut dyn FnMut() -> Option<u64>) {
        let now = self.now;
        let server = self.servers.get_mut(&id).expect("known server");
        server.election.check_invariants();
        let mut outputs = Vec::new();
        while let Some(output) = server.election.poll_output() {
            outputs.push(output);
        }
        for output in outputs {
            match output {
                ElectionOutput::Send { to, notification } => {
                    if self.tracing {
                        writeln!(self.trace, "  {} -> {}: {}", id.0, to.0, notification).unwrap();
                    }
                    let up = self.servers.get(&to).is_some_and(|server| server.up);
                    let Some(latency) = delay() else { continue };
                    if !up {
                        continue;
                    }
                    let queue = self.channels.entry((id, to)).or_default();
                    // TCP keeps order: nothing overtakes what was sent before it.
                    let earliest = queue.back().map_or(Millis(0), |last| last.deliver_at);
                    queue.push_back(InFlight {
                        deliver_at: now.plus(latency).max(earliest),
                        seq: self.next_seq,
                        notification,
                    });
                    self.next_seq += 1;
                }
                ElectionOutput::Decided { leader, my_state, vote, supporters } => {
                    if self.tracing {
                        let ids: Vec<String> = supporters.iter().map(|id| id.0.to_string()).collect();
                        writeln!(
                            self.trace,
                            "  {} decided {} {} supporters=[{}]",
                            id.0,
                            my_state.name(),
                            vote,
                            ids.join(",")
                        )
                        .unwrap();
                    }
                    let heard = supporters
                        .iter()
                        .filter(|supporter| **supporter != id)
                        .map(|supporter| {
                            (*supporter, self.delivered.get(&(*supporter, id)).cloned().unwrap_or_default())
                        })
                        .collect();
                    self.decisions.push(Decision { at: now, server: id, leader, my_state, vote, supporters, heard });
                }
            }
        }
    }
}
