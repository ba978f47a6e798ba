//! A server to test real clients against: either Apache ZooKeeper 3.8 (the oracle, to prove
//! the test itself right) or zab's own `zab server` binary, each on its own free loopback port
//! with its own data directory, stopped when dropped (also when the test panics).
//!
//! Both are given the same zoo.cfg keys ([`standard_config`]), so a test reads the same
//! against either.

use crate::oracle::{four_letter_word, free_port, ApacheZooKeeper};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The password of the `super` user, whose digest [`standard_config`] configures.
pub const SUPER_PASSWORD: &str = "test";

/// How often empty containers and expired TTL nodes are looked for.
pub const CONTAINER_CHECK_INTERVAL_MS: u64 = 1000;

/// How long a server may take to answer `ruok`/`srvr` after it was started.
const START_TIMEOUT_MAX: Duration = Duration::from_secs(60);

/// Which server implementation a test runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// Apache ZooKeeper 3.8 from the Debian package.
    Apache,
    /// zab's `zab server` binary from this workspace's target directory.
    Zab,
}

/// A running server of either flavor.
pub enum Target {
    /// Apache ZooKeeper.
    Apache(ApacheZooKeeper),
    /// zab.
    Zab(ZabServer),
}

/// The zoo.cfg lines every client test uses, beyond the port and data directory: TTL nodes
/// enabled, a `super` digest user (password [`SUPER_PASSWORD`]) and sessions as short as one
/// second and containers checked every second, so expiry tests stay fast.
pub fn standard_config() -> Vec<String> {
    vec![
        "extendedTypesEnabled=true".to_string(),
        format!("DigestAuthenticationProvider.superDigest={}", super_digest()),
        "minSessionTimeout=1000".to_string(),
        "maxSessionTimeout=60000".to_string(),
        // Containers and TTL nodes are reaped by a periodic check (Apache's default: 60 s).
        format!("znode.container.checkIntervalMs={CONTAINER_CHECK_INTERVAL_MS}"),
    ]
}

/// `super:base64(sha1("super:test"))`, as ZooKeeper's `DigestAuthenticationProvider`
/// computes it (`printf super:test | openssl dgst -sha1 -binary | base64`).
pub fn super_digest() -> &'static str {
    "super:D/InIHSb7yEEbrWz8b9l71RjZJU="
}

impl Target {
    /// Starts a server of the given flavor with [`standard_config`].
    ///
    /// Returns `None` only for Apache when Java or ZooKeeper is missing (the oracle prints
    /// SKIPPED, or panics under `ZAB_REQUIRE_ORACLE`). A missing or broken zab binary panics.
    pub fn start(flavor: Flavor) -> Option<Target> {
        let config = standard_config();
        let lines: Vec<&str> = config.iter().map(String::as_str).collect();
        match flavor {
            Flavor::Apache => {
                // Apache reads these as system properties; zoo.cfg lines alone reach some of
                // them only after the classes that read them were loaded.
                let properties = [
                    "zookeeper.extendedTypesEnabled=true".to_string(),
                    format!("zookeeper.DigestAuthenticationProvider.superDigest={}", super_digest()),
                    format!("znode.container.checkIntervalMs={CONTAINER_CHECK_INTERVAL_MS}"),
                ];
                let properties: Vec<&str> = properties.iter().map(String::as_str).collect();
                ApacheZooKeeper::start(&lines, &properties).map(Target::Apache)
            }
            Flavor::Zab => Some(Target::Zab(ZabServer::start(&lines))),
        }
    }

    /// Where the server listens for clients.
    pub fn address(&self) -> SocketAddr {
        match self {
            Target::Apache(server) => server.address,
            Target::Zab(server) => server.address,
        }
    }

    /// `127.0.0.1:PORT`, the connect string clients take.
    pub fn connect_string(&self) -> String {
        self.address().to_string()
    }
}

/// Declares, for each named scenario, a module
/// `NAME` with two tests, `NAME::apache` and `NAME::zab`, each calling
/// `super::RUNNER(flavor, super::NAME)` (`RUNNER` starts the server and runs the scenario).
///
/// ```ignore
/// zab_tests::against_both!(run: create_and_delete, watches);
/// ```
#[macro_export]
macro_rules! against_both {
    ($runner:ident: $($scenario:ident),+ $(,)?) => {
        $(
            mod $scenario {
                #[test]
                fn apache() {
                    super::$runner($crate::server::Flavor::Apache, super::$scenario)
                }

                #[test]
                fn zab() {
                    super::$runner($crate::server::Flavor::Zab, super::$scenario)
                }
            }
        )+
    };
}

/// A running `zab server` process.
pub struct ZabServer {
    child: Child,
    /// Where it listens for clients.
    pub address: SocketAddr,
    dir: tempfile::TempDir,
}

/// Where `cargo test` put the `zab` binary: `target/<profile>/zab`, next to the `deps`
/// directory that holds the test executable. `ZAB_BIN` overrides it.
pub fn zab_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("ZAB_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("current test executable");
    let deps = exe.parent().expect("test executable has a directory");
    let profile = if deps.ends_with("deps") { deps.parent().expect("target/<profile>") } else { deps };
    profile.join(format!("zab{}", std::env::consts::EXE_SUFFIX))
}

impl ZabServer {
    /// Starts `zab server --config zoo.cfg` with the given extra zoo.cfg lines, and waits
    /// until it answers `ruok` or `srvr`. Panics with the server's log if it does not.
    pub fn start(config_lines: &[&str]) -> ZabServer {
        let binary = zab_binary();
        assert!(
            binary.exists(),
            "the zab binary is missing at {}: run `cargo build -p zab-net` (or `cargo test --workspace`, \
             which builds it) first, or point ZAB_BIN at it",
            binary.display()
        );
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let config_path = write_config(dir.path(), port, config_lines);
        let log = std::fs::File::create(dir.path().join("server.log")).expect("log file");
        let child = Command::new(&binary)
            .arg("server")
            .arg("--config")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log clone"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|error| panic!("cannot run {}: {error}", binary.display()));
        let address: SocketAddr = format!("127.0.0.1:{port}").parse().expect("address");
        let mut server = ZabServer { child, address, dir };
        server.wait_until_serving();
        server
    }

    /// Kills the server at once (SIGKILL), keeping its directory until it is dropped.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Its zoo.cfg.
    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("zoo.cfg")
    }

    /// The server's combined stdout and stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    fn wait_until_serving(&mut self) {
        let deadline = Instant::now() + START_TIMEOUT_MAX;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().expect("poll the zab process") {
                panic!(
                    "`zab server` exited with {status} before serving on {}; its log:\n{}",
                    self.address,
                    self.log()
                );
            }
            if is_serving(self.address) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "`zab server` did not answer ruok/srvr within {START_TIMEOUT_MAX:?} on {}; its log:\n{}",
            self.address,
            self.log()
        );
    }
}

impl Drop for ZabServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether a server answers `ruok` with `imok`, or `srvr` with its mode.
fn is_serving(address: SocketAddr) -> bool {
    four_letter_word(address, "ruok").is_some_and(|answer| answer == "imok")
        || four_letter_word(address, "srvr").is_some_and(|answer| answer.contains("Mode:"))
}

/// Writes zoo.cfg (the same base keys as the oracle's) and returns its path.
fn write_config(dir: &Path, port: u16, config_lines: &[&str]) -> PathBuf {
    let data = dir.join("data");
    std::fs::create_dir_all(&data).expect("data dir");
    let mut config = format!(
        "tickTime=2000\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\n4lw.commands.whitelist=*\nmaxClientCnxns=0\n",
        data.display()
    );
    for line in config_lines {
        config.push_str(line);
        config.push('\n');
    }
    let path = dir.join("zoo.cfg");
    std::fs::write(&path, config).expect("write zoo.cfg");
    path
}
