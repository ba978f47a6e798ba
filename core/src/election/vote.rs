//! Votes and notifications: the values Fast Leader Election exchanges.
//!
//! These are the logical forms; the quorum codec (`core/src/quorum/`) owns the 3888 wire form
//! (zookeeper-features.md §5.2), and the node maps between the two.

use crate::ids::{Epoch, ServerId, Zxid};
use std::cmp::Ordering;
use std::fmt;

/// ZooKeeper's `logicalclock`: the number of the election round, carried in every notification
/// as `electionEpoch`. Not to be confused with [`Epoch`], the ZAB epoch of a proposed leader.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ElectionEpoch(pub u64);

impl fmt::Display for ElectionEpoch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// `QuorumPeer.ServerState`, in ZooKeeper's ordinal order (the wire sends the ordinal).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ServerState {
    /// Electing a leader (ordinal 0).
    Looking,
    /// Following an elected leader (ordinal 1).
    Following,
    /// Leading (ordinal 2).
    Leading,
    /// Observing: a non-voting learner (ordinal 3).
    Observing,
}

impl ServerState {
    /// The name ZooKeeper logs and `srvr` prints, upper case.
    pub fn name(self) -> &'static str {
        match self {
            ServerState::Looking => "LOOKING",
            ServerState::Following => "FOLLOWING",
            ServerState::Leading => "LEADING",
            ServerState::Observing => "OBSERVING",
        }
    }
}

/// A vote: who should lead, and why (`Vote.java`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Vote {
    /// The proposed leader (`Vote.id`).
    pub leader: ServerId,
    /// The proposed leader's last logged zxid.
    pub zxid: Zxid,
    /// The election round the vote was cast in (the voter's `logicalclock`).
    pub election_epoch: ElectionEpoch,
    /// The proposed leader's current epoch (`peerEpoch`).
    pub peer_epoch: Epoch,
}

impl Vote {
    /// `totalOrderPredicate`'s order: peer epoch, then zxid, then server id. The election epoch
    /// plays no part: rounds are compared separately, before votes are.
    pub fn order(&self, other: &Vote) -> Ordering {
        (self.peer_epoch, self.zxid, self.leader).cmp(&(other.peer_epoch, other.zxid, other.leader))
    }
}

impl fmt::Display for Vote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "leader={} zxid={} round={} peer_epoch={}",
            self.leader.0, self.zxid, self.election_epoch, self.peer_epoch.0
        )
    }
}

/// One Fast Leader Election notification (`FastLeaderElection.Notification`): the sender's
/// state and its current vote. The sender's id is the connection's, passed alongside.
///
/// Not carried: the message format `version` (always `CURRENTVERSION` 2 on the wire) and the
/// sender's quorum configuration (no reconfig here); the codec fills both in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Notification {
    /// The sender's state.
    pub state: ServerState,
    /// The sender's vote.
    pub vote: Vote,
}

impl Notification {
    /// `Vote.equals` as the vote tracker uses it: if either side is LOOKING, all four fields
    /// must match; between servers out of election only leader and peer epoch count, because
    /// their zxid and round may legitimately differ (ZOOKEEPER-1805).
    pub fn agrees_with(&self, other: &Notification) -> bool {
        if self.state == ServerState::Looking || other.state == ServerState::Looking {
            return self.vote == other.vote;
        }
        self.vote.leader == other.vote.leader && self.vote.peer_epoch == other.vote.peer_epoch
    }
}

impl fmt::Display for Notification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.state.name(), self.vote)
    }
}
