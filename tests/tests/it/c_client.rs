//! ZooKeeper's C client, through its interactive shell `cli_mt` (Debian package
//! `zookeeper-bin`): create (plain, sequential, ephemeral), set, get, ls and the errors for a
//! missing node and a duplicate create, each command's printed answer checked.
//!
//! cli_mt answers asynchronously on stderr, so the driver sends one command at a time and
//! waits for the line that ends its answer. Times and zxids differ per run: the answers show
//! zxids relative to the first node's czxid (`Z+n`), and children sorted.

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::Duration;
use zab_tests::oracle::oracle_required;
use zab_tests::server::{Flavor, Target};

/// The Debian package's multi-threaded C client shell.
const CLI_MT: &str = "/usr/lib/zookeeper/bin/cli_mt";
/// How long one command's answer may take.
const ANSWER_TIMEOUT_MAX: Duration = Duration::from_secs(10);
/// A child listing is complete when cli_mt prints nothing for this long.
const LIST_QUIET: Duration = Duration::from_millis(500);

zab_tests::against_both!(run: create_get_list);

/// Starts a server of `flavor` and runs `scenario` against it; skips (or fails under
/// `ZAB_REQUIRE_ORACLE`) when cli_mt is not installed.
fn run(flavor: Flavor, scenario: fn(SocketAddr)) {
    if !Path::new(CLI_MT).exists() {
        assert!(!oracle_required(), "ZAB_REQUIRE_ORACLE is set but {CLI_MT} is missing");
        eprintln!("SKIPPED: {CLI_MT} (Debian package `zookeeper-bin`) is not installed");
        return;
    }
    let Some(server) = Target::start(flavor) else { return };
    scenario(server.address());
}

fn create_get_list(address: SocketAddr) {
    let mut cli = CliMt::start(address);
    let stat_done = |line: &str| line.starts_with("\tephemeralOwner = ") || line == "null";
    let listed = |line: &str| line.ends_with(": rc = 0") || line.contains(": rc = -");

    let answer = cli.command("create /cmt", created("/cmt"));
    assert_eq!(answer, ["Creating [/cmt] node (mode: 0)", "[/cmt]: rc = 0", "\tname = /cmt"]);
    let answer = cli.command("create +s /cmt/seq-", created("/cmt/seq-"));
    assert_eq!(answer, ["Creating [/cmt/seq-] node (mode: 2)", "[/cmt/seq-]: rc = 0", "\tname = /cmt/seq-0000000000"]);
    let answer = cli.command("create +e /cmt/eph", created("/cmt/eph"));
    assert_eq!(answer, ["Creating [/cmt/eph] node (mode: 1)", "[/cmt/eph]: rc = 0", "\tname = /cmt/eph"]);
    let answer = cli.command("create /cmt", created("/cmt"));
    assert_eq!(answer, ["Creating [/cmt] node (mode: 0)", "[/cmt]: rc = -110"], "ZNODEEXISTS");

    let answer = cli.command("set /cmt hello", stat_done);
    // Z+4, not Z+3: the failed create above still took a zxid (ZooKeeper logs an error txn).
    let stat = [
        "\tctime = <time>",
        "\tczxid=Z+0",
        "\tmtime=<time>",
        "\tmzxid=Z+4",
        "\tversion=1\taversion=0",
        "\tephemeralOwner = 0",
    ];
    assert_eq!(answer, [&["/cmt: rc = 0 Stat:"][..], &stat].concat());
    let answer = cli.command("get /cmt", stat_done);
    assert_eq!(answer, [&["/cmt: rc = 0", " value_len = 5", "hello", "Stat:"][..], &stat].concat());
    let answer = cli.command("ls /cmt", listed);
    assert_eq!(answer, ["/cmt: rc = 0", "\teph", "\tseq-0000000000"]);
    let answer = cli.command("ls /", listed);
    assert_eq!(answer, ["/: rc = 0", "\tcmt", "\tzookeeper"]);
    let answer = cli.command("get /nope", stat_done);
    assert_eq!(answer, ["/nope: rc = -101", "Stat:", "null"], "ZNONODE");
    let answer = cli.command("ls /nope", listed);
    assert_eq!(answer, ["/nope: rc = -101"], "ZNONODE");
    cli.quit();
}

/// Whether `line` ends cli_mt's answer to creating `path`: the created name, or an error.
fn created(path: &str) -> impl Fn(&str) -> bool + '_ {
    move |line| line.starts_with("\tname = ") || line.starts_with(&format!("[{path}]: rc = -"))
}

/// A running cli_mt whose stderr lines arrive on a channel.
struct CliMt {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
    base_zxid: Option<i64>,
}

impl CliMt {
    /// Starts cli_mt and waits until its session is connected.
    fn start(address: SocketAddr) -> CliMt {
        let mut child = Command::new(CLI_MT)
            .arg(address.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run cli_mt");
        let stdin = child.stdin.take().expect("stdin");
        let stderr = child.stderr.take().expect("stderr");
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { return };
                if sender.send(line).is_err() {
                    return;
                }
            }
        });
        let mut cli = CliMt { child, stdin, lines, base_zxid: None };
        cli.wait_for(|line| line.contains("state = CONNECTED_STATE"), "the session to connect");
        cli
    }

    /// Sends one command and returns its normalized answer, up to and including the line
    /// `done` accepts (minus noise).
    fn command(&mut self, command: &str, done: impl Fn(&str) -> bool) -> Vec<String> {
        writeln!(self.stdin, "{command}").expect("write a command");
        self.stdin.flush().expect("flush");
        let mut raw = self.wait_for(done, command);
        if command.starts_with("ls ") {
            // The children follow the status line with no end marker: wait for quiet.
            while let Ok(line) = self.lines.recv_timeout(LIST_QUIET) {
                raw.push(line);
            }
        }
        let mut answer: Vec<String> = raw.iter().filter_map(|line| self.normalize(line)).collect();
        if command.starts_with("ls ") && !answer.is_empty() {
            answer[1..].sort();
        }
        answer
    }

    /// Collects lines until one satisfies `done`; panics with what was seen on timeout.
    fn wait_for(&mut self, done: impl Fn(&str) -> bool, what: &str) -> Vec<String> {
        let mut seen = Vec::new();
        loop {
            match self.lines.recv_timeout(ANSWER_TIMEOUT_MAX) {
                Ok(line) => {
                    let finished = done(&line);
                    seen.push(line);
                    if finished {
                        return seen;
                    }
                }
                Err(error) => panic!("cli_mt: no complete answer for `{what}` ({error}); got {seen:#?}"),
            }
        }
    }

    /// Drops log, timing and watch-event lines; makes times and zxids comparable.
    fn normalize(&mut self, line: &str) -> Option<String> {
        let noise = ["time = ", "Watcher ", "Got a new session id"];
        if line.contains("ZOO_") || line.trim().is_empty() || noise.iter().any(|prefix| line.starts_with(prefix)) {
            return None;
        }
        if line.starts_with("\tctime = ") {
            return Some("\tctime = <time>".to_string());
        }
        if line.starts_with("\tmtime=") {
            return Some("\tmtime=<time>".to_string());
        }
        for name in ["czxid", "mzxid"] {
            if let Some(hex) = line.strip_prefix(&format!("\t{name}=")) {
                let zxid = i64::from_str_radix(hex, 16).unwrap_or_else(|_| panic!("{name} is not hex: {line:?}"));
                let base = *self.base_zxid.get_or_insert(zxid);
                return Some(format!("\t{name}=Z+{}", zxid - base));
            }
        }
        Some(line.to_string())
    }

    /// Sends `quit` and waits for cli_mt to exit.
    fn quit(mut self) {
        writeln!(self.stdin, "quit").expect("write quit");
        self.wait_for(|line| line.starts_with("Quitting"), "quit");
    }
}

impl Drop for CliMt {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
