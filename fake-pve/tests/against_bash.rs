//! The fake shell beside real bash: each line runs in both, and stdout, stderr and the
//! exit status must be the same bytes. Only lines whose result does not depend on the
//! machine (no paths but /tmp scratch, no clock, no pids) belong here; what fake-pve
//! does not match yet is listed in the project's shell-fidelity issue, not here.

use fake_pve::fixture::Fixture;
use fake_pve::host::Host;

const CASES: &[&str] = &[
    r#"echo 'a  b' "c  d" e\ f"#,
    r#"X='1 2'; echo $X; echo "$X""#,
    r#"false; echo $?"#,
    r#"true && echo yes || echo no"#,
    r#"false || echo fallback"#,
    r#"echo one | cat"#,
    r#"printf '%s-%d\n' a 1 b 2"#,
    r#"for i in 1 2 3; do echo "n$i"; done"#,
    r#"case abc in a*) echo starts;; *) echo other;; esac"#,
    r#"echo $((2 + 3 * 4))"#,
    r#"echo ${UNSET:-default}"#,
    r#"Y=set; echo ${Y:+alt}"#,
    r#"echo $(echo inner)"#,
    r#"if [ 1 -lt 2 ]; then echo lt; else echo ge; fi"#,
    r#"test -z "" && echo empty"#,
    r#"[ abc = abc ] && echo same"#,
    r#"echo out; echo err >&2"#,
    r#"(exit 3); echo $?"#,
    r#"x=5; while [ $x -gt 3 ]; do echo $x; x=$((x-1)); done"#,
    r#"echo a b c | wc -w"#,
    r#"seq 3 | tail -n 1"#,
    r#"printf 'x\ny\n' | grep y"#,
    r#"echo hello > /tmp/ab-case && cat /tmp/ab-case && rm /tmp/ab-case"#,
    r#"cat /nonexistent-file"#,
    r#"exit 7"#,
    r#"sh -c 'echo "$0 $1"' zero one"#,
    r#"echo "$((7 % 3))" "$((10 / 3))""#,
    r#"v=abc; echo ${#v}"#,
    r#"f=file.tar.gz; echo ${f%.gz} ${f#file.}"#,
    r#"echo 'single $HOME'"#,
    r#"unset Z; echo "[${Z}]""#,
    r#"i=0; until [ $i -ge 2 ]; do i=$((i+1)); done; echo $i"#,
    r#"echo a; false; echo b"#,
];

async fn fake(host: &Host, line: &str) -> (String, String, i32) {
    testkit::fake::shell(host, line).await
}

fn bash(line: &str) -> (String, String, i32) {
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(line)
        .stdin(std::process::Stdio::null())
        .env_clear()
        .env(
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        )
        .env("HOME", "/root")
        .output()
        .expect("bash runs");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

#[tokio::test]
async fn the_fake_shell_answers_as_bash_does() {
    let host = Host::new(Fixture::default_fixture().into_state().unwrap());
    let mut differ = Vec::new();
    for line in CASES {
        let (ours, theirs) = (fake(&host, line).await, bash(line));
        if ours != theirs {
            differ.push(format!(
                "{line}\n  fake-pve: {ours:?}\n  bash:     {theirs:?}"
            ));
        }
    }
    assert!(
        differ.is_empty(),
        "{} of {} lines differ from bash:\n{}",
        differ.len(),
        CASES.len(),
        differ.join("\n")
    );
}
