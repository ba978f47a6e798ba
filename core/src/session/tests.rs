//! Session tracker tests. The expected passwords and ids were printed once by a throwaway
//! Java 17 program (`java.util.Random`, ZooKeeper's id expression) and are hard-coded here.

use super::*;

const TICK: u64 = 2000;

fn tracker() -> SessionTracker {
    SessionTracker::new(ServerId(1), Millis(0), TICK)
}

#[test]
fn passwords_match_java_util_random() {
    // Each row: session id, then `new Random(id ^ 0xB3415C00L).nextBytes(new byte[16])`.
    let cases: [(i64, [u8; 16]); 5] = [
        (1, [0x05, 0x4c, 0xc7, 0x4a, 0x37, 0x32, 0x7d, 0xb2, 0x15, 0xe7, 0x02, 0xe2, 0x0c, 0x73, 0xf0, 0x05]),
        (0, [0xf2, 0x2a, 0xcd, 0x4a, 0x97, 0xe6, 0x9d, 0x6d, 0x20, 0xa4, 0x9b, 0xb6, 0x38, 0xea, 0xdb, 0x38]),
        (-1, [0x20, 0xf6, 0x2c, 0xb5, 0x64, 0x8d, 0xc2, 0xd7, 0x71, 0x47, 0x1c, 0x8a, 0x24, 0x86, 0xa9, 0xee]),
        (
            0x0100_018c_3a2b_0000,
            [0x57, 0xb2, 0x1c, 0x36, 0x98, 0x4a, 0x3b, 0x79, 0x8d, 0x1e, 0x64, 0x1f, 0xa1, 0xf8, 0xb1, 0x56],
        ),
        (
            0x2a00_0000_1234_5678,
            [0x00, 0x78, 0x04, 0xac, 0x68, 0x39, 0xd5, 0x26, 0xb4, 0x1e, 0x04, 0x74, 0x35, 0x62, 0x69, 0x84],
        ),
    ];
    for (id, expected) in cases {
        assert_eq!(session_password(SessionId(id)), expected, "session 0x{id:x}");
    }
}

#[test]
fn password_matches_one_issued_by_a_real_zookeeper_3_8_server() {
    // A ConnectResponse from Apache ZooKeeper 3.8.0 (standalone, so server id 1 in the top
    // byte): session 0x100000b764a0000 with this password.
    let id = SessionId(0x0100_000b_764a_0000);
    let issued = [0xa4, 0x75, 0x7f, 0x04, 0x61, 0xa0, 0xbb, 0xe5, 0x22, 0x3b, 0x67, 0x02, 0x12, 0x02, 0x0f, 0x5a];
    assert_eq!(session_password(id), issued);
    assert!(check_password(id, &issued));
}

#[test]
fn only_the_low_48_bits_of_the_seed_matter() {
    // java.util.Random keeps 48 bits of state, so ids equal in their low 48 bits (after the
    // xor) share a password; Java printed the same bytes for these pairs.
    assert_eq!(session_password(SessionId(i64::MAX)), session_password(SessionId(-1)));
    assert_eq!(session_password(SessionId(i64::MIN + 1)), session_password(SessionId(1)));
}

#[test]
fn next_bytes_uses_the_low_bytes_of_the_last_int_for_a_short_tail() {
    // `new Random(42).nextBytes(new byte[7])` on Java 17.
    let mut random = JavaRandom::new(42);
    let mut bytes = [0; 7];
    random.next_bytes(&mut bytes);
    assert_eq!(bytes, [0x35, 0x9d, 0x41, 0xba, 0xf7, 0x8a, 0xfe]);
}

#[test]
fn check_password_accepts_only_the_derived_password_and_never_session_zero() {
    let id = SessionId(0x0100_018c_3a2b_0000);
    assert!(check_password(id, &session_password(id)));
    let mut wrong = session_password(id);
    wrong[15] ^= 1;
    assert!(!check_password(id, &wrong));
    assert!(!check_password(id, &session_password(id)[..15]));
    assert!(!check_password(id, &[]));
    // Session 0 means "new session" on the wire: no password opens it.
    assert!(!check_password(SessionId(0), &session_password(SessionId(0))));
}

#[test]
fn initial_session_id_matches_zookeeper_formula() {
    // `(time << 24) >>> 8 | (serverId << 56)` evaluated by Java 17.
    assert_eq!(initial_session_id(ServerId(1), Millis(1_700_000_000_000)), SessionId(0x018b_cfe5_6800_0000));
    assert_eq!(initial_session_id(ServerId(0), Millis(123_456_789)), SessionId(0x0000_075b_cd15_0000));
    // The logical shift keeps a huge time out of the server byte (ZOOKEEPER-1622).
    assert_eq!(initial_session_id(ServerId(255), Millis(0x7fff_ffff_ffff)), SessionId(-65536));
    assert_eq!(initial_session_id(ServerId(3), Millis(1 << 40)), SessionId(0x0300_0000_0000_0000));
    // Server 128 at time 0 would collide with the container marker: skipped.
    assert_eq!(initial_session_id(ServerId(128), Millis(0)), SessionId(i64::MIN + 1));
}

#[test]
fn next_session_id_counts_up_from_the_initial_id() {
    let mut tracker = SessionTracker::new(ServerId(1), Millis(1_700_000_000_000), TICK);
    assert_eq!(tracker.next_session_id(), SessionId(0x018b_cfe5_6800_0000));
    assert_eq!(tracker.next_session_id(), SessionId(0x018b_cfe5_6800_0001));
    assert_eq!(tracker.next_session_id(), SessionId(0x018b_cfe5_6800_0002));
    // Handing out an id does not track it.
    assert_eq!(tracker.len(), 0);
}

#[test]
fn negotiate_timeout_clamps_min_first_then_max() {
    assert_eq!(negotiate_timeout(30_000, 4_000, 40_000), 30_000);
    assert_eq!(negotiate_timeout(1_000, 4_000, 40_000), 4_000);
    assert_eq!(negotiate_timeout(100_000, 4_000, 40_000), 40_000);
    assert_eq!(negotiate_timeout(0, 4_000, 40_000), 4_000);
    assert_eq!(negotiate_timeout(-5, 4_000, 40_000), 4_000);
    assert_eq!(negotiate_timeout(4_000, 4_000, 40_000), 4_000);
    assert_eq!(negotiate_timeout(40_000, 4_000, 40_000), 40_000);
    // min > max: max wins because it is applied last.
    assert_eq!(negotiate_timeout(1_000, 50_000, 40_000), 40_000);
}

#[test]
fn expiry_rounds_up_to_the_next_tick_strictly_after_the_deadline() {
    let mut tracker = tracker();
    tracker.add(SessionId(1), 5_000, Millis(0)); // deadline 5000 -> 6000
    tracker.add(SessionId(2), 6_000, Millis(0)); // deadline 6000 -> 8000, not 6000
    tracker.add(SessionId(3), 5_999, Millis(1)); // deadline 6000 -> 8000
    tracker.add(SessionId(4), 4_000, Millis(1_999)); // deadline 5999 -> 6000
    assert_eq!(tracker.expiry(SessionId(1)), Some(Millis(6_000)));
    assert_eq!(tracker.expiry(SessionId(2)), Some(Millis(8_000)));
    assert_eq!(tracker.expiry(SessionId(3)), Some(Millis(8_000)));
    assert_eq!(tracker.expiry(SessionId(4)), Some(Millis(6_000)));
    assert_eq!(tracker.next_expiry(), Some(Millis(6_000)));
    assert_eq!(tracker.timeout_ms(SessionId(3)), Some(5_999));
    tracker.check_invariants();
}

#[test]
fn touch_moves_a_session_only_to_a_later_bucket() {
    let mut tracker = tracker();
    tracker.add(SessionId(1), 5_000, Millis(0));
    assert!(tracker.touch(SessionId(1), Millis(900))); // 5900 -> 6000: same bucket
    assert_eq!(tracker.expiry(SessionId(1)), Some(Millis(6_000)));
    assert!(tracker.touch(SessionId(1), Millis(3_100))); // 8100 -> 10000
    assert_eq!(tracker.expiry(SessionId(1)), Some(Millis(10_000)));
    assert_eq!(tracker.next_expiry(), Some(Millis(10_000)), "the emptied bucket is gone");
    // An earlier `now` (a late-delivered touch) never pulls the deadline back.
    assert!(tracker.touch(SessionId(1), Millis(100)));
    assert_eq!(tracker.expiry(SessionId(1)), Some(Millis(10_000)));
    assert!(!tracker.touch(SessionId(9), Millis(100)), "unknown session");
    tracker.check_invariants();
}

#[test]
fn a_touched_session_survives_the_bucket_it_left() {
    let mut tracker = tracker();
    tracker.add(SessionId(1), 5_000, Millis(0)); // bucket 6000
    tracker.add(SessionId(2), 5_000, Millis(0)); // bucket 6000
    assert!(tracker.touch(SessionId(2), Millis(5_000))); // bucket 12000
    assert_eq!(tracker.expired(Millis(5_999)), vec![]);
    assert_eq!(tracker.expired(Millis(6_000)), vec![SessionId(1)]);
    assert_eq!(tracker.expired(Millis(11_999)), vec![]);
    assert_eq!(tracker.expired(Millis(12_000)), vec![SessionId(2)]);
    assert_eq!(tracker.next_expiry(), None);
}

#[test]
fn expired_orders_by_bucket_then_id_and_marks_closing() {
    let mut tracker = tracker();
    tracker.add(SessionId(30), 5_000, Millis(0)); // 6000
    tracker.add(SessionId(10), 9_000, Millis(0)); // 10000
    tracker.add(SessionId(20), 5_000, Millis(0)); // 6000
    tracker.add(SessionId(5), 20_000, Millis(0)); // 22000
    assert_eq!(tracker.expired(Millis(10_000)), vec![SessionId(20), SessionId(30), SessionId(10)]);
    assert!(tracker.is_closing(SessionId(20)));
    assert!(tracker.is_closing(SessionId(10)));
    assert!(!tracker.is_closing(SessionId(5)));
    // Closing sessions stay tracked until removed, refuse touches, and are reported once.
    assert_eq!(tracker.len(), 4);
    assert!(!tracker.touch(SessionId(20), Millis(10_000)));
    assert_eq!(tracker.expired(Millis(10_000)), vec![]);
    assert_eq!(tracker.next_expiry(), Some(Millis(22_000)));
    tracker.remove(SessionId(20));
    assert!(!tracker.contains(SessionId(20)));
    assert_eq!(
        tracker.iter().collect::<Vec<_>>(),
        vec![(SessionId(5), 20_000), (SessionId(10), 9_000), (SessionId(30), 5_000)]
    );
    tracker.check_invariants();
}

#[test]
fn set_closing_takes_a_session_out_of_expiry() {
    let mut tracker = tracker();
    tracker.add(SessionId(1), 5_000, Millis(0));
    tracker.add(SessionId(2), 5_000, Millis(0));
    tracker.set_closing(SessionId(1));
    tracker.set_closing(SessionId(77)); // unknown: ignored
    assert!(tracker.is_closing(SessionId(1)));
    assert!(!tracker.is_closing(SessionId(77)));
    assert!(!tracker.touch(SessionId(1), Millis(1)));
    assert_eq!(tracker.expiry(SessionId(1)), None);
    assert_eq!(tracker.expired(Millis(6_000)), vec![SessionId(2)]);
    tracker.check_invariants();
}

#[test]
fn add_again_replaces_timeout_and_recomputes_bucket_but_keeps_closing() {
    let mut tracker = tracker();
    tracker.add(SessionId(1), 30_000, Millis(0)); // 32000
    tracker.add(SessionId(1), 5_000, Millis(1_000)); // trackSession recomputes: 6000 -> 8000
    assert_eq!(tracker.expiry(SessionId(1)), Some(Millis(8_000)));
    assert_eq!(tracker.timeout_ms(SessionId(1)), Some(5_000));
    assert_eq!(tracker.len(), 1);
    tracker.set_closing(SessionId(1));
    tracker.add(SessionId(1), 5_000, Millis(2_000));
    assert!(tracker.is_closing(SessionId(1)));
    assert_eq!(tracker.next_expiry(), None);
    tracker.check_invariants();
}

#[test]
fn remove_clears_the_bucket() {
    let mut tracker = tracker();
    tracker.add(SessionId(1), 5_000, Millis(0));
    tracker.remove(SessionId(1));
    tracker.remove(SessionId(1)); // twice is harmless
    assert!(tracker.is_empty());
    assert_eq!(tracker.next_expiry(), None);
    assert_eq!(tracker.expired(Millis(u64::MAX)), vec![]);
    tracker.check_invariants();
}
