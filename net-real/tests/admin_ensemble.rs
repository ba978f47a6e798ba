//! The AdminServer of a three-member zab ensemble on loopback: the leader's web-view data
//! lists both followers as synced learners with their lag, each follower names the leader,
//! `leader`, `zabstate` and `voting_view` answer in Apache's shapes with the ensemble's
//! values, the leader's `mntr` counts its learners and the syncs it sent, and its `/metrics`
//! has a write's proposal-to-commit and persist latencies.

mod support;
use std::fs;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{four_letter, free_ports, Client};

const SERVERS: usize = 3;
const DEADLINE: Duration = Duration::from_secs(60);
const PROMETHEUS: &str = "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider";

/// The members' processes, killed on drop (also when the test fails).
struct Processes(Vec<Child>);

impl Drop for Processes {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn get_text(port: u16, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    Some(text.split_once("\r\n\r\n")?.1.to_string())
}

fn get(port: u16, path: &str) -> Option<Value> {
    serde_json::from_str(&get_text(port, path)?).ok()
}

/// A number on a `/metrics` line that starts with `series`.
fn series(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
}

fn mode(client_port: u16) -> Option<String> {
    let text = four_letter(client_port, "srvr", Duration::from_secs(2)).ok()?;
    text.lines().find_map(|l| l.strip_prefix("Mode: ")).map(str::to_string)
}

#[test]
fn an_ensembles_admin_servers_show_the_leader_and_its_learners() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ports = free_ports(5 * SERVERS);
    let (client, quorum, election, admin) = (&ports[..3], &ports[3..6], &ports[6..9], &ports[9..12]);
    let metrics = &ports[12..];
    let lines: String = (0..SERVERS)
        .map(|i| format!("server.{}=127.0.0.1:{}:{};127.0.0.1:{}\n", i + 1, quorum[i], election[i], client[i]))
        .collect();
    let mut children = Vec::new();
    for (i, admin_port) in admin.iter().enumerate() {
        let data = dir.path().join(format!("s{}", i + 1));
        fs::create_dir_all(&data).expect("data dir");
        fs::write(data.join("myid"), format!("{}\n", i + 1)).expect("myid");
        let config = format!(
            "tickTime=200\ninitLimit=10\nsyncLimit=5\ndataDir={}\npreAllocSize=64\n4lw.commands.whitelist=*\n\
             admin.serverAddress=127.0.0.1\nadmin.serverPort={}\nmetricsProvider.httpHost=127.0.0.1\n\
             metricsProvider.httpPort={}\nmetricsProvider.className={PROMETHEUS}\n{lines}",
            data.display(),
            admin_port,
            metrics[i]
        );
        fs::write(data.join("zoo.cfg"), config).expect("zoo.cfg");
        let log = fs::File::create(data.join("stderr.log")).expect("log");
        let child = Command::new(env!("CARGO_BIN_EXE_zab"))
            .args(["server", "--config"])
            .arg(data.join("zoo.cfg"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start zab");
        children.push(child);
    }
    let _processes = Processes(children);
    let leader = wait_for_leader(client);
    let leader_id = (leader + 1) as u64;
    // The followers may still be syncing when the leader first reports: wait for both synced.
    let ensemble = wait_for(|| {
        let answer = get(admin[leader], "/api/ensemble")?;
        let learners = answer["learners"].as_array()?;
        (learners.len() == 2 && learners.iter().all(|l| l["synced"] == true)).then_some(answer)
    });
    assert_eq!(ensemble["mode"], "leader");
    assert_eq!(ensemble["leader"], leader_id);
    let ids: Vec<u64> =
        ensemble["learners"].as_array().expect("learners").iter().map(|l| l["id"].as_u64().expect("id")).collect();
    let expected: Vec<u64> = (1..=SERVERS as u64).filter(|id| *id != leader_id).collect();
    assert_eq!(ids, expected);
    for learner in ensemble["learners"].as_array().expect("learners") {
        assert!(learner["lag_zxids"].is_u64() && learner["ack_wait_ms"].is_u64(), "{learner}");
    }
    for i in (0..SERVERS).filter(|i| *i != leader) {
        let follower = get(admin[i], "/api/ensemble").expect("a follower's ensemble view");
        assert_eq!((follower["mode"].as_str(), follower["leader"].as_u64()), (Some("follower"), Some(leader_id)));
        let answer = get(admin[i], "/commands/leader").expect("leader");
        assert_eq!((answer["is_leader"].as_bool(), answer["leader_id"].as_u64()), (Some(false), Some(leader_id)));
        assert_eq!(answer["leader_ip"], "127.0.0.1");
    }
    // Apache's shapes: proposal_stats on the leader only; configuration's nine keys everywhere.
    for (i, port) in admin.iter().enumerate() {
        let stats = get(*port, "/commands/server_stats").expect("server_stats");
        assert_eq!(stats.get("proposal_stats").is_some(), i == leader, "{stats}");
        let configuration = get(*port, "/commands/configuration").expect("configuration");
        assert_eq!(configuration.as_object().map(|o| o.len()), Some(11), "{configuration}");
    }
    let zabstate = get(admin[leader], "/commands/zabstate").expect("zabstate");
    assert_eq!((zabstate["zabstate"].as_str(), zabstate["is_leader"].as_bool()), (Some("broadcast"), Some(true)));
    assert_eq!(zabstate["quorum_address"], format!("127.0.0.1:{}", quorum[leader]));
    let voting = get(admin[leader], "/commands/voting_view").expect("voting_view");
    let line = format!("127.0.0.1:{}:{}:participant;127.0.0.1:{}", quorum[0], election[0], client[0]);
    assert_eq!(voting["current_config"]["1"], line.as_str());
    let mntr = four_letter(client[leader], "mntr", Duration::from_secs(5)).expect("mntr");
    assert!(mntr.contains("zk_learners\t2\n") && mntr.contains("zk_synced_followers\t2\n"), "{mntr}");
    let count = |key: &str| mntr.lines().find_map(|l| l.strip_prefix(key)?.trim().parse::<u64>().ok()).unwrap_or(0);
    assert!(count("zk_diff_count") + count("zk_snap_count") >= 2, "a sync per follower:\n{mntr}");
    let mut writer = Client::connect(client[leader], Duration::from_secs(10)).expect("connect to the leader");
    writer.create("/measured", b"x", 0).expect("create").expect("created");
    let text = get_text(metrics[leader], "/metrics").expect("/metrics");
    assert!(series(&text, "zab_proposal_commit_latency_ms_count").is_some_and(|n| n >= 1.0), "{text}");
    assert!(series(&text, "zab_persist_latency_ms_count").is_some_and(|n| n >= 1.0), "{text}");
    let syncs = series(&text, "zab_syncs_total{kind=\"diff\"}").unwrap_or(0.0)
        + series(&text, "zab_syncs_total{kind=\"snap\"}").unwrap_or(0.0);
    assert!(syncs >= 2.0, "{text}");
}

fn wait_for_leader(client_ports: &[u16]) -> usize {
    wait_for(|| {
        let modes: Vec<Option<String>> = client_ports.iter().map(|port| mode(*port)).collect();
        let leaders: Vec<usize> = (0..modes.len()).filter(|i| modes[*i].as_deref() == Some("leader")).collect();
        let followers = modes.iter().filter(|m| m.as_deref() == Some("follower")).count();
        (leaders.len() == 1 && followers == modes.len() - 1).then(|| leaders[0])
    })
}

fn wait_for<T>(mut probe: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(found) = probe() {
            return found;
        }
        assert!(start.elapsed() < DEADLINE, "not within {DEADLINE:?}");
        thread::sleep(Duration::from_millis(100));
    }
}
