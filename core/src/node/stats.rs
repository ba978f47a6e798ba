//! Request statistics for `srvr`, `stat`, `mntr`, `cons` and the AdminServer, and what the
//! leader knows of its learners (counts for `mntr`, each learner's lag for the web view).

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
    /// Latency of requests answered without a transaction (Apache's `readlatency`).
    pub read_latency: Summary,
    /// Latency of requests answered after their transaction applied (`updatelatency`).
    pub update_latency: Summary,
    rng: ChaCha8Rng,
}

/// Upper bounds (ms) of [`Summary`]'s buckets, doubling from 1 ms; one more bucket holds
/// everything larger. Quantiles are read off these bounds, as a Prometheus histogram does.
pub const SUMMARY_BUCKET_BOUNDS_MS: [u64; 18] =
    [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16_384, 32_768, 65_536, 131_072];

/// Count, sum, min, max and a bucketed distribution of one quantity (Apache's `SummarySet`
/// rows in `mntr`: `avg_`, `min_`, `max_`, `cnt_`, `sum_`, `p50_`...).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Samples recorded.
    pub count: u64,
    /// Their sum.
    pub sum: u64,
    /// The smallest (0 before any sample).
    pub min: u64,
    /// The largest.
    pub max: u64,
    /// Samples per bucket of [`SUMMARY_BUCKET_BOUNDS_MS`], the last for larger ones.
    pub buckets: [u64; SUMMARY_BUCKET_BOUNDS_MS.len() + 1],
}

impl Summary {
    /// Adds one sample.
    pub fn record(&mut self, value: u64) {
        self.min = if self.count == 0 { value } else { self.min.min(value) };
        self.max = self.max.max(value);
        self.count += 1;
        self.sum += value;
        let bucket = SUMMARY_BUCKET_BOUNDS_MS.iter().position(|bound| value <= *bound);
        self.buckets[bucket.unwrap_or(SUMMARY_BUCKET_BOUNDS_MS.len())] += 1;
    }

    /// The mean (0 before any sample).
    pub fn avg(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.sum as f64 / self.count as f64
        }
    }

    /// The upper bound of the bucket holding the `q` quantile, capped at [`Summary::max`]
    /// (0 before any sample).
    pub fn quantile(&self, q: f64) -> u64 {
        let rank = (q * self.count as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (index, count) in self.buckets.iter().enumerate() {
            seen += count;
            if seen >= rank && self.count > 0 {
                let bound = SUMMARY_BUCKET_BOUNDS_MS.get(index).copied().unwrap_or(self.max);
                return bound.min(self.max);
            }
        }
        0
    }
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
            read_latency: Summary::default(),
            update_latency: Summary::default(),
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
        self.read_latency = Summary::default();
        self.update_latency = Summary::default();
    }

    /// A request answered from the tree: `srvr`'s latency and `readlatency`.
    pub(super) fn record_read_latency(&mut self, ms: u64) {
        self.record_latency(ms);
        self.read_latency.record(ms);
    }

    /// A request answered after its transaction: `srvr`'s latency and `updatelatency`.
    pub(super) fn record_update_latency(&mut self, ms: u64) {
        self.record_latency(ms);
        self.update_latency.record(ms);
    }

    fn record_latency(&mut self, ms: u64) {
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

/// One learner as its leader sees it (the web view's ensemble health).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LearnerView {
    /// The learner.
    pub id: crate::ids::ServerId,
    /// An observer (does not vote).
    pub observer: bool,
    /// Synced and receiving proposals (or INFORMs).
    pub synced: bool,
    /// Proposals sent to it and not yet acknowledged.
    pub unacked: usize,
    /// How many zxids it is behind the leader's last proposal: proposals not acknowledged.
    pub lag_zxids: u64,
    /// How long the oldest unacknowledged proposal has waited, ms (0 when none waits).
    pub ack_wait_ms: u64,
    /// How long since the leader last heard from it, ms.
    pub silent_ms: u64,
}

impl Node {
    /// Each learner of this leader, by id; empty when this replica does not lead.
    pub fn learner_views(&self, now: crate::ids::Millis) -> Vec<LearnerView> {
        let Role::Leading(leader) = &self.role else { return Vec::new() };
        let last = self.zxid_prepared;
        let view = |(id, handle): (&crate::ids::ServerId, &super::leader::LearnerHandle)| {
            let oldest = handle.unacked.front();
            LearnerView {
                id: *id,
                observer: handle.observer,
                synced: handle.stage >= Stage::Synced,
                unacked: handle.unacked.len(),
                lag_zxids: oldest.map_or(0, |(zxid, _)| (last.0 - zxid.0).max(0) as u64 + 1),
                ack_wait_ms: oldest.map_or(0, |(_, sent)| now.0.saturating_sub(sent.0)),
                silent_ms: now.0.saturating_sub(handle.last_heard.0),
            }
        };
        leader.learners.iter().map(view).collect()
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    /// Quantiles are bucket bounds, never above the largest sample; an empty summary says 0.
    #[test]
    fn summary_quantiles_come_from_doubling_buckets() {
        let mut summary = Summary::default();
        assert_eq!((summary.quantile(0.5), summary.avg()), (0, 0.0));
        for ms in [0, 1, 3, 3, 5, 100] {
            summary.record(ms);
        }
        assert_eq!((summary.count, summary.sum, summary.min, summary.max), (6, 112, 0, 100));
        assert_eq!(summary.quantile(0.5), 4);
        assert_eq!(summary.quantile(0.99), 100);
        summary.record(1_000_000);
        assert_eq!(summary.buckets[SUMMARY_BUCKET_BOUNDS_MS.len()], 1, "beyond the last bound");
        assert_eq!(summary.quantile(1.0), 1_000_000);
    }
}
