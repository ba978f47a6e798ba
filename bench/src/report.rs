//! The table: zab, Apache and zab/Apache for every metric, with the targets marked,
//! and the conditions of the run. Markdown, so the same text prints and goes into a file.

use crate::large::Large;
use crate::servers::Flavor;
use crate::workload::{Measurement, Workload};
use std::collections::BTreeMap;
use std::fmt::Write;

/// Throughput zab must reach, as a multiple of Apache's.
pub const THROUGHPUT_RATIO_MIN: f64 = 2.0;
/// Highest p50 as a fraction of Apache's.
pub const P50_RATIO_MAX: f64 = 0.5;
/// Highest RSS per znode at 1M znodes of 100 B, bytes.
pub const RSS_PER_ZNODE_MAX: f64 = 250.0;
/// Highest snapshot peak as a multiple of steady RSS.
pub const SNAPSHOT_PEAK_RATIO_MAX: f64 = 1.3;
/// Highest follower restart time as a fraction of Apache's.
pub const RESTART_RATIO_MAX: f64 = 0.5;
/// Highest p99.9 during snapshots as a multiple of p99.9 without.
pub const SNAPSHOT_P999_RATIO_MAX: f64 = 1.5;

/// Key of a workload row: (servers, workload index, pipeline depth).
pub type RowKey = (usize, usize, usize);

/// Everything one run measured.
#[derive(Default)]
pub struct Results {
    /// Per row and flavor.
    pub rows: BTreeMap<RowKey, BTreeMap<&'static str, Measurement>>,
    /// Large-state, per flavor.
    pub large: BTreeMap<&'static str, Large>,
    /// Rows or sections that could not be measured, and why.
    pub failures: Vec<String>,
}

/// Formats the whole report.
pub fn render(results: &Results, conditions: &[(String, String)], flavors: &[Flavor]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "## Conditions\n");
    for (key, value) in conditions {
        let _ = writeln!(out, "- {key}: {value}");
    }
    let compare = flavors.len() == 2;
    for servers in [1, 3] {
        render_workloads(&mut out, results, servers, compare);
    }
    render_large(&mut out, results, compare);
    if !results.failures.is_empty() {
        let _ = writeln!(out, "\n## Not measured\n");
        for failure in &results.failures {
            let _ = writeln!(out, "- {failure}");
        }
    }
    out
}

fn ratio(zab: f64, apache: f64) -> String {
    if apache > 0.0 && zab.is_finite() {
        format!("{:.2}", zab / apache)
    } else {
        "–".to_string()
    }
}

fn render_workloads(out: &mut String, results: &Results, servers: usize, compare: bool) {
    let rows: Vec<_> = results.rows.iter().filter(|((s, _, _), _)| *s == servers).collect();
    if rows.is_empty() {
        return;
    }
    let title = if servers == 1 { "Standalone" } else { "3 servers" };
    let _ = writeln!(
        out,
        "\n## {title}\n\nops/s, latency µs (p50 / p99 / p99.9), server CPU µs per op, errors; each metric for zab, \
         Apache and zab/Apache. Target: ops/s × ≥ {THROUGHPUT_RATIO_MIN}, p50 × ≤ {P50_RATIO_MAX}, 0 errors.\n"
    );
    let _ = writeln!(
        out,
        "| workload | pipeline | ops/s zab | ops/s Apache | × | p50 zab | p50 Apache | × | p99 zab | p99 Apache | × | \
         p99.9 zab | p99.9 Apache | × | CPU/op zab | CPU/op Apache | × | errors zab | errors Apache | target |"
    );
    let _ = writeln!(out, "|{}", "---|".repeat(20));
    let mut log_sum = 0.0;
    let mut counted = 0;
    for ((_, workload, depth), by_flavor) in rows {
        let zab = by_flavor.get("zab");
        let apache = by_flavor.get("Apache");
        let cell = |m: Option<&Measurement>, f: &dyn Fn(&Measurement) -> f64| {
            m.map_or("–".to_string(), |m| format!("{:.0}", f(m)))
        };
        let both = |f: &dyn Fn(&Measurement) -> f64| -> String {
            let r = match (zab, apache) {
                (Some(z), Some(a)) => ratio(f(z), f(a)),
                _ => "–".to_string(),
            };
            format!("{} | {} | {}", cell(zab, f), cell(apache, f), r)
        };
        let ops = |m: &Measurement| m.ops_per_second();
        let p50 = |m: &Measurement| m.latency_us.value_at_quantile(0.5) as f64;
        let p99 = |m: &Measurement| m.latency_us.value_at_quantile(0.99) as f64;
        let p999 = |m: &Measurement| m.latency_us.value_at_quantile(0.999) as f64;
        let cpu = |m: &Measurement| m.cpu_us_per_op();
        let errors = |m: Option<&Measurement>| m.map_or("–".to_string(), errors_cell);
        let target = match (zab, apache) {
            (Some(z), Some(a)) if compare => {
                let throughput = ops(z) / ops(a).max(1e-9);
                log_sum += throughput.ln();
                counted += 1;
                let met =
                    throughput >= THROUGHPUT_RATIO_MIN && p50(z) <= P50_RATIO_MAX * p50(a) && z.error_count() == 0;
                if met {
                    "met"
                } else {
                    "**missed**"
                }
            }
            _ => "–",
        };
        let _ = writeln!(
            out,
            "| {} | {depth} | {} | {} | {} | {} | {} | {} | {} | {target} |",
            Workload::ALL[*workload].name(),
            both(&ops),
            both(&p50),
            both(&p99),
            both(&p999),
            both(&cpu),
            errors(zab),
            errors(apache),
        );
    }
    if counted > 0 {
        let _ = writeln!(out, "\nGeometric mean of zab/Apache ops/s: {:.2}×", (log_sum / counted as f64).exp());
    }
}

fn errors_cell(m: &Measurement) -> String {
    if m.errors.is_empty() {
        return "0".to_string();
    }
    let kinds: Vec<String> = m.errors.iter().map(|(k, n)| format!("{n} {k}")).collect();
    format!("**{}** ({})", m.error_count(), kinds.join(", "))
}

const MIB: f64 = 1024.0 * 1024.0;

fn render_large(out: &mut String, results: &Results, compare: bool) {
    let zab = results.large.get("zab");
    let apache = results.large.get("Apache");
    let Some(any) = zab.or(apache) else { return };
    let _ = writeln!(out, "\n## Large state ({} znodes of 100 B, 3 servers; RSS and heap of the leader)\n", any.znodes);
    let _ = writeln!(out, "| metric | zab | Apache | zab/Apache | target | |");
    let _ = writeln!(out, "|---|---|---|---|---|---|");
    let row = |out: &mut String,
               name: &str,
               f: &dyn Fn(&Large) -> Option<f64>,
               unit: &str,
               target: &str,
               met: Option<bool>| {
        let z = zab.and_then(f);
        let a = apache.and_then(f);
        let show = |v: Option<f64>| {
            v.map_or("–".to_string(), |v| {
                if v.abs() < 100.0 && v.fract() != 0.0 {
                    format!("{v:.2}{unit}")
                } else {
                    format!("{v:.0}{unit}")
                }
            })
        };
        let r = match (z, a) {
            (Some(z), Some(a)) if compare => ratio(z, a),
            _ => "–".to_string(),
        };
        let verdict = match met {
            Some(true) => "met",
            Some(false) => "**missed**",
            None => "",
        };
        let _ = writeln!(out, "| {name} | {} | {} | {r} | {target} | {verdict} |", show(z), show(a));
    };
    let p999 = |m: &Measurement| m.latency_us.value_at_quantile(0.999) as f64;
    let secs = |r: &Result<std::time::Duration, String>| r.as_ref().ok().map(|d| d.as_secs_f64());
    row(out, "populate, creates/s (pipeline 8)", &|l| Some(l.populate_per_second), "", "", None);
    row(out, "populate errors", &|l| Some(l.populate_errors as f64), "", "0", zab.map(|z| z.populate_errors == 0));
    row(out, "RSS before populating, MiB", &|l| Some(l.rss_before as f64 / MIB), "", "", None);
    row(out, "RSS steady at N znodes, MiB", &|l| Some(l.rss_after as f64 / MIB), "", "", None);
    let per_znode_met = zab.map(|z| z.rss_per_znode() <= RSS_PER_ZNODE_MAX);
    row(out, "RSS growth per znode, B", &|l| Some(l.rss_per_znode()), "", "≤ 250 (zab)", per_znode_met);
    row(
        out,
        "Apache live heap growth per znode, B (zab column: RSS)",
        &|l| {
            if l.heap_after.is_some() {
                l.heap_per_znode()
            } else {
                Some(l.rss_per_znode())
            }
        },
        "",
        "",
        None,
    );
    let peak = |l: &Large| Some(l.rss_peak as f64 / l.rss_after.max(1) as f64);
    let peak_met = zab.and_then(peak).map(|p| p <= SNAPSHOT_PEAK_RATIO_MAX);
    row(out, "RSS peak (populate + snapshots) / steady", &peak, "", "≤ 1.3 (zab)", peak_met);
    row(out, "set p99.9, small tree, µs", &|l| Some(p999(&l.baseline)), "", "", None);
    row(out, "set p99.9 during snapshots of N znodes, µs", &|l| Some(p999(&l.during_snapshots)), "", "", None);
    let during = |l: &Large| Some(p999(&l.during_snapshots) / p999(&l.baseline).max(1.0));
    let during_met = zab.and_then(during).map(|d| d <= SNAPSHOT_P999_RATIO_MAX);
    row(out, "p99.9 during / without snapshots", &during, "", "≤ 1.5 (zab)", during_met);
    row(out, "snapshots written in the snapshot window", &|l| Some(l.window_snapshots as f64), "", "", None);
    row(out, "snapshots written in the small-tree window", &|l| Some(l.baseline_snapshots as f64), "", "", None);
    row(
        out,
        "set errors (both windows)",
        &|l| Some((l.baseline.error_count() + l.during_snapshots.error_count()) as f64),
        "",
        "0",
        zab.map(|z| z.baseline.error_count() + z.during_snapshots.error_count() == 0),
    );
    row(out, "SNAP resync of a follower that missed N, s", &|l| secs(&l.snap_resync), "", "", None);
    let restart_met = match (zab.and_then(|z| secs(&z.restart)), apache.and_then(|a| secs(&a.restart))) {
        (Some(z), Some(a)) if compare => Some(z <= RESTART_RATIO_MAX * a),
        _ => None,
    };
    row(out, "follower restart to serving with N, s", &|l| secs(&l.restart), "", "× ≤ 0.5", restart_met);
    for (flavor, large) in &results.large {
        for (what, result) in [("SNAP resync", &large.snap_resync), ("restart", &large.restart)] {
            if let Err(error) = result {
                let _ = writeln!(out, "\n{flavor} {what} failed: {error}");
            }
        }
    }
}
