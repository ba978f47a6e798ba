//! The persister: the one task that owns the transaction log. It appends the node's
//! `Persist` batches and makes many of them durable with one fdatasync (group commit),
//! writes snapshots and purges old files.
//!
//! In an ensemble it also executes the node's other durable steps (epoch files, TRUNC, a
//! database received by SNAP) and reloads the durable state for a node restart. All of
//! them share the node's one token sequence: commands are executed, and their tokens
//! reported, in the order the core sent them.
//!
//! Ordering rule (the reason this file exists): a token goes back to the core only after the
//! fsync covering its transactions returned. A failed fsync leaves durability unknown, so the
//! persister reports the failure and stops; the server must exit.

use std::path::PathBuf;

use tokio::sync::{mpsc, oneshot};
use zab_core::txn::Txn;
use zab_core::{DurableState, Epoch, PersistToken, Snapshot, Zxid};

use crate::storage::{
    list_snapshots, purge, read_epoch, recover, write_epoch, write_snapshot, Disk, EpochFile, LogOptions,
    RecoveryError, StorageDirs, StorageError, TxnLog,
};

/// Work for the persister, in the order the core emitted it.
#[derive(Debug)]
pub enum PersistCommand {
    /// Append and make durable, then report the token.
    Append {
        /// The transactions, in zxid order.
        txns: Vec<Txn>,
        /// The node's token.
        token: PersistToken,
    },
    /// Write a snapshot (then purge, when autopurge is on).
    Snapshot(Box<Snapshot>),
    /// Purge old snapshots and logs (the autopurge timer).
    Purge,
    /// Sync the log and stop; the answer says whether the sync worked.
    Shutdown(oneshot::Sender<Result<(), StorageError>>),
    /// Write the epoch files given (`None`: unchanged), then report the token.
    Epoch {
        /// `acceptedEpoch`.
        accepted: Option<Epoch>,
        /// `currentEpoch`.
        current: Option<Epoch>,
        /// The node's token.
        token: PersistToken,
    },
    /// Drop every transaction (and snapshot) above `after`, then report the token.
    Truncate {
        /// The last zxid kept.
        after: Zxid,
        /// The node's token.
        token: PersistToken,
    },
    /// Replace the database with this snapshot (SNAP), then report the token.
    Reset {
        /// The snapshot.
        snapshot: Box<Snapshot>,
        /// The node's token.
        token: PersistToken,
    },
    /// Sync, recover the durable state from disk and report it ([`PersistEvent::Reloaded`]).
    Reload,
}

/// What the persister tells the core.
#[derive(Debug)]
pub enum PersistEvent {
    /// These tokens are durable, in order.
    Persisted(Vec<PersistToken>),
    /// Appending or syncing failed: durability is unknown, stop the server.
    Failed(StorageError),
    /// The durable state, recovered again after [`PersistCommand::Reload`].
    Reloaded(Box<DurableState>),
}

/// The log, its directories and the autopurge settings.
#[derive(Debug)]
pub struct Persister<D: Disk> {
    disk: D,
    dirs: StorageDirs,
    log: TxnLog<D>,
    /// `autopurge.snapRetainCount`, or `None` when autopurge is off.
    purge_retain: Option<usize>,
    /// The log layout, for reloads.
    log_options: LogOptions,
}

impl<D: Disk> Persister<D> {
    /// A persister over a recovered log. `purge_retain` is `Some(snapRetainCount)` when
    /// `autopurge.purgeInterval` is set.
    pub fn new(disk: D, dirs: StorageDirs, log: TxnLog<D>, purge_retain: Option<usize>) -> Persister<D> {
        Persister { disk, dirs, log, purge_retain, log_options: LogOptions::default() }
    }

    /// Sets the log layout used when the log is reopened by a reload.
    pub fn with_log_options(mut self, log_options: LogOptions) -> Persister<D> {
        self.log_options = log_options;
        self
    }

    /// Appends every batch, then syncs once. Returns the tokens only after the sync.
    pub fn commit_group(&mut self, batches: Vec<(Vec<Txn>, PersistToken)>) -> Result<Vec<PersistToken>, StorageError> {
        let tokens = self.append_group(batches)?;
        self.log.sync()?;
        Ok(tokens)
    }

    /// Rolls the log and writes the snapshot. Only the roll's sync is fatal when it fails: a
    /// lost snapshot is harmless because the log covers it.
    pub fn snapshot(&mut self, snapshot: &Snapshot) -> Result<Option<PathBuf>, StorageError> {
        self.log.roll()?;
        match write_snapshot(&self.disk, &self.dirs, snapshot.zxid.0 as u64, snapshot) {
            Ok(path) => {
                tracing::info!(path = %path.display(), zxid = %snapshot.zxid, "snapshot written");
                self.purge();
                Ok(Some(path))
            }
            Err(error) => {
                tracing::error!("snapshot at {} not written: {error}", snapshot.zxid);
                Ok(None)
            }
        }
    }

    /// Purges per autopurge; failures are logged (purging again later is harmless).
    pub fn purge(&mut self) {
        let Some(retain) = self.purge_retain else { return };
        match purge(&self.disk, &self.dirs, retain) {
            Ok(removed) => {
                for path in removed {
                    tracing::info!(path = %path.display(), "purged");
                }
            }
            Err(error) => tracing::warn!("autopurge failed: {error}"),
        }
    }

    /// Serves commands until the channel closes, a shutdown, or a storage failure.
    /// Blocking: run it on a blocking task.
    pub fn run(mut self, mut commands: mpsc::Receiver<PersistCommand>, events: mpsc::UnboundedSender<PersistEvent>) {
        let mut next = commands.blocking_recv();
        while let Some(command) = next.take() {
            let (batches, after) = take_group(command, &mut commands);
            if !batches.is_empty() {
                let tokens = self.append_group(batches).and_then(|tokens| self.log.sync().map(|()| tokens));
                if !report_group(tokens, &events) {
                    return;
                }
            }
            if !self.execute_after(after, &events) {
                return;
            }
            next = commands.blocking_recv();
        }
    }

    /// [`Persister::run`] as a task, for the madsim tier (madsim has no blocking threads).
    /// The same steps in the same order; under madsim each group's fsync also takes a few
    /// simulated milliseconds (drawn from madsim's seeded generator), so a node killed in
    /// that window loses the group's unsynced writes, as a real disk would.
    pub async fn run_async(
        mut self,
        mut commands: mpsc::Receiver<PersistCommand>,
        events: mpsc::UnboundedSender<PersistEvent>,
    ) {
        let mut next = commands.recv().await;
        while let Some(command) = next.take() {
            let (batches, after) = take_group(command, &mut commands);
            if !batches.is_empty() {
                let appended = self.append_group(batches);
                if appended.is_ok() {
                    simulated_fsync_latency().await;
                }
                let tokens = appended.and_then(|tokens| self.log.sync().map(|()| tokens));
                if !report_group(tokens, &events) {
                    return;
                }
            }
            if !self.execute_after(after, &events) {
                return;
            }
            next = commands.recv().await;
        }
    }

    /// Appends every batch without syncing; returns their tokens in order.
    fn append_group(&mut self, batches: Vec<(Vec<Txn>, PersistToken)>) -> Result<Vec<PersistToken>, StorageError> {
        let mut tokens = Vec::with_capacity(batches.len());
        for (txns, token) in batches {
            for txn in &txns {
                self.log.append(txn.header.zxid.0 as u64, txn)?;
            }
            tokens.push(token);
        }
        Ok(tokens)
    }

    /// Runs the command that ended a group, if any; false when the persister must stop.
    fn execute_after(&mut self, after: Option<PersistCommand>, events: &mpsc::UnboundedSender<PersistEvent>) -> bool {
        let Some(command) = after else { return true };
        match self.execute(command, events) {
            Ok(keep_going) => keep_going,
            Err(error) => {
                let _ = events.send(PersistEvent::Failed(error));
                false
            }
        }
    }

    /// Runs a non-append command; `Ok(false)` after a shutdown.
    fn execute(
        &mut self,
        command: PersistCommand,
        events: &mpsc::UnboundedSender<PersistEvent>,
    ) -> Result<bool, StorageError> {
        let token = match command {
            PersistCommand::Epoch { accepted, current, token } => {
                self.write_epochs(accepted, current)?;
                token
            }
            PersistCommand::Truncate { after, token } => {
                self.truncate(after)?;
                token
            }
            PersistCommand::Reset { snapshot, token } => {
                self.reset(&snapshot)?;
                token
            }
            PersistCommand::Reload => {
                let durable = self.reload().map_err(|error| match error {
                    RecoveryError::Storage(error) => error,
                    other => StorageError::Corrupt { path: self.dirs.snap_dir(), offset: 0, reason: other.to_string() },
                })?;
                let _ = events.send(PersistEvent::Reloaded(Box::new(durable)));
                return Ok(true);
            }
            other => return self.execute_local(other),
        };
        let _ = events.send(PersistEvent::Persisted(vec![token]));
        Ok(true)
    }

    /// Writes the epoch files given, each durably (temp file, fsync, rename).
    pub fn write_epochs(&mut self, accepted: Option<Epoch>, current: Option<Epoch>) -> Result<(), StorageError> {
        if let Some(epoch) = accepted {
            write_epoch(&self.disk, &self.dirs, EpochFile::Accepted, u64::from(epoch.0))?;
        }
        if let Some(epoch) = current {
            write_epoch(&self.disk, &self.dirs, EpochFile::Current, u64::from(epoch.0))?;
        }
        Ok(())
    }

    /// TRUNC: drops logged transactions above `after`, and snapshots above it (recovery
    /// would otherwise start from one).
    pub fn truncate(&mut self, after: Zxid) -> Result<(), StorageError> {
        let after = after.0.max(0) as u64;
        self.log.truncate_after(after)?;
        self.remove_snapshots_above(after)
    }

    /// SNAP: writes the received snapshot first (so a crash keeps a database), then removes
    /// newer snapshots and the whole log, whose history may differ from the leader's.
    pub fn reset(&mut self, snapshot: &Snapshot) -> Result<(), StorageError> {
        let zxid = snapshot.zxid.0.max(0) as u64;
        self.log.roll()?;
        write_snapshot(&self.disk, &self.dirs, zxid, snapshot)?;
        self.remove_snapshots_above(zxid)?;
        self.log.truncate_after(0)
    }

    fn remove_snapshots_above(&mut self, zxid: u64) -> Result<(), StorageError> {
        let mut removed = false;
        for (snapshot_zxid, path) in list_snapshots(&self.disk, &self.dirs)? {
            if snapshot_zxid > zxid {
                self.disk.remove(&path).map_err(StorageError::io(&path, "remove"))?;
                removed = true;
            }
        }
        if removed {
            let dir = self.dirs.snap_dir();
            self.disk.sync_dir(&dir).map_err(StorageError::io(&dir, "fsync directory"))?;
        }
        Ok(())
    }

    /// Syncs, then recovers snapshot, log and epochs from disk as at startup; appending
    /// continues on the reopened log.
    pub fn reload(&mut self) -> Result<DurableState, RecoveryError> {
        self.log.sync()?;
        let (durable, log, _) = recover_durable(&self.disk, &self.dirs, self.log_options)?;
        self.log = log;
        Ok(durable)
    }

    fn execute_local(&mut self, command: PersistCommand) -> Result<bool, StorageError> {
        match command {
            PersistCommand::Append { .. } => unreachable!("appends are grouped by run"),
            PersistCommand::Epoch { .. }
            | PersistCommand::Truncate { .. }
            | PersistCommand::Reset { .. }
            | PersistCommand::Reload => unreachable!("handled by execute"),
            PersistCommand::Snapshot(snapshot) => self.snapshot(&snapshot).map(|_| true),
            PersistCommand::Purge => {
                self.purge();
                Ok(true)
            }
            PersistCommand::Shutdown(answer) => {
                let _ = answer.send(self.log.sync());
                Ok(false)
            }
        }
    }
}

/// Group commit: `command` and every append already waiting behind it, up to the first other
/// command (returned second).
fn take_group(
    command: PersistCommand,
    commands: &mut mpsc::Receiver<PersistCommand>,
) -> (Vec<(Vec<Txn>, PersistToken)>, Option<PersistCommand>) {
    let mut batches = Vec::new();
    let mut after = Some(command);
    while let Some(PersistCommand::Append { txns, token }) = after {
        batches.push((txns, token));
        after = commands.try_recv().ok();
    }
    (batches, after)
}

/// Reports a synced group's tokens, or its failure; false when the persister must stop.
fn report_group(tokens: Result<Vec<PersistToken>, StorageError>, events: &mpsc::UnboundedSender<PersistEvent>) -> bool {
    match tokens {
        Ok(tokens) => {
            let _ = events.send(PersistEvent::Persisted(tokens));
            true
        }
        Err(error) => {
            let _ = events.send(PersistEvent::Failed(error));
            false
        }
    }
}

/// The longest usual simulated fdatasync under madsim, in ms.
pub const SIMULATED_FSYNC_MS_MAX: u64 = 10;
/// The longest slow simulated fdatasync (one in ten) under madsim, in ms.
pub const SIMULATED_FSYNC_SLOW_MS_MAX: u64 = 100;

/// Under madsim, a group's fsync takes 1 to [`SIMULATED_FSYNC_MS_MAX`] simulated ms, and one
/// in ten up to [`SIMULATED_FSYNC_SLOW_MS_MAX`] (a busy disk); in a normal build, no time
/// (the real fsync takes what it takes).
async fn simulated_fsync_latency() {
    #[cfg(madsim)]
    {
        use madsim::rand::Rng;
        let mut rng = madsim::rand::thread_rng();
        let max = if rng.gen_bool(0.1) { SIMULATED_FSYNC_SLOW_MS_MAX } else { SIMULATED_FSYNC_MS_MAX };
        let ms = rng.gen_range(1..=max);
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
    }
}

/// Recovers the newest snapshot, the log after it and the epoch files. A missing
/// `currentEpoch` is the epoch of the last transaction, and a missing `acceptedEpoch` is
/// `currentEpoch`, as ZooKeeper's `QuorumPeer.loadDataBase` takes them: a data directory that
/// never served in an ensemble (a standalone one) keeps its history when it joins one.
pub fn recover_durable<D: Disk>(
    disk: &D,
    dirs: &StorageDirs,
    options: LogOptions,
) -> Result<(DurableState, TxnLog<D>, Vec<crate::storage::RecoveryWarning>), RecoveryError> {
    let recovered = recover::<D, Snapshot, Txn>(disk, dirs, options)?;
    let last_epoch = recovered
        .records
        .last()
        .map(|r| r.record.header.zxid)
        .or_else(|| recovered.snapshot.as_ref().map(|s| s.state.zxid))
        .map_or(0, |zxid| u64::from(zxid.epoch().0));
    let current = read_epoch(disk, dirs, EpochFile::Current)?.unwrap_or(last_epoch);
    let epoch = |which| -> Result<Epoch, RecoveryError> {
        let value = read_epoch(disk, dirs, which)?.unwrap_or(current);
        let value = u32::try_from(value).map_err(|_| StorageError::Corrupt {
            path: dirs.snap_dir().join(which.file_name()),
            offset: 0,
            reason: format!("epoch {value} does not fit 32 bits"),
        })?;
        Ok(Epoch(value))
    };
    let durable = DurableState {
        snapshot: recovered.snapshot.map(|s| s.state),
        log: recovered.records.into_iter().map(|r| r.record).collect(),
        epoch_accepted: epoch(EpochFile::Accepted)?,
        epoch_current: epoch(EpochFile::Current)?,
    };
    Ok((durable, recovered.log, recovered.warnings))
}

#[cfg(test)]
mod tests;
