//! The persister: the one task that owns the transaction log. It appends the node's
//! `Persist` batches and makes many of them durable with one fdatasync (group commit),
//! writes snapshots and purges old files.
//!
//! Ordering rule (the reason this file exists): a token goes back to the core only after the
//! fsync covering its transactions returned. A failed fsync leaves durability unknown, so the
//! persister reports the failure and stops; the server must exit.

use std::path::PathBuf;

use tokio::sync::{mpsc, oneshot};
use zab_core::txn::Txn;
use zab_core::{PersistToken, Snapshot};

use crate::storage::{purge, write_snapshot, Disk, StorageDirs, StorageError, TxnLog};

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
}

/// What the persister tells the core.
#[derive(Debug)]
pub enum PersistEvent {
    /// These tokens are durable, in order.
    Persisted(Vec<PersistToken>),
    /// Appending or syncing failed: durability is unknown, stop the server.
    Failed(StorageError),
}

/// The log, its directories and the autopurge settings.
#[derive(Debug)]
pub struct Persister<D: Disk> {
    disk: D,
    dirs: StorageDirs,
    log: TxnLog<D>,
    /// `autopurge.snapRetainCount`, or `None` when autopurge is off.
    purge_retain: Option<usize>,
}

impl<D: Disk> Persister<D> {
    /// A persister over a recovered log. `purge_retain` is `Some(snapRetainCount)` when
    /// `autopurge.purgeInterval` is set.
    pub fn new(disk: D, dirs: StorageDirs, log: TxnLog<D>, purge_retain: Option<usize>) -> Persister<D> {
        Persister { disk, dirs, log, purge_retain }
    }

    /// Appends every batch, then syncs once. Returns the tokens only after the sync.
    pub fn commit_group(&mut self, batches: Vec<(Vec<Txn>, PersistToken)>) -> Result<Vec<PersistToken>, StorageError> {
        let mut tokens = Vec::with_capacity(batches.len());
        for (txns, token) in batches {
            for txn in &txns {
                self.log.append(txn.header.zxid.0 as u64, txn)?;
            }
            tokens.push(token);
        }
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
            let mut batches = Vec::new();
            let mut after = Some(command);
            // Group commit: take every Append already waiting, up to the first other command.
            while let Some(PersistCommand::Append { txns, token }) = after {
                batches.push((txns, token));
                after = commands.try_recv().ok();
            }
            if !batches.is_empty() {
                match self.commit_group(batches) {
                    Ok(tokens) => {
                        let _ = events.send(PersistEvent::Persisted(tokens));
                    }
                    Err(error) => {
                        let _ = events.send(PersistEvent::Failed(error));
                        return;
                    }
                }
            }
            match after {
                Some(command) => match self.execute(command) {
                    Ok(true) => next = commands.blocking_recv(),
                    Ok(false) => return,
                    Err(error) => {
                        let _ = events.send(PersistEvent::Failed(error));
                        return;
                    }
                },
                None => next = commands.blocking_recv(),
            }
        }
    }

    /// Runs a non-append command; `Ok(false)` after a shutdown.
    fn execute(&mut self, command: PersistCommand) -> Result<bool, StorageError> {
        match command {
            PersistCommand::Append { .. } => unreachable!("appends are grouped by run"),
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

#[cfg(test)]
mod tests;
