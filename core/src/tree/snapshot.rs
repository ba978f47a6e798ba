//! The tree as a value: snapshots (serde, for bincode 2), the order-independent digest that
//! replicas compare, and the invariant check.

use super::acl::{AclCache, AclId};
use super::path::{child_name, parent_of, validate_path};
use super::stat::{EphemeralKind, StatPersisted};
use super::{DataTree, ZNode};
use crate::ids::{SessionId, Zxid};
use crate::wire::client::Acl;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// A serialized tree: the interned ACL table and every node, parents before children.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TreeSnapshot {
    /// The last applied zxid.
    pub last_zxid: Zxid,
    /// The ACL table: (id, list), by id.
    pub acls: Vec<(AclId, Vec<Acl>)>,
    /// Every node, sorted by path (so each parent precedes its children).
    pub nodes: Vec<SnapshotNode>,
}

/// One node of a [`TreeSnapshot`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotNode {
    /// The full path.
    pub path: String,
    /// The data.
    pub data: Vec<u8>,
    /// Its ACL's id in the table.
    pub acl: AclId,
    /// Its stored stat.
    pub stat: StatPersisted,
}

impl DataTree {
    /// A snapshot of the whole tree.
    pub fn snapshot(&self) -> TreeSnapshot {
        TreeSnapshot {
            last_zxid: self.last_zxid,
            acls: self.acls.entries().map(|(id, acl, _)| (id, acl.to_vec())).collect(),
            nodes: self
                .nodes
                .iter()
                .map(|(path, node)| SnapshotNode {
                    path: path.clone(),
                    data: node.data.clone(),
                    acl: node.acl,
                    stat: node.stat,
                })
                .collect(),
        }
    }

    /// Rebuilds a tree from a snapshot (`DataTree.deserialize`): children, indexes and ACL
    /// reference counts are recomputed; unused ACL lists are dropped. `Err` names the first
    /// problem (missing root, a node before its parent, a duplicate, an unknown ACL id, an
    /// invalid path, children under an ephemeral).
    pub fn from_snapshot(snapshot: TreeSnapshot) -> Result<DataTree, String> {
        let mut tree = DataTree {
            nodes: BTreeMap::new(),
            acls: AclCache::from_table(snapshot.acls)?,
            ephemerals: BTreeMap::new(),
            containers: BTreeSet::new(),
            ttls: BTreeSet::new(),
            last_zxid: snapshot.last_zxid,
        };
        for node in snapshot.nodes {
            tree.restore_node(node)?;
        }
        if !tree.nodes.contains_key("/") {
            return Err("snapshot has no root".into());
        }
        tree.acls.purge_unused();
        Ok(tree)
    }

    fn restore_node(&mut self, node: SnapshotNode) -> Result<(), String> {
        let path = node.path;
        validate_path(&path).map_err(|reason| format!("bad path {path:?}: {reason}"))?;
        if self.nodes.contains_key(&path) {
            return Err(format!("{path} appears twice"));
        }
        if path != "/" {
            let parent_path = parent_of(&path).expect("valid non-root path has a parent");
            let parent = self.nodes.get_mut(parent_path).ok_or_else(|| format!("{path} comes before its parent"))?;
            if EphemeralKind::of(parent.stat.ephemeral_owner).is_session() {
                return Err(format!("{path} is a child of an ephemeral"));
            }
            parent.children.insert(child_name(&path).to_string());
        } else if !self.nodes.is_empty() {
            return Err("the root must come first".into());
        }
        self.acls.add_reference(node.acl)?;
        self.index_add(&path, node.stat.ephemeral_owner);
        self.nodes.insert(path, ZNode { data: node.data, acl: node.acl, stat: node.stat, children: BTreeSet::new() });
        Ok(())
    }

    /// An order-independent digest of the whole tree: the wrapping sum of one hash per node
    /// over its path, data, stored stat and ACL list. Equal trees give equal digests whatever
    /// order their writes came in and whatever ids their ACLs were interned under.
    pub fn digest(&self) -> u64 {
        self.nodes.iter().fold(0u64, |sum, (path, node)| sum.wrapping_add(self.node_digest(path, node)))
    }

    fn node_digest(&self, path: &str, node: &ZNode) -> u64 {
        let mut hash = Fnv::default();
        hash.bytes(path.as_bytes());
        hash.bytes(&node.data);
        let s = &node.stat;
        for value in [s.czxid, s.mzxid, s.ctime, s.mtime, s.ephemeral_owner, s.pzxid] {
            hash.write(&value.to_be_bytes());
        }
        for value in [s.version, s.cversion, s.aversion] {
            hash.write(&value.to_be_bytes());
        }
        for entry in self.acls.get(node.acl) {
            hash.write(&entry.perms.to_be_bytes());
            hash.bytes(entry.id.scheme.as_bytes());
            hash.bytes(entry.id.id.as_bytes());
        }
        mix(hash.0)
    }

    /// Asserts the tree's structure: the root and the parent/child links, no children under
    /// ephemerals, the ephemeral/container/TTL indexes, ACL reference counts, and no zxid
    /// beyond the last applied one.
    pub fn check_invariants(&self) {
        assert!(self.nodes.contains_key("/"), "the root is missing");
        let mut acl_references: BTreeMap<AclId, u64> = BTreeMap::new();
        let mut ephemerals: BTreeMap<SessionId, BTreeSet<String>> = BTreeMap::new();
        let (mut containers, mut ttls) = (BTreeSet::new(), BTreeSet::new());
        for (path, node) in &self.nodes {
            self.check_node_links(path, node);
            *acl_references.entry(node.acl).or_default() += 1;
            let s = &node.stat;
            for zxid in [s.czxid, s.mzxid, s.pzxid] {
                assert!(zxid <= self.last_zxid.0, "{path} has zxid {zxid:#x} beyond the last applied");
            }
            match EphemeralKind::of(s.ephemeral_owner) {
                EphemeralKind::Persistent => {}
                EphemeralKind::Container => assert!(containers.insert(path.clone())),
                EphemeralKind::Ttl(_) => assert!(ttls.insert(path.clone())),
                EphemeralKind::Session(session) => {
                    assert!(node.children.is_empty(), "ephemeral {path} has children");
                    ephemerals.entry(session).or_default().insert(path.clone());
                }
            }
        }
        assert_eq!(ephemerals, self.ephemerals, "ephemerals index");
        assert_eq!(containers, self.containers, "containers index");
        assert_eq!(ttls, self.ttls, "TTL index");
        let counted: BTreeMap<AclId, u64> = self.acls.entries().map(|(id, _, refs)| (id, refs)).collect();
        assert_eq!(acl_references, counted, "ACL reference counts");
        self.acls.check_invariants();
    }

    fn check_node_links(&self, path: &str, node: &ZNode) {
        for child in &node.children {
            let child_path = super::path::join(path, child);
            assert!(self.nodes.contains_key(&child_path), "{path} lists missing child {child}");
        }
        if path != "/" {
            let parent = parent_of(path).expect("non-root path has a parent");
            let parent = self.nodes.get(parent).unwrap_or_else(|| panic!("{path} has no parent"));
            assert!(parent.children.contains(child_name(path)), "{path} missing from its parent's children");
        }
    }
}

/// 64-bit FNV-1a, with length-prefixed fields so adjacent fields cannot run together.
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 ^= u64::from(byte);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn bytes(&mut self, bytes: &[u8]) {
        self.write(&(bytes.len() as u64).to_be_bytes());
        self.write(bytes);
    }
}

/// splitmix64's finalizer: spreads FNV's output so that summing node hashes stays collision
/// resistant.
fn mix(mut x: u64) -> u64 {
    x ^= x >> 30;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}
