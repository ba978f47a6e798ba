//! The node's side of the world: delivering client input, executing outputs, the disk
//! (fsync completions, snapshots), timers, crashes and restarts.

use super::{describe, CrashPoint, Event, Phase, ServerMessage, World};
use crate::checker::{ephemerals, node_invariants};
use crate::client::ClientMessage;
use crate::network::{Delivery, Direction};
use crate::options::{CrashMode, Mutant};
use std::net::{IpAddr, Ipv4Addr};
use zab_core::node::{ClientEvent, DurableState, Node, Output};
use zab_core::{ConnectionId, Millis, PersistToken};

impl World {
    /// The node's local time now.
    fn local_now(&self) -> Millis {
        Millis(self.clock.local(self.queue.now()))
    }

    pub(super) fn deliver_to_server(&mut self, connection: ConnectionId, message: ClientMessage) {
        if !self.network.is_alive(connection) {
            return;
        }
        let Some(index) = self.network.client_of(connection) else { return };
        if self.node.is_none() {
            // Nobody listens: the connection is refused (reset) and the client hears of it.
            self.trace(format!("n  refuses conn={} (down)", connection.0));
            self.network.break_link(connection);
            let at = self.queue.now() + self.network.latency(self.queue.now());
            self.queue.schedule(at, Event::ClientNotices(connection));
            return;
        }
        let event = match message {
            ClientMessage::Connect(request) => {
                self.trace(format!("n  <- c{index} conn={} connect", connection.0));
                // Each client has its own address, so `ip` ACLs and per-ip limits see distinct hosts.
                let address = IpAddr::V4(Ipv4Addr::new(10, 0, 0, index as u8 + 1));
                ClientEvent::Connect { request, address }
            }
            ClientMessage::Request(header, request) => {
                self.trace(format!(
                    "n  <- c{index} conn={} xid={} {}",
                    connection.0,
                    header.xid,
                    describe::request(&request)
                ));
                ClientEvent::Request { header, request }
            }
            ClientMessage::Close => ClientEvent::Disconnected,
        };
        let now = self.local_now();
        self.node.as_mut().expect("checked above").handle_client(now, connection, event);
        self.after_node_input();
    }

    pub(super) fn server_notices(&mut self, connection: ConnectionId) {
        let now = self.local_now();
        if let Some(node) = self.node.as_mut() {
            self.trace.line(self.queue.now(), &format!("n  notices conn={} gone", connection.0));
            node.handle_client(now, connection, ClientEvent::Disconnected);
            self.after_node_input();
        }
    }

    /// The running fsync completed: report its writes to the node, in order.
    pub(super) fn fsync_done(&mut self) {
        let (tokens, next) = self.disk.complete_fsync(self.queue.now());
        if let Some(at) = next {
            self.queue.schedule(at, Event::Fsync { incarnation: self.incarnation });
        }
        let names: Vec<u64> = tokens.iter().map(|t| t.0).collect();
        self.trace(format!("disk fsync done: tokens {names:?}"));
        if let Some((CrashPoint::AfterFsync, mode)) = self.armed_crash {
            self.armed_crash = None;
            self.crash("after fsync, before the node heard", mode);
            return;
        }
        for token in tokens {
            if self.acked_early.remove(&token) {
                continue;
            }
            let now = self.local_now();
            // An armed crash may strike while the earlier tokens' outputs run.
            let Some(node) = self.node.as_mut() else { return };
            node.handle_persisted(now, token);
            self.check_ephemerals();
            self.after_node_input();
        }
    }

    pub(super) fn node_timer(&mut self) {
        self.timer = None;
        let now = self.local_now();
        let Some(node) = self.node.as_mut() else { return };
        node.handle_timeout(now);
        self.trace.line(self.queue.now(), "n  timer");
        self.check_ephemerals();
        self.after_node_input();
    }

    /// Server side of the ephemerals property, after every input that applies transactions.
    fn check_ephemerals(&mut self) {
        let Some(node) = self.node.as_ref() else { return };
        for violation in ephemerals::check_node(node, self.known_sessions.iter()) {
            self.violation(violation);
        }
    }

    /// After every input: check the node, execute its outputs, re-arm its timer.
    pub(super) fn after_node_input(&mut self) {
        let Some(node) = self.node.as_ref() else { return };
        if let Err(violation) = node_invariants::check(node) {
            self.violation(violation);
        }
        while let Some(output) = self.node.as_mut().and_then(Node::poll_output) {
            self.execute(output);
        }
        self.arm_timer();
    }

    fn execute(&mut self, output: Output) {
        match output {
            Output::Connected { connection, response } => {
                self.send_to_client(connection, ServerMessage::Connected(response))
            }
            Output::Reply { connection, header, response } => {
                self.send_to_client(connection, ServerMessage::Reply(header, response))
            }
            Output::WatchEvent { connection, event, .. } => match self.options.mutant {
                Some(Mutant::DropWatchEvents) if self.rng_faults.chance(0.5) => {}
                Some(Mutant::DuplicateWatchEvents) => {
                    self.send_to_client(connection, ServerMessage::Watch(event.clone()));
                    self.send_to_client(connection, ServerMessage::Watch(event));
                }
                _ => self.send_to_client(connection, ServerMessage::Watch(event)),
            },
            Output::CloseConnection { connection } => self.send_to_client(connection, ServerMessage::Closed),
            Output::Persist { txns, token } => self.persist(txns, token),
            Output::WriteSnapshot { snapshot } => {
                let zxid = snapshot.zxid;
                let (id, at) = self.disk.begin_snapshot(self.queue.now(), zxid, *snapshot);
                self.trace(format!("n  snapshot {id} at {zxid}"));
                self.queue.schedule(at, Event::SnapshotDone { incarnation: self.incarnation, id });
            }
            // This world runs one standalone node, which has no peers and no epochs.
            ensemble @ (Output::Send { .. }
            | Output::PersistEpoch { .. }
            | Output::Truncate { .. }
            | Output::ResetToSnapshot { .. }
            | Output::Restart) => panic!("a standalone node emitted an ensemble output: {ensemble:?}"),
        }
    }

    fn persist(&mut self, txns: Vec<zab_core::txn::Txn>, token: PersistToken) {
        let (first, last) = match (txns.first(), txns.last()) {
            (Some(first), Some(last)) => (first.header.zxid, last.header.zxid),
            _ => panic!("Persist with no transactions (token {})", token.0),
        };
        self.trace(format!("n  persist token={} txns={} zxids={first}..{last}", token.0, txns.len()));
        if let Some(mut at) = self.disk.append(self.queue.now(), token, txns) {
            if let Some(ms) = self.slow_next_fsync_ms.take() {
                at = at.max(self.queue.now() + ms);
            }
            self.queue.schedule(at, Event::Fsync { incarnation: self.incarnation });
        }
        if let Some((CrashPoint::BeforeFsync, mode)) = self.armed_crash {
            self.armed_crash = None;
            self.crash("after a write, before its fsync", mode);
        } else if self.options.mutant == Some(Mutant::AckBeforeFsync) {
            self.acked_early.insert(token);
            let now = self.local_now();
            self.node.as_mut().expect("persisting on a live node").handle_persisted(now, token);
        }
    }

    fn send_to_client(&mut self, connection: ConnectionId, message: ServerMessage) {
        match self.network.send(self.queue.now(), connection, Direction::ToClient) {
            Delivery::At(at) => {
                let early = match (self.options.mutant, &message) {
                    (Some(Mutant::ReorderReplies), ServerMessage::Reply(..)) => self.rng_faults.range(0, 40),
                    _ => 0,
                };
                let at = at.saturating_sub(early).max(self.queue.now());
                self.queue.schedule(at, Event::ToClient(connection, message))
            }
            Delivery::Broken => self.link_broke(connection),
            Delivery::Closed => {}
        }
    }

    /// Arms the node timer at its next deadline (in global time, maybe a little late).
    fn arm_timer(&mut self) {
        let Some(deadline) = self.node.as_ref().and_then(Node::poll_timeout) else { return };
        if self.timer.is_some_and(|(armed, _)| armed == deadline.0) {
            return;
        }
        self.timer_generation += 1;
        self.timer = Some((deadline.0, self.timer_generation));
        let late = self.rng_faults.range(0, self.options.timer_lateness_ms_max);
        let at = self.clock.global(deadline.0) + late;
        let event = Event::NodeTimer { incarnation: self.incarnation, generation: self.timer_generation };
        self.queue.schedule(at, event);
    }

    /// A swarm crash event: crash now, or arm a crash at the next write or fsync.
    pub(super) fn random_crash(&mut self) {
        if self.phase != Phase::Safety {
            return;
        }
        if self.node.is_some() {
            if self.rng_faults.chance(self.options.crash_at_fsync_probability) {
                let point = if self.rng_faults.chance(0.5) { CrashPoint::AfterFsync } else { CrashPoint::BeforeFsync };
                self.trace(format!("fault armed: crash {point:?}"));
                self.armed_crash = Some((point, None));
            } else {
                self.crash("at a random time", None);
            }
        }
        if let Some(mean) = self.options.crash_interval_ms_mean {
            let at = self.queue.now() + self.rng_faults.exponential(mean as f64).max(1);
            self.queue.schedule(at, Event::Crash);
        }
    }

    /// Arms a crash at the next write or fsync (scripts).
    pub fn arm_crash(&mut self, point: CrashPoint, mode: Option<CrashMode>) {
        self.armed_crash = Some((point, mode));
    }

    /// Makes the next fsync take at least `ms` (scripts).
    pub fn slow_next_fsync(&mut self, ms: u64) {
        self.slow_next_fsync_ms = Some(ms);
    }

    /// Crashes the node now (scripts).
    pub fn crash_now(&mut self, mode: Option<CrashMode>) {
        if self.node.is_some() {
            self.crash("on request", mode);
        }
    }

    fn crash(&mut self, why: &str, mode: Option<CrashMode>) {
        let node = self.node.take().expect("crashing a live node");
        let digest = node.tree().digest();
        self.durability.on_applied(node.last_zxid(), digest);
        self.incarnation += 1;
        self.timer = None;
        self.acked_early.clear();
        self.stats.crashes += 1;
        let damage = match mode {
            Some(mode) => self.disk.crash_with(mode),
            None => self.disk.crash(),
        };
        self.trace(format!(
            "n  CRASH {why} at {}: unsynced kept={} torn={} lost={}",
            node.last_zxid(),
            damage.kept,
            damage.torn,
            damage.lost
        ));
        let resets = self.options.crash_resets_connections;
        for connection in self.network.alive_connections() {
            self.network.break_link(connection);
            if resets {
                let at = self.queue.now() + self.network.latency(self.queue.now());
                self.queue.schedule(at, Event::ClientNotices(connection));
            }
        }
        if self.auto_restart {
            let delay = self.rng_faults.exponential(self.options.restart_ms_mean as f64).max(1);
            self.queue.schedule(self.queue.now() + delay, Event::Restart);
        }
    }

    /// Restarts the node from its disk (scripts call it directly; swarm runs schedule it).
    pub fn restart(&mut self) {
        if self.node.is_some() {
            return;
        }
        let recovered = self.disk.recover();
        if recovered.torn_tail {
            self.stats.torn_tails += 1;
        }
        let snapshot_zxid = recovered.snapshot.as_ref().map(|s| s.zxid);
        let records = recovered.log.len();
        let mut log = recovered.log;
        if self.options.mutant == Some(Mutant::RecoverWithoutCloseSession) {
            log.retain(|txn| !matches!(txn.body, zab_core::txn::TxnBody::CloseSession { .. }));
        }
        let durable = DurableState { snapshot: recovered.snapshot, log, ..DurableState::default() };
        let node = Node::new(self.config.clone(), durable, self.local_now(), self.rng_node.next_u64());
        let (zxid, digest) = (node.last_zxid(), node.tree().digest());
        self.trace(format!(
            "n  RESTART at {zxid}: snapshot {snapshot_zxid:?} + {records} log records{}",
            if recovered.torn_tail { ", torn tail dropped" } else { "" }
        ));
        self.node = Some(node);
        for violation in self.durability.on_restart(zxid, digest) {
            self.violation(violation);
        }
        self.check_ephemerals();
        self.after_node_input();
    }
}
