//! A small blocking ZooKeeper client on zab-core's codec. It talks to zab and to Apache
//! ZooKeeper alike, one request at a time, and keeps the watch events it receives.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;
use zab_core::proto::{self, ConnectRequest, ReplyHeader, Request, RequestHeader, Response, WatcherEvent};
use zab_core::{SessionId, Zxid};

/// A connected client session.
pub struct WireClient {
    stream: TcpStream,
    /// The session id the server gave us.
    pub session_id: SessionId,
    /// The session password.
    pub passwd: Vec<u8>,
    /// The negotiated session timeout.
    pub timeout_ms: i32,
    /// The last zxid seen in a reply header.
    pub last_zxid: Zxid,
    next_xid: i32,
    events: Vec<(Zxid, WatcherEvent)>,
}

fn invalid(what: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

impl WireClient {
    /// Opens a new session.
    pub fn connect(address: SocketAddr, timeout_ms: i32) -> io::Result<WireClient> {
        let request = ConnectRequest { read_only: Some(false), ..ConnectRequest::new_session(timeout_ms) };
        WireClient::handshake(address, request)
    }

    /// Resumes an existing session (as a client does after losing its connection).
    pub fn resume(
        address: SocketAddr,
        session_id: SessionId,
        passwd: Vec<u8>,
        last_zxid: Zxid,
        timeout_ms: i32,
    ) -> io::Result<WireClient> {
        let request = ConnectRequest {
            timeout_ms,
            session_id,
            passwd,
            last_zxid_seen: last_zxid,
            read_only: Some(false),
            ..ConnectRequest::default()
        };
        WireClient::handshake(address, request)
    }

    fn handshake(address: SocketAddr, request: ConnectRequest) -> io::Result<WireClient> {
        let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(5))?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        stream.set_nodelay(true)?;
        write_frame(&mut stream, &proto::encode_connect_request(&request))?;
        let payload = read_frame(&mut stream)?;
        let response = proto::decode_connect_response(&payload).map_err(invalid)?;
        if response.timeout_ms <= 0 {
            return Err(io::Error::new(io::ErrorKind::ConnectionRefused, "session expired or invalid"));
        }
        Ok(WireClient {
            stream,
            session_id: response.session_id,
            passwd: response.passwd,
            timeout_ms: response.timeout_ms,
            last_zxid: request.last_zxid_seen,
            next_xid: 1,
            events: Vec::new(),
        })
    }

    /// Sends a request with the next xid and waits for its reply.
    pub fn call(&mut self, op: i32, request: &Request) -> io::Result<(ReplyHeader, Response)> {
        let xid = self.next_xid;
        self.next_xid += 1;
        self.call_with_xid(xid, op, request)
    }

    /// Sends a request with a chosen (possibly special) xid and waits for its reply.
    pub fn call_with_xid(&mut self, xid: i32, op: i32, request: &Request) -> io::Result<(ReplyHeader, Response)> {
        let header = RequestHeader { xid, op };
        write_frame(&mut self.stream, &proto::encode_request(&header, request))?;
        loop {
            let payload = read_frame(&mut self.stream)?;
            if payload.len() >= 4
                && i32::from_be_bytes(payload[..4].try_into().expect("4 bytes")) == proto::xid::NOTIFICATION
            {
                let (zxid, event) = proto::decode_watch_event(&payload).map_err(invalid)?;
                self.events.push((zxid, event));
                continue;
            }
            let (reply, response) = proto::decode_reply(op, &payload).map_err(invalid)?;
            if reply.xid != xid {
                return Err(invalid(format!("reply xid {} for request xid {xid}", reply.xid)));
            }
            if reply.zxid.0 > 0 {
                self.last_zxid = reply.zxid;
            }
            return Ok((reply, response));
        }
    }

    /// The watch events received so far, in arrival order; clears the list.
    pub fn take_events(&mut self) -> Vec<(Zxid, WatcherEvent)> {
        std::mem::take(&mut self.events)
    }

    /// Sends raw bytes (for hostile-input tests).
    pub fn send_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// Reads one raw frame.
    pub fn read_raw_frame(&mut self) -> io::Result<Vec<u8>> {
        read_frame(&mut self.stream)
    }
}

/// Writes a length-prefixed frame.
pub fn write_frame(stream: &mut TcpStream, payload: &[u8]) -> io::Result<()> {
    let mut frame = Vec::with_capacity(payload.len() + 4);
    frame.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    frame.extend_from_slice(payload);
    stream.write_all(&frame)
}

/// Reads a length-prefixed frame.
pub fn read_frame(stream: &mut TcpStream) -> io::Result<Vec<u8>> {
    let mut length = [0u8; 4];
    stream.read_exact(&mut length)?;
    let length = i32::from_be_bytes(length);
    if !(0..=16 << 20).contains(&length) {
        return Err(invalid(format!("frame length {length}")));
    }
    let mut payload = vec![0u8; length as usize];
    stream.read_exact(&mut payload)?;
    Ok(payload)
}
