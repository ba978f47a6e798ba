//! The node's own invariants after every input (STYLE.md rule 8, "assert inside, check
//! outside"): `Node::check_invariants` asserts the tree, the watch tables, the session
//! bindings and the persist pipeline. The simulator calls it after every input, so a broken
//! invariant is caught at the event that broke it, with the trace up to that event.

use super::Violation;
use std::panic::{catch_unwind, AssertUnwindSafe};
use zab_core::node::Node;

/// Runs the node's invariant checks; a failed assertion becomes a violation.
pub fn check(node: &Node) -> Result<(), Violation> {
    catch_unwind(AssertUnwindSafe(|| node.check_invariants())).map_err(|panic| {
        let message = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "non-string panic".into());
        Violation { checker: "node_invariants", message }
    })
}
