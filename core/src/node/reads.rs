//! Requests answered from the applied tree without a transaction: reads, watch management,
//! authentication, pings.

use super::client::Queued;
use super::{Node, Output};
use crate::error::ErrorCode;
use crate::ids::{ConnectionId, Millis, SessionId};
use crate::watch::{NodeZxids, WatchKind};
use crate::wire::client::{
    xid, ClientInfo, MultiReadOp, MultiReadResult, PathWatchRequest, ReplyHeader, Request, Response,
};

impl Node {
    /// Answers a request that needs no transaction, at the front of its connection's queue.
    pub(super) fn answer_read(&mut self, now: Millis, connection: ConnectionId, session: SessionId, queued: Queued) {
        self.stats.record_read_latency(now.0.saturating_sub(queued.received.0));
        let result = match &queued.request {
            Err(err) => Err(*err),
            Ok(request) => self.read(connection, session, request),
        };
        let (err, response) = match result {
            Ok(response) => (ErrorCode::Ok, response),
            Err(err) => (err, Response::Empty),
        };
        let header = ReplyHeader { xid: queued.header.xid, zxid: self.tree.last_zxid(), err };
        self.outputs.push_back(Output::Reply { connection, header, response });
        // ZooKeeper closes the connection after a failed auth, and after an unknown opcode.
        let auth_failed = queued.header.xid == xid::AUTH && err != ErrorCode::Ok;
        if auth_failed || err == ErrorCode::Unimplemented && queued.request.is_err() {
            self.close_connection(connection);
        }
    }

    fn read(&mut self, connection: ConnectionId, session: SessionId, request: &Request) -> Result<Response, ErrorCode> {
        let auth = &self.connections[&connection].auth;
        match request {
            Request::Exists(PathWatchRequest { path, watch }) => {
                let stat = self.tree.exists(path, auth)?;
                if *watch {
                    let kind = if stat.is_some() { WatchKind::Data } else { WatchKind::Exist };
                    self.watches.add(connection, path, kind);
                }
                stat.map(Response::Stat).ok_or(ErrorCode::NoNode)
            }
            Request::GetData(PathWatchRequest { path, watch }) => {
                let (data, stat) = self.tree.get_data(path, auth)?;
                if *watch {
                    self.watches.add(connection, path, WatchKind::Data);
                }
                Ok(Response::GetData { data, stat })
            }
            Request::GetChildren(PathWatchRequest { path, watch }) => {
                let (children, _) = self.tree.get_children(path, auth)?;
                if *watch {
                    self.watches.add(connection, path, WatchKind::Child);
                }
                Ok(Response::Children(children))
            }
            Request::GetChildren2(PathWatchRequest { path, watch }) => {
                let (children, stat) = self.tree.get_children(path, auth)?;
                if *watch {
                    self.watches.add(connection, path, WatchKind::Child);
                }
                Ok(Response::Children2 { children, stat })
            }
            Request::GetAcl(request) => {
                let (acl, stat) = self.tree.get_acl(&request.path, auth)?;
                Ok(Response::GetAcl { acl, stat })
            }
            Request::GetAllChildrenNumber(request) => {
                Ok(Response::AllChildrenNumber(self.tree.all_children_number(&request.path, auth)?))
            }
            Request::GetEphemerals(request) => Ok(Response::Children(self.tree.ephemerals(session, &request.path))),
            Request::Sync(request) => Ok(Response::Sync(request.path.clone())),
            Request::Ping => Ok(Response::Empty),
            Request::MultiRead(ops) => Ok(Response::MultiRead(self.multi_read(connection, ops))),
            Request::CheckWatches(request) => {
                self.watches.check(connection, &request.path, request.watcher_type).map(|()| Response::Empty)
            }
            Request::RemoveWatches(request) => {
                self.watches.remove(connection, &request.path, request.watcher_type).map(|()| Response::Empty)
            }
            Request::AddWatch(request) => {
                // ZooKeeper 3.8 answers an unknown mode as an undecodable request.
                let kind = WatchKind::from_add_watch_mode(request.mode).ok_or(ErrorCode::MarshallingError)?;
                self.watches.add(connection, &request.path, kind);
                Ok(Response::AddWatch(ErrorCode::Ok))
            }
            Request::SetWatches(request) | Request::SetWatches2(request) => {
                let tree = &self.tree;
                let events = self.watches.set_watches(connection, request, |path| {
                    tree.node_zxids(path).map(|(czxid, mzxid, pzxid)| NodeZxids { czxid, mzxid, pzxid })
                });
                let zxid = self.tree.last_zxid();
                for event in events {
                    self.outputs.push_back(Output::WatchEvent { connection, zxid, event });
                }
                Ok(Response::Empty)
            }
            Request::Auth(packet) => {
                let super_digest = self.config.super_digest.as_deref();
                let state = self.connections.get_mut(&connection).expect("reading on a live connection");
                state.auth.add_auth(&packet.scheme, &packet.auth, super_digest)?;
                Ok(Response::Empty)
            }
            // Like ZooKeeper's providers' getUserName: a digest id shows only its user part.
            Request::WhoAmI => Ok(Response::WhoAmI(
                auth.ids
                    .iter()
                    .map(|id| {
                        let user = match id.scheme.as_str() {
                            "digest" => id.id.split(':').next().unwrap_or_default().to_string(),
                            _ => id.id.clone(),
                        };
                        ClientInfo { auth_scheme: id.scheme.clone(), user }
                    })
                    .collect(),
            )),
            // Dynamic reconfiguration is off (ZooKeeper's default, reconfigEnabled=false).
            Request::Reconfig(_) => Err(ErrorCode::ReconfigDisabled),
            // No SASL provider is configured, as in a default ZooKeeper.
            Request::Sasl(_) => Err(ErrorCode::AuthFailed),
            write => unreachable!("write request routed to the read path: {write:?}"),
        }
    }

    fn multi_read(&mut self, connection: ConnectionId, ops: &[MultiReadOp]) -> Vec<MultiReadResult> {
        let mut results = Vec::with_capacity(ops.len());
        for op in ops {
            let auth = &self.connections[&connection].auth;
            let result = match op {
                MultiReadOp::GetChildren(PathWatchRequest { path, watch }) => {
                    self.tree.get_children(path, auth).map(|(children, _)| {
                        if *watch {
                            self.watches.add(connection, path, WatchKind::Child);
                        }
                        MultiReadResult::GetChildren(children)
                    })
                }
                MultiReadOp::GetData(PathWatchRequest { path, watch }) => {
                    self.tree.get_data(path, auth).map(|(data, stat)| {
                        if *watch {
                            self.watches.add(connection, path, WatchKind::Data);
                        }
                        MultiReadResult::GetData { data, stat }
                    })
                }
            };
            results.push(result.unwrap_or_else(MultiReadResult::Error));
        }
        results
    }
}
