//! The named scenarios, for a standalone node and for ensembles: short stories in the DSL of
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
/// into [`catalogue`] and drop its seeds. Seeds beyond the default sweep (2000) document
/// where else the bug showed and are checked only by a sweep that reaches them. Fixed and
/// moved so far: ZOOKEEPER-1208 (seeds 1256, 2037, 2527, 2586, 3817); a FOLLOWERINFO dropped
/// before its leader leads (3364); a dropped follower's SYNC still answered (613, 3285);
/// ZOOKEEPER-4646 and 4643 (currentEpoch durable before the synced txns), ZOOKEEPER-2845 (a
/// txn logged before an election and held by the new leader never committed; a new leader's
/// sync waiting for (epoch, 0)); ZOOKEEPER-1675 (a cut-off leader's stale sync, seed 9406).
pub fn known_node_bugs() -> Vec<(Scenario, &'static [u64])> {
    Vec::new()
}

/// Swarm seeds that once failed, each with what it found. `cargo test` replays every one (most
/// lie outside the fixed sweep ranges), so a bug a fresh-seed sweep found stays found. A seed's
/// world is drawn from today's options: a seed whose story changed with the world may no
/// longer reach its bug, so each bug also has a test of its own, named here.
pub const REGRESSION_SEEDS: &[(u64, &str)] = &[(
    3_000_301,
    "3 servers; a learner took a second DIFF/TRUNC/SNAP in one sync while the first's \
     transactions were on their way to disk, and durable moved past logged \
     (check_invariants). The learner now leaves on a second one: \
     zab::learner::tests::one_diff_trunc_or_snap_per_sync",
)];

/// Every named scenario.
pub fn catalogue() -> Vec<Scenario> {
    let mut scenarios = story_catalogue();
    scenarios.extend(upstream_bugs());
    scenarios
}

/// Regression scenarios for upstream Apache ZooKeeper bugs (reliability-anchors.md §5), one
/// per JIRA, each named `zookeeper_NNNN_...`; those that fail today are in [`known_node_bugs`].
fn upstream_bugs() -> Vec<Scenario> {
    UPSTREAM_BUGS.to_vec()
}

/// The hand-written stories about one situation each.
fn story_catalogue() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "followerinfo_sent_before_the_leader_leads_is_held",
            text: "scenario: a FOLLOWERINFO that arrives while its leader is still in FLE's finalize wait is held until that server leads (as ZooKeeper's leader finds it in the socket), so the leader is established at once
                clients 1
                servers 3
                wait for leader
                client c1 on 3
                c1 create /a v1
                crash 1
                c1 set /a v2               # 2 and 3 are ahead of 1
                crash 3
                restart 1                  # 1 decides first, sends FOLLOWERINFO before 2 leads
                wait for leader within 2s  # not after a retry: the held FOLLOWERINFO is read
                expect leader 2",
        },
        Scenario {
            name: "leader_crash_recovery_is_bounded",
            text: "scenario: the leader crashes: the followers hear the reset at once, a new leader serves within 1 s, and the restarted server is back in service within 1 s
                clients 2
                servers 3
                wait for leader
                client c1 on follower
                c1 create /a v1
                crash leader
                wait for leader within 1s  # far below syncLimit (2.5 s): the reset, not a timeout
                c2 create /b v1
                expect c2 ok
                restart
                wait for all within 1s     # initLimit is 5 s
                c1 read /a
                expect c1 data v1",
        },
        Scenario {
            name: "isolated_leader_recovery_is_bounded",
            text: "scenario: a partition isolates the leader: the majority elects, and once healed the old leader, which stepped down, rejoins and serves within 1 s
                clients 2
                servers 3
                wait for leader
                expect leader 3
                client c1 on 1
                partition leader | rest
                wait 3s                    # the cut links break: 1 and 2 elect; 3 loses its quorum
                wait for leader within 1s
                expect leader 2
                c1 create /a v1
                expect c1 ok
                heal
                wait for all within 1s     # 3 gave up leading; its queued notification finds 2 at once
                client c2 on 3
                c2 read /a
                expect c2 data v1",
        },
        Scenario {
            name: "isolated_follower_recovery_is_bounded",
            text: "scenario: a partition isolates a follower: the rest keep serving without an election, and once healed the follower rejoins and serves within 1 s
                clients 2
                servers 3
                wait for leader
                expect leader 3
                client c1 on 3
                partition 1 | 2 3
                c1 create /a v1
                expect c1 ok               # the quorum of 2 and 3 goes on
                wait 3s
                expect leader 3
                heal
                wait for all within 1s     # its notification queued while cut goes out on the new link
                client c2 on 1
                c2 read /a
                expect c2 data v1",
        },
        Scenario {
            name: "dropped_follower_still_answers_sync_with_stale_data",
            text: "scenario: a leader drops a slow follower (no ACK within syncLimit) and closes its link: a read after sync never returns stale data
                clients 2
                servers 3
                wait for leader
                client c1 on 3
                client c2 on 1
                c1 create /a v1
                slow fsync 3s on 1         # server 1 acknowledges nothing for 3 s
                c1 set /a v2 &
                wait 2800ms                # past syncLimit (2.5 s): the leader drops server 1 and closes its link
                c1 set /a v3               # committed by 2 and 3 alone
                wait 400ms                 # server 1 heard the close at once: it elected, rejoined and resynced
                c2 read /a                 # sync + getData, through server 1 or the server c2 moved to
                expect c2 data v3          # never v1 or v2",
        },
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
        Scenario {
            name: "partition_2_1_isolated_follower_rejoins_by_diff",
            text: "scenario: partition 2-1: an isolated follower rejoins by DIFF and serves every write committed without it
                clients 2
                servers 3
                wait for leader
                expect leader 3            # FLE: equal zxids, the highest id wins
                client c1 on 3
                c1 create /a v1
                partition 1 | 2 3          # server 1 alone: it stops serving
                c1 set /a v2               # the majority commits without it
                c1 create /b x
                heal
                wait for all               # server 1 is synced (DIFF) and serves again
                client c2 on 1
                c2 get /a                  # a plain read, served by server 1 itself
                expect c2 data v2",
        },
        Scenario {
            name: "leader_crash_after_proposing_before_commit",
            text: "scenario: leader crash after proposing, before commit: the proposal survives everywhere or nowhere
                clients 2
                servers 3
                wait for leader
                client c1 on 3
                c1 create /a v1
                crash leader before fsync  # the leader dies right after logging its next proposal
                c1 set /a v2
                expect c1 lost
                wait for leader
                expect leader 2
                restart 3                  # the old leader rejoins: TRUNC or DIFF, never a fork
                wait for all
                client c2 on 3
                c2 get /a
                expect c2 data v1          # the proposal died with the leader's page cache",
        },
        Scenario {
            name: "follower_crash_between_synced_txns_and_current_epoch",
            text: "scenario: follower crash between logging the synced txns and writing currentEpoch (ZOOKEEPER-3911/4643/4646): no acknowledged write is lost
                clients 1
                servers 3
                wait for leader
                client c1 on 3
                c1 create /a v1
                crash 1
                c1 set /a v2               # committed by 2 and 3 while 1 is down
                crash 1 keeping before current epoch fsync  # 1 dies in its sync, right after writing currentEpoch
                restart 1
                wait 2s
                restart 1
                crash 2                    # now 1 and 3 form the only quorum
                wait for leader
                client c1 on 1
                c1 get /a
                expect c1 data v2",
        },
        Scenario {
            name: "ephemeral_leak_on_leader_halt",
            text: "scenario: ephemeral leak on leader halt: a new leader expires the sessions of the old one and their ephemerals
                clients 2
                servers 3
                wait for leader
                client c1 on 3
                c1 create /e x ephemeral
                c1 silent 30s              # c1 never comes back: its 4 s session must expire
                crash leader
                wait for leader
                expect leader 2
                wait 12s
                client c2 on 1
                c2 read /e
                expect c2 NoNode",
        },
        Scenario {
            name: "session_moves_to_another_server_and_keeps_its_watches",
            text: "scenario: a session moves to another server and keeps its watches (SetWatches with lastZxidSeen)
                clients 2
                servers 3
                wait for leader
                client c1 on 1
                client c2 on 3
                c2 create /w v1
                c1 get /w watch
                client c1 on 2             # its link to 1 is cut; it resumes the session on 2
                c1 exists /other
                c2 set /w v2
                expect c1 event NodeDataChanged /w",
        },
        Scenario {
            name: "isolated_leader_steps_down_and_its_write_is_not_committed",
            text: "scenario: isolate the leader: it steps down, the majority elects another, its uncommitted write never appears
                clients 2
                servers 3
                wait for leader
                client c1 on 3
                client c2 on 1
                c1 create /a v1
                partition leader | rest
                c1 set /a v2               # no quorum: never committed, the connection dies
                expect c1 lost
                wait for leader
                expect leader 2
                c2 read /a
                expect c2 data v1
                heal
                wait for all",
        },
        Scenario {
            name: "partition_3_2_minority_stops_serving_majority_commits",
            text: "scenario: partition 3-2 of five: the minority stops serving, the majority keeps committing, the minority catches up
                clients 2
                servers 5
                wait for leader
                expect leader 5
                client c1 on 5
                partition 4 5 | 1 2 3      # the leader is in the minority
                wait 5s                    # it steps down after syncLimit
                wait for leader
                expect leader 3
                client c2 on 1
                c2 create /m x
                heal
                wait for all
                client c1 on 5
                c1 get /m
                expect c1 data x",
        },
        Scenario {
            name: "one_way_partition_from_the_leader",
            text: "scenario: one-way partition: the leader's messages to a follower are cut; the follower leaves and comes back synced
                clients 2
                servers 3
                wait for leader
                client c1 on 3
                client c2 on 1
                partition 3 -> 1
                c1 create /a v1            # 2 and 3 still form a quorum
                heal
                wait for all
                client c2 on 1
                c2 get /a
                expect c2 data v1",
        },
        Scenario {
            name: "wall_clock_steps_expire_no_session_and_start_no_election",
            text: "scenario: a follower's wall clock steps an hour forward and the leader's an hour back, then the other way, under open sessions: no session expires and no election starts, because every timer runs on the monotonic clock
                clients 2
                servers 3
                wait for all
                client c1 on follower
                client c2 on leader
                c1 create /a v1
                wall-clock follower +1h    # a timer on this clock would see syncLimit long past
                wall-clock leader -1h      # and here its own proposals sent an hour ago
                slow fsync 1s on 1         # server 1 (c1's follower) acknowledges the next proposal late
                c2 create /b v1            # stamped with the leader's stepped clock; unacknowledged by 1 over a tick
                c1 set /a v2
                wait 10s                   # past syncLimit (2.5 s) and the session timeout (4 s)
                wall-clock follower -1h
                wall-clock leader +2h      # a session deadline on this clock would be long past
                c1 set /a v3
                wait 10s
                expect no election
                expect c1 session alive
                expect c2 session alive",
        },
        Scenario {
            name: "jute_maxbuffer_above_the_default_caps_the_quorum_codec_too",
            text: "scenario: jute.maxbuffer of 2 MB on every server: a 1.5 MB znode, accepted by the leader, reaches every follower (the quorum codec's caps follow jute.maxbuffer, not a constant 1 MiB)
                clients 2
                servers 3
                config max-buffer 2000000
                wait for all
                client c1 on leader
                client c2 on follower
                c1 create /big bytes:1500000
                expect c1 ok
                c1 set /big bytes:2000000  # the most the leader accepts
                expect c1 ok
                c2 read /big
                expect c2 data bytes:2000000
                expect no election",
        },
        Scenario {
            name: "jute_maxbuffer_below_the_default_still_takes_data_at_the_limit",
            text: "scenario: jute.maxbuffer of 4 KiB on every server: a znode of 4 KiB, as large as the leader accepts, reaches every follower though its transaction is larger than 4 KiB (ZooKeeper's extrasize slack)
                clients 2
                servers 3
                config max-buffer 4096
                wait for all
                client c1 on leader
                client c2 on follower
                c1 create /a-path-long-enough-to-matter-in-a-transaction-of-four-kibibytes bytes:4096
                expect c1 ok
                c2 read /a-path-long-enough-to-matter-in-a-transaction-of-four-kibibytes
                expect c2 data bytes:4096
                c2 create /b bytes:4097    # one byte over: refused by the leader, not by its followers
                expect c2 BadArguments
                expect no election",
        },
    ]
}

const UPSTREAM_BUGS: &[Scenario] = &[
    Scenario {
        name: "zookeeper_4646_current_epoch_written_before_synced_txns_are_durable",
        text: "scenario: ZOOKEEPER-4646: a follower writes currentEpoch before its synced txns are durable, then wins an election without them
                clients 1
                servers 3
                wait for leader
                client c1 on 3
                c1 create /a v1
                crash 1
                c1 set /a v2               # committed by 2 and 3, acknowledged
                crash 3                    # 2 alone: no quorum
                crash 1 keeping-epochs-only before current epoch fsync
                restart 1                  # 2 leads; 1 gets DIFF v2, writes currentEpoch at once, dies: v2 lost, epoch kept
                wait 15s
                restart 1
                crash 2
                restart 3                  # 1 (newer currentEpoch, older zxid) against 3 (v2)
                wait for leader
                client c1 on 1
                c1 get /a
                expect c1 data v2",
    },
    Scenario {
        name: "zookeeper_4643_current_epoch_durable_without_the_synced_txns",
        text: "scenario: ZOOKEEPER-4643: a follower's currentEpoch reaches disk but the synced txns before it do not; back up, it looks current in the new epoch and must not lead and TRUNC the server holding the committed txn
                clients 2
                servers 3
                wait for leader
                client c1 on 3
                c1 create /a v1
                crash 1
                c1 set /a v2               # committed by 2 and 3, acknowledged
                crash 2                    # 3 alone: no quorum
                crash 1 keeping-epochs-only before current epoch fsync  # the crash point: currentEpoch written, v2 not synced
                restart 1                  # 3 leads epoch 2; 1 gets DIFF v2 and NEWLEADER, dies keeping only currentEpoch
                wait until n0 CRASH
                restart 1                  # currentEpoch 2, log up to v1
                crash 3
                restart 2                  # currentEpoch 1, log up to v2: 1 looks newer to FLE
                wait for leader
                client c2 on 2
                c2 get /a                  # 2 must not have been TRUNCated below v2 (guards: acknowledged, committed_prefix)
                expect c2 data v2",
    },
    Scenario {
        name: "zookeeper_2845_logged_but_unapplied_txn_survives_reelection",
        text: "scenario: ZOOKEEPER-2845: a follower keeps its database through an election with a logged but uncommitted txn; the new leader's DIFF is empty, and a read after sync there must still see the txn the new epoch committed
                clients 2
                servers 3
                wait for leader
                client c1 on 3
                client c2 on 1
                c1 create /a v1
                c1 set /a v2 &
                wait until n2 <- n * Ack { zxid  # a quorum ACKed v2: the leader commits it and sends COMMIT
                crash 3                    # the COMMITs die with it: 1 and 2 hold v2 logged, unapplied
                wait for leader            # 2 leads with v2 in its history; 1 gets an empty DIFF
                client c2 on 1
                c2 read /a                 # sync + getData on 1 (guards: linearizable)
                expect c2 data v2",
    },
    Scenario {
        name: "zookeeper_1154_highest_zxid_server_rejoins_late_and_keeps_committed_data",
        text: "scenario: ZOOKEEPER-1154: the server holding the highest zxid misses the election, rejoins the new epoch, and its truncation cuts only the uncommitted tail
            clients 2
            servers 3
            wait for leader
            client c1 on 3
            client c2 on 1
            c1 create /a v1
            c1 create /b x             # committed everywhere: no truncation may reach it
            partition 3 | 1 2
            c1 set /a v2 &             # logged by 3 alone: the highest zxid, never committed
            wait 100ms                 # durable on 3 (its fsync takes a few ms)
            crash 3                    # absent while 1 and 2 elect
            wait for leader
            c2 set /a v3               # epoch 2
            heal
            restart 3                  # rejoins: TRUNC to v1's zxid, then DIFF v3 (guards: committed_prefix, replica_digests)
            wait for all
            client c2 on 3
            c2 get /b
            expect c2 data x",
    },
    Scenario {
        name: "zookeeper_2325_snap_synced_follower_crashes_before_its_snapshot_is_durable",
        text: "scenario: ZOOKEEPER-2325 (counterpart): a follower's only database is the SNAP it received; it crashes before that snapshot is durable while later records are written: it must never restart from an empty tree with a log that starts later
            clients 2
            servers 3
            config commit-log-count 1  # a follower two writes behind gets a SNAP
            wait for leader
            client c1 on 3
            c1 create /a v1
            crash 1
            c1 set /a v2
            c1 create /b x
            slow fsync 3s on 1         # its next write, the reset to the received snapshot, stays unsynced for 3 s
            restart 1                  # same epoch: nothing to write before the SNAP
            wait until n0 reset to snapshot
            c1 create /c y &           # proposed to 1 too: logged behind the unsynced snapshot
            wait until n0 persist token
            crash 1 keeping            # a prefix of the unsynced writes survives (guards: replica_digests, committed_prefix)
            restart 1
            wait for all
            client c2 on 1
            c2 get /b
            expect c2 data x",
    },
    Scenario {
        name: "zookeeper_2355_follower_misses_the_close_session_proposal",
        text: "scenario: ZOOKEEPER-2355: a follower loses its link to the leader while the closeSession PROPOSAL is in flight; after resyncing, the session's ephemeral is gone there too
            clients 2
            servers 3
            wait for leader
            client c1 on 3
            client c2 on 1
            c1 create /e x ephemeral
            c2 read /e
            expect c2 ok
            c1 close-session &
            wait until n2 <- c0 * closeSession  # the leader proposes the close in this event
            partition 3 -> 1           # the proposal to 1 is lost with the link (as a failed PROPOSAL read)
            wait 1s
            heal
            wait for all               # 1 is synced again (guards: ephemerals, replica_digests)
            client c2 on 1
            c2 exists /e
            expect c2 NoNode",
    },
    Scenario {
        name: "zookeeper_3642_leader_crashes_between_snap_and_newleader",
        text: "scenario: ZOOKEEPER-3642: the leader crashes after SNAP-syncing a follower, before NEWLEADER; a new leader DIFF-syncs it from the snapshot's zxid; after a restart the follower must still hold the snapshot's data
            clients 2
            servers 3
            config commit-log-count 1  # a follower two writes behind gets a SNAP
            wait for leader
            client c1 on 3
            c1 create /a v1
            crash 1
            c1 set /a v2
            c1 create /b x
            restart 1
            wait until n0 <- n2 snapshot database
            crash 3                    # NEWLEADER, sent right after, dies with the link
            wait for leader            # 1 and 2: DIFF from the snapshot's zxid, nothing to send
            client c1 on 2
            c1 create /c y             # 1 logs it after the snapshot
            crash 1
            restart 1                  # recovery: the snapshot, then /c (guards: replica_digests)
            wait for all
            client c2 on 1
            c2 get /b
            expect c2 data x",
    },
    Scenario {
        name: "zookeeper_4394_commit_between_newleader_and_uptodate",
        text: "scenario: ZOOKEEPER-4394: a syncing follower gets an outstanding PROPOSAL after NEWLEADER, then its COMMIT before UPTODATE; it must apply it and stay in the ensemble
            clients 2
            servers 3
            wait for leader
            client c1 on 3
            c1 create /a v1
            crash 1
            restart 1
            wait until n2 <- n0 FollowerInfo
            slow fsync 400ms on 2      # 2 acknowledges the next write late
            c1 set /a v2 &             # outstanding when 1 is synced
            wait until n0 <- n2 Diff
            slow fsync 1s on 1         # 1's NEWLEADER ACK waits a second: the COMMIT of v2 arrives first
            wait until n0 <- n2 Commit
            wait until n0 <- n2 UpToDate
            expect leader 3
            client c2 on 1
            c2 read /a                 # sync + getData on 1 (guards: linearizable)
            expect c2 data v2",
    },
    Scenario {
        name: "zookeeper_4685_proposal_ack_overtakes_newleader_ack",
        text: "scenario: ZOOKEEPER-4685: a syncing follower must send its NEWLEADER ACK before the ACK of a proposal that followed NEWLEADER, or the leader drops the ACK (Apache's leader even shuts down)
            clients 2
            servers 3
            wait for leader
            client c1 on 3
            c1 create /a v1
            crash 1
            slow fsync 2s on 2         # 2 acknowledges v2 only after 2 s (below syncLimit)
            c1 set /a v2 &             # outstanding: 1's ACK is needed to commit it sooner
            restart 1                  # synced: NEWLEADER, then the outstanding proposal
            wait until n2 <- n0 Ack
            wait 50ms
            expect leader 3            # no needless election
            client c2 on 3
            c2 get /a                  # a plain read on the leader, before 2's ACK could count
            expect c2 data v2",
    },
    Scenario {
        name: "zookeeper_4712_log_write_in_flight_outlives_the_following_role",
        text: "scenario: ZOOKEEPER-4712 (counterpart): a follower stops following while a log write is in flight (Apache's sync processor was not stopped); the write must land before the new leader's TRUNC, never after it
            clients 2
            servers 3
            wait for leader
            client c1 on 3             # c2 starts on 2
            c1 create /a v1
            partition 3 -> 2           # 2 will not see the next proposal
            slow fsync 1s on 3
            c1 set /a v2 &
            wait until n2 persist token
            slow fsync 3s on 1         # 1 logs v2 slowly
            wait until n0 persist token
            crash 3                    # v2 unsynced there: it lives only in 1's in-flight write
            heal                       # (a new partition does not restore links the old one cut)
            partition 1 | 2 3          # 1 goes LOOKING with its write in flight
            restart 3
            wait for leader            # 2 and 3, epoch 2, without v2
            c2 set /a v3
            heal
            wait for all               # 1: ACKEPOCH once v2 is durable, TRUNC after it, DIFF v3 (guards: committed_prefix on the disk, replica_digests)
            client c2 on 1
            c2 get /a
            expect c2 data v3",
    },
    Scenario {
        name: "zookeeper_4785_follower_bounced_before_its_sync_txns_are_durable",
        text: "scenario: ZOOKEEPER-4785: a follower is bounced after NEWLEADER with the outstanding proposal it received not yet durable; its ACK must not have counted, so no acknowledged write is lost
            clients 2
            servers 3
            wait for leader
            client c1 on 3
            c1 exists /a               # c1's session is committed everywhere
            crash 1
            slow fsync 2s on 2         # 2 holds /a unsynced for 2 s
            c1 create /a v2 &          # outstanding at the leader
            restart 1
            wait until n0 <- n2 Diff
            slow fsync 1s on 1         # 1's writes of currentEpoch and v2 take a second
            wait until n0 <- n2 NewLeader
            wait 300ms                 # an ACK sent before /a is durable would have committed it by now
            expect c1 lost
            crash 1                    # bounced: /a unsynced on 1
            crash 3
            crash 2                    # /a unsynced on 2 as well
            restart 1
            restart 2
            wait for leader
            c2 get /a                  # guards: linearizable, acknowledged
            expect c2 NoNode",
    },
    Scenario {
        name: "zookeeper_4925_stale_follower_leads_with_a_hole_in_its_history",
        text: "scenario: ZOOKEEPER-4925: a stale follower syncs by DIFF, later leads, and DIFF-syncs another stale server: its history must hold the txns it got in its own sync
            clients 2
            servers 5
            wait for leader
            client c1 on 5
            c1 create /a v1
            crash 1
            crash 2
            c1 create /b x             # W1: committed by 3, 4 and 5
            restart 1                  # DIFF-synced: W1 enters 1's history through the sync path
            wait for all
            crash 3
            c1 set /a v2               # W2: committed by 1, 4 and 5
            crash 4
            crash 5
            restart 2                  # stale: lacks W1 and W2
            restart 3                  # lacks W2
            wait for leader
            expect leader 1            # the only one with W2
            client c2 on 2
            c2 get /b
            expect c2 data x",
    },
    Scenario {
        name: "zookeeper_1675_stale_leader_serves_a_sync",
        text: "scenario: ZOOKEEPER-1675: an isolated leader still believes it leads while the majority elects another; a sync on it is never answered from its own state (ZooKeeper's is: sync is not a quorum operation there), so it never returns data older than a write the majority committed
            clients 2
            servers 3
            config peer-reset-percent 0  # broken links die silently: nobody hears of the partition, all wait out syncLimit
            wait for leader
            client c1 on follower
            client c2 on leader
            c1 create /a v1
            partition leader | rest
            wait 2400ms                # just under syncLimit (2.5 s): the old leader still believes it leads
            c2 read /a                 # sync + getData on it: the sync waits for a quorum to answer a PING sent after it
            expect c2 lost             # none can: it steps down at syncLimit and drops the connection, unanswered
            wait until UpToDate        # the majority's new leader is established (the old one has stepped down by then)
            c1 set /a v2
            expect c1 ok
            c2 read /a                 # c2's session moved when the old leader closed it (guards: linearizable)
            expect c2 data v2",
    },
    Scenario {
        name: "zookeeper_1277_zxid_counter_rollover_forces_a_new_epoch",
        text: "scenario: ZOOKEEPER-1277: the leader's zxid counter runs out; it gives up leading rather than let the counter wrap into the epoch bits, and the next epoch counts from 1 over every acknowledged write
            clients 2
            servers 3
            config zxid-counter-start 0xfffffff8  # the first leader's first proposal is 0x1fffffff9
            wait for leader
            client c1 on leader
            client c2 on follower
            c1 create /a v1            # 0x1fffffffb (the two sessions took ..f9 and ..fa)
            c2 create /b v1
            c1 set /a v2
            c2 set /b v2               # 0x1fffffffe: the last counter epoch 1 may use
            c1 set /a v3               # would take 0x1ffffffff: the leader gives up leading instead
            expect c1 lost             # its connection closes; nothing was proposed
            c2 set /b v3               # forwarded to a leader that is no more
            expect c2 lost             # the follower gives up on it within syncLimit
            wait for leader
            c1 set /a v4 &
            wait until c0 <- * zxid=0x200000001 Ok  # epoch 2's counter starts over
            expect c1 version 2        # v3 was never applied (guards: linearizable, acknowledged)
            c2 get /b
            expect c2 data v2",
    },
    Scenario {
        name: "zookeeper_4306_close_session_with_more_ephemerals_than_jute_maxbuffer_holds",
        text: "scenario: ZOOKEEPER-4306: a session owns ephemerals whose paths add up to four times jute.maxbuffer; its closeSession lists only what fits, so every follower can read it (also by DIFF after a restart), and every replica deletes them all
            clients 2
            servers 3
            config max-buffer 4096
            wait for all
            client c1 on leader
            client c2 on 2
            crash 3                    # it will catch up by DIFF: creates and closeSession as PROPOSALs
            c1 create-many /an-ephemeral-with-a-long-name- 400 ephemeral  # 400 x 38 bytes of paths
            c1 close-session
            expect c1 ok
            c2 children /
            expect c2 children zookeeper
            restart 3
            wait for all
            client c2 on 3
            c2 children /
            expect c2 children zookeeper
            expect no election",
    },
];
