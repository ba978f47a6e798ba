//! Apache files under zab's names: recovery stops on them and leaves them alone; an import
//! turns them into zab's state (and survives a restart in its middle); an export reads back.

use std::path::{Path, PathBuf};

use zab_core::proto::{op, Acl};
use zab_core::quorum::QuorumLimits;
use zab_core::tree::DataTree;
use zab_core::txn::{Txn, TxnBody, TxnHeader};
use zab_core::{SessionId, Snapshot, Zxid};

use super::format::{decode_log, decode_snapshot, encode_log, encode_snapshot};
use super::import::{STAGING_COMPLETE, STAGING_DIR};
use super::{export, finish_pending_import, import};
use crate::storage::{recover, Disk, DiskFile, LogOptions, MemDisk, RecoveryError, StorageDirs};

const SESSION: SessionId = SessionId(0x1000_0000_0000_0001);

fn options() -> LogOptions {
    LogOptions { prealloc_size: 4096, segment_size_max: None }
}

fn txn(zxid: i64, op: i32, body: TxnBody) -> Txn {
    Txn { header: TxnHeader { client_id: SESSION, cxid: zxid as i32, zxid: Zxid(zxid), time: 1_000 + zxid, op }, body }
}

fn create(zxid: i64, path: &str, ephemeral: bool, parent_cversion: i32) -> Txn {
    let body = TxnBody::Create {
        path: path.to_string(),
        data: path.as_bytes().to_vec(),
        acl: Acl::open_unsafe(),
        ephemeral,
        parent_cversion,
    };
    txn(zxid, op::CREATE, body)
}

/// A session creates /a and its ephemeral /a/e (in the snapshot at 0x3), then sets /a's data
/// and creates /b (in the log after it).
fn history() -> (Snapshot, Vec<Txn>) {
    let mut tree = DataTree::new();
    let early = [
        txn(1, op::CREATE_SESSION, TxnBody::CreateSession { timeout_ms: 30_000 }),
        create(2, "/a", false, 1),
        create(3, "/a/e", true, 1),
    ];
    for t in &early {
        tree.apply(t);
    }
    let snapshot = Snapshot { zxid: Zxid(3), tree: tree.snapshot(), sessions: vec![(SESSION, 30_000)] };
    let later = vec![
        txn(4, op::SET_DATA, TxnBody::SetData { path: "/a".to_string(), data: b"new".to_vec(), version: 1 }),
        create(5, "/b", false, 3),
    ];
    (snapshot, later)
}

fn write(disk: &MemDisk, path: &Path, bytes: &[u8]) {
    let dir = path.parent().expect("a parent");
    disk.create_dir_all(dir).expect("mkdir");
    let mut file = disk.create(path).expect("create");
    file.write_at(0, bytes).expect("write");
    file.sync_all().expect("fsync");
    disk.sync_dir(dir).expect("fsync dir");
}

/// An Apache dataDir as 3.8 leaves it: snapshot.3 and log.4, and the epoch files.
fn apache_dir(disk: &MemDisk) -> (StorageDirs, PathBuf, PathBuf) {
    let dirs = StorageDirs::single("/data");
    let (snapshot, later) = history();
    let database = zab_core::zab::database_from_snapshot(&snapshot.tree, &snapshot.sessions);
    let snapshot_path = dirs.snap_dir().join("snapshot.3");
    let log_path = dirs.log_dir().join("log.4");
    write(disk, &snapshot_path, &encode_snapshot(&database));
    write(disk, &log_path, &encode_log(&later));
    write(disk, &dirs.snap_dir().join("currentEpoch"), b"0");
    (dirs, snapshot_path, log_path)
}

fn recovered(disk: &MemDisk, dirs: &StorageDirs) -> (Snapshot, Vec<Txn>) {
    let recovered = recover::<_, Snapshot, Txn>(disk, dirs, options()).expect("recovers");
    let snapshot = recovered.snapshot.expect("a snapshot").state;
    (snapshot, recovered.records.into_iter().map(|r| r.record).collect())
}

/// The data-loss bug this guards against: an Apache log without a zab snapshot beside it
/// scanned as one damaged segment and was removed as a torn tail.
#[test]
fn recovery_stops_on_an_apache_log_and_keeps_it() {
    let disk = MemDisk::new();
    let dirs = StorageDirs::single("/data");
    let log_path = dirs.log_dir().join("log.1");
    let bytes = encode_log(&[txn(1, op::CREATE_SESSION, TxnBody::CreateSession { timeout_ms: 30_000 })]);
    write(&disk, &log_path, &bytes);
    let error = recover::<_, Snapshot, Txn>(&disk, &dirs, options()).unwrap_err();
    assert!(matches!(&error, RecoveryError::ApacheFormat { path, .. } if *path == log_path), "{error}");
    assert_eq!(disk.read(&log_path).expect("still there"), bytes);
}

#[test]
fn recovery_stops_on_an_apache_snapshot_and_keeps_it() {
    let disk = MemDisk::new();
    let (dirs, snapshot_path, log_path) = apache_dir(&disk);
    let before = (disk.read(&snapshot_path).unwrap(), disk.read(&log_path).unwrap());
    let error = recover::<_, Snapshot, Txn>(&disk, &dirs, options()).unwrap_err();
    assert!(matches!(&error, RecoveryError::ApacheFormat { path, .. } if *path == snapshot_path), "{error}");
    assert_eq!((disk.read(&snapshot_path).unwrap(), disk.read(&log_path).unwrap()), before);
}

/// Import gives recovery Apache's snapshot and the log after it; Apache's files move aside
/// unchanged; a second import finds nothing; export writes files that decode to the same.
#[test]
fn import_then_recovery_gives_apaches_state_and_export_reads_back() {
    let disk = MemDisk::new();
    let (dirs, snapshot_path, log_path) = apache_dir(&disk);
    let original = (disk.read(&snapshot_path).unwrap(), disk.read(&log_path).unwrap());
    let summary = import(&disk, &dirs, options(), &mut |_| {}).expect("imports").expect("found Apache files");
    assert_eq!((summary.snapshot_zxid, summary.txns, summary.last_zxid), (Some(3), 2, 5));
    assert_eq!((summary.sessions, summary.ephemerals), (1, 1));
    let aside = Path::new("/data/apache-3.8/version-2");
    assert_eq!((disk.read(&aside.join("snapshot.3")).unwrap(), disk.read(&aside.join("log.4")).unwrap()), original);
    assert_eq!(disk.read(&aside.join("currentEpoch")).unwrap(), b"0");
    let (snapshot, later) = history();
    assert_eq!(recovered(&disk, &dirs), (snapshot.clone(), later.clone()));
    assert_eq!(import(&disk, &dirs, options(), &mut |_| {}).expect("second import"), None);

    let summary = export(&disk, &dirs, Path::new("/out")).expect("exports");
    assert_eq!((summary.snapshot_zxid, summary.txns), (3, 2));
    let limits = QuorumLimits::DEFAULT;
    let exported = decode_snapshot(&disk.read(Path::new("/out/version-2/snapshot.3")).unwrap(), limits).unwrap();
    assert_eq!(exported.database, zab_core::zab::database_from_snapshot(&snapshot.tree, &snapshot.sessions));
    let log = decode_log(&disk.read(Path::new("/out/version-2/log.4")).unwrap(), limits).unwrap();
    assert_eq!(log.entries.into_iter().map(|e| e.txn).collect::<Vec<_>>(), later);
}

/// A restart after the staged files were complete but before Apache's files moved: the next
/// start finishes the moves, and recovery sees the imported state.
#[test]
fn an_import_interrupted_after_staging_finishes_on_the_next_start() {
    let done = MemDisk::new();
    let (dirs, _, _) = apache_dir(&done);
    import(&done, &dirs, options(), &mut |_| {}).expect("imports");
    let interrupted = MemDisk::new();
    apache_dir(&interrupted);
    let staged = Path::new("/data").join(STAGING_DIR).join("version-2");
    for name in done.list_dir(&dirs.snap_dir()).unwrap() {
        if name.starts_with("snapshot.") || name.starts_with("log.") {
            write(&interrupted, &staged.join(&name), &done.read(&dirs.snap_dir().join(&name)).unwrap());
        }
    }
    write(&interrupted, &Path::new("/data").join(STAGING_DIR).join(STAGING_COMPLETE), b"");
    finish_pending_import(&interrupted, &dirs).expect("finishes");
    assert_eq!(recovered(&interrupted, &dirs), recovered(&done, &dirs));
    assert!(interrupted.read(Path::new("/data/apache-3.8/version-2/log.4")).is_ok());
}
