//! Hex dumps of one representative encoding per request, response and handshake kind:
//! review a diff here like a protocol change.

use std::fmt::Write;
use zab_core::wire::client::*;
use zab_core::{ErrorCode, SessionId, Zxid};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn stat() -> Stat {
    Stat {
        czxid: 0x1_0000_0002,
        mzxid: 0x1_0000_0003,
        ctime: 1_700_000_000_000,
        mtime: 1_700_000_000_001,
        version: 1,
        cversion: 2,
        aversion: 0,
        ephemeral_owner: 0,
        data_length: 5,
        num_children: 2,
        pzxid: 0x1_0000_0004,
    }
}

fn create() -> CreateRequest {
    CreateRequest { path: "/app/lock-".into(), data: b"hello".to_vec(), acl: Acl::open_unsafe(), flags: 3 }
}

fn path_watch() -> PathWatchRequest {
    PathWatchRequest { path: "/app".into(), watch: true }
}

fn path() -> PathRequest {
    PathRequest { path: "/app".into() }
}

fn watches() -> SetWatches {
    SetWatches {
        relative_zxid: Zxid(0x1_0000_0009),
        data_watches: vec!["/a".into()],
        exist_watches: vec!["/b".into()],
        child_watches: vec![],
        persistent_watches: vec!["/p".into()],
        persistent_recursive_watches: vec!["/r".into()],
    }
}

fn requests() -> Vec<Request> {
    let ttl = CreateTtlRequest { path: "/t".into(), data: vec![], acl: Acl::read_unsafe(), flags: 5, ttl: 60_000 };
    vec![
        Request::Create(create()),
        Request::Create2(create()),
        Request::CreateContainer(create()),
        Request::CreateTtl(ttl.clone()),
        Request::Delete(DeleteRequest { path: "/app".into(), version: -1 }),
        Request::DeleteContainer(path()),
        Request::Exists(path_watch()),
        Request::GetData(path_watch()),
        Request::SetData(SetDataRequest { path: "/app".into(), data: b"v2".to_vec(), version: 3 }),
        Request::GetAcl(path()),
        Request::SetAcl(SetAclRequest { path: "/app".into(), acl: Acl::open_unsafe(), version: 0 }),
        Request::GetChildren(path_watch()),
        Request::GetChildren2(path_watch()),
        Request::Sync(path()),
        Request::Ping,
        Request::Check(CheckVersionRequest { path: "/app".into(), version: 7 }),
        Request::Multi(vec![
            MultiOp::Create { op: op::CREATE, request: create() },
            MultiOp::CreateTtl(ttl),
            MultiOp::Delete(DeleteRequest { path: "/x".into(), version: 2 }),
            MultiOp::SetData(SetDataRequest { path: "/y".into(), data: b"d".to_vec(), version: -1 }),
            MultiOp::Check(CheckVersionRequest { path: "/z".into(), version: 1 }),
        ]),
        Request::MultiRead(vec![MultiReadOp::GetChildren(path_watch()), MultiReadOp::GetData(path_watch())]),
        Request::Reconfig(ReconfigRequest {
            joining_servers: "server.4=127.0.0.1:2888:3888;2181".into(),
            leaving_servers: "".into(),
            new_members: "".into(),
            current_config_id: -1,
        }),
        Request::CheckWatches(WatchesRequest { path: "/app".into(), watcher_type: 2 }),
        Request::RemoveWatches(WatchesRequest { path: "/app".into(), watcher_type: 3 }),
        Request::Auth(AuthPacket { auth_type: 0, scheme: "digest".into(), auth: b"user:secret".to_vec() }),
        Request::SetWatches(SetWatches {
            persistent_watches: vec![],
            persistent_recursive_watches: vec![],
            ..watches()
        }),
        Request::SetWatches2(watches()),
        Request::Sasl(b"token".to_vec()),
        Request::GetEphemerals(path()),
        Request::GetAllChildrenNumber(path()),
        Request::AddWatch(AddWatchRequest { path: "/app".into(), mode: 1 }),
        Request::WhoAmI,
        Request::CloseSession,
    ]
}

fn special_xid(request: &Request) -> i32 {
    match request {
        Request::Ping => xid::PING,
        Request::Auth(_) => xid::AUTH,
        Request::SetWatches(_) | Request::SetWatches2(_) => xid::SET_WATCHES,
        _ => 7,
    }
}

#[test]
fn request_encodings() {
    let mut dump = String::new();
    for request in requests() {
        let header = RequestHeader { xid: special_xid(&request), op: request.op() };
        let bytes = encode_request(&header, &request);
        assert_eq!(decode_request(&bytes), Ok((header, request.clone())));
        writeln!(dump, "{:>4} {}", request.op(), hex(&bytes)).unwrap();
    }
    super::snapshot_settings().bind(|| insta::assert_snapshot!("requests", dump));
}

fn responses() -> Vec<(i32, Response)> {
    let data = Response::GetData { data: b"hello".to_vec(), stat: stat() };
    vec![
        (op::DELETE, Response::Empty),
        (op::CREATE, Response::Create("/app/lock-0000000001".into())),
        (op::CREATE2, Response::Create2 { path: "/app".into(), stat: stat() }),
        (op::EXISTS, Response::Stat(stat())),
        (op::GET_DATA, data),
        (op::GET_ACL, Response::GetAcl { acl: Acl::open_unsafe(), stat: stat() }),
        (op::GET_CHILDREN, Response::Children(vec!["a".into(), "b".into()])),
        (op::GET_CHILDREN2, Response::Children2 { children: vec!["a".into()], stat: stat() }),
        (op::SYNC, Response::Sync("/app".into())),
        (op::GET_ALL_CHILDREN_NUMBER, Response::AllChildrenNumber(42)),
        (
            op::MULTI,
            Response::Multi(vec![
                MultiResult::Create("/a".into()),
                MultiResult::Create2 { op: op::CREATE_CONTAINER, path: "/c".into(), stat: stat() },
                MultiResult::Delete,
                MultiResult::SetData(stat()),
                MultiResult::Check,
            ]),
        ),
        (
            op::MULTI,
            Response::Multi(vec![
                MultiResult::Error(ErrorCode::Ok),
                MultiResult::Error(ErrorCode::BadVersion),
                MultiResult::Error(ErrorCode::RuntimeInconsistency),
            ]),
        ),
        (
            op::MULTI_READ,
            Response::MultiRead(vec![
                MultiReadResult::GetChildren(vec!["a".into()]),
                MultiReadResult::GetData { data: b"d".to_vec(), stat: stat() },
                MultiReadResult::Error(ErrorCode::NoNode),
            ]),
        ),
        (op::ADD_WATCH, Response::AddWatch(ErrorCode::Ok)),
        (op::WHO_AM_I, Response::WhoAmI(vec![ClientInfo { auth_scheme: "ip".into(), user: "127.0.0.1".into() }])),
        (op::SASL, Response::Sasl(b"challenge".to_vec())),
    ]
}

#[test]
fn reply_encodings() {
    let mut dump = String::new();
    for (op, response) in responses() {
        let header = ReplyHeader { xid: 7, zxid: Zxid(0x1_0000_0005), err: ErrorCode::Ok };
        let bytes = encode_reply(&header, &response);
        assert_eq!(decode_reply(op, &bytes), Ok((header, response)));
        writeln!(dump, "{op:>4} {}", hex(&bytes)).unwrap();
    }
    let failed = ReplyHeader { xid: 8, zxid: Zxid(0x1_0000_0005), err: ErrorCode::NoNode };
    let bytes = encode_reply(&failed, &Response::Stat(stat()));
    writeln!(dump, "   3 NONODE {}", hex(&bytes)).unwrap();
    let ping = ReplyHeader { xid: xid::PING, zxid: Zxid(0x1_0000_0005), err: ErrorCode::Ok };
    writeln!(dump, "  11 {}", hex(&encode_reply(&ping, &Response::Empty))).unwrap();
    super::snapshot_settings().bind(|| insta::assert_snapshot!("replies", dump));
}

#[test]
fn handshake_and_event_encodings() {
    let request = ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: Zxid(0),
        timeout_ms: 30_000,
        session_id: SessionId(0),
        passwd: vec![0; 16],
        read_only: Some(false),
    };
    let response = ConnectResponse {
        protocol_version: 0,
        timeout_ms: 30_000,
        session_id: SessionId(0x0100_0008_73ca_0000),
        passwd: (1..=16).collect(),
        read_only: Some(false),
    };
    let event = WatcherEvent {
        event_type: event_type::NODE_DATA_CHANGED,
        state: keeper_state::SYNC_CONNECTED,
        path: "/app".into(),
    };
    let mut dump = String::new();
    let connect_request = encode_connect_request(&request);
    assert_eq!(connect_request.len(), 45);
    writeln!(dump, "connect request 45: {}", hex(&connect_request)).unwrap();
    let short = encode_connect_request(&ConnectRequest { read_only: None, ..request });
    assert_eq!(short.len(), 44);
    writeln!(dump, "connect request 44: {}", hex(&short)).unwrap();
    let connect_response = encode_connect_response(&response);
    assert_eq!(connect_response.len(), 37);
    writeln!(dump, "connect response 37: {}", hex(&connect_response)).unwrap();
    let short = encode_connect_response(&ConnectResponse { read_only: None, ..response });
    assert_eq!(short.len(), 36);
    writeln!(dump, "connect response 36: {}", hex(&short)).unwrap();
    writeln!(dump, "event (3.8 zxid -1): {}", hex(&encode_watch_event(Zxid(-1), &event))).unwrap();
    writeln!(dump, "framed ping: {}", hex(&frame(encode_request(&RequestHeader { xid: -2, op: 11 }, &Request::Ping))))
        .unwrap();
    super::snapshot_settings().bind(|| insta::assert_snapshot!("handshake_and_events", dump));
}
