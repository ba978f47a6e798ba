//! Real traffic: every frame that zkCli.sh, the C client cli_mt and a Java probe exchanged
//! with Apache ZooKeeper 3.8.0 (recorded by `fixtures/capture.sh`) decodes, and re-encodes
//! to the same bytes.

use std::collections::BTreeMap;
use zab_core::wire::client::*;
use zab_core::{ErrorCode, Zxid};

const FRAMES: &str = include_str!("../fixtures/client_frames.txt");

/// One recorded frame: `<connection> <direction> <kind> <opcode> <hex payload>`.
struct Frame {
    line: usize,
    direction: String,
    kind: String,
    op: Option<i32>,
    payload: Vec<u8>,
}

fn frames() -> Vec<Frame> {
    FRAMES
        .lines()
        .enumerate()
        .map(|(index, line)| {
            let fields: Vec<&str> = line.split(' ').collect();
            assert_eq!(fields.len(), 5, "line {}: {line}", index + 1);
            let payload = (0..fields[4].len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&fields[4][i..i + 2], 16).unwrap())
                .collect();
            Frame {
                line: index + 1,
                direction: fields[1].to_owned(),
                kind: fields[2].to_owned(),
                op: fields[3].parse().ok(),
                payload,
            }
        })
        .collect()
}

/// Decodes a frame with the decoder its kind calls for, and re-encodes the result.
fn decode_and_encode(frame: &Frame) -> Vec<u8> {
    let bytes = &frame.payload;
    let line = frame.line;
    match (frame.direction.as_str(), frame.kind.as_str()) {
        (">", "connect") => encode_connect_request(&decode_connect_request(bytes).unwrap()),
        ("<", "connect") => encode_connect_response(&decode_connect_response(bytes).unwrap()),
        (">", "request") => {
            let (header, request) = decode_request(bytes).unwrap_or_else(|e| panic!("line {line}: {e}"));
            assert_eq!(Some(header.op), frame.op, "line {line}");
            encode_request(&header, &request)
        }
        ("<", "reply") => {
            let op = frame.op.unwrap();
            let (header, response) = decode_reply(op, bytes).unwrap_or_else(|e| panic!("line {line}: {e}"));
            encode_reply(&header, &response)
        }
        ("<", "event") => {
            let (zxid, event) = decode_watch_event(bytes).unwrap();
            encode_watch_event(zxid, &event)
        }
        other => panic!("line {line}: unexpected frame kind {other:?}"),
    }
}

/// True when `ours` equals `original` except for 4-byte windows where the original had a
/// null length (−1, `ffffffff`) and we wrote an empty one (0): our records hold `Vec`s, so
/// jute's null buffers come back as empty ones.
fn equal_up_to_nulls(original: &[u8], ours: &[u8]) -> bool {
    if original.len() != ours.len() {
        return false;
    }
    let mut i = 0;
    while i < original.len() {
        if original[i] == ours[i] {
            i += 1;
        } else if original.get(i..i + 4) == Some(&[0xff; 4]) && ours.get(i..i + 4) == Some(&[0; 4]) {
            i += 4;
        } else {
            return false;
        }
    }
    true
}

#[test]
fn every_real_frame_decodes_and_reencodes_byte_for_byte() {
    let mut with_nulls = Vec::new();
    for frame in frames() {
        let ours = decode_and_encode(&frame);
        if ours != frame.payload {
            assert!(equal_up_to_nulls(&frame.payload, &ours), "line {}: re-encoding differs", frame.line);
            with_nulls.push(frame.line);
        }
    }
    // Lines whose original carries a null buffer or string, each checked above to differ
    // only in those lengths: creates without data (zkCli `create -c /codec/c`, `create
    // /codec/d`, ..., the probe's null-data container, also inside its multi) and the
    // reconfig request's null joining/leaving strings.
    super::snapshot_settings().bind(|| insta::assert_debug_snapshot!("fixture_lines_with_null_buffers", with_nulls));
}

#[test]
fn fixtures_cover_every_kind_of_traffic() {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for frame in frames() {
        let op = frame.op.map_or("-".to_owned(), |op| op.to_string());
        *counts.entry(format!("{} {} {}", frame.direction, frame.kind, op)).or_default() += 1;
    }
    super::snapshot_settings().bind(|| insta::assert_debug_snapshot!("fixture_frame_counts", counts));
}

fn decoded_replies(op: i32) -> Vec<(ReplyHeader, Response)> {
    frames()
        .iter()
        .filter(|f| f.kind == "reply" && f.op == Some(op))
        .map(|f| decode_reply(op, &f.payload).unwrap())
        .collect()
}

#[test]
fn real_frames_mean_what_zookeeper_says() {
    let all = frames();
    let connect = all.iter().find(|f| f.kind == "connect" && f.direction == ">").unwrap();
    let request = decode_connect_request(&connect.payload).unwrap();
    assert_eq!((connect.payload.len(), request.read_only, request.passwd), (45, Some(false), vec![0; 16]));
    let event = all.iter().find(|f| f.kind == "event").unwrap();
    assert_eq!(decode_watch_event(&event.payload).unwrap().0, Zxid(-1), "3.8 sends zxid -1 on events");
    let ping = &decoded_replies(op::PING)[0].0;
    assert_eq!((ping.xid, ping.err), (xid::PING, ErrorCode::Ok));
    let aborted = decoded_replies(op::MULTI)
        .into_iter()
        .find(|(_, r)| matches!(r, Response::Multi(v) if matches!(v[0], MultiResult::Error(_))))
        .unwrap();
    assert_eq!(aborted.0.err, ErrorCode::Ok, "a failed multi still has err 0 in its header");
    assert_eq!(
        aborted.1,
        Response::Multi(vec![
            MultiResult::Error(ErrorCode::Ok),
            MultiResult::Error(ErrorCode::BadVersion),
            MultiResult::Error(ErrorCode::RuntimeInconsistency),
        ])
    );
    let who = decoded_replies(op::WHO_AM_I).pop().unwrap().1;
    assert_eq!(who, Response::WhoAmI(vec![ClientInfo { auth_scheme: "ip".into(), user: "127.0.0.1".into() }]));
    let auth_failed = decoded_replies(op::AUTH).into_iter().find(|(h, _)| h.err != ErrorCode::Ok).unwrap();
    assert_eq!((auth_failed.0.xid, auth_failed.0.zxid, auth_failed.0.err), (xid::AUTH, Zxid(0), ErrorCode::AuthFailed));
}
