//! Linearizability of each znode used as a register (Herlihy & Wing 1990; ZooKeeper's
//! guarantees: writes are linearizable, and "sync + read" reads the latest write), checked per
//! path (P-compositionality, as Porcupine does) with a Wing–Gong–Lowe search.
//!
//! The register is the znode's presence, data and version. Operations: create (persistent),
//! delete and setData with or without an expected version, and getData after sync. An
//! operation without a reply may have taken effect or not; the search may place it anywhere
//! after its invocation, or nowhere. The search is bounded: a path that exhausts the budget is
//! counted as unknown, never reported as a violation.
//!
//! A `multi` is atomic (ZooKeeper Programmer's Guide, "Multi": all sub-ops succeed or none
//! takes effect). Projected on one path it is one operation: its sub-ops on that path run in
//! order at one point. If it was applied, each must produce exactly its result; if it failed,
//! the register is unchanged, and the sub-ops answered OK (rolled back) must succeed there,
//! the failing one must fail with its code, and those after it (RUNTIMEINCONSISTENCY) are
//! free. A multi without a reply may also have failed on another path: the search may then
//! leave it out. A `multiRead` after sync is its getData reads at one point. Projections are
//! a necessary condition (cross-path atomicity is not checked), so they never raise a false
//! violation.

use super::Violation;
use crate::client::multi_applied;
use crate::history::{History, Op, OpKind};
use std::collections::{BTreeMap, HashSet};
use zab_core::proto::{MultiOp, MultiReadOp, MultiReadResult, MultiResult, Request, Response};
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
    /// A multi's check of the version.
    Check(i32),
    Read,
}

/// What an operation does to one path: one input, or a multi's sub-ops on it in order.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Effect {
    Single(Input),
    Multi(Vec<Input>),
}

impl Effect {
    fn is_read(&self) -> bool {
        match self {
            Effect::Single(input) => *input == Input::Read,
            Effect::Multi(inputs) => inputs.iter().all(|input| *input == Input::Read),
        }
    }
}

/// What a multi's sub-op on the path is known to have done.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    /// Exactly this (an applied multi, or the failing sub-op of a failed one).
    Exactly(Output),
    /// Succeeded, then rolled back (a failed multi's OK result).
    Succeeded,
    /// Not run (RUNTIMEINCONSISTENCY after the failing sub-op).
    Free,
}

/// The observed outcome of an operation on one path.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Outcome {
    Single(Output),
    Multi {
        /// Whether the multi took effect (every sub-op succeeded).
        applied: bool,
        expects: Vec<Expect>,
    },
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
    input: Effect,
    output: Option<Outcome>,
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
        for (path, lin) in to_lin_ops(&mut interner, id, op) {
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

/// Translates one history operation into its projections on register paths; other
/// operations project on nothing.
fn to_lin_ops(interner: &mut Interner, id: usize, op: &Op) -> Vec<(String, LinOp)> {
    let completion = op.completion.as_ref();
    let returned = completion.map(|c| c.at);
    let lin = |input, output| LinOp { id, invoked: op.invoked, returned, input, output };
    match (&op.request, &op.kind) {
        (Request::Multi(subs), OpKind::Plain) => multi_projections(interner, subs, completion.map(|c| &c.response))
            .into_iter()
            .map(|(path, input, output)| (path, lin(input, output)))
            .collect(),
        (Request::MultiRead(subs), OpKind::ReadAfterSync) if completion.is_some() => {
            multi_read_projections(interner, subs, completion.map(|c| (c.err, &c.response)))
                .into_iter()
                .map(|(path, input, output)| (path, lin(input, output)))
                .collect()
        }
        _ => to_lin_op(interner, op).into_iter().map(|(path, input, output)| (path, lin(input, output))).collect(),
    }
}

type Projection = (String, Effect, Option<Outcome>);

/// One plain operation on a register path.
fn to_lin_op(interner: &mut Interner, op: &Op) -> Option<Projection> {
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
    Some((path.clone(), Effect::Single(input), output.map(Outcome::Single)))
}

/// A multi's sub-ops grouped by register path, with what its reply says of each. A multi
/// with any sub-op off the registers is left out: its other effects are not modelled.
fn multi_projections(interner: &mut Interner, subs: &[MultiOp], response: Option<&Response>) -> Vec<Projection> {
    let results = match response {
        Some(Response::Multi(results)) if results.len() == subs.len() => Some(results),
        Some(_) => return Vec::new(), // an error header: the request never ran
        None => None,
    };
    let applied = results.is_some_and(|results| multi_applied(results));
    let mut by_path: BTreeMap<String, (Vec<Input>, Vec<Expect>)> = BTreeMap::new();
    for (index, sub) in subs.iter().enumerate() {
        let (path, input) = match sub {
            MultiOp::Create { request, .. } if request.flags == 0 => {
                (&request.path, Input::Create(interner.id(&request.data)))
            }
            MultiOp::Delete(r) => (&r.path, Input::Delete(r.version)),
            MultiOp::SetData(r) => (&r.path, Input::SetData(interner.id(&r.data), r.version)),
            MultiOp::Check(r) => (&r.path, Input::Check(r.version)),
            _ => return Vec::new(),
        };
        if !is_register_path(path) {
            return Vec::new();
        }
        let expect = match results.map(|results| &results[index]) {
            None => Expect::Free,
            Some(MultiResult::Error(ErrorCode::Ok)) => Expect::Succeeded,
            Some(MultiResult::Error(ErrorCode::RuntimeInconsistency)) => Expect::Free,
            Some(MultiResult::Error(err)) => Expect::Exactly(Output::Failed(*err)),
            Some(MultiResult::SetData(stat)) => Expect::Exactly(Output::Written(stat.version)),
            Some(_) => Expect::Exactly(Output::Done),
        };
        let entry = by_path.entry(path.clone()).or_default();
        entry.0.push(input);
        entry.1.push(expect);
    }
    by_path
        .into_iter()
        .map(|(path, (inputs, expects))| {
            let outcome = results.map(|_| Outcome::Multi { applied, expects });
            (path, Effect::Multi(inputs), outcome)
        })
        .collect()
}

/// A multiRead's getData sub-ops on register paths, grouped by path. Each sub-op answers on
/// its own (a missing node fails only its read).
fn multi_read_projections(
    interner: &mut Interner,
    subs: &[MultiReadOp],
    reply: Option<(ErrorCode, &Response)>,
) -> Vec<Projection> {
    let Some((ErrorCode::Ok, Response::MultiRead(results))) = reply else { return Vec::new() };
    let mut by_path: BTreeMap<String, Vec<Expect>> = BTreeMap::new();
    for (sub, result) in subs.iter().zip(results) {
        let MultiReadOp::GetData(r) = sub else { continue };
        if !is_register_path(&r.path) {
            continue;
        }
        let output = match result {
            MultiReadResult::GetData { data, stat } => Output::Read(interner.id(data), stat.version),
            MultiReadResult::Error(err) => Output::Failed(*err),
            MultiReadResult::GetChildren(_) => continue,
        };
        by_path.entry(r.path.clone()).or_default().push(Expect::Exactly(output));
    }
    by_path
        .into_iter()
        .map(|(path, expects)| {
            let inputs = vec![Input::Read; expects.len()];
            (path, Effect::Multi(inputs), Some(Outcome::Multi { applied: true, expects }))
        })
        .collect()
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
    ops.retain(|op| op.output.is_some() || !op.input.is_read());
    ops
}

/// Applies an input to the register.
fn step(state: State, input: Input) -> (State, Output) {
    match (input, state) {
        (Input::Create(data), None) => (Some((data, 0)), Output::Done),
        (Input::Create(_), Some(_)) => (state, Output::Failed(ErrorCode::NodeExists)),
        (Input::Delete(_) | Input::SetData(..) | Input::Check(_) | Input::Read, None) => {
            (None, Output::Failed(ErrorCode::NoNode))
        }
        (Input::Check(expected), Some((_, version))) if expected == -1 || expected == version => (state, Output::Done),
        (Input::Check(_), Some(_)) => (state, Output::Failed(ErrorCode::BadVersion)),
        (Input::Delete(expected), Some((_, version))) if expected == -1 || expected == version => (None, Output::Done),
        (Input::SetData(data, expected), Some((_, version))) if expected == -1 || expected == version => {
            (Some((data, version + 1)), Output::Written(version + 1))
        }
        (Input::Delete(_) | Input::SetData(..), Some(_)) => (state, Output::Failed(ErrorCode::BadVersion)),
        (Input::Read, Some((data, version))) => (state, Output::Read(data, version)),
    }
}

/// What the model makes of an effect: the next state and, per (sub-)op, its output.
fn model(state: State, effect: &Effect) -> (State, Vec<Output>) {
    match effect {
        Effect::Single(input) => {
            let (next, output) = step(state, *input);
            (next, vec![output])
        }
        Effect::Multi(inputs) => {
            let mut scratch = state;
            let mut outputs = Vec::with_capacity(inputs.len());
            for input in inputs {
                let (next, output) = step(scratch, *input);
                scratch = next;
                outputs.push(output);
            }
            let failed = outputs.iter().any(|output| matches!(output, Output::Failed(_)));
            // A multi with a failing sub-op changes nothing, reads or not.
            (if failed { state } else { scratch }, outputs)
        }
    }
}

/// The state after `effect` placed at `state`, or `None` if the observed outcome rules that
/// placement out.
fn apply(state: State, effect: &Effect, observed: Option<&Outcome>) -> Option<State> {
    let (next, outputs) = model(state, effect);
    match observed {
        None => Some(next),
        Some(Outcome::Single(output)) => (outputs[0] == *output).then_some(next),
        Some(Outcome::Multi { applied, expects }) => {
            let fits = outputs.iter().zip(expects).all(|(output, expect)| match expect {
                Expect::Exactly(seen) => output == seen,
                Expect::Succeeded => !matches!(output, Output::Failed(_)),
                Expect::Free => true,
            });
            let failed_here = outputs.iter().any(|output| matches!(output, Output::Failed(_)));
            match (fits, applied) {
                (false, _) => None,
                // Applied: every sub-op on this path succeeded, so `next` is the new state.
                (true, true) => (!failed_here || effect.is_read()).then_some(next),
                // Failed (here or on another path): rolled back.
                (true, false) => Some(state),
            }
        }
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
            let Some(next) = apply(state, &op.input, op.output.as_ref()) else { continue };
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
            state = apply(state, &op.input, op.output.as_ref()).unwrap_or(state);
            placed.push(format!("op#{}", op.id));
        }
        let placed_set: std::collections::BTreeSet<usize> = self.deepest.iter().copied().collect();
        let stuck: Vec<String> = (0..self.ops.len())
            .filter(|i| !placed_set.contains(i) && self.ops[*i].returned.is_some())
            .take(4)
            .map(|i| {
                let op = &self.ops[i];
                let outputs = model(state, &op.input).1;
                match (&op.input, &op.output) {
                    (Effect::Single(input), Some(Outcome::Single(output))) => {
                        format!("op#{} {input:?} -> Some({output:?}) (model says {:?})", op.id, outputs[0])
                    }
                    (input, output) => format!("op#{} {input:?} -> {output:?} (model says {outputs:?})", op.id),
                }
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
    use zab_core::proto::PathWatchRequest;

    fn op(id: usize, invoked: u64, returned: Option<u64>, input: Input, output: Option<Output>) -> LinOp {
        LinOp { id, invoked, returned, input: Effect::Single(input), output: output.map(Outcome::Single) }
    }

    fn multi(id: usize, invoked: u64, returned: Option<u64>, inputs: Vec<Input>, outcome: Option<Outcome>) -> LinOp {
        LinOp { id, invoked, returned, input: Effect::Multi(inputs), output: outcome }
    }

    fn applied(expects: Vec<Output>) -> Option<Outcome> {
        Some(Outcome::Multi { applied: true, expects: expects.into_iter().map(Expect::Exactly).collect() })
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
        ops[OPS_PER_PATH_MAX - 1].output = Some(Outcome::Single(Output::Written(7)));
        let kept = cut(ops);
        assert_eq!(kept.len(), OPS_PER_PATH_MAX);
        assert_eq!(kept[OPS_PER_PATH_MAX - 1].output, None);
        assert_eq!(kept[OPS_PER_PATH_MAX - 1].returned, None);
    }

    #[test]
    fn an_applied_multi_takes_effect_at_one_point() {
        let set_then_check = vec![Input::SetData(data("b"), 0), Input::Check(1)];
        let ops = vec![
            op(0, 1, Some(2), Input::Create(data("a")), Some(Output::Done)),
            multi(1, 3, Some(6), set_then_check.clone(), applied(vec![Output::Written(1), Output::Done])),
            op(2, 4, Some(5), Input::Read, Some(Output::Read(data("a"), 0))),
            op(3, 7, Some(8), Input::Read, Some(Output::Read(data("b"), 1))),
        ];
        assert!(matches!(check_path(&ops), Verdict::Linearizable));
        // The check claims version 1 but the model's setData made it 1 only if it ran first:
        // a multi answered with a check result the register cannot give is caught.
        let wrong = vec![
            op(0, 1, Some(2), Input::Create(data("a")), Some(Output::Done)),
            multi(
                1,
                3,
                Some(6),
                vec![Input::Check(1), Input::SetData(data("b"), 0)],
                applied(vec![Output::Done, Output::Written(1)]),
            ),
        ];
        let Verdict::Violated(why) = check_path(&wrong) else { panic!("impossible multi accepted") };
        assert!(why.contains("cannot place: op#1 Multi([Check(1), SetData(98, 0)])"), "{why}");
    }

    #[test]
    fn a_failed_multi_changes_nothing_but_its_rolled_back_sub_ops_must_have_succeeded() {
        let failed = |expects| Some(Outcome::Multi { applied: false, expects });
        let rolled_back = multi(1, 3, Some(4), vec![Input::SetData(data("b"), 0)], failed(vec![Expect::Succeeded]));
        let ops = vec![
            op(0, 1, Some(2), Input::Create(data("a")), Some(Output::Done)),
            rolled_back.clone(),
            op(2, 5, Some(6), Input::Read, Some(Output::Read(data("a"), 0))),
        ];
        assert!(matches!(check_path(&ops), Verdict::Linearizable), "failed on another path: a no-op here");
        let applied_anyway = vec![
            op(0, 1, Some(2), Input::Create(data("a")), Some(Output::Done)),
            rolled_back.clone(),
            op(2, 5, Some(6), Input::Read, Some(Output::Read(data("b"), 1))),
        ];
        assert!(matches!(check_path(&applied_anyway), Verdict::Violated(_)), "a failed multi took effect");
        let could_not_succeed =
            vec![rolled_back, op(2, 5, Some(6), Input::Read, Some(Output::Failed(ErrorCode::NoNode)))];
        assert!(matches!(check_path(&could_not_succeed), Verdict::Violated(_)), "OK result on an absent node");
        let failing_here = multi(
            1,
            3,
            Some(4),
            vec![Input::Check(5), Input::Delete(-1)],
            failed(vec![Expect::Exactly(Output::Failed(ErrorCode::BadVersion)), Expect::Free]),
        );
        let ops = vec![op(0, 1, Some(2), Input::Create(data("a")), Some(Output::Done)), failing_here];
        assert!(matches!(check_path(&ops), Verdict::Linearizable));
    }

    #[test]
    fn a_multi_without_reply_happens_whole_or_not_at_all() {
        let unknown = multi(1, 3, None, vec![Input::SetData(data("b"), -1), Input::SetData(data("c"), -1)], None);
        let read = |id, value, version| op(id, 5, Some(6), Input::Read, Some(Output::Read(data(value), version)));
        let base = op(0, 1, Some(2), Input::Create(data("a")), Some(Output::Done));
        assert!(matches!(check_path(&[base.clone(), unknown.clone(), read(2, "c", 2)]), Verdict::Linearizable));
        assert!(matches!(check_path(&[base.clone(), unknown.clone(), read(2, "a", 0)]), Verdict::Linearizable));
        assert!(matches!(check_path(&[base, unknown, read(2, "b", 1)]), Verdict::Violated(_)), "half a multi seen");
    }

    #[test]
    fn history_multis_project_on_each_register_path() {
        use zab_core::proto::{CheckVersionRequest, SetDataRequest, Stat};
        let mut interner = Interner::default();
        let subs = vec![
            MultiOp::SetData(SetDataRequest { path: "/k0".into(), data: b"x".to_vec(), version: -1 }),
            MultiOp::Check(CheckVersionRequest { path: "/k1".into(), version: 3 }),
        ];
        let results = vec![MultiResult::Error(ErrorCode::Ok), MultiResult::Error(ErrorCode::BadVersion)];
        let projections = multi_projections(&mut interner, &subs, Some(&Response::Multi(results)));
        let failed = |expect| Some(Outcome::Multi { applied: false, expects: vec![expect] });
        assert_eq!(
            projections,
            vec![
                ("/k0".to_string(), Effect::Multi(vec![Input::SetData(0, -1)]), failed(Expect::Succeeded)),
                (
                    "/k1".to_string(),
                    Effect::Multi(vec![Input::Check(3)]),
                    failed(Expect::Exactly(Output::Failed(ErrorCode::BadVersion)))
                ),
            ]
        );
        let stat = Stat { version: 4, ..Stat::default() };
        let reads = vec![MultiReadOp::GetData(PathWatchRequest { path: "/k0".into(), watch: false })];
        let results = Response::MultiRead(vec![MultiReadResult::GetData { data: b"x".to_vec(), stat }]);
        assert_eq!(
            multi_read_projections(&mut interner, &reads, Some((ErrorCode::Ok, &results))),
            vec![("/k0".to_string(), Effect::Multi(vec![Input::Read]), applied(vec![Output::Read(0, 4)]))]
        );
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
