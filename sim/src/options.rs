//! Options drawn from the seed: swarm testing (Groce et al., ISSTA 2012; TigerBeetle's
//! `options_swarm`). Each run switches on a random subset of faults at random rates, so one
//! seed sweep covers quiet runs, single-fault runs and storms.

use crate::rng::{SimRng, Stream};

/// How much of the unsynced log survives a crash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CrashMode {
    /// Nothing that was not fsync'd survives.
    LoseUnsynced,
    /// A random prefix of the unsynced records made it to disk whole (the page cache was
    /// flushed in part before power went).
    KeepPrefix,
    /// A random prefix survives and the next record is torn: recovery must detect and drop it.
    TearTail,
    /// Every unsynced log write is lost but unsynced epoch files survive (they are other
    /// files, renamed into place): the worst reordering a careless driver allows.
    KeepEpochFilesOnly,
}

/// A deliberately broken driver, to prove each checker can fail inside a whole run. From a
/// checker's point of view a driver that acknowledges early or loses a record is the same
/// as a node that does; the core's own code stays untouched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mutant {
    /// Reports a write persisted as soon as it is written, before its fsync.
    AckBeforeFsync,
    /// Recovery forgets closeSession records: expired sessions and their ephemerals come back.
    RecoverWithoutCloseSession,
    /// Replies may overtake earlier replies on the same connection.
    ReorderReplies,
    /// Half of the watch events are dropped.
    DropWatchEvents,
    /// Every watch event is delivered twice.
    DuplicateWatchEvents,
    /// At the heal the node crashes and never restarts.
    NoRestartAfterHeal,
    /// TRUNC is acknowledged but never done: the divergent records come back at the next
    /// restart or rebuild (ensembles).
    IgnoreTruncate,
}

/// Which kinds of client operation a run issues, as weights.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpMix {
    /// create / delete / setData / read-after-sync on the linearizability keys.
    pub register: u32,
    /// Reads that leave one-shot watches, and addWatch.
    pub watch: u32,
    /// Ephemeral creates and reads of ephemerals.
    pub ephemeral: u32,
    /// Sequential creates.
    pub sequential: u32,
    /// Container creates and their children.
    pub container: u32,
    /// Closing the session (the client then opens a new one).
    pub close_session: u32,
    /// `multi` transactions on the registers (and now and then an ephemeral plus a
    /// sequential create), and `multiRead`s of registers after a sync.
    pub multi: u32,
    /// `removeWatches` and `checkWatches`.
    pub watch_removal: u32,
}

/// Everything about a run that the seed decides before the run starts.
#[derive(Clone, Debug)]
pub struct Options {
    /// The seed.
    pub seed: u64,
    /// Simulated clients.
    pub clients: usize,
    /// Requests a client keeps outstanding at most (pipelining).
    pub pipeline_max: usize,
    /// Mean time between a client's operations, ms.
    pub think_ms_mean: u64,
    /// Keys of the linearizability registers (`/k0`, `/k1`, ...).
    pub keys: usize,
    /// The operation mix.
    pub op_mix: OpMix,
    /// The node's `tickTime`, ms.
    pub tick_time_ms: u64,
    /// Session timeout the clients ask for, ms.
    pub session_timeout_ms: i32,
    /// Container sweep interval, ms.
    pub container_check_interval_ms: u64,
    /// Transactions between snapshots.
    pub snap_count: u64,
    /// Length of the safety phase (faults on), ms.
    pub safety_ms: u64,
    /// Time allowed after healing for every client to complete a write, ms.
    pub liveness_ms_max: u64,
    /// One-way latency floor, ms.
    pub latency_ms_min: u64,
    /// Mean of the exponential part of the latency, ms.
    pub latency_ms_mean: u64,
    /// Chance that a message breaks its connection instead of arriving (TCP loss = drop).
    pub drop_probability: f64,
    /// Mean time between clogs (all links slow down), ms; `None` = no clogs.
    pub clog_interval_ms_mean: Option<u64>,
    /// Mean clog length, ms.
    pub clog_ms_mean: u64,
    /// fsync latency floor, ms.
    pub fsync_ms_min: u64,
    /// Mean of the exponential part of fsync latency, ms.
    pub fsync_ms_mean: u64,
    /// Chance that one fsync is slow.
    pub fsync_slow_probability: f64,
    /// How long a slow fsync takes, ms.
    pub fsync_slow_ms: u64,
    /// Mean time between node crashes, ms; `None` = no crashes.
    pub crash_interval_ms_mean: Option<u64>,
    /// Chance that a crash hits exactly between an fsync completing and the node hearing of it.
    pub crash_at_fsync_probability: f64,
    /// Weights of LoseUnsynced, KeepPrefix, TearTail.
    pub crash_mode_weights: [u32; 3],
    /// Mean downtime before a restart, ms.
    pub restart_ms_mean: u64,
    /// Node clock rate error, parts per million (timer skew).
    pub clock_skew_ppm: i64,
    /// Largest lateness of a node timer, ms.
    pub timer_lateness_ms_max: u64,
    /// Whether a crashed node's connections reset at once (true) or go silent (false).
    pub crash_resets_connections: bool,
    /// Mean time between client pauses (a GC pause: the link stays open, nothing is sent),
    /// ms; `None` = no pauses.
    pub client_pause_interval_ms_mean: Option<u64>,
    /// Servers: 1 (a standalone node) or an ensemble of 3 or 5 participants.
    pub servers: usize,
    /// Chance that a peer message breaks its link instead of arriving (ensembles).
    pub peer_drop_probability: f64,
    /// Chance that a broken peer link is reported to both ends at once (a reset) rather than
    /// found only by the nodes' own timeouts, reported much later.
    pub peer_reset_probability: f64,
    /// Mean time between partitions (symmetric, one-way, leader isolated, minority cut), ms;
    /// `None` = no partitions.
    pub partition_interval_ms_mean: Option<u64>,
    /// Mean partition length, ms.
    pub partition_ms_mean: u64,
    /// Chance that, when an election link comes back, each end re-sends the last
    /// notification it sent over the old connection (ZooKeeper's `SendWorker` does so when it
    /// has nothing queued): the only duplication a TCP transport produces. 0 = never.
    pub election_resend_probability: f64,
    /// Bit rot in synced data (ensembles with crashes only): at most once per run, a crashed
    /// replica's disk comes back with a corrupt middle log record or snapshot. Recovery
    /// refuses it and the replica restarts empty. Standalone runs never draw it: a lone node
    /// with a wiped disk has lost its acknowledged writes by definition.
    pub synced_corruption: bool,
    /// A deliberately broken driver (tests of the checkers only).
    pub mutant: Option<Mutant>,
    /// A deliberate bug in the node itself (tests of the checkers only).
    #[cfg(feature = "mutants")]
    pub core_mutant: Option<zab_core::mutants::Mutant>,
}

impl Options {
    /// Draws the options of `seed`.
    pub fn draw(seed: u64) -> Options {
        let mut rng = SimRng::new(seed, Stream::Options);
        let on = |rng: &mut SimRng| rng.chance(0.5);
        let tick_time_ms = [100, 200, 500, 1000][rng.range(0, 3) as usize];
        let session_timeout_ms = rng.range(2 * tick_time_ms, (20 * tick_time_ms).min(8000)) as i32;
        let op_mix = OpMix {
            register: rng.range(2, 10) as u32,
            watch: rng.range(0, 4) as u32,
            ephemeral: rng.range(0, 3) as u32,
            sequential: rng.range(0, 3) as u32,
            container: rng.range(0, 2) as u32,
            close_session: rng.range(0, 1) as u32,
            multi: 0,
            watch_removal: 0,
        };
        let drop_on = on(&mut rng);
        let clog_on = on(&mut rng);
        let crash_on = on(&mut rng);
        let fsync_slow_on = on(&mut rng);
        let skew_on = on(&mut rng);
        let mut options = Options {
            seed,
            clients: rng.range(1, 5) as usize,
            pipeline_max: rng.range(1, 4) as usize,
            think_ms_mean: rng.range(50, 400),
            keys: rng.range(1, 4) as usize,
            op_mix,
            tick_time_ms,
            session_timeout_ms,
            container_check_interval_ms: rng.range(1000, 10_000),
            snap_count: rng.range(8, 200),
            safety_ms: 60_000,
            liveness_ms_max: 30_000,
            latency_ms_min: rng.range(0, 5),
            latency_ms_mean: rng.range(1, 30),
            drop_probability: if drop_on { rng.range(1, 30) as f64 / 1000.0 } else { 0.0 },
            clog_interval_ms_mean: clog_on.then(|| rng.range(2000, 20_000)),
            clog_ms_mean: rng.range(100, 3000),
            fsync_ms_min: rng.range(0, 3),
            fsync_ms_mean: rng.range(1, 20),
            fsync_slow_probability: if fsync_slow_on { rng.range(1, 50) as f64 / 1000.0 } else { 0.0 },
            fsync_slow_ms: rng.range(200, 3000),
            crash_interval_ms_mean: crash_on.then(|| rng.range(3000, 30_000)),
            crash_at_fsync_probability: rng.range(0, 30) as f64 / 100.0,
            crash_mode_weights: [rng.range(0, 3) as u32, rng.range(0, 3) as u32, rng.range(1, 3) as u32],
            restart_ms_mean: rng.range(10, 3000),
            clock_skew_ppm: if skew_on { rng.range(0, 100_000) as i64 - 50_000 } else { 0 },
            timer_lateness_ms_max: if skew_on { rng.range(0, 200) } else { 0 },
            crash_resets_connections: on(&mut rng),
            client_pause_interval_ms_mean: on(&mut rng).then(|| rng.range(2000, 20_000)),
            // Ensembles cost about twice (3) and three times (5) a standalone run, and they
            // are where replication bugs live: half the seeds run one, so a sweep of 2000 runs
            // about 700 of 3 and 300 of 5.
            servers: match rng.range(0, 19) {
                0..=9 => 1,
                10..=16 => 3,
                _ => 5,
            },
            peer_drop_probability: if on(&mut rng) { rng.range(1, 20) as f64 / 1000.0 } else { 0.0 },
            peer_reset_probability: rng.range(0, 10) as f64 / 10.0,
            partition_interval_ms_mean: on(&mut rng).then(|| rng.range(3000, 20_000)),
            partition_ms_mean: rng.range(500, 8000),
            election_resend_probability: 0.0,
            synced_corruption: false,
            mutant: None,
            #[cfg(feature = "mutants")]
            core_mutant: None,
        };
        // Drawn last so the options drawn before them keep their values per seed.
        options.op_mix.multi = rng.range(0, 3) as u32;
        options.op_mix.watch_removal = if options.op_mix.watch > 0 { rng.range(0, 2) as u32 } else { 0 };
        options.election_resend_probability = if on(&mut rng) { rng.range(1, 10) as f64 / 10.0 } else { 0.0 };
        let rot = rng.chance(0.3);
        options.synced_corruption = rot && options.servers > 1 && options.crash_interval_ms_mean.is_some();
        options
    }

    /// Options for hand-written scenarios: one client per line of the story, no random
    /// faults, fast and steady links and disk, so only the scripted faults happen.
    pub fn quiet(seed: u64, clients: usize) -> Options {
        Options {
            seed,
            clients,
            pipeline_max: 8,
            think_ms_mean: 100,
            keys: 1,
            op_mix: OpMix {
                register: 1,
                watch: 0,
                ephemeral: 0,
                sequential: 0,
                container: 0,
                close_session: 0,
                multi: 0,
                watch_removal: 0,
            },
            tick_time_ms: 500,
            session_timeout_ms: 4000,
            container_check_interval_ms: 1000,
            snap_count: 1000,
            safety_ms: 0,
            liveness_ms_max: 30_000,
            latency_ms_min: 1,
            latency_ms_mean: 1,
            drop_probability: 0.0,
            clog_interval_ms_mean: None,
            clog_ms_mean: 0,
            fsync_ms_min: 2,
            fsync_ms_mean: 1,
            fsync_slow_probability: 0.0,
            fsync_slow_ms: 0,
            crash_interval_ms_mean: None,
            crash_at_fsync_probability: 0.0,
            crash_mode_weights: [1, 0, 0],
            restart_ms_mean: 10,
            clock_skew_ppm: 0,
            timer_lateness_ms_max: 0,
            crash_resets_connections: true,
            client_pause_interval_ms_mean: None,
            servers: 1,
            peer_drop_probability: 0.0,
            peer_reset_probability: 1.0,
            partition_interval_ms_mean: None,
            partition_ms_mean: 0,
            election_resend_probability: 0.0,
            synced_corruption: false,
            mutant: None,
            #[cfg(feature = "mutants")]
            core_mutant: None,
        }
    }

    /// One line naming what this run switched on, printed at the top of every trace.
    pub fn summary(&self) -> String {
        format!(
            "seed={} clients={} pipeline={} think={}ms keys={} tick={}ms session={}ms snap={} \
             latency={}+{}ms drop={} clog={:?} fsync={}+{}ms slow={}@{}ms crash={:?} at_fsync={} \
             modes={:?} skew={}ppm late<={}ms resets={} pauses={:?} servers={} peer_drop={} \
             peer_resets={} partitions={:?}/{}ms multi={} watch_removal={} resend={} rot={}",
            self.seed,
            self.clients,
            self.pipeline_max,
            self.think_ms_mean,
            self.keys,
            self.tick_time_ms,
            self.session_timeout_ms,
            self.snap_count,
            self.latency_ms_min,
            self.latency_ms_mean,
            self.drop_probability,
            self.clog_interval_ms_mean,
            self.fsync_ms_min,
            self.fsync_ms_mean,
            self.fsync_slow_probability,
            self.fsync_slow_ms,
            self.crash_interval_ms_mean,
            self.crash_at_fsync_probability,
            self.crash_mode_weights,
            self.clock_skew_ppm,
            self.timer_lateness_ms_max,
            self.crash_resets_connections,
            self.client_pause_interval_ms_mean,
            self.servers,
            self.peer_drop_probability,
            self.peer_reset_probability,
            self.partition_interval_ms_mean,
            self.partition_ms_mean,
            self.op_mix.multi,
            self.op_mix.watch_removal,
            self.election_resend_probability,
            self.synced_corruption,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_draws_the_same_options_and_seeds_differ() {
        assert_eq!(Options::draw(7).summary(), Options::draw(7).summary());
        let distinct: std::collections::BTreeSet<String> = (0..50).map(|s| Options::draw(s).summary()).collect();
        assert_eq!(distinct.len(), 50);
    }

    #[test]
    fn swarm_switches_faults_on_and_off_across_seeds() {
        let crashing = (0..200).filter(|&s| Options::draw(s).crash_interval_ms_mean.is_some()).count();
        assert!((50..150).contains(&crashing), "crashes on in {crashing} of 200 seeds");
        for seed in 0..200 {
            let options = Options::draw(seed);
            assert!(options.session_timeout_ms as u64 >= 2 * options.tick_time_ms);
            assert!((1..=5).contains(&options.clients));
        }
    }
}
