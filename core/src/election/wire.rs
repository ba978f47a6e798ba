//! The election's notifications as the election port carries them: the mapping between the
//! logical [`Notification`] the machine reads and writes and the 3.8 wire form
//! ([`WireNotification`]).

use super::{ElectionEpoch, Notification, ServerState, Vote};
use crate::ids::Epoch;
use crate::wire::election::{WireNotification, WireServerState, NOTIFICATION_VERSION_CURRENT};

/// The election's logical notification in the 3.8 wire form. The config text is left empty:
/// there is no dynamic reconfiguration here.
pub fn notification_to_wire(notification: &Notification) -> WireNotification {
    let vote = notification.vote;
    WireNotification {
        state: state_to_wire(notification.state),
        leader: vote.leader,
        zxid: vote.zxid,
        election_epoch: vote.election_epoch.0,
        peer_epoch: Some(u64::from(vote.peer_epoch.0)),
        version: NOTIFICATION_VERSION_CURRENT,
        config: Vec::new(),
    }
}

/// A wire notification as the election reads it. A 28-byte notification has no peer epoch:
/// ZooKeeper then takes the epoch of the zxid. A peer epoch beyond 32 bits cannot be a ZAB
/// epoch; it is clamped so it still compares as the largest.
pub fn notification_from_wire(notification: &WireNotification) -> Notification {
    let peer_epoch = match notification.peer_epoch {
        Some(epoch) => Epoch(u32::try_from(epoch).unwrap_or(u32::MAX)),
        None => notification.zxid.epoch(),
    };
    Notification {
        state: state_from_wire(notification.state),
        vote: Vote {
            leader: notification.leader,
            zxid: notification.zxid,
            election_epoch: ElectionEpoch(notification.election_epoch),
            peer_epoch,
        },
    }
}

fn state_to_wire(state: ServerState) -> WireServerState {
    use ServerState as S;
    match state {
        S::Looking => WireServerState::Looking,
        S::Following => WireServerState::Following,
        S::Leading => WireServerState::Leading,
        S::Observing => WireServerState::Observing,
    }
}

fn state_from_wire(state: WireServerState) -> ServerState {
    use WireServerState as S;
    match state {
        S::Looking => ServerState::Looking,
        S::Following => ServerState::Following,
        S::Leading => ServerState::Leading,
        S::Observing => ServerState::Observing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{ServerId, Zxid};

    #[test]
    fn notifications_map_to_the_wire_and_back() {
        let vote = Vote {
            leader: ServerId(3),
            zxid: Zxid::new(Epoch(2), 9),
            election_epoch: ElectionEpoch(4),
            peer_epoch: Epoch(2),
        };
        let logical = Notification { state: ServerState::Following, vote };
        let wire = notification_to_wire(&logical);
        assert_eq!(wire.state, WireServerState::Following);
        assert_eq!((wire.election_epoch, wire.peer_epoch, wire.version), (4, Some(2), 2));
        assert_eq!(WireNotification::decode(&wire.encode()).as_ref(), Ok(&wire));
        assert_eq!(notification_from_wire(&wire), logical);
        // The 28-byte form has no peer epoch: the zxid's epoch stands in, as in ZooKeeper.
        let old = WireNotification { peer_epoch: None, version: 0, ..wire };
        assert_eq!(notification_from_wire(&old).vote.peer_epoch, Epoch(2));
    }
}
