//! Data tree tests: each checks one ZooKeeper rule with exact values. Facts were checked
//! against the ZooKeeper 3.9 sources and, where noted, against a real ZooKeeper 3.8.0
//! (`zkCli.sh` transcripts).

use super::prepare::request_op;
use super::*;
use crate::error::ErrorCode;
use crate::ids::{SessionId, Zxid};
use crate::txn::{SubTxn, Txn, TxnBody, TxnHeader};
use crate::wire::client::{
    event_type, op, perms, Acl, CheckVersionRequest, CreateRequest, CreateTtlRequest, DeleteRequest, Id, MultiOp,
    MultiResult, PathRequest, Request, Response, SetAclRequest, SetDataRequest, Stat,
};

const S1: SessionId = SessionId(0x1000);
const S2: SessionId = SessionId(0x2000);
const T0: i64 = 1_000_000;

/// A tree, its pending changes, and a zxid/time counter: the write path in miniature.
struct World {
    tree: DataTree,
    pending: PendingChanges,
    zxid: i64,
    extended: bool,
}

impl World {
    fn new() -> World {
        World { tree: DataTree::new(), pending: PendingChanges::new(), zxid: 0, extended: true }
    }

    /// Prepares `request` for `session` at the next zxid; time = T0 + zxid.
    fn prepare(&mut self, session: SessionId, auth: &AuthInfo, request: Request) -> Txn {
        self.zxid += 1;
        let time = T0 + self.zxid;
        let ctx = WriteContext {
            session,
            auth,
            zxid: Zxid(self.zxid),
            time,
            extended_types_enabled: self.extended,
            max_data_len: 100,
            #[cfg(feature = "mutants")]
            mutant: None,
        };
        let op = request_op(&request).expect("a write");
        let body = self.tree.prepare(&mut self.pending, &ctx, op, &request);
        let header = TxnHeader { client_id: session, cxid: 0, zxid: Zxid(self.zxid), time, op: body.header_op(op) };
        Txn { header, body }
    }

    fn apply(&mut self, txn: &Txn) -> Applied {
        let applied = self.tree.apply(txn);
        self.pending.applied(txn.header.zxid);
        self.tree.check_invariants();
        applied
    }

    fn write_as(&mut self, session: SessionId, auth: &AuthInfo, request: Request) -> Applied {
        let txn = self.prepare(session, auth, request);
        self.apply(&txn)
    }

    fn write(&mut self, request: Request) -> Applied {
        self.write_as(S1, &anyone(), request)
    }

    fn result(&mut self, request: Request) -> Result<Response, ErrorCode> {
        self.write(request).result
    }

    fn stat(&self, path: &str) -> Stat {
        self.tree.exists(path, &superuser()).unwrap().unwrap()
    }
}

fn anyone() -> AuthInfo {
    AuthInfo::from_ip("127.0.0.1")
}

fn superuser() -> AuthInfo {
    AuthInfo { ids: vec![Id { scheme: "super".into(), id: String::new() }] }
}

fn digest_user(credentials: &str) -> AuthInfo {
    let mut auth = anyone();
    auth.add_auth("digest", credentials.as_bytes(), None).unwrap();
    auth
}

fn acl(perms: i32, scheme: &str, id: &str) -> Acl {
    Acl { perms, id: Id { scheme: scheme.into(), id: id.into() } }
}

fn create_req(path: &str, data: &str, flags: i32) -> CreateRequest {
    CreateRequest { path: path.into(), data: data.as_bytes().to_vec(), acl: Acl::open_unsafe(), flags }
}

fn create(path: &str, flags: i32) -> Request {
    Request::Create(create_req(path, "", flags))
}

fn create_with_acl(path: &str, acl: Vec<Acl>) -> Request {
    Request::Create(CreateRequest { path: path.into(), data: Vec::new(), acl, flags: 0 })
}

fn delete(path: &str, version: i32) -> Request {
    Request::Delete(DeleteRequest { path: path.into(), version })
}

fn set_data(path: &str, data: &str, version: i32) -> Request {
    Request::SetData(SetDataRequest { path: path.into(), data: data.as_bytes().to_vec(), version })
}

fn set_acl(path: &str, acl: Vec<Acl>, version: i32) -> Request {
    Request::SetAcl(SetAclRequest { path: path.into(), acl, version })
}

fn ttl_req(path: &str, flags: i32, ttl: i64) -> Request {
    Request::CreateTtl(CreateTtlRequest { path: path.into(), data: Vec::new(), acl: Acl::open_unsafe(), flags, ttl })
}

fn created(path: &str) -> Result<Response, ErrorCode> {
    Ok(Response::Create(path.into()))
}

#[test]
fn a_new_tree_has_zookeepers_system_nodes_and_stats() {
    // Checked against ZooKeeper 3.8.0: `stat /` shows cversion -1, `/zookeeper` -2, and
    // `/zookeeper/config` aclVersion -1 with ACL world:anyone r.
    let tree = DataTree::new();
    let auth = anyone();
    let root = Stat { cversion: -1, num_children: 1, ..Stat::default() };
    assert_eq!(tree.exists("/", &auth), Ok(Some(root)));
    let zookeeper = Stat { cversion: -2, num_children: 2, ..Stat::default() };
    assert_eq!(tree.exists("/zookeeper", &auth), Ok(Some(zookeeper)));
    let config = Stat { aversion: -1, ..Stat::default() };
    assert_eq!(tree.get_acl("/zookeeper/config", &auth), Ok((Acl::read_unsafe(), config)));
    assert_eq!(tree.get_children("/", &auth).unwrap().0, vec!["zookeeper".to_string()]);
    assert_eq!(tree.get_children("/zookeeper", &auth).unwrap().0, vec!["config".to_string(), "quota".to_string()]);
    assert_eq!(tree.node_count(), 4);
    assert_eq!(tree.acl_count(), 2);
    assert_eq!(tree.last_zxid(), Zxid::ZERO);
    assert_eq!(tree.all_children_number("/", &auth), Ok(3));
    assert_eq!(tree.all_children_number("/zookeeper", &auth), Ok(2));
    // "/" + "/zookeeper" + "/zookeeper/config" + "/zookeeper/quota" path lengths.
    assert_eq!(tree.approximate_data_size(), 1 + 10 + 17 + 16);
    tree.check_invariants();
}

#[test]
fn create_then_set_data_then_set_acl_then_delete_child_moves_stats_field_by_field() {
    let mut w = World::new();
    assert_eq!(w.result(Request::Create2(create_req("/a", "x", 0))), {
        let stat =
            Stat { czxid: 1, mzxid: 1, ctime: T0 + 1, mtime: T0 + 1, data_length: 1, pzxid: 1, ..Stat::default() };
        Ok(Response::Create2 { path: "/a".into(), stat })
    });
    // Root: cversion counts creates; the client sees 2 * creates - children.
    let root = w.stat("/");
    assert_eq!((root.cversion, root.num_children, root.pzxid), (0, 2, 1));
    assert_eq!(w.result(create("/a/b", 0)), created("/a/b"));
    let a = Stat {
        czxid: 1,
        mzxid: 1,
        ctime: T0 + 1,
        mtime: T0 + 1,
        version: 0,
        cversion: 1,
        aversion: 0,
        ephemeral_owner: 0,
        data_length: 1,
        num_children: 1,
        pzxid: 2,
    };
    assert_eq!(w.stat("/a"), a);
    // setData: version, mzxid, mtime, dataLength move; nothing else.
    let after_set = Stat { mzxid: 3, mtime: T0 + 3, version: 1, data_length: 3, ..a };
    assert_eq!(w.result(set_data("/a", "xyz", 0)), Ok(Response::Stat(after_set)));
    // setACL: only aversion.
    let after_acl = Stat { aversion: 1, ..after_set };
    assert_eq!(w.result(set_acl("/a", Acl::open_unsafe(), 0)), Ok(Response::Stat(after_acl)));
    // Deleting the child: pzxid moves, the visible cversion goes to 2 (ZooKeeper 3.8.0 agrees).
    assert_eq!(w.result(delete("/a/b", 0)), Ok(Response::Empty));
    assert_eq!(w.stat("/a"), Stat { cversion: 2, num_children: 0, pzxid: 5, ..after_acl });
    assert_eq!(w.tree.last_zxid(), Zxid(5));
}

#[test]
fn writes_report_changed_paths_in_zookeepers_firing_order() {
    let mut w = World::new();
    let changes = |w: &mut World, r| w.write(r).changes.into_iter().map(|c| (c.path, c.event_type)).collect::<Vec<_>>();
    assert_eq!(
        changes(&mut w, create("/a", 0)),
        vec![("/a".to_string(), event_type::NODE_CREATED), ("/".to_string(), event_type::NODE_CHILDREN_CHANGED)]
    );
    assert_eq!(
        changes(&mut w, create("/a/b", 0)),
        vec![("/a/b".to_string(), event_type::NODE_CREATED), ("/a".to_string(), event_type::NODE_CHILDREN_CHANGED)]
    );
    assert_eq!(changes(&mut w, set_data("/a/b", "1", -1)), vec![("/a/b".to_string(), event_type::NODE_DATA_CHANGED)]);
    assert_eq!(changes(&mut w, set_acl("/a/b", Acl::read_unsafe(), -1)), vec![]);
    assert_eq!(
        changes(&mut w, delete("/a/b", -1)),
        vec![("/a/b".to_string(), event_type::NODE_DELETED), ("/a".to_string(), event_type::NODE_CHILDREN_CHANGED)]
    );
    assert_eq!(changes(&mut w, delete("/missing", -1)), vec![]);
}

#[test]
fn bad_paths_are_bad_arguments() {
    let mut w = World::new();
    for path in ["", "a", "/a\0b"] {
        assert_eq!(w.result(create(path, 0)), Err(ErrorCode::BadArguments), "{path:?}");
    }
    // The parent is looked up before the full path is validated, as in ZooKeeper.
    assert_eq!(w.result(create("/x//y", 0)), Err(ErrorCode::NoNode));
    for path in ["/a/", "/.", "/..", "/a/./b", "/a\u{1}", "/a\u{7f}", "/a\u{fff5}", "/a\u{e000}", "/a\u{1f600}"] {
        let parent = parent_of(path).unwrap();
        if w.tree.exists(parent, &anyone()).unwrap().is_some() {
            assert_eq!(w.result(create(path, 0)), Err(ErrorCode::BadArguments), "{path:?}");
        }
        assert!(validate_path(path).is_err(), "{path:?}");
    }
    for path in ["/", "/a", "/a.b", "/...", "/a/.b", "/é", "/a b"] {
        assert_eq!(validate_path(path), Ok(()), "{path:?}");
    }
    assert_eq!(w.result(set_data("/a/", "", -1)), Err(ErrorCode::BadArguments));
    assert_eq!(w.result(set_acl("//", Acl::open_unsafe(), -1)), Err(ErrorCode::BadArguments));
    assert_eq!(w.tree.exists("/a\0", &anyone()), Err(ErrorCode::BadArguments));
    // A sequential create validates the path *with* its suffix, so a trailing slash names
    // the parent (ZooKeeper 3.8.0: `create -s /a/` made /a/0000000003).
    assert_eq!(w.result(create("/a", 0)), created("/a"));
    assert_eq!(w.result(create("/a/", 2)), created("/a/0000000000"));
}

#[test]
fn special_nodes_cannot_be_deleted_but_zookeeper_accepts_children() {
    let mut w = World::new();
    for path in ["/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"] {
        assert_eq!(w.result(delete(path, -1)), Err(ErrorCode::BadArguments), "{path}");
    }
    assert_eq!(w.result(create("/zookeeper/foo", 0)), created("/zookeeper/foo"));
    // /zookeeper/config is world-readable only.
    assert_eq!(w.result(set_data("/zookeeper/config", "x", -1)), Err(ErrorCode::NoAuth));
    assert_eq!(w.result(create("/", 0)), Err(ErrorCode::NodeExists));
}

#[test]
fn create_errors_come_in_zookeepers_order() {
    let mut w = World::new();
    assert_eq!(w.result(create("/a", 7)), Err(ErrorCode::BadArguments));
    assert_eq!(w.result(create("/x/y", 0)), Err(ErrorCode::NoNode));
    assert_eq!(w.result(create("/a", 0)), created("/a"));
    assert_eq!(w.result(create("/a", 0)), Err(ErrorCode::NodeExists));
    assert_eq!(w.result(create("/e", 1)), created("/e"));
    assert_eq!(w.result(create("/e/c", 0)), Err(ErrorCode::NoChildrenForEphemerals));
    // INVALIDACL comes before NONODE.
    assert_eq!(w.result(create_with_acl("/x/y", vec![])), Err(ErrorCode::InvalidAcl));
    let big = "x".repeat(101);
    assert_eq!(w.result(Request::Create(create_req("/big", &big, 0))), Err(ErrorCode::BadArguments));
    assert_eq!(w.result(set_data("/a", &big, -1)), Err(ErrorCode::BadArguments));
    // NOAUTH: no CREATE permission on the parent.
    assert_eq!(w.result(create_with_acl("/ro", Acl::read_unsafe())), created("/ro"));
    assert_eq!(w.result(create("/ro/c", 0)), Err(ErrorCode::NoAuth));
    assert_eq!(w.write_as(S1, &superuser(), create("/ro/c", 0)).result, created("/ro/c"));
}

#[test]
fn delete_set_data_set_acl_and_check_errors() {
    let mut w = World::new();
    assert_eq!(w.result(delete("/a", -1)), Err(ErrorCode::NoNode));
    assert_eq!(w.result(create("/a", 0)), created("/a"));
    assert_eq!(w.result(create("/a/b", 0)), created("/a/b"));
    assert_eq!(w.result(delete("/a", -1)), Err(ErrorCode::NotEmpty));
    assert_eq!(w.result(delete("/a/b", 3)), Err(ErrorCode::BadVersion));
    assert_eq!(w.result(set_data("/a/b", "", 3)), Err(ErrorCode::BadVersion));
    assert_eq!(w.result(set_data("/nope", "", -1)), Err(ErrorCode::NoNode));
    assert_eq!(w.result(set_acl("/a/b", Acl::open_unsafe(), 1)), Err(ErrorCode::BadVersion));
    assert_eq!(w.result(set_acl("/nope", Acl::open_unsafe(), -1)), Err(ErrorCode::NoNode));
    assert_eq!(w.result(set_acl("/a/b", vec![], -1)), Err(ErrorCode::InvalidAcl));
    let check = |path: &str, version| Request::Check(CheckVersionRequest { path: path.into(), version });
    assert_eq!(w.result(check("/nope", -1)), Err(ErrorCode::NoNode));
    assert_eq!(w.result(check("/a/b", 1)), Err(ErrorCode::BadVersion));
    assert_eq!(w.result(check("/a/b", 0)), Ok(Response::Stat(w.stat("/a/b"))));
    // Permissions: DELETE on the parent, WRITE / ADMIN / READ on the node.
    let locked = vec![acl(perms::CREATE, "world", "anyone")];
    assert_eq!(w.result(set_acl("/a", locked.clone(), -1)), Ok(Response::Stat(Stat { aversion: 1, ..w.stat("/a") })));
    assert_eq!(w.result(delete("/a/b", -1)), Err(ErrorCode::NoAuth));
    assert_eq!(w.result(set_data("/a", "", -1)), Err(ErrorCode::NoAuth));
    assert_eq!(w.result(set_acl("/a", Acl::open_unsafe(), -1)), Err(ErrorCode::NoAuth));
    assert_eq!(w.result(check("/a", -1)), Err(ErrorCode::NoAuth));
    // The ops that failed still took zxids: 18 writes so far.
    assert_eq!(w.tree.last_zxid(), Zxid(18));
}

#[test]
fn failed_writes_become_error_transactions_with_their_own_zxid() {
    let mut w = World::new();
    let txn = w.prepare(S1, &anyone(), delete("/nope", -1));
    assert_eq!(txn.body, TxnBody::Error { err: ErrorCode::NoNode.code() });
    assert_eq!(txn.header.op, op::ERROR);
    assert_eq!(w.apply(&txn), Applied { result: Err(ErrorCode::NoNode), changes: vec![] });
    assert_eq!(w.tree.last_zxid(), Zxid(1));
    // A request whose opcode does not match, or that is not a write, never panics.
    let ctx = WriteContext {
        session: S1,
        auth: &anyone(),
        zxid: Zxid(2),
        time: 0,
        extended_types_enabled: false,
        max_data_len: 10,
        #[cfg(feature = "mutants")]
        mutant: None,
    };
    let body = w.tree.prepare(&mut w.pending, &ctx, op::DELETE, &create("/a", 0));
    assert_eq!(body, TxnBody::Error { err: ErrorCode::MarshallingError.code() });
    let body = w.tree.prepare(&mut w.pending, &ctx, op::SYNC, &Request::Sync(PathRequest { path: "/".into() }));
    assert_eq!(body, TxnBody::Error { err: ErrorCode::Unimplemented.code() });
    assert!(w.pending.is_empty());
}

#[test]
fn version_numbers_wrap_like_java_ints() {
    let mut w = World::new();
    assert_eq!(w.result(create("/a", 0)), created("/a"));
    let mut txn = w.prepare(S1, &anyone(), set_data("/a", "", -1));
    txn.body = TxnBody::SetData { path: "/a".into(), data: vec![], version: i32::MAX };
    w.apply(&txn);
    match w.result(set_data("/a", "", i32::MAX)) {
        Ok(Response::Stat(stat)) => assert_eq!(stat.version, i32::MIN),
        other => panic!("{other:?}"),
    }
}

#[test]
fn sequential_names_use_the_parents_create_count_and_overflow_like_zookeeper() {
    let mut w = World::new();
    assert_eq!(w.result(create("/a", 0)), created("/a"));
    assert_eq!(w.result(create("/a/b", 0)), created("/a/b"));
    assert_eq!(w.result(delete("/a/b", -1)), Ok(Response::Empty));
    // ZooKeeper 3.8.0: after one create and one delete, the next name is ...0000000001.
    assert_eq!(w.result(create("/a/s", 2)), created("/a/s0000000001"));
    assert_eq!(w.result(create("/a/s", 3)), created("/a/s0000000002"));
    assert_eq!(w.stat("/a/s0000000002").ephemeral_owner, S1.0);
    // Force the parent's stored cversion to i32::MAX: the suffix prints as Java's %010d.
    let txn = Txn {
        header: TxnHeader { client_id: S1, cxid: 0, zxid: Zxid(100), time: 0, op: op::CREATE },
        body: TxnBody::Create {
            path: "/a/big".into(),
            data: vec![],
            acl: Acl::open_unsafe(),
            ephemeral: false,
            parent_cversion: i32::MAX,
        },
    };
    w.apply(&txn);
    w.zxid = 100;
    // In flight, the counter wraps to i32::MIN and prints as ZooKeeper documents...
    let max = w.prepare(S1, &anyone(), create("/a/s", 2));
    let min = w.prepare(S1, &anyone(), create("/a/s", 2));
    assert!(matches!(&max.body, TxnBody::Create { path, parent_cversion: i32::MIN, .. } if path == "/a/s2147483647"));
    assert!(matches!(&min.body, TxnBody::Create { path, .. } if path == "/a/s-2147483648"));
    w.apply(&max);
    w.apply(&min);
    // ...but the applied parent only takes a cversion larger than its own (DataTree.createNode),
    // so it stays at i32::MAX and the next sequential create collides, exactly as in ZooKeeper.
    assert_eq!(w.result(create("/a/s", 2)), Err(ErrorCode::NodeExists));
    assert_eq!(format!("{:010}", -5), "-000000005");
}

#[test]
fn pending_changes_see_in_flight_writes() {
    let mut w = World::new();
    let auth = anyone();
    let first = w.prepare(S1, &auth, create("/a", 0));
    let second = w.prepare(S2, &auth, create("/a", 0));
    assert!(matches!(first.body, TxnBody::Create { .. }));
    assert_eq!(second.body, TxnBody::Error { err: ErrorCode::NodeExists.code() });
    // A child of the in-flight node can be prepared before the node is applied.
    let child = w.prepare(S1, &auth, create("/a/c", 0));
    assert!(matches!(child.body, TxnBody::Create { .. }));
    // Sequential nodes prepared back to back get distinct names.
    let s1 = w.prepare(S1, &auth, create("/a/s", 2));
    let s2 = w.prepare(S1, &auth, create("/a/s", 2));
    assert_eq!(w.tree.exists("/a", &auth), Ok(None), "reads see only applied state");
    for txn in [&first, &second, &child, &s1, &s2] {
        w.apply(txn);
    }
    assert_eq!(w.tree.get_children("/a", &auth).unwrap().0, vec!["c", "s0000000001", "s0000000002"]);
    assert!(w.pending.is_empty());
    // An in-flight delete makes the node absent for later prepares.
    let del = w.prepare(S1, &auth, delete("/a/c", -1));
    let again = w.prepare(S1, &auth, delete("/a/c", -1));
    assert_eq!(again.body, TxnBody::Error { err: ErrorCode::NoNode.code() });
    assert_eq!(w.pending.get("/a/c"), Some(None));
    let recreate = w.prepare(S2, &auth, create("/a/c", 1));
    w.apply(&del);
    w.apply(&again);
    let recreated = w.pending.get("/a/c").expect("a later write's record stays until it is applied");
    assert_eq!(recreated.map(|node| node.stat.ephemeral_owner), Some(S2.0));
    w.apply(&recreate);
    assert_eq!(w.pending.len(), 0);
    assert_eq!(w.tree.session_ephemerals(S2), vec!["/a/c"]);
}

#[test]
fn multi_succeeds_atomically_under_one_zxid() {
    let mut w = World::new();
    let ops = vec![
        MultiOp::Create { op: op::CREATE, request: create_req("/m", "", 0) },
        MultiOp::Create { op: op::CREATE2, request: create_req("/m/a", "", 0) },
        MultiOp::SetData(SetDataRequest { path: "/m/a".into(), data: b"hi".to_vec(), version: 0 }),
        MultiOp::Check(CheckVersionRequest { path: "/m/a".into(), version: 1 }),
        MultiOp::Delete(DeleteRequest { path: "/m/a".into(), version: 1 }),
    ];
    let applied = w.write(Request::Multi(ops));
    let a_created = Stat { czxid: 1, mzxid: 1, ctime: T0 + 1, mtime: T0 + 1, pzxid: 1, ..Stat::default() };
    let a_set = Stat { version: 1, data_length: 2, ..a_created };
    assert_eq!(
        applied.result,
        Ok(Response::Multi(vec![
            MultiResult::Create("/m".into()),
            MultiResult::Create2 { op: op::CREATE2, path: "/m/a".into(), stat: a_created },
            MultiResult::SetData(a_set),
            MultiResult::Check,
            MultiResult::Delete,
        ]))
    );
    assert_eq!(applied.changes.len(), 7);
    assert_eq!(w.stat("/m").cversion, 2);
    assert_eq!(w.tree.last_zxid(), Zxid(1));
}

#[test]
fn failed_multi_answers_errors_and_leaves_tree_and_pending_unchanged() {
    let mut w = World::new();
    assert_eq!(w.result(create("/p", 0)), created("/p"));
    let before = (w.tree.digest(), w.tree.snapshot().nodes);
    let ops = vec![
        MultiOp::Create { op: op::CREATE, request: create_req("/p/s", "", 2) },
        MultiOp::SetData(SetDataRequest { path: "/p".into(), data: vec![], version: -1 }),
        MultiOp::Delete(DeleteRequest { path: "/nope".into(), version: -1 }),
        MultiOp::Check(CheckVersionRequest { path: "/p".into(), version: -1 }),
    ];
    let txn = w.prepare(S1, &anyone(), Request::Multi(ops));
    let error = |code: ErrorCode| SubTxn { op: op::ERROR, body: TxnBody::Error { err: code.code() } };
    assert_eq!(
        txn.body,
        TxnBody::Multi(vec![
            error(ErrorCode::Ok),
            error(ErrorCode::Ok),
            error(ErrorCode::NoNode),
            error(ErrorCode::RuntimeInconsistency)
        ])
    );
    assert_eq!(txn.header.op, op::MULTI);
    assert!(w.pending.is_empty(), "the multi's records were rolled back");
    let applied = w.apply(&txn);
    assert_eq!(
        applied.result,
        Ok(Response::Multi(vec![
            MultiResult::Error(ErrorCode::Ok),
            MultiResult::Error(ErrorCode::Ok),
            MultiResult::Error(ErrorCode::NoNode),
            MultiResult::Error(ErrorCode::RuntimeInconsistency),
        ]))
    );
    assert_eq!(applied.changes, vec![]);
    assert_eq!((w.tree.digest(), w.tree.snapshot().nodes), before);
    // The sequential counter did not move: the next name is still ...0000000000.
    assert_eq!(w.result(create("/p/s", 2)), created("/p/s0000000000"));
}

#[test]
fn failed_multi_rolls_back_to_earlier_in_flight_records() {
    let mut w = World::new();
    let auth = anyone();
    let first = w.prepare(S1, &auth, create("/p", 0));
    let ops = vec![
        MultiOp::Create { op: op::CREATE, request: create_req("/p/a", "", 0) },
        MultiOp::Check(CheckVersionRequest { path: "/p".into(), version: 9 }),
    ];
    let failed = w.prepare(S1, &auth, Request::Multi(ops));
    assert!(matches!(failed.body, TxnBody::Multi(_)));
    let child = w.prepare(S1, &auth, create("/p/s", 2));
    assert!(matches!(&child.body, TxnBody::Create { path, .. } if path == "/p/s0000000000"));
    let multi_ttl = vec![MultiOp::CreateTtl(CreateTtlRequest {
        path: "/p/t".into(),
        data: vec![],
        acl: Acl::open_unsafe(),
        flags: 5,
        ttl: 10,
    })];
    let ttl = w.prepare(S1, &auth, Request::Multi(multi_ttl));
    for txn in [&first, &failed, &child, &ttl] {
        w.apply(txn);
    }
    assert_eq!(w.tree.get_children("/p", &auth).unwrap().0, vec!["s0000000000", "t"]);
}

#[test]
fn close_session_deletes_its_ephemerals_including_in_flight_ones() {
    let mut w = World::new();
    let auth = anyone();
    for request in [create("/p", 0), create("/p/e1", 1), create("/e2", 1)] {
        w.write_as(S1, &auth, request);
    }
    w.write_as(S2, &auth, create("/p/other", 1));
    assert_eq!(w.tree.session_ephemerals(S1), vec!["/e2", "/p/e1"]);
    assert_eq!(w.tree.ephemeral_count(), 3);
    assert_eq!(w.tree.ephemerals(S1, "/p"), vec!["/p/e1"]);
    assert_eq!(w.tree.ephemerals(S1, " / "), vec!["/e2", "/p/e1"]);
    // In flight: one more ephemeral created, one deleted.
    let in_flight = w.prepare(S1, &auth, create("/p/e3", 3));
    let gone = w.prepare(S1, &auth, delete("/e2", -1));
    let close = w.prepare(S1, &auth, Request::CloseSession);
    assert_eq!(close.body, TxnBody::CloseSession { paths_to_delete: vec!["/p/e1".into(), "/p/e30000000002".into()] });
    // The parent is empty once the close applies: a delete prepared now succeeds.
    let other_gone = w.prepare(S2, &auth, Request::CloseSession);
    let parent_gone = w.prepare(S2, &auth, delete("/p", -1));
    assert_eq!(parent_gone.body, TxnBody::Delete { path: "/p".into() });
    w.apply(&in_flight);
    w.apply(&gone);
    let applied = w.apply(&close);
    assert_eq!(applied.result, Ok(Response::Empty));
    assert_eq!(
        applied.changes.iter().map(|c| (c.path.clone(), c.event_type)).collect::<Vec<_>>(),
        vec![
            ("/p/e1".to_string(), event_type::NODE_DELETED),
            ("/p".to_string(), event_type::NODE_CHILDREN_CHANGED),
            ("/p/e30000000002".to_string(), event_type::NODE_DELETED),
            ("/p".to_string(), event_type::NODE_CHILDREN_CHANGED),
        ]
    );
    w.apply(&other_gone);
    w.apply(&parent_gone);
    assert_eq!(w.tree.ephemeral_count(), 0);
    assert_eq!(w.tree.node_count(), 4);
}

#[test]
fn containers_are_removed_only_after_their_last_child() {
    let mut w = World::new();
    let container = Request::CreateContainer(create_req("/c", "", 4));
    match w.result(container) {
        Ok(Response::Create2 { path, stat }) => {
            assert_eq!((path.as_str(), stat.ephemeral_owner), ("/c", 0))
        }
        other => panic!("{other:?}"),
    }
    let now = T0 + 1_000_000;
    assert_eq!(w.tree.expired_containers_and_ttls(now, 0), Vec::<String>::new(), "never used");
    assert_eq!(w.tree.expired_containers_and_ttls(now, 10), vec!["/c"], "maxNeverUsedIntervalMs");
    w.result(create("/c/k", 0)).unwrap();
    assert_eq!(w.tree.expired_containers_and_ttls(now, 0), Vec::<String>::new(), "has a child");
    w.result(delete("/c/k", -1)).unwrap();
    assert_eq!(w.tree.expired_containers_and_ttls(now, 0), vec!["/c"]);
    let remove = Request::DeleteContainer(PathRequest { path: "/c".into() });
    let applied = w.write_as(SessionId(0), &anyone(), remove);
    assert_eq!(applied.result, Ok(Response::Empty));
    assert_eq!((applied.changes[0].path.as_str(), applied.changes[0].event_type), ("/c", event_type::NODE_DELETED));
    // deleteContainer refuses ephemerals (BADVERSION) and non-empty nodes (NOTEMPTY).
    w.result(create("/e", 1)).unwrap();
    w.result(create("/full", 0)).unwrap();
    w.result(create("/full/x", 0)).unwrap();
    let remove = |path: &str| Request::DeleteContainer(PathRequest { path: path.into() });
    assert_eq!(w.result(remove("/e")), Err(ErrorCode::BadVersion));
    assert_eq!(w.result(remove("/full")), Err(ErrorCode::NotEmpty));
    assert_eq!(w.result(remove("/zookeeper")), Err(ErrorCode::BadArguments));
}

#[test]
fn ttl_nodes_need_extended_types_and_expire_when_unmodified_and_childless() {
    let mut w = World::new();
    w.extended = false;
    assert_eq!(w.result(ttl_req("/t", 5, 100)), Err(ErrorCode::Unimplemented));
    w.extended = true;
    assert_eq!(w.result(ttl_req("/t", 5, 0)), Err(ErrorCode::BadArguments));
    assert_eq!(w.result(ttl_req("/t", 5, crate::constants::TTL_MS_MAX + 1)), Err(ErrorCode::BadArguments));
    assert_eq!(w.result(ttl_req("/t", 0, 100)), Err(ErrorCode::BadArguments));
    assert_eq!(w.result(ttl_req("/t", 0, -1)), Err(ErrorCode::BadArguments));
    // A TTL flag on a plain create has ttl -1: BADARGUMENTS.
    assert_eq!(w.result(create("/t", 5)), Err(ErrorCode::BadArguments));
    match w.result(ttl_req("/t", 5, 100)) {
        Ok(Response::Create2 { path, stat }) => {
            assert_eq!((path.as_str(), stat.ephemeral_owner), ("/t", 0))
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        w.result(ttl_req("/t", 6, 100)),
        Ok(Response::Create2 { path: "/t0000000001".into(), stat: w.stat("/t0000000001") })
    );
    let mtime = T0 + 7;
    assert_eq!(w.stat("/t").mtime, mtime);
    assert_eq!(w.tree.expired_containers_and_ttls(mtime + 100, 0), Vec::<String>::new(), "exactly ttl: not yet");
    assert_eq!(w.tree.expired_containers_and_ttls(mtime + 101, 0), vec!["/t"]);
    w.result(create("/t/kid", 0)).unwrap();
    assert_eq!(w.tree.expired_containers_and_ttls(mtime + 101, 0), Vec::<String>::new(), "has a child");
    w.result(delete("/t/kid", -1)).unwrap();
    w.result(set_data("/t", "touch", -1)).unwrap();
    let touched = T0 + 11;
    assert_eq!(w.tree.expired_containers_and_ttls(touched + 100, 0), vec!["/t0000000001"]);
    assert_eq!(w.tree.expired_containers_and_ttls(touched + 101, 0), vec!["/t", "/t0000000001"]);
    assert_eq!(EphemeralKind::of(EphemeralKind::ttl_owner(100).unwrap()), EphemeralKind::Ttl(100));
    assert_eq!(EphemeralKind::ttl_owner(100), Some(0xff00_0000_0000_0064_u64 as i64));
    assert_eq!(EphemeralKind::of(i64::MIN), EphemeralKind::Container);
}

#[test]
fn digest_auth_and_acl_expansion() {
    // ZooKeeper 3.8.0: `addauth digest bob:secret`, `create /d "" auth::cdrwa`, `getAcl /d`
    // printed digest:bob:fyVmFCwVbTJYrznoSu1koqYEYF0=.
    assert_eq!(generate_digest("bob:secret"), "bob:fyVmFCwVbTJYrznoSu1koqYEYF0=");
    let bob = digest_user("bob:secret");
    assert_eq!(bob.ids[1], Id { scheme: "digest".into(), id: "bob:fyVmFCwVbTJYrznoSu1koqYEYF0=".into() });
    let mut w = World::new();
    let auth_acl = vec![acl(perms::ALL, "auth", "")];
    assert_eq!(w.write_as(S1, &anyone(), create_with_acl("/d", auth_acl.clone())).result, Err(ErrorCode::InvalidAcl));
    assert_eq!(w.write_as(S1, &bob, create_with_acl("/d", auth_acl)).result, created("/d"));
    let bob_acl = vec![acl(perms::ALL, "digest", "bob:fyVmFCwVbTJYrznoSu1koqYEYF0=")];
    assert_eq!(w.tree.get_acl("/d", &bob).unwrap().0, bob_acl);
    assert_eq!(w.tree.get_data("/d", &anyone()), Err(ErrorCode::NoAuth));
    assert_eq!(w.tree.get_data("/d", &bob).unwrap().0, Vec::<u8>::new());
    assert_eq!(w.tree.get_data("/d", &digest_user("bob:wrong")), Err(ErrorCode::NoAuth));
    // Invalid ids: unknown schemes, world other than anyone, malformed digest and ip.
    for bad in [
        acl(perms::ALL, "foo", "bar"),
        acl(perms::ALL, "world", "someone"),
        acl(perms::ALL, "super", ""),
        acl(perms::ALL, "digest", "bob"),
        acl(perms::ALL, "digest", "a:b:c"),
        acl(perms::ALL, "digest", "bob:"),
        acl(perms::ALL, "ip", "10.0.0"),
        acl(perms::ALL, "ip", "10.0.0.1/33"),
        acl(perms::ALL, "ip", "300.0.0.1"),
        acl(perms::ALL, "ip", "host"),
    ] {
        assert_eq!(w.result(create_with_acl("/bad", vec![bad.clone()])), Err(ErrorCode::InvalidAcl), "{bad:?}");
    }
    // Java's split drops trailing empty strings: "bob:hash:" is a valid digest id.
    assert_eq!(w.result(create_with_acl("/odd", vec![acl(perms::ALL, "digest", "bob:h:")])), created("/odd"));
    // Duplicates are dropped.
    let twice = vec![acl(perms::READ, "world", "anyone"), acl(perms::READ, "world", "anyone")];
    assert_eq!(w.result(create_with_acl("/twice", twice)), created("/twice"));
    assert_eq!(w.tree.get_acl("/twice", &anyone()).unwrap().0, Acl::read_unsafe());
}

#[test]
fn get_acl_masks_digests_without_admin_and_exists_needs_read() {
    let mut w = World::new();
    let bob = digest_user("bob:secret");
    let node_acl =
        vec![acl(perms::READ, "world", "anyone"), acl(perms::ALL, "digest", "bob:fyVmFCwVbTJYrznoSu1koqYEYF0=")];
    assert_eq!(w.result(create_with_acl("/d", node_acl.clone())), created("/d"));
    let masked = vec![acl(perms::READ, "world", "anyone"), acl(perms::ALL, "digest", "bob:x")];
    assert_eq!(w.tree.get_acl("/d", &anyone()).unwrap().0, masked);
    assert_eq!(w.tree.get_acl("/d", &bob).unwrap().0, node_acl);
    // ADMIN alone is enough to read the ACL; neither READ nor ADMIN is NOAUTH.
    let admin_only = vec![acl(perms::ADMIN, "world", "anyone")];
    assert_eq!(w.result(create_with_acl("/admin", admin_only.clone())), created("/admin"));
    assert_eq!(w.tree.get_acl("/admin", &anyone()).unwrap().0, admin_only);
    assert_eq!(w.tree.exists("/admin", &anyone()), Err(ErrorCode::NoAuth));
    assert_eq!(w.tree.get_children("/admin", &anyone()), Err(ErrorCode::NoAuth));
    assert_eq!(w.tree.all_children_number("/admin", &anyone()), Err(ErrorCode::NoAuth));
    let write_only = vec![acl(perms::WRITE, "world", "anyone")];
    assert_eq!(w.result(create_with_acl("/w", write_only)), created("/w"));
    assert_eq!(w.tree.get_acl("/w", &anyone()), Err(ErrorCode::NoAuth));
    assert_eq!(w.tree.exists("/missing", &anyone()), Ok(None));
    assert_eq!(w.tree.get_data("/missing", &anyone()), Err(ErrorCode::NoNode));
    assert_eq!(w.tree.get_acl("/missing", &anyone()), Err(ErrorCode::NoNode));
    assert_eq!(mask_digests(&[acl(1, "digest", "nocolon")]), vec![acl(1, "digest", "nocolon")]);
}

#[test]
fn ip_acls_match_addresses_and_prefixes() {
    assert!(ip_matches("10.1.2.3", "10.1.2.3"));
    assert!(!ip_matches("10.1.2.4", "10.1.2.3"));
    assert!(ip_matches("10.1.2.3", "10.1.0.0/16"));
    assert!(!ip_matches("10.2.2.3", "10.1.0.0/16"));
    assert!(ip_matches("10.1.2.3", "10.1.2.0/25"));
    assert!(!ip_matches("10.1.2.200", "10.1.2.0/25"));
    assert!(ip_matches("1.2.3.4", "0.0.0.0/0"));
    assert!(!ip_matches("1.2.3.4", "1.2.3.4/"));
    assert!(ip_matches("::1", "0:0:0:0:0:0:0:1"));
    assert!(ip_matches("fe80::1:2", "fe80::/16"));
    assert!(!ip_matches("fe81::1", "fe80::/16"));
    assert!(!ip_matches("1.2.3.4", "::/0"), "v4 and v6 never match");
    assert!(!ip_matches("1::2::3", "::/0"));
    let mut w = World::new();
    let local_only = vec![acl(perms::ALL, "ip", "127.0.0.0/8")];
    assert_eq!(w.result(create_with_acl("/ip", local_only)), created("/ip"));
    assert!(w.tree.get_data("/ip", &AuthInfo::from_ip("127.9.9.9")).is_ok());
    assert_eq!(w.tree.get_data("/ip", &AuthInfo::from_ip("10.0.0.1")), Err(ErrorCode::NoAuth));
    // `auth` expands to digest ids only: an ip-only connection cannot use it.
    let ip_auth = vec![acl(perms::ALL, "auth", "")];
    assert_eq!(w.result(create_with_acl("/x", ip_auth)), Err(ErrorCode::InvalidAcl));
}

#[test]
fn super_digest_grants_everything() {
    let super_digest = generate_digest("super:pw");
    let mut auth = anyone();
    assert_eq!(auth.add_auth("digest", b"super:wrong", Some(&super_digest)), Ok(()));
    assert!(!auth.is_super());
    assert_eq!(auth.add_auth("digest", b"super:pw", Some(&super_digest)), Ok(()));
    assert!(auth.is_super());
    assert_eq!(auth.ids[2], Id { scheme: "super".into(), id: String::new() });
    auth.add_auth("digest", b"super:pw", Some(&super_digest)).unwrap();
    assert_eq!(auth.ids.len(), 4, "ids are a set");
    assert_eq!(auth.add_auth("kerberos", b"x", None), Err(ErrorCode::AuthFailed));
    assert_eq!(auth.add_auth("ip", b"", None), Ok(()));
    assert_eq!(auth.ids.len(), 4);
    let mut w = World::new();
    assert_eq!(w.result(create_with_acl("/locked", vec![acl(perms::READ, "digest", "x:y")])), created("/locked"));
    assert_eq!(w.tree.get_data("/locked", &anyone()), Err(ErrorCode::NoAuth));
    assert!(w.tree.get_data("/locked", &auth).is_ok());
    assert_eq!(w.write_as(S1, &auth, create("/locked/c", 0)).result, created("/locked/c"));
    assert!(w.write_as(S1, &auth, set_data("/zookeeper/config", "x", -1)).result.is_ok());
}

#[test]
fn digests_are_order_independent_and_sensitive_to_every_field() {
    let build = |requests: Vec<Request>| {
        let mut w = World::new();
        for r in requests {
            w.result(r).unwrap();
        }
        w.tree
    };
    let a = build(vec![create("/a", 0), create("/b", 0)]);
    let a_again = build(vec![create("/a", 0), create("/b", 0)]);
    assert_eq!(a.digest(), a_again.digest());
    assert_ne!(a.digest(), DataTree::new().digest());
    let swapped = build(vec![create("/b", 0), create("/a", 0)]);
    assert_ne!(a.digest(), swapped.digest(), "czxids differ");
    let data = build(vec![create("/a", 0), Request::Create(create_req("/b", "x", 0))]);
    assert_ne!(a.digest(), data.digest());
    let acl_changed = build(vec![create("/a", 0), create_with_acl("/b", Acl::read_unsafe())]);
    assert_ne!(a.digest(), acl_changed.digest());
    // A snapshot round trip (through bincode 2) keeps the digest and every read.
    let restored = round_trip(&acl_changed);
    assert_eq!(restored.digest(), acl_changed.digest());
    assert_eq!(restored.get_acl("/b", &anyone()), acl_changed.get_acl("/b", &anyone()));
}

fn round_trip(tree: &DataTree) -> DataTree {
    let config = bincode::config::standard();
    let bytes = bincode::serde::encode_to_vec(tree.snapshot(), config).unwrap();
    let (snapshot, _): (TreeSnapshot, usize) = bincode::serde::decode_from_slice(&bytes, config).unwrap();
    let restored = DataTree::from_snapshot(snapshot).unwrap();
    restored.check_invariants();
    restored
}

#[test]
fn snapshot_round_trip_keeps_indexes_and_acl_table() {
    let mut w = World::new();
    w.result(create("/p", 0)).unwrap();
    w.result(create("/p/e", 1)).unwrap();
    w.result(Request::CreateContainer(create_req("/c", "", 4))).unwrap();
    w.result(ttl_req("/t", 5, 50)).unwrap();
    w.result(create_with_acl("/r", Acl::read_unsafe())).unwrap();
    let restored = round_trip(&w.tree);
    assert_eq!(restored.snapshot(), w.tree.snapshot());
    assert_eq!(restored.last_zxid(), Zxid(5));
    assert_eq!(restored.session_ephemerals(S1), vec!["/p/e"]);
    assert_eq!(restored.expired_containers_and_ttls(T0 + 1000, 0), vec!["/t"]);
    assert_eq!(restored.acl_count(), 2);
    // Broken snapshots are refused with a reason.
    let mut orphan = w.tree.snapshot();
    orphan.nodes.retain(|node| node.path != "/p");
    assert_eq!(DataTree::from_snapshot(orphan).err(), Some("/p/e comes before its parent".to_string()));
    let mut unknown_acl = w.tree.snapshot();
    unknown_acl.nodes[1].acl = 99;
    assert_eq!(DataTree::from_snapshot(unknown_acl).err(), Some("unknown ACL id 99".to_string()));
}

#[test]
fn node_zxids_and_all_children_number() {
    let mut w = World::new();
    w.result(create("/a", 0)).unwrap();
    w.result(create("/a/b", 0)).unwrap();
    w.result(create("/a/b/c", 0)).unwrap();
    w.result(create("/ab", 0)).unwrap();
    w.result(set_data("/a", "", -1)).unwrap();
    assert_eq!(w.tree.node_zxids("/a"), Some((Zxid(1), Zxid(5), Zxid(2))));
    assert_eq!(w.tree.node_zxids("/nope"), None);
    assert_eq!(w.tree.all_children_number("/a", &anyone()), Ok(2));
    assert_eq!(w.tree.all_children_number("/", &anyone()), Ok(7));
    assert_eq!(w.tree.all_children_number("/nope", &anyone()), Err(ErrorCode::NoNode));
}

#[test]
#[should_panic(expected = "zxids must increase")]
fn applying_a_zxid_twice_stops_loudly() {
    let mut w = World::new();
    let txn = w.prepare(S1, &anyone(), create("/a", 0));
    w.apply(&txn);
    w.apply(&txn);
}

/// Replaying the log over a fuzzy snapshot (ZooKeeper's `DataTree.processTxn`): a plain
/// create whose node the snapshot already holds still moves the parent's cversion and pzxid
/// forward, never back; create2 does not (ZooKeeper adjusts only type 1).
#[test]
fn a_replayed_create_of_an_existing_node_moves_its_parents_cversion_as_zookeeper_does() {
    let mut w = World::new();
    w.write(create("/a", 0));
    w.write(create("/a/b", 0));
    let stored = |tree: &DataTree| {
        let snapshot = tree.snapshot();
        let node = snapshot.nodes.iter().find(|node| node.path == "/a").expect("/a");
        (node.stat.cversion, node.stat.pzxid)
    };
    let (cversion, _) = stored(&w.tree);
    assert_eq!(cversion, 1);
    // The snapshot caught /a/b but not /a's stat after it.
    let mut snapshot = w.tree.snapshot();
    let parent = snapshot.nodes.iter_mut().find(|node| node.path == "/a").expect("/a");
    parent.stat.cversion = 0;
    parent.stat.pzxid = parent.stat.czxid;
    let czxid = parent.stat.czxid;
    let mut tree = DataTree::from_snapshot(snapshot).expect("rebuilds");
    let replay = |op, zxid, parent_cversion| Txn {
        header: TxnHeader { client_id: S1, cxid: 0, zxid: Zxid(zxid), time: T0, op },
        body: TxnBody::Create {
            path: "/a/b".into(),
            data: vec![],
            acl: Acl::open_unsafe(),
            ephemeral: false,
            parent_cversion,
        },
    };
    assert_eq!(tree.apply(&replay(op::CREATE2, 10, 1)).result, Err(ErrorCode::NodeExists));
    assert_eq!(stored(&tree), (0, czxid), "create2 leaves the parent alone");
    assert_eq!(tree.apply(&replay(op::CREATE, 11, 1)).result, Err(ErrorCode::NodeExists));
    assert_eq!(stored(&tree), (1, 11));
    assert_eq!(tree.apply(&replay(op::CREATE, 12, 0)).result, Err(ErrorCode::NodeExists));
    assert_eq!(stored(&tree), (1, 11), "never backwards");
}
