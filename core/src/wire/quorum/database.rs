//! The database a leader streams after a SNAP packet.
//!
//! Sources (ZooKeeper 3.8): `server/quorum/LearnerHandler.java` (`run`: after the SNAP
//! packet, `ZKDatabase.serializeSnapshot` then `writeString("BenWasHere", "signature")`),
//! `server/util/SerializeUtils.java` (`serializeSnapshot`), `server/DataTree.java`
//! (`serialize` = `serializeAcls` + `serializeNodes`, a pre-order walk from the root, whose
//! path is written as `""`), `server/ReferenceCountedACLCache.java` (`serialize`),
//! `server/DataNode.java` (`serialize`) and `zookeeper.jute` (`StatPersisted`).
//!
//! Layout, jute encoded:
//!
//! ```text
//! int count, (long sessionId, int timeout)*        sessions (HashMap order)
//! int count, (long aclRef, vector<ACL>)*           ACL cache
//! (ustring path, buffer data, long aclRef, StatPersisted)*   nodes, root first as ""
//! ustring "/"                                      end of nodes
//! ```
//!
//! followed on the stream by the ustring `"BenWasHere"`. Unlike a snapshot file
//! (`FileSnap.serialize`), no Adler32 seal and no digest or lastProcessedZxid sections are
//! sent (checked against the captured bytes).

use super::fields::{read_acls, read_optional_buffer, read_string, read_vector, write_acls, write_optional_buffer};
use super::{decode_exact, decode_prefix_with, QuorumError, QuorumLimits};
use crate::constants::QUORUM_SNAP_ENTRIES_MAX;
use crate::ids::SessionId;
pub use crate::tree::StatPersisted;
use crate::wire::client::{Acl, JuteReader, JuteWriter};

/// The string a leader writes after the database (`LearnerHandler`), checked by the learner.
pub const SNAP_SIGNATURE: &str = "BenWasHere";

/// The path that ends the node list (no node is written under it: the root is `""`).
const NODES_END: &str = "/";

/// One node: its path (`""` for the root), data (`None` when ZooKeeper holds null, e.g. a
/// node created without data), the ACL cache reference (−1 = open ACL) and its stat.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WireNode {
    /// Full path; the root is `""`.
    pub path: String,
    /// The data; `None` is null.
    pub data: Option<Vec<u8>>,
    /// Key into [`WireDatabase::acls`], or −1 for `world:anyone` all.
    pub acl_ref: i64,
    /// Metadata.
    pub stat: StatPersisted,
}

/// ZooKeeper's in-memory database as the leader serializes it: sessions, ACL cache, nodes,
/// in the order they were sent.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WireDatabase {
    /// Global sessions and their timeouts in ms.
    pub sessions: Vec<(SessionId, i32)>,
    /// ACL cache: reference number and the ACL it stands for.
    pub acls: Vec<(i64, Vec<Acl>)>,
    /// Nodes, parents before children.
    pub nodes: Vec<WireNode>,
}

impl WireDatabase {
    /// The database's bytes (without the signature).
    pub fn encode(&self) -> Vec<u8> {
        let mut writer = JuteWriter::new();
        self.write(&mut writer);
        writer.into_bytes()
    }

    /// Decodes bytes holding exactly one database (without the signature). A node path
    /// `"/"` ends the list, so no node may have that path.
    pub fn decode(bytes: &[u8], limits: QuorumLimits) -> Result<WireDatabase, QuorumError> {
        decode_exact(bytes, |reader| WireDatabase::read(reader, limits))
    }

    /// Decodes one database from the front of `bytes` and returns it with the number of bytes
    /// it took: a snapshot file (`FileSnap.serialize`) holds the same layout followed by its
    /// checksum seal and digest. Truncated input is an error here, not "wait for more".
    pub fn decode_prefix(bytes: &[u8], limits: QuorumLimits) -> Result<(WireDatabase, usize), QuorumError> {
        let mut reader = JuteReader::new(bytes);
        let database = WireDatabase::read(&mut reader, limits)?;
        Ok((database, bytes.len() - reader.remaining()))
    }

    /// What follows a SNAP packet on the stream: the database, then [`SNAP_SIGNATURE`].
    pub fn encode_snap_stream(&self) -> Vec<u8> {
        let mut writer = JuteWriter::new();
        self.write(&mut writer);
        writer.write_ustring(SNAP_SIGNATURE);
        writer.into_bytes()
    }

    /// Reads the database and signature from the front of the stream after a SNAP packet:
    /// `Ok(None)` until both are whole. (It re-reads from the start on each call; a driver
    /// that expects a large database should call it when the stream pauses, not per read.)
    pub fn decode_snap_stream_prefix(
        input: &[u8],
        limits: QuorumLimits,
    ) -> Result<Option<(WireDatabase, usize)>, QuorumError> {
        decode_prefix_with(input, |reader| {
            let database = WireDatabase::read(reader, limits)?;
            let signature = read_string(reader, limits)?;
            if signature != SNAP_SIGNATURE {
                return Err(QuorumError::BadSignature(signature));
            }
            Ok(database)
        })
    }

    fn write(&self, writer: &mut JuteWriter) {
        writer.write_vector(&self.sessions, |w, (id, timeout)| {
            w.write_i64(id.0);
            w.write_i32(*timeout);
        });
        writer.write_vector(&self.acls, |w, (reference, acl)| {
            w.write_i64(*reference);
            write_acls(w, acl);
        });
        for node in &self.nodes {
            writer.write_ustring(&node.path);
            write_optional_buffer(writer, node.data.as_deref());
            writer.write_i64(node.acl_ref);
            write_stat(writer, &node.stat);
        }
        writer.write_ustring(NODES_END);
    }

    fn read(reader: &mut JuteReader<'_>, limits: QuorumLimits) -> Result<WireDatabase, QuorumError> {
        let sessions =
            read_vector(reader, QUORUM_SNAP_ENTRIES_MAX, 12, |r| Ok((SessionId(r.read_i64()?), r.read_i32()?)))?;
        let acls = read_vector(reader, QUORUM_SNAP_ENTRIES_MAX, 12, |r| Ok((r.read_i64()?, read_acls(r, limits)?)))?;
        let mut nodes = Vec::new();
        loop {
            let path = read_string(reader, limits)?;
            if path == NODES_END {
                break;
            }
            let data = read_optional_buffer(reader, limits)?;
            let acl_ref = reader.read_i64()?;
            nodes.push(WireNode { path, data, acl_ref, stat: read_stat(reader)? });
        }
        Ok(WireDatabase { sessions, acls, nodes })
    }
}

fn write_stat(writer: &mut JuteWriter, stat: &StatPersisted) {
    for value in [stat.czxid, stat.mzxid, stat.ctime, stat.mtime] {
        writer.write_i64(value);
    }
    for value in [stat.version, stat.cversion, stat.aversion] {
        writer.write_i32(value);
    }
    writer.write_i64(stat.ephemeral_owner);
    writer.write_i64(stat.pzxid);
}

fn read_stat(reader: &mut JuteReader<'_>) -> Result<StatPersisted, QuorumError> {
    Ok(StatPersisted {
        czxid: reader.read_i64()?,
        mzxid: reader.read_i64()?,
        ctime: reader.read_i64()?,
        mtime: reader.read_i64()?,
        version: reader.read_i32()?,
        cversion: reader.read_i32()?,
        aversion: reader.read_i32()?,
        ephemeral_owner: reader.read_i64()?,
        pzxid: reader.read_i64()?,
    })
}
