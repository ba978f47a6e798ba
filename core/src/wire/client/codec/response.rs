//! Server replies: a [`ReplyHeader`] and a body whose shape depends on the request's opcode.

use super::super::jute::{DecodeError, JuteReader, JuteWriter};
use super::super::records::*;
use super::super::{op, MultiReadResult, MultiResult, Response};
use super::record::{read_acls, read_error_code, read_strings, write_acls, write_strings, JuteRecord};
use super::request::read_multi_items;
use crate::error::ErrorCode;

/// The terminator of a multi response: `MultiHeader{-1, true, -1}`.
const MULTI_END: MultiHeader = MultiHeader { op: -1, done: true, err: -1 };

/// Encodes a reply: the header, then the body when `header.err` is OK, or always for
/// multi and multiRead, whose bodies carry per-operation results (no length prefix).
pub fn encode_reply(header: &ReplyHeader, response: &Response) -> Vec<u8> {
    let mut writer = JuteWriter::new();
    header.write(&mut writer);
    let is_multi = matches!(response, Response::Multi(_) | Response::MultiRead(_));
    if header.err == ErrorCode::Ok || is_multi {
        write_response_body(&mut writer, response);
    }
    writer.into_bytes()
}

fn write_response_body(writer: &mut JuteWriter, response: &Response) {
    match response {
        Response::Empty => {}
        Response::Create(path) | Response::Sync(path) => writer.write_ustring(path),
        Response::Create2 { path, stat } => {
            writer.write_ustring(path);
            stat.write(writer);
        }
        Response::Stat(stat) => stat.write(writer),
        Response::GetData { data, stat } => {
            writer.write_buffer(data);
            stat.write(writer);
        }
        Response::GetAcl { acl, stat } => {
            write_acls(writer, acl);
            stat.write(writer);
        }
        Response::Children(children) => write_strings(writer, children),
        Response::Children2 { children, stat } => {
            write_strings(writer, children);
            stat.write(writer);
        }
        Response::AllChildrenNumber(total) => writer.write_i32(*total),
        Response::Multi(results) => write_multi_results(writer, results),
        Response::MultiRead(results) => write_multi_read_results(writer, results),
        Response::AddWatch(err) => writer.write_i32(err.code()),
        Response::WhoAmI(clients) => writer.write_vector(clients, |w, c| c.write(w)),
        Response::Sasl(token) => writer.write_buffer(token),
    }
}

/// Decodes a reply to a request with opcode `op`.
///
/// A reply whose `err` is not OK has no body and decodes as [`Response::Empty`], except for
/// multi and multiRead, which always carry results (an empty body also gives `Empty`).
/// Strict: trailing bytes are an error. Watch events (xid −1) go to
/// [`super::decode_watch_event`].
pub fn decode_reply(op: i32, payload: &[u8]) -> Result<(ReplyHeader, Response), DecodeError> {
    let mut reader = JuteReader::new(payload);
    let header = ReplyHeader::read(&mut reader)?;
    let is_multi = op == op::MULTI || op == op::MULTI_READ;
    let has_body = header.err == ErrorCode::Ok || (is_multi && reader.remaining() > 0);
    let response = if has_body {
        read_response_body(&mut reader, op).map_err(|error| match error {
            DecodeError::UnknownOpcode { op, .. } => DecodeError::UnknownOpcode { xid: header.xid, op },
            other => other,
        })?
    } else {
        Response::Empty
    };
    reader.finish()?;
    Ok((header, response))
}

fn read_response_body(reader: &mut JuteReader<'_>, opcode: i32) -> Result<Response, DecodeError> {
    Ok(match opcode {
        op::CREATE => Response::Create(reader.read_ustring()?),
        op::CREATE2 | op::CREATE_CONTAINER | op::CREATE_TTL => {
            Response::Create2 { path: reader.read_ustring()?, stat: Stat::read(reader)? }
        }
        op::DELETE | op::DELETE_CONTAINER | op::PING | op::CHECK_WATCHES | op::REMOVE_WATCHES => Response::Empty,
        op::AUTH | op::SET_WATCHES | op::SET_WATCHES2 | op::CLOSE_SESSION => Response::Empty,
        op::EXISTS | op::SET_DATA | op::SET_ACL | op::CHECK => Response::Stat(Stat::read(reader)?),
        op::GET_DATA | op::RECONFIG => Response::GetData { data: reader.read_buffer()?, stat: Stat::read(reader)? },
        op::GET_ACL => Response::GetAcl { acl: read_acls(reader)?, stat: Stat::read(reader)? },
        op::GET_CHILDREN | op::GET_EPHEMERALS => Response::Children(read_strings(reader)?),
        op::GET_CHILDREN2 => Response::Children2 { children: read_strings(reader)?, stat: Stat::read(reader)? },
        op::SYNC => Response::Sync(reader.read_ustring()?),
        op::GET_ALL_CHILDREN_NUMBER => Response::AllChildrenNumber(reader.read_i32()?),
        op::MULTI => Response::Multi(read_multi_results(reader)?),
        op::MULTI_READ => Response::MultiRead(read_multi_read_results(reader)?),
        op::ADD_WATCH => Response::AddWatch(read_error_code(reader)?),
        op::WHO_AM_I => Response::WhoAmI(reader.read_vector(ClientInfo::SIZE_MIN, ClientInfo::read)?),
        op::SASL => Response::Sasl(reader.read_buffer()?),
        _ => return Err(DecodeError::UnknownOpcode { xid: 0, op: opcode }),
    })
}

/// `MultiHeader{type, false, err}` before a result: `err` is 0 except on error results
/// (`MultiResponse.serialize`).
fn write_result_header(writer: &mut JuteWriter, op: i32, err: i32) {
    MultiHeader { op, done: false, err }.write(writer);
}

/// An error result: `MultiHeader{-1, false, err}` + `ErrorResponse{err}`.
fn write_error_result(writer: &mut JuteWriter, err: ErrorCode) {
    write_result_header(writer, op::ERROR, err.code());
    writer.write_i32(err.code());
}

fn write_multi_results(writer: &mut JuteWriter, results: &[MultiResult]) {
    for result in results {
        match result {
            MultiResult::Create(path) => {
                write_result_header(writer, op::CREATE, 0);
                writer.write_ustring(path);
            }
            MultiResult::Create2 { op, path, stat } => {
                write_result_header(writer, *op, 0);
                writer.write_ustring(path);
                stat.write(writer);
            }
            MultiResult::Delete => write_result_header(writer, op::DELETE, 0),
            MultiResult::SetData(stat) => {
                write_result_header(writer, op::SET_DATA, 0);
                stat.write(writer);
            }
            MultiResult::Check => write_result_header(writer, op::CHECK, 0),
            MultiResult::Error(err) => write_error_result(writer, *err),
        }
    }
    MULTI_END.write(writer);
}

fn write_multi_read_results(writer: &mut JuteWriter, results: &[MultiReadResult]) {
    for result in results {
        match result {
            MultiReadResult::GetChildren(children) => {
                write_result_header(writer, op::GET_CHILDREN, 0);
                write_strings(writer, children);
            }
            MultiReadResult::GetData { data, stat } => {
                write_result_header(writer, op::GET_DATA, 0);
                writer.write_buffer(data);
                stat.write(writer);
            }
            MultiReadResult::Error(err) => write_error_result(writer, *err),
        }
    }
    MULTI_END.write(writer);
}

/// Reads multi results as `MultiResponse.deserialize` does: the error code comes from the
/// `ErrorResponse` record, the header's `err` is not consulted.
fn read_multi_results(reader: &mut JuteReader<'_>) -> Result<Vec<MultiResult>, DecodeError> {
    read_multi_items(reader, |reader, header| {
        Ok(match header.op {
            op::CREATE => MultiResult::Create(reader.read_ustring()?),
            op::CREATE2 | op::CREATE_CONTAINER | op::CREATE_TTL => {
                MultiResult::Create2 { op: header.op, path: reader.read_ustring()?, stat: Stat::read(reader)? }
            }
            op::DELETE => MultiResult::Delete,
            op::SET_DATA => MultiResult::SetData(Stat::read(reader)?),
            op::CHECK => MultiResult::Check,
            op::ERROR => MultiResult::Error(read_error_code(reader)?),
            other => return Err(DecodeError::InvalidMultiOp(other)),
        })
    })
}

fn read_multi_read_results(reader: &mut JuteReader<'_>) -> Result<Vec<MultiReadResult>, DecodeError> {
    read_multi_items(reader, |reader, header| {
        Ok(match header.op {
            op::GET_CHILDREN => MultiReadResult::GetChildren(read_strings(reader)?),
            op::GET_DATA => MultiReadResult::GetData { data: reader.read_buffer()?, stat: Stat::read(reader)? },
            op::ERROR => MultiReadResult::Error(read_error_code(reader)?),
            other => return Err(DecodeError::InvalidMultiOp(other)),
        })
    })
}
