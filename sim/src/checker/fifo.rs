//! FIFO client order (ZooKeeper's consistency guarantees, "Sequential Consistency: updates
//! from a client will be applied in the order that they were sent", and ZooKeeper internals:
//! "all requests from a given client are processed in FIFO order"): replies on a connection
//! come back in the order the requests were sent, and the zxids a client sees never go back
//! ("Single System Image").

use super::Violation;
use crate::history::{History, Observation};
use std::collections::{BTreeMap, VecDeque};
use zab_core::{ConnectionId, Xid, Zxid};

/// Checks every client; returns the violations and the number of replies checked.
pub fn check(history: &History) -> (Vec<Violation>, usize) {
    let mut violations = Vec::new();
    let mut replies = 0;
    for client in 0..history.clients() {
        let mut outstanding: BTreeMap<ConnectionId, VecDeque<Xid>> = BTreeMap::new();
        let mut zxid_seen = Zxid::ZERO;
        for (position, _, _, observation) in history.of_client(client) {
            match observation {
                Observation::Sent { connection, xid, .. } => {
                    outstanding.entry(*connection).or_default().push_back(*xid)
                }
                Observation::ConnectionLost { connection } => {
                    outstanding.remove(connection);
                }
                Observation::Reply { connection, xid, zxid, .. } => {
                    replies += 1;
                    let expected = outstanding.get_mut(connection).and_then(|queue| queue.pop_front());
                    if expected != Some(*xid) {
                        violations.push(Violation {
                            checker: "fifo",
                            message: format!(
                                "client {client} connection {} at #{position}: reply xid {xid}, expected {expected:?}",
                                connection.0
                            ),
                        });
                    }
                    if *zxid < zxid_seen {
                        violations.push(Violation {
                            checker: "fifo",
                            message: format!(
                                "client {client} at #{position}: reply xid {xid} carries zxid {zxid} after {zxid_seen}"
                            ),
                        });
                    }
                    zxid_seen = zxid_seen.max(*zxid);
                }
                _ => {}
            }
        }
    }
    (violations, replies)
}

#[cfg(test)]
mod tests {
    use super::*;
    use zab_core::ErrorCode;

    fn sent(history: &mut History, xid: Xid) {
        history.observe(0, 0, Observation::Sent { connection: ConnectionId(1), xid, op: None });
    }

    fn reply(history: &mut History, xid: Xid, zxid: i64) {
        let observation =
            Observation::Reply { connection: ConnectionId(1), xid, zxid: Zxid(zxid), err: ErrorCode::Ok, op: None };
        history.observe(0, 0, observation);
    }

    #[test]
    fn in_order_replies_pass_and_a_swap_or_a_zxid_going_back_fails() {
        let mut history = History::default();
        sent(&mut history, 1);
        sent(&mut history, 2);
        reply(&mut history, 1, 5);
        reply(&mut history, 2, 6);
        assert_eq!(check(&history), (vec![], 2));
        sent(&mut history, 3);
        sent(&mut history, 4);
        reply(&mut history, 4, 7);
        reply(&mut history, 3, 4);
        let (violations, _) = check(&history);
        let messages: Vec<&str> = violations.iter().map(|v| v.message.as_str()).collect();
        assert_eq!(
            messages,
            vec![
                "client 0 connection 1 at #7: reply xid 4, expected Some(3)",
                "client 0 connection 1 at #8: reply xid 3, expected Some(4)",
                "client 0 at #8: reply xid 3 carries zxid 0x4 after 0x7",
            ]
        );
    }
}
