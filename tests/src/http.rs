//! A minimal blocking HTTP/1.1 GET for the AdminServer tests: one request per connection
//! (`Connection: close`), the body read to the end. Enough for JSON and the Prometheus text;
//! no chunked encoding is expected (both Jetty and hyper send a length for these bodies).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// The zoo.cfg lines that start an AdminServer on 127.0.0.1:`port`, read alike by zab and
/// Apache ZooKeeper.
pub fn admin_server_lines(port: u16) -> [String; 3] {
    [
        "admin.enableServer=true".to_string(),
        "admin.serverAddress=127.0.0.1".to_string(),
        format!("admin.serverPort={port}"),
    ]
}

/// `GET path` on `address`: the status code and the body, or `None` if nobody answered.
pub fn get(address: SocketAddr, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(5)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, body.to_string()))
}
