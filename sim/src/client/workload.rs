//! The swarm workload: which operation a client issues next, drawn from the run's op mix.
//!
//! Paths are laid out so each checker has its own namespace: `/k<N>` registers (create,
//! delete, setData with and without version, read after sync), `/e<client>-<N>` ephemerals,
//! `/q` holding sequential children (never deleted), `/c<N>` containers with a child `x`.

use super::{Context, Link, SimClient};
use crate::history::OpKind;
use std::collections::BTreeMap;
use zab_core::proto::{
    Acl, AddWatchRequest, CreateRequest, DeleteRequest, PathWatchRequest, Request, Response, SetDataRequest,
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
            (Request::Create(r), ErrorCode::Ok, Response::Create(path)) => {
                self.versions.insert(path.clone(), 0);
                if r.flags == 1 || r.flags == 3 {
                    shared.ephemerals.push(path.clone());
                }
                if r.flags == 2 {
                    self.sequential_children.push_back(path.clone());
                }
            }
            (Request::SetData(r), ErrorCode::Ok, Response::Stat(stat)) => {
                self.versions.insert(r.path.clone(), stat.version);
            }
            (Request::GetData(r), ErrorCode::Ok, Response::GetData { stat, .. }) => {
                self.versions.insert(r.path.clone(), stat.version);
            }
            _ => {}
        }
    }
}

fn create(path: String, data: Vec<u8>, flags: i32) -> Request {
    Request::Create(CreateRequest { path, data, acl: Acl::open_unsafe(), flags })
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
            [1, 0, 0, 0, 0, 0]
        } else {
            [mix.register, mix.watch, mix.ephemeral, mix.sequential, mix.container, mix.close_session]
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
            _ => (Request::CloseSession, OpKind::Plain),
        };
        self.submit(cx, request, kind)
    }

    fn data(&mut self) -> Vec<u8> {
        self.workload.counter += 1;
        format!("c{}-{}", self.id, self.workload.counter).into_bytes()
    }

    fn key(&self, cx: &mut Context) -> String {
        format!("/k{}", cx.rng.range(0, cx.options.keys as u64 - 1))
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
}
