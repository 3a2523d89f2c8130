//! [`ExecReport`]: the result of a command run on the host or in a container, and its
//! text in the reference's layout (`=== STDOUT ===` … `=== EXIT CODE: n ===`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Failure, Report, failure_text, render_stream};
use crate::ssh::SshError;
use crate::ssh::exec::ExecOutcome;

/// The structured result of `ssh_exec_command` (and of exec in a container).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct ExecReport {
    /// True when the command ran to completion with exit code 0.
    pub success: bool,
    /// The command's exit code; null when it did not report one (killed by a signal,
    /// ended after a time-out, or the connection was lost).
    pub exit_code: Option<i32>,
    /// The signal that ended the command, if one did (e.g. "TERM").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_signal: Option<String>,
    pub stdout: String,
    pub stderr: String,
    pub command: String,
    /// True when the time-out expired; the remote command was then ended.
    pub timeout_reached: bool,
    pub duration_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stdout_truncated: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stdout_original_length: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stderr_truncated: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stderr_original_length: Option<u64>,
    /// Set when stdout held bytes that are not UTF-8 (shown as U+FFFD).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stdout_lossy: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stderr_lossy: Option<bool>,
    /// Something worth knowing about how the command ended, e.g. that a background process it started kept its output open.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// What went wrong, when something did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What to do about it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suggestion: Option<String>,
}

/// One stream's section of the text layout (`=== STDOUT ===` and its notes); nothing
/// for an empty stream.
fn push_stream(
    s: &mut String,
    name: &str,
    text: &str,
    original_length: Option<u64>,
    lossy: Option<bool>,
) {
    if text.is_empty() {
        return;
    }
    s.push_str(&format!("=== {} ===\n", name.to_uppercase()));
    s.push_str(text);
    if !text.ends_with('\n') {
        s.push('\n');
    }
    if let Some(n) = original_length {
        s.push_str(&format!("({name} truncated: {n} characters in all)\n"));
    }
    if lossy == Some(true) {
        s.push_str(&format!(
            "({name} held bytes that are not UTF-8, shown as \u{FFFD})\n"
        ));
    }
}

impl ExecReport {
    pub fn from_outcome(command: &str, o: &ExecOutcome, limit: usize, timeout_secs: u64) -> Self {
        let out = render_stream(&o.stdout, limit);
        let err = render_stream(&o.stderr, limit);
        let success = o.exit_code == Some(0) && !o.timed_out && !o.cancelled;
        let ending = match (&o.end_note, o.ended_remotely) {
            (Some(note), true) => format!(" and was ended ({note})"),
            (None, true) => " and was ended".to_string(),
            (Some(note), false) => format!("; ending it failed: {note}"),
            (None, false) => "; its end could not be confirmed".to_string(),
        };
        let (error, suggestion) = if o.timed_out {
            (
                Some(format!(
                    "the command did not finish within {timeout_secs} s{ending}"
                )),
                Some("Raise `timeout` (up to 300 s), or run long jobs in the background, e.g. `nohup CMD > /tmp/log 2>&1 &`, and poll the log. Waiting for input? Standard input is closed (EOF): pass answers in the command (e.g. `yes | CMD`, `CMD -y`, `DEBIAN_FRONTEND=noninteractive`).".to_string()),
            )
        } else if o.cancelled {
            (Some(format!("the call was cancelled{ending}")), None)
        } else if o.connection_lost {
            (
                Some("the connection was lost while the command ran; it did not report an exit status (it will be ended on the host over the next connection if it is still running)".into()),
                Some("Check whether it took effect, then retry; the next call reconnects.".into()),
            )
        } else if o.exit_code.is_none() && o.exit_signal.is_none() {
            (
                Some("the command ended without reporting an exit status".into()),
                Some("Check whether it took effect before running it again.".into()),
            )
        } else {
            (None, None)
        };
        let note = o.output_left_open.then(|| {
            "the command exited, but a process it started in the background kept its output open; that process runs on and its later output is not collected (redirect it, e.g. `CMD > /tmp/log 2>&1 &`)".to_string()
        });
        ExecReport {
            success,
            exit_code: o.exit_code,
            exit_signal: o.exit_signal.clone(),
            stdout: out.text,
            stderr: err.text,
            command: command.to_string(),
            timeout_reached: o.timed_out,
            duration_ms: o.duration.as_millis() as u64,
            stdout_truncated: out.truncated.then_some(true),
            stdout_original_length: out.truncated.then_some(out.original_length),
            stderr_truncated: err.truncated.then_some(true),
            stderr_original_length: err.truncated.then_some(err.original_length),
            stdout_lossy: out.lossy.then_some(true),
            stderr_lossy: err.lossy.then_some(true),
            note,
            error,
            suggestion,
        }
    }

    /// The report of a command that ran, or of the error that kept it from running.
    pub fn from_result(
        command: &str,
        result: &Result<ExecOutcome, SshError>,
        limit: usize,
        timeout_secs: u64,
    ) -> Self {
        match result {
            Ok(o) => ExecReport::from_outcome(command, o, limit, timeout_secs),
            Err(e) => ExecReport::failed(command, Failure::from(e)),
        }
    }

    /// The report with `extra` added to its note (after what it already says).
    pub fn noting(mut self, extra: Option<String>) -> Self {
        if let Some(extra) = extra {
            self.note = Some(match self.note.take() {
                Some(n) => format!("{n}; {extra}"),
                None => extra,
            });
        }
        self
    }

    /// An exec that failed before the command ran (its `detail`, if any, is not shown).
    pub fn failed(command: &str, failure: Failure) -> Self {
        ExecReport {
            success: false,
            exit_code: None,
            exit_signal: None,
            stdout: String::new(),
            stderr: String::new(),
            command: command.to_string(),
            timeout_reached: false,
            duration_ms: 0,
            stdout_truncated: None,
            stdout_original_length: None,
            stderr_truncated: None,
            stderr_original_length: None,
            stdout_lossy: None,
            stderr_lossy: None,
            note: None,
            error: Some(failure.error),
            suggestion: Some(failure.suggestion),
        }
    }

    /// The reference's text layout, plus what it lacked.
    pub fn to_text(&self) -> String {
        if let Some(e) = &self.error
            && self.exit_code.is_none()
            && !self.timeout_reached
            && self.stdout.is_empty()
            && self.stderr.is_empty()
        {
            return failure_text(e, self.suggestion.as_deref(), None);
        }
        let mut s = String::new();
        push_stream(
            &mut s,
            "stdout",
            &self.stdout,
            self.stdout_original_length,
            self.stdout_lossy,
        );
        push_stream(
            &mut s,
            "stderr",
            &self.stderr,
            self.stderr_original_length,
            self.stderr_lossy,
        );
        if self.timeout_reached {
            s.push_str(&format!(
                "=== TIMEOUT: {} ===\n",
                self.error.as_deref().unwrap_or("the command was ended")
            ));
        }
        if let Some(note) = &self.note {
            s.push_str(&format!("Note: {note}\n"));
        }
        match (self.exit_code, &self.exit_signal) {
            (Some(code), _) => s.push_str(&format!("=== EXIT CODE: {code} ===\n")),
            (None, Some(sig)) => s.push_str(&format!("=== EXIT SIGNAL: {sig} ===\n")),
            (None, None) => s.push_str("=== EXIT CODE: none ===\n"),
        }
        if let (false, Some(e)) = (self.timeout_reached, &self.error) {
            s.push_str(&format!("Error: {e}\n"));
        }
        if let Some(sug) = &self.suggestion {
            s.push_str(&format!("Suggestion: {sug}\n"));
        }
        s
    }
}

impl Report for ExecReport {
    fn succeeded(&self) -> bool {
        self.success
    }

    fn human(&self) -> String {
        self.to_text()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_format_follows_the_reference_and_always_ends_with_the_exit_code() {
        let mut r = ExecReport::failed("x", Failure::new("e", "s"));
        r.error = None;
        r.suggestion = None;
        r.stdout = "out".into();
        r.stderr = "err\n".into();
        r.exit_code = Some(3);
        assert_eq!(
            r.to_text(),
            "=== STDOUT ===\nout\n=== STDERR ===\nerr\n=== EXIT CODE: 3 ===\n"
        );
    }
}
