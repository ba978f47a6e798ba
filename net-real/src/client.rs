//! A small async ZooKeeper client on the core's codec: one connection, the handshake,
//! pipelined requests, replies and watch events. It runs wherever the server runs, on real
//! tokio and inside madsim (third-party clients use real tokio and cannot), so the madsim
//! tier's clients and zab's own tools share it.
//!
//! Session policy (pings, reconnecting to another server, resuming with the session id,
//! password and last zxid seen) is the caller's: a [`Connection`] is one TCP connection.
//!
//! ```no_run
//! # async fn example() -> Result<(), zab_net::client::ClientError> {
//! use zab_core::proto::{ConnectRequest, PathWatchRequest, Request};
//! use zab_net::client::Connection;
//! let handshake = ConnectRequest { read_only: Some(false), ..ConnectRequest::new_session(30_000) };
//! let (mut connection, session) = Connection::connect("127.0.0.1:2181", &handshake).await?;
//! let request = Request::GetData(PathWatchRequest { path: "/".into(), watch: false });
//! let (header, response) = connection.call(&request).await?;
//! # let _ = (session, header, response);
//! # Ok(())
//! # }
//! ```

use std::collections::VecDeque;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use zab_core::proto::{
    decode_connect_response, decode_reply, decode_watch_event, encode_connect_request, encode_request, frame,
    frame_length, xid, ConnectRequest, ConnectResponse, DecodeError, JuteReader, JuteRecord, ReplyHeader, Request,
    RequestHeader, Response, WatcherEvent,
};
use zab_core::{Xid, Zxid};

/// The largest frame the client accepts: ZooKeeper's default `jute.maxbuffer`.
pub const CLIENT_FRAME_BYTES_MAX: usize = 0xfffff;
/// Requests a connection may have outstanding (sent, not answered) before `send` refuses.
pub const CLIENT_OUTSTANDING_MAX: usize = 10_000;
/// Bytes read per call.
const READ_CHUNK: usize = 64 * 1024;

/// Why a connection stopped working.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The socket failed.
    #[error("connection failed: {0}")]
    Io(#[from] std::io::Error),
    /// The server closed the connection.
    #[error("the server closed the connection")]
    Closed,
    /// A frame did not decode.
    #[error("undecodable frame from the server: {0}")]
    Decode(#[from] DecodeError),
    /// A reply to an xid that is not outstanding.
    #[error("reply to xid {0}, which is not outstanding")]
    UnexpectedXid(Xid),
    /// More than [`CLIENT_OUTSTANDING_MAX`] requests outstanding.
    #[error("too many outstanding requests")]
    TooManyOutstanding,
}

/// Something the server sent after the handshake.
#[derive(Clone, Debug, PartialEq)]
pub enum Incoming {
    /// A reply (to a request, a ping or setWatches).
    Reply {
        /// The header: xid, zxid, error code.
        header: ReplyHeader,
        /// The body ([`Response::Empty`] when the error code is not OK).
        response: Response,
    },
    /// A watch notification.
    Event {
        /// The header's zxid (−1 from ZooKeeper 3.8 servers).
        zxid: Zxid,
        /// The event.
        event: WatcherEvent,
    },
}

/// One connection to a server, after its handshake.
#[derive(Debug)]
pub struct Connection {
    stream: TcpStream,
    /// Bytes received and not yet decoded.
    buffer: Vec<u8>,
    /// Outstanding requests in the order sent: (xid, opcode). The opcode says how to decode
    /// the reply.
    outstanding: VecDeque<(Xid, i32)>,
    /// The next xid [`Connection::call`] uses.
    next_xid: Xid,
}

impl Connection {
    /// Connects to `address` (`host:port`) and performs the handshake. The server answers a
    /// session it no longer has with session id 0 and timeout 0: the caller checks.
    pub async fn connect(
        address: &str,
        request: &ConnectRequest,
    ) -> Result<(Connection, ConnectResponse), ClientError> {
        let stream = TcpStream::connect(address).await?;
        let _ = stream.set_nodelay(true);
        let mut connection = Connection { stream, buffer: Vec::new(), outstanding: VecDeque::new(), next_xid: 1 };
        connection.write(frame(encode_connect_request(request))).await?;
        let payload = connection.next_frame().await?;
        let response = decode_connect_response(&payload)?;
        Ok((connection, response))
    }

    /// Sends one request (pings: xid −2 and [`Request::Ping`]). Replies come back through
    /// [`Connection::receive`] in the order the server answers.
    pub async fn send(&mut self, header: RequestHeader, request: &Request) -> Result<(), ClientError> {
        if self.outstanding.len() >= CLIENT_OUTSTANDING_MAX {
            return Err(ClientError::TooManyOutstanding);
        }
        // Remembered before writing, so a reply can never find its opcode missing.
        self.outstanding.push_back((header.xid, header.op));
        self.write(frame(encode_request(&header, request))).await
    }

    /// The next reply or event. Cancel-safe: bytes read before a cancellation stay buffered.
    pub async fn receive(&mut self) -> Result<Incoming, ClientError> {
        let payload = self.next_frame().await?;
        let header = ReplyHeader::read(&mut JuteReader::new(&payload))?;
        if header.xid == xid::NOTIFICATION {
            let (zxid, event) = decode_watch_event(&payload)?;
            return Ok(Incoming::Event { zxid, event });
        }
        // Replies are FIFO; looking the xid up anyway lets a caller see an out-of-order reply.
        let index = self.outstanding.iter().position(|(x, _)| *x == header.xid);
        let (_, opcode) = self.outstanding.remove(index.ok_or(ClientError::UnexpectedXid(header.xid))?).expect("found");
        let (header, response) = decode_reply(opcode, &payload)?;
        Ok(Incoming::Reply { header, response })
    }

    /// Sends `request` with the next xid and waits for its reply; watch events that arrive
    /// first are dropped (use [`Connection::send`] and [`Connection::receive`] to see them).
    pub async fn call(&mut self, request: &Request) -> Result<(ReplyHeader, Response), ClientError> {
        let xid = self.next_xid;
        self.next_xid = self.next_xid.wrapping_add(1).max(1);
        self.send(RequestHeader { xid, op: request.op() }, request).await?;
        loop {
            match self.receive().await? {
                Incoming::Reply { header, response } if header.xid == xid => return Ok((header, response)),
                Incoming::Reply { .. } | Incoming::Event { .. } => {}
            }
        }
    }

    /// Requests sent and not answered yet.
    pub fn outstanding(&self) -> usize {
        self.outstanding.len()
    }

    /// Writes and flushes one frame (under madsim, bytes reach the peer only at a flush).
    async fn write(&mut self, bytes: Vec<u8>) -> Result<(), ClientError> {
        self.stream.write_all(&bytes).await?;
        self.stream.flush().await?;
        Ok(())
    }

    /// The payload of the next whole frame, reading as needed.
    async fn next_frame(&mut self) -> Result<Vec<u8>, ClientError> {
        loop {
            if let Some(prefix) = self.buffer.first_chunk::<4>() {
                let length = frame_length(*prefix, CLIENT_FRAME_BYTES_MAX)?;
                if self.buffer.len() >= 4 + length {
                    let payload = self.buffer[4..4 + length].to_vec();
                    self.buffer.drain(..4 + length);
                    return Ok(payload);
                }
            }
            self.buffer.reserve(READ_CHUNK);
            if self.stream.read_buf(&mut self.buffer).await? == 0 {
                return Err(ClientError::Closed);
            }
        }
    }
}
