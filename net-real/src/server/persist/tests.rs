//! The persister on a simulated disk: tokens come back only after the fsync that covers them,
//! Appends waiting together share one fsync, and a failed fsync reports no token at all.

use super::*;
use crate::config::ServerConfig;
use crate::server::recover_node;
use crate::storage::MemDisk;
use zab_core::proto::{op, Acl, ConnectRequest, CreateRequest, Request, RequestHeader};
use zab_core::{ClientEvent, ConnectionId, Millis, Node, Output, Zxid};

const NOW: Millis = Millis(1_700_000_000_000);

fn config() -> ServerConfig {
    let mut config = ServerConfig::standalone_default();
    config.data_dir = "/zab".into();
    config.data_log_dir = "/zab".into();
    config.prealloc_size_kb = 4;
    config
}

/// A node on a fresh disk with one session; its handshake's transaction already durable.
fn node_with_session(disk: &MemDisk) -> (Node, Persister<MemDisk>) {
    let config = config();
    let recovered = recover_node(&config, disk, NOW).expect("fresh disk recovers");
    let mut persister = Persister::new(disk.clone(), config.storage_dirs(), recovered.log, None);
    let mut node = recovered.node;
    let connect = ConnectRequest::new_session(30_000);
    node.handle_client(NOW, ConnectionId(1), ClientEvent::Connect { request: connect, address: [127, 0, 0, 1].into() });
    let batches = persists(&mut node);
    for token in persister.commit_group(batches).expect("sync") {
        node.handle_persisted(NOW, token);
    }
    while node.poll_output().is_some() {}
    (node, persister)
}

/// Asks for `count` creates of `/n<i>` and returns the Persist outputs (one per request here).
fn create_nodes(node: &mut Node, count: i32) -> Vec<(Vec<Txn>, PersistToken)> {
    let mut batches = Vec::new();
    for i in 0..count {
        let create = CreateRequest { path: format!("/n{i}"), data: vec![], acl: Acl::open_unsafe(), flags: 0 };
        let header = RequestHeader { xid: i + 1, op: op::CREATE };
        node.handle_client(NOW, ConnectionId(1), ClientEvent::Request { header, request: Request::Create(create) });
        batches.extend(persists(node));
    }
    batches
}

fn persists(node: &mut Node) -> Vec<(Vec<Txn>, PersistToken)> {
    let mut batches = Vec::new();
    while let Some(output) = node.poll_output() {
        match output {
            Output::Persist { txns, token } => batches.push((txns, token)),
            other => panic!("no reply may leave before its persist: {other:?}"),
        }
    }
    batches
}

#[test]
fn appends_waiting_together_share_one_sync_and_survive_a_crash() {
    let disk = MemDisk::new();
    let (mut node, persister) = node_with_session(&disk);
    let batches = create_nodes(&mut node, 5);
    assert_eq!(batches.len(), 5, "the node hands over one batch per create");
    let tokens: Vec<PersistToken> = batches.iter().map(|(_, token)| *token).collect();
    let (commands_tx, commands) = mpsc::channel(16);
    let (events, mut events_rx) = mpsc::unbounded_channel();
    for (txns, token) in batches {
        commands_tx.try_send(PersistCommand::Append { txns, token }).expect("room");
    }
    let (answer, answered) = oneshot::channel();
    commands_tx.try_send(PersistCommand::Shutdown(answer)).expect("room");
    persister.run(commands, events);
    match events_rx.try_recv() {
        Ok(PersistEvent::Persisted(reported)) => assert_eq!(reported, tokens, "one group, in order"),
        other => panic!("expected one Persisted event, got {other:?}"),
    }
    assert!(events_rx.try_recv().is_err(), "nothing else reported");
    assert!(answered.blocking_recv().expect("answered").is_ok());
    for seed in 0..8 {
        let crashed = disk.fork();
        crashed.crash(seed);
        let recovered = recover_node(&config(), &crashed, NOW).expect("recovers after a crash");
        assert_eq!(recovered.node.tree().node_count(), 4 + 5, "seed {seed}: every acknowledged create survives");
    }
}

#[test]
fn a_failed_sync_reports_no_token_and_stops() {
    let disk = MemDisk::new();
    let (mut node, persister) = node_with_session(&disk);
    let batches = create_nodes(&mut node, 2);
    let (commands_tx, commands) = mpsc::channel(16);
    let (events, mut events_rx) = mpsc::unbounded_channel();
    for (txns, token) in batches {
        commands_tx.try_send(PersistCommand::Append { txns, token }).expect("room");
    }
    disk.fail_syncs(true);
    let running = std::thread::spawn(move || persister.run(commands, events));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let event = loop {
        match events_rx.try_recv() {
            Ok(event) => break event,
            Err(_) if std::time::Instant::now() < deadline => std::thread::sleep(std::time::Duration::from_millis(5)),
            Err(error) => panic!("no event from the persister: {error}"),
        }
    };
    match event {
        PersistEvent::Failed(error) => assert!(error.to_string().contains("fdatasync failed"), "{error}"),
        other => panic!("expected Failed, got {other:?}"),
    }
    std::thread::sleep(std::time::Duration::from_millis(20));
    let stopped = commands_tx.is_closed();
    drop(commands_tx);
    running.join().expect("persister thread");
    assert!(stopped, "the persister stops by itself after a failed sync");
    assert!(events_rx.try_recv().is_err(), "no token after a failed sync");
}

#[test]
fn commit_group_returns_tokens_only_when_synced() {
    let disk = MemDisk::new();
    let (mut node, mut persister) = node_with_session(&disk);
    let batches = create_nodes(&mut node, 3);
    disk.fail_syncs(true);
    assert!(persister.commit_group(batches).is_err());
    // The writes were never acknowledged: after a crash they may be gone, never half-applied.
    disk.crash(3);
    let recovered = recover_node(&config(), &disk, NOW).expect("a torn unsynced tail is repaired");
    let count = recovered.node.tree().node_count();
    assert!((4..=7).contains(&count), "a prefix of the creates at most: {count}");
}

#[test]
fn a_snapshot_rolls_the_log_and_recovery_starts_from_it() {
    let disk = MemDisk::new();
    let (mut node, mut persister) = node_with_session(&disk);
    let batches = create_nodes(&mut node, 3);
    for token in persister.commit_group(batches).expect("sync") {
        node.handle_persisted(NOW, token);
    }
    let snapshot = zab_core::Snapshot {
        zxid: node.last_zxid(),
        tree: node.tree().snapshot(),
        sessions: node.sessions().iter().collect(),
    };
    let path = persister.snapshot(&snapshot).expect("roll").expect("written");
    assert_eq!(path, std::path::PathBuf::from("/zab/version-2/snapshot.4"));
    disk.crash(1);
    let recovered = recover_node(&config(), &disk, NOW).expect("recovers");
    assert_eq!(recovered.node.last_zxid(), Zxid(4));
    assert_eq!(recovered.node.tree().node_count(), 7);
}

fn zxids(durable: &DurableState) -> Vec<i64> {
    durable.log.iter().map(|txn| txn.header.zxid.0).collect()
}

#[test]
fn ensemble_steps_execute_in_token_order_and_a_reload_sees_them() {
    let disk = MemDisk::new();
    let (mut node, persister) = node_with_session(&disk);
    let batches = create_nodes(&mut node, 5);
    let (commands_tx, commands) = mpsc::channel(16);
    let (events, mut events_rx) = mpsc::unbounded_channel();
    for (txns, token) in batches {
        commands_tx.try_send(PersistCommand::Append { txns, token }).expect("room");
    }
    let epoch = PersistCommand::Epoch { accepted: Some(Epoch(7)), current: None, token: PersistToken(100) };
    commands_tx.try_send(epoch).expect("room");
    commands_tx.try_send(PersistCommand::Truncate { after: Zxid(3), token: PersistToken(101) }).expect("room");
    let current = PersistCommand::Epoch { accepted: None, current: Some(Epoch(6)), token: PersistToken(102) };
    commands_tx.try_send(current).expect("room");
    commands_tx.try_send(PersistCommand::Reload).expect("room");
    let (answer, answered) = oneshot::channel();
    commands_tx.try_send(PersistCommand::Shutdown(answer)).expect("room");
    persister.run(commands, events);
    let mut reported = Vec::new();
    let reloaded = loop {
        match events_rx.try_recv().expect("an event") {
            PersistEvent::Persisted(tokens) => reported.extend(tokens.into_iter().map(|t| t.0)),
            PersistEvent::Reloaded(durable) => break durable,
            PersistEvent::Failed(error) => panic!("{error}"),
        }
    };
    assert_eq!(reported, vec![1, 2, 3, 4, 5, 100, 101, 102], "every token, in the order sent");
    assert_eq!(zxids(&reloaded), vec![1, 2, 3], "TRUNC kept the transactions up to zxid 3");
    assert_eq!((reloaded.epoch_accepted, reloaded.epoch_current), (Epoch(7), Epoch(6)));
    assert!(answered.blocking_recv().expect("answered").is_ok());
    // The recovered node holds the session and /n0, /n1 (zxids 2, 3), not /n2../n4.
    let recovered = recover_node(&config(), &disk, NOW).expect("recovers");
    assert_eq!(recovered.node.last_zxid(), Zxid(3));
    assert_eq!(recovered.node.epochs(), (Epoch(7), Epoch(6)));
    assert_eq!(recovered.node.tree().node_count(), 4 + 2);
}

#[test]
fn a_reset_replaces_the_log_by_the_snapshot_and_appending_continues_after_it() {
    let disk = MemDisk::new();
    let (mut node, mut persister) = node_with_session(&disk);
    let batches = create_nodes(&mut node, 3);
    persister.commit_group(batches).expect("sync");
    // A snapshot from "the leader": this tree at zxid 0x1_0000_0009, a history this log never had.
    let zxid = Zxid((1 << 32) | 9);
    let snapshot = Snapshot { zxid, tree: node.tree().snapshot(), sessions: Vec::new() };
    persister.reset(&snapshot).expect("reset");
    let (durable, _, _) = recover_durable(&disk, &config().storage_dirs(), config().log_options()).expect("recovers");
    assert_eq!(durable.snapshot.as_ref().map(|s| s.zxid), Some(zxid));
    assert!(durable.log.is_empty(), "the old log is gone: {:?}", zxids(&durable));
    let mut txn = node_txn(&mut node);
    txn.header.zxid = Zxid(zxid.0 + 1);
    persister.commit_group(vec![(vec![txn], PersistToken(9))]).expect("append after the snapshot");
    let durable = persister.reload().expect("reload");
    assert_eq!(zxids(&durable), vec![zxid.0 + 1]);
}

/// One more create's transaction.
fn node_txn(node: &mut Node) -> Txn {
    let create = CreateRequest { path: "/after".into(), data: vec![], acl: Acl::open_unsafe(), flags: 0 };
    let header = RequestHeader { xid: 99, op: op::CREATE };
    node.handle_client(NOW, ConnectionId(1), ClientEvent::Request { header, request: Request::Create(create) });
    persists(node).remove(0).0.remove(0)
}

#[test]
fn missing_epoch_files_are_taken_from_the_last_transaction_as_zookeeper_does() {
    let disk = MemDisk::new();
    let (mut node, mut persister) = node_with_session(&disk);
    let dirs = config().storage_dirs();
    let epochs = |disk: &MemDisk| {
        let (durable, _, _) = recover_durable(disk, &dirs, config().log_options()).expect("recovers");
        (durable.epoch_accepted, durable.epoch_current)
    };
    assert_eq!(epochs(&disk), (Epoch(0), Epoch(0)), "a standalone history of epoch 0");
    // A standalone counter that carried into the epoch bits (ZooKeeperServer adds 1 to 64 bits).
    let mut txn = node_txn(&mut node);
    txn.header.zxid = Zxid((2 << 32) | 1);
    persister.commit_group(vec![(vec![txn], PersistToken(9))]).expect("append");
    assert_eq!(epochs(&disk), (Epoch(2), Epoch(2)), "no epoch files: the last zxid's epoch");
    write_epoch(&disk, &dirs, EpochFile::Current, 5).expect("currentEpoch");
    assert_eq!(epochs(&disk), (Epoch(5), Epoch(5)), "acceptedEpoch defaults to currentEpoch");
    write_epoch(&disk, &dirs, EpochFile::Accepted, 6).expect("acceptedEpoch");
    assert_eq!(epochs(&disk), (Epoch(6), Epoch(5)), "the files win");
}
