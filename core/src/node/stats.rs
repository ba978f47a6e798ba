//! Request statistics for `srvr`, `stat`, `mntr` and `cons`, and the leader's learner counts for `mntr`.

use super::leader::Stage;
use super::replica::Role;
use super::Node;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Counters and latency figures, reset by `srst`.
#[derive(Debug)]
pub struct Stats {
    /// Packets received from clients.
    pub packets_received: u64,
    /// Packets sent to clients (replies, events, handshakes).
    pub packets_sent: u64,
    /// Smallest request latency in ms.
    pub latency_ms_min: u64,
    /// Largest request latency in ms.
    pub latency_ms_max: u64,
    latency_ms_total: u64,
    latency_count: u64,
    rng: ChaCha8Rng,
}

impl Stats {
    pub(super) fn new(seed: u64) -> Stats {
        Stats {
            packets_received: 0,
            packets_sent: 0,
            latency_ms_min: 0,
            latency_ms_max: 0,
            latency_ms_total: 0,
            latency_count: 0,
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    pub(super) fn reset(&mut self) {
        self.packets_received = 0;
        self.packets_sent = 0;
        self.latency_ms_min = 0;
        self.latency_ms_max = 0;
        self.latency_ms_total = 0;
        self.latency_count = 0;
    }

    pub(super) fn record_latency(&mut self, ms: u64) {
        self.latency_ms_min = if self.latency_count == 0 { ms } else { self.latency_ms_min.min(ms) };
        self.latency_ms_max = self.latency_ms_max.max(ms);
        self.latency_ms_total += ms;
        self.latency_count += 1;
    }

    /// Average request latency in ms (0 before any request).
    pub fn latency_ms_avg(&self) -> f64 {
        if self.latency_count == 0 {
            0.0
        } else {
            self.latency_ms_total as f64 / self.latency_count as f64
        }
    }

    /// Requests answered since the last reset.
    pub fn requests(&self) -> u64 {
        self.latency_count
    }

    /// Transactions until the next snapshot: like ZooKeeper, a random point in
    /// [snapCount/2 + 1, snapCount], so that servers of an ensemble do not snapshot together.
    pub(super) fn snapshot_threshold(&mut self, snap_count: u64) -> u64 {
        let low = snap_count / 2 + 1;
        if low >= snap_count {
            return snap_count.max(1);
        }
        self.rng.gen_range(low..=snap_count)
    }
}

/// What a leader tells `mntr` about its learners (ZooKeeper 3.8's leader gauges).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LeaderCounts {
    /// Learners connected, in any stage (`zk_learners`).
    pub learners: usize,
    /// Voting followers synced and receiving proposals (`zk_synced_followers`).
    pub synced_followers: usize,
    /// Observers synced and receiving INFORMs (`zk_synced_observers`).
    pub synced_observers: usize,
    /// `sync`s waiting for their proposals or for a quorum (`zk_pending_syncs`).
    pub pending_syncs: usize,
}

impl Node {
    /// The leader's learner counts, or `None` when this replica does not lead.
    pub fn leader_counts(&self) -> Option<LeaderCounts> {
        let Role::Leading(leader) = &self.role else { return None };
        let synced = |observer: bool| {
            leader.learners.values().filter(|h| h.observer == observer && h.stage >= Stage::Synced).count()
        };
        Some(LeaderCounts {
            learners: leader.learners.len(),
            synced_followers: synced(false),
            synced_observers: synced(true),
            pending_syncs: leader.syncs.len(),
        })
    }

    /// The number of voting members (`zk_quorum_size`), or `None` when standalone.
    pub fn quorum_size(&self) -> Option<usize> {
        match self.role {
            Role::Standalone => None,
            _ => Some(self.voter_count()),
        }
    }
}
