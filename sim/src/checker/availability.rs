//! Availability in a quiet period, checked like safety (TigerBeetle VOPR's liveness mode,
//! FoundationDB's quiet-database check; DESIGN.md "a quiet phase longer than three times the
//! longest timeout in the code"; issue F): once faults are over and the ensemble has
//! recovered, a healthy service must simply keep serving. In the quiet window:
//!
//! - no client connection drops, except the one a client closes itself after closeSession;
//! - no session expires;
//! - no reply carries an error that only a failing service gives (SESSIONEXPIRED,
//!   CONNECTIONLOSS, SESSIONMOVED, a system error, ...);
//! - every request, and every handshake, is answered within a stated bound;
//! - on the servers' side (what a tier can observe of them, [`ServerEvent`]): no election
//!   starts, no peer link closes, no member stops serving.
//!
//! A violation here is a service that users feel failing, even when every safety checker
//! passes: the bug class of a timer that closes a healthy link, or a follower that stops
//! answering PING.

use super::Violation;
use crate::history::{History, Observation};
use std::collections::BTreeMap;
use zab_core::{ConnectionId, ErrorCode};

/// The quiet window and the bound on answers in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuietWindow {
    /// Start of the window, ms (faults over, recovery done).
    pub from_ms: u64,
    /// End of the window, ms.
    pub to_ms: u64,
    /// Every request and handshake in the window is answered within this many ms.
    pub answer_bound_ms: u64,
}

/// Something a server did that a quiet, healthy ensemble never does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerEvent {
    /// The server left its role and started electing.
    ElectionStarted,
    /// The server's link to a peer closed, by either end.
    PeerLinkClosed {
        /// The peer, by server index.
        peer: usize,
    },
    /// The server stopped serving clients (not counting a crash, which is a fault).
    StoppedServing,
}

/// Errors only a failing service answers with.
const SERVICE_ERRORS: [ErrorCode; 9] = [
    ErrorCode::SystemError,
    ErrorCode::DataInconsistency,
    ErrorCode::ConnectionLoss,
    ErrorCode::MarshallingError,
    ErrorCode::OperationTimeout,
    ErrorCode::UnknownSession,
    ErrorCode::SessionExpired,
    ErrorCode::SessionMoved,
    ErrorCode::NotReadOnly,
];

/// Checks the clients' side of the quiet window.
pub fn check_clients(history: &History, window: &QuietWindow) -> Vec<Violation> {
    let mut violations = Vec::new();
    let in_window = |ms: u64| ms >= window.from_ms && ms < window.to_ms;
    let bound = window.answer_bound_ms;
    // Connections whose client closed its session: the server hangs up on them, as it should.
    let mut closed_by_client: BTreeMap<usize, ConnectionId> = BTreeMap::new();
    let mut current: BTreeMap<usize, ConnectionId> = BTreeMap::new();
    let mut handshakes: BTreeMap<(usize, ConnectionId), u64> = BTreeMap::new();
    // Clients refused during a handshake, since when: ZooKeeper hangs up without an answer on
    // a client that has seen a newer zxid than the server (a follower a few ms behind the
    // leader), and the client tries the next server. Only staying unconnected counts.
    let mut refused: BTreeMap<usize, u64> = BTreeMap::new();
    for (_, at_ms, client, observation) in &history.observations {
        match observation {
            Observation::Connecting { connection, .. } => {
                current.insert(*client, *connection);
                handshakes.insert((*client, *connection), *at_ms);
            }
            Observation::Established { connection, .. } => {
                handshakes.remove(&(*client, *connection));
                if let Some(since_ms) = refused.remove(client).filter(|since_ms| *at_ms > since_ms + bound) {
                    violations.push(quiet(format!(
                        "client {client} was refused at {since_ms} ms and connected again only at {at_ms} ms"
                    )));
                }
            }
            Observation::SessionClosed { .. } => {
                if let Some(connection) = current.get(client) {
                    closed_by_client.insert(*client, *connection);
                }
            }
            Observation::ConnectionLost { connection } => {
                let handshake_ms = handshakes.remove(&(*client, *connection));
                let expected = closed_by_client.get(client) == Some(connection);
                match handshake_ms {
                    _ if !in_window(*at_ms) || expected => {}
                    Some(since_ms) if *at_ms <= since_ms + bound => {
                        refused.entry(*client).or_insert(*at_ms);
                    }
                    Some(since_ms) => violations.push(quiet(format!(
                        "client {client}'s handshake on conn={} at {since_ms} ms was not answered within {bound} ms",
                        connection.0
                    ))),
                    None => violations.push(quiet(format!(
                        "client {client} lost its connection conn={} at {at_ms} ms",
                        connection.0
                    ))),
                }
            }
            Observation::SessionExpired { session } if in_window(*at_ms) => {
                violations.push(quiet(format!("client {client}'s session {session} expired at {at_ms} ms")));
            }
            _ => {}
        }
    }
    violations.extend(never_answered(&handshakes, &refused, window));
    violations.extend(check_answers(history, window));
    violations
}

/// Handshakes still unanswered, and refused clients still unconnected, at the end.
fn never_answered(
    handshakes: &BTreeMap<(usize, ConnectionId), u64>,
    refused: &BTreeMap<usize, u64>,
    window: &QuietWindow,
) -> Vec<Violation> {
    let whole_bound_inside =
        |since_ms: u64| since_ms >= window.from_ms && since_ms + window.answer_bound_ms < window.to_ms;
    let unanswered = handshakes.iter().filter(|(_, since_ms)| whole_bound_inside(**since_ms)).map(
        |((client, connection), since_ms)| {
            quiet(format!("client {client}'s handshake on conn={} at {since_ms} ms was never answered", connection.0))
        },
    );
    let unconnected =
        refused.iter().filter(|(_, since_ms)| whole_bound_inside(**since_ms)).map(|(client, since_ms)| {
            quiet(format!("client {client} was refused at {since_ms} ms and never connected again"))
        });
    unanswered.chain(unconnected).collect()
}

/// Every operation outstanding in the window is answered within the bound, without a
/// service error. An operation whose connection was lost has no answer to wait for: the
/// loss itself is the violation when it happens in the window.
fn check_answers(history: &History, window: &QuietWindow) -> Vec<Violation> {
    // Where in the global order each client lost a connection: an op without a reply that was
    // outstanding then was abandoned with it (CONNECTIONLOSS), not left waiting.
    let mut losses: BTreeMap<usize, Vec<u64>> = BTreeMap::new();
    for (at, _, client, observation) in &history.observations {
        if matches!(observation, Observation::ConnectionLost { .. }) {
            losses.entry(*client).or_default().push(*at);
        }
    }
    let abandoned = |client: usize, invoked: u64| losses.get(&client).is_some_and(|at| at.iter().any(|a| *a > invoked));
    let mut violations = Vec::new();
    for (id, op) in history.ops.iter().enumerate() {
        let started_ms = op.invoked_ms.max(window.from_ms);
        // Only what waits inside the window, with the whole bound inside it too.
        if op.invoked_ms >= window.to_ms || started_ms + window.answer_bound_ms >= window.to_ms {
            continue;
        }
        let Some(completion) = &op.completion else {
            if !abandoned(op.client, op.invoked) {
                violations.push(quiet(format!(
                    "op {id} of client {} (opcode {}) invoked at {} ms was never answered",
                    op.client,
                    op.request.op(),
                    op.invoked_ms
                )));
            }
            continue;
        };
        if completion.at_ms < window.from_ms {
            continue;
        }
        if completion.at_ms > started_ms + window.answer_bound_ms {
            violations.push(quiet(format!(
                "op {id} of client {} invoked at {} ms was answered only at {} ms (bound {} ms)",
                op.client, op.invoked_ms, completion.at_ms, window.answer_bound_ms
            )));
        } else if SERVICE_ERRORS.contains(&completion.err) {
            violations.push(quiet(format!(
                "op {id} of client {} was answered {:?} at {} ms",
                op.client, completion.err, completion.at_ms
            )));
        }
    }
    violations
}

/// Checks the servers' side of the quiet window: `events` are (ms, server index, event).
pub fn check_servers(events: &[(u64, usize, ServerEvent)], window: &QuietWindow) -> Vec<Violation> {
    events
        .iter()
        .filter(|(at_ms, _, _)| *at_ms >= window.from_ms && *at_ms < window.to_ms)
        .map(|(at_ms, server, event)| {
            let what = match event {
                ServerEvent::ElectionStarted => "started an election".to_string(),
                ServerEvent::PeerLinkClosed { peer } => format!("lost its link to n{peer}"),
                ServerEvent::StoppedServing => "stopped serving".to_string(),
            };
            quiet(format!("n{server} {what} at {at_ms} ms"))
        })
        .collect()
}

fn quiet(message: String) -> Violation {
    Violation { checker: "availability", message: format!("quiet phase: {message}") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::OpKind;
    use zab_core::proto::{PathWatchRequest, Request, Response};
    use zab_core::{SessionId, Zxid};

    const WINDOW: QuietWindow = QuietWindow { from_ms: 1_000, to_ms: 10_000, answer_bound_ms: 500 };

    fn read() -> Request {
        Request::Exists(PathWatchRequest { path: "/a".into(), watch: false })
    }

    #[test]
    fn a_quiet_history_passes() {
        let mut history = History::default();
        let connection = ConnectionId(1);
        history.observe(
            900,
            0,
            Observation::Connecting { connection, session: SessionId(0), last_zxid_seen: Zxid::ZERO },
        );
        history.observe(950, 0, Observation::Established { connection, session: SessionId(7), timeout_ms: 4000 });
        let op = history.invoke(2_000, 0, SessionId(7), read(), OpKind::Plain);
        history.complete(2_010, op, Zxid(5), ErrorCode::NoNode, Response::Empty);
        assert_eq!(check_clients(&history, &WINDOW), vec![]);
    }

    #[test]
    fn a_dropped_connection_a_late_or_missing_answer_and_an_expiry_are_caught() {
        let mut history = History::default();
        let connection = ConnectionId(1);
        let late = history.invoke(2_000, 0, SessionId(7), read(), OpKind::Plain);
        history.complete(2_600, late, Zxid(5), ErrorCode::Ok, Response::Empty);
        let unanswered = history.invoke(3_000, 0, SessionId(7), read(), OpKind::Plain);
        history.observe(3_000, 0, Observation::Sent { connection: ConnectionId(2), xid: 9, op: Some(unanswered) });
        history.observe(4_000, 0, Observation::ConnectionLost { connection });
        history.observe(4_100, 0, Observation::SessionExpired { session: SessionId(7) });
        history.invoke(4_200, 0, SessionId(9), read(), OpKind::Plain);
        let failed = history.invoke(5_000, 1, SessionId(8), read(), OpKind::Plain);
        history.complete(5_001, failed, Zxid(5), ErrorCode::SessionMoved, Response::Empty);
        let found = check_clients(&history, &WINDOW);
        assert_eq!(found.len(), 5, "{found:?}");
        assert!(found.iter().all(|v| v.checker == "availability"));
    }

    #[test]
    fn an_op_abandoned_with_its_connection_before_the_window_is_not_waiting_in_it() {
        let mut history = History::default();
        let connection = ConnectionId(1);
        history.invoke(500, 0, SessionId(7), read(), OpKind::Plain);
        history.observe(600, 0, Observation::ConnectionLost { connection });
        let waiting = history.invoke(700, 0, SessionId(7), read(), OpKind::Plain);
        let found = check_clients(&history, &WINDOW);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].message.contains(&format!("op {waiting} ")), "{found:?}");
    }

    #[test]
    fn a_refused_handshake_counts_only_if_the_client_stays_unconnected() {
        let mut history = History::default();
        let connecting = |connection| Observation::Connecting {
            connection: ConnectionId(connection),
            session: SessionId(0),
            last_zxid_seen: Zxid(9),
        };
        let established = |connection| Observation::Established {
            connection: ConnectionId(connection),
            session: SessionId(7),
            timeout_ms: 4000,
        };
        history.observe(2_000, 0, connecting(1));
        history.observe(2_010, 0, Observation::ConnectionLost { connection: ConnectionId(1) });
        history.observe(2_100, 0, connecting(2));
        history.observe(2_120, 0, established(2));
        assert_eq!(check_clients(&history, &WINDOW), vec![]);
        history.observe(3_000, 1, connecting(3));
        history.observe(3_010, 1, Observation::ConnectionLost { connection: ConnectionId(3) });
        history.observe(3_600, 1, connecting(4));
        history.observe(3_700, 1, established(4));
        history.observe(5_000, 2, connecting(5));
        history.observe(5_900, 2, Observation::ConnectionLost { connection: ConnectionId(5) });
        history.observe(6_000, 3, connecting(6));
        history.observe(6_001, 3, Observation::ConnectionLost { connection: ConnectionId(6) });
        let found = check_clients(&history, &WINDOW);
        assert_eq!(found.len(), 3, "{found:?}");
        assert!(found[0].message.contains("client 1 was refused at 3010 ms and connected again only at 3700 ms"));
        assert!(found[1].message.contains("client 2's handshake on conn=5 at 5000 ms was not answered within 500 ms"));
        assert!(found[2].message.contains("client 3 was refused at 6001 ms and never connected again"));
    }

    #[test]
    fn the_hang_up_after_a_client_closed_its_session_is_expected() {
        let mut history = History::default();
        let connection = ConnectionId(1);
        history.observe(
            900,
            0,
            Observation::Connecting { connection, session: SessionId(0), last_zxid_seen: Zxid::ZERO },
        );
        history.observe(2_000, 0, Observation::SessionClosed { session: SessionId(7) });
        history.observe(2_010, 0, Observation::ConnectionLost { connection });
        assert_eq!(check_clients(&history, &WINDOW), vec![]);
    }

    #[test]
    fn server_events_count_only_inside_the_window() {
        let events = [
            (500, 0, ServerEvent::ElectionStarted),
            (1_500, 1, ServerEvent::PeerLinkClosed { peer: 2 }),
            (20_000, 2, ServerEvent::StoppedServing),
        ];
        let found = check_servers(&events, &WINDOW);
        assert_eq!(found.len(), 1);
        assert!(found[0].message.contains("n1 lost its link to n2"), "{found:?}");
    }
}
