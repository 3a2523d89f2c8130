//! The fake shell, driven through the library without SSH: quoting, expansions,
//! redirections, control flow and the programs, as bash on a PVE node would answer.

use fake_pve::fixture::Fixture;
use std::time::Duration;

use fake_pve::host::Host;

fn host() -> Host {
    Host::new(Fixture::default_fixture().into_state().unwrap())
}

async fn sh(host: &Host, line: &str) -> (String, String, i32) {
    testkit::fake::shell(host, line).await
}

async fn stdout(host: &Host, line: &str) -> String {
    let (out, err, status) = sh(host, line).await;
    assert_eq!((status, err.as_str()), (0, ""), "{line}: {out}");
    out
}

/// Each line's standard output, run one after another on `host`.
async fn stdouts(host: &Host, cases: &[(&str, &str)]) {
    for (line, want) in cases {
        assert_eq!(stdout(host, line).await, *want, "{line}");
    }
}

/// Each line fails with nothing on stdout, this message on stderr and this status.
async fn fails(host: &Host, cases: &[(&str, &str, i32)]) {
    for (line, err, status) in cases {
        assert_eq!(
            sh(host, line).await,
            (String::new(), err.to_string(), *status),
            "{line}"
        );
    }
}

#[tokio::test]
async fn quoting_and_expansions() {
    let h = host();
    stdouts(
        &h,
        &[
            (r#"echo 'a  b' "c  d" e\ f"#, "a  b c  d e f\n"),
            (r#"X='1 2'; echo $X; echo "$X""#, "1 2\n1 2\n"),
            (
                r#"echo "it's" 'say "hi"' $'tab\there'"#,
                "it's say \"hi\" tab\there\n",
            ),
            ("echo ${UNSET:-dflt} ${#HOME} $((6*7))", "dflt 5 42\n"),
            (
                "F=/var/log/app.log; echo ${F##*/} ${F%.log}",
                "app.log /var/log/app\n",
            ),
            ("echo $(echo inner) `echo back`", "inner back\n"),
            ("echo ~ ~/x", "/root /root/x\n"),
            (r#"printf '%s=%d\n' a 1 b 2"#, "a=1\nb=2\n"),
            (r#"printf '%-6s|%5s|\n' ab cd"#, "ab    |   cd|\n"),
        ],
    )
    .await;
}

#[tokio::test]
async fn lists_status_and_control_flow() {
    let h = host();
    stdouts(
        &h,
        &[
            (
                "false; echo $?; true && echo and; false || echo or",
                "1\nand\nor\n",
            ),
            ("for i in 1 2 3; do echo $i; done", "1\n2\n3\n"),
            ("if test -d /tmp; then echo dir; else echo no; fi", "dir\n"),
            (
                "i=0; while [ $i -lt 3 ]; do i=$((i+1)); done; echo $i",
                "3\n",
            ),
            (
                "case web01 in db*) echo db;; web*) echo web;; esac",
                "web\n",
            ),
            ("(cd /tmp; pwd); pwd", "/tmp\n/root\n"),
            ("! false && echo negated", "negated\n"),
        ],
    )
    .await;
    let (out, _, status) = sh(&h, "echo before; exit 7; echo after").await;
    assert_eq!((out.as_str(), status), ("before\n", 7));
    assert_eq!(
        stdout(&h, "bash -c 'exit 4'; echo $?; sh -c 'echo $0 $1' me arg").await,
        "4\nme arg\n"
    );
}

#[tokio::test]
async fn redirections() {
    let h = host();
    assert_eq!(
        stdout(&h, "echo one > /tmp/f; echo two >> /tmp/f; cat /tmp/f").await,
        "one\ntwo\n"
    );
    assert_eq!(h.host_file("/tmp/f").unwrap(), b"one\ntwo\n");
    stdouts(
        &h,
        &[
            ("wc -l < /tmp/f", "2\n"),
            ("ls /nope 2>/dev/null; echo $?", "2\n"),
            (
                "ls /nope 2>&1 | head -n 1",
                "ls: cannot access '/nope': No such file or directory\n",
            ),
            ("cat <<EOF\nhello $HOME\nEOF", "hello /root\n"),
            ("grep -c o <<< 'foo'", "1\n"),
        ],
    )
    .await;
    let (_, err, status) = sh(&h, "echo x > /no/dir/f").await;
    assert_eq!(
        (err.as_str(), status),
        ("bash: line 1: /no/dir/f: No such file or directory\n", 1)
    );
}

#[tokio::test]
async fn files_and_the_programs_a_client_uses() {
    let h = host();
    let out = stdout(
        &h,
        "mkdir -p /srv/a/b && touch /srv/a/b/f && chmod 4755 /srv/a/b/f && stat -c '%a %s %U %F' /srv/a/b/f",
    )
    .await;
    assert_eq!(out, "4755 0 root regular empty file\n");
    stdouts(
        &h,
        &[
            (
                "echo hi > /tmp/x; mv /tmp/x /tmp/y; test -f /tmp/x || cat /tmp/y",
                "hi\n",
            ),
            (
                "echo new > /tmp/n; mv -n /tmp/n /tmp/y; cat /tmp/y /tmp/n",
                "hi\nnew\n",
            ),
            ("set -- a b c; shift; echo $1 $#", "b 2\n"),
            ("cp /tmp/y /srv; ls /srv", "a\ny\n"),
            (
                "rm -r /srv/a; ls /srv; rm /srv/y; ls /srv | wc -l",
                "y\n0\n",
            ),
            (
                "echo aGVsbG8= | base64 -d; echo; echo -n hello | base64",
                "hello\naGVsbG8=\n",
            ),
            ("seq 3 | tail -n 2; seq 2 2 6 | head -n 1", "2\n3\n2\n"),
            ("printf 'a\\nb\\na\\n' | grep -n a", "1:a\n3:a\n"),
        ],
    )
    .await;
    let tmp = stdout(&h, "mktemp").await;
    assert!(
        tmp.starts_with("/tmp/tmp.") && tmp.len() == "/tmp/tmp.XXXXXXXXXX\n".len(),
        "{tmp}"
    );
    assert_eq!(
        stdout(&h, &format!("stat -c %a {}", tmp.trim())).await,
        "600\n"
    );
    stdouts(
        &h,
        &[
            ("basename /a/b.txt .txt; dirname /a/b.txt", "b\n/a\n"),
            (
                "command -v bash; command -v nope; echo $?",
                "/usr/bin/bash\n1\n",
            ),
            ("whoami; id -u; hostname; uname -s", "root\n0\npve\nLinux\n"),
        ],
    )
    .await;
}

#[tokio::test]
async fn errors_read_like_bash_and_coreutils() {
    let h = host();
    fails(
        &h,
        &[
            (
                "nosuch arg",
                "bash: line 1: nosuch: command not found\n",
                127,
            ),
            ("cat /nope", "cat: /nope: No such file or directory\n", 1),
            (
                "mkdir /tmp",
                "mkdir: cannot create directory '/tmp': File exists\n",
                1,
            ),
            (
                "rm /nope",
                "rm: cannot remove '/nope': No such file or directory\n",
                1,
            ),
        ],
    )
    .await;
    let (_, err, status) = sh(&h, "echo 'unterminated").await;
    assert_eq!(status, 2, "{err}");
}

#[tokio::test]
async fn each_program_that_runs_a_command_words_a_missing_one_its_own_way() {
    let h = host();
    let not_there = "No such file or directory";
    fails(
        &h,
        &[
            (
                "timeout 5 nosuch",
                &format!("timeout: failed to run command 'nosuch': {not_there}\n"),
                127,
            ),
            (
                "nohup nosuch",
                &format!("nohup: failed to run command 'nosuch': {not_there}\n"),
                127,
            ),
            (
                "setsid nosuch",
                &format!("setsid: failed to execute nosuch: {not_there}\n"),
                1,
            ),
            ("env nosuch", &format!("env: 'nosuch': {not_there}\n"), 127),
            (
                "command nosuch",
                "bash: line 1: nosuch: command not found\n",
                127,
            ),
        ],
    )
    .await;
}

#[tokio::test]
async fn pipelines_end_when_the_reader_is_done() {
    let h = host();
    stdouts(
        &h,
        &[
            ("yes | head -n 3", "y\ny\ny\n"),
            ("yes abc | head -c 7", "abc\nabc"),
        ],
    )
    .await;
    assert!(h.running().is_empty(), "yes ended: {:?}", h.running());
}

#[tokio::test]
async fn ln_is_an_atomic_no_clobber_create() {
    let h = host();
    assert_eq!(
        stdout(
            &h,
            "echo new > /tmp/a; ln /tmp/a /tmp/b && rm /tmp/a; cat /tmp/b"
        )
        .await,
        "new\n"
    );
    let (out, err, status) = sh(
        &h,
        "echo old > /tmp/c; echo x > /tmp/d; ln /tmp/d /tmp/c; cat /tmp/c",
    )
    .await;
    assert_eq!(status, 0);
    assert_eq!(out, "old\n", "an existing name is never replaced");
    assert_eq!(
        err,
        "ln: failed to create hard link '/tmp/c': File exists\n"
    );
    let (_, err, status) = sh(&h, "ln /tmp/none /tmp/e").await;
    assert_eq!(
        (status, err.as_str()),
        (
            1,
            "ln: failed to access '/tmp/none': No such file or directory\n"
        )
    );
    let (_, err, status) = sh(&h, "ln /tmp /tmp2").await;
    assert_eq!(
        (status, err.as_str()),
        (1, "ln: /tmp: hard link not allowed for directory\n")
    );
}

#[tokio::test]
async fn pct_exec_runs_as_lxc_attach_does() {
    let h = host();
    stdouts(
        &h,
        &[(
            r#"pct exec 100 -- sh -c 'echo "$container" $PATH; pwd'"#,
            "lxc /sbin:/bin:/usr/sbin:/usr/bin\n/root\n",
        )],
    )
    .await;
    let attach = |why: &str, name: &str| {
        format!(
            "lxc-attach: 100: ../src/lxc/attach.c: lxc_attach_run_command: 1845 {why} - Failed to exec \"{name}\"\n"
        )
    };
    let (out, err, _) = sh(&h, "pct exec 100 -- /etc/hostname; echo $?").await;
    assert_eq!(
        (out.as_str(), err),
        ("126\n", attach("Permission denied", "/etc/hostname"))
    );
    let (out, err, _) = sh(&h, "pct exec 100 -- /nonexistent/cat x; echo $?").await;
    assert_eq!(
        (out.as_str(), err),
        (
            "127\n",
            attach("No such file or directory", "/nonexistent/cat")
        )
    );
    stdouts(&h, &[("pct exec 100 -- /bin/echo by-path", "by-path\n")]).await;
}

/// The processes of a session, by command line.
fn session_args(h: &Host, sid: u32) -> Vec<String> {
    h.processes()
        .list()
        .into_iter()
        .filter(|p| p.sid == sid)
        .map(|p| p.args)
        .collect()
}

#[tokio::test]
async fn exec_replaces_the_shell_and_a_signal_to_its_pid_ends_the_program() {
    use fake_pve::io::Io;
    use fake_pve::proc::{SessionEnd, start_session};
    let h = host();
    let ctx = fake_pve::programs::login_ctx(&h, "root");
    let (sid, end) = start_session(ctx, "exec sleep 301".into(), Io::null());
    testkit::eventually("the shell became sleep", || {
        session_args(&h, sid) == ["sleep 301"]
    })
    .await;
    assert!(h.processes().signal(sid, 15));
    let end = tokio::time::timeout(Duration::from_secs(10), end)
        .await
        .expect("the session ends")
        .unwrap();
    assert_eq!(end, SessionEnd::Signalled(15));
    assert!(
        session_args(&h, sid).is_empty(),
        "{:?}",
        session_args(&h, sid)
    );
}

#[tokio::test]
async fn timeout_ends_what_its_command_started() {
    let h = host();
    let (out, err, status) = tokio::time::timeout(
        Duration::from_secs(20),
        sh(&h, "timeout 1 bash -c 'sleep 6; echo late'; echo $?"),
    )
    .await
    .expect("the line ends");
    assert_eq!((out.as_str(), err.as_str(), status), ("124\n", "", 0));
    testkit::eventually("no sleep 6 is left", || {
        !h.processes().list().iter().any(|p| p.args == "sleep 6")
    })
    .await;
}

#[tokio::test]
async fn the_empty_path_names_nothing_for_pct_either() {
    let h = host();
    let (out, err, _) = sh(&h, r#"pct push 100 "" /tmp/q; echo $?"#).await;
    assert_eq!(
        (out.as_str(), err.as_str()),
        ("0\n", "failed to open  for reading\n")
    );
    assert_eq!(h.container_file(100, "/tmp/q"), None);
}
