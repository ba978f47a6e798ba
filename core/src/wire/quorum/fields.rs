//! Jute fields with caps, and ZooKeeper's nulls kept distinct from empties where they must
//! round-trip. `JuteReader::read_buffer` reads null as empty and checks lengths only
//! against the input left, which suits whole frames; the quorum stream needs caps instead
//! (a stream reader waits for the bytes a length announces).

use super::{QuorumError, QuorumLimits};
use crate::wire::client::{Acl, Id, JuteReader, JuteWriter};

/// A `buffer` that may be null (−1), capped at [`QuorumLimits::field_max`].
pub(crate) fn read_optional_buffer(
    reader: &mut JuteReader<'_>,
    limits: QuorumLimits,
) -> Result<Option<Vec<u8>>, QuorumError> {
    match reader.read_i32()? {
        -1 => Ok(None),
        length => Ok(Some(reader.read_bytes(checked_length(length, limits.field_max())?)?.to_vec())),
    }
}

/// Writes `None` as jute's null (−1).
pub(crate) fn write_optional_buffer(writer: &mut JuteWriter, bytes: Option<&[u8]>) {
    match bytes {
        None => writer.write_i32(-1),
        Some(bytes) => writer.write_buffer(bytes),
    }
}

/// A `ustring` that ZooKeeper never writes null, capped at [`QuorumLimits::field_max`].
pub(crate) fn read_string(reader: &mut JuteReader<'_>, limits: QuorumLimits) -> Result<String, QuorumError> {
    let bytes = read_optional_buffer(reader, limits)?.ok_or(QuorumError::NullString)?;
    String::from_utf8(bytes).map_err(|_| crate::wire::client::DecodeError::InvalidUtf8.into())
}

/// A length or count: not negative, at most `max`.
pub(crate) fn checked_length(length: i32, max: usize) -> Result<usize, QuorumError> {
    if length < 0 {
        return Err(QuorumError::NegativeLength(length));
    }
    if length as usize > max {
        return Err(QuorumError::FieldTooLarge { length: length as i64, max });
    }
    Ok(length as usize)
}

/// A vector count (null not allowed), capped at `max`, then the elements. Reserves no more
/// than the bytes left can hold, at `element_size_min` bytes each.
pub(crate) fn read_vector<'a, T>(
    reader: &mut JuteReader<'a>,
    max: usize,
    element_size_min: usize,
    mut read_element: impl FnMut(&mut JuteReader<'a>) -> Result<T, QuorumError>,
) -> Result<Vec<T>, QuorumError> {
    let count = checked_length(reader.read_i32()?, max)?;
    let mut elements = Vec::with_capacity(count.min(reader.remaining() / element_size_min.max(1)));
    for _ in 0..count {
        elements.push(read_element(reader)?);
    }
    Ok(elements)
}

/// `data.Id`.
pub(crate) fn read_id(reader: &mut JuteReader<'_>, limits: QuorumLimits) -> Result<Id, QuorumError> {
    Ok(Id { scheme: read_string(reader, limits)?, id: read_string(reader, limits)? })
}

pub(crate) fn write_id(writer: &mut JuteWriter, id: &Id) {
    writer.write_ustring(&id.scheme);
    writer.write_ustring(&id.id);
}

/// `data.ACL`.
pub(crate) fn read_acl(reader: &mut JuteReader<'_>, limits: QuorumLimits) -> Result<Acl, QuorumError> {
    Ok(Acl { perms: reader.read_i32()?, id: read_id(reader, limits)? })
}

pub(crate) fn write_acl(writer: &mut JuteWriter, acl: &Acl) {
    writer.write_i32(acl.perms);
    write_id(writer, &acl.id);
}

/// `vector<ACL>` (null not allowed).
pub(crate) fn read_acls(reader: &mut JuteReader<'_>, limits: QuorumLimits) -> Result<Vec<Acl>, QuorumError> {
    let acl_len_min = crate::constants::QUORUM_ACL_LEN_MIN;
    read_vector(reader, limits.entries_max(acl_len_min), acl_len_min, |r| read_acl(r, limits))
}

pub(crate) fn write_acls(writer: &mut JuteWriter, acls: &[Acl]) {
    writer.write_vector(acls, write_acl);
}
