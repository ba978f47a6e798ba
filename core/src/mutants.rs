//! Deliberate bugs, for proving that the simulator's checkers can fail (issue C item 7).
//!
//! This module exists only with the `mutants` cargo feature, which only the simulator's
//! tests enable; the `zab` binary is built without it and cannot reach any of this. The
//! mutant is chosen at run time through [`crate::node::Config::mutant`].

/// One deliberate bug.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Mutant {
    /// Replies to a write as soon as it is prepared, before the driver made it durable.
    ReplyBeforeFsync,
    /// On session expiry, drops the session without deleting its ephemerals.
    ForgetEphemeralsOnExpiry,
    /// Numbers sequential children by the parent's current child count instead of its
    /// cversion, so a number is reused after a delete.
    ReuseSequentialNumber,
    /// Sends a write's reply before the watch events it triggers.
    WatchAfterReply,
    /// Counts n/2 acknowledgements (rounded down) as a commit quorum, so a leader cut off
    /// from the rest of a 3-server ensemble commits alone.
    QuorumHalf,
    /// The leader closes each learner's link once it has lived 10 s, healthy or not (the
    /// shape of the 10 s first-message deadline that wrapped a whole link's life).
    CloseLinksAfterTenSeconds,
    /// A follower stops answering the leader's PINGs (it still acknowledges proposals).
    IgnorePing,
}

impl Mutant {
    /// Every mutant, for sweeps.
    pub const ALL: [Mutant; 7] = [
        Mutant::ReplyBeforeFsync,
        Mutant::ForgetEphemeralsOnExpiry,
        Mutant::ReuseSequentialNumber,
        Mutant::WatchAfterReply,
        Mutant::QuorumHalf,
        Mutant::CloseLinksAfterTenSeconds,
        Mutant::IgnorePing,
    ];
}
