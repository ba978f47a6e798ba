//! zab-core: the sans-IO heart of zab, a ZooKeeper-compatible coordination service.
//!
//! Nothing in this crate touches a socket, a file, a clock, a thread or an OS random source.
//! Time, client requests, peer messages and disk completions are *inputs*; replies, watch
//! events, records to persist and timers to arm are *outputs*. See `docs/ARCHITECTURE.md`.
//!
//! # Driving a [`Node`]
//!
//! 1. Build it from its configuration and what was recovered from disk: [`Node::new`]; tell
//!    it the wall clock with [`Node::set_wall_clock`].
//! 2. Feed every input through a `handle_*` method with the current time: a *monotonic*
//!    clock, which drives every timer (session expiry, ticks, election and sync deadlines).
//!    The wall clock is only for what ZooKeeper stamps with wall time (ctime, mtime) and the
//!    TTL sweep that compares with mtime; call [`Node::set_wall_clock`] again whenever it
//!    may have stepped (before every input is fine), and after rebuilding the node.
//! 3. After each call, drain [`Node::poll_output`] and execute each [`Output`] in order:
//!    send a reply, write and fsync records (then call [`Node::handle_persisted`] with the
//!    token), close a connection, ...
//! 4. Sleep until [`Node::poll_timeout`] (or the next input) and call
//!    [`Node::handle_timeout`].
//!
//! The simulator (`zab-sim`) does exactly this over virtual time; the real server
//! (`zab-net`) does it over tokio.
#![deny(missing_docs)]

pub mod constants;
pub mod election;
pub mod error;
pub mod ids;
#[cfg(feature = "mutants")]
pub mod mutants;
pub mod node;
pub mod session;
pub mod tree;
pub mod txn;
pub mod watch;
pub mod wire;
pub mod zab;

pub use error::ErrorCode;
pub use ids::{ConnectionId, Epoch, Millis, PersistToken, ServerId, SessionId, Xid, Zxid};
pub use node::{ClientEvent, Config, DurableState, Node, Output, PeerMessage, PeerRole, Snapshot};

// old path, kept for branches in flight; remove after merge
#[doc(hidden)]
pub use wire::client as proto;
// old path, kept for branches in flight; remove after merge
#[doc(hidden)]
pub mod quorum {
    pub use crate::wire::election;
    pub use crate::wire::election::{
        decode_election_frame, encode_election_frame, ElectionHandshake, WireNotification as Notification,
        WireServerState as ServerState,
    };
    pub use crate::wire::quorum::*;
}
