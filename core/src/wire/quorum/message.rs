//! Typed views of quorum packets: one [`QuorumMessage`] variant per packet type, payload
//! decoded.
//!
//! Sources (ZooKeeper 3.8, `server/quorum/`): `Learner.java` (`registerWithLeader`,
//! `request`, `ping`, `validateSession`, `syncWithLeader`), `LearnerHandler.java` (`run`,
//! `syncFollower`), `LearnerMaster.java` (`revalidateSession`), `Leader.java` (`propose`,
//! `commit`, `inform`, `sendSync`, `lead`). Every `zxid` is the packet's own; what 3.8
//! puts there is said per variant.

use super::packet::{packet_type as t, QuorumPacket};
use super::txn::{decode_txn, encode_txn, TxnDigest};
use super::{decode_exact, QuorumError, QuorumLimits};
use crate::ids::{ServerId, SessionId, Xid, Zxid};
use crate::txn::Txn;
use crate::wire::client::{Id, JuteReader, JuteWriter};

/// `quorum.LearnerInfo{long serverid; int protocolVersion; long configVersion}`, the 20-byte
/// data of FOLLOWERINFO and OBSERVERINFO. (3.8 also accepts 8 to 19 bytes as a bare server
/// id from before 3.4, which no 3.8 peer sends; those are refused here.)
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LearnerInfo {
    /// The learner's id.
    pub server_id: ServerId,
    /// `0x10000` since 3.4.
    pub protocol_version: i32,
    /// The version of the learner's last seen quorum config.
    pub config_version: i64,
}

/// A quorum packet by type, with its payload decoded.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum QuorumMessage {
    /// REQUEST (1), learner → leader: a client write forwarded. Data: `long sessionId, int
    /// cxid, int type`, then the request record's bytes (`Request.readRequestBytes`; for
    /// createSession the 4-byte timeout); authinfo is the connection's auth ids (null for
    /// createSession). zxid −1.
    Request {
        /// Packet zxid (−1).
        zxid: Zxid,
        /// The client's session.
        session_id: SessionId,
        /// The client's xid.
        cxid: Xid,
        /// The opcode.
        op: i32,
        /// The request body as the client sent it (decode with `crate::wire::client`).
        request: Vec<u8>,
        /// The connection's auth ids; `None` is null.
        authinfo: Option<Vec<Id>>,
    },
    /// PROPOSAL (2), leader → follower: data is a transaction ([`super::txn`]); zxid is its zxid.
    Proposal {
        /// Packet zxid.
        zxid: Zxid,
        /// The transaction.
        txn: Txn,
        /// The leader's tree digest after it (3.8 default).
        digest: Option<TxnDigest>,
    },
    /// ACK (3), follower → leader: the proposal with this zxid is logged (also acknowledges
    /// NEWLEADER, with its zxid). Null data.
    Ack {
        /// The zxid acknowledged.
        zxid: Zxid,
    },
    /// COMMIT (4), leader → follower: commit up to this zxid. Null data.
    Commit {
        /// The zxid committed.
        zxid: Zxid,
    },
    /// PING (5). Leader → learner: zxid = last proposed, null data. Learner → leader: the
    /// same zxid back and its session touch table as data, `(long sessionId, int timeout)*`
    /// (possibly empty, never null).
    Ping {
        /// Packet zxid.
        zxid: Zxid,
        /// `None` from the leader; the touched sessions from a learner.
        sessions: Option<Vec<(SessionId, i32)>>,
    },
    /// REVALIDATE (6), learner → leader: `long sessionId, int timeout` (12 bytes), zxid −1:
    /// is this session (reconnecting through the learner) still alive?
    Revalidate {
        /// Packet zxid (−1).
        zxid: Zxid,
        /// The session.
        session_id: SessionId,
        /// Its timeout in ms.
        timeout_ms: i32,
    },
    /// REVALIDATE (6), leader → learner: the same packet with data `long sessionId, boolean
    /// valid` (9 bytes).
    RevalidateReply {
        /// Packet zxid (as received, −1).
        zxid: Zxid,
        /// The session.
        session_id: SessionId,
        /// Whether it is still alive.
        valid: bool,
    },
    /// SYNC (7), leader → learner: a client's `sync` is done. zxid 0, null data.
    Sync {
        /// Packet zxid.
        zxid: Zxid,
    },
    /// INFORM (8), leader → observer: a committed transaction (data as PROPOSAL).
    Inform {
        /// Packet zxid.
        zxid: Zxid,
        /// The transaction.
        txn: Txn,
        /// The tree digest after it.
        digest: Option<TxnDigest>,
    },
    /// COMMITANDACTIVATE (9): commit of a reconfig; data kept opaque.
    CommitAndActivate {
        /// Packet zxid.
        zxid: Zxid,
        /// Raw data.
        data: Option<Vec<u8>>,
    },
    /// NEWLEADER (10), leader → learner: end of sync; zxid = new epoch << 32; data = the
    /// leader's last seen quorum config as text (null before 3.5).
    NewLeader {
        /// Packet zxid.
        zxid: Zxid,
        /// Config text.
        config: Option<Vec<u8>>,
    },
    /// FOLLOWERINFO (11), follower → leader: zxid = accepted epoch << 32.
    FollowerInfo {
        /// Packet zxid.
        zxid: Zxid,
        /// Who the learner is.
        info: LearnerInfo,
    },
    /// UPTODATE (12), leader → learner: start serving. zxid −1, null data.
    UpToDate {
        /// Packet zxid.
        zxid: Zxid,
    },
    /// DIFF (13), leader → learner: PROPOSAL/COMMIT pairs follow; zxid = leader's last
    /// committed. Null data.
    Diff {
        /// Packet zxid.
        zxid: Zxid,
    },
    /// TRUNC (14), leader → learner: truncate the log to this zxid. Null data.
    Trunc {
        /// Packet zxid.
        zxid: Zxid,
    },
    /// SNAP (15), leader → learner: the database follows on the stream
    /// ([`super::WireDatabase::decode_snap_stream_prefix`]). Null data.
    Snap {
        /// Packet zxid (the leader's last logged zxid).
        zxid: Zxid,
    },
    /// OBSERVERINFO (16), observer → leader, as FOLLOWERINFO.
    ObserverInfo {
        /// Packet zxid.
        zxid: Zxid,
        /// Who the learner is.
        info: LearnerInfo,
    },
    /// LEADERINFO (17), leader → learner: zxid = new epoch << 32; data = `int` protocol
    /// version (0x10000).
    LeaderInfo {
        /// Packet zxid.
        zxid: Zxid,
        /// The leader's protocol version.
        protocol_version: i32,
    },
    /// ACKEPOCH (18), learner → leader: zxid = its last logged zxid; data = `int` current
    /// epoch, or −1 when it had already accepted the new epoch.
    AckEpoch {
        /// Packet zxid.
        zxid: Zxid,
        /// The learner's current epoch.
        epoch_current: i32,
    },
    /// INFORMANDACTIVATE (19): INFORM of a reconfig; data kept opaque.
    InformAndActivate {
        /// Packet zxid.
        zxid: Zxid,
        /// Raw data.
        data: Option<Vec<u8>>,
    },
}

impl QuorumMessage {
    /// Decodes bytes holding exactly one packet.
    pub fn decode(bytes: &[u8], limits: QuorumLimits) -> Result<QuorumMessage, QuorumError> {
        QuorumMessage::from_packet(&QuorumPacket::decode(bytes, limits)?, limits)
    }

    /// The packet's bytes.
    pub fn encode(&self) -> Vec<u8> {
        self.to_packet().encode()
    }

    /// Types a packet. Authinfo is allowed (and kept) on REQUEST only; null or non-null data
    /// must be what 3.8 sends for the type, so that every message re-encodes to its packet.
    /// A PROPOSAL's or INFORM's transaction is decoded under the receiver's `limits`.
    pub fn from_packet(packet: &QuorumPacket, limits: QuorumLimits) -> Result<QuorumMessage, QuorumError> {
        let kind = packet.packet_type;
        let zxid = packet.zxid;
        if kind != t::REQUEST && packet.authinfo.is_some() {
            return Err(QuorumError::UnexpectedAuthinfo(kind));
        }
        let data = packet.data.as_deref();
        Ok(match kind {
            t::REQUEST => decode_request(zxid, need(kind, data)?, packet.authinfo.clone())?,
            t::PROPOSAL => {
                let (txn, digest) = decode_txn(need(kind, data)?, limits)?;
                QuorumMessage::Proposal { zxid, txn, digest }
            }
            t::INFORM => {
                let (txn, digest) = decode_txn(need(kind, data)?, limits)?;
                QuorumMessage::Inform { zxid, txn, digest }
            }
            t::PING => QuorumMessage::Ping { zxid, sessions: data.map(|d| decode_sessions(kind, d)).transpose()? },
            t::REVALIDATE => decode_revalidate(zxid, need(kind, data)?)?,
            t::NEWLEADER => QuorumMessage::NewLeader { zxid, config: packet.data.clone() },
            t::FOLLOWERINFO => {
                QuorumMessage::FollowerInfo { zxid, info: decode_learner_info(kind, need(kind, data)?)? }
            }
            t::OBSERVERINFO => {
                QuorumMessage::ObserverInfo { zxid, info: decode_learner_info(kind, need(kind, data)?)? }
            }
            t::LEADERINFO => QuorumMessage::LeaderInfo { zxid, protocol_version: decode_int(kind, need(kind, data)?)? },
            t::ACKEPOCH => QuorumMessage::AckEpoch { zxid, epoch_current: decode_int(kind, need(kind, data)?)? },
            t::COMMITANDACTIVATE => QuorumMessage::CommitAndActivate { zxid, data: packet.data.clone() },
            t::INFORMANDACTIVATE => QuorumMessage::InformAndActivate { zxid, data: packet.data.clone() },
            _ => decode_bare(kind, zxid, data)?,
        })
    }

    /// The packet this message is sent as.
    pub fn to_packet(&self) -> QuorumPacket {
        let (zxid, data, authinfo) = match self {
            QuorumMessage::Request { zxid, session_id, cxid, op, request, authinfo } => {
                let mut writer = JuteWriter::new();
                writer.write_i64(session_id.0);
                writer.write_i32(*cxid);
                writer.write_i32(*op);
                writer.write_bytes(request);
                (*zxid, Some(writer.into_bytes()), authinfo.clone())
            }
            QuorumMessage::Proposal { zxid, txn, digest } | QuorumMessage::Inform { zxid, txn, digest } => {
                (*zxid, Some(encode_txn(txn, digest.as_ref())), None)
            }
            QuorumMessage::Ping { zxid, sessions } => (*zxid, sessions.as_deref().map(encode_sessions), None),
            QuorumMessage::Revalidate { zxid, session_id, timeout_ms } => {
                let mut writer = JuteWriter::new();
                writer.write_i64(session_id.0);
                writer.write_i32(*timeout_ms);
                (*zxid, Some(writer.into_bytes()), None)
            }
            QuorumMessage::RevalidateReply { zxid, session_id, valid } => {
                let mut writer = JuteWriter::new();
                writer.write_i64(session_id.0);
                writer.write_bool(*valid);
                (*zxid, Some(writer.into_bytes()), None)
            }
            QuorumMessage::NewLeader { zxid, config: data }
            | QuorumMessage::CommitAndActivate { zxid, data }
            | QuorumMessage::InformAndActivate { zxid, data } => (*zxid, data.clone(), None),
            QuorumMessage::FollowerInfo { zxid, info } | QuorumMessage::ObserverInfo { zxid, info } => {
                let mut writer = JuteWriter::new();
                writer.write_i64(info.server_id.0 as i64);
                writer.write_i32(info.protocol_version);
                writer.write_i64(info.config_version);
                (*zxid, Some(writer.into_bytes()), None)
            }
            QuorumMessage::LeaderInfo { zxid, protocol_version: value }
            | QuorumMessage::AckEpoch { zxid, epoch_current: value } => {
                (*zxid, Some(value.to_be_bytes().to_vec()), None)
            }
            QuorumMessage::Ack { zxid }
            | QuorumMessage::Commit { zxid }
            | QuorumMessage::Sync { zxid }
            | QuorumMessage::UpToDate { zxid }
            | QuorumMessage::Diff { zxid }
            | QuorumMessage::Trunc { zxid }
            | QuorumMessage::Snap { zxid } => (*zxid, None, None),
        };
        QuorumPacket { packet_type: self.packet_type(), zxid, data, authinfo }
    }

    /// The packet type number ([`super::packet_type`]).
    pub fn packet_type(&self) -> i32 {
        match self {
            QuorumMessage::Request { .. } => t::REQUEST,
            QuorumMessage::Proposal { .. } => t::PROPOSAL,
            QuorumMessage::Ack { .. } => t::ACK,
            QuorumMessage::Commit { .. } => t::COMMIT,
            QuorumMessage::Ping { .. } => t::PING,
            QuorumMessage::Revalidate { .. } | QuorumMessage::RevalidateReply { .. } => t::REVALIDATE,
            QuorumMessage::Sync { .. } => t::SYNC,
            QuorumMessage::Inform { .. } => t::INFORM,
            QuorumMessage::CommitAndActivate { .. } => t::COMMITANDACTIVATE,
            QuorumMessage::NewLeader { .. } => t::NEWLEADER,
            QuorumMessage::FollowerInfo { .. } => t::FOLLOWERINFO,
            QuorumMessage::UpToDate { .. } => t::UPTODATE,
            QuorumMessage::Diff { .. } => t::DIFF,
            QuorumMessage::Trunc { .. } => t::TRUNC,
            QuorumMessage::Snap { .. } => t::SNAP,
            QuorumMessage::ObserverInfo { .. } => t::OBSERVERINFO,
            QuorumMessage::LeaderInfo { .. } => t::LEADERINFO,
            QuorumMessage::AckEpoch { .. } => t::ACKEPOCH,
            QuorumMessage::InformAndActivate { .. } => t::INFORMANDACTIVATE,
        }
    }
}

/// The data of a type that needs some.
fn need(kind: i32, data: Option<&[u8]>) -> Result<&[u8], QuorumError> {
    data.ok_or(QuorumError::MissingData(kind))
}

/// Types whose packets carry only a zxid (3.8 sends null data).
fn decode_bare(kind: i32, zxid: Zxid, data: Option<&[u8]>) -> Result<QuorumMessage, QuorumError> {
    let message = match kind {
        t::ACK => QuorumMessage::Ack { zxid },
        t::COMMIT => QuorumMessage::Commit { zxid },
        t::SYNC => QuorumMessage::Sync { zxid },
        t::UPTODATE => QuorumMessage::UpToDate { zxid },
        t::DIFF => QuorumMessage::Diff { zxid },
        t::TRUNC => QuorumMessage::Trunc { zxid },
        t::SNAP => QuorumMessage::Snap { zxid },
        _ => return Err(QuorumError::UnknownPacketType(kind)),
    };
    match data {
        None => Ok(message),
        Some(_) => Err(QuorumError::UnexpectedData(kind)),
    }
}

fn decode_request(zxid: Zxid, data: &[u8], authinfo: Option<Vec<Id>>) -> Result<QuorumMessage, QuorumError> {
    let mut reader = JuteReader::new(data);
    let session_id = SessionId(reader.read_i64()?);
    let cxid = reader.read_i32()?;
    let op = reader.read_i32()?;
    let request = reader.read_bytes(reader.remaining())?.to_vec();
    Ok(QuorumMessage::Request { zxid, session_id, cxid, op, request, authinfo })
}

fn decode_sessions(kind: i32, data: &[u8]) -> Result<Vec<(SessionId, i32)>, QuorumError> {
    if data.len() % 12 != 0 {
        return Err(QuorumError::DataLength { packet_type: kind, length: data.len() });
    }
    decode_exact(data, |reader| {
        let mut sessions = Vec::with_capacity(data.len() / 12);
        while reader.remaining() > 0 {
            sessions.push((SessionId(reader.read_i64()?), reader.read_i32()?));
        }
        Ok(sessions)
    })
}

fn encode_sessions(sessions: &[(SessionId, i32)]) -> Vec<u8> {
    let mut writer = JuteWriter::new();
    for (session_id, timeout_ms) in sessions {
        writer.write_i64(session_id.0);
        writer.write_i32(*timeout_ms);
    }
    writer.into_bytes()
}

/// 12 bytes from a learner, 9 back from the leader. A `valid` byte other than 0 or 1 is
/// refused: it could not re-encode.
fn decode_revalidate(zxid: Zxid, data: &[u8]) -> Result<QuorumMessage, QuorumError> {
    let kind = t::REVALIDATE;
    match data.len() {
        12 => decode_exact(data, |reader| {
            Ok(QuorumMessage::Revalidate {
                zxid,
                session_id: SessionId(reader.read_i64()?),
                timeout_ms: reader.read_i32()?,
            })
        }),
        9 if data[8] <= 1 => decode_exact(data, |reader| {
            Ok(QuorumMessage::RevalidateReply {
                zxid,
                session_id: SessionId(reader.read_i64()?),
                valid: reader.read_bool()?,
            })
        }),
        length => Err(QuorumError::DataLength { packet_type: kind, length }),
    }
}

fn decode_learner_info(kind: i32, data: &[u8]) -> Result<LearnerInfo, QuorumError> {
    if data.len() != 20 {
        return Err(QuorumError::DataLength { packet_type: kind, length: data.len() });
    }
    decode_exact(data, |reader| {
        Ok(LearnerInfo {
            server_id: ServerId(reader.read_i64()? as u64),
            protocol_version: reader.read_i32()?,
            config_version: reader.read_i64()?,
        })
    })
}

fn decode_int(kind: i32, data: &[u8]) -> Result<i32, QuorumError> {
    match <[u8; 4]>::try_from(data) {
        Ok(bytes) => Ok(i32::from_be_bytes(bytes)),
        Err(_) => Err(QuorumError::DataLength { packet_type: kind, length: data.len() }),
    }
}
