//! Shared helpers for zab integration tests: Apache ZooKeeper as an oracle, a small blocking
//! client on zab-core's codec that speaks to any ZooKeeper server, and the soak of the real
//! binary in network namespaces ([`soak`]).

pub mod http;
pub mod local;
pub mod oracle;
pub mod server;
// Real tokio and the third-party client: not in the madsim build.
#[cfg(not(madsim))]
pub mod soak;
pub mod wire;
