//! ZAB, the protocol that replicates the log: its vocabulary at the node's peer boundary and
//! the pieces of its phases that hold no state of their own.
//!
//! - [`PeerMessage`]: what one server sends another. The quorum codec's
//!   [`QuorumMessage`] is the one vocabulary (ZooKeeper's
//!   names, zookeeper-features.md §5.4); election notifications travel in the codec's wire
//!   form ([`crate::wire::election::WireNotification`]), mapped to and from the election's
//!   [`Notification`](crate::election::Notification) in [`crate::election::wire`].
//! - [`sync`]: how a leader brings a learner up to date (`LearnerHandler.syncFollower`):
//!   the DIFF, TRUNC or SNAP choice ([`plan_sync`]) and the tree as a SNAP carries it.
//! - [`is_quorum`] and [`voters`]: who counts.
//!
//! - [`learner::Learner`]: the learner's discovery, synchronization and broadcast, as a
//!   machine that owns its progress with the leader and answers inputs with effects.
//!
//! The leader's phases still run as methods of [`crate::Node`] (`node/leader.rs`; see
//! docs/ARCHITECTURE.md).

pub mod learner;
pub mod sync;

pub use sync::{database_from_snapshot, plan_sync, snapshot_from_database, SyncPlan};

use crate::ids::ServerId;
use crate::wire::quorum::{QuorumMessage, WireDatabase};
use serde::{Deserialize, Serialize};

/// How a server takes part in the ensemble (`server.N=...[:participant|:observer]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum PeerRole {
    /// Votes in elections and in proposal quorums.
    Participant,
    /// Learns every committed transaction (INFORM) but never votes (zookeeperObservers.md).
    Observer,
}

/// One message between servers. The driver carries it on the election port (3888) or the
/// quorum port (2888) with the codecs in [`crate::wire::quorum`]; between two messages of one
/// ordered pair of servers it must keep the order (TCP).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PeerMessage {
    /// A Fast Leader Election notification (election port).
    Election(crate::wire::election::WireNotification),
    /// A quorum packet (quorum port).
    Quorum(QuorumMessage),
    /// The database that follows a `Snap` packet on the quorum stream
    /// ([`WireDatabase::encode_snap_stream`]); always sent right after `Quorum(Snap)`.
    SnapDatabase(Box<WireDatabase>),
}

/// `quorum.LearnerInfo.protocolVersion` and LEADERINFO's data since ZooKeeper 3.4.
pub const PROTOCOL_VERSION: i32 = 0x10000;

/// Whether `count` of `voters` make a quorum (a strict majority).
pub fn is_quorum(count: usize, voters: usize) -> bool {
    count * 2 > voters
}

/// The voters of an ensemble, in id order.
pub fn voters(peers: &std::collections::BTreeMap<ServerId, PeerRole>) -> Vec<ServerId> {
    peers.iter().filter(|(_, role)| **role == PeerRole::Participant).map(|(id, _)| *id).collect()
}
