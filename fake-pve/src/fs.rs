//! An in-memory POSIX-like filesystem: one per host and one per container.
//!
//! Names live in a flat map keyed by normalised absolute path, each leading to an
//! inode (so hard links share content, mode, owner and mtime). That keeps the
//! operations the shell, pct and SFTP need (lookup, list a directory, rename a
//! subtree) short and obviously correct; the trees here are small.

use std::collections::BTreeMap;
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

/// What went wrong, named as `strerror` names it so messages read like a real host's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FsError {
    #[error("No such file or directory")]
    NotFound,
    #[error("Not a directory")]
    NotADirectory,
    #[error("Is a directory")]
    IsADirectory,
    #[error("File exists")]
    Exists,
    #[error("Directory not empty")]
    NotEmpty,
    #[error("Permission denied")]
    PermissionDenied,
    #[error("No space left on device")]
    NoSpace,
    #[error("Invalid argument")]
    InvalidArgument,
    /// A path under /proc or /dev (but /dev/null): the fake has neither.
    #[error("not emulated by fake-pve (it has no /proc and no device files but /dev/null)")]
    NotEmulated,
}

/// The kind of an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
}

#[derive(Debug, Clone)]
enum Content {
    File(Vec<u8>),
    Dir,
}

#[derive(Debug, Clone)]
struct Entry {
    content: Content,
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: u64,
    /// Orders modifications within one second, as the kernel's nanoseconds do: 0 for
    /// a time set explicitly, else the time of the change in ticks (see [`stamp`]).
    stamp: u64,
}

/// Now, in the ticks of the kernel's coarse clock that file times come from (4 ms:
/// Proxmox VE's kernels have `CONFIG_HZ=250`), so that changes a few milliseconds apart
/// share a time, as on a real node, and ones further apart do not.
fn stamp() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| (d.as_nanos() / 4_000_000) as u64)
}

/// The names of a filesystem and the inodes they lead to: hard links are names of one
/// inode, so a write through one is seen through every other. Inodes are numbered in
/// creation order and freed with their last name.
#[derive(Debug, Clone, Default)]
struct Tree {
    names: BTreeMap<String, u64>,
    inodes: BTreeMap<u64, (Entry, u32)>,
    next: u64,
}

impl Tree {
    fn len(&self) -> usize {
        self.names.len()
    }

    fn get(&self, name: &str) -> Option<&Entry> {
        self.names
            .get(name)
            .and_then(|i| self.inodes.get(i))
            .map(|(e, _)| e)
    }

    fn get_mut(&mut self, name: &str) -> Option<&mut Entry> {
        let ino = self.names.get(name)?;
        self.inodes.get_mut(ino).map(|(e, _)| e)
    }

    /// How many names the inode behind `name` has.
    fn links(&self, name: &str) -> u32 {
        self.names
            .get(name)
            .and_then(|i| self.inodes.get(i))
            .map_or(0, |(_, n)| *n)
    }

    fn contains_key(&self, name: &str) -> bool {
        self.names.contains_key(name)
    }

    /// Gives `name` a new inode holding `entry` (dropping what it named before).
    fn insert(&mut self, name: String, entry: Entry) {
        self.remove(&name);
        self.next += 1;
        self.inodes.insert(self.next, (entry, 1));
        self.names.insert(name, self.next);
    }

    /// Removes one name; the inode goes with its last name. Returns its entry then.
    fn remove(&mut self, name: &str) -> Option<Entry> {
        let ino = self.names.remove(name)?;
        let (_, links) = self.inodes.get_mut(&ino)?;
        *links -= 1;
        if *links == 0 {
            self.inodes.remove(&ino).map(|(e, _)| e)
        } else {
            None
        }
    }

    /// A second name for the inode of `from`.
    fn link(&mut self, from: &str, to: String) {
        if let Some(&ino) = self.names.get(from)
            && let Some((_, links)) = self.inodes.get_mut(&ino)
        {
            *links += 1;
            self.names.insert(to, ino);
        }
    }

    /// Moves a name (with its inode) to another.
    fn move_name(&mut self, from: &str, to: String) {
        if let Some(ino) = self.names.remove(from) {
            self.names.insert(to, ino);
        }
    }

    /// Every inode's entry once.
    fn values(&self) -> impl Iterator<Item = &Entry> {
        self.inodes.values().map(|(e, _)| e)
    }

    fn keys(&self) -> impl Iterator<Item = &String> {
        self.names.keys()
    }

    fn iter(&self) -> impl Iterator<Item = (&String, &Entry)> {
        self.names
            .iter()
            .filter_map(|(k, i)| self.inodes.get(i).map(|(e, _)| (k, e)))
    }

    /// The names from `start` on, in order, with their entries.
    fn range_from(&self, start: String) -> impl Iterator<Item = (&String, &Entry)> {
        self.names
            .range(start..)
            .filter_map(|(k, i)| self.inodes.get(i).map(|(e, _)| (k, e)))
    }

    /// Keeps the names `keep` accepts.
    fn retain(&mut self, mut keep: impl FnMut(&String) -> bool) {
        let gone: Vec<String> = self.names.keys().filter(|k| !keep(k)).cloned().collect();
        for name in gone {
            self.remove(&name);
        }
    }
}

/// Metadata of one entry, as `stat` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meta {
    pub kind: Kind,
    /// Permission bits only (no file-type bits), e.g. `0o644`.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    /// Seconds since the Unix epoch.
    pub mtime: u64,
    /// Hard links: a file's names, a directory's 2 and one per subdirectory.
    pub nlink: u64,
    /// Orders modifications within the same second (`ls -t`): 0 for a time set
    /// explicitly.
    pub stamp: u64,
}

impl Meta {
    pub fn is_dir(&self) -> bool {
        self.kind == Kind::Dir
    }

    /// `st_mode` with the file-type bits, as SFTP and `stat -c %f` want it.
    pub fn st_mode(&self) -> u32 {
        let ty = match self.kind {
            Kind::File => 0o100000,
            Kind::Dir => 0o040000,
        };
        ty | self.mode
    }
}

/// How `open_for_write` treats an existing file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// Create or truncate (`>`, `O_CREAT|O_TRUNC`).
    Truncate,
    /// Create or append (`>>`).
    Append,
    /// Create only; fail with `Exists` if present (`O_CREAT|O_EXCL`).
    Exclusive,
    /// Create if missing, keep content (`O_CREAT` alone).
    Keep,
}

pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Joins `path` onto `cwd` and removes `.`, `..` and repeated slashes.
/// `..` at the root stays at the root, as in the kernel.
pub fn normalize(cwd: &str, path: &str) -> String {
    let joined = if path.starts_with('/') {
        path.to_string()
    } else {
        format!("{cwd}/{path}")
    };
    let mut parts: Vec<&str> = Vec::new();
    for part in joined.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    if parts.is_empty() {
        "/".to_string()
    } else {
        format!("/{}", parts.join("/"))
    }
}

/// The parent directory of a normalised path (`/` for `/`).
pub fn parent(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

/// The last component of a normalised path.
pub fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or("")
}

/// One filesystem. Paths given to its methods must be absolute; they are normalised.
#[derive(Clone)]
pub struct Fs {
    entries: Tree,
    /// Total bytes of file content allowed; `None` = unlimited.
    capacity: Option<u64>,
    /// The default umask applied to new files and directories.
    umask: u32,
}

impl fmt::Debug for Fs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fs")
            .field("entries", &self.entries.len())
            .field("bytes", &self.used_bytes())
            .finish()
    }
}

impl Default for Fs {
    fn default() -> Self {
        Self::new()
    }
}

impl Fs {
    /// An empty filesystem holding only `/`.
    pub fn new() -> Self {
        let mut entries = Tree::default();
        entries.insert(
            "/".to_string(),
            Entry {
                content: Content::Dir,
                mode: 0o755,
                uid: 0,
                gid: 0,
                mtime: now_secs(),
                stamp: stamp(),
            },
        );
        Fs {
            entries,
            capacity: None,
            umask: 0o022,
        }
    }

    pub fn umask(&self) -> u32 {
        self.umask
    }

    /// Sets the umask new files and directories get.
    pub fn set_umask(&mut self, umask: u32) {
        self.umask = umask & 0o777;
    }

    /// Limits the total bytes of file content (to emulate a full disk).
    pub fn set_capacity(&mut self, capacity: Option<u64>) {
        self.capacity = capacity;
    }

    pub fn used_bytes(&self) -> u64 {
        self.entries
            .values()
            .map(|e| match &e.content {
                Content::File(data) => data.len() as u64,
                Content::Dir => 0,
            })
            .sum()
    }

    fn key(path: &str) -> String {
        normalize("/", path)
    }

    pub fn stat(&self, path: &str) -> Result<Meta, FsError> {
        let key = Self::key(path);
        self.check_ancestors(&key)?;
        let entry = self.entries.get(&key).ok_or(FsError::NotFound)?;
        Ok(self.meta(&key, entry))
    }

    pub fn exists(&self, path: &str) -> bool {
        self.stat(path).is_ok()
    }

    fn meta(&self, key: &str, entry: &Entry) -> Meta {
        let (kind, size, nlink) = match &entry.content {
            Content::File(data) => (
                Kind::File,
                data.len() as u64,
                u64::from(self.entries.links(key)),
            ),
            Content::Dir => {
                let subdirs = self
                    .children(key)
                    .filter(|(_, e)| matches!(e.content, Content::Dir))
                    .count() as u64;
                (Kind::Dir, 4096, 2 + subdirs)
            }
        };
        Meta {
            kind,
            mode: entry.mode,
            uid: entry.uid,
            gid: entry.gid,
            size,
            mtime: entry.mtime,
            nlink,
            stamp: entry.stamp,
        }
    }

    /// Every proper ancestor of `key` must exist and be a directory.
    fn check_ancestors(&self, key: &str) -> Result<(), FsError> {
        if key == "/" {
            return Ok(());
        }
        let mut prefix = String::new();
        let comps: Vec<&str> = key[1..].split('/').collect();
        for comp in &comps[..comps.len() - 1] {
            prefix.push('/');
            prefix.push_str(comp);
            match self.entries.get(&prefix) {
                None => return Err(FsError::NotFound),
                Some(Entry {
                    content: Content::File(_),
                    ..
                }) => return Err(FsError::NotADirectory),
                Some(_) => {}
            }
        }
        Ok(())
    }

    /// The parent of `key` must exist and be a directory.
    fn check_parent(&self, key: &str) -> Result<(), FsError> {
        self.check_ancestors(key)
    }

    /// Whole content of a file.
    pub fn read(&self, path: &str) -> Result<&[u8], FsError> {
        let key = Self::key(path);
        self.check_ancestors(&key)?;
        match self.entries.get(&key).map(|e| &e.content) {
            None => Err(FsError::NotFound),
            Some(Content::Dir) => Err(FsError::IsADirectory),
            Some(Content::File(data)) => Ok(data),
        }
    }

    /// Up to `len` bytes from `offset`; empty at or past the end.
    pub fn read_at(&self, path: &str, offset: u64, len: usize) -> Result<Vec<u8>, FsError> {
        let data = self.read(path)?;
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(data.len());
        let end = start.saturating_add(len).min(data.len());
        Ok(data[start..end].to_vec())
    }

    /// Opens (creating if needed) a regular file for writing, as `open(2)` would.
    /// New files get `mode & !umask` and the given owner.
    pub fn open_for_write(
        &mut self,
        path: &str,
        how: WriteMode,
        mode: u32,
        owner: (u32, u32),
    ) -> Result<(), FsError> {
        let key = Self::key(path);
        if key == "/" {
            return Err(FsError::IsADirectory);
        }
        self.check_parent(&key)?;
        let umask = self.umask;
        match self.entries.get_mut(&key) {
            Some(Entry {
                content: Content::Dir,
                ..
            }) => Err(FsError::IsADirectory),
            Some(_) if how == WriteMode::Exclusive => Err(FsError::Exists),
            Some(entry) => {
                if how == WriteMode::Truncate {
                    entry.content = Content::File(Vec::new());
                    entry.mtime = now_secs();
                    entry.stamp = stamp();
                }
                Ok(())
            }
            None => {
                self.entries.insert(
                    key,
                    Entry {
                        content: Content::File(Vec::new()),
                        mode: mode & !umask & 0o7777,
                        uid: owner.0,
                        gid: owner.1,
                        mtime: now_secs(),
                        stamp: stamp(),
                    },
                );
                Ok(())
            }
        }
    }

    /// Writes `data` at `offset` of an existing file, growing it (with zeros) as needed.
    pub fn write_at(&mut self, path: &str, offset: u64, data: &[u8]) -> Result<(), FsError> {
        let key = Self::key(path);
        // Summing the whole tree is only needed when a capacity is set.
        let used = if self.capacity.is_some() {
            self.used_bytes()
        } else {
            0
        };
        let capacity = self.capacity;
        let entry = self.entries.get_mut(&key).ok_or(FsError::NotFound)?;
        let Content::File(content) = &mut entry.content else {
            return Err(FsError::IsADirectory);
        };
        let offset = usize::try_from(offset).map_err(|_| FsError::InvalidArgument)?;
        let end = offset
            .checked_add(data.len())
            .ok_or(FsError::InvalidArgument)?;
        let growth = end.saturating_sub(content.len()) as u64;
        if let Some(cap) = capacity
            && used + growth > cap
        {
            return Err(FsError::NoSpace);
        }
        if content.len() < end {
            content.resize(end, 0);
        }
        content[offset..end].copy_from_slice(data);
        entry.mtime = now_secs();
        entry.stamp = stamp();
        Ok(())
    }

    /// Appends to an existing file.
    pub fn append(&mut self, path: &str, data: &[u8]) -> Result<(), FsError> {
        let len = self.read(path)?.len() as u64;
        self.write_at(path, len, data)
    }

    /// Creates or replaces a whole file. The mode applies only when the file is new.
    pub fn write_file(&mut self, path: &str, data: &[u8], mode: u32) -> Result<(), FsError> {
        self.open_for_write(path, WriteMode::Truncate, mode, (0, 0))?;
        self.write_at(path, 0, data)
    }

    /// Truncates or extends a file to `len` bytes.
    pub fn set_len(&mut self, path: &str, len: u64) -> Result<(), FsError> {
        let key = Self::key(path);
        let entry = self.entries.get_mut(&key).ok_or(FsError::NotFound)?;
        let Content::File(content) = &mut entry.content else {
            return Err(FsError::IsADirectory);
        };
        content.resize(
            usize::try_from(len).map_err(|_| FsError::InvalidArgument)?,
            0,
        );
        Ok(())
    }

    pub fn mkdir(&mut self, path: &str, mode: u32) -> Result<(), FsError> {
        let key = Self::key(path);
        if self.entries.contains_key(&key) {
            return Err(FsError::Exists);
        }
        self.check_parent(&key)?;
        self.entries.insert(
            key,
            Entry {
                content: Content::Dir,
                mode: mode & !self.umask & 0o7777,
                uid: 0,
                gid: 0,
                mtime: now_secs(),
                stamp: stamp(),
            },
        );
        Ok(())
    }

    /// `mkdir -p`: creates missing ancestors; an existing directory is fine.
    pub fn mkdir_all(&mut self, path: &str, mode: u32) -> Result<(), FsError> {
        let key = Self::key(path);
        let mut prefix = String::new();
        for comp in key.split('/').filter(|c| !c.is_empty()) {
            prefix.push('/');
            prefix.push_str(comp);
            match self.entries.get(&prefix).map(|e| &e.content) {
                Some(Content::Dir) => {}
                Some(Content::File(_)) => return Err(FsError::NotADirectory),
                None => self.mkdir(&prefix, mode)?,
            }
        }
        Ok(())
    }

    pub fn remove_file(&mut self, path: &str) -> Result<(), FsError> {
        self.remove_entry(path, |_, _, content| match content {
            Content::Dir => Err(FsError::IsADirectory),
            Content::File(_) => Ok(()),
        })
    }

    pub fn rmdir(&mut self, path: &str) -> Result<(), FsError> {
        if Self::key(path) == "/" {
            return Err(FsError::PermissionDenied);
        }
        self.remove_entry(path, |fs, key, content| match content {
            Content::File(_) => Err(FsError::NotADirectory),
            Content::Dir if fs.children(key).next().is_some() => Err(FsError::NotEmpty),
            Content::Dir => Ok(()),
        })
    }

    /// Removes the one entry at `path` once `allowed` accepts its content.
    fn remove_entry(
        &mut self,
        path: &str,
        allowed: impl FnOnce(&Self, &str, &Content) -> Result<(), FsError>,
    ) -> Result<(), FsError> {
        let key = Self::key(path);
        self.check_ancestors(&key)?;
        let content = self
            .entries
            .get(&key)
            .map(|e| &e.content)
            .ok_or(FsError::NotFound)?;
        allowed(self, &key, content)?;
        self.entries.remove(&key);
        Ok(())
    }

    /// `rm -r`: removes an entry and everything below it.
    pub fn remove_all(&mut self, path: &str) -> Result<(), FsError> {
        let key = Self::key(path);
        if key == "/" {
            return Err(FsError::PermissionDenied);
        }
        self.stat(&key)?;
        let below = format!("{key}/");
        self.entries
            .retain(|k| k != &key && !k.starts_with(below.as_str()));
        Ok(())
    }

    /// `rename(2)`: replaces a file target atomically; a directory moves with its subtree.
    pub fn rename(&mut self, from: &str, to: &str) -> Result<(), FsError> {
        let from = Self::key(from);
        let to = Self::key(to);
        let src = self.stat(&from)?;
        self.check_parent(&to)?;
        if from == to {
            return Ok(());
        }
        if to.starts_with(&format!("{from}/")) {
            return Err(FsError::InvalidArgument);
        }
        if let Ok(dst) = self.stat(&to) {
            match (src.is_dir(), dst.is_dir()) {
                (false, true) => return Err(FsError::IsADirectory),
                (true, false) => return Err(FsError::NotADirectory),
                (true, true) => {
                    if self.children(&to).next().is_some() {
                        return Err(FsError::NotEmpty);
                    }
                }
                (false, false) => {}
            }
            self.entries.remove(&to);
        }
        let below = format!("{from}/");
        let moved: Vec<String> = self
            .entries
            .keys()
            .filter(|k| **k == from || k.starts_with(below.as_str()))
            .cloned()
            .collect();
        for old in moved {
            let new = format!("{to}{}", &old[from.len()..]);
            self.entries.move_name(&old, new);
        }
        Ok(())
    }

    /// `link(2)`: gives the file `from` the new name `to`, failing with `Exists` when
    /// `to` is taken (never replacing it, so it is an atomic no-clobber create).
    /// Directories cannot be linked. Both names lead to one inode afterwards.
    pub fn link(&mut self, from: &str, to: &str) -> Result<(), FsError> {
        let from = Self::key(from);
        let to = Self::key(to);
        self.check_ancestors(&from)?;
        let entry = self.entries.get(&from).ok_or(FsError::NotFound)?;
        if matches!(entry.content, Content::Dir) {
            return Err(FsError::PermissionDenied);
        }
        self.check_parent(&to)?;
        if self.entries.contains_key(&to) {
            return Err(FsError::Exists);
        }
        // A link adds no bytes, so the capacity is not checked.
        self.entries.link(&from, to);
        Ok(())
    }

    /// Sets permission bits (the low 12 bits of `mode`).
    pub fn set_mode(&mut self, path: &str, mode: u32) -> Result<(), FsError> {
        let key = Self::key(path);
        self.check_ancestors(&key)?;
        let entry = self.entries.get_mut(&key).ok_or(FsError::NotFound)?;
        entry.mode = mode & 0o7777;
        Ok(())
    }

    pub fn set_owner(
        &mut self,
        path: &str,
        uid: Option<u32>,
        gid: Option<u32>,
    ) -> Result<(), FsError> {
        let key = Self::key(path);
        self.check_ancestors(&key)?;
        let entry = self.entries.get_mut(&key).ok_or(FsError::NotFound)?;
        if let Some(uid) = uid {
            entry.uid = uid;
        }
        if let Some(gid) = gid {
            entry.gid = gid;
        }
        Ok(())
    }

    /// Sets the mtime to now, as a modification does (`touch` without a time).
    pub fn touch(&mut self, path: &str) -> Result<(), FsError> {
        let key = Self::key(path);
        let entry = self.entries.get_mut(&key).ok_or(FsError::NotFound)?;
        entry.mtime = now_secs();
        entry.stamp = stamp();
        Ok(())
    }

    /// Sets an explicit mtime (`touch -d`, `cp -p`, an archive's member).
    pub fn set_mtime(&mut self, path: &str, mtime: u64) -> Result<(), FsError> {
        let key = Self::key(path);
        let entry = self.entries.get_mut(&key).ok_or(FsError::NotFound)?;
        entry.mtime = mtime;
        entry.stamp = 0;
        Ok(())
    }

    fn children<'a>(&'a self, dir: &'a str) -> impl Iterator<Item = (&'a String, &'a Entry)> + 'a {
        let prefix = if dir == "/" {
            "/".to_string()
        } else {
            format!("{dir}/")
        };
        self.entries
            .range_from(prefix.clone())
            .take_while(move |(k, _)| k.starts_with(prefix.as_str()))
            .filter(move |(k, _)| {
                let rest = &k[if dir == "/" { 1 } else { dir.len() + 1 }..];
                !rest.is_empty() && !rest.contains('/')
            })
    }

    /// The entries of a directory (without `.` and `..`), sorted by name.
    pub fn list_dir(&self, path: &str) -> Result<Vec<(String, Meta)>, FsError> {
        let key = Self::key(path);
        if !self.stat(&key)?.is_dir() {
            return Err(FsError::NotADirectory);
        }
        Ok(self
            .children(&key)
            .map(|(k, e)| (file_name(k).to_string(), self.meta(k, e)))
            .collect())
    }

    /// Every file path, sorted (for introspection in tests).
    pub fn file_paths(&self) -> Vec<String> {
        self.entries
            .iter()
            .filter(|(_, e)| matches!(e.content, Content::File(_)))
            .map(|(k, _)| k.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A filesystem with the directory `dir` (and its parents), then `files`
    /// (path, content, mode).
    fn tree(dir: &str, files: &[(&str, &[u8], u32)]) -> Fs {
        let mut fs = Fs::new();
        fs.mkdir_all(dir, 0o777).unwrap();
        for (path, content, mode) in files {
            fs.write_file(path, content, *mode).unwrap();
        }
        fs
    }

    #[test]
    fn hard_links_are_names_of_one_inode() {
        let mut fs = tree("/d", &[("/d/a", b"one", 0o644)]);
        fs.link("/d/a", "/d/b").unwrap();
        assert_eq!(fs.stat("/d/a").unwrap().nlink, 2);
        fs.append("/d/a", b"+").unwrap();
        assert_eq!(fs.read("/d/b").unwrap(), b"one+");
        fs.set_mode("/d/b", 0o600).unwrap();
        assert_eq!(fs.stat("/d/a").unwrap().mode, 0o600);
        // One inode: its bytes count once.
        assert_eq!(fs.used_bytes(), 4);
        fs.rename("/d/b", "/d/c").unwrap();
        fs.remove_file("/d/a").unwrap();
        assert_eq!(fs.stat("/d/c").unwrap().nlink, 1);
        assert_eq!(fs.read("/d/c").unwrap(), b"one+");
        fs.remove_file("/d/c").unwrap();
        assert_eq!(fs.used_bytes(), 0);
        assert_eq!(fs.stat("/d").unwrap().nlink, 2);
        fs.mkdir("/d/sub", 0o755).unwrap();
        assert_eq!(fs.stat("/d").unwrap().nlink, 3);
    }

    #[test]
    fn normalize_handles_dots_and_slashes() {
        assert_eq!(normalize("/root", "a/../b//c/."), "/root/b/c");
        assert_eq!(normalize("/", "../../etc"), "/etc");
        assert_eq!(normalize("/x", "/"), "/");
        assert_eq!(parent("/a/b"), "/a");
        assert_eq!(parent("/a"), "/");
        assert_eq!(file_name("/a/b"), "b");
    }

    #[test]
    fn files_need_an_existing_parent_directory() {
        let mut fs = Fs::new();
        assert_eq!(
            fs.write_file("/no/dir/f", b"x", 0o666),
            Err(FsError::NotFound)
        );
        fs.mkdir_all("/a/b", 0o777).unwrap();
        fs.write_file("/a/b/f", b"hello", 0o666).unwrap();
        assert_eq!(fs.stat("/a/b/f").unwrap().mode, 0o644);
        assert_eq!(
            fs.write_file("/a/b/f/g", b"x", 0o666),
            Err(FsError::NotADirectory)
        );
        assert_eq!(
            fs.write_file("/a/b", b"x", 0o666),
            Err(FsError::IsADirectory)
        );
    }

    #[test]
    fn exclusive_create_refuses_existing() {
        let mut fs = Fs::new();
        fs.write_file("/f", b"1", 0o666).unwrap();
        assert_eq!(
            fs.open_for_write("/f", WriteMode::Exclusive, 0o666, (0, 0)),
            Err(FsError::Exists)
        );
        assert_eq!(fs.read("/f").unwrap(), b"1");
    }

    #[test]
    fn list_dir_lists_only_direct_children() {
        let fs = tree("/a/b/c", &[("/a/f", b"", 0o666), ("/ab", b"", 0o666)]);
        let names = |dir| -> Vec<String> {
            let entries = fs.list_dir(dir).unwrap();
            entries.into_iter().map(|(n, _)| n).collect()
        };
        assert_eq!(names("/a"), ["b", "f"]);
        assert_eq!(names("/"), ["a", "ab"]);
    }

    #[test]
    fn rename_moves_subtrees_and_replaces_files() {
        let mut fs = tree("/a/b", &[("/a/b/f", b"1", 0o666)]);
        fs.rename("/a", "/z").unwrap();
        assert_eq!(fs.read("/z/b/f").unwrap(), b"1");
        assert!(!fs.exists("/a"));
        fs.write_file("/t", b"2", 0o666).unwrap();
        fs.rename("/t", "/z/b/f").unwrap();
        assert_eq!(fs.read("/z/b/f").unwrap(), b"2");
        assert_eq!(fs.rmdir("/z/b"), Err(FsError::NotEmpty));
    }

    #[test]
    fn link_never_replaces_and_refuses_directories() {
        let mut fs = tree("/d", &[("/d/a", b"new", 0o600), ("/d/b", b"old", 0o666)]);
        assert_eq!(fs.link("/d/a", "/d/b"), Err(FsError::Exists));
        assert_eq!(fs.read("/d/b").unwrap(), b"old");
        fs.link("/d/a", "/d/c").unwrap();
        assert_eq!(fs.read("/d/c").unwrap(), b"new");
        assert_eq!(fs.stat("/d/c").unwrap().mode, 0o600);
        assert_eq!(fs.link("/d", "/e"), Err(FsError::PermissionDenied));
        assert_eq!(fs.link("/d/none", "/d/x"), Err(FsError::NotFound));
        assert_eq!(fs.link("/d/a", "/no/x"), Err(FsError::NotFound));
    }

    #[test]
    fn capacity_limits_growth() {
        let mut fs = Fs::new();
        fs.set_capacity(Some(4));
        assert_eq!(fs.write_file("/f", b"12345", 0o666), Err(FsError::NoSpace));
        fs.write_file("/g", b"1234", 0o666).unwrap();
    }
}
