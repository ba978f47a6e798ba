//! The ZooKeeper data tree: znodes, their stats and ACLs, and ZooKeeper's write path.
//!
//! A write goes through three steps, as in ZooKeeper (`PrepRequestProcessor`,
//! `SyncRequestProcessor`, `FinalRequestProcessor`):
//!
//! 1. [`DataTree::prepare`] validates the request against the applied tree *plus* the
//!    [`PendingChanges`] of earlier writes still in flight, records what the write will change
//!    there, and returns the transaction body (a failed write still becomes a transaction,
//!    [`TxnBody::Error`](crate::txn::TxnBody::Error), with its own zxid).
//! 2. The driver logs and fsyncs the [`Txn`] (and the quorum agrees on it).
//! 3. [`DataTree::apply`] changes the tree and returns the reply and the changed paths for the
//!    watch manager; then call [`PendingChanges::applied`] with the zxid.
//!
//! Reads ([`DataTree::get_data`], ...) see only applied state and check ACLs the way
//! `FinalRequestProcessor` does.
//!
//! Documented differences from ZooKeeper 3.9 are marked "Differs:" on the methods.

mod acl;
mod apply;
mod path;
mod pending;
mod prepare;
mod snapshot;
mod stat;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

pub use acl::{check_acl, fixup_acl, generate_digest, ip_matches, mask_digests, AclCache, AclId, AuthInfo};
pub use apply::{Applied, Change};
pub use path::{is_special, parent_of, validate_path};
pub use pending::{PendingChanges, PendingNode};
pub use prepare::WriteContext;
pub use snapshot::{SnapshotNode, TreeSnapshot};
pub use stat::{EphemeralKind, StatPersisted, CONTAINER_EPHEMERAL_OWNER};

use crate::error::ErrorCode;
use crate::ids::{SessionId, Zxid};
use crate::wire::client::{perms, Acl, Stat};
use std::collections::{BTreeMap, BTreeSet};

/// One znode (`DataNode`).
#[derive(Clone, Debug, PartialEq, Eq)]
struct ZNode {
    data: Vec<u8>,
    acl: AclId,
    stat: StatPersisted,
    /// Child names (not full paths), sorted: `getChildren` and child counts are cheap.
    children: BTreeSet<String>,
}

/// The data tree: every znode by full path, the interned ACL lists, and the indexes
/// ZooKeeper keeps (ephemerals per session, containers, TTL nodes).
#[derive(Clone, Debug)]
pub struct DataTree {
    nodes: BTreeMap<String, ZNode>,
    acls: AclCache,
    ephemerals: BTreeMap<SessionId, BTreeSet<String>>,
    containers: BTreeSet<String>,
    ttls: BTreeSet<String>,
    last_zxid: Zxid,
}

impl Default for DataTree {
    fn default() -> DataTree {
        DataTree::new()
    }
}

impl DataTree {
    /// A fresh tree as ZooKeeper builds it: `/`, `/zookeeper`, `/zookeeper/quota` (all stats
    /// zero, `world:anyone` ALL) and `/zookeeper/config` (`world:anyone` READ, and `aversion`
    /// −1 because ZooKeeper installs its ACL with `setACL(..., version -1)`).
    pub fn new() -> DataTree {
        let mut tree = DataTree {
            nodes: BTreeMap::new(),
            acls: AclCache::default(),
            ephemerals: BTreeMap::new(),
            containers: BTreeSet::new(),
            ttls: BTreeSet::new(),
            last_zxid: Zxid::ZERO,
        };
        let open = Acl::open_unsafe();
        for path in ["/", "/zookeeper", "/zookeeper/quota"] {
            tree.insert_initial(path, &open, StatPersisted::default());
        }
        let config_stat = StatPersisted { aversion: -1, ..StatPersisted::default() };
        tree.insert_initial("/zookeeper/config", &Acl::read_unsafe(), config_stat);
        tree
    }

    fn insert_initial(&mut self, path: &str, acl: &[Acl], stat: StatPersisted) {
        let acl = self.acls.intern(acl);
        let node = ZNode { data: Vec::new(), acl, stat, children: BTreeSet::new() };
        if let Some(parent) = parent_of(path).filter(|_| path != "/") {
            let parent = self.nodes.get_mut(parent).expect("initial parent exists");
            parent.children.insert(path::child_name(path).to_string());
        }
        self.nodes.insert(path.to_string(), node);
    }

    /// The zxid of the last applied transaction.
    pub fn last_zxid(&self) -> Zxid {
        self.last_zxid
    }

    /// Reads do not validate paths in ZooKeeper: they look the string up in its node table,
    /// which holds the root under both "/" and "", so `exists("")` finds the root.
    fn node(&self, path: &str) -> Option<&ZNode> {
        self.nodes.get(if path.is_empty() { "/" } else { path })
    }

    fn stat_of(node: &ZNode) -> Stat {
        node.stat.to_stat(node.data.len(), node.children.len())
    }

    /// The node at `path` after an ACL check for `perm` (NONODE, NOAUTH).
    fn readable(&self, path: &str, perm: i32, auth: &AuthInfo) -> Result<&ZNode, ErrorCode> {
        let node = self.node(path).ok_or(ErrorCode::NoNode)?;
        check_acl(self.acls.get(node.acl), perm, auth)?;
        Ok(node)
    }

    /// `exists`: `Ok(None)` when the node is absent (the reply is then NONODE, and an exist
    /// watch is still left). A path holding NUL is BADARGUMENTS. Since ZooKeeper
    /// 3.8.4 / 3.9.2 an existing node needs READ, else NOAUTH; we implement
    /// that newer rule (3.8.0–3.8.3 answered without a check).
    pub fn exists(&self, path: &str, auth: &AuthInfo) -> Result<Option<Stat>, ErrorCode> {
        if path.contains('\0') {
            return Err(ErrorCode::BadArguments);
        }
        match self.node(path) {
            None => Ok(None),
            Some(_) => Ok(Some(Self::stat_of(self.readable(path, perms::READ, auth)?))),
        }
    }

    /// `getData`: needs READ.
    pub fn get_data(&self, path: &str, auth: &AuthInfo) -> Result<(Vec<u8>, Stat), ErrorCode> {
        let node = self.readable(path, perms::READ, auth)?;
        Ok((node.data.clone(), Self::stat_of(node)))
    }

    /// `getChildren` / `getChildren2`: needs READ. Children are returned sorted.
    /// Differs: ZooKeeper returns them in `HashSet` order, which no client may rely on.
    pub fn get_children(&self, path: &str, auth: &AuthInfo) -> Result<(Vec<String>, Stat), ErrorCode> {
        let node = self.readable(path, perms::READ, auth)?;
        Ok((node.children.iter().cloned().collect(), Self::stat_of(node)))
    }

    /// `getACL`: needs READ or ADMIN; without ADMIN, digest ids are masked to `user:x`
    /// (ZooKeeper 3.9 `FinalRequestProcessor`).
    pub fn get_acl(&self, path: &str, auth: &AuthInfo) -> Result<(Vec<Acl>, Stat), ErrorCode> {
        let node = self.readable(path, perms::READ | perms::ADMIN, auth)?;
        let acl = self.acls.get(node.acl);
        let acl = match check_acl(acl, perms::ADMIN, auth) {
            Ok(()) => acl.to_vec(),
            Err(_) => mask_digests(acl),
        };
        Ok((acl, Self::stat_of(node)))
    }

    /// `getAllChildrenNumber`: every descendant (not only children); needs READ.
    pub fn all_children_number(&self, path: &str, auth: &AuthInfo) -> Result<i32, ErrorCode> {
        self.readable(path, perms::READ, auth)?;
        if path == "/" {
            return Ok(self.nodes.len() as i32 - 1);
        }
        let prefix = format!("{path}/");
        Ok(self.nodes.range(prefix.clone()..).take_while(|(key, _)| key.starts_with(&prefix)).count() as i32)
    }

    /// `getEphemerals`: the session's ephemerals whose path starts with `prefix` (a string
    /// prefix, as in ZooKeeper; empty, blank or `/` means all), sorted.
    pub fn ephemerals(&self, session: SessionId, prefix: &str) -> Vec<String> {
        let trimmed = prefix.trim_matches(|c: char| c <= ' ');
        let all = trimmed.is_empty() || trimmed == "/";
        self.ephemerals
            .get(&session)
            .map(|paths| paths.iter().filter(|path| all || path.starts_with(prefix)).cloned().collect())
            .unwrap_or_default()
    }

    /// All of the session's ephemerals, sorted.
    pub fn session_ephemerals(&self, session: SessionId) -> Vec<String> {
        self.ephemerals.get(&session).map(|paths| paths.iter().cloned().collect()).unwrap_or_default()
    }

    /// `(czxid, mzxid, pzxid)` of a node, for replaying watches on `setWatches`.
    pub fn node_zxids(&self, path: &str) -> Option<(Zxid, Zxid, Zxid)> {
        self.node(path).map(|node| (Zxid(node.stat.czxid), Zxid(node.stat.mzxid), Zxid(node.stat.pzxid)))
    }

    /// `ContainerManager.getCandidates`, sorted: childless containers that once had a child
    /// (stored cversion > 0) or, when `max_never_used_interval_ms` > 0
    /// (`znode.container.maxNeverUsedIntervalMs`, default 0 = off), that never had one and
    /// were last modified more than that long ago; and childless TTL nodes not modified for
    /// more than their TTL. The caller deletes each with an ordinary `deleteContainer` write.
    pub fn expired_containers_and_ttls(&self, now_ms: i64, max_never_used_interval_ms: i64) -> Vec<String> {
        let mut candidates = BTreeSet::new();
        for path in &self.containers {
            let node = &self.nodes[path];
            let elapsed = now_ms.saturating_sub(node.stat.mtime);
            let used = node.stat.cversion > 0;
            let stale = max_never_used_interval_ms != 0 && elapsed > max_never_used_interval_ms;
            if node.children.is_empty() && (used || stale) {
                candidates.insert(path.clone());
            }
        }
        for path in &self.ttls {
            let node = &self.nodes[path];
            if let EphemeralKind::Ttl(ttl) = EphemeralKind::of(node.stat.ephemeral_owner) {
                if node.children.is_empty() && ttl != 0 && now_ms.saturating_sub(node.stat.mtime) > ttl {
                    candidates.insert(path.clone());
                }
            }
        }
        candidates.into_iter().collect()
    }

    /// Number of znodes, the root included (a fresh tree has 4).
    /// Note: ZooKeeper's `zk_znode_count` is one more, because its node map holds the root
    /// twice (under `""` and `"/"`).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// `zk_approximate_data_size`: the sum of path lengths (UTF-16 units, as Java counts)
    /// and data lengths, with the root's data counted twice as ZooKeeper's map does.
    pub fn approximate_data_size(&self) -> u64 {
        let root_data = self.nodes["/"].data.len() as u64;
        self.nodes.iter().map(|(path, node)| (path.encode_utf16().count() + node.data.len()) as u64).sum::<u64>()
            + root_data
    }

    /// `zk_ephemerals_count`: ephemerals owned by sessions.
    pub fn ephemeral_count(&self) -> usize {
        self.ephemerals.values().map(BTreeSet::len).sum()
    }

    /// Number of distinct interned ACL lists (`aclCacheSize`).
    pub fn acl_count(&self) -> usize {
        self.acls.len()
    }
}
