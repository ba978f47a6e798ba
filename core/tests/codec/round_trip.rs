//! Property tests: every value survives encode → decode, arbitrary bytes never panic the
//! decoders, and every strict prefix of a valid encoding is refused.

use super::strategies::*;
use proptest::prelude::*;
use zab_core::wire::client::*;
use zab_core::{ErrorCode, Zxid};

fn record_round_trips<T: JuteRecord + PartialEq + std::fmt::Debug>(value: T) -> Result<(), TestCaseError> {
    let bytes = encode_record(&value);
    prop_assert!(bytes.len() >= T::SIZE_MIN);
    prop_assert_eq!(decode_record::<T>(&bytes), Ok(value));
    for cut in 0..bytes.len() {
        prop_assert!(decode_record::<T>(&bytes[..cut]).is_err(), "prefix of {} bytes decoded", cut);
    }
    Ok(())
}

proptest! {
    #[test]
    fn records_round_trip(
        (id, acl, stat) in (id(), acl(), stat()),
        (multi, auth) in (multi_header(), auth_packet()),
        (create, ttl, delete) in (create(), create_ttl(), delete()),
        (path_watch, path, set_data, set_acl) in (path_watch(), path(), set_data(), set_acl()),
        (check, watches, add_watch, set_watches) in (check(), watches(), add_watch(), set_watches(true)),
        (reconfig, event, client, reply) in (reconfig(), watcher_event(), client_info(), reply_header()),
        header in (any::<i32>(), any::<i32>()).prop_map(|(xid, op)| RequestHeader { xid, op }),
    ) {
        record_round_trips(id)?;
        record_round_trips(acl)?;
        record_round_trips(stat)?;
        record_round_trips(multi)?;
        record_round_trips(auth)?;
        record_round_trips(create)?;
        record_round_trips(ttl)?;
        record_round_trips(delete)?;
        record_round_trips(path_watch)?;
        record_round_trips(path)?;
        record_round_trips(set_data)?;
        record_round_trips(set_acl)?;
        record_round_trips(check)?;
        record_round_trips(watches)?;
        record_round_trips(add_watch)?;
        record_round_trips(set_watches)?;
        record_round_trips(reconfig)?;
        record_round_trips(event)?;
        record_round_trips(client)?;
        record_round_trips(reply)?;
        record_round_trips(header)?;
    }

    #[test]
    fn requests_round_trip(xid in any::<i32>(), request in request()) {
        let header = RequestHeader { xid, op: request.op() };
        let bytes = encode_request(&header, &request);
        prop_assert_eq!(decode_request(&bytes), Ok((header, request)));
        for cut in 0..bytes.len() {
            prop_assert!(decode_request(&bytes[..cut]).is_err(), "prefix of {} bytes decoded", cut);
        }
    }

    #[test]
    fn replies_round_trip(header in reply_header(), (op, response) in op_and_response()) {
        let header = ReplyHeader { err: ErrorCode::Ok, ..header };
        let bytes = encode_reply(&header, &response);
        prop_assert_eq!(decode_reply(op, &bytes), Ok((header, response)));
        for cut in 0..bytes.len() {
            prop_assert!(decode_reply(op, &bytes[..cut]).is_err(), "prefix of {} bytes decoded", cut);
        }
    }

    #[test]
    fn failed_replies_carry_no_body_except_multi(header in reply_header(), (op, response) in op_and_response()) {
        let bytes = encode_reply(&header, &response);
        let is_multi = matches!(response, Response::Multi(_) | Response::MultiRead(_));
        let expected = if header.err == ErrorCode::Ok || is_multi { response } else { Response::Empty };
        if header.err != ErrorCode::Ok && !is_multi {
            prop_assert_eq!(bytes.len(), 16);
        }
        prop_assert_eq!(decode_reply(op, &bytes), Ok((header, expected)));
    }

    #[test]
    fn handshake_round_trips(request in connect_request(), response in connect_response()) {
        let bytes = encode_connect_request(&request);
        prop_assert_eq!(bytes.len(), 28 + request.passwd.len() + usize::from(request.read_only.is_some()));
        prop_assert_eq!(decode_connect_request(&bytes), Ok(request.clone()));
        let body_end = 28 + request.passwd.len();
        for cut in 0..body_end {
            prop_assert!(decode_connect_request(&bytes[..cut]).is_err(), "prefix of {} bytes decoded", cut);
        }
        let without_read_only = ConnectRequest { read_only: None, ..request.clone() };
        prop_assert_eq!(decode_connect_request(&bytes[..body_end]), Ok(without_read_only));
        let bytes = encode_connect_response(&response);
        prop_assert_eq!(bytes.len(), 20 + response.passwd.len() + usize::from(response.read_only.is_some()));
        prop_assert_eq!(decode_connect_response(&bytes), Ok(response.clone()));
        for cut in 0..20 + response.passwd.len() {
            prop_assert!(decode_connect_response(&bytes[..cut]).is_err(), "prefix of {} bytes decoded", cut);
        }
    }

    #[test]
    fn watch_events_round_trip(zxid in any::<i64>(), event in watcher_event()) {
        let bytes = encode_watch_event(Zxid(zxid), &event);
        prop_assert_eq!(&bytes[..4], &[0xff; 4]);
        prop_assert_eq!(decode_watch_event(&bytes), Ok((Zxid(zxid), event)));
        for cut in 0..bytes.len() {
            prop_assert!(decode_watch_event(&bytes[..cut]).is_err());
        }
    }

    #[test]
    fn frames_carry_their_length(payload in proptest::collection::vec(any::<u8>(), 0..64)) {
        let framed = frame(payload.clone());
        let prefix: [u8; 4] = framed[..4].try_into().unwrap();
        prop_assert_eq!(frame_length(prefix, 64), Ok(payload.len()));
        prop_assert_eq!(&framed[4..], &payload[..]);
    }

    /// Decoders are total: arbitrary bytes give a value or an error, never a panic.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..96)) {
        let _ = decode_request(&bytes);
        for &op in REPLY_OPS {
            let _ = decode_reply(op, &bytes);
        }
        let _ = decode_reply(999, &bytes);
        let _ = decode_connect_request(&bytes);
        let _ = decode_connect_response(&bytes);
        let _ = decode_watch_event(&bytes);
        let _ = decode_record::<Stat>(&bytes);
        let _ = decode_record::<CreateRequest>(&bytes);
        let _ = decode_record::<SetWatches>(&bytes);
        let _ = frame_length(bytes.get(..4).and_then(|p| p.try_into().ok()).unwrap_or([0; 4]), 1 << 20);
    }

    /// Arbitrary bytes behind a valid header reach every body decoder.
    #[test]
    fn arbitrary_bodies_never_panic(
        op in proptest::sample::select(REPLY_OPS.to_vec()),
        body in proptest::collection::vec(any::<u8>(), 0..96),
    ) {
        let mut request = encode_request(&RequestHeader { xid: 1, op: Request::Ping.op() }, &Request::Ping);
        request[4..8].copy_from_slice(&op.to_be_bytes());
        request.extend_from_slice(&body);
        let _ = decode_request(&request);
        let mut reply = encode_reply(&ReplyHeader { xid: 1, zxid: Zxid(1), err: ErrorCode::Ok }, &Response::Empty);
        reply.extend_from_slice(&body);
        let _ = decode_reply(op, &reply);
    }
}
