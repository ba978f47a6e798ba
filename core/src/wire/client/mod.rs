//! The ZooKeeper client protocol (port 2181): records, requests, responses and their jute codec.
//!
//! Frames are a 4-byte big-endian length and a payload. The first frame of a connection is a
//! [`ConnectRequest`]; every later one is a [`RequestHeader`] and a body that depends on the
//! opcode, decoded into a [`Request`]. Replies are a [`ReplyHeader`] and a [`Response`].

mod codec;
mod jute;
mod records;

pub use codec::*;
pub use jute::{DecodeError, JuteReader, JuteWriter};
pub use records::*;

use crate::error::ErrorCode;

/// Opcode numbers (`ZooDefs.OpCode`).
pub mod op {
    #![allow(missing_docs)] // the names are ZooKeeper's own
    pub const NOTIFICATION: i32 = 0;
    pub const CREATE: i32 = 1;
    pub const DELETE: i32 = 2;
    pub const EXISTS: i32 = 3;
    pub const GET_DATA: i32 = 4;
    pub const SET_DATA: i32 = 5;
    pub const GET_ACL: i32 = 6;
    pub const SET_ACL: i32 = 7;
    pub const GET_CHILDREN: i32 = 8;
    pub const SYNC: i32 = 9;
    pub const PING: i32 = 11;
    pub const GET_CHILDREN2: i32 = 12;
    pub const CHECK: i32 = 13;
    pub const MULTI: i32 = 14;
    pub const CREATE2: i32 = 15;
    pub const RECONFIG: i32 = 16;
    pub const CHECK_WATCHES: i32 = 17;
    pub const REMOVE_WATCHES: i32 = 18;
    pub const CREATE_CONTAINER: i32 = 19;
    pub const DELETE_CONTAINER: i32 = 20;
    pub const CREATE_TTL: i32 = 21;
    pub const MULTI_READ: i32 = 22;
    pub const AUTH: i32 = 100;
    pub const SET_WATCHES: i32 = 101;
    pub const SASL: i32 = 102;
    pub const GET_EPHEMERALS: i32 = 103;
    pub const GET_ALL_CHILDREN_NUMBER: i32 = 104;
    pub const SET_WATCHES2: i32 = 105;
    pub const ADD_WATCH: i32 = 106;
    pub const WHO_AM_I: i32 = 107;
    pub const CREATE_SESSION: i32 = -10;
    pub const CLOSE_SESSION: i32 = -11;
    pub const ERROR: i32 = -1;
}

/// Special xids (`ClientCnxn`).
pub mod xid {
    /// Server→client watch event.
    pub const NOTIFICATION: i32 = -1;
    /// Ping request and reply.
    pub const PING: i32 = -2;
    /// Auth packet.
    pub const AUTH: i32 = -4;
    /// setWatches / setWatches2 on reconnect.
    pub const SET_WATCHES: i32 = -8;
}

/// `Watcher.Event.EventType` numbers.
pub mod event_type {
    #![allow(missing_docs)]
    pub const NONE: i32 = -1;
    pub const NODE_CREATED: i32 = 1;
    pub const NODE_DELETED: i32 = 2;
    pub const NODE_DATA_CHANGED: i32 = 3;
    pub const NODE_CHILDREN_CHANGED: i32 = 4;
    pub const DATA_WATCH_REMOVED: i32 = 5;
    pub const CHILD_WATCH_REMOVED: i32 = 6;
    pub const PERSISTENT_WATCH_REMOVED: i32 = 7;
}

/// `Watcher.Event.KeeperState` numbers the server sends.
pub mod keeper_state {
    #![allow(missing_docs)]
    pub const DISCONNECTED: i32 = 0;
    pub const SYNC_CONNECTED: i32 = 3;
    pub const AUTH_FAILED: i32 = 4;
    pub const CONNECTED_READ_ONLY: i32 = 5;
    pub const EXPIRED: i32 = -112;
}

/// One sub-operation of a `multi` request.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum MultiOp {
    /// create (1), create2 (15) or createContainer (19): the opcode is kept to answer in kind.
    Create {
        /// 1, 15 or 19.
        op: i32,
        /// The request.
        request: CreateRequest,
    },
    /// createTTL (21).
    CreateTtl(CreateTtlRequest),
    /// delete (2).
    Delete(DeleteRequest),
    /// setData (5).
    SetData(SetDataRequest),
    /// check (13).
    Check(CheckVersionRequest),
}

/// One sub-operation of a `multiRead` request.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum MultiReadOp {
    /// getChildren (8).
    GetChildren(PathWatchRequest),
    /// getData (4).
    GetData(PathWatchRequest),
}

/// A decoded client request body (everything after the [`RequestHeader`]).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Request {
    /// create (1).
    Create(CreateRequest),
    /// create2 (15).
    Create2(CreateRequest),
    /// createContainer (19).
    CreateContainer(CreateRequest),
    /// createTTL (21).
    CreateTtl(CreateTtlRequest),
    /// delete (2).
    Delete(DeleteRequest),
    /// deleteContainer (20), internal.
    DeleteContainer(PathRequest),
    /// exists (3).
    Exists(PathWatchRequest),
    /// getData (4).
    GetData(PathWatchRequest),
    /// setData (5).
    SetData(SetDataRequest),
    /// getACL (6).
    GetAcl(PathRequest),
    /// setACL (7).
    SetAcl(SetAclRequest),
    /// getChildren (8).
    GetChildren(PathWatchRequest),
    /// getChildren2 (12).
    GetChildren2(PathWatchRequest),
    /// sync (9).
    Sync(PathRequest),
    /// ping (11).
    Ping,
    /// check (13) outside a multi.
    Check(CheckVersionRequest),
    /// multi (14).
    Multi(Vec<MultiOp>),
    /// multiRead (22).
    MultiRead(Vec<MultiReadOp>),
    /// reconfig (16).
    Reconfig(ReconfigRequest),
    /// checkWatches (17).
    CheckWatches(WatchesRequest),
    /// removeWatches (18).
    RemoveWatches(WatchesRequest),
    /// auth (100).
    Auth(AuthPacket),
    /// setWatches (101).
    SetWatches(SetWatches),
    /// setWatches2 (105).
    SetWatches2(SetWatches),
    /// sasl (102): the token.
    Sasl(Vec<u8>),
    /// getEphemerals (103).
    GetEphemerals(PathRequest),
    /// getAllChildrenNumber (104).
    GetAllChildrenNumber(PathRequest),
    /// addWatch (106).
    AddWatch(AddWatchRequest),
    /// whoAmI (107).
    WhoAmI,
    /// closeSession (−11).
    CloseSession,
}

/// The result of one `multi` sub-operation.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum MultiResult {
    /// create (1): the created path.
    Create(String),
    /// create2 / createContainer / createTTL: path and stat.
    Create2 {
        /// The opcode answered (15, 19 or 21).
        op: i32,
        /// The created path.
        path: String,
        /// Its stat.
        stat: Stat,
    },
    /// delete.
    Delete,
    /// setData: the new stat.
    SetData(Stat),
    /// check.
    Check,
    /// A failed sub-op, or one after it (`ErrorResponse`).
    Error(ErrorCode),
}

/// The result of one `multiRead` sub-operation.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum MultiReadResult {
    /// getChildren.
    GetChildren(Vec<String>),
    /// getData.
    GetData {
        /// The data.
        data: Vec<u8>,
        /// Its stat.
        stat: Stat,
    },
    /// A failed sub-op.
    Error(ErrorCode),
}

/// A response body (everything after the [`ReplyHeader`]); sent only when `err == 0`,
/// except for multi, whose body carries per-op results.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Response {
    /// Header only: delete, sync-less ops, ping, auth, setWatches, removeWatches, checkWatches, closeSession.
    Empty,
    /// create (1): `CreateResponse`.
    Create(String),
    /// create2 / createContainer / createTTL: `Create2Response`.
    Create2 {
        /// The created path.
        path: String,
        /// Its stat.
        stat: Stat,
    },
    /// exists / setData / setACL / check: a lone `Stat`.
    Stat(Stat),
    /// getData: `GetDataResponse`; also reconfig.
    GetData {
        /// The data.
        data: Vec<u8>,
        /// Its stat.
        stat: Stat,
    },
    /// getACL: `GetACLResponse`.
    GetAcl {
        /// The ACL (digest hashes masked without ADMIN).
        acl: Vec<Acl>,
        /// The node's stat.
        stat: Stat,
    },
    /// getChildren: `GetChildrenResponse`; also getEphemerals.
    Children(Vec<String>),
    /// getChildren2: `GetChildren2Response`.
    Children2 {
        /// The children.
        children: Vec<String>,
        /// The parent's stat.
        stat: Stat,
    },
    /// sync: `SyncResponse`.
    Sync(String),
    /// getAllChildrenNumber.
    AllChildrenNumber(i32),
    /// multi.
    Multi(Vec<MultiResult>),
    /// multiRead.
    MultiRead(Vec<MultiReadResult>),
    /// addWatch: `ErrorResponse{err}`.
    AddWatch(ErrorCode),
    /// whoAmI.
    WhoAmI(Vec<ClientInfo>),
    /// sasl: `SetSASLResponse`.
    Sasl(Vec<u8>),
}
