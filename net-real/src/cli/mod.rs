//! The `zab` binary's subcommands other than the server loop itself: moving data over from
//! Apache ZooKeeper ([`migrate`]), printing snapshots and logs of either format
//! ([`inspect`]), and the zkCli.sh workalike `zab cli` ([`zkcli`], not in the madsim build:
//! it runs on real tokio through the `zookeeper-client` crate).

pub mod inspect;
pub mod migrate;
#[cfg(not(madsim))]
pub mod zkcli;
