//! Transactions: the state changes that are logged, replicated and applied to the tree.
//!
//! They mirror ZooKeeper's `org.apache.zookeeper.txn` records (`TxnHeader` plus one of
//! `CreateTxn`, `DeleteTxn`, ...), so that the quorum codec can carry them to Apache
//! ZooKeeper peers unchanged. A failed write is still a transaction (`Error`) with its own
//! zxid, exactly as in ZooKeeper.

use crate::ids::{SessionId, Xid, Zxid};
use crate::wire::client::Acl;
use serde::{Deserialize, Serialize};

/// `txn.TxnHeader`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxnHeader {
    /// The session that issued the request.
    pub client_id: SessionId,
    /// The request's xid.
    pub cxid: Xid,
    /// The zxid assigned to this transaction.
    pub zxid: Zxid,
    /// Time of the proposal, ms since the epoch: becomes ctime/mtime.
    pub time: i64,
    /// The opcode (`op::CREATE`, ..., `op::ERROR`).
    pub op: i32,
}

/// The body of a transaction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TxnBody {
    /// `CreateTxn` (create, create2; ephemeral when the owner is the header's session).
    Create {
        /// The final path (sequential suffix included).
        path: String,
        /// The data.
        data: Vec<u8>,
        /// The ACL.
        acl: Vec<Acl>,
        /// Whether the node is owned by `client_id`.
        ephemeral: bool,
        /// The parent's cversion after this create.
        parent_cversion: i32,
    },
    /// `CreateContainerTxn`.
    CreateContainer {
        /// The final path.
        path: String,
        /// The data.
        data: Vec<u8>,
        /// The ACL.
        acl: Vec<Acl>,
        /// The parent's cversion after this create.
        parent_cversion: i32,
    },
    /// `CreateTTLTxn`.
    CreateTtl {
        /// The final path.
        path: String,
        /// The data.
        data: Vec<u8>,
        /// The ACL.
        acl: Vec<Acl>,
        /// The parent's cversion after this create.
        parent_cversion: i32,
        /// TTL in ms.
        ttl: i64,
    },
    /// `DeleteTxn` (delete, deleteContainer).
    Delete {
        /// The path.
        path: String,
    },
    /// `SetDataTxn`.
    SetData {
        /// The path.
        path: String,
        /// The new data.
        data: Vec<u8>,
        /// The node's version after this change.
        version: i32,
    },
    /// `SetACLTxn`.
    SetAcl {
        /// The path.
        path: String,
        /// The new ACL.
        acl: Vec<Acl>,
        /// The node's aversion after this change.
        version: i32,
    },
    /// `CheckVersionTxn` (inside a multi).
    Check {
        /// The path.
        path: String,
        /// The version checked.
        version: i32,
    },
    /// `CreateSessionTxn`.
    CreateSession {
        /// The negotiated timeout in ms.
        timeout_ms: i32,
    },
    /// `CloseSessionTxn`: the session's ephemerals, deleted at this zxid.
    CloseSession {
        /// Ephemeral paths to delete.
        paths_to_delete: Vec<String>,
    },
    /// `ErrorTxn`: a write that failed validation still takes a zxid.
    Error {
        /// The error code number.
        err: i32,
    },
    /// `MultiTxn`: the sub-transactions, all under one zxid. A failed multi holds only `Error`s
    /// (earlier ops `Ok` (0), the failing op its code, later ops `RuntimeInconsistency` (−2)).
    Multi(Vec<SubTxn>),
}

/// One sub-transaction of a `MultiTxn`: ZooKeeper keeps a type per sub-txn, so create,
/// create2 and createContainer answer in kind.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubTxn {
    /// The sub-op's opcode (`op::CREATE`, `op::CREATE2`, ..., or `op::ERROR`).
    pub op: i32,
    /// Its body.
    pub body: TxnBody,
}

impl TxnBody {
    /// The opcode a [`TxnHeader`] carries for this body when the request's opcode was
    /// `request_op`: `op::ERROR` for a failed single write (ZooKeeper rewrites the header type),
    /// the request's own opcode otherwise (a failed multi stays `op::MULTI`).
    pub fn header_op(&self, request_op: i32) -> i32 {
        match self {
            TxnBody::Error { .. } => crate::wire::client::op::ERROR,
            _ => request_op,
        }
    }
}

/// A transaction: header and body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Txn {
    /// The header.
    pub header: TxnHeader,
    /// The body.
    pub body: TxnBody,
}
