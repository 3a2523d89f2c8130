//! Fixtures: the TOML scenario files that declare a node, its containers, files,
//! scripted command responses and faults (format documented in fixtures/README.md),
//! and the plausible Debian layout every host and container starts from.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::fs::Fs;
use crate::host::{
    Container, DEFAULT_MAX_SESSIONS, Faults, LOCKS, ScriptedCommand, SftpFault, SignalPolicy,
    State, Status,
};

/// The fixture that ships with fake-pve: the plugin's three example containers.
pub const DEFAULT_FIXTURE: &str = include_str!("../../fixtures/default.toml");

#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    #[error("cannot read fixture {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("invalid fixture: {0}")]
    Parse(#[from] toml::de::Error),
    #[error("invalid fixture: {0}")]
    Invalid(String),
}

#[derive(Debug, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Fixture {
    #[serde(default = "default_node")]
    pub node: String,
    /// `refuse-root` (OpenSSH < 9.8, the default) or `honour`.
    pub signal_policy: Option<String>,
    /// sshd's `MaxSessions` (≥ 1): session channels per connection; 10 when absent.
    pub max_sessions: Option<u32>,
    pub containers: Vec<ContainerSpec>,
    pub host_files: Vec<FileSpec>,
    pub scripts: Vec<ScriptedCommand>,
    pub faults: FaultSpec,
}

fn default_node() -> String {
    "pve".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContainerSpec {
    pub vmid: u32,
    pub hostname: Option<String>,
    #[serde(default = "default_status")]
    pub status: Status,
    pub lock: Option<String>,
    #[serde(default)]
    pub template: bool,
    #[serde(default)]
    pub ha: bool,
    pub tags: Option<String>,
    /// `debian` (default) or `alpine` (no bash).
    #[serde(default = "default_ostype")]
    pub ostype: String,
    pub cores: Option<u32>,
    pub memory: Option<u32>,
    pub swap: Option<u32>,
    /// e.g. `8G`.
    pub disk: Option<String>,
    pub description: Option<String>,
    /// Any other config keys, verbatim (`net1 = "…"`, `onboot = "1"`).
    #[serde(default)]
    pub config: BTreeMap<String, String>,
    #[serde(default)]
    pub files: Vec<FileSpec>,
    /// Fault: stop/shutdown fail and it keeps running.
    #[serde(default)]
    pub refuses_stop: bool,
    /// Fault: a clean shutdown is ignored (shutdown/reboot wait out their timeout).
    #[serde(default)]
    pub ignores_shutdown: bool,
    /// Live figures while it runs (`[containers.metrics]`: cpu, mem, netin, …).
    #[serde(default)]
    pub metrics: crate::host::Metrics,
}

fn default_status() -> Status {
    Status::Stopped
}

fn default_ostype() -> String {
    "debian".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSpec {
    pub path: String,
    #[serde(default)]
    pub content: String,
    /// Octal string, e.g. "644". Directories when `dir = true`.
    #[serde(default)]
    pub mode: Option<String>,
    #[serde(default)]
    pub dir: bool,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct FaultSpec {
    pub latency_ms: u64,
    /// How long vzdump takes per guest (holding its `backup` lock).
    pub backup_ms: u64,
    pub drop_after_bytes: Option<u64>,
    pub drop_on_command: Option<String>,
    pub hang: Vec<String>,
    pub refuse_auth: bool,
    pub sftp: Option<SftpFault>,
}

impl Fixture {
    pub fn parse(text: &str) -> Result<Self, FixtureError> {
        Ok(toml::from_str(text)?)
    }

    pub fn load(path: &Path) -> Result<Self, FixtureError> {
        let text = std::fs::read_to_string(path).map_err(|source| FixtureError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text)
    }

    pub fn default_fixture() -> Self {
        Self::parse(DEFAULT_FIXTURE).expect("the bundled default fixture is valid")
    }

    /// Builds the host state this fixture describes.
    pub fn into_state(self) -> Result<State, FixtureError> {
        let signal_policy = match self.signal_policy.as_deref() {
            None | Some("refuse-root") => SignalPolicy::RefuseRoot,
            Some("honour") | Some("honor") => SignalPolicy::Honour,
            Some(other) => {
                return Err(FixtureError::Invalid(format!(
                    "signal_policy = {other:?}: use \"refuse-root\" or \"honour\""
                )));
            }
        };
        let max_sessions = match self.max_sessions {
            None => DEFAULT_MAX_SESSIONS,
            Some(0) => {
                return Err(FixtureError::Invalid(
                    "max_sessions = 0: use at least 1 (sshd's default is 10)".into(),
                ));
            }
            Some(n) => n,
        };
        let mut fs = host_fs(&self.node);
        apply_files(&mut fs, &self.host_files)?;
        let mut containers = BTreeMap::new();
        for spec in self.containers {
            let ct = build_container(spec)?;
            if containers.insert(ct.vmid, ct).is_some() {
                return Err(FixtureError::Invalid("duplicate vmid".into()));
            }
        }
        let f = self.faults;
        Ok(State {
            node: self.node,
            fs,
            containers,
            scripts: self.scripts,
            faults: Faults {
                latency: Duration::from_millis(f.latency_ms),
                backup_time: Duration::from_millis(f.backup_ms),
                drop_after_bytes: f.drop_after_bytes,
                drop_on_command: f.drop_on_command,
                hang: f.hang,
                refuse_auth: f.refuse_auth,
                sftp: f.sftp,
            },
            signal_policy,
            max_sessions,
        })
    }
}

fn parse_mode(mode: Option<&str>, default: u32) -> Result<u32, FixtureError> {
    match mode {
        None => Ok(default),
        Some(m) => u32::from_str_radix(m, 8)
            .map_err(|_| FixtureError::Invalid(format!("mode {m:?} is not octal"))),
    }
}

fn apply_files(fs: &mut Fs, files: &[FileSpec]) -> Result<(), FixtureError> {
    for f in files {
        let invalid = |e: crate::fs::FsError| FixtureError::Invalid(format!("{}: {e}", f.path));
        if f.dir {
            fs.mkdir_all(&f.path, 0o755).map_err(invalid)?;
            fs.set_mode(&f.path, parse_mode(f.mode.as_deref(), 0o755)?)
                .map_err(invalid)?;
        } else {
            fs.mkdir_all(
                crate::fs::parent(&crate::fs::normalize("/", &f.path)),
                0o755,
            )
            .map_err(invalid)?;
            fs.write_file(&f.path, f.content.as_bytes(), 0o644)
                .map_err(invalid)?;
            fs.set_mode(&f.path, parse_mode(f.mode.as_deref(), 0o644)?)
                .map_err(invalid)?;
        }
    }
    Ok(())
}

fn build_container(spec: ContainerSpec) -> Result<Container, FixtureError> {
    let vmid = spec.vmid;
    if !(100..=999_999_999).contains(&vmid) {
        return Err(FixtureError::Invalid(format!(
            "vmid {vmid} is outside 100..=999999999"
        )));
    }
    if let Some(lock) = &spec.lock
        && !LOCKS.contains(&lock.as_str())
    {
        return Err(FixtureError::Invalid(format!(
            "container {vmid}: unknown lock {lock:?} (known: {})",
            LOCKS.join(", ")
        )));
    }
    let alpine = spec.ostype == "alpine";
    let hostname = spec.hostname.clone();
    let mut config = BTreeMap::new();
    config.insert("arch".into(), "amd64".into());
    config.insert("cores".into(), spec.cores.unwrap_or(1).to_string());
    if let Some(h) = &hostname {
        config.insert("hostname".into(), h.clone());
    }
    config.insert("memory".into(), spec.memory.unwrap_or(512).to_string());
    config.insert(
        "net0".into(),
        format!(
            "name=eth0,bridge=vmbr0,hwaddr=BC:24:11:{:02X}:{:02X}:{:02X},ip=dhcp,type=veth",
            (vmid >> 16) & 0xff,
            (vmid >> 8) & 0xff,
            vmid & 0xff
        ),
    );
    config.insert("ostype".into(), spec.ostype.clone());
    config.insert(
        "rootfs".into(),
        format!(
            "local-lvm:vm-{vmid}-disk-0,size={}",
            spec.disk.as_deref().unwrap_or("8G")
        ),
    );
    config.insert("swap".into(), spec.swap.unwrap_or(512).to_string());
    config.insert("unprivileged".into(), "1".into());
    if let Some(d) = &spec.description {
        config.insert("description".into(), d.clone());
    }
    if let Some(t) = &spec.tags {
        config.insert("tags".into(), t.clone());
    }
    if spec.template {
        config.insert("template".into(), "1".into());
    }
    config.extend(spec.config);

    let mut fs = if alpine {
        alpine_fs(hostname.as_deref().unwrap_or("localhost"))
    } else {
        debian_fs(hostname.as_deref().unwrap_or("localhost"))
    };
    apply_files(&mut fs, &spec.files)?;
    let running = spec.status == Status::Running;
    Ok(Container {
        vmid,
        status: spec.status,
        lock: spec.lock,
        template: spec.template,
        tags: spec.tags,
        ha_managed: spec.ha,
        config,
        lxc: Vec::new(),
        snapshots: Vec::new(),
        parent_snapshot: None,
        fs,
        refuses_stop: spec.refuses_stop,
        ignores_shutdown: spec.ignores_shutdown,
        started_at: running
            .then(|| crate::fs::now_secs().saturating_sub(spec.metrics.uptime.unwrap_or(0))),
        metrics: spec.metrics,
    })
}

fn put(fs: &mut Fs, path: &str, content: &str, mode: u32) {
    let _ = fs.mkdir_all(crate::fs::parent(path), 0o755);
    let _ = fs.write_file(path, content.as_bytes(), mode);
    let _ = fs.set_mode(path, mode);
}

fn dirs(fs: &mut Fs, list: &[&str]) {
    for d in list {
        let _ = fs.mkdir_all(d, 0o755);
    }
    let _ = fs.set_mode("/tmp", 0o1777);
    let _ = fs.set_mode("/root", 0o700);
}

const PASSWD: &str = "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\nwww-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n";
const GROUP: &str = "root:x:0:\ndaemon:x:1:\nwww-data:x:33:\nusers:x:100:\nnogroup:x:65534:\n";

/// The node's own filesystem: the SFTP root.
pub fn host_fs(node: &str) -> Fs {
    let mut fs = Fs::new();
    dirs(
        &mut fs,
        &[
            "/root",
            "/tmp",
            "/home",
            "/etc/pve/lxc",
            "/var/log",
            "/var/lib/vz/dump",
            "/var/lib/vz/template/cache",
            "/usr/bin",
            "/usr/sbin",
            "/bin",
        ],
    );
    put(&mut fs, "/etc/hostname", &format!("{node}\n"), 0o644);
    put(
        &mut fs,
        "/etc/os-release",
        "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION=\"12 (bookworm)\"\nVERSION_CODENAME=bookworm\nID=debian\nHOME_URL=\"https://www.debian.org/\"\n",
        0o644,
    );
    put(&mut fs, "/etc/passwd", PASSWD, 0o644);
    put(&mut fs, "/etc/group", GROUP, 0o644);
    put(&mut fs, "/etc/debian_version", "12.8\n", 0o644);
    put(&mut fs, "/bin/bash", "", 0o755);
    put(&mut fs, "/bin/sh", "", 0o755);
    put(&mut fs, "/usr/sbin/pct", "", 0o755);
    put(&mut fs, "/var/log/syslog", "", 0o640);
    fs
}

/// A Debian 12 container's filesystem.
pub fn debian_fs(hostname: &str) -> Fs {
    let mut fs = Fs::new();
    dirs(
        &mut fs,
        &[
            "/root",
            "/tmp",
            "/home",
            "/etc/apt",
            "/var/log",
            "/var/www",
            "/usr/bin",
            "/usr/sbin",
            "/bin",
            "/opt",
            "/srv",
        ],
    );
    put(&mut fs, "/etc/hostname", &format!("{hostname}\n"), 0o644);
    put(
        &mut fs,
        "/etc/hosts",
        &format!("127.0.0.1\tlocalhost\n127.0.1.1\t{hostname}\n"),
        0o644,
    );
    put(
        &mut fs,
        "/etc/os-release",
        "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION=\"12 (bookworm)\"\nVERSION_CODENAME=bookworm\nID=debian\nHOME_URL=\"https://www.debian.org/\"\n",
        0o644,
    );
    put(&mut fs, "/etc/debian_version", "12.8\n", 0o644);
    put(&mut fs, "/etc/passwd", PASSWD, 0o644);
    put(&mut fs, "/etc/group", GROUP, 0o644);
    put(&mut fs, "/bin/bash", "", 0o755);
    put(&mut fs, "/bin/sh", "", 0o755);
    put(&mut fs, "/root/.bashrc", "# ~/.bashrc\n", 0o644);
    put(
        &mut fs,
        "/var/log/syslog",
        "Jan 10 12:00:00 localhost systemd[1]: Started Journal Service.\n",
        0o640,
    );
    fs
}

/// An Alpine container: `sh` only, no bash.
pub fn alpine_fs(hostname: &str) -> Fs {
    let mut fs = Fs::new();
    dirs(
        &mut fs,
        &[
            "/root", "/tmp", "/home", "/var/log", "/usr/bin", "/bin", "/etc/apk",
        ],
    );
    put(&mut fs, "/etc/hostname", &format!("{hostname}\n"), 0o644);
    put(
        &mut fs,
        "/etc/os-release",
        "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.20.3\nPRETTY_NAME=\"Alpine Linux v3.20\"\n",
        0o644,
    );
    put(&mut fs, "/etc/alpine-release", "3.20.3\n", 0o644);
    put(
        &mut fs,
        "/etc/passwd",
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/sbin/nologin\n",
        0o644,
    );
    put(
        &mut fs,
        "/etc/group",
        "root:x:0:root\nnogroup:x:65533:\n",
        0o644,
    );
    put(&mut fs, "/bin/sh", "", 0o755);
    put(&mut fs, "/bin/busybox", "", 0o755);
    fs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_fixture_has_the_plugin_examples() {
        let state = Fixture::default_fixture().into_state().unwrap();
        assert_eq!(state.node, "pve");
        let summary: Vec<(u32, &str, Status)> = state
            .containers
            .values()
            .map(|c| (c.vmid, c.hostname().unwrap(), c.status))
            .collect();
        assert_eq!(
            summary,
            [
                (100, "webserver", Status::Running),
                (101, "database", Status::Stopped),
                (102, "cache", Status::Running)
            ]
        );
        assert!(state.containers[&100].fs.exists("/etc/os-release"));
    }

    #[test]
    fn bad_fixtures_say_what_is_wrong() {
        let err = Fixture::parse("[[containers]]\nvmid = 99\n")
            .unwrap()
            .into_state()
            .unwrap_err();
        assert!(err.to_string().contains("vmid 99"), "{err}");
        let err = Fixture::parse("[[containers]]\nvmid = 100\nlock = \"nope\"\n")
            .unwrap()
            .into_state()
            .unwrap_err();
        assert!(err.to_string().contains("unknown lock"), "{err}");
        assert!(Fixture::parse("bogus = 1\n").is_err());
    }

    #[test]
    fn max_sessions_defaults_to_sshds_ten_and_must_be_positive() {
        let state = Fixture::default_fixture().into_state().unwrap();
        assert_eq!(state.max_sessions, 10);
        let state = Fixture::parse("max_sessions = 3\n")
            .unwrap()
            .into_state()
            .unwrap();
        assert_eq!(state.max_sessions, 3);
        let err = Fixture::parse("max_sessions = 0\n")
            .unwrap()
            .into_state()
            .unwrap_err();
        assert!(err.to_string().contains("max_sessions = 0"), "{err}");
        assert!(Fixture::parse("max_sessions = -1\n").is_err());
        assert!(Fixture::parse("max_sessions = \"10\"\n").is_err());
    }
}
