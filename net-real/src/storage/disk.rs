//! The few file operations storage needs, behind a trait so the same code
//! runs on the real file system ([`RealDisk`]) and on a simulated disk with
//! a power-failure model ([`super::MemDisk`]).
//!
//! Durability contract (the one POSIX gives and the simulator enforces):
//! - bytes written to a file survive a crash only after
//!   [`DiskFile::sync_data`] (or [`DiskFile::sync_all`]) on that file;
//! - a file's name (create, rename, remove) survives a crash only after
//!   [`Disk::sync_dir`] on its directory.

use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// An open file that storage writes to. Reads go through [`Disk::read`].
pub trait DiskFile: Send + std::fmt::Debug {
    /// Writes all of `data` at `offset`, growing the file if needed
    /// (a gap before `offset` reads as zeros).
    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()>;
    /// Sets the file's length: shrinking drops the tail, growing zero-fills.
    /// Used both to preallocate and to truncate.
    fn set_len(&mut self, len: u64) -> io::Result<()>;
    /// The file's current length in bytes.
    fn size(&self) -> io::Result<u64>;
    /// Makes written data (and the length) durable: `fdatasync`.
    fn sync_data(&mut self) -> io::Result<()>;
    /// Makes data and all metadata durable: `fsync`.
    fn sync_all(&mut self) -> io::Result<()>;
}

/// A directory tree of files. Paths are absolute or relative to the
/// process's working directory, as `std::fs` takes them.
pub trait Disk: Clone + Send + std::fmt::Debug + 'static {
    /// The open-file handle this disk hands out.
    type File: DiskFile;

    /// Creates `path` (truncating it if it exists) and opens it for writing.
    fn create(&self, path: &Path) -> io::Result<Self::File>;
    /// Opens an existing file for writing, keeping its contents.
    fn open_write(&self, path: &Path) -> io::Result<Self::File>;
    /// Reads a whole file.
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;
    /// Renames `from` to `to`, replacing `to` atomically if it exists.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Removes a file.
    fn remove(&self, path: &Path) -> io::Result<()>;
    /// Lists the names of the regular files in `dir`, sorted.
    fn list_dir(&self, dir: &Path) -> io::Result<Vec<String>>;
    /// Creates `dir` and its missing parents.
    fn create_dir_all(&self, dir: &Path) -> io::Result<()>;
    /// Makes the names in `dir` durable: opens the directory and fsyncs it.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
}

/// The real file system through `std::fs`.
#[derive(Clone, Copy, Debug, Default)]
pub struct RealDisk;

/// A real open file.
#[derive(Debug)]
pub struct RealFile {
    file: File,
}

impl DiskFile for RealFile {
    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.file.seek(SeekFrom::Start(offset))?;
        self.file.write_all(data)
    }

    fn set_len(&mut self, len: u64) -> io::Result<()> {
        self.file.set_len(len)
    }

    fn size(&self) -> io::Result<u64> {
        Ok(self.file.metadata()?.len())
    }

    fn sync_data(&mut self) -> io::Result<()> {
        self.file.sync_data()
    }

    fn sync_all(&mut self) -> io::Result<()> {
        self.file.sync_all()
    }
}

impl Disk for RealDisk {
    type File = RealFile;

    fn create(&self, path: &Path) -> io::Result<RealFile> {
        let file = OpenOptions::new().write(true).create(true).truncate(true).open(path)?;
        Ok(RealFile { file })
    }

    fn open_write(&self, path: &Path) -> io::Result<RealFile> {
        let file = OpenOptions::new().write(true).open(path)?;
        Ok(RealFile { file })
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        std::fs::read(path)
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::rename(from, to)
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path)
    }

    fn list_dir(&self, dir: &Path) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            if !entry.file_type()?.is_file() {
                continue;
            }
            // Our own files all have ASCII names; anything else is not ours.
            if let Ok(name) = entry.file_name().into_string() {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }

    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        std::fs::create_dir_all(dir)
    }

    #[cfg(unix)]
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        File::open(dir)?.sync_all()
    }

    #[cfg(not(unix))]
    fn sync_dir(&self, _dir: &Path) -> io::Result<()> {
        // Other platforms cannot open a directory for fsync; their rename is
        // durable on its own (NTFS journals metadata).
        Ok(())
    }
}

/// The directory part of `path` (`.` for a bare file name).
pub(crate) fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    }
}
