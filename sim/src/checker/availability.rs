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
    // Connections whose client closed its session: the server hangs up on them, as it should.
    let mut closed_by_client: BTreeMap<usize, ConnectionId> = BTreeMap::new();
    let mut current: BTreeMap<usize, ConnectionId> = BTreeMap::new();
    let mut handshakes: BTreeMap<(usize, ConnectionId), u64> = BTreeMap::new();
    for (_, at_ms, client, observation) in &history.observations {
        match observation {
            Observation::Connecting { connection, .. } => {
                current.insert(*client, *connection);
                handshakes.insert((*client, *connection), *at_ms);
            }
            Observation::Established { connection, .. } => {
                handshakes.remove(&(*client, *connection));
            }
            Observation::SessionClosed { .. } => {
                if let Some(connection) = current.get(client) {
                    closed_by_client.insert(*client, *connection);
                }
            }
            Observation::ConnectionLost { connection } => {
                handshakes.remove(&(*client, *connection));
                let expected = closed_by_client.get(client) == Some(connection);
                if in_window(*at_ms) && !expected {
                    violations.push(quiet(format!(
                        "client {client} lost its connection conn={} at {at_ms} ms",
                        connection.0
                    )));
                }
            }
            Observation::SessionExpired { session } if in_window(*at_ms) => {
                violations.push(quiet(format!("client {client}'s session {session} expired at {at_ms} ms")));
            }
            _ => {}
        }
    }
    for ((client, connection), since_ms) in handshakes {
        if since_ms >= window.from_ms && since_ms + window.answer_bound_ms < window.to_ms {
            violations.push(quiet(format!(
                "client {client}'s handshake on conn={} at {since_ms} ms was never answered",
                connection.0
            )));
        }
    }
    violations.extend(check_answers(history, window));
    violations
}

/// Every operation outstanding in the window is answered within the bound, without a
/// service error. An operation whose connection was lost has no answer to wait for: the
/// loss itself is the violation when it happens in the window.
fn check_answers(history: &History, window: &QuietWindow) -> Vec<Violation> {
    let mut connection_of: BTreeMap<usize, ConnectionId> = BTreeMap::new();
    let mut lost: std::collections::BTreeSet<ConnectionId> = Default::default();
    for (_, _, _, observation) in &history.observations {
        match observation {
            Observation::Sent { connection, op: Some(op), .. } => {
                connection_of.insert(*op, *connection);
            }
            Observation::ConnectionLost { connection } => {
                lost.insert(*connection);
            }
            _ => {}
        }
    }
    let mut violations = Vec::new();
    for (id, op) in history.ops.iter().enumerate() {
        let started_ms = op.invoked_ms.max(window.from_ms);
        // Only what waits inside the window, with the whole bound inside it too.
        if op.invoked_ms >= window.to_ms || started_ms + window.answer_bound_ms >= window.to_ms {
            continue;
        }
        let Some(completion) = &op.completion else {
            if connection_of.get(&id).is_some_and(|connection| !lost.contains(connection)) {
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
        let failed = history.invoke(5_000, 1, SessionId(8), read(), OpKind::Plain);
        history.complete(5_001, failed, Zxid(5), ErrorCode::SessionMoved, Response::Empty);
        let found = check_clients(&history, &WINDOW);
        assert_eq!(found.len(), 5, "{found:?}");
        assert!(found.iter().all(|v| v.checker == "availability"));
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
