//! The learner (follower or observer) of ZAB as a machine of its own: registration, epoch,
//! synchronization and broadcast as `Learner.registerWithLeader`, `Learner.syncWithLeader`
//! and `Follower.processPacket` do it in ZooKeeper 3.8, with the NEWLEADER order fixed by
//! ZOOKEEPER-3911/4643/4646: the synced transactions are durable, then currentEpoch, and only
//! then the ACK leaves.
//!
//! [`Learner`] owns the learner's progress with its leader and nothing else. It reads what it
//! needs of the replica ([`LearnerView`]: the epochs, the last logged zxid) and answers every
//! input with [`LearnerEffect`]s, which the node executes in order: messages to the leader,
//! log and epoch writes, steps to take once durable ([`LearnerStep`]), commits, serving. The
//! node owns the log, the tree and the client connections; what a learner does for its
//! clients (forwarding, revalidation, `sync`) is the node's (`node/learner.rs`).

use super::PROTOCOL_VERSION;
use crate::ids::{Epoch, Millis, ServerId, SessionId, Zxid};
use crate::txn::Txn;
use crate::wire::quorum::{LearnerInfo, QuorumMessage};

#[cfg(test)]
mod tests;

/// How long a learner in discovery waits for LEADERINFO before registering again:
/// ZooKeeper's `leaderConnectDelayDuringRetryMs` default (`Learner.connectToLeader`).
pub const REGISTER_RETRY_MS: u64 = 100;

/// Where the learner is with its leader.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LearnerPhase {
    /// FOLLOWERINFO sent; waiting for LEADERINFO (anything else is left over from an older
    /// connection and ignored).
    Discovery,
    /// ACKEPOCH sent (or waiting to be); receiving the sync.
    Synchronization,
    /// UPTODATE received: serving clients.
    Broadcast,
}

/// What the learner reads of the replica it runs on, at the moment of the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LearnerView {
    /// `acceptedEpoch`.
    pub epoch_accepted: Epoch,
    /// `currentEpoch`.
    pub epoch_current: Epoch,
    /// The last zxid handed to the driver to log.
    pub logged: Zxid,
}

/// A step the learner takes only once everything handed to the driver before it is durable;
/// the node gives it back through [`Learner::on_durable`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LearnerStep {
    /// Send ACKEPOCH (acceptedEpoch is durable, and so is everything logged before).
    SendAckEpoch,
    /// Send ACK for this zxid (a proposal; counter 0 acknowledges NEWLEADER).
    SendAck(Zxid),
    /// The synced transactions are durable: write currentEpoch.
    WriteCurrentEpoch(Epoch),
    /// UPTODATE arrived while NEWLEADER was waiting; take it now.
    UpToDate,
}

/// What the learner asks of the node, executed in the order given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LearnerEffect {
    /// Send this to the leader on the quorum link.
    Send(QuorumMessage),
    /// A server registered with us as its leader: close its link, so it elects again.
    Refuse(ServerId),
    /// Leave the leader and elect again (a protocol violation, a hole in the stream, a silent
    /// leader). Always the last effect.
    Abandon(&'static str),
    /// Make this epoch our acceptedEpoch, durably; then [`LearnerStep::SendAckEpoch`].
    AcceptEpoch(Epoch),
    /// Take this step once everything handed to the driver so far is durable.
    WhenDurable(LearnerStep),
    /// TRUNC: the log ends at this zxid.
    Truncate(Zxid),
    /// Log this proposal; then take the step, if any, once it is durable.
    Log {
        /// The proposal.
        txn: Txn,
        /// An ACK to send once it is logged (a follower after NEWLEADER).
        then: Option<LearnerStep>,
    },
    /// INFORM: log this transaction, already committed.
    LogCommitted(Txn),
    /// Everything up to this zxid is committed: apply what is durable.
    Commit(Zxid),
    /// Make this epoch our currentEpoch, durably; then ACK NEWLEADER.
    WriteCurrentEpoch(Epoch),
    /// UPTODATE taken: serve clients. The leader's epoch is reported to the election, and
    /// the history synced before NEWLEADER is committed.
    Serve {
        /// The leader's epoch.
        epoch: Epoch,
        /// The last transaction synced before NEWLEADER.
        synced: Zxid,
    },
    /// Answer the leader's PING with the sessions our clients used since the last one.
    AnswerPing(Zxid),
    /// The leader answered a REVALIDATE.
    Revalidated {
        /// The session.
        session: SessionId,
        /// Whether it is alive.
        valid: bool,
    },
    /// The leader's SYNC: every commit sent before it has arrived.
    SyncAnswered,
}

/// What to do with the database that follows a SNAP packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DatabaseVerdict {
    /// Not from our leader: drop it.
    Ignore,
    /// It came without a SNAP: leave the leader.
    Abandon(&'static str),
    /// Install it as the database at this zxid (the SNAP packet's).
    Install(Zxid),
}

/// One learner's progress with its leader.
#[derive(Debug)]
pub struct Learner {
    me: ServerId,
    leader: ServerId,
    observer: bool,
    phase: LearnerPhase,
    /// The leader's new epoch (from LEADERINFO).
    epoch: Option<Epoch>,
    last_heard: Millis,
    /// In discovery: when to send FOLLOWERINFO (OBSERVERINFO) again. The leader may still
    /// be electing when the first one arrives, and drops it; ZooKeeper's learner likewise
    /// retries its connection every `leaderConnectDelayDuringRetryMs` (100 ms) within initLimit.
    register_again_at: Millis,
    /// Once NEWLEADER arrived (later proposals are acknowledged one by one): the last
    /// transaction synced before it, the new leader's history, which UPTODATE declares
    /// committed (ZOOKEEPER-2845: a txn we logged in an earlier epoch and the new leader holds
    /// too is not in its DIFF, and no COMMIT for it will come).
    newleader: Option<Zxid>,
    /// ACKEPOCH's data: our currentEpoch if LEADERINFO brought a newer epoch than the one we
    /// had accepted, else −1 (`registerWithLeader`).
    ack_epoch_current: i32,
    /// A SNAP packet arrived; its database is next.
    snap_zxid: Option<Zxid>,
    /// The leader announced how it syncs us (DIFF, TRUNC or SNAP). It does so exactly once
    /// per connection (`LearnerHandler.syncFollower`); a second announcement would move the
    /// log under the transactions of the first, which may still be on their way to disk.
    sync_announced: bool,
    /// The `IgnorePing` mutant is on.
    #[cfg(feature = "mutants")]
    ignores_pings: bool,
}

/// The limits a learner times its leader with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LearnerLimits {
    /// `tickTime` in ms.
    pub tick_time_ms: u64,
    /// `initLimit` in ticks.
    pub init_limit: u64,
    /// `syncLimit` in ticks.
    pub sync_limit: u64,
}

impl Learner {
    /// Server `me` starts learning from `leader`; the first effect registers with it.
    pub fn new(now: Millis, me: ServerId, leader: ServerId, observer: bool) -> Learner {
        Learner {
            me,
            leader,
            observer,
            phase: LearnerPhase::Discovery,
            epoch: None,
            last_heard: now,
            register_again_at: now.plus(REGISTER_RETRY_MS),
            newleader: None,
            ack_epoch_current: -1,
            snap_zxid: None,
            sync_announced: false,
            #[cfg(feature = "mutants")]
            ignores_pings: false,
        }
    }

    /// Switches the `IgnorePing` mutant on (tests of the checkers only).
    #[cfg(feature = "mutants")]
    pub fn ignore_pings(&mut self) {
        self.ignores_pings = true;
    }

    /// The leader.
    pub fn leader(&self) -> ServerId {
        self.leader
    }

    /// Whether this learner is an observer.
    pub fn is_observer(&self) -> bool {
        self.observer
    }

    /// Whether UPTODATE was taken (the replica serves clients).
    pub fn up_to_date(&self) -> bool {
        self.phase == LearnerPhase::Broadcast
    }

    /// Where it is with its leader.
    pub fn phase(&self) -> LearnerPhase {
        self.phase
    }

    /// When to give up on a silent leader: syncLimit ticks once serving, initLimit before;
    /// in discovery, earlier if registering again is due.
    pub fn deadline(&self, limits: LearnerLimits) -> Millis {
        let ticks = if self.up_to_date() { limits.sync_limit } else { limits.init_limit };
        let give_up = self.last_heard.plus(ticks * limits.tick_time_ms);
        if self.phase == LearnerPhase::Discovery {
            return give_up.min(self.register_again_at);
        }
        give_up
    }

    /// FOLLOWERINFO (OBSERVERINFO): who we are and the epoch we accepted.
    pub fn register(&self, view: LearnerView) -> LearnerEffect {
        let zxid = Zxid::new(view.epoch_accepted, 0);
        let info = LearnerInfo { server_id: self.me, protocol_version: PROTOCOL_VERSION, config_version: 0 };
        LearnerEffect::Send(if self.observer {
            QuorumMessage::ObserverInfo { zxid, info }
        } else {
            QuorumMessage::FollowerInfo { zxid, info }
        })
    }

    /// A quorum message from `from`.
    pub fn receive(
        &mut self,
        now: Millis,
        from: ServerId,
        message: QuorumMessage,
        view: LearnerView,
    ) -> Vec<LearnerEffect> {
        if from != self.leader {
            if let QuorumMessage::FollowerInfo { .. } | QuorumMessage::ObserverInfo { .. } = message {
                return vec![LearnerEffect::Refuse(from)];
            }
            return Vec::new();
        }
        if self.phase == LearnerPhase::Discovery {
            // Until LEADERINFO, what arrives belongs to an older connection to this leader.
            if let QuorumMessage::LeaderInfo { zxid, .. } = message {
                self.last_heard = now;
                return self.on_leader_info(zxid.epoch(), view);
            }
            return Vec::new();
        }
        self.last_heard = now;
        // Past discovery; NEWLEADER (kept through broadcast) ends the time for announcements.
        if let QuorumMessage::Diff { .. } | QuorumMessage::Trunc { .. } | QuorumMessage::Snap { .. } = message {
            if self.sync_announced || self.newleader.is_some() {
                return vec![LearnerEffect::Abandon("a second DIFF, TRUNC or SNAP")];
            }
            self.sync_announced = true;
        }
        match message {
            QuorumMessage::Diff { .. } => Vec::new(),
            QuorumMessage::Trunc { zxid } => vec![LearnerEffect::Truncate(zxid)],
            QuorumMessage::Snap { zxid } => {
                self.snap_zxid = Some(zxid);
                Vec::new()
            }
            QuorumMessage::Proposal { txn, .. } => self.on_proposal(txn, view),
            QuorumMessage::Inform { txn, .. } => match in_sequence(view.logged, txn.header.zxid) {
                true => vec![LearnerEffect::LogCommitted(txn)],
                false => vec![LearnerEffect::Abandon("inform out of sequence")],
            },
            QuorumMessage::Commit { zxid } if zxid > view.logged => {
                vec![LearnerEffect::Abandon("commit of a proposal never received")]
            }
            QuorumMessage::Commit { zxid } => vec![LearnerEffect::Commit(zxid)],
            QuorumMessage::NewLeader { zxid, .. } => self.on_newleader(zxid.epoch(), view),
            QuorumMessage::UpToDate { .. } => self.on_up_to_date(view),
            // An Apache ZooKeeper leader expects the NEWLEADER ACK before anything else from a
            // syncing learner and drops one that answers a PING first ("Next packet was supposed
            // to be an ACK"); ZooKeeper's learner only answers PINGs once up to date.
            QuorumMessage::Ping { .. } if self.phase != LearnerPhase::Broadcast => Vec::new(),
            #[cfg(feature = "mutants")]
            QuorumMessage::Ping { .. } if self.ignores_pings => Vec::new(),
            QuorumMessage::Ping { zxid, .. } => vec![LearnerEffect::AnswerPing(zxid)],
            QuorumMessage::RevalidateReply { session_id, valid, .. } => {
                vec![LearnerEffect::Revalidated { session: session_id, valid }]
            }
            QuorumMessage::Sync { .. } => vec![LearnerEffect::SyncAnswered],
            other => {
                tracing::debug!(?other, "learner ignores");
                Vec::new()
            }
        }
    }

    /// The database that follows a SNAP packet arrived from `from`.
    pub fn on_database(&mut self, now: Millis, from: ServerId) -> DatabaseVerdict {
        if from != self.leader {
            return DatabaseVerdict::Ignore;
        }
        let Some(zxid) = self.snap_zxid.take() else {
            return DatabaseVerdict::Abandon("database without SNAP");
        };
        self.last_heard = now;
        DatabaseVerdict::Install(zxid)
    }

    /// Everything handed to the driver before `step` was queued is durable.
    pub fn on_durable(&mut self, step: LearnerStep, view: LearnerView) -> Vec<LearnerEffect> {
        match step {
            LearnerStep::SendAckEpoch => {
                let message = QuorumMessage::AckEpoch { zxid: view.logged, epoch_current: self.ack_epoch_current };
                vec![LearnerEffect::Send(message)]
            }
            LearnerStep::SendAck(zxid) => vec![LearnerEffect::Send(QuorumMessage::Ack { zxid })],
            LearnerStep::WriteCurrentEpoch(epoch) => vec![LearnerEffect::WriteCurrentEpoch(epoch)],
            LearnerStep::UpToDate => self.on_up_to_date(view),
        }
    }

    /// Registers again while in discovery, or gives up on a leader silent beyond the limit.
    pub fn tick(&mut self, now: Millis, limits: LearnerLimits, view: LearnerView) -> Vec<LearnerEffect> {
        let give_up = self.last_heard.plus(limits.init_limit * limits.tick_time_ms);
        if self.phase == LearnerPhase::Discovery && now >= self.register_again_at && now < give_up {
            self.register_again_at = now.plus(REGISTER_RETRY_MS);
            return vec![self.register(view)];
        }
        if now >= self.deadline(limits) {
            return vec![LearnerEffect::Abandon("leader silent")];
        }
        Vec::new()
    }

    /// LEADERINFO: accept the new epoch durably (unless already accepted), then ACKEPOCH.
    fn on_leader_info(&mut self, epoch: Epoch, view: LearnerView) -> Vec<LearnerEffect> {
        if epoch < view.epoch_accepted {
            return vec![LearnerEffect::Abandon("leader's epoch is older than our accepted epoch")];
        }
        let fresh = epoch > view.epoch_accepted;
        self.phase = LearnerPhase::Synchronization;
        self.epoch = Some(epoch);
        self.ack_epoch_current = if fresh { view.epoch_current.0 as i32 } else { -1 };
        if fresh {
            return vec![LearnerEffect::AcceptEpoch(epoch)];
        }
        // The epoch was accepted before; still wait for every earlier log write, so the
        // last zxid we report is the one on disk.
        vec![LearnerEffect::WhenDurable(LearnerStep::SendAckEpoch)]
    }

    /// PROPOSAL: log it (in order, without holes); after NEWLEADER a follower ACKs it once
    /// logged.
    fn on_proposal(&mut self, txn: Txn, view: LearnerView) -> Vec<LearnerEffect> {
        if self.observer && self.up_to_date() {
            return Vec::new(); // Observers learn from INFORM once serving.
        }
        let zxid = txn.header.zxid;
        if !in_sequence(view.logged, zxid) {
            return vec![LearnerEffect::Abandon("proposal out of sequence")];
        }
        let ack = self.newleader.is_some() && !self.observer;
        vec![LearnerEffect::Log { txn, then: ack.then_some(LearnerStep::SendAck(zxid)) }]
    }

    /// NEWLEADER: currentEpoch is written after every synced transaction (the outputs are
    /// executed in order), and the ACK leaves only once it is durable.
    fn on_newleader(&mut self, epoch: Epoch, view: LearnerView) -> Vec<LearnerEffect> {
        if self.epoch != Some(epoch) || self.newleader.is_some() || self.snap_zxid.is_some() {
            return vec![LearnerEffect::Abandon("unexpected NEWLEADER")];
        }
        self.newleader = Some(view.logged);
        // ZOOKEEPER-4646: currentEpoch may become durable only after the synced transactions:
        // it is written once everything logged before NEWLEADER is durable, then ACKed.
        vec![LearnerEffect::WhenDurable(LearnerStep::WriteCurrentEpoch(epoch))]
    }

    fn on_up_to_date(&mut self, view: LearnerView) -> Vec<LearnerEffect> {
        let Some(synced) = self.newleader else {
            return vec![LearnerEffect::Abandon("UPTODATE before NEWLEADER")];
        };
        if self.epoch != Some(view.epoch_current) {
            // NEWLEADER is still waiting for the synced txns to be durable: ZooKeeper handles
            // packets one after the other, so UPTODATE takes effect only after it.
            return vec![LearnerEffect::WhenDurable(LearnerStep::UpToDate)];
        }
        self.phase = LearnerPhase::Broadcast;
        tracing::info!(server = self.me.0, "learner up to date; serving");
        vec![LearnerEffect::Serve { epoch: view.epoch_current, synced }]
    }
}

/// Whether `zxid` may follow `logged`: higher, and without a hole inside an epoch.
fn in_sequence(logged: Zxid, zxid: Zxid) -> bool {
    if zxid <= logged {
        return false;
    }
    zxid.epoch() != logged.epoch() || zxid.counter() == logged.counter() + 1
}
