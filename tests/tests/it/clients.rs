//! The `zookeeper-client` crate (an independent async client with its own codec) against a
//! real server: every operation including multi, every watch kind, ephemerals gone after
//! session expiry, sequential/container/TTL nodes, digest ACLs and a chrooted connect string.
//!
//! Each scenario runs twice: `NAME::apache` against Apache ZooKeeper 3.8 (proving the test
//! right) and `NAME::zab` against the `zab server` binary.

use std::future::Future;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use zab_tests::server::{Flavor, Target, SUPER_PASSWORD};
use zab_tests::wire::WireClient;
use zookeeper_client as zk;

/// No scenario may take longer than this (the whole suite must stay well under two minutes).
const SCENARIO_TIMEOUT_MAX: Duration = Duration::from_secs(40);
/// How long to wait for a watch event that must come.
const EVENT_TIMEOUT_MAX: Duration = Duration::from_secs(10);

const OPEN: zk::CreateOptions<'static> = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());

zab_tests::against_both!(
    run: crud_and_errors,
    multi,
    oneshot_watches,
    persistent_watches,
    ephemerals_expire_with_session,
    sequential_container_ttl,
    digest_acl,
    chroot
);

/// Starts a server of `flavor`, runs `scenario` against its address on a tokio runtime and
/// stops the server (also when the scenario panics).
fn run<Fut: Future<Output = ()>>(flavor: Flavor, scenario: fn(SocketAddr) -> Fut) {
    let Some(server) = Target::start(flavor) else { return };
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    runtime.block_on(async {
        tokio::time::timeout(SCENARIO_TIMEOUT_MAX, scenario(server.address()))
            .await
            .unwrap_or_else(|_| panic!("scenario against {flavor:?} took longer than {SCENARIO_TIMEOUT_MAX:?}"))
    });
}

async fn connect(address: SocketAddr) -> zk::Client {
    zk::Client::connect(&address.to_string()).await.expect("connect")
}

/// Waits for the next event of a one-shot watcher, or panics naming what was awaited.
async fn next_oneshot(watcher: zk::OneshotWatcher, what: &str) -> (zk::EventType, String) {
    let event = tokio::time::timeout(EVENT_TIMEOUT_MAX, watcher.changed())
        .await
        .unwrap_or_else(|_| panic!("no event for {what} within {EVENT_TIMEOUT_MAX:?}"));
    (event.event_type, event.path)
}

/// Waits for the next event of a persistent watcher.
async fn next_persistent(watcher: &mut zk::PersistentWatcher, what: &str) -> (zk::EventType, String) {
    let event = tokio::time::timeout(EVENT_TIMEOUT_MAX, watcher.changed())
        .await
        .unwrap_or_else(|_| panic!("no event for {what} within {EVENT_TIMEOUT_MAX:?}"));
    (event.event_type, event.path)
}

/// Polls until `path` no longer exists; returns how long that took.
async fn wait_until_gone(client: &zk::Client, path: &str, timeout: Duration) -> Duration {
    let start = Instant::now();
    while client.check_stat(path).await.expect("exists").is_some() {
        assert!(start.elapsed() < timeout, "{path} still exists after {timeout:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    start.elapsed()
}

/// create, getData, exists, setData, getChildren(2), getAllChildrenNumber, getACL, setACL,
/// sync, delete, each with its success result and its documented errors.
async fn crud_and_errors(address: SocketAddr) {
    let client = connect(address).await;
    let (created, _) = client.create("/app", b"v0", &OPEN).await.expect("create /app");
    assert_eq!((created.version, created.cversion, created.aversion), (0, 0, 0));
    assert_eq!((created.data_length, created.num_children, created.ephemeral_owner), (2, 0, 0));
    assert_eq!(created.czxid, created.mzxid, "a new node's czxid and mzxid");
    assert_eq!(created.czxid, created.pzxid, "a new node's czxid and pzxid");
    assert_eq!(client.get_data("/app").await.expect("get /app"), (b"v0".to_vec(), created));
    assert_eq!(client.check_stat("/app").await.expect("exists /app"), Some(created));
    assert_eq!(client.check_stat("/missing").await.expect("exists /missing"), None);

    assert_eq!(client.create("/app", b"", &OPEN).await.unwrap_err(), zk::Error::NodeExists);
    assert_eq!(client.create("/missing/child", b"", &OPEN).await.unwrap_err(), zk::Error::NoNode);
    assert_eq!(client.get_data("/missing").await.unwrap_err(), zk::Error::NoNode);

    let set = client.set_data("/app", b"value-1", Some(0)).await.expect("set /app version 0");
    assert_eq!((set.version, set.data_length, set.czxid), (1, 7, created.czxid));
    assert!(set.mzxid > created.mzxid, "setData advances mzxid: {} then {}", created.mzxid, set.mzxid);
    assert_eq!(client.set_data("/app", b"x", Some(0)).await.unwrap_err(), zk::Error::BadVersion);
    assert_eq!(client.set_data("/missing", b"x", None).await.unwrap_err(), zk::Error::NoNode);

    for child in ["/app/b", "/app/a", "/app/c"] {
        client.create(child, b"", &OPEN).await.expect("create child");
    }
    client.create("/app/a/deep", b"", &OPEN).await.expect("create grandchild");
    let mut children = client.list_children("/app").await.expect("getChildren /app");
    children.sort();
    assert_eq!(children, ["a", "b", "c"]);
    let (_, parent) = client.get_children("/app").await.expect("getChildren2 /app");
    assert_eq!((parent.num_children, parent.cversion, parent.version), (3, 3, 1));
    assert_eq!(client.count_descendants_number("/app").await.expect("getAllChildrenNumber"), 4);
    assert_eq!(client.list_children("/missing").await.unwrap_err(), zk::Error::NoNode);

    let (acl, acl_stat) = client.get_acl("/app").await.expect("getACL /app");
    assert_eq!(acl, vec![zk::Acl::new(zk::Permission::ALL, zk::AuthId::anyone())]);
    assert_eq!(acl_stat.aversion, 0);
    let read_only = [zk::Acl::new(zk::Permission::READ, zk::AuthId::anyone())];
    assert_eq!(client.set_acl("/app/c", &read_only, Some(1)).await.unwrap_err(), zk::Error::BadVersion);
    let after = client.set_acl("/app/c", &read_only, Some(0)).await.expect("setACL /app/c");
    assert_eq!(after.aversion, 1);
    assert_eq!(client.set_data("/app/c", b"x", None).await.unwrap_err(), zk::Error::NoAuth);
    client.sync("/app").await.expect("sync /app");

    assert_eq!(client.delete("/app", None).await.unwrap_err(), zk::Error::NotEmpty);
    assert_eq!(client.delete("/app/b", Some(3)).await.unwrap_err(), zk::Error::BadVersion);
    client.delete("/app/b", Some(0)).await.expect("delete /app/b version 0");
    assert_eq!(client.delete("/app/b", None).await.unwrap_err(), zk::Error::NoNode);
    let (_, parent) = client.get_children("/app").await.expect("getChildren2 /app");
    assert_eq!((parent.num_children, parent.cversion), (2, 4), "a delete bumps the parent's cversion");
}

/// multi (writes, all-or-nothing) and multiRead (per-operation results).
async fn multi(address: SocketAddr) {
    let client = connect(address).await;
    client.create("/m", b"", &OPEN).await.expect("create /m");
    client.create("/m/old", b"", &OPEN).await.expect("create /m/old");

    let mut writer = client.new_multi_writer();
    writer.add_check_version("/m", 0).expect("check");
    writer.add_create("/m/new", b"fresh", &OPEN).expect("create");
    writer.add_set_data("/m", b"top", Some(0)).expect("setData");
    writer.add_delete("/m/old", Some(0)).expect("delete");
    let results = writer.commit().await.expect("a multi that must succeed");
    assert_eq!(results.len(), 4);
    assert!(matches!(results[0], zk::MultiWriteResult::Check), "{:?}", results[0]);
    // The client sends a plain create (op 1) inside multi, whose result has no Stat.
    let zk::MultiWriteResult::Create { path, .. } = &results[1] else { panic!("{:?}", results[1]) };
    assert_eq!(path, "/m/new");
    let zk::MultiWriteResult::SetData { stat } = &results[2] else { panic!("{:?}", results[2]) };
    assert_eq!((stat.version, stat.data_length), (1, 3));
    assert!(matches!(results[3], zk::MultiWriteResult::Delete), "{:?}", results[3]);

    // A failing operation aborts the whole multi: nothing before it takes effect.
    let mut writer = client.new_multi_writer();
    writer.add_create("/m/never", b"", &OPEN).expect("create");
    writer.add_set_data("/m", b"again", Some(0)).expect("setData with a stale version");
    writer.add_delete("/m/new", None).expect("delete");
    let error = writer.commit().await.unwrap_err();
    assert_eq!(error, zk::MultiWriteError::OperationFailed { index: 1, source: zk::Error::BadVersion });
    assert_eq!(client.check_stat("/m/never").await.expect("exists"), None);
    assert_eq!(client.get_data("/m").await.expect("get /m").0, b"top");
    assert!(client.check_stat("/m/new").await.expect("exists").is_some());

    let mut reader = client.new_multi_reader();
    reader.add_get_data("/m/new").expect("getData");
    reader.add_get_children("/m").expect("getChildren");
    reader.add_get_data("/m/missing").expect("getData of a missing node");
    let results = reader.commit().await.expect("multiRead");
    assert_eq!(results.len(), 3);
    let zk::MultiReadResult::Data { data, stat } = &results[0] else { panic!("{:?}", results[0]) };
    assert_eq!((data.as_slice(), stat.version), (&b"fresh"[..], 0));
    let zk::MultiReadResult::Children { children } = &results[1] else { panic!("{:?}", results[1]) };
    assert_eq!(children, &["new".to_string()]);
    let zk::MultiReadResult::Error { err } = &results[2] else { panic!("{:?}", results[2]) };
    assert_eq!(err, &zk::Error::NoNode);
}

/// Data, exists and child watches fire with the right type and path.
async fn oneshot_watches(address: SocketAddr) {
    let watcher_client = connect(address).await;
    let writer = connect(address).await;
    writer.create("/w", b"", &OPEN).await.expect("create /w");

    let (_, _, data) = watcher_client.get_and_watch_data("/w").await.expect("getData watch");
    let (stat, created) = watcher_client.check_and_watch_stat("/w/kid").await.expect("exists watch on a missing node");
    assert_eq!(stat, None);
    let (_, children) = watcher_client.list_and_watch_children("/w").await.expect("getChildren watch");

    writer.set_data("/w", b"1", None).await.expect("set /w");
    assert_eq!(next_oneshot(data, "getData watch").await, (zk::EventType::NodeDataChanged, "/w".to_string()));
    writer.create("/w/kid", b"", &OPEN).await.expect("create /w/kid");
    assert_eq!(next_oneshot(created, "exists watch").await, (zk::EventType::NodeCreated, "/w/kid".to_string()));
    assert_eq!(next_oneshot(children, "child watch").await, (zk::EventType::NodeChildrenChanged, "/w".to_string()));

    let (_, deleted) = watcher_client.check_and_watch_stat("/w/kid").await.expect("exists watch on /w/kid");
    let (_, _, kid_data) = watcher_client.get_and_watch_data("/w/kid").await.expect("getData watch on /w/kid");
    writer.delete("/w/kid", None).await.expect("delete /w/kid");
    assert_eq!(next_oneshot(deleted, "exists watch").await, (zk::EventType::NodeDeleted, "/w/kid".to_string()));
    assert_eq!(next_oneshot(kid_data, "data watch").await, (zk::EventType::NodeDeleted, "/w/kid".to_string()));
    tokio::task::block_in_place(|| oneshot_watches_fire_once(address));
}

/// One-shot watches fire once: seen on the wire (zookeeper-client hides duplicate events),
/// with a raw client, while another session changes the watched nodes twice.
fn oneshot_watches_fire_once(address: SocketAddr) {
    use zab_core::proto::{op, PathWatchRequest, Request, SetDataRequest};
    let mut watcher = WireClient::connect(address, 30_000).expect("raw watcher session");
    let mut writer = WireClient::connect(address, 30_000).expect("raw writer session");
    let call = |client: &mut WireClient, op: i32, request: Request| {
        let (reply, _) = client.call(op, &request).expect("raw call");
        assert_eq!(reply.err, zab_core::ErrorCode::Ok, "raw op {op} on {request:?}");
    };
    let watch = |path: &str| PathWatchRequest { path: path.to_string(), watch: true };
    let set = |path: &str| SetDataRequest { path: path.to_string(), data: b"x".to_vec(), version: -1 };
    call(&mut watcher, op::GET_DATA, Request::GetData(watch("/w")));
    call(&mut watcher, op::GET_CHILDREN, Request::GetChildren(watch("/w")));
    for _ in 0..2 {
        call(&mut writer, op::SET_DATA, Request::SetData(set("/w")));
    }
    let create = |path: &str| zk_create_request(path);
    call(&mut writer, op::CREATE, create("/w/one"));
    call(&mut writer, op::CREATE, create("/w/two"));
    // A round trip after the writes: their events were sent before this reply.
    call(&mut watcher, op::EXISTS, Request::Exists(PathWatchRequest { path: "/w".to_string(), watch: false }));
    let events: Vec<String> =
        watcher.take_events().iter().map(|(_, event)| format!("type {} {}", event.event_type, event.path)).collect();
    assert_eq!(events, ["type 3 /w", "type 4 /w"], "NodeDataChanged and NodeChildrenChanged, once each");
}

fn zk_create_request(path: &str) -> zab_core::proto::Request {
    use zab_core::proto::{Acl, CreateRequest, Id, Request};
    let world = Id { scheme: "world".to_string(), id: "anyone".to_string() };
    Request::Create(CreateRequest {
        path: path.to_string(),
        data: Vec::new(),
        acl: vec![Acl { perms: 31, id: world }],
        flags: 0,
    })
}

/// Persistent watches fire on every change of the node itself (data, children, deletion);
/// persistent recursive watches fire on the node and all descendants, but never with
/// NodeChildrenChanged.
async fn persistent_watches(address: SocketAddr) {
    // One session per mode: a second addWatch on the same path and session replaces the mode.
    let persistent_client = connect(address).await;
    let recursive_client = connect(address).await;
    let writer = connect(address).await;
    writer.create("/p", b"", &OPEN).await.expect("create /p");
    let mut persistent =
        persistent_client.watch("/p", zk::AddWatchMode::Persistent).await.expect("addWatch persistent");
    let mut recursive =
        recursive_client.watch("/p", zk::AddWatchMode::PersistentRecursive).await.expect("addWatch recursive");

    writer.set_data("/p", b"1", None).await.expect("set /p");
    writer.create("/p/c", b"", &OPEN).await.expect("create /p/c");
    writer.set_data("/p/c", b"1", None).await.expect("set /p/c");
    writer.create("/p/c/g", b"", &OPEN).await.expect("create /p/c/g");
    writer.set_data("/p", b"2", None).await.expect("set /p again");
    writer.delete("/p/c/g", None).await.expect("delete /p/c/g");
    writer.delete("/p/c", None).await.expect("delete /p/c");
    writer.delete("/p", None).await.expect("delete /p");

    let expected_persistent = [
        (zk::EventType::NodeDataChanged, "/p"),
        (zk::EventType::NodeChildrenChanged, "/p"),
        (zk::EventType::NodeDataChanged, "/p"),
        (zk::EventType::NodeChildrenChanged, "/p"),
        (zk::EventType::NodeDeleted, "/p"),
    ];
    for (index, (kind, path)) in expected_persistent.into_iter().enumerate() {
        let what = format!("persistent watch event #{index}");
        assert_eq!(next_persistent(&mut persistent, &what).await, (kind, path.to_string()), "{what}");
    }
    let expected_recursive = [
        (zk::EventType::NodeDataChanged, "/p"),
        (zk::EventType::NodeCreated, "/p/c"),
        (zk::EventType::NodeDataChanged, "/p/c"),
        (zk::EventType::NodeCreated, "/p/c/g"),
        (zk::EventType::NodeDataChanged, "/p"),
        (zk::EventType::NodeDeleted, "/p/c/g"),
        (zk::EventType::NodeDeleted, "/p/c"),
        (zk::EventType::NodeDeleted, "/p"),
    ];
    for (index, (kind, path)) in expected_recursive.into_iter().enumerate() {
        let what = format!("persistent recursive watch event #{index}");
        assert_eq!(next_persistent(&mut recursive, &what).await, (kind, path.to_string()), "{what}");
    }
    // Persistent watches survive their events: still registered after the node is gone.
    writer.create("/p", b"", &OPEN).await.expect("create /p again");
    assert_eq!(next_persistent(&mut persistent, "re-create").await, (zk::EventType::NodeCreated, "/p".to_string()));
    assert_eq!(next_persistent(&mut recursive, "re-create").await, (zk::EventType::NodeCreated, "/p".to_string()));
}

/// A session that just stops (no closeSession) keeps its ephemerals until it expires after
/// the negotiated timeout; an explicitly closed session loses them at once.
async fn ephemerals_expire_with_session(address: SocketAddr) {
    let observer = connect(address).await;
    let timeout = Duration::from_millis(1000);
    let owner = zk::Client::connector()
        .with_session_timeout(timeout)
        .with_detached()
        .connect(&address.to_string())
        .await
        .expect("connect the owner");
    assert_eq!(owner.session_timeout(), timeout, "negotiated session timeout");
    let ephemeral = zk::CreateMode::Ephemeral.with_acls(zk::Acls::anyone_all());
    let (stat, _) = owner.create("/eph", b"", &ephemeral).await.expect("create ephemeral");
    assert_eq!(stat.ephemeral_owner, owner.session_id().0, "ephemeralOwner is the session id");
    let ephemeral_sequential = zk::CreateMode::EphemeralSequential.with_acls(zk::Acls::anyone_all());
    let (_, sequence) = owner.create("/eph-", b"", &ephemeral_sequential).await.expect("create ephemeral sequential");
    assert_eq!(sequence.to_string(), "0000000001", "the root's second child creation");
    assert_eq!(owner.create("/eph/child", b"", &OPEN).await.unwrap_err(), zk::Error::NoChildrenForEphemerals);
    let mut ephemerals = observer.list_ephemerals("/").await.expect("getEphemerals from another session");
    ephemerals.sort();
    assert_eq!(ephemerals, Vec::<String>::new(), "getEphemerals lists only the caller's own");
    let mut own = owner.list_ephemerals("/").await.expect("getEphemerals");
    own.sort();
    assert_eq!(own, ["/eph", "/eph-0000000001"]);

    let (_, deleted) = observer.check_and_watch_stat("/eph").await.expect("exists watch");
    let session = owner.into_session();
    let dropped = Instant::now();
    assert_eq!(next_oneshot(deleted, "ephemeral deletion on expiry").await.0, zk::EventType::NodeDeleted);
    let waited = dropped.elapsed();
    assert!(waited >= timeout * 3 / 4, "ephemeral removed after {waited:?}, before the {timeout:?} session timeout");
    assert_eq!(observer.check_stat("/eph-0000000001").await.expect("exists"), None);
    let resumed = zk::Client::connector().with_session(session).connect(&address.to_string()).await;
    assert_eq!(resumed.unwrap_err(), zk::Error::SessionExpired, "resuming an expired session");

    let closer = connect(address).await;
    closer.create("/closed", b"", &ephemeral).await.expect("create ephemeral");
    drop(closer);
    let gone = wait_until_gone(&observer, "/closed", Duration::from_secs(5)).await;
    assert!(gone < timeout * 3, "closeSession removes ephemerals at once (took {gone:?})");
}

/// Sequence numbers come from the parent's cversion; containers vanish once their last child
/// goes; TTL nodes vanish after their TTL when childless and unmodified.
async fn sequential_container_ttl(address: SocketAddr) {
    let client = connect(address).await;
    client.create("/s", b"", &OPEN).await.expect("create /s");
    let sequential = zk::CreateMode::PersistentSequential.with_acls(zk::Acls::anyone_all());
    let (_, first) = client.create("/s/n-", b"", &sequential).await.expect("sequential 1");
    let (_, second) = client.create("/s/n-", b"", &sequential).await.expect("sequential 2");
    client.create("/s/plain", b"", &OPEN).await.expect("plain child");
    let (_, third) = client.create("/s/n-", b"", &sequential).await.expect("sequential 3");
    assert_eq!([first.into_i64(), second.into_i64(), third.into_i64()], [0, 1, 3]);
    let mut children = client.list_children("/s").await.expect("ls /s");
    children.sort();
    assert_eq!(children, ["n-0000000000", "n-0000000001", "n-0000000003", "plain"]);

    let container = zk::CreateMode::Container.with_acls(zk::Acls::anyone_all());
    client.create("/box", b"", &container).await.expect("createContainer /box");
    client.create("/box/item", b"", &OPEN).await.expect("child of the container");
    let ttl = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all()).with_ttl(Duration::from_millis(500));
    let (ttl_stat, _) = client.create("/ttl", b"", &ttl).await.expect("createTTL /ttl");
    assert_eq!(ttl_stat.ephemeral_owner, 0, "a TTL node is not owned by a session");
    let ttl_sequential =
        zk::CreateMode::PersistentSequential.with_acls(zk::Acls::anyone_all()).with_ttl(Duration::from_millis(500));
    let (_, ttl_sequence) = client.create("/ttl-", b"", &ttl_sequential).await.expect("createTTL sequential");
    let ttl_sequential_path = format!("/ttl-{ttl_sequence}");

    client.delete("/box/item", None).await.expect("delete the container's last child");
    let limit = Duration::from_secs(10);
    wait_until_gone(&client, "/box", limit).await;
    wait_until_gone(&client, "/ttl", limit).await;
    wait_until_gone(&client, &ttl_sequential_path, limit).await;
    // A container that never had a child is kept; so is the sequential parent /s.
    client.create("/empty-box", b"", &container).await.expect("createContainer /empty-box");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(client.check_stat("/empty-box").await.expect("exists").is_some(), "a never-used container is kept");
    assert!(client.check_stat("/s").await.expect("exists").is_some());
}

/// Digest authentication and ACLs: NOAUTH before addauth, OK after; whoAmI; super user.
async fn digest_acl(address: SocketAddr) {
    let alice = connect(address).await;
    alice.auth("digest", b"alice:secret").await.expect("addauth alice");
    let users = alice.list_auth_users().await.expect("whoAmI");
    assert!(users.contains(&zk::AuthUser::new("digest", "alice")), "whoAmI: {users:?}");
    let creator_all = zk::CreateMode::Persistent.with_acls(zk::Acls::creator_all());
    alice.create("/secure", b"secret data", &creator_all).await.expect("create with creator_all");
    let (acl, _) = alice.get_acl("/secure").await.expect("getACL as alice");
    // base64(sha1("alice:secret")): `printf alice:secret | openssl dgst -sha1 -binary | base64`
    let alice_id = zk::AuthId::new("digest", "alice:aYXlLOpEooaV1cRAvUL1fp9Qt7E=");
    assert_eq!(acl, vec![zk::Acl::new(zk::Permission::ALL, alice_id)]);

    let bob = connect(address).await;
    assert_eq!(bob.get_data("/secure").await.unwrap_err(), zk::Error::NoAuth, "getData before addauth");
    assert_eq!(bob.set_data("/secure", b"x", None).await.unwrap_err(), zk::Error::NoAuth, "setData before addauth");
    assert_eq!(bob.create("/secure/x", b"", &OPEN).await.unwrap_err(), zk::Error::NoAuth, "create before addauth");
    // Deleting checks DELETE on the parent (world-open /), not the node's own ACL.
    bob.delete("/secure", None).await.expect("delete /secure without alice's identity");
    alice.create("/secure", b"secret data", &creator_all).await.expect("re-create /secure");
    bob.auth("digest", b"alice:wrong").await.expect("addauth with a wrong password is accepted");
    assert_eq!(bob.get_data("/secure").await.unwrap_err(), zk::Error::NoAuth, "getData with a wrong password");
    bob.auth("digest", b"alice:secret").await.expect("addauth alice on bob's session");
    assert_eq!(bob.get_data("/secure").await.expect("getData after addauth").0, b"secret data");
    bob.set_data("/secure", b"changed", None).await.expect("setData after addauth");

    let root = connect(address).await;
    root.auth("digest", format!("super:{SUPER_PASSWORD}").as_bytes()).await.expect("addauth super");
    assert_eq!(root.get_data("/secure").await.expect("super reads anything").0, b"changed");
    let open = [zk::Acl::new(zk::Permission::ALL, zk::AuthId::anyone())];
    root.set_acl("/secure", &open, None).await.expect("super sets any ACL");
    let anyone = connect(address).await;
    assert_eq!(anyone.get_data("/secure").await.expect("open again").0, b"changed");
    let bad = zk::Client::connector().with_auth("nosuchscheme", b"x").connect(&address.to_string()).await;
    assert!(bad.is_err(), "addauth with an unknown scheme fails the session: {bad:?}");
}

/// A chrooted connect string (`host:port/app`): paths, sequential names and watch events are
/// relative to the chroot.
async fn chroot(address: SocketAddr) {
    let root = connect(address).await;
    root.create("/app", b"", &OPEN).await.expect("create /app");
    let chrooted = zk::Client::connect(&format!("{address}/app")).await.expect("connect with a chroot");
    chrooted.create("/x", b"inside", &OPEN).await.expect("create /x under the chroot");
    assert_eq!(root.get_data("/app/x").await.expect("get /app/x").0, b"inside");
    assert_eq!(chrooted.get_data("/x").await.expect("get /x").0, b"inside");
    assert_eq!(chrooted.list_children("/").await.expect("ls / under the chroot"), ["x"]);

    let sequential = zk::CreateMode::PersistentSequential.with_acls(zk::Acls::anyone_all());
    let (_, sequence) = chrooted.create("/seq-", b"", &sequential).await.expect("sequential under the chroot");
    assert_eq!(sequence.into_i64(), 1);
    assert!(root.check_stat("/app/seq-0000000001").await.expect("exists").is_some());

    let (_, created) = chrooted.check_and_watch_stat("/y").await.expect("exists watch under the chroot");
    root.create("/app/y", b"", &OPEN).await.expect("create /app/y");
    assert_eq!(next_oneshot(created, "chrooted exists watch").await, (zk::EventType::NodeCreated, "/y".to_string()));

    let mut writer = chrooted.new_multi_writer();
    writer.add_create("/z", b"", &OPEN).expect("create");
    writer.add_delete("/x", None).expect("delete");
    let results = writer.commit().await.expect("multi under the chroot");
    let zk::MultiWriteResult::Create { path, .. } = &results[0] else { panic!("{:?}", results[0]) };
    assert_eq!(path, "/z");
    let mut children = root.list_children("/app").await.expect("ls /app");
    children.sort();
    assert_eq!(children, ["seq-0000000001", "y", "z"]);
    assert_eq!(chrooted.get_data("/x").await.unwrap_err(), zk::Error::NoNode);
}
