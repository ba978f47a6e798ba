//! Fast Leader Election (`FastLeaderElection.java`, ZooKeeper 3.8) as a sans-IO state machine.
//!
//! One [`Election`] lives as long as its server. It elects when asked ([`Election::start`]) and,
//! in every state, answers peers still electing, as ZooKeeper's `WorkerReceiver` thread does.
//!
//! # Driving an [`Election`]
//!
//! 1. [`Election::new`] with the ensemble and a seed; [`Election::start`] whenever the server
//!    becomes LOOKING (at boot, and again when it loses its leader or its followers).
//! 2. Feed every notification that arrives on the election port to
//!    [`Election::handle_notification`], and call [`Election::handle_timeout`] once
//!    [`Election::poll_timeout`] has passed.
//! 3. After each call, drain [`Election::poll_output`]: send each [`ElectionOutput::Send`];
//!    on [`ElectionOutput::Decided`] the server leaves the election as leader, follower or
//!    observer. A notification to oneself never appears: it is delivered internally, as
//!    `QuorumCnxManager` does.
//!
//! # How a round runs (`lookForLeader`)
//!
//! - `start` increments the round (`logicalclock`), votes for itself (or, as an observer, for
//!   nobody) and notifies every voter.
//! - A LOOKING notification from a later round adopts that round, forgets the votes received so
//!   far and votes for the better of the sender's vote and its own; one from an earlier round is
//!   ignored (and the sender told the current round); one from the same round replaces our vote
//!   if it is better by [`Vote::order`] (peer epoch, zxid, server id).
//! - When a quorum of voters agrees with our vote, wait `finalizeWait` (200 ms): if no better
//!   vote arrives, decide. A better one ends the wait and is handled as usual.
//! - FOLLOWING and LEADING notifications are counted too, and separately in `outofelection`, so a
//!   server can join an ensemble that already has a leader: when a quorum follows one leader
//!   and that leader says it is LEADING (`checkLeader`), join it at once.
//! - With nothing received for a while, notify every voter again; that wait doubles each time,
//!   up to 60 s.
//! - Once decided, the server answers LOOKING voters with its vote, whose peer epoch becomes the
//!   new epoch as soon as the driver reports its leader established
//!   ([`Election::update_peer_epoch`]), so that every member reports the same vote.
//!
//! Deliberate differences from ZooKeeper, each to keep messages bounded or the model closed:
//! a non-voter never replies to notifications (voters never read them, and ZooKeeper's
//! replies ping-pong between an observer and a LOOKING voter); while LOOKING, the answer to an
//! observer carries our current proposal rather than `QuorumPeer.currentVote`; notifications
//! received before the first `start` are dropped rather than queued (the driver should `start`
//! right after `new`); out-of-election votes agree on leader and peer epoch everywhere, where
//! ZooKeeper's `Vote.equals` compares only the leader when the two sides' format versions differ.

mod vote;

#[cfg(test)]
mod harness;
#[cfg(test)]
mod random;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod transcript;

pub mod wire;

pub use vote::{ElectionEpoch, Notification, ServerState, Vote};
pub use wire::{notification_from_wire, notification_to_wire};

use crate::constants::{
    ELECTION_FINALIZE_WAIT_MS, ELECTION_NOTIFICATION_TIMEOUT_MS_MAX_DEFAULT,
    ELECTION_NOTIFICATION_TIMEOUT_MS_MIN_DEFAULT, ELECTION_OUTPUTS_MAX, ELECTION_SERVERS_MAX,
    ELECTION_TIMEOUT_JITTER_MS_MAX_DEFAULT,
};
use crate::ids::{Epoch, Millis, ServerId, Zxid};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Who takes part in the election, and its timeouts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ElectionConfig {
    /// This server's id (`myid`).
    pub my_id: ServerId,
    /// The voting members (`server.N=...:participant`). Quorums are majorities of these.
    pub voters: BTreeSet<ServerId>,
    /// The observers (`server.N=...:observer`): they learn the leader but never vote.
    pub observers: BTreeSet<ServerId>,
    /// First notification timeout (`minNotificationInterval`), in ms.
    pub notification_timeout_ms_min: u64,
    /// Ceiling of the doubling notification timeout (`maxNotificationInterval`), in ms.
    pub notification_timeout_ms_max: u64,
    /// Largest random extra delay drawn for each notification timeout, in ms.
    pub timeout_jitter_ms_max: u64,
}

impl ElectionConfig {
    /// A configuration with ZooKeeper's default timeouts. `my_id` must be in one of the sets.
    pub fn new(my_id: ServerId, voters: BTreeSet<ServerId>, observers: BTreeSet<ServerId>) -> ElectionConfig {
        ElectionConfig {
            my_id,
            voters,
            observers,
            notification_timeout_ms_min: ELECTION_NOTIFICATION_TIMEOUT_MS_MIN_DEFAULT,
            notification_timeout_ms_max: ELECTION_NOTIFICATION_TIMEOUT_MS_MAX_DEFAULT,
            timeout_jitter_ms_max: ELECTION_TIMEOUT_JITTER_MS_MAX_DEFAULT,
        }
    }

    /// Whether this server votes (a participant) rather than observes.
    pub fn is_voter(&self) -> bool {
        self.voters.contains(&self.my_id)
    }

    /// Whether `count` voters make a majority of the voters.
    pub fn is_quorum(&self, count: usize) -> bool {
        count * 2 > self.voters.len()
    }
}

/// What the driver must do for an [`Election`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ElectionOutput {
    /// Send a notification to a peer's election port.
    Send {
        /// The recipient.
        to: ServerId,
        /// What to send.
        notification: Notification,
    },
    /// The election is over for this server.
    Decided {
        /// The elected leader.
        leader: ServerId,
        /// What this server now is: `Leading`, `Following` or `Observing`.
        my_state: ServerState,
        /// The winning vote: the leader's zxid and epoch, and the round that decided.
        vote: Vote,
        /// The voters whose votes made the quorum (ZooKeeper hands this set to a new leader
        /// as `leadingVoteSet`).
        supporters: BTreeSet<ServerId>,
    },
}

/// A quorum agrees with our vote: decide at `deadline` unless a better vote arrives.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Finalizing {
    deadline: Millis,
    supporters: BTreeSet<ServerId>,
}

/// One server's leader election. See the module docs for the driver loop.
#[derive(Debug)]
pub struct Election {
    config: ElectionConfig,
    rng: ChaCha8Rng,
    state: ServerState,
    started: bool,
    /// `logicalclock`: the current round.
    logical_clock: ElectionEpoch,
    /// What this server proposes at the start of a round (`getInitId`, `getInitLastLoggedZxid`,
    /// `getPeerEpoch`); the round's vote never falls below it.
    initial_vote: Vote,
    /// Our vote: the proposal while LOOKING, the decided vote afterwards.
    current_vote: Vote,
    /// `recvset`: the latest notification of this round from each voter.
    received: BTreeMap<ServerId, Notification>,
    /// `outofelection`: the latest FOLLOWING/LEADING notification from each voter, any round.
    out_of_election: BTreeMap<ServerId, Notification>,
    notification_timeout_ms: u64,
    notification_deadline: Option<Millis>,
    finalizing: Option<Finalizing>,
    /// Our own notifications, delivered to ourselves once the current input is handled.
    loopback: VecDeque<Notification>,
    outputs: VecDeque<ElectionOutput>,
}

impl Election {
    /// A server that has not started electing yet; `seed` draws every timeout's jitter.
    pub fn new(config: ElectionConfig, seed: u64) -> Election {
        assert!(config.voters.len() + config.observers.len() <= ELECTION_SERVERS_MAX, "too many servers");
        assert!(!config.voters.is_empty(), "an ensemble needs a voter");
        assert!(config.voters.is_disjoint(&config.observers), "a server either votes or observes");
        assert!(config.is_voter() || config.observers.contains(&config.my_id), "my_id is not in the ensemble");
        assert!(config.notification_timeout_ms_min > 0);
        assert!(config.notification_timeout_ms_min <= config.notification_timeout_ms_max);
        let nobody =
            Vote { leader: config.my_id, zxid: Zxid::ZERO, election_epoch: ElectionEpoch(0), peer_epoch: Epoch(0) };
        Election {
            notification_timeout_ms: config.notification_timeout_ms_min,
            config,
            rng: ChaCha8Rng::seed_from_u64(seed),
            state: ServerState::Looking,
            started: false,
            logical_clock: ElectionEpoch(0),
            initial_vote: nobody,
            current_vote: nobody,
            received: BTreeMap::new(),
            out_of_election: BTreeMap::new(),
            notification_deadline: None,
            finalizing: None,
            loopback: VecDeque::new(),
            outputs: VecDeque::new(),
        }
    }

    /// Becomes LOOKING and opens a new round: bumps the logical clock, votes for itself with
    /// what it has logged (`last_zxid`) and its `currentEpoch`, and notifies every voter.
    pub fn start(&mut self, now: Millis, last_zxid: Zxid, current_epoch: Epoch) {
        self.started = true;
        self.state = ServerState::Looking;
        self.logical_clock = ElectionEpoch(self.logical_clock.0 + 1);
        self.initial_vote = if self.config.is_voter() {
            Vote {
                leader: self.config.my_id,
                zxid: last_zxid,
                election_epoch: self.logical_clock,
                peer_epoch: current_epoch,
            }
        } else {
            // An observer proposes nobody: the lowest vote, beaten by any voter's.
            Vote {
                leader: self.config.my_id,
                zxid: Zxid(i64::MIN),
                election_epoch: self.logical_clock,
                peer_epoch: Epoch(0),
            }
        };
        self.current_vote = self.initial_vote;
        self.received.clear();
        self.out_of_election.clear();
        self.finalizing = None;
        self.loopback.clear();
        self.notification_timeout_ms = self.config.notification_timeout_ms_min;
        self.arm_notification_timer(now);
        self.send_notifications();
        self.deliver_loopback(now);
    }

    /// A notification from `from` arrived on the election port.
    pub fn handle_notification(&mut self, now: Millis, from: ServerId, notification: Notification) {
        if !self.started || from == self.config.my_id {
            return; // Before the first round there is nothing to say; our own id is never a peer.
        }
        if !self.config.voters.contains(&from) {
            // Non-voters are answered at once and never counted (`WorkerReceiver`).
            if self.config.is_voter() && self.config.observers.contains(&from) {
                self.reply(from);
            }
            return;
        }
        if self.state != ServerState::Looking {
            // Tell a voter still electing whom we follow; established servers need no answer.
            if notification.state == ServerState::Looking && self.config.is_voter() {
                self.reply(from);
            }
            return;
        }
        let lagging =
            notification.state == ServerState::Looking && notification.vote.election_epoch < self.logical_clock;
        if lagging && self.config.is_voter() {
            self.reply(from);
        }
        self.receive(now, from, notification);
        self.deliver_loopback(now);
    }

    /// Time has reached [`Election::poll_timeout`]: decide, or notify every voter again.
    pub fn handle_timeout(&mut self, now: Millis) {
        if !self.started || self.state != ServerState::Looking {
            return;
        }
        if let Some(finalizing) = &self.finalizing {
            if now >= finalizing.deadline {
                let supporters = finalizing.supporters.clone();
                self.decide(self.current_vote, supporters);
            }
            return;
        }
        let Some(deadline) = self.notification_deadline else { return };
        if now < deadline {
            return;
        }
        self.send_notifications();
        self.notification_timeout_ms = (self.notification_timeout_ms * 2).min(self.config.notification_timeout_ms_max);
        self.arm_notification_timer(now);
        self.deliver_loopback(now);
    }

    /// This server's leader is established in `epoch` (a leader once a quorum has acknowledged
    /// NEWLEADER, a learner at UPTODATE): from now on the vote it answers LOOKING servers with
    /// carries that epoch (`QuorumPeer.updateElectionVote`, ZOOKEEPER-1732).
    ///
    /// A server that comes LOOKING later joins only if a quorum of the established members
    /// report the same leader and peer epoch (`outofelection`). Apache ZooKeeper's members
    /// report the new epoch; a member that kept reporting the epoch its leader was elected
    /// with would split that quorum in a mixed ensemble, and the newcomer would stay LOOKING.
    pub fn update_peer_epoch(&mut self, epoch: Epoch) {
        assert_ne!(self.state, ServerState::Looking, "only a decided server has an established leader");
        assert!(epoch >= self.current_vote.peer_epoch, "a leader establishes a newer epoch than it was elected with");
        self.current_vote.peer_epoch = epoch;
    }

    /// The next output to execute, in order.
    pub fn poll_output(&mut self) -> Option<ElectionOutput> {
        self.outputs.pop_front()
    }

    /// When [`Election::handle_timeout`] should next be called; `None` once decided.
    pub fn poll_timeout(&self) -> Option<Millis> {
        match &self.finalizing {
            Some(finalizing) => Some(finalizing.deadline),
            None => self.notification_deadline,
        }
    }

    /// This server's state: LOOKING until a decision, then LEADING, FOLLOWING or OBSERVING.
    pub fn state(&self) -> ServerState {
        self.state
    }

    /// Our vote: the proposal while LOOKING, the decided vote afterwards.
    pub fn current_vote(&self) -> Vote {
        self.current_vote
    }

    /// The current round (`logicalclock`).
    pub fn logical_clock(&self) -> ElectionEpoch {
        self.logical_clock
    }

    /// The current notification timeout before jitter, in ms (doubles on each expiry).
    pub fn notification_timeout_ms(&self) -> u64 {
        self.notification_timeout_ms
    }

    /// The configuration this election was built with.
    pub fn config(&self) -> &ElectionConfig {
        &self.config
    }

    /// Panics if the election's state is inconsistent. Tests and the simulator call it after
    /// every `handle_*`.
    pub fn check_invariants(&self) {
        assert!(self.loopback.is_empty(), "loopback is drained before each input returns");
        assert!(self.outputs.len() <= ELECTION_OUTPUTS_MAX, "outputs are drained after each input");
        assert!(self.notification_timeout_ms >= self.config.notification_timeout_ms_min);
        assert!(self.notification_timeout_ms <= self.config.notification_timeout_ms_max);
        if !self.started {
            assert!(self.poll_timeout().is_none());
            return;
        }
        if self.state != ServerState::Looking {
            assert!(self.finalizing.is_none(), "a decided server has no timers");
            assert!(self.notification_deadline.is_none(), "a decided server has no timers");
            assert!(self.received.is_empty(), "leaving a round forgets its votes");
            assert!(self.out_of_election.is_empty(), "leaving a round forgets its votes");
            assert!(self.config.voters.contains(&self.current_vote.leader), "only a voter leads");
            return;
        }
        assert!(self.finalizing.is_some() != self.notification_deadline.is_some(), "exactly one timer while LOOKING");
        assert_eq!(self.current_vote.election_epoch, self.logical_clock, "our vote is for the current round");
        for (from, notification) in &self.received {
            assert!(self.config.voters.contains(from), "only voters are counted");
            assert_eq!(notification.vote.election_epoch, self.logical_clock, "recvset holds this round only");
        }
        for (from, notification) in &self.out_of_election {
            assert!(self.config.voters.contains(from), "only voters are counted");
            assert!(notification.state == ServerState::Following || notification.state == ServerState::Leading);
        }
        if self.config.is_voter() {
            // A round's vote only ever moves up from our own (totalOrderPredicate).
            assert_ne!(self.current_vote.order(&self.initial_vote), Ordering::Less, "vote below our own");
            assert!(self.config.voters.contains(&self.current_vote.leader), "we only propose voters");
        }
    }
}

/// The body of `lookForLeader`'s loop: one notification, from a voter, while LOOKING.
impl Election {
    fn receive(&mut self, now: Millis, from: ServerId, notification: Notification) {
        if self.finalizing.is_some() {
            if !self.is_better(&notification.vote, &self.current_vote) {
                // The finalizeWait poll drops what is not better and waits again.
                if let Some(finalizing) = &mut self.finalizing {
                    finalizing.deadline = now.plus(ELECTION_FINALIZE_WAIT_MS);
                }
                return;
            }
            // A better vote ends the wait and is handled like any other.
            self.finalizing = None;
        }
        self.arm_notification_timer(now);
        if !self.config.voters.contains(&notification.vote.leader) {
            return; // A vote for a non-member means nothing.
        }
        match notification.state {
            ServerState::Looking => self.on_looking(now, from, notification),
            ServerState::Following | ServerState::Leading => self.on_established(from, notification),
            ServerState::Observing => {}
        }
    }

    /// A LOOKING voter's notification: maybe change round or vote, then count it.
    fn on_looking(&mut self, now: Millis, from: ServerId, notification: Notification) {
        let vote = notification.vote;
        if self.initial_vote.zxid == Zxid(-1) || vote.zxid == Zxid(-1) {
            return; // ZooKeeper's guard against a server that has not loaded its database.
        }
        match vote.election_epoch.cmp(&self.logical_clock) {
            Ordering::Greater => {
                self.logical_clock = vote.election_epoch;
                self.received.clear();
                let mine = self.initial_vote;
                let best = if self.is_better(&vote, &mine) { vote } else { mine };
                self.current_vote = Vote { election_epoch: self.logical_clock, ..best };
                self.send_notifications();
            }
            Ordering::Less => return, // Stale: the sender has already been told our round.
            Ordering::Equal => {
                if self.is_better(&vote, &self.current_vote) {
                    self.current_vote = vote;
                    self.send_notifications();
                }
            }
        }
        self.received.insert(from, notification);
        let ours = Notification { state: ServerState::Looking, vote: self.current_vote };
        let supporters = agreeing(&self.received, &ours);
        if self.config.is_quorum(supporters.len()) {
            self.finalizing = Some(Finalizing { deadline: now.plus(ELECTION_FINALIZE_WAIT_MS), supporters });
            self.notification_deadline = None;
        }
    }

    /// A FOLLOWING or LEADING voter's notification: join its leader if a quorum follows it and
    /// the leader confirms it leads (`checkLeader`), counting this round first, then any round.
    fn on_established(&mut self, from: ServerId, notification: Notification) {
        let vote = notification.vote;
        if vote.election_epoch == self.logical_clock {
            self.received.insert(from, notification);
            let supporters = agreeing(&self.received, &notification);
            if self.config.is_quorum(supporters.len()) && self.check_leader(&self.received, &vote) {
                self.decide(vote, supporters);
                return;
            }
        }
        // Kept across rounds: a server that arrives late learns the leader here (ZOOKEEPER-1732).
        self.out_of_election.insert(from, notification);
        let supporters = agreeing(&self.out_of_election, &notification);
        if self.config.is_quorum(supporters.len()) && self.check_leader(&self.out_of_election, &vote) {
            self.logical_clock = vote.election_epoch;
            self.decide(vote, supporters);
        }
    }

    /// `checkLeader`: another server may be elected only if it told us it is LEADING; we may be
    /// elected only by votes of our own round (so a crashed-and-restarted leader is not re-made).
    fn check_leader(&self, votes: &BTreeMap<ServerId, Notification>, vote: &Vote) -> bool {
        if vote.leader == self.config.my_id {
            return self.logical_clock == vote.election_epoch;
        }
        votes.get(&vote.leader).is_some_and(|leader| leader.state == ServerState::Leading)
    }

    /// `totalOrderPredicate`: whether `new` beats `current`. Only a voter can win.
    fn is_better(&self, new: &Vote, current: &Vote) -> bool {
        self.config.voters.contains(&new.leader) && new.order(current) == Ordering::Greater
    }

    fn decide(&mut self, vote: Vote, supporters: BTreeSet<ServerId>) {
        assert!(self.config.voters.contains(&vote.leader), "only a voter leads");
        assert!(self.config.is_quorum(supporters.len()), "a decision needs a quorum");
        let my_state = if vote.leader == self.config.my_id {
            ServerState::Leading
        } else if self.config.is_voter() {
            ServerState::Following
        } else {
            ServerState::Observing
        };
        self.state = my_state;
        self.current_vote = vote;
        self.received.clear();
        self.out_of_election.clear();
        self.loopback.clear();
        self.finalizing = None;
        self.notification_deadline = None;
        self.push(ElectionOutput::Decided { leader: vote.leader, my_state, vote, supporters });
    }
}

/// Sending and timers.
impl Election {
    /// `sendNotifications`: our vote to every voter, ourselves included (via the loopback).
    fn send_notifications(&mut self) {
        let notification = Notification { state: ServerState::Looking, vote: self.current_vote };
        let voters: Vec<ServerId> = self.config.voters.iter().copied().collect();
        for to in voters {
            if to == self.config.my_id {
                self.loopback.push_back(notification);
            } else {
                self.push(ElectionOutput::Send { to, notification });
            }
        }
    }

    /// Answers a peer with our state and vote, in the current round.
    fn reply(&mut self, to: ServerId) {
        let vote = if self.state == ServerState::Looking {
            Vote { election_epoch: self.logical_clock, ..self.current_vote }
        } else {
            self.current_vote
        };
        self.push(ElectionOutput::Send { to, notification: Notification { state: self.state, vote } });
    }

    /// Our own notifications reach us after the input that caused them, as through a queue.
    fn deliver_loopback(&mut self, now: Millis) {
        while let Some(notification) = self.loopback.pop_front() {
            if self.state != ServerState::Looking {
                break;
            }
            self.receive(now, self.config.my_id, notification);
        }
        self.loopback.clear();
    }

    /// Any notification received restarts the wait for the next one (`recvqueue.poll`).
    fn arm_notification_timer(&mut self, now: Millis) {
        let jitter = self.rng.gen_range(0..=self.config.timeout_jitter_ms_max);
        self.notification_deadline = Some(now.plus(self.notification_timeout_ms + jitter));
    }

    fn push(&mut self, output: ElectionOutput) {
        assert!(self.outputs.len() < ELECTION_OUTPUTS_MAX, "the driver drains outputs after every input");
        self.outputs.push_back(output);
    }
}

/// The voters whose latest notification agrees with `vote` (`getVoteTracker`).
fn agreeing(votes: &BTreeMap<ServerId, Notification>, vote: &Notification) -> BTreeSet<ServerId> {
    votes.iter().filter(|(_, theirs)| theirs.agrees_with(vote)).map(|(from, _)| *from).collect()
}
