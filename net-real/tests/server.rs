//! The real `zab` binary on loopback: a client creates and reads; four-letter words obey the
//! whitelist; SIGKILL never loses an acknowledged write; damaged log tails are repaired with a
//! warning and a damaged middle record stops the server; hostile clients do not disturb a good
//! one; bad configurations exit non-zero naming the key and line (ensemble mode: net-real/tests/ensemble.rs).

mod support;
use std::fs;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};
use support::{read_frame, Client};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use zab_core::proto::{
    decode_reply, encode_connect_request, encode_request, frame, op, Acl, ConnectRequest, CreateRequest,
    PathWatchRequest, Request, RequestHeader, Response,
};
use zab_core::ErrorCode;

const DEADLINE: Duration = Duration::from_secs(20);

/// A port nobody listens on right now.
fn free_port() -> u16 {
    support::free_ports(1)[0]
}

/// A data directory, a zoo.cfg and the server process; the process is killed on drop.
struct Server {
    dir: tempfile::TempDir,
    port: u16,
    child: Option<Child>,
}

impl Server {
    /// Writes a zoo.cfg with `extra` lines and starts the server.
    fn start(extra: &str) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut server = Server { dir, port: free_port(), child: None };
        server.write_config(extra);
        server.restart();
        server
    }

    fn write_config(&self, extra: &str) {
        let text = format!(
            "tickTime=2000\ndataDir={}\nclientPort={}\nclientPortAddress=127.0.0.1\npreAllocSize=64\nadmin.enableServer=false\n{extra}\n",
            self.data_dir().display(),
            self.port
        );
        fs::write(self.config_path(), text).expect("write zoo.cfg");
    }

    fn config_path(&self) -> PathBuf {
        self.dir.path().join("zoo.cfg")
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn stderr_path(&self) -> PathBuf {
        self.dir.path().join("stderr.log")
    }

    /// Everything the server printed on stderr so far (its log), over all runs.
    fn log(&self) -> String {
        fs::read_to_string(self.stderr_path()).unwrap_or_default()
    }

    fn spawn(&self) -> Child {
        let stderr = fs::OpenOptions::new().create(true).append(true).open(self.stderr_path()).expect("stderr file");
        Command::new(env!("CARGO_BIN_EXE_zab"))
            .args(["server", "--config"])
            .arg(self.config_path())
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("start zab")
    }

    /// Starts the server and waits until it accepts connections.
    fn restart(&mut self) {
        assert!(self.child.is_none(), "already running");
        self.child = Some(self.spawn());
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().expect("try_wait")) {
                panic!("zab exited with {status} while starting:\n{}", self.log());
            }
            assert!(start.elapsed() < DEADLINE, "zab did not start:\n{}", self.log());
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Starts the server and waits for it to exit by itself; returns (success, stderr).
    fn run_to_exit(&self) -> (bool, String) {
        let mut child = self.spawn();
        let start = Instant::now();
        loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                return (status.success(), self.log());
            }
            if start.elapsed() > DEADLINE {
                let _ = child.kill();
                let _ = child.wait();
                panic!("zab did not exit:\n{}", self.log());
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill(); // SIGKILL
            let _ = child.wait();
        }
    }

    /// SIGTERM; returns whether the server exited successfully.
    fn terminate(&mut self) -> bool {
        let mut child = self.child.take().expect("running");
        // std can only SIGKILL a child; the workspace forbids the `unsafe` a libc call needs.
        let sent = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("run kill");
        assert!(sent.success());
        child.wait().expect("wait").success()
    }

    fn is_running(&mut self) -> bool {
        self.child.as_mut().is_some_and(|c| c.try_wait().expect("try_wait").is_none())
    }

    fn client(&self) -> Client {
        Client::connect(self.port, DEADLINE).expect("handshake")
    }

    fn four_letter_word(&self, word: &str) -> String {
        support::four_letter(self.port, word, DEADLINE).expect("four-letter word")
    }

    /// The log segments, oldest first.
    fn segments(&self) -> Vec<PathBuf> {
        let dir = self.data_dir().join("version-2");
        let mut segments: Vec<PathBuf> = fs::read_dir(&dir)
            .expect("version-2")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("log.")))
            .collect();
        segments.sort();
        segments
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

impl Client {
    /// getData that hands ZooKeeper's error back instead of failing.
    fn read_data(&mut self, path: &str) -> io::Result<Result<Vec<u8>, ErrorCode>> {
        let request = Request::GetData(PathWatchRequest { path: path.into(), watch: false });
        Ok(match self.call(op::GET_DATA, &request)? {
            (ErrorCode::Ok, Response::GetData { data, .. }) => Ok(data),
            (ErrorCode::Ok, other) => panic!("getData answered {other:?}"),
            (err, _) => Err(err),
        })
    }
}

/// (offset, end) of each record in a log segment (layout: see net-real/src/storage/frame.rs).
fn record_spans(segment: &Path) -> Vec<(u64, u64)> {
    let bytes = fs::read(segment).expect("read segment");
    let mut spans = Vec::new();
    let mut at = 16usize;
    while at + 20 <= bytes.len() && bytes[at..at + 4] == *b"ZREC" {
        let len = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().expect("4 bytes")) as usize;
        spans.push((at as u64, (at + 20 + len) as u64));
        at += 20 + len;
    }
    spans
}

fn flip_byte(path: &Path, offset: u64) {
    let mut bytes = fs::read(path).expect("read");
    bytes[offset as usize] ^= 0x10;
    fs::write(path, bytes).expect("write");
}

#[test]
fn a_client_creates_and_reads() {
    let server = Server::start("");
    let mut client = server.client();
    assert_eq!(client.create("/hello", b"world", 0).expect("io"), Ok("/hello".to_string()));
    assert_eq!(client.read_data("/hello").expect("io"), Ok(b"world".to_vec()));
    assert_eq!(client.create("/hello", b"again", 0).expect("io"), Err(ErrorCode::NodeExists));
    assert_eq!(client.read_data("/missing").expect("io"), Err(ErrorCode::NoNode));
}

#[test]
fn four_letter_words_obey_the_whitelist() {
    let server = Server::start("4lw.commands.whitelist=ruok, srvr,mntr");
    assert_eq!(server.four_letter_word("ruok"), "imok");
    let srvr = server.four_letter_word("srvr");
    let version = format!("Zookeeper version: 3.9.3-zab-{}, built on ", env!("CARGO_PKG_VERSION"));
    assert!(srvr.starts_with(&version), "{srvr}");
    assert!(srvr.ends_with("Outstanding: 0\nZxid: 0x0\nMode: standalone\nNode count: 5\n"), "{srvr}");
    let mntr = server.four_letter_word("mntr");
    assert!(mntr.contains("\nzk_server_state\tstandalone\n") && mntr.contains("\nzk_znode_count\t5\n"), "{mntr}");
    assert_eq!(server.four_letter_word("stat"), "stat is not executed because it is not in the whitelist.\n");

    let default = Server::start("");
    assert_eq!(default.four_letter_word("ruok"), "ruok is not executed because it is not in the whitelist.\n");
    assert_eq!(default.four_letter_word("mntr"), "mntr is not executed because it is not in the whitelist.\n");
    assert!(default.four_letter_word("srvr").starts_with(&version));
}

#[test]
fn connections_over_max_client_cnxns_are_closed() {
    let server = Server::start("maxClientCnxns=2");
    let _first = server.client();
    let _second = server.client();
    assert!(Client::connect(server.port, DEADLINE).is_err(), "a third connection from one address is refused");
}

#[test]
fn a_connection_that_never_sends_its_handshake_is_closed_and_frees_its_slot() {
    let server = Server::start("maxClientCnxns=1");
    // The readiness probe's own connection may still hold the one slot for a moment: a
    // connection refused for that reason is closed at once, so try again.
    for _attempt in 0..20 {
        let mut idle = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
        idle.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
        let started = Instant::now();
        let read = idle.read(&mut [0u8; 1]);
        assert!(matches!(read, Ok(0)), "the server closes a silent connection, got {read:?}");
        if started.elapsed() < Duration::from_secs(1) {
            thread::sleep(Duration::from_millis(200));
            continue;
        }
        assert!(started.elapsed() >= Duration::from_secs(9), "not before the handshake timeout");
        assert!(Client::connect(server.port, DEADLINE).is_ok(), "the slot is free again");
        return;
    }
    panic!("every connection was refused at once");
}

/// Writes sequential nodes until the server dies; returns the acknowledged paths.
fn write_until_killed(port: u16, cycle: usize, stop: Arc<AtomicBool>) -> Vec<String> {
    let mut acknowledged = Vec::new();
    let Ok(mut client) = Client::connect(port, DEADLINE) else { return acknowledged };
    while !stop.load(Ordering::SeqCst) {
        match client.create(&format!("/seq/c{cycle}-"), b"v", 2) {
            Ok(Ok(path)) => acknowledged.push(path),
            Ok(Err(err)) => panic!("create failed with {err:?}"),
            Err(_) => break, // killed
        }
    }
    acknowledged
}

#[test]
fn sigkill_never_loses_an_acknowledged_write() {
    let mut server = Server::start("");
    assert!(server.client().create("/seq", b"", 0).expect("io").is_ok());
    let mut acknowledged: Vec<String> = Vec::new();
    let mut rng = ChaCha8Rng::seed_from_u64(20);
    for cycle in 0..20 {
        let stop = Arc::new(AtomicBool::new(false));
        let port = server.port;
        let writer = thread::spawn({
            let stop = stop.clone();
            move || write_until_killed(port, cycle, stop)
        });
        thread::sleep(Duration::from_millis(rng.gen_range(20..120)));
        server.kill();
        stop.store(true, Ordering::SeqCst);
        acknowledged.extend(writer.join().expect("writer"));
        server.restart();
        let mut client = server.client();
        for path in &acknowledged {
            assert_eq!(client.read_data(path).expect("io"), Ok(b"v".to_vec()), "cycle {cycle}: {path} lost");
        }
    }
    eprintln!("{} acknowledged writes over 20 SIGKILLs", acknowledged.len());
    assert!(acknowledged.len() >= 20, "the test wrote too little to mean anything: {}", acknowledged.len());
}

#[test]
fn sigterm_syncs_and_exits_zero() {
    let mut server = Server::start("");
    let mut client = server.client();
    for i in 0..10 {
        assert!(client.create(&format!("/t{i}"), b"", 0).expect("io").is_ok());
    }
    assert!(server.terminate(), "exit status 0 after SIGTERM:\n{}", server.log());
    server.restart();
    assert_eq!(server.client().read_data("/t9").expect("io"), Ok(vec![]));
}

/// A server with `/n0`..`/n9` written, then killed; returns it and the segment.
fn server_with_ten_nodes() -> (Server, PathBuf) {
    let mut server = Server::start("");
    let mut client = server.client();
    for i in 0..10 {
        assert!(client.create(&format!("/n{i}"), b"data", 0).expect("io").is_ok());
    }
    server.kill();
    let segments = server.segments();
    assert_eq!(segments.len(), 1, "{segments:?}");
    let segment = segments[0].clone();
    // One session-creation record, then the ten creates.
    assert_eq!(record_spans(&segment).len(), 11);
    (server, segment)
}

#[test]
fn a_truncated_log_tail_is_repaired_with_a_warning() {
    let (mut server, segment) = server_with_ten_nodes();
    let (last, end) = *record_spans(&segment).last().expect("records");
    let file = fs::OpenOptions::new().write(true).open(&segment).expect("open");
    file.set_len(end - 3).expect("truncate");
    server.restart();
    let log = server.log();
    assert!(log.contains(&format!("{}:{last}: ", segment.display())), "{log}");
    assert!(log.contains("truncated the log tail here"), "{log}");
    let mut client = server.client();
    assert_eq!(client.read_data("/n8").expect("io"), Ok(b"data".to_vec()));
    assert_eq!(client.read_data("/n9").expect("io"), Err(ErrorCode::NoNode));
}

#[test]
fn a_bit_flipped_log_tail_is_repaired_with_a_warning() {
    let (mut server, segment) = server_with_ten_nodes();
    let (last, end) = *record_spans(&segment).last().expect("records");
    flip_byte(&segment, end - 2);
    server.restart();
    let log = server.log();
    let expected = format!("{}:{last}: record checksum mismatch; truncated the log tail here", segment.display());
    assert!(log.contains(&expected), "{log}");
    assert_eq!(server.client().read_data("/n9").expect("io"), Err(ErrorCode::NoNode));
}

#[test]
fn a_corrupt_middle_record_stops_the_server() {
    let (server, segment) = server_with_ten_nodes();
    let (third, third_end) = record_spans(&segment)[3];
    flip_byte(&segment, third_end - 1);
    let (success, log) = server.run_to_exit();
    assert!(!success, "the server must not serve a log corrupt in the middle");
    let expected = format!("{}:{third}: record checksum mismatch, but valid data follows", segment.display());
    assert!(log.contains(&expected), "{log}");
    assert!(log.contains("the log is corrupt in the middle"), "{log}");
}

/// One hostile connection: random bytes, a cut frame, an oversized length, or a handshake
/// followed by garbage.
fn hostile(port: u16, rng: &mut ChaCha8Rng) {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else { return };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
    let bytes: Vec<u8> = match rng.gen_range(0..5) {
        0 => (0..rng.gen_range(1..200)).map(|_| rng.gen()).collect(),
        1 => vec![0, 0, 0, 44, 0, 0, 0],            // a handshake frame cut short
        2 => vec![0x7f, 0xff, 0xff, 0xff, 1, 2, 3], // far over jute.maxbuffer
        3 => vec![0, 0x10, 0, 0],                   // jute.maxbuffer + 1
        _ => {
            let request = ConnectRequest::new_session(30_000);
            let mut bytes = frame(encode_connect_request(&request));
            let garbage: Vec<u8> = (0..rng.gen_range(8..64)).map(|_| rng.gen()).collect();
            bytes.extend(frame(garbage));
            bytes.extend((0..rng.gen_range(0..16)).map(|_| rng.gen::<u8>()));
            bytes
        }
    };
    let _ = stream.write_all(&bytes);
    if rng.gen_bool(0.5) {
        let _ = stream.shutdown(Shutdown::Write);
    }
    let mut sink = Vec::new();
    let _ = stream.read_to_end(&mut sink);
}

#[test]
fn hostile_clients_do_not_disturb_a_good_client() {
    let mut server = Server::start("maxClientCnxns=0");
    let port = server.port;
    let done = Arc::new(AtomicBool::new(false));
    let attackers: Vec<_> = (0..8u64)
        .map(|seed| {
            let done = done.clone();
            thread::spawn(move || {
                let mut rng = ChaCha8Rng::seed_from_u64(seed);
                while !done.load(Ordering::SeqCst) {
                    hostile(port, &mut rng);
                }
            })
        })
        .collect();
    let good = Arc::new(Mutex::new(server.client()));
    for i in 0..100 {
        let mut client = good.lock().expect("client");
        let path = format!("/good{i}");
        assert_eq!(client.create(&path, b"ok", 0).expect("io"), Ok(path.clone()));
        assert_eq!(client.read_data(&path).expect("io"), Ok(b"ok".to_vec()));
    }
    done.store(true, Ordering::SeqCst);
    for attacker in attackers {
        attacker.join().expect("attacker");
    }
    assert!(server.is_running(), "the server died:\n{}", server.log());
    assert!(!server.log().contains("panicked"), "{}", server.log());
    assert_eq!(server.four_letter_word("srvr").lines().nth(8), Some("Node count: 105"));
}

#[test]
fn an_invalid_config_exits_non_zero_naming_the_key_and_line() {
    let server = Server { dir: tempfile::tempdir().expect("dir"), port: free_port(), child: None };
    fs::write(server.config_path(), "dataDir=/tmp/never-used\ntickTime=often\n").expect("write");
    let (success, log) = server.run_to_exit();
    assert!(!success);
    let expected = format!("{}:2: invalid value 'often' for tickTime", server.config_path().display());
    assert!(log.contains(&expected), "{log}");
}

#[test]
fn an_ensemble_config_whose_myid_has_no_server_line_is_refused() {
    let server = Server { dir: tempfile::tempdir().expect("dir"), port: free_port(), child: None };
    server.write_config("initLimit=5\nsyncLimit=2\nserver.1=127.0.0.1:2888:3888\nserver.2=127.0.0.1:2889:3889");
    fs::create_dir_all(server.data_dir()).expect("data dir");
    fs::write(server.data_dir().join("myid"), "3\n").expect("myid");
    let (success, log) = server.run_to_exit();
    assert!(!success);
    assert!(log.contains("myid is 3, but the server lines only define 1, 2"), "{log}");
}

#[test]
fn pipelined_requests_over_global_outstanding_limit_are_all_answered_in_order() {
    let server = Server::start("globalOutstandingLimit=1");
    let mut client = server.client();
    let count = 300;
    let mut bytes = Vec::new();
    for i in 0..count {
        let create = CreateRequest { path: format!("/p{i}"), data: vec![], acl: Acl::open_unsafe(), flags: 0 };
        bytes.extend(frame(encode_request(&RequestHeader { xid: i + 1, op: op::CREATE }, &Request::Create(create))));
    }
    // Everything at once: the server stops reading while it is over the limit, then resumes.
    client.stream.write_all(&bytes).expect("send");
    for i in 0..count {
        let payload = read_frame(&mut client.stream).expect("reply");
        let (reply, response) = decode_reply(op::CREATE, &payload).expect("decode");
        assert_eq!((reply.xid, reply.err, response), (i + 1, ErrorCode::Ok, Response::Create(format!("/p{i}"))));
    }
}
