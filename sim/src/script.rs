//! The scenario DSL: short stories that drive a scripted world (STYLE.md rule 11).
//!
//! ```text
//! scenario: crash between fsync and reply: the write survives, its reply is lost
//! clients 2
//! c1 create /a v1
//! crash after fsync
//! c1 set /a v2              # durable, but the node dies before answering
//! expect c1 lost
//! restart
//! c2 read /a                # sync + getData
//! expect c2 data v2
//! ```
//!
//! Lines (`#` starts a comment):
//! - `scenario: TITLE` first, then `clients N`, then optionally `servers 3|5` (an ensemble;
//!   servers are numbered 1..N; with equal logs the highest id wins the first election);
//! - client operations `cN create PATH [DATA] [ephemeral|sequential|ephemeral-sequential|container]`,
//!   `cN set PATH DATA [version V]`, `cN delete PATH [version V]`, `cN get PATH [watch]`,
//!   `cN read PATH` (sync + getData), `cN exists PATH [watch]`, `cN children PATH [watch]`,
//!   `cN add-watch PATH persistent|recursive`, `cN close-session`; each waits for its reply
//!   (or for the connection to die), unless the line ends with `&` (pipelined: sent, not
//!   awaited);
//! - faults: `cN disconnect`, `cN silent DURATION` (link cut, no reconnect, no pings: the
//!   session expires if DURATION exceeds its timeout), `cN pause DURATION` (the link stays open
//!   but the client sends nothing, like a long GC pause), `crash [tearing|keeping] [before fsync|after fsync]` (now, or armed
//!   for the next write/fsync), `slow fsync DURATION`, `restart`, `wait DURATION`;
//! - ensembles: `crash N|leader|follower [tearing|keeping|keeping-epochs-only] [before fsync|after
//!   fsync|before current epoch fsync]`, `restart N` (`restart` alone restarts every crashed
//!   server), `partition 1 | 2 3` (symmetric; `leader` and `rest` may name groups),
//!   `partition 3 -> 1` (one-way), `heal`, `client cN on N|leader|follower` (the client's
//!   next connection goes there; a live one elsewhere is cut, so its session moves),
//!   `slow fsync DURATION on N`, `wait for leader` (an established leader and a serving
//!   quorum), `wait for all` (every live server serving), either with `within DURATION`
//!   (a recovery bound: fails if it takes longer), `expect leader N`;
//! - precise strikes: `wait until TEXT` runs until an event prints a trace line containing
//!   TEXT (`*` between words: the parts in order, anything between), e.g.
//!   `wait until n0 <- n2 NewLeader` (trace names are 0-based: `n0` is server 1, `c0` is
//!   c1). The next line runs right after that event, before any later one (an fsync
//!   completion, a message, a timer), so `crash 1` there strikes between that event's
//!   outputs and whatever they wait for;
//! - `config snap-count N`, `config commit-log-count N`, `config zxid-counter-start N`,
//!   `config max-buffer N` (`jute.maxbuffer`: the largest znode data, and what the quorum
//!   codec accepts from peers) or `config peer-reset-percent P` before the story (right after
//!   `servers`): every server starts with that option (the zxid counter one: the first
//!   leader's first proposal has counter N+1, decimal or `0x` hex), or broken peer links are
//!   noticed at once only P% of the time (else after 0.5 to 10 s);
//! - data words: `bytes:N` is N bytes of `x` (in `create`, `set` and `expect cN data`);
//!   `cN create-many PREFIX COUNT [MODE]` creates PREFIX0000, PREFIX0001, ... pipelined and
//!   waits for the last;
//! - clocks: `wall-clock N|leader|follower +1h|-1h|+30s|-500ms` steps that server's wall clock
//!   (its timers keep their own clock); `expect no election` checks that no server entered
//!   LOOKING since the last `wait for leader` or `wait for all`;
//! - checks on the client's last operation or its events: `expect cN ok|NoNode|NodeExists|...`,
//!   `expect cN data D`, `expect cN version V`, `expect cN created PATH`,
//!   `expect cN children A B ...`, `expect cN lost`, `expect cN event TYPE PATH`,
//!   `expect cN no events`, `expect cN session expired`, `expect cN session alive` (it never
//!   saw its session expire).
//!
//! After the last line every checker of the swarm runs over the scenario's history too.

use crate::history::OpKind;
use crate::options::CrashMode;
use crate::world::{CrashPoint, World};
use zab_core::proto::{
    event_type, Acl, AddWatchRequest, CreateRequest, DeleteRequest, PathWatchRequest, Request, Response, SetDataRequest,
};
use zab_core::ErrorCode;

/// How long a step may wait for its reply, connection or event (virtual ms).
pub const STEP_WAIT_MS_MAX: u64 = 60_000;
/// Scenario length limits (STYLE.md rule 11: five to fifteen lines of story).
pub const SCENARIO_LINES_MAX: usize = 20;

/// Server options a scenario may set before its story (`config ...`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerOption {
    /// `snapCount`: transactions between snapshots (the node snapshots after a random count
    /// in `snapCount/2+1 ..= snapCount`, so 1 means after every transaction).
    SnapCount,
    /// `zookeeper.commitLogCount`: committed transactions a leader keeps to sync by DIFF; a
    /// learner further behind gets a SNAP.
    CommitLogCount,
    /// The chance, in percent, that a broken peer link is noticed at once (a reset) rather
    /// than only after 0.5 to 10 s (a silent death); the quiet default is 100.
    PeerResetPercent,
    /// The counter a leader of an empty history numbers its first proposal after
    /// (`Config::zxid_counter_start`), so a story reaches the counter's end (ZOOKEEPER-1277).
    ZxidCounterStart,
    /// `jute.maxbuffer` (`Config::max_buffer`): the largest znode data, and the quorum codec's
    /// caps on what a server accepts from its peers.
    MaxBuffer,
}

/// Most znodes one `create-many` line creates.
pub const CREATE_MANY_MAX: usize = 10_000;

/// One parsed line.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    /// A client operation.
    Op {
        /// Client index (0-based).
        client: usize,
        /// The request.
        request: Request,
        /// Plain or read-after-sync.
        kind: OpKind,
        /// Wait for the reply (false: pipelined with `&`).
        wait: bool,
    },
    /// Break a client's connection.
    Disconnect(usize),
    /// Silence a client for a while (its link cut).
    Silent(usize, u64),
    /// Pause a client for a while (its link kept open).
    Pause(usize, u64),
    /// Crash now or at a point, with a crash mode.
    Crash(Option<CrashPoint>, Option<CrashMode>),
    /// Make the next fsync slow.
    SlowFsync(u64),
    /// Make the next fsync of one server (0-based) slow.
    SlowFsyncOn(u64, usize),
    /// Restart the node (standalone) or every crashed server (ensemble).
    Restart,
    /// Crash one server of an ensemble now or at a point.
    CrashServer(ServerRef, Option<CrashPoint>, Option<CrashMode>),
    /// Restart one server (0-based).
    RestartServer(usize),
    /// Cut the links between groups of servers (one-way: only from the first group).
    Partition(Vec<Vec<ServerRef>>, bool),
    /// Lift every partition.
    Heal,
    /// Make a client connect to this server (moving its session there if it is elsewhere).
    ClientOn(usize, ServerRef),
    /// Run until a leader is established and a quorum serves (`all`: every live server).
    WaitForLeader {
        /// Every live server must serve, not just a quorum.
        all: bool,
        /// Fail unless it happens within this many ms (a recovery bound).
        within: Option<u64>,
    },
    /// The established leader is this server (0-based).
    ExpectLeader(usize),
    /// Let time pass.
    Wait(u64),
    /// Run until an event prints a trace line holding these parts, in order.
    WaitUntil(Vec<String>),
    /// Set a server option on every server before the story.
    Config(ServerOption, u64),
    /// Check something about a client.
    Expect(usize, Expectation),
    /// Create `count` znodes `prefix0000`, `prefix0001`, ... (pipelined; waits for the last).
    CreateMany {
        /// Client index (0-based).
        client: usize,
        /// The path prefix.
        prefix: String,
        /// How many.
        count: usize,
        /// `CreateMode` number.
        flags: i32,
    },
    /// Step a server's wall clock by this many ms (not its timer clock).
    StepWallClock(ServerRef, i64),
    /// No server entered LOOKING since the last `wait for leader|all`.
    ExpectNoElection,
}

/// A server as a scenario names it: a number (stored 0-based), or a role resolved when the
/// step runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerRef {
    /// Server N (0-based here, `N+1` in the text).
    Number(usize),
    /// The established leader.
    Leader,
    /// The first live, serving server that is not the leader.
    Follower,
    /// Every server not named elsewhere in the line (partitions).
    Rest,
}

/// What an `expect` line checks.
#[derive(Clone, Debug, PartialEq)]
pub enum Expectation {
    /// The last operation's error code.
    Code(ErrorCode),
    /// getData's data.
    Data(String),
    /// The version in the last reply's stat.
    Version(i32),
    /// The path a create returned.
    Created(String),
    /// The children getChildren returned.
    Children(Vec<String>),
    /// The last operation got no reply.
    Lost,
    /// A watch event arrived (type name, path).
    Event(String, String),
    /// No watch event arrived since the last check.
    NoEvents,
    /// The client saw its session expire.
    SessionExpired,
    /// The client never saw its session expire.
    SessionAlive,
}

/// A parsed scenario.
#[derive(Clone, Debug)]
pub struct Script {
    /// The title.
    pub title: String,
    /// The number of clients.
    pub clients: usize,
    /// The number of servers (1: standalone).
    pub servers: usize,
    /// The steps, with their line numbers.
    pub steps: Vec<(usize, Step)>,
}

/// Parses a scenario; errors name the line.
pub fn parse(text: &str) -> Result<Script, String> {
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(n, line)| (n + 1, line.split('#').next().unwrap_or("").trim()))
        .filter(|(_, line)| !line.is_empty());
    let (_, first) = lines.next().ok_or("empty scenario")?;
    let title = first.strip_prefix("scenario:").ok_or("the first line must be `scenario: TITLE`")?.trim().to_string();
    let (n, second) = lines.next().ok_or("missing `clients N`")?;
    let clients = second
        .strip_prefix("clients ")
        .and_then(|count| count.trim().parse().ok())
        .filter(|&count: &usize| (1..=9).contains(&count))
        .ok_or(format!("line {n}: the second line must be `clients N` with N in 1..=9"))?;
    let mut steps = Vec::new();
    let mut servers = 1;
    for (n, line) in lines {
        let words: Vec<&str> = line.split_whitespace().collect();
        if let (["servers", count], true) = (words.as_slice(), steps.is_empty()) {
            servers = count
                .parse()
                .ok()
                .filter(|c| [1, 3, 5].contains(c))
                .ok_or(format!("line {n}: `servers N` takes 1, 3 or 5"))?;
            continue;
        }
        if let ["config", ..] = words.as_slice() {
            if steps.iter().any(|(_, step)| !matches!(step, Step::Config(..))) {
                return Err(format!("line {n}: `config` comes before the story"));
            }
        }
        let step = parse_step(&words, clients, servers).map_err(|why| format!("line {n}: {why}: `{line}`"))?;
        steps.push((n, step));
    }
    if steps.len() > SCENARIO_LINES_MAX {
        return Err(format!("{} steps: a scenario tells one short story (at most {SCENARIO_LINES_MAX})", steps.len()));
    }
    Ok(Script { title, clients, servers, steps })
}

fn parse_client(word: &str, clients: usize) -> Result<usize, String> {
    let index: usize =
        word.strip_prefix('c').and_then(|n| n.parse().ok()).ok_or(format!("`{word}` is not a client"))?;
    if index == 0 || index > clients {
        return Err(format!("client {word} does not exist (clients are c1..c{clients})"));
    }
    Ok(index - 1)
}

/// Parses `500ms`, `5s`.
pub fn parse_duration(word: &str) -> Result<u64, String> {
    let (number, scale) = match word.strip_suffix("ms") {
        Some(number) => (number, 1),
        None => (word.strip_suffix('s').ok_or(format!("`{word}` is not a duration (500ms, 5s)"))?, 1000),
    };
    number.parse::<u64>().map(|n| n * scale).map_err(|_| format!("`{word}` is not a duration"))
}

/// Parses a server: `N`, `leader`, `follower` (`rest` only where `allow_rest`).
fn parse_server(word: &str, servers: usize, allow_rest: bool) -> Result<ServerRef, String> {
    match word {
        "leader" => Ok(ServerRef::Leader),
        "follower" => Ok(ServerRef::Follower),
        "rest" if allow_rest => Ok(ServerRef::Rest),
        number => match number.parse::<usize>() {
            Ok(n) if (1..=servers).contains(&n) => Ok(ServerRef::Number(n - 1)),
            _ => Err(format!("`{word}` is not a server (1..={servers}, leader, follower)")),
        },
    }
}

/// `partition A B | C D` (symmetric) or `partition A -> B C` (one-way).
fn parse_partition(words: &[&str], servers: usize) -> Result<Step, String> {
    let one_way = words.contains(&"->");
    let separator = if one_way { "->" } else { "|" };
    let groups = words
        .split(|w| *w == separator)
        .map(|group| group.iter().map(|w| parse_server(w, servers, true)).collect::<Result<Vec<_>, _>>())
        .collect::<Result<Vec<_>, _>>()?;
    if groups.len() < 2 || groups.iter().any(Vec::is_empty) {
        return Err("partition A B | C D, or partition A -> B C".into());
    }
    Ok(Step::Partition(groups, one_way))
}

fn parse_step(words: &[&str], clients: usize, servers: usize) -> Result<Step, String> {
    match words {
        ["restart"] => Ok(Step::Restart),
        ["restart", server] => match parse_server(server, servers, false)? {
            ServerRef::Number(n) => Ok(Step::RestartServer(n)),
            _ => Err("restart takes a server number".into()),
        },
        ["partition", rest @ ..] => parse_partition(rest, servers),
        ["heal"] => Ok(Step::Heal),
        ["wait", "for", "leader"] => Ok(Step::WaitForLeader { all: false, within: None }),
        ["wait", "for", "all"] => Ok(Step::WaitForLeader { all: true, within: None }),
        ["wait", "for", "leader", "within", bound] => {
            Ok(Step::WaitForLeader { all: false, within: Some(parse_duration(bound)?) })
        }
        ["wait", "for", "all", "within", bound] => {
            Ok(Step::WaitForLeader { all: true, within: Some(parse_duration(bound)?) })
        }
        ["expect", "leader", server] => match parse_server(server, servers, false)? {
            ServerRef::Number(n) => Ok(Step::ExpectLeader(n)),
            _ => Err("expect leader takes a server number".into()),
        },
        ["client", client, "on", server] => {
            Ok(Step::ClientOn(parse_client(client, clients)?, parse_server(server, servers, false)?))
        }
        ["crash", first, rest @ ..]
            if servers > 1 && !["tearing", "keeping", "keeping-epochs-only", "before", "after"].contains(first) =>
        {
            let server = parse_server(first, servers, false)?;
            match parse_crash(rest)? {
                Step::Crash(point, mode) => Ok(Step::CrashServer(server, point, mode)),
                _ => unreachable!("parse_crash returns a crash"),
            }
        }
        ["wait", "until", parts @ ..] => parse_wait_until(parts),
        ["config", "snap-count", value] => parse_config(ServerOption::SnapCount, value),
        ["config", "commit-log-count", value] => parse_config(ServerOption::CommitLogCount, value),
        ["config", "peer-reset-percent", value] => match value.parse::<u64>() {
            Ok(percent) if percent <= 100 => Ok(Step::Config(ServerOption::PeerResetPercent, percent)),
            _ => Err(format!("`{value}` is not a percentage")),
        },
        ["config", "max-buffer", value] => parse_config(ServerOption::MaxBuffer, value),
        ["config", "zxid-counter-start", value] => match parse_counter(value) {
            Some(counter) => Ok(Step::Config(ServerOption::ZxidCounterStart, counter)),
            None => Err(format!("`{value}` is not a zxid counter (decimal or 0x hex, below 2^32)")),
        },
        ["config", ..] => Err("config snap-count N, config commit-log-count N, config peer-reset-percent P, \
                               config max-buffer N or config zxid-counter-start N"
            .into()),
        ["wall-clock", server, step] => {
            Ok(Step::StepWallClock(parse_server(server, servers, false)?, parse_clock_step(step)?))
        }
        ["expect", "no", "election"] => Ok(Step::ExpectNoElection),
        [client, "create-many", prefix, count, rest @ ..] => parse_create_many(clients, client, prefix, count, rest),
        ["wait", duration] => Ok(Step::Wait(parse_duration(duration)?)),
        ["slow", "fsync", duration] => Ok(Step::SlowFsync(parse_duration(duration)?)),
        ["slow", "fsync", duration, "on", server] => match parse_server(server, servers, false)? {
            ServerRef::Number(n) => Ok(Step::SlowFsyncOn(parse_duration(duration)?, n)),
            _ => Err("slow fsync D on N takes a server number".into()),
        },
        ["crash", rest @ ..] => parse_crash(rest),
        ["expect", client, rest @ ..] => Ok(Step::Expect(parse_client(client, clients)?, parse_expectation(rest)?)),
        [client, "disconnect"] => Ok(Step::Disconnect(parse_client(client, clients)?)),
        [client, "silent", duration] => Ok(Step::Silent(parse_client(client, clients)?, parse_duration(duration)?)),
        [client, "pause", duration] => Ok(Step::Pause(parse_client(client, clients)?, parse_duration(duration)?)),
        [client, rest @ ..] => {
            let client = parse_client(client, clients)?;
            let (rest, wait) = match rest {
                [head @ .., "&"] => (head, false),
                rest => (rest, true),
            };
            let (request, kind) = parse_op(rest)?;
            Ok(Step::Op { client, request, kind, wait })
        }
        [] => Err("empty line".into()),
    }
}

/// `+1h`, `-1h`, `+30s`, `-500ms`: a signed clock step in ms.
fn parse_clock_step(word: &str) -> Result<i64, String> {
    let (sign, magnitude) = match word.split_at_checked(1) {
        Some(("+", rest)) => (1, rest),
        Some(("-", rest)) => (-1, rest),
        _ => return Err(format!("`{word}` is not a clock step (+1h, -1h, +30s, -500ms)")),
    };
    let ms = match magnitude.strip_suffix('h') {
        Some(hours) => hours.parse::<u64>().map(|h| h * 3_600_000).map_err(|_| format!("`{word}` is not a step"))?,
        None => parse_duration(magnitude)?,
    };
    Ok(sign * ms as i64)
}

fn parse_create_many(clients: usize, client: &str, prefix: &str, count: &str, rest: &[&str]) -> Result<Step, String> {
    let client = parse_client(client, clients)?;
    let count = count
        .parse()
        .ok()
        .filter(|c| (1..=CREATE_MANY_MAX).contains(c))
        .ok_or(format!("`{count}` is not a count in 1..={CREATE_MANY_MAX}"))?;
    let flags = match rest {
        [] => 0,
        [mode] => mode_flags(mode).filter(|f| *f != 4).ok_or(format!("`{mode}` is not a create mode here"))?,
        _ => return Err("cN create-many PREFIX COUNT [MODE]".into()),
    };
    Ok(Step::CreateMany { client, prefix: prefix.to_string(), count, flags })
}

/// A data word: `bytes:N` is N bytes of `x`, anything else its own bytes.
pub fn data_of(word: &str) -> Vec<u8> {
    match word.strip_prefix("bytes:").and_then(|n| n.parse::<usize>().ok()) {
        Some(length) => vec![b'x'; length],
        None => word.as_bytes().to_vec(),
    }
}

/// `wait until A B * C`: the parts `A B` and `C`, to be found in that order in one line.
fn parse_wait_until(words: &[&str]) -> Result<Step, String> {
    let parts: Vec<String> =
        words.split(|w| *w == "*").map(|part| part.join(" ")).filter(|part| !part.is_empty()).collect();
    if parts.is_empty() {
        return Err("wait until TEXT [* TEXT ...]".into());
    }
    Ok(Step::WaitUntil(parts))
}

fn parse_config(option: ServerOption, value: &str) -> Result<Step, String> {
    let value: u64 = value.parse().ok().filter(|v| *v > 0).ok_or(format!("`{value}` is not a positive count"))?;
    Ok(Step::Config(option, value))
}

/// A 32-bit zxid counter, written in decimal or as `0x` hex.
fn parse_counter(value: &str) -> Option<u64> {
    let counter = match value.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok()?,
        None => value.parse().ok()?,
    };
    (counter <= u64::from(u32::MAX)).then_some(counter)
}

/// Whether `line` holds every part, in order, without overlap.
fn holds_in_order(line: &str, parts: &[String]) -> bool {
    let mut rest = line;
    for part in parts {
        match rest.find(part.as_str()) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    true
}

fn parse_crash(words: &[&str]) -> Result<Step, String> {
    let (mode, rest) = match words {
        ["tearing", rest @ ..] => (Some(CrashMode::TearTail), rest),
        ["keeping", rest @ ..] => (Some(CrashMode::KeepPrefix), rest),
        ["keeping-epochs-only", rest @ ..] => (Some(CrashMode::KeepEpochFilesOnly), rest),
        rest => (Some(CrashMode::LoseUnsynced), rest),
    };
    let point = match rest {
        [] => None,
        ["before", "fsync"] => Some(CrashPoint::BeforeFsync),
        ["after", "fsync"] => Some(CrashPoint::AfterFsync),
        ["before", "current", "epoch", "fsync"] => Some(CrashPoint::BeforeCurrentEpochFsync),
        _ => return Err("crash [N|leader|follower] [tearing|keeping|keeping-epochs-only] [before fsync|after fsync|before current epoch fsync]".into()),
    };
    Ok(Step::Crash(point, mode))
}

fn path_watch(path: &str, rest: &[&str]) -> Result<PathWatchRequest, String> {
    match rest {
        [] => Ok(PathWatchRequest { path: path.into(), watch: false }),
        ["watch"] => Ok(PathWatchRequest { path: path.into(), watch: true }),
        _ => Err("expected nothing or `watch` after the path".into()),
    }
}

fn parse_version(rest: &[&str]) -> Result<i32, String> {
    match rest {
        [] => Ok(-1),
        ["version", v] => v.parse().map_err(|_| format!("bad version {v}")),
        _ => Err("expected `version V`".into()),
    }
}

fn parse_op(words: &[&str]) -> Result<(Request, OpKind), String> {
    let plain = |request| Ok((request, OpKind::Plain));
    match words {
        ["create", path, rest @ ..] => plain(parse_create(path, rest)?),
        ["set", path, data, rest @ ..] => plain(Request::SetData(SetDataRequest {
            path: path.to_string(),
            data: data_of(data),
            version: parse_version(rest)?,
        })),
        ["delete", path, rest @ ..] => {
            plain(Request::Delete(DeleteRequest { path: path.to_string(), version: parse_version(rest)? }))
        }
        ["get", path, rest @ ..] => plain(Request::GetData(path_watch(path, rest)?)),
        ["read", path] => Ok((Request::GetData(path_watch(path, &[])?), OpKind::ReadAfterSync)),
        ["exists", path, rest @ ..] => plain(Request::Exists(path_watch(path, rest)?)),
        ["children", path, rest @ ..] => plain(Request::GetChildren2(path_watch(path, rest)?)),
        ["add-watch", path, "persistent"] => {
            plain(Request::AddWatch(AddWatchRequest { path: path.to_string(), mode: 0 }))
        }
        ["add-watch", path, "recursive"] => {
            plain(Request::AddWatch(AddWatchRequest { path: path.to_string(), mode: 1 }))
        }
        ["close-session"] => plain(Request::CloseSession),
        _ => Err("unknown client operation".into()),
    }
}

fn parse_create(path: &str, rest: &[&str]) -> Result<Request, String> {
    let (data, mode) = match rest {
        [] => ("", None),
        [mode] if mode_flags(mode).is_some() => ("", Some(*mode)),
        [data] => (*data, None),
        [data, mode] => (*data, Some(*mode)),
        _ => return Err("create PATH [DATA] [MODE]".into()),
    };
    let flags = match mode {
        None => 0,
        Some(mode) => mode_flags(mode).ok_or(format!("unknown create mode {mode}"))?,
    };
    let request = CreateRequest { path: path.into(), data: data_of(data), acl: Acl::open_unsafe(), flags };
    Ok(if flags == 4 { Request::CreateContainer(request) } else { Request::Create(request) })
}

fn mode_flags(mode: &str) -> Option<i32> {
    Some(match mode {
        "persistent" => 0,
        "ephemeral" => 1,
        "sequential" => 2,
        "ephemeral-sequential" => 3,
        "container" => 4,
        _ => return None,
    })
}

fn parse_expectation(words: &[&str]) -> Result<Expectation, String> {
    Ok(match words {
        ["lost"] => Expectation::Lost,
        ["no", "events"] => Expectation::NoEvents,
        ["session", "expired"] => Expectation::SessionExpired,
        ["session", "alive"] => Expectation::SessionAlive,
        ["data", data] => Expectation::Data(data.to_string()),
        ["version", v] => Expectation::Version(v.parse().map_err(|_| format!("bad version {v}"))?),
        ["created", path] => Expectation::Created(path.to_string()),
        ["children", names @ ..] => Expectation::Children(names.iter().map(|s| s.to_string()).collect()),
        ["event", kind, path] => Expectation::Event(kind.to_string(), path.to_string()),
        [code] => Expectation::Code(error_code(code).ok_or(format!("unknown expectation or error code {code}"))?),
        _ => return Err("unknown expectation".into()),
    })
}

fn error_code(name: &str) -> Option<ErrorCode> {
    let name = if name == "ok" { "Ok" } else { name };
    (-130..=0).filter_map(ErrorCode::from_code).find(|code| format!("{code:?}") == name)
}

fn event_name(kind: i32) -> &'static str {
    match kind {
        event_type::NODE_CREATED => "NodeCreated",
        event_type::NODE_DELETED => "NodeDeleted",
        event_type::NODE_DATA_CHANGED => "NodeDataChanged",
        event_type::NODE_CHILDREN_CHANGED => "NodeChildrenChanged",
        _ => "Other",
    }
}

/// Parses and runs a scenario; `Err` says which line failed and why, or which checker.
pub fn run(text: &str, print_trace: bool) -> Result<(), String> {
    let script = parse(text)?;
    let mut world = World::scripted_ensemble(0, script.clients, script.servers, print_trace);
    let mut interpreter = Interpreter { last_op: vec![None; script.clients], elections_at_leader: 0 };
    for (line, step) in &script.steps {
        interpreter.step(&mut world, step).map_err(|why| format!("{}: line {line}: {why}", script.title))?;
    }
    world.run_until(world.now() + 1000);
    let report = world.finish();
    if let Some(first) = report.violations.first() {
        return Err(format!("{}: checker failed after the story: {first}", script.title));
    }
    Ok(())
}

struct Interpreter {
    /// The last operation each client submitted.
    last_op: Vec<Option<usize>>,
    /// `World::elections_started` when the last `wait for leader|all` was done.
    elections_at_leader: u64,
}

/// Runs the world until `done` holds; false after [`STEP_WAIT_MS_MAX`].
fn run_while(world: &mut World, mut done: impl FnMut(&World) -> bool) -> bool {
    let deadline = world.now() + STEP_WAIT_MS_MAX;
    while !done(world) {
        if world.now() > deadline || !world.step() {
            return false;
        }
    }
    true
}

/// Runs the world one event at a time until `found` holds for the lines that event printed
/// (it gets the trace mark taken before the event); false after [`STEP_WAIT_MS_MAX`].
fn run_while_stepping(world: &mut World, mut found: impl FnMut(&World, u64) -> bool) -> bool {
    let deadline = world.now() + STEP_WAIT_MS_MAX;
    loop {
        let mark = world.trace_mark();
        if world.now() > deadline || !world.step() {
            return false;
        }
        if found(world, mark) {
            return true;
        }
    }
}

impl Interpreter {
    fn step(&mut self, world: &mut World, step: &Step) -> Result<(), String> {
        match step {
            Step::Op { client, request, kind, wait } => {
                let client = *client;
                if !run_while(world, |w| w.client_connected(client)) {
                    return Err(format!("c{} never connected", client + 1));
                }
                let op = world.history().ops.len();
                assert!(world.submit(client, request.clone(), kind.clone()), "client is up");
                self.last_op[client] = Some(op);
                if *wait {
                    run_while(world, |w| w.history().ops[op].completion.is_some() || !w.client(client).awaits(op));
                }
            }
            Step::Disconnect(client) => world.disconnect(*client),
            Step::Silent(client, ms) => world.silence(*client, *ms),
            Step::Pause(client, ms) => world.pause(*client, *ms),
            Step::Crash(None, mode) => world.crash_now(*mode),
            Step::Crash(Some(point), mode) => world.arm_crash(*point, *mode),
            Step::SlowFsync(ms) => world.slow_next_fsync(*ms),
            Step::SlowFsyncOn(ms, server) => world.slow_next_fsync_on(*server, *ms),
            Step::Restart => {
                for server in 0..world.server_count() {
                    world.restart_server(server);
                }
            }
            Step::RestartServer(server) => world.restart_server(*server),
            Step::CrashServer(server, point, mode) => {
                let server = resolve(world, *server)?;
                match point {
                    None => world.crash_server_now(server, *mode),
                    Some(point) => world.arm_crash_on(server, *point, *mode),
                }
            }
            Step::Partition(groups, one_way) => {
                let groups = resolve_groups(world, groups)?;
                world.partition(&groups, *one_way);
            }
            Step::Heal => world.unpartition(),
            Step::ClientOn(client, server) => {
                let server = resolve(world, *server)?;
                world.move_client(*client, server);
            }
            Step::WaitForLeader { all, within } => {
                let (all, started) = (*all, world.now());
                let who = if all { "every server" } else { "a quorum" };
                if !run_while(world, |w| w.leader().is_some() && w.serving_quorum(all)) {
                    return Err(format!("no leader with {who} serving"));
                }
                let took = world.now() - started;
                if let Some(bound) = within.filter(|bound| took > *bound) {
                    return Err(format!("a leader with {who} serving took {took} ms, more than {bound} ms"));
                }
                self.elections_at_leader = world.elections_started();
            }
            Step::ExpectNoElection => {
                let started = world.elections_started() - self.elections_at_leader;
                if started > 0 {
                    return Err(format!("{started} election(s) started since the last `wait for leader|all`"));
                }
            }
            Step::StepWallClock(server, delta_ms) => {
                let server = resolve(world, *server)?;
                world.step_wall_clock(server, *delta_ms);
            }
            Step::CreateMany { client, prefix, count, flags } => {
                self.create_many(world, *client, prefix, *count, *flags)?
            }
            Step::ExpectLeader(server) => {
                if world.leader() != Some(*server) {
                    let got = world.leader().map(|l| l + 1);
                    return Err(format!("expected leader {}, got {got:?}", server + 1));
                }
            }
            Step::Wait(ms) => {
                world.run_until(world.now() + ms);
            }
            Step::WaitUntil(parts) => {
                let found = run_while_stepping(world, |w, mark| {
                    w.trace_lines_since(mark).iter().any(|line| holds_in_order(line, parts))
                });
                if !found {
                    return Err(format!("no event printed {:?} within {STEP_WAIT_MS_MAX} ms", parts.join(" * ")));
                }
            }
            Step::Config(option, value) => world.configure_servers(*option, *value),
            Step::Expect(client, expectation) => self.expect(world, *client, expectation)?,
        }
        Ok(())
    }

    /// `cN create-many`: every create pipelined, then a wait for the last reply.
    fn create_many(
        &mut self,
        world: &mut World,
        client: usize,
        prefix: &str,
        count: usize,
        flags: i32,
    ) -> Result<(), String> {
        if !run_while(world, |w| w.client_connected(client)) {
            return Err(format!("c{} never connected", client + 1));
        }
        for index in 0..count {
            let path = format!("{prefix}{index:04}");
            let request = Request::Create(CreateRequest { path, data: Vec::new(), acl: Acl::open_unsafe(), flags });
            let op = world.history().ops.len();
            if !world.submit(client, request, OpKind::Plain) {
                return Err(format!("c{} lost its connection at create {index}", client + 1));
            }
            self.last_op[client] = Some(op);
        }
        let op = self.last_op[client].expect("count is at least 1");
        run_while(world, |w| w.history().ops[op].completion.is_some() || !w.client(client).awaits(op));
        Ok(())
    }

    fn expect(&self, world: &mut World, client: usize, expectation: &Expectation) -> Result<(), String> {
        let name = format!("c{}", client + 1);
        self.check(world, client, &name, expectation)
    }

    fn check(&self, world: &mut World, client: usize, name: &str, expectation: &Expectation) -> Result<(), String> {
        if let Expectation::Event(kind, path) = expectation {
            return wait_for_event(world, client, kind, path)
                .map_err(|seen| format!("{name} saw events {seen:?}, not {kind} {path}"));
        }
        if *expectation == Expectation::NoEvents {
            let events = world.client_mut(client).take_events();
            return if events.is_empty() { Ok(()) } else { Err(format!("{name} got events {events:?}")) };
        }
        if *expectation == Expectation::SessionExpired {
            let expired = |w: &World| {
                w.history()
                    .of_client(client)
                    .any(|(_, _, _, o)| matches!(o, crate::history::Observation::SessionExpired { .. }))
            };
            return if run_while(world, expired) {
                Ok(())
            } else {
                Err(format!("{name} never saw its session expire"))
            };
        }
        if *expectation == Expectation::SessionAlive {
            let expired = world
                .history()
                .of_client(client)
                .any(|(_, _, _, o)| matches!(o, crate::history::Observation::SessionExpired { .. }));
            return if expired { Err(format!("{name} saw its session expire")) } else { Ok(()) };
        }
        let op = self.last_op[client].ok_or(format!("{name} has no operation to check"))?;
        let completion = world.history().ops[op].completion.clone();
        let got = match &completion {
            None => "no reply (lost)".to_string(),
            Some(c) => format!("{:?}{}", c.err, crate::world::describe_response(&c.response)),
        };
        let ok = match (expectation, &completion) {
            (Expectation::Lost, None) => true,
            (Expectation::Code(code), Some(c)) => c.err == *code,
            (Expectation::Data(data), Some(c)) => {
                matches!(&c.response, Response::GetData { data: got, .. } if *got == data_of(data))
            }
            (Expectation::Version(v), Some(c)) => match &c.response {
                Response::GetData { stat, .. } | Response::Stat(stat) => stat.version == *v,
                _ => false,
            },
            (Expectation::Created(path), Some(c)) => {
                matches!(&c.response, Response::Create(got) | Response::Create2 { path: got, .. } if got == path)
            }
            (Expectation::Children(names), Some(c)) => match &c.response {
                Response::Children2 { children, .. } | Response::Children(children) => {
                    let mut sorted = children.clone();
                    sorted.sort();
                    sorted == *names
                }
                _ => false,
            },
            _ => false,
        };
        if ok {
            Ok(())
        } else {
            Err(format!("expected {name} {expectation:?}, got {got}"))
        }
    }
}

/// The server a reference names now.
fn resolve(world: &World, server: ServerRef) -> Result<usize, String> {
    match server {
        ServerRef::Number(n) => Ok(n),
        ServerRef::Leader => world.leader().ok_or("there is no established leader".into()),
        ServerRef::Follower => {
            let leader = world.leader();
            (0..world.server_count())
                .find(|&i| Some(i) != leader && world.node_of(i).is_some_and(|n| n.is_serving()))
                .ok_or("there is no serving follower".into())
        }
        ServerRef::Rest => Err("`rest` only names servers in a partition".into()),
    }
}

/// The groups of a partition line, `rest` expanded to every server not named.
fn resolve_groups(world: &World, groups: &[Vec<ServerRef>]) -> Result<Vec<Vec<usize>>, String> {
    let mut named = Vec::new();
    for server in groups.iter().flatten().filter(|s| **s != ServerRef::Rest) {
        named.push(resolve(world, *server)?);
    }
    let mut resolved = Vec::new();
    for group in groups {
        let mut members = Vec::new();
        for server in group {
            match server {
                ServerRef::Rest => members.extend((0..world.server_count()).filter(|i| !named.contains(i))),
                other => members.push(resolve(world, *other)?),
            }
        }
        resolved.push(members);
    }
    Ok(resolved)
}

/// Waits for client `client` to receive `kind` on `path`; `Err` lists what it got instead.
fn wait_for_event(world: &mut World, client: usize, kind: &str, path: &str) -> Result<(), Vec<String>> {
    let mut seen = Vec::new();
    let deadline = world.now() + STEP_WAIT_MS_MAX;
    loop {
        for event in world.client_mut(client).take_events() {
            seen.push(format!("{} {}", event_name(event.event_type), event.path));
        }
        if seen.iter().any(|e| *e == format!("{kind} {path}")) {
            return Ok(());
        }
        if world.now() > deadline || !world.step() {
            return Err(seen);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_story_and_names_the_bad_line() {
        let script = parse(
            "scenario: a story\nclients 2\nc1 create /a x ephemeral # why\n\ncrash tearing after fsync\nexpect c2 NoNode\nwait 2s\n",
        )
        .unwrap();
        assert_eq!(script.title, "a story");
        assert_eq!(script.clients, 2);
        assert_eq!(script.steps.len(), 4);
        assert_eq!(script.steps[1], (5, Step::Crash(Some(CrashPoint::AfterFsync), Some(CrashMode::TearTail))));
        assert_eq!(script.steps[2], (6, Step::Expect(1, Expectation::Code(ErrorCode::NoNode))));
        assert_eq!(script.steps[3], (7, Step::Wait(2000)));
        let Step::Op { request: Request::Create(create), .. } = &script.steps[0].1 else { panic!("not a create") };
        assert_eq!((create.path.as_str(), create.flags, create.data.as_slice()), ("/a", 1, &b"x"[..]));
        assert_eq!(
            parse("scenario: x\nclients 1\nc2 get /a").unwrap_err(),
            "line 3: client c2 does not exist (clients are c1..c1): `c2 get /a`"
        );
        assert_eq!(parse("clients 1").unwrap_err(), "the first line must be `scenario: TITLE`");
    }

    #[test]
    fn parses_the_clock_buffer_and_bulk_commands() {
        let script = parse(
            "scenario: e\nclients 1\nservers 3\nconfig max-buffer 4096\nwall-clock leader +1h\n\
             wall-clock 2 -30s\nc1 create /big bytes:3\nc1 create-many /e- 40 ephemeral\nexpect no election\n\
             expect c1 session alive\n",
        )
        .unwrap();
        let steps: Vec<Step> = script.steps.into_iter().map(|(_, step)| step).collect();
        let big = CreateRequest { path: "/big".into(), data: b"xxx".to_vec(), acl: Acl::open_unsafe(), flags: 0 };
        assert_eq!(
            steps,
            vec![
                Step::Config(ServerOption::MaxBuffer, 4096),
                Step::StepWallClock(ServerRef::Leader, 3_600_000),
                Step::StepWallClock(ServerRef::Number(1), -30_000),
                Step::Op { client: 0, request: Request::Create(big), kind: OpKind::Plain, wait: true },
                Step::CreateMany { client: 0, prefix: "/e-".into(), count: 40, flags: 1 },
                Step::ExpectNoElection,
                Step::Expect(0, Expectation::SessionAlive),
            ]
        );
        assert!(parse("scenario: e\nclients 1\nwall-clock 1 1h").unwrap_err().contains("not a clock step"));
        assert!(parse("scenario: e\nclients 1\nc1 create-many /e 0").unwrap_err().contains("not a count"));
    }

    #[test]
    fn parses_the_ensemble_commands() {
        let script = parse(
            "scenario: e\nclients 1\nservers 3\nwait for leader\nexpect leader 3\npartition leader | rest\n\
             partition 3 -> 1 2\nheal\nclient c1 on follower\ncrash 2 keeping-epochs-only before current epoch fsync\n\
             restart 2\nslow fsync 2s on 1\nwait for all within 1500ms\n",
        )
        .unwrap();
        assert_eq!(script.servers, 3);
        let steps: Vec<Step> = script.steps.into_iter().map(|(_, step)| step).collect();
        assert_eq!(
            steps,
            vec![
                Step::WaitForLeader { all: false, within: None },
                Step::ExpectLeader(2),
                Step::Partition(vec![vec![ServerRef::Leader], vec![ServerRef::Rest]], false),
                Step::Partition(
                    vec![vec![ServerRef::Number(2)], vec![ServerRef::Number(0), ServerRef::Number(1)]],
                    true
                ),
                Step::Heal,
                Step::ClientOn(0, ServerRef::Follower),
                Step::CrashServer(
                    ServerRef::Number(1),
                    Some(CrashPoint::BeforeCurrentEpochFsync),
                    Some(CrashMode::KeepEpochFilesOnly)
                ),
                Step::RestartServer(1),
                Step::SlowFsyncOn(2000, 0),
                Step::WaitForLeader { all: true, within: Some(1500) },
            ]
        );
        assert_eq!(parse("scenario: e\nclients 1\nservers 4").unwrap_err(), "line 3: `servers N` takes 1, 3 or 5");
        let script = parse(
            "scenario: e\nclients 1\nservers 3\nconfig commit-log-count 2\nconfig peer-reset-percent 0\n\
             config zxid-counter-start 0xfffffff0\nconfig zxid-counter-start 7\n\
             wait until n0 <- n2 * Ack { zxid\n",
        )
        .unwrap();
        let steps: Vec<Step> = script.steps.into_iter().map(|(_, step)| step).collect();
        assert_eq!(
            steps,
            vec![
                Step::Config(ServerOption::CommitLogCount, 2),
                Step::Config(ServerOption::PeerResetPercent, 0),
                Step::Config(ServerOption::ZxidCounterStart, 0xffff_fff0),
                Step::Config(ServerOption::ZxidCounterStart, 7),
                Step::WaitUntil(vec!["n0 <- n2".into(), "Ack { zxid".into()]),
            ]
        );
        assert_eq!(
            parse("scenario: e\nclients 1\nservers 3\nheal\nconfig snap-count 1").unwrap_err(),
            "line 5: `config` comes before the story"
        );
        assert_eq!(
            parse("scenario: e\nclients 1\nservers 3\nconfig zxid-counter-start 0x100000000").unwrap_err(),
            "line 4: `0x100000000` is not a zxid counter (decimal or 0x hex, below 2^32): \
             `config zxid-counter-start 0x100000000`"
        );
        assert!(holds_in_order("n2 <- n0 Ack { zxid: 1 }", &["n2 <- n".into(), "Ack {".into()]));
        assert!(!holds_in_order("Ack { n2 <- n0", &["n2 <- n".into(), "Ack {".into()]));
        assert_eq!(
            parse("scenario: e\nclients 1\nservers 3\nrestart 7").unwrap_err(),
            "line 4: `7` is not a server (1..=3, leader, follower): `restart 7`"
        );
    }
}
