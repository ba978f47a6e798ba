//! zoo.cfg parsing: defaults, every key, warnings, errors with line
//! numbers, server lines, myid and the dynamic config file.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::*;

fn parse(text: &str) -> (ServerConfig, Vec<ConfigWarning>) {
    match ServerConfig::parse(text, Path::new("zoo.cfg")) {
        Ok(parsed) => parsed,
        Err(e) => panic!("unexpected error: {e}"),
    }
}

fn error(text: &str) -> String {
    match ServerConfig::parse(text, Path::new("zoo.cfg")) {
        Ok((config, _)) => panic!("parsed: {config:?}"),
        Err(e) => e.to_string(),
    }
}

fn warning(line: usize, key: &str, message: &str) -> ConfigWarning {
    ConfigWarning { file: PathBuf::from("zoo.cfg"), line, key: key.into(), message: message.into() }
}

/// A data directory holding `myid` (when given).
fn data_dir(myid: Option<&str>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    if let Some(myid) = myid {
        std::fs::write(dir.path().join("myid"), myid).unwrap();
    }
    dir
}

fn words(list: &[&str]) -> FourLetterWords {
    FourLetterWords::Only(list.iter().map(|w| w.to_string()).collect::<BTreeSet<_>>())
}

#[test]
fn standalone_default_binds_loopback_with_zookeeper_defaults() {
    let config = ServerConfig::standalone_default();
    assert_eq!(config.tick_time_ms, 2000);
    assert_eq!(config.data_dir, PathBuf::from("./zab-data"));
    assert_eq!(config.data_log_dir, PathBuf::from("./zab-data"));
    assert_eq!(config.client_port, 2181);
    assert_eq!(config.client_port_address, "127.0.0.1");
    assert_eq!(config.admin_server_address, "127.0.0.1");
    assert_eq!(config.max_client_cnxns, 60);
    assert_eq!((config.min_session_timeout_ms, config.max_session_timeout_ms), (4000, 40000));
    assert_eq!(config.snap_count, 100_000);
    assert_eq!(config.prealloc_size_kb, 65_536);
    assert_eq!(config.log_options().prealloc_size, 64 << 20);
    assert_eq!((config.snap_retain_count, config.purge_interval_hours), (3, 0));
    assert_eq!(config.jute_max_buffer, 0xfffff);
    assert_eq!(config.global_outstanding_limit, 1000);
    assert_eq!(config.four_letter_words, words(&["srvr"]));
    assert!(config.four_letter_words.allows("srvr"));
    assert!(!config.four_letter_words.allows("ruok"));
    assert!(config.admin_enable_server);
    assert_eq!(config.admin_server_port, 8080);
    assert!(!config.extended_types_enabled);
    assert_eq!(config.super_digest, None);
    assert!(config.servers.is_empty());
    assert_eq!(config.peer_type, PeerRole::Participant);
    assert!(config.standalone_enabled);
    assert!(!config.reconfig_enabled);
    assert_eq!(config.my_id, None);
    assert!(!config.is_replicated());
}

#[test]
fn a_minimal_config_takes_defaults_and_binds_all_addresses() {
    let (config, warnings) = parse("dataDir=/var/zab\n");
    let expected = ServerConfig {
        data_dir: PathBuf::from("/var/zab"),
        data_log_dir: PathBuf::from("/var/zab"),
        client_port_address: "0.0.0.0".into(),
        admin_server_address: "0.0.0.0".into(),
        metrics_http_host: "0.0.0.0".into(),
        initial_configuration: Some("dataDir=/var/zab\n".into()),
        ..ServerConfig::standalone_default()
    };
    assert_eq!(config, expected);
    assert_eq!(warnings, vec![]);
    assert_eq!(config.storage_dirs(), crate::storage::StorageDirs::single("/var/zab"));
}

#[test]
fn every_scalar_key_is_read() {
    let text = "\
# a comment
! also a comment
tickTime=500
initLimit=7
syncLimit=3
dataDir=/d
dataLogDir=/l
clientPort=2281
clientPortAddress=10.0.0.1
maxClientCnxns=0
minSessionTimeout=1500
maxSessionTimeout=9000
snapCount=5000
preAllocSize=1024
autopurge.snapRetainCount=5
autopurge.purgeInterval=24
jute.maxbuffer=0x200000
globalOutstandingLimit=50
znode.container.checkIntervalMs=1000
4lw.commands.whitelist=srvr, RUOK ,mntr
admin.enableServer=false
admin.serverPort=9090
admin.serverAddress=[::1]
admin.commandURL=/cmds
metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider
metricsProvider.httpPort=7100
metricsProvider.httpHost=127.0.0.2
extendedTypesEnabled=true
DigestAuthenticationProvider.superDigest=super:D/InIHSb7yEEbrWz8b9l71RjZJU=
peerType=participant
standaloneEnabled=false
reconfigEnabled=true
";
    let (config, warnings) = parse(text);
    assert_eq!(warnings, vec![]);
    let expected = ServerConfig {
        tick_time_ms: 500,
        init_limit: 7,
        sync_limit: 3,
        data_dir: "/d".into(),
        data_log_dir: "/l".into(),
        client_port: 2281,
        client_port_address: "10.0.0.1".into(),
        max_client_cnxns: 0,
        min_session_timeout_ms: 1500,
        max_session_timeout_ms: 9000,
        snap_count: 5000,
        prealloc_size_kb: 1024,
        snap_retain_count: 5,
        purge_interval_hours: 24,
        jute_max_buffer: 0x200000,
        global_outstanding_limit: 50,
        container_check_interval_ms: 1000,
        four_letter_words: words(&["mntr", "ruok", "srvr"]),
        admin_enable_server: false,
        admin_server_port: 9090,
        admin_server_address: "::1".into(),
        admin_command_url: "/cmds".into(),
        metrics_provider_class: Some(crate::config::PROMETHEUS_PROVIDER.into()),
        metrics_http_port: 7100,
        metrics_http_host: "127.0.0.2".into(),
        initial_configuration: Some(text.to_string()),
        extended_types_enabled: true,
        super_digest: Some("super:D/InIHSb7yEEbrWz8b9l71RjZJU=".into()),
        servers: vec![],
        dynamic_config_file: None,
        peer_type: PeerRole::Participant,
        standalone_enabled: false,
        reconfig_enabled: true,
        my_id: None,
    };
    assert_eq!(config, expected);
    assert!(config.metrics_enabled());
    assert_eq!(config.log_options().prealloc_size, 1 << 20);
}

#[test]
fn system_property_spellings_and_java_separators_are_accepted() {
    let text = "\
dataDir : /d
zookeeper.extendedTypesEnabled=TRUE
zookeeper.4lw.commands.whitelist=*
zookeeper.snapCount 77
jute.maxbuffer=4096
";
    let (config, warnings) = parse(text);
    assert_eq!(warnings, vec![]);
    assert_eq!(config.data_dir, PathBuf::from("/d"));
    assert!(config.extended_types_enabled);
    assert_eq!(config.four_letter_words, FourLetterWords::All);
    assert!(config.four_letter_words.allows("wchp"));
    assert_eq!(config.snap_count, 77);
    assert_eq!(config.jute_max_buffer, 4096);
}

#[test]
fn session_timeouts_default_from_tick_time_wherever_it_is_set() {
    let (config, _) = parse("maxSessionTimeout=100000\ndataDir=/d\ntickTime=3000\n");
    assert_eq!(config.min_session_timeout_ms, 6000);
    assert_eq!(config.max_session_timeout_ms, 100000);
}

#[test]
fn unknown_ignored_duplicate_and_clamped_keys_are_warnings() {
    let text = "\
dataDir=/d
colour=blue
electionAlg=3
group.1=1:2:3
tickTime=1000
tickTime=1500
autopurge.snapRetainCount=1
";
    let (config, warnings) = parse(text);
    assert_eq!(
        warnings,
        vec![
            warning(2, "colour", "unknown key; ignored"),
            warning(3, "electionAlg", "not supported by zab; ignored"),
            warning(4, "group.1", "not supported by zab; ignored"),
            warning(6, "tickTime", "set more than once; the last value wins"),
            warning(7, "autopurge.snapRetainCount", "1 is below the minimum of 3; using 3"),
        ]
    );
    assert_eq!(warnings[0].to_string(), "zoo.cfg:2: colour: unknown key; ignored");
    assert_eq!(config.tick_time_ms, 1500);
    assert_eq!(config.snap_retain_count, 3);
}

#[test]
fn invalid_values_name_file_line_key_and_value() {
    let cases = [
        ("dataDir=/d\n\ntickTime=abc\n", "zoo.cfg:3: invalid value 'abc' for tickTime: expected a positive integer"),
        ("tickTime=0\ndataDir=/d\n", "zoo.cfg:1: invalid value '0' for tickTime: expected a positive integer"),
        ("dataDir=/d\nmaxClientCnxns=-1\n", "zoo.cfg:2: invalid value '-1' for maxClientCnxns: expected a non-negative integer"),
        ("dataDir=/d\nclientPort=70000\n", "zoo.cfg:2: invalid value '70000' for clientPort: expected a port number (1-65535)"),
        ("dataDir=/d\nadmin.serverPort=0\n", "zoo.cfg:2: invalid value '0' for admin.serverPort: expected a port number (1-65535)"),
        ("dataDir=/d\nadmin.enableServer=yes\n", "zoo.cfg:2: invalid value 'yes' for admin.enableServer: expected true or false"),
        ("dataDir=/d\npeerType=leader\n", "zoo.cfg:2: invalid value 'leader' for peerType: expected participant or observer"),
        ("dataDir=/d\n4lw.commands.whitelist=ruok,stats\n", "zoo.cfg:2: invalid value 'ruok,stats' for 4lw.commands.whitelist: expected a comma-separated list of four-letter words, or *"),
        ("dataDir=/d\nDigestAuthenticationProvider.superDigest=nocolon\n", "zoo.cfg:2: invalid value 'nocolon' for DigestAuthenticationProvider.superDigest: expected user:base64-digest"),
        ("dataDir=/d\njute.maxbuffer=0xzz\n", "zoo.cfg:2: invalid value '0xzz' for jute.maxbuffer: expected a positive integer"),
        ("dataDir=\n", "zoo.cfg:1: invalid value '' for dataDir: expected a path"),
        ("tickTime=2000\n", "zoo.cfg: dataDir is not set"),
        ("dataDir=/d\nminSessionTimeout=5000\nmaxSessionTimeout=4000\n", "zoo.cfg: minSessionTimeout (5000 ms) is above maxSessionTimeout (4000 ms)"),
    ];
    for (text, expected) in cases {
        assert_eq!(error(text), expected, "for {text:?}");
    }
}

#[test]
fn server_lines_in_every_form() {
    let dir = data_dir(Some("2\n"));
    let text = format!(
        "dataDir={}\n\
         server.1=zk1.example:2888:3888\n\
         server.2=127.0.0.2:2889:3889:participant;2182\n\
         server.3=zk3:2888:3888:observer;0.0.0.0:2183\n\
         server.4=[::1]:2888:3888;[::1]:2184\n",
        dir.path().display()
    );
    let (config, warnings) = parse(&text);
    assert_eq!(warnings, vec![]);
    let line = |id, host: &str, quorum_port, election_port, role, address: Option<&str>, port| ServerLine {
        id,
        host: host.into(),
        quorum_port,
        election_port,
        role,
        client_address: address.map(str::to_string),
        client_port: port,
    };
    assert_eq!(
        config.servers,
        vec![
            line(1, "zk1.example", 2888, 3888, PeerRole::Participant, None, None),
            line(2, "127.0.0.2", 2889, 3889, PeerRole::Participant, None, Some(2182)),
            line(3, "zk3", 2888, 3888, PeerRole::Observer, Some("0.0.0.0"), Some(2183)),
            line(4, "::1", 2888, 3888, PeerRole::Participant, Some("::1"), Some(2184)),
        ]
    );
    assert_eq!(config.my_id, Some(2));
    // This server's line gives its client port.
    assert_eq!(config.client_port, 2182);
    assert_eq!(config.own_server().unwrap().host, "127.0.0.2");
    assert!(config.is_replicated());
}

#[test]
fn an_observer_takes_its_role_from_its_server_line() {
    let dir = data_dir(Some("3"));
    let text = format!(
        "dataDir={}\npeerType=participant\nclientPort=2181\n\
         server.1=a:2888:3888\nserver.2=b:2888:3888\nserver.3=c:2888:3888:observer;127.0.0.3:2181\n",
        dir.path().display()
    );
    let (config, warnings) = parse(&text);
    assert_eq!(config.peer_type, PeerRole::Observer);
    assert_eq!(config.client_port_address, "127.0.0.3");
    assert_eq!(warnings, vec![warning(2, "peerType", "differs from the role in server.3; using the server line's")]);
}

#[test]
fn a_lone_server_line_runs_standalone_unless_disabled() {
    let dir = data_dir(Some("1"));
    let text = format!("dataDir={}\nserver.1=a:2888:3888\n", dir.path().display());
    assert!(!parse(&text).0.is_replicated());
    let text = format!("{text}standaloneEnabled=false\n");
    assert!(parse(&text).0.is_replicated());
}

#[test]
fn bad_server_lines_are_errors_with_their_line() {
    let expect_form = "expected host:quorumPort:electionPort[:participant|:observer][;[clientAddress:]clientPort]";
    let cases = [
        ("server.1=a:2888", format!("zoo.cfg:2: invalid value 'a:2888' for server.1: {expect_form}")),
        (
            "server.1=a:2888:3888:leader",
            format!("zoo.cfg:2: invalid value 'a:2888:3888:leader' for server.1: {expect_form}"),
        ),
        ("server.1=a:x:3888", format!("zoo.cfg:2: invalid value 'a:x:3888' for server.1: {expect_form}")),
        ("server.1=a:2888:3888;b", format!("zoo.cfg:2: invalid value 'a:2888:3888;b' for server.1: {expect_form}")),
        ("server.1=a|b:2888:3888", format!("zoo.cfg:2: invalid value 'a|b:2888:3888' for server.1: {expect_form}")),
        (
            "server.0=a:2888:3888",
            "zoo.cfg:2: invalid value 'a:2888:3888' for server.0: expected server.N with N from 1 to 255".to_string(),
        ),
        (
            "server.256=a:2888:3888",
            "zoo.cfg:2: invalid value 'a:2888:3888' for server.256: expected server.N with N from 1 to 255".to_string(),
        ),
        ("server.1=a:2888:3888\nserver.1=b:2888:3888", "zoo.cfg:3: server.1 is defined twice".to_string()),
    ];
    for (lines, expected) in cases {
        assert_eq!(error(&format!("dataDir=/d\n{lines}\n")), expected);
    }
}

#[test]
fn myid_problems_are_clear_errors() {
    let servers = "server.1=a:2888:3888\nserver.2=b:2888:3888\n";
    let cases = [
        (None, "missing: with server.N lines, dataDir/myid must hold this server's id (1-255)"),
        (Some("0"), "'0' is not a server id from 1 to 255"),
        (Some("256"), "'256' is not a server id from 1 to 255"),
        (Some("one"), "'one' is not a server id from 1 to 255"),
    ];
    for (myid, message) in cases {
        let dir = data_dir(myid);
        let text = format!("dataDir={}\n{servers}", dir.path().display());
        let myid_path = dir.path().join("myid");
        assert_eq!(error(&text), format!("{}: {message}", myid_path.display()));
    }
    let dir = data_dir(Some("7"));
    let text = format!("dataDir={}\n{servers}", dir.path().display());
    assert_eq!(error(&text), "zoo.cfg: myid is 7, but the server lines only define 1, 2");
}

#[test]
fn a_client_port_conflicting_with_the_server_line_is_an_error() {
    let dir = data_dir(Some("1"));
    let text = format!("dataDir={}\nclientPort=2181\nserver.1=a:2888:3888;2182\n", dir.path().display());
    assert_eq!(error(&text), "zoo.cfg:2: clientPort 2181 differs from the client port 2182 of server.1");
}

#[test]
fn server_lines_come_from_the_dynamic_config_file() {
    let dir = data_dir(Some("2"));
    let dynamic = dir.path().join("zoo.cfg.dynamic.100000000");
    std::fs::write(&dynamic, "version=100000000\nserver.1=a:2888:3888;2181\nserver.2=b:2888:3888;2181\nbogus=1\n")
        .unwrap();
    let text = format!("dataDir={}\ndynamicConfigFile={}\n", dir.path().display(), dynamic.display());
    let (config, warnings) = parse(&text);
    let ids: Vec<u8> = config.servers.iter().map(|s| s.id).collect();
    assert_eq!(ids, vec![1, 2]);
    assert_eq!(config.dynamic_config_file, Some(dynamic.clone()));
    assert_eq!(config.my_id, Some(2));
    assert_eq!(
        warnings,
        vec![ConfigWarning {
            file: dynamic.clone(),
            line: 4,
            key: "bogus".into(),
            message: "only server.N lines belong in a dynamic config file; ignored".into(),
        }]
    );
    // Server lines in both places are ambiguous.
    let both = format!("{text}server.1=a:2888:3888\n");
    assert_eq!(error(&both), "zoo.cfg:3: server.N lines in zoo.cfg and a dynamicConfigFile: keep them in one place");
    // A bad line in the dynamic file names that file.
    std::fs::write(&dynamic, "server.1=a:2888\n").unwrap();
    assert!(error(&text).starts_with(&format!("{}:1: invalid value 'a:2888'", dynamic.display())));
}

#[test]
fn from_file_reads_the_file_and_names_it_when_missing() {
    let dir = data_dir(None);
    let path = dir.path().join("zoo.cfg");
    std::fs::write(&path, "dataDir=/d\ntickTime=x\n").unwrap();
    let message = ServerConfig::from_file(&path).unwrap_err().to_string();
    assert_eq!(message, format!("{}:2: invalid value 'x' for tickTime: expected a positive integer", path.display()));
    let missing = dir.path().join("nope.cfg");
    let message = ServerConfig::from_file(&missing).unwrap_err().to_string();
    assert!(message.starts_with(&format!("{}: cannot read: ", missing.display())), "{message}");
}
