//! zab-sim: the seeded world that drives zab-core nodes over virtual time.
//!
//! One seed decides everything (STYLE.md rule 6): the [`options`] of the run (which faults are
//! on, how often, how many clients, which operations), and through child generators
//! ([`rng`]) every latency, loss, fsync time, crash and client choice. The [`queue`] jumps
//! virtual time from one deadline to the next, so a minute of simulated time takes
//! milliseconds.
//!
//! The parts:
//! - [`world`]: the driver: delivers client input to the `Node`, executes its outputs, runs
//!   its timers on a skewed clock, crashes and restarts it from its disk; a swarm run has a
//!   safety phase (faults) and a liveness phase (healed);
//! - [`network`]: client connections with latency, in-order delivery, loss (= a broken
//!   connection), clogs;
//! - [`peers`]: the links between ensemble members: FIFO per link, loss breaks a link,
//!   partitions (symmetric, one-way, leader isolated, minority cut);
//! - [`disk`]: a log with fsync semantics (group commit) and a snapshot store; crashes lose or
//!   tear unsynced tails;
//! - [`client`]: simulated ZooKeeper clients: sessions, pipelining, pings, watches,
//!   reconnects with session id, password and last zxid seen;
//! - [`history`]: what clients asked and observed, for the [`checker`]s;
//! - [`script`]: the scenario DSL (short stories, run against a quiet world);
//! - [`trace`]: one line per event and a running hash (same seed, same hash).
//!
//! ```no_run
//! let report = zab_sim::World::swarm(42, false).run();
//! assert!(report.violations.is_empty(), "replay: cargo run -p zab-scenarios --bin zab-sim -- --seed 42");
//! ```
#![deny(missing_docs)]

pub mod checker;
pub mod client;
pub mod disk;
pub mod history;
pub mod network;
pub mod options;
pub mod peers;
pub mod queue;
pub mod rng;
pub mod script;
pub mod trace;
pub mod world;

pub use world::{RunReport, World};
