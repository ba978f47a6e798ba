//! Moving between Apache ZooKeeper 3.8 and zab: reading and writing Apache's snapshot and
//! log files ([`format`]), importing an Apache data directory on first start ([`import`]),
//! and exporting a zab one in Apache's format ([`export`]).
//!
//! Unlike the rest of `storage`, this module knows `zab-core`'s types: it converts Apache's
//! records (jute, the same bytes as SNAP and PROPOSAL packets) into zab's.
//!
//! Both formats use the same file names (`snapshot.<zxid>`, `log.<zxid>`), so recovery checks
//! each file's magic first and stops with [`super::RecoveryError::ApacheFormat`] on an Apache
//! file instead of skipping or removing it as damaged.
//!
//! An import, step by step (each step is durable before the next, and a crash at any point
//! resumes or redoes it on the next start; Apache's files are never changed or removed):
//! 1. read the newest valid Apache snapshot and every log entry after it, and check them
//!    (checksums, zxids without gaps, a tree that rebuilds);
//! 2. write zab's snapshot and log into `<dataDir>/zab-import/version-2`, then the marker
//!    `<dataDir>/zab-import/complete`;
//! 3. move Apache's files into `<dir>/apache-3.8/version-2` (an Apache data directory an
//!    operator can point Apache at to move back), then move zab's files into place;
//! 4. remove the marker.
//!
//! `acceptedEpoch`, `currentEpoch` and `myid` have the same format in both and stay where
//! they are (copies go beside the moved Apache files).

pub mod format;
mod import;

#[cfg(test)]
mod tests;

pub use format::{is_apache_log, is_apache_snapshot};
pub use import::{export, finish_pending_import, import, ExportSummary, ImportProgress, ImportSummary};
