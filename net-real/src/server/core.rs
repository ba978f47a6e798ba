//! The core task: owns the [`Node`], feeds it inputs with the wall clock, and executes its
//! outputs: frames to connection writers, batches to the persister, closes.

use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use zab_core::node::ReplicaState;
use zab_core::proto::{encode_connect_response, encode_reply, encode_watch_event, frame, op};
use zab_core::{ClientEvent, ConnectionId, Node, Output, PersistToken};

use super::four_letter::{answer, ConnectionView, ServerView, SessionView};
use super::messages::{CoreInput, PeerCommand, PeerInput};
use super::persist::{PersistCommand, PersistEvent};
use super::{now_millis, wall_clock_millis, ServerError};
use crate::config::ServerConfig;

/// What the driver knows about a connection that the node does not.
#[derive(Debug)]
struct ConnectionState {
    address: SocketAddr,
    writer: mpsc::Sender<Vec<u8>>,
    received: u64,
    sent: u64,
    /// Requests awaiting their reply, in order: (received at, opcode). Replies are FIFO.
    waiting: VecDeque<(u64, i32)>,
    established_ms: u64,
    last_op: &'static str,
    last_cxid: i32,
    last_zxid: i64,
    last_response_ms: u64,
    last_latency_ms: u64,
    latency: (u64, u64, u64, u64),
}

impl ConnectionState {
    fn new(address: SocketAddr, writer: mpsc::Sender<Vec<u8>>) -> ConnectionState {
        ConnectionState {
            address,
            writer,
            received: 0,
            sent: 0,
            waiting: VecDeque::new(),
            established_ms: 0,
            last_op: "NA",
            last_cxid: 0,
            last_zxid: 0,
            last_response_ms: 0,
            last_latency_ms: 0,
            latency: (0, 0, 0, 0),
        }
    }

    fn reset_stats(&mut self) {
        self.received = 0;
        self.sent = 0;
        self.last_op = "NA";
        self.last_cxid = 0;
        self.last_zxid = 0;
        self.last_response_ms = 0;
        self.last_latency_ms = 0;
        self.latency = (0, 0, 0, 0);
    }

    /// Counts a reply; returns its operation and latency when it answered a request.
    fn record_reply(&mut self, now_ms: u64, zxid: i64) -> Option<(&'static str, u64)> {
        self.sent += 1;
        self.last_zxid = zxid;
        self.last_response_ms = now_ms;
        let (received_ms, opcode) = self.waiting.pop_front()?;
        let latency = now_ms.saturating_sub(received_ms);
        self.last_op = op_abbreviation(opcode);
        self.last_latency_ms = latency;
        let (min, max, total, count) = self.latency;
        let min = if count == 0 { latency } else { min.min(latency) };
        self.latency = (min, max.max(latency), total + latency, count + 1);
        Some((self.last_op, latency))
    }
}

/// ZooKeeper's abbreviations of operations in `cons` (`lop=`).
pub fn op_abbreviation(opcode: i32) -> &'static str {
    match opcode {
        op::CREATE | op::CREATE2 | op::CREATE_CONTAINER | op::CREATE_TTL => "CREA",
        op::DELETE => "DELE",
        op::EXISTS => "EXIS",
        op::GET_DATA => "GETD",
        op::SET_DATA => "SETD",
        op::GET_ACL => "GACL",
        op::SET_ACL => "SACL",
        op::GET_CHILDREN | op::GET_CHILDREN2 => "GETC",
        op::SYNC => "SYNC",
        op::PING => "PING",
        op::CHECK => "CHEC",
        op::MULTI => "MULT",
        op::MULTI_READ => "MLTR",
        op::SET_WATCHES | op::SET_WATCHES2 => "SETW",
        op::CLOSE_SESSION => "CLOS",
        _ => "NA",
    }
}

/// The core task's state.
pub struct Core {
    node: Node,
    config: ServerConfig,
    connections: BTreeMap<ConnectionId, ConnectionState>,
    persister: mpsc::Sender<PersistCommand>,
    paused: watch::Sender<bool>,
    started_ms: u64,
    /// The peer links (ensembles only).
    peers: Option<mpsc::UnboundedSender<PeerInput>>,
    /// The replica state after the last round, logged when it changes.
    replica: ReplicaState,
    /// When it last changed (ms since the epoch), for the web view's "last election".
    replica_since_ms: u64,
    /// Request latency by operation, for `/metrics`.
    request_latencies: crate::admin::metrics::RequestLatencies,
    /// Syncs and latencies seen in the node's outputs, for `mntr` and `/metrics`.
    observed: crate::admin::observed::Observed,
    /// After `Output::Restart`: waiting for the persister's reload; tokens of the old node
    /// still in flight are dropped.
    restarting: bool,
}

/// Whether this is the deliberately broken runtime (feature `broken-reply-before-persist`,
/// never in the zab binary's default build): it reports `Persist` outputs durable as soon as
/// they are queued, so the madsim tier can show it catches a reply sent before its fsync.
pub const BROKEN_REPLY_BEFORE_PERSIST: bool = cfg!(feature = "broken-reply-before-persist");

impl Core {
    /// A core over a recovered node.
    pub fn new(
        node: Node,
        config: ServerConfig,
        persister: mpsc::Sender<PersistCommand>,
        paused: watch::Sender<bool>,
    ) -> Core {
        let replica = node.replica_state();
        Core {
            node,
            config,
            connections: BTreeMap::new(),
            persister,
            paused,
            started_ms: now_millis().0,
            peers: None,
            replica,
            replica_since_ms: wall_clock_millis().max(0) as u64,
            request_latencies: Default::default(),
            observed: Default::default(),
            restarting: false,
        }
    }

    /// Connects the core to the peer links (an ensemble member).
    pub fn with_peers(mut self, peers: Option<mpsc::UnboundedSender<PeerInput>>) -> Core {
        self.peers = peers;
        self
    }

    /// Runs until `shutdown` completes (then syncs the log) or storage fails.
    pub async fn run(
        mut self,
        mut inputs: mpsc::Receiver<CoreInput>,
        mut persisted: mpsc::UnboundedReceiver<PersistEvent>,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), ServerError> {
        tokio::pin!(shutdown);
        let purge_hours = u64::from(self.config.purge_interval_hours);
        let purge_period = Duration::from_secs(3600 * purge_hours.max(1));
        let mut purge_timer = tokio::time::interval_at(tokio::time::Instant::now() + purge_period, purge_period);
        loop {
            self.sync_wall_clock();
            let sleep = self.sleep_until_deadline();
            tokio::select! {
                biased;
                _ = &mut shutdown => break,
                event = persisted.recv() => match event {
                    Some(PersistEvent::Persisted(_)) if self.restarting || BROKEN_REPLY_BEFORE_PERSIST => {}
                    Some(PersistEvent::Persisted(tokens)) => {
                        for token in tokens {
                            self.observed.on_persisted(now_millis().0, token);
                            self.node.handle_persisted(now_millis(), token);
                        }
                    }
                    Some(PersistEvent::Reloaded(durable)) => self.restart(*durable),
                    Some(PersistEvent::Failed(error)) => return Err(ServerError::Storage(error)),
                    None => return Err(ServerError::PersisterGone),
                },
                input = inputs.recv() => match input {
                    Some(input) => self.on_input(input),
                    None => break,
                },
                _ = sleep => {
                    self.sync_wall_clock();
                    self.node.handle_timeout(now_millis());
                }
                _ = purge_timer.tick(), if purge_hours > 0 => self.send_persister(PersistCommand::Purge).await?,
            }
            // Under a steady stream of inputs the sleep branch may never win the select: check
            // the deadline here too, so sessions still expire on time.
            let now = now_millis();
            if self.node.poll_timeout().is_some_and(|deadline| now >= deadline) {
                self.node.handle_timeout(now);
            }
            self.execute_outputs().await?;
            self.log_replica_state();
            let over = self.node.outstanding_requests() > self.config.global_outstanding_limit as usize;
            self.paused.send_if_modified(|paused| std::mem::replace(paused, over) != over);
        }
        self.shutdown().await
    }

    /// Rebuilds the node from the reloaded durable state. Client connections belonged to
    /// the old node: they are closed (their clients reconnect).
    fn restart(&mut self, durable: zab_core::DurableState) {
        tracing::info!("restarting the node from disk");
        self.connections.clear();
        self.observed.forget_in_flight();
        self.node = super::build_node(&self.config, durable, now_millis());
        self.restarting = false;
    }

    /// Logs the replica state when it changes (operators and the soak read these lines).
    fn log_replica_state(&mut self) {
        let replica = self.node.replica_state();
        if replica != self.replica {
            tracing::info!(?replica, "replica state");
            self.replica = replica;
            self.replica_since_ms = wall_clock_millis().max(0) as u64;
        }
    }

    fn sleep_until_deadline(&self) -> tokio::time::Sleep {
        let wait_ms = match self.node.poll_timeout() {
            Some(deadline) => deadline.0.saturating_sub(now_millis().0),
            None => 3_600_000,
        };
        tokio::time::sleep(Duration::from_millis(wait_ms))
    }

    async fn shutdown(self) -> Result<(), ServerError> {
        let (answer, answered) = oneshot::channel();
        self.send_persister(PersistCommand::Shutdown(answer)).await?;
        match answered.await {
            Ok(result) => result.map_err(ServerError::Storage),
            Err(_) => Err(ServerError::PersisterGone),
        }
    }

    async fn send_persister(&self, command: PersistCommand) -> Result<(), ServerError> {
        self.persister.send(command).await.map_err(|_| ServerError::PersisterGone)
    }

    /// Tells the node the wall clock: it may have stepped since the last input. Timers use
    /// [`now_millis`], which never steps; only ctime/mtime and the TTL sweep see the step.
    fn sync_wall_clock(&mut self) {
        self.node.set_wall_clock(now_millis(), wall_clock_millis());
    }

    fn on_input(&mut self, input: CoreInput) {
        self.sync_wall_clock();
        let now = now_millis();
        match input {
            CoreInput::Connect { connection, address, writer, request } => {
                let mut state = ConnectionState::new(address, writer);
                state.received = 1;
                self.connections.insert(connection, state);
                let event = ClientEvent::Connect { request, address: address.ip() };
                self.node.handle_client(now, connection, event);
            }
            CoreInput::Client { connection, event } => {
                if let Some(state) = self.connections.get_mut(&connection) {
                    if let ClientEvent::Request { header, .. } | ClientEvent::Undecodable { header, .. } = &event {
                        state.received += 1;
                        state.last_cxid = header.xid;
                        state.waiting.push_back((now.0, header.op));
                    }
                }
                if event == ClientEvent::Disconnected {
                    self.connections.remove(&connection);
                }
                self.node.handle_client(now, connection, event);
            }
            CoreInput::FourLetter { word, address, answer: reply } => {
                let _ = reply.send(self.four_letter_word(word, address));
            }
            CoreInput::Admin { request, answer } => {
                let _ = answer.send(self.admin_request(&request));
            }
            CoreInput::Peer { from, message } => self.node.handle_peer_message(now, from, message),
            CoreInput::PeerDisconnected { peer } => self.node.handle_peer_disconnected(now, peer),
        }
    }

    /// Executes every pending output, in order. A connection whose writer queue is full or
    /// gone is disconnected, which may give the node more to say: loop until it is quiet.
    async fn execute_outputs(&mut self) -> Result<(), ServerError> {
        loop {
            let failed = self.drain_outputs().await?;
            if failed.is_empty() {
                return Ok(());
            }
            for connection in failed {
                if self.connections.remove(&connection).is_some() {
                    tracing::warn!(?connection, "closing a connection that does not read its replies");
                    self.node.handle_client(now_millis(), connection, ClientEvent::Disconnected);
                }
            }
        }
    }

    /// Executes outputs until none is left; returns the connections whose frames could not be queued.
    async fn drain_outputs(&mut self) -> Result<Vec<ConnectionId>, ServerError> {
        let now_ms = now_millis().0;
        let mut failed = Vec::new();
        while let Some(output) = self.node.poll_output() {
            let (connection, payload) = match output {
                Output::Connected { connection, response } => {
                    if let Some(state) = self.connections.get_mut(&connection) {
                        state.sent += 1;
                        state.established_ms = now_ms;
                    }
                    (connection, encode_connect_response(&response))
                }
                Output::Reply { connection, header, response } => {
                    if let Some(state) = self.connections.get_mut(&connection) {
                        if let Some((op, latency)) = state.record_reply(now_ms, header.zxid.0) {
                            self.request_latencies.entry(op).or_default().record(latency);
                        }
                    }
                    (connection, encode_reply(&header, &response))
                }
                Output::WatchEvent { connection, zxid, event } => {
                    if let Some(state) = self.connections.get_mut(&connection) {
                        state.sent += 1;
                    }
                    (connection, encode_watch_event(zxid, &event))
                }
                Output::Persist { txns, token } => {
                    self.observed.on_persist_queued(now_ms, token);
                    self.send_persister(PersistCommand::Append { txns, token }).await?;
                    self.queued_to_persister(token);
                    continue;
                }
                Output::WriteSnapshot { snapshot } => {
                    self.send_persister(PersistCommand::Snapshot(snapshot)).await?;
                    continue;
                }
                Output::CloseConnection { connection } => {
                    // Dropping the sender lets the writer send what is queued, then close.
                    self.connections.remove(&connection);
                    continue;
                }
                Output::Send { to, message } => {
                    self.observed.on_send(now_ms, &message);
                    self.command_peers(PeerCommand::Send { to, message });
                    continue;
                }
                Output::ClosePeer { peer } => {
                    self.command_peers(PeerCommand::CloseQuorum(peer));
                    continue;
                }
                Output::PersistEpoch { accepted, current, token } => {
                    self.send_persister(PersistCommand::Epoch { accepted, current, token }).await?;
                    self.queued_to_persister(token);
                    continue;
                }
                Output::Truncate { after, token } => {
                    // Apache's learner logs its TRUNC too; operators (and the interop tests)
                    // tell TRUNC from DIFF and SNAP by this line.
                    tracing::info!("Truncating log to get in sync with the leader {after}");
                    self.send_persister(PersistCommand::Truncate { after, token }).await?;
                    self.queued_to_persister(token);
                    continue;
                }
                Output::ResetToSnapshot { snapshot, token } => {
                    self.send_persister(PersistCommand::Reset { snapshot, token }).await?;
                    self.queued_to_persister(token);
                    continue;
                }
                Output::Restart => {
                    // Everything polled before is already queued to the persister, in order.
                    self.restarting = true;
                    self.send_persister(PersistCommand::Reload).await?;
                    continue;
                }
            };
            let Some(state) = self.connections.get(&connection) else { continue };
            if state.writer.try_send(frame(payload)).is_err() {
                failed.push(connection);
            }
        }
        Ok(failed)
    }

    fn command_peers(&self, command: PeerCommand) {
        if let Some(peers) = &self.peers {
            let _ = peers.send(PeerInput::Command(command));
        }
    }

    /// A token-bearing command is queued to the persister. The correct runtime waits for the
    /// persister's report; the deliberately broken one tells the node at once (every token,
    /// so they stay in order), so its replies and ACKs may leave before the fsync.
    fn queued_to_persister(&mut self, token: PersistToken) {
        if BROKEN_REPLY_BEFORE_PERSIST {
            self.node.handle_persisted(now_millis(), token);
        }
    }

    fn four_letter_word(&mut self, word: &str, address: SocketAddr) -> Option<String> {
        match word {
            "crst" => self.reset(crate::admin::Reset::Connections),
            "srst" => self.reset(crate::admin::Reset::Server),
            _ => {}
        }
        let asking = ConnectionView { address, queued: 0, received: 1, sent: 0, session: None };
        answer(word, &self.server_view(Some(asking)))
    }

    fn reset(&mut self, reset: crate::admin::Reset) {
        match reset {
            crate::admin::Reset::Connections => self.connections.values_mut().for_each(ConnectionState::reset_stats),
            crate::admin::Reset::Server => {
                self.node.reset_stats();
                self.request_latencies.clear();
                self.observed.reset();
            }
        }
    }

    /// Answers the AdminServer (reads only, apart from the resets `crst`/`srst` ask for).
    fn admin_request(&mut self, request: &crate::admin::AdminRequest) -> crate::admin::AdminAnswer {
        if let Some(reset) = request.reset() {
            self.reset(reset);
        }
        crate::admin::answer(request, &self.server_view(None))
    }

    /// What the four-letter words and the AdminServer print; `asking` is a four-letter word's
    /// own connection (ZooKeeper lists it too).
    fn server_view(&self, asking: Option<ConnectionView>) -> ServerView<'_> {
        let dirs = self.config.storage_dirs();
        let mut connections: Vec<ConnectionView> =
            self.connections.iter().map(|(id, c)| self.view_of(*id, c)).collect();
        connections.extend(asking);
        ServerView {
            node: &self.node,
            config: &self.config,
            connections,
            now_ms: now_millis().0,
            started_ms: self.started_ms,
            data_dir_size: directory_size(&dirs.snap_dir()),
            data_log_size: directory_size(&dirs.log_dir()),
            open_file_descriptors: std::fs::read_dir("/proc/self/fd").ok().map(|d| d.count() as u64),
            max_file_descriptors: max_open_files(),
            replica_since_ms: self.replica_since_ms,
            learners: self.node.learner_views(now_millis()),
            last_snapshot: newest_snapshot(&dirs.snap_dir()),
            request_latencies: self.request_latencies.clone(),
            observed: self.observed.counts().clone(),
        }
    }

    fn view_of(&self, connection: ConnectionId, state: &ConnectionState) -> ConnectionView {
        let session = self.node.connection_session(connection).map(|id| {
            let (min, max, total, count) = state.latency;
            SessionView {
                id,
                last_op: state.last_op,
                established_ms: state.established_ms,
                timeout_ms: self.node.sessions().timeout_ms(id).unwrap_or(0),
                last_cxid: state.last_cxid,
                last_zxid: state.last_zxid,
                last_response_ms: state.last_response_ms,
                last_latency_ms: state.last_latency_ms,
                latency_ms: (min, total.checked_div(count).unwrap_or(0), max),
            }
        });
        let queued = state.waiting.len() as u64;
        ConnectionView { address: state.address, queued, received: state.received, sent: state.sent, session }
    }
}

/// Bytes in the regular files of `dir` (0 when it cannot be read).
pub fn directory_size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries.filter_map(Result::ok).filter_map(|e| e.metadata().ok()).filter(|m| m.is_file()).map(|m| m.len()).sum()
}

/// The newest `snapshot.<hex zxid>` in `dir`: its zxid and modification time in seconds.
fn newest_snapshot(dir: &Path) -> Option<(i64, i64)> {
    let entries = std::fs::read_dir(dir).ok()?;
    let snapshots = entries.filter_map(Result::ok).filter_map(|entry| {
        let name = entry.file_name().into_string().ok()?;
        let zxid = i64::from_str_radix(name.strip_prefix("snapshot.")?, 16).ok()?;
        let modified = entry.metadata().ok()?.modified().ok()?;
        let seconds = modified.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs() as i64;
        Some((zxid, seconds))
    });
    snapshots.max_by_key(|(zxid, _)| *zxid)
}

/// The soft limit on open files, from `/proc/self/limits`.
fn max_open_files() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..].split_whitespace().next()?.parse().ok()
}
