//! Transactions as ZooKeeper 3.8 puts them in PROPOSAL and INFORM packets (and in its log):
//! `TxnHeader`, the type's record, then an optional `TxnDigest`.
//!
//! Sources: `zookeeper.jute` (`module org.apache.zookeeper.txn`), `server/util/SerializeUtils.java`
//! (`deserializeTxn`: the record by header type, then a `TxnDigest` when bytes remain) and
//! `server/persistence/Util.java` (`marshallTxnEntry`: header, record, digest).
//!
//! Records, field by field (`ustring` and `buffer` are an `int` length and bytes):
//!
//! | header type | record |
//! |---|---|
//! | create (1), create2 (15) | `CreateTxn{ustring path; buffer data; vector<ACL> acl; boolean ephemeral; int parentCVersion}` |
//! | createContainer (19) | `CreateContainerTxn{ustring path; buffer data; vector<ACL> acl; int parentCVersion}` |
//! | createTTL (21) | `CreateTTLTxn{ustring path; buffer data; vector<ACL> acl; int parentCVersion; long ttl}` |
//! | delete (2), deleteContainer (20) | `DeleteTxn{ustring path}` |
//! | setData (5), reconfig (16) | `SetDataTxn{ustring path; buffer data; int version}` |
//! | setACL (7) | `SetACLTxn{ustring path; vector<ACL> acl; int version}` |
//! | check (13, in a multi only) | `CheckVersionTxn{ustring path; int version}` |
//! | createSession (−10) | `CreateSessionTxn{int timeOut}` |
//! | closeSession (−11) | `CloseSessionTxn{vector<ustring> paths2Delete}` |
//! | error (−1) | `ErrorTxn{int err}` |
//! | multi (14) | `MultiTxn{vector<Txn{int type; buffer data}> txns}`, each `data` one of the records above |
//!
//! `TxnHeader{long clientId; int cxid; long zxid; long time; int type}` and
//! `TxnDigest{int version; long treeDigest}`.
//!
//! Exceptions, all formats 3.8 never writes: null `data` buffers decode as empty and
//! re-encode as length 0 (a txn created with null data re-encodes with `00000000` where
//! ZooKeeper wrote `ffffffff`); `CreateTxnV0` (before 3.3, no `parentCVersion`) and a
//! closeSession without record (`zookeeper.closeSessionTxn.enabled=false`) are refused.

use super::fields::{read_acls, read_string, read_vector, write_acls};
use super::{decode_exact, QuorumError, QuorumLimits};
use crate::constants::{MULTI_OPS_MAX, QUORUM_CLOSE_SESSION_PATHS_MAX};
use crate::ids::{SessionId, Zxid};
use crate::txn::{SubTxn, Txn, TxnBody, TxnHeader};
use crate::wire::client::{op, JuteReader, JuteWriter};

/// `txn.TxnDigest`: the leader's data tree digest after this transaction (3.6+, on by
/// default: `zookeeper.digest.enabled`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TxnDigest {
    /// Digest version (`DigestCalculator.DIGEST_VERSION`, 2 in 3.8).
    pub version: i32,
    /// The digest.
    pub tree_digest: i64,
}

/// Encodes a transaction and its optional digest as a PROPOSAL's data.
pub fn encode_txn(txn: &Txn, digest: Option<&TxnDigest>) -> Vec<u8> {
    let mut writer = JuteWriter::new();
    let header = &txn.header;
    writer.write_i64(header.client_id.0);
    writer.write_i32(header.cxid);
    writer.write_i64(header.zxid.0);
    writer.write_i64(header.time);
    writer.write_i32(header.op);
    write_body(&mut writer, &txn.body);
    if let Some(digest) = digest {
        writer.write_i32(digest.version);
        writer.write_i64(digest.tree_digest);
    }
    writer.into_bytes()
}

/// Decodes a PROPOSAL's or INFORM's data. The record is chosen by the header's type, as
/// `SerializeUtils.deserializeTxn` does; any bytes after it must be exactly a `TxnDigest`.
/// Paths and data are capped by the receiver's `limits`.
pub fn decode_txn(bytes: &[u8], limits: QuorumLimits) -> Result<(Txn, Option<TxnDigest>), QuorumError> {
    decode_exact(bytes, |reader| {
        let header = TxnHeader {
            client_id: SessionId(reader.read_i64()?),
            cxid: reader.read_i32()?,
            zxid: Zxid(reader.read_i64()?),
            time: reader.read_i64()?,
            op: reader.read_i32()?,
        };
        let body = read_body(reader, header.op, false, limits)?;
        let digest = match reader.remaining() {
            0 => None,
            _ => Some(TxnDigest { version: reader.read_i32()?, tree_digest: reader.read_i64()? }),
        };
        Ok((Txn { header, body }, digest))
    })
}

fn write_body(writer: &mut JuteWriter, body: &TxnBody) {
    match body {
        TxnBody::Create { path, data, acl, ephemeral, parent_cversion } => {
            write_path_data_acl(writer, path, data, acl);
            writer.write_bool(*ephemeral);
            writer.write_i32(*parent_cversion);
        }
        TxnBody::CreateContainer { path, data, acl, parent_cversion } => {
            write_path_data_acl(writer, path, data, acl);
            writer.write_i32(*parent_cversion);
        }
        TxnBody::CreateTtl { path, data, acl, parent_cversion, ttl } => {
            write_path_data_acl(writer, path, data, acl);
            writer.write_i32(*parent_cversion);
            writer.write_i64(*ttl);
        }
        TxnBody::Delete { path } => writer.write_ustring(path),
        TxnBody::SetData { path, data, version } => {
            writer.write_ustring(path);
            writer.write_buffer(data);
            writer.write_i32(*version);
        }
        TxnBody::SetAcl { path, acl, version } => {
            writer.write_ustring(path);
            write_acls(writer, acl);
            writer.write_i32(*version);
        }
        TxnBody::Check { path, version } => {
            writer.write_ustring(path);
            writer.write_i32(*version);
        }
        TxnBody::CreateSession { timeout_ms } => writer.write_i32(*timeout_ms),
        TxnBody::CloseSession { paths_to_delete } => writer.write_vector(paths_to_delete, |w, p| w.write_ustring(p)),
        TxnBody::Error { err } => writer.write_i32(*err),
        TxnBody::Multi(subs) => writer.write_vector(subs, |w, sub| {
            w.write_i32(sub.op);
            let mut inner = JuteWriter::new();
            write_body(&mut inner, &sub.body);
            w.write_buffer(&inner.into_bytes());
        }),
    }
}

fn write_path_data_acl(writer: &mut JuteWriter, path: &str, data: &[u8], acl: &[crate::wire::client::Acl]) {
    writer.write_ustring(path);
    writer.write_buffer(data);
    write_acls(writer, acl);
}

/// A data `buffer`, null read as empty (see the module docs), capped.
fn read_data(reader: &mut JuteReader<'_>, limits: QuorumLimits) -> Result<Vec<u8>, QuorumError> {
    Ok(super::fields::read_optional_buffer(reader, limits)?.unwrap_or_default())
}

/// The record for `txn_type`. `in_multi` allows check and refuses what a `MultiTxn` cannot
/// hold (`DataTree.processTxn`'s multi branch).
fn read_body(
    reader: &mut JuteReader<'_>,
    txn_type: i32,
    in_multi: bool,
    limits: QuorumLimits,
) -> Result<TxnBody, QuorumError> {
    let read_string = |r: &mut JuteReader<'_>| read_string(r, limits);
    let read_data = |r: &mut JuteReader<'_>| read_data(r, limits);
    let read_acls = |r: &mut JuteReader<'_>| read_acls(r, limits);
    let single_only =
        matches!(txn_type, op::SET_ACL | op::CREATE_SESSION | op::CLOSE_SESSION | op::MULTI | op::RECONFIG);
    if in_multi && single_only {
        return Err(QuorumError::InvalidSubTxnType(txn_type));
    }
    Ok(match txn_type {
        op::CREATE | op::CREATE2 => {
            let (path, data, acl) = (read_string(reader)?, read_data(reader)?, read_acls(reader)?);
            TxnBody::Create { path, data, acl, ephemeral: reader.read_bool()?, parent_cversion: reader.read_i32()? }
        }
        op::CREATE_CONTAINER => {
            let (path, data, acl) = (read_string(reader)?, read_data(reader)?, read_acls(reader)?);
            TxnBody::CreateContainer { path, data, acl, parent_cversion: reader.read_i32()? }
        }
        op::CREATE_TTL => {
            let (path, data, acl) = (read_string(reader)?, read_data(reader)?, read_acls(reader)?);
            TxnBody::CreateTtl { path, data, acl, parent_cversion: reader.read_i32()?, ttl: reader.read_i64()? }
        }
        op::DELETE | op::DELETE_CONTAINER => TxnBody::Delete { path: read_string(reader)? },
        op::SET_DATA | op::RECONFIG => {
            TxnBody::SetData { path: read_string(reader)?, data: read_data(reader)?, version: reader.read_i32()? }
        }
        op::SET_ACL => {
            TxnBody::SetAcl { path: read_string(reader)?, acl: read_acls(reader)?, version: reader.read_i32()? }
        }
        op::CHECK if in_multi => TxnBody::Check { path: read_string(reader)?, version: reader.read_i32()? },
        op::CREATE_SESSION => TxnBody::CreateSession { timeout_ms: reader.read_i32()? },
        op::CLOSE_SESSION => TxnBody::CloseSession {
            paths_to_delete: read_vector(reader, QUORUM_CLOSE_SESSION_PATHS_MAX, 4, read_string)?,
        },
        op::ERROR => TxnBody::Error { err: reader.read_i32()? },
        op::MULTI => TxnBody::Multi(read_vector(reader, MULTI_OPS_MAX, 8, |r| read_sub_txn(r, limits))?),
        other => return Err(QuorumError::UnknownTxnType(other)),
    })
}

/// One `Txn{int type; buffer data}` of a `MultiTxn`: the data must hold exactly its record.
fn read_sub_txn(reader: &mut JuteReader<'_>, limits: QuorumLimits) -> Result<SubTxn, QuorumError> {
    let op = reader.read_i32()?;
    let length = super::fields::checked_length(reader.read_i32()?, limits.field_max())?;
    let data = reader.read_bytes(length)?;
    let body = decode_exact(data, |inner| read_body(inner, op, true, limits))?;
    Ok(SubTxn { op, body })
}
