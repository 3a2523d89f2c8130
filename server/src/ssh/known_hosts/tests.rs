use super::*;
use russh::keys::PrivateKey;
use russh::keys::ssh_key::EcdsaCurve;
use russh::keys::ssh_key::certificate::Builder;

const KEY_A: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDpcy15wBrPV9Ks58TfmC7tXxyEViimJ70P3kvGeNbL0";
const KEY_B: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHJ/5ib8TGcDcSkkgGFVDO3nfWg1C9BiIBnrMw7HLj2F";
const P256: &str = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBLqtB7c14dRQxGcr5dUSOCYJColDXOTojbwtsGlO347hXmL1DiSbWRLs11CA++tSzxi0BsJ+xuv57J7pg/lwn2M=";
const P384: &str = "ecdsa-sha2-nistp384 AAAAE2VjZHNhLXNoYTItbmlzdHAzODQAAAAIbmlzdHAzODQAAABhBByz7lfOJXoajAoDxkkGnykdVmVaGRuE7eGDYlHGBSVsXhK6Jr328t9MVtvrZSRAchaw3jsJ6F0qqsvnKXM9+78FnJSQ00XFISgVNIbA4C4Pfd0833xe4T3jVRt1JQpV/g==";
const RSA: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQCnZ1Y/QxekHaN2d7rXIL0B+ry97dzHsYk3ddmrA6V+VJRxbD2to20ISUvy7YNAVIC8gCMLna3++vUjAIZXcXyxLcos4zydtYyrw0QGgQC268E7aAwK1/df8AaPDajB4PCrnvHMehjN6IuIb8uI88iAaJs9/oS0d4pksaRYIgSDyw==";

/// A fixed "now" for certificate checks.
const NOW: u64 = 1_800_000_000;

fn key(s: &str) -> PublicKey {
    PublicKey::from_openssh(s).unwrap()
}

fn check_text(text: &str, host: &str, port: u16, key: &PublicKey) -> Verdict {
    check_plain(&parse(text.as_bytes()).lines, host, port, key)
}

fn check_cert(text: &str, host: &str, port: u16, cert: &Certificate) -> HostKeyVerdict {
    let presented = PublicKeyOrCertificate::Certificate(cert.clone());
    check_lines(&parse(text.as_bytes()).lines, host, port, &presented, NOW)
}

/// Asserts each `(host, port, key, verdict)` against the known_hosts `text`.
#[track_caller]
fn expect(text: &str, cases: &[(&str, u16, &str, Verdict)]) {
    for (host, port, k, want) in cases {
        let got = check_text(text, host, *port, &key(k));
        assert_eq!(&got, want, "{host}:{port} {k}");
    }
}

/// Asserts the verdict on `cert` presented by `host:port` against the known_hosts `text`.
#[track_caller]
fn expect_cert(text: &str, host: &str, port: u16, cert: &Certificate, want: HostKeyVerdict) {
    assert_eq!(check_cert(text, host, port, cert), want, "{host}:{port}");
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
    expect(
        &text,
        &[
            ("pve", 22, KEY_A, Verdict::Known),
            ("pve", 2222, KEY_B, Verdict::Known),
            ("pve", 2222, KEY_A, Verdict::Changed { line: 2 }),
            ("other", 22, KEY_A, Verdict::Unknown),
        ],
    );
}

#[test]
fn hashed_entries() {
    let text = format!("{} {KEY_A}\n", hashed("[10.0.0.5]:2222"));
    expect(
        &text,
        &[
            ("10.0.0.5", 2222, KEY_A, Verdict::Known),
            ("10.0.0.5", 2222, KEY_B, Verdict::Changed { line: 1 }),
            ("10.0.0.5", 22, KEY_A, Verdict::Unknown),
        ],
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
    expect(
        &text,
        &[
            ("PVE.Lan", 22, KEY_A, Verdict::Known),
            ("pve.LAN", 2222, KEY_B, Verdict::Known),
            ("PVE.LAN", 2222, KEY_A, Verdict::Changed { line: 2 }),
        ],
    );
}

#[test]
fn plain_patterns_match_any_case() {
    let text = format!("PVE.LAN {KEY_A}\n[*.Lan]:2222 {KEY_B}\n");
    expect(
        &text,
        &[
            ("pve.lan", 22, KEY_A, Verdict::Known),
            ("Pve.LAN", 2222, KEY_B, Verdict::Known),
        ],
    );
    assert_eq!(host_key_name("PVE.lan", 2222), "[pve.lan]:2222");
}

#[test]
fn wildcards_negation_comments_and_revocation() {
    let text = format!("# comment\n\n*.lan,!bad.lan {KEY_A}\n@revoked * {KEY_B}\n");
    expect(
        &text,
        &[
            ("pve.lan", 22, KEY_A, Verdict::Known),
            ("bad.lan", 22, KEY_A, Verdict::Unknown),
            ("pve.lan", 22, KEY_B, Verdict::Revoked { line: 4 }),
        ],
    );
}

#[test]
fn off_port_22_a_key_known_for_the_bare_name_is_known() {
    let text = format!("pve {KEY_A}\n");
    assert_eq!(check_text(&text, "pve", 2222, &key(KEY_A)), Verdict::Known);
    // Only "known" carries over: changed for the bare name is unknown here.
    assert_eq!(
        check_text(&text, "pve", 2222, &key(KEY_B)),
        Verdict::Unknown
    );
    // What the port's own lines say wins.
    let text = format!("[pve]:2222 {KEY_B}\npve {KEY_A}\n");
    assert_eq!(
        check_text(&text, "pve", 2222, &key(KEY_A)),
        Verdict::Changed { line: 1 }
    );
    // Revoked for the bare name: not known for the port.
    let text = format!("pve {KEY_A}\n@revoked pve {KEY_A}\n");
    assert_eq!(
        check_text(&text, "pve", 2222, &key(KEY_A)),
        Verdict::Unknown
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
    expect(
        &text,
        &[
            ("pve", 22, KEY_A, Verdict::Changed { line: 2 }),
            ("other", 22, KEY_A, Verdict::Changed { line: 3 }),
            ("nobody", 22, KEY_A, Verdict::Unknown),
        ],
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
    expect(
        &text,
        &[
            ("pve", 22, KEY_B, Verdict::Changed { line: 8 }),
            ("pve", 22, P256, Verdict::Known),
        ],
    );
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
    assert!(known_algorithms(&path, "pve", 22).is_empty());
    assert!(certificate_algorithms(&path, "pve", 22).is_empty());
}

// --- host-key algorithms -------------------------------------------------------

const RSA_512: Algorithm = Algorithm::Rsa {
    hash: Some(HashAlg::Sha512),
};
const RSA_256: Algorithm = Algorithm::Rsa {
    hash: Some(HashAlg::Sha256),
};
const RSA_SHA1: Algorithm = Algorithm::Rsa { hash: None };
const ECDSA_256: Algorithm = Algorithm::Ecdsa {
    curve: EcdsaCurve::NistP256,
};
const ECDSA_384: Algorithm = Algorithm::Ecdsa {
    curve: EcdsaCurve::NistP384,
};

fn algorithms(text: &str, host: &str, port: u16) -> Vec<Algorithm> {
    algorithms_for(&parse(text.as_bytes()).lines, &host_key_name(host, port))
}

#[test]
fn known_algorithms_are_listed_in_file_order() {
    let text = format!(
        "other {KEY_A}\n\
         @revoked pve {KEY_B}\n\
         @cert-authority pve {KEY_A}\n\
         [pve]:2222 {P384}\n\
         pve,pve.lan {RSA}\n\
         {} {P256}\n\
         pve {RSA}\n",
        hashed("pve")
    );
    assert_eq!(algorithms(&text, "PVE", 22), [RSA_512, RSA_256, ECDSA_256]);
    assert_eq!(algorithms(&text, "pve", 2222), [ECDSA_384]);
    assert_eq!(algorithms(&text, "other", 22), [Algorithm::Ed25519]);
    assert!(algorithms(&text, "nobody", 22).is_empty());
}

#[test]
fn the_known_algorithms_go_first_then_the_defaults_without_repeats() {
    let list = preferred_keys(&[RSA_512, RSA_256, ECDSA_256]);
    assert_eq!(
        list,
        [
            RSA_512,
            RSA_256,
            ECDSA_256,
            Algorithm::Ed25519,
            ECDSA_384,
            Algorithm::Ecdsa {
                curve: EcdsaCurve::NistP521
            },
            RSA_SHA1,
        ]
    );
    assert_eq!(preferred_keys(&[]), russh::Preferred::DEFAULT.key.to_vec());
}

#[test]
fn known_algorithms_reads_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("known_hosts");
    std::fs::write(&path, format!("[pve]:2222 {P256}\n[pve]:2222 {KEY_A}\n")).unwrap();
    assert_eq!(
        known_algorithms(&path, "pve", 2222),
        [ECDSA_256, Algorithm::Ed25519]
    );
}

// --- certificates --------------------------------------------------------------

fn new_key() -> PrivateKey {
    PrivateKey::random(&mut rand::rng(), Algorithm::Ed25519).unwrap()
}

fn public(k: &PrivateKey) -> String {
    k.public_key().to_openssh().unwrap()
}

struct Spec {
    cert_type: CertType,
    principals: Vec<&'static str>,
    valid_after: u64,
    valid_before: u64,
    critical: Option<(&'static str, &'static str)>,
}

impl Default for Spec {
    fn default() -> Self {
        Spec {
            cert_type: CertType::Host,
            principals: vec!["pve.lan"],
            valid_after: NOW - 60,
            valid_before: NOW + 3600,
            critical: None,
        }
    }
}

fn certificate(ca: &PrivateKey, host: &PrivateKey, spec: Spec) -> Certificate {
    let mut b = Builder::new(
        vec![7u8; 32],
        host.public_key().key_data().clone(),
        spec.valid_after,
        spec.valid_before,
    )
    .unwrap();
    b.cert_type(spec.cert_type).unwrap();
    b.key_id("pve host key").unwrap();
    if spec.principals.is_empty() {
        b.all_principals_valid().unwrap();
    }
    for p in spec.principals {
        b.valid_principal(p).unwrap();
    }
    if let Some((name, value)) = spec.critical {
        b.critical_option(name, value).unwrap();
    }
    b.sign(ca).unwrap()
}

fn rejected(v: HostKeyVerdict) -> (usize, String) {
    match v {
        HostKeyVerdict::CertificateRejected { line, reason } => (line, reason),
        other => panic!("expected a rejected certificate, got {other:?}"),
    }
}

#[test]
fn a_certificate_from_a_listed_authority_is_known() {
    let (ca, host) = (new_key(), new_key());
    let cert = certificate(&ca, &host, Spec::default());
    let text = format!("@cert-authority *.lan {}\n", public(&ca));
    expect_cert(&text, "pve.lan", 22, &cert, HostKeyVerdict::Known);
    expect_cert(&text, "PVE.lan", 22, &cert, HostKeyVerdict::Known);
    // Off port 22 the bare name's authority still vouches, as for plain keys.
    expect_cert(&text, "pve.lan", 2222, &cert, HostKeyVerdict::Known);
    let text = format!("@cert-authority [*.lan]:2200 {}\n", public(&ca));
    expect_cert(&text, "pve.lan", 2222, &cert, HostKeyVerdict::Unknown);
    let text = format!("@cert-authority [*.lan]:* {}\n", public(&ca));
    expect_cert(&text, "pve.lan", 2222, &cert, HostKeyVerdict::Known);
}

#[test]
fn an_authority_listed_for_other_hosts_or_as_a_plain_key_vouches_for_nothing() {
    let (ca, host) = (new_key(), new_key());
    let cert = certificate(&ca, &host, Spec::default());
    let text = format!(
        "@cert-authority *.example {}\npve.lan {}\n",
        public(&ca),
        public(&ca)
    );
    expect_cert(
        &text,
        "pve.lan",
        22,
        &cert,
        HostKeyVerdict::Changed { line: 2 },
    );
}

#[test]
fn certificates_that_fail_a_check_are_rejected_with_the_reason() {
    let (ca, host) = (new_key(), new_key());
    let text = format!("# CA\n@cert-authority *.lan {}\n", public(&ca));
    let cases = [
        (
            Spec {
                cert_type: CertType::User,
                ..Spec::default()
            },
            "not a host certificate",
        ),
        (
            Spec {
                valid_after: NOW - 3600,
                valid_before: NOW,
                ..Spec::default()
            },
            "expired at 2027-01-15 08:00:00 UTC",
        ),
        (
            Spec {
                valid_after: NOW + 1,
                valid_before: NOW + 3600,
                ..Spec::default()
            },
            "not valid before",
        ),
        (
            Spec {
                principals: vec!["other.lan", "pve"],
                ..Spec::default()
            },
            "pve.lan is not among its principals (other.lan, pve)",
        ),
        (
            Spec {
                principals: vec![],
                ..Spec::default()
            },
            "names no principals",
        ),
        (
            Spec {
                critical: Some(("force-command", "true")),
                ..Spec::default()
            },
            "critical options",
        ),
    ];
    for (spec, expected) in cases {
        let cert = certificate(&ca, &host, spec);
        for port in [22, 2222] {
            let (line, reason) = rejected(check_cert(&text, "pve.lan", port, &cert));
            assert_eq!(line, 2);
            assert!(reason.contains(expected), "{reason} lacks {expected}");
        }
    }
}

#[test]
fn a_certificate_with_a_forged_signature_is_rejected() {
    let (ca, host) = (new_key(), new_key());
    let mut bytes = certificate(&ca, &host, Spec::default()).to_bytes().unwrap();
    *bytes.last_mut().unwrap() ^= 1;
    let forged = Certificate::from_bytes(&bytes).unwrap();
    let text = format!("@cert-authority *.lan {}\n", public(&ca));
    let (_, reason) = rejected(check_cert(&text, "pve.lan", 22, &forged));
    assert_eq!(reason, "its signature does not verify");
}

#[test]
fn an_untrusted_certificate_falls_back_to_its_plain_key() {
    let (ca, host, other) = (new_key(), new_key(), new_key());
    let expired = certificate(
        &ca,
        &host,
        Spec {
            valid_after: NOW - 3600,
            valid_before: NOW - 60,
            ..Spec::default()
        },
    );
    let authority = format!("@cert-authority *.lan {}\n", public(&ca));
    // The plain key is listed: known, even though the certificate has expired.
    let text = format!("{authority}pve.lan {}\n", public(&host));
    expect_cert(&text, "pve.lan", 22, &expired, HostKeyVerdict::Known);
    // Another key of the type is listed: changed.
    let text = format!("{authority}pve.lan {}\n", public(&other));
    expect_cert(
        &text,
        "pve.lan",
        22,
        &expired,
        HostKeyVerdict::Changed { line: 2 },
    );
    // Signed by an authority nobody listed, key unknown: unknown.
    let stranger = certificate(&other, &host, Spec::default());
    expect_cert(
        &authority,
        "pve.lan",
        22,
        &stranger,
        HostKeyVerdict::Unknown,
    );
    // ... and a plain line still makes it known.
    let text = format!("pve.lan {}\n", public(&host));
    expect_cert(&text, "pve.lan", 22, &stranger, HostKeyVerdict::Known);
}

#[test]
fn a_revoked_authority_or_key_revokes_the_certificate() {
    let (ca, host) = (new_key(), new_key());
    let cert = certificate(&ca, &host, Spec::default());
    let authority = format!("@cert-authority *.lan {}\n", public(&ca));
    let text = format!("{authority}@revoked * {}\n", public(&ca));
    expect_cert(
        &text,
        "pve.lan",
        22,
        &cert,
        HostKeyVerdict::Revoked { line: 2 },
    );
    let text = format!(
        "{authority}pve.lan {}\n@revoked * {}\n",
        public(&host),
        public(&host)
    );
    expect_cert(
        &text,
        "pve.lan",
        22,
        &cert,
        HostKeyVerdict::Revoked { line: 3 },
    );
    // A revocation for other hosts does not apply.
    let text = format!("{authority}@revoked *.example {}\n", public(&ca));
    expect_cert(&text, "pve.lan", 22, &cert, HostKeyVerdict::Known);
}

#[test]
fn plain_keys_go_through_check_server_key_too() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("known_hosts");
    std::fs::write(&path, format!("pve {KEY_A}\n@revoked pve {KEY_B}\n")).unwrap();
    let presented = |s| PublicKeyOrCertificate::PublicKey {
        key: key(s),
        hash_alg: None,
    };
    assert_eq!(
        check_server_key(&path, "pve", 22, &presented(KEY_A)).unwrap(),
        HostKeyVerdict::Known
    );
    assert_eq!(
        check_server_key(&path, "pve", 22, &presented(KEY_B)).unwrap(),
        HostKeyVerdict::Revoked { line: 2 }
    );
    assert_eq!(
        check_server_key(&path, "other", 22, &presented(KEY_A)).unwrap(),
        HostKeyVerdict::Unknown
    );
}

#[test]
fn certificate_algorithms_only_when_an_authority_is_listed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("known_hosts");
    let ca = new_key();
    std::fs::write(
        &path,
        format!(
            "pve.lan {KEY_A}\n@cert-authority *.lan {}\n@revoked old.lan {}\n",
            public(&ca),
            public(&ca)
        ),
    )
    .unwrap();
    let algs = certificate_algorithms(&path, "pve.lan", 22);
    assert_eq!(
        algs,
        [
            Algorithm::Ed25519,
            ECDSA_256,
            ECDSA_384,
            Algorithm::Ecdsa {
                curve: EcdsaCurve::NistP521
            },
            RSA_512,
            RSA_256,
        ]
    );
    assert!(certificate_algorithms(&path, "pve.example", 22).is_empty());
    // Revoked for that host: no certificates asked for.
    assert!(certificate_algorithms(&path, "old.lan", 22).is_empty());
}

#[test]
fn unix_times_print_as_dates() {
    assert_eq!(unix_time(0), "1970-01-01 00:00:00 UTC");
    assert_eq!(unix_time(NOW), "2027-01-15 08:00:00 UTC");
    assert_eq!(unix_time(951_782_400), "2000-02-29 00:00:00 UTC");
    assert_eq!(unix_time(u64::MAX), "18446744073709551615 (Unix time)");
}
