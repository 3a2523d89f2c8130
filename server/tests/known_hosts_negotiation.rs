//! What known_hosts knows decides which host key russh asks for: a server with
//! Ed25519, ECDSA and RSA host keys that known_hosts lists only by its ECDSA (or RSA)
//! key must be asked for that key, and a host certificate is asked for, and trusted,
//! when an `@cert-authority` line is listed for the host.
//!
//! The server is a bare in-process russh server over an in-memory pipe (fake-pve
//! serves one host key and no certificates); the client is russh with the `Preferred`
//! lists that `known_hosts` builds and a handler that calls
//! `known_hosts::check_server_key`, as the connection code does.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use mcp_remote_exec::ssh::known_hosts::{self, HostKeyVerdict};
use russh::keys::ssh_key::certificate::{Builder, CertType};
use russh::keys::ssh_key::private::RsaKeypair;
use russh::keys::{Algorithm, Certificate, EcdsaCurve, PrivateKey, PublicKeyOrCertificate};

const HOST: &str = "pve.lan";
const PORT: u16 = 2222;

struct Server;

impl russh::server::Handler for Server {
    type Error = russh::Error;
}

/// What the client was shown, and what known_hosts said about it.
#[derive(Debug, Clone, PartialEq, Default)]
struct Seen {
    /// The key's type, or the certificate's (`ssh-ed25519-cert-v01@openssh.com`).
    presented: String,
    verdict: Option<HostKeyVerdict>,
    /// The host-key algorithm the exchange was signed with, once it was accepted:
    /// `rsa-sha2-512` rather than SHA-1 `ssh-rsa` for an RSA key.
    negotiated: Option<String>,
}

struct Client {
    known_hosts: PathBuf,
    seen: Arc<Mutex<Seen>>,
}

impl russh::client::Handler for Client {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let verdict = known_hosts::check_server_key(&self.known_hosts, HOST, PORT, key)
            .expect("known_hosts is readable");
        let presented = match key {
            PublicKeyOrCertificate::PublicKey { key, .. } => key.algorithm().to_string(),
            PublicKeyOrCertificate::Certificate(c) => c.algorithm().to_certificate_type(),
        };
        let known = verdict == HostKeyVerdict::Known;
        let mut seen = self.seen.lock().unwrap();
        seen.presented = presented;
        seen.verdict = Some(verdict);
        Ok(known)
    }

    async fn kex_done(
        &mut self,
        _shared_secret: Option<&[u8]>,
        names: &russh::Names,
        _session: &mut russh::client::Session,
    ) -> Result<(), Self::Error> {
        self.seen.lock().unwrap().negotiated = Some(names.key.to_string());
        Ok(())
    }
}

/// The client configuration the connection code should build from known_hosts.
fn preferred_from(known_hosts: &std::path::Path) -> russh::Preferred {
    let known = known_hosts::known_algorithms(known_hosts, HOST, PORT);
    russh::Preferred {
        key: known_hosts::preferred_keys(&known).into(),
        host_key_certificates: known_hosts::certificate_algorithms(known_hosts, HOST, PORT).into(),
        ..russh::Preferred::DEFAULT
    }
}

/// Runs one key exchange; whether the client accepted the host key, and what it saw.
async fn exchange(
    server: russh::server::Config,
    preferred: russh::Preferred,
    known_hosts: PathBuf,
) -> (bool, Seen) {
    let (server_io, client_io) = tokio::io::duplex(1 << 16);
    let server = Arc::new(server);
    let task = tokio::spawn(async move {
        if let Ok(session) = russh::server::run_stream(server, server_io, Server).await {
            let _ = session.await;
        }
    });
    let seen = Arc::new(Mutex::new(Seen::default()));
    let config = Arc::new(russh::client::Config {
        preferred,
        ..Default::default()
    });
    let client = Client {
        known_hosts,
        seen: seen.clone(),
    };
    let result = tokio::time::timeout(
        Duration::from_secs(30),
        russh::client::connect_stream(config, client_io, client),
    )
    .await
    .expect("the key exchange finishes");
    let accepted = match result {
        Ok(handle) => {
            let _ = handle
                .disconnect(russh::Disconnect::ByApplication, "", "en")
                .await;
            true
        }
        Err(_) => false,
    };
    task.abort();
    let seen = seen.lock().unwrap().clone();
    assert!(seen.verdict.is_some(), "the host key was checked");
    (accepted, seen)
}

fn ed25519() -> PrivateKey {
    PrivateKey::random(&mut rand::rng(), Algorithm::Ed25519).unwrap()
}

fn ecdsa() -> PrivateKey {
    PrivateKey::random(
        &mut rand::rng(),
        Algorithm::Ecdsa {
            curve: EcdsaCurve::NistP256,
        },
    )
    .unwrap()
}

fn rsa() -> PrivateKey {
    RsaKeypair::random(&mut rand::rng(), 2048).unwrap().into()
}

fn server_with(keys: Vec<PrivateKey>, certificates: Vec<Certificate>) -> russh::server::Config {
    russh::server::Config {
        keys,
        certificates,
        ..Default::default()
    }
}

fn known_hosts_file(dir: &tempfile::TempDir, lines: &[String]) -> PathBuf {
    let path = dir.path().join("known_hosts");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

fn line(patterns: &str, key: &PrivateKey) -> String {
    format!("{patterns} {}", key.public_key().to_openssh().unwrap())
}

/// With russh's defaults the client asks for Ed25519 first: the server's bare
/// Ed25519 key, refused with `verdict`.
async fn refused_with_defaults(
    server: russh::server::Config,
    known_hosts: PathBuf,
    verdict: HostKeyVerdict,
) {
    let (accepted, seen) = exchange(server, russh::Preferred::DEFAULT, known_hosts).await;
    assert!(!accepted);
    assert_eq!(seen.presented, "ssh-ed25519");
    assert_eq!(seen.verdict, Some(verdict));
}

/// With the preferences built from known_hosts the client is shown `presented`, which
/// it knows and accepts; returns what it saw.
async fn accepted_with_preferences(
    server: russh::server::Config,
    known_hosts: PathBuf,
    presented: &str,
) -> Seen {
    let (accepted, seen) = exchange(server, preferred_from(&known_hosts), known_hosts).await;
    assert_eq!(seen.presented, presented);
    assert_eq!(seen.verdict, Some(HostKeyVerdict::Known));
    assert!(accepted);
    seen
}

#[tokio::test]
async fn a_host_known_by_its_ecdsa_key_is_asked_for_it() {
    let (ed, ec) = (ed25519(), ecdsa());
    let server = || server_with(vec![ed.clone(), ec.clone()], Vec::new());
    let dir = tempfile::tempdir().unwrap();
    let path = known_hosts_file(&dir, &[line("[pve.lan]:2222", &ec)]);

    // russh's defaults ask for Ed25519 first: a key nobody recorded where another
    // one is, which ssh calls a changed key.
    refused_with_defaults(server(), path.clone(), HostKeyVerdict::Changed { line: 1 }).await;

    let seen = accepted_with_preferences(server(), path, "ecdsa-sha2-nistp256").await;
    assert_eq!(seen.negotiated.as_deref(), Some("ecdsa-sha2-nistp256"));
}

#[tokio::test]
async fn a_host_known_by_its_rsa_key_is_asked_for_it_with_sha2() {
    let (ed, ec, rs) = (ed25519(), ecdsa(), rsa());
    let server = || server_with(vec![ed.clone(), ec.clone(), rs.clone()], Vec::new());
    let dir = tempfile::tempdir().unwrap();
    let path = known_hosts_file(&dir, &[line("[PVE.lan]:2222", &rs)]);

    refused_with_defaults(server(), path.clone(), HostKeyVerdict::Changed { line: 1 }).await;

    let seen = accepted_with_preferences(server(), path, "ssh-rsa").await;
    assert_eq!(seen.negotiated.as_deref(), Some("rsa-sha2-512"));
}

/// A known_hosts in `dir` that trusts `ca` for every host and port under `.lan`.
fn cert_authority_file(dir: &tempfile::TempDir, ca: &PrivateKey) -> PathBuf {
    known_hosts_file(
        dir,
        &[format!(
            "@cert-authority [*.lan]:* {}",
            ca.public_key().to_openssh().unwrap()
        )],
    )
}

fn host_certificate(ca: &PrivateKey, host: &PrivateKey, principal: &str) -> Certificate {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut b = Builder::new(
        vec![1u8; 32],
        host.public_key().key_data().clone(),
        now - 60,
        now + 3600,
    )
    .unwrap();
    b.cert_type(CertType::Host).unwrap();
    b.key_id("pve.lan host key").unwrap();
    b.valid_principal(principal).unwrap();
    b.sign(ca).unwrap()
}

#[tokio::test]
async fn a_host_certificate_is_asked_for_and_trusted_when_its_authority_is_listed() {
    let (ca, host) = (ed25519(), ed25519());
    let cert = host_certificate(&ca, &host, HOST);
    let server = || server_with(vec![host.clone()], vec![cert.clone()]);
    let dir = tempfile::tempdir().unwrap();
    let path = cert_authority_file(&dir, &ca);

    // Without certificate algorithms the server shows its bare key, which is unknown.
    refused_with_defaults(server(), path.clone(), HostKeyVerdict::Unknown).await;

    accepted_with_preferences(server(), path, "ssh-ed25519-cert-v01@openssh.com").await;
}

#[tokio::test]
async fn a_host_certificate_for_another_name_is_refused() {
    let (ca, host) = (ed25519(), ed25519());
    let cert = host_certificate(&ca, &host, "other.lan");
    let server = server_with(vec![host.clone()], vec![cert]);
    let dir = tempfile::tempdir().unwrap();
    let path = cert_authority_file(&dir, &ca);

    let (accepted, seen) = exchange(server, preferred_from(&path), path).await;
    assert!(!accepted);
    assert_eq!(seen.presented, "ssh-ed25519-cert-v01@openssh.com");
    assert_eq!(
        seen.verdict,
        Some(HostKeyVerdict::CertificateRejected {
            line: 1,
            reason: "pve.lan is not among its principals (other.lan)".into()
        })
    );
}
