//! Storage tests: round trips on a real temp directory, crash simulation on
//! `MemDisk`, and each repair/failure rule of recovery with exact offsets.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::frame::{encode_record, SEGMENT_HEADER_LEN};
use super::*;

/// A stand-in for a transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Txn {
    path: String,
    value: u32,
}

fn txn(zxid: u64) -> Txn {
    Txn { path: format!("/node{zxid}"), value: zxid as u32 * 10 }
}

/// Small preallocation so tests stay light.
fn options() -> LogOptions {
    LogOptions { prealloc_size: 4096, segment_size_max: None }
}

type Recovery<D> = Recovered<D, String, Txn>;

fn recover_ok<D: Disk>(disk: &D, dirs: &StorageDirs) -> Recovery<D> {
    match recover(disk, dirs, options()) {
        Ok(recovered) => recovered,
        Err(e) => panic!("recovery failed: {e}"),
    }
}

fn recover_err<D: Disk>(disk: &D, dirs: &StorageDirs) -> RecoveryError {
    match recover::<D, String, Txn>(disk, dirs, options()) {
        Ok(r) => panic!("recovery succeeded with {} records", r.records.len()),
        Err(e) => e,
    }
}

fn zxids<D: Disk>(recovered: &Recovery<D>) -> Vec<u64> {
    recovered.records.iter().map(|r| r.zxid).collect()
}

fn append_all<D: Disk>(log: &mut TxnLog<D>, zxids: impl IntoIterator<Item = u64>) {
    for zxid in zxids {
        log.append(zxid, &txn(zxid)).unwrap();
    }
}

/// Offset of each record of a segment holding `txn(z)` for `zxids`.
fn offsets(zxids: &[u64]) -> Vec<u64> {
    let mut pos = SEGMENT_HEADER_LEN as u64;
    let mut out = Vec::new();
    for zxid in zxids {
        out.push(pos);
        let mut frame = Vec::new();
        encode_record(*zxid, &txn(*zxid), &mut frame).unwrap();
        pos += frame.len() as u64;
    }
    out.push(pos);
    out
}

fn temp_dirs() -> (tempfile::TempDir, StorageDirs) {
    let temp = tempfile::tempdir().unwrap();
    let dirs = StorageDirs::single(temp.path());
    (temp, dirs)
}

fn flip_byte(path: &Path, offset: u64) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[offset as usize] ^= 0x20;
    std::fs::write(path, bytes).unwrap();
}

fn names(dir: &Path) -> Vec<String> {
    RealDisk.list_dir(dir).unwrap()
}

#[test]
fn append_sync_recover_round_trip_on_a_real_directory() {
    let (_temp, dirs) = temp_dirs();
    let mut first = recover_ok(&RealDisk, &dirs);
    assert!(first.snapshot.is_none());
    assert!(first.records.is_empty());
    append_all(&mut first.log, 1..=5);
    first.log.sync().unwrap();
    let segment = dirs.log_dir().join("log.1");
    // Preallocated in 4096-byte blocks.
    assert_eq!(std::fs::metadata(&segment).unwrap().len(), 4096);
    drop(first);

    let mut second = recover_ok(&RealDisk, &dirs);
    assert_eq!(zxids(&second), vec![1, 2, 3, 4, 5]);
    assert_eq!(second.records[2].record, txn(3));
    assert_eq!(second.warnings, vec![]);
    assert_eq!(second.log.last_zxid(), Some(5));
    // Appending resumes in the same segment.
    append_all(&mut second.log, [6]);
    second.log.sync().unwrap();
    drop(second);
    assert_eq!(zxids(&recover_ok(&RealDisk, &dirs)), vec![1, 2, 3, 4, 5, 6]);
    assert_eq!(names(&dirs.log_dir()), vec!["log.1"]);
}

#[test]
fn append_refuses_a_zxid_that_does_not_increase() {
    let disk = MemDisk::new();
    let dirs = StorageDirs::single("/data");
    let mut log = recover_ok(&disk, &dirs).log;
    append_all(&mut log, [7]);
    let error = log.append(7, &txn(7)).unwrap_err();
    assert_eq!(error.to_string(), "zxid 0x7 appended after 0x7: zxids must increase");
}

#[test]
fn a_crash_before_sync_loses_only_unsynced_records() {
    let disk = MemDisk::new();
    let dirs = StorageDirs::single("/data");
    let mut log = recover_ok(&disk, &dirs).log;
    append_all(&mut log, 1..=3);
    log.sync().unwrap();
    disk.fail_syncs(true);
    append_all(&mut log, 4..=6);
    assert!(log.sync().is_err());

    let mut kept_counts = std::collections::BTreeSet::new();
    let mut truncations = 0;
    for seed in 0..40 {
        let crashed = disk.fork();
        crashed.crash(seed);
        let recovered = recover_ok(&crashed, &dirs);
        let got = zxids(&recovered);
        let expected: Vec<u64> = (1..=got.len() as u64).collect();
        assert_eq!(got, expected, "seed {seed}: not a prefix");
        assert!(got.len() >= 3, "seed {seed}: lost a synced record");
        kept_counts.insert(got.len());
        let truncated = recovered.warnings.iter().any(|w| matches!(w.kind, WarningKind::TruncatedTail(_)));
        truncations += usize::from(truncated);
    }
    // The seeds must exercise losing all, some, and none of the batch.
    assert!(kept_counts.contains(&3), "{kept_counts:?}");
    assert!(kept_counts.contains(&6), "{kept_counts:?}");
    assert!(truncations > 0, "no seed tore the write");
}

#[test]
fn a_crash_during_the_first_write_of_a_new_segment_recovers() {
    let disk = MemDisk::new();
    let dirs = StorageDirs::single("/data");
    let mut log = recover_ok(&disk, &dirs).log;
    append_all(&mut log, [1]);
    log.roll().unwrap();
    disk.fail_syncs(true);
    append_all(&mut log, [2]);
    assert!(log.sync().is_err());
    for seed in 0..40 {
        let crashed = disk.fork();
        crashed.crash(seed);
        let mut recovered = recover_ok(&crashed, &dirs);
        let got = zxids(&recovered);
        assert!(got == vec![1] || got == vec![1, 2], "seed {seed}: {got:?}");
        // Whatever survived, the log accepts the next record and keeps it.
        let next = got.len() as u64 + 1;
        append_all(&mut recovered.log, [next]);
        recovered.log.sync().unwrap();
        let expected: Vec<u64> = (1..=next).collect();
        assert_eq!(zxids(&recover_ok(&crashed, &dirs)), expected, "seed {seed}");
    }
}

#[test]
fn a_cut_tail_is_truncated_with_a_warning() {
    let (_temp, dirs) = temp_dirs();
    let mut log = recover_ok(&RealDisk, &dirs).log;
    append_all(&mut log, 1..=3);
    log.sync().unwrap();
    drop(log);
    let segment = dirs.log_dir().join("log.1");
    let at = offsets(&[1, 2, 3]);
    // Cut record 3 in its payload, as a crash mid-write would.
    let file = std::fs::OpenOptions::new().write(true).open(&segment).unwrap();
    file.set_len(at[2] + 25).unwrap();
    drop(file);

    let mut recovered = recover_ok(&RealDisk, &dirs);
    assert_eq!(zxids(&recovered), vec![1, 2]);
    let payload_len = at[3] - at[2] - 20;
    assert_eq!(
        recovered.warnings,
        vec![RecoveryWarning {
            path: segment.clone(),
            offset: at[2],
            kind: WarningKind::TruncatedTail(Damage::ShortPayload(payload_len)),
        }]
    );
    assert_eq!(
        recovered.warnings[0].to_string(),
        format!(
            "{}:{}: record of {payload_len} bytes cut short; truncated the log tail here",
            segment.display(),
            at[2]
        )
    );
    // The next record goes where the torn one was.
    append_all(&mut recovered.log, [3]);
    recovered.log.sync().unwrap();
    drop(recovered);
    let again = recover_ok(&RealDisk, &dirs);
    assert_eq!(zxids(&again), vec![1, 2, 3]);
    assert_eq!(again.warnings, vec![]);
}

#[test]
fn a_bit_flip_in_the_last_record_is_truncated_with_a_warning() {
    let (_temp, dirs) = temp_dirs();
    let mut log = recover_ok(&RealDisk, &dirs).log;
    append_all(&mut log, 1..=3);
    log.sync().unwrap();
    drop(log);
    let segment = dirs.log_dir().join("log.1");
    let at = offsets(&[1, 2, 3]);
    flip_byte(&segment, at[2] + 22);

    let recovered = recover_ok(&RealDisk, &dirs);
    assert_eq!(zxids(&recovered), vec![1, 2]);
    assert_eq!(
        recovered.warnings,
        vec![RecoveryWarning {
            path: segment,
            offset: at[2],
            kind: WarningKind::TruncatedTail(Damage::ChecksumMismatch),
        }]
    );
}

#[test]
fn a_bit_flip_in_a_middle_record_is_an_error_naming_file_and_offset() {
    let (_temp, dirs) = temp_dirs();
    let mut log = recover_ok(&RealDisk, &dirs).log;
    append_all(&mut log, 1..=3);
    log.sync().unwrap();
    drop(log);
    let segment = dirs.log_dir().join("log.1");
    let at = offsets(&[1, 2, 3]);
    flip_byte(&segment, at[1] + 22);

    let error = recover_err(&RealDisk, &dirs);
    assert_eq!(
        error.to_string(),
        format!(
            "{seg}:{bad}: record checksum mismatch, but valid data follows at {seg}:{good}; \
             the log is corrupt in the middle",
            seg = segment.display(),
            bad = at[1],
            good = at[2],
        )
    );
}

#[test]
fn damage_at_the_end_of_an_older_segment_is_an_error() {
    let (_temp, dirs) = temp_dirs();
    let mut log = recover_ok(&RealDisk, &dirs).log;
    append_all(&mut log, 1..=2);
    log.roll().unwrap();
    append_all(&mut log, [3]);
    log.sync().unwrap();
    drop(log);
    let at = offsets(&[1, 2]);
    flip_byte(&dirs.log_dir().join("log.1"), at[1] + 22);
    match recover_err(&RealDisk, &dirs) {
        RecoveryError::CorruptRecord { path, offset, followed_by, next_valid, damage } => {
            assert_eq!(path, dirs.log_dir().join("log.1"));
            assert_eq!(offset, at[1]);
            assert_eq!(followed_by, dirs.log_dir().join("log.3"));
            assert_eq!(next_valid, SEGMENT_HEADER_LEN as u64);
            assert_eq!(damage, Damage::ChecksumMismatch);
        }
        other => panic!("unexpected error: {other}"),
    }
}

#[test]
fn a_zxid_gap_within_an_epoch_is_an_error() {
    let (_temp, dirs) = temp_dirs();
    let mut log = recover_ok(&RealDisk, &dirs).log;
    append_all(&mut log, [1, 2, 4]);
    log.sync().unwrap();
    drop(log);
    let at = offsets(&[1, 2, 4]);
    let error = recover_err(&RealDisk, &dirs);
    assert_eq!(
        error.to_string(),
        format!(
            "{}:{}: zxid 0x4 cannot follow 0x2 (transactions missing)",
            dirs.log_dir().join("log.1").display(),
            at[2]
        )
    );
}

#[test]
fn a_new_epoch_starting_at_counter_one_is_not_a_gap() {
    let epoch2 = 2u64 << 32;
    let (_temp, dirs) = temp_dirs();
    let mut log = recover_ok(&RealDisk, &dirs).log;
    append_all(&mut log, [1, 2, epoch2 | 1, epoch2 | 2]);
    log.sync().unwrap();
    drop(log);
    assert_eq!(zxids(&recover_ok(&RealDisk, &dirs)), vec![1, 2, epoch2 | 1, epoch2 | 2]);
    assert!(zxid_follows(5, 6));
    assert!(zxid_follows(5, epoch2 | 1));
    assert!(!zxid_follows(5, epoch2 | 2));
    assert!(!zxid_follows(epoch2 | 1, 1 << 32 | 1));
}

#[test]
fn a_zxid_decrease_between_segments_is_an_error() {
    let (_temp, dirs) = temp_dirs();
    let mut log = recover_ok(&RealDisk, &dirs).log;
    append_all(&mut log, 1..=6);
    log.sync().unwrap();
    drop(log);
    // Another log whose only segment starts at 5, copied in beside it.
    let (_other_temp, other) = temp_dirs();
    let mut other_log = recover_ok(&RealDisk, &other).log;
    append_all(&mut other_log, [5]);
    other_log.sync().unwrap();
    let late = dirs.log_dir().join("log.5");
    std::fs::copy(other.log_dir().join("log.5"), &late).unwrap();

    let error = recover_err(&RealDisk, &dirs);
    assert_eq!(
        error.to_string(),
        format!("{}:{}: zxid 0x5 cannot follow 0x6 (not increasing)", late.display(), SEGMENT_HEADER_LEN)
    );
}

#[test]
fn recovery_picks_the_newest_valid_snapshot_and_replays_after_it() {
    let (_temp, dirs) = temp_dirs();
    let mut log = recover_ok(&RealDisk, &dirs).log;
    append_all(&mut log, 1..=3);
    log.roll().unwrap();
    write_snapshot(&RealDisk, &dirs, 3, &"state@3".to_string()).unwrap();
    append_all(&mut log, 4..=5);
    log.roll().unwrap();
    write_snapshot(&RealDisk, &dirs, 5, &"state@5".to_string()).unwrap();
    append_all(&mut log, [6]);
    log.sync().unwrap();
    drop(log);

    let newest = recover_ok(&RealDisk, &dirs);
    let snapshot = newest.snapshot.clone().unwrap();
    assert_eq!((snapshot.zxid, snapshot.state.as_str()), (5, "state@5"));
    assert_eq!(zxids(&newest), vec![6]);
    drop(newest);

    let snap5 = dirs.snap_dir().join("snapshot.5");
    flip_byte(&snap5, 35);
    let fallback = recover_ok(&RealDisk, &dirs);
    let snapshot = fallback.snapshot.clone().unwrap();
    assert_eq!((snapshot.zxid, snapshot.state.as_str()), (3, "state@3"));
    assert_eq!(zxids(&fallback), vec![4, 5, 6]);
    assert_eq!(fallback.warnings.len(), 1);
    assert_eq!(
        fallback.warnings[0].to_string(),
        format!("{p}: skipped invalid snapshot: {p}:0: checksum mismatch", p = snap5.display())
    );
    drop(fallback);

    flip_byte(&dirs.snap_dir().join("snapshot.3"), 35);
    assert_eq!(
        recover_err(&RealDisk, &dirs).to_string(),
        format!("{}: none of the 2 snapshots is valid (see the warnings)", dirs.snap_dir().display())
    );
}

#[test]
fn a_snapshot_newer_than_a_log_gap_covers_it() {
    // A follower that got SNAP at 10 holds log records 1..=3 and 11: the
    // snapshot covers 4..=10, so this is no gap.
    let disk = MemDisk::new();
    let dirs = StorageDirs::single("/data");
    let mut log = recover_ok(&disk, &dirs).log;
    append_all(&mut log, 1..=3);
    log.roll().unwrap();
    write_snapshot(&disk, &dirs, 10, &"state@10".to_string()).unwrap();
    append_all(&mut log, [11]);
    log.sync().unwrap();
    let recovered = recover_ok(&disk, &dirs);
    assert_eq!(recovered.snapshot.as_ref().unwrap().zxid, 10);
    assert_eq!(zxids(&recovered), vec![11]);
}

#[test]
fn leftover_temp_files_are_removed_with_a_warning() {
    let disk = MemDisk::new();
    let dirs = StorageDirs::single("/data");
    dirs.create(&disk).unwrap();
    let temp = dirs.snap_dir().join("snapshot.9.tmp");
    disk.create(&temp).unwrap().write_at(0, b"half").unwrap();
    let recovered = recover_ok(&disk, &dirs);
    assert_eq!(
        recovered.warnings,
        vec![RecoveryWarning { path: temp.clone(), offset: 0, kind: WarningKind::RemovedTempFile }]
    );
    assert!(disk.read(&temp).is_err());
    assert!(recovered.snapshot.is_none());
}

#[test]
fn a_crash_during_a_snapshot_write_keeps_the_previous_snapshot() {
    let disk = MemDisk::new();
    let dirs = StorageDirs::single("/data");
    let mut log = recover_ok(&disk, &dirs).log;
    append_all(&mut log, 1..=2);
    log.roll().unwrap();
    write_snapshot(&disk, &dirs, 2, &"state@2".to_string()).unwrap();
    disk.fail_syncs(true);
    assert!(write_snapshot(&disk, &dirs, 2 + 1, &"state@3".to_string()).is_err());
    for seed in 0..20 {
        let crashed = disk.fork();
        crashed.crash(seed);
        let recovered = recover_ok(&crashed, &dirs);
        let snapshot = recovered.snapshot.unwrap();
        assert_eq!((snapshot.zxid, snapshot.state.as_str()), (2, "state@2"));
    }
}

#[test]
fn truncate_after_removes_later_records_and_segments() {
    let (_temp, dirs) = temp_dirs();
    let mut log = recover_ok(&RealDisk, &dirs).log;
    append_all(&mut log, 1..=5);
    log.roll().unwrap();
    append_all(&mut log, 6..=8);
    log.sync().unwrap();
    log.truncate_after(4).unwrap();
    assert_eq!(log.last_zxid(), Some(4));
    assert_eq!(names(&dirs.log_dir()), vec!["log.1"]);
    // The leader's version of zxid 5 replaces ours.
    let theirs = Txn { path: "/theirs".into(), value: 5 };
    log.append(5, &theirs).unwrap();
    log.sync().unwrap();
    drop(log);
    let recovered = recover_ok(&RealDisk, &dirs);
    assert_eq!(zxids(&recovered), vec![1, 2, 3, 4, 5]);
    assert_eq!(recovered.records[4].record, theirs);
    assert_eq!(recovered.warnings, vec![]);
}

#[test]
fn segments_roll_at_the_size_limit() {
    let disk = MemDisk::new();
    let dirs = StorageDirs::single("/data");
    let options = LogOptions { prealloc_size: 256, segment_size_max: Some(100) };
    let mut log = recover::<_, String, Txn>(&disk, &dirs, options).unwrap().log;
    append_all(&mut log, 1..=6);
    log.sync().unwrap();
    // Header 16 + records of 30-31 bytes: a segment is full after 3.
    let at = offsets(&[1, 2, 3]);
    assert!(at[2] < 100 && at[3] >= 100, "{at:?}");
    let segments: Vec<String> = disk.list_dir(&dirs.log_dir()).unwrap();
    assert_eq!(segments, vec!["log.1", "log.4"]);
    assert_eq!(zxids(&recover_ok(&disk, &dirs)), vec![1, 2, 3, 4, 5, 6]);
}

/// Snapshots at 3, 6, 9, 12 and segments starting at 1, 4, 7, 10, 13.
fn history(disk: &MemDisk, dirs: &StorageDirs) {
    let mut log = recover_ok(disk, dirs).log;
    for first in [1, 4, 7, 10] {
        append_all(&mut log, first..first + 3);
        log.roll().unwrap();
        write_snapshot(disk, dirs, first + 2, &format!("state@{}", first + 2)).unwrap();
    }
    append_all(&mut log, [13]);
    log.sync().unwrap();
}

#[test]
fn purge_keeps_the_newest_snapshots_and_the_logs_they_need() {
    let disk = MemDisk::new();
    let dirs = StorageDirs { data_dir: "/data".into(), data_log_dir: "/datalog".into() };
    history(&disk, &dirs);
    let removed = purge(&disk, &dirs, 3).unwrap();
    assert_eq!(removed, vec![PathBuf::from("/data/version-2/snapshot.3"), PathBuf::from("/datalog/version-2/log.1")]);
    let snapshots = disk.list_dir(&dirs.snap_dir()).unwrap();
    assert_eq!(snapshots, vec!["snapshot.6", "snapshot.9", "snapshot.c"]);
    let logs = disk.list_dir(&dirs.log_dir()).unwrap();
    assert_eq!(logs, vec!["log.4", "log.7", "log.a", "log.d"]);
    let recovered = recover_ok(&disk, &dirs);
    assert_eq!(recovered.snapshot.as_ref().unwrap().zxid, 12);
    assert_eq!(zxids(&recovered), vec![13]);
}

#[test]
fn purge_keeps_at_least_three_and_skips_invalid_snapshots() {
    let disk = MemDisk::new();
    let dirs = StorageDirs::single("/data");
    history(&disk, &dirs);
    // The newest snapshot is bad: the three valid ones are 9, 6 and 3.
    disk.corrupt(&dirs.snap_dir().join("snapshot.c"), 35, 1).unwrap();
    let before = disk.list_dir(&dirs.snap_dir()).unwrap();
    assert_eq!(before.len(), 9);
    assert_eq!(purge(&disk, &dirs, 1).unwrap(), Vec::<PathBuf>::new());
    assert_eq!(disk.list_dir(&dirs.snap_dir()).unwrap(), before);
}

#[test]
fn epoch_files_round_trip_and_reject_garbage() {
    let (_temp, dirs) = temp_dirs();
    dirs.create(&RealDisk).unwrap();
    assert_eq!(read_epoch(&RealDisk, &dirs, EpochFile::Accepted).unwrap(), None);
    write_epoch(&RealDisk, &dirs, EpochFile::Accepted, 5).unwrap();
    write_epoch(&RealDisk, &dirs, EpochFile::Current, 4).unwrap();
    write_epoch(&RealDisk, &dirs, EpochFile::Accepted, 7).unwrap();
    assert_eq!(read_epoch(&RealDisk, &dirs, EpochFile::Accepted).unwrap(), Some(7));
    assert_eq!(read_epoch(&RealDisk, &dirs, EpochFile::Current).unwrap(), Some(4));
    let accepted = dirs.snap_dir().join("acceptedEpoch");
    assert_eq!(std::fs::read_to_string(&accepted).unwrap(), "7");
    assert_eq!(names(&dirs.snap_dir()), vec!["acceptedEpoch", "currentEpoch"]);
    // ZooKeeper's own files may end with a newline.
    std::fs::write(&accepted, "12\n").unwrap();
    assert_eq!(read_epoch(&RealDisk, &dirs, EpochFile::Accepted).unwrap(), Some(12));
    std::fs::write(&accepted, "x1").unwrap();
    let error = read_epoch(&RealDisk, &dirs, EpochFile::Accepted).unwrap_err();
    assert_eq!(error.to_string(), format!("{}:0: expected an epoch number, found \"x1\"", accepted.display()));
}

#[test]
fn an_epoch_write_interrupted_by_a_crash_leaves_old_or_new() {
    let disk = MemDisk::new();
    let dirs = StorageDirs::single("/data");
    dirs.create(&disk).unwrap();
    write_epoch(&disk, &dirs, EpochFile::Current, 1).unwrap();
    disk.fail_syncs(true);
    assert!(write_epoch(&disk, &dirs, EpochFile::Current, 2).is_err());
    for seed in 0..20 {
        let crashed = disk.fork();
        crashed.crash(seed);
        let epoch = read_epoch(&crashed, &dirs, EpochFile::Current).unwrap();
        assert_eq!(epoch, Some(1), "seed {seed}");
    }
}

#[test]
fn a_large_batch_spills_the_write_buffer_and_recovers_in_order() {
    // 50,000 records of ~30 bytes pass the 1 MiB write buffer and several
    // 4 KiB preallocation blocks in one sync.
    let disk = MemDisk::new();
    let dirs = StorageDirs::single("/data");
    let mut log = recover_ok(&disk, &dirs).log;
    append_all(&mut log, 1..=50_000);
    log.sync().unwrap();
    let segment = dirs.log_dir().join("log.1");
    let len = disk.file_len(&segment).unwrap();
    assert_eq!(len % 4096, 0);
    assert!(len > 1 << 20, "{len}");
    let recovered = recover_ok(&disk, &dirs);
    assert_eq!(recovered.records.len(), 50_000);
    assert_eq!(recovered.records[49_999].record, txn(50_000));
    assert_eq!(recovered.log.last_zxid(), Some(50_000));
}
