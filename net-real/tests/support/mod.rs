//! What the integration tests of `zab-net` share: a minimal blocking ZooKeeper client over the
//! core's codec, enough to drive `zab` and Apache ZooKeeper processes, free ports and
//! four-letter words.
#![allow(dead_code)] // each test file uses its own part of this module

pub mod mixed;

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::Duration;
use zab_core::proto::{
    decode_connect_response, decode_reply, encode_connect_request, encode_request, frame, op, Acl, ConnectRequest,
    CreateRequest, PathRequest, PathWatchRequest, Request, RequestHeader, Response, Stat,
};
use zab_core::ErrorCode;

/// A client session on one server, one request at a time.
pub struct Client {
    /// The connection (tests shut it down to simulate a vanished client).
    pub stream: TcpStream,
    xid: i32,
}

impl Client {
    /// Opens a new session with a 30 s session timeout; reads wait at most `read_timeout`.
    pub fn connect(port: u16, read_timeout: Duration) -> io::Result<Client> {
        Client::connect_with_timeout(port, 30_000, read_timeout)
    }

    /// Opens a new session asking for `timeout_ms`.
    pub fn connect_with_timeout(port: u16, timeout_ms: i32, read_timeout: Duration) -> io::Result<Client> {
        let mut stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_read_timeout(Some(read_timeout))?;
        stream.set_nodelay(true)?;
        let request = ConnectRequest { read_only: Some(false), ..ConnectRequest::new_session(timeout_ms) };
        stream.write_all(&frame(encode_connect_request(&request)))?;
        let response = decode_connect_response(&read_frame(&mut stream)?).map_err(io::Error::other)?;
        if response.timeout_ms <= 0 {
            return Err(io::Error::other("session refused"));
        }
        Ok(Client { stream, xid: 0 })
    }

    /// Sends a request and waits for its reply (skipping watch events and older replies).
    pub fn call(&mut self, opcode: i32, request: &Request) -> io::Result<(ErrorCode, Response)> {
        self.xid += 1;
        let header = RequestHeader { xid: self.xid, op: opcode };
        self.stream.write_all(&frame(encode_request(&header, request)))?;
        loop {
            let payload = read_frame(&mut self.stream)?;
            let (reply, response) = decode_reply(opcode, &payload).map_err(io::Error::other)?;
            if reply.xid == self.xid {
                return Ok((reply.err, response));
            }
        }
    }

    /// create with the open ACL: the created path, or ZooKeeper's error.
    pub fn create(&mut self, path: &str, data: &[u8], flags: i32) -> io::Result<Result<String, ErrorCode>> {
        let create = CreateRequest { path: path.into(), data: data.to_vec(), acl: Acl::open_unsafe(), flags };
        Ok(match self.call(op::CREATE, &Request::Create(create))? {
            (ErrorCode::Ok, Response::Create(created)) => Ok(created),
            (ErrorCode::Ok, other) => panic!("create answered {other:?}"),
            (err, _) => Err(err),
        })
    }

    /// getData without a watch; any error is an I/O error naming the path.
    pub fn get_data(&mut self, path: &str) -> io::Result<Vec<u8>> {
        let request = Request::GetData(PathWatchRequest { path: path.into(), watch: false });
        match self.call(op::GET_DATA, &request)? {
            (ErrorCode::Ok, Response::GetData { data, .. }) => Ok(data),
            other => Err(io::Error::other(format!("getData {path}: {other:?}"))),
        }
    }

    /// getData without a watch, with the znode's stat.
    pub fn get_data_stat(&mut self, path: &str) -> io::Result<(Vec<u8>, Stat)> {
        let request = Request::GetData(PathWatchRequest { path: path.into(), watch: false });
        match self.call(op::GET_DATA, &request)? {
            (ErrorCode::Ok, Response::GetData { data, stat }) => Ok((data, stat)),
            other => Err(io::Error::other(format!("getData {path}: {other:?}"))),
        }
    }

    /// getChildren without a watch.
    pub fn get_children(&mut self, path: &str) -> io::Result<Vec<String>> {
        let request = Request::GetChildren(PathWatchRequest { path: path.into(), watch: false });
        match self.call(op::GET_CHILDREN, &request)? {
            (ErrorCode::Ok, Response::Children(children)) => Ok(children),
            other => Err(io::Error::other(format!("getChildren {path}: {other:?}"))),
        }
    }

    /// sync, so that later reads on this server see everything committed before it.
    pub fn sync(&mut self, path: &str) -> io::Result<()> {
        match self.call(op::SYNC, &Request::Sync(PathRequest { path: path.into() }))? {
            (ErrorCode::Ok, Response::Sync(_)) => Ok(()),
            other => Err(io::Error::other(format!("sync {path}: {other:?}"))),
        }
    }
}

/// Reads one length-prefixed frame.
pub fn read_frame(stream: &mut TcpStream) -> io::Result<Vec<u8>> {
    let mut prefix = [0u8; 4];
    stream.read_exact(&mut prefix)?;
    let mut payload = vec![0u8; u32::from_be_bytes(prefix) as usize];
    stream.read_exact(&mut payload)?;
    Ok(payload)
}

/// Distinct ports nobody listens on right now.
pub fn free_ports(count: usize) -> Vec<u16> {
    let listeners: Vec<std::net::TcpListener> =
        (0..count).map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port")).collect();
    listeners.iter().map(|l| l.local_addr().expect("address").port()).collect()
}

/// The answer to a four-letter word on a client port.
pub fn four_letter(port: u16, word: &str, read_timeout: Duration) -> io::Result<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(read_timeout))?;
    stream.write_all(word.as_bytes())?;
    let mut text = String::new();
    stream.read_to_string(&mut text)?;
    Ok(text)
}
