//! The MCP server in process against a real OpenSSH sshd in a container
//! (`test-hosts`): a [`HostEnv`] holds the host, its client key and a known_hosts file.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use test_hosts::{LxcHost, SshHost, TestHost};

use crate::{Mcp, write_private};

/// How the server logs in.
#[derive(Debug, Clone)]
pub enum Login {
    /// The host's authorised client key (`SSH_KEY`).
    Key,
    /// The root password (`SSH_PASSWORD`).
    Password,
    /// Another key file, with an optional `SSH_KEY_PASSPHRASE`.
    KeyFile {
        path: PathBuf,
        passphrase: Option<String>,
    },
}

/// A started test host with a scratch directory holding the client key and a
/// `known_hosts` file that trusts the host's current key on its current port.
pub struct HostEnv<H: SshHost = TestHost> {
    pub host: H,
    pub dir: tempfile::TempDir,
    pub key_path: PathBuf,
    pub known_hosts: PathBuf,
}

impl HostEnv<TestHost> {
    pub async fn start() -> HostEnv {
        HostEnv::new(TestHost::start().await.expect("test host started"))
    }
}

impl HostEnv<LxcHost> {
    /// An LXC test host (real LXC containers behind a stock sshd on loopback).
    pub async fn lxc() -> HostEnv<LxcHost> {
        HostEnv::new(LxcHost::start().await.expect("LXC test host started"))
    }
}

impl<H: SshHost> HostEnv<H> {
    /// [`crate::local_file`] in this test's directory.
    pub fn local_file(&self, name: &str, contents: impl AsRef<[u8]>) -> std::path::PathBuf {
        crate::local_file(&self.dir, name, contents)
    }

    pub fn new(host: H) -> HostEnv<H> {
        let dir = tempfile::tempdir().unwrap();
        let key_path = dir.path().join("id_ed25519");
        write_private(&key_path, host.client_key_openssh().as_bytes());
        let known_hosts = dir.path().join("known_hosts");
        std::fs::write(&known_hosts, format!("{}\n", host.known_hosts_line())).unwrap();
        HostEnv {
            host,
            dir,
            key_path,
            known_hosts,
        }
    }

    /// The server's settings for `port` (the host's, or a forwarder's), logging in as
    /// `login`; `extra` adds or replaces variables.
    pub fn vars(
        &self,
        port: u16,
        login: &Login,
        extra: &[(&str, String)],
    ) -> Vec<(String, String)> {
        let mut pairs: Vec<(String, String)> = vec![
            ("I_ACCEPT_RISKS".into(), "true".into()),
            ("HOST".into(), "127.0.0.1".into()),
            ("SSH_PORT".into(), port.to_string()),
            (
                "SSH_KNOWN_HOSTS".into(),
                self.known_hosts.display().to_string(),
            ),
            ("TIMEOUT".into(), "20".into()),
            ("MAX_FILE_SIZE".into(), (200u64 << 20).to_string()),
        ];
        match login {
            Login::Key => pairs.push(("SSH_KEY".into(), self.key_path.display().to_string())),
            Login::Password => pairs.push((
                "SSH_PASSWORD".into(),
                self.host
                    .root_password()
                    .expect("this host takes no password")
                    .into(),
            )),
            Login::KeyFile { path, passphrase } => {
                pairs.push(("SSH_KEY".into(), path.display().to_string()));
                if let Some(p) = passphrase {
                    pairs.push(("SSH_KEY_PASSPHRASE".into(), p.clone()));
                }
            }
        }
        for (k, v) in extra {
            pairs.retain(|(name, _)| name != k);
            pairs.push((k.to_string(), v.clone()));
        }
        pairs
    }

    /// A server for the host's current port, logging in with the client key.
    pub async fn server(&self) -> Mcp {
        self.server_with(&Login::Key, &[]).await
    }

    pub async fn server_with(&self, login: &Login, extra: &[(&str, String)]) -> Mcp {
        Mcp::serve(&self.vars(self.host.port(), login, extra)).await
    }

    /// `bash -c CMD` on the host, not over SSH (in the container through the engine,
    /// or on this machine for an LXC host).
    pub async fn oob(&self, cmd: &str) -> (i32, String, String) {
        tokio::time::timeout(Duration::from_secs(60), self.host.out_of_band(cmd))
            .await
            .unwrap_or_else(|_| panic!("`{cmd}` out of band finished within 60 s"))
    }

    /// The pids (with command lines) of processes whose whole command line matches
    /// the extended regex `re` (anchored), looked at out of band.
    pub async fn processes(&self, re: &str) -> String {
        let (_, out, _) = self.oob(&format!("pgrep -a -f '^({re})$' || true")).await;
        out
    }

    /// Waits (bounded by `within`) until no process matches `re`; returns what still
    /// matches if some remain.
    pub async fn gone_within(&self, re: &str, within: Duration) -> Result<(), String> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let left = self.processes(re).await;
            if left.trim().is_empty() {
                return Ok(());
            }
            if tokio::time::Instant::now() > deadline {
                return Err(left);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// A TCP forwarder on a fixed loopback port to whatever port `target` holds: gives the
/// server one stable address for a host whose mapped port changes when it restarts.
pub struct Forwarder {
    pub port: u16,
    pub target: Arc<AtomicU16>,
    task: tokio::task::JoinHandle<()>,
}

impl Forwarder {
    pub async fn start(target_port: u16) -> Forwarder {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let target = Arc::new(AtomicU16::new(target_port));
        let to = target.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let port = to.load(Ordering::SeqCst);
                tokio::spawn(async move {
                    if let Ok(mut outbound) =
                        tokio::net::TcpStream::connect(("127.0.0.1", port)).await
                    {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        Forwarder { port, target, task }
    }

    pub fn retarget(&self, port: u16) {
        self.target.store(port, Ordering::SeqCst);
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.task.abort();
    }
}
