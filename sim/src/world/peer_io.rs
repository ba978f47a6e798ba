//! The ensemble's side of the world: peer messages, broken links and their notices,
//! partitions, and the ensemble-wide checkers fed after every input.

use super::{Event, Phase, World};
use crate::checker::availability::ServerEvent;
use crate::checker::{acknowledged, Violation};
use crate::peers::PeerSend;
use std::collections::BTreeSet;
use zab_core::node::PeerMessage;
use zab_core::{ServerId, Zxid};

/// The shapes a random partition takes.
const PARTITION_SHAPES: u64 = 4;

impl World {
    /// The member index of server id `id` (ids are 1..=servers).
    fn index_of(id: ServerId) -> usize {
        id.0 as usize - 1
    }

    pub(super) fn peer_send(&mut self, from: usize, to: ServerId, message: PeerMessage) {
        let to = World::index_of(to);
        if matches!(message, PeerMessage::Election(_)) {
            self.election_last_sent.insert((from, to), message.clone());
        }
        let on_quorum_port = !matches!(message, PeerMessage::Election(_));
        match self.peers.send(self.queue.now(), from, to, on_quorum_port) {
            PeerSend::At { at, generation, quorum } => {
                let message = Box::new(message);
                let quorum = on_quorum_port.then_some(quorum);
                self.queue.schedule(at, Event::PeerDeliver { from, to, generation, quorum, message });
            }
            PeerSend::Dropped => {
                if let PeerMessage::Election(_) = message {
                    self.election_queued.insert((from, to), message);
                }
            }
            PeerSend::Broke => {
                self.trace(format!("net n{from}-n{to} link broken"));
                self.schedule_break_notices(from, to);
            }
        }
    }

    /// Both ends of a link that just broke hear of it, each after its own delay.
    pub(super) fn schedule_break_notices(&mut self, a: usize, b: usize) {
        self.server_event(a, ServerEvent::PeerLinkClosed { peer: b });
        self.server_event(b, ServerEvent::PeerLinkClosed { peer: a });
        let generation = self.peers.generation(a, b);
        for (server, peer) in [(a, b), (b, a)] {
            let at = self.queue.now() + self.peers.notice_delay(self.queue.now());
            self.queue.schedule(at, Event::PeerNotice { server, peer, generation });
        }
    }

    /// Links that came back are new connections: each end whose process lives sends the
    /// newest notification it queued while the link was down, or else may re-send the last
    /// notification it sent before the break (see [`crate::peers`]).
    pub(super) fn resend_on_new_connections(&mut self) {
        for (a, b) in self.peers.take_restored() {
            for (from, to) in [(a, b), (b, a)] {
                if let Some(queued) = self.election_queued.remove(&(from, to)) {
                    self.trace(format!("net n{from}->n{to} new connection: sends its queued notification"));
                    self.peer_send(from, self.servers[to].id, queued);
                    continue;
                }
                let Some(last) = self.election_last_sent.get(&(from, to)).cloned() else { continue };
                if self.servers[from].node.is_some() && self.peers.resends() {
                    self.trace(format!("net n{from}->n{to} new connection: re-sends its last notification"));
                    self.peer_send(from, self.servers[to].id, last);
                }
            }
        }
    }

    /// A server's process died: its links break; the others hear of it after a while. Its
    /// memory of what it last sent dies with it.
    pub(super) fn break_peer_links_of(&mut self, server: usize) {
        self.election_last_sent.retain(|(from, _), _| *from != server);
        self.election_queued.retain(|(from, _), _| *from != server);
        for peer in 0..self.servers.len() {
            if peer != server && self.peers.break_link(server, peer) {
                self.schedule_break_notices(server, peer);
            }
        }
    }

    /// `Output::ClosePeer`: `server` closes its quorum connection to `peer`.
    pub(super) fn close_quorum_link(&mut self, server: usize, peer: zab_core::ServerId) {
        let peer = World::index_of(peer);
        self.trace(format!("n{server} closes its quorum link to n{peer}"));
        self.server_event(server, ServerEvent::PeerLinkClosed { peer });
        if let Some(PeerSend::At { at, generation, quorum }) = self.peers.close_quorum(self.queue.now(), server, peer) {
            self.queue.schedule(at, Event::QuorumClosed { server: peer, peer: server, generation, quorum });
        }
    }

    /// `server` hears the FIN of the quorum connection `peer` closed.
    pub(super) fn quorum_closed(&mut self, server: usize, peer: usize, generation: u64, quorum: u64) {
        if !self.peers.quorum_close_noticed(server, peer, generation, quorum) {
            return;
        }
        let now = self.local_now(server);
        let peer_id = self.servers[peer].id;
        let Some(node) = self.servers[server].node.as_mut() else { return };
        node.handle_peer_disconnected(now, peer_id);
        self.trace(format!("n{server} notices n{peer} closed their quorum link"));
        self.server_event(server, ServerEvent::PeerLinkClosed { peer });
        self.after_node_input(server);
    }

    pub(super) fn peer_deliver(
        &mut self,
        from: usize,
        to: usize,
        generation: u64,
        quorum: Option<u64>,
        message: PeerMessage,
    ) {
        let current = match quorum {
            Some(quorum) => self.peers.is_current_quorum(from, to, generation, quorum),
            None => self.peers.is_current(from, to, generation),
        };
        if !current || self.servers[to].node.is_none() {
            return;
        }
        let Some(message) = self.through_quorum_codec(from, to, message) else { return };
        let now = self.local_now(to);
        let from_id = self.servers[from].id;
        self.trace(format!("n{to} <- n{from} {}", describe_peer(&message)));
        self.servers[to].node.as_mut().expect("checked above").handle_peer_message(now, from_id, message);
        self.after_node_input(to);
    }

    pub(super) fn peer_notice(&mut self, server: usize, peer: usize, generation: u64) {
        self.peers.noticed(server, peer, generation);
        self.resend_on_new_connections();
        let now = self.local_now(server);
        let peer_id = self.servers[peer].id;
        let Some(node) = self.servers[server].node.as_mut() else { return };
        node.handle_peer_disconnected(now, peer_id);
        self.trace(format!("n{server} notices link to n{peer} gone"));
        self.after_node_input(server);
    }

    /// A swarm partition: symmetric between two random groups, one-way, the leader isolated,
    /// or a minority cut off; it lasts a random while.
    pub(super) fn random_partition(&mut self) {
        let Some(mean) = self.options.partition_interval_ms_mean else { return };
        if self.phase != Phase::Safety {
            return;
        }
        let n = self.servers.len();
        let rng = self.peers.rng();
        let shape = rng.range(0, PARTITION_SHAPES - 1);
        let mut side: Vec<bool> = (0..n).map(|_| rng.chance(0.5)).collect();
        match shape {
            // The leader alone (or a random server if there is none).
            2 => {
                let alone = self.leader().unwrap_or(0);
                side = (0..n).map(|i| i == alone).collect();
            }
            // A minority: one (of 3) or two (of 5) servers.
            3 => {
                let first = self.peers.rng().range(0, n as u64 - 1) as usize;
                side = (0..n).map(|i| (i + n - first) % n < (n - 1) / 2).collect();
            }
            _ => {}
        }
        let one_way = shape == 1;
        let mut blocked = BTreeSet::new();
        for a in 0..n {
            for b in 0..n {
                if side[a] && !side[b] {
                    blocked.insert((a, b));
                    if !one_way {
                        blocked.insert((b, a));
                    }
                }
            }
        }
        let groups: Vec<usize> = (0..n).filter(|i| side[*i]).collect();
        self.trace(format!("fault: partition {groups:?} | rest{}", if one_way { " (one-way out)" } else { "" }));
        self.apply_partition(blocked);
        let length = self.peers.rng().exponential(self.options.partition_ms_mean as f64).max(1);
        let now = self.queue.now();
        self.queue.schedule(now + length, Event::Unpartition);
        let next = now + length + self.rng_faults.exponential(mean as f64).max(1);
        self.queue.schedule(next, Event::Partition);
    }

    fn apply_partition(&mut self, blocked: BTreeSet<(usize, usize)>) {
        self.stats.partitions += 1;
        for (a, b) in self.peers.partition(blocked) {
            self.schedule_break_notices(a, b);
        }
    }

    /// Cuts the links between `groups` (scripts: `partition 1 | 2 3`, 0-based indexes here);
    /// `one_way` blocks only messages from the first group to the others.
    pub fn partition(&mut self, groups: &[Vec<usize>], one_way: bool) {
        let mut blocked = BTreeSet::new();
        for (g, group) in groups.iter().enumerate() {
            for (h, other) in groups.iter().enumerate() {
                if g == h || (one_way && g != 0) {
                    continue;
                }
                for &a in group {
                    for &b in other {
                        blocked.insert((a, b));
                    }
                }
            }
        }
        self.trace(format!("partition {groups:?}{}", if one_way { " one-way" } else { "" }));
        self.apply_partition(blocked);
    }

    /// Lifts every partition.
    pub fn unpartition(&mut self) {
        self.trace("partition healed");
        self.peers.unpartition();
        self.resend_on_new_connections();
    }

    /// The ensemble checkers after an input to `server`.
    pub(super) fn check_replica(&mut self, server: usize) {
        let Some(node) = self.servers[server].node.as_ref() else { return };
        let id = self.servers[server].id;
        let mut found = Vec::new();
        let state = node.replica_state();
        found.extend(self.primaries.on_state(id, state));
        self.stats.leaders = self.primaries.epochs() as u64;
        let zxid = node.last_zxid();
        if zxid != self.servers[server].digest_checked {
            found.extend(self.replica_digests.on_applied(id, zxid, node.tree().digest()));
            self.servers[server].digest_checked = zxid;
        }
        for violation in found {
            self.violation(violation);
        }
        self.check_committed(server);
    }

    /// Compares what a serving replica holds durably and knows committed with the others.
    pub(super) fn check_committed(&mut self, server: usize) {
        let s = &self.servers[server];
        let Some(node) = s.node.as_ref() else { return };
        if !node.is_serving() || s.disk.has_pending_rewrite() {
            return;
        }
        let upto = node.zxid_committed_and_logged().0.min(s.disk.durable_zxid());
        if upto <= s.committed_checked {
            return;
        }
        let mut found = Vec::new();
        for txn in s.disk.synced_after(s.committed_checked).take_while(|t| t.header.zxid <= upto) {
            found.extend(self.committed.on_committed(s.id, txn));
        }
        self.servers[server].committed_checked = upto;
        for violation in found {
            self.violation(violation);
        }
    }

    /// At the end of an ensemble run: every serving replica's committed history holds every
    /// acknowledged write.
    pub(super) fn final_ensemble_checks(&mut self) {
        let acked = acknowledged::acknowledged_writes(&self.history);
        let mut found: Vec<Violation> = Vec::new();
        for server in 0..self.servers.len() {
            self.check_committed(server);
            let s = &self.servers[server];
            let Some(node) = s.node.as_ref() else { continue };
            if !node.is_serving() || s.disk.has_pending_rewrite() {
                continue;
            }
            let committed = node.zxid_committed_and_logged().0.min(s.disk.durable_zxid());
            let logged: BTreeSet<Zxid> = s.disk.synced_after(Zxid::ZERO).map(|t| t.header.zxid).collect();
            found.extend(acknowledged::check(&acked, s.id, s.disk.snapshot_zxid(), committed, &logged));
        }
        for violation in found {
            self.violation(violation);
        }
    }
}

/// A peer message for the trace, short (bodies can be whole snapshots).
pub(super) fn describe_peer(message: &PeerMessage) -> String {
    match message {
        PeerMessage::Election(n) => {
            format!("vote {:?} leader={} zxid={} round={}", n.state, n.leader.0, n.zxid, n.election_epoch)
        }
        PeerMessage::Quorum(q) => {
            let mut text = Limited(String::new());
            // Stops formatting at the limit: a proposal's whole transaction is not worth it.
            let _ = std::fmt::Write::write_fmt(&mut text, format_args!("{q:?}"));
            text.0
        }
        PeerMessage::SnapDatabase(_) => "snapshot database".into(),
    }
}

/// A string that refuses to grow past [`DESCRIBE_CHARS_MAX`], ending the formatting early.
struct Limited(String);

/// Characters of a peer message the trace keeps.
const DESCRIBE_CHARS_MAX: usize = 80;

impl std::fmt::Write for Limited {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let room = DESCRIBE_CHARS_MAX.saturating_sub(self.0.len());
        if s.len() <= room {
            self.0.push_str(s);
            return Ok(());
        }
        let cut = (0..=room).rev().find(|i| s.is_char_boundary(*i)).unwrap_or(0);
        self.0.push_str(&s[..cut]);
        Err(std::fmt::Error)
    }
}
