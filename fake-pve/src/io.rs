//! Standard streams of the fake's processes: pipes with back-pressure, files in an
//! in-memory filesystem, captures for `$(…)`, and `/dev/null`.
//!
//! A write to a pipe whose reader is gone fails with [`BrokenPipe`]: the writing
//! program then ends as if killed by SIGPIPE (exit 141), as on a real host. That is
//! how `yes | head` ends, and how a command that writes dies once its SSH channel
//! closed, while one that never writes lives on.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::fs::{FsError, WriteMode};
use crate::host::Host;

/// The reader of a pipe is gone (EPIPE).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("Broken pipe")]
pub struct BrokenPipe;

/// Where a file-backed stream lives.
#[derive(Debug, Clone)]
pub struct FileTarget {
    pub host: Host,
    /// `None` for the host's filesystem.
    pub container: Option<u32>,
    pub path: String,
    /// The umask of the process that names it: new files get `mode & !umask`.
    pub umask: u32,
}

impl FileTarget {
    /// Runs `f` on the filesystem this target lives in.
    pub fn with_fs<T>(
        &self,
        f: impl FnOnce(&mut crate::fs::Fs) -> Result<T, FsError>,
    ) -> Result<T, FsError> {
        let mut state = self.host.state();
        let state = &mut *state;
        let fs = match self.container {
            None => &mut state.fs,
            Some(id) => match state.containers.get_mut(&id) {
                Some(ct) => &mut ct.fs,
                None => match state.vms.get_mut(&id) {
                    Some(vm) => &mut vm.fs,
                    None => return Err(FsError::NotFound),
                },
            },
        };
        let saved = fs.umask();
        fs.set_umask(self.umask);
        let result = f(fs);
        fs.set_umask(saved);
        result
    }

    /// Opens the file for writing (`>` truncates, `>>` appends).
    pub fn open(&self, how: WriteMode) -> Result<(), FsError> {
        self.with_fs(|fs| fs.open_for_write(&self.path, how, 0o666, (0, 0)))
    }
}

/// One output stream.
#[derive(Debug, Clone)]
pub enum Output {
    Null,
    Pipe(mpsc::Sender<Bytes>),
    Capture(Arc<Mutex<Vec<u8>>>),
    /// Appends to a file opened earlier with [`FileTarget::open`].
    File(FileTarget),
}

impl Output {
    /// A pipe and its reading end. The capacity bounds what is buffered in between.
    pub fn pipe() -> (Output, Input) {
        let (tx, rx) = mpsc::channel(16);
        (Output::Pipe(tx), Input::pipe(rx))
    }

    pub fn capture() -> (Output, Arc<Mutex<Vec<u8>>>) {
        let buf = Arc::new(Mutex::new(Vec::new()));
        (Output::Capture(buf.clone()), buf)
    }

    pub async fn write(&self, data: &[u8]) -> Result<(), BrokenPipe> {
        if data.is_empty() {
            return Ok(());
        }
        match self {
            Output::Null => Ok(()),
            Output::Pipe(tx) => tx
                .send(Bytes::copy_from_slice(data))
                .await
                .map_err(|_| BrokenPipe),
            Output::Capture(buf) => {
                buf.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .extend_from_slice(data);
                Ok(())
            }
            // A full disk or a vanished file loses the write, as with a real
            // process that ignores write errors on a redirect; it is not EPIPE.
            Output::File(target) => {
                let _ = target.with_fs(|fs| fs.append(&target.path, data));
                Ok(())
            }
        }
    }

    pub async fn write_str(&self, s: &str) -> Result<(), BrokenPipe> {
        self.write(s.as_bytes()).await
    }
}

enum Source {
    Empty,
    Buffer(Bytes),
    Pipe(mpsc::Receiver<Bytes>),
    Unbounded(mpsc::UnboundedReceiver<Bytes>),
}

/// What a stream holds: bytes read from the source but not yet consumed, then the
/// source.
struct Stream {
    pending: Bytes,
    source: Source,
}

/// One input stream; clones share the same stream (like a shared file descriptor).
#[derive(Clone)]
pub struct Input(Arc<tokio::sync::Mutex<Stream>>);

impl std::fmt::Debug for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Input")
    }
}

impl Input {
    fn of(source: Source) -> Self {
        Input(Arc::new(tokio::sync::Mutex::new(Stream {
            pending: Bytes::new(),
            source,
        })))
    }

    pub fn empty() -> Self {
        Self::of(Source::Empty)
    }

    pub fn bytes(data: impl Into<Bytes>) -> Self {
        Self::of(Source::Buffer(data.into()))
    }

    pub fn pipe(rx: mpsc::Receiver<Bytes>) -> Self {
        Self::of(Source::Pipe(rx))
    }

    /// An input fed by a writer that must never wait (the SSH channel's reader).
    pub fn unbounded(rx: mpsc::UnboundedReceiver<Bytes>) -> Self {
        Self::of(Source::Unbounded(rx))
    }

    /// One byte, leaving the rest of what was read for the next reader (as `read`
    /// does, reading byte by byte from a pipe); `None` at end of input.
    pub async fn read_byte(&self) -> Option<u8> {
        let mut stream = self.0.lock().await;
        if stream.pending.is_empty() {
            stream.pending = Self::next(&mut stream.source).await?;
        }
        let b = stream.pending[0];
        let rest = stream.pending.slice(1..);
        stream.pending = rest;
        Some(b)
    }

    /// The next chunk, or `None` at end of input.
    pub async fn read_chunk(&self) -> Option<Bytes> {
        let mut stream = self.0.lock().await;
        if !stream.pending.is_empty() {
            return Some(std::mem::take(&mut stream.pending));
        }
        Self::next(&mut stream.source).await
    }

    async fn next(src: &mut Source) -> Option<Bytes> {
        match &mut *src {
            Source::Empty => None,
            Source::Buffer(b) => {
                let out = std::mem::take(b);
                *src = Source::Empty;
                (!out.is_empty()).then_some(out)
            }
            Source::Pipe(rx) => rx.recv().await,
            Source::Unbounded(rx) => rx.recv().await,
        }
    }

    /// Everything up to end of input.
    pub async fn read_all(&self) -> Vec<u8> {
        let mut out = Vec::new();
        while let Some(chunk) = self.read_chunk().await {
            out.extend_from_slice(&chunk);
        }
        out
    }

    /// Stops reading: a pipe's writer then gets EPIPE.
    pub async fn close(&self) {
        let mut stream = self.0.lock().await;
        stream.pending = Bytes::new();
        stream.source = Source::Empty;
    }
}

/// The three standard streams of a process.
#[derive(Debug, Clone)]
pub struct Io {
    pub stdin: Input,
    pub stdout: Output,
    pub stderr: Output,
}

impl Io {
    /// No input, output discarded.
    pub fn null() -> Self {
        Io {
            stdin: Input::empty(),
            stdout: Output::Null,
            stderr: Output::Null,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_pipe_breaks_when_its_reader_is_gone() {
        let (out, input) = Output::pipe();
        out.write(b"a").await.unwrap();
        assert_eq!(input.read_chunk().await.as_deref(), Some(&b"a"[..]));
        drop(input);
        assert_eq!(out.write(b"b").await, Err(BrokenPipe));
    }

    #[tokio::test]
    async fn clones_share_one_stream() {
        let input = Input::bytes(&b"once"[..]);
        let other = input.clone();
        assert_eq!(input.read_all().await, b"once");
        assert_eq!(other.read_all().await, b"");
    }
}
