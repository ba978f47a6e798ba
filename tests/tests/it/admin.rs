//! The AdminServer, `mntr` and `/metrics` against Apache ZooKeeper 3.8's own: the same state
//! (a session holding an ephemeral `/admin/eph` with a data watch on it, a persistent `/admin`
//! with data) on both, then every command of Apache's `/commands` list asked of both and
//! compared key by key. Where the answers may differ, docs/ADMIN.md says why; the lists below
//! are that document's table, and anything else that differs fails the test.

use std::collections::BTreeSet;
use std::net::SocketAddr;

use serde_json::Value;
use zab_core::proto::{op, Acl, CreateRequest, PathWatchRequest, Request};
use zab_tests::http;
use zab_tests::oracle::{four_letter_word, free_port, ApacheZooKeeper};
use zab_tests::server::ZabServer;
use zab_tests::wire::WireClient;

/// Commands whose key sets differ from Apache's by design: zab's keys must be a subset.
const SUBSET_COMMANDS: &[(&str, &str)] = &[
    ("environment", "Apache lists JVM properties (java.*); zab has no JVM"),
    ("system_properties", "Apache lists every JVM system property; zab lists its environment"),
];

/// Apache's per-namespace byte summaries (`<top-level znode>_read_per_namespace`, ...), made
/// on first use for each top-level znode: zab does not keep them yet (README, "Not done yet").
fn per_namespace(key: &str) -> bool {
    key.ends_with("_read_per_namespace") || key.ends_with("_write_per_namespace")
}

/// Values taken from the shared state, so they must be equal on both servers.
const EQUAL_VALUES: &[(&str, &str)] = &[
    ("monitor", "znode_count"),
    ("monitor", "ephemerals_count"),
    ("monitor", "watch_count"),
    ("monitor", "global_sessions"),
    ("monitor", "num_alive_connections"),
    ("monitor", "approximate_data_size"),
    ("monitor", "server_state"),
    ("server_stats", "node_count"),
    ("server_stats", "read_only"),
    ("watch_summary", "num_connections"),
    ("watch_summary", "num_paths"),
    ("watch_summary", "num_total_watches"),
    ("is_read_only", "read_only"),
    ("zabstate", "zabstate"),
    ("zabstate", "voting"),
    ("voting_view", "current_config"),
    ("observers", "synced_observers"),
    ("leader", "error"),
    ("get_trace_mask", "tracemask"),
    ("ruok", "error"),
];

/// The shared state: `/admin` ("hello"), and a session with an ephemeral `/admin/eph` that
/// watches it. The returned client keeps the session (and its connection) alive.
fn make_state(address: SocketAddr) -> WireClient {
    let mut client = WireClient::connect(address, 30_000).expect("session");
    let create = |path: &str, data: &[u8], flags: i32| {
        let acl = Acl::open_unsafe();
        Request::Create(CreateRequest { path: path.into(), data: data.to_vec(), acl, flags })
    };
    for (path, data, flags) in [("/admin", &b"hello"[..], 0), ("/admin/eph", &b"\x00\xff"[..], 1)] {
        let (reply, _) = client.call(op::CREATE, &create(path, data, flags)).expect("create");
        assert_eq!(reply.err, zab_core::ErrorCode::Ok, "create {path}");
    }
    let watch = Request::GetData(PathWatchRequest { path: "/admin/eph".into(), watch: true });
    client.call(op::GET_DATA, &watch).expect("getData with a watch");
    client
}

fn command(address: SocketAddr, name: &str) -> Value {
    let (status, body) = http::get(address, &format!("/commands/{name}")).expect("the AdminServer answers");
    assert_eq!(status, 200, "/commands/{name}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("/commands/{name} is not JSON ({e}): {body}"))
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn keys(value: &Value) -> BTreeSet<String> {
    value.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default()
}

/// The command names an AdminServer lists at `/commands`.
fn listed(address: SocketAddr) -> BTreeSet<String> {
    let (_, body) = http::get(address, "/commands").expect("the command list");
    body.split("href=\"/commands/").skip(1).filter_map(|rest| rest.split('"').next()).map(String::from).collect()
}

struct Pair {
    _apache: ApacheZooKeeper,
    _zab: ZabServer,
    apache_admin: SocketAddr,
    zab_admin: SocketAddr,
    apache_clients: SocketAddr,
    zab_clients: SocketAddr,
}

fn start_pair() -> Option<Pair> {
    let apache_port = free_port();
    let apache_lines = http::admin_server_lines(apache_port);
    let lines = apache_lines.each_ref().map(String::as_str);
    let apache = ApacheZooKeeper::start(&lines, &[])?;
    let zab_port = free_port();
    let zab_lines = http::admin_server_lines(zab_port);
    let lines = zab_lines.each_ref().map(String::as_str);
    let zab = ZabServer::start(&lines);
    let at = |port: u16| SocketAddr::from(([127, 0, 0, 1], port));
    Some(Pair {
        apache_admin: at(apache_port),
        zab_admin: at(zab_port),
        apache_clients: apache.address,
        zab_clients: zab.address,
        _apache: apache,
        _zab: zab,
    })
}

#[test]
fn admin_server_answers_every_apache_command_with_apaches_keys() {
    let Some(pair) = start_pair() else { return };
    let _apache_session = make_state(pair.apache_clients);
    let _zab_session = make_state(pair.zab_clients);
    let apache_commands = listed(pair.apache_admin);
    assert!(apache_commands.len() >= 26, "Apache lists {apache_commands:?}");
    assert_eq!(listed(pair.zab_admin), apache_commands, "the same commands at /commands");
    let mut report = Vec::new();
    let mut failures = Vec::new();
    for name in &apache_commands {
        let apache = command(pair.apache_admin, name);
        let zab = command(pair.zab_admin, name);
        let (apache_keys, zab_keys) = (keys(&apache), keys(&zab));
        let only_apache: Vec<_> = apache_keys.difference(&zab_keys).filter(|k| !per_namespace(k)).collect();
        let only_zab: Vec<_> = zab_keys.difference(&apache_keys).collect();
        report.push(format!(
            "{name:32} {:3} keys (Apache {:3}); only Apache: {only_apache:?}; only zab: {only_zab:?}",
            zab_keys.len(),
            apache_keys.len()
        ));
        for key in apache_keys.intersection(&zab_keys) {
            if json_type(&apache[key]) != json_type(&zab[key]) {
                failures.push(format!("{name}.{key}: Apache {}, zab {}", apache[key], zab[key]));
            }
        }
        let subset = SUBSET_COMMANDS.iter().any(|(c, _)| c == name);
        if !only_zab.is_empty() || (!only_apache.is_empty() && !subset) {
            failures.push(format!("{name}: only Apache {only_apache:?}, only zab {only_zab:?}"));
        }
    }
    compare_nested(&pair, &mut failures);
    for (name, key) in EQUAL_VALUES {
        let (apache, zab) = (command(pair.apache_admin, name), command(pair.zab_admin, name));
        if apache.get(key) != zab.get(key) {
            failures.push(format!("{name}.{key}: Apache {:?}, zab {:?}", apache.get(key), zab.get(key)));
        }
    }
    compare_sessions(&pair, &mut failures);
    eprintln!("AdminServer, key by key against Apache ZooKeeper 3.8:\n{}", report.join("\n"));
    assert!(failures.is_empty(), "differences not in docs/ADMIN.md:\n{}", failures.join("\n"));
}

/// The nested objects: `server_stats`' statistics and each connection's fields.
fn compare_nested(pair: &Pair, failures: &mut Vec<String>) {
    let (apache, zab) = (command(pair.apache_admin, "stats"), command(pair.zab_admin, "stats"));
    for (key, value) in apache["server_stats"].as_object().into_iter().flatten() {
        if json_type(value) != json_type(&zab["server_stats"][key]) {
            failures.push(format!("stats.server_stats.{key}: Apache {value}, zab {}", zab["server_stats"][key]));
        }
    }
    if keys(&apache["server_stats"]) != keys(&zab["server_stats"]) {
        failures.push(format!(
            "stats.server_stats: Apache {:?}, zab {:?}",
            keys(&apache["server_stats"]),
            keys(&zab["server_stats"])
        ));
    }
    let connection_keys = |answer: &Value| {
        let list = answer["connections"].as_array().cloned().unwrap_or_default();
        list.iter().find(|c| c.get("session_id").is_some()).map(keys).unwrap_or_default()
    };
    let (apache, zab) = (command(pair.apache_admin, "connections"), command(pair.zab_admin, "connections"));
    if connection_keys(&apache) != connection_keys(&zab) || connection_keys(&zab).is_empty() {
        failures.push(format!("connections[]: Apache {:?}, zab {:?}", connection_keys(&apache), connection_keys(&zab)));
    }
    // And the same JSON types (a session id is a number, a time a number of ms, ...).
    let session_connection = |answer: &Value| {
        let list = answer["connections"].as_array().cloned().unwrap_or_default();
        list.into_iter().find(|c| c.get("session_id").is_some()).unwrap_or_default()
    };
    let (apache_connection, zab_connection) = (session_connection(&apache), session_connection(&zab));
    for (key, value) in apache_connection.as_object().into_iter().flatten() {
        if json_type(value) != json_type(&zab_connection[key]) {
            failures.push(format!("connections[].{key}: Apache {value}, zab {}", zab_connection[key]));
        }
    }
    // `stats` lists them briefly: the same keys for every connection.
    let all_keys = |answer: &Value| -> BTreeSet<String> {
        answer["connections"].as_array().cloned().unwrap_or_default().iter().flat_map(keys).collect()
    };
    let (apache, zab) = (command(pair.apache_admin, "stats"), command(pair.zab_admin, "stats"));
    if all_keys(&apache) != all_keys(&zab) || all_keys(&zab).is_empty() {
        failures.push(format!("stats.connections[]: Apache {:?}, zab {:?}", all_keys(&apache), all_keys(&zab)));
    }
}

/// Session-keyed maps: the ids differ between servers, the paths must not.
fn compare_sessions(pair: &Pair, failures: &mut Vec<String>) {
    let paths = |answer: &Value, key: &str| -> Vec<Value> {
        answer[key].as_object().map(|o| o.values().cloned().collect()).unwrap_or_default()
    };
    for (name, key) in [("dump", "session_id_to_ephemeral_paths"), ("watches", "session_id_to_watched_paths")] {
        let (apache, zab) = (command(pair.apache_admin, name), command(pair.zab_admin, name));
        if paths(&apache, key) != paths(&zab, key) {
            failures.push(format!("{name}.{key}: Apache {apache}, zab {zab}"));
        }
    }
    let (apache, zab) = (command(pair.apache_admin, "watches_by_path"), command(pair.zab_admin, "watches_by_path"));
    if keys(&apache["path_to_session_ids"]) != keys(&zab["path_to_session_ids"]) {
        failures.push(format!("watches_by_path: Apache {apache}, zab {zab}"));
    }
}

#[test]
fn mntr_prints_apaches_full_key_set_in_its_order() {
    let Some(pair) = start_pair() else { return };
    let _apache_session = make_state(pair.apache_clients);
    let _zab_session = make_state(pair.zab_clients);
    let names = |address: SocketAddr| -> Vec<String> {
        let text = four_letter_word(address, "mntr").expect("mntr");
        let names = text.lines().filter_map(|line| line.split('\t').next()).map(String::from);
        names.filter(|name| !per_namespace(name)).collect()
    };
    let (apache, zab) = (names(pair.apache_clients), names(pair.zab_clients));
    assert!(apache.len() > 400, "Apache printed {} keys", apache.len());
    assert_eq!(zab, apache, "the same keys in the same order");
    // The JSON form holds the same keys.
    let monitor = keys(&command(pair.zab_admin, "monitor"));
    let expected: BTreeSet<String> = apache.iter().map(|k| k.trim_start_matches("zk_").to_string()).collect();
    assert_eq!(&monitor - &BTreeSet::from(["command".to_string(), "error".to_string()]), expected);
}

/// `/metrics` is served when `metricsProvider.className` names Apache's Prometheus provider:
/// Apache's names with the shared state's values, the summary sets as histograms, and zab's
/// request latency by operation. Without the class, nothing listens on the port.
#[test]
fn metrics_endpoint_exports_apaches_names_and_latency_by_operation() {
    let port = free_port();
    let lines = [
        "metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider".to_string(),
        "metricsProvider.httpHost=127.0.0.1".to_string(),
        format!("metricsProvider.httpPort={port}"),
    ];
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    let zab = ZabServer::start(&lines);
    let _session = make_state(zab.address);
    let metrics = SocketAddr::from(([127, 0, 0, 1], port));
    let (status, text) = http::get(metrics, "/metrics").expect("/metrics answers");
    assert_eq!(status, 200);
    for expected in [
        "# TYPE znode_count gauge\nznode_count 7",
        "\nephemerals_count 1",
        "\nwatch_count 1",
        "# TYPE max_file_descriptor_count gauge",
        "\nmin_latency ",
        "# TYPE readlatency histogram",
        "\nreadlatency_count 1\n",
        "\nupdatelatency_count 2\n",
        "# TYPE fsynctime histogram",
        "zab_request_latency_ms_count{op=\"CREA\"} 2\n",
        "zab_request_latency_ms_count{op=\"GETD\"} 1\n",
        "zab_request_latency_ms_bucket{le=\"+Inf\",op=\"CREA\"} 2\n",
    ] {
        assert!(text.contains(expected), "/metrics lacks {expected:?}:\n{text}");
    }
    dashboard_series_exist(&text);
    eprintln!(
        "a /metrics sample:\n{}",
        text.lines().filter(|l| !l.starts_with("# HELP")).take(40).collect::<Vec<_>>().join("\n")
    );
    drop(zab);
    let port = free_port();
    let line = format!("metricsProvider.httpPort={port}");
    let _zab = ZabServer::start(&[line.as_str()]);
    assert!(http::get(SocketAddr::from(([127, 0, 0, 1], port)), "/metrics").is_none(), "no provider, no endpoint");
}

/// An AdminServer port in use stops neither the server nor its clients: the warning names
/// the key to set.
#[test]
fn a_taken_admin_port_is_a_warning_and_clients_are_served() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("hold a port");
    let port = taken.local_addr().expect("held address").port();
    let lines = http::admin_server_lines(port);
    let lines = lines.each_ref().map(String::as_str);
    let zab = ZabServer::start(&lines);
    let mut client = WireClient::connect(zab.address, 30_000).expect("clients are served");
    let exists = Request::Exists(PathWatchRequest { path: "/".into(), watch: false });
    assert_eq!(client.call(op::EXISTS, &exists).expect("exists").0.err, zab_core::ErrorCode::Ok);
    let log = zab.log();
    assert!(log.contains("AdminServer not started") && log.contains("set admin.serverPort"), "{log}");
}

/// `--log-format json` writes one JSON object a line (level, target, message fields), the
/// default stays human text; a warning in either names what to do.
#[test]
fn json_logs_are_one_object_a_line() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().expect("temp dir");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("hold a port");
    let admin_port = taken.local_addr().expect("held address").port();
    let config = format!(
        "dataDir={}\nclientPort={}\nclientPortAddress=127.0.0.1\nadmin.serverAddress=127.0.0.1\nadmin.serverPort={admin_port}\n",
        dir.path().display(),
        free_port()
    );
    let path = dir.path().join("zoo.cfg");
    std::fs::write(&path, config).expect("zoo.cfg");
    let mut child = std::process::Command::new(zab_tests::server::zab_binary())
        .args(["--log-format", "json", "server", "--config"])
        .arg(&path)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run zab");
    let stderr = child.stderr.take().expect("stderr");
    // The AdminServer's warning comes right after start: read up to it (at most 50 lines).
    let mut lines = Vec::new();
    for line in BufReader::new(stderr).lines().map_while(Result::ok).take(50) {
        let warned = line.contains("AdminServer");
        lines.push(line);
        if warned {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let objects: Vec<Value> = lines
        .iter()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect();
    let warning = objects.last().expect("log lines");
    assert_eq!(warning["level"], "WARN", "{lines:?}");
    let message = warning["fields"]["message"].as_str().expect("a message");
    assert!(message.contains("set admin.serverPort"), "{message}");
    drop(taken);
}

/// Every series docs/grafana-zab.json queries is one /metrics exports (standalone), or one of
/// the leader's gauges.
fn dashboard_series_exist(metrics: &str) {
    const LEADER_ONLY: &[&str] = &["learners", "synced_followers", "synced_observers"];
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/grafana-zab.json");
    let dashboard: Value = serde_json::from_str(&std::fs::read_to_string(path).expect("the dashboard")).expect("JSON");
    let panels = dashboard["panels"].as_array().expect("panels");
    let exprs = panels.iter().flat_map(|p| p["targets"].as_array().cloned().unwrap_or_default());
    let mut names = BTreeSet::new();
    for target in exprs {
        let expr = target["expr"].as_str().expect("an expr").to_string();
        // A series name is an identifier right before `{` (label matchers follow it).
        for (index, _) in expr.match_indices('{') {
            let reversed: String =
                expr[..index].chars().rev().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            let name: String = reversed.chars().rev().collect();
            if !name.is_empty() {
                names.insert(name);
            }
        }
    }
    assert!(names.len() >= 10, "{names:?}");
    for name in names {
        let exported =
            metrics.lines().any(|line| line.starts_with(&format!("{name} ")) || line.starts_with(&format!("{name}{{")));
        assert!(exported || LEADER_ONLY.contains(&name.as_str()), "the dashboard queries {name}, which /metrics lacks");
    }
}
