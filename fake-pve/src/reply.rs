//! [`Reply`]: what one run of an emulated Proxmox tool (pct, pvesh, vzdump, pvesm)
//! prints and its exit status, built by a pure step and written out once.

use crate::io::Io;
use crate::unix::SIGPIPE_STATUS;

/// What a program prints and its exit status.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reply {
    pub stdout: String,
    pub stderr: String,
    pub code: i32,
}

impl Reply {
    /// Success with this text on stdout.
    pub fn out(stdout: impl Into<String>) -> Reply {
        Reply {
            stdout: stdout.into(),
            ..Reply::default()
        }
    }

    /// This text on stderr and this exit status.
    pub fn err(stderr: impl Into<String>, code: i32) -> Reply {
        Reply {
            stderr: stderr.into(),
            code,
            ..Reply::default()
        }
    }

    /// Prints it (stdout, then stderr) and returns its exit status, or SIGPIPE's
    /// when a stream's reader is gone.
    pub async fn write(&self, io: &Io) -> i32 {
        if io.stdout.write_str(&self.stdout).await.is_err() {
            return SIGPIPE_STATUS;
        }
        if io.stderr.write_str(&self.stderr).await.is_err() {
            return SIGPIPE_STATUS;
        }
        self.code
    }
}
