//! The `zab` binary: `zab server [--config zoo.cfg]`, moving data over from Apache ZooKeeper
//! (`zab import`, `zab export`) and printing snapshots and logs of either format.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;
use zab_net::cli::{inspect, migrate};
use zab_net::config::ServerConfig;
use zab_net::server::{bind, now_millis, serve};
use zab_net::storage::RealDisk;

/// A ZooKeeper-compatible coordination service.
#[derive(Parser, Debug)]
#[command(name = "zab", version, about)]
struct Cli {
    /// Log lines as `human` text (the default) or as one JSON object a line (`json`); the
    /// levels come from RUST_LOG (default `info` for the server, `warn` for the tools).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Human)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum LogFormat {
    Human,
    Json,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Runs a server. Without --config: standalone on 127.0.0.1:2181, data in ./zab-data.
    Server {
        /// A ZooKeeper zoo.cfg.
        #[arg(long, value_name = "PATH")]
        config: Option<PathBuf>,
    },
    /// Imports an Apache ZooKeeper 3.8 data directory (zoo.cfg's dataDir and dataLogDir) into
    /// zab's format; Apache's files move to <dataDir>/apache-3.8. `zab server` does this by
    /// itself on first start.
    Import {
        /// A ZooKeeper zoo.cfg.
        #[arg(long, value_name = "PATH")]
        config: PathBuf,
    },
    /// Writes the zab data of zoo.cfg's directories in Apache ZooKeeper 3.8's format into
    /// <DIR>/version-2 (an Apache dataDir), to move back.
    Export {
        /// A ZooKeeper zoo.cfg.
        #[arg(long, value_name = "PATH")]
        config: PathBuf,
        /// The Apache dataDir to write.
        #[arg(long, value_name = "DIR")]
        to: PathBuf,
    },
    /// A zkCli.sh workalike: `zab cli -server host:port[/chroot] [-timeout ms] [--json] [cmd args]`.
    #[cfg(not(madsim))]
    #[command(disable_help_flag = true)]
    Cli {
        /// zkCli's options and an optional command, as zkCli takes them.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Starts `zab server` in the background, its pid in <dataDir>/zookeeper_server.pid (zkServer.sh start).
    #[cfg(not(madsim))]
    Start {
        /// A ZooKeeper zoo.cfg (default: ./zoo.cfg).
        config: Option<PathBuf>,
    },
    /// Runs the server in the foreground (zkServer.sh start-foreground).
    #[cfg(not(madsim))]
    StartForeground {
        /// A ZooKeeper zoo.cfg (default: ./zoo.cfg).
        config: Option<PathBuf>,
    },
    /// Stops the server `zab start` started: SIGTERM, then waits (zkServer.sh stop).
    #[cfg(not(madsim))]
    Stop {
        /// A ZooKeeper zoo.cfg (default: ./zoo.cfg).
        config: Option<PathBuf>,
    },
    /// stop, then start.
    #[cfg(not(madsim))]
    Restart {
        /// A ZooKeeper zoo.cfg (default: ./zoo.cfg).
        config: Option<PathBuf>,
    },
    /// Mode, zxid and leader, from the server's srvr on its client port (zkServer.sh status).
    #[cfg(not(madsim))]
    Status {
        /// A ZooKeeper zoo.cfg (default: ./zoo.cfg).
        config: Option<PathBuf>,
    },
    /// Prints the command line `zab start` runs (zkServer.sh print-cmd).
    #[cfg(not(madsim))]
    PrintCmd {
        /// A ZooKeeper zoo.cfg (default: ./zoo.cfg).
        config: Option<PathBuf>,
    },
    /// Prints a snapshot file of either format (like zkSnapShotToolkit).
    SnapshotPrint {
        /// A `snapshot.<zxid>` file.
        file: PathBuf,
        /// One JSON document instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Prints a transaction log file of either format (like zkTxnLogToolkit).
    TxnlogPrint {
        /// A `log.<zxid>` file.
        file: PathBuf,
        /// One JSON document instead of text.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = cli.command;
    // The tools print their own output; only the server logs its progress by default.
    #[cfg(not(madsim))]
    let serving = matches!(command, Command::Server { .. } | Command::StartForeground { .. });
    #[cfg(madsim)]
    let serving = matches!(command, Command::Server { .. });
    let level = if serving { "info" } else { "warn" };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    // Colours only on a terminal: log files and test harnesses get plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let logs = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Human => logs.with_ansi(ansi).init(),
        LogFormat::Json => logs.json().init(),
    }
    #[cfg(not(madsim))]
    if let Command::Cli { args } = command {
        // zkCli's exit statuses (0, 1, 2, 127), not only success and failure.
        return ExitCode::from(u8::try_from(zab_net::cli::zkcli::run(args)).unwrap_or(1));
    }
    #[cfg(not(madsim))]
    if let Some(code) = control(&command) {
        return code;
    }
    let result = match command {
        Command::Server { config } => run_server(config),
        Command::Import { config } => read_config(&config).and_then(|config| {
            match migrate::import(&config, &RealDisk).map_err(|e| format!("import failed: {e}"))? {
                Some(_) => Ok(()),
                None => Err(format!("no Apache ZooKeeper files in {}", config.data_dir.display())),
            }
        }),
        Command::Export { config, to } => read_config(&config)
            .and_then(|config| migrate::export(&config, &RealDisk, &to).map_err(|e| format!("export failed: {e}"))),
        Command::SnapshotPrint { file, json } => inspect::print_snapshot(&file, json).map(print_output),
        Command::TxnlogPrint { file, json } => inspect::print_txnlog(&file, json).map(print_output),
        #[cfg(not(madsim))]
        Command::StartForeground { config } => {
            zab_net::cli::control::load(config).and_then(|(path, _)| run_server(Some(path)))
        }
        #[cfg(not(madsim))]
        Command::Cli { .. }
        | Command::Start { .. }
        | Command::Stop { .. }
        | Command::Restart { .. }
        | Command::Status { .. }
        | Command::PrintCmd { .. } => unreachable!("handled above"),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("zab: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run_server(path: Option<PathBuf>) -> Result<(), String> {
    let config = match &path {
        Some(path) => read_config(path)?,
        None => ServerConfig::standalone_default(),
    };
    let disk = RealDisk;
    let recovered =
        migrate::recover_or_import(&config, &disk, now_millis()).map_err(|e| format!("recovery failed: {e}"))?;
    for warning in &recovered.warnings {
        tracing::warn!("recovery repaired: {warning}");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    runtime.block_on(async move {
        let listener = bind(&config).await.map_err(|e| e.to_string())?;
        let address = listener.local_addr().map_err(|e| e.to_string())?;
        let dirs = config.storage_dirs();
        let (snaps, logs) = (dirs.snap_dir(), dirs.log_dir());
        match (config.is_replicated(), config.own_server()) {
            (true, Some(own)) => println!(
                "zab {} server.{} of {}: clients on {address}, quorum port {}, election port {}",
                env!("CARGO_PKG_VERSION"),
                own.id,
                config.servers.len(),
                own.quorum_port,
                own.election_port
            ),
            _ => println!("zab {} standalone: listening on {address}", env!("CARGO_PKG_VERSION")),
        }
        println!("data: snapshots in {}, log in {}", snaps.display(), logs.display());
        tracing::info!(%address, zxid = %recovered.node.last_zxid(), "serving");
        serve(config, disk, recovered, listener, shutdown_signal()).await.map_err(|e| e.to_string())
    })?;
    tracing::info!("stopped: log synced");
    Ok(())
}

/// Reads a zoo.cfg. Warnings (unknown keys, ...) are logged by the parser, each naming its key
/// and line.
fn read_config(path: &Path) -> Result<ServerConfig, String> {
    Ok(ServerConfig::from_file(path).map_err(|e| format!("invalid configuration: {e}"))?.0)
}

/// The zkServer.sh-like commands but start-foreground, with their exit statuses; `None` for
/// the others.
#[cfg(not(madsim))]
fn control(command: &Command) -> Option<ExitCode> {
    use zab_net::cli::control;
    type Action = fn(&Path, &ServerConfig) -> Result<i32, String>;
    let (config, action): (&Option<PathBuf>, Action) = match command {
        Command::Start { config } => (config, control::start),
        Command::Stop { config } => (config, control::stop),
        Command::Restart { config } => (config, |path, config| {
            control::stop(path, config)?;
            control::start(path, config)
        }),
        Command::Status { config } => (config, control::status),
        Command::PrintCmd { config } => (config, control::print_cmd),
        _ => return None,
    };
    let result = control::load(config.clone()).and_then(|(path, config)| action(&path, &config));
    Some(match result {
        Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Err(message) => {
            eprintln!("zab: {message}");
            ExitCode::FAILURE
        }
    })
}

/// Prints a tool's output; a closed pipe (`| head`) ends the output quietly.
fn print_output(text: String) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{text}").and_then(|()| stdout.flush());
}

/// Completes at SIGTERM or SIGINT.
async fn shutdown_signal() {
    let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(signal) => signal,
        Err(error) => {
            tracing::warn!("cannot watch SIGTERM: {error}; stop the server with SIGINT (Ctrl-C) instead");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = terminate.recv() => tracing::info!("SIGTERM: stopping"),
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: stopping"),
    }
}
