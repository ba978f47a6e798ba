//! zab-net: the real runtime. zoo.cfg parsing ([`config`]), durable storage ([`storage`]),
//! and the tokio server with its four-letter words ([`server`]); the `zab` binary drives them.

pub mod config;
pub mod server;
pub mod storage;
