//! The types the node's rooms share, in a leaf that imports nothing of `node/`: what a
//! prepared transaction carries and who waits for it, the replicated log as this node knows
//! it, durable work awaiting `handle_persisted` with the steps that wait for it, how far a
//! learner has come with its leader, and which requests are writes.

use crate::ids::{ConnectionId, Millis, Zxid};
use crate::txn::Txn;
use crate::wire::client::Request;
use std::collections::VecDeque;

/// A prepared transaction and who is waiting for it.
#[derive(Clone, Debug)]
pub(super) struct Pending {
    pub(super) txn: Txn,
    pub(super) origin: Origin,
    /// When it was prepared, on the monotonic clock (the txn's time is a wall time).
    pub(super) prepared_at: Millis,
}

/// Who started a transaction, and so who gets told when it is applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Origin {
    /// A request at the front of this connection's queue.
    Request(ConnectionId),
    /// A new session's handshake on this connection.
    Connect(ConnectionId),
    /// The node itself: session expiry, container sweep.
    Internal,
}

/// The replicated log as this node knows it.
///
/// `history` holds the newest logged transactions (persisted or handed to the driver), at
/// most `commit_log_count` of those already applied; `base` is the zxid just before its first
/// entry. Transactions logged but not yet applied wait in `unapplied` until they are both
/// durable here and known committed.
#[derive(Debug)]
pub(super) struct Log {
    pub(super) history: VecDeque<Txn>,
    pub(super) base: Zxid,
    /// The last zxid handed to the driver to log.
    pub(super) logged: Zxid,
    /// The last zxid the driver has reported durable.
    pub(super) persisted: Zxid,
    /// The newest zxid known committed.
    pub(super) committed: Zxid,
    pub(super) unapplied: VecDeque<Txn>,
    /// A TRUNC cut below the tree: the node is rebuilt from disk once it is durable,
    /// whatever the role is by then.
    pub(super) restart_pending: bool,
}

impl Log {
    pub(super) fn new(tree_zxid: Zxid) -> Log {
        Log {
            history: VecDeque::new(),
            base: tree_zxid,
            logged: tree_zxid,
            persisted: tree_zxid,
            committed: tree_zxid,
            unapplied: VecDeque::new(),
            restart_pending: false,
        }
    }

    /// A transaction replayed from disk at start: logged, durable and applied.
    pub(super) fn recovered(&mut self, txn: Txn, keep: usize) {
        let zxid = txn.header.zxid;
        self.append(txn, keep, zxid);
        self.persisted = zxid;
        self.committed = zxid;
    }

    /// Appends a transaction handed to the driver; trims applied history beyond `keep`.
    pub(super) fn append(&mut self, txn: Txn, keep: usize, applied: Zxid) {
        assert!(txn.header.zxid > self.logged, "the log grows in zxid order");
        self.logged = txn.header.zxid;
        self.history.push_back(txn);
        while self.history.len() > keep.max(1) {
            let front = self.history.front().expect("not empty").header.zxid;
            if front > applied {
                break; // Unapplied entries are still needed to sync or to apply.
            }
            self.base = front;
            self.history.pop_front();
        }
    }

    /// Forgets every entry above `zxid` (TRUNC).
    pub(super) fn truncate(&mut self, zxid: Zxid) {
        self.history.retain(|t| t.header.zxid <= zxid);
        self.unapplied.retain(|t| t.header.zxid <= zxid);
        self.base = self.base.min(zxid);
        self.logged = self.logged.min(zxid);
        self.persisted = self.persisted.min(zxid);
        self.committed = self.committed.min(zxid);
    }

    /// Starts over from a snapshot at `zxid` (SNAP).
    pub(super) fn reset(&mut self, zxid: Zxid) {
        self.history.clear();
        self.unapplied.clear();
        self.base = zxid;
        self.logged = zxid;
        self.committed = zxid;
    }
}

/// Durable work handed to the driver, awaiting `handle_persisted`.
#[derive(Debug)]
pub(super) struct Durable {
    pub(super) effect: Effect,
    /// Steps waiting for it, each with the role generation that queued it: a step runs only
    /// if the role has not changed since.
    pub(super) then: Vec<(u64, After)>,
}

impl Durable {
    pub(super) fn standalone(batch: Vec<Pending>) -> Durable {
        Durable { effect: Effect::Standalone(batch), then: Vec::new() }
    }
}

/// What becomes true once the work is durable, whatever the role is by then.
#[derive(Debug)]
pub(super) enum Effect {
    /// Standalone transactions: apply and answer them.
    Standalone(Vec<Pending>),
    /// The log holds everything up to this zxid.
    Logged(Zxid),
    /// The log ends at this zxid.
    Truncated(Zxid),
    /// The database is this snapshot, the log empty.
    Snapshot(Zxid),
    /// An epoch file.
    Epoch,
}

/// What a role waits to do until the work is durable.
#[derive(Debug)]
pub(super) enum After {
    /// Learner: the step its machine asked to take once durable.
    Learner(crate::zab::learner::LearnerStep),
    /// Leader: acceptedEpoch is durable, LEADERINFO may go out.
    LeaderInfo,
    /// Leader: currentEpoch is durable, the leader's own NEWLEADER ACK counts.
    LeaderCurrentEpoch,
    /// Leader: its own log holds its proposals up to this zxid; its own ACK counts.
    LeaderLogged(Zxid),
}

/// How far one learner has come with this leader.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Stage {
    /// FOLLOWERINFO received; LEADERINFO sent or about to be.
    Info,
    /// ACKEPOCH received: its last logged zxid.
    EpochAcked(Zxid),
    /// Synced: the sync and NEWLEADER are sent; proposals are forwarded to it.
    Synced,
    /// It acknowledged NEWLEADER: its log is the leader's history, durably.
    NewLeaderAcked,
    /// UPTODATE sent: it serves clients.
    UpToDate,
}

/// Whether a request changes state, and so goes through prepare → persist → apply.
pub(super) fn is_write(request: &Request) -> bool {
    matches!(
        request,
        Request::Create(_)
            | Request::Create2(_)
            | Request::CreateContainer(_)
            | Request::CreateTtl(_)
            | Request::Delete(_)
            | Request::DeleteContainer(_)
            | Request::SetData(_)
            | Request::SetAcl(_)
            | Request::Check(_)
            | Request::Multi(_)
            | Request::CloseSession
    )
}
