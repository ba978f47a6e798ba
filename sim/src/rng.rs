//! One seed, one child generator per component (STYLE.md rule 6).
//!
//! Each component draws from its own ChaCha stream, so adding a draw to the disk model does not
//! shift every network latency after it: seeds stay comparable while the simulator grows.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The components that draw random numbers, each on its own stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    /// Swarm options (which faults are on, rates, client count, op mix).
    Options = 1,
    /// Latencies and connection drops.
    Network = 2,
    /// fsync latency and crash tearing.
    Disk = 3,
    /// Client think times and the operations they pick.
    Clients = 4,
    /// When crashes, clogs and pauses happen.
    Faults = 5,
    /// Seeds handed to each incarnation of a node.
    Node = 6,
    /// Peer links: latencies, losses, partitions (ensembles).
    Peers = 7,
    /// Wall-clock steps (`world/wall_clock.rs`).
    WallClock = 8,
}

/// A seeded generator for one component.
#[derive(Clone, Debug)]
pub struct SimRng(ChaCha8Rng);

impl SimRng {
    /// The generator of `stream` under `seed`.
    pub fn new(seed: u64, stream: Stream) -> SimRng {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(stream as u64);
        SimRng(rng)
    }

    /// The generator of `stream` for ensemble member `member` (0: the standalone node, whose
    /// streams are the plain ones, so standalone seeds replay as before).
    pub fn of_member(seed: u64, stream: Stream, member: usize) -> SimRng {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(stream as u64 + 16 * member as u64);
        SimRng(rng)
    }

    /// A uniform integer in `low..=high`.
    pub fn range(&mut self, low: u64, high: u64) -> u64 {
        assert!(low <= high, "empty range {low}..={high}");
        self.0.gen_range(low..=high)
    }

    /// True with probability `p` (0.0..=1.0).
    pub fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && self.0.gen::<f64>() < p
    }

    /// An exponentially distributed value with this mean, capped at 20 means so one unlucky
    /// draw cannot stall a run.
    pub fn exponential(&mut self, mean: f64) -> u64 {
        let u: f64 = self.0.gen::<f64>();
        let value = -mean * (1.0 - u).ln();
        value.min(mean * 20.0) as u64
    }

    /// An index chosen with the given weights (at least one must be positive).
    pub fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u64 = weights.iter().map(|&w| w as u64).sum();
        assert!(total > 0, "all weights are zero");
        let mut pick = self.range(0, total - 1);
        for (index, &weight) in weights.iter().enumerate() {
            if pick < weight as u64 {
                return index;
            }
            pick -= weight as u64;
        }
        unreachable!("pick below total")
    }

    /// A raw 64-bit draw.
    pub fn next_u64(&mut self) -> u64 {
        self.0.gen()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_independent_and_repeatable() {
        let mut a = SimRng::new(42, Stream::Network);
        let mut b = SimRng::new(42, Stream::Network);
        let mut c = SimRng::new(42, Stream::Disk);
        let xs: Vec<u64> = (0..4).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..4).map(|_| b.next_u64()).collect();
        let zs: Vec<u64> = (0..4).map(|_| c.next_u64()).collect();
        assert_eq!(xs, ys);
        assert_ne!(xs, zs);
    }

    #[test]
    fn weighted_never_picks_a_zero_weight() {
        let mut rng = SimRng::new(1, Stream::Clients);
        for _ in 0..1000 {
            assert_eq!(rng.weighted(&[0, 3, 0]), 1);
        }
    }
}
