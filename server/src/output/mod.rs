//! Rendering results for the model, in one place: the structured values every tool
//! returns as `structuredContent` (their types are the tools' output schemas), the
//! text the reference's users know, truncation that keeps both ends of a stream and
//! never loses the exit code, and lossy UTF-8 that is flagged. Plain Rust types: the
//! tools wrap a [`Reply`] in rmcp's result.
//!
//! - [`exec`]: [`ExecReport`] (`ssh_exec_command`, `proxmox_container_exec_command`).
//! - [`transfer`]: [`TransferReport`] (the `ssh_*` file tools).
//! - [`proxmox`]: the container list, status, power and file-transfer reports.
//! - here: [`ResponseFormat`], [`Failure`] (every failed result is built from one),
//!   [`Report`] / [`Reply`], and [`render_stream`] (truncation).

pub mod exec;
pub mod guests;
pub mod metrics;
pub mod proxmox;
pub mod transfer;
pub mod vms;

pub use exec::ExecReport;
pub use transfer::TransferReport;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ssh::exec::Captured;

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

/// Why a call failed and what to do about it: what every failed result is built
/// from, whatever its shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// What went wrong.
    pub error: String,
    /// What to do about it.
    pub suggestion: String,
    /// The remote tool's own message (pct's), when it gave one.
    pub detail: Option<String>,
}

impl Failure {
    pub fn new(error: impl Into<String>, suggestion: impl Into<String>) -> Self {
        Failure {
            error: error.into(),
            suggestion: suggestion.into(),
            detail: None,
        }
    }

    pub fn with_detail(self, detail: Option<String>) -> Self {
        Failure { detail, ..self }
    }

    /// The text layout of a failure: `Error: …`, `pct: …` when there is a detail,
    /// `Suggestion: …`.
    pub fn to_text(&self) -> String {
        failure_text(&self.error, Some(&self.suggestion), self.detail.as_deref())
    }
}

impl From<&crate::ssh::SshError> for Failure {
    fn from(e: &crate::ssh::SshError) -> Self {
        Failure::new(e.to_string(), e.suggestion())
    }
}

/// The text of a failure as the reports hold it (a suggestion or a detail may be
/// missing).
/// The failure fields every report but the exec one carries, flattened into it (the
/// JSON keeps three optional top-level fields).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Problem {
    /// What went wrong, when something did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What to do about it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suggestion: Option<String>,
    /// The program's own message (pct's), when it gave one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl From<Failure> for Problem {
    fn from(f: Failure) -> Self {
        Problem {
            error: Some(f.error),
            suggestion: Some(f.suggestion),
            detail: f.detail,
        }
    }
}

impl Problem {
    /// The failure's text layout; `fallback` when there is no error.
    pub fn text(&self, fallback: &str) -> String {
        self.text_by("pct", fallback)
    }

    /// As [`Problem::text`], the detail labelled as the words of `tool` (e.g. `qm`).
    pub fn text_by(&self, tool: &str, fallback: &str) -> String {
        failure_text_by(
            tool,
            self.error.as_deref().unwrap_or(fallback),
            self.suggestion.as_deref(),
            self.detail.as_deref(),
        )
    }
}

pub(crate) fn failure_text(error: &str, suggestion: Option<&str>, detail: Option<&str>) -> String {
    failure_text_by("pct", error, suggestion, detail)
}

fn failure_text_by(
    tool: &str,
    error: &str,
    suggestion: Option<&str>,
    detail: Option<&str>,
) -> String {
    let mut s = format!("Error: {error}\n");
    if let Some(d) = detail {
        s.push_str(&format!("{tool}: {d}\n"));
    }
    if let Some(sug) = suggestion {
        s.push_str(&format!("Suggestion: {sug}\n"));
    }
    s
}

/// A structured result of a tool.
pub trait Report: Serialize {
    /// Whether the call succeeded (a failed one is an error result).
    fn succeeded(&self) -> bool;

    /// The text content for [`ResponseFormat::Text`].
    fn human(&self) -> String;

    /// The text content in the format asked for.
    fn text(&self, format: ResponseFormat) -> String {
        match format {
            ResponseFormat::Json => pretty(self),
            ResponseFormat::Text => self.human(),
        }
    }

    /// The whole result: structured content, text in `format`, error flag.
    fn reply(&self, format: ResponseFormat) -> Reply {
        Reply {
            structured: serde_json::to_value(self).ok(),
            text: self.text(format),
            is_error: !self.succeeded(),
        }
    }
}

/// Implements [`Report`] for a result with a `success` field and a flattened
/// `problem`: `json` for a tool that answers in JSON only (its text is the JSON too),
/// or the name of the method that renders a success as text (a failure is its
/// problem's text).
macro_rules! report {
    ($t:ty, json) => {
        impl $crate::output::Report for $t {
            fn succeeded(&self) -> bool {
                self.success
            }

            fn human(&self) -> String {
                $crate::output::pretty(self)
            }
        }
    };
    ($t:ty, $render:ident) => {
        $crate::output::report!($t, $render, "pct");
    };
    ($t:ty, $render:ident, $tool:literal) => {
        impl $crate::output::Report for $t {
            fn succeeded(&self) -> bool {
                self.success
            }

            fn human(&self) -> String {
                if self.success {
                    self.$render()
                } else {
                    self.problem.text_by($tool, "")
                }
            }
        }
    };
}
pub(crate) use report;

/// A report's `failed` constructor: `success: false` and the failure as its problem;
/// with a field name, the guest id in that field when the call knew it (`None` when it
/// failed before it had a valid one); with `message`, the error repeated as the
/// report's message.
macro_rules! failed {
    () => {
        /// A failed call.
        pub fn failed(failure: $crate::output::Failure) -> Self {
            let problem = failure.into();
            Self { success: false, problem, ..Default::default() }
        }
    };
    ($id:ident $(, $message:ident)?) => {
        /// A failed call, with its guest when it had a valid id.
        pub fn failed(
            id: Option<$crate::pct::Ctid>,
            failure: $crate::output::Failure,
        ) -> Self {
            Self {
                success: false,
                $($message: failure.error.clone(),)?
                $id: id.map($crate::pct::Ctid::get),
                problem: failure.into(),
                ..Default::default()
            }
        }
    };
}
pub(crate) use failed;

/// A finished copy between this machine and guest `id`; `mode` is the one asked for.
#[derive(Debug, Clone)]
pub struct GuestCopy {
    pub id: crate::pct::Ctid,
    pub guest_path: String,
    pub local: std::path::PathBuf,
    pub copied: crate::proxmox::Copied,
    pub mode: Option<u32>,
}

/// What a guest's two file tools answer (in JSON).
pub trait TransferAnswer: Report {
    /// A finished download from the guest.
    fn downloaded(c: &GuestCopy) -> Self;
    /// A finished upload into the guest.
    fn uploaded(c: &GuestCopy) -> Self;
    /// A failed call, with its guest when it had a valid id; the message is the error.
    fn failed(id: Option<crate::pct::Ctid>, failure: Failure) -> Self;
}

/// The result of a guest's two file tools (answered in JSON), with the guest's own
/// names for its id field and for the path in it: `ctid` and `container_path` for a
/// container, `vmid` and `vm_path` for a VM.
macro_rules! guest_transfer_report {
    ($(#[$doc:meta])* $name:ident, $id:ident, $path:ident, $word:literal, $sha_doc:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, Default)]
        pub struct $name {
            pub success: bool,
            pub message: String,
            #[serde(skip_serializing_if = "Option::is_none")]
            pub $id: Option<u32>,
            #[serde(skip_serializing_if = "Option::is_none")]
            pub local_path: Option<String>,
            #[serde(skip_serializing_if = "Option::is_none")]
            pub $path: Option<String>,
            /// Octal permission bits of the uploaded file, e.g. "644".
            #[serde(skip_serializing_if = "Option::is_none")]
            pub permissions: Option<String>,
            #[serde(skip_serializing_if = "Option::is_none")]
            pub bytes_transferred: Option<u64>,
            #[doc = $sha_doc]
            #[serde(skip_serializing_if = "Option::is_none")]
            pub sha256: Option<String>,
            #[serde(flatten)]
            pub problem: $crate::output::Problem,
        }

        impl $crate::output::TransferAnswer for $name {
            fn downloaded(c: &$crate::output::GuestCopy) -> Self {
                $name {
                    success: true,
                    message: format!(concat!("File downloaded successfully from ", $word, " {}"), c.id),
                    $id: Some(c.id.get()),
                    $path: Some(c.guest_path.clone()),
                    local_path: Some(c.local.display().to_string()),
                    bytes_transferred: Some(c.copied.bytes),
                    sha256: c.copied.sha256.clone(),
                    ..Default::default()
                }
            }

            fn uploaded(c: &$crate::output::GuestCopy) -> Self {
                $name {
                    success: true,
                    message: format!(concat!("File uploaded successfully to ", $word, " {}"), c.id),
                    $id: Some(c.id.get()),
                    local_path: Some(c.local.display().to_string()),
                    $path: Some(c.guest_path.clone()),
                    permissions: c.copied.mode.or(c.mode).map(|m| format!("{m:o}")),
                    bytes_transferred: Some(c.copied.bytes),
                    sha256: c.copied.sha256.clone(),
                    ..Default::default()
                }
            }

            fn failed(id: Option<$crate::pct::Ctid>, failure: $crate::output::Failure) -> Self {
                $name {
                    success: false,
                    message: failure.error.clone(),
                    $id: id.map($crate::pct::Ctid::get),
                    problem: failure.into(),
                    ..Default::default()
                }
            }
        }

        $crate::output::report!($name, json);
    };
}
pub(crate) use guest_transfer_report;

/// A result ready to be sent: the tools turn it into rmcp's `CallToolResult`.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// The `structuredContent`.
    pub structured: Option<serde_json::Value>,
    /// The one text content block.
    pub text: String,
    /// `isError`.
    pub is_error: bool,
}

/// A value as pretty-printed JSON text.
pub(crate) fn pretty<T: Serialize + ?Sized>(v: &T) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
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

    /// Asserts that `r` was cut from `original` characters, `omitted` of them left out.
    #[track_caller]
    fn assert_cut(r: &Rendered, original: u64, omitted: u64) {
        assert!(r.truncated);
        assert_eq!(r.original_length, original);
        assert!(
            r.text
                .contains(&format!("[... {omitted} characters omitted ...]")),
            "{}",
            r.text
        );
    }

    #[test]
    fn long_output_keeps_both_ends_and_counts_the_cut() {
        let data: String = (0..1000).map(|i| format!("{i:04}\n")).collect();
        let r = render_stream(&captured(data.as_bytes(), 1 << 20), 100);
        assert_cut(&r, 5000, 4900);
        assert!(r.text.starts_with("0000\n0001\n"), "{}", r.text);
        assert!(r.text.ends_with("0999\n"), "{}", r.text);
    }

    #[test]
    fn output_beyond_what_was_kept_still_counts() {
        let data = vec![b'x'; 10_000];
        let r = render_stream(&captured(&data, 50), 40);
        assert_cut(&r, 10_000, 9960);
    }

    #[test]
    fn invalid_utf8_is_flagged_not_fatal() {
        let r = render_stream(&captured(b"ok \xff\xfe end", 100), 100);
        assert!(r.lossy);
        assert_eq!(r.text, "ok \u{FFFD}\u{FFFD} end");
        let honest = render_stream(&captured("\u{FFFD} is fine".as_bytes(), 100), 100);
        assert!(!honest.lossy);
    }
}
