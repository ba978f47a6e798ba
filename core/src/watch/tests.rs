//! Watch manager tests: each row of ZooKeeper 3.8's trigger table, removal, checkWatches,
//! setWatches replay, and a property test that the indexes always agree.

use super::*;
use crate::wire::client::event_type::{NODE_CHILDREN_CHANGED, NODE_CREATED, NODE_DATA_CHANGED, NODE_DELETED};
use proptest::prelude::*;

const A: ConnectionId = ConnectionId(1);
const B: ConnectionId = ConnectionId(2);
const C: ConnectionId = ConnectionId(3);
const ZXID: Zxid = Zxid(0x1_0000_0005);

fn event(connection: ConnectionId, event_type: i32, path: &str) -> (ConnectionId, WatcherEvent) {
    (connection, watcher_event(event_type, path))
}

fn fire(watches: &mut WatchManager, path: &str, event_type: i32) -> Vec<(ConnectionId, WatcherEvent)> {
    let fired = watches.trigger(path, event_type, ZXID);
    watches.check_invariants();
    fired
}

#[test]
fn events_carry_sync_connected_and_the_changed_path() {
    let mut watches = WatchManager::new();
    watches.add(A, "/a", WatchKind::Data);
    let fired = fire(&mut watches, "/a", NODE_DATA_CHANGED);
    let expected = WatcherEvent { event_type: 3, state: 3, path: "/a".to_owned() };
    assert_eq!(fired, vec![(A, expected)]);
}

#[test]
fn node_created_fires_data_and_exist_watches_once() {
    let mut watches = WatchManager::new();
    watches.add(A, "/a", WatchKind::Exist);
    watches.add(B, "/a", WatchKind::Data);
    watches.add(C, "/a", WatchKind::Child);
    assert_eq!(
        fire(&mut watches, "/a", NODE_CREATED),
        vec![event(A, NODE_CREATED, "/a"), event(B, NODE_CREATED, "/a")]
    );
    // One-shot: consumed. The child watch was not involved and stays.
    assert_eq!(fire(&mut watches, "/a", NODE_CREATED), vec![]);
    assert_eq!(watches.count(), 1);
    assert_eq!(watches.check(C, "/a", watcher_type::CHILDREN), Ok(()));
}

#[test]
fn node_data_changed_fires_data_watches_only() {
    let mut watches = WatchManager::new();
    watches.add(B, "/a", WatchKind::Data);
    watches.add(A, "/a", WatchKind::Data);
    watches.add(C, "/a", WatchKind::Child);
    watches.add(C, "/a/b", WatchKind::Data);
    assert_eq!(
        fire(&mut watches, "/a", NODE_DATA_CHANGED),
        vec![event(A, NODE_DATA_CHANGED, "/a"), event(B, NODE_DATA_CHANGED, "/a")]
    );
    assert_eq!(fire(&mut watches, "/a", NODE_DATA_CHANGED), vec![]);
    assert_eq!(watches.count(), 2);
}

#[test]
fn node_children_changed_fires_child_watches_only() {
    let mut watches = WatchManager::new();
    watches.add(A, "/a", WatchKind::Child);
    watches.add(B, "/a", WatchKind::Data);
    watches.add(C, "/", WatchKind::Child);
    assert_eq!(fire(&mut watches, "/a", NODE_CHILDREN_CHANGED), vec![event(A, NODE_CHILDREN_CHANGED, "/a")]);
    assert_eq!(fire(&mut watches, "/a", NODE_CHILDREN_CHANGED), vec![]);
    assert_eq!(fire(&mut watches, "/", NODE_CHILDREN_CHANGED), vec![event(C, NODE_CHILDREN_CHANGED, "/")]);
    assert_eq!(watches.by_path(), BTreeMap::from([("/a".to_owned(), vec![B])]));
}

#[test]
fn node_deleted_fires_data_and_child_watches_once_per_connection() {
    let mut watches = WatchManager::new();
    watches.add(A, "/a", WatchKind::Data);
    watches.add(A, "/a", WatchKind::Child);
    watches.add(B, "/a", WatchKind::Child);
    watches.add(C, "/a", WatchKind::Data);
    assert_eq!(
        fire(&mut watches, "/a", NODE_DELETED),
        vec![event(A, NODE_DELETED, "/a"), event(B, NODE_DELETED, "/a"), event(C, NODE_DELETED, "/a")]
    );
    // Both of A's watches were consumed, although A heard only one event.
    assert_eq!(watches.count(), 0);
    assert_eq!(fire(&mut watches, "/a", NODE_DELETED), vec![]);
}

#[test]
fn persistent_watch_fires_for_every_event_on_its_path_and_stays() {
    let mut watches = WatchManager::new();
    watches.add(A, "/a", WatchKind::Persistent);
    for event_type in [NODE_CREATED, NODE_DATA_CHANGED, NODE_CHILDREN_CHANGED, NODE_DELETED, NODE_CREATED] {
        assert_eq!(fire(&mut watches, "/a", event_type), vec![event(A, event_type, "/a")]);
    }
    // Not recursive: nothing below the path.
    assert_eq!(fire(&mut watches, "/a/b", NODE_CREATED), vec![]);
    assert_eq!(fire(&mut watches, "/a/b", NODE_DELETED), vec![]);
    // One entry in each table, as ZooKeeper counts it.
    assert_eq!(watches.count(), 2);
    assert_eq!(watches.data_count(), 1);
}

#[test]
fn recursive_watch_fires_below_its_path_with_the_changed_path_but_never_children_changed() {
    let mut watches = WatchManager::new();
    watches.add(A, "/a", WatchKind::PersistentRecursive);
    for event_type in [NODE_CREATED, NODE_DATA_CHANGED, NODE_DELETED] {
        assert_eq!(fire(&mut watches, "/a", event_type), vec![event(A, event_type, "/a")]);
        assert_eq!(fire(&mut watches, "/a/b", event_type), vec![event(A, event_type, "/a/b")]);
        assert_eq!(fire(&mut watches, "/a/b/c", event_type), vec![event(A, event_type, "/a/b/c")]);
    }
    assert_eq!(fire(&mut watches, "/a", NODE_CHILDREN_CHANGED), vec![]);
    assert_eq!(fire(&mut watches, "/a/b", NODE_CHILDREN_CHANGED), vec![]);
    // Siblings and names that merely share a prefix are not below "/a".
    assert_eq!(fire(&mut watches, "/ab", NODE_CREATED), vec![]);
    assert_eq!(fire(&mut watches, "/", NODE_DATA_CHANGED), vec![]);
    assert_eq!(watches.count(), 2);
}

#[test]
fn recursive_watch_on_root_sees_the_whole_tree() {
    let mut watches = WatchManager::new();
    watches.add(B, "/", WatchKind::PersistentRecursive);
    assert_eq!(fire(&mut watches, "/x/y", NODE_CREATED), vec![event(B, NODE_CREATED, "/x/y")]);
    assert_eq!(fire(&mut watches, "/", NODE_DATA_CHANGED), vec![event(B, NODE_DATA_CHANGED, "/")]);
}

#[test]
fn a_connection_hears_one_event_per_trigger_however_many_watches_match() {
    let mut watches = WatchManager::new();
    watches.add(A, "/a/b", WatchKind::Data);
    watches.add(A, "/a/b", WatchKind::Persistent);
    watches.add(A, "/a", WatchKind::PersistentRecursive);
    watches.add(A, "/", WatchKind::PersistentRecursive);
    watches.add(B, "/a", WatchKind::PersistentRecursive);
    assert_eq!(
        fire(&mut watches, "/a/b", NODE_DATA_CHANGED),
        vec![event(A, NODE_DATA_CHANGED, "/a/b"), event(B, NODE_DATA_CHANGED, "/a/b")]
    );
    // The one-shot data watch was consumed; the persistent one on the same path remains
    // (ZOOKEEPER-4466: modes coexist), so the next change is still heard.
    assert_eq!(fire(&mut watches, "/a/b", NODE_DATA_CHANGED).len(), 2);
    assert_eq!(watches.count(), 8);
}

#[test]
fn a_one_shot_watch_does_not_downgrade_a_persistent_one() {
    let mut watches = WatchManager::new();
    watches.add(A, "/a", WatchKind::Persistent);
    watches.add(A, "/a", WatchKind::Data);
    watches.add(A, "/a", WatchKind::Child);
    assert_eq!(watches.count(), 2, "same entries, more modes");
    assert_eq!(fire(&mut watches, "/a", NODE_DATA_CHANGED), vec![event(A, NODE_DATA_CHANGED, "/a")]);
    assert_eq!(fire(&mut watches, "/a", NODE_CHILDREN_CHANGED), vec![event(A, NODE_CHILDREN_CHANGED, "/a")]);
    assert_eq!(fire(&mut watches, "/a", NODE_DATA_CHANGED), vec![event(A, NODE_DATA_CHANGED, "/a")]);
}

#[test]
fn remove_by_type_and_nowatcher() {
    let mut watches = WatchManager::new();
    watches.add(A, "/a", WatchKind::Data);
    watches.add(A, "/a", WatchKind::Child);
    assert_eq!(watches.remove(A, "/a", watcher_type::DATA), Ok(()));
    assert_eq!(watches.remove(A, "/a", watcher_type::DATA), Err(ErrorCode::NoWatcher));
    assert_eq!(watches.check(A, "/a", watcher_type::DATA), Err(ErrorCode::NoWatcher));
    assert_eq!(watches.check(A, "/a", watcher_type::CHILDREN), Ok(()));
    assert_eq!(watches.check(A, "/a", watcher_type::ANY), Ok(()));
    assert_eq!(watches.remove(A, "/a", watcher_type::ANY), Ok(()));
    assert_eq!(watches.remove(A, "/a", watcher_type::ANY), Err(ErrorCode::NoWatcher));
    assert_eq!(watches.check(A, "/a", watcher_type::ANY), Err(ErrorCode::NoWatcher));
    assert_eq!(watches.remove(A, "/nowhere", watcher_type::CHILDREN), Err(ErrorCode::NoWatcher));
    assert_eq!(watches.count(), 0);
    watches.check_invariants();
}

#[test]
fn check_and_remove_look_at_the_asking_connection_only() {
    let mut watches = WatchManager::new();
    watches.add(B, "/a", WatchKind::Data);
    // 3.8's containsWatcher would have said yes here because B watches "/a".
    assert_eq!(watches.check(A, "/a", watcher_type::DATA), Err(ErrorCode::NoWatcher));
    assert_eq!(watches.remove(A, "/a", watcher_type::ANY), Err(ErrorCode::NoWatcher));
    assert_eq!(watches.check(B, "/a", watcher_type::DATA), Ok(()));
    // A recursive watch on an ancestor is not a watch on the path.
    watches.add(A, "/", WatchKind::PersistentRecursive);
    assert_eq!(watches.check(A, "/a", watcher_type::ANY), Err(ErrorCode::NoWatcher));
}

#[test]
fn watcher_types_outside_one_to_three_are_marshalling_errors_in_3_8() {
    let mut watches = WatchManager::new();
    watches.add(A, "/a", WatchKind::Persistent);
    for bad in [0, 4, 5, -1] {
        assert_eq!(watches.remove(A, "/a", bad), Err(ErrorCode::MarshallingError));
        assert_eq!(watches.check(A, "/a", bad), Err(ErrorCode::MarshallingError));
    }
    assert_eq!(watches.count(), 2);
}

#[test]
fn removing_one_table_leaves_half_a_persistent_watch_as_in_3_8() {
    let mut watches = WatchManager::new();
    watches.add(A, "/a", WatchKind::Persistent);
    assert_eq!(watches.remove(A, "/a", watcher_type::DATA), Ok(()));
    // The child-table half still hears child changes and deletes, no longer data changes.
    assert_eq!(fire(&mut watches, "/a", NODE_DATA_CHANGED), vec![]);
    assert_eq!(fire(&mut watches, "/a", NODE_CHILDREN_CHANGED), vec![event(A, NODE_CHILDREN_CHANGED, "/a")]);
    assert_eq!(fire(&mut watches, "/a", NODE_DELETED), vec![event(A, NODE_DELETED, "/a")]);
    assert_eq!(watches.remove(A, "/a", watcher_type::ANY), Ok(()));
    assert_eq!(watches.count(), 0);
}

#[test]
fn add_watch_modes_map_to_persistent_kinds() {
    assert_eq!(WatchKind::from_add_watch_mode(0), Some(WatchKind::Persistent));
    assert_eq!(WatchKind::from_add_watch_mode(1), Some(WatchKind::PersistentRecursive));
    assert_eq!(WatchKind::from_add_watch_mode(2), None);
    assert_eq!(WatchKind::from_add_watch_mode(-1), None);
}

#[test]
fn remove_connection_cleans_both_tables() {
    let mut watches = WatchManager::new();
    watches.add(A, "/a", WatchKind::Data);
    watches.add(A, "/a", WatchKind::Child);
    watches.add(A, "/b", WatchKind::PersistentRecursive);
    watches.add(B, "/a", WatchKind::Data);
    watches.add(B, "/c", WatchKind::Child);
    watches.remove_connection(A);
    watches.check_invariants();
    assert_eq!(watches.count(), 2);
    assert_eq!(watches.by_connection(), BTreeMap::from([(B, vec!["/a".to_owned()])]));
    assert_eq!(watches.by_path(), BTreeMap::from([("/a".to_owned(), vec![B])]));
    assert_eq!(fire(&mut watches, "/b/x", NODE_CREATED), vec![], "A's recursive watch is gone");
    assert_eq!(fire(&mut watches, "/a", NODE_DELETED), vec![event(B, NODE_DELETED, "/a")]);
    watches.remove_connection(A); // again: nothing to do
    watches.remove_connection(B);
    assert_eq!(watches.count(), 0);
    assert_eq!(watches.connection_count(), 0);
}

#[test]
fn summaries_follow_zookeeper_wchs_wchc_wchp() {
    let mut watches = WatchManager::new();
    watches.add(B, "/x", WatchKind::Data);
    watches.add(A, "/y", WatchKind::Exist);
    watches.add(A, "/x", WatchKind::Data);
    watches.add(A, "/z", WatchKind::Child);
    watches.add(C, "/p", WatchKind::Persistent);
    // The data table holds A:/x, A:/y, B:/x, C:/p; the child table A:/z, C:/p.
    assert_eq!(watches.count(), 6);
    assert_eq!(watches.data_count(), 4);
    assert_eq!(watches.path_count(), 3);
    assert_eq!(watches.connection_count(), 3);
    assert_eq!(
        watches.by_connection(),
        BTreeMap::from([
            (A, vec!["/x".to_owned(), "/y".to_owned()]),
            (B, vec!["/x".to_owned()]),
            (C, vec!["/p".to_owned()]),
        ])
    );
    assert_eq!(
        watches.by_path(),
        BTreeMap::from([("/p".to_owned(), vec![C]), ("/x".to_owned(), vec![A, B]), ("/y".to_owned(), vec![A])])
    );
}

fn zxids(mzxid: i64, pzxid: i64) -> Option<NodeZxids> {
    Some(NodeZxids { czxid: Zxid(1), mzxid: Zxid(mzxid), pzxid: Zxid(pzxid) })
}

/// A tree for setWatches: "/same" unchanged since zxid 10, "/changed" changed after it.
fn lookup(path: &str) -> Option<NodeZxids> {
    match path {
        "/same" => zxids(10, 10),
        "/changed" => zxids(11, 12),
        "/kids" => zxids(5, 11),
        _ => None,
    }
}

fn strings(paths: &[&str]) -> Vec<String> {
    paths.iter().map(|path| (*path).to_owned()).collect()
}

#[test]
fn set_watches_replays_what_changed_after_relative_zxid_and_registers_the_rest() {
    let mut watches = WatchManager::new();
    let request = SetWatches {
        relative_zxid: Zxid(10),
        data_watches: strings(&["/same", "/changed", "/gone"]),
        exist_watches: strings(&["/same", "/absent"]),
        child_watches: strings(&["/same", "/kids", "/gone"]),
        persistent_watches: strings(&["/gone"]),
        persistent_recursive_watches: strings(&["/changed"]),
    };
    let events = watches.set_watches(A, &request, lookup);
    assert_eq!(
        events,
        vec![
            watcher_event(NODE_DATA_CHANGED, "/changed"),
            watcher_event(NODE_DELETED, "/gone"),
            watcher_event(NODE_CREATED, "/same"),
            watcher_event(NODE_CHILDREN_CHANGED, "/kids"),
            watcher_event(NODE_DELETED, "/gone"),
        ]
    );
    watches.check_invariants();
    assert_eq!(watches.check(A, "/same", watcher_type::DATA), Ok(()));
    assert_eq!(watches.check(A, "/absent", watcher_type::DATA), Ok(()));
    assert_eq!(watches.check(A, "/same", watcher_type::CHILDREN), Ok(()));
    assert_eq!(watches.check(A, "/kids", watcher_type::CHILDREN), Err(ErrorCode::NoWatcher));
    assert_eq!(watches.check(A, "/changed", watcher_type::DATA), Ok(()), "the recursive watch");
    // Persistent watches on an absent node are registered, with no replay.
    assert_eq!(watches.check(A, "/gone", watcher_type::ANY), Ok(()));
    // "/same": one data-table entry (data and exist share it) and one child-table entry;
    // "/absent": one; the persistent and the recursive watch: one per table each.
    assert_eq!(watches.count(), 7);
    assert_eq!(fire(&mut watches, "/changed/x", NODE_CREATED), vec![event(A, NODE_CREATED, "/changed/x")]);
}

#[test]
fn set_watches_with_nothing_changed_registers_everything() {
    let mut watches = WatchManager::new();
    let request = SetWatches {
        relative_zxid: Zxid(12),
        data_watches: strings(&["/changed"]),
        exist_watches: strings(&[]),
        child_watches: strings(&["/changed", "/kids"]),
        ..SetWatches::default()
    };
    assert_eq!(watches.set_watches(A, &request, lookup), vec![]);
    assert_eq!(watches.count(), 3);
    assert_eq!(fire(&mut watches, "/kids", NODE_CHILDREN_CHANGED), vec![event(A, NODE_CHILDREN_CHANGED, "/kids")]);
}

/// One step of the property test.
#[derive(Clone, Debug)]
enum Step {
    Add(u64, usize, WatchKind),
    Trigger(usize, i32),
    Remove(u64, usize, i32),
    RemoveConnection(u64),
}

const PATHS: [&str; 6] = ["/", "/a", "/a/b", "/a/b/c", "/ab", "/d"];

fn step() -> impl Strategy<Value = Step> {
    let kind = prop_oneof![
        Just(WatchKind::Data),
        Just(WatchKind::Exist),
        Just(WatchKind::Child),
        Just(WatchKind::Persistent),
        Just(WatchKind::PersistentRecursive),
    ];
    let path = 0..PATHS.len();
    prop_oneof![
        4 => (0..4u64, path.clone(), kind).prop_map(|(c, p, k)| Step::Add(c, p, k)),
        3 => (path.clone(), 1..5i32).prop_map(|(p, e)| Step::Trigger(p, e)),
        2 => (0..4u64, path, 0..6i32).prop_map(|(c, p, t)| Step::Remove(c, p, t)),
        1 => (0..4u64).prop_map(Step::RemoveConnection),
    ]
}

proptest! {
    #[test]
    fn indexes_agree_after_any_sequence(steps in prop::collection::vec(step(), 1..60)) {
        let mut watches = WatchManager::new();
        for step in steps {
            match step {
                Step::Add(c, p, kind) => watches.add(ConnectionId(c), PATHS[p], kind),
                Step::Trigger(p, event_type) => {
                    let fired = watches.trigger(PATHS[p], event_type, ZXID);
                    let connections: Vec<_> = fired.iter().map(|(c, _)| *c).collect();
                    let mut unique = connections.clone();
                    unique.dedup();
                    prop_assert_eq!(&connections, &unique, "one event per connection, sorted");
                    prop_assert!(connections.windows(2).all(|w| w[0] < w[1]));
                }
                Step::Remove(c, p, t) => {
                    let before = watches.count();
                    let result = watches.remove(ConnectionId(c), PATHS[p], t);
                    prop_assert_eq!(result.is_ok(), watches.count() < before);
                }
                Step::RemoveConnection(c) => {
                    watches.remove_connection(ConnectionId(c));
                    prop_assert_eq!(watches.check(ConnectionId(c), "/a", watcher_type::ANY), Err(ErrorCode::NoWatcher));
                }
            }
            watches.check_invariants();
        }
    }
}

#[test]
fn a_child_watch_does_not_hear_of_grandchildren_while_a_recursive_watch_elsewhere_does() {
    let mut w = WatchManager::new();
    let a = ConnectionId(1);
    let b = ConnectionId(3);
    w.add(b, "/d", WatchKind::PersistentRecursive);
    w.add(a, "/d/b", WatchKind::Child);
    let fired: Vec<_> = w.trigger("/d/b/z1", event_type::NODE_CREATED, Zxid(5)).into_iter().map(|(c, _)| c).collect();
    assert_eq!(fired, vec![b]);
}
