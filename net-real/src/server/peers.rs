//! The ensemble's links between servers: election connections (port 3888) and quorum
//! connections (port 2888), carrying [`PeerMessage`]s between the core tasks.
//!
//! ```text
//!  core task ──PeerInput::Command──> manager ──> election link task (one per peer) ──> TCP 3888
//!            <──CoreInput::Peer───── link tasks (readers)          quorum link task ──> TCP 2888
//! ```
//!
//! Election: ZooKeeper's rule, that only a connection initiated by the higher server id
//! survives, is kept by dialing only lower ids (with backoff, forever) and closing any
//! connection a lower id initiates; that server dials back, so every pair ends up with the
//! one connection the rule allows, also with Apache servers. A notification for a higher id
//! without a link knocks (a connection closed after the handshake) to ask it to dial back. The initiator sends the V1
//! handshake (`-65536`, id, `host:port`) as 3.8 does. Notifications queued while a peer is
//! unreachable are cut to the newest on (re)connection, as ZooKeeper's one-slot send queue does.
//!
//! Quorum: one connection per pair of servers, opened on demand. Sending a quorum message to
//! a peer without a link dials its quorum port (a learner's FOLLOWERINFO to its leader);
//! an accepted connection is named by its first packet, FOLLOWERINFO or OBSERVERINFO, whose
//! `LearnerInfo` carries the learner's id. Registration and commands go through one channel,
//! so the core's answer to that first packet always finds the link. A broken link is
//! reported to the core ([`CoreInput::PeerDisconnected`]); the core closes links itself when
//! its node leaves the role they served ([`PeerCommand::CloseQuorum`]). Generations tell a
//! replaced link's late close from the current link's.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use zab_core::quorum::{
    decode_election_frame, encode_election_frame, ElectionHandshake, Notification, QuorumLimits, QuorumMessage,
    QuorumPacket, WireDatabase,
};
use zab_core::{PeerMessage, ServerId};

use super::messages::{split_stream, CoreInput, PeerCommand, PeerInput};

/// Reconnection backoff bounds for election links.
const DIAL_BACKOFF_MS_MIN: u64 = 50;
/// The longest wait between two dials of an unreachable peer.
const DIAL_BACKOFF_MS_MAX: u64 = 1_000;
/// How long a knock on a higher id's election port may take to connect (`cnxTimeout` is 5 s).
const KNOCK_TIMEOUT: Duration = Duration::from_secs(5);
/// Dials of a quorum port before the link is reported broken.
const QUORUM_DIAL_ATTEMPTS_MAX: u32 = 10;
/// Whether this is the deliberately broken runtime (feature `broken-link-lifetime`, never in
/// the zab binary's build): a deadline covers an accepted quorum link's whole life again, so a
/// healthy link closes [`BROKEN_LINK_LIFETIME_MAX`] after it was accepted (the bug 802fbe6
/// fixed). The madsim tier's quiet phase must catch it.
pub const BROKEN_LINK_LIFETIME: bool = cfg!(feature = "broken-link-lifetime");
/// How long the broken runtime lets an accepted quorum link live (the old 10 s deadline).
pub const BROKEN_LINK_LIFETIME_MAX: Duration = Duration::from_secs(10);
/// Bytes read per call.
const READ_CHUNK: usize = 64 * 1024;

/// How long an accepted connection may take to name itself; the core decides both
/// ([`zab_core::node::Config::quorum_first_packet_timeout_ms`],
/// [`zab_core::node::Config::election_handshake_timeout_ms`]).
#[derive(Clone, Copy, Debug)]
pub struct Deadlines {
    /// For an accepted quorum connection's FOLLOWERINFO or OBSERVERINFO.
    pub quorum_first_packet: Duration,
    /// For an accepted election connection's handshake.
    pub election_handshake: Duration,
}

impl Deadlines {
    /// The core's deadlines for this configuration.
    pub fn of(config: &zab_core::node::Config) -> Deadlines {
        Deadlines {
            quorum_first_packet: Duration::from_millis(config.quorum_first_packet_timeout_ms()),
            election_handshake: Duration::from_millis(config.election_handshake_timeout_ms()),
        }
    }
}

/// Where a peer listens.
#[derive(Clone, Debug)]
pub struct PeerAddress {
    /// `host:quorumPort`.
    pub quorum: String,
    /// `host:electionPort`.
    pub election: String,
}

/// Everything the link tasks share.
struct Context {
    me: ServerId,
    my_election: String,
    peers: BTreeMap<ServerId, PeerAddress>,
    core: mpsc::Sender<CoreInput>,
    manager: mpsc::UnboundedSender<PeerInput>,
    generations: AtomicU64,
    deadlines: Deadlines,
    /// This server's `jute.maxbuffer`, which caps what its quorum links accept.
    limits: QuorumLimits,
}

/// Binds both listeners and starts the links. Returns the manager's input channel.
pub async fn start(
    me: ServerId,
    peers: BTreeMap<ServerId, PeerAddress>,
    core: mpsc::Sender<CoreInput>,
    deadlines: Deadlines,
    limits: QuorumLimits,
) -> std::io::Result<mpsc::UnboundedSender<PeerInput>> {
    let own = peers.get(&me).cloned().expect("the ensemble includes this server");
    let election_listener = TcpListener::bind(own.election.as_str()).await?;
    let quorum_listener = TcpListener::bind(own.quorum.as_str()).await?;
    let (manager_tx, manager_rx) = mpsc::unbounded_channel();
    let others: BTreeMap<ServerId, PeerAddress> = peers.into_iter().filter(|(id, _)| *id != me).collect();
    let context = Arc::new(Context {
        me,
        my_election: own.election.clone(),
        peers: others,
        core,
        manager: manager_tx.clone(),
        generations: AtomicU64::new(0),
        deadlines,
        limits,
    });
    let mut election = BTreeMap::new();
    let mut accepted = BTreeMap::new();
    for peer in context.peers.keys() {
        let (tx, rx) = mpsc::unbounded_channel();
        let (accepted_tx, accepted_rx) = mpsc::unbounded_channel();
        election.insert(*peer, tx);
        accepted.insert(*peer, accepted_tx);
        tokio::spawn(election_link(context.clone(), *peer, rx, accepted_rx));
    }
    tokio::spawn(accept_election(election_listener, context.clone(), accepted));
    tokio::spawn(accept_quorum(quorum_listener, context.clone()));
    tokio::spawn(manage(context, election, manager_rx));
    Ok(manager_tx)
}

/// Routes the core's messages and keeps the table of quorum links.
async fn manage(
    context: Arc<Context>,
    election: BTreeMap<ServerId, mpsc::UnboundedSender<Notification>>,
    mut inputs: mpsc::UnboundedReceiver<PeerInput>,
) {
    let mut quorum: BTreeMap<ServerId, (u64, mpsc::UnboundedSender<PeerMessage>)> = BTreeMap::new();
    while let Some(input) = inputs.recv().await {
        match input {
            PeerInput::Command(PeerCommand::Send { to, message: PeerMessage::Election(notification) }) => {
                if let Some(link) = election.get(&to) {
                    let _ = link.send(notification);
                }
            }
            PeerInput::Command(PeerCommand::Send { to, message }) => {
                if !context.peers.contains_key(&to) {
                    continue;
                }
                let (_, link) = quorum.entry(to).or_insert_with(|| dial_quorum(&context, to));
                let _ = link.send(message);
            }
            PeerInput::Command(PeerCommand::CloseQuorum(peer)) => {
                // Dropping the sender ends the link task once it has sent what was queued.
                quorum.remove(&peer);
            }
            PeerInput::Register { peer, generation, sender } => {
                quorum.insert(peer, (generation, sender));
            }
            PeerInput::Closed { peer, generation } => {
                if quorum.get(&peer).is_some_and(|(current, _)| *current == generation) {
                    quorum.remove(&peer);
                    let _ = context.core.send(CoreInput::PeerDisconnected { peer }).await;
                }
            }
        }
    }
}

/// Starts a dialing quorum link to `peer`; messages queue until it connects.
fn dial_quorum(context: &Arc<Context>, peer: ServerId) -> (u64, mpsc::UnboundedSender<PeerMessage>) {
    let generation = context.generations.fetch_add(1, Ordering::Relaxed);
    let (tx, rx) = mpsc::unbounded_channel();
    let context = context.clone();
    tokio::spawn(async move {
        let address = context.peers[&peer].quorum.clone();
        let mut stream = None;
        for attempt in 0..QUORUM_DIAL_ATTEMPTS_MAX {
            match TcpStream::connect(address.as_str()).await {
                Ok(connected) => {
                    stream = Some(connected);
                    break;
                }
                Err(error) => {
                    tracing::debug!(?peer, %address, attempt, "quorum dial failed: {error}");
                    tokio::time::sleep(Duration::from_millis(DIAL_BACKOFF_MS_MIN << attempt.min(4))).await;
                }
            }
        }
        if let Some(stream) = stream {
            tracing::info!(?peer, %address, "quorum link connected");
            run_quorum_link(&context, stream, peer, Vec::new(), rx).await;
            tracing::info!(?peer, "quorum link closed");
        }
        let _ = context.manager.send(PeerInput::Closed { peer, generation });
    });
    (generation, tx)
}

async fn accept_quorum(listener: TcpListener, context: Arc<Context>) {
    loop {
        match listener.accept().await {
            Ok((stream, address)) => {
                let context = context.clone();
                let accepted_at = tokio::time::Instant::now();
                tokio::spawn(async move {
                    // Only the first packet has a deadline: the link it names then lives until
                    // it breaks or the core closes it.
                    let named =
                        tokio::time::timeout(context.deadlines.quorum_first_packet, name_quorum_link(&context, stream));
                    match named.await {
                        Ok(Ok(link)) => serve_accepted_quorum_link(&context, link, accepted_at).await,
                        Ok(Err(error)) => tracing::warn!(%address, "quorum connection refused: {error}"),
                        Err(_) => tracing::warn!(%address, "quorum connection refused: no FOLLOWERINFO in time"),
                    }
                });
            }
            Err(error) => {
                tracing::warn!("quorum accept failed: {error}");
                tokio::time::sleep(Duration::from_millis(DIAL_BACKOFF_MS_MIN)).await;
            }
        }
    }
}

/// An accepted quorum connection that named its peer with its first packet.
struct NamedQuorumLink {
    stream: TcpStream,
    peer: ServerId,
    /// Bytes read after the first packet.
    buffer: Vec<u8>,
    first: QuorumMessage,
}

/// Reads an accepted quorum connection's first packet and checks the id it names.
async fn name_quorum_link(context: &Arc<Context>, mut stream: TcpStream) -> Result<NamedQuorumLink, String> {
    let mut buffer = Vec::new();
    let (packet, used) = loop {
        if let Some(found) = QuorumPacket::decode_prefix(&buffer, context.limits).map_err(|e| e.to_string())? {
            break found;
        }
        read_more(&mut stream, &mut buffer).await.map_err(|e| e.to_string())?;
    };
    buffer.drain(..used);
    let message = QuorumMessage::from_packet(&packet, context.limits).map_err(|e| e.to_string())?;
    let peer = match &message {
        QuorumMessage::FollowerInfo { info, .. } | QuorumMessage::ObserverInfo { info, .. } => info.server_id,
        other => return Err(format!("first packet of type {} is not FOLLOWERINFO", other.packet_type())),
    };
    if !context.peers.contains_key(&peer) {
        return Err(format!("server {peer:?} is not in the ensemble"));
    }
    Ok(NamedQuorumLink { stream, peer, buffer, first: message })
}

/// Registers a named link, hands its first packet to the core and serves it; the manager
/// hears when it ends, whatever ends it. (`accepted_at` matters only to the broken runtime.)
async fn serve_accepted_quorum_link(context: &Arc<Context>, link: NamedQuorumLink, accepted_at: tokio::time::Instant) {
    let NamedQuorumLink { stream, peer, buffer, first } = link;
    let generation = context.generations.fetch_add(1, Ordering::Relaxed);
    let (sender, outgoing) = mpsc::unbounded_channel();
    let _ = context.manager.send(PeerInput::Register { peer, generation, sender });
    tracing::info!(?peer, "quorum link accepted");
    let _ = context.core.send(CoreInput::Peer { from: peer, message: PeerMessage::Quorum(first) }).await;
    let served = run_quorum_link(context, stream, peer, buffer, outgoing);
    if BROKEN_LINK_LIFETIME {
        let _ = tokio::time::timeout(BROKEN_LINK_LIFETIME_MAX.saturating_sub(accepted_at.elapsed()), served).await;
    } else {
        served.await;
    }
    // The madsim tier watches for this line: a quiet ensemble never closes a link.
    tracing::info!(?peer, "quorum link closed");
    let _ = context.manager.send(PeerInput::Closed { peer, generation });
}

/// Serves one quorum link until it breaks or its sender is dropped.
async fn run_quorum_link(
    context: &Context,
    stream: TcpStream,
    peer: ServerId,
    mut buffer: Vec<u8>,
    mut outgoing: mpsc::UnboundedReceiver<PeerMessage>,
) {
    let _ = stream.set_nodelay(true);
    let (mut reader, mut writer) = split_stream(stream);
    let mut database_next = false;
    loop {
        // Deliver everything whole in the buffer first (bytes may have come with the first packet).
        loop {
            match decode_quorum(&buffer, &mut database_next, context.limits) {
                Ok(Some((message, used))) => {
                    buffer.drain(..used);
                    if context.core.send(CoreInput::Peer { from: peer, message }).await.is_err() {
                        return;
                    }
                }
                Ok(None) => break,
                Err(error) => {
                    tracing::warn!(?peer, "closing the quorum link: {error}");
                    return;
                }
            }
        }
        buffer.reserve(READ_CHUNK);
        super::select_fair! {
            read = reader.read_buf(&mut buffer) => match read {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            },
            message = outgoing.recv() => {
                let Some(message) = message else { return };
                let bytes = match &message {
                    PeerMessage::Quorum(message) => message.encode(),
                    PeerMessage::SnapDatabase(database) => database.encode_snap_stream(),
                    PeerMessage::Election(_) => continue,
                };
                if writer.write_all(&bytes).await.is_err() || writer.flush().await.is_err() {
                    return;
                }
            }
        }
    }
}

/// One message from the front of a quorum stream: a packet, or after SNAP the database.
fn decode_quorum(
    buffer: &[u8],
    database_next: &mut bool,
    limits: QuorumLimits,
) -> Result<Option<(PeerMessage, usize)>, String> {
    if *database_next {
        let decoded = WireDatabase::decode_snap_stream_prefix(buffer, limits).map_err(|e| e.to_string())?;
        let Some((database, used)) = decoded else {
            return Ok(None);
        };
        *database_next = false;
        return Ok(Some((PeerMessage::SnapDatabase(Box::new(database)), used)));
    }
    let Some((packet, used)) = QuorumPacket::decode_prefix(buffer, limits).map_err(|e| e.to_string())? else {
        return Ok(None);
    };
    let message = QuorumMessage::from_packet(&packet, limits).map_err(|e| e.to_string())?;
    *database_next = matches!(message, QuorumMessage::Snap { .. });
    Ok(Some((PeerMessage::Quorum(message), used)))
}

async fn read_more(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> std::io::Result<()> {
    buffer.reserve(READ_CHUNK);
    match stream.read_buf(buffer).await? {
        0 => Err(std::io::ErrorKind::UnexpectedEof.into()),
        _ => Ok(()),
    }
}

/// Accepts election connections: a higher id's goes to its link task; a lower id's (or an
/// unknown one's) is closed, and the link task of a lower id dials it anyway.
async fn accept_election(
    listener: TcpListener,
    context: Arc<Context>,
    accepted: BTreeMap<ServerId, mpsc::UnboundedSender<(TcpStream, Vec<u8>)>>,
) {
    let accepted = Arc::new(accepted);
    loop {
        let (mut stream, address) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!("election accept failed: {error}");
                tokio::time::sleep(Duration::from_millis(DIAL_BACKOFF_MS_MIN)).await;
                continue;
            }
        };
        let (context, accepted) = (context.clone(), accepted.clone());
        tokio::spawn(async move {
            let mut buffer = Vec::new();
            let read = tokio::time::timeout(context.deadlines.election_handshake, async {
                loop {
                    match ElectionHandshake::decode_prefix(&buffer) {
                        Ok(Some(found)) => return Ok(found),
                        Ok(None) => read_more(&mut stream, &mut buffer).await.map_err(|e| e.to_string())?,
                        Err(error) => return Err(error.to_string()),
                    }
                }
            });
            let (handshake, used) = match read.await {
                Ok(Ok(found)) => found,
                Ok(Err(error)) => return tracing::debug!(%address, "election handshake failed: {error}"),
                Err(_) => return tracing::debug!(%address, "no election handshake in time"),
            };
            buffer.drain(..used);
            let peer = handshake.server_id();
            if peer < context.me {
                tracing::debug!(?peer, "closing an election connection from a lower id (it is dialed instead)");
                return;
            }
            if let Some(link) = accepted.get(&peer) {
                let _ = link.send((stream, buffer));
            }
        });
    }
}

/// One peer's election link: dials (lower ids) or waits to be dialed (higher ids, knocking when
/// there is something to send), then carries notifications both ways; starts over when the
/// connection breaks.
async fn election_link(
    context: Arc<Context>,
    peer: ServerId,
    mut outgoing: mpsc::UnboundedReceiver<Notification>,
    mut accepted: mpsc::UnboundedReceiver<(TcpStream, Vec<u8>)>,
) {
    let mut backoff_ms = DIAL_BACKOFF_MS_MIN;
    let mut next: Option<(TcpStream, Vec<u8>)> = None;
    // A notification for a higher id, taken from the queue while waiting for it to dial.
    let mut held: Option<Notification> = None;
    loop {
        let (stream, buffer) = match next.take() {
            Some(found) => found,
            None if peer < context.me => match dial_election(&context, peer).await {
                Ok(stream) => (stream, Vec::new()),
                Err(error) => {
                    tracing::debug!(?peer, "election dial failed: {error}");
                    tokio::time::sleep(Duration::from_millis(backoff_ms)).await;
                    backoff_ms = (backoff_ms * 2).min(DIAL_BACKOFF_MS_MAX);
                    continue;
                }
            },
            None => match wait_for_dial_back(&context, peer, &mut outgoing, &mut accepted, &mut held).await {
                Some(found) => found,
                None => return,
            },
        };
        backoff_ms = DIAL_BACKOFF_MS_MIN;
        // Only the newest queued notification still says what this server thinks.
        let mut newest = held.take();
        while let Ok(notification) = outgoing.try_recv() {
            newest = Some(notification);
        }
        tracing::info!(?peer, "election link up");
        next = serve_election(&context, peer, stream, buffer, newest, &mut outgoing, &mut accepted).await;
        tracing::info!(?peer, "election link down");
    }
}

/// Waits until a higher id dials us. Each notification queued for it meanwhile knocks: a
/// connection that carries only our handshake and is closed at once, which the higher id
/// answers by dialing back (`QuorumCnxManager.connectOne`, then its `handleConnection`). An
/// Apache server dials only when it has something to send, and one that is FOLLOWING sends
/// nothing unprompted: without the knock a restarted lower id would never hear from it.
async fn wait_for_dial_back(
    context: &Context,
    peer: ServerId,
    outgoing: &mut mpsc::UnboundedReceiver<Notification>,
    accepted: &mut mpsc::UnboundedReceiver<(TcpStream, Vec<u8>)>,
    held: &mut Option<Notification>,
) -> Option<(TcpStream, Vec<u8>)> {
    loop {
        super::select_fair! {
            found = accepted.recv() => return found,
            notification = outgoing.recv() => {
                *held = Some(notification?);
                match tokio::time::timeout(KNOCK_TIMEOUT, dial_election(context, peer)).await {
                    Ok(Ok(_knocked)) => tracing::debug!(?peer, "knocked: a higher id dials back"),
                    Ok(Err(error)) => tracing::debug!(?peer, "election knock failed: {error}"),
                    Err(_) => tracing::debug!(?peer, "election knock timed out"),
                }
            },
        }
    }
}

async fn dial_election(context: &Context, peer: ServerId) -> std::io::Result<TcpStream> {
    let mut stream = TcpStream::connect(context.peers[&peer].election.as_str()).await?;
    let _ = stream.set_nodelay(true);
    let handshake = ElectionHandshake::V1 { server_id: context.me, address: context.my_election.clone().into_bytes() };
    stream.write_all(&handshake.encode()).await?;
    stream.flush().await?;
    Ok(stream)
}

/// Serves an election connection until it breaks (`None`) or a newer accepted one replaces it.
async fn serve_election(
    context: &Context,
    peer: ServerId,
    stream: TcpStream,
    mut buffer: Vec<u8>,
    first: Option<Notification>,
    outgoing: &mut mpsc::UnboundedReceiver<Notification>,
    accepted: &mut mpsc::UnboundedReceiver<(TcpStream, Vec<u8>)>,
) -> Option<(TcpStream, Vec<u8>)> {
    let (mut reader, mut writer) = split_stream(stream);
    let mut pending = first;
    loop {
        if let Some(notification) = pending.take() {
            let frame = encode_election_frame(&notification.encode());
            if writer.write_all(&frame).await.is_err() || writer.flush().await.is_err() {
                return None;
            }
        }
        loop {
            match decode_election_frame(&buffer) {
                Ok(Some((payload, used))) => {
                    let decoded = Notification::decode(payload);
                    buffer.drain(..used);
                    match decoded {
                        Ok(notification) => {
                            let message = PeerMessage::Election(notification);
                            let _ = context.core.send(CoreInput::Peer { from: peer, message }).await;
                        }
                        Err(error) => tracing::warn!(?peer, "undecodable notification skipped: {error}"),
                    }
                }
                Ok(None) => break,
                Err(error) => {
                    tracing::warn!(?peer, "closing the election link: {error}");
                    return None;
                }
            }
        }
        super::select_fair! {
            read = reader.read_buf(&mut buffer) => match read {
                Ok(0) | Err(_) => return None,
                Ok(_) => {}
            },
            notification = outgoing.recv() => pending = Some(notification?),
            replacement = accepted.recv() => return replacement,
        }
    }
}
