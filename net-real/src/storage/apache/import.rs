//! Import of an Apache data directory into zab's format, and export back. See the module docs
//! of [`super`] for the steps and what a crash leaves.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use zab_core::quorum::QuorumLimits;
use zab_core::tree::DataTree;
use zab_core::txn::{Txn, TxnBody};
use zab_core::{Snapshot, Zxid};

use super::format::{decode_log, decode_snapshot, encode_log, encode_snapshot, is_apache_log, is_apache_snapshot};
use crate::storage::dirs::write_atomically;
use crate::storage::recovery::zxid_follows;
use crate::storage::{
    parse_segment_name, parse_snapshot_name, recover, write_snapshot, Disk, LogOptions, RecoveryError, StorageDirs,
    StorageError, TxnLog,
};

/// Where Apache's files go after an import, under `dataDir` (and `dataLogDir`).
const APACHE_DIR: &str = "apache-3.8";
/// Where zab's files are written before they move into place, under `dataDir`.
pub(super) const STAGING_DIR: &str = "zab-import";
/// The marker that says the staged files are complete.
pub(super) const STAGING_COMPLETE: &str = "complete";
/// Files both formats share, copied beside the moved Apache files.
const SHARED_FILES: [&str; 2] = ["acceptedEpoch", "currentEpoch"];

/// How far an import has got, for a progress bar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImportProgress {
    /// About to read this many bytes of Apache files.
    Reading {
        /// Bytes in all snapshot and log files.
        bytes: u64,
    },
    /// Read another file of this many bytes.
    Read {
        /// Its size.
        bytes: u64,
    },
    /// Writing zab's files.
    Writing,
}

/// What an import found and wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportSummary {
    /// The zxid of the Apache snapshot imported (`None`: there was none).
    pub snapshot_zxid: Option<u64>,
    /// Log transactions after it.
    pub txns: usize,
    /// The last zxid.
    pub last_zxid: u64,
    /// Znodes after the log.
    pub nodes: usize,
    /// Live sessions after the log.
    pub sessions: usize,
    /// Ephemeral znodes after the log.
    pub ephemerals: usize,
    /// Distinct ACL lists after the log.
    pub acls: usize,
    /// Where Apache's files were moved.
    pub apache_dir: PathBuf,
}

impl std::fmt::Display for ImportSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let snapshot = self.snapshot_zxid.map_or("no snapshot".to_string(), |z| format!("snapshot {z:#x}"));
        write!(
            f,
            "imported Apache ZooKeeper data: {snapshot} and {} log transactions, last zxid {:#x}: \
             {} znodes, {} sessions, {} ephemerals, {} ACLs; Apache's files are kept in {}",
            self.txns,
            self.last_zxid,
            self.nodes,
            self.sessions,
            self.ephemerals,
            self.acls,
            self.apache_dir.display()
        )
    }
}

/// What an export wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportSummary {
    /// The snapshot's zxid.
    pub snapshot_zxid: u64,
    /// Log transactions after it.
    pub txns: usize,
    /// The files written.
    pub files: Vec<PathBuf>,
}

/// An Apache file found in a `version-2` directory.
struct ApacheFile {
    path: PathBuf,
    zxid: u64,
    bytes: Vec<u8>,
}

fn corrupt(path: &Path, reason: String) -> StorageError {
    StorageError::Corrupt { path: path.to_path_buf(), offset: 0, reason }
}

/// The Apache snapshot or log files (by `prefix`) in `dir`, oldest first.
fn apache_files<D: Disk>(disk: &D, dir: &Path, snapshots: bool) -> Result<Vec<ApacheFile>, StorageError> {
    let names = match disk.list_dir(dir) {
        Ok(names) => names,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(StorageError::io(dir, "list")(error)),
    };
    let mut files = Vec::new();
    for name in names {
        let zxid = match snapshots {
            true => parse_snapshot_name(&name),
            false => parse_segment_name(&name),
        };
        let Some(zxid) = zxid else { continue };
        let path = dir.join(&name);
        let bytes = disk.read(&path).map_err(StorageError::io(&path, "read"))?;
        let apache = if snapshots { is_apache_snapshot(&bytes) } else { is_apache_log(&bytes) };
        if apache {
            files.push(ApacheFile { path, zxid, bytes });
        }
    }
    files.sort_by_key(|file| file.zxid);
    Ok(files)
}

/// The state read from Apache's files.
struct Imported {
    snapshot: Option<Snapshot>,
    txns: Vec<Txn>,
    summary: ImportSummary,
}

/// Step 1: the newest valid snapshot (an invalid one is skipped for an older one, as Apache
/// does) and the log after it.
fn read_apache(
    snapshots: &[ApacheFile],
    logs: &[ApacheFile],
    apache_dir: PathBuf,
    progress: &mut dyn FnMut(ImportProgress),
) -> Result<Imported, StorageError> {
    let limits = QuorumLimits::new(usize::MAX / 4);
    let mut snapshot = None;
    for file in snapshots.iter().rev() {
        progress(ImportProgress::Read { bytes: file.bytes.len() as u64 });
        match decode_snapshot(&file.bytes, limits) {
            Ok(decoded) => {
                snapshot = Some((file, decoded));
                break;
            }
            Err(reason) => tracing::warn!("{}: skipped invalid Apache snapshot: {reason}", file.path.display()),
        }
    }
    if snapshot.is_none() && !snapshots.is_empty() {
        let path = &snapshots[0].path;
        return Err(corrupt(path, format!("none of the {} Apache snapshots is valid", snapshots.len())));
    }
    let mut summary = ImportSummary {
        snapshot_zxid: None,
        txns: 0,
        last_zxid: 0,
        nodes: 0,
        sessions: 0,
        ephemerals: 0,
        acls: 0,
        apache_dir,
    };
    let (snapshot, mut tree, mut sessions) = match snapshot {
        None => (None, DataTree::new(), BTreeSet::new()),
        Some((file, decoded)) => {
            let zxid = Zxid(file.zxid as i64);
            let (tree, mut sessions) =
                zab_core::zab::snapshot_from_database(zxid, &decoded.database).map_err(|e| corrupt(&file.path, e))?;
            let built = DataTree::from_snapshot(tree.clone()).map_err(|e| corrupt(&file.path, e))?;
            summary.snapshot_zxid = Some(file.zxid);
            sessions.sort();
            let ids = sessions.iter().map(|(id, _)| *id).collect();
            (Some(Snapshot { zxid, tree, sessions }), built, ids)
        }
    };
    let txns = read_logs(logs, summary.snapshot_zxid, limits, progress)?;
    // Replayed here as recovery will, so the summary counts the state zab will serve (and a
    // log that does not fit its snapshot shows up now rather than at the first start).
    for txn in &txns {
        match &txn.body {
            TxnBody::CreateSession { .. } => sessions.insert(txn.header.client_id),
            TxnBody::CloseSession { .. } => sessions.remove(&txn.header.client_id),
            _ => false,
        };
        tree.apply(txn);
    }
    summary.txns = txns.len();
    summary.last_zxid = tree.last_zxid().0 as u64;
    summary.nodes = tree.node_count();
    summary.sessions = sessions.len();
    summary.ephemerals = tree.ephemeral_count();
    summary.acls = tree.acl_count();
    Ok(Imported { snapshot, txns, summary })
}

/// The log transactions after `base`, checked to follow each other without a gap.
fn read_logs(
    logs: &[ApacheFile],
    base: Option<u64>,
    limits: QuorumLimits,
    progress: &mut dyn FnMut(ImportProgress),
) -> Result<Vec<Txn>, StorageError> {
    // The log holding base+1 is the newest one starting at or before it; older ones only
    // hold what the snapshot has (`FileTxnLog.getLogFiles`).
    let start = base.and_then(|zxid| logs.iter().rposition(|file| file.zxid <= zxid)).unwrap_or(0);
    let mut last = base;
    let mut txns = Vec::new();
    for (index, file) in logs.iter().enumerate().skip(start) {
        progress(ImportProgress::Read { bytes: file.bytes.len() as u64 });
        let log = decode_log(&file.bytes, limits).map_err(|e| corrupt(&file.path, e))?;
        if let Some(offset) = log.torn_at {
            if index + 1 != logs.len() {
                let reason = "entry cut short in a log that is not the last".to_string();
                return Err(StorageError::Corrupt { path: file.path.clone(), offset, reason });
            }
            let path = file.path.display();
            tracing::warn!("{path}:{offset}: the last entry is cut short (an unsynced write); not imported");
        }
        for entry in log.entries {
            let zxid = entry.txn.header.zxid.0 as u64;
            if base.is_some_and(|base| zxid <= base) {
                continue; // in the snapshot already
            }
            if let Some(previous) = last.filter(|previous| !zxid_follows(*previous, zxid)) {
                let reason = format!("zxid {zxid:#x} cannot follow {previous:#x}");
                return Err(StorageError::Corrupt { path: file.path.clone(), offset: entry.offset, reason });
            }
            last = Some(zxid);
            txns.push(entry.txn);
        }
    }
    Ok(txns)
}

/// Finishes an import that a crash interrupted after its staged files were complete (step 3
/// on), and removes staged files of one interrupted before. Call before recovery.
pub fn finish_pending_import<D: Disk>(disk: &D, dirs: &StorageDirs) -> Result<(), StorageError> {
    let staging = dirs.data_dir.join(STAGING_DIR);
    let staged = StorageDirs::single(&staging);
    let names = match disk.list_dir(&staging) {
        Ok(names) => names,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(StorageError::io(&staging, "list")(error)),
    };
    if names.iter().any(|n| n == STAGING_COMPLETE) {
        tracing::warn!("{}: finishing an import a restart interrupted", staging.display());
        return move_into_place(disk, dirs, &staged);
    }
    let dir = staged.snap_dir();
    for name in disk.list_dir(&dir).unwrap_or_default() {
        let path = dir.join(name);
        disk.remove(&path).map_err(StorageError::io(&path, "remove"))?;
    }
    Ok(())
}

/// Imports the Apache files under `dirs` (steps 1 to 4 of the module docs). `Ok(None)`: there
/// are none.
pub fn import<D: Disk>(
    disk: &D,
    dirs: &StorageDirs,
    options: LogOptions,
    progress: &mut dyn FnMut(ImportProgress),
) -> Result<Option<ImportSummary>, RecoveryError> {
    finish_pending_import(disk, dirs)?;
    let snapshots = apache_files(disk, &dirs.snap_dir(), true)?;
    let logs = apache_files(disk, &dirs.log_dir(), false)?;
    if snapshots.is_empty() && logs.is_empty() {
        return Ok(None);
    }
    let bytes = snapshots.iter().chain(&logs).map(|f| f.bytes.len() as u64).sum();
    progress(ImportProgress::Reading { bytes });
    let apache_dir = dirs.data_dir.join(APACHE_DIR);
    let imported = read_apache(&snapshots, &logs, apache_dir, progress)?;
    progress(ImportProgress::Writing);
    let staging = dirs.data_dir.join(STAGING_DIR);
    let staged = StorageDirs::single(&staging);
    stage(disk, &staged, &imported, options)?;
    write_atomically(disk, &staging, STAGING_COMPLETE, b"")?;
    move_into_place(disk, dirs, &staged)?;
    Ok(Some(imported.summary))
}

/// Step 2: zab's snapshot and log under `staged`.
fn stage<D: Disk>(
    disk: &D,
    staged: &StorageDirs,
    imported: &Imported,
    options: LogOptions,
) -> Result<(), StorageError> {
    staged.create(disk)?;
    if let Some(snapshot) = &imported.snapshot {
        write_snapshot(disk, staged, snapshot.zxid.0 as u64, snapshot)?;
    }
    let base = imported.snapshot.as_ref().map(|s| s.zxid.0 as u64);
    let mut log = TxnLog::resume(disk.clone(), staged.log_dir(), options, None, base)?;
    for txn in &imported.txns {
        log.append(txn.header.zxid.0 as u64, txn)?;
    }
    log.sync()
}

/// Step 3 and 4: Apache's files aside, zab's into place, then the marker removed. Each move
/// is a rename, so repeating this after a crash moves what is left.
fn move_into_place<D: Disk>(disk: &D, dirs: &StorageDirs, staged: &StorageDirs) -> Result<(), StorageError> {
    let aside = |dir: &Path| dir.join(APACHE_DIR).join("version-2");
    let data_aside = aside(&dirs.data_dir);
    let log_aside = aside(&dirs.data_log_dir);
    for (files, from, to) in [
        (apache_files(disk, &dirs.snap_dir(), true)?, dirs.snap_dir(), &data_aside),
        (apache_files(disk, &dirs.log_dir(), false)?, dirs.log_dir(), &log_aside),
    ] {
        disk.create_dir_all(to).map_err(StorageError::io(to, "create directory"))?;
        for file in files {
            let name = file.path.file_name().expect("a listed file has a name");
            disk.rename(&file.path, &to.join(name)).map_err(StorageError::io(&file.path, "rename"))?;
        }
        disk.sync_dir(to).map_err(StorageError::io(to, "fsync directory"))?;
        disk.sync_dir(&from).map_err(StorageError::io(&from, "fsync directory"))?;
    }
    copy_shared_files(disk, dirs, &data_aside)?;
    dirs.create(disk)?;
    let staged_dir = staged.snap_dir();
    for name in disk.list_dir(&staged_dir).map_err(StorageError::io(&staged_dir, "list"))? {
        let to = match parse_snapshot_name(&name) {
            Some(_) => dirs.snap_dir(),
            None => dirs.log_dir(),
        };
        let from = staged_dir.join(&name);
        disk.rename(&from, &to.join(&name)).map_err(StorageError::io(&from, "rename"))?;
    }
    for dir in [dirs.snap_dir(), dirs.log_dir(), staged_dir] {
        disk.sync_dir(&dir).map_err(StorageError::io(&dir, "fsync directory"))?;
    }
    let marker = staged.data_dir.join(STAGING_COMPLETE);
    if disk.list_dir(&staged.data_dir).unwrap_or_default().iter().any(|n| n == STAGING_COMPLETE) {
        disk.remove(&marker).map_err(StorageError::io(&marker, "remove"))?;
        disk.sync_dir(&staged.data_dir).map_err(StorageError::io(&staged.data_dir, "fsync directory"))?;
    }
    Ok(())
}

/// Copies the epoch files and `myid` beside the moved Apache files, so that directory is a
/// whole Apache data directory.
fn copy_shared_files<D: Disk>(disk: &D, dirs: &StorageDirs, aside: &Path) -> Result<(), StorageError> {
    let copy = |from: PathBuf, to_dir: &Path, name: &str| -> Result<(), StorageError> {
        match disk.read(&from) {
            Ok(bytes) => write_atomically(disk, to_dir, name, &bytes).map(|_| ()),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(error) => Err(StorageError::io(&from, "read")(error)),
        }
    };
    for name in SHARED_FILES {
        copy(dirs.snap_dir().join(name), aside, name)?;
    }
    let apache_data_dir = aside.parent().expect("version-2 has a parent");
    copy(dirs.data_dir.join("myid"), apache_data_dir, "myid")
}

/// Writes the zab state under `dirs` in Apache's format into `<to>/version-2`: one snapshot at
/// the newest zab snapshot's zxid (an empty tree at 0 without one), the log after it in one
/// `log.<zxid>`, and the epoch files.
pub fn export<D: Disk>(disk: &D, dirs: &StorageDirs, to: &Path) -> Result<ExportSummary, RecoveryError> {
    let recovered = recover::<D, Snapshot, Txn>(disk, dirs, LogOptions { prealloc_size: 0, segment_size_max: None })?;
    let snapshot = match recovered.snapshot {
        Some(snapshot) => snapshot.state,
        None => Snapshot { zxid: Zxid(0), tree: DataTree::new().snapshot(), sessions: Vec::new() },
    };
    let txns: Vec<Txn> = recovered.records.into_iter().map(|r| r.record).collect();
    let out = StorageDirs::single(to);
    out.create(disk)?;
    let dir = out.snap_dir();
    let database = zab_core::zab::database_from_snapshot(&snapshot.tree, &snapshot.sessions);
    let snapshot_zxid = snapshot.zxid.0 as u64;
    let mut files =
        vec![write_atomically(disk, &dir, &format!("snapshot.{snapshot_zxid:x}"), &encode_snapshot(&database))?];
    if let Some(first) = txns.first() {
        let name = format!("log.{:x}", first.header.zxid.0);
        files.push(write_atomically(disk, &dir, &name, &encode_log(&txns))?);
    }
    for name in SHARED_FILES {
        if let Ok(bytes) = disk.read(&dirs.snap_dir().join(name)) {
            files.push(write_atomically(disk, &dir, name, &bytes)?);
        }
    }
    Ok(ExportSummary { snapshot_zxid, txns: txns.len(), files })
}
