//! `zab cli` against zkCli.sh: the same script through both tools, each on a fresh server,
//! against Apache ZooKeeper 3.8 and against zab, compared line by line.
//!
//! Both tools' stdout and stderr go to one file, as a person at a terminal sees them. Times
//! become `<time>` and session ids `<session>`; zxids are kept (each run starts from a fresh
//! server with one session, so they match). Watch events arrive asynchronously, so their
//! lines are compared as a sorted list apart from the rest. The allowed differences are
//! [`ALLOWED`], each with its reason. `docs/CLI.md` shows the two transcripts.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use zab_tests::oracle::oracle_required;
use zab_tests::server::{zab_binary, Flavor, Target};

/// The Debian package's zkCli.sh.
const ZKCLI: &str = "/usr/share/zookeeper/bin/zkCli.sh";
/// One session of either tool must finish within this (zkCli starts a JVM).
const SESSION_TIMEOUT_MAX: Duration = Duration::from_secs(90);

/// bob's digest: `printf bob:secret | openssl dgst -sha1 -binary | base64`.
const BOB_DIGEST: &str = "fyVmFCwVbTJYrznoSu1koqYEYF0=";

/// Lines only zkCli prints, by design, with the reason. (zkCli's usage listing after an
/// unknown command is dropped from both before comparing: it lists quota and reconfig
/// commands zab cli lacks.)
const ONLY_ZKCLI: [(&str, &str); 1] = [(
    "null",
    "`get` of a node created without data (`create /t/nodata`): against Apache the Java client \
     shows the null buffer as `null`; zab cli's crate cannot tell null from empty and prints an \
     empty line (a zab server stores such data as empty, so zkCli prints an empty line there too)",
)];

pub fn script() -> String {
    format!(
        "create /t data1
create /t again
create -s /t/seq- s
create -s /t/seq- s
create -e /t/eph e
create /t/nodata
create -c /box
create -t 60000 /ttl t
ls /t
ls -s /t
ls -R /t
get /t
get -s /t
get -w /t
set /t data2
set -s /t data3
set -v 99 /t x
stat /t
stat -w /t/eph
get /t/nodata
getAcl /t
setAcl /t world:anyone:cdrwa
getAcl -s /t
setAcl /t/seq-0000000000 digest:bob:{BOB_DIGEST}:cdrwa
get /t/seq-0000000000
addauth digest bob:secret
get /t/seq-0000000000
getAllChildrenNumber /t
getEphemerals /t
sync /t
addWatch -m PERSISTENT /t
create /t/child c
removewatches /t
get /missing
delete /missing
delete /t
delete -v 5 /t/child
deleteall /t
ls /t
ls /
printwatches off
printwatches
redo 0
nosuchcommand
quit
"
    )
}

/// Runs `command` with `script` on stdin, stdout and stderr into one file; returns it.
fn transcript(mut command: Command, script: &str) -> String {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("out");
    let output = std::fs::File::create(&path).expect("output file");
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(output.try_clone().expect("clone"))
        .stderr(output)
        .spawn()
        .expect("start the tool");
    child.stdin.take().expect("stdin").write_all(script.as_bytes()).expect("write the script");
    let deadline = Instant::now() + SESSION_TIMEOUT_MAX;
    while child.try_wait().expect("poll").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("no exit within {SESSION_TIMEOUT_MAX:?}:\n{}", std::fs::read_to_string(&path).unwrap_or_default());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    std::fs::read_to_string(&path).expect("read the transcript")
}

fn zkcli(server: &str) -> Command {
    let mut command = Command::new(ZKCLI);
    command.arg("-server").arg(server);
    command
}

fn zab_cli(server: &str) -> Command {
    let mut command = Command::new(zab_binary());
    command.arg("cli").arg("-server").arg(server);
    command
}

/// The ordered lines and the sorted watch events of a transcript.
pub fn normalize(output: &str) -> (Vec<String>, Vec<String>) {
    let noise = ["SLF4J", "Connecting to ", "Welcome to ZooKeeper!", "JLine support", "WATCHER::", "\t"];
    let usage = "ZooKeeper -server host:port";
    let (mut lines, mut events) = (Vec::new(), Vec::new());
    for line in output.lines() {
        if noise.iter().any(|prefix| line.starts_with(prefix)) || line.starts_with(usage) || line.trim().is_empty() {
            continue;
        }
        if line.starts_with("WatchedEvent ") {
            events.push(line.to_string());
            continue;
        }
        let line = match line.split_once(" = ") {
            Some(("ctime" | "mtime", _)) => format!("{} = <time>", &line[..5]),
            Some(("ephemeralOwner", value)) if value != "0x0" => "ephemeralOwner = <session>".to_string(),
            _ => line.to_string(),
        };
        lines.push(line);
    }
    events.sort();
    (lines, events)
}

/// zkCli's lines without those [`ONLY_ZKCLI`] lists.
fn allow(zkcli: Vec<String>) -> Vec<String> {
    zkcli.into_iter().filter(|line| !ONLY_ZKCLI.iter().any(|(only, _)| only == line)).collect()
}

fn compare(flavor: Flavor) {
    if !Path::new(ZKCLI).exists() {
        assert!(!oracle_required(), "ZAB_REQUIRE_ORACLE is set but {ZKCLI} is missing");
        eprintln!("SKIPPED: {ZKCLI} (Debian package `zookeeper`) is not installed");
        return;
    }
    let script = script();
    let Some(first) = Target::start(flavor) else { return };
    let theirs = transcript(zkcli(&first.address().to_string()), &script);
    drop(first);
    let Some(second) = Target::start(flavor) else { return };
    let ours = transcript(zab_cli(&second.address().to_string()), &script);
    drop(second);
    let (their_lines, their_events) = normalize(&theirs);
    let (our_lines, our_events) = normalize(&ours);
    let their_lines = allow(their_lines);
    assert_eq!(our_lines, their_lines, "zab cli vs zkCli.sh against {flavor:?}\nzab cli:\n{ours}\nzkCli:\n{theirs}");
    assert_eq!(our_events, their_events, "watch events against {flavor:?}");
    assert!(their_lines.len() > 60, "the script ran through: {their_lines:?}");
}

#[test]
fn zab_cli_matches_zkcli_against_apache() {
    compare(Flavor::Apache);
}

#[test]
fn zab_cli_matches_zkcli_against_zab() {
    compare(Flavor::Zab);
}

/// One command on the command line: the same output and exit status from both tools
/// (0 done, 1 failed, 127 unknown command), against zab.
#[test]
fn one_shot_commands_exit_like_zkcli() {
    if !Path::new(ZKCLI).exists() {
        assert!(!oracle_required(), "ZAB_REQUIRE_ORACLE is set but {ZKCLI} is missing");
        return;
    }
    let Some(server) = Target::start(Flavor::Zab) else { return };
    let address = server.address().to_string();
    // /x is deleted between the two tools' `create /x y`, so both start from the same tree.
    let commands = [&["ls", "/"][..], &["get", "/missing"], &["create", "/x", "y"], &["get", "/x"], &["nosuchcommand"]];
    for command in commands {
        let run = |mut tool: Command| {
            let output = tool.args(command).stdin(Stdio::null()).output().expect("run the tool");
            let text = String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr);
            (output.status.code(), normalize(&text).0)
        };
        let theirs = run(zkcli(&address));
        if command[0] == "create" {
            let removed = zab_cli(&address).args(["delete", "/x"]).output().expect("delete /x");
            assert!(removed.status.success(), "delete /x between the two creates");
        }
        let ours = run(zab_cli(&address));
        assert_eq!(ours, theirs, "`{}`: zab cli vs zkCli.sh", command.join(" "));
    }
    // --json: one document, the data as text.
    let output = zab_cli(&address).args(["--json", "get", "/x"]).output().expect("zab cli --json");
    let last = String::from_utf8_lossy(&output.stdout).lines().last().unwrap_or_default().to_string();
    let document: serde_json::Value = serde_json::from_str(&last).expect("a JSON line");
    assert_eq!(
        (&document["ok"], &document["result"]["data"]["text"]),
        (&serde_json::json!(true), &serde_json::json!("y"))
    );
    // Malformed: the same status (zab cli's message says more than zkCli's usage line).
    for command in [&["set", "/x"][..], &["ls", "-x", "/"]] {
        let status = |mut tool: Command| tool.args(command).stdin(Stdio::null()).output().expect("run").status.code();
        assert_eq!(status(zab_cli(&address)), status(zkcli(&address)), "`{}`", command.join(" "));
    }
}
