//! Liveness after healing (TigerBeetle VOPR's liveness mode; DESIGN.md "once faults heal and
//! a quorum is connected, writes complete within a bounded simulated time"): in the liveness
//! phase every client must complete at least one write it issued after the heal, before the
//! deadline. A safety-only run would never notice a livelock.

use super::Violation;
use crate::history::History;
use zab_core::proto::Request;

/// Checks that each of `clients` completed a write invoked at or after `heal_ms` by `deadline_ms`.
pub fn check(history: &History, clients: usize, heal_ms: u64, deadline_ms: u64) -> Vec<Violation> {
    let mut progressed = vec![false; clients];
    for op in &history.ops {
        let is_write =
            matches!(op.request, Request::Create(_) | Request::Create2(_) | Request::Delete(_) | Request::SetData(_));
        let done_in_time = op.completion.as_ref().is_some_and(|c| c.at_ms <= deadline_ms);
        if is_write && op.invoked_ms >= heal_ms && done_in_time {
            progressed[op.client] = true;
        }
    }
    progressed
        .iter()
        .enumerate()
        .filter(|(_, done)| !**done)
        .map(|(client, _)| Violation {
            checker: "liveness",
            message: format!(
                "client {client} completed no write between the heal at {heal_ms} ms and the deadline at {deadline_ms} ms"
            ),
        })
        .collect()
}
