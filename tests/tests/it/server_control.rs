//! `zab start|start-foreground|stop|restart|status|print-cmd zoo.cfg`, zkServer.sh's commands,
//! with the real binary: the pidfile in dataDir, a daemon that serves, status read from its
//! `srvr`, and exit statuses as zkServer.sh's (1 for "already running", "not running",
//! "nothing to stop").

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use zab_tests::oracle::{four_letter_word, free_port};
use zab_tests::server::zab_binary;

/// How long a started server may take to answer, and a stopped one to go.
const WAIT_MAX: Duration = Duration::from_secs(60);

/// Kills whatever the pidfile names when the test ends, also on failure.
struct PidGuard(PathBuf);

impl Drop for PidGuard {
    fn drop(&mut self) {
        if let Some(pid) = read_pid(&self.0) {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
    }
}

fn read_pid(path: &Path) -> Option<i32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

fn zab(args: &[&str], config: &Path) -> Output {
    Command::new(zab_binary()).args(args).arg(config).stdin(Stdio::null()).output().expect("run zab")
}

fn text(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr)
}

fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|stat| stat.rsplit_once(") ").is_some_and(|(_, rest)| !rest.starts_with('Z')))
}

#[test]
fn start_status_restart_stop_and_print_cmd_work_like_zkserver() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let port = free_port();
    let config = dir.path().join("zoo.cfg");
    let cfg = format!(
        "tickTime=2000\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\n4lw.commands.whitelist=*\n",
        data.display()
    );
    std::fs::write(&config, cfg).expect("zoo.cfg");
    let pid_path = data.join("zookeeper_server.pid");
    let _guard = PidGuard(pid_path.clone());
    let address = format!("127.0.0.1:{port}").parse().expect("address");

    let status = zab(&["status"], &config);
    assert_eq!(status.status.code(), Some(1), "status before start:\n{}", text(&status));
    assert!(text(&status).contains("It is probably not running"));

    let started = zab(&["start"], &config);
    assert!(started.status.success() && text(&started).contains("STARTED"), "start:\n{}", text(&started));
    let pid = read_pid(&pid_path).expect("a pidfile in dataDir");
    assert!(alive(pid), "the pidfile names a live process");
    assert_eq!(four_letter_word(address, "ruok").as_deref(), Some("imok"), "the daemon serves");

    let again = zab(&["start"], &config);
    assert_eq!(again.status.code(), Some(1), "a second start:\n{}", text(&again));
    assert!(text(&again).contains(&format!("already running as process {pid}")));

    let status = zab(&["status"], &config);
    assert!(status.status.success(), "status:\n{}", text(&status));
    assert!(text(&status).contains("Mode: standalone") && text(&status).contains("Zxid: 0x"), "{}", text(&status));

    let command = zab(&["print-cmd"], &config);
    let printed = text(&command);
    assert!(printed.contains(" server --config ") && printed.contains("zab-server.out"), "print-cmd: {printed}");

    let restarted = zab(&["restart"], &config);
    assert!(restarted.status.success() && text(&restarted).contains("STOPPED"), "restart:\n{}", text(&restarted));
    let new_pid = read_pid(&pid_path).expect("a pidfile after restart");
    assert!(new_pid != pid && !alive(pid) && alive(new_pid), "restart replaced process {pid} by {new_pid}");

    let stopped = zab(&["stop"], &config);
    assert!(stopped.status.success() && text(&stopped).contains("STOPPED"), "stop:\n{}", text(&stopped));
    assert!(!pid_path.exists() && !alive(new_pid), "stop removed the pidfile and ended the process");
    let log = std::fs::read_to_string(data.join("zab-server.out")).unwrap_or_default();
    assert!(log.contains("stopped: log synced"), "SIGTERM let the server sync and exit:\n{log}");
    let nothing = zab(&["stop"], &config);
    assert_eq!(nothing.status.code(), Some(1), "stop with nothing running:\n{}", text(&nothing));
}

#[test]
fn start_foreground_serves_until_sigterm() {
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let config = dir.path().join("zoo.cfg");
    let cfg = format!(
        "tickTime=2000\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\n",
        dir.path().join("d").display()
    );
    std::fs::write(&config, cfg).expect("zoo.cfg");
    let mut child = Command::new(zab_binary())
        .arg("start-foreground")
        .arg(&config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run zab start-foreground");
    let address = format!("127.0.0.1:{port}").parse().expect("address");
    let deadline = Instant::now() + WAIT_MAX;
    while four_letter_word(address, "srvr").is_none_or(|answer| !answer.contains("Mode: standalone")) {
        if Instant::now() > deadline || child.try_wait().expect("poll").is_some() {
            let _ = child.kill();
            let _ = child.wait();
            panic!("start-foreground did not serve within {WAIT_MAX:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let pid = Pid::from_raw(i32::try_from(child.id()).expect("pid fits"));
    kill(pid, Signal::SIGTERM).expect("SIGTERM");
    let deadline = Instant::now() + WAIT_MAX;
    let status = loop {
        if let Some(status) = child.try_wait().expect("poll") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("start-foreground did not exit within {WAIT_MAX:?} of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "start-foreground exits 0 after SIGTERM: {status}");
}
