//! The epoch files `acceptedEpoch` and `currentEpoch` in
//! `<dataDir>/version-2`: one ASCII decimal number each, replaced
//! atomically, as ZooKeeper's `QuorumPeer.writeLongToFile` does.

use super::dirs::{write_atomically, StorageDirs};
use super::disk::Disk;
use super::error::StorageError;

/// Which epoch file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EpochFile {
    /// `acceptedEpoch`: the newest epoch this server has acknowledged in
    /// discovery (ZAB's accepted epoch).
    Accepted,
    /// `currentEpoch`: the epoch of the leader this server last synced
    /// with (ZAB's current epoch).
    Current,
}

impl EpochFile {
    /// The file name ZooKeeper uses.
    pub fn file_name(self) -> &'static str {
        match self {
            EpochFile::Accepted => "acceptedEpoch",
            EpochFile::Current => "currentEpoch",
        }
    }
}

/// Reads an epoch file; `Ok(None)` when it does not exist yet.
pub fn read_epoch<D: Disk>(disk: &D, dirs: &StorageDirs, which: EpochFile) -> Result<Option<u64>, StorageError> {
    let path = dirs.snap_dir().join(which.file_name());
    let bytes = match disk.read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StorageError::io(&path, "read")(e)),
    };
    let text = String::from_utf8_lossy(&bytes);
    match text.trim().parse::<u64>() {
        Ok(epoch) => Ok(Some(epoch)),
        Err(_) => Err(StorageError::Corrupt {
            path,
            offset: 0,
            reason: format!("expected an epoch number, found {:?}", text.trim()),
        }),
    }
}

/// Writes an epoch file durably (temp file, fsync, rename, directory fsync).
pub fn write_epoch<D: Disk>(disk: &D, dirs: &StorageDirs, which: EpochFile, epoch: u64) -> Result<(), StorageError> {
    let text = epoch.to_string();
    write_atomically(disk, &dirs.snap_dir(), which.file_name(), text.as_bytes())?;
    Ok(())
}
