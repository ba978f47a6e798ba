//! ZAB phase by phase on one node: feed one input, assert the exact outputs (STYLE.md
//! rule 4). The ordering rules come from zookeeper-features.md §5.3 and the bugs in
//! reliability-anchors.md §5 (ZOOKEEPER-3911, 4643, 4646, 4685).

use super::*;
use crate::txn::{TxnBody, TxnHeader};
use crate::wire::client::{op, Acl, CreateRequest};
use crate::wire::election::WireServerState;
use crate::wire::quorum::{LearnerInfo, QuorumMessage};
use std::net::Ipv4Addr;

const TICK: u64 = 100;
const E1: Epoch = Epoch(1);

fn config(id: u64) -> Config {
    let peers = (1..=3).map(|i| (ServerId(i), PeerRole::Participant)).collect();
    Config::ensemble(ServerId(id), TICK, peers)
}

fn drain(node: &mut Node) -> Vec<Output> {
    let mut outputs = Vec::new();
    loop {
        node.check_invariants();
        let Some(output) = node.poll_output() else { return outputs };
        outputs.push(output);
    }
}

/// Outputs other than election notifications.
fn non_election(outputs: Vec<Output>) -> Vec<Output> {
    outputs.into_iter().filter(|o| !matches!(o, Output::Send { message: PeerMessage::Election(_), .. })).collect()
}

fn quorum(node: &mut Node, now: Millis, from: u64, message: QuorumMessage) -> Vec<Output> {
    node.handle_peer_message(now, ServerId(from), PeerMessage::Quorum(message));
    non_election(drain(node))
}

fn send(to: u64, message: QuorumMessage) -> Output {
    Output::Send { to: ServerId(to), message: PeerMessage::Quorum(message) }
}

fn notification(state: WireServerState, leader: u64, round: u64) -> PeerMessage {
    PeerMessage::Election(crate::wire::election::WireNotification {
        state,
        leader: ServerId(leader),
        zxid: Zxid::ZERO,
        election_epoch: round,
        peer_epoch: Some(0),
        version: 2,
        config: Vec::new(),
    })
}

fn txn(zxid: Zxid, path: &str) -> Txn {
    let header = TxnHeader { client_id: SessionId(0), cxid: 0, zxid, time: 5, op: op::CREATE };
    let body = TxnBody::Create {
        path: path.into(),
        data: vec![],
        acl: Acl::open_unsafe(),
        ephemeral: false,
        parent_cversion: 1,
    };
    Txn { header, body }
}

/// Server 2 learns that 1 leads (1 says LEADING, 3 FOLLOWING) and registers with it.
fn follower_registered() -> Node {
    let mut node = Node::new(config(2), DurableState::default(), Millis(0), 2);
    drain(&mut node);
    node.handle_peer_message(Millis(1), ServerId(1), notification(WireServerState::Leading, 1, 1));
    node.handle_peer_message(Millis(1), ServerId(3), notification(WireServerState::Following, 1, 1));
    let outputs = non_election(drain(&mut node));
    let info = LearnerInfo { server_id: ServerId(2), protocol_version: 0x10000, config_version: 0 };
    assert_eq!(outputs, vec![send(1, QuorumMessage::FollowerInfo { zxid: Zxid::ZERO, info })]);
    assert_eq!(node.replica_state(), ReplicaState::Learning { leader: ServerId(1), observer: false, serving: false });
    node
}

#[test]
fn a_follower_sends_ackepoch_only_after_its_accepted_epoch_is_durable() {
    let mut node = follower_registered();
    let info = QuorumMessage::LeaderInfo { zxid: Zxid::new(E1, 0), protocol_version: 0x10000 };
    let outputs = quorum(&mut node, Millis(2), 1, info);
    assert_eq!(outputs, vec![Output::PersistEpoch { accepted: Some(E1), current: None, token: PersistToken(0) }]);
    node.handle_persisted(Millis(3), PersistToken(0));
    let ack_epoch = QuorumMessage::AckEpoch { zxid: Zxid::ZERO, epoch_current: 0 };
    assert_eq!(non_election(drain(&mut node)), vec![send(1, ack_epoch)]);
}

/// A follower through LEADERINFO and ACKEPOCH (tokens 0 used).
fn follower_in_sync() -> Node {
    let mut node = follower_registered();
    quorum(&mut node, Millis(2), 1, QuorumMessage::LeaderInfo { zxid: Zxid::new(E1, 0), protocol_version: 0x10000 });
    node.handle_persisted(Millis(3), PersistToken(0));
    drain(&mut node);
    node
}

#[test]
fn newleader_is_acked_only_after_the_synced_txns_then_current_epoch_are_durable() {
    // ZOOKEEPER-3911/4643/4646: txns durable, then currentEpoch, then the ACK; never another order.
    let mut node = follower_in_sync();
    let old = Zxid::new(Epoch(0), 1);
    assert_eq!(quorum(&mut node, Millis(4), 1, QuorumMessage::Diff { zxid: old }), vec![]);
    let proposal = QuorumMessage::Proposal { zxid: old, txn: txn(old, "/a"), digest: None };
    let outputs = quorum(&mut node, Millis(4), 1, proposal);
    assert_eq!(outputs, vec![Output::Persist { txns: vec![txn(old, "/a")], token: PersistToken(1) }]);
    assert_eq!(quorum(&mut node, Millis(4), 1, QuorumMessage::Commit { zxid: old }), vec![]);
    let newleader = QuorumMessage::NewLeader { zxid: Zxid::new(E1, 0), config: None };
    let outputs = quorum(&mut node, Millis(4), 1, newleader);
    assert_eq!(outputs, vec![], "no currentEpoch while the synced txns are not durable (ZOOKEEPER-4646)");
    node.handle_persisted(Millis(5), PersistToken(1));
    let outputs = non_election(drain(&mut node));
    let epoch = Output::PersistEpoch { accepted: None, current: Some(E1), token: PersistToken(2) };
    assert_eq!(outputs, vec![epoch], "no ACK while currentEpoch is not durable");
    assert_eq!(node.last_zxid(), old, "a committed and durable txn is applied");
    node.handle_persisted(Millis(6), PersistToken(2));
    assert_eq!(non_election(drain(&mut node)), vec![send(1, QuorumMessage::Ack { zxid: Zxid::new(E1, 0) })]);
    assert!(!node.is_serving(), "serving starts at UPTODATE");
    assert_eq!(quorum(&mut node, Millis(7), 1, QuorumMessage::UpToDate { zxid: Zxid(-1) }), vec![]);
    assert!(node.is_serving());
    assert_eq!(node.epochs(), (E1, E1));
}

#[test]
fn a_proposal_is_acked_after_it_is_logged_and_applied_only_on_commit() {
    let mut node = follower_in_sync();
    quorum(&mut node, Millis(4), 1, QuorumMessage::Diff { zxid: Zxid::ZERO });
    quorum(&mut node, Millis(4), 1, QuorumMessage::NewLeader { zxid: Zxid::new(E1, 0), config: None });
    node.handle_persisted(Millis(5), PersistToken(1));
    drain(&mut node);
    quorum(&mut node, Millis(6), 1, QuorumMessage::UpToDate { zxid: Zxid(-1) });
    let z = Zxid::new(E1, 1);
    let outputs = quorum(&mut node, Millis(7), 1, QuorumMessage::Proposal { zxid: z, txn: txn(z, "/b"), digest: None });
    assert_eq!(outputs, vec![Output::Persist { txns: vec![txn(z, "/b")], token: PersistToken(2) }]);
    node.handle_persisted(Millis(8), PersistToken(2));
    assert_eq!(non_election(drain(&mut node)), vec![send(1, QuorumMessage::Ack { zxid: z })]);
    assert_eq!(node.last_zxid(), Zxid::ZERO, "not applied before COMMIT");
    quorum(&mut node, Millis(9), 1, QuorumMessage::Commit { zxid: z });
    assert_eq!(node.last_zxid(), z);
    // A hole in the stream (counter 3 after 1) means a lost message: the follower leaves.
    let hole = Zxid::new(E1, 3);
    quorum(&mut node, Millis(10), 1, QuorumMessage::Proposal { zxid: hole, txn: txn(hole, "/c"), digest: None });
    assert_eq!(node.replica_state(), ReplicaState::Looking);
}

/// Server 1 elected by 2 and 3, with 2 registered, synced and acknowledged: established.
/// Tokens 0 (acceptedEpoch) and 1 (currentEpoch) are used.
fn leader_established() -> Node {
    let mut node = Node::new(config(1), DurableState::default(), Millis(0), 1);
    drain(&mut node);
    node.handle_peer_message(Millis(1), ServerId(2), notification(WireServerState::Looking, 1, 1));
    node.handle_timeout(Millis(300)); // finalizeWait
    drain(&mut node);
    assert_eq!(node.replica_state(), ReplicaState::Leading { epoch: None, established: false });
    let info = LearnerInfo { server_id: ServerId(2), protocol_version: 0x10000, config_version: 0 };
    let outputs = quorum(&mut node, Millis(301), 2, QuorumMessage::FollowerInfo { zxid: Zxid::ZERO, info });
    assert_eq!(outputs, vec![Output::PersistEpoch { accepted: Some(E1), current: None, token: PersistToken(0) }]);
    node.handle_persisted(Millis(302), PersistToken(0));
    let leader_info = QuorumMessage::LeaderInfo { zxid: Zxid::new(E1, 0), protocol_version: 0x10000 };
    assert_eq!(non_election(drain(&mut node)), vec![send(2, leader_info)]);
    let outputs = quorum(&mut node, Millis(303), 2, QuorumMessage::AckEpoch { zxid: Zxid::ZERO, epoch_current: 0 });
    assert_eq!(outputs, vec![Output::PersistEpoch { accepted: None, current: Some(E1), token: PersistToken(1) }]);
    node.handle_persisted(Millis(304), PersistToken(1));
    let expected = vec![
        send(2, QuorumMessage::Diff { zxid: Zxid::ZERO }),
        send(2, QuorumMessage::NewLeader { zxid: Zxid::new(E1, 0), config: None }),
    ];
    assert_eq!(non_election(drain(&mut node)), expected);
    let outputs = quorum(&mut node, Millis(305), 2, QuorumMessage::Ack { zxid: Zxid::new(E1, 0) });
    assert_eq!(outputs, vec![send(2, QuorumMessage::UpToDate { zxid: Zxid(-1) })]);
    assert_eq!(node.replica_state(), ReplicaState::Leading { epoch: Some(E1), established: true });
    node
}

fn connect(node: &mut Node, now: Millis, connection: u64) -> Vec<Output> {
    let request = ConnectRequest::new_session(4000);
    let address = IpAddr::V4(Ipv4Addr::LOCALHOST);
    node.handle_client(now, ConnectionId(connection), ClientEvent::Connect { request, address });
    non_election(drain(node))
}

#[test]
fn the_leader_commits_on_a_quorum_of_acks_counting_its_own_only_after_its_own_persist() {
    let mut node = leader_established();
    let outputs = connect(&mut node, Millis(400), 1);
    let [Output::Persist { txns, token }, Output::Send { to: ServerId(2), message: PeerMessage::Quorum(proposal) }] =
        outputs.as_slice()
    else {
        panic!("expected the leader's log write and its proposal to 2: {outputs:?}")
    };
    let zxid = Zxid::new(E1, 1);
    assert_eq!(*token, PersistToken(2));
    assert_eq!(txns[0].header.zxid, zxid);
    assert_eq!(*proposal, QuorumMessage::Proposal { zxid, txn: txns[0].clone(), digest: None });
    // The follower's ACK alone is one of three: no commit yet, and nothing answered.
    assert_eq!(quorum(&mut node, Millis(401), 2, QuorumMessage::Ack { zxid }), vec![]);
    assert_eq!(node.last_zxid(), Zxid::ZERO);
    // Our own log write completes: two of three, commit in order, then the client's answer.
    node.handle_persisted(Millis(402), PersistToken(2));
    let outputs = non_election(drain(&mut node));
    assert_eq!(outputs[0], send(2, QuorumMessage::Commit { zxid }));
    assert!(matches!(outputs[1], Output::Connected { connection: ConnectionId(1), .. }), "{outputs:?}");
    assert_eq!(outputs.len(), 2);
    assert_eq!(node.last_zxid(), zxid);
}

#[test]
fn a_leader_that_hears_from_no_follower_for_sync_limit_ticks_steps_down_and_drops_clients() {
    let mut node = leader_established();
    connect(&mut node, Millis(400), 1);
    node.handle_persisted(Millis(401), PersistToken(2));
    quorum(&mut node, Millis(402), 2, QuorumMessage::Ack { zxid: Zxid::new(E1, 1) });
    assert!(node.is_serving());
    let mut now = Millis(402);
    let mut closed = false;
    while node.replica_state() != ReplicaState::Looking {
        now = node.poll_timeout().expect("a leader has a tick");
        assert!(now.0 <= 402 + (config(1).sync_limit + 1) * TICK, "steps down within syncLimit ticks");
        node.handle_timeout(now);
        closed |= drain(&mut node).contains(&Output::CloseConnection { connection: ConnectionId(1) });
    }
    assert!(now.0 >= 305 + config(1).sync_limit * TICK, "not before syncLimit ticks of silence");
    assert!(closed, "the client connection is closed when the server stops serving");
    let refused = connect(&mut node, now, 2);
    assert_eq!(refused, vec![Output::CloseConnection { connection: ConnectionId(2) }]);
}

#[test]
fn a_follower_forwards_writes_and_answers_only_after_the_commit() {
    let mut node = follower_in_sync();
    quorum(&mut node, Millis(4), 1, QuorumMessage::Diff { zxid: Zxid::ZERO });
    quorum(&mut node, Millis(4), 1, QuorumMessage::NewLeader { zxid: Zxid::new(E1, 0), config: None });
    node.handle_persisted(Millis(5), PersistToken(1));
    drain(&mut node);
    quorum(&mut node, Millis(6), 1, QuorumMessage::UpToDate { zxid: Zxid(-1) });
    let outputs = connect(&mut node, Millis(7), 9);
    let [Output::Send { to: ServerId(1), message: PeerMessage::Quorum(QuorumMessage::Request { session_id, op, .. }) }] =
        outputs.as_slice()
    else {
        panic!("a new session is forwarded as a REQUEST: {outputs:?}")
    };
    let (session, opcode) = (*session_id, *op);
    assert_eq!(opcode, op::CREATE_SESSION);
    assert_eq!(session.0 >> 56, 2, "the session id carries this server's id");
    // The leader's proposal and commit of createSession come back.
    let z1 = Zxid::new(E1, 1);
    let create_session = Txn {
        header: TxnHeader { client_id: session, cxid: 0, zxid: z1, time: 7, op: op::CREATE_SESSION },
        body: TxnBody::CreateSession { timeout_ms: 4000 },
    };
    quorum(&mut node, Millis(8), 1, QuorumMessage::Proposal { zxid: z1, txn: create_session, digest: None });
    node.handle_persisted(Millis(9), PersistToken(2));
    drain(&mut node);
    let outputs = quorum(&mut node, Millis(10), 1, QuorumMessage::Commit { zxid: z1 });
    assert!(
        matches!(outputs.as_slice(), [Output::Connected { connection: ConnectionId(9), response }] if response.session_id == session)
    );
    // A create is forwarded, and answered only once its commit is applied here.
    let request =
        Request::Create(CreateRequest { path: "/x".into(), data: vec![1], acl: Acl::open_unsafe(), flags: 0 });
    let header = RequestHeader { xid: 1, op: op::CREATE };
    node.handle_client(Millis(11), ConnectionId(9), ClientEvent::Request { header, request: request.clone() });
    let outputs = non_election(drain(&mut node));
    let bytes = crate::wire::client::encode_request(&header, &request)[8..].to_vec();
    let forwarded = QuorumMessage::Request {
        zxid: Zxid(-1),
        session_id: session,
        cxid: 1,
        op: op::CREATE,
        request: bytes,
        authinfo: Some(vec![crate::wire::client::Id { scheme: "ip".into(), id: "127.0.0.1".into() }]),
    };
    assert_eq!(outputs, vec![send(1, forwarded)]);
    let z2 = Zxid::new(E1, 2);
    let create = Txn {
        header: TxnHeader { client_id: session, cxid: 1, zxid: z2, time: 11, op: op::CREATE },
        body: TxnBody::Create {
            path: "/x".into(),
            data: vec![1],
            acl: Acl::open_unsafe(),
            ephemeral: false,
            parent_cversion: 1,
        },
    };
    quorum(&mut node, Millis(12), 1, QuorumMessage::Proposal { zxid: z2, txn: create, digest: None });
    node.handle_persisted(Millis(13), PersistToken(3));
    assert_eq!(
        non_election(drain(&mut node)),
        vec![send(1, QuorumMessage::Ack { zxid: z2 })],
        "no reply before COMMIT"
    );
    let outputs = quorum(&mut node, Millis(14), 1, QuorumMessage::Commit { zxid: z2 });
    let [Output::Reply { connection: ConnectionId(9), header, response }] = outputs.as_slice() else {
        panic!("the reply follows the commit: {outputs:?}")
    };
    assert_eq!((header.xid, header.zxid, header.err), (1, z2, crate::error::ErrorCode::Ok));
    assert_eq!(*response, crate::wire::client::Response::Create("/x".into()));
}

#[test]
fn session_expiry_at_the_leader_deletes_ephemerals_through_a_proposal() {
    let mut node = leader_established();
    connect(&mut node, Millis(400), 1);
    node.handle_persisted(Millis(401), PersistToken(2));
    quorum(&mut node, Millis(402), 2, QuorumMessage::Ack { zxid: Zxid::new(E1, 1) });
    let session = node.connection_session(ConnectionId(1)).expect("bound");
    let request = Request::Create(CreateRequest { path: "/e".into(), data: vec![], acl: Acl::open_unsafe(), flags: 1 });
    node.handle_client(
        Millis(403),
        ConnectionId(1),
        ClientEvent::Request { header: RequestHeader { xid: 1, op: op::CREATE }, request },
    );
    drain(&mut node);
    node.handle_persisted(Millis(404), PersistToken(3));
    quorum(&mut node, Millis(405), 2, QuorumMessage::Ack { zxid: Zxid::new(E1, 2) });
    assert_eq!(node.tree().session_ephemerals(session), vec!["/e".to_string()]);
    // The client goes silent; the follower keeps pinging back with no session touched.
    let mut close = None;
    while close.is_none() {
        let now = node.poll_timeout().expect("deadline");
        assert!(
            now.0 < 405 + 2000 + 2 * TICK,
            "expires after its timeout: {now:?} {:?} {:?}",
            node.replica_state(),
            node.sessions().expiry(session)
        );
        node.handle_timeout(now);
        let mut outputs = drain(&mut node);
        outputs.extend(quorum(&mut node, now, 2, QuorumMessage::Ping { zxid: Zxid::ZERO, sessions: Some(vec![]) }));
        for output in outputs {
            if let Output::Send { to: ServerId(2), message: PeerMessage::Quorum(QuorumMessage::Proposal { txn, .. }) } =
                output
            {
                close = Some(txn);
            }
        }
    }
    let close = close.expect("a proposal");
    assert_eq!(close.header.client_id, session);
    assert_eq!(close.body, TxnBody::CloseSession { paths_to_delete: vec!["/e".into()] });
    assert_eq!(node.tree().session_ephemerals(session), vec!["/e".to_string()], "not before the commit");
    let zxid = close.header.zxid;
    let persist_token = PersistToken(4);
    node.handle_persisted(Millis(3000), persist_token);
    let outputs = quorum(&mut node, Millis(3001), 2, QuorumMessage::Ack { zxid });
    let closed = Output::CloseConnection { connection: ConnectionId(1) };
    assert_eq!(outputs, vec![send(2, QuorumMessage::Commit { zxid }), closed]);
    assert_eq!(node.tree().session_ephemerals(session), Vec::<String>::new());
    assert_eq!(node.last_zxid(), zxid, "the ephemeral goes at the closeSession's zxid");
}

#[test]
fn a_follower_registers_again_until_leaderinfo_arrives() {
    // The leader may still be electing when the first FOLLOWERINFO arrives, and drops it.
    // ZooKeeper's learner retries its connection every 100 ms within initLimit; without the
    // retry both sides wait initLimit and, deciding at the same moment again, livelock
    // (transcript leader_crash_keeps_the_committed_write).
    let mut node = follower_registered();
    assert_eq!(node.poll_timeout(), Some(Millis(101)));
    node.handle_timeout(Millis(101));
    let info = LearnerInfo { server_id: ServerId(2), protocol_version: 0x10000, config_version: 0 };
    assert_eq!(non_election(drain(&mut node)), vec![send(1, QuorumMessage::FollowerInfo { zxid: Zxid::ZERO, info })]);
    assert_eq!(node.replica_state(), ReplicaState::Learning { leader: ServerId(1), observer: false, serving: false });
    // Once LEADERINFO arrived, no more registering: only the initLimit deadline remains.
    let mut node = follower_in_sync();
    let deadline = Millis(2 + config(2).init_limit * TICK); // LEADERINFO was heard at 2
    assert_eq!(node.poll_timeout(), Some(deadline));
    node.handle_timeout(Millis(1000));
    assert_eq!(non_election(drain(&mut node)), vec![]);
}

#[test]
fn a_forwarded_sync_waits_for_the_commits_before_the_leaders_sync_to_be_durable_and_applied() {
    // The leader's SYNC follows COMMIT of /x on the link, but /x is not durable here yet:
    // the answer waits until it is applied, so a read after the sync sees /x.
    let mut node = follower_in_sync();
    quorum(&mut node, Millis(4), 1, QuorumMessage::Diff { zxid: Zxid::ZERO });
    quorum(&mut node, Millis(4), 1, QuorumMessage::NewLeader { zxid: Zxid::new(E1, 0), config: None });
    node.handle_persisted(Millis(5), PersistToken(1));
    drain(&mut node);
    quorum(&mut node, Millis(6), 1, QuorumMessage::UpToDate { zxid: Zxid(-1) });
    let outputs = connect(&mut node, Millis(7), 9);
    let [Output::Send { message: PeerMessage::Quorum(QuorumMessage::Request { session_id: session, .. }), .. }] =
        outputs.as_slice()
    else {
        panic!("createSession forwarded: {outputs:?}")
    };
    let session = *session;
    let z1 = Zxid::new(E1, 1);
    let create_session = Txn {
        header: TxnHeader { client_id: session, cxid: 0, zxid: z1, time: 7, op: op::CREATE_SESSION },
        body: TxnBody::CreateSession { timeout_ms: 4000 },
    };
    quorum(&mut node, Millis(8), 1, QuorumMessage::Proposal { zxid: z1, txn: create_session, digest: None });
    node.handle_persisted(Millis(9), PersistToken(2));
    drain(&mut node);
    quorum(&mut node, Millis(10), 1, QuorumMessage::Commit { zxid: z1 });
    // Another client's /x: proposed, its log write handed out (token 3) but not yet durable.
    let z2 = Zxid::new(E1, 2);
    let outputs =
        quorum(&mut node, Millis(11), 1, QuorumMessage::Proposal { zxid: z2, txn: txn(z2, "/x"), digest: None });
    assert_eq!(outputs, vec![Output::Persist { txns: vec![txn(z2, "/x")], token: PersistToken(3) }]);
    let header = RequestHeader { xid: 1, op: op::SYNC };
    let request = Request::Sync(crate::wire::client::PathRequest { path: "/".into() });
    node.handle_client(Millis(12), ConnectionId(9), ClientEvent::Request { header, request: request.clone() });
    let forwarded = QuorumMessage::Request {
        zxid: Zxid(-1),
        session_id: session,
        cxid: 1,
        op: op::SYNC,
        request: crate::wire::client::encode_request(&header, &request)[8..].to_vec(),
        authinfo: Some(vec![crate::wire::client::Id { scheme: "ip".into(), id: "127.0.0.1".into() }]),
    };
    assert_eq!(non_election(drain(&mut node)), vec![send(1, forwarded)]);
    assert_eq!(quorum(&mut node, Millis(13), 1, QuorumMessage::Commit { zxid: z2 }), vec![]);
    let outputs = quorum(&mut node, Millis(14), 1, QuorumMessage::Sync { zxid: Zxid::ZERO });
    assert_eq!(outputs, vec![], "/x is committed but not applied: no answer yet");
    node.handle_persisted(Millis(15), PersistToken(3));
    let reply = Output::Reply {
        connection: ConnectionId(9),
        header: ReplyHeader { xid: 1, zxid: z2, err: crate::error::ErrorCode::Ok },
        response: crate::wire::client::Response::Sync("/".into()),
    };
    assert_eq!(non_election(drain(&mut node)), vec![send(1, QuorumMessage::Ack { zxid: z2 }), reply]);
    assert_eq!(node.last_zxid(), z2);
}

#[test]
fn a_syncing_learner_answers_pings_only_once_up_to_date() {
    // Apache ZooKeeper's leader drops a learner whose next packet after the sync is not the
    // NEWLEADER ACK; ZooKeeper's learner answers PINGs only after UPTODATE.
    let mut node = follower_in_sync();
    quorum(&mut node, Millis(4), 1, QuorumMessage::Diff { zxid: Zxid::ZERO });
    let ping = QuorumMessage::Ping { zxid: Zxid::ZERO, sessions: None };
    assert_eq!(non_election(quorum(&mut node, Millis(4), 1, ping.clone())), vec![]);
    quorum(&mut node, Millis(4), 1, QuorumMessage::NewLeader { zxid: Zxid::new(E1, 0), config: None });
    node.handle_persisted(Millis(5), PersistToken(1));
    drain(&mut node);
    quorum(&mut node, Millis(6), 1, QuorumMessage::UpToDate { zxid: Zxid(-1) });
    let outputs = non_election(quorum(&mut node, Millis(7), 1, ping));
    assert_eq!(outputs, vec![send(1, QuorumMessage::Ping { zxid: Zxid::ZERO, sessions: Some(vec![]) })]);
}

/// The election notifications among `outputs`, in the wire form: (to, state, peer epoch).
fn answers(outputs: &[Output]) -> Vec<(u64, WireServerState, Option<u64>)> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::Send { to, message: PeerMessage::Election(n) } => Some((to.0, n.state, n.peer_epoch)),
            _ => None,
        })
        .collect()
}

#[test]
fn an_established_leader_answers_looking_servers_with_its_new_epoch() {
    // Leader.startZkServer calls updateElectionVote (ZOOKEEPER-1732): a server that comes
    // LOOKING later must hear the epoch Apache's members report, or it cannot join them.
    let mut node = leader_established();
    node.handle_peer_message(Millis(306), ServerId(3), notification(WireServerState::Looking, 3, 5));
    assert_eq!(answers(&drain(&mut node)), vec![(3, WireServerState::Leading, Some(1))]);
}

#[test]
fn a_follower_answers_looking_servers_with_its_leaders_epoch_once_up_to_date() {
    // Learner.syncWithLeader calls updateElectionVote at UPTODATE, not before.
    let mut node = follower_in_sync();
    quorum(&mut node, Millis(4), 1, QuorumMessage::Diff { zxid: Zxid::ZERO });
    quorum(&mut node, Millis(4), 1, QuorumMessage::NewLeader { zxid: Zxid::new(E1, 0), config: None });
    node.handle_persisted(Millis(5), PersistToken(1));
    drain(&mut node);
    node.handle_peer_message(Millis(6), ServerId(3), notification(WireServerState::Looking, 3, 5));
    assert_eq!(answers(&drain(&mut node)), vec![(3, WireServerState::Following, Some(0))], "elected in epoch 0");
    quorum(&mut node, Millis(7), 1, QuorumMessage::UpToDate { zxid: Zxid(-1) });
    node.handle_peer_message(Millis(8), ServerId(3), notification(WireServerState::Looking, 3, 6));
    assert_eq!(answers(&drain(&mut node)), vec![(3, WireServerState::Following, Some(1))]);
}
