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
//! Off port 22, when the lines for `[host]:port` say nothing about the key (unknown),
//! it is still known if the lines for the bare `host` make it known — ssh's "checking
//! without port identifier" (`sshconnect.c`). Nothing else carries over from the bare
//! name (a key changed or revoked there stays unknown for the port), except that a
//! certificate the bare name's authority signed but that fails a check is rejected.
//!
//! # Plain keys
//! A key is *known* when a line for the host lists it, and *revoked* when an `@revoked`
//! line for the host lists it, whatever else the file says. It has *changed* when lines
//! for the host list only other keys, of any type, as in ssh (`hostfile.c`): a server
//! that shows an ECDSA key where an Ed25519 key is recorded has changed its key, it has
//! not grown a new one to learn. (The line named is the first one with a key of the
//! same type, else the first one.) So the client must ask for the key types the file
//! knows: see below.
//!
//! # Certificates (`@cert-authority`)
//! Host certificates are honoured. A certificate is trusted when an `@cert-authority`
//! line for the host lists the key that signed it and the certificate
//! - verifies under that key (ssh-key's [`Certificate::validate_at`]),
//! - is valid now (`valid after <= now < valid before`),
//! - is a host certificate,
//! - names the lowercased host (without the port) among its principals, compared
//!   exactly as ssh does — a certificate with no principals is refused: "valid for
//!   any host" is not something to trust a host certificate for,
//! - has no critical options (none are defined for host certificates), and
//! - is not signed with `ssh-rsa` (SHA-1), which OpenSSH's default
//!   `CASignatureAlgorithms` refuses.
//!
//! That the server holds the certificate's private key is proved by the key exchange:
//! russh verifies the exchange signature with the key inside the certificate.
//!
//! A certificate whose signer or inner key is listed `@revoked` for the host is revoked.
//! Otherwise, when the certificate is not trusted, its inner key is checked as a plain
//! key (OpenSSH's "retry with plain key"): a plain line can still make it known (or
//! changed). When that finds nothing and a listed authority *did* sign the certificate
//! but it failed a check above (expired, wrong principal, …), the verdict is
//! [`HostKeyVerdict::CertificateRejected`] with the reason, rather than "unknown": the
//! host is set up for certificates and learning its bare key would hide the problem.
//! (ssh would carry on with the bare key and, under `accept-new`, learn it; here the
//! caller decides, and should refuse.)
//!
//! russh only receives a certificate when the client advertises certificate
//! algorithms; [`certificate_algorithms`] lists them when an authority is known for the
//! host (and nothing otherwise).
//!
//! # Host-key algorithms
//! [`known_algorithms`] lists the key algorithms the file already knows for a host, and
//! [`preferred_keys`] puts them ahead of russh's defaults, so that a host known by its
//! RSA or ECDSA key is asked for that key and not for an Ed25519 key nobody has
//! recorded (OpenSSH's `order_hostkeyalgs`).
//!
//! # Entry points
//! [`check_server_key`] judges what the server presented ([`HostKeyVerdict`]);
//! [`check`] and [`Verdict`] are the same for a plain key, kept for callers that only
//! have one. [`learn`] appends a line for `accept-new`.

use std::io::Write as _;
use std::path::Path;

use hmac::{Hmac, KeyInit, Mac};
use russh::keys::ssh_key::certificate::CertType;
use russh::keys::ssh_key::known_hosts::{HostPatterns, Marker};
use russh::keys::ssh_key::public::KeyData;
use russh::keys::ssh_key::{Certificate, HashAlg, PublicKey};
use russh::keys::{Algorithm, PublicKeyOrCertificate};

/// What the file says about a host's plain key (see [`check`]).
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

/// What the file says about the key or certificate a server presented
/// (see [`check_server_key`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostKeyVerdict {
    /// A line lists this key for this host, or a listed authority vouches for this
    /// certificate.
    Known,
    /// Nothing in the file speaks for or against it (`accept-new` may learn the key).
    Unknown,
    /// Lines list only other keys for this host (see [`Verdict::Changed`]).
    Changed { line: usize },
    /// A `@revoked` line lists this key, or the certificate's key or its signer.
    Revoked { line: usize },
    /// The `@cert-authority` line `line` signed this certificate, but it is not
    /// acceptable (`reason`, e.g. "it expired at …"), and no plain line lists its key.
    CertificateRejected { line: usize, reason: String },
}

impl From<Verdict> for HostKeyVerdict {
    fn from(v: Verdict) -> Self {
        match v {
            Verdict::Known => HostKeyVerdict::Known,
            Verdict::Unknown => HostKeyVerdict::Unknown,
            Verdict::Changed { line } => HostKeyVerdict::Changed { line },
            Verdict::Revoked { line } => HostKeyVerdict::Revoked { line },
        }
    }
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

/// Checks a plain `key` for `host:port` against the file at `path` (a missing file
/// knows nothing). For what a server presents, certificates included, use
/// [`check_server_key`].
pub fn check(path: &Path, host: &str, port: u16, key: &PublicKey) -> std::io::Result<Verdict> {
    let file = read(path)?;
    file.warn_skipped(path);
    Ok(check_plain(&file.lines, host, port, key))
}

/// Checks what the server presented — a plain key or a certificate — for `host:port`
/// against the file at `path` (a missing file knows nothing).
pub fn check_server_key(
    path: &Path,
    host: &str,
    port: u16,
    key: &PublicKeyOrCertificate,
) -> std::io::Result<HostKeyVerdict> {
    let file = read(path)?;
    file.warn_skipped(path);
    Ok(check_lines(&file.lines, host, port, key, unix_now()))
}

/// The key algorithms the file knows for `host:port`, in file order, without repeats:
/// those of lines that are neither `@revoked` nor `@cert-authority`. An RSA key stands
/// for `rsa-sha2-512` and `rsa-sha2-256` (not SHA-1 `ssh-rsa`, which stays where
/// russh's defaults put it: last). Types russh does not offer (DSA, security keys) are
/// left out. An unreadable file gives an empty list: [`check_server_key`] reports it.
pub fn known_algorithms(path: &Path, host: &str, port: u16) -> Vec<Algorithm> {
    let Ok(file) = read(path) else {
        return Vec::new();
    };
    algorithms_for(&file.lines, &host_key_name(host, port))
}

/// `known` first, then russh's default host-key algorithms, without repeats: the list
/// for `russh::Preferred::key`.
pub fn preferred_keys(known: &[Algorithm]) -> Vec<Algorithm> {
    let mut out: Vec<Algorithm> = Vec::new();
    for a in known.iter().chain(russh::Preferred::DEFAULT.key.iter()) {
        if !out.contains(a) {
            out.push(a.clone());
        }
    }
    out
}

/// The certificate algorithms to advertise for `host:port`
/// (`russh::Preferred::host_key_certificates`): russh's default host-key algorithms
/// except SHA-1 `ssh-rsa` when an `@cert-authority` line for the host lists an
/// authority that is not revoked, and none otherwise (then the server shows a plain
/// key, as it does today).
pub fn certificate_algorithms(path: &Path, host: &str, port: u16) -> Vec<Algorithm> {
    let Ok(file) = read(path) else {
        return Vec::new();
    };
    if has_authority(&file.lines, &host_key_name(host, port)) {
        russh::Preferred::DEFAULT
            .key
            .iter()
            .filter(|a| **a != Algorithm::Rsa { hash: None })
            .cloned()
            .collect()
    } else {
        Vec::new()
    }
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

fn check_lines(
    lines: &[Line],
    host: &str,
    port: u16,
    key: &PublicKeyOrCertificate,
    now: u64,
) -> HostKeyVerdict {
    match key {
        PublicKeyOrCertificate::PublicKey { key, .. } => check_plain(lines, host, port, key).into(),
        PublicKeyOrCertificate::Certificate(cert) => {
            let principal = host.to_ascii_lowercase();
            let at =
                |port| check_certificate(lines, &host_key_name(host, port), &principal, cert, now);
            match at(port) {
                // As for plain keys; and a certificate the bare name's authority signed
                // but that fails a check is rejected here too.
                HostKeyVerdict::Unknown if port != 22 => match at(22) {
                    v @ (HostKeyVerdict::Known | HostKeyVerdict::CertificateRejected { .. }) => v,
                    _ => HostKeyVerdict::Unknown,
                },
                verdict => verdict,
            }
        }
    }
}

/// A plain key for `host:port`, with ssh's fallback to the bare host name off port 22.
fn check_plain(lines: &[Line], host: &str, port: u16, key: &PublicKey) -> Verdict {
    let at = |port| check_key(lines, &host_key_name(host, port), key);
    match at(port) {
        Verdict::Unknown if port != 22 && at(22) == Verdict::Known => Verdict::Known,
        verdict => verdict,
    }
}

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

fn check_certificate(
    lines: &[Line],
    name: &str,
    principal: &str,
    cert: &Certificate,
    now: u64,
) -> HostKeyVerdict {
    let inner = PublicKey::new(cert.public_key().clone(), "");
    let signer = cert.signature_key();
    for line in for_host(lines, name) {
        if line.marker == Some(Marker::Revoked)
            && (line.key.key_data() == inner.key_data() || line.key.key_data() == signer)
        {
            return HostKeyVerdict::Revoked { line: line.no };
        }
    }
    let authority = for_host(lines, name)
        .find(|l| l.marker == Some(Marker::CertAuthority) && l.key.key_data() == signer);
    let rejection = match authority {
        Some(line) => match certificate_problem(cert, signer, principal, now) {
            None => return HostKeyVerdict::Known,
            Some(reason) => {
                tracing::debug!(
                    "host certificate signed by the authority on known_hosts line {}: {reason}",
                    line.no
                );
                Some((line.no, reason))
            }
        },
        None => None,
    };
    // Not vouched for: its key may still be listed as a plain key.
    match (check_key(lines, name, &inner), rejection) {
        (Verdict::Unknown, Some((line, reason))) => {
            HostKeyVerdict::CertificateRejected { line, reason }
        }
        (verdict, _) => verdict.into(),
    }
}

/// Why a certificate signed by a trusted authority is still not acceptable, if it is not.
fn certificate_problem(
    cert: &Certificate,
    signer: &KeyData,
    principal: &str,
    now: u64,
) -> Option<String> {
    if cert.cert_type() != CertType::Host {
        return Some("it is a user certificate, not a host certificate".into());
    }
    if cert.signature().algorithm() == (Algorithm::Rsa { hash: None }) {
        return Some("it is signed with ssh-rsa (SHA-1), which is not accepted".into());
    }
    // Checks the signature, that `signer` made it, and the validity window.
    let trusted = [signer.fingerprint(HashAlg::Sha256)];
    if cert.validate_at(now, &trusted).is_err() {
        return Some(if now < cert.valid_after() {
            format!("it is not valid before {}", unix_time(cert.valid_after()))
        } else if now >= cert.valid_before() {
            format!("it expired at {}", unix_time(cert.valid_before()))
        } else {
            "its signature does not verify".into()
        });
    }
    let principals = cert.valid_principals();
    if principals.is_empty() {
        return Some("it names no principals (host names)".into());
    }
    if !principals.iter().any(|p| p == principal) {
        return Some(format!(
            "{principal} is not among its principals ({})",
            principals.join(", ")
        ));
    }
    if !cert.critical_options().is_empty() {
        let names: Vec<&str> = cert.critical_options().keys().map(String::as_str).collect();
        return Some(format!(
            "it has critical options, which host certificates do not support ({})",
            names.join(", ")
        ));
    }
    None
}

fn algorithms_for(lines: &[Line], name: &str) -> Vec<Algorithm> {
    let offered = &russh::Preferred::DEFAULT.key;
    let mut out: Vec<Algorithm> = Vec::new();
    for line in for_host(lines, name).filter(|l| l.marker.is_none()) {
        let algs = match line.key.algorithm() {
            Algorithm::Rsa { .. } => vec![
                Algorithm::Rsa {
                    hash: Some(HashAlg::Sha512),
                },
                Algorithm::Rsa {
                    hash: Some(HashAlg::Sha256),
                },
            ],
            a => vec![a],
        };
        for a in algs {
            if offered.contains(&a) && !out.contains(&a) {
                out.push(a);
            }
        }
    }
    out
}

/// Is an authority listed for `name` that is not revoked for it?
fn has_authority(lines: &[Line], name: &str) -> bool {
    let revoked: Vec<&KeyData> = for_host(lines, name)
        .filter(|l| l.marker == Some(Marker::Revoked))
        .map(|l| l.key.key_data())
        .collect();
    for_host(lines, name)
        .any(|l| l.marker == Some(Marker::CertAuthority) && !revoked.contains(&l.key.key_data()))
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `2026-01-02 03:04:05 UTC`, or the raw number for times past year 9999.
fn unix_time(secs: u64) -> String {
    if secs >= 253_402_300_800 {
        return format!("{secs} (Unix time)");
    }
    let u = crate::time::Utc::from_unix(secs);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
        u.year, u.month, u.day, u.hour, u.minute, u.second
    )
}

#[cfg(test)]
mod tests;
