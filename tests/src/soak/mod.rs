//! A soak of the real `zab` binary: three servers, each in its own network namespace, under
//! sustained pipelined load from several sessions, watched only from outside (`srvr` on the
//! client port, the servers' log lines, what the clients see).
//!
//! One run:
//! 1. [`network::Network`] makes the namespaces; [`ensemble::Ensemble`] starts the servers;
//!    the harness thread enters the hub namespace and runs everything else on a tokio runtime
//!    there.
//! 2. [`observer::Observer`] polls `srvr` every 250 ms; once the ensemble serves,
//!    [`load::Load`] starts its sessions.
//! 3. The quiet phase: load, nothing else. Nothing may go wrong ([`SoakReport::quiet_failures`]).
//! 4. The chaos phase: each [`Fault`] in turn on a serving ensemble ([`faults::Chaos`]).
//! 5. The load stops; every acknowledged write is read back from every server
//!    ([`verify::verify`]), and the shared registers' history goes through the simulator's
//!    linearizability checker.
//!
//! Everything the run made (namespaces, processes, cgroups, files) is removed when it ends,
//! also when it fails or panics: each owner is a drop guard.

pub mod disk;
pub mod ensemble;
pub mod faults;
pub mod load;
pub mod logs;
pub mod network;
pub mod observer;
pub mod report;
pub mod verify;

pub use faults::Fault;
pub use report::{FaultReport, PhaseReport, SoakReport, Verification};

use ensemble::Ensemble;
use faults::{wait_until, Chaos, Timing};
use load::{Load, LoadOptions, Stats};
use logs::Marks;
use network::Network;
use observer::Observer;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Servers in the ensemble.
pub const SERVERS: u8 = 3;
/// How long the ensemble may take to form, and the sessions to connect.
const START_TIMEOUT_MAX: Duration = Duration::from_secs(90);
/// Load runs this long before the quiet phase starts counting (sessions settle).
const WARM_UP: Duration = Duration::from_secs(3);
/// How often a long quiet phase says how it goes.
const PROGRESS_INTERVAL: Duration = Duration::from_secs(60);
/// Log lines of role and link changes quoted in a phase's report.
const EXCERPT_LINES_MAX: usize = 20;

/// What to run.
#[derive(Clone, Debug)]
pub struct SoakOptions {
    /// Length of the quiet phase (zero: none).
    pub quiet: Duration,
    /// Faults of the chaos phase, in order (empty: none).
    pub faults: Vec<Fault>,
    /// The servers' tickTime, ms.
    pub tick_ms: u64,
    /// Concurrent sessions.
    pub sessions: usize,
    /// Requests in flight per session.
    pub depth: usize,
    /// Requests per second per session (0: as fast as answers come).
    pub rate_per_session: u32,
    /// Seeds the operation mix.
    pub seed: u64,
    /// Keep the servers' directories (configs, data, logs) here instead of a temp dir.
    pub keep_dir: Option<PathBuf>,
}

impl SoakOptions {
    /// The session timeout the clients ask for: the server's maximum, 20 ticks.
    pub fn session_timeout(&self) -> Duration {
        Duration::from_millis(self.tick_ms * 20)
    }
}

/// Microseconds since the run started, for every timestamp of a run.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    start: Instant,
}

impl Clock {
    /// A clock starting now.
    pub fn start() -> Clock {
        Clock { start: Instant::now() }
    }

    /// µs since the start.
    pub fn now_us(&self) -> u64 {
        self.start.elapsed().as_micros() as u64
    }
}

/// Runs a soak. `Err` means the harness could not run it (no namespaces, the ensemble never
/// formed, ...); what the soak found, good or bad, is in the report.
pub fn run(options: SoakOptions) -> Result<SoakReport, String> {
    // Namespaces are per thread: the soak gets a thread of its own to move into the hub.
    let worker = std::thread::Builder::new().name("zab-soak".to_string()).spawn(move || run_on_this_thread(options));
    worker.map_err(|e| e.to_string())?.join().map_err(|_| "the soak panicked".to_string())?
}

fn run_on_this_thread(options: SoakOptions) -> Result<SoakReport, String> {
    let network = Network::create(SERVERS)?;
    let temp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let root = options.keep_dir.clone().unwrap_or_else(|| temp.path().to_path_buf());
    let mut ensemble = Ensemble::start(&network, &root, options.tick_ms)?;
    network.enter_hub()?;
    let hub = network.hub();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .on_thread_start(move || {
            if let Err(error) = network::enter_namespace(&hub) {
                panic!("a soak runtime thread cannot enter the hub namespace: {error}");
            }
        })
        .build()
        .map_err(|e| e.to_string())?;
    let result = runtime.block_on(soak(&options, &mut ensemble, &network));
    // Stop the client tasks before the servers and the namespaces go.
    runtime.shutdown_timeout(Duration::from_secs(5));
    drop(ensemble);
    drop(network);
    result
}

async fn soak(options: &SoakOptions, ensemble: &mut Ensemble, network: &Network) -> Result<SoakReport, String> {
    let clock = Clock::start();
    let ids = ensemble.ids();
    let observer = Observer::start(&ids, clock);
    let formation = Marks::default();
    if !wait_until(START_TIMEOUT_MAX, || observer.all_serving(&ids)).await {
        return Err(format!("the ensemble did not form within {START_TIMEOUT_MAX:?}: {:?}", observer.observed));
    }
    check_log_format(ensemble, &formation)?;
    let load_options = LoadOptions {
        sessions: options.sessions,
        depth: options.depth,
        rate_per_session: options.rate_per_session,
        session_timeout: options.session_timeout(),
        seed: options.seed,
    };
    let load = Load::start(ensemble.connect_string(), load_options.clone(), clock).await?;
    load.wait_ready(START_TIMEOUT_MAX).await?;
    tokio::time::sleep(WARM_UP).await;
    load.take_stats();
    let timing = Timing::new(ensemble.tick_ms(), options.session_timeout());
    let mut report = SoakReport { serving_bound_ms: timing.serving_bound.as_millis() as u64, ..SoakReport::default() };
    if !options.quiet.is_zero() {
        report.quiet = Some(quiet_phase(options.quiet, ensemble, &observer, &load, clock, &mut report.crashed).await);
    }
    if !options.faults.is_empty() {
        let (start_us, marks, started) = (clock.now_us(), Marks::now(ensemble), Instant::now());
        let lost_before = observer.serving_lost();
        let mut chaos = Chaos { ensemble, network, observer: &observer, load: &load, clock, timing };
        for fault in &options.faults {
            let fault_report = chaos.run(*fault).await?;
            eprintln!("soak: {fault_report:?}");
            report.crashed.extend(crashes(chaos.ensemble));
            report.faults.push(fault_report);
        }
        let ensemble = chaos.ensemble;
        let stats = load.take_stats();
        let mut phase = phase_report("chaos", started, stats, ensemble, &marks, &observer, start_us);
        phase.serving_lost = observer.serving_lost() - lost_before;
        report.chaos = Some(phase);
    }
    let stop_timeout = options.session_timeout() * 2;
    let (written, history) = load.stop(stop_timeout).await?;
    if !wait_until(START_TIMEOUT_MAX, || observer.all_serving(&ids)).await {
        return Err("the ensemble did not serve for the final read-back".to_string());
    }
    report.verification = verify::verify(&ids, &written, &load_options).await?;
    let linearizable = zab_sim::checker::linearizable::check(&history);
    report.linearizable_ops = linearizable.ops;
    report.linearizable_unknown_paths = linearizable.unknown_paths;
    report.linearizable_violations = linearizable.violations.iter().map(ToString::to_string).collect();
    report.crashed.extend(crashes(ensemble));
    Ok(report)
}

async fn quiet_phase(
    length: Duration,
    ensemble: &mut Ensemble,
    observer: &Observer,
    load: &Load,
    clock: Clock,
    crashed: &mut Vec<String>,
) -> PhaseReport {
    let (start_us, marks, started) = (clock.now_us(), Marks::now(ensemble), Instant::now());
    let lost_before = observer.serving_lost();
    let mut progress_at = started + PROGRESS_INTERVAL;
    while started.elapsed() < length {
        tokio::time::sleep(Duration::from_secs(1).min(length)).await;
        crashed.extend(crashes(ensemble));
        if Instant::now() >= progress_at {
            progress_at += PROGRESS_INTERVAL;
            let (ok, errors, disconnects) = load.progress();
            let elections = observer.leaders_since(start_us).len();
            let elapsed = started.elapsed().as_secs();
            eprintln!(
                "soak: quiet {elapsed}/{} s: {ok} requests ok, {errors} errors, {disconnects} disconnects, {elections} elections",
                length.as_secs()
            );
        }
    }
    let stats = load.take_stats();
    let mut phase = phase_report("quiet", started, stats, ensemble, &marks, observer, start_us);
    phase.serving_lost = observer.serving_lost() - lost_before;
    phase
}

fn phase_report(
    name: &str,
    started: Instant,
    stats: Stats,
    ensemble: &Ensemble,
    marks: &Marks,
    observer: &Observer,
    start_us: u64,
) -> PhaseReport {
    let lines = logs::lines_since(ensemble, marks);
    let (replica_state_lines, link_events) = logs::count(&lines);
    let latency = &stats.latency_us;
    PhaseReport {
        name: name.to_string(),
        seconds: started.elapsed().as_secs_f64(),
        reads: stats.reads,
        writes: stats.writes,
        errors: stats.errors,
        disconnects: stats.disconnects,
        expirations: stats.expirations,
        elections: observer.leaders_since(start_us).len(),
        serving_lost: 0,
        replica_state_lines,
        link_events,
        p50_us: latency.value_at_quantile(0.5),
        p99_us: latency.value_at_quantile(0.99),
        p999_us: latency.value_at_quantile(0.999),
        max_us: latency.max(),
        log_excerpt: logs::excerpt(&lines, EXCERPT_LINES_MAX),
    }
}

fn crashes(ensemble: &mut Ensemble) -> Vec<String> {
    ensemble.exited().into_iter().map(|(id, status)| format!("server {id} exited on its own: {status}")).collect()
}

/// Fails if forming the ensemble did not log the lines the soak counts (renamed?).
fn check_log_format(ensemble: &Ensemble, formation: &Marks) -> Result<(), String> {
    let lines = logs::lines_since(ensemble, formation);
    for expected in logs::FORMATION_LINES {
        if !lines.iter().any(|line| line.contains(expected)) {
            return Err(format!(
                "no server logged \"{expected}\" while the ensemble formed: the log lines changed, \
                 update tests/src/soak/logs.rs"
            ));
        }
    }
    Ok(())
}
