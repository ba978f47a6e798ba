//! The server's two clocks (issue F item 6), as ZooKeeper's `Time.currentElapsedTime()` and
//! `Time.currentWallTime()`:
//!
//! - [`now_millis`], monotonic: the `now` of every `Node` call, so every timer (session expiry,
//!   ticks, election and `syncLimit` deadlines) and every sleep until `poll_timeout` ignores
//!   steps of the wall clock;
//! - [`wall_clock_millis`], the wall clock: handed to the node with `Node::set_wall_clock`
//!   for ctime/mtime and the TTL sweep, and nothing else.
//!
//! [`step_wall_clock`] is a fault hook for tests: it moves what [`wall_clock_millis`] reads,
//! as an NTP step or an operator would. The server never calls it.

use zab_core::Millis;

/// The monotonic clock, in ms. In a real build: the wall clock at the first call plus the
/// `Instant` time elapsed since, so readings look like wall times (session ids are seeded
/// from the first one, and stay unique across restarts) but never step.
#[cfg(not(madsim))]
pub fn now_millis() -> Millis {
    static START: std::sync::OnceLock<(std::time::Instant, u64)> = std::sync::OnceLock::new();
    let (start, base) = START.get_or_init(|| (std::time::Instant::now(), system_millis()));
    Millis(base.saturating_add(start.elapsed().as_millis() as u64))
}

/// The monotonic clock, in ms. Under madsim: the simulated system time, which never steps on
/// its own (a static `Instant` anchor would outlive the simulation that made it, and one
/// process runs many); only [`step_wall_clock`] steps this server's wall clock.
#[cfg(madsim)]
pub fn now_millis() -> Millis {
    Millis(system_millis())
}

/// The wall clock, ms since the Unix epoch, including any [`step_wall_clock`] steps.
pub fn wall_clock_millis() -> i64 {
    (system_millis() as i64).saturating_add(steps::current())
}

/// Fault hook, for tests only: steps the wall clock [`wall_clock_millis`] reads by `delta_ms`
/// (negative: back), the way NTP or an operator steps a machine's clock. Under madsim it
/// steps the clock of the simulated node it is called on (across restarts of that node) in
/// the simulation of the calling thread; in a real build, of the whole process. The
/// monotonic clock is unmoved.
pub fn step_wall_clock(delta_ms: i64) {
    steps::step(delta_ms);
    tracing::warn!(delta_ms, "the wall clock was stepped (fault injection)");
}

/// Forgets every [`step_wall_clock`] step (a test harness calls it before each simulation).
pub fn reset_wall_clock_steps() {
    steps::reset();
}

fn system_millis() -> u64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    since.as_millis() as u64
}

#[cfg(not(madsim))]
mod steps {
    use std::sync::atomic::{AtomicI64, Ordering};

    static STEPPED_MS: AtomicI64 = AtomicI64::new(0);

    pub(super) fn current() -> i64 {
        STEPPED_MS.load(Ordering::Relaxed)
    }

    pub(super) fn step(delta_ms: i64) {
        STEPPED_MS.fetch_add(delta_ms, Ordering::Relaxed);
    }

    pub(super) fn reset() {
        STEPPED_MS.store(0, Ordering::Relaxed);
    }
}

/// Under madsim every simulated node shares one process, and one simulation runs on one
/// thread (tests run several at once, on their own threads): steps are kept per thread and
/// per simulated node.
#[cfg(madsim)]
mod steps {
    use std::cell::RefCell;
    use std::collections::BTreeMap;

    thread_local! {
        static STEPPED_MS: RefCell<BTreeMap<madsim::task::NodeId, i64>> = const { RefCell::new(BTreeMap::new()) };
    }

    pub(super) fn current() -> i64 {
        STEPPED_MS.with(|steps| steps.borrow().get(&madsim::plugin::node()).copied().unwrap_or(0))
    }

    pub(super) fn step(delta_ms: i64) {
        STEPPED_MS.with(|steps| *steps.borrow_mut().entry(madsim::plugin::node()).or_insert(0) += delta_ms);
    }

    pub(super) fn reset() {
        STEPPED_MS.with(|steps| steps.borrow_mut().clear());
    }
}

#[cfg(all(test, not(madsim)))]
mod tests {
    use super::*;

    /// A step moves the wall clock by the step and the monotonic clock not at all.
    #[test]
    fn a_step_moves_the_wall_clock_and_not_the_monotonic_one() {
        let (now, wall) = (now_millis().0 as i64, wall_clock_millis());
        step_wall_clock(-3_600_000);
        let (now_after, wall_after) = (now_millis().0 as i64, wall_clock_millis());
        reset_wall_clock_steps();
        assert!(now_after >= now && now_after - now < 60_000, "monotonic: {now} then {now_after}");
        let moved = wall_after - wall;
        assert!((-3_600_000..-3_540_000).contains(&moved), "the wall clock moved by {moved} ms");
    }
}
