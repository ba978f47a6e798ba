//! Four-letter word texts, checked against the formats Apache ZooKeeper 3.8.0 printed for the
//! same state (/work/notes/4lw-apache-3.8.0.txt: one session holding an ephemeral `/eph` with
//! data "x" and one exists-watch on it).

use super::*;
use crate::config::ServerConfig;
use zab_core::proto::{Acl, ConnectRequest, CreateRequest, PathWatchRequest, Request, RequestHeader};
use zab_core::{ClientEvent, Config, ConnectionId, DurableState, Millis, Output};

const NOW: Millis = Millis(1_795_595_836_594);

/// Executes persists at once, as a driver with an instant disk would.
fn settle(node: &mut Node) {
    while let Some(output) = node.poll_output() {
        if let Output::Persist { token, .. } = output {
            node.handle_persisted(NOW, token);
        }
    }
}

fn request(node: &mut Node, xid: i32, op: i32, request: Request) {
    let event = ClientEvent::Request { header: RequestHeader { xid, op }, request };
    node.handle_client(NOW, ConnectionId(1), event);
    settle(node);
}

/// The state of the capture: a session with an ephemeral `/eph` ("x") watched by `exists`.
fn captured_state() -> (Node, SessionId) {
    let mut node = Node::new(Config::standalone(2000), DurableState::default(), NOW, 7);
    let connect = ConnectRequest::new_session(30_000);
    node.handle_client(NOW, ConnectionId(1), ClientEvent::Connect { request: connect, address: [127, 0, 0, 1].into() });
    settle(&mut node);
    let create = CreateRequest { path: "/eph".into(), data: b"x".to_vec(), acl: Acl::open_unsafe(), flags: 1 };
    request(&mut node, 1, zab_core::proto::op::CREATE, Request::Create(create));
    let exists = PathWatchRequest { path: "/eph".into(), watch: true };
    request(&mut node, 2, zab_core::proto::op::EXISTS, Request::Exists(exists));
    let session = node.connection_session(ConnectionId(1)).expect("session bound");
    (node, session)
}

fn view<'a>(node: &'a Node, config: &'a ServerConfig, session: SessionId) -> ServerView<'a> {
    let client = ConnectionView {
        address: "127.0.0.1:55076".parse().expect("address"),
        queued: 0,
        received: 4,
        sent: 4,
        session: Some(SessionView {
            id: session,
            last_op: "GETC",
            established_ms: NOW.0,
            timeout_ms: 30_000,
            last_cxid: 3,
            last_zxid: 2,
            last_response_ms: 716_147,
            last_latency_ms: 0,
            latency_ms: (0, 2, 5),
        }),
    };
    let asking = ConnectionView {
        address: "127.0.0.1:41672".parse().expect("address"),
        queued: 0,
        received: 1,
        sent: 0,
        session: None,
    };
    ServerView {
        node,
        config,
        connections: vec![client, asking],
        now_ms: NOW.0 + 25_403,
        started_ms: NOW.0,
        data_dir_size: 67_109_337,
        data_log_size: 67_109_337,
        open_file_descriptors: Some(40),
        max_file_descriptors: Some(20_000),
        replica_since_ms: NOW.0,
        learners: Vec::new(),
        last_snapshot: None,
        request_latencies: Default::default(),
        observed: Default::default(),
    }
}

fn answer_of(word: &str) -> (String, SessionId) {
    let (node, session) = captured_state();
    let mut config = ServerConfig::standalone_default();
    config.client_port = 21810;
    config.data_dir = "/tmp/zk1/data".into();
    config.data_log_dir = "/tmp/zk1/data".into();
    let text = answer(word, &view(&node, &config, session)).expect("a served word");
    (text, session)
}

#[test]
fn srvr_prints_zookeeper_lines_with_our_version_and_the_root_counted_twice() {
    let (text, _) = answer_of("srvr");
    let version = format!("3.9.3-zab-{}, built on unknown", env!("CARGO_PKG_VERSION"));
    // Received counts the handshake and two requests; sent the handshake answer and two replies.
    let expected = format!(
        "Zookeeper version: {version}\nLatency min/avg/max: 0/0.0/0\nReceived: 3\nSent: 3\nConnections: 2\n\
         Outstanding: 0\nZxid: 0x2\nMode: standalone\nNode count: 6\n"
    );
    assert_eq!(text, expected);
}

#[test]
fn stat_lists_clients_between_version_and_latency() {
    let (text, _) = answer_of("stat");
    let clients =
        "Clients:\n /127.0.0.1:55076[1](queued=0,recved=4,sent=4)\n /127.0.0.1:41672[0](queued=0,recved=1,sent=0)\n\n";
    assert!(text.contains(&format!("built on unknown\n{clients}Latency min/avg/max: 0/0.0/0\n")), "{text}");
}

#[test]
fn cons_prints_session_details_like_zookeeper() {
    let (text, session) = answer_of("cons");
    let expected = format!(
        " /127.0.0.1:55076[1](queued=0,recved=4,sent=4,sid={session},lop=GETC,est={},to=30000,lcxid=0x3,lzxid=0x2,\
         lresp=716147,llat=0,minlat=0,avglat=2,maxlat=5)\n /127.0.0.1:41672[0](queued=0,recved=1,sent=0)\n\n",
        NOW.0
    );
    assert_eq!(text, expected);
}

#[test]
fn mntr_values_match_the_captured_server() {
    let (text, _) = answer_of("mntr");
    let lines: Vec<&str> = text.lines().collect();
    for expected in [
        "zk_server_state\tstandalone",
        "zk_ephemerals_count\t1",
        "zk_num_alive_connections\t2",
        "zk_outstanding_requests\t0",
        "zk_znode_count\t6",
        "zk_global_sessions\t1",
        "zk_watch_count\t1",
        "zk_max_file_descriptor_count\t20000",
        "zk_approximate_data_size\t49",
        "zk_open_file_descriptor_count\t40",
        "zk_uptime\t25403",
    ] {
        assert!(lines.contains(&expected), "missing {expected:?} in {text}");
    }
    assert!(text.starts_with("zk_version\t3.9.3-zab-"), "{text}");
}

#[test]
fn watch_words_list_by_session_and_by_path() {
    let (wchs, session) = answer_of("wchs");
    assert_eq!(wchs, "1 connections watching 1 paths\nTotal watches:1\n");
    assert_eq!(answer_of("wchc").0, format!("{session}\n\t/eph\n\n"));
    assert_eq!(answer_of("wchp").0, format!("/eph\n\t{session}\n\n"));
}

#[test]
fn conf_and_dirs_use_the_version_2_directories() {
    let expected = "clientPort=21810\nsecureClientPort=-1\ndataDir=/tmp/zk1/data/version-2\ndataDirSize=67109337\n\
                    dataLogDir=/tmp/zk1/data/version-2\ndataLogSize=67109337\ntickTime=2000\nmaxClientCnxns=60\n\
                    minSessionTimeout=4000\nmaxSessionTimeout=40000\nclientPortListenBacklog=-1\nserverId=0\n";
    assert_eq!(answer_of("conf").0, expected);
    assert_eq!(answer_of("dirs").0, "datadir_size: 67109337\nlogdir_size: 67109337\n");
}

#[test]
fn dump_lists_sessions_by_expiry_and_their_ephemerals() {
    let (text, session) = answer_of("dump");
    let (node, _) = captured_state();
    let expiry = java_date(node.sessions().expiry(session).expect("live").0);
    let expected_start = format!(
        "SessionTracker dump:\nSession Sets (1)/(1):\n1 expire at {expiry}:\n\t{session}\nephemeral nodes dump:\n\
         Sessions with Ephemerals (1):\n{session}:\n\t/eph\nConnections dump:\n"
    );
    assert!(text.starts_with(&expected_start), "{text}");
}

#[test]
fn fixed_answers_and_unknown_words() {
    assert_eq!(answer_of("ruok").0, "imok");
    assert_eq!(answer_of("isro").0, "rw");
    assert_eq!(answer_of("crst").0, "Connection stats reset.\n");
    assert_eq!(answer_of("srst").0, "Server stats reset.\n");
    let (node, session) = captured_state();
    let config = ServerConfig::standalone_default();
    assert_eq!(answer("gtmk", &view(&node, &config, session)), None);
    assert_eq!(refusal("stat"), "stat is not executed because it is not in the whitelist.\n");
}

#[test]
fn doubles_print_as_java_prints_the_rounded_average() {
    assert_eq!(java_double(0.0), "0.0");
    assert_eq!(java_double(2.75), "2.75");
    assert_eq!(java_double(25.0 / 13.0), "1.9231");
    assert_eq!(java_double(2.2), "2.2");
}

#[test]
fn dates_print_as_java_date_to_string_in_utc() {
    assert_eq!(java_date(1_795_595_868_000), "Wed Nov 25 08:37:48 UTC 2026");
    assert_eq!(java_date(0), "Thu Jan 01 00:00:00 UTC 1970");
    assert_eq!(java_date(951_782_400_000), "Tue Feb 29 00:00:00 UTC 2000");
}
