//! `zab snapshot-print` and `zab txnlog-print`, like Apache's zkSnapShotToolkit and
//! zkTxnLogToolkit, for files of either format (told apart by their magic): readable text, or
//! one JSON document with `--json`.

use std::fmt::Write as _;
use std::path::Path;

use serde_json::{json, Value};
use zab_core::quorum::QuorumLimits;
use zab_core::tree::{EphemeralKind, TreeSnapshot};
use zab_core::txn::{Txn, TxnBody};
use zab_core::{SessionId, Snapshot, Zxid};

use crate::storage::apache::format::{decode_log, decode_snapshot, is_apache_log, is_apache_snapshot, ZxidDigest};
use crate::storage::{read_snapshot, LogRecord, RealDisk};

/// A snapshot of either format, as the printers take it.
struct Loaded {
    format: &'static str,
    snapshot: Snapshot,
    digest: Option<ZxidDigest>,
}

fn zxid_from_name(path: &Path) -> Option<i64> {
    let name = path.file_name()?.to_str()?;
    i64::from_str_radix(name.strip_prefix("snapshot.")?, 16).ok()
}

fn load_snapshot(path: &Path) -> Result<Loaded, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if !is_apache_snapshot(&bytes) {
        let snapshot = read_snapshot::<_, Snapshot>(&RealDisk, path).map_err(|e| e.to_string())?;
        return Ok(Loaded { format: "zab", snapshot: snapshot.state, digest: None });
    }
    let decoded =
        decode_snapshot(&bytes, QuorumLimits::new(usize::MAX / 4)).map_err(|e| format!("{}: {e}", path.display()))?;
    let zxid = Zxid(zxid_from_name(path).ok_or_else(|| format!("{}: no zxid in the file name", path.display()))?);
    let (tree, sessions) = zab_core::zab::snapshot_from_database(zxid, &decoded.database)?;
    Ok(Loaded { format: "apache-3.8", snapshot: Snapshot { zxid, tree, sessions }, digest: decoded.digest })
}

fn ephemeral_counts(tree: &TreeSnapshot, session: SessionId) -> usize {
    let owned = |owner: i64| matches!(EphemeralKind::of(owner), EphemeralKind::Session(s) if s == session);
    tree.nodes.iter().filter(|node| owned(node.stat.ephemeral_owner)).count()
}

/// Prints a snapshot file: every znode's stat, then the sessions (zkSnapShotToolkit's shape).
pub fn print_snapshot(path: &Path, json_output: bool) -> Result<String, String> {
    let loaded = load_snapshot(path)?;
    let Snapshot { zxid, tree, sessions } = &loaded.snapshot;
    if json_output {
        return Ok(snapshot_json(&loaded).to_string());
    }
    let mut out = String::new();
    let _ = writeln!(out, "{} snapshot {} at zxid {:#x}", loaded.format, path.display(), zxid.0);
    for node in &tree.nodes {
        let s = &node.stat;
        let _ = writeln!(out, "{}", node.path);
        let _ = writeln!(
            out,
            "  cZxid = {:#x}\n  ctime = {}\n  mZxid = {:#x}\n  mtime = {}",
            s.czxid, s.ctime, s.mzxid, s.mtime
        );
        let _ = writeln!(
            out,
            "  pZxid = {:#x}\n  cversion = {}\n  dataVersion = {}\n  aclVersion = {}",
            s.pzxid, s.cversion, s.version, s.aversion
        );
        let _ = writeln!(out, "  ephemeralOwner = {:#x}\n  dataLength = {}", s.ephemeral_owner, node.data.len());
    }
    let _ = writeln!(out, "Session Details (sid, timeout, ephemeralCount):");
    for (id, timeout) in sessions {
        let _ = writeln!(out, "{:#x}, {timeout}, {}", id.0, ephemeral_counts(tree, *id));
    }
    let _ = writeln!(out, "----\nLast zxid: {:#x}", zxid.0);
    if let Some(digest) = &loaded.digest {
        let _ =
            writeln!(out, "Digest: zxid {:#x}, version {}, digest {:#x}", digest.zxid, digest.version, digest.digest);
    }
    Ok(out)
}

fn snapshot_json(loaded: &Loaded) -> Value {
    let Snapshot { zxid, tree, sessions } = &loaded.snapshot;
    let acls: Vec<Value> = tree.acls.iter().map(|(id, acl)| json!({ "id": id, "acl": acl_json(acl) })).collect();
    let nodes: Vec<Value> = tree
        .nodes
        .iter()
        .map(|node| {
            let s = &node.stat;
            json!({
                "path": node.path, "czxid": s.czxid, "mzxid": s.mzxid, "ctime": s.ctime, "mtime": s.mtime,
                "pzxid": s.pzxid, "cversion": s.cversion, "version": s.version, "aversion": s.aversion,
                "ephemeral_owner": s.ephemeral_owner, "data_length": node.data.len(), "acl": node.acl,
            })
        })
        .collect();
    let sessions: Vec<Value> = sessions
        .iter()
        .map(|(id, timeout)| json!({ "id": id.0, "timeout_ms": timeout, "ephemerals": ephemeral_counts(tree, *id) }))
        .collect();
    let digest = loaded.digest.map(|d| json!({ "zxid": d.zxid, "version": d.version, "digest": d.digest }));
    json!({ "format": loaded.format, "zxid": zxid.0, "acls": acls, "nodes": nodes, "sessions": sessions, "digest": digest })
}

fn acl_json(acl: &[zab_core::proto::Acl]) -> Value {
    acl.iter().map(|a| json!({ "perms": a.perms, "scheme": a.id.scheme, "id": a.id.id })).collect()
}

/// The transactions of a log file of either format.
fn load_log(path: &Path) -> Result<(&'static str, Vec<Txn>, Option<u64>), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if is_apache_log(&bytes) {
        let log =
            decode_log(&bytes, QuorumLimits::new(usize::MAX / 4)).map_err(|e| format!("{}: {e}", path.display()))?;
        return Ok(("apache-3.8", log.entries.into_iter().map(|e| e.txn).collect(), log.torn_at));
    }
    let (records, torn_at): (Vec<LogRecord<Txn>>, Option<u64>) =
        crate::storage::read_segment(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(("zab", records.into_iter().map(|r| r.record).collect(), torn_at))
}

/// Prints a log file, one transaction a line (zkTxnLogToolkit's shape).
pub fn print_txnlog(path: &Path, json_output: bool) -> Result<String, String> {
    let (format, txns, torn_at) = load_log(path)?;
    if json_output {
        let txns: Vec<Value> = txns.iter().map(txn_json).collect();
        return Ok(json!({ "format": format, "txns": txns, "torn_at": torn_at }).to_string());
    }
    let mut out = format!("{format} transaction log {}\n", path.display());
    for txn in &txns {
        let h = &txn.header;
        let _ = writeln!(
            out,
            "time {} session {:#x} cxid {:#x} zxid {:#x} {}",
            h.time,
            h.client_id.0,
            h.cxid,
            h.zxid.0,
            describe(&txn.body)
        );
    }
    match torn_at {
        Some(offset) => {
            let _ = writeln!(out, "{} txns; the file ends in an entry cut short at offset {offset}", txns.len());
        }
        None => {
            let _ = writeln!(out, "EOF reached after {} txns.", txns.len());
        }
    }
    Ok(out)
}

fn txn_json(txn: &Txn) -> Value {
    let h = &txn.header;
    json!({
        "time": h.time, "session": h.client_id.0, "cxid": h.cxid, "zxid": h.zxid.0, "op": h.op,
        "txn": describe(&txn.body),
    })
}

/// One line for a transaction body: its ZooKeeper name and fields, data as text when it is
/// printable UTF-8, else hex.
fn describe(body: &TxnBody) -> String {
    let data = |bytes: &[u8]| match std::str::from_utf8(bytes) {
        Ok(text) if !text.chars().any(char::is_control) => format!("{text:?}"),
        _ => bytes.iter().map(|b| format!("{b:02x}")).collect::<String>(),
    };
    let acl = |acl: &[zab_core::proto::Acl]| {
        acl.iter().map(|a| format!("{}:{}:{}", a.id.scheme, a.id.id, a.perms)).collect::<Vec<_>>().join(",")
    };
    match body {
        TxnBody::Create { path, data: d, acl: a, ephemeral, parent_cversion } => {
            format!("create {path} {} [{}] ephemeral={ephemeral} parentCVersion={parent_cversion}", data(d), acl(a))
        }
        TxnBody::CreateContainer { path, data: d, acl: a, parent_cversion } => {
            format!("createContainer {path} {} [{}] parentCVersion={parent_cversion}", data(d), acl(a))
        }
        TxnBody::CreateTtl { path, data: d, acl: a, parent_cversion, ttl } => {
            format!("createTTL {path} {} [{}] parentCVersion={parent_cversion} ttl={ttl}", data(d), acl(a))
        }
        TxnBody::Delete { path } => format!("delete {path}"),
        TxnBody::SetData { path, data: d, version } => format!("setData {path} {} version={version}", data(d)),
        TxnBody::SetAcl { path, acl: a, version } => format!("setACL {path} [{}] version={version}", acl(a)),
        TxnBody::Check { path, version } => format!("check {path} version={version}"),
        TxnBody::CreateSession { timeout_ms } => format!("createSession {timeout_ms}"),
        TxnBody::CloseSession { paths_to_delete } => format!("closeSession {paths_to_delete:?}"),
        TxnBody::Error { err } => format!("error {err}"),
        TxnBody::Multi(subs) => {
            let parts: Vec<String> = subs.iter().map(|sub| describe(&sub.body)).collect();
            format!("multi [{}]", parts.join("; "))
        }
    }
}
