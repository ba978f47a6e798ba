//! Autopurge, as ZooKeeper's `PurgeTxnLog`: keep the newest
//! `snapRetainCount` valid snapshots (at least 3) and the log segments
//! needed to replay from the oldest of them; remove older files.

use std::path::PathBuf;

use super::dirs::StorageDirs;
use super::disk::Disk;
use super::error::StorageError;
use super::snapshot::{list_snapshots, verify_snapshot};
use super::txn_log::list_segments;

/// ZooKeeper never keeps fewer snapshots than this, whatever the config.
pub const SNAP_RETAIN_COUNT_MIN: usize = 3;

/// Removes snapshots and log segments no longer needed, keeping the newest
/// `snap_retain_count` (raised to [`SNAP_RETAIN_COUNT_MIN`]) snapshots that
/// pass their checks. Returns the removed files: snapshots, then log
/// segments, each oldest first.
///
/// Call it between appends (from the same task as the [`super::TxnLog`]):
/// it never removes the newest segment, but it reads every snapshot.
pub fn purge<D: Disk>(disk: &D, dirs: &StorageDirs, snap_retain_count: usize) -> Result<Vec<PathBuf>, StorageError> {
    let retain = snap_retain_count.max(SNAP_RETAIN_COUNT_MIN);
    let snapshots = list_snapshots(disk, dirs)?;
    let mut valid = 0;
    let mut oldest_kept = None;
    for (zxid, path) in &snapshots {
        // An unreadable snapshot does not count towards the ones kept.
        if verify_snapshot(disk, path).is_ok() {
            valid += 1;
            oldest_kept = Some(*zxid);
            if valid == retain {
                break;
            }
        }
    }
    let Some(oldest_kept) = oldest_kept else {
        return Ok(Vec::new());
    };
    let mut removed: Vec<PathBuf> =
        snapshots.into_iter().filter(|(zxid, _)| *zxid < oldest_kept).map(|(_, path)| path).rev().collect();
    let segments = list_segments(disk, &dirs.log_dir())?;
    // The newest segment starting at or before the snapshot may hold the
    // records right after it; every older one is covered by the snapshot.
    if let Some(needed) = segments.iter().rposition(|(first, _)| *first <= oldest_kept) {
        removed.extend(segments[..needed].iter().map(|(_, path)| path.clone()));
    }
    for path in &removed {
        disk.remove(path).map_err(StorageError::io(path, "remove"))?;
    }
    if !removed.is_empty() {
        for dir in [dirs.snap_dir(), dirs.log_dir()] {
            disk.sync_dir(&dir).map_err(StorageError::io(&dir, "fsync directory"))?;
        }
    }
    Ok(removed)
}
