//! No acknowledged write is lost, and equal zxids mean equal trees (ZooKeeper's guarantees,
//! "Durability: once an update has been applied, it will persist from that time forward until
//! a client overwrites the update"; ZOOKEEPER-2325, -3642, -3911, -4646 lost exactly such
//! writes). Online: the world reports every reply's zxid and every applied state's digest,
//! then asks at each restart.
//!
//! The node replies only after `handle_persisted`, so every zxid a client saw in a reply is
//! durable; a restarted node must come back at or after the highest such zxid, and if it comes
//! back at a zxid it had applied before, its tree digest must be the one it had then.

use super::Violation;
use std::collections::BTreeMap;
use std::fmt::Debug;
use zab_core::Zxid;

/// The durability checker's memory. `D` is the tree digest type.
#[derive(Debug, Default)]
pub struct Durability<D> {
    acknowledged: Zxid,
    digests: BTreeMap<Zxid, D>,
}

impl<D: PartialEq + Debug + Clone> Durability<D> {
    /// A client received a reply carrying `zxid`.
    pub fn on_reply(&mut self, zxid: Zxid) {
        self.acknowledged = self.acknowledged.max(zxid);
    }

    /// The node applied up to `zxid`, and its tree then has `digest`.
    pub fn on_applied(&mut self, zxid: Zxid, digest: D) {
        self.digests.insert(zxid, digest);
    }

    /// The highest zxid any client saw.
    pub fn acknowledged(&self) -> Zxid {
        self.acknowledged
    }

    /// The node restarted at `zxid` with `digest`.
    pub fn on_restart(&mut self, zxid: Zxid, digest: D) -> Vec<Violation> {
        let mut violations = Vec::new();
        if zxid < self.acknowledged {
            violations.push(Violation {
                checker: "durability",
                message: format!(
                    "restarted at {zxid}, but a client was answered at {}: acknowledged writes lost",
                    self.acknowledged
                ),
            });
        }
        match self.digests.get(&zxid) {
            Some(before) if *before != digest => violations.push(Violation {
                checker: "durability",
                message: format!(
                    "restarted at {zxid} with digest {digest:?}, but the tree at {zxid} had digest {before:?}"
                ),
            }),
            _ => {}
        }
        self.digests.insert(zxid, digest);
        violations
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_restart_behind_an_acknowledged_zxid_or_with_another_tree_is_caught() {
        let mut checker: Durability<u64> = Durability::default();
        checker.on_applied(Zxid(3), 33);
        checker.on_reply(Zxid(3));
        assert_eq!(checker.on_restart(Zxid(3), 33), vec![]);
        assert_eq!(checker.on_restart(Zxid(4), 44), vec![], "unacknowledged records may survive");
        let violations = checker.on_restart(Zxid(2), 22);
        assert_eq!(violations.len(), 1);
        assert_eq!(
            violations[0].message,
            "restarted at 0x2, but a client was answered at 0x3: acknowledged writes lost"
        );
        let violations = checker.on_restart(Zxid(3), 34);
        assert_eq!(violations[0].message, "restarted at 0x3 with digest 34, but the tree at 0x3 had digest 33");
    }
}
