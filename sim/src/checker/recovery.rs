//! Recovery after a healed fault (issue F item 2: "after each healed fault, require a leader
//! within a stated bound, and every live server serving within its sync bound"; ZooKeeper
//! Administrator's Guide: a learner that has not synced within `initLimit` ticks is given
//! up on, so a healthy member serves within that of a leader being established). Judged over
//! samples of what each server said it was doing ([`Sample`]: a tier polls `srvr`, or reads
//! its replicas' states), from the heal on:
//!
//! - some server serves as leader within `leader_ms_max` of the heal;
//! - every live server serves (as leader or learner) within `sync_ms_max` of that.
//!
//! A safety checker passes an ensemble that never recovers; [`super::liveness`] passes one
//! where only some members serve (clients fail over to them). This one does not.

use super::Violation;

/// What one server said it was doing at one moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sample {
    /// When, ms.
    pub at_ms: u64,
    /// The server, by index.
    pub server: usize,
    /// It served clients (leader, follower or observer that is synced).
    pub serving: bool,
    /// It served as the leader.
    pub leading: bool,
}

/// The heal and the bounds recovery must meet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Recovery {
    /// When the last fault healed, ms.
    pub heal_ms: u64,
    /// A leader serves within this many ms of the heal.
    pub leader_ms_max: u64,
    /// Every live server serves within this many ms of the leader.
    pub sync_ms_max: u64,
}

/// Checks recovery from `recovery.heal_ms` on: `samples` in time order, `live` the servers
/// running from the heal on.
pub fn check(samples: &[Sample], live: &[usize], recovery: &Recovery) -> Vec<Violation> {
    let after_heal = || samples.iter().filter(|s| s.at_ms >= recovery.heal_ms);
    let leader_deadline_ms = recovery.heal_ms + recovery.leader_ms_max;
    let mut violations = Vec::new();
    let leader_ms = match after_heal().find(|s| s.serving && s.leading) {
        Some(sample) if sample.at_ms <= leader_deadline_ms => sample.at_ms,
        found => {
            let seen = found.map_or("none seen".to_string(), |s| format!("first at {} ms", s.at_ms));
            violations.push(violation(format!(
                "no leader within {} ms of the heal at {} ms ({seen})",
                recovery.leader_ms_max, recovery.heal_ms
            )));
            leader_deadline_ms
        }
    };
    let sync_deadline_ms = leader_ms + recovery.sync_ms_max;
    for server in live {
        let serving = after_heal().find(|s| s.server == *server && s.serving).map(|s| s.at_ms);
        if serving.is_none_or(|at_ms| at_ms > sync_deadline_ms) {
            let seen = serving.map_or("never seen serving".to_string(), |at_ms| format!("first at {at_ms} ms"));
            violations.push(violation(format!(
                "n{server} was not serving within {} ms of the leader at {leader_ms} ms ({seen})",
                recovery.sync_ms_max
            )));
        }
    }
    violations
}

fn violation(message: String) -> Violation {
    Violation { checker: "recovery", message }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RECOVERY: Recovery = Recovery { heal_ms: 1_000, leader_ms_max: 2_000, sync_ms_max: 1_000 };

    fn sample(at_ms: u64, server: usize, serving: bool, leading: bool) -> Sample {
        Sample { at_ms, server, serving, leading }
    }

    #[test]
    fn a_leader_in_time_and_every_member_synced_in_time_passes() {
        let samples = [
            sample(500, 0, true, true),
            sample(1_200, 0, false, false),
            sample(2_500, 1, true, true),
            sample(3_000, 0, true, false),
            sample(3_400, 2, true, false),
        ];
        assert_eq!(check(&samples, &[0, 1, 2], &RECOVERY), vec![]);
    }

    #[test]
    fn a_late_leader_is_caught_and_what_served_before_the_heal_does_not_count() {
        let samples = [sample(900, 0, true, true), sample(3_100, 1, true, true), sample(3_200, 0, true, false)];
        let found = check(&samples, &[0, 1], &RECOVERY);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].message.contains("no leader within 2000 ms"), "{found:?}");
    }

    #[test]
    fn a_member_that_never_serves_or_serves_late_is_caught() {
        let samples = [sample(1_500, 0, true, true), sample(2_600, 1, true, false), sample(2_400, 2, false, false)];
        let found = check(&samples, &[0, 1, 2], &RECOVERY);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].message.contains("n1 was not serving within 1000 ms of the leader at 1500 ms"));
        assert!(found[1].message.contains("n2 was not serving") && found[1].message.contains("never seen"));
    }

    #[test]
    fn a_server_that_is_not_live_is_not_required() {
        let samples = [sample(1_500, 0, true, true), sample(1_600, 1, true, false)];
        assert_eq!(check(&samples, &[0, 1], &RECOVERY), vec![]);
        assert_eq!(check(&samples, &[0, 1, 2], &RECOVERY).len(), 1);
    }
}
