//! zab-net: the real runtime. zoo.cfg parsing ([`config`]), durable storage ([`storage`]),
//! the tokio server with its four-letter words ([`server`]), and a small async client on the
//! core's codec ([`client`]); the `zab` binary drives them.

pub mod admin;
pub mod cli;
pub mod client;
pub mod config;
pub mod server;
pub mod storage;
