//! Moving over from Apache ZooKeeper and back, on data directories the Apache oracle writes:
//! Apache 3.8 serves a varied tree (persistent, sequential, ephemeral, container and TTL
//! znodes, digest ACLs, setACL, multi, a failed multi, a closed session), taking snapshots
//! every few transactions so the import reads several snapshots and logs; it is killed, `zab
//! server` starts on its dataDir, imports it, and must serve every znode with the same data,
//! ACL and `stat` as Apache did. Then `zab export` writes Apache's format, Apache starts on
//! it and must serve the same again.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use zab_tests::oracle::ApacheZooKeeper;
use zab_tests::server::{zab_binary, ZabServer, SUPER_PASSWORD};
use zookeeper_client as zk;

/// The whole round trip must stay well under a minute.
const SCENARIO_TIMEOUT_MAX: Duration = Duration::from_secs(90);
/// The ephemeral owner's session timeout: long enough to outlive both restarts.
const SESSION_TIMEOUT: Duration = Duration::from_secs(60);

/// What a client sees of one znode.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    data: Vec<u8>,
    stat: zk::Stat,
    acl: Vec<zk::Acl>,
}

const OPEN: zk::CreateOptions<'static> = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime")
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    runtime().block_on(async { tokio::time::timeout(SCENARIO_TIMEOUT_MAX, future).await.expect("scenario timed out") })
}

async fn super_client(address: SocketAddr) -> zk::Client {
    let client = zk::Client::connect(&address.to_string()).await.expect("connect");
    client.auth("digest", format!("super:{SUPER_PASSWORD}").as_bytes()).await.expect("addauth super");
    client
}

/// Every znode under `/`, read by the super user.
async fn walk(address: SocketAddr) -> BTreeMap<String, Seen> {
    let client = super_client(address).await;
    let mut seen = BTreeMap::new();
    let mut queue = vec!["/".to_string()];
    while let Some(path) = queue.pop() {
        let (data, stat) = client.get_data(&path).await.unwrap_or_else(|e| panic!("get {path}: {e}"));
        let (acl, _) = client.get_acl(&path).await.unwrap_or_else(|e| panic!("getAcl {path}: {e}"));
        for child in client.list_children(&path).await.unwrap_or_else(|e| panic!("ls {path}: {e}")) {
            queue.push(if path == "/" { format!("/{child}") } else { format!("{path}/{child}") });
        }
        seen.insert(path, Seen { data, stat, acl });
    }
    seen
}

/// The varied workload, on Apache. Returns the session holding ephemerals: the caller keeps
/// it open while the server is killed.
async fn write_tree(address: SocketAddr) -> zk::Client {
    let client = zk::Client::connect(&address.to_string()).await.expect("connect");
    client.create("/app", b"v0", &OPEN).await.expect("create /app");
    for round in 1..=3 {
        client.set_data("/app", format!("v{round}").as_bytes(), None).await.expect("set /app");
    }
    let sequential = zk::CreateMode::PersistentSequential.with_acls(zk::Acls::anyone_all());
    for _ in 0..4 {
        client.create("/app/job-", b"", &sequential).await.expect("sequential");
    }
    client.delete("/app/job-0000000001", None).await.expect("delete one job");
    client.create("/app/binary", &[0, 1, 2, 255, 254], &OPEN).await.expect("binary data");
    client.create("/app/big", &vec![b'x'; 200_000], &OPEN).await.expect("200 kB of data");
    client.create("/app/open", b"", &OPEN).await.expect("create /app/open");
    let read_only = [zk::Acl::new(zk::Permission::READ, zk::AuthId::anyone())];
    client.set_acl("/app/open", &read_only, None).await.expect("setACL");
    client.auth("digest", b"alice:secret").await.expect("addauth alice");
    let creator_all = zk::CreateMode::Persistent.with_acls(zk::Acls::creator_all());
    client.create("/secure", b"secret", &creator_all).await.expect("creator_all");
    let mut writer = client.new_multi_writer();
    writer.add_create("/m", b"", &OPEN).expect("create");
    writer.add_create("/m/a", b"a", &OPEN).expect("create");
    writer.add_set_data("/m", b"top", Some(0)).expect("setData");
    writer.commit().await.expect("multi");
    let mut failing = client.new_multi_writer();
    failing.add_create("/m/never", b"", &OPEN).expect("create");
    failing.add_set_data("/m", b"stale", Some(0)).expect("setData");
    failing.commit().await.unwrap_err();
    let container = zk::CreateMode::Container.with_acls(zk::Acls::anyone_all());
    client.create("/box", b"", &container).await.expect("container");
    client.create("/box/item", b"", &OPEN).await.expect("container child");
    let ttl = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all()).with_ttl(Duration::from_secs(3600));
    client.create("/ttl", b"t", &ttl).await.expect("TTL node");
    let gone = zk::Client::connect(&address.to_string()).await.expect("connect");
    let ephemeral = zk::CreateMode::Ephemeral.with_acls(zk::Acls::anyone_all());
    gone.create("/gone", b"", &ephemeral).await.expect("ephemeral of a session that closes");
    drop(gone); // closeSession deletes /gone
    let connect_string = address.to_string();
    let owner = zk::Client::connector().with_session_timeout(SESSION_TIMEOUT).connect(&connect_string);
    let owner = owner.await.expect("connect the ephemeral owner");
    owner.create("/eph", b"mine", &ephemeral).await.expect("ephemeral");
    let ephemeral_sequential = zk::CreateMode::EphemeralSequential.with_acls(zk::Acls::anyone_all());
    owner.create("/app/lock-", b"", &ephemeral_sequential).await.expect("ephemeral sequential");
    client.sync("/").await.expect("sync");
    // Wait until /gone's closeSession is applied: the walk must see the final tree.
    while client.check_stat("/gone").await.expect("exists").is_some() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    owner
}

fn write_zab_config(dir: &Path, data_dir: &Path) -> std::path::PathBuf {
    let path = dir.join("export.cfg");
    std::fs::write(&path, format!("tickTime=2000\ndataDir={}\nclientPort=1\n", data_dir.display())).expect("cfg");
    path
}

fn apache_properties() -> Vec<String> {
    vec![
        "zookeeper.extendedTypesEnabled=true".to_string(),
        format!("zookeeper.DigestAuthenticationProvider.superDigest={}", zab_tests::server::super_digest()),
        // A snapshot every 10 to 20 transactions (SyncRequestProcessor rolls a random point
        // between snapCount/2 and snapCount): of the workload's ~30, some are in snapshots
        // (one taken while writes went on: fuzzy), the rest only in the log after them.
        "zookeeper.snapCount=20".to_string(),
    ]
}

#[test]
fn apache_data_dir_is_imported_and_served_with_identical_stats_and_exported_back() {
    let properties = apache_properties();
    let properties: Vec<&str> = properties.iter().map(String::as_str).collect();
    let Some(mut apache) = ApacheZooKeeper::start(&[], &properties) else { return };
    let (owner, expected) = block_on(async {
        let owner = write_tree(apache.address).await;
        (owner, walk(apache.address).await)
    });
    assert!(expected.contains_key("/eph") && expected.contains_key("/ttl") && !expected.contains_key("/gone"));
    assert!(expected.len() >= 18, "the walk saw the whole tree: {:?}", expected.keys());
    apache.kill();
    let data_dir = apache.data_dir();
    let apache_files = std::fs::read_dir(data_dir.join("version-2")).expect("version-2").count();
    assert!(apache_files >= 3, "Apache wrote several snapshots and logs ({apache_files} files)");

    let super_digest = format!("DigestAuthenticationProvider.superDigest={}", zab_tests::server::super_digest());
    let data_line = format!("dataDir={}", data_dir.display());
    let mut zab = ZabServer::start(&[&data_line, &super_digest, "extendedTypesEnabled=true"]);
    let log = zab.log();
    assert!(log.contains("imported Apache ZooKeeper data:"), "no summary line in the log:\n{log}");
    let served = block_on(walk(zab.address));
    assert_same(&expected, &served, "zab after the import");
    assert!(data_dir.join("apache-3.8/version-2").read_dir().expect("Apache's files kept").count() >= apache_files);
    zab.kill();
    check_inspection_tools(&data_dir.join("apache-3.8/version-2"), "apache-3.8");
    check_inspection_tools(&data_dir.join("version-2"), "zab");

    let export_dir = tempfile::tempdir().expect("temp dir");
    let exported = export_dir.path().join("apache-data");
    let config = write_zab_config(export_dir.path(), &data_dir);
    let status =
        Command::new(zab_binary()).args(["export", "--config"]).arg(&config).arg("--to").arg(&exported).status();
    assert!(status.expect("run zab export").success(), "zab export failed");
    let exported_line = format!("dataDir={}", exported.display());
    let apache_again = ApacheZooKeeper::start(&[&exported_line], &properties).expect("Apache starts again");
    let served_again = block_on(walk(apache_again.address));
    assert_same(&expected, &served_again, "Apache on zab's export");
    drop(owner);
}

/// `zab snapshot-print` and `zab txnlog-print`, text and `--json`, on every snapshot and log
/// in `dir` (of `format`): each file reads, and together they hold the ephemeral's create.
fn check_inspection_tools(dir: &Path, format: &str) {
    let (mut snapshot_nodes, mut log_text) = (Vec::new(), String::new());
    for entry in std::fs::read_dir(dir).expect("list version-2") {
        let path = entry.expect("entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        let tool = match name.split('.').next() {
            Some("snapshot") => "snapshot-print",
            Some("log") => "txnlog-print",
            _ => continue,
        };
        let run = |json: bool| {
            let mut command = Command::new(zab_binary());
            command.arg(tool).arg(&path);
            if json {
                command.arg("--json");
            }
            let output = command.output().expect("run the tool");
            assert!(output.status.success(), "{tool} {name}: {}", String::from_utf8_lossy(&output.stderr));
            String::from_utf8(output.stdout).expect("utf-8")
        };
        let text = run(false);
        assert!(text.starts_with(format), "{tool} {name} names its format {format}: {text}");
        let json = run(true);
        let document: serde_json::Value = serde_json::from_str(&json).expect("one JSON document");
        assert_eq!(document["format"], format, "{tool} {name} --json");
        if tool == "snapshot-print" {
            let nodes = document["nodes"].as_array().expect("nodes");
            snapshot_nodes.extend(nodes.iter().map(|n| n["path"].as_str().expect("path").to_string()));
        } else {
            log_text.push_str(&text);
        }
    }
    let created = log_text.contains("create /eph \"mine\"") || snapshot_nodes.iter().any(|p| p == "/eph");
    assert!(created, "{format}: /eph is in a snapshot or a log's create");
    assert!(snapshot_nodes.iter().any(|p| p == "/app"), "{format}: a snapshot holds /app");
}

/// Compares two walks znode by znode, naming every difference.
fn assert_same(expected: &BTreeMap<String, Seen>, served: &BTreeMap<String, Seen>, what: &str) {
    let mut differences = Vec::new();
    for (path, want) in expected {
        match served.get(path) {
            None => differences.push(format!("{path}: missing")),
            Some(got) if got != want => differences.push(format!("{path}:\n  Apache {want:?}\n  {what} {got:?}")),
            Some(_) => {}
        }
    }
    for path in served.keys().filter(|path| !expected.contains_key(*path)) {
        differences.push(format!("{path}: not in Apache's tree"));
    }
    assert!(differences.is_empty(), "{what} differs from what Apache served:\n{}", differences.join("\n"));
}
