//! Committed logs agree: if two replicas committed a transaction at zxid z, it is the same
//! transaction (Zab, DSN 2011, §III "Agreement" and "Total order"; ZooKeeper's TRUNC/DIFF sync
//! exists to keep this across leader changes: ZOOKEEPER-1154, -1549, -2355 broke it). The
//! world feeds each serving replica's durable log records up to the zxid it knows committed;
//! every one is compared with what other replicas committed at that zxid.

use super::Violation;
use std::collections::BTreeMap;
use zab_core::txn::Txn;
use zab_core::{ServerId, Zxid};

/// The transaction committed at each zxid, as the first replica reported it.
#[derive(Debug, Default)]
pub struct CommittedPrefix {
    txns: BTreeMap<Zxid, (Txn, ServerId)>,
}

impl CommittedPrefix {
    /// Server `server` holds `txn` durably and knows it committed.
    pub fn on_committed(&mut self, server: ServerId, txn: &Txn) -> Option<Violation> {
        let zxid = txn.header.zxid;
        let (first, first_server) = self.txns.entry(zxid).or_insert_with(|| (txn.clone(), server));
        (first != txn).then(|| Violation {
            checker: "committed_prefix",
            message: format!(
                "at {zxid} server {} committed {:?}, server {} committed {:?}",
                server.0, txn.body, first_server.0, first.body
            ),
        })
    }

    /// Whether some replica reported a committed transaction at `zxid`.
    pub fn contains(&self, zxid: Zxid) -> bool {
        self.txns.contains_key(&zxid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zab_core::txn::{TxnBody, TxnHeader};
    use zab_core::SessionId;

    fn txn(zxid: i64, path: &str) -> Txn {
        let header = TxnHeader { client_id: SessionId(1), cxid: 0, zxid: Zxid(zxid), time: 0, op: 2 };
        Txn { header, body: TxnBody::Delete { path: path.into() } }
    }

    #[test]
    fn two_replicas_must_commit_the_same_transaction_at_a_zxid() {
        let mut committed = CommittedPrefix::default();
        assert_eq!(committed.on_committed(ServerId(1), &txn(1, "/a")), None);
        assert_eq!(committed.on_committed(ServerId(2), &txn(1, "/a")), None);
        assert!(committed.contains(Zxid(1)) && !committed.contains(Zxid(2)));
        let violation = committed.on_committed(ServerId(3), &txn(1, "/b")).expect("diverged");
        assert_eq!(
            violation.message,
            "at 0x1 server 3 committed Delete { path: \"/b\" }, server 1 committed Delete { path: \"/a\" }"
        );
    }
}
