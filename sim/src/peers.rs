//! The links between ensemble members: one TCP connection per pair of servers.
//!
//! A link delivers in order in each direction (TCP is FIFO), so reordering happens only across
//! links, through their independent latencies. A lost message breaks its link (TCP gives up
//! on a connection, it never skips a segment): everything in flight on it is gone, and each
//! end hears of the break ([`zab_core::node::Node::handle_peer_disconnected`]) either at once
//! (a reset) or much later (the nodes' own timeouts usually notice first). The link comes back
//! only after both ends heard of the break and no partition blocks it, so no message of a new
//! connection can overtake the news that the old one died.
//!
//! Duplication: a FIFO connection never delivers a message twice, so within a link nothing
//! is duplicated. Across a reconnect it is: ZooKeeper's election transport
//! (`QuorumCnxManager.SendWorker`) re-sends the last notification it sent to a peer when a new
//! connection to that peer starts with nothing queued, because the old connection may have
//! died before the peer read it ("duplicate messages are handled correctly by the peer").
//! [`PeerNetwork::take_restored`] names the links that just came back so the world can re-send
//! (with the drawn `election_resend_probability`). The quorum port has no such re-send: a
//! learner that reconnects starts a new handshake, which the node itself emits.
//!
//! The quorum connection of a pair can also be closed by one end alone
//! ([`zab_core::Output::ClosePeer`]): the election traffic between them goes on, what was in
//! flight on the quorum connection is gone, the other end hears the close after one latency
//! (its FIN, ordered after everything the closer sent before), and what that end sends on the
//! dead connection before it heard is lost. What the closer sends afterwards travels on a new
//! connection and arrives after the FIN.
//!
//! A partition blocks directed pairs: symmetric or one-way. Since a one-way cut kills the TCP
//! connection too (its acknowledgements cannot flow), both shapes break the link; they differ
//! in what the election port still lets through between breaks.

use crate::options::Options;
use crate::rng::{SimRng, Stream};
use std::collections::{BTreeMap, BTreeSet};

/// What happened to a message handed to the peer network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeerSend {
    /// It arrives at this time, if the link (and, for a quorum message, its quorum
    /// connection) is still of this generation then.
    At {
        /// Arrival time, ms.
        at: u64,
        /// The link's generation.
        generation: u64,
        /// The quorum connection's generation.
        quorum: u64,
    },
    /// The link is down: the message is gone.
    Dropped,
    /// The message broke the link (loss, or a partition just cut it): the world must tell
    /// both ends.
    Broke,
}

#[derive(Clone, Debug, Default)]
struct PeerLink {
    generation: u64,
    down: bool,
    /// Ends not yet told of the last break.
    notices_pending: u8,
    /// The last arrival time in each direction (low → high, high → low).
    last_at: [u64; 2],
    /// Bumped when one end closes the quorum connection.
    quorum_generation: u64,
    /// The end that has not yet heard its quorum connection was closed: what it sends on the
    /// quorum port until then is lost.
    quorum_unaware: Option<usize>,
}

/// The peer network of an ensemble of `servers` members (indexes 0..servers).
#[derive(Debug)]
pub struct PeerNetwork {
    rng: SimRng,
    links: BTreeMap<(usize, usize), PeerLink>,
    blocked: BTreeSet<(usize, usize)>,
    latency_ms_min: u64,
    latency_ms_mean: u64,
    drop_probability: f64,
    reset_probability: f64,
    clogged_until: u64,
    clog_extra_ms: u64,
    faults: bool,
    resend_probability: f64,
    /// Links that came back since the last [`PeerNetwork::take_restored`].
    restored: Vec<(usize, usize)>,
}

fn pair(a: usize, b: usize) -> (usize, usize) {
    (a.min(b), a.max(b))
}

impl PeerNetwork {
    /// The peer network with the latencies and loss the options drew.
    pub fn new(options: &Options) -> PeerNetwork {
        PeerNetwork {
            rng: SimRng::new(options.seed, Stream::Peers),
            links: BTreeMap::new(),
            blocked: BTreeSet::new(),
            latency_ms_min: options.latency_ms_min,
            latency_ms_mean: options.latency_ms_mean,
            drop_probability: options.peer_drop_probability,
            reset_probability: options.peer_reset_probability,
            clogged_until: 0,
            clog_extra_ms: 0,
            faults: true,
            resend_probability: options.election_resend_probability,
            restored: Vec::new(),
        }
    }

    /// Sends one message from `from` to `to` at `now`; `quorum` for the quorum port.
    pub fn send(&mut self, now: u64, from: usize, to: usize, quorum: bool) -> PeerSend {
        let drop = self.faults && self.rng.chance(self.drop_probability);
        let latency = self.latency(now);
        let blocked = self.blocked.contains(&(from, to));
        let link = self.links.entry(pair(from, to)).or_default();
        if link.down || (quorum && link.quorum_unaware == Some(from)) {
            return PeerSend::Dropped;
        }
        if drop || blocked {
            self.break_link(from, to);
            return PeerSend::Broke;
        }
        let direction = usize::from(from > to);
        let at = (now + latency).max(link.last_at[direction]);
        link.last_at[direction] = at;
        PeerSend::At { at, generation: link.generation, quorum: link.quorum_generation }
    }

    /// `from` closes its quorum connection to `to`: returns when `to` hears the FIN (FIFO
    /// after what `from` sent before) and the generations the notice belongs to, or `None` if
    /// the whole link is down anyway (both ends hear of that break).
    pub fn close_quorum(&mut self, now: u64, from: usize, to: usize) -> Option<PeerSend> {
        let latency = self.latency(now);
        let link = self.links.entry(pair(from, to)).or_default();
        if link.down {
            return None;
        }
        link.quorum_generation += 1;
        link.quorum_unaware = Some(to);
        let direction = usize::from(from > to);
        let at = (now + latency).max(link.last_at[direction]);
        link.last_at[direction] = at;
        Some(PeerSend::At { at, generation: link.generation, quorum: link.quorum_generation })
    }

    /// `server` heard that its quorum connection of `quorum` generation was closed; false if
    /// that news is stale (a later close or a break overtook it).
    pub fn quorum_close_noticed(&mut self, server: usize, peer: usize, generation: u64, quorum: u64) -> bool {
        let link = self.links.entry(pair(server, peer)).or_default();
        if link.down || link.generation != generation || link.quorum_generation != quorum {
            return false;
        }
        if link.quorum_unaware == Some(server) {
            link.quorum_unaware = None;
        }
        true
    }

    /// One message latency now.
    pub fn latency(&mut self, now: u64) -> u64 {
        let clog = if now < self.clogged_until { self.clog_extra_ms } else { 0 };
        self.latency_ms_min + self.rng.exponential(self.latency_ms_mean as f64) + clog
    }

    /// How long until one end hears of a break: a reset arrives at once, a silent death is
    /// found much later.
    pub fn notice_delay(&mut self, now: u64) -> u64 {
        if self.rng.chance(self.reset_probability) {
            self.latency(now)
        } else {
            self.rng.range(500, 10_000)
        }
    }

    /// Breaks the link between `a` and `b`; false if it was already down. Its generation
    /// changes, so whatever is in flight on it is dropped at arrival.
    pub fn break_link(&mut self, a: usize, b: usize) -> bool {
        let link = self.links.entry(pair(a, b)).or_default();
        if link.down {
            return false;
        }
        link.down = true;
        link.generation += 1;
        link.notices_pending = 2;
        link.quorum_unaware = None;
        true
    }

    /// The current generation of the link between `a` and `b`.
    pub fn generation(&self, a: usize, b: usize) -> u64 {
        self.links.get(&pair(a, b)).map_or(0, |link| link.generation)
    }

    /// Whether a message of `generation` still arrives on the link between `a` and `b`.
    pub fn is_current(&self, a: usize, b: usize, generation: u64) -> bool {
        self.links.get(&pair(a, b)).is_some_and(|link| !link.down && link.generation == generation)
    }

    /// Whether a quorum message of these generations still arrives between `a` and `b`.
    pub fn is_current_quorum(&self, a: usize, b: usize, generation: u64, quorum: u64) -> bool {
        self.is_current(a, b, generation) && self.links.get(&pair(a, b)).is_some_and(|l| l.quorum_generation == quorum)
    }

    /// One end heard of the break of `generation`; the link comes back once both did.
    pub fn noticed(&mut self, a: usize, b: usize, generation: u64) {
        let link = self.links.entry(pair(a, b)).or_default();
        if link.generation == generation && link.notices_pending > 0 {
            link.notices_pending -= 1;
        }
        self.maybe_restore(a, b);
    }

    fn maybe_restore(&mut self, a: usize, b: usize) {
        let blocked = self.blocked.contains(&(a, b)) || self.blocked.contains(&(b, a));
        let link = self.links.entry(pair(a, b)).or_default();
        if link.down && link.notices_pending == 0 && !blocked {
            link.down = false;
            self.restored.push(pair(a, b));
        }
    }

    /// Blocks these directed pairs; returns the links that were up and are now broken.
    pub fn partition(&mut self, blocked: BTreeSet<(usize, usize)>) -> Vec<(usize, usize)> {
        self.blocked = blocked.clone();
        blocked.into_iter().filter(|&(a, b)| self.break_link(a, b)).collect()
    }

    /// Lifts every partition.
    pub fn unpartition(&mut self) {
        let blocked = std::mem::take(&mut self.blocked);
        for (a, b) in blocked {
            self.maybe_restore(a, b);
        }
    }

    /// Whether `from` can reach `to` now (no partition in that direction).
    pub fn reaches(&self, from: usize, to: usize) -> bool {
        !self.blocked.contains(&(from, to))
    }

    /// All links slow down until `until`.
    pub fn clog(&mut self, until: u64, extra_ms: u64) {
        self.clogged_until = until;
        self.clog_extra_ms = extra_ms;
    }

    /// The liveness phase: no loss, no clog, no partition.
    pub fn heal(&mut self) {
        self.faults = false;
        self.clogged_until = 0;
        self.unpartition();
    }

    /// The links that came back up (a new connection) since the last call, in order.
    pub fn take_restored(&mut self) -> Vec<(usize, usize)> {
        std::mem::take(&mut self.restored)
    }

    /// Whether a sender re-sends its last election notification on a new connection (drawn
    /// only when the run switched re-sends on, so other runs keep their draws).
    pub fn resends(&mut self) -> bool {
        self.resend_probability > 0.0 && self.rng.chance(self.resend_probability)
    }

    /// The generator, for the world's partition choices.
    pub fn rng(&mut self) -> &mut SimRng {
        &mut self.rng
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broken_link_drops_in_flight_messages_and_returns_after_both_ends_heard() {
        let mut options = Options::quiet(3, 1);
        options.latency_ms_mean = 20;
        let mut net = PeerNetwork::new(&options);
        let PeerSend::At { generation, .. } = net.send(0, 0, 1, false) else { panic!("no loss configured") };
        assert!(net.is_current(1, 0, generation));
        assert!(net.break_link(1, 0));
        assert!(!net.break_link(0, 1), "already down");
        assert!(!net.is_current(0, 1, generation), "in-flight messages are dropped");
        assert_eq!(net.send(1, 0, 1, false), PeerSend::Dropped);
        net.noticed(0, 1, generation + 1);
        assert_eq!(net.send(2, 1, 0, false), PeerSend::Dropped, "one end still unaware");
        net.noticed(1, 0, generation + 1);
        assert!(matches!(net.send(3, 1, 0, false), PeerSend::At { generation: g, .. } if g == generation + 1));
    }

    #[test]
    fn each_direction_is_fifo_and_a_partition_breaks_and_holds_the_link() {
        let mut options = Options::quiet(5, 1);
        options.latency_ms_mean = 50;
        let mut net = PeerNetwork::new(&options);
        let mut last = 0;
        for now in 0..100 {
            let PeerSend::At { at, .. } = net.send(now, 2, 0, false) else { panic!("no loss") };
            assert!(at >= last);
            last = at;
        }
        assert_eq!(net.partition([(0, 2)].into_iter().collect()), vec![(0, 2)]);
        let generation = net.generation(0, 2);
        net.noticed(0, 2, generation);
        net.noticed(2, 0, generation);
        assert_eq!(net.send(200, 2, 0, false), PeerSend::Dropped, "blocked while partitioned");
        assert_eq!(net.take_restored(), vec![]);
        net.unpartition();
        assert_eq!(net.take_restored(), vec![(0, 2)], "the new connection is announced once");
        assert_eq!(net.take_restored(), vec![]);
        assert!(matches!(net.send(201, 2, 0, false), PeerSend::At { .. }));
    }

    #[test]
    fn a_closed_quorum_connection_drops_its_traffic_but_not_the_election_link() {
        let mut options = Options::quiet(7, 1);
        options.latency_ms_mean = 10;
        let mut net = PeerNetwork::new(&options);
        let PeerSend::At { at: proposal_at, generation, quorum, .. } = net.send(0, 0, 1, true) else { panic!() };
        let Some(PeerSend::At { at: fin_at, quorum: closed, .. }) = net.close_quorum(1, 0, 1) else { panic!() };
        assert!(fin_at >= proposal_at, "the FIN comes after what the closer sent before");
        assert!(!net.is_current_quorum(0, 1, generation, quorum), "in flight on the old connection: gone");
        assert_eq!(net.send(2, 1, 0, true), PeerSend::Dropped, "the unaware end writes to a dead socket");
        assert!(matches!(net.send(2, 1, 0, false), PeerSend::At { .. }), "election traffic goes on");
        assert!(net.quorum_close_noticed(1, 0, generation, closed));
        assert!(matches!(net.send(3, 1, 0, true), PeerSend::At { quorum: q, .. } if q == closed));
    }
}
