//! ZAB's synchronization without state: how a leader chooses DIFF, TRUNC or SNAP
//! (`LearnerHandler.syncFollower`), and the SNAP database mapping.

use super::*;
use crate::ids::Epoch;
use crate::tree::DataTree;
use crate::txn::{TxnBody, TxnHeader};
use crate::wire::client::Acl;
use crate::wire::quorum::QuorumLimits;

const L: QuorumLimits = QuorumLimits::DEFAULT;

fn txn(epoch: u32, counter: u32) -> Txn {
    let zxid = Zxid::new(Epoch(epoch), counter);
    let header = TxnHeader { client_id: SessionId(0), cxid: 0, zxid, time: 0, op: crate::wire::client::op::ERROR };
    Txn { header, body: TxnBody::Error { err: -1 } }
}

fn zxids(txns: &[Txn]) -> Vec<Zxid> {
    txns.iter().map(|t| t.header.zxid).collect()
}

#[test]
fn a_learner_inside_the_history_gets_a_diff_of_what_it_lacks_up_to_the_limit() {
    let history = vec![txn(1, 1), txn(1, 2), txn(2, 1), txn(2, 2)];
    let limit = Zxid::new(Epoch(2), 1);
    let SyncPlan::Diff(txns) = plan_sync(&history, Zxid::ZERO, limit, Zxid::new(Epoch(1), 1), limit) else {
        panic!("expected DIFF")
    };
    assert_eq!(zxids(&txns), vec![Zxid::new(Epoch(1), 2), Zxid::new(Epoch(2), 1)]);
    assert_eq!(plan_sync(&history, Zxid::ZERO, limit, limit, limit), SyncPlan::Diff(vec![]));
}

#[test]
fn a_learner_with_transactions_the_leader_lacks_truncates_to_the_shared_prefix() {
    // The learner logged 1:3 (never committed); the leader went on in epoch 2.
    let history = vec![txn(1, 1), txn(1, 2), txn(2, 1)];
    let limit = Zxid::new(Epoch(2), 1);
    let plan = plan_sync(&history, Zxid::ZERO, limit, Zxid::new(Epoch(1), 3), limit);
    assert_eq!(plan, SyncPlan::Trunc { zxid: Zxid::new(Epoch(1), 2), txns: vec![txn(2, 1)] });
    // Ahead of everything the leader has committed: truncate to the limit.
    let plan = plan_sync(&history, Zxid::ZERO, Zxid::new(Epoch(1), 2), Zxid::new(Epoch(2), 1), limit);
    assert_eq!(plan, SyncPlan::Trunc { zxid: Zxid::new(Epoch(1), 2), txns: vec![] });
}

#[test]
fn a_learner_behind_the_history_gets_a_snap_then_the_entries_above_the_tree() {
    let history = vec![txn(1, 5), txn(1, 6)];
    let base = Zxid::new(Epoch(1), 4);
    let limit = Zxid::new(Epoch(1), 6);
    let plan = plan_sync(&history, base, limit, Zxid::new(Epoch(1), 2), Zxid::new(Epoch(1), 5));
    assert_eq!(plan, SyncPlan::Snap(vec![txn(1, 6)]));
}

#[test]
fn a_tree_survives_the_snap_database_round_trip_with_zookeepers_open_acl_reference() {
    let tree = DataTree::new();
    let snapshot = tree.snapshot();
    let sessions = vec![(SessionId(7), 4000)];
    let mut database = database_from_snapshot(&snapshot, &sessions);
    assert_eq!(database.nodes[0].path, "", "the root travels as \"\"");
    let bytes = database.encode();
    assert_eq!(WireDatabase::decode(&bytes, L).as_ref(), Ok(&database));
    let (back, back_sessions) = snapshot_from_database(Zxid::ZERO, &database).expect("valid");
    assert_eq!(back_sessions, sessions);
    assert_eq!(DataTree::from_snapshot(back).expect("valid").digest(), tree.digest());
    // ZooKeeper writes −1 for the open ACL, without a cache entry.
    let open = database.nodes[0].acl_ref;
    assert_eq!(database.acls.iter().find(|(r, _)| *r == open).map(|(_, a)| a.clone()), Some(Acl::open_unsafe()));
    database.acls.retain(|(r, _)| *r != open);
    for node in database.nodes.iter_mut().filter(|n| n.acl_ref == open) {
        node.acl_ref = -1;
    }
    let (back, _) = snapshot_from_database(Zxid::ZERO, &database).expect("valid");
    assert_eq!(DataTree::from_snapshot(back).expect("valid").digest(), tree.digest());
}

/// The first SNAP database of the captured Apache ZooKeeper 3.8 ensemble
/// (`core/tests/fixtures/quorum/`), decoded.
fn captured_database() -> WireDatabase {
    let text = include_str!("../../../tests/fixtures/quorum/quorum_frames.txt");
    let hex = text
        .lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>())
        .find(|fields| fields.get(3) == Some(&"database"))
        .map(|fields| fields[4])
        .expect("a captured database");
    let bytes: Vec<u8> =
        (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex")).collect();
    WireDatabase::decode(&bytes, L).expect("a valid database")
}

#[test]
fn a_real_snap_database_with_the_open_acl_both_cached_and_as_minus_one_loads() {
    // An Apache leader's SNAP: the root keeps -1 while client-created nodes with the open ACL
    // reference a cache entry for the same list. Mapping -1 to an entry of its own interned
    // the open list twice and the learner refused the SNAP ("appears twice").
    let database = captured_database();
    let open: Vec<i64> = database.acls.iter().filter(|(_, acl)| *acl == Acl::open_unsafe()).map(|(r, _)| *r).collect();
    assert_eq!(open.len(), 1, "the open ACL is cached once");
    assert_eq!(database.nodes[0].acl_ref, -1, "the root uses -1");
    let (snapshot, _) = snapshot_from_database(Zxid::ZERO, &database).expect("valid");
    assert_eq!(snapshot.acls.len(), database.acls.len(), "no entry added for -1");
    assert_eq!(snapshot.nodes[0].acl, open[0] as u64, "the root shares the cached open ACL");
    let tree = DataTree::from_snapshot(snapshot).expect("the tree accepts it");
    assert_eq!(tree.snapshot().nodes.len(), database.nodes.len());
}

#[test]
fn a_list_cached_under_two_references_is_interned_once() {
    let mut database = captured_database();
    let (reference, acl) = database.acls[0].clone();
    let twin = database.acls.iter().map(|(r, _)| *r).max().expect("acls") + 1;
    database.acls.push((twin, acl));
    let node = database.nodes.iter().position(|n| n.acl_ref == reference).expect("a node using it");
    database.nodes[node].acl_ref = twin;
    let (snapshot, _) = snapshot_from_database(Zxid::ZERO, &database).expect("valid");
    assert_eq!(snapshot.acls.len(), database.acls.len() - 1);
    assert_eq!(snapshot.nodes[node].acl, reference as u64);
    DataTree::from_snapshot(snapshot).expect("the tree accepts it");
}
