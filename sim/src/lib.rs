//! zab-sim: the seeded world that drives zab-core nodes over virtual time.
//!
//! One seed decides everything (STYLE.md rule 6): the [`options`] of the run (which faults are
//! on, how often, how many clients, which operations), and through child generators
//! ([`rng`]) every latency, loss, fsync time, crash and client choice. The [`queue`] jumps
//! virtual time from one deadline to the next, so a minute of simulated time takes
//! milliseconds.
//!
//! The parts:
//! - [`network`]: client connections with latency, in-order delivery, loss (= a broken
//!   connection), clogs;
//! - [`disk`]: a log with fsync semantics and a snapshot store; crashes tear unsynced tails;
//! - [`history`]: what clients asked and observed, for the [`checker`]s;
//! - [`trace`]: one line per event and a running hash (same seed, same hash).
#![deny(missing_docs)]

pub mod checker;
pub mod client;
pub mod disk;
pub mod history;
pub mod network;
pub mod options;
pub mod queue;
pub mod rng;
pub mod script;
pub mod trace;
pub mod world;

pub use world::{RunReport, World};
