//! ACLs: a connection's ids ([`AuthInfo`]), the check a request must pass ([`check_acl`]),
//! how a requested ACL is validated and expanded ([`fixup_acl`]), the `digest` and `ip`
//! schemes, and the interned ACL table ([`AclCache`]).
//!
//! Facts from ZooKeeper 3.9: `ZooKeeperServer.checkACL`, `PrepRequestProcessor.fixupACL`,
//! `DigestAuthenticationProvider`, `IPAuthenticationProvider`, `ReferenceCountedACLCache`.
//! Only the built-in providers exist: `ip` and `digest` (plus `world:anyone` and the `super`
//! id that a matching `superDigest` grants).

use crate::error::ErrorCode;
use crate::wire::client::{Acl, Id};
use base64::Engine;
use sha1::{Digest, Sha1};
use std::collections::BTreeMap;

/// A connection's authenticated ids, in the order they were added, without duplicates
/// (ZooKeeper keeps a set).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuthInfo {
    /// `ip:<address>` always; `digest:user:hash` after `addauth digest`; `super:` when the
    /// digest matched `superDigest`.
    pub ids: Vec<Id>,
}

impl AuthInfo {
    /// The ids of a fresh connection from `address` (the textual IP, e.g. `127.0.0.1`).
    pub fn from_ip(address: &str) -> AuthInfo {
        AuthInfo { ids: vec![Id { scheme: "ip".into(), id: address.into() }] }
    }

    /// `addauth scheme auth` (opcode 100). `digest` accepts any credentials (ZooKeeper
    /// hashes whatever it is given, `user:password` or not); `ip` re-adds the connection's
    /// address; any other scheme fails with AUTHFAILED (ZooKeeper then closes the connection).
    /// `super_digest` is `zookeeper.DigestAuthenticationProvider.superDigest`
    /// (`super:<base64 sha1>`).
    pub fn add_auth(&mut self, scheme: &str, auth: &[u8], super_digest: Option<&str>) -> Result<(), ErrorCode> {
        match scheme {
            "digest" => {
                let digest = generate_digest(&String::from_utf8_lossy(auth));
                if super_digest == Some(digest.as_str()) {
                    self.add(Id { scheme: "super".into(), id: String::new() });
                }
                self.add(Id { scheme: "digest".into(), id: digest });
                Ok(())
            }
            "ip" => match self.ids.iter().find(|id| id.scheme == "ip").cloned() {
                Some(ip) => {
                    self.add(ip);
                    Ok(())
                }
                None => Err(ErrorCode::AuthFailed),
            },
            _ => Err(ErrorCode::AuthFailed),
        }
    }

    fn add(&mut self, id: Id) {
        if !self.ids.contains(&id) {
            self.ids.push(id);
        }
    }

    /// Whether the connection holds the `super` id (every check passes).
    pub fn is_super(&self) -> bool {
        self.ids.iter().any(|id| id.scheme == "super")
    }
}

/// `DigestAuthenticationProvider.generateDigest`: `user:base64(sha1("user:password"))`, where
/// `user` is everything before the first `:`.
pub fn generate_digest(id_password: &str) -> String {
    let user = id_password.split(':').next().unwrap_or("");
    let hash = Sha1::digest(id_password.as_bytes());
    format!("{user}:{}", base64::engine::general_purpose::STANDARD.encode(hash))
}

/// Java's `String.split(regex)` for a single-character separator: trailing empty strings
/// are dropped (the `isValid` checks depend on it).
fn java_split(s: &str, separator: char) -> Vec<&str> {
    let mut parts: Vec<&str> = s.split(separator).collect();
    while parts.last() == Some(&"") {
        parts.pop();
    }
    parts
}

/// `ZooKeeperServer.checkACL`: passes when the ACL is empty, the caller is `super`, or an
/// entry grants any bit of `perm` to `world:anyone` or to an id the caller holds.
pub fn check_acl(acl: &[Acl], perm: i32, auth: &AuthInfo) -> Result<(), ErrorCode> {
    if acl.is_empty() || auth.is_super() {
        return Ok(());
    }
    for entry in acl.iter().filter(|entry| entry.perms & perm != 0) {
        let id = &entry.id;
        if id.scheme == "world" && id.id == "anyone" {
            return Ok(());
        }
        let matched = auth.ids.iter().filter(|held| held.scheme == id.scheme).any(|held| match id.scheme.as_str() {
            "digest" => held.id == id.id,
            "ip" => ip_matches(&held.id, &id.id),
            _ => false, // no provider for the scheme: the entry never matches
        });
        if matched {
            return Ok(());
        }
    }
    Err(ErrorCode::NoAuth)
}

/// `PrepRequestProcessor.fixupACL`: drops duplicates, refuses an empty list and ids no
/// provider accepts (INVALIDACL), and expands `auth` into the caller's authenticated ids
/// (only `digest` ids are "authenticated"; `ip` is not, `super` has no provider).
pub fn fixup_acl(auth: &AuthInfo, acl: &[Acl]) -> Result<Vec<Acl>, ErrorCode> {
    let mut unique: Vec<&Acl> = Vec::with_capacity(acl.len());
    for entry in acl {
        if !unique.contains(&entry) {
            unique.push(entry);
        }
    }
    if unique.is_empty() {
        return Err(ErrorCode::InvalidAcl);
    }
    let mut fixed = Vec::with_capacity(unique.len());
    for entry in unique {
        let id = &entry.id;
        if id.scheme == "world" && id.id == "anyone" {
            fixed.push(entry.clone());
        } else if id.scheme == "auth" {
            let before = fixed.len();
            for held in auth.ids.iter().filter(|held| held.scheme == "digest") {
                fixed.push(Acl { perms: entry.perms, id: held.clone() });
            }
            if fixed.len() == before {
                return Err(ErrorCode::InvalidAcl);
            }
        } else if is_valid_id(id) {
            fixed.push(entry.clone());
        } else {
            return Err(ErrorCode::InvalidAcl);
        }
    }
    Ok(fixed)
}

/// A provider's `isValid`: `digest` wants exactly two `:`-separated parts (Java split
/// rules), `ip` an address with an optional `/bits`.
fn is_valid_id(id: &Id) -> bool {
    match id.scheme.as_str() {
        "digest" => java_split(&id.id, ':').len() == 2,
        "ip" => parse_ip_expression(&id.id).is_some(),
        _ => false,
    }
}

/// Without ADMIN, `getACL` masks digest hashes: `user:hash` becomes `user:x`
/// (`id.replaceAll(":.*", ":x")`).
pub fn mask_digests(acl: &[Acl]) -> Vec<Acl> {
    acl.iter()
        .map(|entry| match (entry.id.scheme.as_str(), entry.id.id.find(':')) {
            ("digest", Some(colon)) => Acl {
                perms: entry.perms,
                id: Id { scheme: "digest".into(), id: format!("{}:x", &entry.id.id[..colon]) },
            },
            _ => entry.clone(),
        })
        .collect()
}

/// `IPAuthenticationProvider.matches`: the client address `held` lies in the ACL's
/// `address[/bits]`.
pub fn ip_matches(held: &str, expression: &str) -> bool {
    let Some((mut acl_address, bits)) = parse_ip_expression(expression) else {
        return false;
    };
    let Some(mut remote) = address_bytes(held) else {
        return false;
    };
    mask(&mut acl_address, bits);
    mask(&mut remote, bits);
    remote == acl_address
}

/// Parses `address[/bits]`; bits default to the address length and must lie in `0..=len*8`.
fn parse_ip_expression(expression: &str) -> Option<(Vec<u8>, usize)> {
    let mut parts = expression.splitn(2, '/');
    let address = address_bytes(parts.next().unwrap_or(""))?;
    let max_bits = address.len() * 8;
    let bits = match parts.next() {
        None => max_bits,
        Some(text) => {
            let bits: i32 = text.parse().ok()?;
            if bits < 0 || bits as usize > max_bits {
                return None;
            }
            bits as usize
        }
    };
    Some((address, bits))
}

/// `addr2Bytes`: IPv6 when the text holds `:`, IPv4 when it holds `.`.
fn address_bytes(address: &str) -> Option<Vec<u8>> {
    if address.contains(':') {
        v6_bytes(address)
    } else if address.contains('.') {
        let parts: Vec<&str> = address.split('.').collect();
        if parts.len() != 4 {
            return None;
        }
        parts.iter().map(|part| part.parse::<i32>().ok().filter(|v| (0..=255).contains(v)).map(|v| v as u8)).collect()
    } else {
        None
    }
}

/// `parseV6addr`: eight segments, or two groups around one `::`.
fn v6_bytes(address: &str) -> Option<Vec<u8>> {
    let halves: Vec<&str> = address.split("::").collect();
    let segments = |text: &str| -> Vec<String> {
        if text.is_empty() {
            Vec::new()
        } else {
            text.split(':').map(String::from).collect()
        }
    };
    let (head, tail) = match halves.len() {
        1 => {
            let head: Vec<String> = address.split(':').map(String::from).collect();
            if head.len() != 8 {
                return None;
            }
            (head, Vec::new())
        }
        2 => {
            let (head, tail) = (segments(halves[0]), segments(halves[1]));
            if head.len() + tail.len() >= 8 {
                return None;
            }
            (head, tail)
        }
        _ => return None,
    };
    let mut bytes = vec![0u8; 16];
    write_v6_segments(&mut bytes, 0, &head)?;
    write_v6_segments(&mut bytes, 16 - tail.len() * 2, &tail)?;
    Some(bytes)
}

fn write_v6_segments(bytes: &mut [u8], start: usize, segments: &[String]) -> Option<()> {
    for (index, segment) in segments.iter().enumerate() {
        if segment.is_empty() || segment.len() > 4 {
            return None;
        }
        let value = i32::from_str_radix(segment, 16).ok()?;
        bytes[start + 2 * index] = (value >> 8) as u8;
        bytes[start + 2 * index + 1] = value as u8;
    }
    Some(())
}

/// Keeps the first `bits` bits of `bytes`, zeroing the rest.
fn mask(bytes: &mut [u8], bits: usize) {
    for (index, byte) in bytes.iter_mut().enumerate() {
        let kept = bits.saturating_sub(index * 8).min(8);
        *byte &= if kept == 0 { 0 } else { 0xffu8 << (8 - kept) };
    }
}

/// An interned ACL list's id (ZooKeeper's `Long` in `ReferenceCountedACLCache`).
pub type AclId = u64;

/// ACL lists stored once and referenced by id, with reference counts (DESIGN.md: intern
/// ACL lists as ZooKeeper does). A list is dropped when its last node goes.
#[derive(Clone, Debug, Default)]
pub struct AclCache {
    by_id: BTreeMap<AclId, (Vec<Acl>, u64)>,
    by_list: BTreeMap<Vec<Acl>, AclId>,
    next_id: AclId,
}

impl AclCache {
    /// Takes a reference to `acl`, interning it if new.
    pub fn intern(&mut self, acl: &[Acl]) -> AclId {
        if let Some(&id) = self.by_list.get(acl) {
            self.by_id.get_mut(&id).expect("interned ACL has an entry").1 += 1;
            return id;
        }
        let id = self.next_id;
        self.next_id += 1;
        self.by_list.insert(acl.to_vec(), id);
        self.by_id.insert(id, (acl.to_vec(), 1));
        id
    }

    /// Drops one reference to `id`.
    pub fn release(&mut self, id: AclId) {
        let entry = self.by_id.get_mut(&id).expect("released ACL id is interned");
        assert!(entry.1 > 0, "ACL {id} released more often than taken");
        entry.1 -= 1;
        if entry.1 == 0 {
            let (acl, _) = self.by_id.remove(&id).expect("present");
            self.by_list.remove(&acl);
        }
    }

    /// The list behind `id`.
    pub fn get(&self, id: AclId) -> &[Acl] {
        &self.by_id.get(&id).expect("ACL id is interned").0
    }

    /// Every (id, list, references), by id.
    pub fn entries(&self) -> impl Iterator<Item = (AclId, &[Acl], u64)> {
        self.by_id.iter().map(|(&id, (acl, refs))| (id, acl.as_slice(), *refs))
    }

    /// Number of distinct lists.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether no list is interned.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Rebuilds a cache from a snapshot's table with zero references; callers then
    /// [`AclCache::add_reference`] per node and [`AclCache::purge_unused`].
    pub fn from_table(table: Vec<(AclId, Vec<Acl>)>) -> Result<AclCache, String> {
        let mut cache = AclCache::default();
        for (id, acl) in table {
            if cache.by_list.insert(acl.clone(), id).is_some() {
                return Err(format!("ACL list {acl:?} appears twice"));
            }
            if cache.by_id.insert(id, (acl, 0)).is_some() {
                return Err(format!("ACL id {id} appears twice"));
            }
            cache.next_id = cache.next_id.max(id + 1);
        }
        Ok(cache)
    }

    /// Takes a reference to an id that must already be present.
    pub fn add_reference(&mut self, id: AclId) -> Result<(), String> {
        let entry = self.by_id.get_mut(&id).ok_or_else(|| format!("unknown ACL id {id}"))?;
        entry.1 += 1;
        Ok(())
    }

    /// Drops lists nobody references (`purgeUnused`).
    pub fn purge_unused(&mut self) {
        let unused: Vec<AclId> = self.by_id.iter().filter(|(_, (_, refs))| *refs == 0).map(|(&id, _)| id).collect();
        for id in unused {
            let (acl, _) = self.by_id.remove(&id).expect("present");
            self.by_list.remove(&acl);
        }
    }

    /// Asserts the two indexes agree.
    pub fn check_invariants(&self) {
        assert_eq!(self.by_id.len(), self.by_list.len(), "ACL indexes differ in size");
        for (id, (acl, refs)) in &self.by_id {
            assert!(*refs > 0, "ACL {id} kept with no references");
            assert!(*id < self.next_id, "ACL id {id} not below next id");
            assert_eq!(self.by_list.get(acl), Some(id), "ACL {id} missing from the list index");
        }
    }
}
