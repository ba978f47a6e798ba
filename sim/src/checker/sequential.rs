//! Sequential znodes (ZooKeeper Programmer's Guide, "Sequence Nodes -- Unique Naming": the
//! counter appended "is unique to the parent znode", formatted %010d, and increases with every
//! create under that parent): per parent, names never repeat and the counter grows in zxid
//! order, also across crashes and restarts. The workload never deletes a sequential parent
//! (a re-created parent starts its counter again).

use super::Violation;
use crate::client::multi_applied;
use crate::history::History;
use std::collections::BTreeMap;
use zab_core::proto::{CreateRequest, MultiOp, MultiResult, Request, Response};
use zab_core::{ErrorCode, Zxid};

/// Whether a create mode number is sequential (2, 3, 6).
pub fn is_sequential(flags: i32) -> bool {
    matches!(flags, 2 | 3 | 6)
}

/// Checks every successful sequential create; returns violations and the number checked.
pub fn check(history: &History) -> (Vec<Violation>, usize) {
    let mut violations = Vec::new();
    let mut by_parent: BTreeMap<String, Vec<(Zxid, u64, String)>> = BTreeMap::new();
    for (id, op) in history.ops.iter().enumerate() {
        let Some(completion) = &op.completion else { continue };
        for (request, created) in sequential_creates(&op.request, completion.err, &completion.response) {
            let created = match created {
                Ok(path) => path.clone(),
                Err(other) => {
                    violations.push(violation(format!("op#{id} sequential create answered {other}")));
                    continue;
                }
            };
            let Some(counter) = parse_counter(&request.path, &created) else {
                violations.push(violation(format!("op#{id} asked {} and got {created}", request.path)));
                continue;
            };
            let parent = request.path.rsplit_once('/').map_or("/", |(p, _)| if p.is_empty() { "/" } else { p });
            by_parent.entry(parent.to_string()).or_default().push((completion.zxid, counter, created));
        }
    }
    let mut checked = 0;
    for (parent, mut creates) in by_parent {
        creates.sort();
        checked += creates.len();
        for pair in creates.windows(2) {
            let ((zxid_a, counter_a, name_a), (zxid_b, counter_b, name_b)) = (&pair[0], &pair[1]);
            if counter_b <= counter_a {
                violations.push(violation(format!(
                    "under {parent}: {name_a} (zxid {zxid_a}) then {name_b} (zxid {zxid_b}): counter did not increase"
                )));
            }
        }
    }
    (violations, checked)
}

/// The successful sequential creates of a reply: a create, or the creates of an applied
/// multi (all under its one zxid, in sub-op order). `Err` describes an answer that names no
/// path.
fn sequential_creates<'a>(
    request: &'a Request,
    err: ErrorCode,
    response: &'a Response,
) -> Vec<(&'a CreateRequest, Result<&'a String, String>)> {
    if err != ErrorCode::Ok {
        return Vec::new();
    }
    match (request, response) {
        (Request::Create(r) | Request::Create2(r), Response::Create(path) | Response::Create2 { path, .. }) => {
            vec![(r, Ok(path))]
        }
        (Request::Create(r) | Request::Create2(r), other) => vec![(r, Err(format!("{other:?}")))],
        (Request::Multi(ops), Response::Multi(results)) if multi_applied(results) => ops
            .iter()
            .zip(results)
            .filter_map(|(sub, result)| match (sub, result) {
                (MultiOp::Create { request, .. }, MultiResult::Create(path) | MultiResult::Create2 { path, .. }) => {
                    Some((request, Ok(path)))
                }
                (MultiOp::Create { request, .. }, other) => Some((request, Err(format!("{other:?}")))),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
    .into_iter()
    .filter(|(request, _)| is_sequential(request.flags))
    .collect()
}

/// The counter of `created`, which must be `requested` followed by exactly ten digits.
fn parse_counter(requested: &str, created: &str) -> Option<u64> {
    let suffix = created.strip_prefix(requested)?;
    (suffix.len() == 10 && suffix.bytes().all(|b| b.is_ascii_digit())).then(|| suffix.parse().ok())?
}

fn violation(message: String) -> Violation {
    Violation { checker: "sequential", message }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::OpKind;
    use zab_core::SessionId;

    fn create(history: &mut History, flags: i32, zxid: i64, created: &str) {
        let request = Request::Create(CreateRequest { path: "/q/s-".into(), flags, ..CreateRequest::default() });
        let op = history.invoke(0, 0, SessionId(1), request, OpKind::Plain);
        history.complete(0, op, Zxid(zxid), ErrorCode::Ok, Response::Create(created.into()));
    }

    #[test]
    fn counters_must_grow_with_zxid_and_have_ten_digits() {
        let mut history = History::default();
        create(&mut history, 2, 5, "/q/s-0000000001");
        create(&mut history, 3, 9, "/q/s-0000000004");
        create(&mut history, 0, 10, "/q/s-");
        assert_eq!(check(&history), (vec![], 2));
        create(&mut history, 2, 12, "/q/s-0000000004");
        create(&mut history, 2, 13, "/q/s-12");
        let (violations, _) = check(&history);
        let messages: Vec<&str> = violations.iter().map(|v| v.message.as_str()).collect();
        assert_eq!(
            messages,
            vec![
                "op#4 asked /q/s- and got /q/s-12",
                "under /q: /q/s-0000000004 (zxid 0x9) then /q/s-0000000004 (zxid 0xc): counter did not increase",
            ]
        );
    }
}
