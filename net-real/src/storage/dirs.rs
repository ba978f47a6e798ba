//! Where storage keeps its files, and the one way we replace a small file.

use std::path::{Path, PathBuf};

use super::disk::{Disk, DiskFile};
use super::error::StorageError;

/// The suffix of a file being written before its atomic rename.
pub(crate) const TEMP_SUFFIX: &str = ".tmp";

/// The two directories of zoo.cfg. Like ZooKeeper, files live in a
/// `version-2` subdirectory of each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageDirs {
    /// `dataDir`: snapshots, epoch files (and `myid`, read by the config).
    pub data_dir: PathBuf,
    /// `dataLogDir`: the transaction log (same as `data_dir` when unset).
    pub data_log_dir: PathBuf,
}

impl StorageDirs {
    /// Both directories in one place (zoo.cfg without `dataLogDir`).
    pub fn single(data_dir: impl Into<PathBuf>) -> StorageDirs {
        let data_dir = data_dir.into();
        StorageDirs { data_log_dir: data_dir.clone(), data_dir }
    }

    /// `<dataDir>/version-2`: snapshots and epoch files.
    pub fn snap_dir(&self) -> PathBuf {
        self.data_dir.join("version-2")
    }

    /// `<dataLogDir>/version-2`: log segments.
    pub fn log_dir(&self) -> PathBuf {
        self.data_log_dir.join("version-2")
    }

    /// Creates both `version-2` directories if they are missing.
    pub fn create<D: Disk>(&self, disk: &D) -> Result<(), StorageError> {
        for dir in [self.snap_dir(), self.log_dir()] {
            disk.create_dir_all(&dir).map_err(StorageError::io(&dir, "create directory"))?;
        }
        Ok(())
    }
}

/// Replaces `dir/name` with `bytes` so that a crash leaves either the old
/// or the new contents: write `name.tmp`, fsync it, rename it over `name`,
/// fsync the directory.
pub(crate) fn write_atomically<D: Disk>(
    disk: &D,
    dir: &Path,
    name: &str,
    bytes: &[u8],
) -> Result<PathBuf, StorageError> {
    let temp = dir.join(format!("{name}{TEMP_SUFFIX}"));
    let path = dir.join(name);
    let mut file = disk.create(&temp).map_err(StorageError::io(&temp, "create"))?;
    file.write_at(0, bytes).map_err(StorageError::io(&temp, "write"))?;
    file.sync_all().map_err(StorageError::io(&temp, "fsync"))?;
    drop(file);
    disk.rename(&temp, &path).map_err(StorageError::io(&temp, "rename"))?;
    disk.sync_dir(dir).map_err(StorageError::io(dir, "fsync directory"))?;
    Ok(path)
}
