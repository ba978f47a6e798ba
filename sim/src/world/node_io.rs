//! The nodes' side of the world: delivering client input, executing outputs, the disks
//! (fsync completions, snapshots, epochs, truncations, resets), timers, crashes, restarts.

use super::{describe, CrashPoint, Event, Phase, ServerMessage, World};
use crate::checker::{ephemerals, node_invariants};
use crate::client::ClientMessage;
use crate::disk::Write;
use crate::network::{Delivery, Direction};
use crate::options::{CrashMode, Mutant};
use std::net::{IpAddr, Ipv4Addr};
use zab_core::node::{ClientEvent, DurableState, Node, Output};
use zab_core::{ConnectionId, Millis, PersistToken};

impl World {
    /// Server `server`'s local time now.
    pub(super) fn local_now(&self, server: usize) -> Millis {
        Millis(self.servers[server].clock.local(self.queue.now()))
    }

    pub(super) fn deliver_to_server(&mut self, connection: ConnectionId, message: ClientMessage) {
        if !self.network.is_alive(connection) {
            return;
        }
        let (Some(index), Some(server)) = (self.network.client_of(connection), self.network.server_of(connection))
        else {
            return;
        };
        if self.servers[server].node.is_none() {
            // Nobody listens: the connection is refused (reset) and the client hears of it.
            self.trace(format!("n{server} refuses conn={} (down)", connection.0));
            self.network.break_link(connection);
            let at = self.queue.now() + self.network.latency(self.queue.now());
            self.queue.schedule(at, Event::ClientNotices(connection));
            return;
        }
        let event = match message {
            ClientMessage::Connect(request) => {
                self.trace(format!("n{server} <- c{index} conn={} connect", connection.0));
                // Each client has its own address, so `ip` ACLs and per-ip limits see distinct hosts.
                let address = IpAddr::V4(Ipv4Addr::new(10, 0, 0, index as u8 + 1));
                ClientEvent::Connect { request, address }
            }
            ClientMessage::Request(header, request) => {
                self.trace(format!(
                    "n{server} <- c{index} conn={} xid={} {}",
                    connection.0,
                    header.xid,
                    describe::request(&request)
                ));
                ClientEvent::Request { header, request }
            }
            ClientMessage::Close => ClientEvent::Disconnected,
        };
        let now = self.local_now(server);
        self.servers[server].node.as_mut().expect("checked above").handle_client(now, connection, event);
        self.after_node_input(server);
    }

    pub(super) fn server_notices(&mut self, connection: ConnectionId) {
        let Some(server) = self.network.server_of(connection) else { return };
        let now = self.local_now(server);
        if let Some(node) = self.servers[server].node.as_mut() {
            self.trace.line(self.queue.now(), &format!("n{server} notices conn={} gone", connection.0));
            node.handle_client(now, connection, ClientEvent::Disconnected);
            self.after_node_input(server);
        }
    }

    /// The running fsync of `server` completed: report its writes to the node, in order.
    pub(super) fn fsync_done(&mut self, server: usize) {
        let (tokens, next) = self.servers[server].disk.complete_fsync(self.queue.now());
        let incarnation = self.servers[server].incarnation;
        if let Some(at) = next {
            self.queue.schedule(at, Event::Fsync { server, incarnation });
        }
        let names: Vec<u64> = tokens.iter().map(|t| t.0).collect();
        self.trace(format!("n{server} disk fsync done: tokens {names:?}"));
        if let Some((CrashPoint::AfterFsync, mode, target)) = self.armed_crash {
            if target.is_none_or(|t| t == server) {
                self.armed_crash = None;
                self.crash(server, "after fsync, before the node heard", mode);
                return;
            }
        }
        for token in tokens {
            if self.servers[server].acked_early.remove(&token) {
                continue;
            }
            let now = self.local_now(server);
            // An armed crash may strike while the earlier tokens' outputs run.
            if self.servers[server].incarnation != incarnation {
                return;
            }
            let Some(node) = self.servers[server].node.as_mut() else { return };
            node.handle_persisted(now, token);
            self.check_ephemerals(server);
            self.after_node_input(server);
        }
    }

    pub(super) fn node_timer(&mut self, server: usize) {
        self.servers[server].timer = None;
        let now = self.local_now(server);
        let Some(node) = self.servers[server].node.as_mut() else { return };
        node.handle_timeout(now);
        self.trace.line(self.queue.now(), &format!("n{server} timer"));
        self.check_ephemerals(server);
        self.after_node_input(server);
    }

    /// Server side of the ephemerals property, after every input that applies transactions.
    /// An ensemble member is judged only while it serves: a syncing one may hold a stale tree.
    fn check_ephemerals(&mut self, server: usize) {
        let Some(node) = self.servers[server].node.as_ref() else { return };
        if self.is_ensemble() && !node.is_serving() {
            return;
        }
        for violation in ephemerals::check_node(node, self.known_sessions.iter()) {
            self.violation(violation);
        }
    }

    /// After every input: check the node, execute its outputs, re-arm its timer.
    pub(super) fn after_node_input(&mut self, server: usize) {
        let Some(node) = self.servers[server].node.as_ref() else { return };
        if let Err(violation) = node_invariants::check(node) {
            self.violation(violation);
        }
        let incarnation = self.servers[server].incarnation;
        let mut restart = false;
        while let Some(output) = self.servers[server].node.as_mut().and_then(Node::poll_output) {
            if matches!(output, Output::Restart) {
                restart = true;
                break;
            }
            self.execute(server, output);
            if self.servers[server].incarnation != incarnation {
                return; // an armed crash struck
            }
        }
        if self.is_ensemble() {
            self.check_replica(server);
            self.observe_server(server);
        }
        if restart {
            self.rebuild(server);
            return;
        }
        self.arm_timer(server);
    }

    fn execute(&mut self, server: usize, output: Output) {
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
            Output::Persist { txns, token } => {
                let (first, last) = match (txns.first(), txns.last()) {
                    (Some(first), Some(last)) => (first.header.zxid, last.header.zxid),
                    _ => panic!("Persist with no transactions (token {})", token.0),
                };
                let line = format!("n{server} persist token={} txns={} zxids={first}..{last}", token.0, txns.len());
                self.durable_write(server, line, Write::Log(txns), token)
            }
            Output::PersistEpoch { accepted, current, token } => {
                let line =
                    format!("n{server} persist epochs accepted={accepted:?} current={current:?} token={}", token.0);
                self.durable_write(server, line, Write::Epoch { accepted, current }, token)
            }
            Output::Truncate { after, token } => {
                self.stats.truncations += 1;
                let line = format!("n{server} truncate after {after} token={}", token.0);
                let write = match self.options.mutant {
                    Some(Mutant::IgnoreTruncate) => Write::Log(Vec::new()),
                    _ => Write::Truncate(after),
                };
                self.durable_write(server, line, write, token)
            }
            Output::ResetToSnapshot { snapshot, token } => {
                self.stats.snap_syncs += 1;
                let line = format!("n{server} reset to snapshot at {} token={}", snapshot.zxid, token.0);
                self.durable_write(server, line, Write::Reset(snapshot.zxid, *snapshot), token)
            }
            Output::WriteSnapshot { snapshot } => {
                let zxid = snapshot.zxid;
                let (id, at) = self.servers[server].disk.begin_snapshot(self.queue.now(), zxid, *snapshot);
                self.trace(format!("n{server} snapshot {id} at {zxid}"));
                let incarnation = self.servers[server].incarnation;
                self.queue.schedule(at, Event::SnapshotDone { server, incarnation, id });
            }
            Output::Send { to, message } => self.peer_send(server, to, message),
            Output::ClosePeer { peer } => self.close_quorum_link(server, peer),
            Output::Restart => unreachable!("handled by after_node_input"),
        }
    }

    /// Hands one durable write to the disk; an armed crash may strike right after it.
    fn durable_write(
        &mut self,
        server: usize,
        line: String,
        write: Write<zab_core::node::Snapshot>,
        token: PersistToken,
    ) {
        self.trace(line);
        let now = self.queue.now();
        let current_epoch = matches!(write, Write::Epoch { current: Some(_), .. });
        if let Some(mut at) = self.servers[server].disk.write(now, token, write) {
            if let Some((ms, target)) = self.slow_next_fsync_ms {
                if target.is_none_or(|t| t == server) {
                    self.slow_next_fsync_ms = None;
                    at = at.max(now + ms);
                }
            }
            let incarnation = self.servers[server].incarnation;
            self.queue.schedule(at, Event::Fsync { server, incarnation });
        }
        if let Some((point, mode, target)) = self.armed_crash {
            let strikes = match point {
                CrashPoint::BeforeFsync => true,
                CrashPoint::BeforeCurrentEpochFsync => current_epoch,
                CrashPoint::AfterFsync => false,
            };
            if strikes && target.is_none_or(|t| t == server) {
                self.armed_crash = None;
                self.crash(server, "after a write, before its fsync", mode);
                return;
            }
        }
        if self.options.mutant == Some(Mutant::AckBeforeFsync) {
            self.servers[server].acked_early.insert(token);
            let now = self.local_now(server);
            self.servers[server].node.as_mut().expect("persisting on a live node").handle_persisted(now, token);
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
    fn arm_timer(&mut self, server: usize) {
        let s = &self.servers[server];
        let Some(deadline) = s.node.as_ref().and_then(Node::poll_timeout) else { return };
        if s.timer.is_some_and(|(armed, _)| armed == deadline.0) {
            return;
        }
        let late = self.rng_faults.range(0, self.options.timer_lateness_ms_max);
        let s = &mut self.servers[server];
        s.timer_generation += 1;
        s.timer = Some((deadline.0, s.timer_generation));
        let at = s.clock.global(deadline.0) + late;
        let event = Event::NodeTimer { server, incarnation: s.incarnation, generation: s.timer_generation };
        self.queue.schedule(at, event);
    }

    /// A swarm crash event: crash one server now, or arm a crash at its next write or fsync.
    pub(super) fn random_crash(&mut self) {
        if self.phase != Phase::Safety {
            return;
        }
        let server = self.rng_faults.range(0, self.servers.len() as u64 - 1) as usize;
        if self.servers[server].node.is_some() && !self.crashes_held() {
            if self.rng_faults.chance(self.options.crash_at_fsync_probability) {
                let point = if self.rng_faults.chance(0.5) { CrashPoint::AfterFsync } else { CrashPoint::BeforeFsync };
                self.trace(format!("fault armed: crash n{server} {point:?}"));
                self.armed_crash = Some((point, None, Some(server)));
            } else {
                self.crash(server, "at a random time", None);
            }
        }
        if let Some(mean) = self.options.crash_interval_ms_mean {
            let at = self.queue.now() + self.rng_faults.exponential(mean as f64).max(1);
            self.queue.schedule(at, Event::Crash);
        }
    }

    /// Arms a crash at the next write or fsync of any server (scripts).
    pub fn arm_crash(&mut self, point: CrashPoint, mode: Option<CrashMode>) {
        self.armed_crash = Some((point, mode, None));
    }

    /// Arms a crash at the next write or fsync of server `server` (scripts).
    pub fn arm_crash_on(&mut self, server: usize, point: CrashPoint, mode: Option<CrashMode>) {
        self.armed_crash = Some((point, mode, Some(server)));
    }

    /// Makes the next fsync take at least `ms` (scripts).
    pub fn slow_next_fsync(&mut self, ms: u64) {
        self.slow_next_fsync_ms = Some((ms, None));
    }

    /// Makes the next fsync of server `server` take at least `ms` (scripts).
    pub fn slow_next_fsync_on(&mut self, server: usize, ms: u64) {
        self.slow_next_fsync_ms = Some((ms, Some(server)));
    }

    /// Crashes the first server now (scripts).
    pub fn crash_now(&mut self, mode: Option<CrashMode>) {
        self.crash_server_now(0, mode);
    }

    /// Crashes server `server` now (scripts).
    pub fn crash_server_now(&mut self, server: usize, mode: Option<CrashMode>) {
        if self.servers[server].node.is_some() {
            self.crash(server, "on request", mode);
        }
    }

    fn crash(&mut self, server: usize, why: &str, mode: Option<CrashMode>) {
        if self.is_ensemble() {
            // What it committed durably is compared with the others before it is gone.
            self.check_committed(server);
        }
        let s = &mut self.servers[server];
        let node = s.node.take().expect("crashing a live node");
        let digest = node.tree().digest();
        s.durability.on_applied(node.last_zxid(), digest);
        s.incarnation += 1;
        s.timer = None;
        s.acked_early.clear();
        self.stats.crashes += 1;
        let damage = match mode {
            Some(mode) => s.disk.crash_with(mode),
            None => s.disk.crash(),
        };
        self.trace(format!(
            "n{server} CRASH {why} at {}: unsynced kept={} torn={} lost={}",
            node.last_zxid(),
            damage.kept,
            damage.torn,
            damage.lost
        ));
        self.drop_connections_of(server, self.options.crash_resets_connections);
        self.maybe_rot(server);
        if self.auto_restart {
            let delay = self.rng_faults.exponential(self.options.restart_ms_mean as f64).max(1);
            self.queue.schedule(self.queue.now() + delay, Event::Restart(server));
        }
    }

    /// Bit rot on the disk of `server`, just crashed, if the run drew it. Losing a replica's
    /// disk can lose committed writes in ZAB when the copies elsewhere are missing, and lets
    /// an epoch be chosen twice (a new leader picks one above the acceptedEpoch of its
    /// quorum, and the wiped replica forgot its own), so rot strikes at most once per run,
    /// only while every other replica is up and holds durably at least the transactions and
    /// epochs this one held, and no random crash strikes until it serves again.
    fn maybe_rot(&mut self, server: usize) {
        if !self.options.synced_corruption || self.rot_used || self.phase != Phase::Safety {
            return;
        }
        let disk = &self.servers[server].disk;
        let (held, epochs) = (disk.durable_zxid(), disk.epochs());
        let others_hold = (0..self.servers.len()).filter(|&other| other != server).all(|other| {
            let disk = &self.servers[other].disk;
            let (accepted, current) = disk.epochs();
            self.servers[other].node.is_some()
                && disk.durable_zxid() >= held
                && accepted >= epochs.0
                && current >= epochs.1
        });
        if !others_hold {
            return;
        }
        if let Some(what) = self.servers[server].disk.rot() {
            self.rot_used = true;
            self.rotted = Some(server);
            self.armed_crash = None;
            self.trace(format!("fault: bit rot on n{server}'s disk: {what}"));
        }
    }

    /// Whether random crashes wait: a replica restarted from a wiped disk is still resyncing.
    fn crashes_held(&mut self) -> bool {
        let Some(server) = self.rotted else { return false };
        if self.servers[server].node.as_ref().is_some_and(|node| node.is_serving()) {
            self.rotted = None;
            return false;
        }
        true
    }

    /// The process of `server` is gone: its client connections and peer links die.
    fn drop_connections_of(&mut self, server: usize, resets: bool) {
        for connection in self.network.alive_connections_to(server) {
            self.network.break_link(connection);
            if resets {
                let at = self.queue.now() + self.network.latency(self.queue.now());
                self.queue.schedule(at, Event::ClientNotices(connection));
            }
        }
        self.break_peer_links_of(server);
    }

    /// `Output::Restart`: the process reloads its database from disk. Nothing is lost (the
    /// page cache survives a process restart), but its connections and links are gone.
    fn rebuild(&mut self, server: usize) {
        self.stats.rebuilds += 1;
        let s = &mut self.servers[server];
        s.node = None;
        s.incarnation += 1;
        s.timer = None;
        s.acked_early.clear();
        s.disk.process_exit();
        self.trace(format!("n{server} REBUILD from disk (Output::Restart)"));
        if self.servers[server].observed.serving {
            self.server_event(server, crate::checker::availability::ServerEvent::StoppedServing);
        }
        self.drop_connections_of(server, true);
        self.restart_server(server);
    }

    /// Restarts the first server from its disk (scripts).
    pub fn restart(&mut self) {
        self.restart_server(0);
    }

    /// Restarts server `server` from its disk (scripts call it directly; swarm runs schedule it).
    pub fn restart_server(&mut self, server: usize) {
        if self.servers[server].node.is_some() {
            return;
        }
        if let Some(corruption) = self.servers[server].disk.corruption() {
            // A real log reader refuses a corrupt middle record; the replica must not serve
            // from what is left, so its data directory goes and it resyncs from the leader.
            self.trace(format!("n{server} refuses its disk ({corruption}): wiped, starts empty"));
            let s = &mut self.servers[server];
            s.disk.wipe();
            s.committed_checked = zab_core::Zxid::ZERO;
            s.digest_checked = zab_core::Zxid::ZERO;
        }
        let recovered = self.servers[server].disk.recover();
        if recovered.torn_tail {
            self.stats.torn_tails += 1;
        }
        let snapshot_zxid = recovered.snapshot.as_ref().map(|s| s.zxid);
        let records = recovered.log.len();
        let mut log = recovered.log;
        if self.options.mutant == Some(Mutant::RecoverWithoutCloseSession) {
            log.retain(|txn| !matches!(txn.body, zab_core::txn::TxnBody::CloseSession { .. }));
        }
        let durable = DurableState {
            snapshot: recovered.snapshot,
            log,
            epoch_accepted: recovered.epoch_accepted,
            epoch_current: recovered.epoch_current,
        };
        let now = self.local_now(server);
        let s = &mut self.servers[server];
        let node = Node::new(s.config.clone(), durable, now, s.rng_node.next_u64());
        let (zxid, digest) = (node.last_zxid(), node.tree().digest());
        self.trace(format!(
            "n{server} RESTART at {zxid}: snapshot {snapshot_zxid:?} + {records} log records, epochs {:?}/{:?}{}",
            recovered.epoch_accepted,
            recovered.epoch_current,
            if recovered.torn_tail { ", torn tail dropped" } else { "" }
        ));
        self.servers[server].node = Some(node);
        self.servers[server].observed = super::quiet::Observed::fresh();
        self.tell_wall_clock(server);
        if !self.is_ensemble() {
            for violation in self.servers[server].durability.on_restart(zxid, digest) {
                self.violation(violation);
            }
        }
        self.check_ephemerals(server);
        self.after_node_input(server);
    }
}
