//! Attributes and listings as OpenSSH's `sftp-server` sends them: statuses for
//! filesystem errors, file attributes, `ls -l` style long names, owner names, and the
//! SSH string reader for extension requests.

use std::collections::HashMap;

use russh_sftp::protocol::{FileAttributes, Status, StatusCode};
use russh_sftp::server::StatusReply;

use crate::fs::{FsError, Meta};
use crate::host::State;
use crate::unix::{ls_time, mode_string};

pub(super) fn ok(id: u32) -> Status {
    Status {
        id,
        status_code: StatusCode::Ok,
        error_message: "Ok".to_string(),
        language_tag: "en-US".to_string(),
    }
}

/// Maps a filesystem error to the SFTP status OpenSSH would send.
pub(super) fn fs_status(err: FsError) -> StatusReply {
    match err {
        FsError::NotFound => StatusReply::new(StatusCode::NoSuchFile),
        FsError::PermissionDenied => StatusReply::new(StatusCode::PermissionDenied),
        other => StatusCode::Failure.with_message(other.to_string()),
    }
}

pub(super) fn bad_handle() -> StatusReply {
    StatusCode::Failure.with_message("Invalid handle")
}

/// `uid → name` from a passwd or group style file of the host.
pub(super) fn id_names(state: &State, file: &str) -> HashMap<u32, String> {
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

pub(super) fn attrs(meta: &Meta) -> FileAttributes {
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
pub(super) fn longname(name: &str, meta: &Meta, user: &str, group: &str, now: u64) -> String {
    let nlink = meta.nlink;
    // Two spaces after the mode: strmode(3) leaves a column for the ACL marker.
    format!(
        "{}  {nlink:>3} {user:<8} {group:<8} {:>8} {} {name}",
        mode_string(meta),
        meta.size,
        ls_time(meta.mtime, now),
    )
}

/// Reads one SSH `string` (u32 length, bytes) off the front of `data`.
pub(super) fn take_string(data: &mut &[u8]) -> Option<String> {
    let (len, rest) = data.split_first_chunk::<4>()?;
    let len = usize::try_from(u32::from_be_bytes(*len)).ok()?;
    if rest.len() < len {
        return None;
    }
    let (s, rest) = rest.split_at(len);
    *data = rest;
    String::from_utf8(s.to_vec()).ok()
}

/// The name `ls` shows for an id missing from the passwd/group file.
pub(super) fn default_name(id: u32) -> String {
    if id == 0 {
        "root".to_string()
    } else {
        id.to_string()
    }
}
