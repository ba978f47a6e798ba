//! The byte layout of log segments and the scanner that reads them back.
//!
//! A segment is a 16-byte header — magic `ZABTXLOG`, format version (u32
//! LE), CRC-32C of those 12 bytes (u32 LE) — then records, then zeros (the
//! preallocated tail). A record is
//!
//! ```text
//! magic u32 | len u32 | zxid u64 | crc32c(zxid bytes ++ payload) u32 | payload (len bytes)
//! ```
//!
//! all little-endian, payload = bincode 2 (standard config) of the record.
//! The CRC covers the zxid as well so a flipped zxid bit is caught too.

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::error::{Damage, StorageError};

/// Magic at the start of every segment file.
pub(crate) const SEGMENT_MAGIC: &[u8; 8] = b"ZABTXLOG";
/// Version of the segment format written here.
pub(crate) const SEGMENT_VERSION: u32 = 1;
/// Bytes of the segment header.
pub(crate) const SEGMENT_HEADER_LEN: usize = 16;
/// Magic at the start of every record: "ZREC" read as little-endian.
const RECORD_MAGIC: u32 = u32::from_le_bytes(*b"ZREC");
/// Bytes of a record header.
pub(crate) const RECORD_HEADER_LEN: usize = 20;
/// The largest payload a record may have. ZooKeeper caps a request at
/// jute.maxbuffer (1 MiB by default); a multi-op txn stays well below this.
pub const RECORD_PAYLOAD_MAX: usize = 64 << 20;

/// The segment header bytes.
pub(crate) fn segment_header() -> [u8; SEGMENT_HEADER_LEN] {
    let mut header = [0u8; SEGMENT_HEADER_LEN];
    header[..8].copy_from_slice(SEGMENT_MAGIC);
    header[8..12].copy_from_slice(&SEGMENT_VERSION.to_le_bytes());
    let crc = crc32c::crc32c(&header[..12]);
    header[12..].copy_from_slice(&crc.to_le_bytes());
    header
}

/// The bincode configuration of every stored value.
pub(crate) fn bincode_config() -> bincode::config::Configuration {
    bincode::config::standard()
}

/// Serializes a value with bincode 2.
pub(crate) fn encode_value<V: Serialize>(value: &V, what: &'static str) -> Result<Vec<u8>, StorageError> {
    bincode::serde::encode_to_vec(value, bincode_config())
        .map_err(|e| StorageError::Encode { what, reason: e.to_string() })
}

/// Deserializes a value with bincode 2, requiring every byte to be used.
pub(crate) fn decode_value<V: DeserializeOwned>(bytes: &[u8]) -> Result<V, String> {
    let (value, used) =
        bincode::serde::decode_from_slice::<V, _>(bytes, bincode_config()).map_err(|e| e.to_string())?;
    if used != bytes.len() {
        return Err(format!("{} trailing bytes", bytes.len() - used));
    }
    Ok(value)
}

/// Appends the framed record to `out`.
pub(crate) fn encode_record<T: Serialize>(zxid: u64, record: &T, out: &mut Vec<u8>) -> Result<(), StorageError> {
    let payload = encode_value(record, "log record")?;
    if payload.len() > RECORD_PAYLOAD_MAX {
        return Err(StorageError::RecordTooLarge { zxid, len: payload.len(), max: RECORD_PAYLOAD_MAX });
    }
    let zxid_bytes = zxid.to_le_bytes();
    let crc = crc32c::crc32c_append(crc32c::crc32c(&zxid_bytes), &payload);
    out.extend_from_slice(&RECORD_MAGIC.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&zxid_bytes);
    out.extend_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(&payload);
    Ok(())
}

/// One valid record found by [`scan_segment`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ScannedRecord {
    /// The record's zxid.
    pub zxid: u64,
    /// Where its header starts.
    pub offset: u64,
    /// Where its payload starts and ends.
    pub payload: std::ops::Range<usize>,
}

impl ScannedRecord {
    /// The offset just past this record.
    pub fn end(&self) -> u64 {
        self.payload.end as u64
    }
}

/// Where and why a scan stopped before the zero-filled tail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ScanStop {
    /// Offset of the damaged record (0 for a bad segment header).
    pub offset: u64,
    /// What is wrong.
    pub damage: Damage,
    /// Offset of a valid record after the damage, if any.
    pub next_valid: Option<u64>,
}

/// Everything a scan of one segment found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SegmentScan {
    /// Valid records, in file order, up to the first damage.
    pub records: Vec<ScannedRecord>,
    /// Offset just past the last valid record (the append position).
    pub valid_end: u64,
    /// `None` when the data ended cleanly (end of file or zeros).
    pub stop: Option<ScanStop>,
}

/// Reads the records of a segment's bytes, stopping at the first damage.
pub(crate) fn scan_segment(bytes: &[u8]) -> SegmentScan {
    if bytes.get(..SEGMENT_HEADER_LEN) != Some(&segment_header()[..]) {
        return SegmentScan {
            records: Vec::new(),
            valid_end: 0,
            stop: Some(ScanStop {
                offset: 0,
                damage: Damage::BadSegmentHeader,
                next_valid: find_valid_record(bytes, SEGMENT_HEADER_LEN),
            }),
        };
    }
    let mut records = Vec::new();
    let mut pos = SEGMENT_HEADER_LEN;
    loop {
        // A zero magic is where the writes ended; confirm the rest is the
        // zero-filled tail (checked once, not per record).
        let magic_is_zero = bytes[pos..].iter().take(4).all(|&b| b == 0);
        if magic_is_zero && bytes[pos..].iter().all(|&b| b == 0) {
            return SegmentScan { records, valid_end: pos as u64, stop: None };
        }
        match parse_record(bytes, pos) {
            Ok(record) => {
                pos = record.payload.end;
                records.push(record);
            }
            Err(damage) => {
                let stop = ScanStop { offset: pos as u64, damage, next_valid: find_valid_record(bytes, pos + 1) };
                return SegmentScan { records, valid_end: pos as u64, stop: Some(stop) };
            }
        }
    }
}

/// Parses and checks one record header and payload at `pos`.
fn parse_record(bytes: &[u8], pos: usize) -> Result<ScannedRecord, Damage> {
    let header = bytes.get(pos..pos + RECORD_HEADER_LEN).ok_or(Damage::ShortHeader)?;
    let field = |range: std::ops::Range<usize>| &header[range];
    let magic = u32::from_le_bytes(field(0..4).try_into().expect("4 bytes"));
    if magic != RECORD_MAGIC {
        return Err(Damage::BadMagic);
    }
    let len = u32::from_le_bytes(field(4..8).try_into().expect("4 bytes")) as usize;
    if len > RECORD_PAYLOAD_MAX {
        return Err(Damage::LengthTooLarge(len as u64));
    }
    let zxid_bytes = field(8..16);
    let crc = u32::from_le_bytes(field(16..20).try_into().expect("4 bytes"));
    let start = pos + RECORD_HEADER_LEN;
    let payload = bytes.get(start..start + len).ok_or(Damage::ShortPayload(len as u64))?;
    if crc32c::crc32c_append(crc32c::crc32c(zxid_bytes), payload) != crc {
        return Err(Damage::ChecksumMismatch);
    }
    Ok(ScannedRecord {
        zxid: u64::from_le_bytes(zxid_bytes.try_into().expect("8 bytes")),
        offset: pos as u64,
        payload: start..start + len,
    })
}

/// The offset of the first position at or after `from` holding a record
/// that passes its checksum, if any.
fn find_valid_record(bytes: &[u8], from: usize) -> Option<u64> {
    let magic = RECORD_MAGIC.to_le_bytes();
    let last = bytes.len().checked_sub(RECORD_HEADER_LEN)?;
    (from..=last)
        .filter(|&at| bytes[at..at + 4] == magic)
        .find(|&at| parse_record(bytes, at).is_ok())
        .map(|at| at as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(records: &[(u64, &str)]) -> Vec<u8> {
        let mut bytes = segment_header().to_vec();
        for (zxid, text) in records {
            encode_record(*zxid, &text.to_string(), &mut bytes).unwrap();
        }
        bytes
    }

    #[test]
    fn records_scan_back_and_zero_padding_ends_the_log() {
        let mut bytes = segment(&[(1, "a"), (2, "bc")]);
        let end = bytes.len() as u64;
        bytes.resize(200, 0);
        let scan = scan_segment(&bytes);
        assert_eq!(scan.stop, None);
        assert_eq!(scan.valid_end, end);
        let zxids: Vec<u64> = scan.records.iter().map(|r| r.zxid).collect();
        assert_eq!(zxids, vec![1, 2]);
        let text: String = decode_value(&bytes[scan.records[1].payload.clone()]).unwrap();
        assert_eq!(text, "bc");
    }

    #[test]
    fn a_flipped_zxid_bit_fails_the_checksum() {
        let mut bytes = segment(&[(1, "a")]);
        bytes[SEGMENT_HEADER_LEN + 8] ^= 0x04;
        let scan = scan_segment(&bytes);
        assert_eq!(
            scan.stop,
            Some(ScanStop { offset: SEGMENT_HEADER_LEN as u64, damage: Damage::ChecksumMismatch, next_valid: None })
        );
    }

    #[test]
    fn damage_before_a_valid_record_reports_where_it_is() {
        let mut bytes = segment(&[(1, "a"), (2, "b")]);
        let second = scan_segment(&bytes).records[1].offset;
        bytes[SEGMENT_HEADER_LEN + RECORD_HEADER_LEN] ^= 0xff;
        let stop = scan_segment(&bytes).stop.unwrap();
        assert_eq!(stop.damage, Damage::ChecksumMismatch);
        assert_eq!(stop.next_valid, Some(second));
    }

    #[test]
    fn a_cut_payload_is_short() {
        let bytes = segment(&[(1, "abcdef")]);
        let scan = scan_segment(&bytes[..bytes.len() - 2]);
        let stop = scan.stop.unwrap();
        assert_eq!(stop.damage, Damage::ShortPayload(7));
        assert_eq!(scan.valid_end, SEGMENT_HEADER_LEN as u64);
    }

    #[test]
    fn zeros_before_a_valid_record_are_damage_not_the_end() {
        let mut bytes = segment(&[(1, "a"), (2, "b")]);
        let scan = scan_segment(&bytes);
        let first = scan.records[0].clone();
        bytes[first.offset as usize..first.end() as usize].fill(0);
        let stop = scan_segment(&bytes).stop.unwrap();
        assert_eq!(stop.offset, first.offset);
        assert_eq!(stop.damage, Damage::BadMagic);
        assert_eq!(stop.next_valid, Some(first.end()));
    }
}
