//! Hooks for the scenario DSL ([`crate::script`]): reading the trace as it grows, so a story
//! can wait for one precise event (`wait until ...`) and strike right after it, and setting a
//! server option (`config ...`) before the story starts.
//!
//! Striking "right after an event" is how the regression scenarios for upstream bugs crash a
//! server between two specific outputs: the interpreter runs one event at a time, and the
//! step after `wait until` runs before any later event (an fsync completion, a message
//! arrival, a timer). Outputs of the matched event itself have all been executed, so a
//! write it issued is in the page cache and not yet synced.

use super::World;
use crate::script::ServerOption;
use zab_core::node::{Config, Node};

impl World {
    /// Trace lines recorded so far (a mark for [`World::trace_lines_since`]).
    pub fn trace_mark(&self) -> u64 {
        self.trace.lines()
    }

    /// The trace lines recorded after `mark`, oldest first, as far as the kept tail reaches
    /// (the last [`super::TRACE_TAIL_MAX`] lines).
    pub fn trace_lines_since(&self, mark: u64) -> Vec<&str> {
        let new = self.trace.lines().saturating_sub(mark) as usize;
        let kept: Vec<&String> = self.trace.tail().collect();
        let skip = kept.len().saturating_sub(new);
        kept.into_iter().skip(skip).map(String::as_str).collect()
    }

    /// Sets a server option on every server and rebuilds each node from its (still empty)
    /// disk, as if the servers had been started with it (or, for the peer reset chance,
    /// rebuilds the peer network). Only before anything is durable: the
    /// nodes of a fresh world have written nothing yet.
    pub fn configure_servers(&mut self, option: ServerOption, value: u64) {
        assert!(
            self.servers.iter().all(|s| s.disk.durable_zxid() == zab_core::Zxid::ZERO && s.disk.unsynced_writes() == 0),
            "servers are configured before the story writes anything"
        );
        self.trace(format!("config {option:?} = {value} on every server"));
        if option == ServerOption::PeerResetPercent {
            // The peer network reads it when built; nothing has been sent on a broken link yet.
            self.options.peer_reset_probability = value.min(100) as f64 / 100.0;
            self.peers = crate::peers::PeerNetwork::new(&self.options);
            return;
        }
        for server in 0..self.servers.len() {
            let s = &mut self.servers[server];
            set_option(&mut s.config, option, value);
            s.incarnation += 1;
            s.timer = None;
            let now = zab_core::Millis(s.clock.local(self.queue.now()));
            let node = Node::new(s.config.clone(), Default::default(), now, s.rng_node.next_u64());
            s.node = Some(node);
            self.after_node_input(server);
        }
    }
}

fn set_option(config: &mut Config, option: ServerOption, value: u64) {
    match option {
        ServerOption::SnapCount => config.snap_count = value.max(1),
        ServerOption::CommitLogCount => config.commit_log_count = value.max(1) as usize,
        ServerOption::ZxidCounterStart => {
            config.zxid_counter_start = u32::try_from(value).expect("the parser keeps counters below 2^32")
        }
        ServerOption::MaxBuffer => config.max_buffer = value as usize,
        ServerOption::PeerResetPercent => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trace_since_a_mark_holds_exactly_the_new_lines() {
        let mut world = World::scripted_ensemble(0, 1, 3, false);
        let mark = world.trace_mark();
        world.trace("first");
        world.trace("second");
        assert_eq!(world.trace_lines_since(mark), vec!["    0.000 first", "    0.000 second"]);
        assert_eq!(world.trace_lines_since(world.trace_mark()), Vec::<&str>::new());
    }

    #[test]
    fn configured_servers_are_rebuilt_with_the_option() {
        let mut world = World::scripted_ensemble(0, 1, 3, false);
        world.configure_servers(ServerOption::CommitLogCount, 2);
        world.configure_servers(ServerOption::SnapCount, 1);
        world.configure_servers(ServerOption::ZxidCounterStart, 0xffff_fff0);
        for server in &world.servers {
            assert_eq!((server.config.commit_log_count, server.config.snap_count), (2, 1));
            assert_eq!(server.config.zxid_counter_start, 0xffff_fff0);
            assert!(server.node.is_some());
        }
        assert!(world.run_until(5_000));
        assert!(world.leader().is_some(), "the rebuilt servers still elect a leader");
    }
}
