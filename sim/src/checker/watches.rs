//! Watches (ZooKeeper Programmer's Guide, "ZooKeeper Watches": "Watches are one time
//! triggers"; "a client will never see a change for which it has set a watch until it first
//! sees the watch event"; after a reconnect, watches are re-registered and "triggered for any
//! session events"; persistent watches (3.6+) are not removed when triggered).
//!
//! Replayed per client from what it observed:
//! - **fires once**: every event must consume a one-shot watch the client armed (by a read with
//!   `watch`) or match a persistent watch; a second event for one registration has nothing
//!   to consume;
//! - **event before data**: a read of a path that returns a different state (mzxid, or pzxid
//!   for children, or presence) than the state at which a still-armed one-shot watch was set
//!   means the client saw the change before its event. The client's own successful write
//!   counts too: ZooKeeper fires the watches of a transaction when it applies it, before it
//!   answers, so the writer hears its own watch events before its reply.
//!
//! - **removal** (`removeWatches`, ZooKeeper 3.5+): once a removal of a table is answered OK,
//!   no event may come from the one-shot or persistent watches it removed; a server never
//!   sends DataWatchRemoved/ChildWatchRemoved/PersistentWatchRemoved itself (ZooKeeper's
//!   client raises those locally when the removal is answered);
//! - **what the server holds**: `checkWatches` (and a removal) answered OK means the server
//!   holds a watch the client set and has not seen fire; NOWATCHER means no one-shot watch of
//!   those tables is still armed.
//!
//! A multi is judged as one write: its watch events all come before its reply, and a failed
//! multi fires nothing. A multiRead is judged as its reads, in order.
//!
//! A new session starts with no watches; a reconnect in the same session keeps them (the
//! client re-registers them with setWatches). The client forgets a whole persistent watch when
//! it removes either half; the model keeps the other half, so it may expect more than the
//! server holds (harmless: only unexpected events and OK answers are judged against it).

use super::Violation;
use crate::client::multi_applied;
use crate::history::{History, Observation, Op};
use std::collections::{BTreeMap, BTreeSet};
use zab_core::proto::{event_type, MultiOp, MultiReadOp, MultiReadResult, MultiResult, Request, Response};
use zab_core::{ErrorCode, SessionId};

/// The two watch tables of a server, as seen by one client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Class {
    /// getData / exists watches: stamp is the node's mzxid, or `None` when absent.
    Data,
    /// getChildren watches: stamp is the node's pzxid.
    Child,
}

/// The state a read observed: `None` for absent, else mzxid (data) or pzxid (children).
type Stamp = Option<i64>;

#[derive(Default)]
struct ClientWatches {
    session: SessionId,
    armed: BTreeMap<(String, Class), Stamp>,
    /// (path, recursive, table): addWatch puts a persistent watch in both tables (3.8).
    persistent: BTreeSet<(String, bool, Class)>,
}

/// Checks every client's watch events; returns violations and the number of events seen.
pub fn check(history: &History) -> (Vec<Violation>, usize) {
    let mut violations = Vec::new();
    let mut events = 0;
    for client in 0..history.clients() {
        let mut state = ClientWatches::default();
        for (position, _, _, observation) in history.of_client(client) {
            match observation {
                Observation::Established { session, .. } if *session != state.session => {
                    state = ClientWatches { session: *session, ..ClientWatches::default() };
                }
                Observation::Event { event, .. } => {
                    events += 1;
                    if let Err(why) = state.on_event(event.event_type, &event.path) {
                        violations.push(violation(format!("client {client} at #{position}: {why}")));
                    }
                }
                Observation::Reply { op: Some(op), .. } => {
                    if let Err(why) = state.on_reply(&history.ops[*op]) {
                        violations.push(violation(format!("client {client} at #{position} (op#{op}): {why}")));
                    }
                }
                _ => {}
            }
        }
    }
    (violations, events)
}

fn violation(message: String) -> Violation {
    Violation { checker: "watches", message }
}

/// The one-shot watches a successful write fires, `None` for a request that is not a write.
fn write_effects(request: &Request, err: ErrorCode, response: &Response) -> Option<Vec<(String, Class)>> {
    let fired = match (request, err, response) {
        (Request::Create(_) | Request::Create2(_) | Request::CreateContainer(_), ErrorCode::Ok, response) => {
            let (Response::Create(path) | Response::Create2 { path, .. }) = response else { return Some(Vec::new()) };
            created(path)
        }
        (Request::Delete(r), ErrorCode::Ok, _) => deleted(&r.path),
        (Request::SetData(r), ErrorCode::Ok, _) => vec![(r.path.clone(), Class::Data)],
        (Request::Multi(ops), ErrorCode::Ok, Response::Multi(results)) if multi_applied(results) => {
            ops.iter().zip(results).flat_map(|(sub, result)| sub_effects(sub, result)).collect()
        }
        (Request::Create(_) | Request::Create2(_) | Request::CreateContainer(_), ..)
        | (Request::Delete(_) | Request::SetData(_) | Request::Multi(_), ..) => Vec::new(),
        _ => return None,
    };
    Some(fired)
}

fn parent(path: &str) -> String {
    match path.rsplit_once('/') {
        Some(("", _)) | None => "/".to_string(),
        Some((parent, _)) => parent.to_string(),
    }
}

fn created(path: &str) -> Vec<(String, Class)> {
    vec![(path.to_string(), Class::Data), (parent(path), Class::Child)]
}

fn deleted(path: &str) -> Vec<(String, Class)> {
    vec![(path.to_string(), Class::Data), (path.to_string(), Class::Child), (parent(path), Class::Child)]
}

/// The watches one sub-op of an applied multi fires.
fn sub_effects(sub: &MultiOp, result: &MultiResult) -> Vec<(String, Class)> {
    match (sub, result) {
        (MultiOp::Create { .. } | MultiOp::CreateTtl(_), MultiResult::Create(path))
        | (MultiOp::Create { .. } | MultiOp::CreateTtl(_), MultiResult::Create2 { path, .. }) => created(path),
        (MultiOp::Delete(r), _) => deleted(&r.path),
        (MultiOp::SetData(r), _) => vec![(r.path.clone(), Class::Data)],
        _ => Vec::new(),
    }
}

/// The tables a `WatcherType` names (Children=1, Data=2, Any=3).
fn tables(watcher_type: i32) -> &'static [Class] {
    match watcher_type {
        1 => &[Class::Child],
        2 => &[Class::Data],
        3 => &[Class::Data, Class::Child],
        _ => &[],
    }
}

/// Whether `path` is `root` or below it.
fn is_under(path: &str, root: &str) -> bool {
    root == "/" || path == root || path.strip_prefix(root).is_some_and(|rest| rest.starts_with('/'))
}

impl ClientWatches {
    fn on_event(&mut self, kind: i32, path: &str) -> Result<(), String> {
        let classes: &[Class] = match kind {
            event_type::NODE_CREATED | event_type::NODE_DATA_CHANGED => &[Class::Data],
            event_type::NODE_CHILDREN_CHANGED => &[Class::Child],
            event_type::NODE_DELETED => &[Class::Data, Class::Child],
            event_type::DATA_WATCH_REMOVED | event_type::CHILD_WATCH_REMOVED | event_type::PERSISTENT_WATCH_REMOVED => {
                return Err(format!("the server sent event type {kind} on {path}; only clients raise removal events"));
            }
            _ => return Ok(()), // session state events carry no znode change
        };
        let mut consumed = false;
        for class in classes {
            consumed |= self.armed.remove(&(path.to_string(), *class)).is_some();
        }
        let persistent = self.persistent.iter().any(|(root, recursive, table)| {
            let in_table = classes.contains(table);
            if *recursive {
                in_table && kind != event_type::NODE_CHILDREN_CHANGED && is_under(path, root)
            } else {
                in_table && root == path
            }
        });
        if consumed || persistent {
            Ok(())
        } else {
            Err(format!("event type {kind} on {path} matches no armed or persistent watch (fired twice, or unasked)"))
        }
    }

    fn on_reply(&mut self, op: &Op) -> Result<(), String> {
        let completion = op.completion.as_ref().expect("a reply observation completes its op");
        let found = completion.err == ErrorCode::Ok;
        if let Some(fired) = write_effects(&op.request, completion.err, &completion.response) {
            return match fired.iter().find(|key| self.armed.contains_key(*key)) {
                Some((path, class)) => {
                    Err(format!("its own write's reply came before the event of its {class:?} watch on {path}"))
                }
                None => Ok(()),
            };
        }
        match (&op.request, &completion.response) {
            (Request::MultiRead(ops), Response::MultiRead(results)) if found => {
                return ops.iter().zip(results).try_for_each(|(sub, result)| self.on_multi_read(sub, result));
            }
            (Request::RemoveWatches(r), _) => return self.on_removal(&r.path, r.watcher_type, completion.err, true),
            (Request::CheckWatches(r), _) => return self.on_removal(&r.path, r.watcher_type, completion.err, false),
            (Request::AddWatch(r), _) if found => {
                for table in [Class::Data, Class::Child] {
                    self.persistent.insert((r.path.clone(), r.mode == 1, table));
                }
                return Ok(());
            }
            _ => {}
        }
        if !found && completion.err != ErrorCode::NoNode {
            return Ok(());
        }
        let (path, class, stamp, watch) = match (&op.request, &completion.response) {
            (Request::GetData(r), Response::GetData { stat, .. }) => (&r.path, Class::Data, Some(stat.mzxid), r.watch),
            (Request::Exists(r), Response::Stat(stat)) => (&r.path, Class::Data, Some(stat.mzxid), r.watch),
            (Request::GetChildren2(r), Response::Children2 { stat, .. }) => {
                (&r.path, Class::Child, Some(stat.pzxid), r.watch)
            }
            // A NoNode answer: exists arms an exist watch; getData/getChildren arm nothing.
            (Request::Exists(r), _) if !found => (&r.path, Class::Data, None, r.watch),
            (Request::GetData(r), _) if !found => (&r.path, Class::Data, None, false),
            (Request::GetChildren2(r), _) if !found => (&r.path, Class::Child, None, false),
            _ => return Ok(()),
        };
        self.on_read(path, class, stamp, watch)
    }

    /// A read of `path` saw `stamp`: an armed one-shot watch must have fired first if the
    /// state moved on; a read with `watch` arms one.
    fn on_read(&mut self, path: &str, class: Class, stamp: Stamp, watch: bool) -> Result<(), String> {
        let key = (path.to_string(), class);
        if let Some(armed) = self.armed.get(&key) {
            if *armed != stamp {
                return Err(format!(
                    "read {path} at state {stamp:?} while its {class:?} watch armed at {armed:?} has not fired"
                ));
            }
        }
        if watch {
            self.armed.insert(key, stamp);
        }
        Ok(())
    }

    /// One result of a multiRead. Its getChildren results carry no stat, so they arm nothing
    /// the model could date (the workload sets no watch with them).
    fn on_multi_read(&mut self, sub: &MultiReadOp, result: &MultiReadResult) -> Result<(), String> {
        match (sub, result) {
            (MultiReadOp::GetData(r), MultiReadResult::GetData { stat, .. }) => {
                self.on_read(&r.path, Class::Data, Some(stat.mzxid), r.watch)
            }
            (MultiReadOp::GetData(r), MultiReadResult::Error(ErrorCode::NoNode)) => {
                self.on_read(&r.path, Class::Data, None, false)
            }
            _ => Ok(()),
        }
    }

    /// The answer to removeWatches (`remove`) or checkWatches on the tables `watcher_type`
    /// names.
    fn on_removal(&mut self, path: &str, watcher_type: i32, err: ErrorCode, remove: bool) -> Result<(), String> {
        let classes = tables(watcher_type);
        let armed = classes.iter().find(|class| self.armed.contains_key(&(path.to_string(), **class)));
        let held = armed.is_some() || self.persistent.iter().any(|(p, _, table)| p == path && classes.contains(table));
        let request = if remove { "removeWatches" } else { "checkWatches" };
        match err {
            ErrorCode::Ok if !held => {
                Err(format!("{request} {path} type {watcher_type} found a watch the client never set or saw fire"))
            }
            ErrorCode::NoWatcher if armed.is_some() => Err(format!(
                "{request} {path} type {watcher_type} found no watch, but its {:?} watch has not fired",
                armed.expect("some")
            )),
            ErrorCode::Ok if remove => {
                for class in classes {
                    self.armed.remove(&(path.to_string(), *class));
                }
                self.persistent.retain(|(p, _, table)| !(p == path && classes.contains(table)));
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::OpKind;
    use zab_core::proto::{PathWatchRequest, Stat, WatcherEvent};
    use zab_core::{ConnectionId, Zxid};

    const C: ConnectionId = ConnectionId(1);

    fn get(history: &mut History, watch: bool, mzxid: i64) {
        let request = Request::GetData(PathWatchRequest { path: "/a".into(), watch });
        let op = history.invoke(0, 0, SessionId(1), request, OpKind::Plain);
        history.observe(0, 0, Observation::Sent { connection: C, xid: op as i32, op: Some(op) });
        let stat = Stat { mzxid, ..Stat::default() };
        history.complete(0, op, Zxid(mzxid), ErrorCode::Ok, Response::GetData { data: vec![], stat });
        let reply =
            Observation::Reply { connection: C, xid: op as i32, zxid: Zxid(mzxid), err: ErrorCode::Ok, op: Some(op) };
        history.observe(0, 0, reply);
    }

    fn changed(history: &mut History) {
        let event = WatcherEvent { event_type: event_type::NODE_DATA_CHANGED, state: 3, path: "/a".into() };
        history.observe(0, 0, Observation::Event { connection: C, event });
    }

    fn established(history: &mut History) {
        history.observe(0, 0, Observation::Established { connection: C, session: SessionId(1), timeout_ms: 4000 });
    }

    #[test]
    fn one_event_per_registration_before_the_new_data() {
        let mut history = History::default();
        established(&mut history);
        get(&mut history, true, 5);
        changed(&mut history);
        get(&mut history, false, 6);
        assert_eq!(check(&history), (vec![], 1));
        changed(&mut history);
        let (violations, _) = check(&history);
        assert_eq!(violations.len(), 1);
        assert!(violations[0].message.ends_with("matches no armed or persistent watch (fired twice, or unasked)"));
    }

    #[test]
    fn reading_the_new_data_before_the_event_is_a_violation() {
        let mut history = History::default();
        established(&mut history);
        get(&mut history, true, 5);
        get(&mut history, false, 6);
        let (violations, _) = check(&history);
        let messages: Vec<&str> = violations.iter().map(|v| v.message.as_str()).collect();
        assert_eq!(
            messages,
            vec!["client 0 at #9 (op#1): read /a at state Some(6) while its Data watch armed at Some(5) has not fired"]
        );
    }

    #[test]
    fn a_write_reply_before_its_own_watch_event_is_a_violation() {
        let mut history = History::default();
        established(&mut history);
        get(&mut history, true, 5);
        let request =
            Request::SetData(zab_core::proto::SetDataRequest { path: "/a".into(), data: vec![], version: -1 });
        let op = history.invoke(0, 0, SessionId(1), request, OpKind::Plain);
        history.complete(0, op, Zxid(6), ErrorCode::Ok, Response::Stat(Stat { mzxid: 6, ..Stat::default() }));
        let reply = Observation::Reply { connection: C, xid: 9, zxid: Zxid(6), err: ErrorCode::Ok, op: Some(op) };
        history.observe(0, 0, reply);
        changed(&mut history);
        let (violations, _) = check(&history);
        let messages: Vec<&str> = violations.iter().map(|v| v.message.as_str()).collect();
        assert_eq!(
            messages,
            vec!["client 0 at #8 (op#1): its own write's reply came before the event of its Data watch on /a"]
        );
    }

    fn watches_request(history: &mut History, remove: bool, watcher_type: i32, err: ErrorCode) {
        let request = zab_core::proto::WatchesRequest { path: "/a".into(), watcher_type };
        let request = if remove { Request::RemoveWatches(request) } else { Request::CheckWatches(request) };
        let op = history.invoke(0, 0, SessionId(1), request, OpKind::Plain);
        history.complete(0, op, Zxid(5), err, Response::Empty);
        let reply = Observation::Reply { connection: C, xid: 20, zxid: Zxid(5), err, op: Some(op) };
        history.observe(0, 0, reply);
    }

    fn messages(history: &History) -> Vec<String> {
        check(history).0.into_iter().map(|v| v.message).collect()
    }

    #[test]
    fn a_removed_watch_must_not_fire_and_the_server_sends_no_removal_event() {
        let mut history = History::default();
        established(&mut history);
        get(&mut history, true, 5);
        watches_request(&mut history, false, 2, ErrorCode::Ok);
        watches_request(&mut history, true, 1, ErrorCode::NoWatcher);
        watches_request(&mut history, true, 2, ErrorCode::Ok);
        get(&mut history, false, 6); // no longer armed: reading the new data is fine
        assert_eq!(messages(&history), Vec::<String>::new());
        changed(&mut history);
        let removed = WatcherEvent { event_type: event_type::DATA_WATCH_REMOVED, state: 3, path: "/a".into() };
        history.observe(0, 0, Observation::Event { connection: C, event: removed });
        assert_eq!(
            messages(&history),
            vec![
                "client 0 at #19: event type 3 on /a matches no armed or persistent watch (fired twice, or unasked)",
                "client 0 at #20: the server sent event type 5 on /a; only clients raise removal events",
            ]
        );
    }

    #[test]
    fn check_watches_must_agree_with_what_the_client_set_and_saw_fire() {
        let mut history = History::default();
        established(&mut history);
        watches_request(&mut history, false, 3, ErrorCode::Ok);
        get(&mut history, true, 5);
        watches_request(&mut history, false, 2, ErrorCode::NoWatcher);
        assert_eq!(
            messages(&history),
            vec![
                "client 0 at #4 (op#0): checkWatches /a type 3 found a watch the client never set or saw fire",
                "client 0 at #11 (op#2): checkWatches /a type 2 found no watch, but its Data watch has not fired",
            ]
        );
    }

    #[test]
    fn removing_half_a_persistent_watch_keeps_the_other_half() {
        let mut state = ClientWatches::default();
        for table in [Class::Data, Class::Child] {
            state.persistent.insert(("/a".into(), false, table));
        }
        assert_eq!(state.on_removal("/a", 2, ErrorCode::Ok, true), Ok(()));
        assert!(state.on_event(event_type::NODE_DATA_CHANGED, "/a").is_err());
        assert_eq!(state.on_event(event_type::NODE_CHILDREN_CHANGED, "/a"), Ok(()));
        assert_eq!(state.on_event(event_type::NODE_DELETED, "/a"), Ok(()));
    }

    #[test]
    fn persistent_recursive_watches_cover_children_but_not_child_lists() {
        let mut state = ClientWatches::default();
        state.persistent.insert(("/a".into(), true, Class::Data));
        state.persistent.insert(("/a".into(), true, Class::Child));
        assert_eq!(state.on_event(event_type::NODE_CREATED, "/a/b/c"), Ok(()));
        assert!(state.on_event(event_type::NODE_CHILDREN_CHANGED, "/a").is_err());
        assert!(state.on_event(event_type::NODE_CREATED, "/ab").is_err());
    }
}
