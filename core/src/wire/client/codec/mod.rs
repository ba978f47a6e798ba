//! Encodings of the client protocol's records, requests, responses, handshake and watch
//! events, byte for byte as Apache ZooKeeper 3.8 writes them.
//!
//! Every function here works on a frame's *payload*, without the 4-byte length prefix,
//! except [`frame`] (which adds it) and [`frame_length`] (which reads it). Decoders never
//! panic and never allocate more than their input: see [`DecodeError`].
//!
//! Which decoder reads which frame:
//!
//! | frame | client → server | server → client |
//! |---|---|---|
//! | first of a connection | [`decode_connect_request`] | [`decode_connect_response`] |
//! | later | [`decode_request`] | [`decode_reply`] (with the request's opcode), or [`decode_watch_event`] when the xid is −1 |

mod record;
mod request;
mod response;

pub use record::{decode_record, encode_record, JuteRecord};
pub use request::{decode_request, encode_request};
pub use response::{decode_reply, encode_reply};

use super::jute::{DecodeError, JuteReader, JuteWriter};
use super::records::{ConnectRequest, ConnectResponse, ReplyHeader, WatcherEvent};
use super::xid;
use crate::error::ErrorCode;
use crate::ids::{SessionId, Zxid};

/// Reads a frame's 4-byte big-endian length prefix, refusing negative lengths and lengths
/// over `max_buffer` (`jute.maxbuffer`), as ZooKeeper does before reading the payload.
///
/// A four-letter word (`ruok`, ...) read as a length is far over any `max_buffer`: check for
/// those on a connection's first four bytes before calling this.
pub fn frame_length(prefix: [u8; 4], max_buffer: usize) -> Result<usize, DecodeError> {
    let length = i32::from_be_bytes(prefix);
    if length < 0 {
        return Err(DecodeError::NegativeFrameLength(length));
    }
    let length = length as usize;
    if length > max_buffer {
        return Err(DecodeError::FrameTooLarge { length, max: max_buffer });
    }
    Ok(length)
}

/// Prepends the 4-byte big-endian length to a payload.
///
/// Panics on payloads of 2 GiB or more, which no jute frame can be.
pub fn frame(payload: Vec<u8>) -> Vec<u8> {
    let length = i32::try_from(payload.len()).expect("a frame fits in an i32 length");
    let mut framed = Vec::with_capacity(payload.len() + 4);
    framed.extend_from_slice(&length.to_be_bytes());
    framed.extend_from_slice(&payload);
    framed
}

/// Encodes the handshake's `ConnectRequest` (44 bytes with a 16-byte password, 45 with
/// `read_only`).
pub fn encode_connect_request(request: &ConnectRequest) -> Vec<u8> {
    let mut writer = JuteWriter::new();
    writer.write_i32(request.protocol_version);
    writer.write_i64(request.last_zxid_seen.0);
    writer.write_i32(request.timeout_ms);
    writer.write_i64(request.session_id.0);
    writer.write_buffer(&request.passwd);
    if let Some(read_only) = request.read_only {
        writer.write_bool(read_only);
    }
    writer.into_bytes()
}

/// Decodes the handshake's `ConnectRequest`. The trailing `readOnly` byte is optional;
/// bytes after it are ignored, as ZooKeeper 3.8 ignores them.
pub fn decode_connect_request(payload: &[u8]) -> Result<ConnectRequest, DecodeError> {
    let mut reader = JuteReader::new(payload);
    Ok(ConnectRequest {
        protocol_version: reader.read_i32()?,
        last_zxid_seen: Zxid(reader.read_i64()?),
        timeout_ms: reader.read_i32()?,
        session_id: SessionId(reader.read_i64()?),
        passwd: reader.read_buffer()?,
        read_only: read_optional_bool(&mut reader)?,
    })
}

/// Encodes the handshake's `ConnectResponse` (36 bytes with a 16-byte password, 37 with
/// `read_only`: send it exactly when the request carried it).
pub fn encode_connect_response(response: &ConnectResponse) -> Vec<u8> {
    let mut writer = JuteWriter::new();
    writer.write_i32(response.protocol_version);
    writer.write_i32(response.timeout_ms);
    writer.write_i64(response.session_id.0);
    writer.write_buffer(&response.passwd);
    if let Some(read_only) = response.read_only {
        writer.write_bool(read_only);
    }
    writer.into_bytes()
}

/// Decodes the handshake's `ConnectResponse`; strict: nothing may follow `readOnly`.
pub fn decode_connect_response(payload: &[u8]) -> Result<ConnectResponse, DecodeError> {
    let mut reader = JuteReader::new(payload);
    let response = ConnectResponse {
        protocol_version: reader.read_i32()?,
        timeout_ms: reader.read_i32()?,
        session_id: SessionId(reader.read_i64()?),
        passwd: reader.read_buffer()?,
        read_only: read_optional_bool(&mut reader)?,
    };
    reader.finish()?;
    Ok(response)
}

fn read_optional_bool(reader: &mut JuteReader<'_>) -> Result<Option<bool>, DecodeError> {
    if reader.remaining() == 0 {
        return Ok(None);
    }
    reader.read_bool().map(Some)
}

/// Encodes a watch notification: `ReplyHeader{xid -1, zxid, err 0}` + `WatcherEvent`.
/// ZooKeeper 3.8 sends zxid −1; 3.9 sends the zxid of the txn that fired the watch.
pub fn encode_watch_event(zxid: Zxid, event: &WatcherEvent) -> Vec<u8> {
    let header = ReplyHeader { xid: xid::NOTIFICATION, zxid, err: ErrorCode::Ok };
    let mut bytes = encode_record(&header);
    bytes.extend_from_slice(&encode_record(event));
    bytes
}

/// Decodes a watch notification into its header zxid and event. Refuses any xid but −1.
pub fn decode_watch_event(payload: &[u8]) -> Result<(Zxid, WatcherEvent), DecodeError> {
    let mut reader = JuteReader::new(payload);
    let header = ReplyHeader::read(&mut reader)?;
    if header.xid != xid::NOTIFICATION {
        return Err(DecodeError::NotAWatchEvent(header.xid));
    }
    let event = WatcherEvent::read(&mut reader)?;
    reader.finish()?;
    Ok((header.zxid, event))
}
