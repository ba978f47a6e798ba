//! Step 1 of a write: `PrepRequestProcessor.pRequest2Txn`. Validates a request against the
//! tree plus the in-flight changes and turns it into a transaction body.

use super::acl::{check_acl, fixup_acl, AuthInfo};
use super::path::{is_special, parent_of, validate_path};
use super::pending::{PendingChanges, PendingNode};
use super::stat::{EphemeralKind, StatPersisted, CONTAINER_EPHEMERAL_OWNER};
use super::DataTree;
use crate::error::ErrorCode;
use crate::ids::{SessionId, Zxid};
use crate::txn::{SubTxn, TxnBody};
use crate::wire::client::{op, perms, Acl, MultiOp, Request};
use std::collections::BTreeSet;

/// Who writes, and under which zxid and time: what `prepare` needs besides the request.
#[derive(Clone, Copy, Debug)]
pub struct WriteContext<'a> {
    /// The session issuing the write (the owner of any ephemeral it creates).
    pub session: SessionId,
    /// The connection's authenticated ids.
    pub auth: &'a AuthInfo,
    /// The zxid this write's transaction gets (every sub-op of a multi shares it).
    pub zxid: Zxid,
    /// The transaction's time (ms since the epoch): ctime/mtime of what it touches.
    pub time: i64,
    /// `zookeeper.extendedTypesEnabled`: whether TTL nodes may be created.
    pub extended_types_enabled: bool,
    /// Largest znode data accepted (`jute.maxbuffer`). ZooKeeper enforces it on the frame and
    /// closes the connection; this is a second line that answers BADARGUMENTS. It also bounds
    /// the path list of a closeSession (ZOOKEEPER-4306, see `close_session`).
    pub max_data_len: usize,
    /// A deliberate bug to switch on (tests of the checkers only).
    #[cfg(feature = "mutants")]
    pub mutant: Option<crate::mutants::Mutant>,
}

impl DataTree {
    /// Prepares a write (`op` must be the opcode of `request`, else MARSHALLINGERROR):
    /// create, create2, createContainer, createTTL, delete, deleteContainer, setData, setACL,
    /// check, multi, closeSession. Records the write's effect in `pending` and returns the
    /// transaction body; a refused write returns [`TxnBody::Error`] (its header opcode is then
    /// `op::ERROR`, see [`TxnBody::header_op`]) and leaves `pending` untouched. A refused multi
    /// returns `Multi` of `Error`s. createSession needs no tree: the caller builds
    /// [`TxnBody::CreateSession`] itself. Never panics on bad input.
    ///
    /// Differs from ZooKeeper 3.9 in three racy corners, to agree with what apply will do:
    /// an in-flight setACL's new ACL governs later checks (ZooKeeper keeps the old one until
    /// applied); an in-flight closeSession lowers the parents' child counts (ZooKeeper only
    /// moves their pzxid); a createTTL whose flags are not a TTL mode is BADARGUMENTS
    /// (ZooKeeper logs a transaction it cannot apply).
    pub fn prepare(&self, pending: &mut PendingChanges, ctx: &WriteContext, op: i32, request: &Request) -> TxnBody {
        let mut prep = Prep { tree: self, pending, ctx, undo: Vec::new() };
        if request_op(request) != Some(op) {
            let err =
                if request_op(request).is_some() { ErrorCode::MarshallingError } else { ErrorCode::Unimplemented };
            return TxnBody::Error { err: err.code() };
        }
        if let Request::Multi(ops) = request {
            return prep.multi(ops);
        }
        match prep.single(request) {
            Ok(body) => body,
            Err(err) => TxnBody::Error { err: err.code() },
        }
    }
}

/// The opcode of a write request, `None` for anything that is not a write.
pub(crate) fn request_op(request: &Request) -> Option<i32> {
    Some(match request {
        Request::Create(_) => op::CREATE,
        Request::Create2(_) => op::CREATE2,
        Request::CreateContainer(_) => op::CREATE_CONTAINER,
        Request::CreateTtl(_) => op::CREATE_TTL,
        Request::Delete(_) => op::DELETE,
        Request::DeleteContainer(_) => op::DELETE_CONTAINER,
        Request::SetData(_) => op::SET_DATA,
        Request::SetAcl(_) => op::SET_ACL,
        Request::Check(_) => op::CHECK,
        Request::Multi(_) => op::MULTI,
        Request::Reconfig(_) => op::RECONFIG,
        Request::CloseSession => op::CLOSE_SESSION,
        _ => return None,
    })
}

/// `CreateMode` as far as prepare cares.
#[derive(Clone, Copy, PartialEq, Eq)]
struct CreateMode {
    ephemeral: bool,
    sequential: bool,
    ttl: bool,
}

impl CreateMode {
    /// `CreateMode.fromFlag`: BADARGUMENTS for a flag outside 0..=6.
    fn from_flag(flags: i32) -> Result<CreateMode, ErrorCode> {
        let (ephemeral, sequential, ttl) = match flags {
            0 | 4 => (false, false, false),
            1 => (true, false, false),
            2 => (false, true, false),
            3 => (true, true, false),
            5 => (false, false, true),
            6 => (false, true, true),
            _ => return Err(ErrorCode::BadArguments),
        };
        Ok(CreateMode { ephemeral, sequential, ttl })
    }
}

/// The fields of a create request, whatever its opcode.
struct CreateArgs<'r> {
    op: i32,
    path: &'r str,
    data: &'r [u8],
    acl: &'r [Acl],
    flags: i32,
    /// −1 for everything but createTTL, as in ZooKeeper.
    ttl: i64,
}

/// One prepare call: the tree, the pending changes, and an undo log so a failed multi can
/// take back what its earlier sub-ops recorded (`rollbackPendingChanges`).
struct Prep<'t, 'p, 'c> {
    tree: &'t DataTree,
    pending: &'p mut PendingChanges,
    ctx: &'c WriteContext<'c>,
    #[allow(clippy::type_complexity)] // (path, the record it replaced)
    undo: Vec<(String, Option<(Zxid, Option<PendingNode>)>)>,
}

impl Prep<'_, '_, '_> {
    fn single(&mut self, request: &Request) -> Result<TxnBody, ErrorCode> {
        match request {
            Request::Create(r) => self.create(create_args(op::CREATE, r)),
            Request::Create2(r) => self.create(create_args(op::CREATE2, r)),
            Request::CreateContainer(r) => self.create(create_args(op::CREATE_CONTAINER, r)),
            Request::CreateTtl(r) => self.create(CreateArgs {
                op: op::CREATE_TTL,
                path: &r.path,
                data: &r.data,
                acl: &r.acl,
                flags: r.flags,
                ttl: r.ttl,
            }),
            Request::Delete(r) => self.delete(&r.path, r.version),
            Request::DeleteContainer(r) => self.delete_container(&r.path),
            Request::SetData(r) => self.set_data(&r.path, &r.data, r.version),
            Request::SetAcl(r) => self.set_acl(&r.path, &r.acl, r.version),
            Request::Check(r) => self.check(&r.path, r.version),
            Request::CloseSession => Ok(self.close_session()),
            // reconfigEnabled is false by default; dynamic reconfiguration is not supported.
            Request::Reconfig(_) => Err(ErrorCode::ReconfigDisabled),
            _ => Err(ErrorCode::Unimplemented),
        }
    }

    /// Prepares each sub-op in turn; the first failure rolls back the ones before it and the
    /// whole multi becomes `Error`s: OK before the failure, its code, then
    /// RUNTIMEINCONSISTENCY.
    fn multi(&mut self, ops: &[MultiOp]) -> TxnBody {
        let mut subs = Vec::with_capacity(ops.len());
        for (index, multi_op) in ops.iter().enumerate() {
            match self.multi_op(multi_op) {
                Ok(sub) => subs.push(sub),
                Err(err) => {
                    self.rollback();
                    let code = |i: usize| match i.cmp(&index) {
                        std::cmp::Ordering::Less => ErrorCode::Ok,
                        std::cmp::Ordering::Equal => err,
                        std::cmp::Ordering::Greater => ErrorCode::RuntimeInconsistency,
                    };
                    let errors = (0..ops.len())
                        .map(|i| SubTxn { op: op::ERROR, body: TxnBody::Error { err: code(i).code() } })
                        .collect();
                    return TxnBody::Multi(errors);
                }
            }
        }
        TxnBody::Multi(subs)
    }

    fn multi_op(&mut self, multi_op: &MultiOp) -> Result<SubTxn, ErrorCode> {
        let (op, body) = match multi_op {
            MultiOp::Create { op, request } => (*op, self.create(create_args(*op, request))?),
            MultiOp::CreateTtl(r) => (
                op::CREATE_TTL,
                self.create(CreateArgs {
                    op: op::CREATE_TTL,
                    path: &r.path,
                    data: &r.data,
                    acl: &r.acl,
                    flags: r.flags,
                    ttl: r.ttl,
                })?,
            ),
            MultiOp::Delete(r) => (op::DELETE, self.delete(&r.path, r.version)?),
            MultiOp::SetData(r) => (op::SET_DATA, self.set_data(&r.path, &r.data, r.version)?),
            MultiOp::Check(r) => (op::CHECK, self.check(&r.path, r.version)?),
        };
        Ok(SubTxn { op, body })
    }

    /// `getRecordForPath`: the node as in-flight writes leave it, else as applied; NONODE if
    /// it does not exist (or an in-flight write deletes it).
    fn record(&self, path: &str) -> Result<PendingNode, ErrorCode> {
        match self.pending.get(path) {
            Some(Some(node)) => Ok(node.clone()),
            Some(None) => Err(ErrorCode::NoNode),
            None => {
                let node = self.tree.nodes.get(path).ok_or(ErrorCode::NoNode)?;
                Ok(PendingNode {
                    stat: node.stat,
                    acl: self.tree.acls.get(node.acl).to_vec(),
                    child_count: node.children.len() as i32,
                })
            }
        }
    }

    /// `addChangeRecord`.
    fn put(&mut self, path: &str, node: Option<PendingNode>) {
        let old = self.pending.put(path, self.ctx.zxid, node);
        self.undo.push((path.to_string(), old));
    }

    fn rollback(&mut self) {
        while let Some((path, old)) = self.undo.pop() {
            self.pending.restore(&path, old);
        }
    }

    /// `pRequest2TxnCreate`, checks in ZooKeeper's order.
    fn create(&mut self, args: CreateArgs) -> Result<TxnBody, ErrorCode> {
        let mode = CreateMode::from_flag(args.flags)?;
        let ttl_owner = self.validate_create_mode(&args, mode)?;
        let parent_path = parent_of(args.path).ok_or(ErrorCode::BadArguments)?;
        let acl = fixup_acl(self.ctx.auth, args.acl)?;
        let mut parent = self.record(parent_path)?;
        check_acl(&parent.acl, perms::CREATE, self.ctx.auth)?;
        #[allow(unused_mut)] // only the mutants build reassigns it
        let mut sequence = parent.stat.cversion;
        #[cfg(feature = "mutants")]
        if self.ctx.mutant == Some(crate::mutants::Mutant::ReuseSequentialNumber) {
            sequence = parent.child_count;
        }
        let path = match mode.sequential {
            // `String.format("%010d", cversion)`: Rust pads a negative number the same way.
            true => format!("{}{:010}", args.path, sequence),
            false => args.path.to_string(),
        };
        validate_path(&path).map_err(|_| ErrorCode::BadArguments)?;
        if self.record(&path).is_ok() {
            return Err(ErrorCode::NodeExists);
        }
        if EphemeralKind::of(parent.stat.ephemeral_owner).is_session() {
            return Err(ErrorCode::NoChildrenForEphemerals);
        }
        if args.data.len() > self.ctx.max_data_len {
            return Err(ErrorCode::BadArguments);
        }
        if args.op == op::CREATE_TTL && !mode.ttl {
            // ZooKeeper passes every check and then logs a CreateTTLTxn it cannot apply; we
            // refuse it here, after the checks ZooKeeper does make, so earlier errors agree.
            return Err(ErrorCode::BadArguments);
        }
        let parent_cversion = parent.stat.cversion.wrapping_add(1);
        let (body, owner) = self.create_body(&args, mode, &path, &acl, parent_cversion, ttl_owner);
        parent.child_count += 1;
        parent.stat.cversion = parent_cversion;
        parent.stat.pzxid = self.ctx.zxid.0;
        self.put(parent_path, Some(parent));
        let stat = StatPersisted::new_node(self.ctx.zxid.0, self.ctx.time, owner);
        self.put(&path, Some(PendingNode { stat, acl, child_count: 0 }));
        Ok(body)
    }

    /// The transaction a create becomes (by opcode, as ZooKeeper does), and the
    /// `ephemeralOwner` the node will have.
    fn create_body(
        &self,
        args: &CreateArgs,
        mode: CreateMode,
        path: &str,
        acl: &[Acl],
        parent_cversion: i32,
        ttl_owner: i64,
    ) -> (TxnBody, i64) {
        let (path, data, acl) = (path.to_string(), args.data.to_vec(), acl.to_vec());
        match args.op {
            op::CREATE_CONTAINER => {
                (TxnBody::CreateContainer { path, data, acl, parent_cversion }, CONTAINER_EPHEMERAL_OWNER)
            }
            op::CREATE_TTL => (TxnBody::CreateTtl { path, data, acl, parent_cversion, ttl: args.ttl }, ttl_owner),
            _ => {
                let ephemeral = mode.ephemeral;
                let owner = if ephemeral { self.ctx.session.0 } else { 0 };
                (TxnBody::Create { path, data, acl, ephemeral, parent_cversion }, owner)
            }
        }
    }

    /// `validateCreateRequest` / `EphemeralType.validateTTL`; returns the TTL owner
    /// encoding (0 for other modes).
    fn validate_create_mode(&self, args: &CreateArgs, mode: CreateMode) -> Result<i64, ErrorCode> {
        if mode.ttl && !self.ctx.extended_types_enabled {
            return Err(ErrorCode::Unimplemented);
        }
        if mode.ttl {
            return EphemeralKind::ttl_owner(args.ttl).ok_or(ErrorCode::BadArguments);
        }
        if args.ttl >= 0 {
            return Err(ErrorCode::BadArguments);
        }
        Ok(0)
    }

    /// delete: BADARGUMENTS for the special nodes, NONODE, NOAUTH (DELETE on the parent),
    /// BADVERSION, NOTEMPTY, in that order. The parent's stored cversion does not move.
    fn delete(&mut self, path: &str, version: i32) -> Result<TxnBody, ErrorCode> {
        let parent_path = parent_of(path).filter(|_| !is_special(path)).ok_or(ErrorCode::BadArguments)?;
        let parent = self.record(parent_path)?;
        check_acl(&parent.acl, perms::DELETE, self.ctx.auth)?;
        let node = self.record(path)?;
        check_and_increment(node.stat.version, version)?;
        if node.child_count > 0 {
            return Err(ErrorCode::NotEmpty);
        }
        self.record_delete(path, parent_path, parent);
        Ok(TxnBody::Delete { path: path.to_string() })
    }

    /// deleteContainer (from the container sweep): no ACL check; NOTEMPTY if it has
    /// children; BADVERSION if the node is a session's ephemeral (ZooKeeper lets a plain
    /// persistent node through).
    fn delete_container(&mut self, path: &str) -> Result<TxnBody, ErrorCode> {
        let parent_path = parent_of(path).filter(|_| !is_special(path)).ok_or(ErrorCode::BadArguments)?;
        let node = self.record(path)?;
        if node.child_count > 0 {
            return Err(ErrorCode::NotEmpty);
        }
        if EphemeralKind::of(node.stat.ephemeral_owner).is_session() {
            return Err(ErrorCode::BadVersion);
        }
        let parent = self.record(parent_path)?;
        self.record_delete(path, parent_path, parent);
        Ok(TxnBody::Delete { path: path.to_string() })
    }

    fn record_delete(&mut self, path: &str, parent_path: &str, mut parent: PendingNode) {
        parent.child_count -= 1;
        parent.stat.pzxid = self.ctx.zxid.0;
        self.put(parent_path, Some(parent));
        self.put(path, None);
    }

    /// setData: BADARGUMENTS (path), NONODE, NOAUTH (WRITE), BADVERSION.
    fn set_data(&mut self, path: &str, data: &[u8], version: i32) -> Result<TxnBody, ErrorCode> {
        validate_path(path).map_err(|_| ErrorCode::BadArguments)?;
        let mut node = self.record(path)?;
        check_acl(&node.acl, perms::WRITE, self.ctx.auth)?;
        if data.len() > self.ctx.max_data_len {
            return Err(ErrorCode::BadArguments);
        }
        let version = check_and_increment(node.stat.version, version)?;
        node.stat.version = version;
        node.stat.mtime = self.ctx.time;
        node.stat.mzxid = self.ctx.zxid.0;
        self.put(path, Some(node));
        Ok(TxnBody::SetData { path: path.to_string(), data: data.to_vec(), version })
    }

    /// setACL: BADARGUMENTS (path), INVALIDACL, NONODE, NOAUTH (ADMIN), BADVERSION (against
    /// aversion).
    fn set_acl(&mut self, path: &str, acl: &[Acl], version: i32) -> Result<TxnBody, ErrorCode> {
        validate_path(path).map_err(|_| ErrorCode::BadArguments)?;
        let acl = fixup_acl(self.ctx.auth, acl)?;
        let mut node = self.record(path)?;
        check_acl(&node.acl, perms::ADMIN, self.ctx.auth)?;
        let version = check_and_increment(node.stat.aversion, version)?;
        node.stat.aversion = version;
        node.acl = acl.clone();
        self.put(path, Some(node));
        Ok(TxnBody::SetAcl { path: path.to_string(), acl, version })
    }

    /// check: BADARGUMENTS (path), NONODE, NOAUTH (READ), BADVERSION. The transaction
    /// carries the version plus one, as ZooKeeper's `CheckVersionTxn` does.
    fn check(&mut self, path: &str, version: i32) -> Result<TxnBody, ErrorCode> {
        validate_path(path).map_err(|_| ErrorCode::BadArguments)?;
        let node = self.record(path)?;
        check_acl(&node.acl, perms::READ, self.ctx.auth)?;
        let version = check_and_increment(node.stat.version, version)?;
        Ok(TxnBody::Check { path: path.to_string(), version })
    }

    /// closeSession: the session's ephemerals in the tree, corrected by in-flight writes
    /// (created by this session: in; deleted or re-created by another: out), all deleted.
    ///
    /// ZOOKEEPER-4306: a session can own so many ephemerals that listing them all would make
    /// a transaction over `jute.maxbuffer`, one no follower (zab or Apache) can read and no
    /// restarted Apache server can replay: the ensemble would stay down. The list is only a
    /// record: applying a closeSession deletes every ephemeral the session still owns, listed
    /// or not (`DataTree.killSession` does the same, warning about the unlisted ones), so
    /// the transaction lists as many paths as fit in `jute.maxbuffer` and no more.
    fn close_session(&mut self) -> TxnBody {
        let session = self.ctx.session;
        let mut paths: BTreeSet<String> = self.tree.session_ephemerals(session).into_iter().collect();
        for (path, node) in self.pending.iter() {
            match node {
                Some(node) if node.stat.ephemeral_owner == session.0 => paths.insert(path.to_string()),
                _ => paths.remove(path),
            };
        }
        for path in &paths {
            let Some(parent_path) = parent_of(path) else {
                continue;
            };
            if let Ok(parent) = self.record(parent_path) {
                self.record_delete(path, parent_path, parent);
            }
        }
        let budget = self.ctx.max_data_len.saturating_sub(crate::constants::QUORUM_TXN_ENVELOPE_LEN);
        TxnBody::CloseSession { paths_to_delete: paths_within(paths, budget) }
    }
}

/// The first paths (in order) whose `vector<ustring>` encoding takes at most `budget` bytes,
/// and at most `QUORUM_CLOSE_SESSION_PATHS_MAX` of them (what a follower's decoder accepts).
fn paths_within(paths: BTreeSet<String>, budget: usize) -> Vec<String> {
    let mut used = 4; // the vector's count
    let mut listed = Vec::new();
    for path in paths {
        used += 4 + path.len();
        if used > budget || listed.len() == crate::constants::QUORUM_CLOSE_SESSION_PATHS_MAX {
            break;
        }
        listed.push(path);
    }
    listed
}

fn create_args(op: i32, request: &crate::wire::client::CreateRequest) -> CreateArgs<'_> {
    CreateArgs { op, path: &request.path, data: &request.data, acl: &request.acl, flags: request.flags, ttl: -1 }
}

/// `checkAndIncVersion` of ZooKeeper 3.8/3.9: −1 matches any version; the next version wraps
/// like a Java int (3.10's ZOOKEEPER-4743 skip of −1 is not in 3.8/3.9).
fn check_and_increment(current: i32, expected: i32) -> Result<i32, ErrorCode> {
    if expected != -1 && expected != current {
        return Err(ErrorCode::BadVersion);
    }
    Ok(current.wrapping_add(1))
}
