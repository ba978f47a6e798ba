//! Golden transcripts (STYLE.md rule 5): scripts in `testdata/*.txt`, run by a tiny command
//! language, whose printed traces are insta snapshots in `snapshots/`. Read a snapshot diff as
//! a sequence diagram; accept it only when you understand why it changed.
//!
//! Commands (one per line; `#` lines are comments, echoed):
//! - `add-nodes 3` or `add-nodes 3 observers=1`: voters 1..=3, then observers; jitter 0..=20 ms.
//! - `start 1 zxid=0x100000005` or `start 1 zxid=0x5 epoch=2`: server 1 starts a round with that
//!   last zxid and current epoch (default: the zxid's epoch).
//! - `deliver 1->2`: the oldest message from 1 to 2 arrives.
//! - `deliver-all`: every message arrives, first sent first, including those sent meanwhile.
//! - `drop 1->2`: the oldest message from 1 to 2 is lost.
//! - `tick 200`: 200 ms pass; due timeouts fire in time order (messages wait for `deliver`).
//! - `crash 3`: server 3 stops; messages to and from it are lost.
//! - `establish 2 epoch=2`: server 2's leader is established in epoch 2 (`update_peer_epoch`).
//! - `status`: each server's state, vote and next timeout.

use super::harness::{Cluster, STEPS_MAX};
use crate::ids::{Epoch, Millis, ServerId, Zxid};
use std::fmt::Write;

/// Runs a script and returns its trace.
fn run(script: &str) -> String {
    let mut cluster: Option<Cluster> = None;
    let mut out = String::new();
    let mut instant = || Some(0);
    for line in script.lines() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        writeln!(out, "{line}").unwrap();
        if line.starts_with('#') {
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        if words[0] == "add-nodes" {
            let voters = words[1].parse().expect("voter count");
            let observers =
                words.get(2).map_or(0, |w| w.strip_prefix("observers=").expect("observers=").parse().unwrap());
            let mut built = Cluster::new(voters, observers, 0, 20);
            built.tracing = true;
            cluster = Some(built);
            continue;
        }
        let cluster = cluster.as_mut().expect("add-nodes comes first");
        match words[0] {
            "start" => {
                let id = server(words[1]);
                let zxid = Zxid(hex(words[2].strip_prefix("zxid=").expect("zxid=")));
                let epoch =
                    words.get(3).map_or(zxid.epoch(), |w| Epoch(w.strip_prefix("epoch=").unwrap().parse().unwrap()));
                cluster.start(id, zxid, epoch, &mut instant);
            }
            "deliver" => {
                let (from, to) = pair(words[1]);
                assert!(cluster.deliver(from, to, &mut instant), "nothing in flight on {line}");
            }
            "deliver-all" => {
                let mut steps = 0;
                while let Some((_, from, to)) = cluster.next_message() {
                    cluster.deliver(from, to, &mut instant);
                    steps += 1;
                    assert!(steps < STEPS_MAX, "deliver-all does not settle");
                }
            }
            "drop" => {
                let (from, to) = pair(words[1]);
                let message = cluster.channels.get_mut(&(from, to)).and_then(|q| q.pop_front()).expect("in flight");
                writeln!(cluster.trace, "  lost {}->{}: {}", from.0, to.0, message.notification).unwrap();
            }
            "tick" => tick(cluster, words[1].parse().expect("ms")),
            "crash" => cluster.crash(server(words[1])),
            "establish" => {
                let epoch = Epoch(words[2].strip_prefix("epoch=").expect("epoch=").parse().expect("epoch"));
                let election = &mut cluster.servers.get_mut(&server(words[1])).expect("known server").election;
                election.update_peer_epoch(epoch);
                election.check_invariants();
            }
            "status" => status(cluster),
            other => panic!("unknown command {other}"),
        }
        out.push_str(&cluster.trace);
        cluster.trace.clear();
    }
    out
}

fn tick(cluster: &mut Cluster, ms: u64) {
    let until = cluster.now.plus(ms);
    let mut instant = || Some(0);
    while let Some((at, id)) = cluster.next_timeout().filter(|(at, _)| *at <= until) {
        cluster.now = at;
        writeln!(cluster.trace, "  t={}", at.0).unwrap();
        cluster.fire_timeout(id, &mut instant);
    }
    cluster.now = until;
}

fn status(cluster: &mut Cluster) {
    for (id, server) in &cluster.servers {
        let election = &server.election;
        let timeout = election.poll_timeout().map_or("none".to_string(), |at: Millis| at.0.to_string());
        let up = if server.up { "" } else { " (down)" };
        writeln!(
            cluster.trace,
            "  {}{up}: {} {} next_timeout={timeout}",
            id.0,
            election.state().name(),
            election.current_vote()
        )
        .unwrap();
    }
}

fn server(word: &str) -> ServerId {
    ServerId(word.parse().expect("server id"))
}

fn pair(word: &str) -> (ServerId, ServerId) {
    let (from, to) = word.split_once("->").expect("from->to");
    (server(from), server(to))
}

fn hex(word: &str) -> i64 {
    i64::from_str_radix(word.strip_prefix("0x").expect("0x..."), 16).expect("hex")
}

macro_rules! transcript {
    ($name:ident) => {
        #[test]
        fn $name() {
            let script = include_str!(concat!("testdata/", stringify!($name), ".txt"));
            insta::assert_snapshot!(stringify!($name), run(script));
        }
    };
}

transcript!(campaign);
transcript!(better_vote_during_finalize_wait);
transcript!(join_established_ensemble);
transcript!(observer_learns_leader);
transcript!(leader_crash_and_new_round);
transcript!(two_leaders_in_one_round);
transcript!(join_after_the_epoch_is_established);
