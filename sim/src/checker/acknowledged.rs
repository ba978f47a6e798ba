//! No acknowledged write is lost across crashes and leader changes (ZooKeeper's durability
//! guarantee, "once an update has been applied, it will persist from that time forward";
//! Zab, DSN 2011, §III "Primary order" and the NEWLEADER sync that carries a new leader's
//! history to its quorum; ZOOKEEPER-2325, -3911, -4643, -4646 lost such writes). At the end of
//! an ensemble run, every serving replica's durable committed history must hold every write a
//! client saw succeed (at or below its snapshot, or as a log record), up to the zxid it knows
//! committed.

use super::Violation;
use crate::client::multi_applied;
use crate::history::History;
use std::collections::BTreeSet;
use zab_core::proto::{Request, Response};
use zab_core::{ErrorCode, ServerId, Zxid};

/// The zxids of every write a client saw succeed.
pub fn acknowledged_writes(history: &History) -> BTreeSet<Zxid> {
    history
        .ops
        .iter()
        .filter_map(|op| Some((&op.request, op.completion.as_ref()?)))
        .filter(|(request, c)| match (request, &c.response) {
            (Request::Create(_) | Request::Create2(_) | Request::Delete(_) | Request::SetData(_), _) => true,
            (Request::Multi(_), Response::Multi(results)) => multi_applied(results),
            _ => false,
        })
        .filter(|(_, c)| c.err == ErrorCode::Ok)
        .map(|(_, c)| c.zxid)
        .collect()
}

/// Checks one serving replica: its snapshot covers up to `snapshot`, its durable log holds
/// `logged`, it knows everything up to `committed` committed.
pub fn check(
    acknowledged: &BTreeSet<Zxid>,
    server: ServerId,
    snapshot: Zxid,
    committed: Zxid,
    logged: &BTreeSet<Zxid>,
) -> Vec<Violation> {
    acknowledged
        .range(..=committed)
        .filter(|zxid| **zxid > snapshot && !logged.contains(zxid))
        .take(3)
        .map(|zxid| Violation {
            checker: "acknowledged",
            message: format!(
                "server {} committed up to {committed} (snapshot at {snapshot}) without the acknowledged write at {zxid}",
                server.0
            ),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replica_missing_an_acknowledged_write_in_its_committed_history_is_caught() {
        let acked: BTreeSet<Zxid> = [Zxid(2), Zxid(5), Zxid(9)].into_iter().collect();
        let logged: BTreeSet<Zxid> = [Zxid(4), Zxid(6)].into_iter().collect();
        assert_eq!(check(&acked, ServerId(1), Zxid(2), Zxid(4), &logged), vec![], "2 is in the snapshot");
        let violations = check(&acked, ServerId(1), Zxid(2), Zxid(8), &logged);
        assert_eq!(violations.len(), 1, "9 is not committed here yet; 5 is missing");
        assert_eq!(
            violations[0].message,
            "server 1 committed up to 0x8 (snapshot at 0x2) without the acknowledged write at 0x5"
        );
    }
}
