//! The HTTP listeners: the AdminServer (`admin.serverAddress:admin.serverPort`, commands under
//! `admin.commandURL`, the web view at `/`) and Prometheus (`metricsProvider.httpHost:httpPort`,
//! `/metrics`). Each request becomes one [`AdminRequest`] to the core task.
//!
//! A port that cannot be bound is not fatal, as in Apache ZooKeeper (which logs "Problem
//! starting AdminServer" and serves on): the warning names the key to set.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::{AdminAnswer, AdminRequest};
use crate::config::ServerConfig;
use crate::server::messages::CoreInput;

/// The running listeners; dropping it stops them.
#[derive(Debug, Default)]
pub struct HttpServers {
    /// Where the AdminServer listens, when it runs.
    pub admin: Option<SocketAddr>,
    /// Where `/metrics` listens, when it runs.
    pub metrics: Option<SocketAddr>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for HttpServers {
    fn drop(&mut self) {
        self.tasks.iter().for_each(JoinHandle::abort);
    }
}

/// Starts the listeners `config` asks for; a port that cannot be bound is logged and skipped.
pub async fn start(config: &ServerConfig, core: mpsc::Sender<CoreInput>) -> HttpServers {
    let mut servers = HttpServers::default();
    if config.admin_enable_server {
        let address = join(&config.admin_server_address, config.admin_server_port);
        let router = admin_router(&config.admin_command_url).with_state(core.clone());
        let keys = "admin.serverPort (or admin.serverAddress; admin.enableServer=false turns it off)";
        if let Some((bound, task)) = listen(&address, router, "AdminServer", keys).await {
            tracing::info!(address = %bound, "AdminServer: commands at {}, web view at /", config.admin_command_url);
            servers.admin = Some(bound);
            servers.tasks.push(task);
        }
    }
    if config.metrics_enabled() {
        let address = join(&config.metrics_http_host, config.metrics_http_port);
        let router = Router::new().route("/metrics", get(metrics)).with_state(core);
        let keys = "metricsProvider.httpPort (or metricsProvider.httpHost)";
        if let Some((bound, task)) = listen(&address, router, "Prometheus metrics", keys).await {
            tracing::info!(address = %bound, "Prometheus metrics at /metrics");
            servers.metrics = Some(bound);
            servers.tasks.push(task);
        }
    }
    servers
}

fn join(host: &str, port: u16) -> String {
    match host.parse::<std::net::IpAddr>() {
        Ok(ip) => SocketAddr::new(ip, port).to_string(),
        Err(_) => format!("{host}:{port}"),
    }
}

async fn listen(address: &str, router: Router, what: &str, keys: &str) -> Option<(SocketAddr, JoinHandle<()>)> {
    let listener = match TcpListener::bind(address).await {
        Ok(listener) => listener,
        Err(error) => {
            tracing::warn!("{what} not started: cannot listen on {address}: {error}; set {keys} in zoo.cfg. Clients are served as usual");
            return None;
        }
    };
    let bound = listener.local_addr().ok()?;
    let task = tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, router).await {
            tracing::warn!("the HTTP listener on {bound} stopped: {error}; restart the server to get it back");
        }
    });
    Some((bound, task))
}

type Core = State<mpsc::Sender<CoreInput>>;

fn admin_router(command_url: &str) -> Router<mpsc::Sender<CoreInput>> {
    let command_url = command_url.trim_end_matches('/');
    let list = if command_url.is_empty() { "/".to_string() } else { command_url.to_string() };
    let prefix: std::sync::Arc<str> = command_url.into();
    Router::new()
        .route("/", get(|| async { Html(super::web::PAGE) }))
        .route("/api/znode", get(znode))
        .route("/api/sessions", get(|core: Core| ask_json(core, AdminRequest::Sessions)))
        .route("/api/ensemble", get(|core: Core| ask_json(core, AdminRequest::Ensemble)))
        .route(&list, get(move || command_list(prefix.clone())))
        .route(&format!("{command_url}/{{name}}"), get(command))
}

/// Sends `request` to the core task and waits for its answer.
async fn ask(State(core): Core, request: AdminRequest) -> Result<AdminAnswer, Response> {
    let (answer, answered) = oneshot::channel();
    let gone = || (StatusCode::SERVICE_UNAVAILABLE, "the server is stopping").into_response();
    core.send(CoreInput::Admin { request, answer }).await.map_err(|_| gone())?;
    answered.await.map_err(|_| gone())
}

async fn ask_json(core: Core, request: AdminRequest) -> Response {
    match ask(core, request).await {
        Ok(AdminAnswer::Json(value)) => json_response(&value),
        Ok(AdminAnswer::Text(text)) => text.into_response(),
        Err(response) => response,
    }
}

fn json_response(value: &serde_json::Value) -> Response {
    let body = serde_json::to_string_pretty(value).unwrap_or_default();
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

async fn command(core: Core, Path(name): Path<String>, Query(arguments): Query<BTreeMap<String, String>>) -> Response {
    ask_json(core, AdminRequest::Command { name, arguments }).await
}

async fn znode(core: Core, Query(mut arguments): Query<BTreeMap<String, String>>) -> Response {
    let path = arguments.remove("path").unwrap_or_else(|| "/".into());
    ask_json(core, AdminRequest::Znode { path }).await
}

/// `admin.commandURL` itself: links to every command, as Apache's `CommandListServlet` lists them.
async fn command_list(prefix: std::sync::Arc<str>) -> Html<String> {
    let links: String = super::commands::COMMANDS
        .iter()
        .map(|c| format!("<a href=\"{prefix}/{0}\">{0}</a>\n<br/>\n", c.primary))
        .collect();
    Html(links)
}

async fn metrics(core: Core) -> Response {
    match ask(core, AdminRequest::Metrics).await {
        Ok(AdminAnswer::Text(text)) => {
            ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response()
        }
        Ok(AdminAnswer::Json(value)) => json_response(&value),
        Err(response) => response,
    }
}
