//! The streamable HTTP transport through the built binary (`--http 127.0.0.1:0` against
//! its embedded fake-pve): the official Python MCP SDK's streamable HTTP client uses
//! every kind of tool, and plain HTTP requests show the refusals (token, Origin, Host,
//! path), the generated token, and a clean stop on SIGTERM.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use testkit::child::{output_within, python_sdk, workspace_root};

/// How long the server gets to start, a request to be answered, the server to stop.
const START: Duration = Duration::from_secs(60);
const ANSWER: Duration = Duration::from_secs(30);
const STOP: Duration = Duration::from_secs(30);
/// How long the Python client gets for all its checks.
const CLIENT: Duration = Duration::from_secs(120);

const INITIALIZE: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"http-test","version":"0"}}}"#;

/// The server against its embedded fake node.
struct Server {
    child: Child,
    /// Where it listens (as printed).
    addr: SocketAddr,
    /// Where the tests connect: `addr`, or loopback when `addr` is unspecified.
    connect: SocketAddr,
    url: String,
    /// The token it printed, when it generated one.
    printed_token: Option<String>,
    stderr: Arc<Mutex<String>>,
    /// Reads stderr until the server exits: joined by [`Server::terminate`], after
    /// which [`Server::stderr`] holds everything the server wrote.
    reader: Option<std::thread::JoinHandle<()>>,
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A token unlike any other test's.
fn fresh_token() -> String {
    format!(
        "test-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

impl Server {
    /// On `127.0.0.1:0`.
    fn start(env: &[(&str, &str)]) -> Server {
        Server::start_on("127.0.0.1:0", env)
    }

    fn start_on(listen: &str, env: &[(&str, &str)]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_mcp-remote-exec"))
            // Today `--fake-pve` stands before the subcommand (or without one); `serve`
            // is the default command.
            .args(["--http", listen, "--fake-pve"])
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("RUST_LOG", "info")
            .env("ENABLE_PROXMOX", "true")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the server starts");
        let stderr = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel::<String>();
        let pipe = child.stderr.take().unwrap();
        let all = stderr.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                all.lock().unwrap().push_str(&(line.clone() + "\n"));
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + START;
        let mut printed_token = None;
        let url = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(t) = line.strip_prefix("token: ") {
                        printed_token = Some(t.trim().to_string());
                    }
                    if let Some(url) = line.strip_prefix("listening on ") {
                        break url.trim().to_string();
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "no `listening on` line within {START:?}; stderr:\n{}",
                        stderr.lock().unwrap()
                    );
                }
            }
        };
        let addr: SocketAddr = url
            .strip_prefix("http://")
            .and_then(|rest| rest.strip_suffix("/mcp"))
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("`listening on {url}` is not http://IP:PORT/mcp"));
        assert_ne!(addr.port(), 0, "the real port is printed: {url}");
        let connect = if addr.ip().is_unspecified() {
            SocketAddr::from(([127, 0, 0, 1], addr.port()))
        } else {
            addr
        };
        Server {
            child,
            addr,
            connect,
            url,
            printed_token,
            stderr,
            reader: Some(reader),
        }
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// One HTTP/1.1 request on its own connection; `Host` is the server's address
    /// unless `headers` gives one.
    /// An `initialize` request posted to /mcp with `headers`.
    fn initialize(&self, headers: &[(&str, &str)]) -> Reply {
        self.request("POST", "/mcp", headers, INITIALIZE)
    }

    fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Reply {
        let mut s = self.send(method, path, headers, body);
        let mut raw = Vec::new();
        s.read_to_end(&mut raw)
            .unwrap_or_else(|e| panic!("{method} {path}: no whole answer within {ANSWER:?}: {e}"));
        Reply::parse(&String::from_utf8_lossy(&raw))
    }

    /// Sends a request and hands back the connection, unread.
    fn send(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> TcpStream {
        let mut s = TcpStream::connect(self.connect).expect("connect");
        s.set_read_timeout(Some(ANSWER)).unwrap();
        s.set_write_timeout(Some(ANSWER)).unwrap();
        let mut head = format!("{method} {path} HTTP/1.1\r\n");
        if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
            head += &format!("Host: {}\r\n", self.connect);
        }
        for (k, v) in headers {
            head += &format!("{k}: {v}\r\n");
        }
        head += &format!(
            "Connection: close\r\nContent-Type: application/json\r\n\
             Accept: application/json, text/event-stream\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        s.write_all(head.as_bytes()).expect("send");
        s
    }

    /// A new MCP session (initialize, then initialized): the headers its requests carry.
    fn session(&self, bearer: &str) -> Vec<(String, String)> {
        let bearer = format!("Bearer {bearer}");
        let init = self.initialize(&[("Authorization", &bearer)]);
        assert_eq!(init.status, 200, "{init:?}");
        let headers = vec![
            ("Authorization".to_string(), bearer),
            (
                "Mcp-Session-Id".to_string(),
                init.header("mcp-session-id").expect("a session id"),
            ),
            ("MCP-Protocol-Version".to_string(), "2025-06-18".to_string()),
        ];
        let initialized = self.request(
            "POST",
            "/mcp",
            &borrowed(&headers),
            r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
        );
        assert!(initialized.status / 100 == 2, "{initialized:?}");
        headers
    }

    /// SIGTERM, then the exit status within [`STOP`].
    fn terminate(&mut self) -> ExitStatus {
        let ok = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(ok.success(), "kill -TERM failed");
        let deadline = Instant::now() + STOP;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // The server has exited, so its stderr ends: read to the end.
                if let Some(reader) = self.reader.take() {
                    reader.join().unwrap();
                }
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!(
                    "still running {STOP:?} after SIGTERM; stderr:\n{}",
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn borrowed(headers: &[(String, String)]) -> Vec<(&str, &str)> {
    headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

#[derive(Debug)]
struct Reply {
    status: u16,
    /// Header lines, lower-cased.
    headers: String,
    body: String,
}

impl Reply {
    fn parse(raw: &str) -> Reply {
        let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((raw, ""));
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("not an HTTP answer: {raw:?}"));
        Reply {
            status,
            headers: head.to_ascii_lowercase(),
            body: body.to_string(),
        }
    }

    /// Asserts the CORS headers: `origin` allowed, and `list` naming each of `names`.
    fn assert_cors(&self, origin: &str, list: &str, names: &[&str]) {
        assert_eq!(
            self.header("access-control-allow-origin").as_deref(),
            Some(origin)
        );
        assert!(
            self.header(list)
                .is_some_and(|h| names.iter().all(|n| h.contains(n))),
            "{self:?}"
        );
    }

    fn header(&self, name: &str) -> Option<String> {
        let prefix = format!("{name}: ");
        self.headers
            .lines()
            .find_map(|l| l.strip_prefix(&prefix).map(|v| v.trim().to_string()))
    }
}

#[test]
fn the_python_sdk_uses_every_kind_of_tool_over_http_and_a_wrong_token_is_refused() {
    let python = python_sdk();
    let token = fresh_token();
    let mut server = Server::start(&[("MCP_HTTP_TOKEN", &token)]);
    assert!(
        server.printed_token.is_none(),
        "a token from the environment is not printed"
    );
    let mut cmd = Command::new(&python);
    cmd.arg(workspace_root().join("ci/clients/python_mcp_check.py"))
        .args(["--http", &server.url, &token]);
    let out = output_within(cmd, CLIENT);
    let (status, stdout, stderr) = (out.status, text(&out.stdout), text(&out.stderr));
    assert!(
        status.success(),
        "python client failed\nstdout:\n{stdout}\nstderr:\n{stderr}\nserver:\n{}",
        server.stderr()
    );
    for line in [
        "ok    initialize: mcp-remote-exec",
        "ok    upload",
        "ok    proxmox_list_containers",
        "ok    a wrong token is refused with 401",
        "ok    no token is refused with 401",
        "all checks passed",
    ] {
        assert!(stdout.contains(line), "missing `{line}`:\n{stdout}");
    }
    let status = server.terminate();
    assert!(status.success(), "exit after SIGTERM: {status}");
    assert!(
        !server.stderr().contains(&token),
        "the token appears in the server's log:\n{}",
        server.stderr()
    );
}

#[test]
fn refusals_say_what_is_wrong_and_how_to_fix_it() {
    let token = fresh_token();
    let mut server = Server::start(&[
        ("MCP_HTTP_TOKEN", &token),
        ("MCP_HTTP_ALLOWED_ORIGINS", "https://app.example.com"),
    ]);
    let bearer = format!("Bearer {token}");
    let auth = ("Authorization", bearer.as_str());

    let missing = server.initialize(&[]);
    assert_eq!(missing.status, 401, "{missing:?}");
    assert!(
        missing.body.contains("Authorization: Bearer <token>"),
        "{missing:?}"
    );
    assert!(missing.body.contains("MCP_HTTP_TOKEN"), "{missing:?}");
    assert!(
        !missing.body.contains("jsonrpc"),
        "a plain-text body: {missing:?}"
    );
    assert!(
        missing
            .header("www-authenticate")
            .is_some_and(|v| v.starts_with("bearer"))
    );

    let wrong_token = format!("Bearer {token}x");
    let wrong = server.initialize(&[("Authorization", &wrong_token)]);
    assert_eq!(wrong.status, 401, "{wrong:?}");
    assert!(wrong.body.contains("wrong"), "{wrong:?}");
    let basic = server.initialize(&[("Authorization", &token)]);
    assert_eq!(basic.status, 401, "{basic:?}");

    let foreign = server.initialize(&[auth, ("Origin", "http://evil.example")]);
    assert_eq!(foreign.status, 403, "{foreign:?}");
    assert!(
        foreign.body.contains("MCP_HTTP_ALLOWED_ORIGINS"),
        "{foreign:?}"
    );
    let rebound = server.initialize(&[auth, ("Host", "evil.example")]);
    assert_eq!(rebound.status, 403, "{rebound:?}");
    assert!(rebound.body.contains(&server.url), "{rebound:?}");

    let elsewhere = server.request("POST", "/", &[auth], INITIALIZE);
    assert_eq!(elsewhere.status, 404, "{elsewhere:?}");
    assert!(elsewhere.body.contains("/mcp"), "{elsewhere:?}");

    for origin in [
        "http://localhost:6274",
        "http://127.0.0.1:3000",
        "https://app.example.com",
    ] {
        let ok = server.initialize(&[auth, ("Origin", origin)]);
        assert_eq!(ok.status, 200, "{origin}: {ok:?}");
        assert!(ok.body.contains(r#""name":"mcp-remote-exec""#), "{ok:?}");
        assert!(ok.header("mcp-session-id").is_some(), "{ok:?}");
    }

    // Browser clients on an allowed origin: the preflight needs no token, and answers
    // (refusals too) carry the CORS headers; a foreign origin gets none.
    let preflight = server.request(
        "OPTIONS",
        "/mcp",
        &[
            ("Origin", "http://localhost:6274"),
            ("Access-Control-Request-Method", "POST"),
            (
                "Access-Control-Request-Headers",
                "authorization, content-type",
            ),
        ],
        "",
    );
    assert_eq!(preflight.status, 204, "{preflight:?}");
    preflight.assert_cors(
        "http://localhost:6274",
        "access-control-allow-headers",
        &["authorization", "mcp-session-id"],
    );
    let from_page = server.initialize(&[auth, ("Origin", "https://app.example.com")]);
    assert_eq!(from_page.status, 200, "{from_page:?}");
    from_page.assert_cors(
        "https://app.example.com",
        "access-control-expose-headers",
        &["mcp-session-id"],
    );
    let unauthorized = server.initialize(&[("Origin", "http://[::1]:9")]);
    assert_eq!(unauthorized.status, 401, "{unauthorized:?}");
    assert!(unauthorized.header("access-control-allow-origin").is_some());
    assert!(foreign.header("access-control-allow-origin").is_none());
    let evil_preflight =
        server.request("OPTIONS", "/mcp", &[("Origin", "http://evil.example")], "");
    assert_eq!(evil_preflight.status, 403, "{evil_preflight:?}");

    assert!(server.terminate().success());
    assert!(!server.stderr().contains(&token), "{}", server.stderr());
}

#[test]
fn without_a_token_set_one_is_generated_printed_and_required() {
    let mut server = Server::start(&[]);
    let token = server
        .printed_token
        .clone()
        .unwrap_or_else(|| panic!("no `token:` line; stderr:\n{}", server.stderr()));
    assert!(token.len() >= 32, "a long token: {token}");
    let bearer = format!("Bearer {token}");
    let ok = server.initialize(&[("Authorization", &bearer)]);
    assert_eq!(ok.status, 200, "{ok:?}");
    assert!(ok.body.contains(r#""name":"mcp-remote-exec""#), "{ok:?}");
    let refused = server.initialize(&[]);
    assert_eq!(refused.status, 401, "{refused:?}");
    let status = server.terminate();
    assert!(status.success(), "exit after SIGTERM: {status}");
    assert_eq!(
        server.stderr().matches(&token).count(),
        1,
        "printed once:\n{}",
        server.stderr()
    );
}

#[test]
fn sigterm_stops_the_server_while_a_command_runs() {
    let token = fresh_token();
    let mut server = Server::start(&[("MCP_HTTP_TOKEN", &token)]);
    let session = server.session(&token);
    let headers = borrowed(&session);
    // A call that would run for ten minutes: its stream opens (the SSE priming event),
    // then the server is told to stop.
    let mut call = server.send(
        "POST",
        "/mcp",
        &headers,
        r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"ssh_exec_command","arguments":{"command":"sleep 600","timeout":300}}}"#,
    );
    let mut seen = String::new();
    let mut buf = [0u8; 4096];
    while !seen.contains("retry:") {
        let n = call.read(&mut buf).expect("the call's stream opens");
        assert!(n > 0, "the call's stream closed early: {seen}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert!(seen.starts_with("HTTP/1.1 200"), "{seen}");
    let status = server.terminate();
    assert!(
        status.success(),
        "exit after SIGTERM: {status}\n{}",
        server.stderr()
    );
    assert!(
        server.stderr().contains("told to stop"),
        "{}",
        server.stderr()
    );
    // The call's connection is closed, not left hanging.
    let mut rest = Vec::new();
    call.read_to_end(&mut rest).expect("the connection ends");
}

#[test]
fn http_is_a_flag_of_serve_only() {
    for (args, said) in [
        (
            ["check", "--http", "127.0.0.1:0"],
            "unexpected argument '--http'",
        ),
        (
            ["--http", "127.0.0.1:0", "check"],
            "the argument '--http' cannot be used with 'check'",
        ),
        (["serve", "--http", "8080"], "127.0.0.1:8080"),
    ] {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_mcp-remote-exec"));
        cmd.args(args).env_clear();
        let out = output_within(cmd, ANSWER);
        let stderr = text(&out.stderr);
        assert!(!out.status.success(), "{args:?}");
        assert!(stderr.contains(said), "{stderr}");
    }
}

#[test]
fn another_address_than_loopback_is_served_with_a_warning() {
    // Listening on every interface; the test itself connects through 127.0.0.1 only.
    let token = fresh_token();
    let server = Server::start_on("0.0.0.0:0", &[("MCP_HTTP_TOKEN", &token)]);
    assert!(server.addr.ip().is_unspecified(), "{}", server.url);
    let log = server.stderr();
    assert!(
        log.contains("WARNING: 0.0.0.0:") && log.contains("not a loopback address"),
        "{log}"
    );
    // Clients reach it by the machine's name: the Host check is for loopback only,
    // the token and the Origin check still apply.
    let bearer = format!("Bearer {token}");
    let named = [
        ("Authorization", bearer.as_str()),
        ("Host", "pve-mcp.lan:8080"),
    ];
    let ok = server.initialize(&named);
    assert_eq!(ok.status, 200, "{ok:?}");
    let refused = server.initialize(&[("Host", "pve-mcp.lan:8080")]);
    assert_eq!(refused.status, 401, "{refused:?}");
    let foreign = server.initialize(&[named[0], named[1], ("Origin", "http://evil.example")]);
    assert_eq!(foreign.status, 403, "{foreign:?}");
}

#[test]
fn sessions_share_the_connection_to_the_host() {
    let token = fresh_token();
    let mut server = Server::start(&[("MCP_HTTP_TOKEN", &token)]);
    for n in 0..3 {
        let session = server.session(&token);
        let call = format!(
            r#"{{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{{"name":"ssh_exec_command","arguments":{{"command":"echo session {n}"}}}}}}"#
        );
        let r = server.request("POST", "/mcp", &borrowed(&session), &call);
        assert_eq!(r.status, 200, "{r:?}");
        assert!(
            r.body.contains(&format!(r#""stdout":"session {n}\n""#)),
            "{r:?}"
        );
    }
    // The pool logs each SSH connection it opens.
    assert!(server.terminate().success());
    let log = server.stderr();
    assert_eq!(
        log.matches("connected to root@127.0.0.1:").count(),
        1,
        "three sessions, one SSH connection:\n{log}"
    );
}
