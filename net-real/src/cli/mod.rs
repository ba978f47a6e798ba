//! The `zab` binary's subcommands other than the server loop itself: moving data over from
//! Apache ZooKeeper ([`migrate`]) and printing snapshots and logs of either format
//! ([`inspect`]).

pub mod inspect;
pub mod migrate;
