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
//! rename at the crash is simply absent. A completed snapshot lets the log before it go.

use crate::options::{CrashMode, Options};
use crate::rng::{SimRng, Stream};
use zab_core::txn::Txn;
use zab_core::{PersistToken, Zxid};

/// A log record as the disk holds it.
#[derive(Clone, Debug)]
struct Record {
    txn: Txn,
    /// False when a crash tore the record: its checksum does not match.
    intact: bool,
}

/// A write waiting for its fsync.
#[derive(Clone, Debug)]
struct Unsynced {
    token: PersistToken,
    txns: Vec<Txn>,
}

/// What a crash did to the unsynced tail, for the trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CrashDamage {
    /// Unsynced records that survived whole.
    pub kept: usize,
    /// Whether one more record survived torn.
    pub torn: bool,
    /// Unsynced records lost.
    pub lost: usize,
}

/// What recovery read back: the newest snapshot and the valid log after it.
#[derive(Clone, Debug)]
pub struct Recovered<S> {
    /// The newest complete snapshot.
    pub snapshot: Option<S>,
    /// Log records after the snapshot, up to the first torn one.
    pub log: Vec<Txn>,
    /// Whether a torn record was found (and dropped with everything after it).
    pub torn_tail: bool,
}

/// One node's disk. `S` is the snapshot type (the node's `Snapshot`).
#[derive(Debug)]
pub struct Disk<S> {
    rng: SimRng,
    log: Vec<Record>,
    unsynced: Vec<Unsynced>,
    snapshot: Option<(Zxid, S)>,
    /// Snapshots written but not yet renamed into place.
    snapshots_pending: Vec<(u64, Zxid, S)>,
    next_snapshot: u64,
    /// The running fsync: how many of the oldest unsynced writes it covers, and when it ends.
    fsync: Option<(usize, u64)>,
    fsync_ms_min: u64,
    fsync_ms_mean: u64,
    fsync_slow_probability: f64,
    fsync_slow_ms: u64,
    crash_mode_weights: [u32; 3],
}

impl<S: Clone> Disk<S> {
    /// An empty disk with the fsync latency the options drew.
    pub fn new(options: &Options) -> Disk<S> {
        Disk {
            rng: SimRng::new(options.seed, Stream::Disk),
            log: Vec::new(),
            unsynced: Vec::new(),
            snapshot: None,
            snapshots_pending: Vec::new(),
            next_snapshot: 0,
            fsync: None,
            fsync_ms_min: options.fsync_ms_min,
            fsync_ms_mean: options.fsync_ms_mean,
            fsync_slow_probability: options.fsync_slow_probability,
            fsync_slow_ms: options.fsync_slow_ms,
            crash_mode_weights: options.crash_mode_weights,
        }
    }

    /// Appends a `Persist` output's records unsynced. Returns when an fsync covering them
    /// completes if this write starts one; `None` if an fsync is already running (the next
    /// one will cover this write).
    pub fn append(&mut self, now: u64, token: PersistToken, txns: Vec<Txn>) -> Option<u64> {
        self.unsynced.push(Unsynced { token, txns });
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

    /// The running fsync completes at `now`: the writes it covered are durable. Returns their
    /// tokens in order, and when the next fsync (covering later writes) completes, if any.
    pub fn complete_fsync(&mut self, now: u64) -> (Vec<PersistToken>, Option<u64>) {
        let (covered, _) = self.fsync.take().expect("fsync completion with no fsync running");
        let mut tokens = Vec::with_capacity(covered);
        for write in self.unsynced.drain(..covered) {
            tokens.push(write.token);
            self.log.extend(write.txns.into_iter().map(|txn| Record { txn, intact: true }));
        }
        let next = (!self.unsynced.is_empty()).then(|| self.start_fsync(now));
        (tokens, next)
    }

    /// Starts writing a snapshot; returns its id and when its rename completes.
    pub fn begin_snapshot(&mut self, now: u64, zxid: Zxid, snapshot: S) -> (u64, u64) {
        let id = self.next_snapshot;
        self.next_snapshot += 1;
        let done_at = now + self.fsync_ms_min + self.rng.exponential(self.fsync_ms_mean as f64 * 4.0);
        self.snapshots_pending.push((id, zxid, snapshot));
        (id, done_at)
    }

    /// The snapshot `id` is renamed into place; the log it covers is purged. `Err` when the
    /// snapshot covers records that are not durable: the node snapshotted state it had not
    /// yet been told was persisted (the snapshot is installed anyway, as a disk would).
    pub fn complete_snapshot(&mut self, id: u64) -> Result<(), String> {
        let Some(index) = self.snapshots_pending.iter().position(|(pending, _, _)| *pending == id) else {
            return Ok(()); // lost in a crash
        };
        let (_, zxid, snapshot) = self.snapshots_pending.remove(index);
        if self.snapshot.as_ref().is_some_and(|(newest, _)| *newest >= zxid) {
            return Ok(());
        }
        let durable = self.durable_zxid();
        self.log.retain(|record| record.txn.header.zxid > zxid);
        self.snapshot = Some((zxid, snapshot));
        if zxid > durable {
            return Err(format!("snapshot at {zxid} covers records not yet durable (durable up to {durable})"));
        }
        Ok(())
    }

    /// Power loss: unsynced writes and unfinished snapshots are damaged per the drawn mode.
    pub fn crash(&mut self) -> CrashDamage {
        let mode = match self.rng.weighted(&self.crash_mode_weights) {
            0 => CrashMode::LoseUnsynced,
            1 => CrashMode::KeepPrefix,
            _ => CrashMode::TearTail,
        };
        self.crash_with(mode)
    }

    /// A crash with a chosen mode (scenarios pick it).
    pub fn crash_with(&mut self, mode: CrashMode) -> CrashDamage {
        let records: Vec<Txn> = self.unsynced.drain(..).flat_map(|write| write.txns).collect();
        self.snapshots_pending.clear();
        self.fsync = None;
        let total = records.len();
        let kept = match mode {
            CrashMode::LoseUnsynced => 0,
            CrashMode::KeepPrefix => self.rng.range(0, total as u64) as usize,
            // A tear needs a record to tear: the torn one is the first not kept whole.
            CrashMode::TearTail if total > 0 => self.rng.range(0, total as u64 - 1) as usize,
            CrashMode::TearTail => 0,
        };
        let torn = mode == CrashMode::TearTail && kept < total;
        for (index, txn) in records.into_iter().enumerate() {
            if index < kept {
                self.log.push(Record { txn, intact: true });
            } else if index == kept && torn {
                self.log.push(Record { txn, intact: false });
            }
        }
        CrashDamage { kept, torn, lost: total - kept - torn as usize }
    }

    /// Reads the disk back as a restarting node would: the snapshot, then the log up to the
    /// first torn record, which is truncated away (with everything after it).
    pub fn recover(&mut self) -> Recovered<S> {
        assert!(self.unsynced.is_empty(), "recovery while writes are in flight");
        let valid = self.log.iter().take_while(|record| record.intact).count();
        let torn_tail = valid < self.log.len();
        self.log.truncate(valid);
        let after = self.snapshot.as_ref().map_or(Zxid::ZERO, |(zxid, _)| *zxid);
        let log = self.log.iter().filter(|r| r.txn.header.zxid > after).map(|r| r.txn.clone()).collect();
        Recovered { snapshot: self.snapshot.as_ref().map(|(_, s)| s.clone()), log, torn_tail }
    }

    /// The zxid of the last durable record (or of the snapshot when the log is empty).
    pub fn durable_zxid(&self) -> Zxid {
        let snapshot = self.snapshot.as_ref().map_or(Zxid::ZERO, |(zxid, _)| *zxid);
        let log = self.log.iter().rev().find(|r| r.intact).map_or(Zxid::ZERO, |r| r.txn.header.zxid);
        snapshot.max(log)
    }

    /// Number of writes waiting for fsync.
    pub fn unsynced_writes(&self) -> usize {
        self.unsynced.len()
    }

    /// Liveness phase: no more slow fsyncs.
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
}
