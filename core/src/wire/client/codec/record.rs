//! [`JuteRecord`]: the encoding of each record of `zookeeper.jute`, field by field.

use super::super::jute::{DecodeError, JuteReader, JuteWriter};
use super::super::records::*;
use crate::error::ErrorCode;
use crate::ids::Zxid;

/// A record with a fixed jute layout.
pub trait JuteRecord: Sized {
    /// The fewest bytes an encoding can take; bounds vector counts by the input left.
    const SIZE_MIN: usize;
    /// Appends the record's fields in declaration order.
    fn write(&self, writer: &mut JuteWriter);
    /// Reads the record's fields in declaration order.
    fn read(reader: &mut JuteReader<'_>) -> Result<Self, DecodeError>;
}

/// The encoding of a lone record.
pub fn encode_record<T: JuteRecord>(record: &T) -> Vec<u8> {
    let mut writer = JuteWriter::new();
    record.write(&mut writer);
    writer.into_bytes()
}

/// Decodes a lone record that must fill `bytes` exactly.
pub fn decode_record<T: JuteRecord>(bytes: &[u8]) -> Result<T, DecodeError> {
    let mut reader = JuteReader::new(bytes);
    let record = T::read(&mut reader)?;
    reader.finish()?;
    Ok(record)
}

/// Reads an error code, refusing numbers ZooKeeper does not define.
pub(crate) fn read_error_code(reader: &mut JuteReader<'_>) -> Result<ErrorCode, DecodeError> {
    let code = reader.read_i32()?;
    ErrorCode::from_code(code).ok_or(DecodeError::UnknownErrorCode(code))
}

pub(crate) fn write_strings(writer: &mut JuteWriter, strings: &[String]) {
    writer.write_vector(strings, |w, s| w.write_ustring(s));
}

pub(crate) fn read_strings(reader: &mut JuteReader<'_>) -> Result<Vec<String>, DecodeError> {
    reader.read_vector(4, |r| r.read_ustring())
}

pub(crate) fn write_acls(writer: &mut JuteWriter, acls: &[Acl]) {
    writer.write_vector(acls, |w, acl| acl.write(w));
}

pub(crate) fn read_acls(reader: &mut JuteReader<'_>) -> Result<Vec<Acl>, DecodeError> {
    reader.read_vector(Acl::SIZE_MIN, Acl::read)
}

/// Implements [`JuteRecord`] from a field list: `name: kind`, with kind one of
/// `i32`, `i64`, `bool`, `buffer`, `ustring`, `strings`, `acls`, `zxid`, `record`.
macro_rules! jute_record {
    ($type:ty { $($field:ident: $kind:ident),* $(,)? }) => {
        impl JuteRecord for $type {
            const SIZE_MIN: usize = 0 $(+ jute_record!(@size $kind))*;
            fn write(&self, writer: &mut JuteWriter) {
                $(jute_record!(@write writer, self.$field, $kind);)*
            }
            fn read(reader: &mut JuteReader<'_>) -> Result<Self, DecodeError> {
                Ok(Self { $($field: jute_record!(@read reader, $kind),)* })
            }
        }
    };
    (@size i32) => { 4 };
    (@size i64) => { 8 };
    (@size zxid) => { 8 };
    (@size bool) => { 1 };
    (@size buffer) => { 4 };
    (@size ustring) => { 4 };
    (@size strings) => { 4 };
    (@size acls) => { 4 };
    (@size id) => { 8 };
    (@write $w:ident, $v:expr, i32) => { $w.write_i32($v) };
    (@write $w:ident, $v:expr, i64) => { $w.write_i64($v) };
    (@write $w:ident, $v:expr, zxid) => { $w.write_i64($v.0) };
    (@write $w:ident, $v:expr, bool) => { $w.write_bool($v) };
    (@write $w:ident, $v:expr, buffer) => { $w.write_buffer(&$v) };
    (@write $w:ident, $v:expr, ustring) => { $w.write_ustring(&$v) };
    (@write $w:ident, $v:expr, strings) => { write_strings($w, &$v) };
    (@write $w:ident, $v:expr, acls) => { write_acls($w, &$v) };
    (@write $w:ident, $v:expr, id) => { $v.write($w) };
    (@read $r:ident, i32) => { $r.read_i32()? };
    (@read $r:ident, i64) => { $r.read_i64()? };
    (@read $r:ident, zxid) => { Zxid($r.read_i64()?) };
    (@read $r:ident, bool) => { $r.read_bool()? };
    (@read $r:ident, buffer) => { $r.read_buffer()? };
    (@read $r:ident, ustring) => { $r.read_ustring()? };
    (@read $r:ident, strings) => { read_strings($r)? };
    (@read $r:ident, acls) => { read_acls($r)? };
    (@read $r:ident, id) => { Id::read($r)? };
}

jute_record!(Id { scheme: ustring, id: ustring });
jute_record!(Acl { perms: i32, id: id });
jute_record!(Stat {
    czxid: i64,
    mzxid: i64,
    ctime: i64,
    mtime: i64,
    version: i32,
    cversion: i32,
    aversion: i32,
    ephemeral_owner: i64,
    data_length: i32,
    num_children: i32,
    pzxid: i64,
});
jute_record!(RequestHeader { xid: i32, op: i32 });
jute_record!(MultiHeader { op: i32, done: bool, err: i32 });
jute_record!(AuthPacket { auth_type: i32, scheme: ustring, auth: buffer });
jute_record!(CreateRequest { path: ustring, data: buffer, acl: acls, flags: i32 });
jute_record!(CreateTtlRequest { path: ustring, data: buffer, acl: acls, flags: i32, ttl: i64 });
jute_record!(DeleteRequest { path: ustring, version: i32 });
jute_record!(PathWatchRequest { path: ustring, watch: bool });
jute_record!(PathRequest { path: ustring });
jute_record!(SetDataRequest { path: ustring, data: buffer, version: i32 });
jute_record!(SetAclRequest { path: ustring, acl: acls, version: i32 });
jute_record!(CheckVersionRequest { path: ustring, version: i32 });
jute_record!(WatchesRequest { path: ustring, watcher_type: i32 });
jute_record!(AddWatchRequest { path: ustring, mode: i32 });
jute_record!(ReconfigRequest {
    joining_servers: ustring,
    leaving_servers: ustring,
    new_members: ustring,
    current_config_id: i64,
});
jute_record!(WatcherEvent { event_type: i32, state: i32, path: ustring });
jute_record!(ClientInfo { auth_scheme: ustring, user: ustring });

// `SetWatches2`: all five lists. Op 101 (`SetWatches`) carries only the first three:
// see `write_set_watches_v1`.
jute_record!(SetWatches {
    relative_zxid: zxid,
    data_watches: strings,
    exist_watches: strings,
    child_watches: strings,
    persistent_watches: strings,
    persistent_recursive_watches: strings,
});

/// `SetWatches` (op 101): the three lists of 3.5 clients; the persistent lists are not sent.
pub(crate) fn write_set_watches_v1(writer: &mut JuteWriter, watches: &SetWatches) {
    writer.write_i64(watches.relative_zxid.0);
    write_strings(writer, &watches.data_watches);
    write_strings(writer, &watches.exist_watches);
    write_strings(writer, &watches.child_watches);
}

pub(crate) fn read_set_watches_v1(reader: &mut JuteReader<'_>) -> Result<SetWatches, DecodeError> {
    Ok(SetWatches {
        relative_zxid: Zxid(reader.read_i64()?),
        data_watches: read_strings(reader)?,
        exist_watches: read_strings(reader)?,
        child_watches: read_strings(reader)?,
        ..SetWatches::default()
    })
}

impl JuteRecord for ReplyHeader {
    const SIZE_MIN: usize = 16;
    fn write(&self, writer: &mut JuteWriter) {
        writer.write_i32(self.xid);
        writer.write_i64(self.zxid.0);
        writer.write_i32(self.err.code());
    }
    fn read(reader: &mut JuteReader<'_>) -> Result<Self, DecodeError> {
        let xid = reader.read_i32()?;
        let zxid = Zxid(reader.read_i64()?);
        let err = read_error_code(reader)?;
        Ok(ReplyHeader { xid, zxid, err })
    }
}
