//! Step 3 of a write: `DataTree.processTxn`. Applies a logged transaction to the tree and
//! produces the reply and the changed paths for the watch manager.

use super::path::{child_name, parent_of};
use super::stat::{EphemeralKind, StatPersisted, CONTAINER_EPHEMERAL_OWNER};
use super::{DataTree, ZNode};
use crate::error::ErrorCode;
use crate::ids::SessionId;
use crate::txn::{SubTxn, Txn, TxnBody};
use crate::wire::client::{event_type, op, Acl, MultiResult, Response, Stat};
use std::collections::BTreeSet;

/// One watch trigger: a changed path, the event, and the ACL of the node the event is about
/// (as it was when deleted). Since ZooKeeper 3.8.4/3.9.2 (CVE-2024-23944) a watcher only
/// hears of a node it may READ, which matters for persistent-recursive watches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// The path the event names.
    pub path: String,
    /// The `event_type` number.
    pub event_type: i32,
    /// The ACL of the node at `path`.
    pub acl: Vec<Acl>,
}

/// What applying a transaction produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applied {
    /// The reply body, or the error code for the reply header. A multi is always
    /// `Ok(Response::Multi(..))`, failed or not, with the header error 0, as in ZooKeeper.
    pub result: Result<Response, ErrorCode>,
    /// Watch triggers in ZooKeeper's firing order: create gives (path, NODE_CREATED) then
    /// (parent, NODE_CHILDREN_CHANGED); delete gives (path, NODE_DELETED) then (parent,
    /// NODE_CHILDREN_CHANGED); setData gives (path, NODE_DATA_CHANGED); setACL nothing.
    pub changes: Vec<Change>,
}

/// A create transaction's fields, whatever its kind.
struct NewNode<'t> {
    path: &'t str,
    data: &'t [u8],
    acl: &'t [Acl],
    owner: i64,
    parent_cversion: i32,
}

impl DataTree {
    /// Applies `txn` (zxids must increase strictly: a transaction is applied once).
    ///
    /// A transaction that no longer fits the tree (which a consistent log never produces)
    /// changes nothing and answers ZooKeeper's code (NONODE, NODEEXISTS), except that a
    /// plain create of an existing node moves its parent's cversion as ZooKeeper's does. The caller then
    /// calls [`PendingChanges::applied`](super::PendingChanges::applied) with the zxid.
    pub fn apply(&mut self, txn: &Txn) -> Applied {
        assert!(
            txn.header.zxid > self.last_zxid,
            "txn {} applied after {}: zxids must increase",
            txn.header.zxid,
            self.last_zxid
        );
        self.last_zxid = txn.header.zxid;
        let mut changes = Vec::new();
        let result = match &txn.body {
            TxnBody::Multi(subs) => Ok(Response::Multi(self.apply_multi(txn, subs, &mut changes))),
            body => self.apply_one(txn, txn.header.op, body, &mut changes),
        };
        if let (Err(ErrorCode::NodeExists), op::CREATE, TxnBody::Create { path, parent_cversion, .. }) =
            (&result, txn.header.op, &txn.body)
        {
            self.replayed_create(path, *parent_cversion, txn.header.zxid.0);
        }
        Applied { result, changes }
    }

    /// `DataTree.processTxn`: a plain create (type 1, not create2, container, TTL or a
    /// multi's) whose node exists still moves the parent's cversion and pzxid forward
    /// (`setCversionPzxid`). A consistent log never gets here; the log replayed over a fuzzy
    /// snapshot (Apache's snapshots are written while transactions go on) does, when the
    /// snapshot caught the child but not its parent's new cversion.
    fn replayed_create(&mut self, path: &str, parent_cversion: i32, zxid: i64) {
        let Some(parent) = parent_of(path).and_then(|parent| self.nodes.get_mut(parent)) else { return };
        let cversion = if parent_cversion == -1 { parent.stat.cversion + 1 } else { parent_cversion };
        if cversion > parent.stat.cversion {
            parent.stat.cversion = cversion;
            parent.stat.pzxid = zxid;
        }
    }

    fn apply_one(
        &mut self,
        txn: &Txn,
        op: i32,
        body: &TxnBody,
        changes: &mut Vec<Change>,
    ) -> Result<Response, ErrorCode> {
        let zxid = txn.header.zxid.0;
        let time = txn.header.time;
        match body {
            TxnBody::Create { .. } | TxnBody::CreateContainer { .. } | TxnBody::CreateTtl { .. } => {
                self.apply_create(txn, op, body, changes)
            }
            TxnBody::Delete { path } => self.delete_node(path, zxid, changes).map(|()| Response::Empty),
            TxnBody::SetData { path, data, version } => {
                self.set_data(path, data, *version, zxid, time, changes).map(Response::Stat)
            }
            TxnBody::SetAcl { path, acl, version } => self.set_acl(path, acl, *version).map(Response::Stat),
            TxnBody::Check { path, .. } => {
                // ZooKeeper answers a stand-alone check with a SetDataResponse whose stat it
                // never fills in; we send the node's current stat.
                let node = self.nodes.get(path).ok_or(ErrorCode::NoNode)?;
                Ok(Response::Stat(DataTree::stat_of(node)))
            }
            TxnBody::CreateSession { .. } => Ok(Response::Empty),
            TxnBody::CloseSession { paths_to_delete } => {
                self.kill_session(txn.header.client_id, paths_to_delete, zxid, changes);
                Ok(Response::Empty)
            }
            TxnBody::Error { err } => Err(ErrorCode::from_code(*err).unwrap_or(ErrorCode::SystemError)),
            TxnBody::Multi(_) => Err(ErrorCode::MarshallingError), // nested multi: never logged
        }
    }

    /// The three create transactions: they differ only in the owner they give the node.
    /// create (1) answers the path, the others the path and stat.
    fn apply_create(
        &mut self,
        txn: &Txn,
        op: i32,
        body: &TxnBody,
        changes: &mut Vec<Change>,
    ) -> Result<Response, ErrorCode> {
        let node = match body {
            TxnBody::Create { path, data, acl, ephemeral, parent_cversion } => {
                let owner = if *ephemeral { txn.header.client_id.0 } else { 0 };
                NewNode { path, data, acl, owner, parent_cversion: *parent_cversion }
            }
            TxnBody::CreateContainer { path, data, acl, parent_cversion } => {
                NewNode { path, data, acl, owner: CONTAINER_EPHEMERAL_OWNER, parent_cversion: *parent_cversion }
            }
            TxnBody::CreateTtl { path, data, acl, parent_cversion, ttl } => {
                let owner = EphemeralKind::ttl_owner(*ttl).ok_or(ErrorCode::BadArguments)?;
                NewNode { path, data, acl, owner, parent_cversion: *parent_cversion }
            }
            _ => return Err(ErrorCode::MarshallingError),
        };
        let path = node.path.to_string();
        let stat = self.create_node(node, txn.header.zxid.0, txn.header.time, changes)?;
        Ok(match (op, body) {
            (op::CREATE, TxnBody::Create { .. }) => Response::Create(path),
            _ => Response::Create2 { path, stat },
        })
    }

    /// `processTxn` for a `MultiTxn`: if any sub-txn is an error, none is applied and every
    /// sub-op answers an error (OK before the first error, RUNTIMEINCONSISTENCY after it).
    fn apply_multi(&mut self, txn: &Txn, subs: &[SubTxn], changes: &mut Vec<Change>) -> Vec<MultiResult> {
        if subs.iter().any(|sub| matches!(sub.body, TxnBody::Error { .. })) {
            let mut seen_error = false;
            return subs
                .iter()
                .map(|sub| match sub.body {
                    TxnBody::Error { err } => {
                        seen_error = true;
                        MultiResult::Error(ErrorCode::from_code(err).unwrap_or(ErrorCode::SystemError))
                    }
                    _ if seen_error => MultiResult::Error(ErrorCode::RuntimeInconsistency),
                    _ => MultiResult::Error(ErrorCode::Ok),
                })
                .collect();
        }
        subs.iter()
            .map(|sub| match self.apply_one(txn, sub.op, &sub.body, changes) {
                Err(err) => MultiResult::Error(err),
                Ok(response) => match (sub.op, response) {
                    (op::CHECK, _) => MultiResult::Check,
                    (_, Response::Create(path)) => MultiResult::Create(path),
                    (op, Response::Create2 { path, stat }) => MultiResult::Create2 { op, path, stat },
                    (_, Response::Stat(stat)) => MultiResult::SetData(stat),
                    _ => MultiResult::Delete,
                },
            })
            .collect()
    }

    /// `DataTree.createNode`. The parent's stored cversion and pzxid move only when the
    /// transaction's `parent_cversion` is ahead of it (so a replayed create cannot move them
    /// back).
    fn create_node(
        &mut self,
        new: NewNode,
        zxid: i64,
        time: i64,
        changes: &mut Vec<Change>,
    ) -> Result<Stat, ErrorCode> {
        let NewNode { path, data, acl, owner, parent_cversion } = new;
        let parent_path = parent_of(path).ok_or(ErrorCode::NoNode)?;
        if !self.nodes.contains_key(parent_path) {
            return Err(ErrorCode::NoNode);
        }
        if self.nodes.contains_key(path) {
            return Err(ErrorCode::NodeExists);
        }
        let parent = self.nodes.get_mut(parent_path).expect("checked above");
        if parent_cversion > parent.stat.cversion {
            parent.stat.cversion = parent_cversion;
            parent.stat.pzxid = zxid;
        }
        parent.children.insert(child_name(path).to_string());
        let acl_list = acl.to_vec();
        let acl = self.acls.intern(acl);
        let stat = StatPersisted::new_node(zxid, time, owner);
        let node = ZNode { data: data.to_vec(), acl, stat, children: BTreeSet::new() };
        let client_stat = DataTree::stat_of(&node);
        self.nodes.insert(path.to_string(), node);
        self.index_add(path, owner);
        let parent_acl = self.acls.get(self.nodes[parent_path].acl).to_vec();
        changes.push(Change { path: path.to_string(), event_type: event_type::NODE_CREATED, acl: acl_list });
        changes.push(Change {
            path: parent_path.to_string(),
            event_type: event_type::NODE_CHILDREN_CHANGED,
            acl: parent_acl,
        });
        Ok(client_stat)
    }

    /// `DataTree.deleteNode`: the parent's pzxid moves forward (even when the child is
    /// already gone, as ZooKeeper does for fuzzy snapshots); its stored cversion does not.
    fn delete_node(&mut self, path: &str, zxid: i64, changes: &mut Vec<Change>) -> Result<(), ErrorCode> {
        let parent_path = parent_of(path).ok_or(ErrorCode::NoNode)?;
        if path == "/" {
            return Err(ErrorCode::BadArguments); // never prepared; the root stays
        }
        if self.nodes.get(path).is_some_and(|node| !node.children.is_empty()) {
            return Err(ErrorCode::NotEmpty); // never prepared
        }
        let parent = self.nodes.get_mut(parent_path).ok_or(ErrorCode::NoNode)?;
        parent.children.remove(child_name(path));
        parent.stat.pzxid = parent.stat.pzxid.max(zxid);
        let node = self.nodes.remove(path).ok_or(ErrorCode::NoNode)?;
        let acl = self.acls.get(node.acl).to_vec();
        self.acls.release(node.acl);
        self.index_remove(path, node.stat.ephemeral_owner);
        let parent_acl = self.acls.get(self.nodes[parent_path].acl).to_vec();
        changes.push(Change { path: path.to_string(), event_type: event_type::NODE_DELETED, acl });
        changes.push(Change {
            path: parent_path.to_string(),
            event_type: event_type::NODE_CHILDREN_CHANGED,
            acl: parent_acl,
        });
        Ok(())
    }

    fn set_data(
        &mut self,
        path: &str,
        data: &[u8],
        version: i32,
        zxid: i64,
        time: i64,
        changes: &mut Vec<Change>,
    ) -> Result<Stat, ErrorCode> {
        let node = self.nodes.get_mut(path).ok_or(ErrorCode::NoNode)?;
        node.data = data.to_vec();
        node.stat.mtime = time;
        node.stat.mzxid = zxid;
        node.stat.version = version;
        let stat = DataTree::stat_of(node);
        let acl = node.acl;
        let acl = self.acls.get(acl).to_vec();
        changes.push(Change { path: path.to_string(), event_type: event_type::NODE_DATA_CHANGED, acl });
        Ok(stat)
    }

    /// `DataTree.setACL`: aversion and ACL only; mzxid does not move and no watch fires.
    fn set_acl(&mut self, path: &str, acl: &[Acl], version: i32) -> Result<Stat, ErrorCode> {
        let old = self.nodes.get(path).ok_or(ErrorCode::NoNode)?.acl;
        let new = self.acls.intern(acl);
        self.acls.release(old);
        let node = self.nodes.get_mut(path).expect("checked above");
        node.acl = new;
        node.stat.aversion = version;
        Ok(DataTree::stat_of(node))
    }

    /// `killSession`: deletes the transaction's paths (ignoring ones already gone), then any
    /// ephemeral of the session the transaction missed (ZooKeeper logs those and deletes them
    /// too).
    fn kill_session(&mut self, session: SessionId, paths: &[String], zxid: i64, changes: &mut Vec<Change>) {
        for path in paths {
            // Only the session's own ephemerals: a path reused by another owner stays.
            if self.nodes.get(path).is_some_and(|node| node.stat.ephemeral_owner == session.0) {
                let _ = self.delete_node(path, zxid, changes);
            }
        }
        for path in self.session_ephemerals(session) {
            let _ = self.delete_node(&path, zxid, changes);
        }
        self.ephemerals.remove(&session);
    }

    /// Adds `path` to the ephemeral, container or TTL index its owner puts it in.
    pub(super) fn index_add(&mut self, path: &str, owner: i64) {
        match EphemeralKind::of(owner) {
            EphemeralKind::Persistent => {}
            EphemeralKind::Container => {
                self.containers.insert(path.to_string());
            }
            EphemeralKind::Ttl(_) => {
                self.ttls.insert(path.to_string());
            }
            EphemeralKind::Session(session) => {
                self.ephemerals.entry(session).or_default().insert(path.to_string());
            }
        }
    }

    fn index_remove(&mut self, path: &str, owner: i64) {
        match EphemeralKind::of(owner) {
            EphemeralKind::Persistent => {}
            EphemeralKind::Container => {
                self.containers.remove(path);
            }
            EphemeralKind::Ttl(_) => {
                self.ttls.remove(path);
            }
            EphemeralKind::Session(session) => {
                if let Some(paths) = self.ephemerals.get_mut(&session) {
                    paths.remove(path);
                    if paths.is_empty() {
                        self.ephemerals.remove(&session);
                    }
                }
            }
        }
    }
}
