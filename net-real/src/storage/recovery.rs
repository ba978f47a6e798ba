//! Startup recovery: the newest valid snapshot plus the log records after
//! it, with the log's tail repaired so appending can resume.
//!
//! What is repaired (with a [`RecoveryWarning`]) and what is fatal:
//! - a damaged record at the end of the last segment with nothing valid
//!   after it is what a crash leaves of unsynced writes: truncated;
//! - a snapshot failing its checks is skipped for the next older one;
//! - a damaged record with valid data after it, zxids that decrease or skip
//!   transactions, or a record that passes its checksum but does not decode
//!   are fatal ([`RecoveryError`]): synced data is wrong, so the node must
//!   not serve from it. Bad records are never applied.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

use super::dirs::{StorageDirs, TEMP_SUFFIX};
use super::disk::{Disk, DiskFile};
use super::error::{RecoveryError, RecoveryWarning, StorageError, WarningKind};
use super::frame::{decode_value, scan_segment, ScanStop, SegmentScan, SEGMENT_HEADER_LEN};
use super::snapshot::{list_snapshots, read_snapshot, Snapshot};
use super::txn_log::{list_segments, LogOptions, TxnLog};

/// A log record read back: the caller's zxid key and record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord<T> {
    /// The zxid given to [`TxnLog::append`].
    pub zxid: u64,
    /// The record.
    pub record: T,
}

/// What [`recover`] found.
#[derive(Debug)]
pub struct Recovered<D: Disk, S, T> {
    /// The newest valid snapshot, if any snapshot exists.
    pub snapshot: Option<Snapshot<S>>,
    /// The log records after the snapshot (all of them without one), in
    /// zxid order, each one following the one before without a gap.
    pub records: Vec<LogRecord<T>>,
    /// What was repaired or skipped (also logged with `tracing::warn!`).
    pub warnings: Vec<RecoveryWarning>,
    /// The log, ready to append after the last record.
    pub log: TxnLog<D>,
}

/// Whether a transaction with zxid `next` may directly follow `previous`
/// (a record's or a snapshot's zxid): the next counter in the same epoch,
/// or the first transaction (counter 1) of a later epoch.
pub fn zxid_follows(previous: u64, next: u64) -> bool {
    let epoch = |zxid: u64| zxid >> 32;
    let counter = |zxid: u64| zxid & 0xffff_ffff;
    next == previous.wrapping_add(1) || (epoch(next) > epoch(previous) && counter(next) == 1)
}

/// Recovers the state stored under `dirs` (creating the directories on
/// first start). See the module docs for what is repaired and what fails.
pub fn recover<D, S, T>(disk: &D, dirs: &StorageDirs, options: LogOptions) -> Result<Recovered<D, S, T>, RecoveryError>
where
    D: Disk,
    S: DeserializeOwned,
    T: DeserializeOwned,
{
    dirs.create(disk)?;
    let mut warnings = Vec::new();
    remove_temp_files(disk, &dirs.snap_dir(), &mut warnings)?;
    let snapshot: Option<Snapshot<S>> = load_snapshot(disk, dirs, &mut warnings)?;
    let base = snapshot.as_ref().map(|s| s.zxid);
    let replay = replay_log(disk, &dirs.log_dir(), base, &mut warnings)?;
    let last_zxid = replay.last_zxid.max(base);
    let log = TxnLog::resume(disk.clone(), dirs.log_dir(), options, replay.tail, last_zxid)?;
    Ok(Recovered { snapshot, records: replay.records, warnings, log })
}

fn warn(warnings: &mut Vec<RecoveryWarning>, path: &Path, offset: u64, kind: WarningKind) {
    let warning = RecoveryWarning { path: path.to_path_buf(), offset, kind };
    tracing::warn!("{warning}");
    warnings.push(warning);
}

/// Removes `*.tmp` files: writes interrupted before their rename.
fn remove_temp_files<D: Disk>(disk: &D, dir: &Path, warnings: &mut Vec<RecoveryWarning>) -> Result<(), StorageError> {
    let names = disk.list_dir(dir).map_err(StorageError::io(dir, "list"))?;
    let temps: Vec<&String> = names.iter().filter(|n| n.ends_with(TEMP_SUFFIX)).collect();
    for name in &temps {
        let path = dir.join(name);
        disk.remove(&path).map_err(StorageError::io(&path, "remove"))?;
        warn(warnings, &path, 0, WarningKind::RemovedTempFile);
    }
    if !temps.is_empty() {
        disk.sync_dir(dir).map_err(StorageError::io(dir, "fsync directory"))?;
    }
    Ok(())
}

/// The newest snapshot that passes its checks.
fn load_snapshot<D: Disk, S: DeserializeOwned>(
    disk: &D,
    dirs: &StorageDirs,
    warnings: &mut Vec<RecoveryWarning>,
) -> Result<Option<Snapshot<S>>, RecoveryError> {
    let snapshots = list_snapshots(disk, dirs)?;
    for (_, path) in &snapshots {
        match read_snapshot(disk, path) {
            Ok(snapshot) => return Ok(Some(snapshot)),
            // Failing to read is not evidence of corruption: stop.
            Err(error @ StorageError::Io { .. }) => return Err(error.into()),
            Err(error) => {
                refuse_apache_file(disk, path)?;
                let kind = WarningKind::InvalidSnapshot(error.to_string());
                warn(warnings, path, 0, kind);
            }
        }
    }
    if snapshots.is_empty() {
        Ok(None)
    } else {
        Err(RecoveryError::NoValidSnapshot { dir: dirs.snap_dir(), count: snapshots.len() })
    }
}

/// An Apache snapshot fails zab's checks; skipping it for an older one (or for none) would
/// lose its data, so it stops recovery instead.
fn refuse_apache_file<D: Disk>(disk: &D, path: &Path) -> Result<(), RecoveryError> {
    let bytes = disk.read(path).map_err(StorageError::io(path, "read"))?;
    match super::apache::is_apache_snapshot(&bytes) {
        true => Err(RecoveryError::ApacheFormat { path: path.to_path_buf(), what: "snapshot" }),
        false => Ok(()),
    }
}

/// The records replayed, and where appending resumes.
struct Replay<T> {
    records: Vec<LogRecord<T>>,
    tail: Option<(PathBuf, u64)>,
    last_zxid: Option<u64>,
}

/// Zxid bookkeeping across records and segments.
struct Cursor {
    /// The last zxid seen in the log (applied or covered by the snapshot).
    last_seen: Option<u64>,
    /// The last zxid in the state: the snapshot's, then each replayed one.
    applied: u64,
}

/// Reads the segments that hold records after `base`, checking each record
/// and repairing a torn tail of the last one.
fn replay_log<D: Disk, T: DeserializeOwned>(
    disk: &D,
    dir: &Path,
    base: Option<u64>,
    warnings: &mut Vec<RecoveryWarning>,
) -> Result<Replay<T>, RecoveryError> {
    let segments = list_segments(disk, dir)?;
    // The segment holding base+1 is the newest one starting at or before
    // base; older ones only hold what the snapshot already has.
    let start = base.and_then(|zxid| segments.iter().rposition(|(first, _)| *first <= zxid)).unwrap_or(0);
    let mut cursor = Cursor { last_seen: None, applied: base.unwrap_or(0) };
    let mut replay = Replay { records: Vec::new(), tail: None, last_zxid: None };
    for (index, (named, path)) in segments.iter().enumerate().skip(start) {
        let bytes = disk.read(path).map_err(StorageError::io(path, "read"))?;
        // Before any scan: an Apache log would scan as one damaged record and be removed.
        if super::apache::is_apache_log(&bytes) {
            return Err(RecoveryError::ApacheFormat { path: path.clone(), what: "transaction log" });
        }
        let scan = scan_segment(&bytes);
        check_records(path, *named, &bytes, &scan, &mut cursor, &mut replay.records)?;
        replay.tail = match &scan.stop {
            None if scan.records.is_empty() => None,
            None => Some((path.clone(), scan.valid_end)),
            Some(stop) => {
                let later = segments.get(index + 1).map(|(_, p)| p.as_path());
                check_tail_damage(path, stop, later)?;
                repair_tail(disk, path, &scan, stop, warnings)?
            }
        };
    }
    replay.last_zxid = cursor.last_seen;
    Ok(replay)
}

/// Checks the zxids of one segment's valid records and decodes the ones
/// after the snapshot.
fn check_records<T: DeserializeOwned>(
    path: &Path,
    named: u64,
    bytes: &[u8],
    scan: &SegmentScan,
    cursor: &mut Cursor,
    out: &mut Vec<LogRecord<T>>,
) -> Result<(), RecoveryError> {
    if let Some(first) = scan.records.first() {
        if first.zxid != named {
            return Err(RecoveryError::SegmentNameMismatch {
                path: path.to_path_buf(),
                offset: first.offset,
                named,
                zxid: first.zxid,
            });
        }
    }
    for record in &scan.records {
        let gap = |previous: u64, why: &'static str| RecoveryError::ZxidGap {
            path: path.to_path_buf(),
            offset: record.offset,
            previous,
            zxid: record.zxid,
            why,
        };
        if let Some(previous) = cursor.last_seen {
            if record.zxid <= previous {
                return Err(gap(previous, "not increasing"));
            }
        }
        cursor.last_seen = Some(record.zxid);
        if record.zxid <= cursor.applied {
            continue; // already in the snapshot
        }
        if !zxid_follows(cursor.applied, record.zxid) {
            return Err(gap(cursor.applied, "transactions missing"));
        }
        let value = decode_value(&bytes[record.payload.clone()]).map_err(|reason| RecoveryError::Undecodable {
            path: path.to_path_buf(),
            offset: record.offset,
            zxid: record.zxid,
            reason,
        })?;
        cursor.applied = record.zxid;
        out.push(LogRecord { zxid: record.zxid, record: value });
    }
    Ok(())
}

/// Damage is a torn tail only at the end of the last segment with nothing
/// valid after it; anywhere else it is corruption of synced data.
fn check_tail_damage(path: &Path, stop: &ScanStop, later: Option<&Path>) -> Result<(), RecoveryError> {
    let followed_by = match (stop.next_valid, later) {
        (Some(offset), _) => Some((path.to_path_buf(), offset)),
        (None, Some(next)) => Some((next.to_path_buf(), SEGMENT_HEADER_LEN as u64)),
        (None, None) => None,
    };
    match followed_by {
        None => Ok(()),
        Some((followed_by, next_valid)) => Err(RecoveryError::CorruptRecord {
            path: path.to_path_buf(),
            offset: stop.offset,
            damage: stop.damage.clone(),
            followed_by,
            next_valid,
        }),
    }
}

/// Cuts the torn tail off the last segment (or removes the segment if no
/// record is left) and returns where appending resumes.
fn repair_tail<D: Disk>(
    disk: &D,
    path: &Path,
    scan: &SegmentScan,
    stop: &ScanStop,
    warnings: &mut Vec<RecoveryWarning>,
) -> Result<Option<(PathBuf, u64)>, StorageError> {
    if scan.records.is_empty() {
        disk.remove(path).map_err(StorageError::io(path, "remove"))?;
        let dir = super::disk::parent_dir(path);
        disk.sync_dir(&dir).map_err(StorageError::io(&dir, "fsync directory"))?;
        let kind = WarningKind::RemovedEmptySegment(stop.damage.clone());
        warn(warnings, path, stop.offset, kind);
        return Ok(None);
    }
    let mut file = disk.open_write(path).map_err(StorageError::io(path, "open"))?;
    let len = file.size().map_err(StorageError::io(path, "stat"))?;
    // Shrink then grow back: the damaged bytes become zeros, the log's end.
    file.set_len(scan.valid_end)
        .and_then(|()| file.set_len(len))
        .and_then(|()| file.sync_data())
        .map_err(StorageError::io(path, "truncate"))?;
    let kind = WarningKind::TruncatedTail(stop.damage.clone());
    warn(warnings, path, stop.offset, kind);
    Ok(Some((path.to_path_buf(), scan.valid_end)))
}
