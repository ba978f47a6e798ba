//! The quorum codec (`zab_core::wire::quorum`): every frame captured from a real Apache ZooKeeper
//! 3.8.0 ensemble (`fixtures/quorum/quorum_frames.txt`, made by `capture.sh`) decodes and
//! re-encodes byte for byte, means what ZooKeeper meant, and streams in pieces; every
//! message type round-trips; bad input is refused without panicking.

use proptest::prelude::*;
use std::collections::BTreeSet;
use zab_core::txn::{SubTxn, Txn, TxnBody, TxnHeader};
use zab_core::wire::client::{op, Acl, Id};
use zab_core::wire::election::*;
use zab_core::wire::quorum::*;
use zab_core::{ServerId, SessionId, Zxid};

/// Apache's default `jute.maxbuffer`, as every fixture was captured under.
const L: QuorumLimits = QuorumLimits::DEFAULT;

struct Frame {
    line: usize,
    label: String,
    kind: String,
    bytes: Vec<u8>,
}

fn frames() -> Vec<Frame> {
    let text = include_str!("fixtures/quorum/quorum_frames.txt");
    text.lines()
        .enumerate()
        .map(|(index, line)| {
            let fields: Vec<&str> = line.split(' ').collect();
            assert_eq!(fields.len(), 5, "line {}", index + 1);
            let bytes = (0..fields[4].len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&fields[4][i..i + 2], 16).unwrap())
                .collect();
            Frame { line: index + 1, label: fields[1].into(), kind: fields[3].into(), bytes }
        })
        .collect()
}

fn frames_of(kind: &str) -> Vec<Frame> {
    frames().into_iter().filter(|f| f.kind == kind).collect()
}

fn messages() -> Vec<QuorumMessage> {
    frames_of("packet").iter().map(|f| QuorumMessage::decode(&f.bytes, L).unwrap()).collect()
}

/// Where ours differs from ZooKeeper's, it must be a null buffer (`ffffffff`) that we wrote
/// as empty (`00000000`), in aligned 4-byte windows, and nothing else.
fn differs_only_by_nulls(original: &[u8], ours: &[u8]) -> bool {
    if original.len() != ours.len() {
        return false;
    }
    let mut index = 0;
    while index < original.len() {
        if original[index] == ours[index] {
            index += 1;
            continue;
        }
        let window = index.saturating_sub(3)..;
        let start = (window.start..=index)
            .find(|&s| original.get(s..s + 4) == Some(&[0xff; 4]) && ours.get(s..s + 4) == Some(&[0; 4]));
        match start {
            Some(start) => index = start + 4,
            None => return false,
        }
    }
    true
}

#[test]
fn every_real_frame_decodes_and_reencodes_byte_for_byte() {
    let mut with_null_txn_data = vec![];
    for frame in frames() {
        let at = format!("line {}", frame.line);
        match frame.kind.as_str() {
            "handshake" => {
                let (handshake, used) = ElectionHandshake::decode_prefix(&frame.bytes).unwrap().expect(&at);
                assert_eq!(used, frame.bytes.len(), "{at}");
                assert_eq!(handshake.encode(), frame.bytes, "{at}");
            }
            "notification" => {
                assert_eq!(WireNotification::decode(&frame.bytes).expect(&at).encode(), frame.bytes, "{at}")
            }
            "packet" => {
                let packet = QuorumPacket::decode(&frame.bytes, L).expect(&at);
                assert_eq!(packet.encode(), frame.bytes, "{at}");
                let ours = QuorumMessage::from_packet(&packet, L).expect(&at).encode();
                if ours != frame.bytes {
                    assert!(differs_only_by_nulls(&frame.bytes, &ours), "{at}");
                    with_null_txn_data.push(frame.line);
                }
            }
            "database" => assert_eq!(WireDatabase::decode(&frame.bytes, L).expect(&at).encode(), frame.bytes, "{at}"),
            "signature" => assert_eq!(frame.bytes, b"\0\0\0\x0aBenWasHere", "{at}"),
            other => panic!("{at}: unexpected kind {other} (a connection ended mid-frame?)"),
        }
    }
    // The txns of `create /q/null` with null data, and of the multi creating /q/m3 and /q/m4
    // with null data: each sent as REQUEST (opaque, exact), then PROPOSAL to two followers.
    let expected_lines: Vec<usize> = frames()
        .iter()
        .filter(|f| f.kind == "packet" && f.bytes[..4] == [0, 0, 0, 2])
        .filter(|f| matches!(QuorumMessage::decode(&f.bytes, L), Ok(QuorumMessage::Proposal { txn, .. }) if has_null_data(&txn, &f.bytes)))
        .map(|f| f.line)
        .collect();
    assert_eq!(with_null_txn_data, expected_lines);
    assert_eq!(with_null_txn_data.len(), 4);
}

/// Whether the proposal is a create (or multi of creates) whose data ZooKeeper held as null.
fn has_null_data(txn: &Txn, bytes: &[u8]) -> bool {
    let is_create_without_data = |body: &TxnBody| match body {
        TxnBody::Create { data, .. } | TxnBody::CreateContainer { data, .. } | TxnBody::CreateTtl { data, .. } => {
            data.is_empty()
        }
        _ => false,
    };
    let creates_empty = match &txn.body {
        TxnBody::Multi(subs) => subs.iter().any(|s| is_create_without_data(&s.body)),
        body => is_create_without_data(body),
    };
    creates_empty && bytes.windows(4).any(|w| w == [0xff; 4])
}

fn variant_name(message: &QuorumMessage) -> String {
    let debug = format!("{message:?}");
    debug.split([' ', '{', '(']).next().unwrap().to_owned()
}

#[test]
fn real_bytes_cover_these_message_types() {
    let covered: BTreeSet<String> = messages().iter().map(variant_name).collect();
    let expected = [
        "Ack",
        "AckEpoch",
        "Commit",
        "Diff",
        "FollowerInfo",
        "LeaderInfo",
        "NewLeader",
        "Ping",
        "Proposal",
        "Request",
        "Revalidate",
        "RevalidateReply",
        "Snap",
        "Sync",
        "Trunc",
        "UpToDate",
    ];
    assert_eq!(covered, expected.iter().map(|s| s.to_string()).collect());
    let txn_ops: BTreeSet<i32> = messages()
        .iter()
        .filter_map(|m| match m {
            QuorumMessage::Proposal { txn, .. } => Some(txn.header.op),
            _ => None,
        })
        .collect();
    let expected_ops = [
        op::ERROR,
        op::CREATE,
        op::DELETE,
        op::SET_DATA,
        op::SET_ACL,
        op::MULTI,
        op::CREATE2,
        op::CREATE_CONTAINER,
        op::CREATE_TTL,
        op::CREATE_SESSION,
        op::CLOSE_SESSION,
    ];
    assert_eq!(txn_ops, expected_ops.into_iter().collect());
    assert_eq!(frames_of("database").len(), 2);
}

#[test]
fn real_election_traffic_means_what_zookeeper_says() {
    let handshakes: Vec<ElectionHandshake> =
        frames_of("handshake").iter().map(|f| ElectionHandshake::decode_prefix(&f.bytes).unwrap().unwrap().0).collect();
    // 3.8 sends V1 unless multiAddress is enabled, with the sender's own election address.
    // Lower ids dial too (at start); the receiver then drops the connection and dials back.
    let mut lower_to_higher = 0;
    for (handshake, frame) in handshakes.iter().zip(frames_of("handshake")) {
        let ElectionHandshake::V1 { server_id, address } = handshake else { panic!("{handshake:?}") };
        let target: u64 = frame.label.trim_start_matches("election-s").parse().unwrap();
        lower_to_higher += usize::from(server_id.0 < target);
        assert_eq!(address, format!("127.0.0.1:{}", 24380 + server_id.0).as_bytes());
    }
    assert!(lower_to_higher > 0 && lower_to_higher < handshakes.len());
    let notifications: Vec<WireNotification> =
        frames_of("notification").iter().map(|f| WireNotification::decode(&f.bytes).unwrap()).collect();
    assert!(notifications.iter().all(|n| n.version == NOTIFICATION_VERSION && n.peer_epoch.is_some()));
    assert!(notifications.iter().all(|n| String::from_utf8_lossy(&n.config).ends_with("version=0")));
    let states: BTreeSet<WireServerState> = notifications.iter().map(|n| n.state).collect();
    assert_eq!(
        states,
        [WireServerState::Looking, WireServerState::Following, WireServerState::Leading].into_iter().collect()
    );
    // The first vote of a fresh ensemble: server 3 votes for itself at zxid 0, epoch 1.
    let first = &notifications[0];
    assert_eq!(
        (first.state, first.leader, first.zxid, first.election_epoch, first.peer_epoch),
        (WireServerState::Looking, ServerId(3), Zxid(0), 1, Some(0))
    );
}

const NOTIFICATION_VERSION: i32 = zab_core::wire::election::NOTIFICATION_VERSION_CURRENT;

#[test]
fn real_quorum_traffic_means_what_zookeeper_says() {
    let all = messages();
    let learner_infos: Vec<LearnerInfo> = all
        .iter()
        .filter_map(|m| match m {
            QuorumMessage::FollowerInfo { info, .. } => Some(*info),
            _ => None,
        })
        .collect();
    assert!(learner_infos.iter().all(|i| i.protocol_version == 0x10000 && i.config_version == 0));
    assert!(all
        .iter()
        .all(|m| !matches!(m, QuorumMessage::LeaderInfo { protocol_version, .. } if *protocol_version != 0x10000)));
    assert!(all.iter().any(|m| matches!(m, QuorumMessage::AckEpoch { epoch_current: 0, .. })));
    assert!(all.iter().any(|m| matches!(m, QuorumMessage::Trunc { zxid: Zxid(0x1_0000_0018) })));
    assert!(all.iter().any(|m| matches!(m, QuorumMessage::RevalidateReply { valid: true, .. })));
    // A learner's ping reply lists the sessions it saw, with their timeouts.
    assert!(all
        .iter()
        .any(|m| matches!(m, QuorumMessage::Ping { sessions: Some(s), .. } if s.iter().any(|(_, t)| *t == 6000))));
    let bodies: Vec<&TxnBody> = all
        .iter()
        .filter_map(|m| match m {
            QuorumMessage::Proposal { txn, digest, .. } => {
                // 3.8 digests every txn but failed ones.
                let expected = if txn.header.op == op::ERROR { None } else { Some(2) };
                assert_eq!(digest.map(|d| d.version), expected);
                Some(&txn.body)
            }
            _ => None,
        })
        .collect();
    assert!(bodies.contains(&&TxnBody::CreateSession { timeout_ms: 6000 }));
    assert!(bodies.contains(&&TxnBody::CloseSession { paths_to_delete: vec!["/q/e".into()] }));
    assert!(bodies.contains(&&TxnBody::Error { err: -110 }), "create of an existing node");
    // A failed multi: 3.8 keeps the real record of the ops before the failure (the DataTree
    // turns them into ErrorTxn(0) when it sees an error among the sub-txns), then the failing
    // op's error (BADVERSION), then RUNTIMEINCONSISTENCY for the rest.
    let n1 = TxnBody::Create {
        path: "/q/n1".into(),
        data: b"a".to_vec(),
        acl: Acl::open_unsafe(),
        ephemeral: false,
        parent_cversion: 10,
    };
    let aborted = TxnBody::Multi(vec![
        SubTxn { op: op::CREATE, body: n1 },
        SubTxn { op: op::ERROR, body: TxnBody::Error { err: -103 } },
        SubTxn { op: op::ERROR, body: TxnBody::Error { err: -2 } },
    ]);
    assert!(bodies.contains(&&aborted));
    let multi_ops: Vec<i32> = bodies
        .iter()
        .find_map(|b| match b {
            TxnBody::Multi(subs) if subs.len() == 7 => Some(subs.iter().map(|s| s.op).collect()),
            _ => None,
        })
        .unwrap();
    assert_eq!(
        multi_ops,
        [op::CREATE, op::CREATE, op::CREATE_CONTAINER, op::CREATE_TTL, op::SET_DATA, op::CHECK, op::DELETE]
    );
    // Forwarded writes: the createSession request carries its 4-byte timeout and null authinfo.
    assert!(all.iter().any(|m| matches!(m,
        QuorumMessage::Request { op: -10, request, authinfo: None, .. } if request == &6000i32.to_be_bytes())));
}

#[test]
fn real_snapshot_holds_the_tree() {
    let database = WireDatabase::decode(&frames_of("database")[0].bytes, L).unwrap();
    assert_eq!(database.nodes[0].path, "", "the root is written as the empty path");
    assert_eq!(database.nodes[0].data, Some(vec![]));
    let paths: BTreeSet<&str> = database.nodes.iter().map(|n| n.path.as_str()).collect();
    for path in ["/zookeeper", "/zookeeper/config", "/zookeeper/quota", "/q", "/q/null", "/q/ttl", "/diff1", "/eph"] {
        assert!(paths.contains(path), "{path}");
    }
    let eph = database.nodes.iter().find(|n| n.path == "/eph").unwrap();
    assert!(
        database.sessions.iter().any(|(id, _)| id.0 == eph.stat.ephemeral_owner),
        "the ephemeral's session is in the table"
    );
    let null_node = database.nodes.iter().find(|n| n.path == "/q/null").unwrap();
    assert_eq!(null_node.data, None, "created with null data, kept null");
    let (_, acl) = database.acls.iter().find(|(reference, _)| *reference == null_node.acl_ref).unwrap();
    assert_eq!(acl[0].id, Id { scheme: "ip".into(), id: "127.0.0.1".into() });
}

/// A leader→learner stream cut at every byte: the stream decoders wait (`Ok(None)`) until a
/// whole item has arrived, then take exactly it.
#[test]
fn snap_stream_decodes_from_any_split() {
    let all = frames();
    let snap_at = all.iter().position(|f| f.kind == "database").unwrap();
    let stream: Vec<u8> = all[snap_at - 1..=snap_at + 2].iter().flat_map(|f| f.bytes.clone()).collect();
    let packet_len = all[snap_at - 1].bytes.len();
    let database_len = all[snap_at].bytes.len() + all[snap_at + 1].bytes.len();
    for cut in 0..stream.len() {
        let head = &stream[..cut];
        match QuorumPacket::decode_prefix(head, L).unwrap() {
            None => assert!(cut < packet_len),
            Some((packet, used)) => {
                assert_eq!((packet.packet_type, used), (packet_type::SNAP, packet_len));
                let rest = &head[used..];
                match WireDatabase::decode_snap_stream_prefix(rest, L).unwrap() {
                    None => assert!(rest.len() < database_len),
                    Some((_, used)) => assert_eq!(used, database_len),
                }
            }
        }
    }
}

#[test]
fn bad_input_is_refused_with_its_reason() {
    assert_eq!(WireNotification::decode(&[0; 27]), Err(QuorumError::NotificationTooShort(27)));
    let mut bad_state = vec![0, 0, 0, 7];
    bad_state.extend([0; 24]);
    assert_eq!(WireNotification::decode(&bad_state), Err(QuorumError::UnknownServerState(7)));
    let mut handshake = (-3i64).to_be_bytes().to_vec();
    assert_eq!(ElectionHandshake::decode_prefix(&handshake), Err(QuorumError::HandshakeVersion(-3)));
    handshake = [(-65536i64).to_be_bytes(), 1i64.to_be_bytes()].concat();
    handshake.extend(2049i32.to_be_bytes());
    assert_eq!(ElectionHandshake::decode_prefix(&handshake), Err(QuorumError::AddressLength(2049)));
    assert_eq!(decode_election_frame(&0i32.to_be_bytes()), Err(QuorumError::FrameLength(0)));
    assert_eq!(
        decode_election_frame(&(512 * 1024 + 1i32).to_be_bytes()),
        Err(QuorumError::FrameLength(512 * 1024 + 1))
    );
    assert_eq!(decode_election_frame(&[0, 0, 0, 3, 1]), Ok(None));
    let packet =
        |packet_type, data: Option<Vec<u8>>, authinfo| QuorumPacket { packet_type, zxid: Zxid(1), data, authinfo };
    assert_eq!(QuorumMessage::from_packet(&packet(99, None, None), L), Err(QuorumError::UnknownPacketType(99)));
    assert_eq!(QuorumMessage::from_packet(&packet(3, None, Some(vec![])), L), Err(QuorumError::UnexpectedAuthinfo(3)));
    assert_eq!(QuorumMessage::from_packet(&packet(4, Some(vec![]), None), L), Err(QuorumError::UnexpectedData(4)));
    assert_eq!(QuorumMessage::from_packet(&packet(2, None, None), L), Err(QuorumError::MissingData(2)));
    assert_eq!(
        QuorumMessage::from_packet(&packet(5, Some(vec![0; 13]), None), L),
        Err(QuorumError::DataLength { packet_type: 5, length: 13 })
    );
    let mut huge = packet(1, None, None).encode();
    huge[12..16].copy_from_slice(&i32::MAX.to_be_bytes());
    assert!(matches!(QuorumPacket::decode_prefix(&huge, L), Err(QuorumError::FieldTooLarge { .. })));
    let mut wrong_signature = WireDatabase::default().encode();
    wrong_signature.extend([0, 0, 0, 1, b'x']);
    assert_eq!(
        WireDatabase::decode_snap_stream_prefix(&wrong_signature, L),
        Err(QuorumError::BadSignature("x".into()))
    );
}

fn acl() -> impl Strategy<Value = Acl> {
    (any::<i32>(), "[a-z]{0,6}", "[a-z0-9:.]{0,12}")
        .prop_map(|(perms, scheme, id)| Acl { perms, id: Id { scheme, id } })
}

fn path() -> impl Strategy<Value = String> {
    "/[a-zé0-9/]{0,16}"
}

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..max)
}

/// A body and the opcodes whose record it is (`in_multi`: what a `MultiTxn` can hold).
fn body(in_multi: bool) -> BoxedStrategy<(i32, TxnBody)> {
    let acls = || proptest::collection::vec(acl(), 0..3);
    let mut options: Vec<BoxedStrategy<(i32, TxnBody)>> = vec![
        (prop_oneof![Just(op::CREATE), Just(op::CREATE2)], path(), bytes(8), acls(), any::<bool>(), any::<i32>())
            .prop_map(|(o, path, data, acl, ephemeral, parent_cversion)| {
                (o, TxnBody::Create { path, data, acl, ephemeral, parent_cversion })
            })
            .boxed(),
        (path(), bytes(8), acls(), any::<i32>())
            .prop_map(|(path, data, acl, parent_cversion)| {
                (op::CREATE_CONTAINER, TxnBody::CreateContainer { path, data, acl, parent_cversion })
            })
            .boxed(),
        (path(), bytes(8), acls(), any::<i32>(), any::<i64>())
            .prop_map(|(path, data, acl, parent_cversion, ttl)| {
                (op::CREATE_TTL, TxnBody::CreateTtl { path, data, acl, parent_cversion, ttl })
            })
            .boxed(),
        (prop_oneof![Just(op::DELETE), Just(op::DELETE_CONTAINER)], path())
            .prop_map(|(o, path)| (o, TxnBody::Delete { path }))
            .boxed(),
        (path(), bytes(8), any::<i32>())
            .prop_map(|(path, data, version)| (op::SET_DATA, TxnBody::SetData { path, data, version }))
            .boxed(),
        any::<i32>().prop_map(|err| (op::ERROR, TxnBody::Error { err })).boxed(),
    ];
    if in_multi {
        options.push(
            (path(), any::<i32>()).prop_map(|(path, version)| (op::CHECK, TxnBody::Check { path, version })).boxed(),
        );
    } else {
        options.extend([
            (path(), acls(), any::<i32>())
                .prop_map(|(path, acl, version)| (op::SET_ACL, TxnBody::SetAcl { path, acl, version }))
                .boxed(),
            (path(), bytes(8), any::<i32>())
                .prop_map(|(path, data, version)| (op::RECONFIG, TxnBody::SetData { path, data, version }))
                .boxed(),
            any::<i32>().prop_map(|timeout_ms| (op::CREATE_SESSION, TxnBody::CreateSession { timeout_ms })).boxed(),
            proptest::collection::vec(path(), 0..3)
                .prop_map(|paths_to_delete| (op::CLOSE_SESSION, TxnBody::CloseSession { paths_to_delete }))
                .boxed(),
            proptest::collection::vec(body(true), 0..4)
                .prop_map(|subs| {
                    (op::MULTI, TxnBody::Multi(subs.into_iter().map(|(op, body)| SubTxn { op, body }).collect()))
                })
                .boxed(),
        ]);
    }
    proptest::strategy::Union::new(options).boxed()
}

fn txn() -> impl Strategy<Value = Txn> {
    (any::<i64>(), any::<i32>(), any::<i64>(), any::<i64>(), body(false)).prop_map(
        |(client_id, cxid, zxid, time, (op, body))| Txn {
            header: TxnHeader { client_id: SessionId(client_id), cxid, zxid: Zxid(zxid), time, op },
            body,
        },
    )
}

fn digest() -> impl Strategy<Value = Option<TxnDigest>> {
    proptest::option::of(
        (any::<i32>(), any::<i64>()).prop_map(|(version, tree_digest)| TxnDigest { version, tree_digest }),
    )
}

fn learner_info() -> impl Strategy<Value = LearnerInfo> {
    (any::<u64>(), any::<i32>(), any::<i64>()).prop_map(|(id, protocol_version, config_version)| LearnerInfo {
        server_id: ServerId(id),
        protocol_version,
        config_version,
    })
}

fn message() -> impl Strategy<Value = QuorumMessage> {
    let z = || any::<i64>().prop_map(Zxid);
    let sessions = || proptest::collection::vec((any::<i64>().prop_map(SessionId), any::<i32>()), 0..4);
    let ids = || proptest::option::of(proptest::collection::vec(acl().prop_map(|a| a.id), 0..3));
    prop_oneof![
        (z(), any::<i64>(), any::<i32>(), any::<i32>(), bytes(16), ids()).prop_map(
            |(zxid, s, cxid, op, request, authinfo)| {
                QuorumMessage::Request { zxid, session_id: SessionId(s), cxid, op, request, authinfo }
            }
        ),
        (z(), txn(), digest()).prop_map(|(zxid, txn, digest)| QuorumMessage::Proposal { zxid, txn, digest }),
        (z(), txn(), digest()).prop_map(|(zxid, txn, digest)| QuorumMessage::Inform { zxid, txn, digest }),
        z().prop_map(|zxid| QuorumMessage::Ack { zxid }),
        z().prop_map(|zxid| QuorumMessage::Commit { zxid }),
        (z(), proptest::option::of(sessions())).prop_map(|(zxid, sessions)| QuorumMessage::Ping { zxid, sessions }),
        (z(), any::<i64>(), any::<i32>()).prop_map(|(zxid, s, timeout_ms)| QuorumMessage::Revalidate {
            zxid,
            session_id: SessionId(s),
            timeout_ms
        }),
        (z(), any::<i64>(), any::<bool>()).prop_map(|(zxid, s, valid)| QuorumMessage::RevalidateReply {
            zxid,
            session_id: SessionId(s),
            valid
        }),
        z().prop_map(|zxid| QuorumMessage::Sync { zxid }),
        (z(), proptest::option::of(bytes(16))).prop_map(|(zxid, data)| QuorumMessage::CommitAndActivate { zxid, data }),
        (z(), proptest::option::of(bytes(16))).prop_map(|(zxid, config)| QuorumMessage::NewLeader { zxid, config }),
        (z(), learner_info()).prop_map(|(zxid, info)| QuorumMessage::FollowerInfo { zxid, info }),
        z().prop_map(|zxid| QuorumMessage::UpToDate { zxid }),
        z().prop_map(|zxid| QuorumMessage::Diff { zxid }),
        z().prop_map(|zxid| QuorumMessage::Trunc { zxid }),
        z().prop_map(|zxid| QuorumMessage::Snap { zxid }),
        (z(), learner_info()).prop_map(|(zxid, info)| QuorumMessage::ObserverInfo { zxid, info }),
        (z(), any::<i32>()).prop_map(|(zxid, protocol_version)| QuorumMessage::LeaderInfo { zxid, protocol_version }),
        (z(), any::<i32>()).prop_map(|(zxid, epoch_current)| QuorumMessage::AckEpoch { zxid, epoch_current }),
        (z(), proptest::option::of(bytes(16))).prop_map(|(zxid, data)| QuorumMessage::InformAndActivate { zxid, data }),
    ]
}

fn notification() -> impl Strategy<Value = WireNotification> {
    let state = prop_oneof![
        Just(WireServerState::Looking),
        Just(WireServerState::Following),
        Just(WireServerState::Leading),
        Just(WireServerState::Observing)
    ];
    let form = prop_oneof![
        Just((None, 0, vec![])),
        (any::<u64>(), -5i32..=1).prop_map(|(epoch, version)| (Some(epoch), version, vec![])),
        (any::<u64>(), 2i32..100, bytes(32)).prop_map(|(epoch, version, config)| (Some(epoch), version, config)),
    ];
    (state, any::<u64>(), any::<i64>(), any::<u64>(), form).prop_map(
        |(state, leader, zxid, election_epoch, (peer_epoch, version, config))| WireNotification {
            state,
            leader: ServerId(leader),
            zxid: Zxid(zxid),
            election_epoch,
            peer_epoch,
            version,
            config,
        },
    )
}

fn handshake() -> impl Strategy<Value = ElectionHandshake> {
    let address = || proptest::collection::vec(any::<u8>(), 1..64);
    prop_oneof![
        (0u64..=i64::MAX as u64).prop_map(|id| ElectionHandshake::Legacy { server_id: ServerId(id) }),
        (any::<u64>(), address()).prop_map(|(id, address)| ElectionHandshake::V1 { server_id: ServerId(id), address }),
        (any::<u64>(), address()).prop_map(|(id, address)| ElectionHandshake::V2 { server_id: ServerId(id), address }),
    ]
}

fn database() -> impl Strategy<Value = WireDatabase> {
    let stat = proptest::array::uniform9(any::<i32>()).prop_map(|v| StatPersisted {
        czxid: v[0] as i64 * 7,
        mzxid: v[1] as i64,
        ctime: v[2] as i64,
        mtime: v[3] as i64,
        version: v[4],
        cversion: v[5],
        aversion: v[6],
        ephemeral_owner: v[7] as i64,
        pzxid: v[8] as i64,
    });
    let node = (path().prop_filter("the end marker", |p| p != "/"), proptest::option::of(bytes(8)), any::<i64>(), stat)
        .prop_map(|(path, data, acl_ref, stat)| WireNode { path, data, acl_ref, stat });
    (
        proptest::collection::vec((any::<i64>().prop_map(SessionId), any::<i32>()), 0..4),
        proptest::collection::vec((any::<i64>(), proptest::collection::vec(acl(), 0..3)), 0..3),
        proptest::collection::vec(node, 0..5),
    )
        .prop_map(|(sessions, acls, nodes)| WireDatabase { sessions, acls, nodes })
}

proptest! {
    #[test]
    fn every_message_round_trips(message in message()) {
        let bytes = message.encode();
        prop_assert_eq!(QuorumMessage::decode(&bytes, L), Ok(message.clone()));
        prop_assert_eq!(QuorumPacket::decode_prefix(&bytes, L).unwrap().map(|(_, used)| used), Some(bytes.len()));
        prop_assert_eq!(QuorumPacket::decode_prefix(&bytes[..bytes.len() - 1], L), Ok(None));
    }

    #[test]
    fn notifications_and_handshakes_round_trip(n in notification(), h in handshake()) {
        prop_assert_eq!(WireNotification::decode(&n.encode()), Ok(n.clone()));
        let frame = encode_election_frame(&n.encode());
        prop_assert_eq!(decode_election_frame(&frame), Ok(Some((&frame[4..], frame.len()))));
        let bytes = h.encode();
        prop_assert_eq!(ElectionHandshake::decode_prefix(&bytes), Ok(Some((h.clone(), bytes.len()))));
        prop_assert_eq!(ElectionHandshake::decode_prefix(&bytes[..bytes.len() - 1]), Ok(None));
    }

    #[test]
    fn databases_round_trip(database in database()) {
        prop_assert_eq!(WireDatabase::decode(&database.encode(), L), Ok(database.clone()));
        let stream = database.encode_snap_stream();
        prop_assert_eq!(WireDatabase::decode_snap_stream_prefix(&stream, L), Ok(Some((database.clone(), stream.len()))));
        prop_assert_eq!(WireDatabase::decode_snap_stream_prefix(&stream[..stream.len() - 1], L), Ok(None));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in bytes(160)) {
        let _ = ElectionHandshake::decode_prefix(&bytes);
        let _ = decode_election_frame(&bytes);
        let _ = WireNotification::decode(&bytes);
        let _ = QuorumPacket::decode_prefix(&bytes, L);
        let _ = QuorumMessage::decode(&bytes, L);
        let _ = decode_txn(&bytes, L);
        let _ = WireDatabase::decode(&bytes, L);
        let _ = WireDatabase::decode_snap_stream_prefix(&bytes, L);
    }

    /// Real frames with one byte changed: still a value or an error, and any value re-encodes
    /// to something that decodes to it again.
    #[test]
    fn mutated_real_frames_never_panic(index in 0usize..420, position in any::<usize>(), value in any::<u8>()) {
        let all = frames();
        let frame = &all[index % all.len()];
        let mut bytes = frame.bytes.clone();
        let at = position % bytes.len();
        bytes[at] = value;
        if let Ok(message) = QuorumMessage::decode(&bytes, L) {
            prop_assert_eq!(QuorumMessage::decode(&message.encode(), L), Ok(message));
        }
        if let Ok(notification) = WireNotification::decode(&bytes) {
            prop_assert_eq!(WireNotification::decode(&notification.encode()), Ok(notification));
        }
        if let Ok(database) = WireDatabase::decode(&bytes, L) {
            prop_assert_eq!(WireDatabase::decode(&database.encode(), L), Ok(database));
        }
    }
}
