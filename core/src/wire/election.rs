//! The election port (3888): the connection handshake and Fast Leader Election notifications.
//!
//! Sources: ZooKeeper 3.8 `server/quorum/QuorumCnxManager.java` (`startConnection`,
//! `handleConnection`, `InitialMessage.parse`, `SendWorker`, `RecvWorker`) and
//! `server/quorum/FastLeaderElection.java` (`buildMsg`, `Messenger.WorkerReceiver.run`).

use super::quorum::fields::checked_length;
use super::quorum::{decode_exact, decode_prefix_with, QuorumError};
use crate::constants::{QUORUM_ELECTION_ADDRESS_MAX, QUORUM_ELECTION_FRAME_MAX};
use crate::ids::{ServerId, Zxid};
use crate::wire::client::{JuteReader, JuteWriter};

/// `QuorumCnxManager.PROTOCOL_VERSION_V1`: one election address (what 3.8 sends unless
/// `multiAddress.enabled`).
pub const PROTOCOL_VERSION_V1: i64 = -65536;
/// `QuorumCnxManager.PROTOCOL_VERSION_V2`: `|`-separated election addresses.
pub const PROTOCOL_VERSION_V2: i64 = -65535;
/// `Notification.CURRENTVERSION`: notifications that carry the sender's config.
pub const NOTIFICATION_VERSION_CURRENT: i32 = 0x2;

/// What the initiator of an election connection sends first. The receiver sends nothing
/// back; both sides then exchange [`encode_election_frame`] frames. Only a connection
/// initiated by the higher server id survives (the receiver of a lower id closes and dials
/// back).
///
/// Layout: `long` protocol version or server id; for V1/V2 then `long` server id, `int`
/// length (1..=2048) and that many bytes of `host:port` (V2: `host:port|host:port...`).
/// A first long of 0 or more is a server id alone (before 3.5); a negative one other than
/// V1/V2 is refused (3.8 closes the connection).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ElectionHandshake {
    /// Before 3.5: the server id alone.
    Legacy {
        /// The initiator's id (0 or more).
        server_id: ServerId,
    },
    /// [`PROTOCOL_VERSION_V1`].
    V1 {
        /// The initiator's id.
        server_id: ServerId,
        /// Its election address, `host:port` (1 to 2048 bytes, kept as sent).
        address: Vec<u8>,
    },
    /// [`PROTOCOL_VERSION_V2`].
    V2 {
        /// The initiator's id.
        server_id: ServerId,
        /// Its election addresses, `host:port|host:port...` (1 to 2048 bytes, kept as sent).
        address: Vec<u8>,
    },
}

impl ElectionHandshake {
    /// The initiator's server id.
    pub fn server_id(&self) -> ServerId {
        match self {
            ElectionHandshake::Legacy { server_id }
            | ElectionHandshake::V1 { server_id, .. }
            | ElectionHandshake::V2 { server_id, .. } => *server_id,
        }
    }

    /// The bytes to send. A `Legacy` id must be below 2^63 to read back as one.
    pub fn encode(&self) -> Vec<u8> {
        let mut writer = JuteWriter::new();
        match self {
            ElectionHandshake::Legacy { server_id } => writer.write_i64(server_id.0 as i64),
            ElectionHandshake::V1 { server_id, address } | ElectionHandshake::V2 { server_id, address } => {
                let version = if matches!(self, ElectionHandshake::V1 { .. }) {
                    PROTOCOL_VERSION_V1
                } else {
                    PROTOCOL_VERSION_V2
                };
                writer.write_i64(version);
                writer.write_i64(server_id.0 as i64);
                writer.write_buffer(address);
            }
        }
        writer.into_bytes()
    }

    /// Reads a handshake from the front of a connection's bytes: `Ok(None)` until it is whole.
    pub fn decode_prefix(input: &[u8]) -> Result<Option<(ElectionHandshake, usize)>, QuorumError> {
        decode_prefix_with(input, read_handshake)
    }
}

fn read_handshake(reader: &mut JuteReader<'_>) -> Result<ElectionHandshake, QuorumError> {
    let first = reader.read_i64()?;
    if first >= 0 {
        return Ok(ElectionHandshake::Legacy { server_id: ServerId(first as u64) });
    }
    if first != PROTOCOL_VERSION_V1 && first != PROTOCOL_VERSION_V2 {
        return Err(QuorumError::HandshakeVersion(first));
    }
    let server_id = ServerId(reader.read_i64()? as u64);
    let length = reader.read_i32()?;
    if length <= 0 || length as usize > QUORUM_ELECTION_ADDRESS_MAX {
        return Err(QuorumError::AddressLength(length));
    }
    let address = reader.read_bytes(length as usize)?.to_vec();
    Ok(if first == PROTOCOL_VERSION_V1 {
        ElectionHandshake::V1 { server_id, address }
    } else {
        ElectionHandshake::V2 { server_id, address }
    })
}

/// Frames an election message: `int` length, then the payload.
pub fn encode_election_frame(payload: &[u8]) -> Vec<u8> {
    let mut writer = JuteWriter::new();
    writer.write_buffer(payload);
    writer.into_bytes()
}

/// Reads one frame from the front of the bytes after the handshake: the payload and the
/// bytes consumed, or `Ok(None)` until it is whole. A length of 0 or less, or over
/// `QUORUM_ELECTION_FRAME_MAX` (512 KiB), is an error (3.8 closes the connection).
pub fn decode_election_frame(input: &[u8]) -> Result<Option<(&[u8], usize)>, QuorumError> {
    decode_prefix_with(input, |reader| {
        let length = reader.read_i32()?;
        if length <= 0 {
            return Err(QuorumError::FrameLength(length));
        }
        let length = checked_length(length, QUORUM_ELECTION_FRAME_MAX).map_err(|_| QuorumError::FrameLength(length))?;
        Ok(reader.read_bytes(length)?)
    })
}

/// `QuorumPeer.ServerState`, sent as its ordinal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub enum WireServerState {
    /// 0: electing.
    Looking,
    /// 1: following a leader.
    Following,
    /// 2: leading.
    Leading,
    /// 3: observing (does not vote).
    Observing,
}

impl WireServerState {
    /// The ordinal on the wire.
    pub fn code(self) -> i32 {
        match self {
            WireServerState::Looking => 0,
            WireServerState::Following => 1,
            WireServerState::Leading => 2,
            WireServerState::Observing => 3,
        }
    }

    /// The state with this ordinal.
    pub fn from_code(code: i32) -> Result<WireServerState, QuorumError> {
        match code {
            0 => Ok(WireServerState::Looking),
            1 => Ok(WireServerState::Following),
            2 => Ok(WireServerState::Leading),
            3 => Ok(WireServerState::Observing),
            _ => Err(QuorumError::UnknownServerState(code)),
        }
    }
}

/// A Fast Leader Election notification: the sender's state and the vote it proposes.
///
/// Layout (`FastLeaderElection.buildMsg`), big-endian:
///
/// | offset | field | type |
/// |---:|---|---|
/// | 0 | state ([`WireServerState`] ordinal) | int |
/// | 4 | proposed leader | long |
/// | 12 | proposed zxid | long |
/// | 20 | election epoch (logical clock) | long |
/// | 28 | peer epoch (the proposed leader's epoch) | long |
/// | 36 | version (3.8 sends 2) | int |
/// | 40 | config length | int |
/// | 44 | config (the sender's quorum verifier, as text) | bytes |
///
/// Older forms, still accepted by 3.8: **28 bytes** (no peer epoch: `peer_epoch` is `None`,
/// and 3.8 takes the epoch of the zxid) and **40 bytes** (3.4: peer epoch and version 1;
/// 3.8 ignores the version field of a 40-byte message, we keep it to re-encode it, and refuse
/// a 40-byte message claiming a version above 1, which could not re-encode). Config
/// follows only when the version is above 1. Unlike 3.8, which ignores bytes after the
/// fields it reads, trailing bytes are refused so that every decoded value re-encodes to
/// its bytes.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WireNotification {
    /// The sender's state.
    pub state: WireServerState,
    /// The server it votes for.
    pub leader: ServerId,
    /// The zxid of that vote.
    pub zxid: Zxid,
    /// The sender's logical clock.
    pub election_epoch: u64,
    /// The proposed leader's epoch; `None` in the 28-byte form (and then `version` and
    /// `config` are not sent: encode them as 0 and empty).
    pub peer_epoch: Option<u64>,
    /// The notification version; 2 or more carries `config`.
    pub version: i32,
    /// The sender's config text (`server.N=...`, `version=...`), empty unless `version > 1`.
    pub config: Vec<u8>,
}

impl WireNotification {
    /// The frame payload (without the election frame's length prefix).
    pub fn encode(&self) -> Vec<u8> {
        let mut writer = JuteWriter::new();
        writer.write_i32(self.state.code());
        writer.write_i64(self.leader.0 as i64);
        writer.write_i64(self.zxid.0);
        writer.write_i64(self.election_epoch as i64);
        if let Some(peer_epoch) = self.peer_epoch {
            writer.write_i64(peer_epoch as i64);
            writer.write_i32(self.version);
            if self.version > 1 {
                writer.write_buffer(&self.config);
            }
        }
        writer.into_bytes()
    }

    /// Decodes one frame payload.
    pub fn decode(payload: &[u8]) -> Result<WireNotification, QuorumError> {
        if payload.len() < 28 {
            return Err(QuorumError::NotificationTooShort(payload.len()));
        }
        decode_exact(payload, |reader| {
            let state = WireServerState::from_code(reader.read_i32()?)?;
            let leader = ServerId(reader.read_i64()? as u64);
            let zxid = Zxid(reader.read_i64()?);
            let election_epoch = reader.read_i64()? as u64;
            let mut notification =
                WireNotification { state, leader, zxid, election_epoch, peer_epoch: None, version: 0, config: vec![] };
            if reader.remaining() == 0 {
                return Ok(notification);
            }
            notification.peer_epoch = Some(reader.read_i64()? as u64);
            notification.version = reader.read_i32()?;
            if payload.len() == 40 && notification.version > 1 {
                // 3.8 would read it as version 0; we could not re-encode it.
                return Err(QuorumError::OldFormVersion(notification.version));
            }
            if notification.version > 1 {
                let length = reader.read_i32()?;
                if length < 0 || length as usize > reader.remaining() {
                    return Err(QuorumError::ConfigLength { length, remaining: reader.remaining() });
                }
                notification.config = reader.read_bytes(length as usize)?.to_vec();
            }
            Ok(notification)
        })
    }
}
