//! Apache ZooKeeper 3.8 as a test oracle: started on a free loopback port with its own data
//! directory, and killed when dropped (also when the test fails).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The Debian package's server jar.
pub const ZOOKEEPER_JAR: &str = "/usr/share/java/zookeeper.jar";

/// A running Apache ZooKeeper standalone server.
pub struct ApacheZooKeeper {
    child: Child,
    /// Where it listens for clients.
    pub address: SocketAddr,
    _dir: tempfile::TempDir,
}

/// Whether the environment demands the oracle (CI sets `ZAB_REQUIRE_ORACLE=1`).
pub fn oracle_required() -> bool {
    std::env::var_os("ZAB_REQUIRE_ORACLE").is_some_and(|v| v != "0")
}

/// Asks the OS for a free loopback port.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port").local_addr().expect("local addr").port()
}

/// The classpath for the Debian package, or `None` when Java or the jar is missing. Public for
/// the benchmark (`bench/`), which starts the same server with its own JVM flags.
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
        "jline.jar",
        "audience-annotations.jar",
        // Jetty, for the AdminServer (off unless a test sets admin.enableServer=true).
        "jetty9-server.jar",
        "jetty9-servlet.jar",
        "jetty9-http.jar",
        "jetty9-io.jar",
        "jetty9-util.jar",
        "jetty9-security.jar",
        "servlet-api.jar",
    ] {
        let path = format!("/usr/share/java/{extra}");
        if Path::new(&path).exists() {
            jars.push(path);
        }
    }
    Some(jars.join(":"))
}

impl ApacheZooKeeper {
    /// Starts a standalone server with the given extra zoo.cfg lines and JVM `-D` properties.
    ///
    /// Returns `None` (after saying why on stderr) when Java or ZooKeeper is not installed,
    /// unless `ZAB_REQUIRE_ORACLE` is set, in which case it panics.
    pub fn start(config_lines: &[&str], system_properties: &[&str]) -> Option<ApacheZooKeeper> {
        let Some(classpath) = classpath() else {
            assert!(!oracle_required(), "ZAB_REQUIRE_ORACLE is set but Java or {ZOOKEEPER_JAR} is missing");
            eprintln!("SKIPPED: Apache ZooKeeper (Debian package `zookeeper`) or Java is not installed");
            return None;
        };
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let data: PathBuf = dir.path().join("data");
        std::fs::create_dir_all(&data).expect("data dir");
        let mut config = format!(
            "tickTime=2000\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\n4lw.commands.whitelist=*\nmaxClientCnxns=0\n",
            data.display()
        );
        for line in config_lines {
            config.push_str(line);
            config.push('\n');
        }
        let config_path = dir.path().join("zoo.cfg");
        std::fs::write(&config_path, config).expect("write zoo.cfg");
        let log = std::fs::File::create(dir.path().join("server.log")).expect("log file");
        let mut command = Command::new("java");
        command.arg("-Xmx256m").arg("-XX:+UseSerialGC").arg("-XX:TieredStopAtLevel=1");
        for property in system_properties {
            command.arg(format!("-D{property}"));
        }
        let child = command
            .arg("-cp")
            .arg(classpath)
            .arg("org.apache.zookeeper.server.quorum.QuorumPeerMain")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log clone"))
            .stderr(log)
            .spawn()
            .expect("spawn java");
        let address: SocketAddr = format!("127.0.0.1:{port}").parse().expect("address");
        let server = ApacheZooKeeper { child, address, _dir: dir };
        server.wait_until_serving();
        Some(server)
    }

    /// Its dataDir (kept until the server is dropped, also after [`ApacheZooKeeper::kill`]).
    pub fn data_dir(&self) -> PathBuf {
        self._dir.path().join("data")
    }

    /// Kills the server at once (SIGKILL, as a crash would), keeping its data directory.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn wait_until_serving(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if four_letter_word(self.address, "srvr").is_some_and(|answer| answer.contains("Mode:")) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let log = std::fs::read_to_string(self._dir.path().join("server.log")).unwrap_or_default();
        panic!("Apache ZooKeeper did not start within 60 s on {}; its log:\n{log}", self.address);
    }
}

impl Drop for ApacheZooKeeper {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends a four-letter word and returns the whole answer, or `None` if nobody answered.
pub fn four_letter_word(address: SocketAddr, word: &str) -> Option<String> {
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(2)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    stream.write_all(word.as_bytes()).ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    Some(answer)
}
