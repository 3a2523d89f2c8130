//! The audit trail (AUDIT_LOG): one JSON line per tool call, appended and handed to
//! the kernel before the call's result goes back to the client. Arguments are kept
//! with anything secret-looking replaced; no file contents pass through a tool's
//! arguments, and no password or passphrase from the configuration is ever written.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde_json::{Map, Value};

/// An open audit file.
pub struct AuditLog {
    path: PathBuf,
    file: Mutex<File>,
}

/// Who asked, as the client named itself in `initialize`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ClientName {
    pub name: String,
    pub version: String,
}

/// One tool call, as recorded.
#[derive(Debug, Clone, Serialize)]
pub struct Entry<'a> {
    /// UTC, RFC 3339 with milliseconds.
    pub time: String,
    pub client: Option<ClientName>,
    /// `user@host:port` the call went to.
    pub host: &'a str,
    /// The name of that host (the `host` argument, or the default's).
    pub host_name: &'a str,
    pub tool: &'a str,
    pub arguments: Value,
    /// `ok`, `error` (the tool reported a failure) or `protocol-error` (the call was
    /// refused before a tool ran, e.g. an unknown tool).
    pub outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub duration_ms: u64,
}

impl AuditLog {
    /// Opens (creating it with mode 600 if needed) `path` for appending.
    pub fn open(path: &Path) -> std::io::Result<Self> {
        let mut options = OpenOptions::new();
        options.append(true).create(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        Ok(AuditLog {
            path: path.to_path_buf(),
            file: Mutex::new(options.open(path)?),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one line (one write, so lines of concurrent calls never interleave).
    pub fn record(&self, entry: &Entry<'_>) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(entry).map_err(std::io::Error::other)?;
        line.push(b'\n');
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        file.write_all(&line)?;
        file.flush()
    }
}

/// Argument names whose values are never recorded.
const SECRET_WORDS: &[&str] = &["password", "passphrase", "secret", "token", "key_data"];

/// The arguments with secret-looking values replaced by `"<redacted>"`.
pub fn redacted(args: Option<&Map<String, Value>>) -> Value {
    fn walk(v: &Value) -> Value {
        match v {
            Value::Object(o) => Value::Object(
                o.iter()
                    .map(|(k, v)| {
                        let lower = k.to_ascii_lowercase();
                        if SECRET_WORDS.iter().any(|w| lower.contains(w)) {
                            (k.clone(), Value::String("<redacted>".into()))
                        } else {
                            (k.clone(), walk(v))
                        }
                    })
                    .collect(),
            ),
            Value::Array(a) => Value::Array(a.iter().map(walk).collect()),
            other => other.clone(),
        }
    }
    args.map(|a| walk(&Value::Object(a.clone())))
        .unwrap_or(Value::Object(Map::new()))
}

/// `t` as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn rfc3339(t: SystemTime) -> String {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    let u = crate::time::Utc::from_unix(since.as_secs());
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        u.year,
        u.month,
        u.day,
        u.hour,
        u.minute,
        u.second,
        since.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn times_are_utc_rfc3339() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let t = UNIX_EPOCH + Duration::from_millis(951_782_400_123); // a leap day
        assert_eq!(rfc3339(t), "2000-02-29T00:00:00.123Z");
        let t = UNIX_EPOCH + Duration::from_secs(1_796_083_199);
        assert_eq!(rfc3339(t), "2026-11-30T23:59:59.000Z");
    }

    #[test]
    fn secret_looking_arguments_are_redacted() {
        let args = json!({"command": "ls", "db_password": "x", "nested": {"Token": "y"}});
        assert_eq!(
            redacted(args.as_object()),
            json!({"command": "ls", "db_password": "<redacted>", "nested": {"Token": "<redacted>"}})
        );
    }

    #[test]
    fn lines_are_appended_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let log = AuditLog::open(&path).unwrap();
        for tool in ["a", "b"] {
            log.record(&Entry {
                time: rfc3339(SystemTime::now()),
                client: None,
                host: "root@h:22",
                host_name: "h",
                tool,
                arguments: json!({}),
                outcome: "ok",
                error: None,
                duration_ms: 1,
            })
            .unwrap();
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1]["tool"], "b");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
