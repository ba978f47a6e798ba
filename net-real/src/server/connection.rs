//! One client connection: the reader (this task) turns frames into [`CoreInput`]s; a writer
//! task writes what the core queued, flushing after every frame.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch};
use zab_core::proto::{decode_connect_request, decode_request, DecodeError, RequestHeader};
use zab_core::{ClientEvent, ConnectionId};

use super::four_letter::refusal;
use super::frames::{classify_first_prefix, read_frame, read_payload, read_prefix, FirstPrefix};
use super::messages::{split_stream, CoreInput, ReadHalf, WriteHalf};
use crate::config::FourLetterWords;

/// Frames queued for one connection's writer; a client that lets more pile up is closed.
pub const WRITE_QUEUE_FRAMES_MAX: usize = 4096;

/// How long a new connection may take to send its handshake (or a four-letter word) before it
/// is closed, so idle sockets cannot hold `maxClientCnxns` slots forever. ZooKeeper's
/// `zookeeper.nio.sessionlessCnxnTimeout` has the same default.
pub const HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(10_000);

/// What every connection task shares.
#[derive(Debug)]
pub struct Shared {
    /// The core task's inputs.
    pub core: mpsc::Sender<CoreInput>,
    /// True while the node has more outstanding requests than `globalOutstandingLimit`.
    pub paused: watch::Receiver<bool>,
    /// `jute.maxbuffer`.
    pub max_buffer: usize,
    /// `4lw.commands.whitelist`.
    pub four_letter_words: FourLetterWords,
}

/// Serves one accepted connection until it closes.
pub async fn serve_connection(stream: TcpStream, connection: ConnectionId, address: SocketAddr, shared: Arc<Shared>) {
    let (mut reader, mut writer) = split_stream(stream);
    let prefix = match tokio::time::timeout(HANDSHAKE_TIMEOUT, read_prefix(&mut reader)).await {
        Ok(Ok(Some(prefix))) => prefix,
        Ok(Ok(None) | Err(_)) => return,
        Err(_) => return tracing::debug!(%address, "closing: no handshake within {HANDSHAKE_TIMEOUT:?}"),
    };
    let length = match classify_first_prefix(prefix, shared.max_buffer) {
        FirstPrefix::FourLetterWord(word) => return four_letter_word(word, address, &shared, &mut writer).await,
        FirstPrefix::Frame(length) => length,
        FirstPrefix::Refused(error) => {
            tracing::debug!(%address, "closing: {error}");
            return;
        }
    };
    let payload = match tokio::time::timeout(HANDSHAKE_TIMEOUT, read_payload(&mut reader, length)).await {
        Ok(result) => result,
        Err(_) => return tracing::debug!(%address, "closing: no handshake within {HANDSHAKE_TIMEOUT:?}"),
    };
    let request = match payload.map(|p| decode_connect_request(&p)) {
        Ok(Ok(request)) => request,
        Ok(Err(error)) => return tracing::debug!(%address, "closing: bad ConnectRequest: {error}"),
        Err(error) => return tracing::debug!(%address, "closing: {error}"),
    };
    let (frames, queued) = mpsc::channel(WRITE_QUEUE_FRAMES_MAX);
    let (closed_tell, closed) = oneshot::channel();
    tokio::spawn(write_frames(writer, queued, closed_tell));
    let connect = CoreInput::Connect { connection, address, writer: frames, request };
    if shared.core.send(connect).await.is_err() {
        return;
    }
    read_requests(reader, connection, address, &shared, closed).await;
    let _ = shared.core.send(CoreInput::Client { connection, event: ClientEvent::Disconnected }).await;
}

/// Reads request frames until the peer closes, a frame is refused, or the writer is done.
async fn read_requests(
    mut reader: ReadHalf,
    connection: ConnectionId,
    address: SocketAddr,
    shared: &Shared,
    mut closed: oneshot::Receiver<()>,
) {
    let mut paused = shared.paused.clone();
    loop {
        // Backpressure: read nothing more while the node is over globalOutstandingLimit.
        super::select_fair! {
            result = paused.wait_for(|paused| !*paused) => if result.is_err() { return },
            _ = &mut closed => return,
        }
        let frame = super::select_fair! {
            frame = read_frame(&mut reader, shared.max_buffer) => frame,
            _ = &mut closed => return,
        };
        let payload = match frame {
            Ok(Some(payload)) => payload,
            Ok(None) => return,
            Err(error) => return tracing::debug!(%address, "closing: {error}"),
        };
        let event = match decode_request(&payload) {
            Ok((header, request)) => ClientEvent::Request { header, request },
            Err(error) => match undecodable(&error) {
                Some(event) => event,
                None => return tracing::debug!(%address, "closing: {error}"),
            },
        };
        if shared.core.send(CoreInput::Client { connection, event }).await.is_err() {
            return;
        }
    }
}

/// The event for a request that did not decode, or `None` when ZooKeeper closes instead.
pub fn undecodable(error: &DecodeError) -> Option<ClientEvent> {
    let (xid, err, _close) = error.reply()?;
    let op = match error {
        DecodeError::UnknownOpcode { op, .. } | DecodeError::Body { op, .. } => *op,
        _ => return None,
    };
    Some(ClientEvent::Undecodable { header: RequestHeader { xid, op }, err })
}

async fn four_letter_word(word: &'static str, address: SocketAddr, shared: &Shared, writer: &mut WriteHalf) {
    let text = if shared.four_letter_words.allows(word) {
        let (answer, answered) = oneshot::channel();
        if shared.core.send(CoreInput::FourLetter { word, address, answer }).await.is_err() {
            return;
        }
        answered.await.ok().flatten()
    } else {
        Some(refusal(word))
    };
    if let Some(text) = text {
        let _ = writer.write_all(text.as_bytes()).await;
        let _ = writer.flush().await;
    }
    let _ = writer.shutdown().await;
}

/// Writes queued frames, flushing after each, until the core drops the sender (close) or
/// the socket fails; then shuts the socket down and tells the reader.
async fn write_frames(mut writer: WriteHalf, mut frames: mpsc::Receiver<Vec<u8>>, closed: oneshot::Sender<()>) {
    while let Some(frame) = frames.recv().await {
        if writer.write_all(&frame).await.is_err() || writer.flush().await.is_err() {
            break;
        }
    }
    let _ = writer.shutdown().await;
    let _ = closed.send(());
}
