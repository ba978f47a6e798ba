//! Mixed ensembles: `zab server` processes and Apache ZooKeeper 3.8 servers
//! (`QuorumPeerMain`) on loopback in one three-server ensemble. Each scenario elects a
//! leader, writes through every member with a raw client, reads everything back from every
//! member after `sync`, kills the leader once so that leadership moves to the other
//! implementation, and checks that every member ends with the same data. Others check SNAP
//! and TRUNC between the implementations in both directions, and an observer of one
//! implementation among participants of the other.
//!
//! Without Java or `/usr/share/java/zookeeper.jar` the tests print SKIPPED, unless
//! `ZAB_REQUIRE_ORACLE` is set (then they fail).

mod support;
use std::collections::BTreeSet;
use std::io;
use std::thread;
use std::time::{Duration, Instant};
use support::mixed::{Ensemble, Kind, DEADLINE, SERVERS};
use support::Client;

/// How long a test client waits for one reply.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The children of /data, sorted, with their data.
type View = Vec<(String, Vec<u8>)>;

/// The tests of this file run one at a time: each picks free ports, releases them, then starts
/// servers on them, and a test running alongside could be handed the same ports in between.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Ensemble {
    /// Every running member's view after `sync`: the children of /data and their data.
    fn views(&self) -> Vec<(usize, View)> {
        self.members
            .iter()
            .filter(|m| m.child.is_some())
            .map(|member| {
                let view = read_view(member.client_port)
                    .unwrap_or_else(|error| panic!("server.{}: {error}\n{}", member.id, self.logs()));
                (member.id, view)
            })
            .collect()
    }

    /// Creates `/data`, the parent of every test node, through member `index`.
    fn create_data_root(&self, index: usize) {
        Client::connect(self.members[index].client_port, READ_TIMEOUT)
            .expect("connect")
            .create("/data", b"", 0)
            .expect("io")
            .expect("/data");
    }

    /// Creates five nodes through every running member; returns what they hold.
    fn write_through_all(&self, round: &str, expected: &mut BTreeSet<(String, Vec<u8>)>) {
        for member in self.members.iter().filter(|m| m.child.is_some()) {
            let mut client = Client::connect(member.client_port, READ_TIMEOUT)
                .unwrap_or_else(|error| panic!("connect to server.{}: {error}\n{}", member.id, self.logs()));
            for k in 0..5 {
                let name = format!("{round}-m{}-{k}", member.id);
                let data = format!("{round} through server.{} ({:?})", member.id, member.kind).into_bytes();
                let created = client.create(&format!("/data/{name}"), &data, 0);
                match created {
                    Ok(Ok(_)) => {}
                    other => panic!("create {name} through server.{}: {other:?}\n{}", member.id, self.logs()),
                }
                expected.insert((name, data));
            }
        }
    }

    /// Asserts that every running member holds exactly `expected` under /data.
    fn assert_all_hold(&self, expected: &BTreeSet<(String, Vec<u8>)>) {
        let expected: View = expected.iter().cloned().collect();
        for (id, view) in self.views() {
            assert_eq!(view, expected, "server.{id} differs\n{}", self.logs());
        }
    }
}

/// The children of /data and their data, after `sync`.
fn read_view(port: u16) -> io::Result<View> {
    let mut client = Client::connect(port, READ_TIMEOUT)?;
    client.sync("/data")?;
    let mut children = client.get_children("/data")?;
    children.sort();
    children.into_iter().map(|child| Ok((child.clone(), client.get_data(&format!("/data/{child}"))?))).collect()
}

/// Kills the leader once and waits for the survivors to elect another one, which must run
/// the other implementation (with equal zxids the highest id wins, so the mixes below put
/// both kinds among the two highest ids); returns the killed and the new leader's indexes.
fn kill_the_leader(ensemble: &mut Ensemble, leader: usize) -> usize {
    let kind = ensemble.members[leader].kind;
    ensemble.members[leader].kill();
    eprintln!("killed the leader server.{} ({kind:?})", leader + 1);
    let new_leader = ensemble.wait_for_roles();
    let new_kind = ensemble.members[new_leader].kind;
    assert_ne!(new_kind, kind, "leadership stayed with {kind:?}: server.{}\n{}", new_leader + 1, ensemble.logs());
    new_leader
}

/// The whole scenario for one mix of kinds, Apache members started with these `-D`
/// properties; returns every member's log, or `None` when skipped.
fn run_mixed(kinds: [Kind; SERVERS], apache_properties: &[&str]) -> Option<String> {
    let mut ensemble = Ensemble::start(kinds, apache_properties)?;
    let started = Instant::now();
    let leader = ensemble.wait_for_roles();
    eprintln!("elected server.{} ({:?}) in {:?}", leader + 1, kinds[leader], started.elapsed());

    ensemble.create_data_root(0);
    let mut expected = BTreeSet::new();
    ensemble.write_through_all("before", &mut expected);
    ensemble.assert_all_hold(&expected);

    let new_leader = kill_the_leader(&mut ensemble, leader);
    eprintln!("server.{} ({:?}) leads after the kill", new_leader + 1, kinds[new_leader]);
    ensemble.write_through_all("after", &mut expected);
    ensemble.assert_all_hold(&expected);

    // The killed server rejoins as a follower and catches up.
    ensemble.members[leader].start();
    ensemble.wait_for_roles();
    ensemble.assert_all_hold(&expected);
    assert_eq!(ensemble.views().len(), SERVERS);
    let logs = ensemble.logs();
    if std::env::var_os("ZAB_INTEROP_LOGS").is_some() {
        eprintln!("{logs}");
    }
    Some(logs)
}

// In both mixes the two highest ids run different implementations, so whichever member
// leads first (zab starts faster than a JVM), the survivors of its death elect the other
// implementation: with equal zxids the higher id wins, and a lone id 1 never leads two.

#[test]
fn two_apache_servers_and_one_zab_server_form_an_ensemble() {
    let _serial = serial();
    run_mixed([Kind::Apache, Kind::Apache, Kind::Zab], &[]);
}

#[test]
fn one_apache_server_and_two_zab_servers_form_an_ensemble() {
    let _serial = serial();
    run_mixed([Kind::Zab, Kind::Zab, Kind::Apache], &[]);
}

#[test]
fn zab_servers_synchronize_from_an_apache_leader_by_snapshot() {
    let _serial = serial();
    let Some(logs) = run_mixed([Kind::Zab, Kind::Zab, Kind::Apache], &["zookeeper.forceSnapshotSync=true"]) else {
        return;
    };
    // Once to server.1 when server.3 takes over, once to server.2 when it rejoins.
    let snaps = logs.lines().filter(|l| l.contains("LearnerHandler - Sending snapshot last zxid of peer")).count();
    assert_eq!(snaps, 2, "SNAPs sent by the Apache leader\n{logs}");
}

#[test]
fn an_apache_follower_synchronizes_from_a_zab_leader_by_snapshot() {
    let _serial = serial();
    // zab starts faster than a JVM, and ids 2 and 3 outrank 1: a zab server leads.
    let Some(mut ensemble) = Ensemble::start([Kind::Apache, Kind::Zab, Kind::Zab], &[]) else { return };
    let leader = ensemble.wait_for_roles();
    assert_eq!(ensemble.members[leader].kind, Kind::Zab, "{}", ensemble.logs());
    let mut client = Client::connect(ensemble.members[leader].client_port, READ_TIMEOUT).expect("connect");
    client.create("/data", b"", 0).expect("io").expect("/data");
    let mut expected = BTreeSet::new();
    ensemble.write_through_all("before", &mut expected);
    ensemble.members[0].kill();
    // More than the leader keeps in memory (ZooKeeper's commitLogCount): only a SNAP can
    // bring the Apache server back.
    let behind = zab_core::constants::ZAB_COMMIT_LOG_COUNT_DEFAULT + 20;
    for k in 0..behind {
        let name = format!("missed-{k:04}");
        client.create(&format!("/data/{name}"), b"missed", 0).expect("io").expect("create");
        expected.insert((name, b"missed".to_vec()));
    }
    ensemble.members[0].start();
    assert_eq!(ensemble.wait_for_roles(), leader);
    ensemble.write_through_all("after", &mut expected);
    ensemble.assert_all_hold(&expected);
    let apache_log = ensemble.members[0].log();
    let snaps = apache_log.lines().filter(|l| l.contains("Learner - Getting a snapshot from leader")).count();
    assert_eq!(snaps, 1, "SNAPs the Apache server took\n{}", ensemble.logs());
}

#[test]
fn a_zab_leader_expires_a_session_held_through_an_apache_follower() {
    let _serial = serial();
    // zab starts faster than a JVM, and ids 2 and 3 outrank 1: a zab server leads.
    let Some(ensemble) = Ensemble::start([Kind::Apache, Kind::Zab, Kind::Zab], &[]) else { return };
    let leader = ensemble.wait_for_roles();
    assert_eq!(ensemble.members[leader].kind, Kind::Zab, "{}", ensemble.logs());
    ensemble.create_data_root(leader);
    let mut holder =
        Client::connect_with_timeout(ensemble.members[0].client_port, 1_000, READ_TIMEOUT).expect("connect");
    holder.create("/data/eph", b"held", 1).expect("io").expect("ephemeral through Apache");
    let held = BTreeSet::from([("eph".to_string(), b"held".to_vec())]);
    ensemble.assert_all_hold(&held);
    drop(holder); // no closeSession: the leader must expire it
    let start = Instant::now();
    while ensemble.views().iter().any(|(_, view)| !view.is_empty()) {
        assert!(start.elapsed() < Duration::from_secs(15), "the ephemeral outlived its session\n{}", ensemble.logs());
        thread::sleep(Duration::from_millis(200));
    }
    ensemble.assert_all_hold(&BTreeSet::new());
}

/// Apache's leader logs the TRUNC it sends at debug level only.
const APACHE_TRUNC_LOGGING: &str = "org.slf4j.simpleLogger.log.org.apache.zookeeper.server.quorum.LearnerHandler=debug";

/// Starts server.3 and server.1 first, so that server.3 leads (equal zxids: the highest id
/// wins), then server.2 as its follower; returns the ensemble, or `None` when skipped.
fn start_with_server_3_leading(kinds: [Kind; SERVERS]) -> Option<Ensemble> {
    let mut ensemble = Ensemble::configure(&kinds, None, &[APACHE_TRUNC_LOGGING])?;
    ensemble.members[2].start();
    ensemble.members[0].start();
    assert_eq!(ensemble.wait_for_roles(), 2, "server.3 leads server.1\n{}", ensemble.logs());
    ensemble.members[1].start();
    assert_eq!(ensemble.wait_for_roles(), 2, "server.3 still leads\n{}", ensemble.logs());
    Some(ensemble)
}

/// The leader (server.3) logs a create that no follower ever sees, and dies: its followers are
/// stopped (SIGSTOP) while it proposes, then killed with it, so that the proposal waiting in
/// their sockets' buffers is never read. The followers restart and elect server.2. Returns
/// the last committed zxid, which the old leader must truncate its log back to.
fn strand_a_proposal_on_the_leader(ensemble: &mut Ensemble, expected: &BTreeSet<(String, Vec<u8>)>) -> u64 {
    let leader = &ensemble.members[2];
    // Opening the session is a transaction too: open it before reading the committed zxid.
    let mut doomed = Client::connect(leader.client_port, READ_TIMEOUT).expect("connect to the leader");
    ensemble.assert_all_hold(expected);
    let committed = leader.zxid();
    ensemble.members[0].signal("STOP");
    ensemble.members[1].signal("STOP");
    doomed.stream.set_read_timeout(Some(Duration::from_secs(1))).expect("timeout");
    match doomed.create("/data/uncommitted", b"never acked", 0) {
        Err(error) => assert!(
            matches!(error.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut),
            "the create without a quorum: {error}"
        ),
        Ok(answer) => panic!("the create without a quorum was answered: {answer:?}\n{}", ensemble.logs()),
    }
    for member in &mut ensemble.members {
        member.kill(); // SIGKILL also ends a stopped process
    }
    ensemble.members[0].start();
    ensemble.members[1].start();
    assert_eq!(ensemble.wait_for_roles(), 1, "server.2 leads server.1\n{}", ensemble.logs());
    committed
}

/// TRUNC across implementations: server.3 (`kinds[2]`) leads, logs a proposal nobody else
/// gets and dies; server.2 (the other implementation) leads the survivors; `between` runs
/// before server.3 rejoins. Server.3 must truncate its log and end with everyone's data.
/// Returns the ensemble and the zxid server.3 must truncate to, or `None` when skipped.
fn run_trunc(
    kinds: [Kind; SERVERS],
    between: impl FnOnce(&Ensemble, &mut BTreeSet<(String, Vec<u8>)>),
) -> Option<(Ensemble, u64)> {
    let mut ensemble = start_with_server_3_leading(kinds)?;
    assert_ne!(kinds[1], kinds[2], "the new leader must run the other implementation");
    ensemble.create_data_root(2);
    let mut expected = BTreeSet::new();
    ensemble.write_through_all("before", &mut expected);
    let committed = strand_a_proposal_on_the_leader(&mut ensemble, &expected);
    eprintln!("server.3 stranded a proposal after {committed:#x}; server.2 leads");
    between(&ensemble, &mut expected);
    ensemble.members[2].start();
    assert_eq!(ensemble.wait_for_roles(), 1, "server.2 still leads\n{}", ensemble.logs());
    ensemble.assert_all_hold(&expected);
    ensemble.write_through_all("after", &mut expected);
    ensemble.assert_all_hold(&expected);
    Some((ensemble, committed))
}

#[test]
fn a_zab_leader_truncates_a_stranded_proposal_under_an_apache_leader() {
    let _serial = serial();
    // Apache's leader sends TRUNC only while the learner's zxid is above everything it has
    // committed; once it commits in the new epoch it sends a SNAP instead ("Cannot send TRUNC
    // to peer sid: N peer zxid is from different epoch"). So nothing is written before server.3
    // rejoins.
    let Some((ensemble, committed)) = run_trunc([Kind::Apache, Kind::Apache, Kind::Zab], |_, _| {}) else {
        return;
    };
    let leader = &ensemble.members[1];
    let sent = format!("Sending TRUNC to follower zxidToSend={committed:#x} for peer sid:3");
    assert_eq!(leader.log_count(&sent), 1, "{sent}\n{}", ensemble.logs());
    assert_eq!(leader.log_count("Sending snapshot"), 0, "no SNAP\n{}", ensemble.logs());
    let truncated = format!("Truncating log to get in sync with the leader {committed:#x}");
    assert_eq!(ensemble.members[2].log_count(&truncated), 1, "{truncated}\n{}", ensemble.logs());
}

#[test]
fn an_apache_leader_truncates_a_stranded_proposal_under_a_zab_leader() {
    let _serial = serial();
    // A zab leader sends TRUNC to the last zxid both logs share followed by its newer
    // transactions, so the survivors write before server.3 rejoins.
    let between = |ensemble: &Ensemble, expected: &mut BTreeSet<(String, Vec<u8>)>| {
        ensemble.write_through_all("between", expected);
    };
    let Some((ensemble, committed)) = run_trunc([Kind::Zab, Kind::Zab, Kind::Apache], between) else {
        return;
    };
    let rejoined = &ensemble.members[2];
    let truncated = format!("Truncating log to get in sync with the leader {committed:#x}");
    assert_eq!(rejoined.log_count(&truncated), 1, "{truncated}\n{}", ensemble.logs());
    assert_eq!(rejoined.log_count("Getting a snapshot from leader"), 0, "no SNAP\n{}", ensemble.logs());
}

/// Three participants and an observer (server.4) of the other implementation: the observer
/// serves what was written elsewhere, forwards writes, and is no part of the quorum (two of
/// three participants keep the ensemble writable; one participant and the observer do not).
fn run_observed(kinds: [Kind; 4]) {
    let Some(mut ensemble) = Ensemble::configure(&kinds, Some(3), &[]) else { return };
    for member in &mut ensemble.members {
        member.start();
    }
    let leader = ensemble.wait_for_roles();
    let observer_port = ensemble.members[3].client_port;
    assert_eq!(ensemble.members[3].mode().as_deref(), Some("observer"));
    let counts = ["zk_synced_followers", "zk_synced_observers"].map(|key| ensemble.members[leader].monitor(key));
    assert_eq!(counts, [Some("2".to_string()), Some("1".to_string())], "the leader's learners\n{}", ensemble.logs());

    let followers: Vec<usize> = (0..3).filter(|i| *i != leader).collect();
    let mut writer = Client::connect(ensemble.members[followers[0]].client_port, READ_TIMEOUT).expect("connect");
    writer.create("/data", b"", 0).expect("io").expect("/data");
    writer.create("/data/elsewhere", b"through a follower", 0).expect("io").expect("create");
    let mut expected = BTreeSet::from([("elsewhere".to_string(), b"through a follower".to_vec())]);
    let seen = read_view(observer_port).expect("read through the observer");
    assert_eq!(seen, expected.iter().cloned().collect::<View>(), "the observer's view\n{}", ensemble.logs());
    ensemble.write_through_all("all", &mut expected);
    ensemble.assert_all_hold(&expected);

    ensemble.members[followers[0]].kill();
    ensemble.write_through_all("two-of-three", &mut expected);
    ensemble.assert_all_hold(&expected);

    let mut client = Client::connect(observer_port, READ_TIMEOUT).expect("connect to the observer");
    ensemble.members[followers[1]].kill();
    client.stream.set_read_timeout(Some(Duration::from_secs(3))).expect("timeout");
    match client.create("/data/no-quorum", b"one participant and an observer", 0) {
        Err(error) => eprintln!("the write without a quorum failed: {error}"),
        Ok(answer) => panic!("a write without a quorum of participants was answered: {answer:?}\n{}", ensemble.logs()),
    }
    assert_no_quorum_forms(&ensemble, leader);
}

/// Waits until neither the last participant (`leader`) nor the observer serves, then checks
/// that they stay so for a few election rounds: the observer's vote does not count.
fn assert_no_quorum_forms(ensemble: &Ensemble, leader: usize) {
    let survivors = [leader, 3];
    let modes = || survivors.map(|i| ensemble.members[i].mode());
    let start = Instant::now();
    while modes() != [None, None] {
        assert!(start.elapsed() < DEADLINE, "still serving without a quorum: {:?}\n{}", modes(), ensemble.logs());
        thread::sleep(Duration::from_millis(100));
    }
    let stopped = Instant::now();
    while stopped.elapsed() < Duration::from_secs(2) {
        assert_eq!(modes(), [None, None], "serving again without a quorum\n{}", ensemble.logs());
        thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn an_apache_observer_follows_zab_participants() {
    let _serial = serial();
    run_observed([Kind::Zab, Kind::Zab, Kind::Zab, Kind::Apache]);
}

#[test]
fn a_zab_observer_follows_apache_participants() {
    let _serial = serial();
    run_observed([Kind::Apache, Kind::Apache, Kind::Apache, Kind::Zab]);
}
