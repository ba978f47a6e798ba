//! Wall-clock steps (issue F item 6): one server's wall clock jumps by an hour, forward or
//! back, as NTP or an operator steps a machine's clock. Its timer clock (the node's `now`,
//! [`super::NodeClock`]) does not move: a correct node changes only the ctime/mtime it stamps
//! and what its TTL sweep compares them with, and expires no session and starts no election
//! because of the step.
//!
//! A swarm run draws zero, one or two steps from its own stream of the seed (so the other
//! faults of a seed stay what they were). Scenarios step a chosen server (`wall-clock N +1h`)
//! and check with `expect no election` (every entry of a server into LOOKING is counted by
//! the world, `quiet.rs`) and `expect cN session alive`.

use super::{Event, World};
use crate::rng::{SimRng, Stream};

/// One hour, the size of every drawn step.
pub const WALL_CLOCK_STEP_MS: i64 = 3_600_000;
/// Most wall-clock steps one swarm run draws.
pub const WALL_CLOCK_STEPS_MAX: u64 = 2;

impl World {
    /// Steps server `server`'s (0-based) wall clock by `delta_ms` now; its timers keep going.
    pub fn step_wall_clock(&mut self, server: usize, delta_ms: i64) {
        let stepped = self.servers[server].wall_step_ms.saturating_add(delta_ms);
        self.servers[server].wall_step_ms = stepped;
        self.trace(format!("n{server} wall clock stepped {delta_ms:+} ms ({stepped:+} ms from its timer clock)"));
        self.tell_wall_clock(server);
    }

    /// Gives server `server`'s node its wall clock: its local timer clock plus its steps.
    /// After every step and every (re)built node.
    pub(super) fn tell_wall_clock(&mut self, server: usize) {
        let now = self.local_now(server);
        let wall = (now.0 as i64).saturating_add(self.servers[server].wall_step_ms);
        if let Some(node) = self.servers[server].node.as_mut() {
            node.set_wall_clock(now, wall);
        }
    }

    /// Swarm: schedules the steps [`draw_steps`] draws for this run.
    pub(super) fn schedule_wall_clock_steps(&mut self) {
        for (at, server, delta_ms) in draw_steps(self.options.seed, self.options.safety_ms, self.servers.len()) {
            self.queue.schedule(at, Event::WallClockStep { server, delta_ms });
        }
    }
}

/// Up to [`WALL_CLOCK_STEPS_MAX`] steps of ±1 h in the safety phase, each on a server drawn
/// from the seed's own stream: (time, server, step). Half the runs have none, a quarter one.
fn draw_steps(seed: u64, safety_ms: u64, servers: usize) -> Vec<(u64, usize, i64)> {
    let mut rng = SimRng::new(seed, Stream::WallClock);
    let count = match rng.range(0, 3) {
        0 | 1 => 0,
        2 => 1,
        _ => WALL_CLOCK_STEPS_MAX,
    };
    (0..count)
        .map(|_| {
            let at = rng.range(0, safety_ms.max(1) - 1);
            let server = rng.range(0, servers as u64 - 1) as usize;
            let delta_ms = if rng.chance(0.5) { WALL_CLOCK_STEP_MS } else { -WALL_CLOCK_STEP_MS };
            (at, server, delta_ms)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swarm_steps_are_drawn_from_the_seed_and_bounded() {
        let mut with_steps = 0;
        for seed in 0..100 {
            let steps = draw_steps(seed, 60_000, 3);
            assert!(steps.len() as u64 <= WALL_CLOCK_STEPS_MAX, "seed {seed}: {steps:?}");
            assert!(steps.iter().all(|&(at, server, delta)| at < 60_000 && server < 3 && delta.abs() == 3_600_000));
            assert_eq!(steps, draw_steps(seed, 60_000, 3), "seed {seed}: the same seed draws the same steps");
            with_steps += usize::from(!steps.is_empty());
        }
        assert!((25..75).contains(&with_steps), "{with_steps} of 100 runs step a wall clock");
    }
}
