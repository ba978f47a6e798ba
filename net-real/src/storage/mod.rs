//! Durable storage for the real server: the transaction log, snapshots,
//! epoch files, recovery and autopurge, over a [`Disk`] that is either the
//! real file system or a simulated one with a crash model.
//!
//! Storage is generic over the record and state types (`serde` + bincode 2,
//! CRC-32C on every record and snapshot), so it does not depend on
//! `zab-core`'s types. The driver loop:
//!
//! 1. At start: [`recover`] returns the newest valid snapshot, the log
//!    records after it, warnings about what was repaired, and a [`TxnLog`]
//!    ready to append. A [`RecoveryError`] means the disk holds wrong
//!    synced data: do not serve from it.
//! 2. For each batch of proposals: [`TxnLog::append`] each, then one
//!    [`TxnLog::sync`]; only then acknowledge them (group commit).
//! 3. Every `snapCount` transactions: [`TxnLog::roll`], then
//!    [`write_snapshot`]; every `purgeInterval` hours: [`purge`].
//! 4. Discovery: [`read_epoch`] / [`write_epoch`]; TRUNC:
//!    [`TxnLog::truncate_after`].
//!
//! All calls block: run them on a blocking task.

pub mod apache;
mod dirs;
mod disk;
mod epoch;
mod error;
mod frame;
mod mem_disk;
mod purge;
mod recovery;
mod snapshot;
mod txn_log;

#[cfg(test)]
mod tests;

pub use dirs::StorageDirs;
pub use disk::{Disk, DiskFile, RealDisk, RealFile};
pub use epoch::{read_epoch, write_epoch, EpochFile};
pub use error::{Damage, RecoveryError, RecoveryWarning, StorageError, WarningKind};
pub use frame::RECORD_PAYLOAD_MAX;
pub use mem_disk::{MemDisk, MemFile};
pub use purge::{purge, SNAP_RETAIN_COUNT_MIN};
pub use recovery::{recover, zxid_follows, LogRecord, Recovered};
pub use snapshot::{
    list_snapshots, parse_snapshot_name, read_snapshot, snapshot_name, verify_snapshot, write_snapshot, Snapshot,
};
pub use txn_log::{list_segments, parse_segment_name, read_segment, segment_name, LogOptions, TxnLog};
