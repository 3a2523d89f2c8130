//! Real OpenSSH test hosts in containers, started by the tests with testcontainers.
//!
//! Each [`TestHost`] is one container of the image built by `ci/build-test-image.sh`
//! from `test-hosts/image/`: Debian 12's `sshd` (as on a Proxmox VE 8 node) with root
//! login by password and by key, procps, and a `pct` stand-in over three containers
//! (100 webserver running, 101 database stopped, 102 cache running) whose processes
//! are real. Faults happen to the real host: [`TestHost::pause`] (it hangs),
//! [`TestHost::stop`]/[`TestHost::kill`] (connections drop),
//! [`TestHost::restart_with_new_host_key`] (a changed host key).
//!
//! The engine and the image are set up by `bash ci/container-engine.sh && bash
//! ci/build-test-image.sh` (`ci/test.sh` runs both). When either is missing,
//! [`TestHost::start`] fails with a message naming that command: container tests never
//! skip.
//!
//! [`LxcHost`] is the other kind: a real sshd on loopback in front of real LXC
//! containers on this machine (see `lxc.rs`). Both are [`SshHost`]s.
//!
//! # Layout
//! - `lib.rs` — [`TestHost`] and its fault helpers; [`SshHost`].
//! - `image.rs` — the image tag: a content hash of `test-hosts/image/`, computed as the
//!   build script computes it.
//! - `lxc.rs` — [`LxcHost`].

use std::sync::Mutex;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use russh::keys::ssh_key::{LineEnding, PublicKey};
use russh::keys::{Algorithm, PrivateKey};
use testcontainers::core::{CmdWaitFor, ExecCommand, IntoContainerPort, WaitFor};
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, GenericImage, ImageExt};
use tokio::io::AsyncReadExt;

mod image;
pub mod lxc;

pub use image::{IMAGE_REPOSITORY, image_tag};
pub use lxc::{LxcHost, LxcHostError};

/// What a test needs of an SSH test host, whichever kind it is.
pub trait SshHost: Send + Sync {
    /// The address to connect to.
    fn host(&self) -> &str;
    /// The port sshd listens on now.
    fn port(&self) -> u16;
    /// The login (root).
    fn user(&self) -> &str;
    /// Root's password, where the host's sshd takes one.
    fn root_password(&self) -> Option<&str>;
    /// A fresh ed25519 key authorised for [`SshHost::user`].
    fn client_key(&self) -> &PrivateKey;
    /// [`SshHost::client_key`] in OpenSSH format, to write to a file for `ssh -i`.
    fn client_key_openssh(&self) -> String {
        self.client_key()
            .to_openssh(LineEnding::LF)
            .expect("an ed25519 key encodes")
            .to_string()
    }
    /// `[127.0.0.1]:PORT ssh-ed25519 AAAA…`: what `known_hosts` holds for the host.
    fn known_hosts_line(&self) -> String;
    /// `bash -c CMD` on the host, not over SSH (exit code, stdout, stderr); panics
    /// when the command cannot be run at all.
    fn out_of_band(&self, cmd: &str) -> impl Future<Output = (i32, String, String)>;
}

impl SshHost for TestHost {
    fn host(&self) -> &str {
        TestHost::host(self)
    }
    fn port(&self) -> u16 {
        TestHost::port(self)
    }
    fn user(&self) -> &str {
        TestHost::user(self)
    }
    fn root_password(&self) -> Option<&str> {
        Some(self.password())
    }
    fn client_key(&self) -> &PrivateKey {
        TestHost::client_key(self)
    }
    fn known_hosts_line(&self) -> String {
        TestHost::known_hosts_line(self)
    }
    async fn out_of_band(&self, cmd: &str) -> (i32, String, String) {
        self.exec_out_of_band(cmd)
            .await
            .unwrap_or_else(|e| panic!("`{cmd}` out of band: {e}"))
    }
}

/// The label every test-host container carries (value `1`), so that a test or a person
/// can find them: `docker ps -a --filter label=mcp-remote-exec.test-host`.
pub const LABEL: &str = "mcp-remote-exec.test-host";

/// The root password baked into the image.
pub const ROOT_PASSWORD: &str = "test-host-password";

/// The node name (`hostname`) of every test host, as on a default PVE fixture.
pub const NODE_NAME: &str = "pve";

/// What `pct list` prints on either kind of test host, whose containers are the same
/// three as fake-pve's default fixture.
pub const DEFAULT_PCT_LIST: &str = "VMID       Status     Lock         Name                \n\
    100        running                 webserver           \n\
    101        stopped                 database            \n\
    102        running                 cache               \n";

/// The command that sets up the engine and the image.
pub const SETUP_COMMAND: &str = "bash ci/container-engine.sh && bash ci/build-test-image.sh";

/// Bound on every wait for the host's sshd to answer (start, restart).
const READY_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(thiserror::Error)]
pub enum TestHostError {
    #[error(
        "the container engine is not available ({0}); set it up with: {SETUP_COMMAND} (from the workspace root)"
    )]
    EngineMissing(String),
    #[error(
        "the test-host image {0} is missing (built from test-hosts/image/); build it with: {SETUP_COMMAND} (from the workspace root)"
    )]
    ImageMissing(String),
    #[error("test-host image inputs unreadable: {0}")]
    ImageInputs(#[from] std::io::Error),
    #[error("container: {0}")]
    Container(#[from] testcontainers::TestcontainersError),
    #[error("the test host's sshd did not answer on 127.0.0.1:{port} within {READY_TIMEOUT:?}")]
    NotReady { port: u16 },
    #[error("reading the test host's key: {0}")]
    HostKey(String),
    #[error("reading the test host's address: {0}")]
    Address(String),
    #[error("`{cmd}` in the container did not finish")]
    ExecUnfinished { cmd: String },
}

/// Debug shows the message: a test's `unwrap()` then prints the set-up command.
impl std::fmt::Debug for TestHostError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self}")
    }
}

/// One running OpenSSH host in a container. Dropping it removes the container (also
/// when a test panics).
pub struct TestHost {
    container: ContainerAsync<GenericImage>,
    /// The host port Docker mapped to the container's port 22. It changes when the
    /// container is stopped and started again, so it is re-read after each start.
    port: AtomicU16,
    host_key: Mutex<PublicKey>,
    client_key: PrivateKey,
}

impl TestHost {
    /// Starts a new host and waits until its sshd answers. Its root account accepts
    /// [`TestHost::password`] and [`TestHost::client_key`] (a fresh ed25519 key).
    pub async fn start() -> Result<TestHost, TestHostError> {
        let tag = image_tag()?;
        check_engine_and_image(&tag).await?;
        let client_key = PrivateKey::random(&mut rand::rng(), Algorithm::Ed25519)
            .expect("ed25519 key generation does not fail");
        let authorized = client_key
            .public_key()
            .to_openssh()
            .expect("an ed25519 public key encodes");
        let container = GenericImage::new(IMAGE_REPOSITORY, &tag)
            .with_exposed_port(22.tcp())
            .with_wait_for(WaitFor::message_on_stderr("Server listening on"))
            .with_label(LABEL, "1")
            .with_hostname(NODE_NAME)
            .with_env_var("TEST_HOST_AUTHORIZED_KEY", authorized)
            .with_startup_timeout(READY_TIMEOUT)
            .start()
            .await?;
        let host_key = read_host_key(&container).await?;
        let host = TestHost {
            container,
            port: AtomicU16::new(0),
            host_key: Mutex::new(host_key),
            client_key,
        };
        host.refresh_port().await?;
        host.wait_ready().await?;
        Ok(host)
    }

    /// The address to connect to: Docker publishes the port on the loopback interface.
    pub fn host(&self) -> &str {
        "127.0.0.1"
    }

    /// The host port mapped to the container's sshd (re-read after each start).
    pub fn port(&self) -> u16 {
        self.port.load(Ordering::SeqCst)
    }

    pub fn user(&self) -> &str {
        "root"
    }

    pub fn password(&self) -> &str {
        ROOT_PASSWORD
    }

    /// The host's address on the engine's bridge network, where other test hosts reach
    /// its port 22 (e.g. as the target behind a jump host).
    pub async fn bridge_address(&self) -> Result<std::net::IpAddr, TestHostError> {
        let cmd = "hostname -I";
        let (code, out, err) = self.exec_out_of_band(cmd).await?;
        let first = out.split_whitespace().next().unwrap_or_default();
        match (code, first.parse()) {
            (0, Ok(ip)) => Ok(ip),
            _ => Err(TestHostError::Address(format!(
                "`{cmd}` in the container gave {out:?} {err:?} (exit {code}), not an address"
            ))),
        }
    }

    /// The container's id (for `docker` commands in a test).
    pub fn id(&self) -> &str {
        self.container.id()
    }

    /// A fresh ed25519 key authorised for root when the host started.
    pub fn client_key(&self) -> &PrivateKey {
        &self.client_key
    }

    /// [`TestHost::client_key`] in OpenSSH format, to write to a file for `ssh -i`.
    pub fn client_key_openssh(&self) -> String {
        self.client_key
            .to_openssh(LineEnding::LF)
            .expect("an ed25519 key encodes")
            .to_string()
    }

    /// The host's current ed25519 host key.
    pub fn host_key(&self) -> PublicKey {
        self.host_key.lock().expect("host key lock").clone()
    }

    /// `[127.0.0.1]:PORT ssh-ed25519 AAAA…` for the current port and host key: what an
    /// OpenSSH `known_hosts` file holds for this host.
    pub fn known_hosts_line(&self) -> String {
        let key = self
            .host_key()
            .to_openssh()
            .expect("an ed25519 public key encodes");
        format!("[{}]:{} {key}", self.host(), self.port())
    }

    /// Runs `bash -c CMD` in the container through the engine (`docker exec`), not
    /// over SSH: to look at the host from outside (`pgrep`, `sha256sum`, …).
    /// Returns the exit code, stdout and stderr.
    pub async fn exec_out_of_band(
        &self,
        cmd: &str,
    ) -> Result<(i32, String, String), TestHostError> {
        exec(&self.container, cmd).await
    }

    /// Freezes every process of the host (`docker pause`): TCP still connects through
    /// Docker's proxy, but sshd answers nothing — a host that hangs.
    pub async fn pause(&self) -> Result<(), TestHostError> {
        Ok(self.container.pause().await?)
    }

    pub async fn unpause(&self) -> Result<(), TestHostError> {
        Ok(self.container.unpause().await?)
    }

    /// Stops the host (`docker stop`: SIGTERM to sshd, SIGKILL after 5 s): its
    /// connections drop. [`TestHost::start_again`] brings it back with the same keys.
    pub async fn stop(&self) -> Result<(), TestHostError> {
        Ok(self.container.stop_with_timeout(Some(5)).await?)
    }

    /// Stops the host without a grace period (`docker stop -t 0`: SIGKILL at once).
    pub async fn kill(&self) -> Result<(), TestHostError> {
        Ok(self.container.stop_with_timeout(Some(0)).await?)
    }

    /// Starts a stopped host again: same host keys, same files, possibly a **new port**
    /// (Docker maps a fresh ephemeral port at each start; [`TestHost::port`] and
    /// [`TestHost::known_hosts_line`] follow it).
    pub async fn start_again(&self) -> Result<(), TestHostError> {
        self.container.start().await?;
        self.refresh_port().await?;
        self.wait_ready().await
    }

    /// Deletes the host keys and restarts the host: it comes back with new keys (and
    /// possibly a new port). A client holding the old `known_hosts` line must refuse it.
    pub async fn restart_with_new_host_key(&self) -> Result<(), TestHostError> {
        let (code, _, err) = self.exec_out_of_band("rm -f /etc/ssh/ssh_host_*").await?;
        if code != 0 {
            return Err(TestHostError::HostKey(err));
        }
        self.stop().await?;
        self.container.start().await?;
        self.refresh_port().await?;
        self.read_host_key().await?;
        self.wait_ready().await
    }

    async fn refresh_port(&self) -> Result<(), TestHostError> {
        let port = self.container.get_host_port_ipv4(22.tcp()).await?;
        self.port.store(port, Ordering::SeqCst);
        Ok(())
    }

    async fn read_host_key(&self) -> Result<(), TestHostError> {
        let key = read_host_key(&self.container).await?;
        *self.host_key.lock().expect("host key lock") = key;
        Ok(())
    }

    /// Waits (bounded) until sshd sends its banner through the mapped port. Docker's
    /// proxy accepts connections before sshd listens, so a successful connect alone
    /// proves nothing.
    async fn wait_ready(&self) -> Result<(), TestHostError> {
        let port = self.port();
        let deadline = tokio::time::Instant::now() + READY_TIMEOUT;
        while tokio::time::Instant::now() < deadline {
            if banner(port).await {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(TestHostError::NotReady { port })
    }
}

/// Whether an SSH banner arrives on 127.0.0.1:port within a second.
async fn banner(port: u16) -> bool {
    let attempt = async {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .ok()?;
        let mut buf = [0u8; 8];
        stream.read_exact(&mut buf).await.ok()?;
        Some(buf.starts_with(b"SSH-2.0-"))
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(1), attempt).await,
        Ok(Some(true))
    )
}

/// `bash -c CMD` through the engine: exit code, stdout, stderr.
async fn exec(
    container: &ContainerAsync<GenericImage>,
    cmd: &str,
) -> Result<(i32, String, String), TestHostError> {
    let mut result = container
        .exec(ExecCommand::new(["bash", "-c", cmd]).with_cmd_ready_condition(CmdWaitFor::Nothing))
        .await?;
    // Each stream follows the command until it exits.
    let stdout = result.stdout_to_vec().await?;
    let stderr = result.stderr_to_vec().await?;
    // The engine may report the exit code a moment after the streams end.
    for _ in 0..100 {
        if let Some(code) = result.exit_code().await? {
            return Ok((
                i32::try_from(code).unwrap_or(-1),
                String::from_utf8_lossy(&stdout).into_owned(),
                String::from_utf8_lossy(&stderr).into_owned(),
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(TestHostError::ExecUnfinished {
        cmd: cmd.to_string(),
    })
}

/// Reads the ed25519 host key out of band, waiting (bounded) for the entrypoint to
/// have made it.
async fn read_host_key(
    container: &ContainerAsync<GenericImage>,
) -> Result<PublicKey, TestHostError> {
    let deadline = tokio::time::Instant::now() + READY_TIMEOUT;
    loop {
        let (code, out, err) = exec(container, "cat /etc/ssh/ssh_host_ed25519_key.pub").await?;
        if code == 0 {
            return PublicKey::from_openssh(out.trim())
                .map_err(|e| TestHostError::HostKey(e.to_string()));
        }
        if tokio::time::Instant::now() > deadline {
            return Err(TestHostError::HostKey(err));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Fails with the set-up command when the engine does not answer or the image for the
/// current `test-hosts/image/` is missing (testcontainers would try to pull it).
async fn check_engine_and_image(tag: &str) -> Result<(), TestHostError> {
    let image = format!("{IMAGE_REPOSITORY}:{tag}");
    let output = tokio::process::Command::new("docker")
        .args(["image", "inspect", "--format", "{{.Id}}", &image])
        .kill_on_drop(true)
        .output();
    let output = match tokio::time::timeout(Duration::from_secs(30), output).await {
        Err(_) => {
            return Err(TestHostError::EngineMissing(
                "`docker image inspect` did not answer within 30 s".into(),
            ));
        }
        Ok(Err(e)) => {
            return Err(TestHostError::EngineMissing(format!(
                "cannot run `docker`: {e}"
            )));
        }
        Ok(Ok(output)) => output,
    };
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    if stderr.contains("No such image") || stderr.contains("No such object") {
        Err(TestHostError::ImageMissing(image))
    } else {
        Err(TestHostError::EngineMissing(stderr.trim().to_string()))
    }
}
