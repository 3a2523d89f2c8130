//! A test host whose containers are real LXC containers on this machine.
//!
//! [`LxcHost::start`] makes, under [`BASE_DIR`]`/<pid>-<random>/`:
//! - `lxc/` — an lxcpath holding three containers named by their vmid, as on a node:
//!   100 `webserver` (privileged, running), 101 `database` (unprivileged, stopped) and
//!   102 `cache` (unprivileged, running). Unprivileged means id-mapped as Proxmox VE
//!   maps them: container ids 0–65535 are host ids 100000–165535. Each root is
//!   extracted from the Debian rootfs tarball of `ci/debian-rootfs.sh` (an unprivileged
//!   one inside a user namespace, so its files get the shifted ids), networking is
//!   off (`lxc.net.0.type = empty`) and init is `test-hosts/lxc/ct-init`.
//! - `pct/` — the pct stand-in's state (`test-hosts/image/pct`, LXC backend): one
//!   directory per container with its name.
//! - `bin/` — `pct`, the stand-in, bound over `/usr/local/sbin` in sshd's own mount
//!   namespace, so the login shells of this host (and only they) find it on `PATH`.
//!   In that namespace root's `.bashrc` and `.profile` are Debian's stock ones.
//! - `ssh/` — a real OpenSSH sshd on a loopback port, started with Debian's stock
//!   `/etc/ssh/sshd_config` (included after the few lines that give this host its port,
//!   host key, pid file and authorised key): `MaxSessions 10`, root by key only.
//!
//! So a test reaches a container exactly as the server reaches one on a node:
//! SSH → `pct` → `lxc-attach` into a real container.
//!
//! Dropping the host stops its containers (`lxc-stop --kill`), ends its sshd and
//! removes the directory. Hosts left behind by a test process that died are swept at
//! the next start. Set-up (root, lxc, sshd, the rootfs tarball): [`LXC_SETUP_COMMAND`].

use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use russh::keys::ssh_key::LineEnding;
use russh::keys::{Algorithm, PrivateKey};

use crate::SshHost;

/// sshd's own mount namespace: the pct stand-in over `/usr/local/sbin`, and root's
/// `.bashrc` and `.profile` as Debian installs them (`/usr/share/base-files`), so
/// that this host's login shells are a stock node's, not those of the machine's own
/// root (whose profile may run anything, e.g. a `pyenv rehash` that writes to stderr
/// and races with the next login). `$1` is the stand-in's directory, `$2` sshd's
/// configuration.
const SSHD_NAMESPACE: &str = "mount --bind \"$1\" /usr/local/sbin || exit 1
for f in bashrc profile; do
  if [ -e /root/.$f ] && [ -e /usr/share/base-files/dot.$f ]; then
    mount --bind /usr/share/base-files/dot.$f /root/.$f || exit 1
  fi
done
exec /usr/sbin/sshd -D -e -f \"$2\"";

/// Where the LXC test hosts live (traversable by the id-mapped containers' root).
pub const BASE_DIR: &str = "/var/lib/mcp-remote-exec-lxc";

/// The command that installs and prepares what an LXC test host needs.
pub const LXC_SETUP_COMMAND: &str = "bash ci/lxc-host.sh";

/// Where `ci/debian-rootfs.sh` keeps its tarballs.
const CACHE_DIR: &str = "/var/cache/mcp-remote-exec";

/// Host ids of an unprivileged container's ids 0–65535, as Proxmox VE maps them.
pub const ID_MAP_BASE: u32 = 100_000;
const ID_MAP_SIZE: u32 = 65_536;

const STANDIN: &str = include_str!("../image/pct");
const CT_INIT: &str = include_str!("../lxc/ct-init");

/// Bound on sshd answering after its start.
const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// One container of an LXC test host.
#[derive(Debug, Clone, Copy)]
pub struct LxcContainer {
    pub vmid: u32,
    pub name: &'static str,
    pub unprivileged: bool,
    pub running: bool,
}

/// The containers every LXC test host has.
pub const CONTAINERS: [LxcContainer; 3] = [
    LxcContainer {
        vmid: 100,
        name: "webserver",
        unprivileged: false,
        running: true,
    },
    LxcContainer {
        vmid: 101,
        name: "database",
        unprivileged: true,
        running: false,
    },
    LxcContainer {
        vmid: 102,
        name: "cache",
        unprivileged: true,
        running: true,
    },
];

#[derive(thiserror::Error)]
pub enum LxcHostError {
    #[error(
        "an LXC test host cannot start here: {0}; set it up with: {LXC_SETUP_COMMAND} (from the workspace root, as root)"
    )]
    Missing(String),
    #[error("LXC test host: {what}: {detail}")]
    Step { what: String, detail: String },
}

impl std::fmt::Debug for LxcHostError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self}")
    }
}

fn step(what: impl Into<String>, detail: impl std::fmt::Display) -> LxcHostError {
    LxcHostError::Step {
        what: what.into(),
        detail: detail.to_string(),
    }
}

/// A running LXC test host. See the module documentation.
pub struct LxcHost {
    dir: PathBuf,
    sshd: Option<Child>,
    port: u16,
    host_key: PrivateKey,
    client_key: PrivateKey,
}

impl LxcHost {
    /// Sweeps leftovers, makes the containers, starts sshd and waits for its banner.
    pub async fn start() -> Result<LxcHost, LxcHostError> {
        tokio::task::spawn_blocking(Self::start_blocking)
            .await
            .map_err(|e| step("start", e))?
    }

    fn start_blocking() -> Result<LxcHost, LxcHostError> {
        let tarball = preflight()?;
        sweep();
        let dir = make_dir()?;
        // From here on, Drop cleans up whatever was made.
        let mut host = LxcHost {
            dir,
            sshd: None,
            port: 0,
            host_key: PrivateKey::random(&mut rand::rng(), Algorithm::Ed25519)
                .expect("ed25519 key generation does not fail"),
            client_key: PrivateKey::random(&mut rand::rng(), Algorithm::Ed25519)
                .expect("ed25519 key generation does not fail"),
        };
        for ct in CONTAINERS {
            host.make_container(ct, &tarball)?;
            if ct.running {
                host.lxc_start(ct.vmid)?;
            }
        }
        host.start_sshd()?;
        Ok(host)
    }

    /// The lxcpath of this host's containers (`lxc-* -P`).
    pub fn lxcpath(&self) -> PathBuf {
        self.dir.join("lxc")
    }

    /// A container's root directory as the host sees it.
    pub fn rootfs(&self, vmid: u32) -> PathBuf {
        self.lxcpath().join(vmid.to_string()).join("rootfs")
    }

    /// Runs `sh -c CMD` inside container `vmid` with `lxc-attach`, not over SSH
    /// (bounded by 60 s). Returns the exit code, stdout and stderr.
    pub async fn ct_out_of_band(&self, vmid: u32, cmd: &str) -> (i32, String, String) {
        let lxcpath = self.lxcpath();
        let argv: Vec<String> = vec![
            "lxc-attach".into(),
            "-P".into(),
            lxcpath.display().to_string(),
            "-n".into(),
            vmid.to_string(),
            "--clear-env".into(),
            "--".into(),
            "/bin/sh".into(),
            "-c".into(),
            cmd.into(),
        ];
        run_bounded(argv).await
    }

    /// The host pid of container `vmid`'s init, if it runs.
    pub fn init_pid(&self, vmid: u32) -> Option<u32> {
        let out = Command::new("lxc-info")
            .arg("-P")
            .arg(self.lxcpath())
            .args(["-n", &vmid.to_string(), "-pH"])
            .output()
            .ok()?;
        String::from_utf8_lossy(&out.stdout).trim().parse().ok()
    }

    fn make_container(&self, ct: LxcContainer, tarball: &Path) -> Result<(), LxcHostError> {
        let ctdir = self.lxcpath().join(ct.vmid.to_string());
        let rootfs = ctdir.join("rootfs");
        mkdir(&ctdir, 0o755)?;
        mkdir(&rootfs, 0o755)?;
        let (uid, gid) = if ct.unprivileged {
            (ID_MAP_BASE, ID_MAP_BASE)
        } else {
            (0, 0)
        };
        std::os::unix::fs::chown(&rootfs, Some(uid), Some(gid))
            .map_err(|e| step(format!("chown {}", rootfs.display()), e))?;
        // LXC populates /dev itself (lxc.autodev); device nodes cannot be made in a
        // user namespace anyway.
        let mut tar: Vec<String> = vec![
            "tar".into(),
            "-C".into(),
            rootfs.display().to_string(),
            "--numeric-owner".into(),
            "--exclude=./dev/*".into(),
            "-xpf".into(),
            tarball.display().to_string(),
        ];
        if ct.unprivileged {
            let map = format!("b:0:{ID_MAP_BASE}:{ID_MAP_SIZE}");
            let mut inner = vec!["lxc-usernsexec".into(), "-m".into(), map, "--".into()];
            inner.append(&mut tar);
            tar = inner;
        }
        run(&tar)?;
        let write = |rel: &str, contents: &str, mode: u32| -> Result<(), LxcHostError> {
            let path = rootfs.join(rel);
            std::fs::write(&path, contents).map_err(|e| step(format!("{}", path.display()), e))?;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
                .map_err(|e| step(format!("chmod {}", path.display()), e))?;
            std::os::unix::fs::chown(&path, Some(uid), Some(gid))
                .map_err(|e| step(format!("chown {}", path.display()), e))
        };
        write("etc/hostname", &format!("{}\n", ct.name), 0o644)?;
        write("sbin/ct-init", CT_INIT, 0o755)?;
        let mut config = String::from("lxc.include = /usr/share/lxc/config/common.conf\n");
        if ct.unprivileged {
            config.push_str(&format!(
                "lxc.include = /usr/share/lxc/config/userns.conf\n\
                 lxc.idmap = u 0 {ID_MAP_BASE} {ID_MAP_SIZE}\n\
                 lxc.idmap = g 0 {ID_MAP_BASE} {ID_MAP_SIZE}\n"
            ));
        }
        config.push_str(&format!(
            "lxc.arch = amd64\n\
             lxc.uts.name = {}\n\
             lxc.rootfs.path = dir:{}\n\
             lxc.net.0.type = empty\n\
             lxc.init.cmd = /sbin/ct-init\n\
             lxc.apparmor.profile = unconfined\n",
            ct.name,
            rootfs.display()
        ));
        std::fs::write(ctdir.join("config"), config).map_err(|e| step("lxc config", e))?;
        let state = self.dir.join("pct").join(ct.vmid.to_string());
        mkdir(&state, 0o755)?;
        std::fs::write(state.join("name"), format!("{}\n", ct.name))
            .map_err(|e| step("pct state", e))?;
        Ok(())
    }

    fn lxc_start(&self, vmid: u32) -> Result<(), LxcHostError> {
        let log = self.lxcpath().join(format!("{vmid}.log"));
        let out = Command::new("lxc-start")
            .arg("-P")
            .arg(self.lxcpath())
            .args(["-n", &vmid.to_string(), "-l", "INFO", "-o"])
            .arg(&log)
            .output()
            .map_err(|e| step("lxc-start", e))?;
        if !out.status.success() {
            let tail = std::fs::read_to_string(&log).unwrap_or_default();
            let tail: Vec<&str> = tail.lines().rev().take(15).collect();
            return Err(step(
                format!("lxc-start {vmid}"),
                format!(
                    "{}{}\nlast lines of {}:\n{}",
                    String::from_utf8_lossy(&out.stderr),
                    out.status,
                    log.display(),
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                ),
            ));
        }
        Ok(())
    }

    fn start_sshd(&mut self) -> Result<(), LxcHostError> {
        let ssh = self.dir.join("ssh");
        mkdir(&ssh, 0o700)?;
        let bin = self.dir.join("bin");
        mkdir(&bin, 0o755)?;
        let standin = bin.join("pct-standin");
        write_file(&standin, STANDIN, 0o755)?;
        write_file(
            &bin.join("pct"),
            &format!(
                "#!/bin/sh\n# The pct stand-in's LXC backend over this host's containers.\n\
                 FAKEPCT_ROOT={} FAKEPCT_LXC={} exec {} \"$@\"\n",
                self.dir.join("pct").display(),
                self.lxcpath().display(),
                standin.display()
            ),
            0o755,
        )?;
        let key = ssh.join("ssh_host_ed25519_key");
        write_file(
            &key,
            &self
                .host_key
                .to_openssh(LineEnding::LF)
                .expect("an ed25519 key encodes"),
            0o600,
        )?;
        write_file(
            &ssh.join("authorized_keys"),
            &format!(
                "{}\n",
                self.client_key
                    .public_key()
                    .to_openssh()
                    .expect("an ed25519 public key encodes")
            ),
            0o600,
        )?;
        // sshd's privilege separation directory (made by its service on a real host).
        mkdir_p("/run/sshd", 0o755)?;
        mkdir_p("/usr/local/sbin", 0o755)?;
        let mut last = String::new();
        for _ in 0..3 {
            let port = free_port()?;
            let config = ssh.join("sshd_config");
            // sshd keeps the first value it reads for a keyword: these lines, then
            // Debian's stock configuration for everything else.
            write_file(
                &config,
                &format!(
                    "# This LXC test host; everything else is Debian's stock configuration.\n\
                     Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nPidFile {}\n\
                     AuthorizedKeysFile {}\nInclude /etc/ssh/sshd_config\n",
                    key.display(),
                    ssh.join("sshd.pid").display(),
                    ssh.join("authorized_keys").display()
                ),
                0o600,
            )?;
            let log = ssh.join("sshd.log");
            let log_file = std::fs::File::create(&log).map_err(|e| step("sshd log", e))?;
            let child = Command::new("unshare")
                .args(["--mount", "--propagation", "private", "--", "/bin/sh", "-c"])
                .arg(SSHD_NAMESPACE)
                .arg("sh")
                .arg(&bin)
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log_file)
                .spawn()
                .map_err(|e| step("starting sshd", e))?;
            self.sshd = Some(child);
            self.port = port;
            match self.wait_banner() {
                Ok(()) => return Ok(()),
                Err(e) => {
                    self.stop_sshd();
                    last = format!("{e}; sshd's log: {}", read_lossy(&log));
                    if !last.contains("Address already in use") {
                        break;
                    }
                }
            }
        }
        Err(step("sshd did not start", last))
    }

    fn wait_banner(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(child) = self.sshd.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                return Err(format!("sshd exited: {status}"));
            }
            if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", self.port)) {
                s.set_read_timeout(Some(Duration::from_secs(5))).ok();
                let mut buf = [0u8; 8];
                if s.read_exact(&mut buf).is_ok() && &buf == b"SSH-2.0-" {
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "no SSH banner on 127.0.0.1:{} within {READY_TIMEOUT:?}",
                    self.port
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn stop_sshd(&mut self) {
        if let Some(mut child) = self.sshd.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl SshHost for LxcHost {
    fn host(&self) -> &str {
        "127.0.0.1"
    }
    fn port(&self) -> u16 {
        self.port
    }
    fn user(&self) -> &str {
        "root"
    }
    fn root_password(&self) -> Option<&str> {
        // Debian's stock sshd: PermitRootLogin prohibit-password.
        None
    }
    fn client_key(&self) -> &PrivateKey {
        &self.client_key
    }
    fn known_hosts_line(&self) -> String {
        let key = self
            .host_key
            .public_key()
            .to_openssh()
            .expect("an ed25519 public key encodes");
        format!("[127.0.0.1]:{} {key}", self.port)
    }
    async fn out_of_band(&self, cmd: &str) -> (i32, String, String) {
        run_bounded(vec!["/bin/bash".into(), "-c".into(), cmd.into()]).await
    }
}

impl Drop for LxcHost {
    fn drop(&mut self) {
        self.stop_sshd();
        remove_host_dir(&self.dir);
    }
}

/// Root, the LXC tools, sshd and the rootfs tarball; returns the tarball.
fn preflight() -> Result<PathBuf, LxcHostError> {
    let uid = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(str::to_string))
        })
        .unwrap_or_default();
    if uid != "0" {
        return Err(LxcHostError::Missing(format!(
            "the tests run as uid {uid}, and LXC containers are started by root"
        )));
    }
    for tool in [
        "/usr/bin/lxc-start",
        "/usr/bin/lxc-attach",
        "/usr/bin/lxc-usernsexec",
        "/usr/sbin/sshd",
        "/etc/ssh/sshd_config",
    ] {
        if !Path::new(tool).exists() {
            return Err(LxcHostError::Missing(format!("{tool} is missing")));
        }
    }
    let tarball = Path::new(CACHE_DIR).join(format!("bookworm-{}.tar", rootfs_hash()?));
    if !tarball.is_file() {
        return Err(LxcHostError::Missing(format!(
            "the rootfs tarball {} is missing",
            tarball.display()
        )));
    }
    Ok(tarball)
}

/// The 12 hex digits `ci/debian-rootfs.sh` names its tarball by: the SHA-256 of the
/// package list joined by commas, with a newline (`echo "$packages" | sha256sum`).
fn rootfs_hash() -> Result<String, LxcHostError> {
    use sha2::{Digest, Sha256};
    let list = Path::new(env!("CARGO_MANIFEST_DIR")).join("image/base-packages");
    let text = std::fs::read_to_string(&list).map_err(|e| step(list.display().to_string(), e))?;
    let packages: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .flat_map(str::split_whitespace)
        .collect();
    let digest = Sha256::digest(format!("{}\n", packages.join(",")).as_bytes());
    Ok(digest
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>()[..12]
        .to_string())
}

fn make_dir() -> Result<PathBuf, LxcHostError> {
    mkdir_p(BASE_DIR, 0o755)?;
    let random: u32 = rand::random();
    let dir = Path::new(BASE_DIR).join(format!("{}-{random:08x}", std::process::id()));
    mkdir(&dir, 0o755)?;
    std::fs::write(dir.join("owner"), std::process::id().to_string())
        .map_err(|e| step("owner file", e))?;
    mkdir(&dir.join("lxc"), 0o755)?;
    mkdir(&dir.join("pct"), 0o755)?;
    Ok(dir)
}

/// Removes the hosts whose test process is gone (a crash, a killed run).
fn sweep() {
    let Ok(entries) = std::fs::read_dir(BASE_DIR) else {
        return;
    };
    for entry in entries.flatten() {
        let dir = entry.path();
        let owner = std::fs::read_to_string(dir.join("owner")).unwrap_or_default();
        let alive = !owner.trim().is_empty() && Path::new("/proc").join(owner.trim()).exists();
        if !alive {
            if let Ok(pid) = std::fs::read_to_string(dir.join("ssh/sshd.pid")) {
                let _ = Command::new("kill").arg(pid.trim()).status();
            }
            remove_host_dir(&dir);
        }
    }
}

/// Stops every container under `dir/lxc` and removes `dir`.
fn remove_host_dir(dir: &Path) {
    let lxcpath = dir.join("lxc");
    if let Ok(entries) = std::fs::read_dir(&lxcpath) {
        for entry in entries.flatten() {
            if entry.path().join("config").exists() {
                let _ = Command::new("lxc-stop")
                    .arg("-P")
                    .arg(&lxcpath)
                    .arg("-n")
                    .arg(entry.file_name())
                    .arg("--kill")
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
            }
        }
    }
    let _ = std::fs::remove_dir_all(dir);
}

fn free_port() -> Result<u16, LxcHostError> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| step("a port", e))?;
    Ok(listener.local_addr().map_err(|e| step("a port", e))?.port())
}

fn mkdir(path: &Path, mode: u32) -> Result<(), LxcHostError> {
    std::fs::create_dir(path).map_err(|e| step(format!("mkdir {}", path.display()), e))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| step(format!("chmod {}", path.display()), e))
}

fn mkdir_p(path: &str, mode: u32) -> Result<(), LxcHostError> {
    if Path::new(path).is_dir() {
        return Ok(());
    }
    std::fs::create_dir_all(path).map_err(|e| step(format!("mkdir {path}"), e))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| step(format!("chmod {path}"), e))
}

fn write_file(path: &Path, contents: &str, mode: u32) -> Result<(), LxcHostError> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)
        .map_err(|e| step(format!("{}", path.display()), e))?;
    f.write_all(contents.as_bytes())
        .map_err(|e| step(format!("{}", path.display()), e))
}

fn read_lossy(path: &Path) -> String {
    String::from_utf8_lossy(&std::fs::read(path).unwrap_or_default()).into_owned()
}

/// Runs argv to completion; an error carries its stderr.
fn run(argv: &[String]) -> Result<(), LxcHostError> {
    let out = Command::new(&argv[0])
        .args(&argv[1..])
        .output()
        .map_err(|e| step(argv.join(" "), e))?;
    if !out.status.success() {
        return Err(step(
            argv.join(" "),
            format!("{}: {}", out.status, String::from_utf8_lossy(&out.stderr)),
        ));
    }
    Ok(())
}

/// Runs argv with a 60 s bound (killed after it); exit code (-1 if killed by a
/// signal), stdout, stderr.
async fn run_bounded(argv: Vec<String>) -> (i32, String, String) {
    let child = tokio::process::Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    match tokio::time::timeout(Duration::from_secs(60), child).await {
        Ok(Ok(out)) => (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        ),
        Ok(Err(e)) => panic!("`{}` did not run: {e}", argv.join(" ")),
        Err(_) => panic!("`{}` did not finish within 60 s", argv.join(" ")),
    }
}
