//! Property tests: random write sequences (with several writes in flight) keep the tree's
//! invariants, agree with a replay on a second tree, and survive a snapshot round trip.

use super::prepare::request_op;
use super::*;
use crate::ids::{SessionId, Zxid};
use crate::txn::{Txn, TxnBody, TxnHeader};
use crate::wire::client::{
    op, Acl, CheckVersionRequest, CreateRequest, DeleteRequest, MultiOp, Request, SetDataRequest,
};
use crate::wire::client::{MultiResult, Response};
use proptest::prelude::*;

const PATHS: &[&str] = &["/a", "/b", "/a/x", "/a/y", "/b/x", "/a/x/z"];

fn path() -> impl Strategy<Value = String> {
    prop::sample::select(PATHS).prop_map(String::from)
}

fn multi_op() -> impl Strategy<Value = MultiOp> {
    prop_oneof![
        (path(), 0..4).prop_map(|(path, flags)| MultiOp::Create {
            op: op::CREATE,
            request: CreateRequest { path, data: vec![], acl: Acl::open_unsafe(), flags }
        }),
        (path(), -1..2).prop_map(|(path, version)| MultiOp::Delete(DeleteRequest { path, version })),
        (path(), -1..2).prop_map(|(path, version)| MultiOp::Check(CheckVersionRequest { path, version })),
    ]
}

fn request() -> impl Strategy<Value = Request> {
    prop_oneof![
        4 => (path(), 0..5, any::<u8>()).prop_map(|(path, flags, byte)| {
            Request::Create2(CreateRequest { path, data: vec![byte], acl: Acl::open_unsafe(), flags })
        }),
        3 => (path(), -1..2).prop_map(|(path, version)| Request::Delete(DeleteRequest { path, version })),
        2 => (path(), -1..2, any::<u8>()).prop_map(|(path, version, byte)| {
            Request::SetData(SetDataRequest { path, data: vec![byte; 3], version })
        }),
        1 => prop::collection::vec(multi_op(), 0..4).prop_map(Request::Multi),
        1 => Just(Request::CloseSession),
    ]
}

/// (session index, request, how many prepared writes to apply afterwards).
fn step() -> impl Strategy<Value = (usize, Request, usize)> {
    (0..3usize, request(), 0..3usize)
}

proptest! {
    #[test]
    fn random_writes_keep_invariants_and_replicas_agree(steps in prop::collection::vec(step(), 1..60)) {
        let auth = AuthInfo::from_ip("127.0.0.1");
        let mut leader = DataTree::new();
        let mut follower = DataTree::new();
        let mut pending = PendingChanges::new();
        let mut in_flight: Vec<Txn> = Vec::new();
        let mut zxid = 0;
        let apply = |txns: &mut Vec<Txn>, count: usize, leader: &mut DataTree, follower: &mut DataTree, pending: &mut PendingChanges| {
            for txn in txns.drain(..count.min(txns.len())) {
                let applied = leader.apply(&txn);
                prop_assert_eq!(follower.apply(&txn), applied.clone());
                // What prepare accepted against the pending changes, apply must carry out.
                let refused = matches!(txn.body, TxnBody::Error { .. })
                    || matches!(&txn.body, TxnBody::Multi(subs) if subs.iter().any(|sub| sub.op == op::ERROR));
                match applied.result {
                    Ok(Response::Multi(results)) => {
                        let errors = results.iter().filter(|r| matches!(r, MultiResult::Error(_))).count();
                        prop_assert_eq!(errors, if refused { results.len() } else { 0 }, "{:?}", txn);
                    }
                    result => prop_assert_eq!(result.is_err(), refused, "{:?}", txn),
                }
                pending.applied(txn.header.zxid);
                leader.check_invariants();
            }
            Ok(())
        };
        for (session, request, to_apply) in steps {
            zxid += 1;
            let session = SessionId(session as i64 + 1);
            let ctx = WriteContext { session, auth: &auth, zxid: Zxid(zxid), time: zxid * 10, extended_types_enabled: true, max_data_len: 16 , #[cfg(feature = "mutants")] mutant: None};
            let op = request_op(&request).unwrap();
            let body = leader.prepare(&mut pending, &ctx, op, &request);
            let header = TxnHeader { client_id: session, cxid: 0, zxid: Zxid(zxid), time: zxid * 10, op: body.header_op(op) };
            in_flight.push(Txn { header, body });
            apply(&mut in_flight, to_apply, &mut leader, &mut follower, &mut pending)?;
        }
        let remaining = in_flight.len();
        apply(&mut in_flight, remaining, &mut leader, &mut follower, &mut pending)?;
        prop_assert!(pending.is_empty());
        prop_assert_eq!(leader.digest(), follower.digest());
        let restored = DataTree::from_snapshot(leader.snapshot()).unwrap();
        restored.check_invariants();
        prop_assert_eq!(restored.digest(), leader.digest());
        prop_assert_eq!(restored.snapshot(), leader.snapshot());
    }
}
