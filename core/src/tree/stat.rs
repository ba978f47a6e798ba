//! The stat a znode keeps (`StatPersisted`) and how it becomes the client's [`Stat`];
//! the meaning of `ephemeralOwner` (`EphemeralType.java`).

use crate::ids::SessionId;
use crate::wire::client::Stat;
use serde::{Deserialize, Serialize};

/// `ephemeralOwner` of a container (`EphemeralType.CONTAINER_EPHEMERAL_OWNER`, `Long.MIN_VALUE`).
pub const CONTAINER_EPHEMERAL_OWNER: i64 = i64::MIN;

/// High byte marking an extended `ephemeralOwner` (`EphemeralType.EXTENDED_MASK`).
const EXTENDED_MASK: i64 = 0xff00_0000_0000_0000_u64 as i64;

/// The two bytes after the high byte: which extended type (0 = TTL) (`RESERVED_BITS_MASK`).
const RESERVED_BITS_MASK: i64 = 0x00ff_ff00_0000_0000;

/// The low 40 bits: the extended type's value (the TTL in ms).
const EXTENDED_VALUE_MASK: i64 = !(EXTENDED_MASK | RESERVED_BITS_MASK);

/// `StatPersisted`: what the tree stores per znode. `dataLength` and `numChildren` are derived
/// from the node, and `cversion` counts creates only (see [`StatPersisted::to_stat`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StatPersisted {
    /// zxid of the create.
    pub czxid: i64,
    /// zxid of the last data change.
    pub mzxid: i64,
    /// Creation time, ms.
    pub ctime: i64,
    /// Last data change time, ms.
    pub mtime: i64,
    /// Number of data changes.
    pub version: i32,
    /// Number of children *created* (the sequential counter); deletes do not count here.
    pub cversion: i32,
    /// Number of ACL changes.
    pub aversion: i32,
    /// Owner session, or the container / TTL encoding.
    pub ephemeral_owner: i64,
    /// zxid of the last child create or delete.
    pub pzxid: i64,
}

impl StatPersisted {
    /// `DataTree.createStat`: a new node's stat.
    pub fn new_node(zxid: i64, time: i64, ephemeral_owner: i64) -> StatPersisted {
        StatPersisted {
            czxid: zxid,
            mzxid: zxid,
            ctime: time,
            mtime: time,
            version: 0,
            cversion: 0,
            aversion: 0,
            ephemeral_owner,
            pzxid: zxid,
        }
    }

    /// `DataNode.copyStat`: the stat a client sees.
    ///
    /// ZooKeeper stores the number of creates in `cversion` and reports
    /// `2 * creates - numChildren` (every create but the live children was matched by a
    /// delete), in Java's wrapping int arithmetic. Containers and TTL nodes report
    /// `ephemeralOwner` 0.
    pub fn to_stat(&self, data_length: usize, num_children: usize) -> Stat {
        let num_children = num_children as i32;
        let ephemeral_owner = match EphemeralKind::of(self.ephemeral_owner) {
            EphemeralKind::Session(session) => session.0,
            _ => 0,
        };
        Stat {
            czxid: self.czxid,
            mzxid: self.mzxid,
            ctime: self.ctime,
            mtime: self.mtime,
            version: self.version,
            cversion: self.cversion.wrapping_mul(2).wrapping_sub(num_children),
            aversion: self.aversion,
            ephemeral_owner,
            data_length: data_length as i32,
            num_children,
            pzxid: self.pzxid,
        }
    }
}

/// What `ephemeralOwner` says about a node (`EphemeralType`).
///
/// Extended types are always decoded, as ZooKeeper does with
/// `zookeeper.extendedTypesEnabled=true`: a session id whose high byte is `0xff` (server id
/// 255) would read as a TTL node, so server ids above 254 must not own ephemerals, the limit
/// ZooKeeper itself enforces when extended types are on (`MAX_EXTENDED_SERVER_ID`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EphemeralKind {
    /// 0: an ordinary persistent node (`VOID`).
    Persistent,
    /// An ephemeral owned by this session (`NORMAL`).
    Session(SessionId),
    /// `Long.MIN_VALUE`: a container (`CONTAINER`).
    Container,
    /// High byte `0xff`, type 0: a TTL node with this TTL in ms (`TTL`).
    Ttl(i64),
}

impl EphemeralKind {
    /// Decodes an `ephemeralOwner`.
    pub fn of(owner: i64) -> EphemeralKind {
        if owner == 0 {
            EphemeralKind::Persistent
        } else if owner == CONTAINER_EPHEMERAL_OWNER {
            EphemeralKind::Container
        } else if owner & EXTENDED_MASK == EXTENDED_MASK && owner & RESERVED_BITS_MASK == 0 {
            EphemeralKind::Ttl(owner & EXTENDED_VALUE_MASK)
        } else {
            // ZooKeeper rejects other extended types with an exception; an owner it cannot
            // classify is treated as a session, which is what it is without extended types.
            EphemeralKind::Session(SessionId(owner))
        }
    }

    /// `EphemeralType.TTL.toEphemeralOwner`; `None` unless `0 < ttl <= TTL_MS_MAX`.
    pub fn ttl_owner(ttl: i64) -> Option<i64> {
        if ttl <= 0 || ttl > crate::constants::TTL_MS_MAX {
            return None;
        }
        Some(EXTENDED_MASK | ttl)
    }

    /// Whether this is an ephemeral owned by a session (`NORMAL`).
    pub fn is_session(self) -> bool {
        matches!(self, EphemeralKind::Session(_))
    }
}
