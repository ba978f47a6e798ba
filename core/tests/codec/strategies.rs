//! proptest strategies producing arbitrary values of every record, request and response.

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use zab_core::wire::client::*;
use zab_core::{ErrorCode, SessionId, Zxid};

pub fn text() -> impl Strategy<Value = String> {
    "\\PC{0,12}"
}

pub fn bytes() -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..24)
}

pub fn strings() -> impl Strategy<Value = Vec<String>> {
    vec(text(), 0..4)
}

pub fn error_code() -> impl Strategy<Value = ErrorCode> {
    select(ErrorCode::ALL)
}

pub fn id() -> impl Strategy<Value = Id> {
    (text(), text()).prop_map(|(scheme, id)| Id { scheme, id })
}

pub fn acl() -> impl Strategy<Value = Acl> {
    (any::<i32>(), id()).prop_map(|(perms, id)| Acl { perms, id })
}

pub fn acls() -> impl Strategy<Value = Vec<Acl>> {
    vec(acl(), 0..3)
}

pub fn stat() -> impl Strategy<Value = Stat> {
    (
        (any::<i64>(), any::<i64>(), any::<i64>(), any::<i64>()),
        (any::<i32>(), any::<i32>(), any::<i32>(), any::<i64>()),
        (any::<i32>(), any::<i32>(), any::<i64>()),
    )
        .prop_map(
            |(
                (czxid, mzxid, ctime, mtime),
                (version, cversion, aversion, ephemeral_owner),
                (data_length, num_children, pzxid),
            )| Stat {
                czxid,
                mzxid,
                ctime,
                mtime,
                version,
                cversion,
                aversion,
                ephemeral_owner,
                data_length,
                num_children,
                pzxid,
            },
        )
}

pub fn connect_request() -> impl Strategy<Value = ConnectRequest> {
    (any::<i32>(), any::<i64>(), any::<i32>(), any::<i64>(), bytes(), any::<Option<bool>>()).prop_map(
        |(protocol_version, zxid, timeout_ms, session, passwd, read_only)| ConnectRequest {
            protocol_version,
            last_zxid_seen: Zxid(zxid),
            timeout_ms,
            session_id: SessionId(session),
            passwd,
            read_only,
        },
    )
}

pub fn connect_response() -> impl Strategy<Value = ConnectResponse> {
    (any::<i32>(), any::<i32>(), any::<i64>(), bytes(), any::<Option<bool>>()).prop_map(
        |(protocol_version, timeout_ms, session, passwd, read_only)| ConnectResponse {
            protocol_version,
            timeout_ms,
            session_id: SessionId(session),
            passwd,
            read_only,
        },
    )
}

pub fn reply_header() -> impl Strategy<Value = ReplyHeader> {
    (any::<i32>(), any::<i64>(), error_code()).prop_map(|(xid, zxid, err)| ReplyHeader { xid, zxid: Zxid(zxid), err })
}

pub fn multi_header() -> impl Strategy<Value = MultiHeader> {
    (any::<i32>(), any::<bool>(), any::<i32>()).prop_map(|(op, done, err)| MultiHeader { op, done, err })
}

pub fn auth_packet() -> impl Strategy<Value = AuthPacket> {
    (any::<i32>(), text(), bytes()).prop_map(|(auth_type, scheme, auth)| AuthPacket { auth_type, scheme, auth })
}

pub fn create() -> impl Strategy<Value = CreateRequest> {
    (text(), bytes(), acls(), any::<i32>()).prop_map(|(path, data, acl, flags)| CreateRequest {
        path,
        data,
        acl,
        flags,
    })
}

pub fn create_ttl() -> impl Strategy<Value = CreateTtlRequest> {
    (text(), bytes(), acls(), any::<i32>(), any::<i64>()).prop_map(|(path, data, acl, flags, ttl)| CreateTtlRequest {
        path,
        data,
        acl,
        flags,
        ttl,
    })
}

pub fn delete() -> impl Strategy<Value = DeleteRequest> {
    (text(), any::<i32>()).prop_map(|(path, version)| DeleteRequest { path, version })
}

pub fn path_watch() -> impl Strategy<Value = PathWatchRequest> {
    (text(), any::<bool>()).prop_map(|(path, watch)| PathWatchRequest { path, watch })
}

pub fn path() -> impl Strategy<Value = PathRequest> {
    text().prop_map(|path| PathRequest { path })
}

pub fn set_data() -> impl Strategy<Value = SetDataRequest> {
    (text(), bytes(), any::<i32>()).prop_map(|(path, data, version)| SetDataRequest { path, data, version })
}

pub fn set_acl() -> impl Strategy<Value = SetAclRequest> {
    (text(), acls(), any::<i32>()).prop_map(|(path, acl, version)| SetAclRequest { path, acl, version })
}

pub fn check() -> impl Strategy<Value = CheckVersionRequest> {
    (text(), any::<i32>()).prop_map(|(path, version)| CheckVersionRequest { path, version })
}

pub fn watches() -> impl Strategy<Value = WatchesRequest> {
    (text(), any::<i32>()).prop_map(|(path, watcher_type)| WatchesRequest { path, watcher_type })
}

pub fn add_watch() -> impl Strategy<Value = AddWatchRequest> {
    (text(), any::<i32>()).prop_map(|(path, mode)| AddWatchRequest { path, mode })
}

/// `with_persistent`: false for op 101, whose record has no persistent lists.
pub fn set_watches(with_persistent: bool) -> impl Strategy<Value = SetWatches> {
    (any::<i64>(), strings(), strings(), strings(), strings(), strings()).prop_map(move |(zxid, d, e, c, p, r)| {
        SetWatches {
            relative_zxid: Zxid(zxid),
            data_watches: d,
            exist_watches: e,
            child_watches: c,
            persistent_watches: if with_persistent { p } else { vec![] },
            persistent_recursive_watches: if with_persistent { r } else { vec![] },
        }
    })
}

pub fn reconfig() -> impl Strategy<Value = ReconfigRequest> {
    (text(), text(), text(), any::<i64>()).prop_map(
        |(joining_servers, leaving_servers, new_members, current_config_id)| ReconfigRequest {
            joining_servers,
            leaving_servers,
            new_members,
            current_config_id,
        },
    )
}

pub fn watcher_event() -> impl Strategy<Value = WatcherEvent> {
    (any::<i32>(), any::<i32>(), text()).prop_map(|(event_type, state, path)| WatcherEvent { event_type, state, path })
}

pub fn client_info() -> impl Strategy<Value = ClientInfo> {
    (text(), text()).prop_map(|(auth_scheme, user)| ClientInfo { auth_scheme, user })
}

pub fn multi_op() -> impl Strategy<Value = MultiOp> {
    prop_oneof![
        (select(vec![op::CREATE, op::CREATE2, op::CREATE_CONTAINER]), create())
            .prop_map(|(op, request)| MultiOp::Create { op, request }),
        create_ttl().prop_map(MultiOp::CreateTtl),
        delete().prop_map(MultiOp::Delete),
        set_data().prop_map(MultiOp::SetData),
        check().prop_map(MultiOp::Check),
    ]
}

pub fn multi_read_op() -> impl Strategy<Value = MultiReadOp> {
    prop_oneof![path_watch().prop_map(MultiReadOp::GetChildren), path_watch().prop_map(MultiReadOp::GetData)]
}

pub fn request() -> impl Strategy<Value = Request> {
    prop_oneof![
        create().prop_map(Request::Create),
        create().prop_map(Request::Create2),
        create().prop_map(Request::CreateContainer),
        create_ttl().prop_map(Request::CreateTtl),
        delete().prop_map(Request::Delete),
        path().prop_map(Request::DeleteContainer),
        path_watch().prop_map(Request::Exists),
        path_watch().prop_map(Request::GetData),
        set_data().prop_map(Request::SetData),
        path().prop_map(Request::GetAcl),
        set_acl().prop_map(Request::SetAcl),
        path_watch().prop_map(Request::GetChildren),
        path_watch().prop_map(Request::GetChildren2),
        path().prop_map(Request::Sync),
        Just(Request::Ping),
        check().prop_map(Request::Check),
        vec(multi_op(), 0..4).prop_map(Request::Multi),
        vec(multi_read_op(), 0..4).prop_map(Request::MultiRead),
        reconfig().prop_map(Request::Reconfig),
        watches().prop_map(Request::CheckWatches),
        watches().prop_map(Request::RemoveWatches),
        auth_packet().prop_map(Request::Auth),
        set_watches(false).prop_map(Request::SetWatches),
        set_watches(true).prop_map(Request::SetWatches2),
        bytes().prop_map(Request::Sasl),
        path().prop_map(Request::GetEphemerals),
        path().prop_map(Request::GetAllChildrenNumber),
        add_watch().prop_map(Request::AddWatch),
        Just(Request::WhoAmI),
        Just(Request::CloseSession),
    ]
}

pub fn multi_result() -> impl Strategy<Value = MultiResult> {
    prop_oneof![
        text().prop_map(MultiResult::Create),
        (select(vec![op::CREATE2, op::CREATE_CONTAINER, op::CREATE_TTL]), text(), stat())
            .prop_map(|(op, path, stat)| MultiResult::Create2 { op, path, stat }),
        Just(MultiResult::Delete),
        stat().prop_map(MultiResult::SetData),
        Just(MultiResult::Check),
        error_code().prop_map(MultiResult::Error),
    ]
}

pub fn multi_read_result() -> impl Strategy<Value = MultiReadResult> {
    prop_oneof![
        strings().prop_map(MultiReadResult::GetChildren),
        (bytes(), stat()).prop_map(|(data, stat)| MultiReadResult::GetData { data, stat }),
        error_code().prop_map(MultiReadResult::Error),
    ]
}

/// A successful response with an opcode it answers.
pub fn op_and_response() -> impl Strategy<Value = (i32, Response)> {
    let header_only = select(vec![
        op::DELETE,
        op::DELETE_CONTAINER,
        op::PING,
        op::CHECK_WATCHES,
        op::REMOVE_WATCHES,
        op::AUTH,
        op::SET_WATCHES,
        op::SET_WATCHES2,
        op::CLOSE_SESSION,
    ]);
    prop_oneof![
        header_only.prop_map(|op| (op, Response::Empty)),
        text().prop_map(|path| (op::CREATE, Response::Create(path))),
        (select(vec![op::CREATE2, op::CREATE_CONTAINER, op::CREATE_TTL]), text(), stat())
            .prop_map(|(op, path, stat)| (op, Response::Create2 { path, stat })),
        (select(vec![op::EXISTS, op::SET_DATA, op::SET_ACL, op::CHECK]), stat())
            .prop_map(|(op, stat)| (op, Response::Stat(stat))),
        (select(vec![op::GET_DATA, op::RECONFIG]), bytes(), stat())
            .prop_map(|(op, data, stat)| (op, Response::GetData { data, stat })),
        (acls(), stat()).prop_map(|(acl, stat)| (op::GET_ACL, Response::GetAcl { acl, stat })),
        (select(vec![op::GET_CHILDREN, op::GET_EPHEMERALS]), strings()).prop_map(|(op, c)| (op, Response::Children(c))),
        (strings(), stat()).prop_map(|(children, stat)| (op::GET_CHILDREN2, Response::Children2 { children, stat })),
        text().prop_map(|path| (op::SYNC, Response::Sync(path))),
        any::<i32>().prop_map(|n| (op::GET_ALL_CHILDREN_NUMBER, Response::AllChildrenNumber(n))),
        vec(multi_result(), 0..4).prop_map(|r| (op::MULTI, Response::Multi(r))),
        vec(multi_read_result(), 0..4).prop_map(|r| (op::MULTI_READ, Response::MultiRead(r))),
        error_code().prop_map(|err| (op::ADD_WATCH, Response::AddWatch(err))),
        vec(client_info(), 0..3).prop_map(|c| (op::WHO_AM_I, Response::WhoAmI(c))),
        bytes().prop_map(|token| (op::SASL, Response::Sasl(token))),
    ]
}

/// Every opcode a reply can answer.
pub const REPLY_OPS: &[i32] = &[
    1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 100, 101, 102, 103, 104, 105, 106, 107,
    -11,
];
