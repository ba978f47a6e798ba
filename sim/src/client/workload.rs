//! The swarm workload: which operation a client issues next, drawn from the run's op mix.
//!
//! Paths are laid out so each checker has its own namespace: `/k<N>` registers (create,
//! delete, setData with and without version, read after sync), `/e<client>-<N>` ephemerals,
//! `/q` holding sequential children (never deleted), `/c<N>` containers with a child `x`.
//! A `multi` mixes sub-ops on the registers (or pairs an ephemeral with a sequential create),
//! a `multiRead` reads registers after a sync, and `removeWatches`/`checkWatches` mostly name
//! a watch the client holds.

use super::{Context, Link, SimClient};
use crate::history::OpKind;
use std::collections::BTreeMap;
use zab_core::proto::{
    op, Acl, AddWatchRequest, CheckVersionRequest, CreateRequest, DeleteRequest, MultiOp, MultiReadOp, MultiReadResult,
    MultiResult, PathWatchRequest, Request, Response, SetDataRequest, WatchesRequest,
};
use zab_core::{ConnectionId, ErrorCode, SessionId};

/// What all clients know: the ephemerals created so far, and whether we are in the
/// liveness phase (register writes only).
#[derive(Clone, Debug, Default)]
pub struct Shared {
    /// Ephemeral paths whose create was acknowledged, in creation order.
    pub ephemerals: Vec<String>,
    /// Liveness phase: clients issue only register operations.
    pub liveness: bool,
    /// Register paths of generation `g` are `/k{g * keys + n}` (0: `/k0` to `/k{keys - 1}`). A
    /// driver that runs for minutes moves its clients to fresh paths now and then, so that
    /// each path's history stays within the first `OPS_PER_PATH_MAX` operations the
    /// linearizability checker searches.
    pub key_generation: u64,
}

/// What one client remembers to make sensible requests.
#[derive(Clone, Debug, Default)]
pub(super) struct Memory {
    /// Last version seen per register path.
    versions: BTreeMap<String, i32>,
    /// Counter for unique data and ephemeral names.
    counter: u64,
    /// Sequential children this client created, oldest first: deleting them keeps the tree
    /// small (the node checks its whole tree after every input).
    sequential_children: std::collections::VecDeque<String>,
}

impl Memory {
    /// Learns from a reply.
    pub(super) fn learn(
        &mut self,
        shared: &mut Shared,
        session: SessionId,
        request: &Request,
        err: ErrorCode,
        response: &Response,
    ) {
        let _ = session;
        match (request, err, response) {
            (Request::Create(r), ErrorCode::Ok, Response::Create(path)) => self.created(shared, r.flags, path),
            (Request::SetData(r), ErrorCode::Ok, Response::Stat(stat)) => {
                self.versions.insert(r.path.clone(), stat.version);
            }
            (Request::GetData(r), ErrorCode::Ok, Response::GetData { stat, .. }) => {
                self.versions.insert(r.path.clone(), stat.version);
            }
            (Request::Multi(ops), ErrorCode::Ok, Response::Multi(results)) if multi_applied(results) => {
                for (sub, result) in ops.iter().zip(results) {
                    match (sub, result) {
                        (MultiOp::Create { request, .. }, MultiResult::Create(path))
                        | (MultiOp::Create { request, .. }, MultiResult::Create2 { path, .. }) => {
                            self.created(shared, request.flags, path)
                        }
                        (MultiOp::SetData(r), MultiResult::SetData(stat)) => {
                            self.versions.insert(r.path.clone(), stat.version);
                        }
                        _ => {}
                    }
                }
            }
            (Request::MultiRead(ops), ErrorCode::Ok, Response::MultiRead(results)) => {
                for (sub, result) in ops.iter().zip(results) {
                    if let (MultiReadOp::GetData(r), MultiReadResult::GetData { stat, .. }) = (sub, result) {
                        self.versions.insert(r.path.clone(), stat.version);
                    }
                }
            }
            _ => {}
        }
    }

    /// Remembers a node this client created.
    fn created(&mut self, shared: &mut Shared, flags: i32, path: &str) {
        self.versions.insert(path.to_string(), 0);
        if flags == 1 || flags == 3 {
            shared.ephemerals.push(path.to_string());
        }
        if flags == 2 {
            self.sequential_children.push_back(path.to_string());
        }
    }
}

/// Whether a multi's results say it took effect (ZooKeeper answers a failed multi with an
/// error result for every sub-op).
pub fn multi_applied(results: &[MultiResult]) -> bool {
    !results.iter().any(|result| matches!(result, MultiResult::Error(_)))
}

fn create_request(path: String, data: Vec<u8>, flags: i32) -> CreateRequest {
    CreateRequest { path, data, acl: Acl::open_unsafe(), flags }
}

fn create(path: String, data: Vec<u8>, flags: i32) -> Request {
    Request::Create(create_request(path, data, flags))
}

fn watch(path: String, watch: bool) -> PathWatchRequest {
    PathWatchRequest { path, watch }
}

impl SimClient {
    /// Issues one random operation (a read after sync counts as one).
    pub(super) fn issue_random(
        &mut self,
        cx: &mut Context,
        connection: ConnectionId,
    ) -> Vec<(ConnectionId, super::ClientMessage)> {
        debug_assert_eq!(self.link, Link::Up { connection });
        let mix = &cx.options.op_mix;
        let weights = if cx.shared.liveness {
            [1, 0, 0, 0, 0, 0, 0, 0]
        } else {
            [
                mix.register,
                mix.watch,
                mix.ephemeral,
                mix.sequential,
                mix.container,
                mix.close_session,
                mix.multi,
                mix.watch_removal,
            ]
        };
        if weights.iter().all(|&w| w == 0) {
            return Vec::new();
        }
        let (request, kind) = match cx.rng.weighted(&weights) {
            0 => self.register_op(cx),
            1 => (self.watch_op(cx), OpKind::Plain),
            2 => {
                // In an ensemble a plain read may be served by a lagging follower (ZooKeeper
                // promises sequential consistency per session, not linearizable reads), so
                // reads judged across clients there go after a sync.
                let request = self.ephemeral_op(cx);
                let synced = cx.options.servers > 1 && matches!(request, Request::Exists(_));
                (request, if synced { OpKind::ReadAfterSync } else { OpKind::Plain })
            }
            3 => (self.sequential_op(cx), OpKind::Plain),
            4 => (self.container_op(cx), OpKind::Plain),
            5 => (Request::CloseSession, OpKind::Plain),
            6 => self.multi_op(cx),
            _ => (self.watch_removal_op(cx), OpKind::Plain),
        };
        self.submit(cx, request, kind)
    }

    fn data(&mut self) -> Vec<u8> {
        self.workload.counter += 1;
        format!("c{}-{}", self.id, self.workload.counter).into_bytes()
    }

    fn key(&self, cx: &mut Context) -> String {
        let keys = cx.options.keys as u64;
        format!("/k{}", cx.shared.key_generation * keys + cx.rng.range(0, keys - 1))
    }

    /// A version to expect: any (-1), the last one seen, or a neighbour of it.
    fn version(&self, cx: &mut Context, path: &str) -> i32 {
        let seen = self.workload.versions.get(path).copied();
        match (cx.rng.range(0, 3), seen) {
            (0, _) | (_, None) => -1,
            (1, Some(v)) => v + 1,
            (_, Some(v)) => v,
        }
    }

    fn register_op(&mut self, cx: &mut Context) -> (Request, OpKind) {
        let path = self.key(cx);
        match cx.rng.weighted(&[2, 1, 3, 3]) {
            0 => (create(path, self.data(), 0), OpKind::Plain),
            1 => {
                let version = self.version(cx, &path);
                (Request::Delete(DeleteRequest { path, version }), OpKind::Plain)
            }
            2 => {
                let version = self.version(cx, &path);
                let data = self.data();
                (Request::SetData(SetDataRequest { path, data, version }), OpKind::Plain)
            }
            _ => (Request::GetData(watch(path, false)), OpKind::ReadAfterSync),
        }
    }

    fn watch_op(&mut self, cx: &mut Context) -> Request {
        let path = self.key(cx);
        match cx.rng.range(0, 9) {
            0..=2 => Request::GetData(watch(path, true)),
            3..=5 => Request::Exists(watch(path, true)),
            6 => Request::GetChildren2(watch("/".into(), true)),
            7 => Request::GetChildren2(watch("/q".into(), true)),
            8 => Request::AddWatch(AddWatchRequest { path, mode: 0 }),
            _ => Request::AddWatch(AddWatchRequest { path: "/".into(), mode: 1 }),
        }
    }

    fn ephemeral_op(&mut self, cx: &mut Context) -> Request {
        let known = cx.shared.ephemerals.len() as u64;
        match cx.rng.range(0, 3) {
            0 | 1 if known > 0 => {
                // Read a recent ephemeral, any client's.
                let index = known - 1 - cx.rng.range(0, known.min(8) - 1);
                let path = cx.shared.ephemerals[index as usize].clone();
                Request::Exists(watch(path, false))
            }
            2 => create("/q/e-".into(), self.data(), 3),
            _ => {
                self.workload.counter += 1;
                create(format!("/e{}-{}", self.id, self.workload.counter), self.data(), 1)
            }
        }
    }

    fn sequential_op(&mut self, cx: &mut Context) -> Request {
        match cx.rng.range(0, 5) {
            0 => create("/q".into(), Vec::new(), 0),
            1 | 2 if !self.workload.sequential_children.is_empty() => {
                let path = self.workload.sequential_children.pop_front().expect("not empty");
                Request::Delete(DeleteRequest { path, version: -1 })
            }
            _ => create("/q/s-".into(), self.data(), 2),
        }
    }

    fn container_op(&mut self, cx: &mut Context) -> Request {
        let container = format!("/c{}", cx.rng.range(0, 1));
        match cx.rng.range(0, 2) {
            0 => Request::CreateContainer(CreateRequest {
                path: container,
                data: Vec::new(),
                acl: Acl::open_unsafe(),
                flags: 4,
            }),
            1 => create(format!("{container}/x"), self.data(), 0),
            _ => Request::Delete(DeleteRequest { path: format!("{container}/x"), version: -1 }),
        }
    }

    fn multi_op(&mut self, cx: &mut Context) -> (Request, OpKind) {
        match cx.rng.range(0, 5) {
            // A multiRead is served locally like any read: judged across clients after a sync.
            0 | 1 => (self.multi_read(cx), OpKind::ReadAfterSync),
            2 => {
                // `/q` may not exist yet: then the whole multi fails and the ephemeral must
                // not appear either.
                self.workload.counter += 1;
                let ephemeral = format!("/e{}-{}", self.id, self.workload.counter);
                let ops = vec![
                    MultiOp::Create { op: op::CREATE, request: create_request(ephemeral, self.data(), 1) },
                    MultiOp::Create { op: op::CREATE2, request: create_request("/q/s-".into(), self.data(), 2) },
                ];
                (Request::Multi(ops), OpKind::Plain)
            }
            _ => {
                let count = cx.rng.range(1, 3);
                let ops = (0..count).map(|_| self.register_sub_op(cx)).collect();
                (Request::Multi(ops), OpKind::Plain)
            }
        }
    }

    fn register_sub_op(&mut self, cx: &mut Context) -> MultiOp {
        let path = self.key(cx);
        match cx.rng.weighted(&[2, 1, 3, 2]) {
            0 => MultiOp::Create { op: op::CREATE, request: create_request(path, self.data(), 0) },
            1 => {
                let version = self.version(cx, &path);
                MultiOp::Delete(DeleteRequest { path, version })
            }
            2 => {
                let version = self.version(cx, &path);
                let data = self.data();
                MultiOp::SetData(SetDataRequest { path, data, version })
            }
            _ => {
                let version = self.version(cx, &path);
                MultiOp::Check(CheckVersionRequest { path, version })
            }
        }
    }

    fn multi_read(&mut self, cx: &mut Context) -> Request {
        let count = cx.rng.range(1, 3);
        let mut ops: Vec<MultiReadOp> = (0..count)
            .map(|_| {
                let path = self.key(cx);
                let watch_on = cx.options.op_mix.watch > 0 && cx.rng.chance(0.3);
                MultiReadOp::GetData(watch(path, watch_on))
            })
            .collect();
        if cx.rng.chance(0.2) {
            ops.push(MultiReadOp::GetChildren(watch("/".into(), false)));
        }
        Request::MultiRead(ops)
    }

    /// removeWatches or checkWatches, mostly of a path the client watches.
    fn watch_removal_op(&mut self, cx: &mut Context) -> Request {
        let watched = self.watches.paths();
        let path = match watched.len() as u64 {
            known if known > 0 && cx.rng.range(0, 2) > 0 => watched[cx.rng.range(0, known - 1) as usize].clone(),
            _ => self.key(cx),
        };
        let request = WatchesRequest { path, watcher_type: cx.rng.range(1, 3) as i32 };
        if cx.rng.chance(0.5) {
            Request::RemoveWatches(request)
        } else {
            Request::CheckWatches(request)
        }
    }
}
