//! `outstandingChanges`: what in-flight writes will have done to each path.

use super::stat::StatPersisted;
use crate::ids::Zxid;
use crate::wire::client::Acl;
use std::collections::BTreeMap;

/// A node as it will be once the in-flight writes touching it are applied
/// (ZooKeeper's `ChangeRecord`, without the data, which no check needs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingNode {
    /// Its stored stat (`StatPersisted`: cversion counts creates).
    pub stat: StatPersisted,
    /// Its ACL.
    pub acl: Vec<Acl>,
    /// Its number of children.
    pub child_count: i32,
}

/// The latest in-flight change of one path.
#[derive(Clone, Debug, PartialEq, Eq)]
struct PendingRecord {
    /// The zxid of the write that made this change.
    zxid: Zxid,
    /// `None` when that write deletes the node.
    node: Option<PendingNode>,
}

/// ZooKeeper's `outstandingChanges`: per path, the node as it will be after the prepared but
/// not yet applied writes, or that it will be gone. [`DataTree::prepare`](super::DataTree::prepare)
/// reads and extends it; call [`PendingChanges::applied`] after each apply and
/// [`PendingChanges::clear`] when the server stops leading.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PendingChanges {
    records: BTreeMap<String, PendingRecord>,
}

impl PendingChanges {
    /// No writes in flight.
    pub fn new() -> PendingChanges {
        PendingChanges::default()
    }

    /// `Some(Some(node))` if an in-flight write leaves `path` as `node`, `Some(None)` if one
    /// deletes it, `None` if no in-flight write touches it.
    pub fn get(&self, path: &str) -> Option<Option<&PendingNode>> {
        self.records.get(path).map(|record| record.node.as_ref())
    }

    /// Records that the write with `zxid` leaves `path` as `node` (`None`: deleted); returns
    /// the record it replaces so a failed multi can put it back.
    pub(super) fn put(
        &mut self,
        path: &str,
        zxid: Zxid,
        node: Option<PendingNode>,
    ) -> Option<(Zxid, Option<PendingNode>)> {
        let old = self.records.insert(path.to_string(), PendingRecord { zxid, node });
        old.map(|record| (record.zxid, record.node))
    }

    /// Puts back what [`PendingChanges::put`] returned.
    pub(super) fn restore(&mut self, path: &str, old: Option<(Zxid, Option<PendingNode>)>) {
        match old {
            Some((zxid, node)) => {
                self.records.insert(path.to_string(), PendingRecord { zxid, node });
            }
            None => {
                self.records.remove(path);
            }
        }
    }

    /// Forgets every change made by writes at or below `zxid`: they are now in the tree
    /// (`FinalRequestProcessor` drops `outstandingChanges` up to the applied zxid). A record
    /// holds the latest write of its path, so a newer in-flight change is kept.
    pub fn applied(&mut self, zxid: Zxid) {
        self.records.retain(|_, record| record.zxid > zxid);
    }

    /// Forgets everything (the server stopped leading: nothing it prepared is in flight).
    pub fn clear(&mut self) {
        self.records.clear();
    }

    /// Number of paths with in-flight changes.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether nothing is in flight.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Paths with an in-flight change, sorted, and whether that change keeps the node.
    pub(super) fn iter(&self) -> impl Iterator<Item = (&str, Option<&PendingNode>)> {
        self.records.iter().map(|(path, record)| (path.as_str(), record.node.as_ref()))
    }
}
