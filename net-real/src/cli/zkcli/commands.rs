//! The commands of zkCli.sh, run against a `zookeeper-client` session: the same names, flags,
//! output and exit codes (0 done, 1 failed or malformed, 127 unknown command).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::oneshot;
use zookeeper_client as zk;

use super::format::{acl_json, acl_text, error_text, java_list, parse_acl, stat_json, stat_text};
use super::words::{parse, split, Words};

/// What a command prints when it succeeds: text for people (may be empty) and JSON for
/// `--json`.
pub struct Done {
    pub text: String,
    pub json: Value,
}

/// Why a command failed: the message zkCli prints on stderr and its exit code.
pub struct Failed {
    pub message: String,
    pub code: i32,
}

type Outcome = Result<Done, Failed>;

/// The exit code of a command that ran and failed (zkCli's `CliWrapperException`).
pub const EXIT_FAILED: i32 = 1;
/// Marks a command with wrong arguments until [`Shell::execute`] adds the usage line and
/// exits 1, as zkCli does for these (zab cli also says what is wrong).
const MALFORMED: i32 = -1;
/// An unknown command.
pub const EXIT_UNKNOWN: i32 = 127;
/// zkCli keeps and prints the last this many commands in `history`.
const HISTORY_SHOWN_MAX: usize = 11;
/// zkCli's session timeout without `-timeout`.
const SESSION_TIMEOUT_DEFAULT: Duration = Duration::from_secs(30);

fn done(text: impl Into<String>, json: Value) -> Outcome {
    Ok(Done { text: text.into(), json })
}

fn failed(message: impl Into<String>, code: i32) -> Outcome {
    Err(Failed { message: message.into(), code })
}

fn server_error(error: zk::Error, path: &str) -> Failed {
    Failed { message: error_text(&error, path), code: EXIT_FAILED }
}

/// Which watches a watcher stands for, as `removewatches -c|-d|-a` names them.
#[derive(Clone, Copy, PartialEq, Eq)]
enum WatchKind {
    Children,
    Data,
    Persistent,
}

/// A watch being waited on by a task; dropping `cancel` ends the task, whose watcher's drop
/// removes the watch.
struct HeldWatch {
    path: String,
    kind: WatchKind,
    cancel: oneshot::Sender<()>,
}

/// A zkCli session: the connection, its settings and its history.
pub struct Shell {
    pub connect_string: String,
    pub session_timeout: Duration,
    pub json: bool,
    client: Option<zk::Client>,
    print_watches: Arc<AtomicBool>,
    history: Vec<String>,
    watches: Vec<HeldWatch>,
}

/// Prints a watch event as zkCli's default watcher does.
fn print_event(state: &str, kind: &str, path: &str, json: bool) {
    if json {
        let path = if path == "null" { Value::Null } else { Value::from(path) };
        println!("{}", json!({ "event": { "state": state, "type": kind, "path": path } }));
    } else {
        println!("\nWATCHER::\n\nWatchedEvent state:{state} type:{kind} path:{path}");
    }
}

fn event_type(event: &zk::WatchedEvent) -> &'static str {
    match event.event_type {
        zk::EventType::Session => "None",
        zk::EventType::NodeCreated => "NodeCreated",
        zk::EventType::NodeDeleted => "NodeDeleted",
        zk::EventType::NodeDataChanged => "NodeDataChanged",
        zk::EventType::NodeChildrenChanged => "NodeChildrenChanged",
    }
}

fn state_name(state: zk::SessionState) -> &'static str {
    match state {
        zk::SessionState::Disconnected => "Disconnected",
        zk::SessionState::SyncConnected => "SyncConnected",
        zk::SessionState::AuthFailed => "AuthFailed",
        zk::SessionState::ConnectedReadOnly => "ConnectedReadOnly",
        zk::SessionState::Expired => "Expired",
        zk::SessionState::Closed => "Closed",
    }
}

impl Shell {
    pub fn new(connect_string: String, session_timeout: Option<Duration>, json: bool) -> Shell {
        Shell {
            connect_string,
            session_timeout: session_timeout.unwrap_or(SESSION_TIMEOUT_DEFAULT),
            json,
            client: None,
            print_watches: Arc::new(AtomicBool::new(true)),
            history: Vec::new(),
            watches: Vec::new(),
        }
    }

    /// `[zk: host:port(CONNECTED) N] `
    pub fn prompt(&self) -> String {
        let state = match &self.client {
            Some(client) if client.state() == zk::SessionState::SyncConnected => "CONNECTED",
            Some(_) => "CONNECTING",
            None => "CLOSED",
        };
        format!("[zk: {}({state}) {}] ", self.connect_string, self.history.len())
    }

    /// Connects (closing any session first), printing zkCli's `Connecting to` line and the
    /// session event; a task prints later state changes while watches are printed.
    pub async fn connect(&mut self) -> Result<(), String> {
        self.close();
        if !self.json {
            println!("Connecting to {}", self.connect_string);
        }
        let connector = zk::Client::connector().with_session_timeout(self.session_timeout);
        let client = connector
            .connect(&self.connect_string)
            .await
            .map_err(|e| format!("cannot connect to {}: {e}", self.connect_string))?;
        if self.print_watches.load(Ordering::Relaxed) {
            print_event("SyncConnected", "None", "null", self.json);
        }
        let mut states = client.state_watcher();
        let (print, json) = (self.print_watches.clone(), self.json);
        tokio::spawn(async move {
            loop {
                let state = states.changed().await;
                if print.load(Ordering::Relaxed) {
                    print_event(state_name(state), "None", "null", json);
                }
                if state.is_terminated() {
                    break;
                }
            }
        });
        self.client = Some(client);
        Ok(())
    }

    /// Ends the session (the client's drop sends closeSession).
    pub fn close(&mut self) {
        self.watches.clear();
        self.client = None;
    }

    fn client(&self) -> Result<&zk::Client, Failed> {
        self.client.as_ref().ok_or_else(|| Failed {
            message: "Not connected: connect to a server first (connect host:port)".to_string(),
            code: EXIT_FAILED,
        })
    }

    /// Waits for a one-shot watch in a task and prints its event.
    fn hold_oneshot(&mut self, path: &str, kind: WatchKind, watcher: zk::OneshotWatcher) {
        let (cancel, cancelled) = oneshot::channel();
        let (print, json) = (self.print_watches.clone(), self.json);
        tokio::spawn(async move {
            // Biased: an event that arrived before the watch was removed is still printed, as
            // the Java client delivers it before the removal.
            tokio::select! {
                biased;
                event = watcher.changed() => if print.load(Ordering::Relaxed) {
                    print_event(state_name(event.session_state), event_type(&event), &event.path, json);
                },
                _ = cancelled => {}
            }
        });
        self.watches.retain(|held| !held.cancel.is_closed());
        self.watches.push(HeldWatch { path: path.to_string(), kind, cancel });
    }

    fn hold_persistent(&mut self, path: &str, mut watcher: zk::PersistentWatcher) {
        let (cancel, mut cancelled) = oneshot::channel();
        let (print, json) = (self.print_watches.clone(), self.json);
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    biased;
                    event = watcher.changed() => if print.load(Ordering::Relaxed) {
                        print_event(state_name(event.session_state), event_type(&event), &event.path, json);
                    },
                    _ = &mut cancelled => break,
                }
            }
        });
        self.watches.push(HeldWatch { path: path.to_string(), kind: WatchKind::Persistent, cancel });
    }

    /// Runs one command line (recorded in the history unless blank).
    pub async fn execute(&mut self, line: &str) -> Option<Outcome> {
        let words = match split(line) {
            Ok(words) if words.is_empty() => return None,
            Ok(words) => words,
            Err(reason) => return Some(failed(reason, EXIT_FAILED)),
        };
        self.history.push(line.trim().to_string());
        let name = words[0].clone();
        Some(self.run(words).await.map_err(|f| match f.code {
            MALFORMED => Failed { message: format!("{}\n{}", f.message, usage(&name)), code: EXIT_FAILED },
            _ => f,
        }))
    }

    async fn run(&mut self, words: Vec<String>) -> Outcome {
        let name = words[0].clone();
        let flags: &[(char, bool)] = match name.as_str() {
            "ls" => &[('s', false), ('w', false), ('R', false)],
            "get" => &[('s', false), ('w', false)],
            "set" => &[('s', false), ('v', true)],
            "stat" => &[('w', false)],
            "create" => &[('s', false), ('e', false), ('c', false), ('t', true)],
            "delete" => &[('v', true)],
            "deleteall" => &[('b', true)],
            "getAcl" => &[('s', false)],
            "setAcl" => &[('s', false), ('v', true), ('R', false)],
            "addWatch" => &[('m', true)],
            "removewatches" => &[('c', false), ('d', false), ('a', false), ('l', false)],
            "config" => &[('c', false), ('w', false), ('s', false)],
            _ => &[],
        };
        let words = match parse(words, flags) {
            Ok(words) => words,
            Err(reason) => return failed(reason, MALFORMED),
        };
        match name.as_str() {
            "ls"
            | "get"
            | "stat"
            | "getAcl"
            | "getAllChildrenNumber"
            | "getEphemerals"
            | "sync"
            | "whoami"
            | "config" => self.read(&words).await,
            "set" | "create" | "delete" | "deleteall" | "setAcl" | "addauth" => self.write(&words).await,
            "addWatch" | "removewatches" | "printwatches" => self.watch(&words).await,
            "history" | "redo" | "connect" | "close" | "quit" | "version" => self.session_command(&words).await,
            // zkCli prints the usage, then the complaint.
            _ => failed(format!("{}\nCommand not found: Command not found {name}", usage_all()), EXIT_UNKNOWN),
        }
    }

    /// Session-level commands: they need no connection.
    async fn session_command(&mut self, words: &Words) -> Outcome {
        match words.name.as_str() {
            "history" => {
                // Without the `history` line itself, as zkCli lists before adding it.
                let shown = &self.history[..self.history.len() - 1];
                let start = shown.len().saturating_sub(HISTORY_SHOWN_MAX);
                let lines: Vec<String> =
                    shown.iter().enumerate().skip(start).map(|(i, line)| format!("{i} - {line}")).collect();
                done(lines.join("\n"), json!({ "history": shown }))
            }
            "redo" => {
                let index = words.args.first().and_then(|n| n.parse::<usize>().ok());
                let Some(line) = index.and_then(|i| self.history.get(i)).cloned() else {
                    return failed("Command index out of range", MALFORMED);
                };
                self.history.pop();
                let words = split(&line).map_err(|reason| Failed { message: reason, code: MALFORMED })?;
                self.history.push(line);
                Box::pin(self.run(words)).await
            }
            "connect" => {
                if let Some(server) = words.args.first() {
                    self.connect_string = server.clone();
                }
                match self.connect().await {
                    Ok(()) => done("", json!({ "connected": self.connect_string })),
                    Err(message) => failed(message, EXIT_FAILED),
                }
            }
            "close" => {
                self.close();
                done("", json!({ "closed": true }))
            }
            "quit" => {
                self.close();
                done("", json!({ "quit": true }))
            }
            _ => done(
                format!("ZooKeeper CLI version: zab {}", env!("CARGO_PKG_VERSION")),
                json!({ "version": env!("CARGO_PKG_VERSION") }),
            ),
        }
    }

    async fn read(&mut self, words: &Words) -> Outcome {
        let path = words.args.first().cloned();
        let need_path = || path.clone().ok_or_else(|| Failed { message: "missing path".to_string(), code: MALFORMED });
        match words.name.as_str() {
            "ls" => self.ls(words, &need_path()?).await,
            "get" => self.get(words, &need_path()?).await,
            "stat" => {
                let path = need_path()?;
                let client = self.client()?.clone();
                let stat = if words.has('w') {
                    let (stat, watcher) =
                        client.check_and_watch_stat(&path).await.map_err(|e| server_error(e, &path))?;
                    self.hold_oneshot(&path, WatchKind::Data, watcher);
                    stat
                } else {
                    client.check_stat(&path).await.map_err(|e| server_error(e, &path))?
                };
                let stat = stat.ok_or_else(|| server_error(zk::Error::NoNode, &path))?;
                done(stat_text(&stat), json!({ "path": path, "stat": stat_json(&stat) }))
            }
            "getAcl" => {
                let path = need_path()?;
                let (acl, stat) = self.client()?.get_acl(&path).await.map_err(|e| server_error(e, &path))?;
                let mut text = acl_text(&acl);
                if words.has('s') {
                    text = format!("{text}\n{}", stat_text(&stat));
                }
                done(text, json!({ "path": path, "acl": acl_json(&acl), "stat": stat_json(&stat) }))
            }
            "getAllChildrenNumber" => {
                let path = need_path()?;
                let count = self.client()?.count_descendants_number(&path).await.map_err(|e| server_error(e, &path))?;
                done(count.to_string(), json!({ "path": path, "count": count }))
            }
            "getEphemerals" => {
                let path = path.unwrap_or_else(|| "/".to_string());
                let mut paths = self.client()?.list_ephemerals(&path).await.map_err(|e| server_error(e, &path))?;
                paths.sort();
                done(java_list(&paths), json!({ "path": path, "ephemerals": paths }))
            }
            "sync" => {
                let path = need_path()?;
                self.client()?.sync(&path).await.map_err(|e| server_error(e, &path))?;
                done("Sync is OK", json!({ "path": path, "synced": true }))
            }
            "whoami" => {
                let users = self.client()?.list_auth_users().await.map_err(|e| server_error(e, "/"))?;
                let mut text = "Auth scheme: User".to_string();
                for user in &users {
                    text.push_str(&format!("\n{}: {}", user.scheme(), user.user()));
                }
                let json_users: Vec<Value> =
                    users.iter().map(|u| json!({ "scheme": u.scheme(), "user": u.user() })).collect();
                done(text, json!({ "whoami": json_users }))
            }
            _ => {
                let (data, stat) =
                    self.client()?.get_config().await.map_err(|e| server_error(e, "/zookeeper/config"))?;
                let config = String::from_utf8_lossy(&data).into_owned();
                let text = if words.has('s') { format!("{config}\n{}", stat_text(&stat)) } else { config.clone() };
                done(text, json!({ "config": config, "stat": stat_json(&stat) }))
            }
        }
    }

    async fn ls(&mut self, words: &Words, path: &str) -> Outcome {
        let client = self.client()?.clone();
        let client = &client;
        if words.has('R') {
            // ZKUtil.listSubTreeBFS: breadth first from `path`, children sorted here.
            let mut all = vec![path.to_string()];
            let mut next = 0;
            while next < all.len() {
                let parent = all[next].clone();
                next += 1;
                let mut children = client.list_children(&parent).await.map_err(|e| server_error(e, &parent))?;
                children.sort();
                let prefix = if parent == "/" { String::new() } else { parent.clone() };
                all.extend(children.into_iter().map(|child| format!("{prefix}/{child}")));
            }
            return done(all.join("\n"), json!({ "path": path, "tree": all }));
        }
        let (mut children, stat) = if words.has('w') {
            let (children, stat, watcher) =
                client.get_and_watch_children(path).await.map_err(|e| server_error(e, path))?;
            self.hold_oneshot(path, WatchKind::Children, watcher);
            (children, stat)
        } else {
            client.get_children(path).await.map_err(|e| server_error(e, path))?
        };
        children.sort();
        let mut text = java_list(&children);
        if words.has('s') {
            text = format!("{text}\n{}", stat_text(&stat));
        }
        done(text, json!({ "path": path, "children": children, "stat": stat_json(&stat) }))
    }

    async fn get(&mut self, words: &Words, path: &str) -> Outcome {
        let client = self.client()?.clone();
        let (data, stat) = if words.has('w') {
            let (data, stat, watcher) = client.get_and_watch_data(path).await.map_err(|e| server_error(e, path))?;
            self.hold_oneshot(path, WatchKind::Data, watcher);
            (data, stat)
        } else {
            client.get_data(path).await.map_err(|e| server_error(e, path))?
        };
        let text_data = String::from_utf8_lossy(&data).into_owned();
        let text = if words.has('s') { format!("{text_data}\n{}", stat_text(&stat)) } else { text_data.clone() };
        let utf8 = std::str::from_utf8(&data).is_ok();
        let hex: String = data.iter().map(|b| format!("{b:02x}")).collect();
        let data_json = if utf8 { json!({ "text": text_data }) } else { json!({ "hex": hex }) };
        done(text, json!({ "path": path, "data": data_json, "stat": stat_json(&stat) }))
    }

    async fn write(&mut self, words: &Words) -> Outcome {
        let arg = |i: usize| words.args.get(i).cloned();
        let missing = |what: &str| Failed { message: format!("missing {what}"), code: MALFORMED };
        let version = match words.value('v').map(str::parse::<i32>) {
            None => None,
            Some(Ok(version)) => Some(version),
            Some(Err(_)) => return failed("version must be a number", MALFORMED),
        };
        let client = self.client()?.clone();
        match words.name.as_str() {
            "create" => self.create(words).await,
            "set" => {
                let path = arg(0).ok_or_else(|| missing("path"))?;
                let data = arg(1).ok_or_else(|| missing("data"))?;
                let stat =
                    client.set_data(&path, data.as_bytes(), version).await.map_err(|e| server_error(e, &path))?;
                let text = if words.has('s') { stat_text(&stat) } else { String::new() };
                done(text, json!({ "path": path, "stat": stat_json(&stat) }))
            }
            "delete" => {
                let path = arg(0).ok_or_else(|| missing("path"))?;
                client.delete(&path, version).await.map_err(|e| server_error(e, &path))?;
                done("", json!({ "path": path, "deleted": true }))
            }
            "deleteall" => {
                let path = arg(0).ok_or_else(|| missing("path"))?;
                let count = delete_all(&client, &path).await?;
                done("", json!({ "path": path, "deleted": count }))
            }
            "setAcl" => {
                let path = arg(0).ok_or_else(|| missing("path"))?;
                let acl = parse_acl(&arg(1).ok_or_else(|| missing("acl"))?)
                    .map_err(|m| Failed { message: m, code: MALFORMED })?;
                let mut paths = vec![path.clone()];
                if words.has('R') {
                    paths = subtree(&client, &path).await?;
                }
                let mut last = None;
                for target in &paths {
                    last = Some(client.set_acl(target, &acl, version).await.map_err(|e| server_error(e, target))?);
                }
                let stat = last.expect("at least the path itself");
                let text = if words.has('s') { stat_text(&stat) } else { String::new() };
                done(text, json!({ "path": path, "stat": stat_json(&stat) }))
            }
            _ => {
                let scheme = arg(0).ok_or_else(|| missing("scheme"))?;
                let auth = arg(1).unwrap_or_default();
                client.auth(&scheme, auth.as_bytes()).await.map_err(|e| server_error(e, "/"))?;
                done("", json!({ "auth": scheme }))
            }
        }
    }

    async fn create(&mut self, words: &Words) -> Outcome {
        let Some(path) = words.args.first() else { return failed("missing path", MALFORMED) };
        let data = words.args.get(1).cloned().unwrap_or_default();
        let acl = match words.args.get(2) {
            Some(text) => parse_acl(text).map_err(|m| Failed { message: m, code: MALFORMED })?,
            None => vec![zk::Acl::new(zk::Permission::ALL, zk::AuthId::anyone())],
        };
        let mode = match (words.has('e'), words.has('s'), words.has('c')) {
            (true, _, true) => return failed("-c cannot be combined with -e", MALFORMED),
            (_, true, true) => return failed("-c cannot be combined with -s", MALFORMED),
            (false, false, true) => zk::CreateMode::Container,
            (true, true, _) => zk::CreateMode::EphemeralSequential,
            (true, false, _) => zk::CreateMode::Ephemeral,
            (false, true, _) => zk::CreateMode::PersistentSequential,
            (false, false, _) => zk::CreateMode::Persistent,
        };
        let mut options = mode.with_acls(zk::Acls::new(&acl));
        if let Some(ttl) = words.value('t') {
            let ttl: u64 =
                ttl.parse().map_err(|_| Failed { message: "ttl must be a number".into(), code: MALFORMED })?;
            if words.has('e') || words.has('c') {
                return failed("TTLs cannot be used with Ephemeral or Container nodes", MALFORMED);
            }
            options = options.with_ttl(Duration::from_millis(ttl));
        }
        let (stat, sequence) =
            self.client()?.create(path, data.as_bytes(), &options).await.map_err(|e| server_error(e, path))?;
        let created = if words.has('s') { format!("{path}{sequence}") } else { path.clone() };
        done(format!("Created {created}"), json!({ "path": created, "stat": stat_json(&stat) }))
    }

    async fn watch(&mut self, words: &Words) -> Outcome {
        match words.name.as_str() {
            "printwatches" => match words.args.first().map(String::as_str) {
                Some("on") => {
                    self.print_watches.store(true, Ordering::Relaxed);
                    done("", json!({ "printwatches": true }))
                }
                Some("off") => {
                    self.print_watches.store(false, Ordering::Relaxed);
                    done("", json!({ "printwatches": false }))
                }
                _ => {
                    let on = self.print_watches.load(Ordering::Relaxed);
                    done(format!("printwatches is {}", if on { "on" } else { "off" }), json!({ "printwatches": on }))
                }
            },
            "addWatch" => {
                let Some(path) = words.args.first().cloned() else { return failed("missing path", MALFORMED) };
                let mode = match words.value('m') {
                    None | Some("PERSISTENT_RECURSIVE") => zk::AddWatchMode::PersistentRecursive,
                    Some("PERSISTENT") => zk::AddWatchMode::Persistent,
                    Some(other) => return failed(format!("Unsupported mode: {other}"), MALFORMED),
                };
                let watcher = self.client()?.watch(&path, mode).await.map_err(|e| server_error(e, &path))?;
                self.hold_persistent(&path, watcher);
                done("", json!({ "path": path, "watching": true }))
            }
            _ => {
                let Some(path) = words.args.first().cloned() else { return failed("missing path", MALFORMED) };
                let wanted = |kind: WatchKind| match (words.has('c'), words.has('d')) {
                    (true, _) => kind == WatchKind::Children,
                    (_, true) => kind == WatchKind::Data,
                    _ => true,
                };
                self.client()?;
                self.watches.retain(|held| !held.cancel.is_closed());
                let (removed, kept): (Vec<HeldWatch>, Vec<HeldWatch>) = std::mem::take(&mut self.watches)
                    .into_iter()
                    .partition(|held| held.path == path && wanted(held.kind));
                self.watches = kept;
                if removed.is_empty() {
                    return Err(server_error(zk::Error::NoWatcher, &path));
                }
                // The Java client tells its watcher that each watch went (`WatcherType` events).
                for held in &removed {
                    let kind = match held.kind {
                        WatchKind::Children => "ChildWatchRemoved",
                        WatchKind::Data => "DataWatchRemoved",
                        WatchKind::Persistent => "PersistentWatchRemoved",
                    };
                    if self.print_watches.load(Ordering::Relaxed) {
                        print_event("SyncConnected", kind, &path, self.json);
                    }
                }
                done("", json!({ "path": path, "removed": removed.len() }))
            }
        }
    }
}

/// `path` and every node under it, parents first.
async fn subtree(client: &zk::Client, path: &str) -> Result<Vec<String>, Failed> {
    let mut all = vec![path.to_string()];
    let mut next = 0;
    while next < all.len() {
        let parent = all[next].clone();
        next += 1;
        let children = client.list_children(&parent).await.map_err(|e| server_error(e, &parent))?;
        let prefix = if parent == "/" { String::new() } else { parent.clone() };
        all.extend(children.into_iter().map(|child| format!("{prefix}/{child}")));
    }
    Ok(all)
}

/// `ZKUtil.deleteRecursive`: children before parents.
async fn delete_all(client: &zk::Client, path: &str) -> Result<usize, Failed> {
    let all = subtree(client, path).await?;
    for node in all.iter().rev() {
        match client.delete(node, None).await {
            Ok(()) | Err(zk::Error::NoNode) => {}
            Err(error) => return Err(server_error(error, node)),
        }
    }
    Ok(all.len())
}

/// One command's usage line, as zkCli prints it after a malformed command.
fn usage(name: &str) -> String {
    USAGE
        .iter()
        .find(|line| line.split_whitespace().next() == Some(name))
        .map_or_else(usage_all, |line| line.to_string())
}

fn usage_all() -> String {
    let mut text = "ZooKeeper -server host:port cmd args".to_string();
    for line in USAGE {
        text.push_str("\n\t");
        text.push_str(line);
    }
    text
}

const USAGE: [&str; 27] = [
    "addWatch [-m mode] path # optional mode is one of [PERSISTENT, PERSISTENT_RECURSIVE] - default is PERSISTENT_RECURSIVE",
    "addauth scheme auth",
    "close ",
    "config [-c] [-w] [-s]",
    "connect host:port",
    "create [-s] [-e] [-c] [-t ttl] path [data] [acl]",
    "delete [-v version] path",
    "deleteall path [-b batch size]",
    "get [-s] [-w] path",
    "getAcl [-s] path",
    "getAllChildrenNumber path",
    "getEphemerals path",
    "history ",
    "ls [-s] [-w] [-R] path",
    "printwatches on|off",
    "quit ",
    "redo cmdno",
    "removewatches path [-c|-d|-a] [-l]",
    "set [-s] [-v version] path data",
    "setAcl [-s] [-v version] [-R] path acl",
    "stat [-w] path",
    "sync path",
    "version ",
    "whoami ",
    "delquota [-n|-b|-N|-B] path # not in zab",
    "listquota path # not in zab",
    "setquota -n|-b|-N|-B val path # not in zab",
];
