//! The `zab` binary: `zab server [--config zoo.cfg]`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;
use zab_net::config::ServerConfig;
use zab_net::server::{bind, now_millis, recover_node, serve};
use zab_net::storage::RealDisk;

/// A ZooKeeper-compatible coordination service.
#[derive(Parser, Debug)]
#[command(name = "zab", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Runs a server. Without --config: standalone on 127.0.0.1:2181, data in ./zab-data.
    Server {
        /// A ZooKeeper zoo.cfg.
        #[arg(long, value_name = "PATH")]
        config: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours only on a terminal: log files and test harnesses get plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi).init();
    let Command::Server { config } = Cli::parse().command;
    match run_server(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("zab: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run_server(path: Option<PathBuf>) -> Result<(), String> {
    let config = match &path {
        // Warnings (unknown keys, ...) are logged by the parser, each naming its key and line.
        Some(path) => ServerConfig::from_file(path).map_err(|e| format!("invalid configuration: {e}"))?.0,
        None => ServerConfig::standalone_default(),
    };
    let disk = RealDisk;
    let recovered = recover_node(&config, &disk, now_millis()).map_err(|e| format!("recovery failed: {e}"))?;
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

/// Completes at SIGTERM or SIGINT.
async fn shutdown_signal() {
    let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(signal) => signal,
        Err(error) => {
            tracing::warn!("cannot watch SIGTERM: {error}");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = terminate.recv() => tracing::info!("SIGTERM: stopping"),
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: stopping"),
    }
}
