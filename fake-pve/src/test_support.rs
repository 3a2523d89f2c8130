//! What the emulators' unit tests share: one program run with its streams captured,
//! and what it printed and returned.

use crate::io::{Input, Io, Output};

/// What one program run printed and returned.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Ran {
    pub out: String,
    pub err: String,
    pub code: i32,
}

/// A success that printed `out` and nothing on stderr.
pub(crate) fn ok(out: &str) -> Ran {
    Ran {
        out: out.into(),
        err: String::new(),
        code: 0,
    }
}

/// A failure with status `code` that printed `err` and nothing on stdout.
pub(crate) fn fail(err: &str, code: i32) -> Ran {
    Ran {
        out: String::new(),
        err: err.into(),
        code,
    }
}

/// The bytes one run wrote to each stream, and its status.
pub(crate) struct Captured {
    pub out: Vec<u8>,
    pub err: Vec<u8>,
    pub code: i32,
}

impl Captured {
    /// Both streams as text, invalid UTF-8 replaced.
    pub fn lossy(&self) -> Ran {
        Ran {
            out: String::from_utf8_lossy(&self.out).into_owned(),
            err: String::from_utf8_lossy(&self.err).into_owned(),
            code: self.code,
        }
    }

    /// Both streams as text; panics on invalid UTF-8.
    pub fn utf8(self) -> Ran {
        Ran {
            out: String::from_utf8(self.out).unwrap(),
            err: String::from_utf8(self.err).unwrap(),
            code: self.code,
        }
    }
}

/// The words of an argv as owned strings.
pub(crate) fn argv(words: &[&str]) -> Vec<String> {
    words.iter().map(|s| s.to_string()).collect()
}

/// Runs `program` with `stdin` and both output streams captured.
pub(crate) async fn capture(stdin: Input, program: impl AsyncFnOnce(&Io) -> i32) -> Captured {
    let (stdout, out) = Output::capture();
    let (stderr, err) = Output::capture();
    let io = Io {
        stdin,
        stdout,
        stderr,
    };
    let code = program(&io).await;
    let bytes = |b: &std::sync::Arc<std::sync::Mutex<Vec<u8>>>| b.lock().unwrap().clone();
    Captured {
        out: bytes(&out),
        err: bytes(&err),
        code,
    }
}
