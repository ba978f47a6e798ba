//! Snapshots: `snapshot.<hex zxid>` in `<dataDir>/version-2`.
//!
//! Layout: a 32-byte header — magic `ZABSNAPS`, format version (u32 LE),
//! zxid (u64 LE), payload length (u64 LE), CRC-32C of the first 28 header
//! bytes followed by the payload (u32 LE) — then the payload, bincode 2 of
//! the caller's state. A snapshot at zxid Z holds every transaction up to
//! and including Z; recovery replays log records after Z.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::dirs::{write_atomically, StorageDirs};
use super::disk::Disk;
use super::error::StorageError;
use super::frame::{decode_value, encode_value};

const SNAPSHOT_MAGIC: &[u8; 8] = b"ZABSNAPS";
const SNAPSHOT_VERSION: u32 = 1;
const SNAPSHOT_HEADER_LEN: usize = 32;

/// A snapshot read back from disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot<S> {
    /// The zxid of the last transaction the state includes.
    pub zxid: u64,
    /// The state.
    pub state: S,
}

/// The file name of the snapshot at `zxid`.
pub fn snapshot_name(zxid: u64) -> String {
    format!("snapshot.{zxid:x}")
}

/// The zxid in a snapshot file name, if it is one (temp files are not).
pub fn parse_snapshot_name(name: &str) -> Option<u64> {
    u64::from_str_radix(name.strip_prefix("snapshot.")?, 16).ok()
}

/// The snapshots in `<dataDir>/version-2`, newest first, as (zxid, path).
pub fn list_snapshots<D: Disk>(disk: &D, dirs: &StorageDirs) -> Result<Vec<(u64, PathBuf)>, StorageError> {
    let dir = dirs.snap_dir();
    let names = disk.list_dir(&dir).map_err(StorageError::io(&dir, "list"))?;
    let mut snapshots: Vec<(u64, PathBuf)> =
        names.iter().filter_map(|name| Some((parse_snapshot_name(name)?, dir.join(name)))).collect();
    snapshots.sort_by(|a, b| b.cmp(a));
    Ok(snapshots)
}

/// Writes the snapshot of `state` at `zxid` durably and returns its path.
/// Call [`super::TxnLog::roll`] first, so the log's next segment starts
/// after the snapshot and older segments can be purged whole.
pub fn write_snapshot<D: Disk, S: Serialize>(
    disk: &D,
    dirs: &StorageDirs,
    zxid: u64,
    state: &S,
) -> Result<PathBuf, StorageError> {
    let payload = encode_value(state, "snapshot")?;
    let mut bytes = Vec::with_capacity(SNAPSHOT_HEADER_LEN + payload.len());
    bytes.extend_from_slice(SNAPSHOT_MAGIC);
    bytes.extend_from_slice(&SNAPSHOT_VERSION.to_le_bytes());
    bytes.extend_from_slice(&zxid.to_le_bytes());
    bytes.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    let crc = crc32c::crc32c_append(crc32c::crc32c(&bytes), &payload);
    bytes.extend_from_slice(&crc.to_le_bytes());
    bytes.extend_from_slice(&payload);
    write_atomically(disk, &dirs.snap_dir(), &snapshot_name(zxid), &bytes)
}

/// Reads and checks one snapshot file.
pub fn read_snapshot<D: Disk, S: DeserializeOwned>(disk: &D, path: &Path) -> Result<Snapshot<S>, StorageError> {
    let bytes = disk.read(path).map_err(StorageError::io(path, "read"))?;
    let zxid = check_snapshot(path, &bytes)?;
    let state = decode_value(&bytes[SNAPSHOT_HEADER_LEN..]).map_err(|reason| StorageError::Corrupt {
        path: path.to_path_buf(),
        offset: SNAPSHOT_HEADER_LEN as u64,
        reason,
    })?;
    Ok(Snapshot { zxid, state })
}

/// Checks a snapshot's header and checksum without decoding the state;
/// returns its zxid.
pub fn verify_snapshot<D: Disk>(disk: &D, path: &Path) -> Result<u64, StorageError> {
    let bytes = disk.read(path).map_err(StorageError::io(path, "read"))?;
    check_snapshot(path, &bytes)
}

/// Checks magic, version, length, checksum and the zxid against the name.
fn check_snapshot(path: &Path, bytes: &[u8]) -> Result<u64, StorageError> {
    let corrupt = |offset: u64, reason: String| StorageError::Corrupt { path: path.to_path_buf(), offset, reason };
    let header =
        bytes.get(..SNAPSHOT_HEADER_LEN).ok_or_else(|| corrupt(0, format!("{} bytes: too short", bytes.len())))?;
    if &header[..8] != SNAPSHOT_MAGIC || header[8..12] != SNAPSHOT_VERSION.to_le_bytes() {
        return Err(corrupt(0, "bad magic or version".into()));
    }
    let zxid = u64::from_le_bytes(header[12..20].try_into().expect("8 bytes"));
    let len = u64::from_le_bytes(header[20..28].try_into().expect("8 bytes"));
    let crc = u32::from_le_bytes(header[28..32].try_into().expect("4 bytes"));
    let payload = &bytes[SNAPSHOT_HEADER_LEN..];
    if payload.len() as u64 != len {
        let reason = format!("payload is {} bytes, header says {len}", payload.len());
        return Err(corrupt(SNAPSHOT_HEADER_LEN as u64, reason));
    }
    if crc32c::crc32c_append(crc32c::crc32c(&header[..28]), payload) != crc {
        return Err(corrupt(0, "checksum mismatch".into()));
    }
    let named = path.file_name().and_then(|name| parse_snapshot_name(name.to_str()?));
    if named != Some(zxid) {
        return Err(corrupt(12, format!("holds zxid {zxid:#x}, not the one in its name")));
    }
    Ok(zxid)
}
