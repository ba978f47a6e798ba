//! Server control like Apache's `zkServer.sh`: `zab start|start-foreground|stop|restart|status|
//! print-cmd [zoo.cfg]`.
//!
//! - `start` runs `zab server --config <zoo.cfg>` in the background (its own process group,
//!   stdin from /dev/null, output to `<dataDir>/zab-server.out`), writes its pid to
//!   `<dataDir>/zookeeper_server.pid` as zkServer.sh does, and waits until it answers `ruok`
//!   (or exits, or [`START_WAIT_MAX`] passes);
//! - `stop` sends SIGTERM to the pid in the pidfile, waits for the process to end (the server
//!   syncs its log first), and removes the pidfile;
//! - `status` asks the client port for `srvr` and prints mode and zxid, and in an ensemble asks
//!   each `server.N` with a client port which one leads.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::config::ServerConfig;

/// zkServer.sh's pidfile name, in `dataDir`.
pub const PID_FILE: &str = "zookeeper_server.pid";
/// Where a started server's stdout and stderr go, in `dataDir`.
pub const OUT_FILE: &str = "zab-server.out";
/// How long `start` waits for the server to answer `ruok` (recovery of a large dataDir, or an
/// import, takes a while).
pub const START_WAIT_MAX: Duration = Duration::from_secs(120);
/// How long `stop` waits for the process to end after SIGTERM.
pub const STOP_WAIT_MAX: Duration = Duration::from_secs(60);
/// How long a four-letter word may take to answer.
const FOUR_LETTER_TIMEOUT: Duration = Duration::from_secs(5);
/// How often `start` and `stop` look again.
const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// The zoo.cfg a command names, or `zoo.cfg` in the working directory, parsed.
pub fn load(path: Option<PathBuf>) -> Result<(PathBuf, ServerConfig), String> {
    let path = path.unwrap_or_else(|| PathBuf::from("zoo.cfg"));
    let path = std::fs::canonicalize(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let (config, _) = ServerConfig::from_file(&path).map_err(|e| format!("invalid configuration: {e}"))?;
    Ok((path, config))
}

fn pid_file(config: &ServerConfig) -> PathBuf {
    config.data_dir.join(PID_FILE)
}

/// The command `start` runs.
fn server_command(config_path: &Path) -> Result<Command, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find the zab binary: {e}"))?;
    let mut command = Command::new(exe);
    command.arg("server").arg("--config").arg(config_path);
    Ok(command)
}

/// `print-cmd`: the command line `start` runs.
pub fn print_cmd(config_path: &Path, config: &ServerConfig) -> Result<i32, String> {
    let command = server_command(config_path)?;
    let words: Vec<String> = std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|word| word.to_string_lossy().into_owned())
        .collect();
    println!("{} > \"{}\" 2>&1 < /dev/null", words.join(" "), config.data_dir.join(OUT_FILE).display());
    Ok(0)
}

fn read_pid(config: &ServerConfig) -> Option<i32> {
    std::fs::read_to_string(pid_file(config)).ok()?.trim().parse().ok()
}

/// Whether `pid` is a live process (and not a zombie).
fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised command name.
        Ok(stat) => stat.rsplit_once(") ").is_some_and(|(_, rest)| !rest.starts_with('Z')),
        Err(_) => false,
    }
}

/// The address the client port answers on (`clientPortAddress` 0.0.0.0 is asked on loopback).
fn client_address(config: &ServerConfig) -> Option<SocketAddr> {
    let host = match config.client_port_address.as_str() {
        "0.0.0.0" | "" => "127.0.0.1",
        "::" => "::1",
        host => host,
    };
    (host, config.client_port).to_socket_addrs().ok()?.next()
}

/// Sends a four-letter word; `None` if nobody answered.
pub fn four_letter_word(address: SocketAddr, word: &str) -> Option<String> {
    let mut stream = TcpStream::connect_timeout(&address, FOUR_LETTER_TIMEOUT).ok()?;
    stream.set_read_timeout(Some(FOUR_LETTER_TIMEOUT)).ok()?;
    stream.write_all(word.as_bytes()).ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    Some(answer)
}

/// `start`: the server in the background, its pid in the pidfile.
pub fn start(config_path: &Path, config: &ServerConfig) -> Result<i32, String> {
    println!("Using config: {}", config_path.display());
    if let Some(pid) = read_pid(config).filter(|pid| alive(*pid)) {
        println!("zab already running as process {pid}.");
        return Ok(1);
    }
    std::fs::create_dir_all(&config.data_dir).map_err(|e| format!("{}: {e}", config.data_dir.display()))?;
    let out_path = config.data_dir.join(OUT_FILE);
    let out = std::fs::File::create(&out_path).map_err(|e| format!("{}: {e}", out_path.display()))?;
    let err = out.try_clone().map_err(|e| format!("{}: {e}", out_path.display()))?;
    print!("Starting zab ... ");
    let _ = std::io::stdout().flush();
    let mut command = server_command(config_path)?;
    // Its own process group: a Ctrl-C in the shell that ran `zab start` does not reach it.
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let mut child = command
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| format!("cannot start the server: {e}"))?;
    let pid = child.id();
    let pid_path = pid_file(config);
    std::fs::write(&pid_path, format!("{pid}\n")).map_err(|e| format!("{}: {e}", pid_path.display()))?;
    let deadline = Instant::now() + START_WAIT_MAX;
    let address = client_address(config);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            let _ = std::fs::remove_file(&pid_path);
            println!("FAILED TO START");
            return Err(format!("the server exited with {status}; see {}", out_path.display()));
        }
        if address.and_then(|a| four_letter_word(a, "ruok")).is_some_and(|answer| answer == "imok") {
            println!("STARTED");
            return Ok(0);
        }
        if Instant::now() > deadline {
            println!("NOT ANSWERING");
            return Err(format!(
                "process {pid} does not answer ruok after {START_WAIT_MAX:?}; see {}",
                out_path.display()
            ));
        }
        std::thread::sleep(POLL_INTERVAL);
    }
}

/// `stop`: SIGTERM to the pidfile's process, then wait for it to end.
pub fn stop(config_path: &Path, config: &ServerConfig) -> Result<i32, String> {
    println!("Using config: {}", config_path.display());
    print!("Stopping zab ... ");
    let _ = std::io::stdout().flush();
    let pid_path = pid_file(config);
    let Some(pid) = read_pid(config) else {
        println!("no zab to stop (could not find file {})", pid_path.display());
        return Ok(1);
    };
    if alive(pid) {
        let target = nix::unistd::Pid::from_raw(pid);
        nix::sys::signal::kill(target, nix::sys::signal::Signal::SIGTERM).map_err(|e| format!("kill {pid}: {e}"))?;
        let deadline = Instant::now() + STOP_WAIT_MAX;
        while alive(pid) {
            if Instant::now() > deadline {
                println!("STILL RUNNING");
                return Err(format!("process {pid} still runs {STOP_WAIT_MAX:?} after SIGTERM"));
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }
    std::fs::remove_file(&pid_path).map_err(|e| format!("{}: {e}", pid_path.display()))?;
    println!("STOPPED");
    Ok(0)
}

/// `status`: mode and zxid from `srvr`, and who leads.
pub fn status(config_path: &Path, config: &ServerConfig) -> Result<i32, String> {
    println!("Using config: {}", config_path.display());
    let Some(address) = client_address(config) else {
        return Err(format!("cannot resolve {}:{}", config.client_port_address, config.client_port));
    };
    println!("Client port found: {}. Client address: {}.", config.client_port, address.ip());
    let Some(answer) = four_letter_word(address, "srvr") else {
        println!("Error contacting service. It is probably not running.");
        return Ok(1);
    };
    let field = |text: &str, name: &str| {
        text.lines().find_map(|line| line.strip_prefix(name)).map(|value| value.trim().to_string())
    };
    let mode = field(&answer, "Mode:").unwrap_or_else(|| "unknown".to_string());
    println!("Mode: {mode}");
    if let Some(zxid) = field(&answer, "Zxid:") {
        println!("Zxid: {zxid}");
    }
    if config.is_replicated() {
        let leader = config.servers.iter().find(|line| {
            let port = line.client_port.unwrap_or(config.client_port);
            let host = line.client_address.clone().unwrap_or_else(|| line.host.clone());
            let address = (host.as_str(), port).to_socket_addrs().ok().and_then(|mut a| a.next());
            address
                .and_then(|a| four_letter_word(a, "srvr"))
                .is_some_and(|text| field(&text, "Mode:").as_deref() == Some("leader"))
        });
        match leader {
            Some(line) => println!("Leader: server.{} ({})", line.id, line.host),
            None => println!("Leader: none answering"),
        }
    }
    Ok(0)
}
