//! Peer messages go through ZooKeeper's quorum codec on their way (issue F item 7): the
//! sender's message is encoded as the wire bytes `net-real` would write and decoded under
//! the receiver's own `jute.maxbuffer` (`QuorumLimits`), as a real follower reads them.
//! A message the receiver cannot decode breaks the link, as `net-real` closes it, and is a
//! violation: a write the leader accepted must never be one its followers refuse (ZooKeeper
//! became unavailable exactly so: ZOOKEEPER-3496, ZOOKEEPER-4306).
//!
//! Election notifications are fixed-size and skip the codec.

use super::World;
use crate::checker::Violation;
use zab_core::node::PeerMessage;
use zab_core::quorum::{QuorumLimits, QuorumMessage, WireDatabase};

impl World {
    /// `message` as server `to` decodes it, or `None` (the link broken, a violation recorded).
    pub(super) fn through_quorum_codec(&mut self, from: usize, to: usize, message: PeerMessage) -> Option<PeerMessage> {
        let limits = QuorumLimits::new(self.servers[to].config.max_buffer);
        let decoded = match &message {
            PeerMessage::Election(_) => return Some(message),
            PeerMessage::Quorum(quorum) => {
                QuorumMessage::decode(&quorum.encode(), limits).map(PeerMessage::Quorum).map_err(|e| e.to_string())
            }
            PeerMessage::SnapDatabase(database) => {
                let bytes = database.encode_snap_stream();
                match WireDatabase::decode_snap_stream_prefix(&bytes, limits) {
                    Ok(Some((decoded, used))) if used == bytes.len() => {
                        Ok(PeerMessage::SnapDatabase(Box::new(decoded)))
                    }
                    Ok(_) => Err("the SNAP database does not end where it should".to_string()),
                    Err(error) => Err(error.to_string()),
                }
            }
        };
        match decoded {
            Ok(decoded) => Some(decoded),
            Err(error) => {
                let what = super::peer_io::describe_peer(&message);
                self.violation(Violation {
                    checker: "quorum_codec",
                    message: format!(
                        "n{to} (jute.maxbuffer {}) cannot decode {what} from n{from}: {error}",
                        limits.max_buffer
                    ),
                });
                if self.peers.break_link(from, to) {
                    self.schedule_break_notices(from, to);
                }
                None
            }
        }
    }
}
