//! One node's disk: a transaction log and a snapshot store with fsync semantics.
//!
//! A `Persist` output is written to the page cache at once and becomes durable only when an
//! fsync that started after the write completes. One fsync runs at a time and covers every
//! write made before it started, as an fsync of one log file does; writes made meanwhile wait
//! for the next one (group commit, so a slow disk batches instead of falling behind). A crash keeps
//! what was synced and, depending on the drawn mode, none, a prefix, or a prefix and a torn
//! record of what was not (FoundationDB's `AsyncFileNonDurable`: "the correct write, part of
//! the write, or none of the write"). Records carry a checksum flag; recovery stops at the
//! first torn one, as a real log reader stops at a bad CRC.
//!
//! Snapshots are written to a temp file, fsync'd and renamed: one that had not completed its
//! rename at the crash is simply absent. Old snapshots and log records are kept (as ZooKeeper
//! keeps several until purged), so a TRUNC below the newest snapshot still finds an older one.
//!
//! Bit rot (a swarm option, ensembles only): a record the disk had synced, with intact
//! records after it, or the newest snapshot, reads back with a bad checksum. Unlike a torn
//! tail this cannot be a crash artefact, so recovery must not cut the log there and go on: a
//! real log reader refuses a corrupt record in the middle (net-real's `storage/frame.rs`).
//! [`Disk::corruption`] reports it; the world then wipes the disk ([`Disk::wipe`]) and the
//! replica starts empty and resyncs from the leader.
//!
//! Ensemble replicas also write their epochs (`acceptedEpoch`, `currentEpoch`: separate small
//! files, replaced atomically), truncate the log (TRUNC) and replace the database with a
//! received snapshot (SNAP). All of them share the log's token sequence and fsync: a write is
//! durable only once an fsync that started after it completed. A crash keeps the synced writes;
//! of the unsynced ones the log-file writes (records, truncations, resets) survive as a prefix
//! in order, and each epoch file survives or not on its own, since it is another file: so an
//! unsynced `currentEpoch` can outlive the unsynced transactions written before it
//! (ZOOKEEPER-4646's ordering bug shows up only if the node does not wait for their fsync).

use crate::options::{CrashMode, Options};
use crate::rng::{SimRng, Stream};
use zab_core::txn::Txn;
use zab_core::{Epoch, PersistToken, Zxid};

/// A log record as the disk holds it.
#[derive(Clone, Debug)]
struct Record {
    txn: Txn,
    /// False when a crash tore the record: its checksum does not match.
    intact: bool,
}

/// One durable step a node asked for.
#[derive(Clone, Debug)]
pub enum Write<S> {
    /// Append these transactions to the log.
    Log(Vec<Txn>),
    /// Replace the epoch files (`None` leaves one as it is).
    Epoch {
        /// The new `acceptedEpoch`.
        accepted: Option<Epoch>,
        /// The new `currentEpoch`.
        current: Option<Epoch>,
    },
    /// Drop every record (and snapshot) above this zxid.
    Truncate(Zxid),
    /// Replace the whole database with this snapshot at this zxid.
    Reset(Zxid, S),
}

/// One unsynced write as a crash sees it: log records and log-file steps in order, epoch files apart.
enum Item<S> {
    Record(Txn),
    Step(Write<S>),
    EpochFile(Write<S>),
}

/// A write waiting for its fsync.
#[derive(Clone, Debug)]
struct Unsynced<S> {
    token: PersistToken,
    write: Write<S>,
}

/// What a crash did to the unsynced tail, for the trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CrashDamage {
    /// Unsynced log items (records, truncations, resets) that survived whole.
    pub kept: usize,
    /// Whether one more record survived torn.
    pub torn: bool,
    /// Unsynced log items lost.
    pub lost: usize,
}

/// What recovery read back: the newest snapshot, the valid log after it, the epochs.
#[derive(Clone, Debug)]
pub struct Recovered<S> {
    /// The newest complete snapshot.
    pub snapshot: Option<S>,
    /// Log records after the snapshot, up to the first torn one.
    pub log: Vec<Txn>,
    /// Whether a torn record was found (and dropped with everything after it).
    pub torn_tail: bool,
    /// `acceptedEpoch`.
    pub epoch_accepted: Epoch,
    /// `currentEpoch`.
    pub epoch_current: Epoch,
}

/// One node's disk. `S` is the snapshot type (the node's `Snapshot`).
#[derive(Debug)]
pub struct Disk<S> {
    rng: SimRng,
    log: Vec<Record>,
    unsynced: Vec<Unsynced<S>>,
    /// Complete snapshots, oldest first.
    snapshots: Vec<(Zxid, S)>,
    /// Snapshots written but not yet renamed into place.
    snapshots_pending: Vec<(u64, Zxid, S)>,
    next_snapshot: u64,
    epoch_accepted: Epoch,
    epoch_current: Epoch,
    /// The running fsync: how many of the oldest unsynced writes it covers, and when it ends.
    fsync: Option<(usize, u64)>,
    fsync_ms_min: u64,
    fsync_ms_mean: u64,
    fsync_slow_probability: f64,
    fsync_slow_ms: u64,
    crash_mode_weights: [u32; 3],
    /// The newest snapshot reads back corrupt (bit rot).
    snapshot_corrupt: bool,
}

impl<S: Clone> Disk<S> {
    /// An empty disk with the fsync latency the options drew.
    pub fn new(options: &Options) -> Disk<S> {
        Disk::of_member(options, 0)
    }

    /// The disk of ensemble member `member` (0 for a standalone node): its own random stream.
    pub fn of_member(options: &Options, member: usize) -> Disk<S> {
        Disk {
            rng: SimRng::of_member(options.seed, Stream::Disk, member),
            log: Vec::new(),
            unsynced: Vec::new(),
            snapshots: Vec::new(),
            snapshots_pending: Vec::new(),
            next_snapshot: 0,
            epoch_accepted: Epoch(0),
            epoch_current: Epoch(0),
            fsync: None,
            fsync_ms_min: options.fsync_ms_min,
            fsync_ms_mean: options.fsync_ms_mean,
            fsync_slow_probability: options.fsync_slow_probability,
            fsync_slow_ms: options.fsync_slow_ms,
            crash_mode_weights: options.crash_mode_weights,
            snapshot_corrupt: false,
        }
    }

    /// Appends `txns` to the page cache; returns when a newly started fsync completes, if one
    /// started (otherwise the running fsync is followed by another that covers these).
    pub fn append(&mut self, now: u64, token: PersistToken, txns: Vec<Txn>) -> Option<u64> {
        self.write(now, token, Write::Log(txns))
    }

    /// Any durable write; like [`Disk::append`].
    pub fn write(&mut self, now: u64, token: PersistToken, write: Write<S>) -> Option<u64> {
        if matches!(write, Write::Truncate(_) | Write::Reset(..)) {
            // A snapshot being written of the history that is cut away must not land later.
            let keep = match &write {
                Write::Truncate(after) => *after,
                _ => Zxid(i64::MIN),
            };
            self.snapshots_pending.retain(|(_, zxid, _)| *zxid <= keep);
        }
        self.unsynced.push(Unsynced { token, write });
        if self.fsync.is_some() {
            return None;
        }
        Some(self.start_fsync(now))
    }

    fn start_fsync(&mut self, now: u64) -> u64 {
        let slow = self.rng.chance(self.fsync_slow_probability);
        let latency =
            if slow { self.fsync_slow_ms } else { self.fsync_ms_min + self.rng.exponential(self.fsync_ms_mean as f64) };
        let done_at = now + latency.max(1);
        self.fsync = Some((self.unsynced.len(), done_at));
        done_at
    }

    /// The running fsync completed: its writes are durable. Returns their tokens in order and,
    /// if writes are waiting, when the next fsync completes.
    pub fn complete_fsync(&mut self, now: u64) -> (Vec<PersistToken>, Option<u64>) {
        let (covered, _) = self.fsync.take().expect("fsync completion with no fsync running");
        let mut tokens = Vec::with_capacity(covered);
        let writes: Vec<Unsynced<S>> = self.unsynced.drain(..covered).collect();
        for write in writes {
            tokens.push(write.token);
            self.apply(write.write);
        }
        let next = (!self.unsynced.is_empty()).then(|| self.start_fsync(now));
        (tokens, next)
    }

    /// Makes one write part of the durable state.
    fn apply(&mut self, write: Write<S>) {
        match write {
            Write::Log(txns) => self.log.extend(txns.into_iter().map(|txn| Record { txn, intact: true })),
            Write::Epoch { accepted, current } => {
                self.epoch_accepted = accepted.unwrap_or(self.epoch_accepted);
                self.epoch_current = current.unwrap_or(self.epoch_current);
            }
            Write::Truncate(after) => {
                self.log.retain(|record| record.txn.header.zxid <= after);
                self.snapshots.retain(|(zxid, _)| *zxid <= after);
            }
            Write::Reset(zxid, snapshot) => {
                self.log.clear();
                self.snapshots = vec![(zxid, snapshot)];
            }
        }
    }

    /// Starts writing a snapshot; returns its id and when its rename completes.
    pub fn begin_snapshot(&mut self, now: u64, zxid: Zxid, snapshot: S) -> (u64, u64) {
        let id = self.next_snapshot;
        self.next_snapshot += 1;
        let done_at = now + self.fsync_ms_min + self.rng.exponential(self.fsync_ms_mean as f64 * 4.0);
        self.snapshots_pending.push((id, zxid, snapshot));
        (id, done_at)
    }

    /// The snapshot `id` is renamed into place (unless a crash lost it first). `Err` if it
    /// covers transactions that are not durable in the log yet: the node snapshotted state it
    /// had not persisted.
    pub fn complete_snapshot(&mut self, id: u64) -> Result<(), String> {
        let Some(index) = self.snapshots_pending.iter().position(|(pending, _, _)| *pending == id) else {
            return Ok(()); // lost in a crash, or cut away by a truncation
        };
        let (_, zxid, snapshot) = self.snapshots_pending.remove(index);
        if self.snapshots.last().is_some_and(|(newest, _)| *newest >= zxid) {
            return Ok(());
        }
        let durable = self.durable_zxid();
        self.snapshots.push((zxid, snapshot));
        if zxid > durable {
            return Err(format!("snapshot at {zxid} covers records not yet durable (durable up to {durable})"));
        }
        Ok(())
    }

    /// Crashes with a crash mode drawn from the options' weights.
    pub fn crash(&mut self) -> CrashDamage {
        let mode = match self.rng.weighted(&self.crash_mode_weights) {
            0 => CrashMode::LoseUnsynced,
            1 => CrashMode::KeepPrefix,
            _ => CrashMode::TearTail,
        };
        self.crash_with(mode)
    }

    /// Crashes: unsynced log items are lost, or a prefix survives, or a prefix and a torn
    /// record; each unsynced epoch write survives on its own unless nothing unsynced does.
    pub fn crash_with(&mut self, mode: CrashMode) -> CrashDamage {
        let writes: Vec<Write<S>> = self.unsynced.drain(..).map(|u| u.write).collect();
        self.snapshots_pending.clear();
        self.fsync = None;
        let mut items = Vec::new();
        for write in writes {
            match write {
                Write::Log(txns) => items.extend(txns.into_iter().map(Item::Record)),
                epoch @ Write::Epoch { .. } => items.push(Item::EpochFile(epoch)),
                other => items.push(Item::Step(other)),
            }
        }
        let total = items.iter().filter(|i| !matches!(i, Item::EpochFile(_))).count();
        let kept = match mode {
            CrashMode::LoseUnsynced | CrashMode::KeepEpochFilesOnly => 0,
            CrashMode::KeepPrefix => self.rng.range(0, total as u64) as usize,
            CrashMode::TearTail if total > 0 => self.rng.range(0, total as u64 - 1) as usize,
            CrashMode::TearTail => 0,
        };
        let mut seen = 0;
        let mut torn = false;
        for item in items {
            match item {
                Item::EpochFile(epoch) => {
                    let survives = match mode {
                        CrashMode::LoseUnsynced => false,
                        CrashMode::KeepEpochFilesOnly => true,
                        _ => self.rng.chance(0.5),
                    };
                    if survives {
                        self.apply(epoch);
                    }
                    continue;
                }
                Item::Record(txn) if seen < kept => self.log.push(Record { txn, intact: true }),
                Item::Record(txn) if seen == kept && mode == CrashMode::TearTail => {
                    self.log.push(Record { txn, intact: false });
                    torn = true;
                }
                Item::Step(step) if seen < kept => self.apply(step),
                _ => {}
            }
            seen += 1;
        }
        CrashDamage { kept, torn, lost: total - kept - torn as usize }
    }

    /// The process exits (no power loss): the page cache keeps every write, so all of them
    /// become part of what the next process reads; only unfinished snapshot renames are lost.
    pub fn process_exit(&mut self) {
        let writes: Vec<Unsynced<S>> = self.unsynced.drain(..).collect();
        for write in writes {
            self.apply(write.write);
        }
        self.snapshots_pending.clear();
        self.fsync = None;
    }

    /// Reads the disk back after a crash: the newest snapshot, the log after it up to the
    /// first torn record (which is cut off, as a reader stops at a bad CRC), the epochs.
    pub fn recover(&mut self) -> Recovered<S> {
        assert!(self.unsynced.is_empty(), "recovery while writes are in flight");
        let valid = self.log.iter().take_while(|record| record.intact).count();
        let torn_tail = valid < self.log.len();
        self.log.truncate(valid);
        let after = self.snapshots.last().map_or(Zxid::ZERO, |(zxid, _)| *zxid);
        let log = self.log.iter().filter(|r| r.txn.header.zxid > after).map(|r| r.txn.clone()).collect();
        Recovered {
            snapshot: self.snapshots.last().map(|(_, s)| s.clone()),
            log,
            torn_tail,
            epoch_accepted: self.epoch_accepted,
            epoch_current: self.epoch_current,
        }
    }

    /// Rots one synced thing at random: a log record followed by an intact one, or the newest
    /// snapshot. Returns what rotted, `None` if there is nothing to rot. Only between a crash
    /// and the restart (no write in flight).
    pub fn rot(&mut self) -> Option<String> {
        assert!(self.unsynced.is_empty(), "bit rot while writes are in flight");
        let last_intact = self.log.iter().rposition(|record| record.intact);
        let middle: Vec<usize> = (0..last_intact.unwrap_or(0)).filter(|&index| self.log[index].intact).collect();
        let choices = middle.len() as u64 + u64::from(!self.snapshots.is_empty());
        if choices == 0 {
            return None;
        }
        let pick = self.rng.range(0, choices - 1) as usize;
        match middle.get(pick) {
            Some(&index) => {
                self.log[index].intact = false;
                Some(format!("log record {} of {}", self.log[index].txn.header.zxid, self.log.len()))
            }
            None => {
                self.snapshot_corrupt = true;
                Some(format!("snapshot {}", self.snapshots.last().expect("counted").0))
            }
        }
    }

    /// Corruption recovery must refuse: a bad record with an intact one after it (not a torn
    /// tail), or a corrupt newest snapshot.
    pub fn corruption(&self) -> Option<String> {
        if self.snapshot_corrupt {
            let zxid = self.snapshots.last().map_or(Zxid::ZERO, |(zxid, _)| *zxid);
            return Some(format!("snapshot {zxid} fails its checksum"));
        }
        let last_intact = self.log.iter().rposition(|record| record.intact)?;
        let bad = self.log[..last_intact].iter().find(|record| !record.intact)?;
        Some(format!("log record {} fails its checksum before intact records", bad.txn.header.zxid))
    }

    /// Replaces the disk with an empty one (an operator, or the node, discards the corrupt
    /// data directory): no log, no snapshot, epochs 0.
    pub fn wipe(&mut self) {
        assert!(self.unsynced.is_empty(), "wiping while writes are in flight");
        self.log.clear();
        self.snapshots.clear();
        self.snapshots_pending.clear();
        self.snapshot_corrupt = false;
        self.epoch_accepted = Epoch(0);
        self.epoch_current = Epoch(0);
    }

    /// The durable epoch files: (`acceptedEpoch`, `currentEpoch`).
    pub fn epochs(&self) -> (Epoch, Epoch) {
        (self.epoch_accepted, self.epoch_current)
    }

    /// The newest zxid on disk that survives any crash.
    pub fn durable_zxid(&self) -> Zxid {
        let snapshot = self.snapshots.last().map_or(Zxid::ZERO, |(zxid, _)| *zxid);
        let log = self.log.iter().rev().find(|r| r.intact).map_or(Zxid::ZERO, |r| r.txn.header.zxid);
        snapshot.max(log)
    }

    /// The durable (synced, intact) log records after `after`, in order.
    pub fn synced_after(&self, after: Zxid) -> impl Iterator<Item = &Txn> {
        self.log.iter().take_while(|r| r.intact).map(|r| &r.txn).filter(move |t| t.header.zxid > after)
    }

    /// The zxid of the newest complete snapshot (zero if none).
    pub fn snapshot_zxid(&self) -> Zxid {
        self.snapshots.last().map_or(Zxid::ZERO, |(zxid, _)| *zxid)
    }

    /// Whether a truncation or a reset is written but not yet durable: the log on disk may
    /// still hold records the node already dropped.
    pub fn has_pending_rewrite(&self) -> bool {
        self.unsynced.iter().any(|u| matches!(u.write, Write::Truncate(_) | Write::Reset(..)))
    }

    /// Writes not yet durable.
    pub fn unsynced_writes(&self) -> usize {
        self.unsynced.len()
    }

    /// The liveness phase: no more slow fsyncs.
    pub fn heal(&mut self) {
        self.fsync_slow_probability = 0.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zab_core::txn::{TxnBody, TxnHeader};
    use zab_core::SessionId;

    fn txn(zxid: i64) -> Txn {
        let header = TxnHeader { client_id: SessionId(1), cxid: 0, zxid: Zxid(zxid), time: 0, op: 5 };
        Txn { header, body: TxnBody::Delete { path: format!("/n{zxid}") } }
    }

    fn zxids(log: &[Txn]) -> Vec<i64> {
        log.iter().map(|t| t.header.zxid.0).collect()
    }

    #[test]
    fn only_synced_records_survive_a_lose_unsynced_crash() {
        let mut disk: Disk<u8> = Disk::new(&Options::quiet(1, 1));
        let first = disk.append(0, PersistToken(0), vec![txn(1), txn(2)]).expect("starts an fsync");
        assert_eq!(disk.append(1, PersistToken(1), vec![txn(3)]), None, "one fsync at a time");
        let (tokens, next) = disk.complete_fsync(first);
        assert_eq!(tokens, vec![PersistToken(0)], "the running fsync covers only earlier writes");
        assert!(next.is_some_and(|at| at > first), "the later write gets its own fsync");
        assert_eq!(disk.crash_with(CrashMode::LoseUnsynced), CrashDamage { kept: 0, torn: false, lost: 1 });
        let recovered = disk.recover();
        assert_eq!(zxids(&recovered.log), vec![1, 2]);
        assert!(!recovered.torn_tail);
    }

    #[test]
    fn bit_rot_in_the_middle_or_in_a_snapshot_is_refused_not_cut_off() {
        let mut disk: Disk<&str> = Disk::new(&Options::quiet(9, 1));
        assert_eq!(disk.rot(), None, "an empty disk has nothing to rot");
        disk.append(0, PersistToken(0), vec![txn(1), txn(2), txn(3)]);
        disk.complete_fsync(5);
        disk.crash_with(CrashMode::LoseUnsynced);
        assert_eq!(disk.corruption(), None);
        let what = disk.rot().expect("records 1 and 2 have intact successors");
        assert!(what == "log record 0x1 of 3" || what == "log record 0x2 of 3", "{what}");
        let refused = disk.corruption().expect("a bad middle record is detected");
        assert!(refused.ends_with("fails its checksum before intact records"), "{refused}");
        disk.wipe();
        assert_eq!(disk.corruption(), None);
        let recovered = disk.recover();
        assert_eq!((recovered.log.len(), recovered.snapshot, recovered.epoch_current), (0, None, Epoch(0)));
        // With only a snapshot on disk (after a SNAP), the snapshot is what rots.
        disk.write(0, PersistToken(1), Write::Reset(Zxid(7), "at 7"));
        disk.complete_fsync(5);
        assert_eq!(disk.rot(), Some("snapshot 0x7".into()));
        assert_eq!(disk.corruption(), Some("snapshot 0x7 fails its checksum".into()));
    }

    #[test]
    fn a_torn_record_and_everything_after_it_is_dropped() {
        let mut disk: Disk<u8> = Disk::new(&Options::quiet(5, 1));
        disk.append(0, PersistToken(0), vec![txn(1)]);
        disk.complete_fsync(5);
        disk.append(6, PersistToken(1), vec![txn(2), txn(3), txn(4)]);
        let damage = disk.crash_with(CrashMode::TearTail);
        assert!(damage.torn);
        assert_eq!(damage.kept + 1 + damage.lost, 3);
        let recovered = disk.recover();
        assert!(recovered.torn_tail);
        assert_eq!(recovered.log.len(), 1 + damage.kept);
        assert_eq!(disk.durable_zxid(), Zxid(1 + damage.kept as i64));
    }

    #[test]
    fn a_completed_snapshot_replaces_the_log_it_covers_and_an_unfinished_one_is_lost() {
        let mut disk: Disk<&str> = Disk::new(&Options::quiet(1, 1));
        disk.append(0, PersistToken(0), vec![txn(1), txn(2), txn(3)]);
        disk.complete_fsync(5);
        let (id, _) = disk.begin_snapshot(0, Zxid(2), "at 2");
        assert_eq!(disk.complete_snapshot(id), Ok(()));
        disk.begin_snapshot(0, Zxid(3), "at 3, never renamed");
        disk.crash_with(CrashMode::LoseUnsynced);
        let recovered = disk.recover();
        assert_eq!(recovered.snapshot, Some("at 2"));
        assert_eq!(zxids(&recovered.log), vec![3]);
    }

    #[test]
    fn a_snapshot_of_state_not_yet_durable_is_reported() {
        let mut disk: Disk<&str> = Disk::new(&Options::quiet(1, 1));
        disk.append(0, PersistToken(0), vec![txn(1)]);
        let (id, _) = disk.begin_snapshot(0, Zxid(1), "at 1, before its fsync");
        assert_eq!(
            disk.complete_snapshot(id),
            Err("snapshot at 0x1 covers records not yet durable (durable up to 0x0)".into())
        );
    }

    #[test]
    fn an_unsynced_epoch_file_can_outlive_the_unsynced_records_written_before_it() {
        let mut disk: Disk<&str> = Disk::new(&Options::quiet(1, 1));
        disk.append(0, PersistToken(0), vec![txn(1)]);
        disk.complete_fsync(5);
        disk.append(6, PersistToken(1), vec![txn(2)]);
        disk.write(6, PersistToken(2), Write::Epoch { accepted: None, current: Some(Epoch(2)) });
        assert_eq!(disk.crash_with(CrashMode::KeepEpochFilesOnly), CrashDamage { kept: 0, torn: false, lost: 1 });
        let recovered = disk.recover();
        assert_eq!(zxids(&recovered.log), vec![1]);
        assert_eq!((recovered.epoch_accepted, recovered.epoch_current), (Epoch(0), Epoch(2)));
    }

    #[test]
    fn truncate_drops_records_and_snapshots_above_and_reset_replaces_everything() {
        let mut disk: Disk<&str> = Disk::new(&Options::quiet(1, 1));
        disk.append(0, PersistToken(0), vec![txn(1), txn(2), txn(3)]);
        disk.complete_fsync(5);
        let (id, _) = disk.begin_snapshot(5, Zxid(1), "at 1");
        assert_eq!(disk.complete_snapshot(id), Ok(()));
        let (id, _) = disk.begin_snapshot(5, Zxid(3), "at 3");
        assert_eq!(disk.complete_snapshot(id), Ok(()));
        disk.write(6, PersistToken(1), Write::Truncate(Zxid(2)));
        assert!(disk.has_pending_rewrite());
        assert_eq!(disk.complete_fsync(9).0, vec![PersistToken(1)]);
        let recovered = disk.recover();
        assert_eq!((recovered.snapshot, zxids(&recovered.log)), (Some("at 1"), vec![2]), "the older snapshot serves");
        disk.write(10, PersistToken(2), Write::Reset(Zxid(7), "received at 7"));
        disk.append(10, PersistToken(3), vec![txn(8)]);
        disk.process_exit();
        let recovered = disk.recover();
        assert_eq!((recovered.snapshot, zxids(&recovered.log)), (Some("received at 7"), vec![8]));
    }
}
