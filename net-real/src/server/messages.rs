//! What the server's tasks send each other: the core task's inputs, the peer manager's
//! inputs, and the split TCP stream every link task reads and writes. A leaf: the
//! connection, core and peer tasks import their messages from here, never from each other.

use std::net::SocketAddr;

use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use zab_core::proto::ConnectRequest;
use zab_core::{ClientEvent, ConnectionId, PeerMessage, ServerId};

/// An input for the core task.
#[derive(Debug)]
pub enum CoreInput {
    /// A connection sent its handshake.
    Connect {
        /// The driver's id for it.
        connection: ConnectionId,
        /// The client's address.
        address: SocketAddr,
        /// Frames to send it.
        writer: mpsc::Sender<Vec<u8>>,
        /// The handshake.
        request: ConnectRequest,
    },
    /// A later event on a connection.
    Client {
        /// The connection.
        connection: ConnectionId,
        /// The event.
        event: ClientEvent,
    },
    /// A whitelisted four-letter word; the answer is `None` for a word zab does not serve.
    FourLetter {
        /// The word.
        word: &'static str,
        /// Who asked (listed by `cons` and `stat`).
        address: SocketAddr,
        /// Where to send the text.
        answer: oneshot::Sender<Option<String>>,
    },
    /// An AdminServer request (commands, the web view, `/metrics`).
    Admin {
        /// What is asked.
        request: crate::admin::AdminRequest,
        /// Where to send the answer.
        answer: oneshot::Sender<crate::admin::AdminAnswer>,
    },
    /// A message from a peer of the ensemble.
    Peer {
        /// The sender.
        from: ServerId,
        /// The message.
        message: PeerMessage,
    },
    /// The quorum link to a peer broke.
    PeerDisconnected {
        /// The peer.
        peer: ServerId,
    },
}

/// What the core task asks of the peer links.
#[derive(Debug)]
pub enum PeerCommand {
    /// Send a message to a peer (queued while it is unreachable).
    Send {
        /// The recipient.
        to: ServerId,
        /// The message.
        message: PeerMessage,
    },
    /// Close the quorum link to this peer (the core's [`zab_core::Output::ClosePeer`]).
    CloseQuorum(ServerId),
}

/// The manager's input: the core's commands and the quorum links' lifecycle, on one channel.
#[derive(Debug)]
pub enum PeerInput {
    /// From the core.
    Command(PeerCommand),
    /// An accepted quorum connection named itself.
    Register {
        /// The learner.
        peer: ServerId,
        /// The link's generation.
        generation: u64,
        /// Where to queue its outgoing messages.
        sender: mpsc::UnboundedSender<PeerMessage>,
    },
    /// A quorum link ended.
    Closed {
        /// The peer.
        peer: ServerId,
        /// The link's generation.
        generation: u64,
    },
}

/// The read half of a TCP stream.
#[cfg(not(madsim))]
pub type ReadHalf = tokio::net::tcp::OwnedReadHalf;
/// The write half of a TCP stream.
#[cfg(not(madsim))]
pub type WriteHalf = tokio::net::tcp::OwnedWriteHalf;
/// The read half of a TCP stream (madsim's streams have no `into_split`).
#[cfg(madsim)]
pub type ReadHalf = tokio::io::ReadHalf<TcpStream>;
/// The write half of a TCP stream.
#[cfg(madsim)]
pub type WriteHalf = tokio::io::WriteHalf<TcpStream>;

/// Splits a stream for a reader and a writer task: tokio's lock-free owned halves, or under
/// madsim the generic `tokio::io::split`.
pub fn split_stream(stream: TcpStream) -> (ReadHalf, WriteHalf) {
    #[cfg(not(madsim))]
    return stream.into_split();
    #[cfg(madsim)]
    return tokio::io::split(stream);
}
