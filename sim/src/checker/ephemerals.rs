//! Ephemeral znodes live exactly as long as their session (ZooKeeper Programmer's Guide,
//! "Ephemeral Nodes": they "exist as long as the session that created the znode is active.
//! When the session ends the znode is deleted"; ZOOKEEPER-2355 and the open "ephemeral leak"
//! report are bugs of exactly this property).
//!
//! Judged from what clients saw: once a client has learned that its session ended (the server
//! refused to resume it, or answered its closeSession), no read invoked afterwards may find
//! the session's ephemerals; and while the owner's session still gets replies, the owner's
//! own reads must find them.

use super::Violation;
use crate::history::{History, Observation};
use std::collections::BTreeMap;
use zab_core::proto::{Request, Response};
use zab_core::{ErrorCode, SessionId};

/// Whether a create mode number is ephemeral (1, 3).
pub fn is_ephemeral(flags: i32) -> bool {
    matches!(flags, 1 | 3)
}

/// Checks reads of ephemerals; returns violations and the number of reads judged.
pub fn check(history: &History) -> (Vec<Violation>, usize) {
    let mut ended: BTreeMap<SessionId, u64> = BTreeMap::new();
    for (position, _, _, observation) in &history.observations {
        if let Observation::SessionExpired { session } | Observation::SessionClosed { session } = observation {
            ended.entry(*session).or_insert(*position);
        }
    }
    // path -> (owner, position at which its create was acknowledged)
    let mut ephemerals: BTreeMap<String, (SessionId, u64)> = BTreeMap::new();
    for op in &history.ops {
        let (Request::Create(request) | Request::Create2(request)) = &op.request else { continue };
        let Some(completion) = op.completion.as_ref().filter(|c| c.err == ErrorCode::Ok) else { continue };
        if let (true, Response::Create(path) | Response::Create2 { path, .. }) =
            (is_ephemeral(request.flags), &completion.response)
        {
            ephemerals.insert(path.clone(), (op.session, completion.at));
        }
    }
    let mut violations = Vec::new();
    let mut reads = 0;
    for (id, op) in history.ops.iter().enumerate() {
        let path = match &op.request {
            Request::Exists(r) | Request::GetData(r) => &r.path,
            _ => continue,
        };
        let (Some(&(owner, created_at)), Some(completion)) = (ephemerals.get(path), &op.completion) else { continue };
        reads += 1;
        let found = completion.err == ErrorCode::Ok;
        if let Some(&end) = ended.get(&owner) {
            if found && op.invoked > end {
                violations.push(Violation {
                    checker: "ephemerals",
                    message: format!(
                        "op#{id} (client {}) found {path} of session {owner} after that session ended (#{end})",
                        op.client
                    ),
                });
            }
        }
        if !found && op.session == owner && op.invoked > created_at {
            violations.push(Violation {
                checker: "ephemerals",
                message: format!(
                    "op#{id}: session {owner} is live but its ephemeral {path} is gone ({:?})",
                    completion.err
                ),
            });
        }
    }
    (violations, reads)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::OpKind;
    use zab_core::proto::{CreateRequest, PathWatchRequest, Stat};
    use zab_core::Zxid;

    fn exists(history: &mut History, client: usize, session: i64, err: ErrorCode) {
        let request = Request::Exists(PathWatchRequest { path: "/e".into(), watch: false });
        let op = history.invoke(0, client, SessionId(session), request, OpKind::Plain);
        let response = if err == ErrorCode::Ok { Response::Stat(Stat::default()) } else { Response::Empty };
        history.complete(0, op, Zxid(1), err, response);
    }

    #[test]
    fn an_ephemeral_must_vanish_with_its_session_and_not_before() {
        let mut history = History::default();
        let request = Request::Create(CreateRequest { path: "/e".into(), flags: 1, ..CreateRequest::default() });
        let op = history.invoke(0, 0, SessionId(7), request, OpKind::Plain);
        history.complete(0, op, Zxid(1), ErrorCode::Ok, Response::Create("/e".into()));
        exists(&mut history, 1, 8, ErrorCode::Ok);
        exists(&mut history, 0, 7, ErrorCode::Ok);
        assert_eq!(check(&history), (vec![], 2));
        exists(&mut history, 0, 7, ErrorCode::NoNode);
        history.observe(0, 0, Observation::SessionExpired { session: SessionId(7) });
        exists(&mut history, 1, 8, ErrorCode::NoNode);
        exists(&mut history, 1, 8, ErrorCode::Ok);
        let (violations, reads) = check(&history);
        assert_eq!(reads, 5);
        let messages: Vec<&str> = violations.iter().map(|v| v.message.as_str()).collect();
        assert_eq!(
            messages,
            vec![
                "op#3: session 0x7 is live but its ephemeral /e is gone (NoNode)",
                "op#5 (client 1) found /e of session 0x7 after that session ended (#9)",
            ]
        );
    }
}
