//! zab-net: the real runtime (being built; see README "Not done yet").

pub mod config;
pub mod storage;
