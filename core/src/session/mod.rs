//! Client sessions: ids, passwords, timeout negotiation and expiry, as Apache ZooKeeper 3.8
//! does them (`SessionTrackerImpl`, `ExpiryQueue`, `ZooKeeperServer.processConnectRequest`,
//! `generatePasswd`/`checkPasswd`).
//!
//! [`SessionTracker`] is the leader's (or a standalone server's) table of live sessions. It
//! never reads a clock: every call that depends on time takes `now`. The driver asks
//! [`SessionTracker::next_expiry`] when to come back and then calls
//! [`SessionTracker::expired`], which hands out each expired session once and marks it
//! closing; the node then proposes a `closeSession` and calls [`SessionTracker::remove`]
//! when that transaction is applied.
//!
//! Passwords are not stored: like ZooKeeper, any server recomputes a session's password from
//! its id ([`session_password`]), so a client can move between zab and ZooKeeper servers.
//!
//! # A session's life, and where each step happens
//!
//! 1. **Created**: a handshake without a session id prepares a `createSession` transaction
//!    (`node/client.rs`, `Node::on_connect`; through a learner it travels to the leader as a
//!    REQUEST, `node/learner.rs`); applying it adds the session here
//!    ([`SessionTracker::add`]).
//! 2. **Kept alive**: every request and ping touches it ([`SessionTracker::touch`]); a
//!    learner reports its clients' sessions to the leader in PING answers.
//! 3. **Moved**: a client that reconnects with its id and password is revalidated (by the
//!    leader, through a learner: REVALIDATE) and bound to its new connection; an older
//!    connection holding it on this server is closed (`Node::bind_session_with_timeout`).
//! 4. **Expired**: only where sessions are owned (standalone, or an established leader),
//!    `Node::expire_sessions_and_containers` (`node/mod.rs`) takes each session
//!    [`SessionTracker::expired`] hands out and prepares a `closeSession` for it
//!    (`Node::prepare_close_session`, `node/client.rs`), exactly as if the client had closed it.
//! 5. **Closed**: preparing `closeSession` lists the session's ephemerals into the
//!    transaction (`tree/prepare.rs`, `close_session`). Applying it, on every replica at the
//!    same zxid (`Node::apply_txn`, `node/client.rs`), deletes them from the tree
//!    (`tree/apply.rs`) and takes the session out of this table ([`SessionTracker::remove`]);
//!    `Node::on_applied` then fires the deletions' watches and answers whoever asked.

use crate::constants::SESSION_PASSWORD_LEN;
use crate::ids::{Millis, ServerId, SessionId};
use std::collections::{BTreeMap, BTreeSet};

#[cfg(test)]
mod tests;

/// `EphemeralType.CONTAINER_EPHEMERAL_OWNER`: the `ephemeralOwner` that marks a container
/// znode, so no session may ever have this id.
const CONTAINER_EPHEMERAL_OWNER: i64 = i64::MIN;

/// `ZooKeeperServer.superSecret`, mixed into the password seed.
const PASSWORD_SECRET: i64 = 0xB341_5C00;

/// One tracked session.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Session {
    timeout_ms: i32,
    closing: bool,
    /// The expiry bucket the session sits in; `None` once it is closing (it is never
    /// handed out by [`SessionTracker::expired`] twice).
    bucket: Option<Millis>,
}

/// The table of live sessions and their expiry buckets.
///
/// Sessions expire in batches: a session's deadline is rounded up to the next multiple of the
/// tick (`ExpiryQueue.roundToNextInterval`), so one timer per tick serves every session.
#[derive(Clone, Debug)]
pub struct SessionTracker {
    tick_ms: u64,
    next_id: i64,
    sessions: BTreeMap<SessionId, Session>,
    /// Bucket deadline -> sessions due then. Empty buckets are dropped at once.
    buckets: BTreeMap<Millis, BTreeSet<SessionId>>,
}

impl SessionTracker {
    /// An empty tracker whose first session id is derived from `now` and the server id.
    ///
    /// `tick_ms` is `tickTime`, the width of an expiry bucket; it must be positive.
    pub fn new(server_id: ServerId, now: Millis, tick_ms: u64) -> SessionTracker {
        assert!(tick_ms > 0, "tickTime must be positive");
        SessionTracker {
            tick_ms,
            next_id: initial_session_id(server_id, now).0,
            sessions: BTreeMap::new(),
            buckets: BTreeMap::new(),
        }
    }

    /// Hands out the next session id (`SessionTrackerImpl.createSession`): one more than the
    /// previous id. The caller then [`add`](Self::add)s it.
    pub fn next_session_id(&mut self) -> SessionId {
        if self.next_id == CONTAINER_EPHEMERAL_OWNER {
            // ZooKeeper checks only the initial id; skipping on every step costs nothing and
            // keeps the container marker unreachable even after a wrap.
            self.next_id = self.next_id.wrapping_add(1);
        }
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        SessionId(id)
    }

    /// Tracks a session with a (negotiated) timeout, expiring `timeout_ms` after `now`
    /// (`SessionTrackerImpl.trackSession`). Also used when replaying a `createSession` txn or
    /// loading a snapshot.
    ///
    /// For a session already tracked, the timeout is replaced and the bucket recomputed from
    /// `now`, as `trackSession` does; a closing session stays closing and out of the buckets.
    pub fn add(&mut self, id: SessionId, timeout_ms: i32, now: Millis) {
        let bucket = self.bucket_for(now, timeout_ms);
        let closing = match self.sessions.get(&id) {
            Some(session) => session.closing,
            None => false,
        };
        self.unbucket(id);
        let bucket = if closing { None } else { Some(bucket) };
        if let Some(bucket) = bucket {
            self.buckets.entry(bucket).or_default().insert(id);
        }
        let session = Session { timeout_ms, closing, bucket };
        self.sessions.insert(id, session);
    }

    /// Records activity on a session (a request or a ping): its deadline moves to
    /// `now + timeout`, rounded up, if that bucket is later than the current one.
    ///
    /// Returns false if the session is unknown or closing (`touchSession`), and then changes
    /// nothing.
    pub fn touch(&mut self, id: SessionId, now: Millis) -> bool {
        let Some(session) = self.sessions.get(&id) else {
            return false;
        };
        if session.closing {
            return false;
        }
        let bucket = self.bucket_for(now, session.timeout_ms);
        if session.bucket.is_some_and(|current| current >= bucket) {
            return true;
        }
        self.unbucket(id);
        self.buckets.entry(bucket).or_default().insert(id);
        self.sessions.get_mut(&id).expect("checked above").bucket = Some(bucket);
        true
    }

    /// Marks a session closing (`setSessionClosing`): it accepts no more touches and will not
    /// be reported by [`expired`](Self::expired). Unknown ids are ignored, as in ZooKeeper.
    pub fn set_closing(&mut self, id: SessionId) {
        self.unbucket(id);
        if let Some(session) = self.sessions.get_mut(&id) {
            session.closing = true;
            session.bucket = None;
        }
    }

    /// Whether the session is tracked and closing.
    pub fn is_closing(&self, id: SessionId) -> bool {
        self.sessions.get(&id).is_some_and(|session| session.closing)
    }

    /// Forgets a session (`removeSession`), typically when its `closeSession` txn is applied.
    pub fn remove(&mut self, id: SessionId) {
        self.unbucket(id);
        self.sessions.remove(&id);
    }

    /// Every session whose bucket deadline is at or before `now`, by bucket and then by id.
    /// Each is marked closing, so it is reported once; the caller proposes its
    /// `closeSession`.
    pub fn expired(&mut self, now: Millis) -> Vec<SessionId> {
        let mut expired = Vec::new();
        while let Some(entry) = self.buckets.first_entry() {
            if *entry.key() > now {
                break;
            }
            expired.extend(entry.remove());
        }
        for id in &expired {
            let session = self.sessions.get_mut(id).expect("bucketed sessions are tracked");
            assert!(!session.closing, "closing sessions are never bucketed");
            session.closing = true;
            session.bucket = None;
        }
        expired
    }

    /// The earliest bucket deadline, if any session can still expire: when the driver should
    /// call [`expired`](Self::expired) next.
    pub fn next_expiry(&self) -> Option<Millis> {
        self.buckets.keys().next().copied()
    }

    /// The bucket deadline of a session that is tracked and not closing.
    pub fn expiry(&self, id: SessionId) -> Option<Millis> {
        self.sessions.get(&id).and_then(|session| session.bucket)
    }

    /// The negotiated timeout of a tracked session.
    pub fn timeout_ms(&self, id: SessionId) -> Option<i32> {
        self.sessions.get(&id).map(|session| session.timeout_ms)
    }

    /// Whether the session is tracked (closing or not).
    pub fn contains(&self, id: SessionId) -> bool {
        self.sessions.contains_key(&id)
    }

    /// Number of tracked sessions, closing ones included.
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    /// Whether no session is tracked.
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// Every tracked session and its timeout, sorted by id (for snapshots and `dump`).
    pub fn iter(&self) -> impl Iterator<Item = (SessionId, i32)> + '_ {
        self.sessions.iter().map(|(id, session)| (*id, session.timeout_ms))
    }

    /// Asserts that the session table and the buckets agree.
    pub fn check_invariants(&self) {
        let mut bucketed = 0;
        for (bucket, ids) in &self.buckets {
            assert!(!ids.is_empty(), "empty bucket {bucket:?} kept");
            assert_eq!(bucket.0 % self.tick_ms, 0, "bucket {bucket:?} is not on a tick");
            for id in ids {
                let session = self.sessions.get(id).expect("bucketed session is tracked");
                assert_eq!(session.bucket, Some(*bucket), "session {id} in the wrong bucket");
                assert!(!session.closing, "closing session {id} is bucketed");
            }
            bucketed += ids.len();
        }
        let open = self.sessions.values().filter(|session| !session.closing).count();
        assert_eq!(bucketed, open, "every open session sits in exactly one bucket");
    }

    /// `ExpiryQueue.roundToNextInterval(now + timeout)`: the first tick strictly after the
    /// deadline, so a session always gets at least its full timeout.
    fn bucket_for(&self, now: Millis, timeout_ms: i32) -> Millis {
        // A negative timeout can only come from a corrupt txn; treat it as zero rather than
        // wrapping into the far future.
        let timeout = u64::try_from(timeout_ms).unwrap_or(0);
        let deadline = now.0.saturating_add(timeout);
        Millis((deadline / self.tick_ms).saturating_add(1).saturating_mul(self.tick_ms))
    }

    /// Takes a session out of its bucket, dropping the bucket if it empties.
    fn unbucket(&mut self, id: SessionId) {
        let Some(bucket) = self.sessions.get(&id).and_then(|session| session.bucket) else {
            return;
        };
        let ids = self.buckets.get_mut(&bucket).expect("a session's bucket exists");
        assert!(ids.remove(&id), "session {id} missing from its bucket");
        if ids.is_empty() {
            self.buckets.remove(&bucket);
        }
    }
}

/// `SessionTrackerImpl.initializeNextSessionId`: the server id in the top byte, then the low
/// 40 bits of the time in ms, then 16 zero bits. The shift right is logical (ZOOKEEPER-1622),
/// so a large time can never spill into the server byte.
pub fn initial_session_id(server_id: ServerId, now: Millis) -> SessionId {
    let time_bits = (now.0 << 24) >> 8;
    let id = (time_bits | (server_id.0 << 56)) as i64;
    if id == CONTAINER_EPHEMERAL_OWNER {
        return SessionId(id + 1);
    }
    SessionId(id)
}

/// `processConnectRequest`'s clamp: raise to `min_ms` first, then lower to `max_ms` (so if a
/// misconfiguration makes min exceed max, max wins, as in ZooKeeper).
pub fn negotiate_timeout(requested_ms: i32, min_ms: i32, max_ms: i32) -> i32 {
    let mut timeout = requested_ms;
    if timeout < min_ms {
        timeout = min_ms;
    }
    if timeout > max_ms {
        timeout = max_ms;
    }
    timeout
}

/// The session's password, byte-identical to ZooKeeper's `generatePasswd`: 16 bytes from
/// `java.util.Random(sessionId ^ 0xB3415C00).nextBytes`.
pub fn session_password(id: SessionId) -> [u8; SESSION_PASSWORD_LEN] {
    let mut random = JavaRandom::new(id.0 ^ PASSWORD_SECRET);
    let mut password = [0; SESSION_PASSWORD_LEN];
    random.next_bytes(&mut password);
    password
}

/// `checkPasswd`: the id is not 0 and the password is exactly the one derived from it.
pub fn check_password(id: SessionId, password: &[u8]) -> bool {
    id.0 != 0 && password == session_password(id)
}

/// `java.util.Random`: a 48-bit linear congruential generator (Knuth, TAOCP 3.2.1). Only the
/// parts `nextBytes` needs; it must match the JDK bit for bit.
struct JavaRandom {
    seed: u64,
}

impl JavaRandom {
    const MULTIPLIER: u64 = 0x5_DEEC_E66D;
    const ADDEND: u64 = 0xB;
    const MASK: u64 = (1 << 48) - 1;

    /// `new Random(seed)`: the seed is scrambled with the multiplier and cut to 48 bits.
    fn new(seed: i64) -> JavaRandom {
        JavaRandom { seed: (seed as u64 ^ Self::MULTIPLIER) & Self::MASK }
    }

    /// `next(32)`, i.e. `nextInt()`: the top 32 of the 48 state bits.
    fn next_int(&mut self) -> u32 {
        self.seed = (self.seed.wrapping_mul(Self::MULTIPLIER).wrapping_add(Self::ADDEND)) & Self::MASK;
        (self.seed >> 16) as u32
    }

    /// `nextBytes`: one `nextInt` per 4 bytes, least significant byte first; a short tail
    /// uses the low bytes of one more `nextInt`.
    fn next_bytes(&mut self, bytes: &mut [u8]) {
        for chunk in bytes.chunks_mut(4) {
            let word = self.next_int().to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
    }
}
