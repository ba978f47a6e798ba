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
//! A new session starts with no watches; a reconnect in the same session keeps them (the
//! client re-registers them with setWatches).

use super::Violation;
use crate::history::{History, Observation, Op};
use std::collections::{BTreeMap, BTreeSet};
use zab_core::proto::{event_type, Request, Response};
use zab_core::{ErrorCode, SessionId};

/// The two one-shot watch tables of a client.
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
    /// (path, recursive)
    persistent: BTreeSet<(String, bool)>,
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
    let parent = |path: &str| match path.rsplit_once('/') {
        Some(("", _)) => "/".to_string(),
        Some((parent, _)) => parent.to_string(),
        None => "/".to_string(),
    };
    let fired = match (request, err, response) {
        (Request::Create(_) | Request::Create2(_) | Request::CreateContainer(_), ErrorCode::Ok, response) => {
            let (Response::Create(path) | Response::Create2 { path, .. }) = response else { return Some(Vec::new()) };
            vec![(path.clone(), Class::Data), (parent(path), Class::Child)]
        }
        (Request::Delete(r), ErrorCode::Ok, _) => {
            vec![(r.path.clone(), Class::Data), (r.path.clone(), Class::Child), (parent(&r.path), Class::Child)]
        }
        (Request::SetData(r), ErrorCode::Ok, _) => vec![(r.path.clone(), Class::Data)],
        (Request::Create(_) | Request::Create2(_) | Request::CreateContainer(_), ..)
        | (Request::Delete(_) | Request::SetData(_), ..) => Vec::new(),
        _ => return None,
    };
    Some(fired)
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
            _ => return Ok(()), // session state events carry no znode change
        };
        let mut consumed = false;
        for class in classes {
            consumed |= self.armed.remove(&(path.to_string(), *class)).is_some();
        }
        let persistent = self.persistent.iter().any(|(root, recursive)| {
            if *recursive {
                kind != event_type::NODE_CHILDREN_CHANGED && is_under(path, root)
            } else {
                root == path
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
            (Request::AddWatch(r), _) if found => {
                self.persistent.insert((r.path.clone(), r.mode == 1));
                return Ok(());
            }
            _ => return Ok(()),
        };
        let key = (path.clone(), class);
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

    #[test]
    fn persistent_recursive_watches_cover_children_but_not_child_lists() {
        let mut state = ClientWatches::default();
        state.persistent.insert(("/a".into(), true));
        assert_eq!(state.on_event(event_type::NODE_CREATED, "/a/b/c"), Ok(()));
        assert!(state.on_event(event_type::NODE_CHILDREN_CHANGED, "/a").is_err());
        assert!(state.on_event(event_type::NODE_CREATED, "/ab").is_err());
    }
}
