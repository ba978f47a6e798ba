//! Apache ZooKeeper 3.8's server-to-server protocol, byte for byte, so that zab servers and
//! Apache servers can form one ensemble.
//!
//! Two ports, two codecs, both sans-IO and total (any bytes decode to a value or a
//! [`QuorumError`], never a panic, and nothing is allocated beyond the input):
//!
//! - **Election port (3888)**, [`super::election`]: the initiator's
//!   [`ElectionHandshake`](super::election::ElectionHandshake), then length-prefixed frames
//!   ([`decode_election_frame`](super::election::decode_election_frame)) each holding one FLE
//!   notification ([`WireNotification`](super::election::WireNotification)).
//! - **Quorum port (2888)**, [`packet`] and [`message`]: jute [`QuorumPacket`] records back
//!   to back with no framing of their own, typed as [`QuorumMessage`]; after a `SNAP` packet
//!   the leader writes the serialized database ([`WireDatabase`], [`database`]) and the
//!   signature `"BenWasHere"` onto the same stream.
//!
//! Proposals carry transactions in ZooKeeper's log format ([`txn`]), mapped to and from
//! [`crate::txn::Txn`].
//!
//! Each `decode_prefix` function reads from the front of a stream buffer and answers
//! `Ok(None)` when more bytes are needed; every length is capped before it is waited for, so
//! a peer cannot make a reader wait for gigabytes. Buffers and strings are capped by the
//! receiving server's `jute.maxbuffer` ([`QuorumLimits`], as in ZooKeeper, where one property
//! covers the client and the quorum ports); counts by constants `QUORUM_*_MAX`.
//!
//! Checked against bytes captured from a real 3-server ZooKeeper 3.8.0 ensemble:
//! `core/tests/fixtures/quorum/`.

pub mod database;
pub(super) mod fields;
pub mod message;
pub mod packet;
pub mod txn;

pub use database::{StatPersisted, WireDatabase, WireNode, SNAP_SIGNATURE};
pub use message::{LearnerInfo, QuorumMessage};
pub use packet::{packet_type, QuorumPacket};
pub use txn::{decode_txn, encode_txn, TxnDigest};

use crate::constants::{JUTE_MAX_BUFFER_DEFAULT, QUORUM_FIELD_EXTRA_MIN};
use crate::wire::client::DecodeError;

/// The caps a quorum decoder applies, from the receiving server's configuration.
///
/// ZooKeeper reads every quorum packet through `BinaryInputArchive`, whose `checkLength`
/// refuses a buffer or string longer than `jute.maxbuffer` + `zookeeper.jute.maxbuffer.extrasize`
/// (the extra defaulting to `jute.maxbuffer` itself, at least 1024). The slack is what lets a
/// follower take a transaction a little larger than the request the leader accepted under the
/// same `jute.maxbuffer` (ZOOKEEPER-3496): the request frame is capped at `jute.maxbuffer`,
/// the transaction adds its header, digest and per-op envelopes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuorumLimits {
    /// This server's `jute.maxbuffer` (`Config::max_buffer`).
    pub max_buffer: usize,
}

impl QuorumLimits {
    /// ZooKeeper's default `jute.maxbuffer` (1 MiB − 1).
    pub const DEFAULT: QuorumLimits = QuorumLimits { max_buffer: JUTE_MAX_BUFFER_DEFAULT };

    /// The limits of a server configured with this `jute.maxbuffer`.
    pub const fn new(max_buffer: usize) -> QuorumLimits {
        QuorumLimits { max_buffer }
    }

    /// The largest buffer or string accepted: `jute.maxbuffer` plus the default extrasize.
    pub const fn field_max(&self) -> usize {
        let extra = if self.max_buffer > QUORUM_FIELD_EXTRA_MIN { self.max_buffer } else { QUORUM_FIELD_EXTRA_MIN };
        self.max_buffer.saturating_add(extra)
    }

    /// The most elements of at least `element_len_min` bytes one vector may announce: as many
    /// as the largest field could hold (ZooKeeper caps no count; the bytes cap them).
    pub const fn entries_max(&self, element_len_min: usize) -> usize {
        self.field_max() / element_len_min
    }
}

impl Default for QuorumLimits {
    fn default() -> QuorumLimits {
        QuorumLimits::DEFAULT
    }
}

/// Why bytes from a peer could not be decoded.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
pub enum QuorumError {
    /// A jute primitive failed (truncated input, bad length, bad UTF-8, trailing bytes).
    #[error(transparent)]
    Jute(#[from] DecodeError),
    /// A length over its cap (`QUORUM_*_MAX`): the peer is broken or hostile.
    #[error("length {length} exceeds the limit {max}")]
    FieldTooLarge {
        /// The length read.
        length: i64,
        /// The cap.
        max: usize,
    },
    /// A negative count or length where jute's null (−1) is not allowed either.
    #[error("negative count or length {0}")]
    NegativeLength(i32),
    /// A null (−1) string where ZooKeeper always writes one.
    #[error("null string")]
    NullString,
    /// An election handshake whose first long is negative but not a known protocol version.
    #[error("unknown election protocol version {0}")]
    HandshakeVersion(i64),
    /// An election handshake address length of 0 or less, or over the cap.
    #[error("election handshake address length {0}")]
    AddressLength(i32),
    /// An election frame length of 0 or less, or over `QUORUM_ELECTION_FRAME_MAX`.
    #[error("election frame length {0}")]
    FrameLength(i32),
    /// A notification shorter than the oldest (28-byte) form.
    #[error("notification of {0} bytes is shorter than 28")]
    NotificationTooShort(usize),
    /// A 40-byte (3.4) notification claiming a version above 1, i.e. config it cannot hold.
    #[error("40-byte notification with version {0}")]
    OldFormVersion(i32),
    /// A server state outside LOOKING, FOLLOWING, LEADING, OBSERVING.
    #[error("unknown server state {0}")]
    UnknownServerState(i32),
    /// A notification config length below 0 or past the end.
    #[error("notification config length {length} with {remaining} bytes left")]
    ConfigLength {
        /// The length read.
        length: i32,
        /// Bytes left.
        remaining: usize,
    },
    /// A quorum packet type ZooKeeper does not define.
    #[error("unknown quorum packet type {0}")]
    UnknownPacketType(i32),
    /// Authinfo on a packet type that never carries it.
    #[error("packet type {0} carries authinfo")]
    UnexpectedAuthinfo(i32),
    /// Data on a packet type that ZooKeeper sends with null data.
    #[error("packet type {0} carries data")]
    UnexpectedData(i32),
    /// Null data on a packet type that needs some.
    #[error("packet type {0} has no data")]
    MissingData(i32),
    /// Data of a size this packet type never has.
    #[error("packet type {packet_type} with {length} bytes of data")]
    DataLength {
        /// The packet type.
        packet_type: i32,
        /// The data's length.
        length: usize,
    },
    /// A transaction header type with no transaction record ZooKeeper knows.
    #[error("unknown transaction type {0}")]
    UnknownTxnType(i32),
    /// A transaction type that cannot appear inside a `MultiTxn`.
    #[error("transaction type {0} inside a multi")]
    InvalidSubTxnType(i32),
    /// The string after a SNAP database is not `"BenWasHere"`.
    #[error("bad snapshot signature {0:?}")]
    BadSignature(String),
}

impl QuorumError {
    /// Whether the input simply ended early: a stream reader should wait for more bytes.
    pub fn is_truncated(&self) -> bool {
        matches!(self, QuorumError::Jute(DecodeError::Truncated { .. }))
    }
}

/// Runs a decoder over the front of a stream: `Ok(Some((value, consumed)))`, `Ok(None)` when
/// the input ends early, or the error.
pub(crate) fn decode_prefix_with<'a, T>(
    input: &'a [u8],
    decode: impl FnOnce(&mut crate::wire::client::JuteReader<'a>) -> Result<T, QuorumError>,
) -> Result<Option<(T, usize)>, QuorumError> {
    let mut reader = crate::wire::client::JuteReader::new(input);
    match decode(&mut reader) {
        Ok(value) => Ok(Some((value, input.len() - reader.remaining()))),
        Err(error) if error.is_truncated() => Ok(None),
        Err(error) => Err(error),
    }
}

/// Runs a decoder that must consume `input` exactly.
pub(crate) fn decode_exact<'a, T>(
    input: &'a [u8],
    decode: impl FnOnce(&mut crate::wire::client::JuteReader<'a>) -> Result<T, QuorumError>,
) -> Result<T, QuorumError> {
    let mut reader = crate::wire::client::JuteReader::new(input);
    let value = decode(&mut reader)?;
    reader.finish()?;
    Ok(value)
}
