//! The stdio transport: newline-delimited JSON-RPC 2.0 on stdin/stdout, answering the
//! protocol errors that rmcp's own stdio transport drops or misfiles.
//!
//! rmcp 3.11's `AsyncRwTransport` ignores a line that is not JSON, drops a line longer
//! than 16 MiB without an answer, and lets a request for a method it knows whose params
//! do not fit (e.g. `tools/call` without `name`) fall through to a custom request, which
//! the handler answers with -32601 Method not found. This transport reads the lines
//! itself, with the same bound, and answers (an answer to a line whose id cannot be
//! read has no `id`: MCP omits it, where plain JSON-RPC 2.0 wrote `"id": null`):
//! - a line that is not JSON: -32700 Parse error;
//! - a line longer than [`MAX_LINE_BYTES`]: -32600 Invalid Request naming the limit, with
//!   the request's id when its top-level `id` could be read while the line went by (no
//!   more than the limit is ever buffered: the rest is scanned and discarded);
//! - JSON that is not a JSON-RPC 2.0 message (a batch, a scalar, a wrong `jsonrpc`, a bad
//!   id): -32600 Invalid Request, with the id when there is a valid one;
//! - a request for a method rmcp knows whose params do not fit: -32602 Invalid params,
//!   with the id and the reason.
//!
//! Malformed notifications and responses are never answered (a notification gets no
//! response in JSON-RPC, and answering a response invites an error storm); they are
//! logged. Everything else goes to rmcp unchanged. One writer task owns the output, so
//! rmcp's messages and these answers are whole lines that never interleave.

use std::io;

use rmcp::RoleServer;
use rmcp::model::{
    self, ClientJsonRpcMessage, ClientRequest, ConstString, ErrorData, JsonRpcMessage, RequestId,
    ServerJsonRpcMessage,
};
use rmcp::transport::Transport;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// The longest line (one JSON-RPC message, newline excluded) accepted: rmcp's own bound.
pub const MAX_LINE_BYTES: usize = rmcp::transport::async_rw::DEFAULT_MAX_LINE_LENGTH;

/// Messages decoded ahead of the service (bounded: back-pressure on the reader).
const INCOMING_QUEUE: usize = 16;
/// Lines waiting for the writer.
const OUTGOING_QUEUE: usize = 64;
/// A line buffer grown past this is released after its line instead of kept.
const KEEP_BUFFER_BYTES: usize = 1 << 20;

/// The server's transport on the process's stdin and stdout.
pub fn stdio() -> LineTransport {
    LineTransport::new(tokio::io::stdin(), tokio::io::stdout())
}

/// Newline-delimited JSON-RPC over any reader and writer (see the module docs). Must
/// be created inside a Tokio runtime: it spawns its reader and writer tasks.
pub struct LineTransport {
    incoming: mpsc::Receiver<ClientJsonRpcMessage>,
    out: mpsc::Sender<Outgoing>,
    reader: JoinHandle<()>,
}

enum Outgoing {
    /// A whole line (newline included); `done` hears how writing it went.
    Line {
        bytes: Vec<u8>,
        done: Option<oneshot::Sender<io::Result<()>>>,
    },
    /// Everything before has been written and flushed; stop.
    Close(oneshot::Sender<()>),
}

impl LineTransport {
    pub fn new<R, W>(read: R, write: W) -> Self
    where
        R: AsyncRead + Unpin + Send + 'static,
        W: AsyncWrite + Unpin + Send + 'static,
    {
        Self::with_max_line(read, write, MAX_LINE_BYTES)
    }

    /// Like [`LineTransport::new`] with another line limit (bytes, newline excluded).
    pub fn with_max_line<R, W>(read: R, write: W, max_line: usize) -> Self
    where
        R: AsyncRead + Unpin + Send + 'static,
        W: AsyncWrite + Unpin + Send + 'static,
    {
        let (out, out_rx) = mpsc::channel(OUTGOING_QUEUE);
        let (in_tx, incoming) = mpsc::channel(INCOMING_QUEUE);
        tokio::spawn(write_loop(write, out_rx));
        let reader = tokio::spawn(read_loop(read, max_line, in_tx, out.clone()));
        LineTransport {
            incoming,
            out,
            reader,
        }
    }
}

impl Drop for LineTransport {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

fn closed() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "the output is closed")
}

fn encode(message: &ServerJsonRpcMessage) -> io::Result<Vec<u8>> {
    let mut bytes = serde_json::to_vec(message).map_err(io::Error::other)?;
    bytes.push(b'\n');
    Ok(bytes)
}

impl Transport<RoleServer> for LineTransport {
    type Error = io::Error;

    fn send(
        &mut self,
        item: ServerJsonRpcMessage,
    ) -> impl Future<Output = io::Result<()>> + Send + 'static {
        let out = self.out.clone();
        let bytes = encode(&item);
        async move {
            let (done, written) = oneshot::channel();
            out.send(Outgoing::Line {
                bytes: bytes?,
                done: Some(done),
            })
            .await
            .map_err(|_| closed())?;
            written.await.map_err(|_| closed())?
        }
    }

    async fn receive(&mut self) -> Option<ClientJsonRpcMessage> {
        self.incoming.recv().await
    }

    async fn close(&mut self) -> io::Result<()> {
        self.reader.abort();
        self.incoming.close();
        let (ack, flushed) = oneshot::channel();
        if self.out.send(Outgoing::Close(ack)).await.is_ok() {
            let _ = flushed.await;
        }
        Ok(())
    }
}

/// Writes lines one at a time, each flushed. Ends on a write error (later sends then
/// fail: the output is gone), on `Close`, or when every sender is gone.
async fn write_loop<W: AsyncWrite + Unpin>(mut write: W, mut rx: mpsc::Receiver<Outgoing>) {
    while let Some(item) = rx.recv().await {
        match item {
            Outgoing::Line { bytes, done } => {
                let result = match write.write_all(&bytes).await {
                    Ok(()) => write.flush().await,
                    Err(e) => Err(e),
                };
                let failed = result.is_err();
                match done {
                    Some(done) => {
                        let _ = done.send(result);
                    }
                    None => {
                        if let Err(e) = result {
                            tracing::error!("cannot write a protocol error answer: {e}");
                        }
                    }
                }
                if failed {
                    return;
                }
            }
            Outgoing::Close(ack) => {
                let _ = write.flush().await;
                let _ = ack.send(());
                return;
            }
        }
    }
}

/// Reads lines, hands messages to the service and answers the bad ones. Ends at EOF,
/// on a read error, or when the service is gone.
async fn read_loop<R: AsyncRead + Unpin>(
    read: R,
    max_line: usize,
    to_service: mpsc::Sender<ClientJsonRpcMessage>,
    out: mpsc::Sender<Outgoing>,
) {
    let mut lines = LineReader::new(read, max_line);
    loop {
        let verdict = match lines.next().await {
            Ok(Some(Line::Complete(line))) => decode(line),
            Ok(Some(Line::Oversized { id })) => {
                tracing::warn!(
                    "refused a message of more than {max_line} bytes (id {})",
                    id.as_ref()
                        .map(|i| i.to_string())
                        .unwrap_or_else(|| "unknown".into())
                );
                Verdict::Answer(oversized(max_line, id))
            }
            Ok(None) => return,
            Err(e) => {
                tracing::error!("cannot read the input: {e}");
                return;
            }
        };
        match verdict {
            Verdict::Forward(message) => {
                if to_service.send(message).await.is_err() {
                    return;
                }
            }
            Verdict::Answer(message) => {
                let Ok(bytes) = encode(&message) else {
                    continue;
                };
                if out
                    .send(Outgoing::Line { bytes, done: None })
                    .await
                    .is_err()
                {
                    return;
                }
            }
            Verdict::Ignore => {}
        }
    }
}

fn oversized(max_line: usize, id: Option<RequestId>) -> ServerJsonRpcMessage {
    let error = ErrorData::invalid_request(
        format!(
            "Invalid Request: the message is longer than the limit of {max_line} bytes ({} MiB) \
             for one line, and was discarded",
            max_line / (1024 * 1024)
        ),
        Some(serde_json::json!({ "limit_bytes": max_line })),
    );
    ServerJsonRpcMessage::error(error, id)
}

/// One line read with the bound.
enum Line<'a> {
    /// The line without its `\n` (and `\r`).
    Complete(&'a [u8]),
    /// The line was longer than the limit; its top-level `id`, when one was seen.
    Oversized { id: Option<RequestId> },
}

/// Reads `\n`-terminated lines, never buffering more than the limit: the rest of an
/// oversized line is only scanned for its id and discarded.
struct LineReader<R> {
    read: BufReader<R>,
    buf: Vec<u8>,
    max_line: usize,
}

impl<R: AsyncRead + Unpin> LineReader<R> {
    fn new(read: R, max_line: usize) -> Self {
        LineReader {
            read: BufReader::with_capacity(64 * 1024, read),
            buf: Vec::new(),
            max_line,
        }
    }

    /// The next line; `None` at end of input. A last line without `\n` counts.
    async fn next(&mut self) -> io::Result<Option<Line<'_>>> {
        if self.buf.capacity() > KEEP_BUFFER_BYTES {
            self.buf = Vec::new();
        }
        self.buf.clear();
        let mut scan: Option<IdScanner> = None;
        loop {
            let (consumed, end) = {
                let available = self.read.fill_buf().await?;
                if available.is_empty() {
                    return Ok(match scan {
                        Some(s) => Some(Line::Oversized { id: s.finish() }),
                        None if self.buf.is_empty() => None,
                        None => Some(Line::Complete(trim_eol(&self.buf))),
                    });
                }
                let newline = available.iter().position(|b| *b == b'\n');
                let take = newline.map_or(available.len(), |i| i + 1);
                let content = newline.unwrap_or(take);
                let chunk = &available[..take];
                match scan.as_mut() {
                    Some(s) => s.feed(chunk),
                    None if self.buf.len() + content > self.max_line => {
                        let mut s = IdScanner::default();
                        s.feed(&self.buf);
                        s.feed(chunk);
                        self.buf = Vec::new();
                        scan = Some(s);
                    }
                    None => self.buf.extend_from_slice(chunk),
                }
                (take, newline.is_some())
            };
            self.read.consume(consumed);
            if end {
                return Ok(Some(match scan {
                    Some(s) => Line::Oversized { id: s.finish() },
                    None => Line::Complete(trim_eol(&self.buf)),
                }));
            }
        }
    }
}

fn trim_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Finds the top-level `"id"` of a JSON object fed in pieces, in constant memory: for
/// the answer to a line too long to parse. Only a plain `"id"` key (no escapes) and a
/// scalar value count; anything else gives `None`.
#[derive(Default)]
struct IdScanner {
    depth: usize,
    started: bool,
    in_string: bool,
    escaped: bool,
    /// At depth 1, the next string is a key.
    want_key: bool,
    /// The key being read (at most 3 bytes kept) and whether it grew longer.
    key: Option<(Vec<u8>, bool)>,
    /// The key just read was `id`.
    key_is_id: bool,
    /// The raw value of `id`, while it is read.
    value: Option<Vec<u8>>,
    result: Option<Option<RequestId>>,
}

const MAX_ID_BYTES: usize = 256;

impl IdScanner {
    fn feed(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if self.result.is_some() {
                return;
            }
            self.step(b);
        }
    }

    fn done(&mut self, id: Option<RequestId>) {
        self.result = Some(id);
    }

    fn finish_value(&mut self) {
        let value = self.value.take().unwrap_or_default();
        self.done(serde_json::from_slice(&value).ok());
    }

    fn step(&mut self, b: u8) {
        if self.in_string {
            let closing = !self.escaped && b == b'"';
            self.escaped = !self.escaped && b == b'\\';
            if let Some(v) = self.value.as_mut() {
                v.push(b);
                if v.len() > MAX_ID_BYTES {
                    return self.done(None);
                }
            }
            if closing {
                self.in_string = false;
                if self.value.is_some() {
                    return self.finish_value();
                }
                if let Some((key, long)) = self.key.take() {
                    self.key_is_id = !long && key == b"id";
                }
            } else if let Some((key, long)) = self.key.as_mut() {
                if key.len() < 3 {
                    key.push(b);
                } else {
                    *long = true;
                }
            }
            return;
        }
        if b.is_ascii_whitespace() {
            if self.value.as_ref().is_some_and(|v| !v.is_empty()) {
                self.finish_value();
            }
            return;
        }
        if !self.started {
            self.started = true;
            if b != b'{' {
                return self.done(None);
            }
        }
        if let Some(v) = self.value.as_mut() {
            match b {
                b',' | b'}' => return self.finish_value(),
                b'{' | b'[' => return self.done(None),
                b'"' if v.is_empty() => {
                    v.push(b);
                    self.in_string = true;
                    return;
                }
                _ => {
                    v.push(b);
                    if v.len() > MAX_ID_BYTES {
                        self.done(None);
                    }
                    return;
                }
            }
        }
        match b {
            b'"' => {
                self.in_string = true;
                if self.depth == 1 && self.want_key {
                    self.key = Some((Vec::new(), false));
                    self.want_key = false;
                }
            }
            b'{' | b'[' => {
                self.depth += 1;
                if self.depth == 1 {
                    self.want_key = true;
                }
            }
            b'}' | b']' => {
                self.depth = self.depth.saturating_sub(1);
                if self.depth == 0 {
                    self.done(None);
                }
            }
            b':' if self.depth == 1 && std::mem::take(&mut self.key_is_id) => {
                self.value = Some(Vec::new());
            }
            b',' if self.depth == 1 => self.want_key = true,
            _ => {}
        }
    }

    fn finish(mut self) -> Option<RequestId> {
        if self.result.is_none() && self.value.is_some() && !self.in_string {
            self.finish_value();
        }
        self.result.flatten()
    }
}

/// What to do with one line.
enum Verdict {
    Forward(ClientJsonRpcMessage),
    Answer(ServerJsonRpcMessage),
    Ignore,
}

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

fn decode(line: &[u8]) -> Verdict {
    let line = line.strip_prefix(UTF8_BOM).unwrap_or(line);
    if line.iter().all(u8::is_ascii_whitespace) {
        return Verdict::Ignore;
    }
    let typed_error = match serde_json::from_slice::<ClientJsonRpcMessage>(line) {
        Ok(message) => return check_params(message),
        Err(e) => e,
    };
    let value = match typed_error.classify() {
        serde_json::error::Category::Syntax | serde_json::error::Category::Eof => None,
        _ => serde_json::from_slice::<Value>(line).ok(),
    };
    let Some(value) = value else {
        let e = serde_json::from_slice::<serde::de::IgnoredAny>(line)
            .err()
            .unwrap_or(typed_error);
        tracing::debug!("answering a line that is not JSON: {e}");
        return Verdict::Answer(ServerJsonRpcMessage::error(
            ErrorData::parse_error(format!("Parse error: the line is not JSON ({e})"), None),
            None,
        ));
    };
    not_a_message(&value, &typed_error)
}

/// JSON that rmcp could not read as a message.
fn not_a_message(value: &Value, error: &serde_json::Error) -> Verdict {
    let invalid = |problem: String, id: Option<RequestId>| {
        Verdict::Answer(ServerJsonRpcMessage::error(
            ErrorData::invalid_request(format!("Invalid Request: {problem}"), None),
            id,
        ))
    };
    let object = match value {
        Value::Object(o) => o,
        Value::Array(_) => {
            return invalid(
                "batches are not supported; send one JSON-RPC message per line".into(),
                None,
            );
        }
        _ => return invalid("a JSON-RPC message is a JSON object".into(), None),
    };
    let has = |k: &str| object.contains_key(k);
    if has("method") && !has("id") {
        tracing::debug!("ignoring a notification rmcp cannot read: {error}");
        return Verdict::Ignore;
    }
    if !has("method") && (has("result") || has("error")) {
        tracing::warn!("ignoring a response rmcp cannot read: {error}");
        return Verdict::Ignore;
    }
    let id = object
        .get("id")
        .and_then(|v| serde_json::from_value::<RequestId>(v.clone()).ok());
    // A well-formed request for a known method whose params are not even an object.
    if let Some(id) = &id
        && object.get("jsonrpc").and_then(Value::as_str) == Some("2.0")
        && !has("result")
        && !has("error")
        && let Some(method) = object.get("method").and_then(Value::as_str)
        && let Some(reason) = params_error(method, object.get("params"))
    {
        return invalid_params(method, &reason, id.clone());
    }
    if object.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return invalid(r#"`jsonrpc` must be "2.0""#.into(), id);
    }
    invalid(format!("not a JSON-RPC 2.0 message ({error})"), id)
}

/// A request for a method rmcp knows that still became a custom request had params
/// that do not fit that method.
fn check_params(message: ClientJsonRpcMessage) -> Verdict {
    if let JsonRpcMessage::Request(request) = &message
        && let ClientRequest::CustomRequest(custom) = &request.request
        && let Some(reason) = params_error(&custom.method, custom.params.as_ref())
    {
        return invalid_params(&custom.method, &reason, request.id.clone());
    }
    Verdict::Forward(message)
}

fn invalid_params(method: &str, reason: &str, id: RequestId) -> Verdict {
    tracing::debug!("invalid params for {method}: {reason}");
    Verdict::Answer(ServerJsonRpcMessage::error(
        ErrorData::invalid_params(format!("Invalid params for `{method}`: {reason}"), None),
        Some(id),
    ))
}

/// Why `params` do not fit `method`, when rmcp has a typed request for `method`.
/// (Deprecated methods such as `logging/setLevel` are still rmcp's to serve.)
#[allow(deprecated)]
fn params_error(method: &str, params: Option<&Value>) -> Option<String> {
    let mut request = serde_json::Map::new();
    request.insert("method".into(), Value::String(method.into()));
    if let Some(p) = params {
        request.insert("params".into(), p.clone());
    }
    let request = Value::Object(request);
    let not_an_object = params.is_some_and(|p| !p.is_object());
    macro_rules! typed {
        ($($req:ident: $m:ident),* $(,)?) => {
            $(
                if method == <model::$m as ConstString>::VALUE {
                    if not_an_object {
                        return Some("`params` must be a JSON object".into());
                    }
                    return Some(match serde_json::from_value::<model::$req>(request) {
                        Err(e) => e.to_string(),
                        Ok(_) => "they do not match the method's parameters".into(),
                    });
                }
            )*
        };
    }
    typed!(
        PingRequest: PingRequestMethod,
        InitializeRequest: InitializeResultMethod,
        DiscoverRequest: DiscoverRequestMethod,
        CompleteRequest: CompleteRequestMethod,
        SetLevelRequest: SetLevelRequestMethod,
        GetPromptRequest: GetPromptRequestMethod,
        ListPromptsRequest: ListPromptsRequestMethod,
        ListResourcesRequest: ListResourcesRequestMethod,
        ListResourceTemplatesRequest: ListResourceTemplatesRequestMethod,
        ReadResourceRequest: ReadResourceRequestMethod,
        SubscriptionsListenRequest: SubscriptionsListenRequestMethod,
        SubscribeRequest: SubscribeRequestMethod,
        UnsubscribeRequest: UnsubscribeRequestMethod,
        CallToolRequest: CallToolRequestMethod,
        ListToolsRequest: ListToolsRequestMethod,
        GetTaskRequest: GetTaskMethod,
        UpdateTaskRequest: UpdateTaskMethod,
        CancelTaskRequest: CancelTaskMethod,
        ListSkillsRequest: ListSkillsRequestMethod,
        GetSkillRequest: GetSkillRequestMethod,
        ReadResourceDirectoryRequest: ReadResourceDirectoryRequestMethod,
    );
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use tokio::io::AsyncReadExt;

    fn id_of(text: &str) -> Option<RequestId> {
        let mut s = IdScanner::default();
        s.feed(text.as_bytes());
        s.finish()
    }

    fn num(n: i64) -> Option<RequestId> {
        Some(RequestId::Number(n))
    }

    #[test]
    fn the_scanner_finds_the_top_level_id() {
        let cases: &[(&str, Option<RequestId>)] = &[
            (r#"{"jsonrpc":"2.0","id":7,"method":"tools/call"}"#, num(7)),
            (
                r#"{"method":"x","params":{"id":5,"a":[{"id":6}]},"id":8}"#,
                num(8),
            ),
            (
                r#" { "id" : "a\"b" , "x":1}"#,
                Some(RequestId::String("a\"b".into())),
            ),
            (r#"{"params":{"s":"\"id\":9"},"id":-3}"#, num(-3)),
            (r#"{"idx":1,"iden":2,"id":3}"#, num(3)),
            (r#"{"x":"}","id":4}"#, num(4)),
            (r#"{"id":12"#, num(12)),
            (r#"{"id":null}"#, None),
            (r#"{"id":{"n":1}}"#, None),
            (r#"{"id":[1]}"#, None),
            (r#"{"method":"x","params":{"id":5}}"#, None),
            (r#"[{"id":1}]"#, None),
            (r#"{"params":"#, None),
            ("not json", None),
        ];
        for (text, want) in cases {
            assert_eq!(&id_of(text), want, "{text}");
            // Fed one byte at a time, the answer is the same.
            let mut s = IdScanner::default();
            for b in text.as_bytes() {
                s.feed(std::slice::from_ref(b));
            }
            assert_eq!(&s.finish(), want, "{text} byte by byte");
        }
    }

    fn code(v: &Verdict) -> Option<(i32, Option<RequestId>)> {
        match v {
            Verdict::Answer(JsonRpcMessage::Error(e)) => Some((e.error.code.0, e.id.clone())),
            _ => None,
        }
    }

    #[test]
    fn lines_are_told_apart() {
        let forward = |line: &str| matches!(decode(line.as_bytes()), Verdict::Forward(_));
        assert!(forward(
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","arguments":{}}}"#
        ));
        assert!(forward(r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#));
        assert!(forward(
            "\u{feff}{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}"
        ));
        // A method rmcp does not know is rmcp's to answer (-32601).
        assert!(forward(
            r#"{"jsonrpc":"2.0","id":1,"method":"x/y","params":{}}"#
        ));
        let cases: &[(&str, i32, Option<RequestId>)] = &[
            ("hello", -32700, None),
            (r#"{"jsonrpc":"2.0","id":1,"method":"#, -32700, None),
            ("{\"a\":\"\u{1}\"}", -32700, None),
            ("[]", -32600, None),
            ("5", -32600, None),
            (
                r#"{"jsonrpc":"1.0","id":4,"method":"ping"}"#,
                -32600,
                num(4),
            ),
            (
                r#"{"jsonrpc":"2.0","id":null,"method":"ping"}"#,
                -32600,
                None,
            ),
            (
                r#"{"jsonrpc":"2.0","id":"q","x":1}"#,
                -32600,
                Some(RequestId::String("q".into())),
            ),
            (
                r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{}}"#,
                -32602,
                num(2),
            ),
            (
                r#"{"jsonrpc":"2.0","id":3,"method":"tools/call"}"#,
                -32602,
                num(3),
            ),
            (
                r#"{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"x","arguments":"ls"}}"#,
                -32602,
                num(5),
            ),
            (
                r#"{"jsonrpc":"2.0","id":6,"method":"tools/call","params":[1]}"#,
                -32602,
                num(6),
            ),
            (
                r#"{"jsonrpc":"2.0","id":7,"method":"initialize","params":{}}"#,
                -32602,
                num(7),
            ),
        ];
        for (line, want, id) in cases {
            assert_eq!(
                code(&decode(line.as_bytes())),
                Some((*want, id.clone())),
                "{line}"
            );
        }
        for line in [
            "",
            "  \t",
            r#"{"jsonrpc":"2.0","method":5}"#,
            r#"{"jsonrpc":"1.0","method":"notifications/initialized"}"#,
            r#"{"jsonrpc":"2.0","id":9,"result":{},"error":{}}"#,
        ] {
            assert!(matches!(decode(line.as_bytes()), Verdict::Ignore), "{line}");
        }
    }

    #[test]
    fn invalid_params_name_the_reason_of_the_right_method() {
        let v =
            decode(br#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"arguments":{}}}"#);
        let Verdict::Answer(JsonRpcMessage::Error(e)) = v else {
            panic!("not an answer");
        };
        assert!(
            e.error.message.contains("tools/call"),
            "{}",
            e.error.message
        );
        assert!(e.error.message.contains("name"), "{}", e.error.message);
        // Every typed method resolves to its own request type: with bad params the
        // reason is about the params, never a method mismatch.
        for method in [
            "initialize",
            "server/discover",
            "completion/complete",
            "logging/setLevel",
            "prompts/get",
            "prompts/list",
            "resources/list",
            "resources/templates/list",
            "resources/read",
            "subscriptions/listen",
            "resources/subscribe",
            "resources/unsubscribe",
            "tools/call",
            "tools/list",
            "tasks/get",
            "tasks/update",
            "tasks/cancel",
            "skills/list",
            "skills/get",
            "resources/directory/read",
        ] {
            let reason = params_error(method, Some(&json!(5))).expect(method);
            assert!(
                !reason.contains("expect const string"),
                "{method}: {reason}"
            );
        }
        assert_eq!(params_error("x/y", Some(&json!(5))), None);
    }

    async fn run(input: Vec<u8>, max: usize) -> (Vec<ClientJsonRpcMessage>, Vec<Value>) {
        let (client_out, server_in) = tokio::io::duplex(1 << 16);
        let (server_out, mut client_in) = tokio::io::duplex(1 << 16);
        let mut t = LineTransport::with_max_line(server_in, server_out, max);
        let writer = tokio::spawn(async move {
            let mut w = client_out;
            w.write_all(&input).await.unwrap();
        });
        let mut got = Vec::new();
        while let Some(m) = t.receive().await {
            got.push(m);
        }
        writer.await.unwrap();
        t.close().await.unwrap();
        drop(t);
        let mut text = String::new();
        client_in.read_to_string(&mut text).await.unwrap();
        let answers = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        (got, answers)
    }

    #[tokio::test]
    async fn an_oversized_line_is_answered_and_the_next_one_served() {
        let mut input = br#"{"jsonrpc":"2.0","id":41,"method":"tools/call","params":{"name":"x","arguments":{"command":""#.to_vec();
        input.extend(std::iter::repeat_n(b'a', 10_000));
        input.extend_from_slice(b"\"}}}\n");
        input.extend_from_slice(b"garbage\r\n");
        input.extend_from_slice(br#"{"jsonrpc":"2.0","id":42,"method":"tools/list"}"#);
        let (got, answers) = run(input, 1000).await;
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(answers.len(), 2, "{answers:?}");
        assert_eq!(answers[0]["id"], 41);
        assert_eq!(answers[0]["error"]["code"], -32600);
        assert_eq!(answers[0]["error"]["data"]["limit_bytes"], 1000);
        assert_eq!(answers[1]["id"], Value::Null);
        assert_eq!(answers[1]["error"]["code"], -32700);
    }

    #[tokio::test]
    async fn a_line_at_the_limit_passes_and_one_byte_more_does_not() {
        let line = br#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;
        let mut input = line.to_vec();
        input.extend_from_slice(b"\r\n");
        input.extend_from_slice(line);
        input.extend_from_slice(b" \n");
        let (got, answers) = run(input, line.len() + 1).await;
        assert_eq!((got.len(), answers.len()), (2, 0), "{answers:?}");
        let mut input = line.to_vec();
        input.extend_from_slice(b"  \n");
        let (got, answers) = run(input, line.len() + 1).await;
        assert_eq!((got.len(), answers.len()), (0, 1), "{answers:?}");
        assert_eq!(answers[0]["id"], 1);
    }
}
