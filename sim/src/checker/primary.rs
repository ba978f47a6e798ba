//! At most one established leader per epoch. Zab (Junqueira, Reed, Serafini, "Zab:
//! High-performance broadcast for primary-backup systems", DSN 2011, §IV-A Discovery and the
//! proof of *primary integrity*): a prospective leader establishes epoch e only after a
//! quorum acknowledged NEWEPOCH/NEWLEADER for e, and two quorums intersect, so no two servers
//! ever lead the same established epoch. Two leaders of one epoch could commit different
//! transactions under equal zxids. Online: the world reports every replica's state after every
//! input.

use super::Violation;
use std::collections::BTreeMap;
use zab_core::node::ReplicaState;
use zab_core::{Epoch, ServerId};

/// The established leader of each epoch seen so far.
#[derive(Debug, Default)]
pub struct Primaries {
    leaders: BTreeMap<Epoch, ServerId>,
}

impl Primaries {
    /// Server `server` is in `state`; a violation if it leads an epoch another server led.
    pub fn on_state(&mut self, server: ServerId, state: ReplicaState) -> Option<Violation> {
        let ReplicaState::Leading { epoch: Some(epoch), established: true } = state else { return None };
        let leader = *self.leaders.entry(epoch).or_insert(server);
        (leader != server).then(|| Violation {
            checker: "primary",
            message: format!("servers {} and {} both established as leader of epoch {}", leader.0, server.0, epoch.0),
        })
    }

    /// How many epochs had an established leader.
    pub fn epochs(&self) -> usize {
        self.leaders.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_leader_of_one_epoch_is_caught_and_a_new_epoch_is_not() {
        let mut primaries = Primaries::default();
        let leading = |epoch| ReplicaState::Leading { epoch: Some(Epoch(epoch)), established: true };
        assert_eq!(primaries.on_state(ServerId(1), leading(1)), None);
        assert_eq!(primaries.on_state(ServerId(1), leading(1)), None);
        let unestablished = ReplicaState::Leading { epoch: Some(Epoch(1)), established: false };
        assert_eq!(primaries.on_state(ServerId(2), unestablished), None, "only established leaders count");
        assert_eq!(primaries.on_state(ServerId(2), leading(2)), None);
        let violation = primaries.on_state(ServerId(3), leading(2)).expect("two leaders of epoch 2");
        assert_eq!(violation.message, "servers 2 and 3 both established as leader of epoch 2");
        assert_eq!(primaries.epochs(), 2);
    }
}
