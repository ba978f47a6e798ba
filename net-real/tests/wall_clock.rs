//! The real `zab` binary's wall clock steps an hour forward, then back (issue F item 6): its
//! session keeps working through many session timeouts, while ctime follows the wall clock.
//!
//! The step is real: the server runs under libfaketime (Debian package `libfaketime`) with
//! `FAKETIME_DONT_FAKE_MONOTONIC=1`, so `CLOCK_REALTIME` jumps when the test rewrites the
//! offset file and `CLOCK_MONOTONIC` does not, as when NTP or an operator steps a machine's
//! clock. The machine's own clock is never touched. A server whose timers read the wall clock
//! expires the session at the forward step (the connection closes and the next call fails):
//! checked by making `now_millis` read the wall clock.

mod support;
use std::fs;
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};
use support::Client;

use zab_core::proto::{op, PathWatchRequest, Request, Response};
use zab_core::ErrorCode;

const LIBFAKETIME: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";
const DEADLINE: Duration = Duration::from_secs(20);
const SESSION_TIMEOUT_MS: i32 = 6_000;
/// How long the test keeps its session alive after each step: two session timeouts.
const AFTER_STEP: Duration = Duration::from_secs(12);
const HOUR_MS: i64 = 3_600_000;

/// A `zab` process under libfaketime with its offset file; killed on drop.
struct FakedServer {
    dir: tempfile::TempDir,
    port: u16,
    child: Child,
}

impl FakedServer {
    fn start() -> FakedServer {
        assert!(std::path::Path::new(LIBFAKETIME).exists(), "this test needs libfaketime: apt-get install libfaketime");
        let dir = tempfile::tempdir().expect("temp dir");
        let port = support::free_ports(1)[0];
        let config = dir.path().join("zoo.cfg");
        // A container sweep every 100 ms wakes the node as often as an ensemble's ticks do:
        // a timer that fires between two requests is where wall-clock timers expire sessions.
        let text = format!(
            "tickTime=500\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\npreAllocSize=64\n\
             znode.container.checkIntervalMs=100\nadmin.enableServer=false\n",
            dir.path().join("data").display()
        );
        fs::write(&config, text).expect("write zoo.cfg");
        let offset = dir.path().join("faketime");
        fs::write(&offset, "+0").expect("write the offset");
        let stderr = fs::File::create(dir.path().join("stderr.log")).expect("stderr file");
        let child = Command::new(env!("CARGO_BIN_EXE_zab"))
            .args(["server", "--config"])
            .arg(&config)
            .env("RUST_LOG", "info")
            .env("LD_PRELOAD", LIBFAKETIME)
            .env("FAKETIME_TIMESTAMP_FILE", &offset)
            .env("FAKETIME_NO_CACHE", "1")
            .env("FAKETIME_DONT_FAKE_MONOTONIC", "1")
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("start zab");
        let server = FakedServer { dir, port, child };
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(start.elapsed() < DEADLINE, "zab did not start:\n{}", server.log());
            thread::sleep(Duration::from_millis(10));
        }
        server
    }

    /// Steps the server's wall clock to `offset_ms` from the real one.
    fn set_offset(&self, offset_ms: i64) {
        fs::write(self.offset_path(), format!("{:+}", offset_ms / 1000)).expect("write the offset");
    }

    fn offset_path(&self) -> PathBuf {
        self.dir.path().join("faketime")
    }

    fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("stderr.log")).unwrap_or_default()
    }
}

impl Drop for FakedServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The ctime of `path`, in ms since the epoch as the server's wall clock read it.
fn ctime(client: &mut Client, path: &str) -> i64 {
    let request = Request::Exists(PathWatchRequest { path: path.into(), watch: false });
    match client.call(op::EXISTS, &request).expect("exists") {
        (ErrorCode::Ok, Response::Stat(stat)) => stat.ctime,
        other => panic!("exists {path}: {other:?}"),
    }
}

/// Keeps the session alive for `how_long` as a client's pings do, one call per third of the
/// session timeout (the first a little after the step, so a server timer can run between);
/// every call must succeed on the same connection.
fn keep_busy(client: &mut Client, server: &FakedServer, how_long: Duration) {
    let start = Instant::now();
    while start.elapsed() < how_long {
        thread::sleep(Duration::from_millis(SESSION_TIMEOUT_MS as u64 / 4));
        if let Err(error) = client.sync("/") {
            panic!("the session died {:?} after the step: {error}\n{}", start.elapsed(), server.log());
        }
    }
}

#[test]
fn a_wall_clock_step_moves_ctime_and_expires_no_session() {
    let server = FakedServer::start();
    let mut client = Client::connect_with_timeout(server.port, SESSION_TIMEOUT_MS, DEADLINE).expect("connect");
    client.create("/before", b"", 0).expect("create").expect("created");
    let before = ctime(&mut client, "/before");
    server.set_offset(HOUR_MS);
    keep_busy(&mut client, &server, AFTER_STEP);
    client.create("/ahead", b"", 0).expect("create").expect("created: the session outlived the step forward");
    let ahead = ctime(&mut client, "/ahead") - before;
    server.set_offset(-HOUR_MS);
    keep_busy(&mut client, &server, AFTER_STEP);
    client.create("/behind", b"", 0).expect("create").expect("created: the session outlived the step back");
    let behind = ctime(&mut client, "/behind") - before;
    // ctime follows the wall clock: an hour ahead, then an hour behind, give or take the
    // test's own seconds (and a second of the offset file's resolution).
    assert!((HOUR_MS..HOUR_MS + 60_000).contains(&ahead), "ctime after +1 h moved {ahead} ms");
    assert!((-HOUR_MS..-HOUR_MS + 60_000).contains(&behind), "ctime after -1 h moved {behind} ms");
    assert!(!server.log().contains("session expired"), "a session expired:\n{}", server.log());
}
