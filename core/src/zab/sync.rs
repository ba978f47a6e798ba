//! ZAB's synchronization phase, the part without state: how a leader brings a learner up to
//! date (`LearnerHandler.syncFollower`): DIFF, TRUNC then DIFF, or SNAP ([`plan_sync`]); and
//! the tree and sessions as a SNAP carries them ([`database_from_snapshot`],
//! [`snapshot_from_database`]).

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use crate::ids::{SessionId, Zxid};
use crate::tree::{SnapshotNode, TreeSnapshot};
use crate::txn::Txn;
use crate::wire::quorum::{WireDatabase, WireNode};

/// How a leader synchronizes one learner (`LearnerHandler.syncFollower`, simplified to the
/// three cases that matter; `SyncMode` DIFF, TRUNC, SNAP).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SyncPlan {
    /// DIFF: send these transactions (each as PROPOSAL then COMMIT).
    Diff(Vec<Txn>),
    /// TRUNC to `zxid` (the learner has transactions the leader never had), then DIFF.
    Trunc {
        /// The learner keeps its log up to and including this zxid.
        zxid: Zxid,
        /// What follows, as in `Diff`.
        txns: Vec<Txn>,
    },
    /// SNAP: the learner is behind the leader's in-memory history; send the tree, then these.
    Snap(Vec<Txn>),
}

/// Chooses DIFF, TRUNC or SNAP for a learner whose last logged zxid is `peer_last`.
///
/// `history` is the leader's log in zxid order, of which everything up to `limit` is to be
/// sent (the committed prefix); `history_base` is the zxid just before its first entry (the
/// tree covers what came before, so a learner behind it needs a SNAP); `snap_txns` are the
/// history entries above the leader's applied tree, which follow a SNAP.
///
/// A learner ahead of `limit`, or whose last zxid the history lacks, has transactions that
/// were never committed: it truncates back to the last zxid both share (a zxid names one
/// transaction in every log, Zab's uniqueness of proposals). Zab guarantees the learner's
/// log below that point is the leader's, so only the difference is sent.
pub fn plan_sync(history: &[Txn], history_base: Zxid, limit: Zxid, peer_last: Zxid, tree_zxid: Zxid) -> SyncPlan {
    let after = |from: Zxid| -> Vec<Txn> {
        history.iter().filter(|t| t.header.zxid > from && t.header.zxid <= limit).cloned().collect()
    };
    if peer_last < history_base {
        return SyncPlan::Snap(after(tree_zxid));
    }
    if peer_last == history_base || history.iter().any(|t| t.header.zxid == peer_last) {
        if peer_last <= limit {
            return SyncPlan::Diff(after(peer_last));
        }
        return SyncPlan::Trunc { zxid: limit, txns: Vec::new() };
    }
    // The learner's last zxid is unknown here: keep what both logs share.
    let shared =
        history.iter().map(|t| t.header.zxid).rfind(|zxid| *zxid < peer_last && *zxid <= limit).unwrap_or(history_base);
    SyncPlan::Trunc { zxid: shared, txns: after(shared) }
}

/// The tree and sessions as a SNAP carries them (`SerializeUtils.serializeSnapshot`): the
/// root under `""`, parents before children, ACL references as interned, data never null.
pub fn database_from_snapshot(tree: &TreeSnapshot, sessions: &[(SessionId, i32)]) -> WireDatabase {
    let nodes = tree
        .nodes
        .iter()
        .map(|node| WireNode {
            path: if node.path == "/" { String::new() } else { node.path.clone() },
            data: Some(node.data.clone()),
            acl_ref: node.acl as i64,
            stat: crate::wire::quorum::StatPersisted {
                czxid: node.stat.czxid,
                mzxid: node.stat.mzxid,
                ctime: node.stat.ctime,
                mtime: node.stat.mtime,
                version: node.stat.version,
                cversion: node.stat.cversion,
                aversion: node.stat.aversion,
                ephemeral_owner: node.stat.ephemeral_owner,
                pzxid: node.stat.pzxid,
            },
        })
        .collect();
    let acls = tree.acls.iter().map(|(id, acl)| (*id as i64, acl.clone())).collect();
    WireDatabase { sessions: sessions.to_vec(), acls, nodes }
}

/// Rebuilds a tree snapshot at `zxid` (the SNAP packet's) from a received database, with its
/// sessions. ZooKeeper's reference `-1` (`OPEN_UNSAFE_ACL_ID`, the open ACL it never puts in
/// the cache) is mapped to the cache's entry for the open ACL when there is one (a client's
/// create with the open ACL gets a real entry in ZooKeeper's cache, while the root keeps
/// `-1`), else to an entry of its own; a list cached under several references (ZooKeeper's
/// cache tolerates it, ours interns each list once) is mapped to its first. Other negative
/// references are refused. Structure (root, parents first) is checked by the caller's
/// `DataTree::from_snapshot`.
pub fn snapshot_from_database(
    zxid: Zxid,
    database: &WireDatabase,
) -> Result<(TreeSnapshot, Vec<(SessionId, i32)>), String> {
    let mut acls = Vec::with_capacity(database.acls.len() + 1);
    let mut by_list: BTreeMap<&[crate::wire::client::Acl], u64> = BTreeMap::new();
    let mut canonical: BTreeMap<i64, u64> = BTreeMap::new();
    for (reference, acl) in &database.acls {
        let id = u64::try_from(*reference).map_err(|_| format!("negative ACL reference {reference}"))?;
        let first = *by_list.entry(acl.as_slice()).or_insert(id);
        if first == id {
            acls.push((id, acl.clone()));
        }
        canonical.insert(*reference, first);
    }
    let open = crate::wire::client::Acl::open_unsafe();
    let open_id = match by_list.get(open.as_slice()) {
        Some(id) => *id,
        None => {
            let id = acls.iter().map(|(id, _)| *id + 1).max().unwrap_or(0);
            if database.nodes.iter().any(|node| node.acl_ref == -1) {
                acls.push((id, open));
            }
            id
        }
    };
    let mut nodes = Vec::with_capacity(database.nodes.len());
    for node in &database.nodes {
        let acl = match (node.acl_ref, canonical.get(&node.acl_ref)) {
            (-1, _) => open_id,
            (_, Some(id)) => *id,
            (reference, None) => u64::try_from(reference).map_err(|_| format!("negative ACL reference {reference}"))?,
        };
        let s = node.stat;
        nodes.push(SnapshotNode {
            path: if node.path.is_empty() { "/".to_string() } else { node.path.clone() },
            data: node.data.clone().unwrap_or_default(),
            acl,
            stat: crate::tree::StatPersisted {
                czxid: s.czxid,
                mzxid: s.mzxid,
                ctime: s.ctime,
                mtime: s.mtime,
                version: s.version,
                cversion: s.cversion,
                aversion: s.aversion,
                ephemeral_owner: s.ephemeral_owner,
                pzxid: s.pzxid,
            },
        });
    }
    Ok((TreeSnapshot { last_zxid: zxid, acls, nodes }, database.sessions.clone()))
}
