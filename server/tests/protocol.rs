//! JSON-RPC protocol errors through the built binary (`--fake-pve`), raw lines on its
//! stdin: every bad line gets an error answer and the server keeps serving.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// rmcp's limit for one line, which the server keeps.
const LIMIT: usize = 16 * 1024 * 1024;

struct Server {
    child: Child,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
    next_id: i64,
}

impl Server {
    async fn start() -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_mcp-remote-exec"))
            .arg("--fake-pve")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("the server binary starts");
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        Server {
            child,
            stdin,
            stdout,
            next_id: 100,
        }
    }

    /// Started and initialized.
    async fn ready() -> Server {
        let mut s = Server::start().await;
        s.initialize().await;
        s
    }

    async fn initialize(&mut self) {
        let r = self
            .request(
                "initialize",
                json!({
                    "protocolVersion": "2025-06-18",
                    "capabilities": {},
                    "clientInfo": {"name": "protocol-test", "version": "0"}
                }),
            )
            .await;
        assert!(r["result"]["serverInfo"].is_object(), "{r}");
        self.send_value(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await;
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.stdin.write_all(bytes).await.unwrap();
        self.stdin.flush().await.unwrap();
    }

    async fn send_value(&mut self, v: &Value) {
        let mut line = serde_json::to_vec(v).unwrap();
        line.push(b'\n');
        self.send(&line).await;
    }

    /// The next message from the server.
    async fn recv(&mut self) -> Value {
        let line = tokio::time::timeout(Duration::from_secs(30), self.stdout.next_line())
            .await
            .expect("the server answers within 30 s")
            .unwrap()
            .expect("the server is still running");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
    }

    /// Sends a request and returns its answer (skipping notifications).
    async fn request(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        self.send_value(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await;
        self.answer_to(json!(id)).await
    }

    /// The answer with this id. `Value::Null` stands for an error on a line whose id
    /// could not be read: MCP omits the `id` then (JSON-RPC 2.0 wrote `"id": null`,
    /// which MCP's `RequestId`, a string or an integer, cannot hold).
    async fn answer_to(&mut self, id: Value) -> Value {
        loop {
            let m = self.recv().await;
            if m.get("method").is_some() && m.get("id").is_none() {
                continue;
            }
            if id.is_null() {
                assert!(m.get("id").is_none(), "an answer to a request: {m}");
            }
            assert_eq!(m["id"], id, "an answer to another request: {m}");
            return m;
        }
    }

    /// The answer with this id, an error with JSON-RPC error code `code`.
    async fn error_answer(&mut self, id: Value, code: i64) -> Value {
        let m = self.answer_to(id).await;
        assert_eq!(error_code(&m), code, "{m}");
        m
    }

    /// `tools/list` still answers with the tools.
    async fn still_serving(&mut self) {
        let r = self.request("tools/list", json!({})).await;
        let tools = r["result"]["tools"].as_array().expect("a tool list");
        assert!(tools.iter().any(|t| t["name"] == "ssh_exec_command"), "{r}");
    }

    fn peak_memory_kib(&self) -> u64 {
        let pid = self.child.id().unwrap();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmHWM in /proc/PID/status")
    }

    /// Closes stdin: the server ends, with success.
    /// [`Server::still_serving`], then [`Server::finish`].
    async fn finish_serving(mut self) {
        self.still_serving().await;
        self.finish().await;
    }

    async fn finish(mut self) {
        drop(self.stdin);
        let status = tokio::time::timeout(Duration::from_secs(20), self.child.wait())
            .await
            .expect("the server ends after its input closes")
            .unwrap();
        assert!(status.success(), "{status}");
    }
}

fn error_code(m: &Value) -> i64 {
    m["error"]["code"]
        .as_i64()
        .unwrap_or_else(|| panic!("not an error answer: {m}"))
}

#[tokio::test]
async fn a_line_that_is_not_json_is_a_parse_error() {
    let mut s = Server::start().await;
    // Before initialize too: answered, and initialize still works.
    s.send(b"hello\n").await;
    s.error_answer(Value::Null, -32700).await;
    s.initialize().await;
    for garbage in [
        &b"not json at all\n"[..],
        b"{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\n",
        b"\xff\xfe{}\n",
        b"{'single': 'quotes'}\r\n",
    ] {
        s.send(garbage).await;
        let m = s.error_answer(Value::Null, -32700).await;
        assert_eq!(m["jsonrpc"], "2.0");
        assert!(
            m["error"]["message"].as_str().unwrap().contains("not JSON"),
            "{m}"
        );
        s.still_serving().await;
    }
    // Blank lines are not messages: no answer at all (the next answer is tools/list's).
    s.send(b"\n  \n").await;
    s.finish_serving().await;
}

#[tokio::test]
async fn json_that_is_not_a_message_is_an_invalid_request() {
    let mut s = Server::ready().await;
    for (line, id) in [
        (
            json!([{"jsonrpc": "2.0", "id": 1, "method": "tools/list"}]),
            Value::Null,
        ),
        (json!(42), Value::Null),
        (
            json!({"jsonrpc": "1.0", "id": 9, "method": "tools/list"}),
            json!(9),
        ),
        (json!({"jsonrpc": "2.0", "id": "x"}), json!("x")),
        (
            json!({"jsonrpc": "2.0", "id": null, "method": "tools/list"}),
            Value::Null,
        ),
    ] {
        s.send_value(&line).await;
        let m = s.answer_to(id).await;
        assert_eq!(error_code(&m), -32600, "{line}: {m}");
        s.still_serving().await;
    }
    s.finish().await;
}

/// A `tools/call` line of more than the limit, `id` first or last.
fn oversized_call(id: i64, id_last: bool, size: usize) -> Vec<u8> {
    let head = if id_last {
        String::from(r#"{"jsonrpc":"2.0","method":"tools/call","#)
    } else {
        format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","#)
    };
    let mut line = head.into_bytes();
    line.extend_from_slice(br#""params":{"name":"ssh_exec_command","arguments":{"command":"echo "#);
    line.extend(std::iter::repeat_n(b'a', size));
    line.extend_from_slice(br#""}}"#);
    if id_last {
        line.extend_from_slice(format!(r#","id":{id}}}"#).as_bytes());
    } else {
        line.push(b'}');
    }
    line.push(b'\n');
    line
}

#[tokio::test]
async fn an_oversized_request_is_answered_and_memory_stays_bounded() {
    let mut s = Server::ready().await;
    s.still_serving().await;
    let baseline = s.peak_memory_kib();
    s.send(&oversized_call(7, false, LIMIT)).await;
    let m = s.error_answer(json!(7), -32600).await;
    let message = m["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(&LIMIT.to_string()) && message.contains("16 MiB"),
        "{message}"
    );
    assert_eq!(m["error"]["data"]["limit_bytes"], LIMIT);
    s.still_serving().await;

    // The id is found even after the oversized params.
    s.send(&oversized_call(8, true, LIMIT)).await;
    s.error_answer(json!(8), -32600).await;
    s.still_serving().await;

    // A line eight times as long raises the peak by far less than its size: past the
    // limit it is scanned for the id and discarded, never kept. (How much a buffer of
    // up to the limit costs depends on the allocator; it is not what is measured.)
    s.send(&oversized_call(9, false, 8 * LIMIT)).await;
    s.error_answer(json!(9), -32600).await;
    s.still_serving().await;
    let peak = s.peak_memory_kib();
    let mib = |kib: u64| kib / 1024;
    assert!(
        peak < baseline + 4 * (LIMIT as u64 / 1024),
        "peak memory: {} MiB at start, {} MiB after a line of {} MiB",
        mib(baseline),
        mib(peak),
        (8 * LIMIT) >> 20
    );
    // Exactly at the limit, a line is read (and this one is a bad call: -32602).
    let at_limit = {
        let mut l = br#"{"jsonrpc":"2.0","id":10,"method":"tools/call","params":{"x":""#.to_vec();
        l.resize(LIMIT - 4, b'b');
        l.extend_from_slice(br#""}}"#);
        assert_eq!(l.len(), LIMIT - 1);
        l.push(b' ');
        l.push(b'\n');
        l
    };
    s.send(&at_limit).await;
    s.error_answer(json!(10), -32602).await;
    s.finish_serving().await;
}

#[tokio::test]
async fn bad_tools_call_params_are_invalid_params() {
    let mut s = Server::ready().await;
    for (params, names) in [
        (json!({"arguments": {"command": "ls"}}), "name"),
        (
            json!({"name": "ssh_exec_command", "arguments": "ls"}),
            "invalid type",
        ),
        (json!({"name": 5, "arguments": {}}), "invalid type"),
        (json!("ssh_exec_command"), "must be a JSON object"),
        (json!([1, 2]), "must be a JSON object"),
    ] {
        let r = s.request("tools/call", params.clone()).await;
        assert_eq!(error_code(&r), -32602, "{params}: {r}");
        let message = r["error"]["message"].as_str().unwrap();
        assert!(message.contains(names), "{params}: {message}");
        s.still_serving().await;
    }
    // Without params at all.
    s.send(b"{\"jsonrpc\":\"2.0\",\"id\":\"np\",\"method\":\"tools/call\"}\n")
        .await;
    s.error_answer(json!("np"), -32602).await;
    // An unknown tool is invalid params too (rmcp's own answer), never "method not found".
    let r = s
        .request(
            "tools/call",
            json!({"name": "no_such_tool", "arguments": {}}),
        )
        .await;
    assert_eq!(error_code(&r), -32602, "{r}");
    // An unknown method is still method-not-found.
    let r = s.request("no/such/method", json!({})).await;
    assert_eq!(error_code(&r), -32601, "{r}");
    // Bad *tool arguments* are a tool error, not a protocol error.
    let r = s
        .request(
            "tools/call",
            json!({"name": "ssh_exec_command", "arguments": {"command": "ls", "timeout": 0}}),
        )
        .await;
    assert_eq!(r["result"]["isError"], true, "{r}");
    s.finish_serving().await;
}
