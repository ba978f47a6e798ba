//! Unit tests: one input, the exact outputs. Each cites the `FastLeaderElection.java` (3.8)
//! behaviour it checks.

use super::*;
use crate::ids::{Epoch, Millis, ServerId, Zxid};
use std::cmp::Ordering;

const NOTIFICATION_MS: u64 = 1000;

/// Server `me` among `voters` and `observers`, without jitter, and with a notification timeout
/// (1000 ms) that differs from finalizeWait (200 ms) so the two timers can be told apart.
fn election(me: u64, voters: &[u64], observers: &[u64]) -> Election {
    let ids = |list: &[u64]| list.iter().copied().map(ServerId).collect();
    let mut config = ElectionConfig::new(ServerId(me), ids(voters), ids(observers));
    config.notification_timeout_ms_min = NOTIFICATION_MS;
    config.notification_timeout_ms_max = 4 * NOTIFICATION_MS;
    config.timeout_jitter_ms_max = 0;
    Election::new(config, 7)
}

fn drain(election: &mut Election) -> Vec<ElectionOutput> {
    election.check_invariants();
    std::iter::from_fn(|| election.poll_output()).collect()
}

fn vote(leader: u64, zxid: i64, round: u64, epoch: u32) -> Vote {
    Vote { leader: ServerId(leader), zxid: Zxid(zxid), election_epoch: ElectionEpoch(round), peer_epoch: Epoch(epoch) }
}

fn looking(vote: Vote) -> Notification {
    Notification { state: ServerState::Looking, vote }
}

fn in_state(state: ServerState, vote: Vote) -> Notification {
    Notification { state, vote }
}

fn sends(to: &[u64], notification: Notification) -> Vec<ElectionOutput> {
    to.iter().map(|id| ElectionOutput::Send { to: ServerId(*id), notification }).collect()
}

fn decided(my_state: ServerState, vote: Vote, supporters: &[u64]) -> ElectionOutput {
    let supporters = supporters.iter().copied().map(ServerId).collect();
    ElectionOutput::Decided { leader: vote.leader, my_state, vote, supporters }
}

/// Server 1 of three, started at t=0 with zxid 5 in epoch 1; outputs drained.
fn started_one_of_three() -> Election {
    let mut one = election(1, &[1, 2, 3], &[]);
    one.start(Millis(0), Zxid(0x1_0000_0005), Epoch(1));
    drain(&mut one);
    one
}

#[test]
fn votes_are_ordered_by_peer_epoch_then_zxid_then_id() {
    // totalOrderPredicate: a higher epoch beats any zxid, a higher zxid beats any id, and the
    // round (electionEpoch) is not part of the order.
    assert_eq!(vote(1, 0x9, 1, 2).order(&vote(3, 0xff, 1, 1)), Ordering::Greater);
    assert_eq!(vote(1, 0x9, 1, 1).order(&vote(3, 0x8, 1, 1)), Ordering::Greater);
    assert_eq!(vote(3, 0x9, 1, 1).order(&vote(2, 0x9, 1, 1)), Ordering::Greater);
    assert_eq!(vote(2, 0x9, 1, 1).order(&vote(2, 0x9, 7, 1)), Ordering::Equal);
}

#[test]
fn start_opens_a_round_votes_for_itself_and_notifies_the_other_voters() {
    // lookForLeader: logicalclock.incrementAndGet, updateProposal(getInitId, lastLoggedZxid,
    // currentEpoch), sendNotifications (to ourselves through the loopback, never as output).
    let mut one = election(1, &[1, 2, 3], &[4]);
    one.start(Millis(10), Zxid(0x1_0000_0005), Epoch(1));
    let mine = vote(1, 0x1_0000_0005, 1, 1);
    assert_eq!(drain(&mut one), sends(&[2, 3], looking(mine)));
    assert_eq!(one.state(), ServerState::Looking);
    assert_eq!(one.current_vote(), mine);
    assert_eq!(one.poll_timeout(), Some(Millis(10 + NOTIFICATION_MS)));
    one.start(Millis(20), Zxid(0x1_0000_0005), Epoch(1));
    assert_eq!(drain(&mut one), sends(&[2, 3], looking(vote(1, 0x1_0000_0005, 2, 1))));
    assert_eq!(one.logical_clock(), ElectionEpoch(2));
}

#[test]
fn a_better_vote_of_the_same_round_is_adopted_and_broadcast() {
    // case LOOKING, n.electionEpoch == logicalclock and totalOrderPredicate holds: updateProposal
    // and sendNotifications. With our own echo, {1, 2} is a quorum of 3: finalizeWait starts.
    let mut one = started_one_of_three();
    let theirs = vote(2, 0x1_0000_0006, 1, 1);
    one.handle_notification(Millis(5), ServerId(2), looking(theirs));
    assert_eq!(drain(&mut one), sends(&[2, 3], looking(theirs)));
    assert_eq!(one.current_vote(), theirs);
    assert_eq!(one.poll_timeout(), Some(Millis(5 + ELECTION_FINALIZE_WAIT_MS)));
}

#[test]
fn a_worse_vote_of_the_same_round_is_counted_but_not_adopted() {
    let mut one = started_one_of_three();
    one.handle_notification(Millis(5), ServerId(2), looking(vote(2, 0x1_0000_0004, 1, 1)));
    assert_eq!(drain(&mut one), vec![]);
    assert_eq!(one.current_vote(), vote(1, 0x1_0000_0005, 1, 1));
    // No quorum agrees with us, so we still wait for notifications, not for finalizeWait.
    assert_eq!(one.poll_timeout(), Some(Millis(5 + NOTIFICATION_MS)));
}

#[test]
fn a_later_round_resets_the_received_votes_and_keeps_the_better_of_its_vote_and_ours() {
    // n.electionEpoch > logicalclock: logicalclock = n.electionEpoch, recvset.clear(), and vote
    // for the better of n's vote and our *initial* vote.
    let mut one = election(1, &[1, 2, 3, 4, 5], &[]);
    one.start(Millis(0), Zxid(0x1_0000_0009), Epoch(1));
    drain(&mut one);
    one.handle_notification(Millis(1), ServerId(2), looking(vote(1, 0x1_0000_0009, 1, 1)));
    assert_eq!(drain(&mut one), vec![]);
    one.handle_notification(Millis(2), ServerId(3), looking(vote(3, 0x1_0000_0001, 3, 1)));
    let mine_in_round_3 = vote(1, 0x1_0000_0009, 3, 1);
    assert_eq!(drain(&mut one), sends(&[2, 3, 4, 5], looking(mine_in_round_3)));
    assert_eq!(one.logical_clock(), ElectionEpoch(3));
    // 4 agrees in round 3. With 2's round-1 vote kept, {1, 2, 4} would be a quorum of 5; it is
    // gone, so there is no quorum and no finalizeWait.
    one.handle_notification(Millis(3), ServerId(4), looking(mine_in_round_3));
    assert_eq!(drain(&mut one), vec![]);
    assert_eq!(one.poll_timeout(), Some(Millis(3 + NOTIFICATION_MS)));
}

#[test]
fn a_stale_round_is_ignored_and_its_sender_told_our_round() {
    // WorkerReceiver answers a LOOKING peer whose electionEpoch lags; lookForLeader then drops
    // the notification ("Notification election epoch is smaller than logicalclock").
    let mut one = started_one_of_three();
    one.start(Millis(1), Zxid(0x1_0000_0005), Epoch(1));
    drain(&mut one);
    one.handle_notification(Millis(2), ServerId(2), looking(vote(2, 0x2_0000_0000, 1, 2)));
    let mine = vote(1, 0x1_0000_0005, 2, 1);
    assert_eq!(drain(&mut one), sends(&[2], looking(mine)));
    assert_eq!(one.current_vote(), mine);
}

#[test]
fn a_quorum_decides_once_finalize_wait_passes_without_a_better_vote() {
    let mut one = started_one_of_three();
    let two = vote(2, 0x1_0000_0006, 1, 1);
    one.handle_notification(Millis(0), ServerId(2), looking(two));
    drain(&mut one);
    one.handle_timeout(Millis(199));
    assert_eq!(drain(&mut one), vec![]);
    one.handle_timeout(Millis(200));
    assert_eq!(drain(&mut one), vec![decided(ServerState::Following, two, &[1, 2])]);
    assert_eq!(one.state(), ServerState::Following);
    assert_eq!(one.poll_timeout(), None);
}

#[test]
fn the_best_server_decides_to_lead() {
    // setPeerState: proposedLeader == myid gives LEADING.
    let mut one = started_one_of_three();
    let mine = vote(1, 0x1_0000_0005, 1, 1);
    one.handle_notification(Millis(0), ServerId(3), looking(mine));
    assert_eq!(drain(&mut one), vec![]);
    one.handle_timeout(Millis(200));
    assert_eq!(drain(&mut one), vec![decided(ServerState::Leading, mine, &[1, 3])]);
}

#[test]
fn a_vote_that_is_not_better_during_finalize_wait_is_dropped_and_the_wait_restarts() {
    // The finalizeWait loop polls again after each notification that is not better.
    let mut one = started_one_of_three();
    let two = vote(2, 0x1_0000_0006, 1, 1);
    one.handle_notification(Millis(0), ServerId(2), looking(two));
    drain(&mut one);
    one.handle_notification(Millis(50), ServerId(3), looking(vote(3, 0x1_0000_0001, 1, 1)));
    assert_eq!(drain(&mut one), vec![]);
    one.handle_timeout(Millis(200));
    assert_eq!(drain(&mut one), vec![]);
    one.handle_timeout(Millis(250));
    assert_eq!(drain(&mut one), vec![decided(ServerState::Following, two, &[1, 2])]);
}

#[test]
fn a_better_vote_during_finalize_wait_ends_it_and_is_handled() {
    // totalOrderPredicate holds in the finalizeWait loop: recvqueue.put(n), break, and the main
    // loop adopts it.
    let mut one = started_one_of_three();
    one.handle_notification(Millis(0), ServerId(2), looking(vote(2, 0x1_0000_0006, 1, 1)));
    drain(&mut one);
    let three = vote(3, 0x1_0000_0007, 1, 1);
    one.handle_notification(Millis(50), ServerId(3), looking(three));
    assert_eq!(drain(&mut one), sends(&[2, 3], looking(three)));
    one.handle_timeout(Millis(200));
    assert_eq!(drain(&mut one), vec![]);
    one.handle_timeout(Millis(250));
    assert_eq!(drain(&mut one), vec![decided(ServerState::Following, three, &[1, 3])]);
}

#[test]
fn a_late_server_joins_an_established_leader_from_another_round() {
    // case FOLLOWING/LEADING with n.electionEpoch != logicalclock: outofelection gathers a
    // quorum for leader 3, checkLeader sees 3 say LEADING, and logicalclock adopts its round.
    let mut one = started_one_of_three();
    let established = vote(3, 0x1_0000_0007, 5, 1);
    one.handle_notification(Millis(1), ServerId(2), in_state(ServerState::Following, established));
    assert_eq!(drain(&mut one), vec![]);
    one.handle_notification(Millis(2), ServerId(3), in_state(ServerState::Leading, established));
    assert_eq!(drain(&mut one), vec![decided(ServerState::Following, established, &[2, 3])]);
    assert_eq!(one.logical_clock(), ElectionEpoch(5));
}

#[test]
fn a_quorum_of_followers_is_not_enough_until_the_leader_says_it_leads() {
    // checkLeader: votes.get(leader) must exist and be LEADING, so a crashed leader's followers
    // cannot pull newcomers towards it.
    let mut one = election(1, &[1, 2, 3, 4, 5], &[]);
    one.start(Millis(0), Zxid(0x1_0000_0001), Epoch(1));
    drain(&mut one);
    let established = vote(3, 0x1_0000_0007, 1, 1);
    for follower in [2, 4, 5] {
        one.handle_notification(Millis(1), ServerId(follower), in_state(ServerState::Following, established));
        assert_eq!(drain(&mut one), vec![]);
    }
    assert_eq!(one.state(), ServerState::Looking);
    one.handle_notification(Millis(2), ServerId(3), in_state(ServerState::Leading, established));
    assert_eq!(drain(&mut one), vec![decided(ServerState::Following, established, &[2, 3, 4, 5])]);
}

#[test]
fn a_decided_server_answers_looking_voters_and_ignores_the_others() {
    // WorkerReceiver, not LOOKING: a LOOKING sender gets our current vote and state.
    let mut one = started_one_of_three();
    let two = vote(2, 0x1_0000_0006, 1, 1);
    one.handle_notification(Millis(0), ServerId(2), looking(two));
    one.handle_timeout(Millis(200));
    drain(&mut one);
    one.handle_notification(Millis(300), ServerId(3), looking(vote(3, 0x1, 4, 1)));
    assert_eq!(drain(&mut one), sends(&[3], in_state(ServerState::Following, two)));
    one.handle_notification(Millis(301), ServerId(3), in_state(ServerState::Following, two));
    assert_eq!(drain(&mut one), vec![]);
}

#[test]
fn a_voter_answers_an_observer_at_once_and_never_counts_it() {
    // WorkerReceiver: !validVoter(sid) gets an immediate answer and never reaches recvset.
    let mut one = election(1, &[1, 2, 3], &[4]);
    one.start(Millis(0), Zxid(0x1_0000_0005), Epoch(1));
    drain(&mut one);
    let observer_vote = vote(4, i64::MIN, 1, 0);
    one.handle_notification(Millis(1), ServerId(4), looking(observer_vote));
    assert_eq!(drain(&mut one), sends(&[4], looking(vote(1, 0x1_0000_0005, 1, 1))));
    assert_eq!(one.poll_timeout(), Some(Millis(NOTIFICATION_MS)), "an observer's message is not a vote");
}

#[test]
fn an_observer_proposes_nobody_and_observes_the_voters_choice() {
    let mut four = election(4, &[1, 2, 3], &[4]);
    four.start(Millis(0), Zxid(0x1_0000_0009), Epoch(1));
    assert_eq!(drain(&mut four), sends(&[1, 2, 3], looking(vote(4, i64::MIN, 1, 0))));
    let three = vote(3, 0x1_0000_0003, 1, 1);
    four.handle_notification(Millis(1), ServerId(1), looking(three));
    assert_eq!(drain(&mut four), sends(&[1, 2, 3], looking(three)));
    four.handle_notification(Millis(2), ServerId(2), looking(three));
    assert_eq!(drain(&mut four), vec![]);
    // An observer never answers, even a lagging voter: voters never read what it sends.
    four.handle_notification(Millis(3), ServerId(3), looking(vote(3, 0x1_0000_0003, 0, 1)));
    assert_eq!(drain(&mut four), vec![]);
    four.handle_timeout(Millis(203));
    assert_eq!(drain(&mut four), vec![decided(ServerState::Observing, three, &[1, 2])]);
}

#[test]
fn the_notification_timeout_doubles_up_to_its_ceiling() {
    // No notification within notTimeout: sendNotifications, then notTimeout *= 2, capped.
    let mut one = started_one_of_three();
    let mine = looking(vote(1, 0x1_0000_0005, 1, 1));
    let mut expected = Vec::new();
    let mut now = Millis(0);
    for _ in 0..4 {
        now = one.poll_timeout().expect("LOOKING has a timer");
        one.handle_timeout(now);
        assert_eq!(drain(&mut one), sends(&[2, 3], mine));
        expected.push(now.0);
    }
    assert_eq!(expected, vec![1000, 3000, 7000, 11_000]);
    assert_eq!(one.poll_timeout(), Some(now.plus(4000)));
}

#[test]
fn votes_for_non_members_and_unloaded_servers_are_ignored() {
    // validVoter(n.leader) must hold; a zxid of -1 means the sender has not loaded its data.
    let mut one = started_one_of_three();
    one.handle_notification(Millis(1), ServerId(2), looking(vote(9, 0x7_0000_0000, 1, 7)));
    one.handle_notification(Millis(2), ServerId(3), looking(vote(3, -1, 1, 7)));
    assert_eq!(drain(&mut one), vec![]);
    assert_eq!(one.current_vote(), vote(1, 0x1_0000_0005, 1, 1));
}

#[test]
fn jitter_is_drawn_from_the_seed() {
    let deadlines = |seed: u64| {
        let ids = |list: &[u64]| list.iter().copied().map(ServerId).collect();
        let config = ElectionConfig::new(ServerId(1), ids(&[1, 2, 3]), ids(&[]));
        let mut one = Election::new(config, seed);
        (0..20)
            .map(|round| {
                one.start(Millis(round * 1000), Zxid(1), Epoch(0));
                drain(&mut one);
                one.poll_timeout().expect("timer").0 - round * 1000
            })
            .collect::<Vec<u64>>()
    };
    assert_eq!(deadlines(5), deadlines(5));
    assert_ne!(deadlines(5), deadlines(6));
    assert!(deadlines(5).iter().all(|ms| (200..=220).contains(ms)));
}

#[test]
fn an_established_server_answers_with_the_epoch_its_leader_established() {
    // QuorumPeer.updateElectionVote (ZOOKEEPER-1732): once the leader is established in epoch 2,
    // the vote a LOOKING server receives carries peer epoch 2, not the 1 it was elected with.
    let mut one = started_one_of_three();
    let two = vote(2, 0x1_0000_0006, 1, 1);
    one.handle_notification(Millis(0), ServerId(2), looking(two));
    one.handle_timeout(Millis(200));
    assert_eq!(drain(&mut one).last(), Some(&decided(ServerState::Following, two, &[1, 2])));
    one.update_peer_epoch(Epoch(2));
    one.handle_notification(Millis(300), ServerId(3), looking(vote(3, 0x1, 4, 1)));
    let established = Vote { peer_epoch: Epoch(2), ..two };
    assert_eq!(drain(&mut one), sends(&[3], in_state(ServerState::Following, established)));
    assert_eq!(one.current_vote(), established);
}

#[test]
fn a_newcomer_joins_only_when_leader_and_followers_report_the_same_peer_epoch() {
    // outofelection counts votes equal in leader and peerEpoch (Vote.equals, same format
    // version): a follower still reporting the epoch its leader was elected with (1) and a
    // leader reporting the epoch it established (2) make no quorum; a follower reporting 2 does.
    let mut one = started_one_of_three();
    let elected = vote(3, 0x1_0000_0007, 5, 1);
    let established = Vote { peer_epoch: Epoch(2), ..elected };
    one.handle_notification(Millis(1), ServerId(2), in_state(ServerState::Following, elected));
    one.handle_notification(Millis(2), ServerId(3), in_state(ServerState::Leading, established));
    assert_eq!(drain(&mut one), vec![]);
    assert_eq!(one.state(), ServerState::Looking);
    one.handle_notification(Millis(3), ServerId(2), in_state(ServerState::Following, established));
    assert_eq!(drain(&mut one), vec![decided(ServerState::Following, established, &[2, 3])]);
}
