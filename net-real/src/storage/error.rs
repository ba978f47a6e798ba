//! Errors and warnings of the storage layer. Every one names the file, and
//! where it is about a record, the byte offset, so an operator can look.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// A failed storage operation (append, sync, snapshot, epoch file, purge).
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The operating system refused an operation.
    #[error("{}: {op} failed: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What we were doing ("write", "fdatasync", ...).
        op: &'static str,
        /// The OS error.
        source: io::Error,
    },
    /// A record or snapshot could not be serialized.
    #[error("cannot encode {what}: {reason}")]
    Encode {
        /// "log record" or "snapshot".
        what: &'static str,
        /// bincode's message.
        reason: String,
    },
    /// A record is larger than [`super::RECORD_PAYLOAD_MAX`].
    #[error("log record for zxid {zxid:#x} is {len} bytes, over the limit of {max}")]
    RecordTooLarge {
        /// The record's zxid.
        zxid: u64,
        /// Its encoded size.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// An append did not increase the zxid.
    #[error("zxid {zxid:#x} appended after {last:#x}: zxids must increase")]
    ZxidOrder {
        /// The last zxid in the log.
        last: u64,
        /// The zxid the caller tried to append.
        zxid: u64,
    },
    /// A file's contents are not what we wrote (bad epoch file, corrupt
    /// record met while truncating, unreadable snapshot).
    #[error("{}:{offset}: {reason}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The byte offset of the problem.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
}

impl StorageError {
    /// Wraps an I/O error with the path and operation it came from.
    pub(crate) fn io(path: &Path, op: &'static str) -> impl FnOnce(io::Error) -> StorageError {
        let path = path.to_path_buf();
        move |source| StorageError::Io { path, op, source }
    }
}

/// Why recovery cannot continue. The node must not serve from this disk;
/// it should resync from the leader (or an operator should look).
#[derive(Debug, thiserror::Error)]
pub enum RecoveryError {
    /// An operation on the disk failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// A damaged record with data after it: not a torn tail, so the damage
    /// is in data that was synced.
    #[error(
        "{}:{offset}: {damage}, but valid data follows at {}:{next_valid}; \
         the log is corrupt in the middle",
        path.display(),
        followed_by.display()
    )]
    CorruptRecord {
        /// The segment file.
        path: PathBuf,
        /// Where the damaged record starts.
        offset: u64,
        /// What is wrong with it.
        damage: Damage,
        /// The file holding the next valid record (this one or a later
        /// segment).
        followed_by: PathBuf,
        /// Where in that file the valid data starts.
        next_valid: u64,
    },
    /// A record's checksum is good but it does not decode into the record
    /// type: a format change or a bug, never a torn write.
    #[error("{}:{offset}: record zxid {zxid:#x} does not decode: {reason}", path.display())]
    Undecodable {
        /// The segment file.
        path: PathBuf,
        /// Where the record starts.
        offset: u64,
        /// Its zxid.
        zxid: u64,
        /// bincode's message.
        reason: String,
    },
    /// zxids go down or skip transactions between records or segments.
    #[error(
        "{}:{offset}: zxid {zxid:#x} cannot follow {previous:#x} ({why})",
        path.display()
    )]
    ZxidGap {
        /// The segment file.
        path: PathBuf,
        /// Where the offending record starts.
        offset: u64,
        /// The zxid before it (a record's or the snapshot's).
        previous: u64,
        /// The offending zxid.
        zxid: u64,
        /// "not increasing" or "transactions missing".
        why: &'static str,
    },
    /// A segment's first record does not carry the zxid in its name.
    #[error("{}:{offset}: first record has zxid {zxid:#x}, the file name says {named:#x}", path.display())]
    SegmentNameMismatch {
        /// The segment file.
        path: PathBuf,
        /// Where the first record starts.
        offset: u64,
        /// The zxid in the file name.
        named: u64,
        /// The zxid in the record.
        zxid: u64,
    },
    /// A file in Apache ZooKeeper's format (its `ZKSN` or `ZKLG` magic) under a zab name.
    /// Recovery never repairs, skips or deletes it: the data directory must be imported
    /// first (`zab import`, or `zab server`, which imports on first start).
    #[error(
        "{}: an Apache ZooKeeper {what}; this data directory must be imported first \
         (`zab import --config zoo.cfg`, or start `zab server`, which imports it)",
        path.display()
    )]
    ApacheFormat {
        /// The file.
        path: PathBuf,
        /// "snapshot" or "transaction log".
        what: &'static str,
    },
    /// Snapshots exist but none passes its checksum: replaying the log from
    /// an empty tree would build the wrong state.
    #[error("{}: none of the {count} snapshots is valid (see the warnings)", dir.display())]
    NoValidSnapshot {
        /// The snapshot directory.
        dir: PathBuf,
        /// How many snapshot files there were.
        count: usize,
    },
}

/// What is wrong with a damaged log record or segment header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Damage {
    /// The segment header is missing, zero or wrong.
    BadSegmentHeader,
    /// Fewer bytes than a record header remain.
    ShortHeader,
    /// The record header does not start with the record magic.
    BadMagic,
    /// The length field is over the limit.
    LengthTooLarge(u64),
    /// The payload runs past the end of the file.
    ShortPayload(u64),
    /// The CRC-32C of zxid and payload does not match.
    ChecksumMismatch,
}

impl fmt::Display for Damage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Damage::BadSegmentHeader => write!(f, "bad segment header"),
            Damage::ShortHeader => write!(f, "short record header"),
            Damage::BadMagic => write!(f, "bad record magic"),
            Damage::LengthTooLarge(len) => write!(f, "record length {len} over the limit"),
            Damage::ShortPayload(len) => write!(f, "record of {len} bytes cut short"),
            Damage::ChecksumMismatch => write!(f, "record checksum mismatch"),
        }
    }
}

/// Something recovery repaired or skipped; returned to the caller and
/// logged with `tracing::warn!`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryWarning {
    /// The file concerned.
    pub path: PathBuf,
    /// The byte offset concerned (0 for whole-file events).
    pub offset: u64,
    /// What happened.
    pub kind: WarningKind,
}

/// The kinds of [`RecoveryWarning`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WarningKind {
    /// The log's last segment ended in a damaged record with nothing valid
    /// after it (a torn or lost unsynced write): truncated at `offset`.
    TruncatedTail(Damage),
    /// The last segment held no valid record: removed.
    RemovedEmptySegment(Damage),
    /// A snapshot failed its checks and was skipped.
    InvalidSnapshot(String),
    /// A temporary file from an interrupted write was removed.
    RemovedTempFile,
}

impl fmt::Display for RecoveryWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.path.display();
        let offset = self.offset;
        match &self.kind {
            WarningKind::TruncatedTail(damage) => {
                write!(f, "{path}:{offset}: {damage}; truncated the log tail here")
            }
            WarningKind::RemovedEmptySegment(damage) => {
                write!(f, "{path}:{offset}: {damage}; removed the segment (no valid record)")
            }
            WarningKind::InvalidSnapshot(reason) => {
                write!(f, "{path}: skipped invalid snapshot: {reason}")
            }
            WarningKind::RemovedTempFile => write!(f, "{path}: removed leftover temporary file"),
        }
    }
}
