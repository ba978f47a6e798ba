//! Bad input gets a specific error, the ones ZooKeeper 3.8 answers (see `DecodeError`'s docs).

use zab_core::constants::{JUTE_MAX_BUFFER_DEFAULT, MULTI_OPS_MAX};
use zab_core::wire::client::*;
use zab_core::{ErrorCode, Zxid};

fn request_bytes(xid: i32, op: i32, body: &[u8]) -> Vec<u8> {
    let mut bytes = xid.to_be_bytes().to_vec();
    bytes.extend_from_slice(&op.to_be_bytes());
    bytes.extend_from_slice(body);
    bytes
}

fn body_error(xid: i32, op: i32, source: DecodeError) -> DecodeError {
    DecodeError::Body { xid, op, source: Box::new(source) }
}

#[test]
fn frame_lengths_over_maxbuffer_or_negative_are_refused() {
    let max = JUTE_MAX_BUFFER_DEFAULT;
    assert_eq!(frame_length(0xfffffu32.to_be_bytes(), max), Ok(0xfffff));
    assert_eq!(frame_length(0x100000u32.to_be_bytes(), max), Err(DecodeError::FrameTooLarge { length: 0x100000, max }));
    assert_eq!(frame_length((-5i32).to_be_bytes(), max), Err(DecodeError::NegativeFrameLength(-5)));
    assert_eq!(frame_length(*b"ruok", max), Err(DecodeError::FrameTooLarge { length: 0x7275_6f6b, max }));
    assert_eq!(frame_length([0; 4], max), Ok(0));
}

#[test]
fn frames_too_short_for_a_header_are_truncated_and_get_no_reply() {
    let empty = decode_request(&[]).unwrap_err();
    assert_eq!(empty, DecodeError::Truncated { needed: 4, remaining: 0 });
    assert_eq!(empty.reply(), None);
    assert_eq!(decode_request(&7i32.to_be_bytes()), Err(DecodeError::Truncated { needed: 4, remaining: 0 }));
}

#[test]
fn unknown_opcodes_are_named_with_their_xid() {
    for op in [999, 0, -1, -10, 10, 23, 99, 108] {
        let error = decode_request(&request_bytes(7, op, &[])).unwrap_err();
        assert_eq!(error, DecodeError::UnknownOpcode { xid: 7, op });
        assert_eq!(error.reply(), Some((7, ErrorCode::Unimplemented, true)));
    }
    let reply = encode_reply(&ReplyHeader { xid: 3, zxid: Zxid(1), err: ErrorCode::Ok }, &Response::Empty);
    assert_eq!(decode_reply(-10, &reply), Err(DecodeError::UnknownOpcode { xid: 3, op: -10 }));
}

#[test]
fn garbage_bodies_are_marshalling_errors() {
    let mut string_past_end = 1000i32.to_be_bytes().to_vec();
    string_past_end.extend_from_slice(b"/a");
    let error = decode_request(&request_bytes(7, op::EXISTS, &string_past_end)).unwrap_err();
    assert_eq!(error, body_error(7, op::EXISTS, DecodeError::LengthTooLarge { length: 1000, remaining: 2 }));
    assert_eq!(error.reply(), Some((7, ErrorCode::MarshallingError, false)));

    let truncated = decode_request(&request_bytes(7, op::EXISTS, &[])).unwrap_err();
    assert_eq!(truncated, body_error(7, op::EXISTS, DecodeError::Truncated { needed: 4, remaining: 0 }));

    let mut huge_acl = vec![0, 0, 0, 2, b'/', b'a', 0, 0, 0, 0];
    huge_acl.extend_from_slice(&i32::MAX.to_be_bytes());
    let error = decode_request(&request_bytes(7, op::CREATE, &huge_acl)).unwrap_err();
    let length = i32::MAX as u64 * 12;
    assert_eq!(error, body_error(7, op::CREATE, DecodeError::LengthTooLarge { length, remaining: 0 }));

    let invalid_utf8 = [0, 0, 0, 2, 0xff, 0xfe, 0];
    assert_eq!(
        decode_request(&request_bytes(7, op::EXISTS, &invalid_utf8)),
        Err(body_error(7, op::EXISTS, DecodeError::InvalidUtf8))
    );

    let negative = [0xff, 0xff, 0xff, 0xfe, 0];
    assert_eq!(
        decode_request(&request_bytes(7, op::EXISTS, &negative)),
        Err(body_error(7, op::EXISTS, DecodeError::NegativeLength(-2)))
    );
}

#[test]
fn request_trailing_bytes_are_ignored_as_zookeeper_does() {
    let body = [0, 0, 0, 1, b'/', 0, b'j', b'u', b'n', b'k'];
    let (header, request) = decode_request(&request_bytes(7, op::EXISTS, &body)).unwrap();
    assert_eq!(header, RequestHeader { xid: 7, op: op::EXISTS });
    assert_eq!(request, Request::Exists(PathWatchRequest { path: "/".into(), watch: false }));
}

#[test]
fn multis_refuse_foreign_sub_ops_missing_terminators_and_excess() {
    let get_data = encode_request(
        &RequestHeader { xid: 5, op: op::MULTI_READ },
        &Request::MultiRead(vec![MultiReadOp::GetData(PathWatchRequest { path: "/a".into(), watch: false })]),
    );
    let mut as_multi = get_data.clone();
    as_multi[4..8].copy_from_slice(&op::MULTI.to_be_bytes());
    assert_eq!(decode_request(&as_multi), Err(body_error(5, op::MULTI, DecodeError::InvalidMultiOp(op::GET_DATA))));

    let without_end = &get_data[..get_data.len() - 9];
    assert_eq!(
        decode_request(without_end),
        Err(body_error(5, op::MULTI_READ, DecodeError::Truncated { needed: 4, remaining: 0 }))
    );

    let check = MultiOp::Check(CheckVersionRequest { path: String::new(), version: 0 });
    let too_many = Request::Multi(vec![check; MULTI_OPS_MAX + 1]);
    let bytes = encode_request(&RequestHeader { xid: 5, op: op::MULTI }, &too_many);
    assert_eq!(decode_request(&bytes), Err(body_error(5, op::MULTI, DecodeError::TooManyMultiOps(MULTI_OPS_MAX))));
}

#[test]
fn replies_and_events_are_strict() {
    let header = ReplyHeader { xid: 3, zxid: Zxid(1), err: ErrorCode::Ok };
    let mut reply = encode_reply(&header, &Response::Empty);
    reply.push(0);
    assert_eq!(decode_reply(op::DELETE, &reply), Err(DecodeError::TrailingBytes(1)));
    let mut failed = encode_reply(&ReplyHeader { err: ErrorCode::NoNode, ..header }, &Response::Empty);
    failed.extend_from_slice(&[0; 68]);
    assert_eq!(decode_reply(op::EXISTS, &failed), Err(DecodeError::TrailingBytes(68)));
    let mut unknown_code = encode_reply(&header, &Response::Empty);
    unknown_code[12..16].copy_from_slice(&(-126i32).to_be_bytes());
    assert_eq!(decode_reply(op::DELETE, &unknown_code), Err(DecodeError::UnknownErrorCode(-126)));
    let not_event = encode_reply(&ReplyHeader { xid: 5, zxid: Zxid(-1), err: ErrorCode::Ok }, &Response::Empty);
    assert_eq!(decode_watch_event(&not_event), Err(DecodeError::NotAWatchEvent(5)));
}

#[test]
fn handshakes_follow_zookeeper_lengths() {
    let mut request = vec![0u8; 28];
    request[27] = 16;
    request.extend_from_slice(&[0; 16]);
    assert_eq!(decode_connect_request(&request).unwrap().read_only, None);
    assert_eq!(decode_connect_request(&request[..40]), Err(DecodeError::LengthTooLarge { length: 16, remaining: 12 }));
    request.push(1);
    assert_eq!(decode_connect_request(&request).unwrap().read_only, Some(true));
    request.push(0);
    assert_eq!(decode_connect_request(&request).unwrap().read_only, Some(true), "ZooKeeper ignores a 46th byte");
    let mut response = vec![0u8; 20];
    response[19] = 16;
    response.extend_from_slice(&[0; 18]);
    assert_eq!(decode_connect_response(&response), Err(DecodeError::TrailingBytes(1)));
}
