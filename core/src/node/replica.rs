//! What every replica of an ensemble shares, whatever its role: the role itself, the log as
//! this node knows it, durable work awaiting `handle_persisted`, the election, going LOOKING.

use super::types::{After, Durable, Effect, Origin, Pending};
use super::{Config, Node, Output};
// `pub`: the role lived here before, and `stats.rs` of branches in flight reaches it as
// `replica::Role`; only a plain `use` after merge.
pub(super) use super::Role;
use crate::constants::HELD_QUORUM_MESSAGES_MAX;
use crate::election::{Election, ElectionConfig, ElectionOutput, ServerState};
use crate::ids::{Millis, PersistToken, ServerId, Zxid};
use crate::wire::quorum::QuorumMessage;
use crate::zab::PeerRole;
use std::collections::BTreeSet;

impl Node {
    /// Halted, or about to be: after a TRUNC below the tree only the disk's answers matter.
    pub(super) fn is_frozen(&self) -> bool {
        self.role.is_halted() || self.log.restart_pending
    }
}

/// The election of server `config.server_id` among `config.peers`.
pub(super) fn new_election(config: &Config, seed: u64) -> Election {
    let voters: BTreeSet<_> = crate::zab::voters(&config.peers).into_iter().collect();
    let observers = config.peers.iter().filter(|(_, r)| **r == PeerRole::Observer).map(|(id, _)| *id).collect();
    Election::new(ElectionConfig::new(config.server_id, voters, observers), seed ^ 0x5eed_e1ec)
}

impl Node {
    /// Queues durable work and emits its output.
    pub(super) fn push_durable(&mut self, make: impl FnOnce(PersistToken) -> Output, effect: Effect, then: Vec<After>) {
        let token = self.next_token();
        self.outputs.push_back(make(token));
        let then = then.into_iter().map(|after| (self.generation, after)).collect();
        self.persisting.push_back((token, Durable { effect, then }));
    }

    /// Runs `after` once everything handed to the driver so far is durable: now if nothing is
    /// in flight, else after the newest durable work.
    pub(super) fn after_all_durable(&mut self, now: Millis, after: After) {
        match self.persisting.back_mut() {
            Some((_, durable)) => durable.then.push((self.generation, after)),
            None => self.run_after(now, after),
        }
    }

    pub(super) fn on_persisted(&mut self, now: Millis, durable: Durable) {
        match durable.effect {
            Effect::Standalone(batch) => {
                for pending in batch {
                    self.on_applied(now, pending);
                }
            }
            Effect::Logged(zxid) => self.log.persisted = self.log.persisted.max(zxid),
            Effect::Truncated(zxid) => {
                self.log.persisted = self.log.persisted.min(zxid);
                if self.tree.last_zxid() > zxid {
                    self.restart_from_disk();
                    return;
                }
            }
            Effect::Snapshot(zxid) => self.log.persisted = zxid,
            Effect::Epoch => {}
        }
        for (generation, after) in durable.then {
            if generation == self.generation {
                self.run_after(now, after);
            }
        }
        if self.config.is_ensemble() {
            self.apply_committed(now);
        }
    }

    fn run_after(&mut self, now: Millis, after: After) {
        match after {
            After::Learner(step) => self.learner_on_durable(now, step),
            After::LeaderInfo => self.leader_epoch_accepted(now),
            After::LeaderCurrentEpoch => self.leader_epoch_current(now),
            After::LeaderLogged(zxid) => self.leader_logged(now, zxid),
        }
    }

    fn restart_from_disk(&mut self) {
        self.close_role_links();
        self.close_all_connections();
        self.role = Role::Halted;
        self.outputs.push_back(Output::Restart);
    }

    /// Applies logged transactions that are durable here and known committed, in zxid order;
    /// then answers `sync`s that were waiting for them.
    pub(super) fn apply_committed(&mut self, now: Millis) {
        let upto = self.log.committed.min(self.log.persisted);
        while self.log.unapplied.front().is_some_and(|t| t.header.zxid <= upto) {
            let txn = self.log.unapplied.pop_front().expect("checked");
            let origin = match &mut self.role {
                Role::Learning(learning) => {
                    learning.forwarded.remove(&(txn.header.client_id, txn.header.cxid)).unwrap_or(Origin::Internal)
                }
                _ => Origin::Internal,
            };
            self.on_applied(now, Pending { txn, origin, prepared_at: now });
        }
        self.learner_answer_syncs(now);
    }

    /// Whether clients are served: standalone, an established leader, an up-to-date learner.
    pub(super) fn serving(&self) -> bool {
        match &self.role {
            Role::Standalone => true,
            Role::Leading(leader) => leader.established(),
            Role::Learning(learning) => learning.learner.up_to_date(),
            Role::Looking | Role::Halted => false,
        }
    }

    /// Whether this node expires sessions and sweeps containers.
    pub(super) fn owns_sessions(&self) -> bool {
        match &self.role {
            Role::Standalone => true,
            Role::Leading(leader) => leader.established(),
            _ => false,
        }
    }

    pub(super) fn is_learner(&self) -> bool {
        matches!(self.role, Role::Learning(_))
    }

    /// Stops whatever role this was and elects again. Client connections are closed (a
    /// server that is not serving refuses clients, as ZooKeeper does); nothing prepared and
    /// not yet handed to the driver survives.
    pub(super) fn become_looking(&mut self, now: Millis) {
        if matches!(self.role, Role::Looking) {
            return;
        }
        tracing::info!(server = self.config.server_id.0, "LOOKING");
        self.change_role(Role::Looking);
        let election = self.election.as_mut().expect("ensemble has an election");
        election.start(now, self.log.logged, self.epoch_current);
        self.pump_election(now);
    }

    /// Replaces the role; forgets what the old one had in flight and closes the quorum
    /// links it used.
    pub(super) fn change_role(&mut self, role: Role) {
        self.generation += 1;
        self.close_role_links();
        self.close_all_connections();
        self.unpersisted.clear();
        self.pending.clear();
        self.zxid_prepared = self.log.logged;
        self.role = role;
    }

    /// The quorum links of the role being left: a learner's to its leader, a leader's to
    /// every peer (ZooKeeper's leader shuts every `LearnerHandler`'s socket when it stops).
    fn close_role_links(&mut self) {
        let peers: Vec<_> = match &self.role {
            Role::Learning(learning) => vec![learning.learner.leader()],
            Role::Leading(_) => self.config.peers.keys().copied().filter(|id| *id != self.config.server_id).collect(),
            Role::Standalone | Role::Looking | Role::Halted => Vec::new(),
        };
        for peer in peers {
            self.outputs.push_back(Output::ClosePeer { peer });
        }
    }

    /// A server registered with us as its leader, and we do not lead: its link is closed, so
    /// it elects again at once instead of waiting initLimit ticks for a LEADERINFO (an Apache
    /// server that does not lead has no quorum port open: the learner's connection fails).
    pub(super) fn refuse_learner(&mut self, learner: ServerId) {
        tracing::debug!(server = self.config.server_id.0, learner = learner.0, "not leading: closing a learner's link");
        self.outputs.push_back(Output::ClosePeer { peer: learner });
    }

    /// A quorum message while electing: held for the role the election decides.
    pub(super) fn hold_while_looking(&mut self, from: ServerId, message: QuorumMessage) {
        if self.held.len() < HELD_QUORUM_MESSAGES_MAX {
            self.held.push((from, message));
        }
    }

    pub(super) fn close_all_connections(&mut self) {
        let connections: Vec<_> = self.connections.keys().copied().collect();
        for connection in connections {
            self.close_connection(connection);
        }
    }

    /// Turns election outputs into node outputs; a decision starts the new role.
    pub(super) fn pump_election(&mut self, now: Millis) {
        loop {
            let Some(election) = self.election.as_mut() else { return };
            let Some(output) = election.poll_output() else { return };
            match output {
                ElectionOutput::Send { to, notification } => {
                    let message =
                        crate::zab::PeerMessage::Election(crate::election::notification_to_wire(&notification));
                    self.outputs.push_back(Output::Send { to, message });
                }
                ElectionOutput::Decided { leader, my_state, vote, supporters } => {
                    let supporters: Vec<u64> = supporters.iter().map(|s| s.0).collect();
                    tracing::info!(server = self.config.server_id.0, %vote, ?supporters, "election decided");
                    let held = std::mem::take(&mut self.held);
                    match my_state {
                        ServerState::Leading => {
                            self.become_leader(now);
                            for (from, message) in held {
                                self.leader_receive(now, from, message);
                            }
                        }
                        // A learner's own leader sends it nothing before FOLLOWERINFO.
                        ServerState::Following | ServerState::Observing => {
                            self.become_learner(now, leader, my_state == ServerState::Observing);
                            // Those who took us for their leader: tell them at once.
                            let senders: std::collections::BTreeSet<_> = held.iter().map(|(from, _)| *from).collect();
                            senders
                                .into_iter()
                                .filter(|from| *from != leader)
                                .for_each(|from| self.refuse_learner(from));
                        }
                        ServerState::Looking => unreachable!("a decision is never LOOKING"),
                    }
                }
            }
        }
    }

    pub(super) fn replica_timeout(&mut self, now: Millis) {
        if let Some(election) = self.election.as_mut() {
            election.handle_timeout(now);
        }
        self.pump_election(now);
        match self.role {
            Role::Leading(_) => self.leader_tick(now),
            Role::Learning(_) => self.learner_tick(now),
            _ => {}
        }
    }

    /// The earliest of the election's and the role's deadlines (ensembles only).
    pub(super) fn replica_deadline(&self) -> Option<Millis> {
        let election = self.election.as_ref().and_then(Election::poll_timeout);
        let role = match &self.role {
            Role::Leading(leader) => Some(leader.deadline()),
            Role::Learning(learning) => Some(learning.learner.deadline(self.config.learner_limits())),
            _ => None,
        };
        match (election, role) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub(super) fn check_replica_invariants(&self) {
        let log = &self.log;
        assert!(log.persisted <= log.logged, "durable beyond what was logged");
        if !log.restart_pending {
            // A SNAP installs the tree before its write is durable, so only `logged` bounds it.
            assert!(self.tree.last_zxid() <= log.logged, "applied beyond what was logged");
        }
        let mut previous = log.base;
        for txn in &log.history {
            assert!(txn.header.zxid > previous, "history in strictly increasing zxid order");
            previous = txn.header.zxid;
        }
        for txn in log.unapplied.iter().filter(|_| !log.restart_pending) {
            assert!(txn.header.zxid > self.tree.last_zxid(), "unapplied entries are above the tree");
        }
        if !self.serving() {
            assert!(self.connections.is_empty(), "a server that is not serving holds no client");
        }
        if let Some(election) = &self.election {
            election.check_invariants();
        }
        if let Role::Leading(leader) = &self.role {
            leader.check_invariants(log);
        }
    }
}

/// What a replica is doing, for `srvr`'s Mode line, `mntr`, tests and the simulator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplicaState {
    /// No peers: a standalone server.
    Standalone,
    /// Electing.
    Looking,
    /// Leading; `established` once a quorum acknowledged NEWLEADER (it then serves).
    Leading {
        /// The epoch it leads, once fixed.
        epoch: Option<crate::ids::Epoch>,
        /// Whether it has been established (and serves clients).
        established: bool,
    },
    /// Following (or observing) `leader`; `serving` after UPTODATE.
    Learning {
        /// The leader.
        leader: crate::ids::ServerId,
        /// Whether this is an observer.
        observer: bool,
        /// Whether it serves clients.
        serving: bool,
    },
    /// Waiting to be rebuilt from disk after `Output::Restart`.
    Halted,
}

impl Node {
    /// What this replica is doing.
    pub fn replica_state(&self) -> ReplicaState {
        match &self.role {
            Role::Standalone => ReplicaState::Standalone,
            Role::Looking => ReplicaState::Looking,
            Role::Leading(leader) => ReplicaState::Leading { epoch: leader.epoch(), established: leader.established() },
            Role::Learning(learning) => ReplicaState::Learning {
                leader: learning.learner.leader(),
                observer: learning.learner.is_observer(),
                serving: learning.learner.up_to_date(),
            },
            Role::Halted => ReplicaState::Halted,
        }
    }

    /// Whether this server answers clients now.
    pub fn is_serving(&self) -> bool {
        self.serving()
    }

    /// `acceptedEpoch` and `currentEpoch` as this node holds them.
    pub fn epochs(&self) -> (crate::ids::Epoch, crate::ids::Epoch) {
        (self.epoch_accepted, self.epoch_current)
    }

    /// The newest zxid this node knows committed, and the last zxid it has logged.
    pub fn zxid_committed_and_logged(&self) -> (Zxid, Zxid) {
        (self.log.committed, self.log.logged)
    }
}
