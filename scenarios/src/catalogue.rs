//! The named scenarios for a standalone node: short stories in the DSL of
//! [`zab_sim::script`], each about one situation the swarm could hit only rarely.

/// A named scenario.
#[derive(Clone, Copy, Debug)]
pub struct Scenario {
    /// The name `--scenario` takes.
    pub name: &'static str,
    /// The story.
    pub text: &'static str,
}

impl Scenario {
    /// The title (the first line).
    pub fn title(&self) -> &'static str {
        self.text.lines().find_map(|l| l.trim().strip_prefix("scenario:")).map_or("", str::trim)
    }
}

/// Scenarios that reproduce known, not yet fixed bugs of the Node, each with the swarm seeds
/// that found it. They fail today. When the Node is fixed the tests say so: move the scenario
/// into [`catalogue`] and drop its seeds. (ZOOKEEPER-1208, found by seeds 1256, 2037, 2527,
/// 2586, 3817, was fixed in the Node and its scenario moved.)
pub fn known_node_bugs() -> Vec<(Scenario, &'static [u64])> {
    Vec::new()
}

/// Every named scenario.
pub fn catalogue() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "crash_between_fsync_and_reply",
            text: "scenario: crash between fsync and reply: the write survives, its reply is lost
                clients 2
                c1 create /a v1
                crash after fsync          # the record is durable, the node dies before answering
                c1 set /a v2
                expect c1 lost
                restart
                c2 read /a                 # sync + getData
                expect c2 data v2
                expect c2 version 1",
        },
        Scenario {
            name: "crash_before_fsync_loses_the_unacknowledged_write",
            text: "scenario: crash before fsync: the unacknowledged write is gone, the acknowledged one stays
                clients 2
                c1 create /a v1
                crash before fsync
                c1 set /a v2
                expect c1 lost
                restart
                c2 read /a
                expect c2 data v1
                expect c2 version 0",
        },
        Scenario {
            name: "torn_log_tail",
            text: "scenario: torn log tail: recovery drops the torn record and keeps every acknowledged write
                clients 2
                c1 create /a v1
                slow fsync 2s              # the next write sits unsynced long enough to be torn
                crash tearing before fsync
                c1 create /b v2
                expect c1 lost
                restart
                c2 read /a
                expect c2 data v1
                c2 read /b
                expect c2 NoNode",
        },
        Scenario {
            name: "session_expiry_deletes_ephemerals_and_fires_watches",
            text: "scenario: session expiry deletes the session's ephemerals and fires the watchers
                clients 2
                c1 create /lock holder ephemeral
                c2 exists /lock watch
                expect c2 ok
                c1 silent 10s              # no pings: the 4 s session expires
                expect c2 event NodeDeleted /lock
                c2 exists /lock
                expect c2 NoNode
                wait 10s
                expect c1 session expired",
        },
        Scenario {
            name: "sequential_names_across_restart",
            text: "scenario: sequential names keep increasing across a crash and restart
                clients 1
                c1 create /q
                c1 create /q/s- a sequential
                expect c1 created /q/s-0000000000
                c1 create /q/s- b sequential
                crash
                restart
                c1 create /q/s- c sequential
                expect c1 created /q/s-0000000002",
        },
        Scenario {
            name: "container_removed_after_its_last_child",
            text: "scenario: a container is removed by the sweep once its last child is deleted
                clients 1
                c1 create /c container
                c1 create /c/x
                wait 3s                    # the sweep leaves a container with a child alone
                c1 exists /c
                expect c1 ok
                c1 delete /c/x
                wait 3s
                c1 exists /c
                expect c1 NoNode",
        },
        Scenario {
            name: "session_resumes_after_restart",
            text: "scenario: a client resumes its session after a node restart and keeps its ephemeral
                clients 2
                c1 create /e mine ephemeral
                crash
                restart
                c1 exists /e               # reconnects with its session id, password and last zxid
                expect c1 ok
                c2 get /e
                expect c2 data mine",
        },
        Scenario {
            name: "watch_reregistered_after_reconnect",
            text: "scenario: a watch set before a disconnect fires for a change made while disconnected
                clients 2
                c1 create /w v1
                c2 get /w watch
                c2 disconnect
                c1 set /w v2
                expect c2 event NodeDataChanged /w
                c2 get /w
                expect c2 data v2",
        },
        Scenario {
            name: "slow_fsync_keeps_replies_in_order",
            text: "scenario: a slow fsync delays a write, and the same session's pipelined read waits behind it
                clients 2
                c1 create /s v1
                slow fsync 1500ms          # less than the client's read timeout (2/3 of 4 s)
                c1 set /s v2 &             # pipelined: not awaited
                c1 read /s                 # queued behind the set on the same session
                expect c1 data v2
                c2 read /s
                expect c2 version 1",
        },
        Scenario {
            name: "close_session_deletes_ephemerals_at_once",
            text: "scenario: closing a session deletes its ephemerals before the close is answered
                clients 2
                c1 create /e1 x ephemeral
                c2 get /e1 watch
                c1 close-session
                expect c1 ok
                expect c2 event NodeDeleted /e1
                c2 exists /e1
                expect c2 NoNode",
        },
        Scenario {
            name: "conditional_writes_after_restart",
            text: "scenario: versions survive a restart, so conditional writes still judge correctly
                clients 1
                c1 create /v a
                c1 set /v b version 0
                crash
                restart
                c1 set /v c version 0
                expect c1 BadVersion
                c1 set /v c version 1
                expect c1 version 2",
        },
        Scenario {
            name: "zookeeper_1208_ephemeral_created_after_its_session_closed",
            text: "scenario: zookeeper_1208: a create queued behind its session's expiry fails, so no ephemeral outlives the session
                clients 2
                c1 create /a x
                slow fsync 8s              # the next write stays in flight for 8 s
                c1 set /a y &
                c1 get /a &                # a read waits behind the session's in-flight write
                c1 create /e z ephemeral & # and this write waits behind the read
                c1 pause 20s               # no pings: the 4 s session expires, its close is prepared first
                wait 15s
                c2 exists /e
                expect c2 NoNode           # the create failed: SESSIONEXPIRED for a closing session (found by the swarm)",
        },
    ]
}
