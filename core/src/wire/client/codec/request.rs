//! Client requests: a [`RequestHeader`] and a body chosen by the opcode.

use super::super::jute::{DecodeError, JuteReader, JuteWriter};
use super::super::records::*;
use super::super::{op, MultiOp, MultiReadOp, Request};
use super::record::{read_set_watches_v1, write_set_watches_v1, JuteRecord};
use crate::constants::MULTI_OPS_MAX;

/// The terminator of a multi request or response: `MultiHeader{-1, true, -1}`.
const MULTI_END: MultiHeader = MultiHeader { op: -1, done: true, err: -1 };

impl Request {
    /// The opcode this request travels under.
    pub fn op(&self) -> i32 {
        match self {
            Request::Create(_) => op::CREATE,
            Request::Create2(_) => op::CREATE2,
            Request::CreateContainer(_) => op::CREATE_CONTAINER,
            Request::CreateTtl(_) => op::CREATE_TTL,
            Request::Delete(_) => op::DELETE,
            Request::DeleteContainer(_) => op::DELETE_CONTAINER,
            Request::Exists(_) => op::EXISTS,
            Request::GetData(_) => op::GET_DATA,
            Request::SetData(_) => op::SET_DATA,
            Request::GetAcl(_) => op::GET_ACL,
            Request::SetAcl(_) => op::SET_ACL,
            Request::GetChildren(_) => op::GET_CHILDREN,
            Request::GetChildren2(_) => op::GET_CHILDREN2,
            Request::Sync(_) => op::SYNC,
            Request::Ping => op::PING,
            Request::Check(_) => op::CHECK,
            Request::Multi(_) => op::MULTI,
            Request::MultiRead(_) => op::MULTI_READ,
            Request::Reconfig(_) => op::RECONFIG,
            Request::CheckWatches(_) => op::CHECK_WATCHES,
            Request::RemoveWatches(_) => op::REMOVE_WATCHES,
            Request::Auth(_) => op::AUTH,
            Request::SetWatches(_) => op::SET_WATCHES,
            Request::SetWatches2(_) => op::SET_WATCHES2,
            Request::Sasl(_) => op::SASL,
            Request::GetEphemerals(_) => op::GET_EPHEMERALS,
            Request::GetAllChildrenNumber(_) => op::GET_ALL_CHILDREN_NUMBER,
            Request::AddWatch(_) => op::ADD_WATCH,
            Request::WhoAmI => op::WHO_AM_I,
            Request::CloseSession => op::CLOSE_SESSION,
        }
    }
}

/// Encodes a request: header, then body (no length prefix).
///
/// Panics when `header.op` is not `request.op()`: the variant fixes the opcode.
/// `Request::SetWatches` (op 101) carries only the three lists of its record.
pub fn encode_request(header: &RequestHeader, request: &Request) -> Vec<u8> {
    assert_eq!(header.op, request.op(), "the header's opcode must match the request");
    let mut writer = JuteWriter::new();
    header.write(&mut writer);
    write_request_body(&mut writer, request);
    writer.into_bytes()
}

fn write_request_body(writer: &mut JuteWriter, request: &Request) {
    match request {
        Request::Create(r) | Request::Create2(r) | Request::CreateContainer(r) => r.write(writer),
        Request::CreateTtl(r) => r.write(writer),
        Request::Delete(r) => r.write(writer),
        Request::DeleteContainer(r) | Request::GetAcl(r) | Request::Sync(r) => r.write(writer),
        Request::GetEphemerals(r) | Request::GetAllChildrenNumber(r) => r.write(writer),
        Request::Exists(r) | Request::GetData(r) => r.write(writer),
        Request::GetChildren(r) | Request::GetChildren2(r) => r.write(writer),
        Request::SetData(r) => r.write(writer),
        Request::SetAcl(r) => r.write(writer),
        Request::Check(r) => r.write(writer),
        Request::Multi(ops) => write_multi(writer, ops),
        Request::MultiRead(ops) => write_multi_read(writer, ops),
        Request::Reconfig(r) => r.write(writer),
        Request::CheckWatches(r) | Request::RemoveWatches(r) => r.write(writer),
        Request::Auth(r) => r.write(writer),
        Request::SetWatches(r) => write_set_watches_v1(writer, r),
        Request::SetWatches2(r) => r.write(writer),
        Request::Sasl(token) => writer.write_buffer(token),
        Request::AddWatch(r) => r.write(writer),
        Request::Ping | Request::WhoAmI | Request::CloseSession => {}
    }
}

/// Decodes a request frame's payload into its header and body.
///
/// Errors: a payload shorter than a header gives [`DecodeError::Truncated`] (ZooKeeper closes
/// the connection); an opcode outside 1–9, 11–22, 100–107, −11 gives
/// [`DecodeError::UnknownOpcode`]; a bad body gives [`DecodeError::Body`] (both carry the xid
/// so the server can reply, see [`DecodeError::reply`]). Bytes after a complete body are
/// ignored, as ZooKeeper ignores them.
pub fn decode_request(payload: &[u8]) -> Result<(RequestHeader, Request), DecodeError> {
    let mut reader = JuteReader::new(payload);
    let header = RequestHeader::read(&mut reader)?;
    let request = read_request_body(&mut reader, header.op).map_err(|error| match error {
        DecodeError::UnknownOpcode { .. } => DecodeError::UnknownOpcode { xid: header.xid, op: header.op },
        source => DecodeError::Body { xid: header.xid, op: header.op, source: Box::new(source) },
    })?;
    Ok((header, request))
}

fn read_request_body(reader: &mut JuteReader<'_>, opcode: i32) -> Result<Request, DecodeError> {
    Ok(match opcode {
        op::CREATE => Request::Create(CreateRequest::read(reader)?),
        op::CREATE2 => Request::Create2(CreateRequest::read(reader)?),
        op::CREATE_CONTAINER => Request::CreateContainer(CreateRequest::read(reader)?),
        op::CREATE_TTL => Request::CreateTtl(CreateTtlRequest::read(reader)?),
        op::DELETE => Request::Delete(DeleteRequest::read(reader)?),
        op::DELETE_CONTAINER => Request::DeleteContainer(PathRequest::read(reader)?),
        op::EXISTS => Request::Exists(PathWatchRequest::read(reader)?),
        op::GET_DATA => Request::GetData(PathWatchRequest::read(reader)?),
        op::SET_DATA => Request::SetData(SetDataRequest::read(reader)?),
        op::GET_ACL => Request::GetAcl(PathRequest::read(reader)?),
        op::SET_ACL => Request::SetAcl(SetAclRequest::read(reader)?),
        op::GET_CHILDREN => Request::GetChildren(PathWatchRequest::read(reader)?),
        op::GET_CHILDREN2 => Request::GetChildren2(PathWatchRequest::read(reader)?),
        op::SYNC => Request::Sync(PathRequest::read(reader)?),
        op::PING => Request::Ping,
        op::CHECK => Request::Check(CheckVersionRequest::read(reader)?),
        op::MULTI => Request::Multi(read_multi(reader)?),
        op::MULTI_READ => Request::MultiRead(read_multi_read(reader)?),
        op::RECONFIG => Request::Reconfig(ReconfigRequest::read(reader)?),
        op::CHECK_WATCHES => Request::CheckWatches(WatchesRequest::read(reader)?),
        op::REMOVE_WATCHES => Request::RemoveWatches(WatchesRequest::read(reader)?),
        op::AUTH => Request::Auth(AuthPacket::read(reader)?),
        op::SET_WATCHES => Request::SetWatches(read_set_watches_v1(reader)?),
        op::SET_WATCHES2 => Request::SetWatches2(SetWatches::read(reader)?),
        op::SASL => Request::Sasl(reader.read_buffer()?),
        op::GET_EPHEMERALS => Request::GetEphemerals(PathRequest::read(reader)?),
        op::GET_ALL_CHILDREN_NUMBER => Request::GetAllChildrenNumber(PathRequest::read(reader)?),
        op::ADD_WATCH => Request::AddWatch(AddWatchRequest::read(reader)?),
        op::WHO_AM_I => Request::WhoAmI,
        op::CLOSE_SESSION => Request::CloseSession,
        // createSession (−10) is the handshake, never a header opcode: see DecodeError's docs.
        _ => return Err(DecodeError::UnknownOpcode { xid: 0, op: opcode }),
    })
}

/// Writes `MultiHeader{op, false, -1}` before a sub-operation (the request form).
fn write_sub_header(writer: &mut JuteWriter, op: i32) {
    MultiHeader { op, done: false, err: -1 }.write(writer);
}

fn write_multi(writer: &mut JuteWriter, ops: &[MultiOp]) {
    for sub in ops {
        match sub {
            MultiOp::Create { op, request } => {
                write_sub_header(writer, *op);
                request.write(writer);
            }
            MultiOp::CreateTtl(r) => {
                write_sub_header(writer, op::CREATE_TTL);
                r.write(writer);
            }
            MultiOp::Delete(r) => {
                write_sub_header(writer, op::DELETE);
                r.write(writer);
            }
            MultiOp::SetData(r) => {
                write_sub_header(writer, op::SET_DATA);
                r.write(writer);
            }
            MultiOp::Check(r) => {
                write_sub_header(writer, op::CHECK);
                r.write(writer);
            }
        }
    }
    MULTI_END.write(writer);
}

fn write_multi_read(writer: &mut JuteWriter, ops: &[MultiReadOp]) {
    for sub in ops {
        let (op, request) = match sub {
            MultiReadOp::GetChildren(r) => (op::GET_CHILDREN, r),
            MultiReadOp::GetData(r) => (op::GET_DATA, r),
        };
        write_sub_header(writer, op);
        request.write(writer);
    }
    MULTI_END.write(writer);
}

/// Reads `MultiHeader`s and sub-records until the one with `done` set, as
/// `MultiOperationRecord.deserialize` does (it ignores `err` and the terminator's type).
pub(crate) fn read_multi_items<T>(
    reader: &mut JuteReader<'_>,
    mut read_item: impl FnMut(&mut JuteReader<'_>, MultiHeader) -> Result<T, DecodeError>,
) -> Result<Vec<T>, DecodeError> {
    let mut items = Vec::new();
    loop {
        let header = MultiHeader::read(reader)?;
        if header.done {
            return Ok(items);
        }
        if items.len() == MULTI_OPS_MAX {
            return Err(DecodeError::TooManyMultiOps(MULTI_OPS_MAX));
        }
        items.push(read_item(reader, header)?);
    }
}

fn read_multi(reader: &mut JuteReader<'_>) -> Result<Vec<MultiOp>, DecodeError> {
    read_multi_items(reader, |reader, header| {
        Ok(match header.op {
            op::CREATE | op::CREATE2 | op::CREATE_CONTAINER => {
                MultiOp::Create { op: header.op, request: CreateRequest::read(reader)? }
            }
            op::CREATE_TTL => MultiOp::CreateTtl(CreateTtlRequest::read(reader)?),
            op::DELETE => MultiOp::Delete(DeleteRequest::read(reader)?),
            op::SET_DATA => MultiOp::SetData(SetDataRequest::read(reader)?),
            op::CHECK => MultiOp::Check(CheckVersionRequest::read(reader)?),
            other => return Err(DecodeError::InvalidMultiOp(other)),
        })
    })
}

fn read_multi_read(reader: &mut JuteReader<'_>) -> Result<Vec<MultiReadOp>, DecodeError> {
    read_multi_items(reader, |reader, header| {
        Ok(match header.op {
            op::GET_CHILDREN => MultiReadOp::GetChildren(PathWatchRequest::read(reader)?),
            op::GET_DATA => MultiReadOp::GetData(PathWatchRequest::read(reader)?),
            other => return Err(DecodeError::InvalidMultiOp(other)),
        })
    })
}
