//! The three `zab server` processes of a soak, each started with `ip netns exec` in its own
//! namespace (so the pid we hold is zab's own, and signals reach it), each with its own data
//! directory and a log that survives restarts (opened for appending), killed when dropped.

use super::network::{member_address, Network};
use crate::server::zab_binary;
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// Every server listens on these ports at its own address (namespaces keep them apart, so
/// no other test's ports can collide with them).
pub const CLIENT_PORT: u16 = 2181;
const QUORUM_PORT: u16 = 2888;
const ELECTION_PORT: u16 = 3888;

/// One server of the ensemble.
struct Member {
    id: u8,
    namespace: String,
    dir: PathBuf,
    child: Option<Child>,
}

/// The running ensemble.
pub struct Ensemble {
    members: Vec<Member>,
    binary: PathBuf,
    tick_ms: u64,
}

impl Ensemble {
    /// Writes each server's zoo.cfg and myid under `root` and starts them all.
    pub fn start(network: &Network, root: &Path, tick_ms: u64) -> Result<Ensemble, String> {
        let binary = zab_binary();
        if !binary.exists() {
            return Err(format!(
                "the zab binary is missing at {}: run `cargo build -p zab-net` first, or point ZAB_BIN at it",
                binary.display()
            ));
        }
        let mut members = Vec::new();
        for id in 1..=network.members() {
            let dir = root.join(format!("server{id}"));
            write_config(&dir, id, network.members(), tick_ms)?;
            members.push(Member { id, namespace: network.member(id), dir, child: None });
        }
        let mut ensemble = Ensemble { members, binary, tick_ms };
        for id in 1..=network.members() {
            ensemble.start_member(id)?;
        }
        Ok(ensemble)
    }

    /// The ids of all servers.
    pub fn ids(&self) -> Vec<u8> {
        self.members.iter().map(|member| member.id).collect()
    }

    /// The configured tick, ms.
    pub fn tick_ms(&self) -> u64 {
        self.tick_ms
    }

    /// `127.0.1.1:2181,127.0.1.2:2181,...`, the connect string of the whole ensemble.
    pub fn connect_string(&self) -> String {
        let hosts: Vec<String> = self.ids().iter().map(|id| format!("{}:{CLIENT_PORT}", member_address(*id))).collect();
        hosts.join(",")
    }

    /// Where server `id` keeps its data (the slow-disk fault throttles the device under it).
    pub fn data_dir(&self, id: u8) -> PathBuf {
        self.member(id).dir.join("data")
    }

    /// Server `id`'s log (stdout and stderr, all its lives).
    pub fn log_path(&self, id: u8) -> PathBuf {
        self.member(id).dir.join("server.log")
    }

    /// The pid of server `id`, if it runs.
    pub fn pid(&self, id: u8) -> Option<i32> {
        self.member(id).child.as_ref().map(|child| child.id() as i32)
    }

    fn member(&self, id: u8) -> &Member {
        self.members.iter().find(|member| member.id == id).expect("a member of the ensemble")
    }

    fn member_mut(&mut self, id: u8) -> &mut Member {
        self.members.iter_mut().find(|member| member.id == id).expect("a member of the ensemble")
    }

    /// Starts server `id` (again) in its namespace.
    pub fn start_member(&mut self, id: u8) -> Result<(), String> {
        let binary = self.binary.clone();
        let member = self.member_mut(id);
        assert!(member.child.is_none(), "server {id} is already running");
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(member.dir.join("server.log"))
            .map_err(|e| format!("server {id} log: {e}"))?;
        let stderr = log.try_clone().map_err(|e| e.to_string())?;
        let child = Command::new("ip")
            .args(["netns", "exec", &member.namespace])
            .arg(&binary)
            .arg("server")
            .arg("--config")
            .arg(member.dir.join("zoo.cfg"))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(stderr)
            .spawn()
            .map_err(|e| format!("cannot start server {id}: {e}"))?;
        member.child = Some(child);
        Ok(())
    }

    /// Sends `signal` to server `id`.
    pub fn signal(&self, id: u8, signal: nix::sys::signal::Signal) -> Result<(), String> {
        let pid = self.pid(id).ok_or_else(|| format!("server {id} is not running"))?;
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), signal).map_err(|e| format!("kill {pid}: {e}"))
    }

    /// kill -9 of server `id`, and reaps it.
    pub fn kill(&mut self, id: u8) -> Result<(), String> {
        let member = self.member_mut(id);
        let mut child = member.child.take().ok_or_else(|| format!("server {id} is not running"))?;
        child.kill().map_err(|e| format!("kill -9 server {id}: {e}"))?;
        child.wait().map_err(|e| e.to_string())?;
        Ok(())
    }

    /// Servers that exited on their own, with their status (none should).
    pub fn exited(&mut self) -> Vec<(u8, String)> {
        let mut exited = Vec::new();
        for member in &mut self.members {
            if let Some(child) = &mut member.child {
                if let Ok(Some(status)) = child.try_wait() {
                    exited.push((member.id, status.to_string()));
                    member.child = None;
                }
            }
        }
        exited
    }
}

impl Drop for Ensemble {
    fn drop(&mut self) {
        for member in &mut self.members {
            if let Some(mut child) = member.child.take() {
                // A stopped process dies of SIGKILL too; no SIGCONT needed.
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

fn write_config(dir: &Path, id: u8, members: u8, tick_ms: u64) -> Result<(), String> {
    let data = dir.join("data");
    std::fs::create_dir_all(&data).map_err(|e| format!("{}: {e}", data.display()))?;
    std::fs::write(data.join("myid"), format!("{id}\n")).map_err(|e| e.to_string())?;
    let mut config = format!(
        "tickTime={tick_ms}\ninitLimit=10\nsyncLimit=5\ndataDir={}\nclientPort={CLIENT_PORT}\n\
         clientPortAddress={}\nadmin.enableServer=false\n4lw.commands.whitelist=*\nmaxClientCnxns=0\n",
        data.display(),
        member_address(id)
    );
    for peer in 1..=members {
        let address = member_address(peer);
        config.push_str(&format!("server.{peer}={address}:{QUORUM_PORT}:{ELECTION_PORT};{CLIENT_PORT}\n"));
    }
    std::fs::write(dir.join("zoo.cfg"), config).map_err(|e| e.to_string())
}
