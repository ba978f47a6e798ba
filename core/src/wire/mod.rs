//! Every wire codec, one per port, each sans-IO and total (any bytes decode to a value or an
//! error, never a panic):
//!
//! - [`client`]: the client protocol (port 2181): jute records, requests, replies, events.
//! - [`quorum`]: the leader–learner protocol (port 2888): packets, proposals' transactions,
//!   the SNAP database.
//! - [`election`]: Fast Leader Election's port (3888): the handshake and notification frames.
//!
//! The machines above read and write these types; nothing here decides anything.

pub mod client;
pub mod election;
pub mod quorum;
