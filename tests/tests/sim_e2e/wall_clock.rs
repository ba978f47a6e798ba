//! Issue F item 6 in tier 2: the real server steps its wall clock by an hour, forward or back
//! (drawn from the seed), on one server of a healthy ensemble under the clients' workload.
//! The server's timers must run on its monotonic clock, so no session may expire: from the
//! step on, no client sees its session expire (every client keeps pinging: there is no other
//! fault), and every client completes a write after the step. Tier 1's history checkers
//! judge the run as in the fault runs. (Lost connections are no evidence here: the workload
//! closes sessions and reconnects on its own.)
//!
//! The step goes through `zab_net::server::step_wall_clock`, run on the server's own madsim
//! node (the hook keeps steps per simulated node). Checked by breaking it: with the server's
//! timers on the wall clock, seeds whose leader steps forward fail with expired sessions.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use madsim::runtime::Handle;
use madsim_tokio::time::sleep;
use zab_sim::history::{History, Observation};
use zab_sim::rng::{SimRng, Stream};

use crate::clients::{start_client, ClientWorld};
use crate::cluster::{Cluster, ServerErrors};
use crate::Outcome;

/// When the step strikes, ms after the start: the ensemble is up and the clients connected.
const STEP_AT_MS_MIN: u64 = 3_000;
const STEP_AT_MS_MAX: u64 = 6_000;
/// How long the run goes on after the step: many session timeouts (2 s) and syncLimits (1 s).
const AFTER_STEP_MS: u64 = 8_000;
/// The size of the step.
const STEP_MS: i64 = 3_600_000;
/// Added to the server count to key this test's history hashes apart from the fault runs'
/// (`crate::HASHES`; both may run the same seed at once).
pub const HASH_KEY_OFFSET: usize = 100;

/// One seed: a healthy ensemble of `servers`, one wall-clock step, and the verdict.
pub async fn run(servers: usize) -> Outcome {
    let handle = Handle::current();
    let seed = handle.seed();
    zab_net::server::reset_wall_clock_steps();
    let options = crate::options(seed, servers);
    let errors = ServerErrors::default();
    let cluster = Cluster::start(&handle, servers, &options, &errors);
    let world = Arc::new(Mutex::new(ClientWorld::new(&options)));
    let _clients: Vec<_> =
        (0..options.clients).map(|index| start_client(&handle, index, servers, world.clone())).collect();
    let mut rng = SimRng::new(seed, Stream::WallClock);
    sleep(Duration::from_millis(rng.range(STEP_AT_MS_MIN, STEP_AT_MS_MAX))).await;
    // Half the seeds step the first leader (with equal logs the highest id wins): session
    // expiry is the leader's, so that is where a step forward would expire sessions.
    let server = if rng.chance(0.5) { servers - 1 } else { rng.range(0, servers as u64 - 1) as usize };
    let delta_ms = if rng.chance(0.5) { STEP_MS } else { -STEP_MS };
    let step_ms = world.lock().expect("world").now_ms();
    let stepped = cluster.servers[server].node.spawn(async move { zab_net::server::step_wall_clock(delta_ms) });
    stepped.await.expect("the step ran on the server's node");
    sleep(Duration::from_millis(AFTER_STEP_MS)).await;
    let (history, end_ms) = {
        let mut world = world.lock().expect("world");
        world.stop = true;
        (world.history.clone(), world.now_ms())
    };
    verdict(&history, &options, &errors, server, delta_ms, (step_ms, end_ms))
}

/// Tier 1's checkers, every client completing a write after the step, no server error, and
/// no disturbance after the step.
fn verdict(
    history: &History,
    options: &zab_sim::options::Options,
    errors: &ServerErrors,
    server: usize,
    delta_ms: i64,
    (step_ms, end_ms): (u64, u64),
) -> Outcome {
    let (found, coverage) = zab_sim::checker::check_history(history);
    let mut violations: Vec<String> = found.iter().map(ToString::to_string).collect();
    let progress = zab_sim::checker::liveness::check(history, options.clients, step_ms, end_ms);
    violations.extend(progress.iter().map(ToString::to_string));
    violations.extend(errors.lock().expect("errors").iter().map(|e| format!("[server] {e}")));
    violations.extend(disturbances_after(history, step_ms));
    let summary = format!(
        "servers={} clients={} ops={} linearizable_ops={} wall-clock step {delta_ms:+} ms on server {} at {step_ms} ms",
        options.servers,
        options.clients,
        history.ops.len(),
        coverage.linearizable_ops,
        server + 1
    );
    let mut hasher = std::hash::DefaultHasher::new();
    std::hash::Hash::hash(&format!("{:?}{:?}", history.ops, history.observations), &mut hasher);
    let history_hash = std::hash::Hasher::finish(&hasher);
    let key = options.servers + HASH_KEY_OFFSET;
    crate::HASHES.lock().expect("hashes").push((key, options.seed, history_hash));
    Outcome { violations, summary, history_hash }
}

/// Session expiries any client observed at or after `step_ms`.
fn disturbances_after(history: &History, step_ms: u64) -> Vec<String> {
    history
        .observations
        .iter()
        .filter(|(_, at, _, _)| *at >= step_ms)
        .filter_map(|(_, at, client, observation)| match observation {
            Observation::SessionExpired { session } => {
                Some(format!("[wall_clock] c{client} saw session {session} expire at {at} ms"))
            }
            _ => None,
        })
        .collect()
}
