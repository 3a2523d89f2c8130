//! Host-key verification against an OpenSSH `known_hosts` file: plain, wildcard,
//! negated, `[host]:port` and hashed (`|1|salt|hash`) patterns, `@revoked` lines;
//! learning new keys for `accept-new`.

use std::io::Write as _;
use std::path::Path;

use hmac::{Hmac, KeyInit, Mac};
use russh::keys::ssh_key::PublicKey;
use russh::keys::ssh_key::known_hosts::{Entry, HostPatterns, Marker};

/// What the file says about a host's key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// A line lists exactly this key for this host.
    Known,
    /// No line lists a key of this type for this host.
    Unknown,
    /// A line lists another key of the same type for this host.
    Changed { line: usize },
    /// A `@revoked` line lists this key.
    Revoked { line: usize },
}

/// The name a host is recorded under: `host`, or `[host]:port` off port 22.
pub fn host_key_name(host: &str, port: u16) -> String {
    if port == 22 {
        host.to_string()
    } else {
        format!("[{host}]:{port}")
    }
}

/// Checks `key` for `host:port` against the file at `path` (a missing file knows nothing).
pub fn check(path: &Path, host: &str, port: u16, key: &PublicKey) -> std::io::Result<Verdict> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Verdict::Unknown),
        Err(e) => return Err(e),
    };
    Ok(check_text(&text, host, port, key))
}

/// As [`check`], over the file's text.
pub fn check_text(text: &str, host: &str, port: u16, key: &PublicKey) -> Verdict {
    let name = host_key_name(host, port);
    let mut known = false;
    let mut changed = None;
    for (n, line) in text.lines().enumerate() {
        let line_no = n + 1;
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        // Lines we cannot parse (other tools' extensions, typos) are skipped, as ssh does.
        let Ok(entry) = trimmed.parse::<Entry>() else {
            tracing::debug!("known_hosts line {line_no} is not understood; skipped");
            continue;
        };
        if !patterns_match(entry.host_patterns(), &name) {
            continue;
        }
        let same_key = entry.public_key().key_data() == key.key_data();
        match entry.marker() {
            Some(Marker::Revoked) if same_key => return Verdict::Revoked { line: line_no },
            Some(_) => continue,
            None => {}
        }
        if same_key {
            known = true;
        } else if entry.public_key().algorithm() == key.algorithm() && changed.is_none() {
            changed = Some(line_no);
        }
    }
    match (known, changed) {
        (true, _) => Verdict::Known,
        (false, Some(line)) => Verdict::Changed { line },
        (false, None) => Verdict::Unknown,
    }
}

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
    key.fingerprint(russh::keys::ssh_key::HashAlg::Sha256)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_A: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDpcy15wBrPV9Ks58TfmC7tXxyEViimJ70P3kvGeNbL0";
    const KEY_B: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHJ/5ib8TGcDcSkkgGFVDO3nfWg1C9BiIBnrMw7HLj2F";

    fn key(s: &str) -> PublicKey {
        PublicKey::from_openssh(s).unwrap()
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
        // `ssh-keygen -H` style: HMAC-SHA1 of the name keyed by the salt.
        let salt = b"0123456789abcdefghij";
        let mut mac = <Hmac<sha1::Sha1> as KeyInit>::new_from_slice(salt).unwrap();
        mac.update(b"[10.0.0.5]:2222");
        let hash = mac.finalize().into_bytes();
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD;
        let text = format!("|1|{}|{} {KEY_A}\n", b64.encode(salt), b64.encode(hash));
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
}
