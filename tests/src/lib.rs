//! Shared helpers for zab integration tests: Apache ZooKeeper as an oracle, and a small
//! blocking client on zab-core's codec that speaks to any ZooKeeper server.

pub mod local;
pub mod oracle;
pub mod server;
pub mod wire;
