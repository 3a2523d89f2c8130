//! The gate's unit tests: addresses, tokens, origins, hosts, paths.

use super::*;

fn gate(origins: &str) -> Gate {
    Gate {
        digest: digest("secret-token"),
        origins: allowed_origins(Some(origins)).unwrap(),
        loopback_hosts_only: true,
        url: "http://127.0.0.1:1/mcp".into(),
    }
}

fn request(headers: &[(&str, &str)], path: &str) -> Request<()> {
    let mut b = Request::builder().uri(path);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(()).unwrap()
}

fn status(g: &Gate, headers: &[(&str, &str)], path: &str) -> Option<StatusCode> {
    g.check(&request(headers, path))
        .err()
        .map(|r| r.response.status())
}

const OK: &[(&str, &str)] = &[
    ("host", "127.0.0.1:1"),
    ("authorization", "Bearer secret-token"),
];

#[test]
fn addresses_need_a_host_part() {
    assert_eq!(
        parse_addr("127.0.0.1:0"),
        Ok(SocketAddr::from(([127, 0, 0, 1], 0)))
    );
    assert_eq!(
        parse_addr("localhost:8080"),
        Ok(SocketAddr::from(([127, 0, 0, 1], 8080)))
    );
    assert!(parse_addr("[::1]:9").unwrap().ip().is_loopback());
    assert!(parse_addr("8080").unwrap_err().contains("127.0.0.1:8080"));
    assert!(parse_addr("nowhere").unwrap_err().contains("IP:PORT"));
}

#[test]
fn the_token_must_be_exact_and_a_bearer_one() {
    let g = gate("");
    assert_eq!(status(&g, OK, "/mcp"), None);
    assert_eq!(
        status(
            &g,
            &[
                ("host", "localhost:1"),
                ("authorization", "bearer secret-token")
            ],
            "/mcp"
        ),
        None
    );
    for auth in [
        "Bearer secret-tokem",
        "Bearer secret-token2",
        "Bearer ",
        "Basic c2VjcmV0LXRva2Vu",
        "secret-token",
    ] {
        assert_eq!(
            status(
                &g,
                &[("host", "127.0.0.1:1"), ("authorization", auth)],
                "/mcp"
            ),
            Some(StatusCode::UNAUTHORIZED),
            "{auth}"
        );
    }
    let refused = g
        .check(&request(&[("host", "127.0.0.1:1")], "/mcp"))
        .err()
        .unwrap();
    assert_eq!(refused.response.status(), StatusCode::UNAUTHORIZED);
    assert!(refused.response.headers().contains_key(WWW_AUTHENTICATE));
}

#[test]
fn a_cors_preflight_needs_no_token_but_passes_the_other_checks() {
    let g = gate("");
    let preflight = |headers: &[(&str, &str)]| {
        let mut b = Request::builder().method(Method::OPTIONS).uri("/mcp");
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        g.check(&b.body(()).unwrap())
            .err()
            .map(|r| r.response.status())
    };
    let host = ("host", "127.0.0.1:1");
    assert_eq!(
        preflight(&[host, ("origin", "http://localhost:6274")]),
        None
    );
    assert_eq!(
        preflight(&[host, ("origin", "http://evil.example")]),
        Some(StatusCode::FORBIDDEN)
    );
    assert_eq!(
        preflight(&[("host", "evil.example")]),
        Some(StatusCode::FORBIDDEN)
    );
}

#[test]
fn only_mcp_is_served() {
    let g = gate("");
    assert_eq!(status(&g, OK, "/mcp/"), None);
    assert_eq!(status(&g, OK, "/mcp?x=1"), None);
    assert_eq!(status(&g, OK, "/"), Some(StatusCode::NOT_FOUND));
    assert_eq!(status(&g, OK, "/sse"), Some(StatusCode::NOT_FOUND));
}

#[test]
fn loopback_origins_pass_others_only_when_listed() {
    let g = gate(" https://app.example.com , http://tools.lan:* ,null");
    let with = |origin: &'static str| {
        let mut h = OK.to_vec();
        h.push(("origin", origin));
        status(&g, &h, "/mcp")
    };
    for ok in [
        "http://127.0.0.1:6274",
        "http://localhost:3000",
        "http://[::1]:8080",
        "https://localhost",
        "http://127.1.2.3:1",
        "https://app.example.com",
        "https://app.example.com:443",
        "http://tools.lan:9999",
        "null",
    ] {
        assert_eq!(with(ok), None, "{ok}");
    }
    for bad in [
        "http://evil.example",
        "https://app.example.com:8443",
        "http://app.example.com",
        "http://localhost.evil.example:80",
        "http://127.0.0.1.evil.example",
        "file://",
        "garbage",
        "",
    ] {
        assert_eq!(with(bad), Some(StatusCode::FORBIDDEN), "{bad}");
    }
    assert_eq!(
        status(&gate(""), &[OK[0], OK[1], ("origin", "null")], "/mcp"),
        Some(StatusCode::FORBIDDEN)
    );
}

#[test]
fn a_bad_allowed_origin_is_refused_at_start() {
    for bad in [
        "app.example.com",
        "https://app.example.com/path",
        "https://:80",
        "https://a:b",
    ] {
        let e = allowed_origins(Some(bad)).unwrap_err().to_string();
        assert!(e.contains(ORIGINS_VAR) && e.contains(bad), "{e}");
    }
}

#[test]
fn on_loopback_the_host_must_be_loopback() {
    let g = gate("");
    for host in ["localhost:1", "127.0.0.1", "[::1]:1", "LOCALHOST"] {
        assert_eq!(status(&g, &[("host", host), OK[1]], "/mcp"), None, "{host}");
    }
    for host in ["evil.example:1", "localhost.evil.example", "10.0.0.1:1"] {
        assert_eq!(
            status(&g, &[("host", host), OK[1]], "/mcp"),
            Some(StatusCode::FORBIDDEN),
            "{host}"
        );
    }
    assert_eq!(status(&g, &[OK[1]], "/mcp"), Some(StatusCode::FORBIDDEN));
    let open = Gate {
        loopback_hosts_only: false,
        ..gate("")
    };
    assert_eq!(
        status(&open, &[("host", "pve-mcp.lan:8080"), OK[1]], "/mcp"),
        None
    );
}

#[test]
fn tokens_must_be_visible_ascii() {
    assert!(check_token("").is_err());
    assert!(check_token("has space").is_err());
    assert!(check_token("tøken-with-non-ascii").is_err());
    assert!(check_token("0123456789abcdef0123456789abcdef").is_ok());
}
