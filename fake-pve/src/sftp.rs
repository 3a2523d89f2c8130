//! The SFTP subsystem: a `russh_sftp` server handler over the host filesystem.
//!
//! Speaks SFTP version 3 as OpenSSH's `sftp-server` does: relative paths resolve
//! against the user's home, `readdir` returns `.` and `..` and an `ls -l` style
//! `longname`, plain `rename` refuses an existing target, and the
//! `posix-rename@openssh.com` extension replaces it. Faults injected through
//! [`crate::host::Faults::sftp`] are read at every operation.
//!
//! The host state sits behind a std mutex: every operation locks it once, briefly,
//! and never across an `.await` (the handler never awaits anything).

use std::collections::{HashMap, VecDeque};

use russh_sftp::protocol::{
    Attrs, Data, File, FileAttributes, Handle, Name, OpenFlags, Packet, Status, StatusCode, Version,
};
use russh_sftp::server::StatusReply;
use tracing::debug;

use crate::fs::{FsError, Meta, WriteMode, normalize};
use crate::host::{Host, SftpFaultKind, State};
use crate::unix::{ls_time, mode_string};

/// The extension that renames over an existing target (`rename(2)` semantics).
pub const POSIX_RENAME: &str = "posix-rename@openssh.com";
/// The extension that flushes a file; a no-op here (memory is always in sync).
pub const FSYNC: &str = "fsync@openssh.com";

/// The most a single read returns, as OpenSSH's `sftp-server` (256 KiB - 1 KiB).
const MAX_READ_LEN: u32 = 256 * 1024 - 1024;
/// Directory entries sent per `SSH_FXP_NAME` reply.
const READDIR_BATCH: usize = 100;

/// What a handle refers to.
enum Open {
    File {
        path: String,
        read: bool,
        write: bool,
        append: bool,
    },
    Dir {
        /// Entries not sent yet; the listing is taken when the directory is opened.
        pending: VecDeque<File>,
    },
}

/// Which kind of mutation a fault check is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    /// Writing file data: fails under both fault kinds.
    Write,
    /// Creating, opening for write, mkdir, rename, remove, setstat: fails only
    /// under `PermissionDenied` (a full disk still lets you open a file).
    Modify,
}

/// One SFTP session of one user over the host filesystem.
pub struct SftpHandler {
    host: Host,
    user: String,
    home: String,
    uid: u32,
    gid: u32,
    handles: HashMap<String, Open>,
    next_handle: u64,
}

impl std::fmt::Debug for SftpHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SftpHandler")
            .field("user", &self.user)
            .field("home", &self.home)
            .field("handles", &self.handles.len())
            .finish()
    }
}

fn ok(id: u32) -> Status {
    Status {
        id,
        status_code: StatusCode::Ok,
        error_message: "Ok".to_string(),
        language_tag: "en-US".to_string(),
    }
}

/// Maps a filesystem error to the SFTP status OpenSSH would send.
fn fs_status(err: FsError) -> StatusReply {
    match err {
        FsError::NotFound => StatusReply::new(StatusCode::NoSuchFile),
        FsError::PermissionDenied => StatusReply::new(StatusCode::PermissionDenied),
        other => StatusCode::Failure.with_message(other.to_string()),
    }
}

fn bad_handle() -> StatusReply {
    StatusCode::Failure.with_message("Invalid handle")
}

/// Fails when a configured SFTP fault covers `path` for this kind of operation.
fn check_fault(state: &State, path: &str, op: Op) -> Result<(), StatusReply> {
    let Some(fault) = &state.faults.sftp else {
        return Ok(());
    };
    if !path.starts_with(fault.path_prefix.as_str()) {
        return Ok(());
    }
    match (fault.kind, op) {
        (SftpFaultKind::PermissionDenied, _) => {
            debug!(path, "sftp fault: permission denied");
            Err(StatusReply::new(StatusCode::PermissionDenied))
        }
        (SftpFaultKind::NoSpace, Op::Write) => {
            debug!(path, "sftp fault: no space");
            Err(fs_status(FsError::NoSpace))
        }
        (SftpFaultKind::NoSpace, Op::Modify) => Ok(()),
    }
}

/// `uid → name` from a passwd or group style file of the host.
fn id_names(state: &State, file: &str) -> HashMap<u32, String> {
    let Ok(data) = state.fs.read(file) else {
        return HashMap::new();
    };
    String::from_utf8_lossy(data)
        .lines()
        .filter_map(|line| {
            let mut parts = line.split(':');
            let name = parts.next()?;
            parts.next()?;
            let id = parts.next()?.parse().ok()?;
            Some((id, name.to_string()))
        })
        .collect()
}

fn attrs(meta: &Meta) -> FileAttributes {
    let time = u32::try_from(meta.mtime).unwrap_or(u32::MAX);
    FileAttributes {
        size: Some(meta.size),
        uid: Some(meta.uid),
        user: None,
        gid: Some(meta.gid),
        group: None,
        permissions: Some(meta.st_mode()),
        atime: Some(time),
        mtime: Some(time),
    }
}

/// One line as `ls -l` (and OpenSSH's `sftp-server`) prints it.
fn longname(name: &str, meta: &Meta, user: &str, group: &str, now: u64) -> String {
    let nlink = if meta.is_dir() { 2 } else { 1 };
    // Two spaces after the mode: strmode(3) leaves a column for the ACL marker.
    format!(
        "{}  {nlink:>3} {user:<8} {group:<8} {:>8} {} {name}",
        mode_string(meta),
        meta.size,
        ls_time(meta.mtime, now),
    )
}

/// Reads one SSH `string` (u32 length, bytes) off the front of `data`.
fn take_string(data: &mut &[u8]) -> Option<String> {
    let (len, rest) = data.split_first_chunk::<4>()?;
    let len = usize::try_from(u32::from_be_bytes(*len)).ok()?;
    if rest.len() < len {
        return None;
    }
    let (s, rest) = rest.split_at(len);
    *data = rest;
    String::from_utf8(s.to_vec()).ok()
}

impl SftpHandler {
    /// A session for `user`, whose relative paths resolve against `home`.
    /// New files and directories belong to the user (uid/gid from the host's
    /// `/etc/passwd` and `/etc/group`; root is 0, an unknown user 1000).
    pub fn new(host: Host, user: String, home: String) -> Self {
        let home = normalize("/", &home);
        let (uid, gid) = {
            let state = host.state();
            let uid = crate::host::lookup_id(&state.fs, "/etc/passwd", &user);
            let gid = crate::host::lookup_id(&state.fs, "/etc/group", &user);
            let fallback = if user == "root" { 0 } else { 1000 };
            (uid.unwrap_or(fallback), gid.or(uid).unwrap_or(fallback))
        };
        SftpHandler {
            host,
            user,
            home,
            uid,
            gid,
            handles: HashMap::new(),
            next_handle: 0,
        }
    }

    /// Absolute, normalised form of a client path (relative to the home).
    fn resolve(&self, path: &str) -> String {
        normalize(&self.home, path)
    }

    fn add_handle(&mut self, open: Open) -> String {
        self.next_handle += 1;
        let handle = self.next_handle.to_string();
        self.handles.insert(handle.clone(), open);
        handle
    }

    fn file_handle(&self, handle: &str) -> Result<(&str, bool, bool, bool), StatusReply> {
        match self.handles.get(handle) {
            Some(Open::File {
                path,
                read,
                write,
                append,
            }) => Ok((path, *read, *write, *append)),
            Some(Open::Dir { .. }) => Err(fs_status(FsError::IsADirectory)),
            None => Err(bad_handle()),
        }
    }

    fn stat_path(&self, id: u32, path: &str) -> Result<Attrs, StatusReply> {
        let path = self.resolve(path);
        debug!(path, "sftp stat");
        let meta = self.host.state().fs.stat(&path).map_err(fs_status)?;
        Ok(Attrs {
            id,
            attrs: attrs(&meta),
        })
    }

    /// Applies `setstat` attributes to `path` (already resolved).
    fn set_attrs(&self, path: &str, new: &FileAttributes) -> Result<(), StatusReply> {
        let mut state = self.host.state();
        check_fault(&state, path, Op::Modify)?;
        // Fail on a missing path before changing anything.
        state.fs.stat(path).map_err(fs_status)?;
        if let Some(size) = new.size {
            state.fs.set_len(path, size).map_err(fs_status)?;
        }
        if let Some(mode) = new.permissions {
            state.fs.set_mode(path, mode).map_err(fs_status)?;
        }
        if let Some(mtime) = new.mtime {
            state
                .fs
                .set_mtime(path, u64::from(mtime))
                .map_err(fs_status)?;
        }
        if new.uid.is_some() || new.gid.is_some() {
            state
                .fs
                .set_owner(path, new.uid, new.gid)
                .map_err(fs_status)?;
        }
        Ok(())
    }

    fn do_rename(&self, from: &str, to: &str, replace: bool) -> Result<(), StatusReply> {
        let from = self.resolve(from);
        let to = self.resolve(to);
        debug!(from, to, replace, "sftp rename");
        let mut state = self.host.state();
        check_fault(&state, &from, Op::Modify)?;
        check_fault(&state, &to, Op::Modify)?;
        state.fs.stat(&from).map_err(fs_status)?;
        if !replace && state.fs.exists(&to) {
            return Err(fs_status(FsError::Exists));
        }
        state.fs.rename(&from, &to).map_err(fs_status)
    }
}

impl russh_sftp::server::Handler for SftpHandler {
    type Error = StatusReply;

    fn unimplemented(&self) -> Self::Error {
        StatusReply::new(StatusCode::OpUnsupported)
    }

    async fn init(
        &mut self,
        version: u32,
        extensions: HashMap<String, String>,
    ) -> Result<Version, Self::Error> {
        debug!(user = self.user, version, ?extensions, "sftp init");
        let mut reply = Version::new();
        reply
            .extensions
            .insert(POSIX_RENAME.to_string(), "1".to_string());
        reply.extensions.insert(FSYNC.to_string(), "1".to_string());
        Ok(reply)
    }

    async fn open(
        &mut self,
        id: u32,
        filename: String,
        pflags: OpenFlags,
        attrs: FileAttributes,
    ) -> Result<Handle, Self::Error> {
        let path = self.resolve(&filename);
        debug!(path, flags = pflags.bits(), "sftp open");
        let append = pflags.contains(OpenFlags::APPEND);
        let write = pflags.intersects(OpenFlags::WRITE | OpenFlags::APPEND);
        let read = pflags.contains(OpenFlags::READ) || !write;
        let create = pflags.contains(OpenFlags::CREATE);
        let truncate = pflags.contains(OpenFlags::TRUNCATE);
        {
            let mut state = self.host.state();
            if write || create || truncate {
                check_fault(&state, &path, Op::Modify)?;
            }
            let existing = match state.fs.stat(&path) {
                Ok(meta) => Some(meta),
                Err(FsError::NotFound) if create => None,
                Err(e) => return Err(fs_status(e)),
            };
            if existing.as_ref().is_some_and(Meta::is_dir) {
                return Err(fs_status(FsError::IsADirectory));
            }
            if existing.is_none() || truncate {
                let how = if pflags.contains(OpenFlags::EXCLUDE) {
                    WriteMode::Exclusive
                } else if truncate {
                    WriteMode::Truncate
                } else if append {
                    WriteMode::Append
                } else {
                    WriteMode::Keep
                };
                let mode = attrs.permissions.map_or(0o666, |p| p & 0o7777);
                state
                    .fs
                    .open_for_write(&path, how, mode, (self.uid, self.gid))
                    .map_err(fs_status)?;
            } else if create && pflags.contains(OpenFlags::EXCLUDE) {
                return Err(fs_status(FsError::Exists));
            }
        }
        let handle = self.add_handle(Open::File {
            path,
            read,
            write,
            append,
        });
        Ok(Handle { id, handle })
    }

    async fn close(&mut self, id: u32, handle: String) -> Result<Status, Self::Error> {
        debug!(handle, "sftp close");
        match self.handles.remove(&handle) {
            Some(_) => Ok(ok(id)),
            None => Err(bad_handle()),
        }
    }

    async fn read(
        &mut self,
        id: u32,
        handle: String,
        offset: u64,
        len: u32,
    ) -> Result<Data, Self::Error> {
        let (path, readable, _, _) = self.file_handle(&handle)?;
        debug!(path, offset, len, "sftp read");
        if !readable {
            return Err(StatusCode::Failure.with_message("Bad file descriptor"));
        }
        let len = len.min(MAX_READ_LEN) as usize;
        let data = self
            .host
            .state()
            .fs
            .read_at(path, offset, len)
            .map_err(fs_status)?;
        if data.is_empty() && len > 0 {
            return Err(StatusReply::new(StatusCode::Eof));
        }
        Ok(Data { id, data })
    }

    async fn write(
        &mut self,
        id: u32,
        handle: String,
        offset: u64,
        data: Vec<u8>,
    ) -> Result<Status, Self::Error> {
        let (path, _, writable, append) = self.file_handle(&handle)?;
        debug!(path, offset, len = data.len(), append, "sftp write");
        if !writable {
            return Err(StatusCode::Failure.with_message("Bad file descriptor"));
        }
        let mut state = self.host.state();
        check_fault(&state, path, Op::Write)?;
        if append {
            state.fs.append(path, &data)
        } else {
            state.fs.write_at(path, offset, &data)
        }
        .map_err(fs_status)?;
        Ok(ok(id))
    }

    async fn lstat(&mut self, id: u32, path: String) -> Result<Attrs, Self::Error> {
        self.stat_path(id, &path)
    }

    async fn stat(&mut self, id: u32, path: String) -> Result<Attrs, Self::Error> {
        self.stat_path(id, &path)
    }

    async fn fstat(&mut self, id: u32, handle: String) -> Result<Attrs, Self::Error> {
        let (path, _, _, _) = self.file_handle(&handle)?;
        self.stat_path(id, path)
    }

    async fn setstat(
        &mut self,
        id: u32,
        path: String,
        attrs: FileAttributes,
    ) -> Result<Status, Self::Error> {
        let path = self.resolve(&path);
        debug!(path, ?attrs, "sftp setstat");
        self.set_attrs(&path, &attrs)?;
        Ok(ok(id))
    }

    async fn fsetstat(
        &mut self,
        id: u32,
        handle: String,
        attrs: FileAttributes,
    ) -> Result<Status, Self::Error> {
        let (path, _, _, _) = self.file_handle(&handle)?;
        debug!(path, ?attrs, "sftp fsetstat");
        self.set_attrs(path, &attrs)?;
        Ok(ok(id))
    }

    async fn opendir(&mut self, id: u32, path: String) -> Result<Handle, Self::Error> {
        let path = self.resolve(&path);
        debug!(path, "sftp opendir");
        let pending = {
            let state = self.host.state();
            let meta = state.fs.stat(&path).map_err(fs_status)?;
            let parent = state.fs.stat(crate::fs::parent(&path)).map_err(fs_status)?;
            let children = state.fs.list_dir(&path).map_err(fs_status)?;
            let users = id_names(&state, "/etc/passwd");
            let groups = id_names(&state, "/etc/group");
            let now = crate::fs::now_secs();
            let entry = |name: String, meta: Meta| {
                let user = users
                    .get(&meta.uid)
                    .cloned()
                    .unwrap_or_else(|| default_name(meta.uid));
                let group = groups
                    .get(&meta.gid)
                    .cloned()
                    .unwrap_or_else(|| default_name(meta.gid));
                File {
                    longname: longname(&name, &meta, &user, &group, now),
                    attrs: attrs(&meta),
                    filename: name,
                }
            };
            [(".".to_string(), meta), ("..".to_string(), parent)]
                .into_iter()
                .chain(children)
                .map(|(name, meta)| entry(name, meta))
                .collect()
        };
        let handle = self.add_handle(Open::Dir { pending });
        Ok(Handle { id, handle })
    }

    async fn readdir(&mut self, id: u32, handle: String) -> Result<Name, Self::Error> {
        debug!(handle, "sftp readdir");
        let Some(Open::Dir { pending }) = self.handles.get_mut(&handle) else {
            return Err(bad_handle());
        };
        if pending.is_empty() {
            return Err(StatusReply::new(StatusCode::Eof));
        }
        let n = pending.len().min(READDIR_BATCH);
        Ok(Name {
            id,
            files: pending.drain(..n).collect(),
        })
    }

    async fn remove(&mut self, id: u32, filename: String) -> Result<Status, Self::Error> {
        let path = self.resolve(&filename);
        debug!(path, "sftp remove");
        let mut state = self.host.state();
        check_fault(&state, &path, Op::Modify)?;
        state.fs.remove_file(&path).map_err(fs_status)?;
        Ok(ok(id))
    }

    async fn mkdir(
        &mut self,
        id: u32,
        path: String,
        attrs: FileAttributes,
    ) -> Result<Status, Self::Error> {
        let path = self.resolve(&path);
        debug!(path, "sftp mkdir");
        let mode = attrs.permissions.map_or(0o777, |p| p & 0o7777);
        let mut state = self.host.state();
        check_fault(&state, &path, Op::Modify)?;
        state.fs.mkdir(&path, mode).map_err(fs_status)?;
        state
            .fs
            .set_owner(&path, Some(self.uid), Some(self.gid))
            .map_err(fs_status)?;
        Ok(ok(id))
    }

    async fn rmdir(&mut self, id: u32, path: String) -> Result<Status, Self::Error> {
        let path = self.resolve(&path);
        debug!(path, "sftp rmdir");
        let mut state = self.host.state();
        check_fault(&state, &path, Op::Modify)?;
        state.fs.rmdir(&path).map_err(fs_status)?;
        Ok(ok(id))
    }

    async fn realpath(&mut self, id: u32, path: String) -> Result<Name, Self::Error> {
        let resolved = self.resolve(&path);
        debug!(path, resolved, "sftp realpath");
        Ok(Name {
            id,
            files: vec![File {
                filename: resolved.clone(),
                longname: resolved,
                attrs: FileAttributes::empty(),
            }],
        })
    }

    async fn rename(
        &mut self,
        id: u32,
        oldpath: String,
        newpath: String,
    ) -> Result<Status, Self::Error> {
        self.do_rename(&oldpath, &newpath, false)?;
        Ok(ok(id))
    }

    async fn extended(
        &mut self,
        id: u32,
        request: String,
        data: Vec<u8>,
    ) -> Result<Packet, Self::Error> {
        debug!(request, "sftp extended");
        let mut rest = data.as_slice();
        match request.as_str() {
            POSIX_RENAME => {
                let (Some(from), Some(to)) = (take_string(&mut rest), take_string(&mut rest))
                else {
                    return Err(StatusReply::new(StatusCode::BadMessage));
                };
                self.do_rename(&from, &to, true)?;
                Ok(ok(id).into())
            }
            FSYNC => {
                let Some(handle) = take_string(&mut rest) else {
                    return Err(StatusReply::new(StatusCode::BadMessage));
                };
                self.file_handle(&handle)?;
                Ok(ok(id).into())
            }
            _ => Err(self.unimplemented()),
        }
    }
}

/// The name `ls` shows for an id missing from the passwd/group file.
fn default_name(id: u32) -> String {
    if id == 0 {
        "root".to_string()
    } else {
        id.to_string()
    }
}

#[cfg(test)]
mod tests {
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
            scripts: vec![],
            faults: Default::default(),
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
        host.state()
            .fs
            .write_file("/tmp/f", b"0123456789", 0o666)
            .unwrap();
        let raw = raw(&host).await;
        let h = raw
            .open("/tmp/f", OpenFlags::READ, FileAttributes::empty())
            .await
            .unwrap()
            .handle;
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
        host.state()
            .fs
            .write_file("/tmp/log", b"hello", 0o666)
            .unwrap();
        let raw = raw(&host).await;
        let h = raw
            .open(
                "/tmp/log",
                OpenFlags::WRITE | OpenFlags::APPEND,
                FileAttributes::empty(),
            )
            .await
            .unwrap()
            .handle;
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
        let h = raw
            .open("/tmp/secret", OpenFlags::READ, FileAttributes::empty())
            .await
            .unwrap()
            .handle;
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
        host.state()
            .fs
            .write_file("/tmp/d/a", b"1234", 0o666)
            .unwrap();
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

        host.state()
            .fs
            .write_file("/tmp/f", b"data", 0o666)
            .unwrap();
        let raw = raw(&host).await;
        let h = raw
            .open("/tmp/f", OpenFlags::READ, FileAttributes::empty())
            .await
            .unwrap()
            .handle;
        let h2 = raw
            .open("/tmp/f", OpenFlags::READ, FileAttributes::empty())
            .await
            .unwrap()
            .handle;
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
        host.state()
            .fs
            .write_file("/tmp/locked-file", b"keep", 0o666)
            .unwrap();
        host.state()
            .fs
            .write_file("/root/free", b"free", 0o666)
            .unwrap();
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
        let h = raw
            .open("/root/free", OpenFlags::WRITE, FileAttributes::empty())
            .await
            .unwrap()
            .handle;
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
        host.state()
            .fs
            .write_file("/tmp/old", b"old data", 0o666)
            .unwrap();
        set_fault(&host, SftpFaultKind::NoSpace, "/tmp");
        let raw = raw(&host).await;
        // Opening (and creating) still works, as on a full disk; writing does not.
        let h = raw
            .open(
                "/tmp/new",
                OpenFlags::WRITE | OpenFlags::CREATE | OpenFlags::TRUNCATE,
                FileAttributes::empty(),
            )
            .await
            .unwrap()
            .handle;
        let (code, msg) = status(raw.write(&h, 0, b"payload".to_vec()).await);
        assert_eq!(
            (code, msg.as_str()),
            (StatusCode::Failure, "No space left on device")
        );
        assert_eq!(host.host_file("/tmp/new").unwrap(), b"");
        // Reading is still allowed.
        let r = raw
            .open("/tmp/old", OpenFlags::READ, FileAttributes::empty())
            .await
            .unwrap()
            .handle;
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
            ..meta
        };
        assert_eq!(
            longname("tmp", &dir, "root", "root", 1_709_211_900),
            "drwxrwxrwt    2 root     root         4096 Feb 29 13:05 tmp"
        );
    }
}
