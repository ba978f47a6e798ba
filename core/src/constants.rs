//! Every limit in one place (STYLE.md rule 9), with compile-time checks between related ones.

/// Default `tickTime` in ms.
pub const TICK_TIME_MS_DEFAULT: u64 = 2000;

/// Default `jute.maxbuffer`: the largest frame and the largest znode data, in bytes.
pub const JUTE_MAX_BUFFER_DEFAULT: usize = 0xfffff;

/// Largest number of sub-operations accepted in one multi or multiRead.
pub const MULTI_OPS_MAX: usize = 10_000;

/// Largest TTL ZooKeeper can encode in `ephemeralOwner` (40 bits of ms).
pub const TTL_MS_MAX: i64 = 0xff_ffff_ffff;

/// Default `maxClientCnxns` per client IP.
pub const CLIENT_CONNECTIONS_PER_IP_MAX_DEFAULT: u32 = 60;

/// Default `globalOutstandingLimit`.
pub const OUTSTANDING_REQUESTS_MAX_DEFAULT: usize = 1000;

/// Default interval between container/TTL sweeps (`znode.container.checkIntervalMs`).
pub const CONTAINER_CHECK_INTERVAL_MS_DEFAULT: u64 = 60_000;

/// Length of a session password.
pub const SESSION_PASSWORD_LEN: usize = 16;

const _: () = assert!(MULTI_OPS_MAX < JUTE_MAX_BUFFER_DEFAULT);
const _: () = assert!(TICK_TIME_MS_DEFAULT > 0);

// ---- data tree (branch `tree`) ----

/// Default `znode.container.maxNeverUsedIntervalMs`: 0 keeps a container that never had a
/// child forever (pass it to `DataTree::expired_containers_and_ttls`).
pub const CONTAINER_MAX_NEVER_USED_INTERVAL_MS_DEFAULT: i64 = 0;

/// Largest server id that may own ephemerals: with extended types, a session id's high byte
/// is its server id, and `0xff` marks TTL nodes (`EphemeralType.MAX_EXTENDED_SERVER_ID`).
pub const SERVER_ID_EXTENDED_MAX: u64 = 0xfe;

// ---- quorum protocol (branch `quorum`) ----

/// Largest election-port frame ZooKeeper accepts (`QuorumCnxManager.PACKETMAXSIZE`).
pub const QUORUM_ELECTION_FRAME_MAX: usize = 512 * 1024;

/// Largest address string in an election handshake (`QuorumCnxManager.InitialMessage`).
pub const QUORUM_ELECTION_ADDRESS_MAX: usize = 2048;

/// Smallest `zookeeper.jute.maxbuffer.extrasize`: what a jute buffer or string on the quorum
/// port may exceed `jute.maxbuffer` by. Its default is `jute.maxbuffer` itself, and a smaller
/// setting is raised to this (`BinaryInputArchive` since ZOOKEEPER-3496, 3.6; checked on the
/// 3.8.0 jar). The cap itself follows the configured buffer: `quorum::QuorumLimits`.
pub const QUORUM_FIELD_EXTRA_MIN: usize = 1024;

/// Smallest encoding of a `data.Id` (two empty strings): the `authinfo` vector of a quorum
/// packet holds at most `QuorumLimits::field_max()` / this many (ZooKeeper caps no count; a
/// constant cap made a follower's REQUEST with a client's many auth ids unreadable).
pub const QUORUM_ID_LEN_MIN: usize = 8;

/// Smallest encoding of a `data.ACL`: an ACL list, in a transaction or in the SNAP
/// database's ACL cache, holds at most `QuorumLimits::field_max()` / this many entries (a
/// constant cap of 1024 made a legal create with more entries unreadable to followers).
pub const QUORUM_ACL_LEN_MIN: usize = 4 + QUORUM_ID_LEN_MIN;

/// Largest number of sessions, and of ACL cache entries, in a SNAP database.
pub const QUORUM_SNAP_ENTRIES_MAX: usize = 1 << 24;

/// Largest number of ephemeral paths in one `CloseSessionTxn`.
pub const QUORUM_CLOSE_SESSION_PATHS_MAX: usize = 1 << 20;

/// Bytes a transaction adds around its record on the quorum port and in ZooKeeper's log:
/// `TxnHeader` (long, int, long, long, int) and `TxnDigest` (int, long).
pub const QUORUM_TXN_ENVELOPE_LEN: usize = 8 + 4 + 8 + 8 + 4 + 4 + 8;

const _: () = assert!(QUORUM_ELECTION_ADDRESS_MAX < QUORUM_ELECTION_FRAME_MAX);
const _: () = assert!(QUORUM_ELECTION_FRAME_MAX < JUTE_MAX_BUFFER_DEFAULT + QUORUM_FIELD_EXTRA_MIN);

// ---- leader election (branch `election`) ----

/// `FastLeaderElection.finalizeWait`: how long a server that sees a quorum agree waits for a
/// better vote before it decides, in ms.
pub const ELECTION_FINALIZE_WAIT_MS: u64 = 200;

/// Default first notification timeout (`zookeeper.fastleader.minNotificationInterval`, which
/// defaults to `finalizeWait`), in ms.
pub const ELECTION_NOTIFICATION_TIMEOUT_MS_MIN_DEFAULT: u64 = ELECTION_FINALIZE_WAIT_MS;

/// Default ceiling of the doubling notification timeout
/// (`zookeeper.fastleader.maxNotificationInterval`), in ms.
pub const ELECTION_NOTIFICATION_TIMEOUT_MS_MAX_DEFAULT: u64 = 60_000;

/// Default largest random extra delay added to each notification timeout, in ms. ZooKeeper has
/// none; a little keeps servers that started together from resending in lockstep.
pub const ELECTION_TIMEOUT_JITTER_MS_MAX_DEFAULT: u64 = 20;

/// Most servers (voters and observers) one election knows.
pub const ELECTION_SERVERS_MAX: usize = 1024;

/// Most outputs an election holds undrained. One input emits at most one notification per voter,
/// one reply and one decision; the driver drains after every input.
pub const ELECTION_OUTPUTS_MAX: usize = 2 * ELECTION_SERVERS_MAX + 2;

const _: () = assert!(ELECTION_NOTIFICATION_TIMEOUT_MS_MIN_DEFAULT > 0);
const _: () = assert!(ELECTION_NOTIFICATION_TIMEOUT_MS_MIN_DEFAULT < ELECTION_NOTIFICATION_TIMEOUT_MS_MAX_DEFAULT);
const _: () = assert!(ELECTION_TIMEOUT_JITTER_MS_MAX_DEFAULT < ELECTION_NOTIFICATION_TIMEOUT_MS_MIN_DEFAULT);
const _: () = assert!(ELECTION_OUTPUTS_MAX > ELECTION_SERVERS_MAX + 2);

// ---- ZAB replication (branch `zab`) ----

/// Default `initLimit` in ticks (ZooKeeper's sample zoo.cfg).
pub const ZAB_INIT_LIMIT_DEFAULT: u64 = 10;

/// Default `syncLimit` in ticks (ZooKeeper's sample zoo.cfg).
pub const ZAB_SYNC_LIMIT_DEFAULT: u64 = 5;

/// Default `zookeeper.commitLogCount`: committed transactions kept in memory for DIFF.
pub const ZAB_COMMIT_LOG_COUNT_DEFAULT: usize = 500;

/// Quorum messages a LOOKING server holds for the role it is about to take (a learner's
/// FOLLOWERINFO that arrived before this server knew it leads).
pub const HELD_QUORUM_MESSAGES_MAX: usize = 1024;

/// How long an accepted election connection may take to send its handshake, in ms
/// (`zookeeper.cnxTimeout`, `QuorumCnxManager`'s default).
pub const ELECTION_HANDSHAKE_TIMEOUT_MS: u64 = 5_000;

const _: () = assert!(ZAB_SYNC_LIMIT_DEFAULT > 0);
const _: () = assert!(ZAB_SYNC_LIMIT_DEFAULT <= ZAB_INIT_LIMIT_DEFAULT);

// ---- zxid counter rollover, ZOOKEEPER-1277 (branch `rollover`) ----

/// The largest counter (low 32 bits of a zxid) a leader proposes. `Leader.propose` refuses the
/// zxid whose counter is all ones and gives up leading instead (ZOOKEEPER-1277): one more
/// would carry into the epoch bits and collide with a later leader's epoch.
pub const ZXID_COUNTER_MAX: u32 = u32::MAX - 1;

const _: () = assert!(ZXID_COUNTER_MAX < u32::MAX);
