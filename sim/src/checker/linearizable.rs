//! Linearizability of each znode used as a register (Herlihy & Wing 1990; ZooKeeper's
//! guarantees: writes are linearizable, and "sync + read" reads the latest write), checked per
//! path (P-compositionality, as Porcupine does) with a Wing–Gong–Lowe search.
//!
//! The register is the znode's presence, data and version. Operations: create (persistent),
//! delete and setData with or without an expected version, and getData after sync. An
//! operation without a reply may have taken effect or not; the search may place it anywhere
//! after its invocation, or nowhere. The search is bounded: a path that exhausts the budget is
//! counted as unknown, never reported as a violation.

use super::Violation;
use crate::history::{History, Op, OpKind};
use std::collections::{BTreeMap, HashSet};
use zab_core::proto::{Request, Response};
use zab_core::ErrorCode;

/// Most operations judged per path; later ones are cut (see [`cut`]).
pub const OPS_PER_PATH_MAX: usize = 300;
/// Most search states visited per path before giving up with "unknown".
pub const STATES_PER_PATH_MAX: usize = 200_000;

/// Whether a path is one of the registers: `/k0`, `/k1`, ...
pub fn is_register_path(path: &str) -> bool {
    path.strip_prefix("/k").is_some_and(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()))
}

/// Data values are interned per history: the search copies states, never byte vectors.
type Data = u32;

/// The register: absent, or present with data and version.
type State = Option<(Data, i32)>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Input {
    Create(Data),
    Delete(i32),
    SetData(Data, i32),
    Read,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Output {
    Failed(ErrorCode),
    Done,
    /// setData's new version.
    Written(i32),
    /// getData's data and version.
    Read(Data, i32),
}

/// Interns data values.
#[derive(Default)]
struct Interner(BTreeMap<Vec<u8>, Data>);

impl Interner {
    fn id(&mut self, data: &[u8]) -> Data {
        let next = self.0.len() as Data;
        *self.0.entry(data.to_vec()).or_insert(next)
    }
}

#[derive(Clone, Debug)]
struct LinOp {
    id: usize,
    invoked: u64,
    /// `None`: no reply, the outcome is unknown.
    returned: Option<u64>,
    input: Input,
    output: Option<Output>,
}

/// The result of checking a whole history.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// What failed.
    pub violations: Vec<Violation>,
    /// Operations judged.
    pub ops: usize,
    /// Paths whose search ran out of budget.
    pub unknown_paths: usize,
}

/// Checks every register path of the history.
pub fn check(history: &History) -> Report {
    let mut by_path: BTreeMap<String, Vec<LinOp>> = BTreeMap::new();
    let mut interner = Interner::default();
    for (id, op) in history.ops.iter().enumerate() {
        if let Some((path, lin)) = to_lin_op(&mut interner, id, op) {
            by_path.entry(path).or_default().push(lin);
        }
    }
    let mut report = Report::default();
    for (path, ops) in by_path {
        let ops = cut(ops);
        report.ops += ops.len();
        match check_path(&ops) {
            Verdict::Linearizable => {}
            Verdict::Unknown => report.unknown_paths += 1,
            Verdict::Violated(why) => report.violations.push(Violation {
                checker: "linearizable",
                message: format!("history of {path} is not linearizable: {why}"),
            }),
        }
    }
    report
}

/// Translates one history operation on a register path; other operations return `None`.
fn to_lin_op(interner: &mut Interner, id: usize, op: &Op) -> Option<(String, LinOp)> {
    let (path, input) = match (&op.request, &op.kind) {
        (Request::Create(r) | Request::Create2(r), OpKind::Plain) if r.flags == 0 => {
            (&r.path, Input::Create(interner.id(&r.data)))
        }
        (Request::Delete(r), OpKind::Plain) => (&r.path, Input::Delete(r.version)),
        (Request::SetData(r), OpKind::Plain) => (&r.path, Input::SetData(interner.id(&r.data), r.version)),
        (Request::GetData(r), OpKind::ReadAfterSync) => (&r.path, Input::Read),
        _ => return None,
    };
    if !is_register_path(path) {
        return None;
    }
    let output = op.completion.as_ref().map(|c| match (c.err, &c.response) {
        (ErrorCode::Ok, Response::Stat(stat)) => Output::Written(stat.version),
        (ErrorCode::Ok, Response::GetData { data, stat }) => Output::Read(interner.id(data), stat.version),
        (ErrorCode::Ok, _) => Output::Done,
        (err, _) => Output::Failed(err),
    });
    if output.is_none() && input == Input::Read {
        return None; // a read without a reply constrains nothing
    }
    let returned = op.completion.as_ref().map(|c| c.at);
    Some((path.clone(), LinOp { id, invoked: op.invoked, returned, input, output }))
}

/// Keeps the first [`OPS_PER_PATH_MAX`] invocations. An operation that returned after the cut
/// loses its reply (becomes unknown): a later, cut operation may have been linearized before
/// it, so judging its reply without that operation could report a false violation.
fn cut(mut ops: Vec<LinOp>) -> Vec<LinOp> {
    ops.sort_by_key(|op| op.invoked);
    if ops.len() <= OPS_PER_PATH_MAX {
        return ops;
    }
    let boundary = ops[OPS_PER_PATH_MAX].invoked;
    ops.truncate(OPS_PER_PATH_MAX);
    for op in &mut ops {
        if op.returned.is_some_and(|at| at > boundary) {
            op.returned = None;
            op.output = None;
        }
    }
    ops.retain(|op| op.output.is_some() || op.input != Input::Read);
    ops
}

/// Applies an input to the register.
fn step(state: State, input: Input) -> (State, Output) {
    match (input, state) {
        (Input::Create(data), None) => (Some((data, 0)), Output::Done),
        (Input::Create(_), Some(_)) => (state, Output::Failed(ErrorCode::NodeExists)),
        (Input::Delete(_) | Input::SetData(..) | Input::Read, None) => (None, Output::Failed(ErrorCode::NoNode)),
        (Input::Delete(expected), Some((_, version))) if expected == -1 || expected == version => (None, Output::Done),
        (Input::SetData(data, expected), Some((_, version))) if expected == -1 || expected == version => {
            (Some((data, version + 1)), Output::Written(version + 1))
        }
        (Input::Delete(_) | Input::SetData(..), Some(_)) => (state, Output::Failed(ErrorCode::BadVersion)),
        (Input::Read, Some((data, version))) => (state, Output::Read(data, version)),
    }
}

enum Verdict {
    Linearizable,
    Violated(String),
    Unknown,
}

struct Search<'a> {
    ops: &'a [LinOp],
    linearized: Vec<u64>,
    /// Visited (linearized set, state) pairs. A hash set is fine here: it is only asked
    /// "contains?", never iterated, so its order cannot reach any output.
    seen: HashSet<(Vec<u64>, State)>,
    states: usize,
    /// The longest linearized prefix found, for the failure message.
    deepest: Vec<usize>,
    order: Vec<usize>,
    /// Completed operations by return position.
    by_return: Vec<usize>,
}

fn check_path(ops: &[LinOp]) -> Verdict {
    let mut search = Search {
        ops,
        linearized: vec![0; ops.len().div_ceil(64)],
        seen: HashSet::new(),
        states: 0,
        deepest: Vec::new(),
        order: Vec::new(),
        by_return: {
            let mut completed: Vec<usize> = (0..ops.len()).filter(|&i| ops[i].returned.is_some()).collect();
            completed.sort_by_key(|&i| ops[i].returned);
            completed
        },
    };
    match search.run(None) {
        Some(true) => Verdict::Linearizable,
        None => Verdict::Unknown,
        Some(false) => Verdict::Violated(search.explain()),
    }
}

impl Search<'_> {
    fn is_linearized(&self, index: usize) -> bool {
        self.linearized[index / 64] & (1 << (index % 64)) != 0
    }

    fn flip(&mut self, index: usize) {
        self.linearized[index / 64] ^= 1 << (index % 64);
    }

    /// Depth-first search: `Some(true)` if the remaining completed operations can be
    /// linearized from `state`, `Some(false)` if not, `None` when out of budget.
    fn run(&mut self, state: State) -> Option<bool> {
        // The earliest return among operations not yet placed: anything placed next must
        // have been invoked before it (real-time order).
        let pending = self.by_return.iter().copied().find(|&i| !self.is_linearized(i));
        let Some(horizon) = pending.and_then(|i| self.ops[i].returned) else { return Some(true) };
        if !self.seen.insert((self.linearized.clone(), state)) {
            return Some(false);
        }
        self.states += 1;
        if self.states > STATES_PER_PATH_MAX {
            return None;
        }
        for index in 0..self.ops.len() {
            let op = &self.ops[index];
            if op.invoked > horizon {
                break; // sorted by invocation
            }
            if self.is_linearized(index) {
                continue;
            }
            let (next, output) = step(state, op.input);
            if op.output.is_some_and(|seen| seen != output) {
                continue;
            }
            self.flip(index);
            self.order.push(index);
            if self.order.len() > self.deepest.len() {
                self.deepest = self.order.clone();
            }
            let result = self.run(next);
            self.order.pop();
            self.flip(index);
            if result != Some(false) {
                return result;
            }
        }
        Some(false)
    }

    /// Describes the longest partial linearization and the operations left stuck after it.
    fn explain(&self) -> String {
        let mut state: State = None;
        let mut placed = Vec::new();
        for &index in &self.deepest {
            let op = &self.ops[index];
            state = step(state, op.input).0;
            placed.push(format!("op#{}", op.id));
        }
        let placed_set: std::collections::BTreeSet<usize> = self.deepest.iter().copied().collect();
        let stuck: Vec<String> = (0..self.ops.len())
            .filter(|i| !placed_set.contains(i) && self.ops[*i].returned.is_some())
            .take(4)
            .map(|i| {
                let op = &self.ops[i];
                format!("op#{} {:?} -> {:?} (model says {:?})", op.id, op.input, op.output, step(state, op.input).1)
            })
            .collect();
        format!(
            "longest valid order places {} of {} ops [{}], register then {:?}; cannot place: {}",
            placed.len(),
            self.ops.len(),
            placed.join(" "),
            state,
            stuck.join("; ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(id: usize, invoked: u64, returned: Option<u64>, input: Input, output: Option<Output>) -> LinOp {
        LinOp { id, invoked, returned, input, output }
    }

    fn data(s: &str) -> Data {
        s.as_bytes()[0] as Data
    }

    #[test]
    fn concurrent_writes_may_be_read_in_either_order() {
        let ops = vec![
            op(0, 1, Some(2), Input::Create(data("a")), Some(Output::Done)),
            op(1, 3, Some(8), Input::SetData(data("b"), -1), Some(Output::Written(1))),
            op(2, 4, Some(9), Input::SetData(data("c"), 0), Some(Output::Failed(ErrorCode::BadVersion))),
            op(3, 5, Some(6), Input::Read, Some(Output::Read(data("a"), 0))),
            op(4, 10, Some(11), Input::Read, Some(Output::Read(data("b"), 1))),
        ];
        assert!(matches!(check_path(&ops), Verdict::Linearizable));
    }

    #[test]
    fn a_stale_read_after_a_completed_write_is_a_violation() {
        let ops = vec![
            op(0, 1, Some(2), Input::Create(data("a")), Some(Output::Done)),
            op(1, 3, Some(4), Input::SetData(data("b"), -1), Some(Output::Written(1))),
            op(2, 5, Some(6), Input::Read, Some(Output::Read(data("a"), 0))),
        ];
        let Verdict::Violated(why) = check_path(&ops) else { panic!("stale read accepted") };
        assert!(why.contains("cannot place: op#2 Read"), "{why}");
    }

    #[test]
    fn an_unknown_write_may_happen_late_or_never() {
        let lost = op(1, 3, None, Input::SetData(data("b"), -1), None);
        let late = vec![
            op(0, 1, Some(2), Input::Create(data("a")), Some(Output::Done)),
            lost.clone(),
            op(2, 5, Some(6), Input::Read, Some(Output::Read(data("a"), 0))),
            op(3, 7, Some(8), Input::Read, Some(Output::Read(data("b"), 1))),
        ];
        assert!(matches!(check_path(&late), Verdict::Linearizable));
        let never = vec![
            op(0, 1, Some(2), Input::Create(data("a")), Some(Output::Done)),
            lost,
            op(2, 9, Some(10), Input::Read, Some(Output::Read(data("a"), 0))),
        ];
        assert!(matches!(check_path(&never), Verdict::Linearizable));
        let invented = vec![
            op(0, 1, Some(2), Input::Create(data("a")), Some(Output::Done)),
            op(2, 9, Some(10), Input::Read, Some(Output::Read(data("z"), 1))),
        ];
        assert!(matches!(check_path(&invented), Verdict::Violated(_)));
    }

    #[test]
    fn a_lost_acknowledged_delete_is_caught() {
        let ops = vec![
            op(0, 1, Some(2), Input::Create(data("a")), Some(Output::Done)),
            op(1, 3, Some(4), Input::Delete(0), Some(Output::Done)),
            op(2, 5, Some(6), Input::Read, Some(Output::Read(data("a"), 0))),
        ];
        assert!(matches!(check_path(&ops), Verdict::Violated(_)));
    }

    #[test]
    fn the_cut_forgets_replies_that_came_after_it() {
        let mut ops: Vec<LinOp> = (0..OPS_PER_PATH_MAX + 5)
            .map(|i| op(i, i as u64 * 2, Some(i as u64 * 2 + 1), Input::SetData(data("x"), -1), None))
            .collect();
        ops[OPS_PER_PATH_MAX - 1].returned = Some(10_000);
        ops[OPS_PER_PATH_MAX - 1].output = Some(Output::Written(7));
        let kept = cut(ops);
        assert_eq!(kept.len(), OPS_PER_PATH_MAX);
        assert_eq!(kept[OPS_PER_PATH_MAX - 1].output, None);
        assert_eq!(kept[OPS_PER_PATH_MAX - 1].returned, None);
    }

    #[test]
    fn register_paths_are_k_and_digits() {
        assert!(is_register_path("/k0"));
        assert!(is_register_path("/k12"));
        assert!(!is_register_path("/k"));
        assert!(!is_register_path("/k1/x"));
        assert!(!is_register_path("/q"));
    }
}
