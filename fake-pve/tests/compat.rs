//! The compatibility table: every case of `shell-cases.toml` runs in real `bash` or
//! real `dash` (with the machine's coreutils) and in fake-pve's shell, and the two
//! answers (stdout, stderr, exit status) must be the same bytes. What the real shells
//! answer is found out at test time; the file holds no expected output.
//!
//! Each case runs in a fresh scratch directory (the same path in both worlds: a new
//! tempdir on the machine, the same directory created in a fresh fake node), with the
//! environment cleared to `PATH` and `HOME` (the scratch directory), stdin
//! `/dev/null`, and a time bound. A case the fake does not emulate is marked
//! `unsupported = "why"`: the fake must then refuse it loudly (stderr `fake-pve: …
//! is not emulated`, exit 127 or 2), and the mark must go once the case passes.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::os::unix::process::{CommandExt as _, ExitStatusExt as _};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fake_pve::fixture::Fixture;
use fake_pve::host::Host;
use fake_pve::proc::Launch;
use serde::Deserialize;

const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// The bound on one run of one case, in either world.
const LIMIT: Duration = Duration::from_secs(30);
/// Cases run at the same time (each in its own scratch directory and node).
const PARALLEL: usize = 4;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Table {
    case: Vec<Case>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    /// The command line, run as `bash -c LINE` or `sh -c LINE` (dash).
    line: String,
    /// `bash` (the default), `dash`, or `both` (two cases).
    #[serde(default = "bash")]
    shell: String,
    /// Run first, in the same shell and scratch directory; must succeed in the real
    /// shell, its output is not compared.
    #[serde(default)]
    setup: Option<String>,
    /// Why the fake refuses this case (it must, loudly).
    #[serde(default)]
    unsupported: Option<String>,
}

fn bash() -> String {
    "bash".into()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialect {
    Bash,
    Dash,
}

type Answer = (String, String, i32);

/// Runs `line` in the real shell in `dir`.
fn real(dialect: Dialect, line: &str, dir: &Path) -> Answer {
    let (program, name) = match dialect {
        Dialect::Bash => ("bash", "bash"),
        Dialect::Dash => ("dash", "sh"),
    };
    let mut child = Command::new(program)
        .arg0(name)
        .arg("-c")
        .arg(line)
        .current_dir(dir)
        .env_clear()
        .env("PATH", PATH)
        .env("HOME", dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .expect("the real shell starts");
    let pgid = child.id();
    let reader = |mut r: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            buf
        })
    };
    let out = reader(Box::new(child.stdout.take().unwrap()));
    let err = reader(Box::new(child.stderr.take().unwrap()));
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s.code().unwrap_or_else(|| 128 + s.signal().unwrap_or(0));
        }
        if start.elapsed() > LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            break -1;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    // What the case left running in its process group ends now, so that the pipes
    // close (a background job may hold them).
    let _ = Command::new("kill")
        .args(["-s", "KILL", "--", &format!("-{pgid}")])
        .stderr(Stdio::null())
        .status();
    let text = |b: Vec<u8>| String::from_utf8_lossy(&b).into_owned();
    (text(out.join().unwrap()), text(err.join().unwrap()), status)
}

/// The launch hooks of a session whose command line goes to `sh -c` (dash).
const DASH: Launch = Launch {
    shell: |ctx, line, io| {
        Box::pin(async move {
            fake_pve::programs::run(&ctx, vec!["sh".into(), "-c".into(), line], io).await
        })
    },
    ..fake_pve::programs::LAUNCH
};

/// Runs `line` in a session of `host`'s shell, in `dir` (-1 as the status when it
/// did not end within [`LIMIT`], -2 when its task failed).
async fn fake(host: &Host, dialect: Dialect, line: &str, dir: &str) -> Answer {
    let mut ctx = fake_pve::programs::login_ctx(host, "root");
    ctx.cwd = dir.to_string();
    ctx.env = BTreeMap::from([
        ("PATH".to_string(), PATH.to_string()),
        ("HOME".to_string(), dir.to_string()),
    ]);
    if dialect == Dialect::Dash {
        ctx.launch = DASH;
    }
    let (out, err, status) = testkit::fake::session(ctx, line, LIMIT).await;
    let status = match status {
        Ok(n) => n,
        Err(e) if e.contains("bound") => -1,
        Err(_) => -2,
    };
    (out, err, status)
}

/// Whether the fake refused loudly, as the table requires of what it does not emulate.
fn loud(ours: &Answer) -> bool {
    ours.1.contains("fake-pve: ")
        && ours.1.contains(" is not emulated")
        && matches!(ours.2, 2 | 127)
}

#[derive(Debug)]
enum Verdict {
    Identical,
    Unsupported,
    /// A failure of the table, with what to show.
    Wrong(String),
}

async fn run_case(case: Case, dialect: Dialect) -> Verdict {
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().join("scratch");
    std::fs::create_dir(&dir).unwrap();
    let dir_str = dir.to_str().unwrap().to_string();
    let host = Host::new(Fixture::default_fixture().into_state().unwrap());
    host.state().fs.mkdir_all(&dir_str, 0o755).unwrap();

    let (theirs, setup_ok) = {
        let (case, dir) = (case.clone(), dir.clone());
        tokio::task::spawn_blocking(move || {
            let setup_ok = case
                .setup
                .as_deref()
                .map(|s| real(dialect, s, &dir))
                .is_none_or(|a| a.2 == 0);
            (real(dialect, &case.line, &dir), setup_ok)
        })
        .await
        .unwrap()
    };
    assert!(
        setup_ok,
        "the setup of {:?} fails in the real shell",
        case.line
    );
    if let Some(setup) = &case.setup {
        fake(&host, dialect, setup, &dir_str).await;
    }
    let ours = fake(&host, dialect, &case.line, &dir_str).await;
    let show = |what: &str| {
        format!(
            "[{dialect:?}] {what}: {}\n    fake-pve: {ours:?}\n    real:     {theirs:?}",
            case.line
        )
    };
    match (&case.unsupported, ours == theirs, loud(&ours)) {
        (None, true, _) => Verdict::Identical,
        (Some(_), true, _) => {
            Verdict::Wrong(show("marked unsupported but identical (drop the mark)"))
        }
        (Some(why), false, true)
            if ours.1.contains(&format!("fake-pve: {why} is not emulated")) =>
        {
            Verdict::Unsupported
        }
        (Some(_), false, true) => Verdict::Wrong(show(
            "refused loudly, but not for the reason marked (update the mark)",
        )),
        (Some(_), false, false) => {
            Verdict::Wrong(show("marked unsupported but not refused loudly"))
        }
        (None, false, true) => Verdict::Wrong(show("refused loudly but not marked unsupported")),
        (None, false, false) => Verdict::Wrong(show("silently different")),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_case_answers_as_the_real_shell_or_is_refused_loudly() {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/shell-cases.toml"),
    )
    .unwrap();
    let table: Table =
        toml::from_str(&text).unwrap_or_else(|e| panic!("shell-cases.toml: {}", e.message()));
    let mut runs = Vec::new();
    for case in table.case {
        let dialects: &[Dialect] = match case.shell.as_str() {
            "bash" => &[Dialect::Bash],
            "dash" => &[Dialect::Dash],
            "both" => &[Dialect::Bash, Dialect::Dash],
            other => panic!("unknown shell {other:?} for {:?}", case.line),
        };
        for d in dialects {
            runs.push((case.clone(), *d));
        }
    }
    let gate = Arc::new(tokio::sync::Semaphore::new(PARALLEL));
    let mut handles = Vec::new();
    for (case, dialect) in runs {
        let gate = gate.clone();
        handles.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await.unwrap();
            run_case(case, dialect).await
        }));
    }
    let (mut identical, mut unsupported, mut wrong) = (0, 0, Vec::new());
    let total = handles.len();
    for h in handles {
        match h.await.unwrap() {
            Verdict::Identical => identical += 1,
            Verdict::Unsupported => unsupported += 1,
            Verdict::Wrong(s) => wrong.push(s),
        }
    }
    let silently = wrong
        .iter()
        .filter(|w| w.contains("silently different"))
        .count();
    println!(
        "compatibility table: {total} cases, {identical} identical, {unsupported} loudly unsupported, {silently} silently different, {} other failures",
        wrong.len() - silently
    );
    assert!(
        wrong.is_empty(),
        "{} of {total} cases fail the table:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}
