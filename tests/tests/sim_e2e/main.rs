//! Tier 2 of the simulation: the real server code (`zab-net`: TCP framing on 2181/2888/3888,
//! connection tasks, the core task, the persister, timers, election and quorum links) inside
//! madsim, with simulated TCP, time and node crashes, driven by seeds.
//!
//! Each seed runs one ensemble (3 or 5 servers, each on its own madsim node with a
//! [`zab_net::storage::MemDisk`] that survives kills) and a few clients (tier 1's sans-IO
//! clients over zab's own async client, each on its own node). A safety phase injects faults
//! (kills, power failures, isolated servers and clients, partitions); then everything heals
//! and every client must complete a write (liveness). Tier 1's history checkers judge the run.
//!
//! Built only with `RUSTFLAGS="--cfg madsim"` (in `target/madsim`); without it this file is
//! empty. Environment: `MADSIM_TEST_SEED` (first seed, default 1), `MADSIM_TEST_NUM` (seeds,
//! default 10), `MADSIM_TEST_CHECK_DETERMINISM` (run each seed twice: madsim compares every
//! random draw, and the two histories must hash the same). Every failing seed prints a
//! `replay:` line. `just sim-e2e` runs the CI sweep.
#![cfg(madsim)]

mod clients;
mod cluster;
mod faults;
mod wall_clock;

use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use madsim::runtime::Handle;
use madsim_tokio::time::{sleep, Instant};
use zab_sim::checker::{check_history, liveness};
use zab_sim::options::{OpMix, Options};
use zab_sim::rng::{SimRng, Stream};

use clients::{start_client, ClientWorld};
use cluster::{Cluster, ServerErrors};

/// Simulated length of the safety phase, ms.
const SAFETY_MS: u64 = 12_000;
/// Simulated time the clients have after the heal to each complete a write, ms.
const LIVENESS_MS_MAX: u64 = 30_000;

/// What one seed's run found.
#[derive(Debug)]
struct Outcome {
    /// Violations (empty: the seed passed).
    violations: Vec<String>,
    /// One line: options, faults, operations checked.
    summary: String,
    /// Hash of the whole client history: the same seed must give the same hash.
    history_hash: u64,
}

/// History hashes of finished runs, for the determinism check: (servers, seed, hash). Both
/// tests may run at once, so each takes only its own entries.
static HASHES: Mutex<Vec<(usize, u64, u64)>> = Mutex::new(Vec::new());

fn three_servers() -> impl std::future::Future<Output = Outcome> {
    run(3)
}

fn five_servers() -> impl std::future::Future<Output = Outcome> {
    run(5)
}

#[test]
fn ensemble_of_three_under_faults() {
    sweep("ensemble_of_three_under_faults", 3, three_servers);
}

#[test]
fn ensemble_of_five_under_faults() {
    sweep("ensemble_of_five_under_faults", 5, five_servers);
}

/// One server's wall clock steps by ±1 h in a healthy ensemble: nothing may happen.
#[test]
fn ensemble_of_three_with_a_wall_clock_step() {
    let key = 3 + wall_clock::HASH_KEY_OFFSET;
    sweep("ensemble_of_three_with_a_wall_clock_step", key, || wall_clock::run(3));
}

/// Runs seeds `MADSIM_TEST_SEED..+MADSIM_TEST_NUM`, each in a fresh madsim runtime; reports
/// every failing seed with its replay line, then fails if any did.
fn sweep<F>(test: &str, servers: usize, run: fn() -> F)
where
    F: std::future::Future<Output = Outcome> + 'static,
{
    let first: u64 = env_number("MADSIM_TEST_SEED", 1);
    let count: u64 = env_number("MADSIM_TEST_NUM", 10);
    let check = std::env::var("MADSIM_TEST_CHECK_DETERMINISM").is_ok();
    let started = std::time::Instant::now();
    let mut failed = Vec::new();
    for seed in first..first + count {
        let result = run_seed(seed, servers, check, run);
        match result {
            Ok(outcome) if outcome.violations.is_empty() => {
                println!("seed {seed}: ok {} history={:016x}", outcome.summary, outcome.history_hash);
            }
            Ok(outcome) => {
                println!("seed {seed}: FAILED {}", outcome.summary);
                outcome.violations.iter().take(10).for_each(|v| println!("  {v}"));
                failed.push(seed);
            }
            Err(panic) => {
                println!("seed {seed}: FAILED panic: {panic}");
                failed.push(seed);
            }
        }
        if failed.last() == Some(&seed) {
            println!("replay: {}", replay_line(test, seed));
        }
    }
    let check_note = if check { ", determinism checked (every seed twice)" } else { "" };
    println!("{test}: {count} seeds, {} failed, {:.1}s{check_note}", failed.len(), started.elapsed().as_secs_f64());
    assert!(failed.is_empty(), "failing seeds: {failed:?} (replay lines above)");
}

/// One seed in its own runtime; with `check`, twice, and both runs must agree.
fn run_seed<F>(seed: u64, servers: usize, check: bool, run: fn() -> F) -> Result<Outcome, String>
where
    F: std::future::Future<Output = Outcome> + 'static,
{
    let mut builder = madsim::runtime::Builder::from_env();
    builder.seed = seed;
    builder.count = 1;
    builder.check = check;
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| builder.run(run)));
    let mut outcome = result.map_err(|panic| panic_message(&panic))?;
    let hashes: Vec<u64> = {
        let mut all = HASHES.lock().expect("hashes");
        let (mine, others): (Vec<_>, Vec<_>) =
            all.drain(..).partition(|(s, run_seed, _)| *s == servers && *run_seed == seed);
        *all = others;
        mine.into_iter().map(|(_, _, hash)| hash).collect::<Vec<_>>()
    };
    if check && (hashes.len() != 2 || hashes[0] != hashes[1]) {
        outcome.violations.push(format!("[determinism] the two runs of seed {seed} differ: {hashes:x?}"));
    }
    Ok(outcome)
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    match (panic.downcast_ref::<String>(), panic.downcast_ref::<&str>()) {
        (Some(message), _) => message.clone(),
        (None, Some(message)) => message.to_string(),
        (None, None) => "(no message)".into(),
    }
}

fn replay_line(test: &str, seed: u64) -> String {
    let features = match zab_net::server::core::BROKEN_REPLY_BEFORE_PERSIST {
        true => " --features zab-net/broken-reply-before-persist",
        false => "",
    };
    format!(
        "MADSIM_TEST_SEED={seed} MADSIM_TEST_NUM=1 CARGO_TARGET_DIR=target/madsim RUSTFLAGS=\"--cfg madsim\" \
         cargo test -p zab-tests --test sim_e2e{features} -- --exact {test} --nocapture"
    )
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The run's options: tier 1's, drawn from the seed, in this tier's timing.
fn options(seed: u64, servers: usize) -> Options {
    let mut rng = SimRng::new(seed, Stream::Options);
    let clients = rng.range(3, 5) as usize;
    let mut options = Options::quiet(seed, clients);
    options.servers = servers;
    options.pipeline_max = rng.range(1, 4) as usize;
    options.think_ms_mean = rng.range(10, 100);
    options.keys = rng.range(1, 3) as usize;
    let close_session = u32::from(rng.chance(0.5));
    options.op_mix = OpMix {
        register: 6,
        watch: 2,
        ephemeral: 2,
        sequential: 1,
        container: 1,
        close_session,
        multi: 2,
        watch_removal: 1,
    };
    options.tick_time_ms = 200;
    options.session_timeout_ms = 2_000;
    options.snap_count = rng.range(20, 200);
    options
}

/// One seed: the ensemble, the clients, the safety phase, the heal, the liveness phase and
/// the checkers.
async fn run(servers: usize) -> Outcome {
    let handle = Handle::current();
    let seed = handle.seed();
    let options = options(seed, servers);
    let errors = ServerErrors::default();
    let mut cluster = Cluster::start(&handle, servers, &options, &errors);
    let world = Arc::new(Mutex::new(ClientWorld::new(&options)));
    let client_nodes: Vec<_> =
        (0..options.clients).map(|index| start_client(&handle, index, servers, world.clone())).collect();
    let mut rng = SimRng::new(seed, Stream::Faults);
    let until = Instant::now() + Duration::from_millis(SAFETY_MS);
    let faults = faults::safety_phase(&mut cluster, &client_nodes, &world, &mut rng, until).await;
    faults::heal(&mut cluster, &client_nodes, &faults);
    let heal_ms = {
        let mut world = world.lock().expect("world");
        world.shared.liveness = true;
        world.network.heal();
        world.now_ms()
    };
    let deadline_ms = heal_ms + LIVENESS_MS_MAX;
    loop {
        sleep(Duration::from_millis(500)).await;
        let world = world.lock().expect("world");
        let now = world.now_ms();
        let progress = liveness::check(&world.history, options.clients, heal_ms, now);
        if progress.is_empty() || now >= deadline_ms {
            break;
        }
    }
    let history = {
        let mut world = world.lock().expect("world");
        world.stop = true;
        world.history.clone()
    };
    judge(&history, &options, &faults, &errors, heal_ms, deadline_ms)
}

fn judge(
    history: &zab_sim::history::History,
    options: &Options,
    faults: &faults::Faults,
    errors: &ServerErrors,
    heal_ms: u64,
    deadline_ms: u64,
) -> Outcome {
    let (found, coverage) = check_history(history);
    let mut violations: Vec<String> = found.iter().map(ToString::to_string).collect();
    violations.extend(liveness::check(history, options.clients, heal_ms, deadline_ms).iter().map(ToString::to_string));
    violations.extend(errors.lock().expect("errors").iter().map(|e| format!("[server] {e}")));
    let completed = history.ops.iter().filter(|op| op.completion.is_some()).count();
    let summary = format!(
        "servers={} clients={} ops={} completed={} linearizable_ops={} {}",
        options.servers,
        options.clients,
        history.ops.len(),
        completed,
        coverage.linearizable_ops,
        faults.summary()
    );
    let mut hasher = std::hash::DefaultHasher::new();
    format!("{:?}{:?}", history.ops, history.observations).hash(&mut hasher);
    let history_hash = hasher.finish();
    HASHES.lock().expect("hashes").push((options.servers, options.seed, history_hash));
    Outcome { violations, summary, history_hash }
}
