//! `/metrics` in the Prometheus text format, encoded with the Prometheus project's
//! `prometheus-client`.
//!
//! - Apache's names: every numeric `mntr` key without its `zk_` prefix, as Apache's
//!   `PrometheusMetricsProvider` exports them (`znode_count`, `packets_received`, ...), as
//!   gauges, so the names stay exactly Apache's (`prometheus-client` would suffix counters with
//!   `_total`). Apache's summary sets (`readlatency`, `fsynctime`, ...) become histograms with
//!   the same `_sum` and `_count` series plus `_bucket`s instead of `quantile` labels.
//! - zab's own: `zab_request_latency_ms{op}`, the latency of each request by operation;
//!   `zab_proposal_commit_latency_ms`, a leader's proposal to its COMMIT;
//!   `zab_persist_latency_ms`, transactions handed to the persister until durable (write and
//!   fdatasync, and the wait in its queue); `zab_syncs_total{kind}`, DIFF/TRUNC/SNAP sent.

use std::collections::BTreeMap;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use zab_core::node::{Summary, SUMMARY_BUCKET_BOUNDS_MS};

use super::monitor::{monitor, MonitorValue};
use crate::server::four_letter::ServerView;

/// Latency of requests by operation (`cons`' abbreviations: `GETD`, `CREA`, ...), measured
/// by the core task from a request's arrival to its reply.
pub type RequestLatencies = BTreeMap<&'static str, Summary>;

/// What one scrape encodes: owned, so the encoder can hold it as a collector.
#[derive(Debug, Default)]
struct Scrape {
    gauges: Vec<(String, f64)>,
    summaries: Vec<(String, Summary)>,
    requests: Vec<(&'static str, Summary)>,
    observed: crate::admin::observed::ObservedCounts,
}

/// A summary as one histogram (its `_sum`, `_count` and `_bucket` series).
fn encode_summary(metric: &mut MetricEncoder<'_>, summary: &Summary) -> std::fmt::Result {
    metric.encode_histogram::<NoLabelSet>(summary.sum as f64, summary.count, &histogram_buckets(summary), None)
}

fn histogram_buckets(summary: &Summary) -> Vec<(f64, u64)> {
    let mut buckets: Vec<(f64, u64)> =
        SUMMARY_BUCKET_BOUNDS_MS.iter().zip(summary.buckets.iter()).map(|(b, c)| (*b as f64, *c)).collect();
    // prometheus-client writes `le="+Inf"` for f64::MAX (its own histograms' last bound).
    buckets.push((f64::MAX, summary.buckets[SUMMARY_BUCKET_BOUNDS_MS.len()]));
    buckets
}

impl Collector for Scrape {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        for (name, value) in &self.gauges {
            let help = format!("Apache ZooKeeper's mntr key zk_{name}");
            encoder.encode_descriptor(name, &help, None, MetricType::Gauge)?.encode_gauge(value)?;
        }
        for (name, summary) in &self.summaries {
            let help = format!("Apache ZooKeeper's summary set {name}, in ms");
            let mut metric = encoder.encode_descriptor(name, &help, None, MetricType::Histogram)?;
            encode_summary(&mut metric, summary)?;
        }
        let help = "Request latency from arrival to reply, by operation, in ms";
        let mut family = encoder.encode_descriptor("zab_request_latency_ms", help, None, MetricType::Histogram)?;
        for (op, summary) in &self.requests {
            let labels = [("op", *op)];
            let mut metric = family.encode_family(&labels)?;
            encode_summary(&mut metric, summary)?;
        }
        let observed = &self.observed;
        for (name, help, summary) in [
            (
                "zab_proposal_commit_latency_ms",
                "A proposal's first send to its COMMIT, on the leader, in ms",
                &observed.proposal_commit,
            ),
            (
                "zab_persist_latency_ms",
                "Transactions queued to the persister until durable (write, fdatasync), in ms",
                &observed.persist,
            ),
        ] {
            let mut metric = encoder.encode_descriptor(name, help, None, MetricType::Histogram)?;
            encode_summary(&mut metric, summary)?;
        }
        let help = "Syncs a leader sent to learners, by kind";
        let mut family = encoder.encode_descriptor("zab_syncs", help, None, MetricType::Counter)?;
        for (kind, count) in [("diff", observed.diff), ("trunc", observed.trunc), ("snap", observed.snap)] {
            let labels = [("kind", kind)];
            family.encode_family(&labels)?.encode_counter::<NoLabelSet, _, u64>(&count, None)?;
        }
        Ok(())
    }
}

/// Whether `key` is a row of a summary set (`avg_fsynctime`, `p99_readlatency`, ...), not a
/// gauge that merely starts like one (`max_file_descriptor_count`, `min_latency`).
fn is_summary_row(key: &str) -> bool {
    let Some((_, name)) = key.split_once('_') else { return false };
    let names = super::monitor_names::SUMMARIES.iter().chain(super::monitor_names::SUMMARIES_WITH_PERCENTILES);
    let row = ["avg", "min", "max", "cnt", "sum", "p50", "p95", "p99", "p999"];
    names.into_iter().any(|n| *n == name) && row.iter().any(|prefix| key.starts_with(&format!("{prefix}_")))
}

/// The Prometheus text for `view` (on the core task: reads only).
pub fn encode(view: &ServerView<'_>) -> String {
    let mut scrape = Scrape::default();
    let stats = view.node.stats();
    for (key, value) in monitor(view) {
        let number = match value {
            MonitorValue::Integer(n) => n as f64,
            MonitorValue::Double(x) => x,
            MonitorValue::Text(_) => continue,
        };
        // A summary set's rows become one histogram below.
        if is_summary_row(&key) {
            continue;
        }
        scrape.gauges.push((key, number));
    }
    for name in super::monitor_names::SUMMARIES.iter().chain(super::monitor_names::SUMMARIES_WITH_PERCENTILES) {
        let summary = match *name {
            "readlatency" => stats.read_latency.clone(),
            "updatelatency" => stats.update_latency.clone(),
            _ => Summary::default(),
        };
        scrape.summaries.push((name.to_string(), summary));
    }
    scrape.requests = view.request_latencies.iter().map(|(op, s)| (*op, s.clone())).collect();
    scrape.observed = view.observed.clone();
    let mut registry = Registry::default();
    registry.register_collector(Box::new(scrape));
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
    out
}
