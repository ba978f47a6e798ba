//! The quorum port (2888) envelope: `QuorumPacket` records back to back.
//!
//! Source: ZooKeeper 3.8 `zookeeper-jute/src/main/resources/zookeeper.jute`
//! (`module org.apache.zookeeper.server.quorum { class QuorumPacket {...} }`) and the type
//! numbers in `server/quorum/Leader.java`. Learner and leader write packets with
//! `BinaryOutputArchive.writeRecord`: no length prefix, so a reader finds a packet's end by
//! decoding it ([`QuorumPacket::decode_prefix`]).

use super::fields::{read_id, read_optional_buffer, read_vector, write_id, write_optional_buffer};
use super::{decode_exact, decode_prefix_with, QuorumError, QuorumLimits};
use crate::constants::QUORUM_ID_LEN_MIN;
use crate::ids::Zxid;
use crate::wire::client::{Id, JuteReader, JuteWriter};

/// Packet type numbers (`Leader.java`), named as ZooKeeper names them.
pub mod packet_type {
    #![allow(missing_docs)] // the names are ZooKeeper's own; see `QuorumMessage` for meanings
    pub const REQUEST: i32 = 1;
    pub const PROPOSAL: i32 = 2;
    pub const ACK: i32 = 3;
    pub const COMMIT: i32 = 4;
    pub const PING: i32 = 5;
    pub const REVALIDATE: i32 = 6;
    pub const SYNC: i32 = 7;
    pub const INFORM: i32 = 8;
    pub const COMMITANDACTIVATE: i32 = 9;
    pub const NEWLEADER: i32 = 10;
    pub const FOLLOWERINFO: i32 = 11;
    pub const UPTODATE: i32 = 12;
    pub const DIFF: i32 = 13;
    pub const TRUNC: i32 = 14;
    pub const SNAP: i32 = 15;
    pub const OBSERVERINFO: i32 = 16;
    pub const LEADERINFO: i32 = 17;
    pub const ACKEPOCH: i32 = 18;
    pub const INFORMANDACTIVATE: i32 = 19;
}

/// `quorum.QuorumPacket{int type; long zxid; buffer data; vector<org.apache.zookeeper.data.Id>
/// authinfo}`. Null `data` and null `authinfo` (jute length −1) are kept apart from empty
/// ones: ZooKeeper sends both, and a packet re-encodes to exactly its bytes.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct QuorumPacket {
    /// One of [`packet_type`].
    pub packet_type: i32,
    /// The zxid (meaning depends on the type).
    pub zxid: Zxid,
    /// The payload; `None` is jute's null.
    pub data: Option<Vec<u8>>,
    /// Auth ids (only REQUEST carries them); `None` is jute's null.
    pub authinfo: Option<Vec<Id>>,
}

impl QuorumPacket {
    /// Appends the record.
    pub fn write(&self, writer: &mut JuteWriter) {
        writer.write_i32(self.packet_type);
        writer.write_i64(self.zxid.0);
        write_optional_buffer(writer, self.data.as_deref());
        match &self.authinfo {
            None => writer.write_i32(-1),
            Some(ids) => writer.write_vector(ids, write_id),
        }
    }

    /// The record's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut writer = JuteWriter::new();
        self.write(&mut writer);
        writer.into_bytes()
    }

    /// Decodes bytes holding exactly one packet.
    pub fn decode(bytes: &[u8], limits: QuorumLimits) -> Result<QuorumPacket, QuorumError> {
        decode_exact(bytes, |reader| QuorumPacket::read(reader, limits))
    }

    /// Reads a packet from the front of a stream: `Ok(None)` until it is whole. Data and
    /// strings are capped at [`QuorumLimits::field_max`], authinfo at
    /// [`QuorumLimits::entries_max`] ids.
    pub fn decode_prefix(input: &[u8], limits: QuorumLimits) -> Result<Option<(QuorumPacket, usize)>, QuorumError> {
        decode_prefix_with(input, |reader| QuorumPacket::read(reader, limits))
    }

    /// Reads the record's fields.
    pub fn read(reader: &mut JuteReader<'_>, limits: QuorumLimits) -> Result<QuorumPacket, QuorumError> {
        let packet_type = reader.read_i32()?;
        let zxid = Zxid(reader.read_i64()?);
        let data = read_optional_buffer(reader, limits)?;
        let authinfo = match reader.clone().read_i32()? {
            -1 => {
                reader.read_i32()?;
                None
            }
            _ => {
                let ids_max = limits.entries_max(QUORUM_ID_LEN_MIN);
                Some(read_vector(reader, ids_max, QUORUM_ID_LEN_MIN, |r| read_id(r, limits))?)
            }
        };
        Ok(QuorumPacket { packet_type, zxid, data, authinfo })
    }
}
