//! Mixed ensembles of `zab server` processes and Apache ZooKeeper 3.8 servers
//! (`QuorumPeerMain`, from the Debian package) on loopback: configuring, starting, killing and
//! asking each member, for `interop.rs` and `interop_rounds.rs`.

use super::free_ports;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// Elections include a JVM start, so this is longer than the zab-only ensemble test's.
pub const DEADLINE: Duration = Duration::from_secs(60);
/// Members of the ensembles these tests start.
pub const SERVERS: usize = 3;
pub const ZOOKEEPER_JAR: &str = "/usr/share/java/zookeeper.jar";

/// Which implementation a member runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Apache,
    Zab,
}

/// Whether the environment demands the oracle (CI sets `ZAB_REQUIRE_ORACLE=1`).
pub fn oracle_required() -> bool {
    std::env::var_os("ZAB_REQUIRE_ORACLE").is_some_and(|v| v != "0")
}

/// The Debian package's classpath (with slf4j-simple, so its log shows), or `None` when Java
/// or the jar is missing.
pub fn classpath() -> Option<String> {
    let java = Command::new("java").arg("-version").stderr(Stdio::null()).status().ok()?;
    if !java.success() || !Path::new(ZOOKEEPER_JAR).exists() {
        return None;
    }
    let mut jars = vec![ZOOKEEPER_JAR.to_string(), "/usr/share/java/zookeeper-jute.jar".to_string()];
    for extra in [
        "slf4j-api.jar",
        "slf4j-simple.jar",
        "netty-handler.jar",
        "netty-transport.jar",
        "netty-common.jar",
        "netty-buffer.jar",
        "netty-codec.jar",
        "netty-resolver.jar",
        "netty-transport-native-unix-common.jar",
        "commons-io.jar",
        "commons-cli.jar",
        "jackson-databind.jar",
        "jackson-core.jar",
        "jackson-annotations.jar",
        "metrics-core.jar",
        "snappy-java.jar",
        "audience-annotations.jar",
    ] {
        let path = format!("/usr/share/java/{extra}");
        if Path::new(&path).exists() {
            jars.push(path);
        }
    }
    Some(jars.join(":"))
}

/// One member: its implementation, role, directory, client port and process (killed on drop).
pub struct Member {
    pub id: usize,
    pub kind: Kind,
    /// An observer (`:observer` on its server line, `peerType=observer` in its own config).
    pub observer: bool,
    pub dir: PathBuf,
    pub client_port: u16,
    pub classpath: String,
    /// JVM `-D` properties of an Apache member.
    pub properties: Vec<String>,
    pub child: Option<Child>,
}

impl Member {
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }

    pub fn start(&mut self) {
        assert!(self.child.is_none(), "already running");
        let log = fs::OpenOptions::new().create(true).append(true).open(self.dir.join("server.log")).expect("log");
        let mut command = match self.kind {
            Kind::Zab => {
                let mut command = Command::new(env!("CARGO_BIN_EXE_zab"));
                command
                    .args(["server", "--config"])
                    .arg(self.dir.join("zoo.cfg"))
                    .env("RUST_LOG", std::env::var("ZAB_MEMBER_LOG").unwrap_or_else(|_| "info".into()));
                command
            }
            Kind::Apache => {
                let mut command = Command::new("java");
                command
                    .args(["-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"])
                    .arg("-Dorg.slf4j.simpleLogger.defaultLogLevel=info")
                    .args(self.properties.iter().map(|p| format!("-D{p}")))
                    .arg("-cp")
                    .arg(&self.classpath)
                    .arg("org.apache.zookeeper.server.quorum.QuorumPeerMain")
                    .arg(self.dir.join("zoo.cfg"));
                command
            }
        };
        let child = command
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log clone"))
            .stderr(log)
            .spawn()
            .expect("start the server");
        self.child = Some(child);
    }

    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill(); // SIGKILL
            let _ = child.wait();
        }
    }

    /// Sends a signal (`STOP`, `CONT`) to the running process.
    pub fn signal(&self, name: &str) {
        let pid = self.child.as_ref().expect("running").id();
        let status = Command::new("kill").arg(format!("-{name}")).arg(pid.to_string()).status().expect("kill");
        assert!(status.success(), "kill -{name} {pid}");
    }

    /// A four-letter word's answer, or `None` when not reachable.
    pub fn four_letter(&self, word: &str) -> Option<String> {
        super::four_letter(self.client_port, word, Duration::from_secs(2)).ok()
    }

    /// `srvr`'s Mode, or `None` when not serving or not reachable.
    pub fn mode(&self) -> Option<String> {
        let text = self.four_letter("srvr")?;
        text.lines().find_map(|l| l.strip_prefix("Mode: ")).map(str::to_string)
    }

    /// `srvr`'s Zxid (the last applied transaction); panics when not serving.
    pub fn zxid(&self) -> u64 {
        let text = self.four_letter("srvr").unwrap_or_default();
        let hex = text.lines().find_map(|l| l.strip_prefix("Zxid: 0x"));
        let hex = hex.unwrap_or_else(|| panic!("server.{} srvr without a Zxid: {text:?}", self.id));
        u64::from_str_radix(hex, 16).expect("hex zxid")
    }

    /// One `mntr` value, as text.
    pub fn monitor(&self, key: &str) -> Option<String> {
        let text = self.four_letter("mntr")?;
        text.lines().find_map(|l| l.strip_prefix(key)?.strip_prefix('\t')).map(str::to_string)
    }

    /// How many lines of its log contain `needle`.
    pub fn log_count(&self, needle: &str) -> usize {
        self.log().lines().filter(|l| l.contains(needle)).count()
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Members sharing one temp dir.
pub struct Ensemble {
    pub _dir: tempfile::TempDir,
    pub members: Vec<Member>,
}

impl Ensemble {
    /// Starts one member of each kind given, as server.1, server.2, server.3; `None` when
    /// Apache ZooKeeper cannot run here (and the oracle is not required).
    pub fn start(kinds: [Kind; SERVERS], apache_properties: &[&str]) -> Option<Ensemble> {
        let mut ensemble = Ensemble::configure(&kinds, None, apache_properties)?;
        for member in &mut ensemble.members {
            member.start();
        }
        Some(ensemble)
    }

    /// Writes every member's directory and zoo.cfg (server.N runs `kinds[N - 1]`; the member
    /// at index `observer`, if any, observes) without starting anything.
    pub fn configure(kinds: &[Kind], observer: Option<usize>, apache_properties: &[&str]) -> Option<Ensemble> {
        let Some(classpath) = classpath() else {
            assert!(!oracle_required(), "ZAB_REQUIRE_ORACLE is set but Java or {ZOOKEEPER_JAR} is missing");
            eprintln!("SKIPPED: Apache ZooKeeper (Debian package `zookeeper`) or Java is not installed");
            return None;
        };
        let dir = tempfile::tempdir().expect("temp dir");
        let count = kinds.len();
        let ports = free_ports(3 * count);
        let role = |i: usize| if observer == Some(i) { "observer" } else { "participant" };
        let lines: String = (0..count)
            .map(|i| {
                let (client, quorum, election) = (ports[i], ports[count + i], ports[2 * count + i]);
                format!("server.{}=127.0.0.1:{quorum}:{election}:{};127.0.0.1:{client}\n", i + 1, role(i))
            })
            .collect();
        let mut members = Vec::new();
        for (i, &kind) in kinds.iter().enumerate() {
            let member_dir = dir.path().join(format!("s{}", i + 1));
            let data = member_dir.join("data");
            fs::create_dir_all(&data).expect("data dir");
            fs::write(data.join("myid"), format!("{}\n", i + 1)).expect("myid");
            let config = format!(
                "tickTime=200\ninitLimit=25\nsyncLimit=10\ndataDir={}\npreAllocSize=64\n4lw.commands.whitelist=*\n\
                 admin.enableServer=false\nmaxClientCnxns=0\npeerType={}\n{lines}",
                data.display(),
                role(i)
            );
            fs::write(member_dir.join("zoo.cfg"), config).expect("zoo.cfg");
            let client_port = ports[i];
            members.push(Member {
                id: i + 1,
                kind,
                observer: observer == Some(i),
                dir: member_dir,
                client_port,
                classpath: classpath.clone(),
                properties: apache_properties.iter().map(|p| p.to_string()).collect(),
                child: None,
            });
        }
        Some(Ensemble { _dir: dir, members })
    }

    pub fn logs(&self) -> String {
        self.members.iter().map(|m| format!("--- server.{} ({:?}) ---\n{}", m.id, m.kind, m.log())).collect()
    }

    /// Waits until the running members report one leader, observers `observer` and the other
    /// participants `follower`; returns the leader's index.
    pub fn wait_for_roles(&self) -> usize {
        self.wait_for_roles_within(DEADLINE).unwrap_or_else(|e| panic!("no leader and followers: {e}\n{}", self.logs()))
    }

    /// [`Ensemble::wait_for_roles`] for at most `bound`; the error says what the members
    /// reported last.
    pub fn wait_for_roles_within(&self, bound: Duration) -> Result<usize, String> {
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
            let learning = modes.iter().filter(|(i, m)| {
                let expected = if self.members[*i].observer { "observer" } else { "follower" };
                m.as_deref() == Some(expected)
            });
            if leaders.len() == 1 && learning.count() == modes.len() - 1 {
                return Ok(leaders[0]);
            }
            if start.elapsed() > bound {
                return Err(format!("after {:?}: {modes:?}", start.elapsed()));
            }
            thread::sleep(Duration::from_millis(50));
        }
    }
}
