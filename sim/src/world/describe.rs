//! Short, stable text for trace lines. Only `Debug` of plain data and explicit fields: no
//! addresses, no hash-map orders, so the trace hash is a pure function of the run.

use zab_core::proto::{MultiOp, MultiReadOp, Request, Response, WatcherEvent};

/// One request as `op path [details]`.
pub fn request(request: &Request) -> String {
    match request {
        Request::Create(r) | Request::Create2(r) => {
            format!("create {} flags={} data={}", r.path, r.flags, text(&r.data))
        }
        Request::CreateContainer(r) => format!("createContainer {}", r.path),
        Request::Delete(r) => format!("delete {} v={}", r.path, r.version),
        Request::SetData(r) => format!("setData {} v={} data={}", r.path, r.version, text(&r.data)),
        Request::GetData(r) => format!("getData {}{}", r.path, if r.watch { " watch" } else { "" }),
        Request::Exists(r) => format!("exists {}{}", r.path, if r.watch { " watch" } else { "" }),
        Request::GetChildren2(r) | Request::GetChildren(r) => {
            format!("getChildren {}{}", r.path, if r.watch { " watch" } else { "" })
        }
        Request::AddWatch(r) => format!("addWatch {} mode={}", r.path, r.mode),
        Request::Sync(r) => format!("sync {}", r.path),
        Request::Ping => "ping".into(),
        Request::CloseSession => "closeSession".into(),
        Request::SetWatches2(w) | Request::SetWatches(w) => format!(
            "setWatches rel={} data={:?} exist={:?} child={:?} persistent={:?} recursive={:?}",
            w.relative_zxid,
            w.data_watches,
            w.exist_watches,
            w.child_watches,
            w.persistent_watches,
            w.persistent_recursive_watches
        ),
        Request::Multi(ops) => format!("multi [{}]", ops.iter().map(multi_op).collect::<Vec<_>>().join("; ")),
        Request::MultiRead(ops) => {
            let reads: Vec<String> = ops
                .iter()
                .map(|op| match op {
                    MultiReadOp::GetData(r) => format!("getData {}{}", r.path, if r.watch { " watch" } else { "" }),
                    MultiReadOp::GetChildren(r) => {
                        format!("getChildren {}{}", r.path, if r.watch { " watch" } else { "" })
                    }
                })
                .collect();
            format!("multiRead [{}]", reads.join("; "))
        }
        Request::RemoveWatches(r) => format!("removeWatches {} type={}", r.path, r.watcher_type),
        Request::CheckWatches(r) => format!("checkWatches {} type={}", r.path, r.watcher_type),
        other => format!("{other:?}"),
    }
}

fn multi_op(op: &MultiOp) -> String {
    match op {
        MultiOp::Create { request: r, .. } => format!("create {} flags={} data={}", r.path, r.flags, text(&r.data)),
        MultiOp::CreateTtl(r) => format!("createTtl {} ttl={}", r.path, r.ttl),
        MultiOp::Delete(r) => format!("delete {} v={}", r.path, r.version),
        MultiOp::SetData(r) => format!("setData {} v={} data={}", r.path, r.version, text(&r.data)),
        MultiOp::Check(r) => format!("check {} v={}", r.path, r.version),
    }
}

/// One response body, briefly.
pub fn response(response: &Response) -> String {
    match response {
        Response::Empty => String::new(),
        Response::Create(path) => format!(" path={path}"),
        Response::Create2 { path, stat } => format!(" path={path} czxid=0x{:x}", stat.czxid),
        Response::Stat(stat) => format!(" version={} mzxid=0x{:x}", stat.version, stat.mzxid),
        Response::GetData { data, stat } => {
            format!(" data={} version={} mzxid=0x{:x}", text(data), stat.version, stat.mzxid)
        }
        Response::Children2 { children, stat } => format!(" children={} pzxid=0x{:x}", children.len(), stat.pzxid),
        Response::Children(children) => format!(" children={}", children.len()),
        Response::Sync(path) => format!(" path={path}"),
        other => format!(" {other:?}"),
    }
}

/// One watch event.
pub fn event(event: &WatcherEvent) -> String {
    let kind = match event.event_type {
        1 => "NodeCreated",
        2 => "NodeDeleted",
        3 => "NodeDataChanged",
        4 => "NodeChildrenChanged",
        _ => "Other",
    };
    format!("{kind} {}", event.path)
}

fn text(data: &[u8]) -> String {
    String::from_utf8_lossy(data).into_owned()
}
