//! Rendering results for the model: the structured values every tool returns as
//! `structuredContent`, the text the reference's users know, truncation that keeps
//! both ends of a stream and never loses the exit code, and lossy UTF-8 that is flagged.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ssh::exec::{Captured, ExecOutcome};

/// How the text content of a result is written (structured content is always there).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ResponseFormat {
    /// Human-readable sections (default).
    #[default]
    Text,
    /// The structured result as JSON text.
    Json,
}

/// One output stream made fit for the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub text: String,
    pub truncated: bool,
    /// Length of the whole stream in characters (bytes for any middle part that was
    /// not kept in memory).
    pub original_length: u64,
    /// Bytes that were not valid UTF-8 were replaced by U+FFFD.
    pub lossy: bool,
}

/// Decodes a captured stream and cuts it to `limit` characters, keeping the first and
/// the last parts and saying how much was left out.
pub fn render_stream(c: &Captured, limit: usize) -> Rendered {
    let head = String::from_utf8_lossy(&c.head);
    let tail_bytes: Vec<u8> = c.tail.iter().copied().collect();
    let lossy_head = matches!(head, std::borrow::Cow::Owned(_));
    let (text, lossy, gap_bytes) = if c.gap() {
        // The tail may start inside a multi-byte character: skip continuation bytes.
        let start = tail_bytes
            .iter()
            .position(|b| (*b & 0xC0) != 0x80)
            .unwrap_or(tail_bytes.len());
        let tail = String::from_utf8_lossy(&tail_bytes[start..]);
        let lossy = lossy_head || matches!(tail, std::borrow::Cow::Owned(_));
        let gap = c.total - (c.head.len() + tail_bytes.len()) as u64 + start as u64;
        (format!("{head}{tail}"), lossy, Some(gap))
    } else {
        let all = c.kept();
        let s = String::from_utf8_lossy(&all).into_owned();
        let lossy = s.contains('\u{FFFD}') && std::str::from_utf8(&all).is_err();
        (s, lossy, None)
    };
    let chars = text.chars().count();
    let original_length = chars as u64 + gap_bytes.unwrap_or(0);
    if gap_bytes.is_none() && chars <= limit {
        return Rendered {
            text,
            truncated: false,
            original_length,
            lossy,
        };
    }
    // Keep 60% from the start and 40% from the end, with a marker between.
    let keep_head = limit * 3 / 5;
    let keep_tail = limit - keep_head;
    let head_part: String = text.chars().take(keep_head.min(chars)).collect();
    let tail_part: String = text
        .chars()
        .skip(chars.saturating_sub(keep_tail).max(keep_head.min(chars)))
        .collect();
    let omitted = original_length - (head_part.chars().count() + tail_part.chars().count()) as u64;
    Rendered {
        text: format!("{head_part}\n[... {omitted} characters omitted ...]\n{tail_part}"),
        truncated: true,
        original_length,
        lossy,
    }
}

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

    /// An exec that failed before the command ran.
    pub fn failed(command: &str, error: String, suggestion: String) -> Self {
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
            error: Some(error),
            suggestion: Some(suggestion),
        }
    }

    /// The reference's text layout, plus what it lacked.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        if let Some(e) = &self.error
            && self.exit_code.is_none()
            && !self.timeout_reached
            && self.stdout.is_empty()
            && self.stderr.is_empty()
        {
            s.push_str(&format!("Error: {e}\n"));
            if let Some(sug) = &self.suggestion {
                s.push_str(&format!("Suggestion: {sug}\n"));
            }
            return s;
        }
        if !self.stdout.is_empty() {
            s.push_str("=== STDOUT ===\n");
            s.push_str(&self.stdout);
            if !self.stdout.ends_with('\n') {
                s.push('\n');
            }
            if let Some(n) = self.stdout_original_length {
                s.push_str(&format!("(stdout truncated: {n} characters in all)\n"));
            }
            if self.stdout_lossy == Some(true) {
                s.push_str("(stdout held bytes that are not UTF-8, shown as \u{FFFD})\n");
            }
        }
        if !self.stderr.is_empty() {
            s.push_str("=== STDERR ===\n");
            s.push_str(&self.stderr);
            if !self.stderr.ends_with('\n') {
                s.push('\n');
            }
            if let Some(n) = self.stderr_original_length {
                s.push_str(&format!("(stderr truncated: {n} characters in all)\n"));
            }
            if self.stderr_lossy == Some(true) {
                s.push_str("(stderr held bytes that are not UTF-8, shown as \u{FFFD})\n");
            }
        }
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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suggestion: Option<String>,
}

impl TransferReport {
    pub fn to_text(&self) -> String {
        if self.success {
            let mut s = self.message.clone();
            if let Some(b) = self.bytes_transferred {
                s.push_str(&format!(" ({b} bytes)"));
            }
            s.push('\n');
            s
        } else {
            let mut s = format!(
                "Error: {}\n",
                self.error.as_deref().unwrap_or(&self.message)
            );
            if let Some(sug) = &self.suggestion {
                s.push_str(&format!("Suggestion: {sug}\n"));
            }
            s
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn captured(data: &[u8], keep: usize) -> Captured {
        let mut c = Captured::new(keep);
        c.push(data);
        c
    }

    #[test]
    fn short_output_is_untouched() {
        let r = render_stream(&captured(b"hello\n", 100), 100);
        assert_eq!(
            r,
            Rendered {
                text: "hello\n".into(),
                truncated: false,
                original_length: 6,
                lossy: false
            }
        );
    }

    #[test]
    fn long_output_keeps_both_ends_and_counts_the_cut() {
        let data: String = (0..1000).map(|i| format!("{i:04}\n")).collect();
        let r = render_stream(&captured(data.as_bytes(), 1 << 20), 100);
        assert!(r.truncated);
        assert_eq!(r.original_length, 5000);
        assert!(r.text.starts_with("0000\n0001\n"), "{}", r.text);
        assert!(r.text.ends_with("0999\n"), "{}", r.text);
        assert!(
            r.text.contains("[... 4900 characters omitted ...]"),
            "{}",
            r.text
        );
    }

    #[test]
    fn output_beyond_what_was_kept_still_counts() {
        let data = vec![b'x'; 10_000];
        let r = render_stream(&captured(&data, 50), 40);
        assert!(r.truncated);
        assert_eq!(r.original_length, 10_000);
        assert!(
            r.text.contains("[... 9960 characters omitted ...]"),
            "{}",
            r.text
        );
    }

    #[test]
    fn invalid_utf8_is_flagged_not_fatal() {
        let r = render_stream(&captured(b"ok \xff\xfe end", 100), 100);
        assert!(r.lossy);
        assert_eq!(r.text, "ok \u{FFFD}\u{FFFD} end");
        let honest = render_stream(&captured("\u{FFFD} is fine".as_bytes(), 100), 100);
        assert!(!honest.lossy);
    }

    #[test]
    fn text_format_follows_the_reference_and_always_ends_with_the_exit_code() {
        let mut r = ExecReport::failed("x", "e".into(), "s".into());
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
