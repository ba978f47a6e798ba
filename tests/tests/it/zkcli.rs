//! Apache's Java command line client, zkCli.sh, against a real server: one scripted session
//! (commands on stdin, one JVM) of create -e -s, ls, get -s, set, stat, delete, deleteall,
//! getAcl, setAcl and addauth, its whole output compared line by line.
//!
//! Times, zxids and session ids differ from run to run: the transcript shows zxids relative
//! to the first node's cZxid (`Z+n`) and ephemeral owners as `<session>`; `ls` lists are
//! sorted (ZooKeeper promises no child order).

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;
use zab_tests::oracle::oracle_required;
use zab_tests::server::{Flavor, Target};

/// The Debian package's zkCli.sh.
const ZKCLI: &str = "/usr/share/zookeeper/bin/zkCli.sh";
/// One zkCli session (a JVM start and the script) must finish within this.
const ZKCLI_TIMEOUT_MAX: Duration = Duration::from_secs(60);

zab_tests::against_both!(run: scripted_session);

/// Starts a server of `flavor` and runs `scenario` against it; skips (or fails under
/// `ZAB_REQUIRE_ORACLE`) when zkCli.sh is not installed.
fn run(flavor: Flavor, scenario: fn(SocketAddr)) {
    if !Path::new(ZKCLI).exists() {
        assert!(!oracle_required(), "ZAB_REQUIRE_ORACLE is set but {ZKCLI} is missing");
        eprintln!("SKIPPED: {ZKCLI} (Debian package `zookeeper`) is not installed");
        return;
    }
    let Some(server) = Target::start(flavor) else { return };
    scenario(server.address());
}

/// bob's digest: `printf bob:secret | openssl dgst -sha1 -binary | base64`.
const BOB_DIGEST: &str = "fyVmFCwVbTJYrznoSu1koqYEYF0=";

fn scripted_session(address: SocketAddr) {
    let script = format!(
        "create /app data1
create -e -s /app/worker- w
create /app/cfg
ls /app
get -s /app
set /app data22
stat /app
stat /app/worker-0000000000
get /missing
delete /missing
create /app
delete /app
set /app x -v 7
getAcl /app
setAcl /app digest:bob:{BOB_DIGEST}:cdrwa
get /app
getAcl /app
addauth digest bob:secret
get /app
getAcl /app
delete /app/cfg
deleteall /app
stat /app
ls /
quit
"
    );
    let transcript = normalize(&zkcli(address, &script));
    let expected = [
        "Created /app",
        "Created /app/worker-0000000000",
        "Created /app/cfg",
        "[cfg, worker-0000000000]",
        "data1",
        "cZxid = Z+0",
        "ctime = <time>",
        "mZxid = Z+0",
        "mtime = <time>",
        "pZxid = Z+2",
        "cversion = 2",
        "dataVersion = 0",
        "aclVersion = 0",
        "ephemeralOwner = 0x0",
        "dataLength = 5",
        "numChildren = 2",
        "cZxid = Z+0",
        "ctime = <time>",
        "mZxid = Z+3",
        "mtime = <time>",
        "pZxid = Z+2",
        "cversion = 2",
        "dataVersion = 1",
        "aclVersion = 0",
        "ephemeralOwner = 0x0",
        "dataLength = 6",
        "numChildren = 2",
        "cZxid = Z+1",
        "ctime = <time>",
        "mZxid = Z+1",
        "mtime = <time>",
        "pZxid = Z+1",
        "cversion = 0",
        "dataVersion = 0",
        "aclVersion = 0",
        "ephemeralOwner = <session>",
        "dataLength = 1",
        "numChildren = 0",
        "Node does not exist: /missing",
        "Node does not exist: /missing",
        "Node already exists: /app",
        "Node not empty: /app",
        "version No is not valid : /app",
        "'world,'anyone",
        ": cdrwa",
        "Insufficient permission : /app",
        "Insufficient permission : /app",
        "data22",
        &format!("'digest,'bob:{BOB_DIGEST}"),
        ": cdrwa",
        "Node does not exist: /app",
        "[zookeeper]",
    ];
    assert_eq!(transcript, expected, "zkCli transcript against {address}");
}

/// Runs one zkCli.sh session with `script` on stdin; returns stdout and stderr interleaved
/// as written (both go to one file).
fn zkcli(address: SocketAddr, script: &str) -> String {
    let dir = tempfile::tempdir().expect("temp dir");
    let output_path = dir.path().join("zkcli.out");
    let output = std::fs::File::create(&output_path).expect("output file");
    let mut child = Command::new(ZKCLI)
        .arg("-server")
        .arg(address.to_string())
        .stdin(Stdio::piped())
        .stdout(output.try_clone().expect("clone"))
        .stderr(output)
        .spawn()
        .expect("run zkCli.sh");
    child.stdin.take().expect("stdin").write_all(script.as_bytes()).expect("write the script");
    let deadline = std::time::Instant::now() + ZKCLI_TIMEOUT_MAX;
    loop {
        if let Some(status) = child.try_wait().expect("poll zkCli") {
            assert!(status.success(), "zkCli.sh exited with {status}");
            break;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            let partial = std::fs::read_to_string(&output_path).unwrap_or_default();
            panic!("zkCli.sh did not finish within {ZKCLI_TIMEOUT_MAX:?}; its output so far:\n{partial}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    std::fs::read_to_string(&output_path).expect("read zkCli output")
}

/// Drops the banner and connection-state noise, and makes run-dependent values comparable.
fn normalize(output: &str) -> Vec<String> {
    let mut base_zxid = None;
    let mut lines = Vec::new();
    for line in output.lines() {
        let noise = ["SLF4J", "Connecting to ", "Welcome to ZooKeeper!", "JLine support", "WATCHER::", "WatchedEvent "];
        if line.trim().is_empty() || noise.iter().any(|prefix| line.starts_with(prefix)) {
            continue;
        }
        lines.push(normalize_line(line, &mut base_zxid));
    }
    lines
}

fn normalize_line(line: &str, base_zxid: &mut Option<i64>) -> String {
    let Some((name, value)) = line.split_once(" = ") else {
        return sort_list(line);
    };
    match name {
        "ctime" | "mtime" => format!("{name} = <time>"),
        "cZxid" | "mZxid" | "pZxid" => {
            let zxid = i64::from_str_radix(value.trim_start_matches("0x"), 16)
                .unwrap_or_else(|_| panic!("{name} is not a hex zxid: {line:?}"));
            let base = *base_zxid.get_or_insert(zxid);
            format!("{name} = Z+{}", zxid - base)
        }
        "ephemeralOwner" if value != "0x0" => format!("{name} = <session>"),
        _ => line.to_string(),
    }
}

/// `[b, a]` becomes `[a, b]`; other lines are kept.
fn sort_list(line: &str) -> String {
    let Some(inner) = line.strip_prefix('[').and_then(|rest| rest.strip_suffix(']')) else {
        return line.to_string();
    };
    let mut items: Vec<&str> = inner.split(", ").collect();
    items.sort_unstable();
    format!("[{}]", items.join(", "))
}
