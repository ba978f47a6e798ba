//! The quorum codec's caps follow the configured `jute.maxbuffer` (issue F, item 7): what a
//! leader accepts under some `jute.maxbuffer` decodes on a follower configured the same way,
//! and a closeSession of a session with more ephemerals than fit in the buffer stays
//! decodable (ZOOKEEPER-4306). Apache's reference: `BinaryInputArchive.checkLength` allows
//! `jute.maxbuffer` + `zookeeper.jute.maxbuffer.extrasize` (default: `jute.maxbuffer`).

use zab_core::constants::JUTE_MAX_BUFFER_DEFAULT;
use zab_core::tree::{AuthInfo, DataTree, PendingChanges, WriteContext};
use zab_core::txn::{Txn, TxnBody, TxnHeader};
use zab_core::wire::client::{encode_request, op, Acl, CreateRequest, MultiOp, Request, RequestHeader, SetDataRequest};
use zab_core::wire::quorum::{QuorumError, QuorumLimits, QuorumMessage};
use zab_core::{SessionId, Zxid};

const SESSION: SessionId = SessionId(0x0100_0000_0000_0001);
const EPHEMERAL: i32 = 1;

/// A leader's tree: prepares and applies writes under one `jute.maxbuffer`.
struct Leader {
    tree: DataTree,
    pending: PendingChanges,
    zxid: i64,
    max_buffer: usize,
}

impl Leader {
    fn new(max_buffer: usize) -> Leader {
        Leader { tree: DataTree::new(), pending: PendingChanges::new(), zxid: 0, max_buffer }
    }

    /// Prepares `request` as the leader would; the transaction is applied too.
    fn write(&mut self, request: Request) -> Txn {
        self.zxid += 1;
        let auth = AuthInfo::from_ip("127.0.0.1");
        let ctx = WriteContext {
            session: SESSION,
            auth: &auth,
            zxid: Zxid(self.zxid),
            time: 1_700_000_000_000,
            extended_types_enabled: false,
            max_data_len: self.max_buffer,
            #[cfg(feature = "mutants")]
            mutant: None,
        };
        let opcode = request.op();
        let body = self.tree.prepare(&mut self.pending, &ctx, opcode, &request);
        let header =
            TxnHeader { client_id: SESSION, cxid: 1, zxid: Zxid(self.zxid), time: 0, op: body.header_op(opcode) };
        let txn = Txn { header, body };
        assert!(!matches!(txn.body, TxnBody::Error { .. }), "the leader accepts {request:?}");
        self.tree.apply(&txn);
        self.pending.applied(txn.header.zxid);
        txn
    }
}

fn create(path: &str, data: Vec<u8>, flags: i32) -> CreateRequest {
    CreateRequest { path: path.into(), data, acl: Acl::open_unsafe(), flags }
}

/// The client frame (without its length prefix) a request travels in.
fn frame_len(request: &Request) -> usize {
    encode_request(&RequestHeader { xid: 1, op: request.op() }, request).len()
}

/// A PROPOSAL of `txn` as the leader sends it, decoded by a follower with `limits`.
fn follower_decodes(txn: &Txn, limits: QuorumLimits) -> Result<QuorumMessage, QuorumError> {
    let digest = zab_core::wire::quorum::TxnDigest { version: 2, tree_digest: 7 };
    let proposal = QuorumMessage::Proposal { zxid: txn.header.zxid, txn: txn.clone(), digest: Some(digest) };
    QuorumMessage::decode(&proposal.encode(), limits)
}

fn assert_follower_takes(txn: &Txn, max_buffer: usize) {
    match follower_decodes(txn, QuorumLimits::new(max_buffer)) {
        Ok(QuorumMessage::Proposal { txn: decoded, .. }) => assert_eq!(&decoded, txn),
        other => panic!("a follower with jute.maxbuffer={max_buffer} refused zxid {}: {other:?}", txn.header.zxid),
    }
}

#[test]
fn data_at_the_limit_decodes_on_a_follower_with_the_same_max_buffer() {
    for max_buffer in [4096, JUTE_MAX_BUFFER_DEFAULT, 4 << 20] {
        let mut leader = Leader::new(max_buffer);
        // The largest data `prepare` accepts (more than any client frame can carry), under a
        // long path: the transaction is larger than `jute.maxbuffer`.
        let path = format!("/{}", "p".repeat(200));
        let txn = leader.write(Request::Create(create(&path, vec![7; max_buffer], 0)));
        assert_follower_takes(&txn, max_buffer);
        let set = SetDataRequest { path: path.clone(), data: vec![8; max_buffer], version: -1 };
        assert_follower_takes(&leader.write(Request::SetData(set)), max_buffer);
    }
}

#[test]
fn a_multi_in_a_frame_at_the_limit_decodes_on_a_follower() {
    for max_buffer in [4096, JUTE_MAX_BUFFER_DEFAULT, 4 << 20] {
        let mut leader = Leader::new(max_buffer);
        // Many creates of one size: the multi's per-op envelopes are where a txn outgrows
        // its request. Enough ops to fill the frame, within MULTI_OPS_MAX.
        let data_len = (max_buffer / 8000).max(3);
        let op_at = |index: usize| MultiOp::Create {
            op: op::CREATE,
            request: create(&format!("/n{index:05}"), vec![1; data_len], 0),
        };
        let empty = frame_len(&Request::Multi(Vec::new()));
        let op_len = frame_len(&Request::Multi(vec![op_at(0)])) - empty;
        let count = ((max_buffer - empty) / op_len).min(zab_core::constants::MULTI_OPS_MAX);
        let request = Request::Multi((0..count).map(op_at).collect());
        assert!(frame_len(&request) <= max_buffer, "the leader accepts the frame");
        assert!(frame_len(&request) > max_buffer - op_len - 16, "the multi fills its frame");
        assert_follower_takes(&leader.write(request), max_buffer);
    }
}

#[test]
fn the_caps_follow_the_configured_max_buffer() {
    // Under a 4 MiB jute.maxbuffer a 3 MiB znode is a legal write; a follower capped by the
    // default buffer would refuse it and the leader would lose its quorum, as with constant caps.
    let mut leader = Leader::new(4 << 20);
    let txn = leader.write(Request::Create(create("/big", vec![0; 3 << 20], 0)));
    assert_follower_takes(&txn, 4 << 20);
    assert!(matches!(follower_decodes(&txn, QuorumLimits::DEFAULT), Err(QuorumError::FieldTooLarge { .. })));
    // And a small buffer caps small: Apache's default extrasize is the buffer itself.
    assert_eq!(QuorumLimits::new(4096).field_max(), 8192);
    assert_eq!(QuorumLimits::new(100).field_max(), 1124);
    let small = Leader::new(4096).write(Request::Create(create("/x", vec![0; 4096], 0)));
    assert!(matches!(follower_decodes(&small, QuorumLimits::new(1024)), Err(QuorumError::FieldTooLarge { .. })));
}

/// ZOOKEEPER-4306: a session's ephemerals, created one small request at a time, add up to
/// far more path bytes than `jute.maxbuffer` allows in its closeSession.
#[test]
fn zookeeper_4306_a_close_session_over_the_buffer_stays_decodable_and_deletes_every_ephemeral() {
    let max_buffer = 4096;
    let mut leader = Leader::new(max_buffer);
    let mut follower = DataTree::new();
    let count = 600;
    for index in 0..count {
        let path = format!("/ephemeral-{index:04}-{}", "e".repeat(24));
        let txn = leader.write(Request::Create(create(&path, Vec::new(), EPHEMERAL)));
        assert_follower_takes(&txn, max_buffer);
        follower.apply(&txn);
    }
    assert_eq!(follower.session_ephemerals(SESSION).len(), count);
    let paths_bytes: usize = follower.session_ephemerals(SESSION).iter().map(|p| 4 + p.len()).sum();
    assert!(paths_bytes > QuorumLimits::new(max_buffer).field_max(), "the full list would not decode");
    let close = leader.write(Request::CloseSession);
    let encoded = zab_core::wire::quorum::encode_txn(
        &close,
        Some(&zab_core::wire::quorum::TxnDigest { version: 2, tree_digest: 0 }),
    );
    assert!(encoded.len() <= max_buffer, "the closeSession fits in jute.maxbuffer: {} bytes", encoded.len());
    assert_follower_takes(&close, max_buffer);
    follower.apply(&close);
    assert!(follower.session_ephemerals(SESSION).is_empty(), "every ephemeral goes, listed or not");
    assert!(leader.tree.session_ephemerals(SESSION).is_empty());
    assert_eq!(follower.digest(), leader.tree.digest(), "leader and follower agree after the close");
    assert_eq!(follower.node_count(), 4, "only the root and /zookeeper's nodes are left");
}

/// Counts follow the buffer too: a create whose ACL has more entries than a constant cap
/// (1024 before) is a legal write the leader accepts, and a REQUEST a follower forwards
/// carries every auth id of its client's connection. Apache caps neither count.
#[test]
fn acl_and_authinfo_counts_are_capped_by_the_buffer_not_by_a_constant() {
    let acl: Vec<Acl> = (0..1500)
        .map(|i| Acl {
            perms: zab_core::wire::client::perms::READ,
            id: zab_core::wire::client::Id { scheme: "ip".into(), id: format!("10.0.{}.{}", i / 250, i % 250) },
        })
        .collect();
    let mut leader = Leader::new(JUTE_MAX_BUFFER_DEFAULT);
    let txn = leader.write(Request::Create(CreateRequest { path: "/wide".into(), data: Vec::new(), acl, flags: 0 }));
    assert_follower_takes(&txn, JUTE_MAX_BUFFER_DEFAULT);
    let authinfo =
        (0..1500).map(|i| zab_core::wire::client::Id { scheme: "digest".into(), id: format!("user{i}:x") }).collect();
    let request = QuorumMessage::Request {
        zxid: Zxid(0),
        session_id: SESSION,
        cxid: 1,
        op: op::CREATE,
        request: vec![0; 16],
        authinfo: Some(authinfo),
    };
    assert_eq!(QuorumMessage::decode(&request.encode(), QuorumLimits::DEFAULT), Ok(request));
    let huge_count = {
        let mut bytes = request_stub().encode();
        let at = bytes.len() - 4;
        bytes[at..].copy_from_slice(&i32::MAX.to_be_bytes());
        bytes
    };
    assert!(matches!(
        zab_core::wire::quorum::QuorumPacket::decode_prefix(&huge_count, QuorumLimits::new(4096)),
        Err(QuorumError::FieldTooLarge { .. })
    ));
}

fn request_stub() -> QuorumMessage {
    let authinfo = Some(Vec::new());
    QuorumMessage::Request {
        zxid: Zxid(0),
        session_id: SESSION,
        cxid: 1,
        op: op::CREATE,
        request: Vec::new(),
        authinfo,
    }
}
