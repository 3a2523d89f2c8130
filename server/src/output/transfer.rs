//! [`TransferReport`]: the result of the `ssh_*` file tools.

use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Failure, Problem, Report};
use crate::ssh::transfer::TransferError;

/// The structured result of a file transfer (and of every failed tool call that is
/// not an exec): `success`, a message, and on failure `error` and `suggestion`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Default)]
pub struct TransferReport {
    pub success: bool,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub local_path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_path: Option<String>,
    /// Octal permission bits applied to the uploaded file, e.g. "644".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permissions: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes_transferred: Option<u64>,
    #[serde(flatten)]
    pub problem: Problem,
}

impl TransferReport {
    /// A finished `ssh_upload_file`; `permissions` is the mode that was applied.
    pub fn uploaded(local: &Path, remote_path: &str, permissions: Option<u32>, bytes: u64) -> Self {
        TransferReport {
            success: true,
            message: format!("File uploaded successfully to {remote_path}"),
            local_path: Some(local.display().to_string()),
            remote_path: Some(remote_path.to_string()),
            permissions: permissions.map(|m| format!("{m:o}")),
            bytes_transferred: Some(bytes),
            ..Default::default()
        }
    }

    /// A finished `ssh_download_file`.
    pub fn downloaded(remote_path: &str, local: &Path, bytes: u64) -> Self {
        TransferReport {
            success: true,
            message: format!("File downloaded successfully from {remote_path}"),
            local_path: Some(local.display().to_string()),
            remote_path: Some(remote_path.to_string()),
            bytes_transferred: Some(bytes),
            ..Default::default()
        }
    }

    /// A failed file tool call (or bad arguments): the message is the error.
    pub fn failed(failure: Failure) -> Self {
        TransferReport {
            success: false,
            message: failure.error.clone(),
            // Transfer failures carry no program message of their own.
            problem: Problem {
                detail: None,
                ..failure.into()
            },
            ..Default::default()
        }
    }

    pub fn to_text(&self) -> String {
        if self.success {
            let mut s = self.message.clone();
            if let Some(b) = self.bytes_transferred {
                s.push_str(&format!(" ({b} bytes)"));
            }
            s.push('\n');
            s
        } else {
            self.problem.text(&self.message)
        }
    }
}

impl Report for TransferReport {
    fn succeeded(&self) -> bool {
        self.success
    }

    fn human(&self) -> String {
        self.to_text()
    }
}

impl From<&TransferError> for Failure {
    fn from(e: &TransferError) -> Self {
        Failure::new(e.to_string(), e.suggestion())
    }
}
