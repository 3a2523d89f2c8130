//! The SFTP handler against russh-sftp clients over an in-memory pipe.

use super::*;
use crate::fs::{Fs, Kind};
use crate::host::{SftpFault, SignalPolicy};
use russh_sftp::client::error::Error as ClientError;
use russh_sftp::client::{RawSftpSession, SftpSession};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn host() -> Host {
    let mut fs = Fs::new();
    fs.mkdir("/root", 0o700).unwrap();
    fs.mkdir("/tmp", 0o777).unwrap();
    fs.set_mode("/tmp", 0o1777).unwrap();
    Host::new(State {
        node: "pve".into(),
        fs,
        containers: Default::default(),
        vms: Default::default(),
        scripts: vec![],
        faults: Default::default(),
        pve: crate::pve::Pve::V9,
        signal_policy: SignalPolicy::RefuseRoot,
        max_sessions: crate::host::DEFAULT_MAX_SESSIONS,
    })
}

fn serve(host: &Host) -> tokio::io::DuplexStream {
    let (client, server) = tokio::io::duplex(256 * 1024);
    let handler = SftpHandler::new(host.clone(), "root".into(), "/root".into());
    // `run` spawns the server loop and returns at once.
    let run = russh_sftp::server::run(server, handler);
    tokio::spawn(run);
    client
}

async fn session(host: &Host) -> SftpSession {
    SftpSession::new(serve(host)).await.unwrap()
}

async fn raw(host: &Host) -> RawSftpSession {
    let raw = RawSftpSession::new(serve(host));
    raw.init().await.unwrap();
    raw
}

/// The status code and message of a failed request.
fn status<T>(result: Result<T, ClientError>) -> (StatusCode, String) {
    match result {
        Err(ClientError::Status(s)) => (s.status_code, s.error_message),
        Err(other) => panic!("expected an SFTP status error, got {other:?}"),
        Ok(_) => panic!("expected an SFTP status error, got success"),
    }
}

/// Writes a file every user may read and write.
fn put(host: &Host, path: &str, data: &[u8]) {
    host.state().fs.write_file(path, data, 0o666).unwrap();
}

/// The handle of a file opened through the raw session.
async fn open(raw: &RawSftpSession, path: &str, flags: OpenFlags) -> String {
    raw.open(path, flags, FileAttributes::empty())
        .await
        .unwrap()
        .handle
}

fn ssh_string(s: &str) -> Vec<u8> {
    let mut out = (s.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(s.as_bytes());
    out
}

fn set_fault(host: &Host, kind: SftpFaultKind, prefix: &str) {
    host.state().faults.sftp = Some(SftpFault {
        kind,
        path_prefix: prefix.into(),
    });
}

#[tokio::test]
async fn sftp_init_advertises_posix_rename() {
    let host = host();
    let raw = RawSftpSession::new(serve(&host));
    let version = raw.init().await.unwrap();
    assert_eq!(version.version, 3);
    assert_eq!(
        version.extensions.get(POSIX_RENAME).map(String::as_str),
        Some("1")
    );
}

#[tokio::test]
async fn sftp_ten_megabytes_round_trip_in_chunks() {
    let host = host();
    let sftp = session(&host).await;
    let mut data = vec![0u8; 10 * 1024 * 1024 + 17];
    data.iter_mut().for_each(|b| *b = rand::random());
    let want = Sha256::digest(&data);

    let mut file = sftp.create("/tmp/big.bin").await.unwrap();
    for chunk in data.chunks(100_003) {
        file.write_all(chunk).await.unwrap();
    }
    file.shutdown().await.unwrap();
    assert_eq!(
        Sha256::digest(host.host_file("/tmp/big.bin").unwrap()),
        want
    );

    let mut file = sftp.open("/tmp/big.bin").await.unwrap();
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 65_536];
    let mut total = 0;
    loop {
        let n = file.read(&mut buf).await.unwrap();
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        total += n;
    }
    assert_eq!(total, data.len());
    assert_eq!(hasher.finalize(), want);
    assert_eq!(file.metadata().await.unwrap().size, Some(data.len() as u64));
}

#[tokio::test]
async fn sftp_read_returns_at_most_the_requested_range_then_eof() {
    let host = host();
    put(&host, "/tmp/f", b"0123456789");
    let raw = raw(&host).await;
    let h = open(&raw, "/tmp/f", OpenFlags::READ).await;
    assert_eq!(raw.read(&h, 2, 3).await.unwrap().data, b"234");
    assert_eq!(raw.read(&h, 8, 100).await.unwrap().data, b"89");
    assert_eq!(status(raw.read(&h, 10, 100).await).0, StatusCode::Eof);
    assert_eq!(status(raw.read(&h, 50, 100).await).0, StatusCode::Eof);
    // Writing through a read-only handle is refused.
    assert_eq!(
        status(raw.write(&h, 0, b"x".to_vec()).await).0,
        StatusCode::Failure
    );
}

#[tokio::test]
async fn sftp_exclusive_create_refuses_an_existing_file() {
    let host = host();
    let sftp = session(&host).await;
    sftp.write("/tmp/x", b"").await.unwrap_err();
    let flags = OpenFlags::WRITE | OpenFlags::CREATE | OpenFlags::EXCLUDE;
    let mut f = sftp.open_with_flags("/tmp/x", flags).await.unwrap();
    f.write_all(b"first").await.unwrap();
    f.shutdown().await.unwrap();
    let (code, msg) = status(sftp.open_with_flags("/tmp/x", flags).await);
    assert_eq!((code, msg.as_str()), (StatusCode::Failure, "File exists"));
    assert_eq!(host.host_file("/tmp/x").unwrap(), b"first");
}

#[tokio::test]
async fn sftp_append_writes_at_the_end() {
    let host = host();
    put(&host, "/tmp/log", b"hello");
    let raw = raw(&host).await;
    let h = open(&raw, "/tmp/log", OpenFlags::WRITE | OpenFlags::APPEND).await;
    raw.write(&h, 0, b" world".to_vec()).await.unwrap();
    raw.write(&h, 0, b"!".to_vec()).await.unwrap();
    raw.close(&h).await.unwrap();
    assert_eq!(host.host_file("/tmp/log").unwrap(), b"hello world!");
}

#[tokio::test]
async fn sftp_stat_fstat_and_setstat() {
    let host = host();
    let sftp = session(&host).await;
    let mut attrs = FileAttributes::empty();
    attrs.permissions = Some(0o600);
    let mut f = sftp
        .open_with_flags_and_attributes(
            "/tmp/secret",
            OpenFlags::WRITE | OpenFlags::CREATE | OpenFlags::TRUNCATE,
            attrs,
        )
        .await
        .unwrap();
    f.write_all(b"12345").await.unwrap();
    f.flush().await.unwrap();
    let fst = f.metadata().await.unwrap();
    assert_eq!(fst.size, Some(5));
    assert_eq!(fst.permissions, Some(0o100600));
    f.shutdown().await.unwrap();

    let st = sftp.metadata("/tmp/secret").await.unwrap();
    assert_eq!((st.size, st.permissions), (Some(5), Some(0o100600)));
    assert_eq!((st.uid, st.gid), (Some(0), Some(0)));
    let lst = sftp.symlink_metadata("/tmp/secret").await.unwrap();
    assert_eq!(lst.size, Some(5));
    let dir = sftp.metadata("/tmp").await.unwrap();
    assert!(dir.is_dir());
    assert_eq!(dir.permissions, Some(0o041777));

    // Without attributes a new file gets 0666 & ~umask.
    sftp.create("/tmp/plain")
        .await
        .unwrap()
        .shutdown()
        .await
        .unwrap();
    let st = sftp.metadata("/tmp/plain").await.unwrap();
    assert_eq!(st.permissions, Some(0o100644));

    let mut change = FileAttributes::empty();
    change.permissions = Some(0o640);
    change.size = Some(2);
    change.mtime = Some(1_000_000);
    change.atime = Some(1_000_000);
    sftp.set_metadata("/tmp/secret", change).await.unwrap();
    let st = sftp.metadata("/tmp/secret").await.unwrap();
    assert_eq!(st.permissions, Some(0o100640));
    assert_eq!(st.size, Some(2));
    assert_eq!(st.mtime, Some(1_000_000));
    assert_eq!(host.host_file("/tmp/secret").unwrap(), b"12");

    let mut owner = FileAttributes::empty();
    owner.uid = Some(1000);
    owner.gid = Some(100);
    sftp.set_metadata("/tmp/secret", owner).await.unwrap();
    let st = host.state().fs.stat("/tmp/secret").unwrap();
    assert_eq!((st.uid, st.gid), (1000, 100));

    // fsetstat through an open handle.
    let raw = raw(&host).await;
    let h = open(&raw, "/tmp/secret", OpenFlags::READ).await;
    let mut mode = FileAttributes::empty();
    mode.permissions = Some(0o400);
    raw.fsetstat(&h, mode).await.unwrap();
    assert_eq!(host.state().fs.stat("/tmp/secret").unwrap().mode, 0o400);

    let (code, _) = status(sftp.metadata("/tmp/none").await);
    assert_eq!(code, StatusCode::NoSuchFile);
    let (code, _) = status(
        sftp.set_metadata("/tmp/none", FileAttributes::empty())
            .await,
    );
    assert_eq!(code, StatusCode::NoSuchFile);
}

#[tokio::test]
async fn sftp_rename_refuses_an_existing_target_posix_rename_replaces_it() {
    let host = host();
    {
        let mut state = host.state();
        state.fs.write_file("/tmp/a", b"A", 0o666).unwrap();
        state.fs.write_file("/tmp/b", b"B", 0o666).unwrap();
    }
    let sftp = session(&host).await;
    let (code, msg) = status(sftp.rename("/tmp/a", "/tmp/b").await);
    assert_eq!((code, msg.as_str()), (StatusCode::Failure, "File exists"));
    assert_eq!(host.host_file("/tmp/a").unwrap(), b"A");
    assert_eq!(host.host_file("/tmp/b").unwrap(), b"B");

    sftp.rename("/tmp/a", "/tmp/c").await.unwrap();
    assert!(host.host_file("/tmp/a").is_none());
    assert_eq!(host.host_file("/tmp/c").unwrap(), b"A");
    let (code, _) = status(sftp.rename("/tmp/a", "/tmp/d").await);
    assert_eq!(code, StatusCode::NoSuchFile);

    let raw = raw(&host).await;
    let mut data = ssh_string("/tmp/c");
    data.extend(ssh_string("/tmp/b"));
    match raw.extended(POSIX_RENAME, data).await.unwrap() {
        Packet::Status(s) => assert_eq!(s.status_code, StatusCode::Ok),
        other => panic!("unexpected reply {other:?}"),
    }
    assert!(host.host_file("/tmp/c").is_none());
    assert_eq!(host.host_file("/tmp/b").unwrap(), b"A");

    // A malformed request and an unknown extension.
    let (code, _) = status(Err::<(), _>(
        match raw.extended(POSIX_RENAME, vec![0, 0]).await {
            Ok(Packet::Status(s)) => ClientError::Status(s),
            other => panic!("unexpected reply {other:?}"),
        },
    ));
    assert_eq!(code, StatusCode::BadMessage);
    match raw.extended("nope@example.com", vec![]).await {
        Ok(Packet::Status(s)) => assert_eq!(s.status_code, StatusCode::OpUnsupported),
        other => panic!("unexpected reply {other:?}"),
    }
}

#[tokio::test]
async fn sftp_mkdir_readdir_rmdir_and_remove() {
    let host = host();
    let sftp = session(&host).await;
    sftp.create_dir("/tmp/d").await.unwrap();
    let (code, msg) = status(sftp.create_dir("/tmp/d").await);
    assert_eq!((code, msg.as_str()), (StatusCode::Failure, "File exists"));
    assert_eq!(
        status(sftp.create_dir("/tmp/no/such").await).0,
        StatusCode::NoSuchFile
    );
    assert_eq!(host.state().fs.stat("/tmp/d").unwrap().mode, 0o755);
    put(&host, "/tmp/d/a", b"1234");
    sftp.create("/tmp/d/b")
        .await
        .unwrap()
        .shutdown()
        .await
        .unwrap();
    sftp.create_dir("/tmp/d/s").await.unwrap();

    let mut names: Vec<(String, bool)> = sftp
        .read_dir("/tmp/d")
        .await
        .unwrap()
        .map(|e| (e.file_name(), e.file_type().is_dir()))
        .collect();
    names.sort();
    // The client drops `.` and `..`; the raw listing below has them.
    let want = [("a", false), ("b", false), ("s", true)];
    let want: Vec<(String, bool)> = want.iter().map(|(n, d)| (n.to_string(), *d)).collect();
    assert_eq!(names, want);

    let raw = raw(&host).await;
    let h = raw.opendir("/tmp/d").await.unwrap().handle;
    let batch = raw.readdir(&h).await.unwrap();
    let mut raw_names: Vec<&str> = batch.files.iter().map(|f| f.filename.as_str()).collect();
    raw_names.sort();
    assert_eq!(raw_names, [".", "..", "a", "b", "s"]);
    let a = batch.files.iter().find(|f| f.filename == "a").unwrap();
    assert!(
        a.longname
            .starts_with("-rw-r--r--    1 root     root            4 "),
        "{}",
        a.longname
    );
    assert!(a.longname.ends_with(" a"), "{}", a.longname);
    assert_eq!(a.attrs.size, Some(4));
    let s = batch.files.iter().find(|f| f.filename == "s").unwrap();
    assert!(
        s.longname.starts_with("drwxr-xr-x    2 root "),
        "{}",
        s.longname
    );
    assert_eq!(status(raw.readdir(&h).await).0, StatusCode::Eof);
    raw.close(&h).await.unwrap();

    let (code, msg) = status(sftp.remove_dir("/tmp/d").await);
    assert_eq!(
        (code, msg.as_str()),
        (StatusCode::Failure, "Directory not empty")
    );
    let (code, msg) = status(sftp.remove_file("/tmp/d/s").await);
    assert_eq!(
        (code, msg.as_str()),
        (StatusCode::Failure, "Is a directory")
    );
    sftp.remove_file("/tmp/d/a").await.unwrap();
    sftp.remove_file("/tmp/d/b").await.unwrap();
    assert_eq!(
        status(sftp.remove_file("/tmp/d/b").await).0,
        StatusCode::NoSuchFile
    );
    sftp.remove_dir("/tmp/d/s").await.unwrap();
    sftp.remove_dir("/tmp/d").await.unwrap();
    assert!(!host.state().fs.exists("/tmp/d"));
    assert_eq!(
        status(sftp.read_dir("/tmp/d").await).0,
        StatusCode::NoSuchFile
    );
}

#[tokio::test]
async fn sftp_readdir_sends_large_directories_in_batches() {
    let host = host();
    {
        let mut state = host.state();
        state.fs.mkdir("/tmp/many", 0o777).unwrap();
        for i in 0..150 {
            state
                .fs
                .write_file(&format!("/tmp/many/f{i:03}"), b"", 0o666)
                .unwrap();
        }
    }
    let raw = raw(&host).await;
    let h = raw.opendir("/tmp/many").await.unwrap().handle;
    let mut total = 0;
    let mut batches = 0;
    loop {
        match raw.readdir(&h).await {
            Ok(name) => {
                total += name.files.len();
                batches += 1;
            }
            Err(e) => {
                assert_eq!(status(Err::<(), _>(e)).0, StatusCode::Eof);
                break;
            }
        }
    }
    assert_eq!((total, batches), (152, 2));
}

#[tokio::test]
async fn sftp_realpath_resolves_against_home() {
    let host = host();
    let sftp = session(&host).await;
    assert_eq!(sftp.canonicalize(".").await.unwrap(), "/root");
    assert_eq!(sftp.canonicalize("").await.unwrap(), "/root");
    assert_eq!(sftp.canonicalize("a/../b//c/.").await.unwrap(), "/root/b/c");
    assert_eq!(sftp.canonicalize("..").await.unwrap(), "/");
    assert_eq!(sftp.canonicalize("/tmp/../etc").await.unwrap(), "/etc");

    // Relative paths in other requests resolve the same way.
    sftp.create("notes.txt")
        .await
        .unwrap()
        .shutdown()
        .await
        .unwrap();
    assert!(host.state().fs.exists("/root/notes.txt"));
    assert_eq!(sftp.metadata("notes.txt").await.unwrap().size, Some(0));
}

#[tokio::test]
async fn sftp_missing_files_and_dead_handles() {
    let host = host();
    let sftp = session(&host).await;
    assert_eq!(
        status(sftp.open("/tmp/nope").await).0,
        StatusCode::NoSuchFile
    );
    assert_eq!(
        status(sftp.read("/tmp/nope").await).0,
        StatusCode::NoSuchFile
    );
    // Opening for write without CREATE needs an existing file.
    assert_eq!(
        status(sftp.write("/tmp/nope", b"x").await).0,
        StatusCode::NoSuchFile
    );
    assert_eq!(status(sftp.open("/tmp").await).1, "Is a directory");

    put(&host, "/tmp/f", b"data");
    let raw = raw(&host).await;
    let h = open(&raw, "/tmp/f", OpenFlags::READ).await;
    let h2 = open(&raw, "/tmp/f", OpenFlags::READ).await;
    assert_ne!(h, h2);
    raw.close(&h).await.unwrap();
    assert_eq!(status(raw.read(&h, 0, 10).await).0, StatusCode::Failure);
    assert_eq!(
        status(raw.write(&h, 0, vec![1]).await).0,
        StatusCode::Failure
    );
    assert_eq!(status(raw.fstat(&h).await).0, StatusCode::Failure);
    assert_eq!(status(raw.readdir(&h).await).0, StatusCode::Failure);
    assert_eq!(status(raw.close(&h).await).0, StatusCode::Failure);
    assert_eq!(status(raw.fsync(&h).await).0, StatusCode::Failure);
    // The other handle still works.
    assert_eq!(raw.read(&h2, 0, 10).await.unwrap().data, b"data");
    raw.fsync(&h2).await.unwrap();
}

#[tokio::test]
async fn sftp_permission_denied_fault() {
    let host = host();
    put(&host, "/tmp/locked-file", b"keep");
    put(&host, "/root/free", b"free");
    let sftp = session(&host).await;
    set_fault(&host, SftpFaultKind::PermissionDenied, "/tmp/locked");
    let denied = StatusCode::PermissionDenied;

    assert_eq!(status(sftp.create("/tmp/locked-new").await).0, denied);
    assert_eq!(
        status(
            sftp.open_with_flags("/tmp/locked-file", OpenFlags::WRITE)
                .await
        )
        .0,
        denied
    );
    assert_eq!(status(sftp.create_dir("/tmp/locked-dir").await).0, denied);
    assert_eq!(status(sftp.remove_file("/tmp/locked-file").await).0, denied);
    assert_eq!(
        status(sftp.rename("/tmp/locked-file", "/tmp/other").await).0,
        denied
    );
    assert_eq!(
        status(sftp.rename("/root/free", "/tmp/locked-x").await).0,
        denied
    );
    let mut mode = FileAttributes::empty();
    mode.permissions = Some(0o600);
    assert_eq!(
        status(sftp.set_metadata("/tmp/locked-file", mode.clone()).await).0,
        denied
    );
    // Reads and paths outside the prefix are unaffected.
    assert_eq!(sftp.read("/tmp/locked-file").await.unwrap(), b"keep");
    sftp.create("/tmp/fine")
        .await
        .unwrap()
        .shutdown()
        .await
        .unwrap();
    sftp.set_metadata("/tmp/fine", mode).await.unwrap();

    // An empty prefix covers every path, and a handle opened before the
    // fault sees it on its next write.
    host.set_faults(Default::default());
    let raw = raw(&host).await;
    let h = open(&raw, "/root/free", OpenFlags::WRITE).await;
    set_fault(&host, SftpFaultKind::PermissionDenied, "");
    assert_eq!(status(raw.write(&h, 0, b"x".to_vec()).await).0, denied);
    assert_eq!(status(sftp.create("/root/new").await).0, denied);
    host.set_faults(Default::default());
    raw.write(&h, 0, b"F".to_vec()).await.unwrap();
    assert_eq!(host.host_file("/root/free").unwrap(), b"Free");
    assert_eq!(host.host_file("/tmp/locked-file").unwrap(), b"keep");
}

#[tokio::test]
async fn sftp_no_space_fault() {
    let host = host();
    put(&host, "/tmp/old", b"old data");
    set_fault(&host, SftpFaultKind::NoSpace, "/tmp");
    let raw = raw(&host).await;
    // Opening (and creating) still works, as on a full disk; writing does not.
    let h = open(
        &raw,
        "/tmp/new",
        OpenFlags::WRITE | OpenFlags::CREATE | OpenFlags::TRUNCATE,
    )
    .await;
    let (code, msg) = status(raw.write(&h, 0, b"payload".to_vec()).await);
    assert_eq!(
        (code, msg.as_str()),
        (StatusCode::Failure, "No space left on device")
    );
    assert_eq!(host.host_file("/tmp/new").unwrap(), b"");
    // Reading is still allowed.
    let r = open(&raw, "/tmp/old", OpenFlags::READ).await;
    assert_eq!(raw.read(&r, 0, 100).await.unwrap().data, b"old data");
    // The high-level client surfaces the error on shutdown at the latest.
    let sftp = session(&host).await;
    let mut f = sftp.create("/tmp/other").await.unwrap();
    let result = async {
        f.write_all(b"x").await?;
        f.shutdown().await
    }
    .await;
    let err = result.unwrap_err().to_string();
    assert!(err.contains("No space left on device"), "{err}");
    // Outside the prefix writes work.
    let mut f = sftp.create("/root/ok").await.unwrap();
    f.write_all(b"fine").await.unwrap();
    f.shutdown().await.unwrap();
    assert_eq!(host.host_file("/root/ok").unwrap(), b"fine");
}

#[test]
fn longname_looks_like_ls_l() {
    let meta = Meta {
        kind: Kind::File,
        mode: 0o644,
        uid: 0,
        gid: 0,
        size: 1234,
        mtime: 0,
        nlink: 1,
        stamp: 0,
    };
    assert_eq!(
        longname("name", &meta, "root", "root", 0),
        "-rw-r--r--    1 root     root         1234 Jan  1 00:00 name"
    );
    assert_eq!(
        longname("name", &meta, "root", "root", 400 * 86_400),
        "-rw-r--r--    1 root     root         1234 Jan  1  1970 name"
    );
    let dir = Meta {
        kind: Kind::Dir,
        mode: 0o1777,
        size: 4096,
        // 2024-02-29 13:05:00 UTC
        mtime: 1_709_211_900,
        nlink: 2,
        ..meta
    };
    assert_eq!(
        longname("tmp", &dir, "root", "root", 1_709_211_900),
        "drwxrwxrwt    2 root     root         4096 Feb 29 13:05 tmp"
    );
}
