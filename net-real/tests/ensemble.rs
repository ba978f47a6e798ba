//! Three real `zab server` processes on loopback forming an ensemble: one leader and two
//! followers are elected; writes through every member are read back from every member after
//! `sync`; SIGKILL of the leader under a writing client elects a new leader that serves
//! writes, loses no acknowledged write, and leaves every replica with the same data; the
//! killed server comes back as a follower and catches up.

mod support;
use std::collections::BTreeSet;
use std::fs;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};
use support::{free_ports, Client};

const DEADLINE: Duration = Duration::from_secs(30);
const SERVERS: usize = 3;
/// How long a test client waits for one reply.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The tests of this file run one at a time: each picks free ports, releases them, then starts
/// servers on them, and a test running alongside could be handed the same ports in between.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// One member: its directory, client port and process (killed on drop).
struct Member {
    id: usize,
    dir: PathBuf,
    client_port: u16,
    child: Option<Child>,
}

impl Member {
    fn config_path(&self) -> PathBuf {
        self.dir.join("zoo.cfg")
    }

    fn log(&self) -> String {
        fs::read_to_string(self.dir.join("stderr.log")).unwrap_or_default()
    }

    fn start(&mut self) {
        assert!(self.child.is_none(), "already running");
        let stderr = fs::OpenOptions::new().create(true).append(true).open(self.dir.join("stderr.log")).expect("log");
        let child = Command::new(env!("CARGO_BIN_EXE_zab"))
            .args(["server", "--config"])
            .arg(self.config_path())
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("start zab");
        self.child = Some(child);
    }

    /// SIGTERM, and waits for the exit; returns whether it was clean.
    fn terminate(&mut self) -> bool {
        let mut child = self.child.take().expect("running");
        // std can only SIGKILL a child; the workspace forbids the `unsafe` a libc call needs.
        let sent = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("run kill");
        assert!(sent.success());
        child.wait().expect("wait").success()
    }

    /// The `acceptedEpoch` and `currentEpoch` files.
    fn epochs(&self) -> (u64, u64) {
        let read = |name: &str| {
            let text = fs::read_to_string(self.dir.join("data/version-2").join(name)).expect(name);
            text.trim().parse::<u64>().expect("an epoch number")
        };
        (read("acceptedEpoch"), read("currentEpoch"))
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill(); // SIGKILL
            let _ = child.wait();
        }
    }

    /// A four-letter word's answer, or `None` when not reachable.
    fn four_letter(&self, word: &str) -> Option<String> {
        support::four_letter(self.client_port, word, Duration::from_secs(2)).ok()
    }

    /// `srvr`'s Mode, or `None` when not serving or not reachable.
    fn mode(&self) -> Option<String> {
        let text = self.four_letter("srvr")?;
        text.lines().find_map(|l| l.strip_prefix("Mode: ")).map(str::to_string)
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Three members sharing one temp dir.
struct Ensemble {
    _dir: tempfile::TempDir,
    members: Vec<Member>,
}

impl Ensemble {
    fn start() -> Ensemble {
        let dir = tempfile::tempdir().expect("temp dir");
        let ports = free_ports(3 * SERVERS);
        let lines: String = (0..SERVERS)
            .map(|i| {
                let (client, quorum, election) = (ports[i], ports[SERVERS + i], ports[2 * SERVERS + i]);
                format!("server.{}=127.0.0.1:{quorum}:{election};127.0.0.1:{client}\n", i + 1)
            })
            .collect();
        let mut members = Vec::new();
        for (i, client_port) in ports.iter().copied().enumerate().take(SERVERS) {
            let member_dir = dir.path().join(format!("s{}", i + 1));
            let data = member_dir.join("data");
            fs::create_dir_all(&data).expect("data dir");
            fs::write(data.join("myid"), format!("{}\n", i + 1)).expect("myid");
            let config = format!(
                "tickTime=200\ninitLimit=10\nsyncLimit=5\ndataDir={}\npreAllocSize=64\n4lw.commands.whitelist=*\nadmin.enableServer=false\n{lines}",
                data.display()
            );
            fs::write(member_dir.join("zoo.cfg"), config).expect("zoo.cfg");
            members.push(Member { id: i + 1, dir: member_dir, client_port, child: None });
        }
        for member in &mut members {
            member.start();
        }
        Ensemble { _dir: dir, members }
    }

    fn logs(&self) -> String {
        self.members.iter().map(|m| format!("--- server.{} ---\n{}", m.id, m.log())).collect()
    }

    /// Waits until the running members report one leader and the rest followers; returns
    /// the leader's index.
    fn wait_for_roles(&self) -> usize {
        let start = Instant::now();
        loop {
            let modes: Vec<(usize, Option<String>)> = self
                .members
                .iter()
                .enumerate()
                .filter(|(_, m)| m.child.is_some())
                .map(|(i, m)| (i, m.mode()))
                .collect();
            let leaders: Vec<usize> =
                modes.iter().filter(|(_, m)| m.as_deref() == Some("leader")).map(|(i, _)| *i).collect();
            let followers = modes.iter().filter(|(_, m)| m.as_deref() == Some("follower")).count();
            if leaders.len() == 1 && followers == modes.len() - 1 {
                return leaders[0];
            }
            assert!(start.elapsed() < DEADLINE, "no leader and followers: {modes:?}\n{}", self.logs());
            thread::sleep(Duration::from_millis(50));
        }
    }

    fn running_ports(&self) -> Vec<u16> {
        self.members.iter().filter(|m| m.child.is_some()).map(|m| m.client_port).collect()
    }

    /// Every running member's view after `sync`: the children of /data and their data.
    fn views(&self) -> Vec<Vec<(String, Vec<u8>)>> {
        self.running_ports()
            .into_iter()
            .map(|port| {
                let mut client = Client::connect(port, READ_TIMEOUT).expect("connect");
                client.sync("/data").expect("sync");
                let mut children = client.get_children("/data").expect("getChildren");
                children.sort();
                children
                    .into_iter()
                    .map(|child| {
                        let data = client.get_data(&format!("/data/{child}")).expect("getData");
                        (child, data)
                    })
                    .collect()
            })
            .collect()
    }
}

/// Creates sequential nodes until stopped, moving to another member when its server stops
/// serving; returns the acknowledged paths and when each acknowledgement arrived.
fn write_until_stopped(ports: Vec<u16>, stop: Arc<AtomicBool>) -> Vec<(String, Instant)> {
    let mut acknowledged = Vec::new();
    let mut next = 0;
    while !stop.load(Ordering::SeqCst) {
        let Ok(mut client) = Client::connect(ports[next % ports.len()], READ_TIMEOUT) else {
            next += 1;
            thread::sleep(Duration::from_millis(20));
            continue;
        };
        while !stop.load(Ordering::SeqCst) {
            match client.create("/data/w-", b"under-load", 2) {
                Ok(Ok(path)) => acknowledged.push((path.trim_start_matches("/data/").to_string(), Instant::now())),
                Ok(Err(err)) => panic!("create failed with {err:?}"),
                Err(_) => break, // the member stopped serving: try the next one
            }
        }
        next += 1;
    }
    acknowledged
}

#[test]
fn an_ensemble_elects_replicates_and_survives_the_loss_of_its_leader() {
    let _serial = serial();
    let started = Instant::now();
    let mut ensemble = Ensemble::start();
    let leader = ensemble.wait_for_roles();
    eprintln!("elected server.{} in {:?}", leader + 1, started.elapsed());

    // Writes through every member (followers forward them), read back from every member.
    let mut expected = BTreeSet::new();
    Client::connect(ensemble.members[0].client_port, READ_TIMEOUT)
        .expect("connect")
        .create("/data", b"", 0)
        .expect("io")
        .expect("/data");
    for member in &ensemble.members {
        let mut client = Client::connect(member.client_port, READ_TIMEOUT).expect("connect");
        for k in 0..5 {
            let name = format!("m{}-{k}", member.id);
            let data = format!("from server.{}", member.id).into_bytes();
            client.create(&format!("/data/{name}"), &data, 0).expect("io").expect("create");
            expected.insert((name, data));
        }
    }
    let expected: Vec<(String, Vec<u8>)> = expected.into_iter().collect();
    for view in ensemble.views() {
        assert_eq!(view, expected);
    }
    // mntr: the leader counts its two synced followers; followers count no learners.
    let mntr = ensemble.members[leader].four_letter("mntr").expect("mntr on the leader");
    for line in ["zk_server_state\tleader", "zk_quorum_size\t3", "zk_learners\t2", "zk_synced_followers\t2"] {
        assert!(mntr.lines().any(|l| l == line), "leader's mntr lacks {line:?}:\n{mntr}");
    }
    let follower = (leader + 1) % SERVERS;
    let mntr = ensemble.members[follower].four_letter("mntr").expect("mntr on a follower");
    assert!(mntr.contains("zk_server_state\tfollower\n") && !mntr.contains("zk_learners"), "{mntr}");

    // SIGKILL the leader under a client writing through the followers.
    let follower_ports: Vec<u16> =
        ensemble.members.iter().enumerate().filter(|(i, _)| *i != leader).map(|(_, m)| m.client_port).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = thread::spawn({
        let stop = stop.clone();
        move || write_until_stopped(follower_ports, stop)
    });
    thread::sleep(Duration::from_millis(500));
    let killed_at = Instant::now();
    ensemble.members[leader].kill();
    let new_leader = ensemble.wait_for_roles();
    let elected_after = killed_at.elapsed();
    assert_ne!(new_leader, leader);
    thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::SeqCst);
    let acknowledged = writer.join().expect("writer");
    let before = acknowledged.iter().filter(|(_, at)| *at < killed_at).count();
    let elected_at = killed_at + elected_after;
    let first_after = acknowledged.iter().find(|(_, at)| *at > elected_at).map(|(_, at)| *at - killed_at);
    let outage = acknowledged.windows(2).map(|w| w[1].1 - w[0].1).max();
    eprintln!(
        "leader server.{} killed: server.{} leads after {elected_after:?}; longest gap between acknowledged writes \
         {outage:?}; {before} writes before the kill, {} after",
        leader + 1,
        new_leader + 1,
        acknowledged.len() - before
    );
    assert!(first_after.is_some(), "no write acknowledged after the leader was killed\n{}", ensemble.logs());
    assert!(before > 0, "the writer wrote nothing before the kill");

    // No acknowledged write is lost, and the survivors agree.
    let views = ensemble.views();
    let names: BTreeSet<&String> = views[0].iter().map(|(name, _)| name).collect();
    for (path, _) in &acknowledged {
        assert!(names.contains(path), "acknowledged {path} lost");
    }
    assert_eq!(views[0], views[1], "the survivors differ");
    for entry in &expected {
        assert!(views[0].contains(entry), "{entry:?} lost");
    }

    // The killed leader comes back as a follower and catches up.
    let rejoin = Instant::now();
    ensemble.members[leader].start();
    ensemble.wait_for_roles();
    eprintln!("server.{} rejoined as a follower in {:?}", leader + 1, rejoin.elapsed());
    let all = ensemble.views();
    assert_eq!(all.len(), 3);
    assert!(all.iter().all(|view| *view == views[0]), "the rejoined server differs\n{}", ensemble.logs());
    // Two elections with a synced quorum each: every member agreed to and synced with epoch 2.
    for member in &ensemble.members {
        assert_eq!(member.epochs(), (2, 2), "server.{} epochs", member.id);
    }
}

#[test]
fn a_rolling_restart_under_load_loses_no_acknowledged_write() {
    let _serial = serial();
    let mut ensemble = Ensemble::start();
    ensemble.wait_for_roles();
    Client::connect(ensemble.members[0].client_port, READ_TIMEOUT)
        .expect("connect")
        .create("/data", b"", 0)
        .expect("io")
        .expect("/data");
    let stop = Arc::new(AtomicBool::new(false));
    let writer = thread::spawn({
        let (stop, ports) = (stop.clone(), ensemble.running_ports());
        move || write_until_stopped(ports, stop)
    });
    for i in 0..SERVERS {
        thread::sleep(Duration::from_millis(300));
        let restarted = Instant::now();
        assert!(ensemble.members[i].terminate(), "server.{} did not exit cleanly", i + 1);
        ensemble.members[i].start();
        let leader = ensemble.wait_for_roles();
        eprintln!(
            "server.{} restarted; roles settled after {:?}, leader server.{}",
            i + 1,
            restarted.elapsed(),
            leader + 1
        );
    }
    thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::SeqCst);
    let acknowledged = writer.join().expect("writer");
    eprintln!("{} writes acknowledged over the rolling restart", acknowledged.len());
    assert!(acknowledged.len() > 100, "the writer wrote too little to mean anything: {}", acknowledged.len());
    let views = ensemble.views();
    let names: BTreeSet<&String> = views[0].iter().map(|(name, _)| name).collect();
    for (path, _) in &acknowledged {
        assert!(names.contains(path), "acknowledged {path} lost\n{}", ensemble.logs());
    }
    assert!(views.iter().all(|view| *view == views[0]), "the replicas differ");
}
