//! Watches: who is told what when a znode changes, as Apache ZooKeeper 3.8 does it
//! (`DataTree` + two `WatchManager`s, `WatcherModeManager`, `PathParentIterator`).
//!
//! Like ZooKeeper, the manager keeps two tables:
//! - the **data table**: data watches (getData, exists on a present node), exist watches
//!   (exists on an absent node: ZooKeeper stores them exactly like data watches), and the
//!   persistent and persistent-recursive watches of `addWatch`;
//! - the **child table**: child watches (getChildren) and, again, the persistent and
//!   persistent-recursive watches (3.8's `DataTree.addWatch` adds both modes to both tables;
//!   3.9 stops adding recursive ones to the child table).
//!
//! A change triggers the tables as `DataTree` does:
//!
//! | event | tables fired at the changed path |
//! | --- | --- |
//! | NodeCreated, NodeDataChanged | data |
//! | NodeChildrenChanged (the caller passes the parent) | child |
//! | NodeDeleted | data, then child; a connection hears it once |
//!
//! One-shot watches are consumed when they fire; persistent ones stay. A persistent-recursive
//! watch also fires for changes below its path, never for NodeChildrenChanged. A connection
//! gets at most one event per [`WatchManager::trigger`] call.
//!
//! Two deliberate differences from 3.8, both ZooKeeper bugs fixed in 3.9 by ZOOKEEPER-4466
//! (both reproduced against a 3.8.0 server):
//! - 3.8 keeps one mode per (connection, path, table), so a one-shot getData watch set after
//!   `addWatch` silently turned the persistent watch into a one-shot one. Here the modes of
//!   one (connection, path, table) coexist, as in 3.9.
//! - 3.8's `containsWatcher` (checkWatches) answered yes if *any* connection watched the
//!   path. Here it asks about the requesting connection only.
//!
//! `removeWatches`/`checkWatches` keep 3.8's wire contract: types Children=1, Data=2, Any=3;
//! anything else (including 3.9's Persistent=4, PersistentRecursive=5) fails
//! `WatcherType.fromInt`, which 3.8's `FinalRequestProcessor` turns into MARSHALLINGERROR.

use crate::error::ErrorCode;
use crate::ids::{ConnectionId, Zxid};
use crate::wire::client::{event_type, keeper_state, SetWatches, WatcherEvent};
use std::collections::{BTreeMap, BTreeSet};

#[cfg(test)]
mod tests;

/// What kind of watch a request sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum WatchKind {
    /// getData, or exists on a present node: NodeDataChanged, NodeDeleted (and NodeCreated,
    /// which can only happen after a delete consumed it).
    Data,
    /// exists on an absent node: NodeCreated. Stored as a data watch, as ZooKeeper does.
    Exist,
    /// getChildren: NodeChildrenChanged, NodeDeleted.
    Child,
    /// `addWatch` mode 0 (`AddWatchMode.PERSISTENT`): every event on the path, kept.
    Persistent,
    /// `addWatch` mode 1 (`AddWatchMode.PERSISTENT_RECURSIVE`): NodeCreated, NodeDeleted and
    /// NodeDataChanged on the path and below, kept.
    PersistentRecursive,
}

impl WatchKind {
    /// The kind for an `addWatch` mode number (`ZooDefs.AddWatchModes`), if valid. ZooKeeper
    /// answers an invalid mode with MARSHALLINGERROR (`WatcherMode.fromZooDef` throws).
    pub fn from_add_watch_mode(mode: i32) -> Option<WatchKind> {
        match mode {
            0 => Some(WatchKind::Persistent),
            1 => Some(WatchKind::PersistentRecursive),
            _ => None,
        }
    }
}

/// `Watcher.WatcherType` numbers of removeWatches / checkWatches.
pub mod watcher_type {
    /// Child watches (the child table).
    pub const CHILDREN: i32 = 1;
    /// Data and exist watches (the data table).
    pub const DATA: i32 = 2;
    /// Both tables.
    pub const ANY: i32 = 3;
}

/// The zxids of a znode that [`WatchManager::set_watches`] compares with the client's
/// last-seen zxid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeZxids {
    /// Creation zxid (not consulted by ZooKeeper's setWatches, kept for callers).
    pub czxid: Zxid,
    /// Last data change.
    pub mzxid: Zxid,
    /// Last change to the child list.
    pub pzxid: Zxid,
}

/// The modes one connection holds on one path in one table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Modes {
    /// A one-shot watch (data, exist or child, depending on the table).
    standard: bool,
    persistent: bool,
    recursive: bool,
}

impl Modes {
    fn is_empty(self) -> bool {
        !self.standard && !self.persistent && !self.recursive
    }
}

/// One of ZooKeeper's two `WatchManager`s: path -> connections and connection -> paths.
#[derive(Clone, Debug, Default)]
struct WatchTable {
    by_path: BTreeMap<String, BTreeMap<ConnectionId, Modes>>,
    by_connection: BTreeMap<ConnectionId, BTreeSet<String>>,
    /// Entries with a recursive mode: when zero, triggers skip the walk up the ancestors
    /// (ZooKeeper's `recursiveQty` shortcut).
    recursive: usize,
}

impl WatchTable {
    fn add(&mut self, connection: ConnectionId, path: &str, set: impl FnOnce(&mut Modes)) {
        let modes = self.by_path.entry(path.to_owned()).or_default().entry(connection).or_default();
        let was_recursive = modes.recursive;
        set(modes);
        if modes.recursive && !was_recursive {
            self.recursive += 1;
        }
        self.by_connection.entry(connection).or_default().insert(path.to_owned());
    }

    fn contains(&self, connection: ConnectionId, path: &str) -> bool {
        self.by_path.get(path).is_some_and(|watchers| watchers.contains_key(&connection))
    }

    /// Drops a (connection, path) entry whatever its modes; true if there was one.
    fn remove(&mut self, connection: ConnectionId, path: &str) -> bool {
        let Some(watchers) = self.by_path.get_mut(path) else {
            return false;
        };
        let Some(modes) = watchers.remove(&connection) else {
            return false;
        };
        if watchers.is_empty() {
            self.by_path.remove(path);
        }
        if modes.recursive {
            self.recursive -= 1;
        }
        let paths = self.by_connection.get_mut(&connection).expect("indexes agree");
        assert!(paths.remove(path), "indexes agree on {path}");
        if paths.is_empty() {
            self.by_connection.remove(&connection);
        }
        true
    }

    fn remove_connection(&mut self, connection: ConnectionId) {
        let Some(paths) = self.by_connection.get(&connection) else {
            return;
        };
        for path in paths.clone() {
            self.remove(connection, &path);
        }
        assert!(!self.by_connection.contains_key(&connection));
    }

    /// `WatchManager.triggerWatch`: adds every connection that hears `event` at `path` to
    /// `fired`, and consumes the one-shot watches that matched, even for connections already
    /// in `fired` (ZooKeeper's suppression skips the delivery, not the removal).
    fn trigger(&mut self, path: &str, event: i32, fired: &mut BTreeSet<ConnectionId>) {
        let mut consumed = Vec::new();
        for (level, local_path) in self.trigger_paths(path).enumerate() {
            let Some(watchers) = self.by_path.get(local_path) else {
                continue;
            };
            for (connection, modes) in watchers {
                let recursive_fires = modes.recursive && event != event_type::NODE_CHILDREN_CHANGED;
                let at_path = level == 0;
                if recursive_fires || (at_path && (modes.standard || modes.persistent)) {
                    fired.insert(*connection);
                }
                if at_path && modes.standard {
                    consumed.push(*connection);
                }
            }
        }
        for connection in consumed {
            self.clear_standard(connection, path);
        }
    }

    /// The path, then (only if some recursive watch exists) each ancestor up to "/".
    fn trigger_paths<'a>(&self, path: &'a str) -> impl Iterator<Item = &'a str> {
        let walk_up = self.recursive > 0;
        std::iter::successors(Some(path), move |current| {
            if !walk_up || *current == "/" {
                return None;
            }
            match current.rfind('/') {
                Some(0) => Some("/"),
                Some(slash) => Some(&current[..slash]),
                None => None,
            }
        })
    }

    fn clear_standard(&mut self, connection: ConnectionId, path: &str) {
        let watchers = self.by_path.get_mut(path).expect("consumed watch exists");
        let modes = watchers.get_mut(&connection).expect("consumed watch exists");
        modes.standard = false;
        if modes.is_empty() {
            self.remove(connection, path);
        }
    }

    fn count(&self) -> usize {
        self.by_path.values().map(BTreeMap::len).sum()
    }

    fn check_invariants(&self) {
        let mut recursive = 0;
        for (path, watchers) in &self.by_path {
            assert!(!watchers.is_empty(), "empty watcher set kept for {path}");
            for (connection, modes) in watchers {
                assert!(!modes.is_empty(), "entry without modes for {path}");
                let paths = self.by_connection.get(connection).expect("connection indexed");
                assert!(paths.contains(path), "{connection:?} misses {path}");
                recursive += usize::from(modes.recursive);
            }
        }
        for (connection, paths) in &self.by_connection {
            assert!(!paths.is_empty(), "empty path set kept for {connection:?}");
            for path in paths {
                assert!(self.contains(*connection, path), "{path} misses {connection:?}");
            }
        }
        assert_eq!(recursive, self.recursive, "recursive count");
    }
}

/// Every watch a server holds for its connections. See the module docs for the semantics.
#[derive(Clone, Debug, Default)]
pub struct WatchManager {
    data: WatchTable,
    child: WatchTable,
}

impl WatchManager {
    /// An empty manager.
    pub fn new() -> WatchManager {
        WatchManager::default()
    }

    /// Sets a watch for a connection. Setting the same watch twice is one watch.
    pub fn add(&mut self, connection: ConnectionId, path: &str, kind: WatchKind) {
        match kind {
            WatchKind::Data | WatchKind::Exist => self.data.add(connection, path, |m| m.standard = true),
            WatchKind::Child => self.child.add(connection, path, |m| m.standard = true),
            WatchKind::Persistent => {
                self.data.add(connection, path, |m| m.persistent = true);
                self.child.add(connection, path, |m| m.persistent = true);
            }
            WatchKind::PersistentRecursive => {
                self.data.add(connection, path, |m| m.recursive = true);
                self.child.add(connection, path, |m| m.recursive = true);
            }
        }
    }

    /// Fires the watches a change to `path` triggers and returns one event per connection,
    /// ordered by connection id. `event` is NodeCreated, NodeDeleted, NodeDataChanged (all
    /// about the changed node) or NodeChildrenChanged (pass the parent's path).
    ///
    /// `zxid` is the change's transaction: 3.8 clients never see it (the notification's
    /// reply header carries −1), it is only traced here; a 3.9-style driver already knows it.
    pub fn trigger(&mut self, path: &str, event: i32, zxid: Zxid) -> Vec<(ConnectionId, WatcherEvent)> {
        let mut fired = BTreeSet::new();
        match event {
            event_type::NODE_CREATED | event_type::NODE_DATA_CHANGED => self.data.trigger(path, event, &mut fired),
            event_type::NODE_CHILDREN_CHANGED => self.child.trigger(path, event, &mut fired),
            event_type::NODE_DELETED => {
                self.data.trigger(path, event, &mut fired);
                self.child.trigger(path, event, &mut fired);
            }
            _ => panic!("trigger with event type {event}, not a znode change"),
        }
        tracing::trace!(path, event, %zxid, connections = fired.len(), "watches triggered");
        fired.into_iter().map(|connection| (connection, watcher_event(event, path))).collect()
    }

    /// removeWatches (opcode 18): drops the connection's watches on `path` in the tables
    /// `watcher_type` names, whatever their modes (a persistent watch goes with Any, or half
    /// of it with Data or Children, as in 3.8).
    ///
    /// Errors: NOWATCHER if nothing was removed; MARSHALLINGERROR for a type other than
    /// 1, 2, 3 (see the module docs).
    pub fn remove(&mut self, connection: ConnectionId, path: &str, watcher_type: i32) -> Result<(), ErrorCode> {
        let removed = match watcher_type {
            watcher_type::CHILDREN => self.child.remove(connection, path),
            watcher_type::DATA => self.data.remove(connection, path),
            watcher_type::ANY => {
                let child = self.child.remove(connection, path);
                let data = self.data.remove(connection, path);
                child || data
            }
            _ => return Err(ErrorCode::MarshallingError),
        };
        if removed {
            Ok(())
        } else {
            Err(ErrorCode::NoWatcher)
        }
    }

    /// checkWatches (opcode 17): whether the connection has a watch on `path` in the tables
    /// `watcher_type` names. Same errors as [`remove`](Self::remove); changes nothing.
    pub fn check(&self, connection: ConnectionId, path: &str, watcher_type: i32) -> Result<(), ErrorCode> {
        let found = match watcher_type {
            watcher_type::CHILDREN => self.child.contains(connection, path),
            watcher_type::DATA => self.data.contains(connection, path),
            watcher_type::ANY => self.child.contains(connection, path) || self.data.contains(connection, path),
            _ => return Err(ErrorCode::MarshallingError),
        };
        if found {
            Ok(())
        } else {
            Err(ErrorCode::NoWatcher)
        }
    }

    /// Drops every watch of a closed connection (`DataTree.removeCnxn`).
    pub fn remove_connection(&mut self, connection: ConnectionId) {
        self.data.remove_connection(connection);
        self.child.remove_connection(connection);
    }

    /// setWatches / setWatches2 after a reconnect (`DataTree.setWatches`): re-registers the
    /// client's watches, except those whose condition changed after `relative_zxid`, which
    /// fire at once instead. Returns those events in ZooKeeper's order: data, exist, child
    /// lists, each in request order. Persistent watches are re-registered without replay, so
    /// events missed while disconnected are lost, as in ZooKeeper.
    ///
    /// `lookup` gives the zxids of an existing znode, `None` for an absent one.
    pub fn set_watches(
        &mut self,
        connection: ConnectionId,
        request: &SetWatches,
        lookup: impl Fn(&str) -> Option<NodeZxids>,
    ) -> Vec<WatcherEvent> {
        let relative = request.relative_zxid;
        let mut events = Vec::new();
        for path in &request.data_watches {
            match lookup(path) {
                None => events.push(watcher_event(event_type::NODE_DELETED, path)),
                Some(node) if node.mzxid > relative => events.push(watcher_event(event_type::NODE_DATA_CHANGED, path)),
                Some(_) => self.add(connection, path, WatchKind::Data),
            }
        }
        for path in &request.exist_watches {
            match lookup(path) {
                Some(_) => events.push(watcher_event(event_type::NODE_CREATED, path)),
                None => self.add(connection, path, WatchKind::Exist),
            }
        }
        for path in &request.child_watches {
            match lookup(path) {
                None => events.push(watcher_event(event_type::NODE_DELETED, path)),
                Some(node) if node.pzxid > relative => {
                    events.push(watcher_event(event_type::NODE_CHILDREN_CHANGED, path))
                }
                Some(_) => self.add(connection, path, WatchKind::Child),
            }
        }
        for path in &request.persistent_watches {
            self.add(connection, path, WatchKind::Persistent);
        }
        for path in &request.persistent_recursive_watches {
            self.add(connection, path, WatchKind::PersistentRecursive);
        }
        events
    }

    /// Watches in both tables (`DataTree.getWatchCount`, mntr's `zk_watch_count`). A
    /// persistent watch counts twice, once per table, as in ZooKeeper.
    pub fn count(&self) -> usize {
        self.data.count() + self.child.count()
    }

    /// Watches in the data table: wchs's "Total watches" (ZooKeeper's summary looks at the
    /// data table only).
    pub fn data_count(&self) -> usize {
        self.data.count()
    }

    /// Paths with a data-table watch: wchs's "watching N paths".
    pub fn path_count(&self) -> usize {
        self.data.by_path.len()
    }

    /// Connections with a data-table watch: wchs's "N connections".
    pub fn connection_count(&self) -> usize {
        self.data.by_connection.len()
    }

    /// The data table by connection, paths sorted: wchc. Like ZooKeeper's `dumpWatches`, it
    /// lists data, exist and persistent watches but not child watches.
    pub fn by_connection(&self) -> BTreeMap<ConnectionId, Vec<String>> {
        let entries = self.data.by_connection.iter();
        entries.map(|(connection, paths)| (*connection, paths.iter().cloned().collect())).collect()
    }

    /// The data table by path, connections sorted: wchp (same scope as
    /// [`by_connection`](Self::by_connection)).
    pub fn by_path(&self) -> BTreeMap<String, Vec<ConnectionId>> {
        let entries = self.data.by_path.iter();
        entries.map(|(path, watchers)| (path.clone(), watchers.keys().copied().collect())).collect()
    }

    /// Asserts that, in each table, the path index and the connection index agree.
    pub fn check_invariants(&self) {
        self.data.check_invariants();
        self.child.check_invariants();
    }
}

/// A `WatcherEvent` as a server sends it: state SyncConnected.
fn watcher_event(event: i32, path: &str) -> WatcherEvent {
    WatcherEvent { event_type: event, state: keeper_state::SYNC_CONNECTED, path: path.to_owned() }
}
