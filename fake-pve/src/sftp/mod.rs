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

mod attrs;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, VecDeque};

use russh_sftp::protocol::{
    Attrs, Data, File, FileAttributes, Handle, Name, OpenFlags, Packet, Status, StatusCode, Version,
};
use russh_sftp::server::StatusReply;
use tracing::{debug, trace};

use crate::fs::{FsError, Meta, WriteMode, normalize};
use crate::host::{Host, SftpFaultKind, State};
use attrs::{attrs, bad_handle, default_name, fs_status, id_names, longname, ok, take_string};

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

impl SftpHandler {
    /// Changes the tree at `path` (resolved against the home) unless a fault
    /// refuses it: `remove`, `mkdir` and `rmdir`.
    fn modify(
        &self,
        op: &str,
        id: u32,
        path: &str,
        change: impl FnOnce(&mut crate::fs::Fs, &str) -> Result<(), FsError>,
    ) -> Result<Status, StatusReply> {
        let path = self.resolve(path);
        trace!(path, "sftp {op}");
        let mut state = self.host.state();
        check_fault(&state, &path, Op::Modify)?;
        change(&mut state.fs, &path).map_err(fs_status)?;
        Ok(ok(id))
    }

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
        trace!(path, "sftp stat");
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
        trace!(from, to, replace, "sftp rename");
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
        trace!(path, flags = pflags.bits(), "sftp open");
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
        trace!(handle, "sftp close");
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
        trace!(path, offset, len, "sftp read");
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
        trace!(path, offset, len = data.len(), append, "sftp write");
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
        trace!(path, ?attrs, "sftp setstat");
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
        trace!(path, ?attrs, "sftp fsetstat");
        self.set_attrs(path, &attrs)?;
        Ok(ok(id))
    }

    async fn opendir(&mut self, id: u32, path: String) -> Result<Handle, Self::Error> {
        let path = self.resolve(&path);
        trace!(path, "sftp opendir");
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
        trace!(handle, "sftp readdir");
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
        self.modify("remove", id, &filename, |fs, path| fs.remove_file(path))
    }

    async fn mkdir(
        &mut self,
        id: u32,
        path: String,
        attrs: FileAttributes,
    ) -> Result<Status, Self::Error> {
        let mode = attrs.permissions.map_or(0o777, |p| p & 0o7777);
        let (uid, gid) = (self.uid, self.gid);
        self.modify("mkdir", id, &path, |fs, path| {
            fs.mkdir(path, mode)?;
            fs.set_owner(path, Some(uid), Some(gid))
        })
    }

    async fn rmdir(&mut self, id: u32, path: String) -> Result<Status, Self::Error> {
        self.modify("rmdir", id, &path, |fs, path| fs.rmdir(path))
    }

    async fn realpath(&mut self, id: u32, path: String) -> Result<Name, Self::Error> {
        let resolved = self.resolve(&path);
        trace!(path, resolved, "sftp realpath");
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
        trace!(request, "sftp extended");
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
