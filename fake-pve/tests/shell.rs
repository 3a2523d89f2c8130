//! The fake shell, driven through the library without SSH: quoting, expansions,
//! redirections, control flow and the programs, as bash on a PVE node would answer.

use fake_pve::fixture::Fixture;
use fake_pve::host::Host;
use fake_pve::io::{Input, Io, Output};
use fake_pve::proc::{SessionEnd, start_session};
use fake_pve::programs::login_ctx;

fn host() -> Host {
    Host::new(Fixture::default_fixture().into_state().unwrap())
}

async fn sh(host: &Host, line: &str) -> (String, String, i32) {
    let (out, out_buf) = Output::capture();
    let (err, err_buf) = Output::capture();
    let io = Io {
        stdin: Input::empty(),
        stdout: out,
        stderr: err,
    };
    let (_, end) = start_session(login_ctx(host, "root"), line.to_string(), io);
    let status = match end.await.unwrap() {
        SessionEnd::Exited(n) => n,
        SessionEnd::Signalled(n) => 128 + n,
    };
    let text = |b: &std::sync::Arc<std::sync::Mutex<Vec<u8>>>| {
        String::from_utf8_lossy(&b.lock().unwrap()).into_owned()
    };
    (text(&out_buf), text(&err_buf), status)
}

async fn stdout(host: &Host, line: &str) -> String {
    let (out, err, status) = sh(host, line).await;
    assert_eq!((status, err.as_str()), (0, ""), "{line}: {out}");
    out
}

#[tokio::test]
async fn quoting_and_expansions() {
    let h = host();
    assert_eq!(
        stdout(&h, r#"echo 'a  b' "c  d" e\ f"#).await,
        "a  b c  d e f\n"
    );
    assert_eq!(
        stdout(&h, r#"X='1 2'; echo $X; echo "$X""#).await,
        "1 2\n1 2\n"
    );
    assert_eq!(
        stdout(&h, r#"echo "it's" 'say "hi"' $'tab\there'"#).await,
        "it's say \"hi\" tab\there\n"
    );
    assert_eq!(
        stdout(&h, "echo ${UNSET:-dflt} ${#HOME} $((6*7))").await,
        "dflt 5 42\n"
    );
    assert_eq!(
        stdout(&h, "F=/var/log/app.log; echo ${F##*/} ${F%.log}").await,
        "app.log /var/log/app\n"
    );
    assert_eq!(
        stdout(&h, "echo $(echo inner) `echo back`").await,
        "inner back\n"
    );
    assert_eq!(stdout(&h, "echo ~ ~/x").await, "/root /root/x\n");
    assert_eq!(
        stdout(&h, r#"printf '%s=%d\n' a 1 b 2"#).await,
        "a=1\nb=2\n"
    );
    assert_eq!(
        stdout(&h, r#"printf '%-6s|%5s|\n' ab cd"#).await,
        "ab    |   cd|\n"
    );
}

#[tokio::test]
async fn lists_status_and_control_flow() {
    let h = host();
    assert_eq!(
        stdout(&h, "false; echo $?; true && echo and; false || echo or").await,
        "1\nand\nor\n"
    );
    assert_eq!(
        stdout(&h, "for i in 1 2 3; do echo $i; done").await,
        "1\n2\n3\n"
    );
    assert_eq!(
        stdout(&h, "if test -d /tmp; then echo dir; else echo no; fi").await,
        "dir\n"
    );
    assert_eq!(
        stdout(&h, "i=0; while [ $i -lt 3 ]; do i=$((i+1)); done; echo $i").await,
        "3\n"
    );
    assert_eq!(
        stdout(&h, "case web01 in db*) echo db;; web*) echo web;; esac").await,
        "web\n"
    );
    assert_eq!(stdout(&h, "(cd /tmp; pwd); pwd").await, "/tmp\n/root\n");
    assert_eq!(stdout(&h, "! false && echo negated").await, "negated\n");
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
    assert_eq!(stdout(&h, "wc -l < /tmp/f").await, "2\n");
    assert_eq!(stdout(&h, "ls /nope 2>/dev/null; echo $?").await, "2\n");
    assert_eq!(
        stdout(&h, "ls /nope 2>&1 | head -n 1").await,
        "ls: cannot access '/nope': No such file or directory\n"
    );
    assert_eq!(
        stdout(&h, "cat <<EOF\nhello $HOME\nEOF").await,
        "hello /root\n"
    );
    assert_eq!(stdout(&h, "grep -c o <<< 'foo'").await, "1\n");
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
    assert_eq!(
        stdout(
            &h,
            "echo hi > /tmp/x; mv /tmp/x /tmp/y; test -f /tmp/x || cat /tmp/y"
        )
        .await,
        "hi\n"
    );
    assert_eq!(
        stdout(
            &h,
            "echo new > /tmp/n; mv -n /tmp/n /tmp/y; cat /tmp/y /tmp/n"
        )
        .await,
        "hi\nnew\n"
    );
    assert_eq!(stdout(&h, "set -- a b c; shift; echo $1 $#").await, "b 2\n");
    assert_eq!(stdout(&h, "cp /tmp/y /srv; ls /srv").await, "a\ny\n");
    assert_eq!(
        stdout(&h, "rm -r /srv/a; ls /srv; rm /srv/y; ls /srv | wc -l").await,
        "y\n0\n"
    );
    assert_eq!(
        stdout(
            &h,
            "echo aGVsbG8= | base64 -d; echo; echo -n hello | base64"
        )
        .await,
        "hello\naGVsbG8=\n"
    );
    assert_eq!(
        stdout(&h, "seq 3 | tail -n 2; seq 2 2 6 | head -n 1").await,
        "2\n3\n2\n"
    );
    assert_eq!(
        stdout(&h, "printf 'a\\nb\\na\\n' | grep -n a").await,
        "1:a\n3:a\n"
    );
    let tmp = stdout(&h, "mktemp").await;
    assert!(
        tmp.starts_with("/tmp/tmp.") && tmp.len() == "/tmp/tmp.XXXXXXXXXX\n".len(),
        "{tmp}"
    );
    assert_eq!(
        stdout(&h, &format!("stat -c %a {}", tmp.trim())).await,
        "600\n"
    );
    assert_eq!(
        stdout(&h, "basename /a/b.txt .txt; dirname /a/b.txt").await,
        "b\n/a\n"
    );
    assert_eq!(
        stdout(&h, "command -v bash; command -v nope; echo $?").await,
        "/bin/bash\n1\n"
    );
    assert_eq!(
        stdout(&h, "whoami; id -u; hostname; uname -s").await,
        "root\n0\npve\nLinux\n"
    );
}

#[tokio::test]
async fn errors_read_like_bash_and_coreutils() {
    let h = host();
    assert_eq!(
        sh(&h, "nosuch arg").await,
        (
            String::new(),
            "bash: line 1: nosuch: command not found\n".into(),
            127
        )
    );
    assert_eq!(
        sh(&h, "cat /nope").await,
        (
            String::new(),
            "cat: /nope: No such file or directory\n".into(),
            1
        )
    );
    assert_eq!(
        sh(&h, "mkdir /tmp").await,
        (
            String::new(),
            "mkdir: cannot create directory '/tmp': File exists\n".into(),
            1
        )
    );
    assert_eq!(
        sh(&h, "rm /nope").await,
        (
            String::new(),
            "rm: cannot remove '/nope': No such file or directory\n".into(),
            1
        )
    );
    let (_, err, status) = sh(&h, "echo 'unterminated").await;
    assert_eq!(status, 2, "{err}");
}

#[tokio::test]
async fn pipelines_end_when_the_reader_is_done() {
    let h = host();
    assert_eq!(stdout(&h, "yes | head -n 3").await, "y\ny\ny\n");
    assert_eq!(stdout(&h, "yes abc | head -c 7").await, "abc\nabc");
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
        "ln: failed to create hard link '/tmp/c' => '/tmp/d': File exists\n"
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
