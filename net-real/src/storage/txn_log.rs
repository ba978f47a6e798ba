//! The transaction log: segment files `log.<hex first zxid>` in
//! `<dataLogDir>/version-2/`, as ZooKeeper names them.
//!
//! Call order: [`TxnLog::append`] any number of records (buffered in
//! memory), then [`TxnLog::sync`] once: everything appended before the
//! sync is durable when it returns (group commit). [`TxnLog::roll`] closes
//! the current segment (call it when taking a snapshot, so purging can drop
//! whole files); [`TxnLog::truncate_after`] serves ZAB's TRUNC.
//! A `TxnLog` is obtained from [`super::recover`], which first repairs the
//! tail the last run may have left.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::disk::{Disk, DiskFile};
use super::error::StorageError;
use super::frame::{encode_record, scan_segment, segment_header, SEGMENT_HEADER_LEN};

/// Appended bytes kept in memory before they are written out even without
/// a sync, so a long batch does not grow the buffer without bound.
const WRITE_BUFFER_MAX: usize = 1 << 20;

/// How the log lays out its files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogOptions {
    /// Segments grow in blocks of this many bytes, zero-filled
    /// (ZooKeeper's `preAllocSize`, 64 MiB). 0 disables preallocation.
    pub prealloc_size: u64,
    /// Start a new segment once the current one holds this many bytes of
    /// records (ZooKeeper's `txnLogSizeLimitInKb`); `None`: only on
    /// [`TxnLog::roll`].
    pub segment_size_max: Option<u64>,
}

impl Default for LogOptions {
    fn default() -> LogOptions {
        LogOptions { prealloc_size: 64 << 20, segment_size_max: None }
    }
}

/// The append side of the transaction log. See the module docs.
#[derive(Debug)]
pub struct TxnLog<D: Disk> {
    disk: D,
    dir: PathBuf,
    options: LogOptions,
    segment: Option<OpenSegment<D::File>>,
    /// Framed records appended but not yet written to the segment.
    buffer: Vec<u8>,
    last_zxid: Option<u64>,
    /// A segment was created or removed since the last directory fsync.
    dir_dirty: bool,
}

#[derive(Debug)]
struct OpenSegment<F> {
    file: F,
    path: PathBuf,
    /// Bytes of header and records written to the file.
    written: u64,
    /// The file's length (written data plus zero-filled preallocation).
    allocated: u64,
}

/// The file name of the segment whose first record has `zxid`.
pub fn segment_name(zxid: u64) -> String {
    format!("log.{zxid:x}")
}

/// The zxid in a segment file name, if it is one.
pub fn parse_segment_name(name: &str) -> Option<u64> {
    u64::from_str_radix(name.strip_prefix("log.")?, 16).ok()
}

/// The segments in `dir`, oldest first, as (first zxid, path).
pub fn list_segments<D: Disk>(disk: &D, dir: &Path) -> Result<Vec<(u64, PathBuf)>, StorageError> {
    let names = disk.list_dir(dir).map_err(StorageError::io(dir, "list"))?;
    let mut segments: Vec<(u64, PathBuf)> =
        names.iter().filter_map(|name| Some((parse_segment_name(name)?, dir.join(name)))).collect();
    segments.sort();
    Ok(segments)
}

impl<D: Disk> TxnLog<D> {
    /// A log in `dir` whose newest segment is `tail` (path, append offset):
    /// recovery has checked it.
    pub(crate) fn resume(
        disk: D,
        dir: PathBuf,
        options: LogOptions,
        tail: Option<(PathBuf, u64)>,
        last_zxid: Option<u64>,
    ) -> Result<TxnLog<D>, StorageError> {
        let segment = match tail {
            Some((path, written)) => Some(open_segment(&disk, path, written)?),
            None => None,
        };
        Ok(TxnLog { disk, dir, options, segment, buffer: Vec::new(), last_zxid, dir_dirty: false })
    }

    /// The directory holding the segments (`<dataLogDir>/version-2`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The zxid of the last record appended (synced or not), or the
    /// snapshot's when the log holds nothing newer.
    pub fn last_zxid(&self) -> Option<u64> {
        self.last_zxid
    }

    /// Buffers a record. It is durable only after the next [`TxnLog::sync`].
    /// `zxid` must be greater than every zxid appended before.
    pub fn append<T: Serialize>(&mut self, zxid: u64, record: &T) -> Result<(), StorageError> {
        if let Some(last) = self.last_zxid {
            if zxid <= last {
                return Err(StorageError::ZxidOrder { last, zxid });
            }
        }
        let full = match (&self.segment, self.options.segment_size_max) {
            (Some(segment), Some(max)) => segment.written + self.buffer.len() as u64 >= max,
            _ => false,
        };
        if full {
            self.roll()?;
        }
        if self.segment.is_none() {
            self.create_segment(zxid)?;
        }
        encode_record(zxid, record, &mut self.buffer)?;
        self.last_zxid = Some(zxid);
        if self.buffer.len() >= WRITE_BUFFER_MAX {
            self.flush()?;
        }
        Ok(())
    }

    /// Makes every appended record durable: writes the buffer, fdatasyncs
    /// the segment and, if a segment was created or removed, fsyncs the
    /// directory.
    ///
    /// An error leaves durability unknown: Linux may drop the failed pages
    /// and report success on a retry. Treat it as fatal: stop, and
    /// [`super::recover`] on restart.
    pub fn sync(&mut self) -> Result<(), StorageError> {
        self.flush()?;
        if let Some(segment) = &mut self.segment {
            let path = &segment.path;
            segment.file.sync_data().map_err(StorageError::io(path, "fdatasync"))?;
        }
        if self.dir_dirty {
            let dir = &self.dir;
            self.disk.sync_dir(dir).map_err(StorageError::io(dir, "fsync directory"))?;
            self.dir_dirty = false;
        }
        Ok(())
    }

    /// Syncs and closes the current segment; the next append starts a new
    /// one named after its zxid.
    pub fn roll(&mut self) -> Result<(), StorageError> {
        self.sync()?;
        self.segment = None;
        Ok(())
    }

    /// Removes every record with a zxid greater than `zxid` (ZAB's TRUNC),
    /// durably. Removing more than the log holds is allowed: the log is
    /// then empty and the next append may use any zxid above `zxid`.
    pub fn truncate_after(&mut self, zxid: u64) -> Result<(), StorageError> {
        self.sync()?;
        self.segment = None;
        let segments = list_segments(&self.disk, &self.dir)?;
        let mut last_kept = None;
        for (first, path) in segments.iter().rev() {
            if *first > zxid {
                self.disk.remove(path).map_err(StorageError::io(path, "remove"))?;
                self.dir_dirty = true;
                continue;
            }
            last_kept = Some(self.truncate_segment(path, zxid)?);
            break;
        }
        self.last_zxid = match last_kept {
            Some(kept) => Some(kept),
            None => Some(zxid),
        };
        self.sync()
    }

    /// Cuts the segment at `path` after its last record with a zxid at most
    /// `zxid`, opens it as the current segment, and returns that zxid.
    fn truncate_segment(&mut self, path: &Path, zxid: u64) -> Result<u64, StorageError> {
        let bytes = self.disk.read(path).map_err(StorageError::io(path, "read"))?;
        let scan = scan_segment(&bytes);
        let kept: Vec<_> = scan.records.iter().filter(|r| r.zxid <= zxid).collect();
        let Some(last) = kept.last() else {
            let offset = scan.stop.map_or(SEGMENT_HEADER_LEN as u64, |s| s.offset);
            return Err(StorageError::Corrupt {
                path: path.to_path_buf(),
                offset,
                reason: format!("no readable record at or below zxid {zxid:#x} to keep"),
            });
        };
        let (end, last_zxid) = (last.end(), last.zxid);
        let mut segment = open_segment(&self.disk, path.to_path_buf(), end)?;
        // Shrink, then grow back: the cut-off records become zeros, which
        // read as the end of the log.
        let len = segment.allocated;
        segment
            .file
            .set_len(end)
            .and_then(|()| segment.file.set_len(len))
            .map_err(StorageError::io(path, "truncate"))?;
        self.segment = Some(segment);
        Ok(last_zxid)
    }

    fn create_segment(&mut self, zxid: u64) -> Result<(), StorageError> {
        let path = self.dir.join(segment_name(zxid));
        let mut file = self.disk.create(&path).map_err(StorageError::io(&path, "create"))?;
        file.write_at(0, &segment_header()).map_err(StorageError::io(&path, "write"))?;
        self.segment =
            Some(OpenSegment { file, path, written: SEGMENT_HEADER_LEN as u64, allocated: SEGMENT_HEADER_LEN as u64 });
        self.dir_dirty = true;
        Ok(())
    }

    /// Writes the buffer to the segment, preallocating first if needed.
    fn flush(&mut self) -> Result<(), StorageError> {
        let Some(segment) = &mut self.segment else {
            debug_assert!(self.buffer.is_empty(), "records buffered without a segment");
            return Ok(());
        };
        if self.buffer.is_empty() {
            return Ok(());
        }
        let end = segment.written + self.buffer.len() as u64;
        let path = &segment.path;
        if end > segment.allocated {
            let block = self.options.prealloc_size.max(1);
            let allocated = end.div_ceil(block) * block;
            segment.file.set_len(allocated).map_err(StorageError::io(path, "preallocate"))?;
            segment.allocated = allocated;
        }
        segment.file.write_at(segment.written, &self.buffer).map_err(StorageError::io(path, "write"))?;
        segment.written = end;
        self.buffer.clear();
        Ok(())
    }
}

fn open_segment<D: Disk>(disk: &D, path: PathBuf, written: u64) -> Result<OpenSegment<D::File>, StorageError> {
    let file = disk.open_write(&path).map_err(StorageError::io(&path, "open"))?;
    let allocated = file.size().map_err(StorageError::io(&path, "stat"))?;
    Ok(OpenSegment { file, path, written, allocated })
}

/// The valid records of a segment file's bytes, for the inspection tools (`zab txnlog-print`),
/// and the offset of the first damaged record when there is one. Nothing is repaired.
pub fn read_segment<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
) -> Result<(Vec<super::LogRecord<T>>, Option<u64>), String> {
    let scan = super::frame::scan_segment(bytes);
    let mut records = Vec::with_capacity(scan.records.len());
    for record in &scan.records {
        let value = super::frame::decode_value(&bytes[record.payload.clone()])
            .map_err(|reason| format!("record at {} does not decode: {reason}", record.offset))?;
        records.push(super::LogRecord { zxid: record.zxid, record: value });
    }
    Ok((records, scan.stop.map(|stop| stop.offset)))
}
