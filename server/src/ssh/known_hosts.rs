//! Host-key verification against an OpenSSH `known_hosts` file, following OpenSSH
//! (`sshd(8)`, SSH_KNOWN_HOSTS FILE FORMAT; `hostfile.c`, `sshconnect.c`).
//!
//! # Lines
//! `[@marker] patterns keytype base64 [comment]`, fields separated by spaces or tabs.
//! Blank lines and lines starting with `#` are ignored. The file is read as bytes and
//! split on `\n`: a line that cannot be used (bad base64, unknown key type or marker,
//! missing fields, a field before the comment that is not UTF-8, a bad `|1|` hash) is
//! skipped with a warning naming the file and line; the other lines still count.
//! Bytes in the comment are never looked at.
//!
//! # Names
//! A host is looked up as `host`, or `[host]:port` off port 22, lowercased first, as
//! ssh does. Patterns (`*`, `?`, `!negation`, comma lists, `[pattern]:port`) match
//! case-insensitively; a hashed pattern `|1|salt|hash` is the HMAC-SHA1 of that
//! lowercased name, so `PVE.lan` matches a hash that `ssh-keygen -H` made of `pve.lan`.
//!
//! # Keys
//! A key is *known* when a line for the host lists it, and *revoked* when an `@revoked`
//! line for the host lists it, whatever else the file says. It has *changed* when lines
//! for the host list only other keys, of any type, as in ssh (`hostfile.c`): a server
//! that shows an ECDSA key where an Ed25519 key is recorded has changed its key, it has
//! not grown a new one to learn. (The line named is the first one with a key of the
//! same type, else the first one.)
//!
//! # Entry points
//! [`check`] judges a host's key ([`Verdict`]); [`learn`] appends a line for
//! `accept-new`.

use std::io::Write as _;
use std::path::Path;

use hmac::{Hmac, KeyInit, Mac};
use russh::keys::Algorithm;
use russh::keys::ssh_key::known_hosts::{HostPatterns, Marker};
use russh::keys::ssh_key::{HashAlg, PublicKey};

/// What the file says about a host's key (see [`check`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// A line lists exactly this key for this host.
    Known,
    /// No line lists a key for this host.
    Unknown,
    /// Lines list only other keys for this host (`line` is the first one of the same
    /// type, else the first one).
    Changed { line: usize },
    /// A `@revoked` line lists this key.
    Revoked { line: usize },
}

/// The name a host is recorded under: `host`, or `[host]:port` off port 22; lowercase.
pub fn host_key_name(host: &str, port: u16) -> String {
    let host = host.to_ascii_lowercase();
    if port == 22 {
        host
    } else {
        format!("[{host}]:{port}")
    }
}

/// Checks `key` for `host:port` against the file at `path` (a missing file knows
/// nothing).
pub fn check(path: &Path, host: &str, port: u16, key: &PublicKey) -> std::io::Result<Verdict> {
    let file = read(path)?;
    file.warn_skipped(path);
    Ok(check_key(&file.lines, &host_key_name(host, port), key))
}

/// Appends `host:port key` to the file, creating it (and `~/.ssh`) if needed.
pub fn learn(path: &Path, host: &str, port: u16, key: &PublicKey) -> std::io::Result<()> {
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)?;
    }
    let line = format!(
        "{} {}\n",
        host_key_name(host, port),
        key.to_openssh().map_err(std::io::Error::other)?
    );
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    // Start on a new line even if the file does not end with one.
    let len = file.metadata()?.len();
    if len > 0 {
        let text = std::fs::read(path)?;
        if text.last() != Some(&b'\n') {
            file.write_all(b"\n")?;
        }
    }
    file.write_all(line.as_bytes())
}

/// The SHA-256 fingerprint of a key, as `ssh-keygen -l` prints it.
pub fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

// ---------------------------------------------------------------------------------
// Parsing

/// One usable line of the file.
#[derive(Debug)]
struct Line {
    /// 1-based line number.
    no: usize,
    marker: Option<Marker>,
    hosts: HostPatterns,
    key: PublicKey,
}

/// A line that was skipped, and why.
#[derive(Debug, PartialEq, Eq)]
struct Skipped {
    no: usize,
    reason: String,
}

#[derive(Debug, Default)]
struct File {
    lines: Vec<Line>,
    skipped: Vec<Skipped>,
}

impl File {
    fn warn_skipped(&self, path: &Path) {
        for s in &self.skipped {
            tracing::warn!(
                "{} line {}: {}; line ignored",
                path.display(),
                s.no,
                s.reason
            );
        }
    }
}

/// Reads and parses the file; a missing file is empty.
fn read(path: &Path) -> std::io::Result<File> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(parse(&bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(File::default()),
        Err(e) => Err(e),
    }
}

fn parse(bytes: &[u8]) -> File {
    let mut file = File::default();
    for (n, raw) in bytes.split(|b| *b == b'\n').enumerate() {
        let no = n + 1;
        match parse_line(raw) {
            Ok(None) => {}
            Ok(Some((marker, hosts, key))) => file.lines.push(Line {
                no,
                marker,
                hosts,
                key,
            }),
            Err(reason) => file.skipped.push(Skipped { no, reason }),
        }
    }
    file
}

type Parsed = (Option<Marker>, HostPatterns, PublicKey);

/// One line: `Ok(None)` for a blank line or a comment.
fn parse_line(raw: &[u8]) -> Result<Option<Parsed>, String> {
    let mut fields = raw
        .split(|b| matches!(b, b' ' | b'\t' | b'\r'))
        .filter(|f| !f.is_empty());
    let Some(mut first) = fields.next() else {
        return Ok(None);
    };
    if first.starts_with(b"#") {
        return Ok(None);
    }
    let marker = if first.starts_with(b"@") {
        let m = utf8(first, "the marker")?;
        let marker = m
            .parse::<Marker>()
            .map_err(|_| format!("unknown marker {m}"))?;
        first = fields.next().ok_or("nothing follows the marker")?;
        Some(marker)
    } else {
        None
    };
    let hosts_str = utf8(first, "the host field")?;
    let key_type = utf8(fields.next().ok_or("no key type")?, "the key type")?;
    let key_b64 = utf8(fields.next().ok_or("no key")?, "the key")?;
    let hosts = if hosts_str.starts_with('|') {
        match hosts_str.parse::<HostPatterns>() {
            Ok(h @ HostPatterns::HashedName { .. }) => h,
            _ => return Err("bad hashed host name (expected |1|salt|hash)".into()),
        }
    } else {
        HostPatterns::Patterns(hosts_str.split(',').map(str::to_string).collect())
    };
    let key = PublicKey::from_openssh(&format!("{key_type} {key_b64}"))
        .map_err(|e| format!("bad {key_type} key ({e})"))?;
    if let Algorithm::Other(name) = key.algorithm() {
        return Err(format!("unknown key type {}", name.as_str()));
    }
    Ok(Some((marker, hosts, key)))
}

fn utf8<'a>(field: &'a [u8], what: &str) -> Result<&'a str, String> {
    std::str::from_utf8(field).map_err(|_| format!("{what} is not UTF-8"))
}

// ---------------------------------------------------------------------------------
// Matching

/// Does the line's host field match `name` (already lowercase, `[host]:port` off 22)?
fn patterns_match(patterns: &HostPatterns, name: &str) -> bool {
    match patterns {
        HostPatterns::HashedName { salt, hash } => {
            let Ok(mac) = <Hmac<sha1::Sha1> as KeyInit>::new_from_slice(salt) else {
                return false;
            };
            mac.chain_update(name.as_bytes()).verify_slice(hash).is_ok()
        }
        HostPatterns::Patterns(list) => {
            let mut matched = false;
            for p in list {
                if let Some(negated) = p.strip_prefix('!') {
                    if wildcard(negated, name) {
                        return false;
                    }
                } else if wildcard(p, name) {
                    matched = true;
                }
            }
            matched
        }
    }
}

/// OpenSSH host pattern matching: `*` and `?`, case-insensitive.
fn wildcard(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.to_ascii_lowercase().chars().collect();
    let n: Vec<char> = name.to_ascii_lowercase().chars().collect();
    fn go(p: &[char], n: &[char]) -> bool {
        match p.first() {
            None => n.is_empty(),
            Some('*') => (0..=n.len()).any(|i| go(&p[1..], &n[i..])),
            Some('?') => !n.is_empty() && go(&p[1..], &n[1..]),
            Some(c) => n.first() == Some(c) && go(&p[1..], &n[1..]),
        }
    }
    go(&p, &n)
}

/// The lines whose host field matches `name`.
fn for_host<'a>(lines: &'a [Line], name: &'a str) -> impl Iterator<Item = &'a Line> + 'a {
    lines.iter().filter(move |l| patterns_match(&l.hosts, name))
}

// ---------------------------------------------------------------------------------
// Verdicts

fn check_key(lines: &[Line], name: &str, key: &PublicKey) -> Verdict {
    let mut known = false;
    let mut same_type = None;
    let mut other_type = None;
    for line in for_host(lines, name) {
        let same_key = line.key.key_data() == key.key_data();
        match line.marker {
            Some(Marker::Revoked) if same_key => return Verdict::Revoked { line: line.no },
            Some(_) => continue,
            None => {}
        }
        if same_key {
            known = true;
        } else if line.key.algorithm() == key.algorithm() {
            same_type.get_or_insert(line.no);
        } else {
            other_type.get_or_insert(line.no);
        }
    }
    match (known, same_type.or(other_type)) {
        (true, _) => Verdict::Known,
        (false, Some(line)) => Verdict::Changed { line },
        (false, None) => Verdict::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_A: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDpcy15wBrPV9Ks58TfmC7tXxyEViimJ70P3kvGeNbL0";
    const KEY_B: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHJ/5ib8TGcDcSkkgGFVDO3nfWg1C9BiIBnrMw7HLj2F";
    const P256: &str = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBLqtB7c14dRQxGcr5dUSOCYJColDXOTojbwtsGlO347hXmL1DiSbWRLs11CA++tSzxi0BsJ+xuv57J7pg/lwn2M=";
    const P384: &str = "ecdsa-sha2-nistp384 AAAAE2VjZHNhLXNoYTItbmlzdHAzODQAAAAIbmlzdHAzODQAAABhBByz7lfOJXoajAoDxkkGnykdVmVaGRuE7eGDYlHGBSVsXhK6Jr328t9MVtvrZSRAchaw3jsJ6F0qqsvnKXM9+78FnJSQ00XFISgVNIbA4C4Pfd0833xe4T3jVRt1JQpV/g==";
    const RSA: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQCnZ1Y/QxekHaN2d7rXIL0B+ry97dzHsYk3ddmrA6V+VJRxbD2to20ISUvy7YNAVIC8gCMLna3++vUjAIZXcXyxLcos4zydtYyrw0QGgQC268E7aAwK1/df8AaPDajB4PCrnvHMehjN6IuIb8uI88iAaJs9/oS0d4pksaRYIgSDyw==";

    fn key(s: &str) -> PublicKey {
        PublicKey::from_openssh(s).unwrap()
    }

    fn check_text(text: &str, host: &str, port: u16, key: &PublicKey) -> Verdict {
        check_key(
            &parse(text.as_bytes()).lines,
            &host_key_name(host, port),
            key,
        )
    }

    /// `ssh-keygen -H` style: `|1|base64(salt)|base64(HMAC-SHA1(salt, name))`.
    fn hashed(name: &str) -> String {
        let salt = b"0123456789abcdefghij";
        let mut mac = <Hmac<sha1::Sha1> as KeyInit>::new_from_slice(salt).unwrap();
        mac.update(name.as_bytes());
        let hash = mac.finalize().into_bytes();
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD;
        format!("|1|{}|{}", b64.encode(salt), b64.encode(hash))
    }

    #[test]
    fn plain_and_port_entries() {
        let text = format!("pve {KEY_A}\n[pve]:2222 {KEY_B}\n");
        assert_eq!(check_text(&text, "pve", 22, &key(KEY_A)), Verdict::Known);
        assert_eq!(check_text(&text, "pve", 2222, &key(KEY_B)), Verdict::Known);
        assert_eq!(
            check_text(&text, "pve", 2222, &key(KEY_A)),
            Verdict::Changed { line: 2 }
        );
        assert_eq!(
            check_text(&text, "other", 22, &key(KEY_A)),
            Verdict::Unknown
        );
    }

    #[test]
    fn hashed_entries() {
        let text = format!("{} {KEY_A}\n", hashed("[10.0.0.5]:2222"));
        assert_eq!(
            check_text(&text, "10.0.0.5", 2222, &key(KEY_A)),
            Verdict::Known
        );
        assert_eq!(
            check_text(&text, "10.0.0.5", 2222, &key(KEY_B)),
            Verdict::Changed { line: 1 }
        );
        assert_eq!(
            check_text(&text, "10.0.0.5", 22, &key(KEY_A)),
            Verdict::Unknown
        );
    }

    #[test]
    fn hashed_entries_match_any_case_of_the_host_name() {
        // ssh lowercases the name before hashing it, so the file holds the hash of
        // the lowercase name whatever case the user typed.
        let text = format!(
            "{} {KEY_A}\n{} {KEY_B}\n",
            hashed("pve.lan"),
            hashed("[pve.lan]:2222")
        );
        assert_eq!(
            check_text(&text, "PVE.Lan", 22, &key(KEY_A)),
            Verdict::Known
        );
        assert_eq!(
            check_text(&text, "pve.LAN", 2222, &key(KEY_B)),
            Verdict::Known
        );
        assert_eq!(
            check_text(&text, "PVE.LAN", 2222, &key(KEY_A)),
            Verdict::Changed { line: 2 }
        );
    }

    #[test]
    fn plain_patterns_match_any_case() {
        let text = format!("PVE.LAN {KEY_A}\n[*.Lan]:2222 {KEY_B}\n");
        assert_eq!(
            check_text(&text, "pve.lan", 22, &key(KEY_A)),
            Verdict::Known
        );
        assert_eq!(
            check_text(&text, "Pve.LAN", 2222, &key(KEY_B)),
            Verdict::Known
        );
        assert_eq!(host_key_name("PVE.lan", 2222), "[pve.lan]:2222");
    }

    #[test]
    fn wildcards_negation_comments_and_revocation() {
        let text = format!("# comment\n\n*.lan,!bad.lan {KEY_A}\n@revoked * {KEY_B}\n");
        assert_eq!(
            check_text(&text, "pve.lan", 22, &key(KEY_A)),
            Verdict::Known
        );
        assert_eq!(
            check_text(&text, "bad.lan", 22, &key(KEY_A)),
            Verdict::Unknown
        );
        assert_eq!(
            check_text(&text, "pve.lan", 22, &key(KEY_B)),
            Verdict::Revoked { line: 4 }
        );
    }

    #[test]
    fn a_rotated_key_listed_twice_is_known() {
        let text = format!("pve {KEY_B}\npve {KEY_A}\n");
        assert_eq!(check_text(&text, "pve", 22, &key(KEY_A)), Verdict::Known);
    }

    #[test]
    fn a_key_of_another_type_is_a_changed_key() {
        // As in ssh: any other key recorded for the host means its key changed, so
        // a key of a new type is never simply learned.
        let text = format!("pve {P256}\npve {KEY_B}\nother {RSA}\n");
        assert_eq!(
            check_text(&text, "pve", 22, &key(P384)),
            Verdict::Changed { line: 1 }
        );
        // The line named is one of the same type when there is one.
        assert_eq!(
            check_text(&text, "pve", 22, &key(KEY_A)),
            Verdict::Changed { line: 2 }
        );
        assert_eq!(
            check_text(&text, "other", 22, &key(KEY_A)),
            Verdict::Changed { line: 3 }
        );
        assert_eq!(
            check_text(&text, "nobody", 22, &key(KEY_A)),
            Verdict::Unknown
        );
    }

    #[test]
    fn tabs_runs_of_blanks_comments_and_crlf_are_accepted() {
        let text = format!("  pve\t\t{}   my comment\r\n", KEY_A.replace(' ', " \t "));
        assert_eq!(check_text(&text, "pve", 22, &key(KEY_A)), Verdict::Known);
    }

    #[test]
    fn malformed_lines_are_skipped_and_the_good_ones_still_count() {
        let text = [
            "pve ssh-ed25519 AAAA!!!notbase64".to_string(), // 1: bad base64
            "pve ssh-foo AAAAB3NzaC1mb28AAAABAA==".to_string(), // 2: unknown type
            "pve".to_string(),                              // 3: no key type
            "pve ssh-ed25519".to_string(),                  // 4: no key
            format!("@foo pve {KEY_B}"),                    // 5: unknown marker
            format!("|1|!!|zz {KEY_B}"),                    // 6: bad hash
            "@revoked".to_string(),                         // 7: only a marker
            format!("pve {KEY_A}"),                         // 8: good
            "pve 2048 35 1234567".to_string(),              // 9: SSH-1 key
            format!("pve {P256}"),                          // 10: good
        ]
        .join("\n");
        let file = parse(text.as_bytes());
        let skipped: Vec<usize> = file.skipped.iter().map(|s| s.no).collect();
        assert_eq!(skipped, [1, 2, 3, 4, 5, 6, 7, 9], "{:?}", file.skipped);
        assert!(
            file.skipped[1].reason.contains("ssh-foo"),
            "{:?}",
            file.skipped
        );
        assert_eq!(file.lines.len(), 2);
        assert_eq!(check_text(&text, "pve", 22, &key(KEY_A)), Verdict::Known);
        // The skipped KEY_B lines neither make KEY_B known nor revoke anything.
        assert_eq!(
            check_text(&text, "pve", 22, &key(KEY_B)),
            Verdict::Changed { line: 8 }
        );
        assert_eq!(check_text(&text, "pve", 22, &key(P256)), Verdict::Known);
    }

    #[test]
    fn a_non_utf8_line_is_skipped_and_does_not_spoil_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("known_hosts");
        let mut bytes = Vec::new();
        bytes.extend_from_slice(b"caf\xe9.lan ");
        bytes.extend_from_slice(KEY_B.as_bytes());
        bytes.extend_from_slice(b"\n");
        bytes.extend_from_slice(format!("pve {KEY_A}\n").as_bytes());
        // A Latin-1 comment: ssh never reads the comment, nor do we.
        bytes.extend_from_slice(format!("other {KEY_A} Jos").as_bytes());
        bytes.extend_from_slice(b"\xe9\n");
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(
            check(&path, "pve", 22, &key(KEY_A)).unwrap(),
            Verdict::Known
        );
        assert_eq!(
            check(&path, "other", 22, &key(KEY_A)).unwrap(),
            Verdict::Known
        );
        let file = parse(&bytes);
        assert_eq!(
            file.skipped,
            [Skipped {
                no: 1,
                reason: "the host field is not UTF-8".into()
            }]
        );
    }

    #[test]
    fn skipped_lines_are_warned_about_with_file_and_line() {
        #[derive(Clone, Default)]
        struct Buf(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
        impl std::io::Write for Buf {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("known_hosts");
        std::fs::write(&path, format!("pve {KEY_A}\n\npve ssh-ed25519 @@@\n")).unwrap();
        let buf = Buf::default();
        let writer = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .finish();
        let verdict = tracing::subscriber::with_default(subscriber, || {
            check(&path, "pve", 22, &key(KEY_A)).unwrap()
        });
        assert_eq!(verdict, Verdict::Known);
        let log = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert!(log.contains("WARN"), "{log}");
        assert!(
            log.contains(&format!("{} line 3: bad ssh-ed25519 key", path.display())),
            "{log}"
        );
    }

    #[test]
    fn learning_appends_a_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ssh/known_hosts");
        learn(&path, "pve", 2222, &key(KEY_A)).unwrap();
        assert_eq!(
            check(&path, "pve", 2222, &key(KEY_A)).unwrap(),
            Verdict::Known
        );
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("[pve]:2222 ssh-ed25519 "), "{text}");
    }

    #[test]
    fn a_missing_file_knows_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nope");
        assert_eq!(
            check(&path, "pve", 22, &key(KEY_A)).unwrap(),
            Verdict::Unknown
        );
    }
}
