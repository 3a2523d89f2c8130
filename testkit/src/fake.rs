//! A fake node on 127.0.0.1:0 driven with OpenSSH's `ssh`/`sftp` and with a russh
//! client (fake-pve's own tests).

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use fake_pve::fixture::Fixture;
use fake_pve::host::Host;
use fake_pve::node::TestNode;
use fake_pve::ssh::FakePve;
use russh::keys::PrivateKey;

use crate::ssh::ExpectKey;
use crate::{PASSWORD, start_node};

/// A running fake-pve plus a temp dir holding an OpenSSH client key and known_hosts.
pub struct Fake {
    pub server: FakePve,
    pub dir: tempfile::TempDir,
    pub key_path: PathBuf,
    pub client_key: PrivateKey,
    pub known_hosts: PathBuf,
}

impl Fake {
    /// The default fixture (100 webserver running, 101 database stopped, 102 cache running).
    pub async fn start() -> Fake {
        Self::with_fixture(Fixture::default_fixture(), "root").await
    }

    pub async fn with_fixture(fixture: Fixture, user: &str) -> Fake {
        let dir = tempfile::tempdir().unwrap();
        let (node, key_path, known_hosts) =
            start_node(TestNode::builder(fixture).user(user), dir.path(), true).await;
        let client_key = node.client_key.expect("a client key");
        let server = node.server;
        Fake {
            server,
            dir,
            key_path,
            client_key,
            known_hosts,
        }
    }

    pub fn host(&self) -> &Host {
        self.server.host()
    }

    pub fn port(&self) -> u16 {
        self.server.addr().port()
    }

    fn ssh_base(&self, program: &str) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(program);
        cmd.arg("-F")
            .arg("/dev/null")
            .arg("-o")
            .arg(format!("UserKnownHostsFile={}", self.known_hosts.display()))
            .arg("-o")
            .arg("StrictHostKeyChecking=yes")
            .arg("-o")
            .arg("LogLevel=ERROR")
            .arg("-o")
            .arg("ConnectTimeout=10");
        cmd
    }

    /// `ssh -i KEY root@127.0.0.1 LINE` with strict host-key checking.
    pub async fn ssh(&self, line: &str) -> Output {
        let mut cmd = self.ssh_command(&[]);
        cmd.arg("root@127.0.0.1").arg(line);
        run(cmd, None).await
    }

    /// `ssh` with `options` first (the first value given for an option wins), then
    /// the fake's port, the test key and strict host-key checking; the caller adds
    /// the destination and the command.
    pub fn ssh_command(&self, options: &[&str]) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new("ssh");
        cmd.args(options);
        let base = self.ssh_base("unused");
        cmd.args(base.as_std().get_args());
        self.key_login(&mut cmd, "-p");
        cmd.arg("-o").arg("PasswordAuthentication=no");
        cmd
    }

    /// The fake's port (after `port_flag`), the test key, batch mode.
    fn key_login(&self, cmd: &mut tokio::process::Command, port_flag: &str) {
        cmd.arg(port_flag)
            .arg(self.port().to_string())
            .arg("-i")
            .arg(&self.key_path)
            .arg("-o")
            .arg("BatchMode=yes")
            .arg("-o")
            .arg("IdentitiesOnly=yes");
    }

    /// `sshpass -p PASSWORD ssh USER@127.0.0.1 LINE`, password authentication only.
    pub async fn ssh_password(&self, user: &str, password: &str, line: &str) -> Output {
        let mut cmd = tokio::process::Command::new("sshpass");
        cmd.arg("-p").arg(password).arg("ssh");
        let base = self.ssh_base("unused");
        cmd.args(base.as_std().get_args());
        cmd.arg("-p")
            .arg(self.port().to_string())
            .arg("-o")
            .arg("PreferredAuthentications=password")
            .arg("-o")
            .arg("PubkeyAuthentication=no")
            .arg("-o")
            .arg("NumberOfPasswordPrompts=1")
            .arg(format!("{user}@127.0.0.1"))
            .arg(line);
        run(cmd, None).await
    }

    /// `scp -s` (its SFTP mode) with the test key and strict host-key checking; the
    /// caller adds the source and the target.
    pub fn scp_command(&self) -> tokio::process::Command {
        let mut cmd = self.ssh_base("scp");
        cmd.arg("-s");
        self.key_login(&mut cmd, "-P");
        cmd
    }

    /// Runs an `sftp -b -` batch (commands on stdin) with the client key.
    pub async fn sftp_batch(&self, batch: &str) -> Output {
        let mut cmd = self.ssh_base("sftp");
        self.key_login(&mut cmd, "-P");
        cmd.arg("-b").arg("-").arg("root@127.0.0.1");
        run(cmd, Some(batch.as_bytes().to_vec())).await
    }

    /// A russh client session logged in as `user` with the test key or password.
    pub async fn russh(&self, user: &str, use_key: bool) -> russh::client::Handle<ExpectKey> {
        // nodelay as the server sets it (see `hosts::connect_with`).
        let config = Arc::new(russh::client::Config {
            nodelay: true,
            ..Default::default()
        });
        let mut handle = russh::client::connect(
            config,
            self.server.addr(),
            ExpectKey(self.server.host_public_key().clone()),
        )
        .await
        .unwrap();
        let ok = if use_key {
            let hash = handle.best_supported_rsa_hash().await.unwrap().flatten();
            handle
                .authenticate_publickey(
                    user,
                    russh::keys::PrivateKeyWithHashAlg::new(
                        Arc::new(self.client_key.clone()),
                        hash,
                    ),
                )
                .await
                .unwrap()
                .success()
        } else {
            handle
                .authenticate_password(user, PASSWORD)
                .await
                .unwrap()
                .success()
        };
        assert!(ok, "login as {user} failed");
        handle
    }
}

#[derive(Debug)]
pub struct Output {
    pub stdout: String,
    pub stderr: String,
    pub code: Option<i32>,
    pub raw_stdout: Vec<u8>,
}

/// Runs `cmd` to its end (bounded), with `stdin` as its input, and collects its output.
pub async fn run(mut cmd: tokio::process::Command, stdin: Option<Vec<u8>>) -> Output {
    use tokio::io::AsyncWriteExt;
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .kill_on_drop(true);
    let mut child = cmd
        .spawn()
        .expect("OpenSSH client tools are installed (ci/install-test-deps)");
    if let Some(data) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        pipe.write_all(&data).await.unwrap();
        drop(pipe);
    }
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("ssh finished within 60 s")
        .unwrap();
    Output {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        code: out.status.code(),
        raw_stdout: out.stdout,
    }
}

/// Runs `line` as sshd would (a new session leader `bash -c LINE`, stdin empty) in
/// `host`'s shell, without SSH: (stdout, stderr, exit status; 128 + n if killed by n).
pub async fn shell(host: &Host, line: &str) -> (String, String, i32) {
    let ctx = fake_pve::programs::login_ctx(host, "root");
    let (out, err, status) = session(ctx, line, crate::CALL_BOUND).await;
    (out, err, status.unwrap_or_else(|e| panic!("{line}: {e}")))
}

/// Runs `line` as a new session from `ctx` (its user, cwd, environment and launch
/// hooks), stdin empty, within `bound`: (stdout, stderr, exit status; 128 + n if
/// killed by n, or why there is none: the bound passed, the task failed).
pub async fn session(
    ctx: fake_pve::proc::Ctx,
    line: &str,
    bound: std::time::Duration,
) -> (String, String, Result<i32, &'static str>) {
    use fake_pve::io::{Input, Io, Output};
    use fake_pve::proc::{SessionEnd, start_session};
    let (out, out_buf) = Output::capture();
    let (err, err_buf) = Output::capture();
    let io = Io {
        stdin: Input::empty(),
        stdout: out,
        stderr: err,
    };
    let (_, end) = start_session(ctx, line.to_string(), io);
    let status = match tokio::time::timeout(bound, end).await {
        Ok(Ok(SessionEnd::Exited(n))) => Ok(n),
        Ok(Ok(SessionEnd::Signalled(n))) => Ok(128 + n),
        Ok(Err(_)) => Err("the session task failed"),
        Err(_) => Err("the session did not end within its bound"),
    };
    let text = |b: &Arc<std::sync::Mutex<Vec<u8>>>| {
        String::from_utf8_lossy(&b.lock().unwrap()).into_owned()
    };
    (text(&out_buf), text(&err_buf), status)
}
