//! Equal zxid, equal tree, on every replica. ZooKeeper's digest check
//! (`ZooKeeperServer.digestEnabled`, ZOOKEEPER-3114 "Built-in data inconsistency
//! checker") compares the tree digest each replica computes after applying a zxid with the
//! leader's; zxids name one transaction each (Zab's total order), so two replicas that applied
//! the same prefix hold the same tree. Online: after every input, each node's tree digest at
//! its last applied zxid is compared with what any replica had at that zxid.

use super::Violation;
use std::collections::BTreeMap;
use zab_core::{ServerId, Zxid};

/// The digest first seen at each zxid, and which server had it.
#[derive(Debug, Default)]
pub struct ReplicaDigests {
    digests: BTreeMap<Zxid, (u64, ServerId)>,
}

impl ReplicaDigests {
    /// Server `server` applied up to `zxid` and its tree has `digest`.
    pub fn on_applied(&mut self, server: ServerId, zxid: Zxid, digest: u64) -> Option<Violation> {
        let (first, first_server) = *self.digests.entry(zxid).or_insert((digest, server));
        (first != digest).then(|| Violation {
            checker: "replica_digests",
            message: format!(
                "at {zxid} server {} has tree digest {digest:016x}, server {} had {first:016x}",
                server.0, first_server.0
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_trees_at_one_zxid_must_be_equal() {
        let mut digests = ReplicaDigests::default();
        assert_eq!(digests.on_applied(ServerId(1), Zxid(5), 0xab), None);
        assert_eq!(digests.on_applied(ServerId(2), Zxid(5), 0xab), None);
        assert_eq!(digests.on_applied(ServerId(2), Zxid(6), 0xcd), None);
        let violation = digests.on_applied(ServerId(3), Zxid(5), 0xac).expect("diverged");
        assert_eq!(
            violation.message,
            "at 0x5 server 3 has tree digest 00000000000000ac, server 1 had 00000000000000ab"
        );
    }
}
