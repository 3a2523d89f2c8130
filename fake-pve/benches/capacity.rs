//! fake-pve's capacity, measured on the real `fake-pve` binary (its own process, so its
//! memory is its own) driven from this process:
//!
//! (a) [`SESSIONS`] SSH connections at once, each logging in with the password and
//!     running `pct list` on one channel: wall time, sessions per second, how many
//!     succeeded, and the server's resident memory (most seen, and its peak);
//! (b) an SFTP round trip of [`ROUND_TRIP_MIB`] MiB with OpenSSH's `sftp` (logging in
//!     with a key made by `ssh-keygen`): MiB/s each way, the bytes compared, and the
//!     server's peak memory (the fake's file system is in memory, so the file itself
//!     is in it).
//!
//! Plain Rust printing figures; no timed assertions. Run with
//! `cargo bench -p fake-pve --bench capacity` (needs OpenSSH's `sftp` and
//! `ssh-keygen`, which `ci/install-test-deps.sh` installs).

use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use testkit::bench::{mib, most_rss, patterned_file};
use tokio::io::{AsyncBufReadExt, BufReader};

const SESSIONS: usize = 500;
const ROUND_TRIP_MIB: u64 = 1024;
const PASSWORD: &str = "capacity-bench";

fn main() {
    testkit::bench::main(run);
}

/// Accepts the one host key the server printed.
struct Known(russh::keys::ssh_key::PublicKey);

impl russh::client::Handler for Known {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        key: &russh::keys::PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        Ok(
            matches!(key, russh::keys::PublicKeyOrCertificate::PublicKey { key, .. }
            if key.key_data() == self.0.key_data()),
        )
    }
}

/// One login and one `pct list`; whether it printed the fixture's containers.
async fn session(addr: std::net::SocketAddr, key: russh::keys::ssh_key::PublicKey) -> bool {
    let config = Arc::new(russh::client::Config::default());
    let Ok(mut handle) = russh::client::connect(config, addr, Known(key)).await else {
        return false;
    };
    let Ok(auth) = handle.authenticate_password("root", PASSWORD).await else {
        return false;
    };
    if !auth.success() {
        return false;
    }
    let Ok(out) = testkit::ssh::exec_unbounded(&handle, "pct list").await else {
        return false;
    };
    let _ = handle
        .disconnect(russh::Disconnect::ByApplication, "", "en")
        .await;
    out.exit_status == Some(0) && out.stdout().starts_with("VMID")
}

async fn sftp(port: u16, key: &std::path::Path, batch: &str) -> Duration {
    let started = Instant::now();
    let mut child = tokio::process::Command::new("sftp")
        .args(["-q", "-b", "-", "-i"])
        .arg(key)
        .arg("-P")
        .arg(port.to_string())
        .args([
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "LogLevel=ERROR",
            "root@127.0.0.1",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("sftp is installed (ci/install-test-deps.sh)");
    {
        use tokio::io::AsyncWriteExt;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(batch.as_bytes()).await.unwrap();
    }
    let status = tokio::time::timeout(Duration::from_secs(600), child.wait())
        .await
        .expect("sftp within 10 minutes")
        .unwrap();
    assert!(status.success(), "sftp batch failed: {batch}");
    started.elapsed()
}

async fn run() {
    let dir = tempfile::tempdir().unwrap();
    let client_key = dir.path().join("id_ed25519");
    let made = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&client_key)
        .status()
        .expect("ssh-keygen is installed (ci/install-test-deps.sh)");
    assert!(made.success(), "ssh-keygen made a key");
    let authorized = dir.path().join("id_ed25519.pub");
    let mut server = tokio::process::Command::new(env!("CARGO_BIN_EXE_fake-pve"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--password",
            PASSWORD,
            "--authorized-keys",
        ])
        .arg(&authorized)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("fake-pve starts");
    let pid = server.id().unwrap();
    let mut lines = BufReader::new(server.stdout.take().unwrap()).lines();
    let mut addr = None;
    let mut key = None;
    while let Ok(Some(line)) = lines.next_line().await {
        if let Some(a) = line.strip_prefix("fake-pve listening on ") {
            addr = Some(a.parse::<std::net::SocketAddr>().unwrap());
        }
        if let Some(k) = line.strip_prefix("host key: ") {
            key = Some(russh::keys::ssh_key::PublicKey::from_openssh(k).unwrap());
            break;
        }
    }
    let (addr, key) = (addr.expect("an address"), key.expect("a host key"));
    let idle = mib(pid, "VmRSS:");

    // (a) many sessions at once.
    let started = Instant::now();
    let sessions = async {
        let tasks: Vec<_> = (0..SESSIONS)
            .map(|_| tokio::spawn(session(addr, key.clone())))
            .collect();
        let mut ok = 0;
        for t in tasks {
            if t.await.unwrap_or(false) {
                ok += 1;
            }
        }
        ok
    };
    let (ok, most) = most_rss(pid, sessions).await;
    let took = started.elapsed();
    let after_sessions = mib(pid, "VmHWM:");

    // (b) an SFTP round trip.
    let local = dir.path().join("big.bin");
    patterned_file(&local, ROUND_TRIP_MIB, 251);
    let back = dir.path().join("back.bin");
    let up = sftp(
        addr.port(),
        &client_key,
        &format!("put {} /tmp/big.bin\n", local.display()),
    )
    .await;
    let down = sftp(
        addr.port(),
        &client_key,
        &format!("get /tmp/big.bin {}\n", back.display()),
    )
    .await;
    let same = {
        use sha2::Digest;
        let sum = |p: &std::path::Path| {
            let mut h = sha2::Sha256::new();
            let mut f = std::fs::File::open(p).unwrap();
            std::io::copy(&mut f, &mut h).unwrap();
            h.finalize()
        };
        sum(&local) == sum(&back)
    };
    let peak = mib(pid, "VmHWM:");
    drop(server);

    println!();
    println!("| measure | fake-pve |");
    println!("|---|---|");
    println!("| resident memory, idle | {idle:.1} MiB |");
    println!(
        "| {SESSIONS} connections at once, each a login and `pct list` | {:.2} s wall, {:.0} sessions/s, {ok}/{SESSIONS} succeeded |",
        took.as_secs_f64(),
        SESSIONS as f64 / took.as_secs_f64()
    );
    println!(
        "| resident memory during them (most seen / peak) | {most:.1} / {after_sessions:.1} MiB |"
    );
    println!(
        "| SFTP round trip of {ROUND_TRIP_MIB} MiB (sftp put / get) | {:.0} / {:.0} MiB/s, {} |",
        ROUND_TRIP_MIB as f64 / up.as_secs_f64(),
        ROUND_TRIP_MIB as f64 / down.as_secs_f64(),
        if same {
            "the same bytes back"
        } else {
            "THE BYTES DIFFER"
        }
    );
    println!("| peak resident memory (the file is held in memory) | {peak:.1} MiB |");
    println!();
    println!(
        "(the {} build of fake-pve; clients in the benchmark's process)",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );
}
