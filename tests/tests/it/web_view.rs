//! The AdminServer's web view at `/`, loaded in headless Chromium (Debian's `chromium`): the
//! page's JavaScript fetches the znode, session and ensemble data from the running server and
//! renders them, and the DOM Chromium dumps after running it must show a znode's data as text
//! and as hex, its children, stat and ACL, the session with its ephemeral and watch, and the
//! mode. A screenshot is kept under the target directory as the test's artifact.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use zab_core::proto::{op, Acl, CreateRequest, PathWatchRequest, Request};
use zab_tests::oracle::{free_port, oracle_required};
use zab_tests::server::ZabServer;
use zab_tests::wire::WireClient;

const CHROMIUM: &str = "/usr/bin/chromium";
/// How long Chromium may take to load and render the page on a loaded machine.
const CHROMIUM_TIMEOUT_MAX: Duration = Duration::from_secs(120);

/// Runs headless Chromium with a fresh profile and returns its stdout.
fn chromium(profile: &Path, arguments: &[String]) -> String {
    let mut command = Command::new(CHROMIUM);
    command.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
    ]);
    command.arg(format!("--user-data-dir={}", profile.display())).args(arguments);
    let output_path = profile.join("stdout");
    let stdout = std::fs::File::create(&output_path).expect("chromium stdout file");
    let mut child = command.stdout(stdout).stderr(Stdio::null()).stdin(Stdio::null()).spawn().expect("run chromium");
    let deadline = Instant::now() + CHROMIUM_TIMEOUT_MAX;
    loop {
        if child.try_wait().expect("poll chromium").is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within {CHROMIUM_TIMEOUT_MAX:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    std::fs::read_to_string(output_path).unwrap_or_default()
}

/// `/app` ("hello web") with a binary child and an ephemeral child held and watched by the
/// returned session.
fn make_tree(address: SocketAddr) -> WireClient {
    let mut client = WireClient::connect(address, 30_000).expect("session");
    let create = |path: &str, data: &[u8], flags: i32| {
        Request::Create(CreateRequest { path: path.into(), data: data.to_vec(), acl: Acl::open_unsafe(), flags })
    };
    for (path, data, flags) in
        [("/app", &b"hello web"[..], 0), ("/app/bin", &[0u8, 1, 0xfe][..], 0), ("/app/eph", &b""[..], 1)]
    {
        let (reply, _) = client.call(op::CREATE, &create(path, data, flags)).expect("create");
        assert_eq!(reply.err, zab_core::ErrorCode::Ok, "create {path}");
    }
    // Readable only by a digest user: the web view, an unauthenticated reader, must not show it.
    let digest = zab_core::proto::Id { scheme: "digest".into(), id: "admin:AAAAAAAAAAAAAAAAAAAAAAAAAAA=".into() };
    let acl = vec![Acl { perms: 31, id: digest }];
    let secret = Request::Create(CreateRequest { path: "/secret".into(), data: b"hidden".to_vec(), acl, flags: 0 });
    assert_eq!(client.call(op::CREATE, &secret).expect("create /secret").0.err, zab_core::ErrorCode::Ok);
    let watch = Request::Exists(PathWatchRequest { path: "/app/bin".into(), watch: true });
    client.call(op::EXISTS, &watch).expect("exists with a watch");
    client
}

#[test]
fn web_view_shows_tree_sessions_and_mode_in_chromium() {
    if !Path::new(CHROMIUM).exists() {
        assert!(!oracle_required(), "ZAB_REQUIRE_ORACLE is set but {CHROMIUM} is missing (apt package chromium)");
        eprintln!("SKIPPED: {CHROMIUM} is not installed (apt package chromium)");
        return;
    }
    let port = free_port();
    let lines = zab_tests::http::admin_server_lines(port);
    let lines = lines.each_ref().map(String::as_str);
    let server = ZabServer::start(&lines);
    let _session = make_tree(server.address);
    let admin = SocketAddr::from(([127, 0, 0, 1], port));
    let (_, secret) = zab_tests::http::get(admin, "/api/znode?path=/secret").expect("/api/znode");
    assert!(secret.contains("NoAuth") && !secret.contains("hidden"), "{secret}");
    let (_, bad) = zab_tests::http::get(admin, "/api/znode?path=/a//b").expect("/api/znode");
    assert!(bad.contains("empty node name"), "{bad}");
    let url = format!("http://127.0.0.1:{port}/?path=/app");
    let profile = tempfile::tempdir().expect("chromium profile");
    let dom = chromium(profile.path(), &["--virtual-time-budget=10000".into(), "--dump-dom".into(), url.clone()]);
    for expected in [
        "data-loaded=\"true\"",
        "<pre id=\"data-text\">hello web</pre>",
        "<pre id=\"data-hex\">68656c6c6f20776562</pre>",
        "data-path=\"/app/bin\"",
        "data-path=\"/app/eph\"",
        "world:anyone perms=31",
        "<th>dataLength</th><td>9</td>",
        "<td>/app/eph</td>",
        "<td>/app/bin</td>",
        "<td>standalone</td>",
    ] {
        assert!(dom.contains(expected), "the rendered page lacks {expected:?}:\n{dom}");
    }
    let screenshot = screenshot_path();
    let profile = tempfile::tempdir().expect("chromium profile");
    chromium(
        profile.path(),
        &[
            "--virtual-time-budget=10000".into(),
            "--window-size=1280,900".into(),
            format!("--screenshot={}", screenshot.display()),
            url,
        ],
    );
    let size = std::fs::metadata(&screenshot).map(|m| m.len()).unwrap_or(0);
    assert!(size > 10_000, "the screenshot at {} has {size} bytes", screenshot.display());
    eprintln!("web view screenshot: {}", screenshot.display());
}

/// `target/tmp/web-view.png` (Cargo's temporary directory for integration tests).
fn screenshot_path() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(&dir).expect("target tmp dir");
    let path = dir.join("web-view.png");
    let _ = std::fs::remove_file(&path);
    path
}
