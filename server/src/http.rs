//! The streamable HTTP transport (`serve --http ADDR`): rmcp's streamable HTTP service
//! at `http://ADDR/mcp`, served with hyper, behind a gate that every request passes
//! first:
//! - the `Host` header must name a loopback host when the server listens on loopback
//!   (DNS-rebinding defence; on another address the token and `Origin` still apply);
//! - an `Origin` header, when present, must be a loopback origin or one listed in
//!   [`ORIGINS_VAR`] (403 otherwise);
//! - the path must be `/mcp` (404 naming it otherwise);
//! - `Authorization: Bearer <token>` must carry the token (401 otherwise), compared in
//!   constant time. The token comes from [`TOKEN_VAR`] or is generated and printed once.
//!   A CORS preflight (`OPTIONS`, sent without credentials) is answered without it, and
//!   answers to an allowed `Origin` carry the CORS headers, so browser clients work.
//!
//! Refusals are plain text saying what is wrong and how to fix it. One [`RemoteExec`]
//! serves every session (a clone per session shares its connections). On SIGTERM or
//! Ctrl-C the server stops accepting, ends its sessions, and ends on the host the
//! commands still running.

use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE, AUTHORIZATION, CONTENT_TYPE, HOST,
    HeaderValue, ORIGIN, VARY, WWW_AUTHENTICATE,
};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::tools::RemoteExec;

/// Where MCP is served.
pub const PATH: &str = "/mcp";
/// The environment variable holding the bearer token.
pub const TOKEN_VAR: &str = "MCP_HTTP_TOKEN";
/// The environment variable listing further allowed origins (comma-separated).
pub const ORIGINS_VAR: &str = "MCP_HTTP_ALLOWED_ORIGINS";
/// A token shorter than this draws a warning.
const SHORT_TOKEN: usize = 16;
/// How long open connections get to finish once the server is told to stop.
const DRAIN: Duration = Duration::from_secs(5);

type Body = BoxBody<Bytes, Infallible>;

/// Why the HTTP server could not start.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("{TOKEN_VAR} {0}")]
    Token(String),
    #[error(
        "{ORIGINS_VAR}: `{entry}` is not an origin: {why}; write scheme://host[:port] (or :* for any port), comma-separated, e.g. https://app.example.com,http://tools.lan:*"
    )]
    Origin { entry: String, why: &'static str },
    #[error(
        "cannot listen on {addr}: {source} (is another server on that port? port 0 picks a free one)"
    )]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// The `--http` value: `IP:PORT` (`127.0.0.1:8080`, `[::1]:0`) or `localhost:PORT`.
pub fn parse_addr(s: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = s.parse::<SocketAddr>() {
        return Ok(addr);
    }
    if let Some(port) = s.strip_prefix("localhost:")
        && let Ok(port) = port.parse::<u16>()
    {
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    let hint = if s.parse::<u16>().is_ok() {
        format!("give the address too, e.g. 127.0.0.1:{s} (loopback: only this machine)")
    } else {
        "give IP:PORT, e.g. 127.0.0.1:8080 or [::1]:8080 (port 0 picks a free one)".to_string()
    };
    Err(format!("`{s}` is not an address to listen on: {hint}"))
}

/// Serves MCP over streamable HTTP on `addr` until SIGTERM or Ctrl-C; then ends the
/// sessions and, on the host, the commands still running.
pub async fn serve(server: RemoteExec, addr: SocketAddr) -> Result<(), HttpError> {
    let token = token_from_env()?;
    let allowed = allowed_origins(std::env::var(ORIGINS_VAR).ok().as_deref())?;
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| HttpError::Bind { addr, source })?;
    let local = listener.local_addr()?;
    let stop = stop_signal()?;
    if let Token::Generated(t) = &token {
        eprintln!("token: {t}");
        eprintln!(
            "  (generated for this run; clients send `Authorization: Bearer <token>`; set {TOKEN_VAR} to choose one)"
        );
    }
    if !local.ip().is_loopback() {
        eprintln!(
            "WARNING: {local} is not a loopback address: anyone who can reach it and has the token \
             can run any command on {} through this server, and plain HTTP carries the token in \
             clear text. Prefer 127.0.0.1 (with an SSH tunnel or a TLS proxy in front for other machines).",
            server.state.config.describe()
        );
    }
    let gate = Arc::new(Gate {
        digest: digest(token.value()),
        origins: allowed,
        loopback_hosts_only: local.ip().is_loopback(),
        url: format!("http://{local}{PATH}"),
    });
    eprintln!("listening on {}", gate.url);
    tracing::info!(
        "serving MCP over streamable HTTP at {} for {}",
        gate.url,
        server.state.config.describe()
    );
    run(listener, server, gate, stop).await
}

/// The accept loop: one task per connection, each request through the gate and then
/// rmcp's service; when `stop` completes, stop accepting, cancel the sessions, give
/// the connections [`DRAIN`] to finish, and end the commands still running.
async fn run(
    listener: TcpListener,
    server: RemoteExec,
    gate: Arc<Gate>,
    stop: impl Future<Output = ()>,
) -> Result<(), HttpError> {
    let cancel = CancellationToken::new();
    let config = StreamableHttpServerConfig::default()
        .with_cancellation_token(cancel.clone())
        // The gate checks Host and Origin itself, with messages that say what to do.
        .disable_allowed_hosts()
        .disable_allowed_origins();
    let mcp = {
        let server = server.clone();
        StreamableHttpService::new(
            move || Ok(server.clone()),
            Arc::new(LocalSessionManager::default()),
            config,
        )
    };
    let mut connections = JoinSet::new();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    connections.spawn(connection(stream, peer, gate.clone(), mcp.clone(), cancel.clone()));
                }
                Err(e) => {
                    // Out of file descriptors and the like: wait a little, go on.
                    tracing::warn!("accepting a connection failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    tracing::info!("told to stop: no new connections; ending the sessions and running commands");
    cancel.cancel();
    let drained = tokio::time::timeout(DRAIN, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            "{} connection(s) still open after {DRAIN:?}: closed",
            connections.len()
        );
        connections.abort_all();
    }
    server.end_running().await;
    Ok(())
}

/// One HTTP/1.1 connection, shut down gracefully when `cancel` fires.
async fn connection(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    gate: Arc<Gate>,
    mcp: StreamableHttpService<RemoteExec, LocalSessionManager>,
    cancel: CancellationToken,
) {
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let gate = gate.clone();
        let mcp = mcp.clone();
        async move { Ok::<_, Infallible>(gate.answer(req, &mcp, peer).await) }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    let result = tokio::select! {
        r = conn.as_mut() => r,
        _ = cancel.cancelled() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        tracing::debug!("connection from {peer}: {e}");
    }
}

/// Completes on SIGTERM or Ctrl-C. The handlers are installed at once (before the
/// `listening on` line), so a signal sent as soon as the address is known is caught.
fn stop_signal() -> Result<impl Future<Output = ()>, HttpError> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        Ok(async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        })
    }
    #[cfg(not(unix))]
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}

enum Token {
    FromEnv(String),
    Generated(String),
}

impl Token {
    fn value(&self) -> &str {
        match self {
            Token::FromEnv(t) | Token::Generated(t) => t,
        }
    }
}

fn token_from_env() -> Result<Token, HttpError> {
    match std::env::var(TOKEN_VAR) {
        Ok(t) => check_token(&t).map(|()| Token::FromEnv(t)),
        Err(std::env::VarError::NotPresent) => Ok(Token::Generated(format!(
            "{:032x}{:032x}",
            rand::random::<u128>(),
            rand::random::<u128>()
        ))),
        Err(std::env::VarError::NotUnicode(_)) => Err(HttpError::Token(
            "is not valid UTF-8: use letters, digits and punctuation (e.g. `openssl rand -hex 32`)"
                .into(),
        )),
    }
}

/// A usable token is non-empty visible ASCII (it travels in a header).
fn check_token(t: &str) -> Result<(), HttpError> {
    if t.is_empty() {
        return Err(HttpError::Token(
            "is set but empty: set it to a long random string (e.g. `openssl rand -hex 32`), \
             or unset it to have one generated"
                .into(),
        ));
    }
    if !t.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(HttpError::Token(
            "holds a space or a character outside visible ASCII: it is sent in an HTTP header; \
             use letters, digits and punctuation (e.g. `openssl rand -hex 32`)"
                .into(),
        ));
    }
    if t.len() < SHORT_TOKEN {
        tracing::warn!(
            "{TOKEN_VAR} is short ({} characters): whoever guesses it can run commands on the host; use at least 32 random characters",
            t.len()
        );
    }
    Ok(())
}

fn digest(s: &str) -> [u8; 32] {
    Sha256::digest(s.as_bytes()).into()
}

/// An origin as a (scheme, host, port) triple; the port `None` in an allowed entry
/// means any port (`:*`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Origin {
    scheme: String,
    host: String,
    port: Option<u16>,
}

/// Parses a serialized origin (`scheme://host[:port]`, nothing after it but an
/// optional `/`): the port as written, `None` when there is none.
fn parse_origin_parts(s: &str) -> Result<Origin, &'static str> {
    let (scheme, rest) = s.split_once("://").ok_or("no scheme://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme.is_empty()
        || !scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
    {
        return Err("a bad scheme");
    }
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.contains(['/', '?', '#', '@']) {
        return Err("an origin has no path, query or user");
    }
    let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
        let (host, after) = v6.split_once(']').ok_or("an unclosed [")?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or("junk after ]")?),
        };
        (format!("[{host}]"), port)
    } else {
        match rest.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (rest.to_string(), None),
        }
    };
    if host.is_empty() || host == "[]" {
        return Err("no host");
    }
    let port = port
        .map(|p| p.parse::<u16>().map_err(|_| "a bad port"))
        .transpose()?;
    Ok(Origin {
        scheme,
        host: host.to_ascii_lowercase(),
        port,
    })
}

/// An origin with its port made explicit (the scheme's default when omitted).
fn parse_origin(s: &str) -> Result<Origin, &'static str> {
    let mut o = parse_origin_parts(s)?;
    if o.port.is_none() {
        o.port = Some(match o.scheme.as_str() {
            "http" => 80,
            "https" => 443,
            _ => return Err("no port, and the scheme has no default one"),
        });
    }
    Ok(o)
}

/// The entries of [`ORIGINS_VAR`], rendered: origins, `:*` for any port, or `null`.
fn allowed_origins(var: Option<&str>) -> Result<Vec<String>, HttpError> {
    let mut out = Vec::new();
    for entry in var
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
    {
        let bad = |why| HttpError::Origin {
            entry: entry.to_string(),
            why,
        };
        if entry.eq_ignore_ascii_case("null") {
            out.push("null".to_string());
        } else if let Some(base) = entry.strip_suffix(":*") {
            let o = parse_origin_parts(base).map_err(bad)?;
            if o.port.is_some() {
                return Err(bad("both a port and :*"));
            }
            out.push(render(&o));
        } else {
            out.push(render(&parse_origin(entry).map_err(bad)?));
        }
    }
    Ok(out)
}

fn render(o: &Origin) -> String {
    match o.port {
        Some(p) => format!("{}://{}:{p}", o.scheme, o.host),
        None => format!("{}://{}:*", o.scheme, o.host),
    }
}

fn is_loopback_host(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The host part of a `Host` header (`name`, `name:port`, `[v6]:port`).
fn host_of(authority: &str) -> &str {
    if authority.starts_with('[') {
        authority.split_inclusive(']').next().unwrap_or(authority)
    } else {
        authority.split(':').next().unwrap_or(authority)
    }
}

/// What every request must pass before it reaches rmcp.
struct Gate {
    digest: [u8; 32],
    /// Rendered allowed origins (`scheme://host:port`, `scheme://host:*`, `null`).
    origins: Vec<String>,
    loopback_hosts_only: bool,
    url: String,
}

/// A refused request: the answer and the reason to log (never a token).
struct Refusal {
    response: Box<Response<Body>>,
    log: &'static str,
}

/// The answer to a CORS preflight that passed the gate.
fn preflight() -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::new()).boxed());
    *r.status_mut() = StatusCode::NO_CONTENT;
    let h = r.headers_mut();
    h.insert(
        ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST, DELETE"),
    );
    h.insert(
        ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static(
            "authorization, content-type, accept, last-event-id, mcp-session-id, mcp-protocol-version",
        ),
    );
    h.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
    r
}

fn plain(status: StatusCode, text: String) -> Box<Response<Body>> {
    let mut r = Response::new(Full::new(Bytes::from(text + "\n")).boxed());
    *r.status_mut() = status;
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    Box::new(r)
}

impl Gate {
    /// One request: the gate, then rmcp (or the CORS preflight's answer); a request
    /// from an allowed `Origin` gets the CORS headers a browser needs to read it.
    async fn answer(
        &self,
        mut req: Request<Incoming>,
        mcp: &StreamableHttpService<RemoteExec, LocalSessionManager>,
        peer: SocketAddr,
    ) -> Response<Body> {
        let cors = req
            .headers()
            .get(ORIGIN)
            .filter(|o| self.origin_allowed(o.to_str().unwrap_or("").trim()))
            .cloned();
        let mut response = match self.check(&req) {
            Ok(()) if req.method() == Method::OPTIONS => preflight(),
            Ok(()) => {
                // Past the gate, nothing needs the token: rmcp and the tools never see it.
                req.headers_mut().remove(AUTHORIZATION);
                let delete = req.method() == Method::DELETE;
                let mut response = mcp.handle(req).await;
                // A closed session: say so as clients expect it (200 or 204).
                if delete && response.status() == StatusCode::ACCEPTED {
                    *response.status_mut() = StatusCode::NO_CONTENT;
                }
                response
            }
            Err(refusal) => {
                tracing::warn!(
                    "refused {} {} from {peer}: {}",
                    req.method(),
                    req.uri().path(),
                    refusal.log
                );
                *refusal.response
            }
        };
        if let Some(origin) = cors {
            let h = response.headers_mut();
            h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            h.insert(
                ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static("mcp-session-id, mcp-protocol-version, www-authenticate"),
            );
            h.append(VARY, HeaderValue::from_static("origin"));
        }
        response
    }

    /// Host, Origin, path, then the token, except for a CORS preflight (`OPTIONS`),
    /// which a browser sends without credentials.
    fn check<B>(&self, req: &Request<B>) -> Result<(), Refusal> {
        self.check_host(req)?;
        self.check_origin(req)?;
        let path = req.uri().path();
        if path != PATH && path != "/mcp/" {
            return Err(Refusal {
                response: plain(
                    StatusCode::NOT_FOUND,
                    format!(
                        "404 Not Found: nothing at {path}; MCP is served at {PATH} ({})",
                        self.url
                    ),
                ),
                log: "unknown path",
            });
        }
        if req.method() == Method::OPTIONS {
            return Ok(());
        }
        self.check_token(req)
    }

    fn check_host<B>(&self, req: &Request<B>) -> Result<(), Refusal> {
        if !self.loopback_hosts_only {
            return Ok(());
        }
        let host = req.headers().get(HOST).and_then(|h| h.to_str().ok());
        match host {
            Some(h) if is_loopback_host(host_of(h)) => Ok(()),
            _ => Err(Refusal {
                response: plain(
                    StatusCode::FORBIDDEN,
                    format!(
                        "403 Forbidden: the Host header ({}) is not a loopback name; this server \
                         listens on loopback only and refuses other host names (DNS-rebinding \
                         defence). Connect to {}.",
                        host.unwrap_or("missing"),
                        self.url
                    ),
                ),
                log: "Host header not loopback",
            }),
        }
    }

    fn check_origin<B>(&self, req: &Request<B>) -> Result<(), Refusal> {
        let Some(raw) = req.headers().get(ORIGIN) else {
            return Ok(());
        };
        let text = raw.to_str().unwrap_or("").trim();
        if self.origin_allowed(text) {
            return Ok(());
        }
        Err(Refusal {
            response: plain(
                StatusCode::FORBIDDEN,
                format!(
                    "403 Forbidden: requests from the origin `{}` are refused (a web page may not \
                     drive this server: DNS-rebinding defence). Loopback origins are allowed; to \
                     allow this one, start the server with {ORIGINS_VAR}={} (comma-separated \
                     origins, :* for any port).",
                    String::from_utf8_lossy(raw.as_bytes()),
                    parse_origin(text)
                        .map(|o| render(&o))
                        .unwrap_or_else(|_| "scheme://host:port".into())
                ),
            ),
            log: "Origin not allowed",
        })
    }

    fn origin_allowed(&self, text: &str) -> bool {
        if text.eq_ignore_ascii_case("null") {
            return self.origins.iter().any(|o| o == "null");
        }
        let Ok(origin) = parse_origin(text) else {
            return false;
        };
        if matches!(origin.scheme.as_str(), "http" | "https") && is_loopback_host(&origin.host) {
            return true;
        }
        let exact = render(&origin);
        let any_port = render(&Origin {
            port: None,
            ..origin
        });
        self.origins.iter().any(|o| *o == exact || *o == any_port)
    }

    fn check_token<B>(&self, req: &Request<B>) -> Result<(), Refusal> {
        let refuse = |what: &str, log| {
            let mut response = plain(
                StatusCode::UNAUTHORIZED,
                format!(
                    "401 Unauthorized: {what}. Send the header `Authorization: Bearer <token>` with \
                     the server's token: the value of {TOKEN_VAR} it was started with, or the \
                     `token: …` line it printed at start when {TOKEN_VAR} was unset."
                ),
            );
            response.headers_mut().insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"mcp-remote-exec\""),
            );
            Err(Refusal { response, log })
        };
        let Some(header) = req.headers().get(AUTHORIZATION) else {
            return refuse("no Authorization header", "no token");
        };
        let header = header.to_str().unwrap_or("");
        let token = match header.split_once(' ') {
            Some((scheme, t)) if scheme.eq_ignore_ascii_case("bearer") => t.trim(),
            _ => {
                return refuse(
                    "the Authorization header is not of the form `Bearer <token>`",
                    "not a bearer token",
                );
            }
        };
        if bool::from(digest(token).ct_eq(&self.digest)) {
            Ok(())
        } else {
            refuse("the bearer token is wrong", "wrong token")
        }
    }
}

#[cfg(test)]
mod tests;
