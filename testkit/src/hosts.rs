//! A russh client against a container test host that checks the host key strictly
//! against an OpenSSH `known_hosts` line (never accept-any), and the exec helpers.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use russh::client::Handle;
use russh::keys::PrivateKeyWithHashAlg;
use test_hosts::SshHost;

pub use crate::ssh::{Exec, exec, exec_unbounded};

/// Bound on connecting and logging in.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

/// What the host-key check decided about the last key it saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Known,
    Unknown,
    Changed,
}

/// A client handler that accepts the server's key only if a `known_hosts` file lists it
/// for `[host]:port` (russh's `check_known_hosts_path`, as OpenSSH's
/// `StrictHostKeyChecking=yes`).
pub struct KnownHosts {
    file: Arc<tempfile::NamedTempFile>,
    host: String,
    port: u16,
    verdict: Arc<Mutex<Option<Verdict>>>,
}

impl KnownHosts {
    /// A check trusting only `known_hosts_line`, for the host's current port.
    pub fn for_line(host: &impl SshHost, known_hosts_line: &str) -> KnownHosts {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut file, format!("{known_hosts_line}\n").as_bytes()).unwrap();
        KnownHosts {
            file: Arc::new(file),
            host: host.host().to_string(),
            port: host.port(),
            verdict: Arc::new(Mutex::new(None)),
        }
    }
}

impl russh::client::Handler for KnownHosts {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        key: &russh::keys::PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let russh::keys::PublicKeyOrCertificate::PublicKey { key, .. } = key else {
            *self.verdict.lock().unwrap() = Some(Verdict::Unknown);
            return Ok(false);
        };
        let verdict =
            match russh::keys::check_known_hosts_path(&self.host, self.port, key, self.file.path())
            {
                Ok(true) => Verdict::Known,
                Ok(false) => Verdict::Unknown,
                Err(russh::keys::Error::KeyChanged { .. }) => Verdict::Changed,
                Err(e) => return Err(e.into()),
            };
        let accept = verdict == Verdict::Known;
        *self.verdict.lock().unwrap() = Some(verdict);
        Ok(accept)
    }
}

/// How to log in.
#[derive(Debug, Clone, Copy)]
pub enum Auth {
    Key,
    Password,
}

/// The outcome of a connection attempt whose host-key check may refuse the server.
pub struct Attempt {
    pub result: Result<Handle<KnownHosts>, russh::Error>,
    pub verdict: Option<Verdict>,
}

/// Connects to the host's current port with `known_hosts_line` as the only trusted
/// entry, and logs in as root.
pub async fn connect_with(host: &impl SshHost, known_hosts_line: &str, auth: Auth) -> Attempt {
    let handler = KnownHosts::for_line(host, known_hosts_line);
    let verdict = handler.verdict.clone();
    // nodelay as the server sets it: without it Nagle's algorithm and delayed ACKs add
    // ~40 ms to every small exchange (and a benchmark's floor would measure that).
    let config = Arc::new(russh::client::Config {
        inactivity_timeout: None,
        nodelay: true,
        ..Default::default()
    });
    let addr = (host.host().to_string(), host.port());
    let login = async {
        let mut handle = russh::client::connect(config, addr, handler).await?;
        let ok = match auth {
            Auth::Key => {
                let hash = handle.best_supported_rsa_hash().await?.flatten();
                handle
                    .authenticate_publickey(
                        host.user(),
                        PrivateKeyWithHashAlg::new(Arc::new(host.client_key().clone()), hash),
                    )
                    .await?
                    .success()
            }
            Auth::Password => handle
                .authenticate_password(
                    host.user(),
                    host.root_password().expect("this host takes no password"),
                )
                .await?
                .success(),
        };
        assert!(ok, "{auth:?} login as {} refused", host.user());
        Ok(handle)
    };
    let result = tokio::time::timeout(CONNECT_TIMEOUT, login)
        .await
        .expect("connect and login finished within the bound");
    let verdict = verdict.lock().unwrap().clone();
    Attempt { result, verdict }
}

/// Connects and logs in, trusting the host's current `known_hosts` line.
pub async fn connect(host: &impl SshHost, auth: Auth) -> Handle<KnownHosts> {
    let attempt = connect_with(host, &host.known_hosts_line(), auth).await;
    assert_eq!(attempt.verdict, Some(Verdict::Known));
    attempt.result.expect("connected and logged in")
}

/// Waits (bounded, about 20 s) until `cmd` run out of band exits 0; returns its stdout.
pub async fn eventually_out_of_band(host: &impl SshHost, cmd: &str) -> String {
    for _ in 0..100 {
        let (code, out, _) = host.out_of_band(cmd).await;
        if code == 0 {
            return out;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("`{cmd}` never succeeded");
}
