//! The whole runtime in-process on a simulated disk: a write is acknowledged only after its
//! fsync; a failed fsync stops the server without acknowledging; shutdown syncs.

use super::*;
use crate::storage::MemDisk;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use zab_core::proto::{
    decode_connect_response, decode_reply, encode_connect_request, encode_request, frame, op, Acl, ConnectRequest,
    CreateRequest, Request, RequestHeader, Response,
};
use zab_core::ErrorCode;

fn config() -> ServerConfig {
    let mut config = ServerConfig::standalone_default();
    config.data_dir = "/zab".into();
    config.data_log_dir = "/zab".into();
    config.prealloc_size_kb = 4;
    config
}

async fn read_frame(stream: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut prefix = [0u8; 4];
    stream.read_exact(&mut prefix).await?;
    let mut payload = vec![0u8; u32::from_be_bytes(prefix) as usize];
    stream.read_exact(&mut payload).await?;
    Ok(payload)
}

async fn handshake(port: u16) -> TcpStream {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.expect("connect");
    let request = ConnectRequest::new_session(30_000);
    stream.write_all(&frame(encode_connect_request(&request))).await.expect("send handshake");
    let response = decode_connect_response(&read_frame(&mut stream).await.expect("answer")).expect("decode");
    assert_eq!(response.timeout_ms, 30_000);
    stream
}

async fn send_create(stream: &mut TcpStream, xid: i32, path: &str) {
    let create = CreateRequest { path: path.into(), data: vec![], acl: Acl::open_unsafe(), flags: 0 };
    let bytes = frame(encode_request(&RequestHeader { xid, op: op::CREATE }, &Request::Create(create)));
    stream.write_all(&bytes).await.expect("send create");
}

async fn created(stream: &mut TcpStream) -> (i32, ErrorCode, Response) {
    let payload = read_frame(stream).await.expect("reply");
    let (header, response) = decode_reply(op::CREATE, &payload).expect("decode");
    (header.xid, header.err, response)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime")
}

#[test]
fn a_failed_fsync_stops_the_server_and_acknowledges_nothing_after_it() {
    let disk = MemDisk::new();
    runtime().block_on(async {
        let recovered = recover_node(&config(), &disk, now_millis()).expect("recover");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("address").port();
        let server = tokio::spawn(serve(config(), disk.clone(), recovered, listener, std::future::pending()));
        let mut client = handshake(port).await;
        send_create(&mut client, 1, "/a").await;
        assert_eq!(created(&mut client).await, (1, ErrorCode::Ok, Response::Create("/a".into())));
        disk.fail_syncs(true);
        send_create(&mut client, 2, "/b").await;
        let stopped = tokio::time::timeout(Duration::from_secs(10), server).await.expect("the server stops in time");
        let error = stopped.expect("task").expect_err("the server stops with an error");
        assert!(error.to_string().contains("fdatasync failed"), "{error}");
        let mut rest = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(10), client.read_to_end(&mut rest)).await.expect("closed");
        assert!(read.is_err() || rest.is_empty(), "no reply after a failed fsync: {rest:?}");
    });
    disk.crash(5);
    let recovered = recover_node(&config(), &disk, now_millis()).expect("recover");
    assert_eq!(recovered.node.tree().node_count(), 5, "/a, acknowledged, survives");
}

#[test]
fn shutdown_syncs_and_returns_ok() {
    let disk = MemDisk::new();
    runtime().block_on(async {
        let recovered = recover_node(&config(), &disk, now_millis()).expect("recover");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("address").port();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let shutdown = async move {
            let _ = stopped.await;
        };
        let server = tokio::spawn(serve(config(), disk.clone(), recovered, listener, shutdown));
        let mut client = handshake(port).await;
        // Pipelined: replies come back in order, each after its group's fsync.
        for xid in 1..=20 {
            send_create(&mut client, xid, &format!("/n{xid}")).await;
        }
        for xid in 1..=20 {
            assert_eq!(created(&mut client).await, (xid, ErrorCode::Ok, Response::Create(format!("/n{xid}"))));
        }
        stop.send(()).expect("server running");
        server.await.expect("task").expect("clean shutdown");
    });
    disk.crash(9);
    let recovered = recover_node(&config(), &disk, now_millis()).expect("recover");
    assert_eq!(recovered.node.tree().node_count(), 4 + 20);
}
