//! Tier 2 of the simulation: the real server code (`zab-net`: TCP framing on 2181/2888/3888,
//! connection tasks, the core task, the persister, timers, election and quorum links) inside
//! madsim, with simulated TCP, time and node crashes, driven by seeds.
//!
//! Each seed runs one ensemble (3 or 5 servers, each on its own madsim node with a
//! [`zab_net::storage::MemDisk`] that survives kills), a few clients (tier 1's sans-IO
//! clients over zab's own async client, each on its own node) and an observer of the servers
//! (`srvr` polls and the servers' log lines, `observer.rs`). The fault schedule runs two to
//! four simulated minutes: bursts of faults (kills, power failures, isolated servers and
//! clients, partitions), each healed and followed by a quiet stretch. After each heal a
//! leader must serve within [`LEADER_MS_MAX`] and every server within [`SYNC_MS_MAX`] of it
//! (`checker::recovery`), and from [`STRETCH_SETTLE_MS`] on the stretch is judged like the
//! quiet phase. After the last, every client must complete a write (liveness);
//! then a quiet phase of [`QUIET_MS`] (three times the longest timer in the server) under the
//! full workload must pass `checker::availability`: no connection drop, no session expiry,
//! no service error, every request answered within [`ANSWER_BOUND_TICKS`] ticks; no
//! election, no peer link closed, no member leaving service. Tier 1's history checkers judge
//! the whole run.
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
mod observer;
mod wall_clock;

use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use madsim::runtime::Handle;
use madsim_tokio::time::sleep;
use zab_core::constants::{ELECTION_FINALIZE_WAIT_MS, ELECTION_NOTIFICATION_TIMEOUT_MS_MAX_DEFAULT};
use zab_sim::checker::availability::{self, QuietWindow};
use zab_sim::checker::recovery::{self, Recovery};
use zab_sim::checker::{check_history, liveness, Violation};
use zab_sim::options::{OpMix, Options};
use zab_sim::rng::{SimRng, Stream};

use clients::{start_client, ClientWorld, World};
use cluster::{Cluster, ServerErrors};
use observer::LogSink;

/// Shortest and longest fault schedule (bursts and the quiet stretches between them), ms.
const SCHEDULE_MS_MIN: u64 = 120_000;
/// See [`SCHEDULE_MS_MIN`].
const SCHEDULE_MS_MAX: u64 = 240_000;
/// Simulated time the clients have after the last heal to each complete a write, ms.
const LIVENESS_MS_MAX: u64 = 30_000;
/// The servers' tickTime, ms; initLimit and syncLimit are 10 and 5 ticks (`cluster.rs`).
const TICK_MS: u64 = 200;
/// The longest timer a serving server arms: the client handshake deadline (10 s), and the
/// election link's handshake deadline (5 s) and the quorum link's first-packet deadline
/// (initLimit, 2 s) are shorter, as are the session timeout (at most maxSessionTimeout, 20
/// ticks = 4 s), syncLimit (1 s), the election links' redial backoff (at most 1 s,
/// `peers.rs`) and the container check (1 s). The broken runtime's link lifetime (10 s)
/// counts too, so the quiet phase outlives it three times.
const SERVING_TIMER_MS_MAX: u64 = max(
    max(
        zab_core::constants::ELECTION_HANDSHAKE_TIMEOUT_MS,
        zab_net::server::peers::BROKEN_LINK_LIFETIME_MAX.as_millis() as u64,
    ),
    zab_net::server::connection::HANDSHAKE_TIMEOUT.as_millis() as u64,
);
/// The longest timer in the server: FLE's notification timeout doubles up to 60 s while a
/// server is LOOKING (autopurge, hours, is off).
const TIMER_MS_MAX: u64 = max(SERVING_TIMER_MS_MAX, ELECTION_NOTIFICATION_TIMEOUT_MS_MAX_DEFAULT);
/// The quiet phase at the end of every seed: longer than three times the longest timer in the
/// server, so any timer that ends healthy links, sessions, connections or roles fires in it,
/// and every link, session and connection of the phase outlives every timer.
const QUIET_MS: u64 = 3 * TIMER_MS_MAX + 5_000;
/// In the quiet phase every request is answered within this many ticks (syncLimit: a
/// follower that has not heard from its leader for that long gives it up).
const ANSWER_BOUND_TICKS: u64 = 5;
/// The election links' longest redial backoff (`DIAL_BACKOFF_MS_MAX` in peers.rs), ms.
const REDIAL_MS_MAX: u64 = 1_000;
/// After a heal, a leader serves within this many ms: the election links redial, a vote
/// round ends after the finalize wait, discovery and sync take at most initLimit; twice that,
/// for a first round that a server rejoining late overturns; plus one poll.
const LEADER_MS_MAX: u64 = 2 * (REDIAL_MS_MAX + ELECTION_FINALIZE_WAIT_MS + 10 * TICK_MS) + observer::POLL_MS;
/// After the leader, every live server serves within this many ms: its election links
/// redial, it learns the leader within a finalize wait, and it syncs within initLimit (the
/// leader's bound on a learner's sync); plus one poll.
const SYNC_MS_MAX: u64 = REDIAL_MS_MAX + ELECTION_FINALIZE_WAIT_MS + 10 * TICK_MS + observer::POLL_MS;

/// How long clients use one generation of register paths, ms: at the fastest drawn load a
/// path sees fewer than the 300 operations the linearizability checker searches in that time.
const KEY_GENERATION_MS: u64 = 3_000;
/// A quiet stretch is judged like the quiet phase from this long after its heal on: the
/// recovery bounds, then a session timeout (maxSessionTimeout, 20 ticks) for a client cut off
/// in the burst to find its session expired and start a new one.
const STRETCH_SETTLE_MS: u64 = LEADER_MS_MAX + SYNC_MS_MAX + 20 * TICK_MS;

const fn max(a: u64, b: u64) -> u64 {
    if a > b {
        a
    } else {
        b
    }
}

const _: () = assert!(QUIET_MS > 3 * TIMER_MS_MAX);
const _: () = assert!(faults::STRETCH_MS_MIN > SERVING_TIMER_MS_MAX + LEADER_MS_MAX + SYNC_MS_MAX);
const _: () = assert!(faults::STRETCH_MS_MIN > STRETCH_SETTLE_MS + 10 * ANSWER_BOUND_TICKS * TICK_MS);
const _: () = assert!(SCHEDULE_MS_MIN < SCHEDULE_MS_MAX);

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
    let broken = [
        (zab_net::server::core::BROKEN_REPLY_BEFORE_PERSIST, " --features zab-net/broken-reply-before-persist"),
        (zab_net::server::peers::BROKEN_LINK_LIFETIME, " --features zab-net/broken-link-lifetime"),
    ];
    let features: String = broken.iter().filter(|(on, _)| *on).map(|(_, flag)| *flag).collect();
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
    options.tick_time_ms = TICK_MS;
    options.session_timeout_ms = 2_000;
    options.snap_count = rng.range(20, 200);
    options
}

/// What a run went through, for the verdict.
struct Phases {
    schedule: faults::Schedule,
    /// When the schedule's last heal was, ms.
    heal_ms: u64,
    /// The end of the liveness phase.
    liveness_deadline_ms: u64,
    quiet: QuietWindow,
}

/// One seed: the ensemble, the clients and the observer; the fault schedule; the liveness
/// phase; the quiet phase; the checkers.
async fn run(servers: usize) -> Outcome {
    let handle = Handle::current();
    let seed = handle.seed();
    let options = options(seed, servers);
    let errors = ServerErrors::default();
    let world = Arc::new(Mutex::new(ClientWorld::new(&options)));
    let observer = observer::observer(world.lock().expect("world").start());
    // madsim runs the whole seed on this thread, so the sink hears every server.
    let _sink = tracing::subscriber::set_default(LogSink::new(&observer));
    let mut cluster = Cluster::start(&handle, servers, &options, &errors);
    observer::watch_servers(&observer, cluster.node_ids());
    let _pollers = observer::start_pollers(&handle, servers, &observer);
    let client_nodes: Vec<_> =
        (0..options.clients).map(|index| start_client(&handle, index, servers, world.clone())).collect();
    madsim_tokio::spawn(next_key_generations(world.clone()));
    let mut rng = SimRng::new(seed, Stream::Faults);
    let length = Duration::from_millis(rng.range(SCHEDULE_MS_MIN, SCHEDULE_MS_MAX));
    let schedule = faults::schedule(&mut cluster, &client_nodes, &world, &mut rng, length).await;
    let heal_ms = *schedule.heals_ms.last().expect("the schedule has a burst");
    let liveness_deadline_ms = liveness_phase(&world, options.clients, heal_ms).await;
    let quiet = quiet_phase(&world, heal_ms).await;
    let history = {
        let mut world = world.lock().expect("world");
        world.stop = true;
        world.history.clone()
    };
    let phases = Phases { schedule, heal_ms, liveness_deadline_ms, quiet };
    let observed = observer.lock().expect("observer");
    judge(&history, &options, &phases, &observed, &errors)
}

/// Moves the clients to fresh register paths every [`KEY_GENERATION_MS`], for as long as the
/// run lasts: the linearizability checker searches only the first 300 operations of a path.
async fn next_key_generations(world: World) {
    loop {
        sleep(Duration::from_millis(KEY_GENERATION_MS)).await;
        world.lock().expect("world").shared.key_generation += 1;
    }
}

/// Register writes only, until every client completed one after the heal (or the deadline);
/// returns the deadline.
async fn liveness_phase(world: &World, clients: usize, heal_ms: u64) -> u64 {
    {
        let mut world = world.lock().expect("world");
        world.shared.liveness = true;
        world.network.heal();
    }
    let deadline_ms = heal_ms + LIVENESS_MS_MAX;
    loop {
        sleep(Duration::from_millis(500)).await;
        let world = world.lock().expect("world");
        let now = world.now_ms();
        if liveness::check(&world.history, clients, heal_ms, now).is_empty() || now >= deadline_ms {
            return deadline_ms;
        }
    }
}

/// The full workload again (at the quiet rate), faults over and the ensemble recovered: from
/// the later of now and the recovery deadline, [`QUIET_MS`] of it.
async fn quiet_phase(world: &World, heal_ms: u64) -> QuietWindow {
    let now_ms = world.lock().expect("world").now_ms();
    let from_ms = now_ms.max(heal_ms + LEADER_MS_MAX + SYNC_MS_MAX);
    sleep(Duration::from_millis(from_ms - now_ms)).await;
    {
        let mut world = world.lock().expect("world");
        world.shared.liveness = false;
        world.set_think_factor(faults::QUIET_THINK_FACTOR);
    }
    let quiet = QuietWindow { from_ms, to_ms: from_ms + QUIET_MS, answer_bound_ms: ANSWER_BOUND_TICKS * TICK_MS };
    sleep(Duration::from_millis(QUIET_MS)).await;
    quiet
}

fn judge(
    history: &zab_sim::history::History,
    options: &Options,
    phases: &Phases,
    observed: &observer::Observed,
    errors: &ServerErrors,
) -> Outcome {
    let (found, coverage) = check_history(history);
    let mut violations: Vec<String> = found.iter().map(ToString::to_string).collect();
    let late = liveness::check(history, options.clients, phases.heal_ms, phases.liveness_deadline_ms);
    violations.extend(late.iter().map(ToString::to_string));
    violations.extend(availability_violations(history, options, phases, observed).iter().map(ToString::to_string));
    violations.extend(errors.lock().expect("errors").iter().map(|e| format!("[server] {e}")));
    let completed = history.ops.iter().filter(|op| op.completion.is_some()).count();
    let summary = format!(
        "servers={} clients={} ops={} completed={} linearizable_ops={} unknown_paths={} {} bursts={} end={}ms {}",
        options.servers,
        options.clients,
        history.ops.len(),
        completed,
        coverage.linearizable_ops,
        coverage.linearizable_unknown_paths,
        phases.schedule.faults.summary(),
        phases.schedule.heals_ms.len(),
        phases.quiet.to_ms,
        measured(history, phases, observed),
    );
    let mut hasher = std::hash::DefaultHasher::new();
    format!("{:?}{:?}", history.ops, history.observations).hash(&mut hasher);
    format!("{:?}{:?}", observed.samples, observed.logged).hash(&mut hasher);
    let history_hash = hasher.finish();
    HASHES.lock().expect("hashes").push((options.servers, options.seed, history_hash));
    Outcome { violations, summary, history_hash }
}

/// Recovery after every heal; the quiet phase, on the clients' side and the servers'.
fn availability_violations(
    history: &zab_sim::history::History,
    options: &Options,
    phases: &Phases,
    observed: &observer::Observed,
) -> Vec<Violation> {
    let live: Vec<usize> = (0..options.servers).collect();
    let mut violations = Vec::new();
    for heal_ms in &phases.schedule.heals_ms {
        let bounds = Recovery { heal_ms: *heal_ms, leader_ms_max: LEADER_MS_MAX, sync_ms_max: SYNC_MS_MAX };
        violations.extend(recovery::check(&observed.samples, &live, &bounds));
    }
    let events = observed.server_events();
    for window in quiet_windows(phases) {
        violations.extend(availability::check_clients(history, &window));
        violations.extend(availability::check_servers(&events, &window));
    }
    for server in observed.deaf_to() {
        let message = format!("never heard n{server} log LOOKING: the log sink is deaf, the quiet phase blind");
        violations.push(Violation { checker: "observer", message });
    }
    violations
}

/// The quiet phase, and the settled part of every quiet stretch: from [`STRETCH_SETTLE_MS`]
/// after its heal to the next burst.
fn quiet_windows(phases: &Phases) -> Vec<QuietWindow> {
    let stretches = phases.schedule.stretches_ms.iter().map(|(heal_ms, end_ms)| QuietWindow {
        from_ms: heal_ms + STRETCH_SETTLE_MS,
        to_ms: *end_ms,
        answer_bound_ms: phases.quiet.answer_bound_ms,
    });
    stretches.chain([phases.quiet]).collect()
}

/// What the run measured, for the summary: the slowest answer in the quiet phase, the slowest
/// leader after a heal and the slowest member after its leader, ms.
fn measured(history: &zab_sim::history::History, phases: &Phases, observed: &observer::Observed) -> String {
    let window = &phases.quiet;
    let answer_ms = history
        .ops
        .iter()
        .filter(|op| op.invoked_ms >= window.from_ms && op.invoked_ms < window.to_ms)
        .filter_map(|op| op.completion.as_ref().map(|c| c.at_ms - op.invoked_ms))
        .max()
        .unwrap_or(0);
    let mut leader_ms = 0;
    let mut sync_ms = 0;
    for heal_ms in &phases.schedule.heals_ms {
        let after = || observed.samples.iter().filter(|s| s.at_ms >= *heal_ms);
        let Some(leader) = after().find(|s| s.serving && s.leading) else { continue };
        leader_ms = leader_ms.max(leader.at_ms - heal_ms);
        let servers = observed.samples.iter().map(|s| s.server).max().unwrap_or(0) + 1;
        for server in 0..servers {
            if let Some(serving) = after().find(|s| s.server == server && s.serving) {
                sync_ms = sync_ms.max(serving.at_ms.saturating_sub(leader.at_ms));
            }
        }
    }
    format!(
        "quiet_answer_ms_max={answer_ms} leader_after_heal_ms_max={leader_ms} serving_after_leader_ms_max={sync_ms}"
    )
}
