//! The learner alone: each input, the exact effects it answers with.

use super::*;
use crate::txn::{TxnBody, TxnHeader};
use LearnerEffect::*;

const ME: ServerId = ServerId(2);
const LEADER: ServerId = ServerId(1);
const LIMITS: LearnerLimits = LearnerLimits { tick_time_ms: 100, init_limit: 10, sync_limit: 5 };

fn txn(epoch: u32, counter: u32) -> Txn {
    let zxid = Zxid::new(Epoch(epoch), counter);
    let header = TxnHeader { client_id: SessionId(0), cxid: 0, zxid, time: 0, op: crate::wire::client::op::ERROR };
    Txn { header, body: TxnBody::Error { err: -1 } }
}

fn view(accepted: u32, current: u32, logged: Zxid) -> LearnerView {
    LearnerView { epoch_accepted: Epoch(accepted), epoch_current: Epoch(current), logged }
}

fn leader_info(epoch: u32) -> QuorumMessage {
    QuorumMessage::LeaderInfo { zxid: Zxid::new(Epoch(epoch), 0), protocol_version: PROTOCOL_VERSION }
}

fn proposal(txn: Txn) -> QuorumMessage {
    QuorumMessage::Proposal { zxid: txn.header.zxid, txn, digest: None }
}

fn new_leader(epoch: u32) -> QuorumMessage {
    QuorumMessage::NewLeader { zxid: Zxid::new(Epoch(epoch), 0), config: None }
}

/// A follower of epoch 3 that accepted it and has logged up to 2:1 by the time of NEWLEADER.
fn synchronizing() -> Learner {
    let mut learner = Learner::new(Millis(0), ME, LEADER, false);
    let at_two = view(2, 2, Zxid::new(Epoch(2), 1));
    assert_eq!(learner.receive(Millis(1), LEADER, leader_info(3), at_two), vec![AcceptEpoch(Epoch(3))]);
    learner
}

#[test]
fn it_registers_with_the_epoch_it_accepted_as_follower_or_observer() {
    let info = LearnerInfo { server_id: ME, protocol_version: PROTOCOL_VERSION, config_version: 0 };
    let zxid = Zxid::new(Epoch(4), 0);
    let follower = Learner::new(Millis(0), ME, LEADER, false);
    assert_eq!(follower.register(view(4, 3, Zxid::ZERO)), Send(QuorumMessage::FollowerInfo { zxid, info }));
    let observer = Learner::new(Millis(0), ME, LEADER, true);
    assert_eq!(observer.register(view(4, 3, Zxid::ZERO)), Send(QuorumMessage::ObserverInfo { zxid, info }));
}

#[test]
fn in_discovery_only_leaderinfo_counts_and_a_newer_epoch_is_accepted_before_ackepoch() {
    let mut learner = Learner::new(Millis(0), ME, LEADER, false);
    let logged = Zxid::new(Epoch(2), 7);
    assert_eq!(
        learner.receive(Millis(1), LEADER, QuorumMessage::UpToDate { zxid: Zxid(-1) }, view(2, 2, logged)),
        vec![]
    );
    assert_eq!(learner.receive(Millis(1), LEADER, leader_info(3), view(2, 2, logged)), vec![AcceptEpoch(Epoch(3))]);
    assert_eq!(learner.phase(), LearnerPhase::Synchronization);
    // ACKEPOCH carries our currentEpoch, since the epoch is new to us.
    let ack = QuorumMessage::AckEpoch { zxid: logged, epoch_current: 2 };
    assert_eq!(learner.on_durable(LearnerStep::SendAckEpoch, view(3, 2, logged)), vec![Send(ack)]);
}

#[test]
fn an_epoch_accepted_before_waits_only_for_earlier_writes_and_acks_with_minus_one() {
    let mut learner = Learner::new(Millis(0), ME, LEADER, false);
    let logged = Zxid::new(Epoch(3), 2);
    let effects = learner.receive(Millis(1), LEADER, leader_info(3), view(3, 2, logged));
    assert_eq!(effects, vec![WhenDurable(LearnerStep::SendAckEpoch)]);
    let ack = QuorumMessage::AckEpoch { zxid: logged, epoch_current: -1 };
    assert_eq!(learner.on_durable(LearnerStep::SendAckEpoch, view(3, 2, logged)), vec![Send(ack)]);
}

#[test]
fn a_leader_with_an_older_epoch_than_ours_is_left() {
    let mut learner = Learner::new(Millis(0), ME, LEADER, false);
    let effects = learner.receive(Millis(1), LEADER, leader_info(2), view(3, 3, Zxid::ZERO));
    assert_eq!(effects, vec![Abandon("leader's epoch is older than our accepted epoch")]);
}

#[test]
fn a_server_that_takes_us_for_its_leader_is_refused_and_other_senders_ignored() {
    let mut learner = Learner::new(Millis(0), ME, LEADER, false);
    let info = LearnerInfo { server_id: ServerId(3), protocol_version: PROTOCOL_VERSION, config_version: 0 };
    let register = QuorumMessage::FollowerInfo { zxid: Zxid::ZERO, info };
    assert_eq!(learner.receive(Millis(1), ServerId(3), register, view(1, 1, Zxid::ZERO)), vec![Refuse(ServerId(3))]);
    assert_eq!(learner.receive(Millis(1), ServerId(3), leader_info(2), view(1, 1, Zxid::ZERO)), vec![]);
    assert_eq!(learner.phase(), LearnerPhase::Discovery);
}

#[test]
fn proposals_are_logged_in_sequence_and_acked_only_after_newleader() {
    let mut learner = synchronizing();
    let logged = Zxid::new(Epoch(2), 1);
    let effects = learner.receive(Millis(2), LEADER, proposal(txn(2, 2)), view(3, 2, logged));
    assert_eq!(effects, vec![Log { txn: txn(2, 2), then: None }]);
    let logged = Zxid::new(Epoch(2), 2);
    let effects = learner.receive(Millis(3), LEADER, new_leader(3), view(3, 2, logged));
    assert_eq!(effects, vec![WhenDurable(LearnerStep::WriteCurrentEpoch(Epoch(3)))]);
    let effects = learner.receive(Millis(4), LEADER, proposal(txn(3, 1)), view(3, 2, logged));
    assert_eq!(effects, vec![Log { txn: txn(3, 1), then: Some(LearnerStep::SendAck(Zxid::new(Epoch(3), 1))) }]);
    // A hole inside an epoch is a broken stream.
    let effects = learner.receive(Millis(5), LEADER, proposal(txn(3, 3)), view(3, 2, Zxid::new(Epoch(3), 1)));
    assert_eq!(effects, vec![Abandon("proposal out of sequence")]);
}

#[test]
fn newleader_writes_current_epoch_once_durable_and_only_once() {
    let mut learner = synchronizing();
    let logged = Zxid::new(Epoch(2), 1);
    assert_eq!(learner.receive(Millis(2), LEADER, new_leader(3), view(3, 2, logged)).len(), 1);
    let step = LearnerStep::WriteCurrentEpoch(Epoch(3));
    assert_eq!(learner.on_durable(step, view(3, 2, logged)), vec![WriteCurrentEpoch(Epoch(3))]);
    let ack = QuorumMessage::Ack { zxid: Zxid::new(Epoch(3), 0) };
    assert_eq!(learner.on_durable(LearnerStep::SendAck(Zxid::new(Epoch(3), 0)), view(3, 3, logged)), vec![Send(ack)]);
    let again = learner.receive(Millis(3), LEADER, new_leader(3), view(3, 3, logged));
    assert_eq!(again, vec![Abandon("unexpected NEWLEADER")]);
}

#[test]
fn uptodate_waits_for_current_epoch_then_serves_with_the_synced_history_committed() {
    let mut learner = synchronizing();
    let synced = Zxid::new(Epoch(2), 1);
    learner.receive(Millis(2), LEADER, new_leader(3), view(3, 2, synced));
    let up_to_date = QuorumMessage::UpToDate { zxid: Zxid(-1) };
    // currentEpoch is still 2: NEWLEADER's write has not become durable yet.
    let effects = learner.receive(Millis(3), LEADER, up_to_date, view(3, 2, synced));
    assert_eq!(effects, vec![WhenDurable(LearnerStep::UpToDate)]);
    assert!(!learner.up_to_date());
    let effects = learner.on_durable(LearnerStep::UpToDate, view(3, 3, synced));
    assert_eq!(effects, vec![Serve { epoch: Epoch(3), synced }]);
    assert!(learner.up_to_date());
}

#[test]
fn uptodate_before_newleader_is_a_protocol_violation() {
    let mut learner = synchronizing();
    let effects =
        learner.receive(Millis(2), LEADER, QuorumMessage::UpToDate { zxid: Zxid(-1) }, view(3, 2, Zxid::ZERO));
    assert_eq!(effects, vec![Abandon("UPTODATE before NEWLEADER")]);
}

#[test]
fn pings_are_answered_only_once_serving() {
    let mut learner = synchronizing();
    let synced = Zxid::new(Epoch(2), 1);
    let ping = QuorumMessage::Ping { zxid: synced, sessions: None };
    assert_eq!(learner.receive(Millis(2), LEADER, ping.clone(), view(3, 2, synced)), vec![]);
    learner.receive(Millis(2), LEADER, new_leader(3), view(3, 2, synced));
    learner.receive(Millis(3), LEADER, QuorumMessage::UpToDate { zxid: Zxid(-1) }, view(3, 3, synced));
    assert_eq!(learner.receive(Millis(4), LEADER, ping, view(3, 3, synced)), vec![AnswerPing(synced)]);
}

#[test]
fn a_commit_of_a_proposal_never_received_breaks_the_stream() {
    let mut learner = synchronizing();
    let logged = Zxid::new(Epoch(2), 1);
    let commit = |counter| QuorumMessage::Commit { zxid: Zxid::new(Epoch(2), counter) };
    assert_eq!(learner.receive(Millis(2), LEADER, commit(1), view(3, 2, logged)), vec![Commit(logged)]);
    let effects = learner.receive(Millis(2), LEADER, commit(2), view(3, 2, logged));
    assert_eq!(effects, vec![Abandon("commit of a proposal never received")]);
}

#[test]
fn trunc_and_inform_reach_the_log() {
    let mut learner = synchronizing();
    let logged = Zxid::new(Epoch(2), 1);
    let trunc = QuorumMessage::Trunc { zxid: Zxid::new(Epoch(1), 4) };
    assert_eq!(learner.receive(Millis(2), LEADER, trunc, view(3, 2, logged)), vec![Truncate(Zxid::new(Epoch(1), 4))]);
    let inform = QuorumMessage::Inform { zxid: txn(2, 2).header.zxid, txn: txn(2, 2), digest: None };
    assert_eq!(learner.receive(Millis(2), LEADER, inform, view(3, 2, logged)), vec![LogCommitted(txn(2, 2))]);
}

#[test]
fn snap_announces_the_database_and_newleader_waits_for_it() {
    let mut learner = synchronizing();
    let logged = Zxid::new(Epoch(2), 1);
    assert_eq!(learner.on_database(Millis(3), LEADER), DatabaseVerdict::Abandon("database without SNAP"));
    let snap = Zxid::new(Epoch(2), 9);
    assert_eq!(learner.receive(Millis(3), LEADER, QuorumMessage::Snap { zxid: snap }, view(3, 2, logged)), vec![]);
    // NEWLEADER may not arrive while a database is still due.
    let mut early = synchronizing();
    early.receive(Millis(3), LEADER, QuorumMessage::Snap { zxid: snap }, view(3, 2, logged));
    assert_eq!(
        early.receive(Millis(4), LEADER, new_leader(3), view(3, 2, logged)),
        vec![Abandon("unexpected NEWLEADER")]
    );
    assert_eq!(learner.on_database(Millis(3), ServerId(3)), DatabaseVerdict::Ignore);
    assert_eq!(learner.on_database(Millis(3), LEADER), DatabaseVerdict::Install(snap));
    assert_eq!(learner.receive(Millis(4), LEADER, new_leader(3), view(3, 2, snap)).len(), 1);
}

/// Seed 3000301's shape: the leader syncs us once per connection. A second DIFF, TRUNC or
/// SNAP (left over from an older sync, or a broken leader) would truncate or replace a log
/// whose synced transactions may still be on their way to disk, so the learner leaves.
#[test]
fn one_diff_trunc_or_snap_per_sync() {
    let logged = Zxid::new(Epoch(2), 1);
    let announcements = [
        QuorumMessage::Diff { zxid: logged },
        QuorumMessage::Trunc { zxid: Zxid::new(Epoch(1), 4) },
        QuorumMessage::Snap { zxid: Zxid::new(Epoch(2), 9) },
    ];
    for first in &announcements {
        for second in &announcements {
            let mut learner = synchronizing();
            learner.receive(Millis(2), LEADER, first.clone(), view(3, 2, logged));
            let effects = learner.receive(Millis(3), LEADER, second.clone(), view(3, 2, logged));
            assert_eq!(effects, vec![Abandon("a second DIFF, TRUNC or SNAP")], "{first:?} then {second:?}");
        }
    }
    // Once serving, any announcement is out of place.
    let mut learner = synchronizing();
    learner.receive(Millis(2), LEADER, announcements[0].clone(), view(3, 2, logged));
    learner.receive(Millis(2), LEADER, new_leader(3), view(3, 2, logged));
    learner.receive(Millis(3), LEADER, QuorumMessage::UpToDate { zxid: Zxid(-1) }, view(3, 3, logged));
    assert!(learner.up_to_date());
    let effects = learner.receive(Millis(4), LEADER, announcements[1].clone(), view(3, 3, logged));
    assert_eq!(effects, vec![Abandon("a second DIFF, TRUNC or SNAP")]);
}

#[test]
fn a_serving_observer_ignores_proposals() {
    let mut observer = Learner::new(Millis(0), ME, LEADER, true);
    let synced = Zxid::new(Epoch(2), 1);
    observer.receive(Millis(1), LEADER, leader_info(3), view(2, 2, synced));
    observer.receive(Millis(2), LEADER, new_leader(3), view(3, 2, synced));
    // An observer never ACKs, even after NEWLEADER.
    let effects = observer.receive(Millis(2), LEADER, proposal(txn(2, 2)), view(3, 2, synced));
    assert_eq!(effects, vec![Log { txn: txn(2, 2), then: None }]);
    observer.receive(Millis(3), LEADER, QuorumMessage::UpToDate { zxid: Zxid(-1) }, view(3, 3, synced));
    assert_eq!(observer.receive(Millis(4), LEADER, proposal(txn(3, 1)), view(3, 3, synced)), vec![]);
}

#[test]
fn in_discovery_it_registers_again_every_retry_and_gives_up_after_init_limit() {
    let mut learner = Learner::new(Millis(0), ME, LEADER, false);
    let at = view(1, 1, Zxid::ZERO);
    assert_eq!(learner.deadline(LIMITS), Millis(REGISTER_RETRY_MS));
    assert_eq!(learner.tick(Millis(REGISTER_RETRY_MS - 1), LIMITS, at), vec![]);
    assert_eq!(learner.tick(Millis(REGISTER_RETRY_MS), LIMITS, at), vec![learner.register(at)]);
    assert_eq!(learner.deadline(LIMITS), Millis(2 * REGISTER_RETRY_MS));
    // initLimit (10 ticks of 100 ms) without LEADERINFO: give up.
    assert_eq!(learner.tick(Millis(1_000), LIMITS, at), vec![Abandon("leader silent")]);
}

#[test]
fn a_serving_learner_gives_up_after_sync_limit_of_silence() {
    let mut learner = synchronizing();
    let synced = Zxid::new(Epoch(2), 1);
    learner.receive(Millis(2), LEADER, new_leader(3), view(3, 2, synced));
    learner.receive(Millis(10), LEADER, QuorumMessage::UpToDate { zxid: Zxid(-1) }, view(3, 3, synced));
    // syncLimit: 5 ticks of 100 ms after the last packet heard.
    assert_eq!(learner.deadline(LIMITS), Millis(510));
    assert_eq!(learner.tick(Millis(509), LIMITS, view(3, 3, synced)), vec![]);
    assert_eq!(learner.tick(Millis(510), LIMITS, view(3, 3, synced)), vec![Abandon("leader silent")]);
}
