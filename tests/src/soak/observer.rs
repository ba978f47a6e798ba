//! Watches the ensemble from outside, as an operator would: every [`POLL_INTERVAL`] it asks
//! each server `srvr` on its client port and keeps its mode (leader, follower, looking, or no
//! answer) and the epoch of its last zxid. An election is counted when a different server
//! becomes the single leader, or when the same leader's epoch moves on (it was elected
//! again). A new leader's zxid may still show the old epoch until its first write: that first
//! move of its epoch belongs to the election already counted.

use super::ensemble::CLIENT_PORT;
use super::network::member_address;
use super::Clock;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How often each server is asked.
pub const POLL_INTERVAL: Duration = Duration::from_millis(250);
/// How long one `srvr` may take before the server counts as not answering (a SIGSTOPped or
/// partitioned server never answers).
/// Generous: on a loaded machine a serving server may take a while.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(3);

/// What one server said last.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `Mode: leader`, with the epoch of its zxid.
    Leader(u64),
    /// `Mode: follower`.
    Follower,
    /// Not serving (electing or syncing), or any other mode.
    NotServing,
    /// No answer within the timeout.
    Silent,
}

/// An election seen: (µs since the start, the leader, the epoch of its zxid then).
pub type LeaderSeen = (u64, u8, u64);

/// The single leader of the moment.
#[derive(Clone, Copy, Debug)]
struct Reign {
    leader: u8,
    epoch: u64,
    /// Whether its zxid already showed an epoch above every earlier one.
    in_own_epoch: bool,
}

/// Everything observed so far.
#[derive(Debug, Default)]
pub struct Observed {
    /// The last answer of each server.
    pub modes: BTreeMap<u8, Mode>,
    /// Each election, in order.
    pub leaders: Vec<LeaderSeen>,
    reign: Option<Reign>,
    /// The highest epoch any leader's zxid showed before the current reign.
    epoch_max: u64,
    /// Times a server went from serving (leader or follower) to not serving or silent.
    pub serving_lost: BTreeMap<u8, u64>,
}

impl Observed {
    /// The one server that says it leads, if exactly one does.
    pub fn leader(&self) -> Option<u8> {
        let leaders: Vec<u8> =
            self.modes.iter().filter(|(_, mode)| matches!(mode, Mode::Leader(_))).map(|(id, _)| *id).collect();
        (leaders.len() == 1).then(|| leaders[0])
    }

    /// Whether every server of `ids` serves: one leader, the others followers.
    pub fn all_serving(&self, ids: &[u8]) -> bool {
        let followers = ids.iter().filter(|id| self.modes.get(id) == Some(&Mode::Follower)).count();
        self.leader().is_some() && followers + 1 == ids.len()
    }

    /// Whether the servers of `ids` other than `without` hold a quorum of `ids` by
    /// themselves: one of them leads and enough others follow it.
    pub fn quorum_serving_without(&self, ids: &[u8], without: u8) -> bool {
        let others = || ids.iter().filter(|id| **id != without).map(|id| self.modes.get(id));
        let leaders = others().filter(|mode| matches!(mode, Some(Mode::Leader(_)))).count();
        let followers = others().filter(|mode| *mode == Some(&Mode::Follower)).count();
        leaders == 1 && (followers + 1) * 2 > ids.len()
    }

    fn record(&mut self, at_us: u64, id: u8, mode: Mode) {
        let was_serving = matches!(self.modes.get(&id), Some(Mode::Leader(_) | Mode::Follower));
        if was_serving && matches!(mode, Mode::NotServing | Mode::Silent) {
            *self.serving_lost.entry(id).or_default() += 1;
        }
        self.modes.insert(id, mode);
        // Only a moment with one leader says who leads (an isolated old leader may still claim to).
        let Some(leader) = self.leader() else { return };
        let Some(Mode::Leader(epoch)) = self.modes.get(&leader).cloned() else { return };
        match self.reign {
            Some(reign) if reign.leader == leader => {
                if epoch > reign.epoch {
                    if reign.in_own_epoch {
                        self.leaders.push((at_us, leader, epoch));
                    }
                    self.epoch_max = self.epoch_max.max(reign.epoch);
                    self.reign = Some(Reign { leader, epoch, in_own_epoch: true });
                }
            }
            previous => {
                if let Some(previous) = previous {
                    self.epoch_max = self.epoch_max.max(previous.epoch);
                }
                self.leaders.push((at_us, leader, epoch));
                self.reign = Some(Reign { leader, epoch, in_own_epoch: epoch > self.epoch_max });
            }
        }
    }
}

/// The polling tasks and what they saw.
pub struct Observer {
    /// What was seen.
    pub observed: Arc<Mutex<Observed>>,
    stop: Arc<AtomicBool>,
}

impl Observer {
    /// Starts one polling task per server on the current tokio runtime.
    pub fn start(ids: &[u8], clock: Clock) -> Observer {
        let observed = Arc::new(Mutex::new(Observed::default()));
        let stop = Arc::new(AtomicBool::new(false));
        for &id in ids {
            let (observed, stop) = (observed.clone(), stop.clone());
            tokio::spawn(async move {
                let address = SocketAddr::from((member_address(id), CLIENT_PORT));
                while !stop.load(Ordering::Relaxed) {
                    let mode = poll(address).await;
                    observed.lock().expect("observer lock").record(clock.now_us(), id, mode);
                    tokio::time::sleep(POLL_INTERVAL).await;
                }
            });
        }
        Observer { observed, stop }
    }

    /// A copy of the last modes and whether all of `ids` serve.
    pub fn all_serving(&self, ids: &[u8]) -> bool {
        self.observed.lock().expect("observer lock").all_serving(ids)
    }

    /// See [`Observed::quorum_serving_without`].
    pub fn quorum_serving_without(&self, ids: &[u8], without: u8) -> bool {
        self.observed.lock().expect("observer lock").quorum_serving_without(ids, without)
    }

    /// The current single leader, if there is one.
    pub fn leader(&self) -> Option<u8> {
        self.observed.lock().expect("observer lock").leader()
    }

    /// How many elections were seen so far.
    pub fn leaders_seen(&self) -> usize {
        self.observed.lock().expect("observer lock").leaders.len()
    }

    /// How many times any server stopped serving so far.
    pub fn serving_lost(&self) -> u64 {
        self.observed.lock().expect("observer lock").serving_lost.values().sum()
    }

    /// The leaders seen since `since_us`.
    pub fn leaders_since(&self, since_us: u64) -> Vec<LeaderSeen> {
        let observed = self.observed.lock().expect("observer lock");
        observed.leaders.iter().filter(|(at, _, _)| *at >= since_us).copied().collect()
    }
}

impl Drop for Observer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

async fn poll(address: SocketAddr) -> Mode {
    match tokio::time::timeout(ANSWER_TIMEOUT, srvr(address)).await {
        Ok(Some(answer)) => parse_srvr(&answer),
        _ => Mode::Silent,
    }
}

async fn srvr(address: SocketAddr) -> Option<String> {
    let mut stream = tokio::net::TcpStream::connect(address).await.ok()?;
    stream.write_all(b"srvr").await.ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.ok()?;
    Some(answer)
}

/// Reads `Mode:` and `Zxid:` from a `srvr` answer.
pub fn parse_srvr(answer: &str) -> Mode {
    let field = |name: &str| answer.lines().find_map(|line| line.strip_prefix(name)).map(str::trim);
    match field("Mode:") {
        Some("leader") => {
            let zxid = field("Zxid:").and_then(|z| u64::from_str_radix(z.trim_start_matches("0x"), 16).ok());
            Mode::Leader(zxid.unwrap_or(0) >> 32)
        }
        Some("follower") => Mode::Follower,
        _ => Mode::NotServing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn srvr_answers_give_the_mode_and_the_leader_epoch() {
        let leader = "Zookeeper version: 3.8.4\nZxid: 0x300000007\nMode: leader\nNode count: 5\n";
        assert_eq!(parse_srvr(leader), Mode::Leader(3));
        assert_eq!(parse_srvr("Zxid: 0x2\nMode: follower\n"), Mode::Follower);
        assert_eq!(parse_srvr("This ZooKeeper instance is not currently serving requests\n"), Mode::NotServing);
    }

    #[test]
    fn a_new_leader_counts_once_even_when_its_epoch_shows_late() {
        let mut observed = Observed::default();
        observed.record(1, 1, Mode::Leader(1));
        observed.record(2, 2, Mode::Follower);
        observed.record(3, 1, Mode::Leader(1));
        observed.record(4, 1, Mode::Silent);
        // Server 2 leads; its zxid still has epoch 1 until its first write of epoch 2.
        observed.record(5, 2, Mode::Leader(1));
        observed.record(6, 2, Mode::Leader(2));
        assert_eq!(observed.leaders, vec![(1, 1, 1), (5, 2, 1)]);
        assert_eq!(observed.serving_lost.get(&1), Some(&1));
        // The stale leader claims again: two leaders, nobody's election.
        observed.record(7, 1, Mode::Leader(1));
        assert_eq!(observed.leader(), None, "two servers claim to lead");
        observed.record(8, 1, Mode::Follower);
        // Server 2 is elected again: its epoch moves on once more.
        observed.record(9, 2, Mode::Leader(3));
        assert_eq!(observed.leaders.len(), 3);
        assert_eq!(observed.leaders[2], (9, 2, 3));
    }

    #[test]
    fn a_new_leader_already_in_its_own_epoch_counts_once() {
        let mut observed = Observed::default();
        observed.record(1, 1, Mode::Leader(1));
        observed.record(2, 1, Mode::Silent);
        observed.record(3, 2, Mode::Leader(2));
        observed.record(4, 2, Mode::Leader(3)); // re-elected
        assert_eq!(observed.leaders, vec![(1, 1, 1), (3, 2, 2), (4, 2, 3)]);
    }

    #[test]
    fn a_quorum_without_the_faulted_server_needs_a_leader_and_a_follower_among_the_others() {
        let mut observed = Observed::default();
        observed.record(1, 1, Mode::Leader(1));
        observed.record(2, 2, Mode::Follower);
        observed.record(3, 3, Mode::Follower);
        assert!(observed.quorum_serving_without(&[1, 2, 3], 3), "leader 1 and follower 2");
        assert!(!observed.quorum_serving_without(&[1, 2, 3], 1), "without the leader nobody leads");
        observed.record(4, 2, Mode::NotServing);
        assert!(!observed.quorum_serving_without(&[1, 2, 3], 3), "a leader alone is no quorum");
    }
}
