//! The client protocol's records, field for field as `zookeeper.jute` declares them.
//!
//! These are plain data. Encoding and decoding live in `jute.rs` (the primitives) and
//! `codec.rs` (records, requests, responses).

use crate::error::ErrorCode;
use crate::ids::{SessionId, Xid, Zxid};
use serde::{Deserialize, Serialize};

/// Permission bits (`ZooDefs.Perms`).
pub mod perms {
    /// Read data and list children.
    pub const READ: i32 = 1;
    /// Set data.
    pub const WRITE: i32 = 2;
    /// Create children.
    pub const CREATE: i32 = 4;
    /// Delete children.
    pub const DELETE: i32 = 8;
    /// Set the ACL.
    pub const ADMIN: i32 = 16;
    /// All of the above.
    pub const ALL: i32 = 31;
}

/// `data.Id`: an authentication scheme and an identity in it.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Id {
    /// The scheme: `world`, `auth`, `digest`, `ip`, `super`, ...
    pub scheme: String,
    /// The identity within the scheme.
    pub id: String,
}

/// `data.ACL`: permissions granted to an id.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Acl {
    /// Bits from [`perms`].
    pub perms: i32,
    /// Who gets them.
    pub id: Id,
}

impl Acl {
    /// `world:anyone` with all permissions (`ZooDefs.Ids.OPEN_ACL_UNSAFE`).
    pub fn open_unsafe() -> Vec<Acl> {
        vec![Acl { perms: perms::ALL, id: Id { scheme: "world".into(), id: "anyone".into() } }]
    }

    /// `world:anyone` read-only (`ZooDefs.Ids.READ_ACL_UNSAFE`).
    pub fn read_unsafe() -> Vec<Acl> {
        vec![Acl { perms: perms::READ, id: Id { scheme: "world".into(), id: "anyone".into() } }]
    }
}

/// `data.Stat`: what a client sees of a znode's metadata (68 bytes on the wire).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Stat {
    /// zxid of the create.
    pub czxid: i64,
    /// zxid of the last data change.
    pub mzxid: i64,
    /// Creation time, ms since the epoch.
    pub ctime: i64,
    /// Last modification time, ms since the epoch.
    pub mtime: i64,
    /// Number of data changes.
    pub version: i32,
    /// Number of child changes.
    pub cversion: i32,
    /// Number of ACL changes.
    pub aversion: i32,
    /// Owning session for ephemerals; container and TTL markers otherwise.
    pub ephemeral_owner: i64,
    /// Length of the data.
    pub data_length: i32,
    /// Number of children.
    pub num_children: i32,
    /// zxid of the last child change.
    pub pzxid: i64,
}

/// `proto.ConnectRequest`, plus the optional trailing `readOnly` byte of 3.8.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectRequest {
    /// Always 0.
    pub protocol_version: i32,
    /// The last zxid the client has seen (0 for a new session).
    pub last_zxid_seen: Zxid,
    /// Requested session timeout in ms.
    pub timeout_ms: i32,
    /// 0 for a new session.
    pub session_id: SessionId,
    /// The session password (16 zero bytes for a new session).
    pub passwd: Vec<u8>,
    /// `Some` when the client sent the trailing byte; the reply then carries it too.
    pub read_only: Option<bool>,
}

impl ConnectRequest {
    /// The handshake that asks for a new session: no session id, a password of zeros, no
    /// zxid seen, no trailing `readOnly` byte.
    pub fn new_session(timeout_ms: i32) -> ConnectRequest {
        ConnectRequest {
            timeout_ms,
            passwd: vec![0; crate::constants::SESSION_PASSWORD_LEN],
            ..ConnectRequest::default()
        }
    }
}

/// `proto.ConnectResponse`, plus the optional trailing `readOnly` byte.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectResponse {
    /// Always 0.
    pub protocol_version: i32,
    /// Negotiated timeout; 0 means the session is invalid.
    pub timeout_ms: i32,
    /// 0 means the session is invalid.
    pub session_id: SessionId,
    /// The session password.
    pub passwd: Vec<u8>,
    /// Present exactly when the request carried it.
    pub read_only: Option<bool>,
}

/// `proto.RequestHeader`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestHeader {
    /// Client-assigned id, or a special xid (see [`crate::wire::client::xid`]).
    pub xid: Xid,
    /// The opcode number.
    pub op: i32,
}

/// `proto.ReplyHeader`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplyHeader {
    /// The request's xid, or a special xid.
    pub xid: Xid,
    /// The server's last processed zxid (−1 on watch notifications in 3.8).
    pub zxid: Zxid,
    /// 0 or a ZooKeeper error code.
    pub err: ErrorCode,
}

/// `proto.MultiHeader`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MultiHeader {
    /// The sub-op's opcode, or −1 at the end.
    pub op: i32,
    /// True on the terminator.
    pub done: bool,
    /// −1 in requests; the sub-op's result code in responses.
    pub err: i32,
}

/// `proto.AuthPacket` (opcode 100, xid −4).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthPacket {
    /// Always 0.
    pub auth_type: i32,
    /// The scheme, e.g. `digest`.
    pub scheme: String,
    /// The credentials, e.g. `user:password`.
    pub auth: Vec<u8>,
}

/// `proto.CreateRequest` (create, create2, createContainer).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateRequest {
    /// The path to create (before any sequential suffix).
    pub path: String,
    /// The data.
    pub data: Vec<u8>,
    /// The ACL.
    pub acl: Vec<Acl>,
    /// `CreateMode` number.
    pub flags: i32,
}

/// `proto.CreateTTLRequest`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateTtlRequest {
    /// The path to create.
    pub path: String,
    /// The data.
    pub data: Vec<u8>,
    /// The ACL.
    pub acl: Vec<Acl>,
    /// `CreateMode` number (5 or 6).
    pub flags: i32,
    /// The TTL in ms.
    pub ttl: i64,
}

/// `proto.DeleteRequest`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteRequest {
    /// The path.
    pub path: String,
    /// Expected version, −1 for any.
    pub version: i32,
}

/// A path and a watch flag: `ExistsRequest`, `GetDataRequest`, `GetChildrenRequest`, `GetChildren2Request`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathWatchRequest {
    /// The path.
    pub path: String,
    /// Whether to leave a watch.
    pub watch: bool,
}

/// A lone path: `GetACLRequest`, `SyncRequest`, `GetAllChildrenNumberRequest`, `GetEphemeralsRequest`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathRequest {
    /// The path (for getEphemerals, the prefix).
    pub path: String,
}

/// `proto.SetDataRequest`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetDataRequest {
    /// The path.
    pub path: String,
    /// The new data.
    pub data: Vec<u8>,
    /// Expected version, −1 for any.
    pub version: i32,
}

/// `proto.SetACLRequest`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetAclRequest {
    /// The path.
    pub path: String,
    /// The new ACL.
    pub acl: Vec<Acl>,
    /// Expected aversion, −1 for any.
    pub version: i32,
}

/// `proto.CheckVersionRequest`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckVersionRequest {
    /// The path.
    pub path: String,
    /// Expected version, −1 for any.
    pub version: i32,
}

/// `proto.CheckWatchesRequest` / `proto.RemoveWatchesRequest`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchesRequest {
    /// The path.
    pub path: String,
    /// `WatcherType`: Children=1, Data=2, Any=3, Persistent=4, PersistentRecursive=5.
    pub watcher_type: i32,
}

/// `proto.AddWatchRequest`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddWatchRequest {
    /// The path.
    pub path: String,
    /// 0 = persistent, 1 = persistent recursive.
    pub mode: i32,
}

/// `proto.SetWatches` and `proto.SetWatches2` (the latter adds the two persistent lists).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetWatches {
    /// The client's last seen zxid.
    pub relative_zxid: Zxid,
    /// Data watches to re-register.
    pub data_watches: Vec<String>,
    /// Exist watches to re-register.
    pub exist_watches: Vec<String>,
    /// Child watches to re-register.
    pub child_watches: Vec<String>,
    /// Persistent watches (SetWatches2 only).
    pub persistent_watches: Vec<String>,
    /// Persistent recursive watches (SetWatches2 only).
    pub persistent_recursive_watches: Vec<String>,
}

/// `proto.ReconfigRequest`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReconfigRequest {
    /// Servers to add.
    pub joining_servers: String,
    /// Servers to remove.
    pub leaving_servers: String,
    /// A whole new membership.
    pub new_members: String,
    /// Expected current config version, −1 for any.
    pub current_config_id: i64,
}

/// `proto.WatcherEvent`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatcherEvent {
    /// `EventType` number (see [`crate::wire::client::event_type`]).
    pub event_type: i32,
    /// `KeeperState` number (3 = SyncConnected).
    pub state: i32,
    /// The path the event is about.
    pub path: String,
}

/// `proto.WhoAmIResponse` entry (`ClientInfo`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientInfo {
    /// The auth scheme.
    pub auth_scheme: String,
    /// The user within it.
    pub user: String,
}
