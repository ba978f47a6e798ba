//! The web view's data (`/api/*`) and its page (`/`): plain HTML and JavaScript compiled into
//! the binary, no build step.
//!
//! The tree is read as an unauthenticated client reads it (`world:anyone` only): a znode whose
//! ACL denies that gets its error instead of its data, so the page shows no more than any
//! client on the network could read.

use serde_json::{json, Value};
use zab_core::node::ReplicaState;
use zab_core::proto::Stat;
use zab_core::tree::AuthInfo;

use crate::server::four_letter::{mode, ServerView};

/// The page at `/`.
pub const PAGE: &str = include_str!("page.html");

/// Children listed per znode at most; the answer says when more exist.
pub const CHILDREN_LISTED_MAX: usize = 1000;

fn stat_json(stat: &Stat) -> Value {
    json!({
        "czxid": format!("0x{:x}", stat.czxid),
        "mzxid": format!("0x{:x}", stat.mzxid),
        "pzxid": format!("0x{:x}", stat.pzxid),
        "ctime": stat.ctime,
        "mtime": stat.mtime,
        "version": stat.version,
        "cversion": stat.cversion,
        "aversion": stat.aversion,
        "ephemeralOwner": format!("0x{:x}", stat.ephemeral_owner),
        "dataLength": stat.data_length,
        "numChildren": stat.num_children,
    })
}

/// Data as text when it is UTF-8, and always as hex.
fn data_json(data: &[u8]) -> Value {
    let hex: String = data.iter().map(|b| format!("{b:02x}")).collect();
    json!({"text": std::str::from_utf8(data).ok(), "hex": hex})
}

/// One znode: stat, data, ACL and children's names, or the error a client would get.
pub fn znode(view: &ServerView<'_>, path: &str) -> Value {
    if let Err(reason) = zab_core::tree::validate_path(path) {
        return json!({"path": path, "error": reason});
    }
    let tree = view.node.tree();
    let anyone = AuthInfo::default();
    let (data, stat) = match tree.get_data(path, &anyone) {
        Ok(found) => found,
        Err(error) => return json!({"path": path, "error": format!("{error:?}")}),
    };
    let acl = match tree.get_acl(path, &anyone) {
        Ok((acl, _)) => acl.iter().map(|a| json!({"perms": a.perms, "scheme": a.id.scheme, "id": a.id.id})).collect(),
        Err(error) => vec![json!({"error": format!("{error:?}")})],
    };
    let mut children = tree.get_children(path, &anyone).map(|(c, _)| c).unwrap_or_default();
    children.sort();
    let truncated = children.len() > CHILDREN_LISTED_MAX;
    children.truncate(CHILDREN_LISTED_MAX);
    json!({
        "path": path,
        "stat": stat_json(&stat),
        "data": data_json(&data),
        "acl": acl,
        "children": children,
        "children_truncated": truncated,
    })
}

/// Sessions with their timeouts, ephemerals and watched paths.
pub fn sessions(view: &ServerView<'_>) -> Value {
    let node = view.node;
    let watches = node.watches().by_connection();
    let list: Vec<Value> = node
        .sessions()
        .iter()
        .map(|(session, timeout_ms)| {
            let watched: Vec<String> = watches
                .iter()
                .filter(|(connection, _)| node.connection_session(**connection) == Some(session))
                .flat_map(|(_, paths)| paths.iter().cloned())
                .collect();
            json!({
                "session_id": format!("0x{:x}", session.0),
                "timeout_ms": timeout_ms,
                "ephemerals": node.tree().session_ephemerals(session),
                "watches": watched,
            })
        })
        .collect();
    json!({"sessions": list})
}

/// Who leads, each learner's lag, the last election, this server's state.
pub fn ensemble(view: &ServerView<'_>) -> Value {
    let node = view.node;
    let leader = match node.replica_state() {
        ReplicaState::Standalone => Value::Null,
        ReplicaState::Leading { .. } => view.config.my_id.into(),
        ReplicaState::Learning { leader, .. } => leader.0.into(),
        ReplicaState::Looking | ReplicaState::Halted => Value::Null,
    };
    let learners: Vec<Value> = view
        .learners
        .iter()
        .map(|l| {
            json!({
                "id": l.id.0,
                "observer": l.observer,
                "synced": l.synced,
                "lag_zxids": l.lag_zxids,
                "unacked": l.unacked,
                "ack_wait_ms": l.ack_wait_ms,
                "silent_ms": l.silent_ms,
            })
        })
        .collect();
    let members: Vec<Value> =
        view.config.servers.iter().map(|s| json!({"id": s.id, "host": s.host, "quorum_port": s.quorum_port})).collect();
    json!({
        "my_id": view.config.my_id,
        "mode": mode(node),
        "serving": node.is_serving(),
        "leader": leader,
        "last_zxid": format!("0x{:x}", node.last_zxid().0),
        "state_since_ms": view.replica_since_ms,
        "members": members,
        "learners": learners,
    })
}
