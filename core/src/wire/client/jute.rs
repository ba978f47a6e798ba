//! Jute primitives: big-endian integers, one-byte booleans, length-prefixed buffers, strings
//! and vectors, as `org.apache.jute.BinaryInputArchive` / `BinaryOutputArchive` write them.
//!
//! Decoding is total: every byte string yields a value or a [`DecodeError`], never a panic,
//! and no allocation is ever larger than the input left to read (a length is checked against
//! the remaining bytes before anything is reserved).

use crate::error::ErrorCode;
use crate::ids::Xid;

/// Why bytes could not be decoded.
///
/// # What Apache ZooKeeper 3.8 does with bad client input
///
/// Measured against ZooKeeper 3.8.0 standalone (raw sockets after a valid handshake;
/// the probe and its output are recorded in `core/tests/fixtures/README.md`):
///
/// - **Unknown opcode** (999, 0, −1): replies a bare `ReplyHeader{xid, zxid = −1,
///   err = UNIMPLEMENTED (−6)}`, then **closes the connection**. See
///   [`DecodeError::UnknownOpcode`].
/// - **Opcode −10 (createSession) in a request header**: ZooKeeper answers with a fresh
///   `ConnectResponse` for a *new* session (an artefact of its internals). We refuse it as an
///   unknown opcode instead.
/// - **Garbage body** (a string length past the end, a truncated body, a vector count of
///   2^31−1): replies `ReplyHeader{xid, zxid = last processed, err = MARSHALLINGERROR (−5)}`
///   and **keeps the connection open**. See [`DecodeError::Body`].
/// - **Trailing bytes after a request body**: ignored; the request is served.
///   [`crate::wire::client::decode_request`] ignores them too.
/// - **Invalid UTF-8 in a path**: Java decodes it with replacement characters and serves the
///   request (an `exists` answered NONODE). We refuse it with
///   [`DecodeError::InvalidUtf8`] inside [`DecodeError::Body`], i.e. MARSHALLINGERROR.
/// - **Frame length over `jute.maxbuffer`** (0xfffff + 1 and more), **negative**, or a frame
///   too short for a `RequestHeader` (0 or 4 bytes): **closes the connection** without a
///   reply. See [`DecodeError::FrameTooLarge`], [`DecodeError::NegativeFrameLength`].
/// - **ConnectRequest** of 40 bytes: closes. 46 bytes (an extra byte after `readOnly`):
///   served, extra ignored. `passwd` length −1: served, 36-byte reply (no `readOnly`).
///   `protocolVersion` 5: served.
/// - **Unusual opcodes**: deleteContainer (20) from a client gets BADARGUMENTS (−8) and the
///   connection stays; sasl (102) without SASL configured gets err 0 and a null token.
/// - **Failed auth** (unknown scheme): `ReplyHeader{−4, 0, AUTHFAILED (−115)}`, then closes.
///
/// [`DecodeError::reply`] turns this into what a server should answer.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
pub enum DecodeError {
    /// The input ended early: `needed` more bytes were wanted, `remaining` were left.
    #[error("truncated: needed {needed} bytes, {remaining} left")]
    Truncated {
        /// Bytes the next field needs.
        needed: usize,
        /// Bytes left in the input.
        remaining: usize,
    },
    /// A buffer, string or vector length below −1 (−1 is jute's null).
    #[error("negative length {0}")]
    NegativeLength(i32),
    /// A length (of bytes, or a vector count times the smallest element) exceeds the input left.
    #[error("length {length} exceeds the {remaining} bytes left")]
    LengthTooLarge {
        /// The length read, in bytes (for vectors: count × smallest element size).
        length: u64,
        /// Bytes left in the input.
        remaining: usize,
    },
    /// A `ustring` is not valid UTF-8.
    #[error("invalid UTF-8 in a string")]
    InvalidUtf8,
    /// An opcode this protocol does not serve (ZooKeeper replies UNIMPLEMENTED and closes).
    #[error("unknown opcode {op} (xid {xid})")]
    UnknownOpcode {
        /// The request's xid, so the server can reply to it.
        xid: Xid,
        /// The opcode.
        op: i32,
    },
    /// The header decoded but the body did not (ZooKeeper replies MARSHALLINGERROR and goes on).
    #[error("bad body for opcode {op} (xid {xid}): {source}")]
    Body {
        /// The request's xid, so the server can reply to it.
        xid: Xid,
        /// The opcode.
        op: i32,
        /// What was wrong with the body.
        source: Box<DecodeError>,
    },
    /// Bytes left over after a complete record where the format has no room for them.
    #[error("{0} trailing bytes")]
    TrailingBytes(usize),
    /// A frame length prefix over `jute.maxbuffer` (ZooKeeper closes the connection).
    #[error("frame of {length} bytes exceeds jute.maxbuffer {max}")]
    FrameTooLarge {
        /// The announced length.
        length: usize,
        /// The limit.
        max: usize,
    },
    /// A negative frame length prefix (ZooKeeper closes the connection).
    #[error("negative frame length {0}")]
    NegativeFrameLength(i32),
    /// An error code ZooKeeper does not define.
    #[error("unknown error code {0}")]
    UnknownErrorCode(i32),
    /// A multi sub-operation type that this kind of multi cannot carry.
    #[error("opcode {0} is not allowed inside this multi")]
    InvalidMultiOp(i32),
    /// More sub-operations than [`crate::constants::MULTI_OPS_MAX`].
    #[error("more than {0} sub-operations in one multi")]
    TooManyMultiOps(usize),
    /// A frame expected to be a watch event has another xid.
    #[error("xid {0} is not a watch notification (-1)")]
    NotAWatchEvent(Xid),
}

impl DecodeError {
    /// What a ZooKeeper 3.8 server answers to a request that failed to decode with this error:
    /// `Some((xid, code, close))` to reply a bare `ReplyHeader` with `code` (and close the
    /// connection afterwards when `close`), or `None` to close the connection without a reply.
    pub fn reply(&self) -> Option<(Xid, ErrorCode, bool)> {
        match self {
            DecodeError::UnknownOpcode { xid, .. } => Some((*xid, ErrorCode::Unimplemented, true)),
            DecodeError::Body { xid, .. } => Some((*xid, ErrorCode::MarshallingError, false)),
            _ => None,
        }
    }
}

/// Reads jute primitives from a byte slice, front to back.
#[derive(Debug, Clone)]
pub struct JuteReader<'a> {
    input: &'a [u8],
    position: usize,
}

impl<'a> JuteReader<'a> {
    /// A reader at the start of `input`.
    pub fn new(input: &'a [u8]) -> JuteReader<'a> {
        JuteReader { input, position: 0 }
    }

    /// Bytes not yet read.
    pub fn remaining(&self) -> usize {
        self.input.len() - self.position
    }

    /// Succeeds only when every byte was read.
    pub fn finish(&self) -> Result<(), DecodeError> {
        match self.remaining() {
            0 => Ok(()),
            count => Err(DecodeError::TrailingBytes(count)),
        }
    }

    /// The next `count` bytes, or [`DecodeError::Truncated`].
    pub fn read_bytes(&mut self, count: usize) -> Result<&'a [u8], DecodeError> {
        let remaining = self.remaining();
        if count > remaining {
            return Err(DecodeError::Truncated { needed: count, remaining });
        }
        let bytes = &self.input[self.position..self.position + count];
        self.position += count;
        Ok(bytes)
    }

    fn read_array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut array = [0u8; N];
        array.copy_from_slice(self.read_bytes(N)?);
        Ok(array)
    }

    /// A big-endian `int`.
    pub fn read_i32(&mut self) -> Result<i32, DecodeError> {
        Ok(i32::from_be_bytes(self.read_array()?))
    }

    /// A big-endian `long`.
    pub fn read_i64(&mut self) -> Result<i64, DecodeError> {
        Ok(i64::from_be_bytes(self.read_array()?))
    }

    /// A `boolean`: one byte, any non-zero value is true (as Java's `DataInput.readBoolean`).
    pub fn read_bool(&mut self) -> Result<bool, DecodeError> {
        Ok(self.read_array::<1>()?[0] != 0)
    }

    /// A length prefix: −1 (null) reads as 0; below −1 is an error.
    fn read_length(&mut self) -> Result<usize, DecodeError> {
        match self.read_i32()? {
            -1 => Ok(0),
            length if length < -1 => Err(DecodeError::NegativeLength(length)),
            length => Ok(length as usize),
        }
    }

    /// Checks that `length` bytes can still be read, before anything is allocated for them.
    fn check_length(&self, length: u64) -> Result<(), DecodeError> {
        let remaining = self.remaining();
        if length > remaining as u64 {
            return Err(DecodeError::LengthTooLarge { length, remaining });
        }
        Ok(())
    }

    /// A `buffer`: an `int` length (−1 = null, read as empty) and that many bytes.
    pub fn read_buffer(&mut self) -> Result<Vec<u8>, DecodeError> {
        let length = self.read_length()?;
        self.check_length(length as u64)?;
        Ok(self.read_bytes(length)?.to_vec())
    }

    /// A `ustring`: a `buffer` holding UTF-8 (−1 = null, read as empty).
    pub fn read_ustring(&mut self) -> Result<String, DecodeError> {
        let length = self.read_length()?;
        self.check_length(length as u64)?;
        let bytes = self.read_bytes(length)?;
        std::str::from_utf8(bytes).map(str::to_owned).map_err(|_| DecodeError::InvalidUtf8)
    }

    /// A `vector<T>`: an `int` count (−1 = null, read as empty), then `count` elements read by
    /// `read_element`. `element_size_min` (at least 1) bounds the count by the bytes left.
    pub fn read_vector<T>(
        &mut self,
        element_size_min: usize,
        mut read_element: impl FnMut(&mut JuteReader<'a>) -> Result<T, DecodeError>,
    ) -> Result<Vec<T>, DecodeError> {
        let count = self.read_length()?;
        self.check_length(count as u64 * element_size_min.max(1) as u64)?;
        let mut elements = Vec::with_capacity(count);
        for _ in 0..count {
            elements.push(read_element(self)?);
        }
        Ok(elements)
    }
}

/// Writes jute primitives into a growing buffer.
#[derive(Debug, Clone, Default)]
pub struct JuteWriter {
    buffer: Vec<u8>,
}

impl JuteWriter {
    /// An empty writer.
    pub fn new() -> JuteWriter {
        JuteWriter::default()
    }

    /// The bytes written so far.
    pub fn into_bytes(self) -> Vec<u8> {
        self.buffer
    }

    /// Raw bytes, no length prefix.
    pub fn write_bytes(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    /// A big-endian `int`.
    pub fn write_i32(&mut self, value: i32) {
        self.write_bytes(&value.to_be_bytes());
    }

    /// A big-endian `long`.
    pub fn write_i64(&mut self, value: i64) {
        self.write_bytes(&value.to_be_bytes());
    }

    /// A `boolean` as 0 or 1.
    pub fn write_bool(&mut self, value: bool) {
        self.buffer.push(u8::from(value));
    }

    /// A length prefix. Panics past `i32::MAX`: no jute frame can be that long.
    fn write_length(&mut self, length: usize) {
        let length = i32::try_from(length).expect("jute lengths fit in an i32");
        self.write_i32(length);
    }

    /// A `buffer` (never null: empty is written as length 0).
    pub fn write_buffer(&mut self, bytes: &[u8]) {
        self.write_length(bytes.len());
        self.write_bytes(bytes);
    }

    /// A `ustring` (never null).
    pub fn write_ustring(&mut self, value: &str) {
        self.write_buffer(value.as_bytes());
    }

    /// A `vector<T>` (never null), each element written by `write_element`.
    pub fn write_vector<T>(&mut self, elements: &[T], mut write_element: impl FnMut(&mut JuteWriter, &T)) {
        self.write_length(elements.len());
        for element in elements {
            write_element(self, element);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_lengths_read_as_empty() {
        let minus_one = (-1i32).to_be_bytes();
        assert_eq!(JuteReader::new(&minus_one).read_buffer(), Ok(vec![]));
        assert_eq!(JuteReader::new(&minus_one).read_ustring(), Ok(String::new()));
        assert_eq!(JuteReader::new(&minus_one).read_vector(1, |r| r.read_bool()), Ok(vec![]));
    }

    #[test]
    fn lengths_are_checked_before_allocating() {
        let huge = i32::MAX.to_be_bytes();
        let expected = DecodeError::LengthTooLarge { length: i32::MAX as u64, remaining: 0 };
        assert_eq!(JuteReader::new(&huge).read_buffer(), Err(expected.clone()));
        assert_eq!(JuteReader::new(&huge).read_ustring(), Err(expected));
        let mut count_and_one_element = 3i32.to_be_bytes().to_vec();
        count_and_one_element.extend_from_slice(&[0, 0, 0, 1]);
        assert_eq!(
            JuteReader::new(&count_and_one_element).read_vector(4, |r| r.read_i32()),
            Err(DecodeError::LengthTooLarge { length: 12, remaining: 4 })
        );
        assert_eq!(JuteReader::new(&(-2i32).to_be_bytes()).read_buffer(), Err(DecodeError::NegativeLength(-2)));
    }

    #[test]
    fn primitives_round_trip_big_endian() {
        let mut writer = JuteWriter::new();
        writer.write_i32(-6);
        writer.write_i64(0x0102_0304_0506_0708);
        writer.write_bool(true);
        writer.write_ustring("/é");
        writer.write_vector(&[7i32], |w, v| w.write_i32(*v));
        let bytes = writer.into_bytes();
        assert_eq!(bytes[..12], [0xff, 0xff, 0xff, 0xfa, 1, 2, 3, 4, 5, 6, 7, 8]);
        let mut reader = JuteReader::new(&bytes);
        assert_eq!(reader.read_i32(), Ok(-6));
        assert_eq!(reader.read_i64(), Ok(0x0102_0304_0506_0708));
        assert_eq!(reader.read_bool(), Ok(true));
        assert_eq!(reader.read_ustring(), Ok("/é".to_owned()));
        assert_eq!(reader.read_vector(4, |r| r.read_i32()), Ok(vec![7]));
        assert_eq!(reader.finish(), Ok(()));
        assert_eq!(JuteReader::new(&[0xc3, 0x28]).read_i32(), Err(DecodeError::Truncated { needed: 4, remaining: 2 }));
        assert_eq!(JuteReader::new(&[0, 0, 0, 2, 0xc3, 0x28]).read_ustring(), Err(DecodeError::InvalidUtf8));
    }
}
