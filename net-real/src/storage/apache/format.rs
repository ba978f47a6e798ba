//! Apache ZooKeeper 3.8's snapshot and transaction log files, read and written.
//!
//! Sources (ZooKeeper 3.8): `server/persistence/FileSnap.java` (`serialize`: a `FileHeader`,
//! `SerializeUtils.serializeSnapshot`, then `SnapStream.sealStream`, then the optional
//! `ZxidDigest` sealed again), `server/persistence/FileTxnLog.java` (`append`: per entry the
//! Adler32 of the entry, the entry as a jute buffer, then the byte `'B'`; the file is
//! preallocated with zeros, so a zero length ends it), `server/persistence/FileHeader`
//! (`zookeeper.jute`: `int magic; int version; long dbid`), `server/DataTree.java`
//! (`serializeZxidDigest`: `long zxid; int digestVersion; long digest`). Checked against the
//! bytes the Debian package's server writes.
//!
//! ```text
//! snapshot.<zxid>: "ZKSN" int 2, long -1, database, long adler32, ustring "/",
//!                  [long zxid, int version, long digest, long adler32, ustring "/"]
//! log.<zxid>:      "ZKLG" int 2, long 0, (long adler32, int len, txn, byte 'B')*, zeros
//! ```
//!
//! Each seal holds the Adler32 of every byte of the file before it (the stream's checksum
//! keeps running across seals).

use zab_core::quorum::{decode_txn, encode_txn, QuorumLimits, TxnDigest, WireDatabase};
use zab_core::txn::Txn;

/// `FileSnap.SNAP_MAGIC`.
pub const SNAPSHOT_MAGIC: &[u8; 4] = b"ZKSN";
/// `FileTxnLog.TXNLOG_MAGIC`.
pub const LOG_MAGIC: &[u8; 4] = b"ZKLG";
/// The `FileHeader` version both files carry.
const FILE_VERSION: i32 = 2;
/// `FileHeader`: magic, version, dbid.
const FILE_HEADER_LEN: usize = 16;
/// `FileTxnLog`'s end-of-record marker.
const END_OF_RECORD: u8 = b'B';
/// The seal's trailing path string: `ustring "/"`.
const SEAL_PATH: &[u8] = &[0, 0, 0, 1, b'/'];

/// Whether `bytes` start like an Apache snapshot file.
pub fn is_apache_snapshot(bytes: &[u8]) -> bool {
    bytes.starts_with(SNAPSHOT_MAGIC)
}

/// Whether `bytes` start like an Apache transaction log file.
pub fn is_apache_log(bytes: &[u8]) -> bool {
    bytes.starts_with(LOG_MAGIC)
}

/// The digest section of a 3.6+ snapshot: the tree's digest when the snapshot started.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ZxidDigest {
    /// The zxid the digest was taken at.
    pub zxid: i64,
    /// `DigestCalculator.DIGEST_VERSION`.
    pub version: i32,
    /// The digest.
    pub digest: i64,
}

/// A decoded Apache snapshot file.
#[derive(Debug)]
pub struct ApacheSnapshot {
    /// Sessions, ACL cache and nodes, as serialized.
    pub database: WireDatabase,
    /// The digest section, when the file has one.
    pub digest: Option<ZxidDigest>,
}

/// One entry of an Apache log: where it starts, the transaction and its optional digest.
#[derive(Debug)]
pub struct ApacheLogEntry {
    /// The byte offset of the entry's checksum.
    pub offset: u64,
    /// The transaction.
    pub txn: Txn,
    /// The leader's tree digest after it, when logged.
    pub digest: Option<TxnDigest>,
}

/// A decoded Apache log file.
#[derive(Debug)]
pub struct ApacheLog {
    /// The entries, in file order.
    pub entries: Vec<ApacheLogEntry>,
    /// Set when the file ends inside an entry (a write the crash cut short; ZooKeeper's
    /// reader stops there too): the offset of that entry.
    pub torn_at: Option<u64>,
}

/// Adler-32 (RFC 1950 §8), as `java.util.zip.Adler32` computes it.
pub fn adler32(bytes: &[u8]) -> u32 {
    const MODULUS: u32 = 65_521;
    // 5552 bytes is the most that can be summed before `b` could overflow 32 bits (zlib's NMAX).
    const CHUNK_MAX: usize = 5552;
    let (mut a, mut b) = (1u32, 0u32);
    for chunk in bytes.chunks(CHUNK_MAX) {
        for &byte in chunk {
            a += u32::from(byte);
            b += a;
        }
        a %= MODULUS;
        b %= MODULUS;
    }
    (b << 16) | a
}

fn read_i32(bytes: &[u8], at: usize) -> Option<i32> {
    Some(i32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

fn read_i64(bytes: &[u8], at: usize) -> Option<i64> {
    Some(i64::from_be_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
}

fn check_header(bytes: &[u8], magic: &[u8; 4], what: &str) -> Result<(), String> {
    if !bytes.starts_with(magic) {
        return Err(format!("not an Apache ZooKeeper {what} (no {} magic)", String::from_utf8_lossy(magic)));
    }
    match read_i32(bytes, 4) {
        Some(FILE_VERSION) => Ok(()),
        Some(version) => Err(format!("{what} format version {version}, expected {FILE_VERSION}")),
        None => Err(format!("{what} header cut short")),
    }
}

/// Checks the seal at `at` (the Adler32 of `bytes[..at]`, then `"/"`) and returns where it ends.
fn check_seal(bytes: &[u8], at: usize) -> Result<usize, String> {
    let stored = read_i64(bytes, at).ok_or_else(|| format!("checksum at {at} cut short"))?;
    let computed = i64::from(adler32(&bytes[..at]));
    if stored != computed {
        return Err(format!("checksum mismatch at {at}: stored {stored:#x}, computed {computed:#x}"));
    }
    match bytes.get(at + 8..at + 8 + SEAL_PATH.len()) {
        Some(SEAL_PATH) => Ok(at + 8 + SEAL_PATH.len()),
        _ => Err(format!("no \"/\" after the checksum at {at}")),
    }
}

/// Decodes an Apache snapshot file, checking its header and every seal.
pub fn decode_snapshot(bytes: &[u8], limits: QuorumLimits) -> Result<ApacheSnapshot, String> {
    check_header(bytes, SNAPSHOT_MAGIC, "snapshot")?;
    let (database, used) = WireDatabase::decode_prefix(&bytes[FILE_HEADER_LEN..], limits)
        .map_err(|e| format!("database does not decode: {e}"))?;
    let mut at = check_seal(bytes, FILE_HEADER_LEN + used)?;
    let mut digest = None;
    if at < bytes.len() {
        let field = |offset: usize| read_i64(bytes, at + offset).ok_or("digest section cut short");
        let version = read_i32(bytes, at + 8).ok_or("digest section cut short")?;
        digest = Some(ZxidDigest { zxid: field(0)?, version, digest: field(12)? });
        at = check_seal(bytes, at + 20)?;
    }
    if at != bytes.len() {
        return Err(format!("{} unexpected bytes after the snapshot at {at}", bytes.len() - at));
    }
    Ok(ApacheSnapshot { database, digest })
}

/// Encodes a snapshot file as 3.8 writes it (without a digest section: ZooKeeper reads a
/// snapshot without one, as it reads those of 3.5 and older).
pub fn encode_snapshot(database: &WireDatabase) -> Vec<u8> {
    let mut bytes = Vec::new();
    bytes.extend_from_slice(SNAPSHOT_MAGIC);
    bytes.extend_from_slice(&FILE_VERSION.to_be_bytes());
    bytes.extend_from_slice(&(-1i64).to_be_bytes());
    bytes.extend_from_slice(&database.encode());
    let checksum = i64::from(adler32(&bytes));
    bytes.extend_from_slice(&checksum.to_be_bytes());
    bytes.extend_from_slice(SEAL_PATH);
    bytes
}

/// Decodes an Apache log file: every entry up to the preallocated zeros (or the end of the
/// file). A checksum mismatch or an entry that does not decode is an error naming its offset.
pub fn decode_log(bytes: &[u8], limits: QuorumLimits) -> Result<ApacheLog, String> {
    check_header(bytes, LOG_MAGIC, "transaction log")?;
    let mut at = FILE_HEADER_LEN;
    let mut entries = Vec::new();
    loop {
        let (Some(checksum), Some(len)) = (read_i64(bytes, at), read_i32(bytes, at + 8)) else {
            let torn = bytes[at..].iter().any(|b| *b != 0);
            return Ok(ApacheLog { entries, torn_at: torn.then_some(at as u64) });
        };
        if len == 0 {
            return Ok(ApacheLog { entries, torn_at: None });
        }
        let len = usize::try_from(len).map_err(|_| format!("entry at {at}: negative length {len}"))?;
        let start = at + 12;
        let Some(entry) = bytes.get(start..start + len) else {
            return Ok(ApacheLog { entries, torn_at: Some(at as u64) });
        };
        if checksum != i64::from(adler32(entry)) {
            return Err(format!("entry at {at}: checksum mismatch"));
        }
        match bytes.get(start + len) {
            Some(&END_OF_RECORD) => {}
            Some(other) => return Err(format!("entry at {at}: end marker {other:#x}, expected 'B'")),
            None => return Ok(ApacheLog { entries, torn_at: Some(at as u64) }),
        }
        let (txn, digest) = decode_txn(entry, limits).map_err(|e| format!("entry at {at} does not decode: {e}"))?;
        entries.push(ApacheLogEntry { offset: at as u64, txn, digest });
        at = start + len + 1;
    }
}

/// Encodes a log file holding `txns` (unpadded: ZooKeeper's reader stops at the end of the
/// file as at zeros).
pub fn encode_log(txns: &[Txn]) -> Vec<u8> {
    let mut bytes = Vec::new();
    bytes.extend_from_slice(LOG_MAGIC);
    bytes.extend_from_slice(&FILE_VERSION.to_be_bytes());
    bytes.extend_from_slice(&0i64.to_be_bytes());
    for txn in txns {
        let entry = encode_txn(txn, None);
        bytes.extend_from_slice(&i64::from(adler32(&entry)).to_be_bytes());
        let len = i32::try_from(entry.len()).expect("a transaction is under 2 GiB");
        bytes.extend_from_slice(&len.to_be_bytes());
        bytes.extend_from_slice(&entry);
        bytes.push(END_OF_RECORD);
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 1950's definition on known values (zlib's test vectors).
    #[test]
    fn adler32_matches_known_values() {
        assert_eq!(adler32(b""), 1);
        assert_eq!(adler32(b"Wikipedia"), 0x11e6_0398);
        let long = vec![0xffu8; 100_000];
        let naive = long.iter().fold((1u64, 0u64), |(a, b), x| {
            let a = (a + u64::from(*x)) % 65_521;
            (a, (b + a) % 65_521)
        });
        assert_eq!(adler32(&long), ((naive.1 << 16) | naive.0) as u32);
    }

    /// What we write, we read back; a flipped byte fails the seal.
    #[test]
    fn snapshot_round_trips_and_seal_catches_damage() {
        let database = WireDatabase::default();
        let mut bytes = encode_snapshot(&database);
        let decoded = decode_snapshot(&bytes, QuorumLimits::DEFAULT).expect("decodes");
        assert_eq!(decoded.database, database);
        assert_eq!(decoded.digest, None);
        bytes[FILE_HEADER_LEN + 2] ^= 1;
        assert!(decode_snapshot(&bytes, QuorumLimits::DEFAULT).is_err());
    }
}
