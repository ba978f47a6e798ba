//! Randomized elections: 3 and 5 voters (sometimes with an observer) with random (epoch, zxid)
//! histories, random boot times, random latencies and drops, over many seeds. Every decision is
//! checked against ZooKeeper's rule (`lookForLeader`): the decided vote is the leader's own
//! (epoch, zxid), it is backed by a quorum of voters, and it is maximal among the voters that
//! backed it while LOOKING (`totalOrderPredicate` only ever moves a vote up from a server's own).
//! A failing seed prints itself; rerun it with `simulate(seed, options)`.

use super::harness::{Cluster, Decision, STEPS_MAX};
use super::{Notification, ServerState, Vote};
use crate::ids::{Epoch, Millis, ServerId, Zxid};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::cmp::Ordering;

#[derive(Clone, Copy, Debug)]
struct Options {
    voters: u64,
    observers: u64,
    start_spread_ms: u64,
    delay_ms_max: u64,
    drop_per_mille: u32,
    duration_ms: u64,
}

/// One run: boots every server at a random time and runs the network until `duration_ms`.
fn simulate(seed: u64, options: Options) -> Cluster {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut cluster = Cluster::new(options.voters, options.observers, seed, 20);
    let mut boots: Vec<(Millis, ServerId, Zxid, Epoch)> = Vec::new();
    for id in cluster.servers.keys() {
        let current_epoch = rng.gen_range(0..=2u32);
        let zxid = Zxid::new(Epoch(rng.gen_range(0..=current_epoch)), rng.gen_range(0..=3));
        boots.push((Millis(rng.gen_range(0..=options.start_spread_ms)), *id, zxid, Epoch(current_epoch)));
    }
    boots.sort();
    boots.reverse();
    let mut network = ChaCha8Rng::seed_from_u64(seed ^ 0x006e_6574_776f_726b);
    let mut delay = || {
        if network.gen_range(0..1000) < options.drop_per_mille {
            None
        } else {
            Some(network.gen_range(0..=options.delay_ms_max))
        }
    };
    for _ in 0..STEPS_MAX {
        let boot = boots.last().map(|boot| boot.0);
        let message = cluster.next_message().map(|message| message.0);
        let timeout = cluster.next_timeout().map(|timeout| timeout.0);
        let Some(at) = [boot, message, timeout].into_iter().flatten().min() else { break };
        if at.0 > options.duration_ms {
            break;
        }
        cluster.now = at;
        if boot == Some(at) {
            let (_, id, zxid, epoch) = boots.pop().expect("due boot");
            cluster.start(id, zxid, epoch, &mut delay);
        } else if message == Some(at) {
            let (_, from, to) = cluster.next_message().expect("due message");
            cluster.deliver(from, to, &mut delay);
        } else {
            let (_, id) = cluster.next_timeout().expect("due timeout");
            cluster.fire_timeout(id, &mut delay);
        }
    }
    cluster
}

/// The vote a server opens each round with.
fn own_vote(cluster: &Cluster, id: ServerId) -> Vote {
    let (epoch, zxid) = cluster.servers[&id].history.expect("booted");
    Vote { leader: id, zxid, election_epoch: super::ElectionEpoch(0), peer_epoch: epoch }
}

/// ZooKeeper's rule, checked for one decision.
fn check_decision(cluster: &Cluster, decision: &Decision, seed: u64) {
    let voters = &cluster.servers[&decision.server].election.config().voters;
    let context = format!("seed {seed}: {decision:?}");
    assert_eq!(decision.leader, decision.vote.leader, "{context}");
    let expected_state = if decision.leader == decision.server {
        ServerState::Leading
    } else if voters.contains(&decision.server) {
        ServerState::Following
    } else {
        ServerState::Observing
    };
    assert_eq!(decision.my_state, expected_state, "{context}");
    // A vote only travels: it is the leader's own epoch and zxid.
    assert_eq!(own_vote(cluster, decision.leader).order(&decision.vote), Ordering::Equal, "{context}");
    assert!(decision.supporters.iter().all(|id| voters.contains(id)), "{context}");
    assert!(decision.supporters.len() * 2 > voters.len(), "not a quorum: {context}");
    let mut backed_while_looking = 0;
    for supporter in &decision.supporters {
        let heard: &[Notification] = if *supporter == decision.server { &[] } else { &decision.heard[supporter] };
        // The decider counts itself only through its own LOOKING vote.
        let looking = *supporter == decision.server
            || heard.iter().any(|n| n.state == ServerState::Looking && n.vote == decision.vote);
        let established = heard.iter().any(|n| {
            n.state != ServerState::Looking
                && n.vote.leader == decision.vote.leader
                && n.vote.peer_epoch == decision.vote.peer_epoch
        });
        assert!(looking || established, "supporter {} never backed the vote: {context}", supporter.0);
        if looking {
            backed_while_looking += 1;
            // The elected vote is maximal among those that backed it while electing.
            let own = own_vote(cluster, *supporter);
            assert_ne!(decision.vote.order(&own), Ordering::Less, "{} had more: {context}", supporter.0);
        }
    }
    if backed_while_looking == 0 && decision.leader != decision.server {
        // Joining an established ensemble needs the leader's own word (checkLeader).
        let leader_said = decision.heard.get(&decision.leader).is_some_and(|heard| {
            heard.iter().any(|n| n.state == ServerState::Leading && n.vote.leader == decision.leader)
        });
        assert!(leader_said, "joined a leader that never said LEADING: {context}");
    }
}

/// Every LOOKING notification a voter sent is at least its own vote (totalOrderPredicate).
fn check_sent_votes(cluster: &Cluster, seed: u64) {
    for ((from, _), notifications) in &cluster.delivered {
        if !cluster.servers[from].election.config().is_voter() {
            continue;
        }
        let own = own_vote(cluster, *from);
        for notification in notifications.iter().filter(|n| n.state == ServerState::Looking) {
            assert_ne!(notification.vote.order(&own), Ordering::Less, "seed {seed}: {} sent {notification}", from.0);
        }
    }
}

const SEEDS: u64 = 1000;

#[test]
fn every_decision_follows_zookeepers_rule_under_delays_and_drops() {
    let mut decisions = 0;
    for seed in 0..SEEDS {
        let voters = if seed % 2 == 0 { 3 } else { 5 };
        let options = Options {
            voters,
            observers: seed % 3 % 2,
            start_spread_ms: 1000,
            delay_ms_max: 500,
            drop_per_mille: 100,
            duration_ms: 20_000,
        };
        let cluster = simulate(seed, options);
        for decision in &cluster.decisions {
            check_decision(&cluster, decision, seed);
        }
        check_sent_votes(&cluster, seed);
        decisions += cluster.decisions.len();
    }
    // Not vacuous: most servers of most runs decide despite the drops.
    assert!(decisions as u64 > 3 * SEEDS, "only {decisions} decisions");
}

#[test]
fn without_drops_every_server_decides_in_bounded_time() {
    for seed in 0..SEEDS {
        let voters = if seed % 2 == 0 { 3 } else { 5 };
        let options = Options {
            voters,
            observers: seed % 3 % 2,
            start_spread_ms: 1000,
            delay_ms_max: 500,
            drop_per_mille: 0,
            duration_ms: 10_000,
        };
        let cluster = simulate(seed, options);
        for decision in &cluster.decisions {
            check_decision(&cluster, decision, seed);
        }
        for (id, server) in &cluster.servers {
            assert_ne!(server.election.state(), ServerState::Looking, "seed {seed}: server {} still LOOKING", id.0);
        }
    }
}

#[test]
fn servers_that_boot_within_one_finalize_wait_agree_on_the_best_vote() {
    // If every initial vote reaches everyone before anyone's 200 ms finalizeWait can end (boot
    // spread + latency < 200 ms, no drops), every decider has heard every vote, so all decide
    // the best one in round 1.
    for seed in 0..SEEDS {
        let voters = if seed % 2 == 0 { 3 } else { 5 };
        let options = Options {
            voters,
            observers: seed % 3 % 2,
            start_spread_ms: 90,
            delay_ms_max: 100,
            drop_per_mille: 0,
            duration_ms: 10_000,
        };
        let cluster = simulate(seed, options);
        let best = cluster
            .servers
            .keys()
            .filter(|id| cluster.servers[id].election.config().is_voter())
            .map(|id| own_vote(&cluster, *id))
            .max_by(|a, b| a.order(b))
            .expect("voters");
        assert_eq!(cluster.decisions.len(), cluster.servers.len(), "seed {seed}: everyone decides");
        for decision in &cluster.decisions {
            check_decision(&cluster, decision, seed);
            assert_eq!(decision.leader, best.leader, "seed {seed}: {decision:?}");
            assert_eq!(decision.vote.election_epoch.0, 1, "seed {seed}: {decision:?}");
            assert!(decision.at <= Millis(1000), "seed {seed}: slow: {decision:?}");
        }
    }
}
