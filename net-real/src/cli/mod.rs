//! The `zab` binary's subcommands other than the server loop itself: moving data over from
//! Apache ZooKeeper ([`migrate`]), printing snapshots and logs of either format
//! ([`inspect`]), zkServer.sh-like control ([`control`]) and the zkCli.sh workalike `zab cli` ([`zkcli`], not in the madsim build:
//! it runs on real tokio through the `zookeeper-client` crate).

#[cfg(not(madsim))]
pub mod control;
pub mod inspect;
pub mod migrate;
#[cfg(not(madsim))]
pub mod zkcli;
