//! The benchmark binary on a tiny workload: every row of the table is there and nothing
//! failed. Against zab and Apache when the oracle is installed, else zab only (and under
//! `ZAB_REQUIRE_ORACLE` a missing oracle fails). No timing is asserted.

use std::process::Command;
use zab_tests::oracle::{classpath, oracle_required};
use zab_tests::server::zab_binary;

/// Every workload name as the table prints it.
const WORKLOADS: [&str; 9] =
    ["create", "set", "get", "exists", "getChildren", "mixed 90/10", "multi", "ephemeral create+delete", "kafka-style"];

/// Every large-state row.
const LARGE_ROWS: [&str; 5] = [
    "populate, creates/s",
    "RSS growth per znode",
    "p99.9 during / without snapshots",
    "SNAP resync of a follower that missed N",
    "follower restart to serving with N",
];

#[test]
fn every_row_and_no_errors() {
    let apache = classpath().is_some();
    assert!(apache || !oracle_required(), "ZAB_REQUIRE_ORACLE is set but Java or Apache ZooKeeper is missing");
    let zab = zab_binary();
    assert!(zab.exists(), "no zab binary at {} (cargo build -p zab-net first, or set ZAB_BIN)", zab.display());
    let work = tempfile::tempdir().expect("temp dir");
    let markdown = work.path().join("bench.md");
    let mut command = Command::new(env!("CARGO_BIN_EXE_zab-bench"));
    command.args(["--sessions", "3", "--warmup", "0", "--seconds", "0.2", "--znodes", "1500", "--snap-count", "200"]);
    command.args(["--apache-heap", "256m", "--zab-bin"]).arg(&zab).arg("--work-dir").arg(work.path().join("data"));
    command.arg("--markdown").arg(&markdown);
    if !apache {
        eprintln!("Apache ZooKeeper is not installed: the bench runs against zab only");
        command.arg("--zab-only");
    }
    let output = command.output().expect("run zab-bench");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "zab-bench failed ({}):\n{stderr}", output.status);
    let table = std::fs::read_to_string(&markdown).expect("the markdown report");
    assert_eq!(table.trim(), String::from_utf8_lossy(&output.stdout).trim(), "the file is what was printed");
    for section in ["## Conditions", "## Standalone", "## 3 servers", "## Large state"] {
        assert!(table.contains(section), "no {section} in:\n{table}");
    }
    for servers in ["## Standalone", "## 3 servers"] {
        let start = table.find(servers).expect("section");
        let section = &table[start..];
        let section = &section[..section[3..].find("\n## ").map_or(section.len(), |end| end + 3)];
        for workload in WORKLOADS {
            for pipeline in [1, 8] {
                let row = section
                    .lines()
                    .find(|line| line.starts_with(&format!("| {workload} | {pipeline} |")))
                    .unwrap_or_else(|| panic!("{servers}: no row {workload} at pipeline {pipeline} in:\n{table}"));
                let cells: Vec<&str> = row.split('|').map(str::trim).collect();
                // | workload | pipeline | 15 metric cells | errors zab | errors Apache | target |
                assert_eq!(cells[18], "0", "{servers} {workload} {pipeline}: zab had errors: {row}");
                if apache {
                    assert_eq!(cells[19], "0", "{servers} {workload} {pipeline}: Apache had errors: {row}");
                    assert_ne!(cells[4], "–", "{servers} {workload} {pipeline}: no ratio: {row}");
                }
                assert!(cells[3].parse::<f64>().is_ok_and(|ops| ops > 0.0), "no zab ops/s: {row}");
            }
        }
    }
    for name in LARGE_ROWS {
        let row =
            table.lines().find(|line| line.starts_with(&format!("| {name}"))).unwrap_or_else(|| panic!("no {name}"));
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        assert!(cells[2].parse::<f64>().is_ok(), "no zab value for {name}: {row}");
        if apache {
            assert!(cells[3].parse::<f64>().is_ok(), "no Apache value for {name}: {row}");
        }
    }
    assert!(!table.contains("## Not measured"), "a section was not measured:\n{table}");
}
