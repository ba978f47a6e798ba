//! The servers under test: zab's release binary or Apache ZooKeeper 3.8 (the Debian jar, on the
//! classpath the test oracle uses), standalone or three servers, given byte for byte the same
//! zoo.cfg, on ports chosen once per topology so both flavors listen on the same ones.
//!
//! Every process is killed when its [`Cluster`] is dropped, also when the bench panics.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use zab_tests::oracle::{classpath, four_letter_word, free_port};

/// How long a server may take to answer `srvr` after it was started (a 1M-znode restart
/// included: loading the snapshot, replaying the log, syncing with the leader).
pub const START_TIMEOUT_MAX: Duration = Duration::from_secs(600);

/// Which implementation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// zab's `zab server`.
    Zab,
    /// Apache ZooKeeper 3.8.
    Apache,
}

impl Flavor {
    /// The name in tables.
    pub fn name(self) -> &'static str {
        match self {
            Flavor::Zab => "zab",
            Flavor::Apache => "Apache",
        }
    }
}

/// How to start each flavor, and the zoo.cfg keys both get.
#[derive(Clone, Debug)]
pub struct Launch {
    /// The `zab` binary.
    pub zab_binary: PathBuf,
    /// The JVM's `-Xmx`, e.g. `2g`.
    pub apache_heap: String,
    /// `snapCount`.
    pub snap_count: u32,
    /// `preAllocSize`, KiB.
    pub prealloc_kb: u32,
    /// `tickTime`, ms.
    pub tick_ms: u32,
    /// Where each cluster's data directories go (one filesystem for both flavors).
    pub work_dir: PathBuf,
}

/// Ports of one topology: (client, quorum, election) per server; one entry is standalone.
#[derive(Clone, Debug)]
pub struct Ports(pub Vec<(u16, u16, u16)>);

impl Ports {
    /// Fresh free loopback ports for `servers` servers.
    pub fn fresh(servers: usize) -> Ports {
        Ports((0..servers).map(|_| (free_port(), free_port(), free_port())).collect())
    }
}

/// One server process.
struct Member {
    id: usize,
    config: PathBuf,
    data: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

/// A running standalone server or ensemble of one flavor.
pub struct Cluster {
    /// Which implementation.
    pub flavor: Flavor,
    launch: Launch,
    ports: Ports,
    root: PathBuf,
    members: Vec<Member>,
}

impl Cluster {
    /// Writes the configuration and starts every server, then waits until each serves (and,
    /// for an ensemble, one leads).
    pub fn start(flavor: Flavor, launch: &Launch, ports: &Ports) -> Result<Cluster, String> {
        std::fs::create_dir_all(&launch.work_dir).map_err(|e| format!("create {}: {e}", launch.work_dir.display()))?;
        // Absolute paths: Apache warns about relative ones, and both read them the same way.
        let work_dir = launch.work_dir.canonicalize().map_err(|e| format!("{}: {e}", launch.work_dir.display()))?;
        let root = work_dir.join(format!("{}-{}-{}", flavor.name(), ports.0.len(), ports.0[0].0));
        let _ = std::fs::remove_dir_all(&root);
        let mut members = Vec::new();
        for (index, _) in ports.0.iter().enumerate() {
            let id = index + 1;
            let dir = root.join(format!("server{id}"));
            let data = dir.join("data");
            std::fs::create_dir_all(&data).map_err(|e| format!("create {}: {e}", data.display()))?;
            if ports.0.len() > 1 {
                std::fs::write(data.join("myid"), format!("{id}\n")).map_err(|e| format!("myid: {e}"))?;
            }
            let config = dir.join("zoo.cfg");
            std::fs::write(&config, zoo_cfg(launch, ports, index, &data)).map_err(|e| format!("zoo.cfg: {e}"))?;
            members.push(Member { id, config, data, log: dir.join("server.log"), child: None });
        }
        let mut cluster = Cluster { flavor, launch: launch.clone(), ports: ports.clone(), root, members };
        for index in 0..cluster.members.len() {
            cluster.spawn(index)?;
        }
        for index in 0..cluster.members.len() {
            cluster.wait_serving(index, START_TIMEOUT_MAX)?;
        }
        if cluster.members.len() > 1 {
            cluster.leader().ok_or("no server leads after every one serves")?;
        }
        Ok(cluster)
    }

    /// Number of servers.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// The client address of server `index`.
    pub fn address(&self, index: usize) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.ports.0[index].0))
    }

    /// Starts server `index` (again).
    pub fn spawn(&mut self, index: usize) -> Result<(), String> {
        let member = &mut self.members[index];
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&member.log)
            .map_err(|e| format!("log {}: {e}", member.log.display()))?;
        let mut command = match self.flavor {
            Flavor::Zab => {
                let mut command = Command::new(&self.launch.zab_binary);
                command.arg("server").arg("--config").arg(&member.config);
                command
            }
            Flavor::Apache => {
                let classpath = classpath().ok_or("Java or the Debian package `zookeeper` is missing")?;
                let mut command = Command::new("java");
                // The JVM's defaults (G1, full JIT) as an operator runs it, with a heap that holds
                // the large-state rows.
                command
                    .arg(format!("-Xmx{}", self.launch.apache_heap))
                    .arg(format!("-Dzookeeper.log.dir={}", member.log.parent().unwrap_or(Path::new(".")).display()));
                command.arg("-cp").arg(classpath).arg("org.apache.zookeeper.server.quorum.QuorumPeerMain");
                command.arg(&member.config);
                command
            }
        };
        let stderr = log.try_clone().map_err(|e| format!("log: {e}"))?;
        let child = command
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(stderr)
            .spawn()
            .map_err(|e| format!("start {} server.{}: {e}", self.flavor.name(), member.id))?;
        member.child = Some(child);
        Ok(())
    }

    /// Kills server `index` with SIGKILL and reaps it.
    pub fn kill(&mut self, index: usize) {
        if let Some(mut child) = self.members[index].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Waits until server `index` answers `srvr` with a mode; fails with its log's tail.
    pub fn wait_serving(&mut self, index: usize, timeout: Duration) -> Result<Duration, String> {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if let Some(Ok(Some(status))) = self.members[index].child.as_mut().map(Child::try_wait) {
                return Err(format!("server.{} exited with {status}; log:\n{}", index + 1, self.log_tail(index)));
            }
            if self.mode(index).is_some() {
                return Ok(start.elapsed());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(format!("server.{} did not serve within {timeout:?}; log:\n{}", index + 1, self.log_tail(index)))
    }

    /// `Mode:` from `srvr` (leader, follower, standalone), if the server serves.
    pub fn mode(&self, index: usize) -> Option<String> {
        let answer = four_letter_word(self.address(index), "srvr")?;
        let line = answer.lines().find_map(|l| l.strip_prefix("Mode: "))?;
        Some(line.trim().to_string())
    }

    /// The index of the server that leads (or the standalone one).
    pub fn leader(&self) -> Option<usize> {
        (0..self.len()).find(|&i| matches!(self.mode(i).as_deref(), Some("leader" | "standalone")))
    }

    /// The pid of server `index`, if it runs.
    pub fn pid(&self, index: usize) -> Option<u32> {
        self.members[index].child.as_ref().map(Child::id)
    }

    /// The indexes of the servers that run.
    pub fn running(&self) -> Vec<usize> {
        (0..self.len()).filter(|&i| self.members[i].child.is_some()).collect()
    }

    /// The pids of every running server.
    pub fn pids(&self) -> Vec<u32> {
        (0..self.len()).filter_map(|i| self.pid(i)).collect()
    }

    /// The number of finished snapshot files in server `index`'s `version-2` directory.
    pub fn snapshot_count(&self, index: usize) -> usize {
        let dir = self.members[index].data.join("version-2");
        std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .filter(|e| e.file_name().to_string_lossy().starts_with("snapshot."))
                    .count()
            })
            .unwrap_or(0)
    }

    fn log_tail(&self, index: usize) -> String {
        let log = std::fs::read_to_string(&self.members[index].log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for index in 0..self.members.len() {
            self.kill(index);
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// The zoo.cfg both flavors read: the keys the issue fixes (tickTime, snapCount, preAllocSize,
/// fsync on, which is both flavors' default), and the ensemble's `server.N` lines.
fn zoo_cfg(launch: &Launch, ports: &Ports, index: usize, data: &Path) -> String {
    let mut config = format!(
        "tickTime={}\ninitLimit=30\nsyncLimit=10\ndataDir={}\nclientPort={}\nclientPortAddress=127.0.0.1\n\
         snapCount={}\npreAllocSize={}\nforceSync=yes\nadmin.enableServer=false\n4lw.commands.whitelist=*\n\
         maxClientCnxns=0\n",
        launch.tick_ms,
        data.display(),
        ports.0[index].0,
        launch.snap_count,
        launch.prealloc_kb,
    );
    if ports.0.len() > 1 {
        for (i, (client, quorum, election)) in ports.0.iter().enumerate() {
            config.push_str(&format!("server.{}=127.0.0.1:{quorum}:{election};127.0.0.1:{client}\n", i + 1));
        }
    }
    config
}

/// utime + stime of a process, µs (from `/proc/PID/stat`, in clock ticks of 10 ms).
pub fn cpu_us(pid: u32) -> u64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return 0 };
    // The command name may hold spaces; the fields after it are fixed.
    let Some(rest) = stat.rsplit_once(')').map(|(_, rest)| rest) else { return 0 };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After ")", field 3 (state) is index 0; utime is field 14 and stime field 15.
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    (ticks(11) + ticks(12)) * 1_000_000 / CLOCK_TICKS_PER_SECOND
}

/// `sysconf(_SC_CLK_TCK)` on Linux (fixed at 100 by the kernel ABI for /proc).
const CLOCK_TICKS_PER_SECOND: u64 = 100;

/// Resident set size of a process, bytes (`VmRSS` of `/proc/PID/status`).
pub fn rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Apache's live heap after a full collection, bytes: `jcmd PID GC.run`, then the `used` of
/// `jcmd PID GC.heap_info`. `None` when jcmd is missing or answers otherwise.
pub fn java_live_heap(pid: u32) -> Option<u64> {
    let run = Command::new("jcmd").arg(pid.to_string()).arg("GC.run").output().ok()?;
    if !run.status.success() {
        return None;
    }
    let info = Command::new("jcmd").arg(pid.to_string()).arg("GC.heap_info").output().ok()?;
    let text = String::from_utf8_lossy(&info.stdout);
    // G1: " garbage-first heap   total 123456K, used 65432K [...]"
    let used = text.lines().find_map(|l| l.split_once(" used ").map(|(_, rest)| rest.to_string()))?;
    let kb = used.split(|c: char| !c.is_ascii_digit()).next()?.parse::<u64>().ok()?;
    Some(kb * 1024)
}
