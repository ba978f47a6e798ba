//! Ephemeral znodes live exactly as long as their session (ZooKeeper Programmer's Guide,
//! "Ephemeral Nodes": they "exist as long as the session that created the znode is active.
//! When the session ends the znode is deleted"; ZOOKEEPER-2355 and the open "ephemeral leak"
//! report are bugs of exactly this property).
//!
//! Judged from what clients saw:
//! - once a client's closeSession is answered (it is answered after the close is applied),
//!   no read invoked afterwards may find the session's ephemerals;
//! - once any read found an ephemeral gone, no read invoked later may find it (names are
//!   never reused by the workload, so a comeback means a deleted ephemeral was resurrected);
//! - while the owner's session still gets replies, the owner's own reads find them.
//!
//! A session *expiry* seen by its client is deliberately not a cut-off: ZooKeeper (and zab)
//! answer "expired" as soon as the close is prepared, while the ephemerals go when the close
//! transaction is applied, possibly after a slow fsync. [`check_node`] checks the server side:
//! no ephemeral outlives the session in the node's own session table.

use super::Violation;
use crate::client::multi_applied;
use crate::history::{History, Observation};
use std::collections::BTreeMap;
use zab_core::proto::{MultiOp, MultiResult, Request, Response};
use zab_core::{ErrorCode, SessionId};

/// Whether a create mode number is ephemeral (1, 3).
pub fn is_ephemeral(flags: i32) -> bool {
    matches!(flags, 1 | 3)
}

/// Checks reads of ephemerals; returns violations and the number of reads judged.
pub fn check(history: &History) -> (Vec<Violation>, usize) {
    let mut closed: BTreeMap<SessionId, u64> = BTreeMap::new();
    for (position, _, _, observation) in &history.observations {
        if let Observation::SessionClosed { session } = observation {
            closed.entry(*session).or_insert(*position);
        }
    }
    let ephemerals = acknowledged_ephemerals(history);
    let mut violations = Vec::new();
    let mut reads = 0;
    // path -> the earliest position at which a read had returned "gone"
    let mut gone_at: BTreeMap<&str, u64> = BTreeMap::new();
    for op in &history.ops {
        if let (Some(path), Some(c)) = (read_path(&op.request), &op.completion) {
            if c.err == ErrorCode::NoNode && ephemerals.get(path).is_some_and(|(_, created)| op.invoked > *created) {
                let at = gone_at.entry(path).or_insert(c.at);
                *at = (*at).min(c.at);
            }
        }
    }
    for (id, op) in history.ops.iter().enumerate() {
        let Some(path) = read_path(&op.request) else { continue };
        let (Some(&(owner, created_at)), Some(completion)) = (ephemerals.get(path), &op.completion) else { continue };
        reads += 1;
        let found = completion.err == ErrorCode::Ok;
        let mut fail = |message: String| violations.push(Violation { checker: "ephemerals", message });
        if let Some(&end) = closed.get(&owner).filter(|&&end| found && op.invoked > end) {
            fail(format!(
                "op#{id} (client {}) found {path} of session {owner} after its close was answered (#{end})",
                op.client
            ));
        }
        if let Some(&gone) = gone_at.get(path.as_str()).filter(|&&gone| found && op.invoked > gone) {
            fail(format!("op#{id} (client {}) found {path} again after a read saw it gone (#{gone})", op.client));
        }
        if !found && op.session == owner && op.invoked > created_at {
            fail(format!("op#{id}: session {owner} is live but its ephemeral {path} is gone ({:?})", completion.err));
        }
    }
    (violations, reads)
}

/// Ephemeral paths whose create was acknowledged: path -> (owner, position of the reply).
fn acknowledged_ephemerals(history: &History) -> BTreeMap<String, (SessionId, u64)> {
    let mut ephemerals = BTreeMap::new();
    for op in &history.ops {
        let Some(completion) = op.completion.as_ref().filter(|c| c.err == ErrorCode::Ok) else { continue };
        let created: Vec<(i32, &String)> = match (&op.request, &completion.response) {
            (Request::Create(r) | Request::Create2(r), Response::Create(path) | Response::Create2 { path, .. }) => {
                vec![(r.flags, path)]
            }
            (Request::Multi(ops), Response::Multi(results)) if multi_applied(results) => ops
                .iter()
                .zip(results)
                .filter_map(|(sub, result)| match (sub, result) {
                    (
                        MultiOp::Create { request, .. },
                        MultiResult::Create(path) | MultiResult::Create2 { path, .. },
                    ) => Some((request.flags, path)),
                    _ => None,
                })
                .collect(),
            _ => continue,
        };
        for (_, path) in created.into_iter().filter(|(flags, _)| is_ephemeral(*flags)) {
            ephemerals.insert(path.clone(), (op.session, completion.at));
        }
    }
    ephemerals
}

fn read_path(request: &Request) -> Option<&String> {
    match request {
        Request::Exists(r) | Request::GetData(r) => Some(&r.path),
        _ => None,
    }
}

/// Server side: every session in `sessions` (all sessions clients ever held) that the node no
/// longer tracks owns no ephemeral in its tree.
pub fn check_node<'a>(node: &zab_core::node::Node, sessions: impl Iterator<Item = &'a SessionId>) -> Vec<Violation> {
    sessions
        .filter(|session| !node.sessions().contains(**session))
        .filter_map(|session| {
            let left = node.tree().session_ephemerals(*session);
            (!left.is_empty()).then(|| Violation {
                checker: "ephemerals",
                message: format!("session {session} is gone from the node but its ephemerals {left:?} remain"),
            })
        })
        .collect()
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
    fn an_ephemeral_must_vanish_with_its_closed_session_not_before_and_never_come_back() {
        let mut history = History::default();
        let request = Request::Create(CreateRequest { path: "/e".into(), flags: 1, ..CreateRequest::default() });
        let op = history.invoke(0, 0, SessionId(7), request, OpKind::Plain);
        history.complete(0, op, Zxid(1), ErrorCode::Ok, Response::Create("/e".into()));
        exists(&mut history, 1, 8, ErrorCode::Ok);
        exists(&mut history, 0, 7, ErrorCode::Ok);
        history.observe(0, 0, Observation::SessionExpired { session: SessionId(7) });
        exists(&mut history, 1, 8, ErrorCode::Ok); // expiry seen, close not yet applied: allowed
        assert_eq!(check(&history), (vec![], 3));
        exists(&mut history, 0, 7, ErrorCode::NoNode);
        history.observe(0, 0, Observation::SessionClosed { session: SessionId(7) });
        exists(&mut history, 1, 8, ErrorCode::Ok);
        let (violations, reads) = check(&history);
        assert_eq!(reads, 5);
        let messages: Vec<&str> = violations.iter().map(|v| v.message.as_str()).collect();
        assert_eq!(
            messages,
            vec![
                "op#4: session 0x7 is live but its ephemeral /e is gone (NoNode)",
                "op#5 (client 1) found /e of session 0x7 after its close was answered (#12)",
                "op#5 (client 1) found /e again after a read saw it gone (#11)",
            ]
        );
    }
}
