//! zoo.cfg: ZooKeeper's server configuration, parsed into [`ServerConfig`].
//!
//! The file is Java-Properties-like: `key=value` lines (`:` also separates,
//! as in Java), `#` and `!` comments, whitespace around keys and values
//! trimmed. Backslash escapes and line continuations are not supported
//! (ZooKeeper configs do not use them). Keys ZooKeeper reads as
//! `zookeeper.<key>` system properties are accepted with or without that
//! prefix.
//!
//! Errors a person can act on: an unknown or unsupported key is a warning
//! naming it (returned and logged, never fatal); an invalid value is a
//! [`ConfigError`] naming the file, line, key and value.
//!
//! Defaults that differ from ZooKeeper's, deliberately:
//! - `tickTime` 2000 (the sample config's value; ZooKeeper's code says 3000);
//! - `initLimit` 10 and `syncLimit` 5 (the sample's; ZooKeeper requires them
//!   in quorum mode);
//! - with a config file and no `clientPortAddress`, the client port binds
//!   all IPv4 addresses (`0.0.0.0`), as ZooKeeper binds all addresses;
//!   without any config ([`ServerConfig::standalone_default`]) everything
//!   binds `127.0.0.1` only.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::storage::{LogOptions, StorageDirs};

#[cfg(test)]
mod tests;

/// The server's configuration. Field docs name the zoo.cfg key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// `tickTime`: the base time unit, in milliseconds.
    pub tick_time_ms: u32,
    /// `initLimit`: ticks a follower has to connect and sync to the leader.
    pub init_limit: u32,
    /// `syncLimit`: ticks a follower may lag before it is dropped.
    pub sync_limit: u32,
    /// `dataDir`: snapshots, epoch files, `myid`.
    pub data_dir: PathBuf,
    /// `dataLogDir`: the transaction log (defaults to `dataDir`).
    pub data_log_dir: PathBuf,
    /// `clientPort` (or the client port of this server's `server.N` line).
    pub client_port: u16,
    /// `clientPortAddress`: the address the client port binds.
    pub client_port_address: String,
    /// `maxClientCnxns`: concurrent connections per client IP (0 = no limit).
    pub max_client_cnxns: u32,
    /// `minSessionTimeout` in ms (default 2 × tickTime).
    pub min_session_timeout_ms: u32,
    /// `maxSessionTimeout` in ms (default 20 × tickTime).
    pub max_session_timeout_ms: u32,
    /// `snapCount`: transactions between snapshots.
    pub snap_count: u32,
    /// `preAllocSize`: log preallocation block, in KiB.
    pub prealloc_size_kb: u64,
    /// `autopurge.snapRetainCount`: snapshots kept by autopurge (at least 3).
    pub snap_retain_count: u32,
    /// `autopurge.purgeInterval`: hours between purges (0 = never).
    pub purge_interval_hours: u32,
    /// `jute.maxbuffer`: the largest frame accepted, in bytes.
    pub jute_max_buffer: u32,
    /// `globalOutstandingLimit`: outstanding requests before throttling.
    pub global_outstanding_limit: u32,
    /// `znode.container.checkIntervalMs`: how often empty containers and expired TTL nodes
    /// are swept (ZooKeeper reads it as a JVM property; zab also takes it from zoo.cfg).
    pub container_check_interval_ms: u32,
    /// `4lw.commands.whitelist`: the four-letter words served.
    pub four_letter_words: FourLetterWords,
    /// `admin.enableServer`: run the HTTP AdminServer.
    pub admin_enable_server: bool,
    /// `admin.serverPort`: the AdminServer's port.
    pub admin_server_port: u16,
    /// `admin.serverAddress`: the AdminServer's address.
    pub admin_server_address: String,
    /// `admin.commandURL`: where the AdminServer's commands live (default `/commands`).
    pub admin_command_url: String,
    /// `metricsProvider.className`: Prometheus metrics are served when it names Apache's
    /// `org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider`, as in ZooKeeper.
    pub metrics_provider_class: Option<String>,
    /// `metricsProvider.httpPort`: the Prometheus endpoint's port (default 7000).
    pub metrics_http_port: u16,
    /// `metricsProvider.httpHost`: the Prometheus endpoint's address (default 0.0.0.0).
    pub metrics_http_host: String,
    /// The text of the zoo.cfg read (the AdminServer's `initial_configuration`).
    pub initial_configuration: Option<String>,
    /// `extendedTypesEnabled` (also `zookeeper.extendedTypesEnabled`):
    /// TTL and container-like extended node types.
    pub extended_types_enabled: bool,
    /// `DigestAuthenticationProvider.superDigest`: `user:base64(sha1)` of
    /// the super user, who passes every ACL.
    pub super_digest: Option<String>,
    /// `server.N` lines (from this file or `dynamicConfigFile`), by id.
    pub servers: Vec<ServerLine>,
    /// `dynamicConfigFile`: where the `server.N` lines came from, if not here.
    pub dynamic_config_file: Option<PathBuf>,
    /// `peerType`: this server's role (its `server.N` line wins).
    pub peer_type: PeerRole,
    /// `standaloneEnabled`: a lone server runs standalone.
    pub standalone_enabled: bool,
    /// `reconfigEnabled`: dynamic reconfiguration allowed.
    pub reconfig_enabled: bool,
    /// `dataDir/myid`: this server's id, read when there are server lines.
    pub my_id: Option<u8>,
}

/// One `server.N=host:quorumPort:electionPort[:role][;[clientAddress:]clientPort]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerLine {
    /// N, the server id (1–255, matching its `myid`).
    pub id: u8,
    /// Host name or address (IPv6 without brackets).
    pub host: String,
    /// The quorum (follower-to-leader) port, conventionally 2888.
    pub quorum_port: u16,
    /// The leader election port, conventionally 3888.
    pub election_port: u16,
    /// Participant (votes) or observer (does not).
    pub role: PeerRole,
    /// The client address after `;`, if given.
    pub client_address: Option<String>,
    /// The client port after `;`, if given.
    pub client_port: Option<u16>,
}

/// Whether a server votes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerRole {
    /// Votes in elections and commits.
    Participant,
    /// Follows the leader without voting.
    Observer,
}

/// Which four-letter words the server answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FourLetterWords {
    /// `*`: all of them.
    All,
    /// Only these (lower case).
    Only(BTreeSet<String>),
}

impl FourLetterWords {
    /// Whether `word` may be served.
    pub fn allows(&self, word: &str) -> bool {
        match self {
            FourLetterWords::All => true,
            FourLetterWords::Only(words) => words.contains(word),
        }
    }
}

/// A problem in the configuration that is not fatal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigWarning {
    /// The file it is in.
    pub file: PathBuf,
    /// The line number (1-based).
    pub line: usize,
    /// The key concerned.
    pub key: String,
    /// What is wrong and what was done.
    pub message: String,
}

impl fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (file, line) = (self.file.display(), self.line);
        write!(f, "{file}:{line}: {}: {}", self.key, self.message)
    }
}

/// A configuration the server cannot start with.
#[derive(Debug, thiserror::Error)]
#[error("{}{}: {kind}", file.display(), line.map(|n| format!(":{n}")).unwrap_or_default())]
pub struct ConfigError {
    /// The file at fault (zoo.cfg, the dynamic file or `myid`).
    pub file: PathBuf,
    /// The line, when one line is at fault.
    pub line: Option<usize>,
    /// What is wrong.
    pub kind: ConfigErrorKind,
}

/// What is wrong in a [`ConfigError`].
#[derive(Debug, thiserror::Error)]
pub enum ConfigErrorKind {
    /// The file cannot be read.
    #[error("cannot read: {0}")]
    Io(#[source] std::io::Error),
    /// A value does not parse.
    #[error("invalid value '{value}' for {key}: expected {expected}")]
    InvalidValue {
        /// The key.
        key: String,
        /// The value as written.
        value: String,
        /// What was expected.
        expected: &'static str,
    },
    /// A required key is absent.
    #[error("{key} is not set")]
    Missing {
        /// The key.
        key: &'static str,
    },
    /// Values that do not fit together, or a bad `myid`.
    #[error("{0}")]
    Invalid(String),
}

impl ServerConfig {
    /// Whether `/metrics` is served (`metricsProvider.className` names the Prometheus provider).
    pub fn metrics_enabled(&self) -> bool {
        self.metrics_provider_class.as_deref() == Some(PROMETHEUS_PROVIDER)
    }

    /// The configuration with no config file: a standalone server on
    /// 127.0.0.1:2181 with its data in `./zab-data`.
    pub fn standalone_default() -> ServerConfig {
        let tick_time_ms = 2000;
        ServerConfig {
            tick_time_ms,
            init_limit: 10,
            sync_limit: 5,
            data_dir: PathBuf::from("./zab-data"),
            data_log_dir: PathBuf::from("./zab-data"),
            client_port: 2181,
            client_port_address: "127.0.0.1".into(),
            max_client_cnxns: 60,
            min_session_timeout_ms: 2 * tick_time_ms,
            max_session_timeout_ms: 20 * tick_time_ms,
            snap_count: 100_000,
            prealloc_size_kb: 65_536,
            snap_retain_count: 3,
            purge_interval_hours: 0,
            jute_max_buffer: 0xfffff,
            global_outstanding_limit: 1000,
            container_check_interval_ms: 60_000,
            four_letter_words: FourLetterWords::Only(BTreeSet::from(["srvr".to_string()])),
            admin_enable_server: true,
            admin_server_port: 8080,
            admin_server_address: "127.0.0.1".into(),
            admin_command_url: "/commands".into(),
            metrics_provider_class: None,
            metrics_http_port: 7000,
            metrics_http_host: "127.0.0.1".into(),
            initial_configuration: None,
            extended_types_enabled: false,
            super_digest: None,
            servers: Vec::new(),
            dynamic_config_file: None,
            peer_type: PeerRole::Participant,
            standalone_enabled: true,
            reconfig_enabled: false,
            my_id: None,
        }
    }

    /// Reads and checks a zoo.cfg (and its `dynamicConfigFile` and
    /// `dataDir/myid` when needed). Warnings are also logged.
    pub fn from_file(path: &Path) -> Result<(ServerConfig, Vec<ConfigWarning>), ConfigError> {
        let text = read_text(path)?;
        ServerConfig::parse(&text, path)
    }

    /// Parses the text of a zoo.cfg whose path is `file` (used in messages;
    /// the dynamic config file and `myid` are read from disk).
    pub fn parse(text: &str, file: &Path) -> Result<(ServerConfig, Vec<ConfigWarning>), ConfigError> {
        let mut builder = Builder::new(file);
        for entry in properties(text) {
            builder.apply(&entry)?;
        }
        let (mut config, warnings) = builder.finish()?;
        config.initial_configuration = Some(text.to_string());
        for warning in &warnings {
            tracing::warn!("{warning}");
        }
        Ok((config, warnings))
    }

    /// Whether the server runs the quorum protocol (as ZooKeeper decides:
    /// more than one voter, or standalone mode switched off).
    pub fn is_replicated(&self) -> bool {
        let voters = self.servers.iter().filter(|s| s.role == PeerRole::Participant).count();
        !self.servers.is_empty() && (voters > 1 || !self.standalone_enabled)
    }

    /// The storage directories.
    pub fn storage_dirs(&self) -> StorageDirs {
        StorageDirs { data_dir: self.data_dir.clone(), data_log_dir: self.data_log_dir.clone() }
    }

    /// The log layout from `preAllocSize`.
    pub fn log_options(&self) -> LogOptions {
        LogOptions { prealloc_size: self.prealloc_size_kb * 1024, ..LogOptions::default() }
    }

    /// This server's own `server.N` line, when it has one.
    pub fn own_server(&self) -> Option<&ServerLine> {
        let id = self.my_id?;
        self.servers.iter().find(|s| s.id == id)
    }
}

fn read_text(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|e| ConfigError {
        file: path.to_path_buf(),
        line: None,
        kind: ConfigErrorKind::Io(e),
    })
}

/// One `key=value` line.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    line: usize,
    key: String,
    value: String,
}

/// The entries of a Properties-like text, in order.
fn properties(text: &str) -> Vec<Entry> {
    let mut entries = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
            continue;
        }
        // As in Java: the key ends at the first '=', ':' or whitespace.
        let end = line.find(|c: char| c == '=' || c == ':' || c.is_whitespace()).unwrap_or(line.len());
        let key = &line[..end];
        let rest = line[end..].trim_start();
        let value = rest.strip_prefix('=').or_else(|| rest.strip_prefix(':')).unwrap_or(rest);
        entries.push(Entry { line: index + 1, key: key.to_string(), value: value.trim().to_string() });
    }
    entries
}

/// Keys ZooKeeper knows that zab does not implement: warned about, ignored.
const IGNORED_KEYS: &[&str] = &[
    "electionAlg",
    "syncEnabled",
    "quorumListenOnAllIPs",
    "localSessionsEnabled",
    "localSessionsUpgradingEnabled",
    "secureClientPort",
    "secureClientPortAddress",
    "observerMasterPort",
    "clientPortListenBacklog",
    "connectToLearnerMasterLimit",
    "sslQuorum",
    "portUnification",
    "sslQuorumReloadCertFiles",
    "quorum.cnxn.threads.size",
    "oraclePath",
    "maxCnxns",
    "snapSizeLimitInKb",
    "txnLogSizeLimitInKb",
    "commitLogCount",
    "leaderServes",
    "serverCnxnFactory",
];

/// The `metricsProvider.className` that turns ZooKeeper's Prometheus endpoint on.
pub const PROMETHEUS_PROVIDER: &str = "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider";

/// Prefixes of ZooKeeper key families zab does not implement.
const IGNORED_PREFIXES: &[&str] = &["group.", "weight.", "metricsProvider.", "multiAddress.", "ssl."];

/// Keys ZooKeeper reads as `zookeeper.<key>` system properties, so a
/// config may spell them with the prefix.
const SYSTEM_PROPERTY_KEYS: &[&str] = &[
    "snapCount",
    "preAllocSize",
    "globalOutstandingLimit",
    "4lw.commands.whitelist",
    "admin.enableServer",
    "admin.serverPort",
    "admin.serverAddress",
    "extendedTypesEnabled",
    "DigestAuthenticationProvider.superDigest",
];

const EXPECT_POSITIVE: &str = "a positive integer";
const EXPECT_NON_NEGATIVE: &str = "a non-negative integer";
const EXPECT_PORT: &str = "a port number (1-65535)";
const EXPECT_BOOL: &str = "true or false";
const EXPECT_ROLE: &str = "participant or observer";
const EXPECT_SERVER: &str = "host:quorumPort:electionPort[:participant|:observer][;[clientAddress:]clientPort]";
const EXPECT_SERVER_ID: &str = "server.N with N from 1 to 255";

/// Collects entries, then checks the whole.
struct Builder {
    file: PathBuf,
    config: ServerConfig,
    warnings: Vec<ConfigWarning>,
    seen: BTreeSet<String>,
    data_dir: Option<PathBuf>,
    data_log_dir: Option<PathBuf>,
    client_port: Option<(usize, u16)>,
    client_port_address: Option<String>,
    min_session_timeout_ms: Option<u32>,
    max_session_timeout_ms: Option<u32>,
    admin_server_address: Option<String>,
    metrics_http_host: Option<String>,
    /// Line of the first static `server.N` line, if any.
    static_servers_line: Option<usize>,
    dynamic_line: usize,
    peer_type_line: Option<usize>,
}

impl Builder {
    fn new(file: &Path) -> Builder {
        Builder {
            file: file.to_path_buf(),
            config: ServerConfig::standalone_default(),
            warnings: Vec::new(),
            seen: BTreeSet::new(),
            data_dir: None,
            data_log_dir: None,
            client_port: None,
            client_port_address: None,
            min_session_timeout_ms: None,
            max_session_timeout_ms: None,
            admin_server_address: None,
            metrics_http_host: None,
            static_servers_line: None,
            dynamic_line: 0,
            peer_type_line: None,
        }
    }

    fn warn(&mut self, entry: &Entry, message: impl Into<String>) {
        self.warnings.push(ConfigWarning {
            file: self.file.clone(),
            line: entry.line,
            key: entry.key.clone(),
            message: message.into(),
        });
    }

    fn error(&self, line: Option<usize>, kind: ConfigErrorKind) -> ConfigError {
        ConfigError { file: self.file.clone(), line, kind }
    }

    fn invalid(&self, entry: &Entry, expected: &'static str) -> ConfigError {
        invalid_value(&self.file, entry, expected)
    }

    /// The key without a `zookeeper.` prefix where ZooKeeper allows one.
    fn canonical_key(key: &str) -> &str {
        match key.strip_prefix("zookeeper.") {
            Some(rest) if SYSTEM_PROPERTY_KEYS.contains(&rest) => rest,
            _ => key,
        }
    }

    fn apply(&mut self, entry: &Entry) -> Result<(), ConfigError> {
        let key = Builder::canonical_key(&entry.key).to_string();
        if !self.seen.insert(key.clone()) {
            self.warn(entry, "set more than once; the last value wins");
        }
        if let Some(id) = key.strip_prefix("server.") {
            self.static_servers_line.get_or_insert(entry.line);
            return self.apply_server(entry, id);
        }
        if !self.apply_number(&key, entry)? && !self.apply_other(&key, entry)? {
            self.warn_unknown(&key, entry);
        }
        Ok(())
    }

    fn warn_unknown(&mut self, key: &str, entry: &Entry) {
        let ignored = IGNORED_KEYS.contains(&key) || IGNORED_PREFIXES.iter().any(|prefix| key.starts_with(prefix));
        if ignored {
            self.warn(entry, "not supported by zab; ignored");
        } else {
            self.warn(entry, "unknown key; ignored");
        }
    }

    /// The numeric keys; false if `key` is not one.
    fn apply_number(&mut self, key: &str, entry: &Entry) -> Result<bool, ConfigError> {
        let file = self.file.clone();
        let invalid = |expected| invalid_value(&file, entry, expected);
        let positive = || positive_u32(&entry.value).ok_or_else(|| invalid(EXPECT_POSITIVE));
        let non_negative = || {
            let parsed = entry.value.parse::<u32>();
            parsed.map_err(|_| invalid(EXPECT_NON_NEGATIVE))
        };
        let port = || parse_port(&entry.value).ok_or_else(|| invalid(EXPECT_PORT));
        let config = &mut self.config;
        match key {
            "tickTime" => config.tick_time_ms = positive()?,
            "initLimit" => config.init_limit = positive()?,
            "syncLimit" => config.sync_limit = positive()?,
            "maxClientCnxns" => config.max_client_cnxns = non_negative()?,
            "minSessionTimeout" => self.min_session_timeout_ms = Some(positive()?),
            "maxSessionTimeout" => self.max_session_timeout_ms = Some(positive()?),
            "snapCount" => config.snap_count = positive()?,
            "preAllocSize" => config.prealloc_size_kb = u64::from(positive()?),
            "autopurge.purgeInterval" => config.purge_interval_hours = non_negative()?,
            "globalOutstandingLimit" => config.global_outstanding_limit = positive()?,
            "znode.container.checkIntervalMs" => config.container_check_interval_ms = positive()?,
            "jute.maxbuffer" => {
                let parsed = parse_java_int(&entry.value).filter(|n| *n > 0);
                config.jute_max_buffer = parsed.ok_or_else(|| invalid(EXPECT_POSITIVE))?;
            }
            "clientPort" => self.client_port = Some((entry.line, port()?)),
            "admin.serverPort" => config.admin_server_port = port()?,
            "metricsProvider.httpPort" => config.metrics_http_port = port()?,
            "autopurge.snapRetainCount" => {
                let count = positive()?;
                if count < 3 {
                    self.warn(entry, format!("{count} is below the minimum of 3; using 3"));
                }
                self.config.snap_retain_count = count.max(3);
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// The other scalar keys; false if `key` is not one.
    fn apply_other(&mut self, key: &str, entry: &Entry) -> Result<bool, ConfigError> {
        let value = entry.value.clone();
        match key {
            "dataDir" => self.data_dir = Some(self.path(entry)?),
            "dataLogDir" => self.data_log_dir = Some(self.path(entry)?),
            "clientPortAddress" => self.client_port_address = Some(self.host(entry)?),
            "admin.serverAddress" => self.admin_server_address = Some(self.host(entry)?),
            "admin.enableServer" => self.config.admin_enable_server = self.boolean(entry)?,
            "admin.commandURL" if value.starts_with('/') => self.config.admin_command_url = value,
            "admin.commandURL" => return Err(self.invalid(entry, "a URL path starting with /")),
            "metricsProvider.className" => {
                if value != PROMETHEUS_PROVIDER {
                    self.warn(entry, format!("zab serves only {PROMETHEUS_PROVIDER}; no metrics endpoint"));
                }
                self.config.metrics_provider_class = Some(value);
            }
            "metricsProvider.httpHost" => self.metrics_http_host = Some(self.host(entry)?),
            "extendedTypesEnabled" => self.config.extended_types_enabled = self.boolean(entry)?,
            "standaloneEnabled" => self.config.standalone_enabled = self.boolean(entry)?,
            "reconfigEnabled" => self.config.reconfig_enabled = self.boolean(entry)?,
            "4lw.commands.whitelist" => self.config.four_letter_words = self.words(entry)?,
            "peerType" => {
                self.config.peer_type = parse_role(&value).ok_or_else(|| self.invalid(entry, EXPECT_ROLE))?;
                self.peer_type_line = Some(entry.line);
            }
            "DigestAuthenticationProvider.superDigest" => {
                let valid =
                    matches!(value.split_once(':'), Some((user, digest)) if !user.is_empty() && !digest.is_empty());
                if !valid {
                    return Err(self.invalid(entry, "user:base64-digest"));
                }
                self.config.super_digest = Some(value);
            }
            "dynamicConfigFile" => {
                self.config.dynamic_config_file = Some(self.path(entry)?);
                self.dynamic_line = entry.line;
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn boolean(&self, entry: &Entry) -> Result<bool, ConfigError> {
        match entry.value.to_ascii_lowercase().as_str() {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(self.invalid(entry, EXPECT_BOOL)),
        }
    }

    fn path(&self, entry: &Entry) -> Result<PathBuf, ConfigError> {
        if entry.value.is_empty() {
            return Err(self.invalid(entry, "a path"));
        }
        Ok(PathBuf::from(&entry.value))
    }

    fn host(&self, entry: &Entry) -> Result<String, ConfigError> {
        let host = strip_brackets(&entry.value);
        if host.is_empty() || host.contains(char::is_whitespace) {
            return Err(self.invalid(entry, "a host name or address"));
        }
        Ok(host.to_string())
    }

    fn words(&self, entry: &Entry) -> Result<FourLetterWords, ConfigError> {
        if entry.value == "*" {
            return Ok(FourLetterWords::All);
        }
        let mut words = BTreeSet::new();
        for word in entry.value.split(',').map(str::trim).filter(|w| !w.is_empty()) {
            if word.len() != 4 || !word.chars().all(|c| c.is_ascii_alphabetic()) {
                return Err(self.invalid(entry, "a comma-separated list of four-letter words, or *"));
            }
            words.insert(word.to_ascii_lowercase());
        }
        Ok(FourLetterWords::Only(words))
    }

    fn apply_server(&mut self, entry: &Entry, id: &str) -> Result<(), ConfigError> {
        let id = id.parse::<u8>().ok().filter(|id| *id >= 1).ok_or_else(|| {
            self.error(
                Some(entry.line),
                ConfigErrorKind::InvalidValue {
                    key: entry.key.clone(),
                    value: entry.value.clone(),
                    expected: EXPECT_SERVER_ID,
                },
            )
        })?;
        let server = parse_server_line(id, &entry.value).ok_or_else(|| self.invalid(entry, EXPECT_SERVER))?;
        if self.config.servers.iter().any(|s| s.id == id) {
            let message = format!("server.{id} is defined twice");
            return Err(self.error(Some(entry.line), ConfigErrorKind::Invalid(message)));
        }
        self.config.servers.push(server);
        Ok(())
    }

    /// Reads the server lines of `dynamicConfigFile`.
    fn load_dynamic_file(&mut self, path: &Path) -> Result<(), ConfigError> {
        if let Some(line) = self.static_servers_line {
            let message = "server.N lines in zoo.cfg and a dynamicConfigFile: keep them in one place".to_string();
            return Err(self.error(Some(line), ConfigErrorKind::Invalid(message)));
        }
        let text = read_text(path)?;
        let file = std::mem::replace(&mut self.file, path.to_path_buf());
        let result = properties(&text).iter().try_for_each(|entry| {
            match entry.key.strip_prefix("server.") {
                Some(id) => self.apply_server(entry, id),
                // ZooKeeper writes the config version here; nothing else belongs.
                None if entry.key == "version" => Ok(()),
                None => {
                    self.warn(entry, "only server.N lines belong in a dynamic config file; ignored");
                    Ok(())
                }
            }
        });
        self.file = file;
        result
    }

    fn finish(mut self) -> Result<(ServerConfig, Vec<ConfigWarning>), ConfigError> {
        if let Some(path) = self.config.dynamic_config_file.clone() {
            self.load_dynamic_file(&path)?;
        }
        self.config.servers.sort_by_key(|s| s.id);
        let data_dir =
            self.data_dir.clone().ok_or_else(|| self.error(None, ConfigErrorKind::Missing { key: "dataDir" }))?;
        self.config.data_log_dir = self.data_log_dir.clone().unwrap_or_else(|| data_dir.clone());
        self.config.data_dir = data_dir;
        // A config file means a served address: all of them unless given.
        self.config.client_port_address = self.client_port_address.clone().unwrap_or_else(|| "0.0.0.0".into());
        self.config.admin_server_address = self.admin_server_address.clone().unwrap_or_else(|| "0.0.0.0".into());
        self.config.metrics_http_host = self.metrics_http_host.clone().unwrap_or_else(|| "0.0.0.0".into());
        self.finish_session_timeouts()?;
        if !self.config.servers.is_empty() {
            self.finish_membership()?;
        } else if let Some((_, port)) = self.client_port {
            self.config.client_port = port;
        }
        Ok((self.config, self.warnings))
    }

    fn finish_session_timeouts(&mut self) -> Result<(), ConfigError> {
        let tick = self.config.tick_time_ms;
        let min = self.min_session_timeout_ms.unwrap_or(tick.saturating_mul(2));
        let max = self.max_session_timeout_ms.unwrap_or(tick.saturating_mul(20));
        if min > max {
            let message = format!("minSessionTimeout ({min} ms) is above maxSessionTimeout ({max} ms)");
            return Err(self.error(None, ConfigErrorKind::Invalid(message)));
        }
        self.config.min_session_timeout_ms = min;
        self.config.max_session_timeout_ms = max;
        Ok(())
    }

    /// `myid`, this server's line, its client port and role.
    fn finish_membership(&mut self) -> Result<(), ConfigError> {
        let my_id = read_myid(&self.config.data_dir)?;
        self.config.my_id = Some(my_id);
        let Some(own) = self.config.own_server().cloned() else {
            let ids: Vec<String> = self.config.servers.iter().map(|s| s.id.to_string()).collect();
            let message = format!("myid is {my_id}, but the server lines only define {}", ids.join(", "));
            return Err(self.error(None, ConfigErrorKind::Invalid(message)));
        };
        match (self.client_port, own.client_port) {
            (Some((line, port)), Some(own_port)) if port != own_port => {
                let message = format!("clientPort {port} differs from the client port {own_port} of server.{my_id}");
                return Err(self.error(Some(line), ConfigErrorKind::Invalid(message)));
            }
            (_, Some(own_port)) => self.config.client_port = own_port,
            (Some((_, port)), None) => self.config.client_port = port,
            (None, None) => {}
        }
        if let Some(address) = &own.client_address {
            self.config.client_port_address = address.clone();
        }
        if let Some(line) = self.peer_type_line {
            if self.config.peer_type != own.role {
                self.warnings.push(ConfigWarning {
                    file: self.file.clone(),
                    line,
                    key: "peerType".into(),
                    message: format!("differs from the role in server.{my_id}; using the server line's"),
                });
            }
        }
        self.config.peer_type = own.role;
        Ok(())
    }
}

fn invalid_value(file: &Path, entry: &Entry, expected: &'static str) -> ConfigError {
    ConfigError {
        file: file.to_path_buf(),
        line: Some(entry.line),
        kind: ConfigErrorKind::InvalidValue { key: entry.key.clone(), value: entry.value.clone(), expected },
    }
}

fn positive_u32(value: &str) -> Option<u32> {
    value.parse::<u32>().ok().filter(|n| *n > 0)
}

fn parse_port(value: &str) -> Option<u16> {
    value.parse::<u16>().ok().filter(|port| *port > 0)
}

/// An integer as Java's `Integer.decode` reads it: decimal or `0x` hex.
fn parse_java_int(value: &str) -> Option<u32> {
    match value.strip_prefix("0x").or_else(|| value.strip_prefix("0X")) {
        Some(hex) => u32::from_str_radix(hex, 16).ok(),
        None => value.parse().ok(),
    }
}

fn parse_role(value: &str) -> Option<PeerRole> {
    match value.to_ascii_lowercase().as_str() {
        "participant" => Some(PeerRole::Participant),
        "observer" => Some(PeerRole::Observer),
        _ => None,
    }
}

fn strip_brackets(host: &str) -> &str {
    host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host)
}

/// Splits `host:rest`, where host may be a bracketed IPv6 address.
fn split_host(text: &str) -> Option<(&str, &str)> {
    if let Some(inner) = text.strip_prefix('[') {
        let (host, rest) = inner.split_once(']')?;
        return Some((host, rest.strip_prefix(':')?));
    }
    text.split_once(':')
}

/// `host:quorumPort:electionPort[:role][;[clientAddress:]clientPort]`.
fn parse_server_line(id: u8, value: &str) -> Option<ServerLine> {
    let (addresses, client) = match value.split_once(';') {
        Some((addresses, client)) => (addresses.trim(), Some(client.trim())),
        None => (value, None),
    };
    let (host, ports) = split_host(addresses)?;
    if host.is_empty() || host.contains('|') {
        return None;
    }
    let mut parts = ports.split(':');
    let quorum_port = parse_port(parts.next()?)?;
    let election_port = parse_port(parts.next()?)?;
    let role = match parts.next() {
        Some(role) => parse_role(role)?,
        None => PeerRole::Participant,
    };
    if parts.next().is_some() {
        return None;
    }
    let (client_address, client_port) = match client {
        None => (None, None),
        Some(client) => match split_host(client) {
            Some((address, port)) if !address.is_empty() => (Some(address.to_string()), Some(parse_port(port)?)),
            Some(_) => return None,
            None => (None, Some(parse_port(client)?)),
        },
    };
    Some(ServerLine { id, host: host.to_string(), quorum_port, election_port, role, client_address, client_port })
}

/// Reads `dataDir/myid`: one integer from 1 to 255.
fn read_myid(data_dir: &Path) -> Result<u8, ConfigError> {
    let path = data_dir.join("myid");
    let error =
        |message: String| ConfigError { file: path.clone(), line: None, kind: ConfigErrorKind::Invalid(message) };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(error("missing: with server.N lines, dataDir/myid must hold this server's id (1-255)".into()));
        }
        Err(e) => return Err(ConfigError { file: path.clone(), line: None, kind: ConfigErrorKind::Io(e) }),
    };
    let trimmed = text.trim();
    trimmed
        .parse::<u8>()
        .ok()
        .filter(|id| *id >= 1)
        .ok_or_else(|| error(format!("'{trimmed}' is not a server id from 1 to 255")))
}
