//! Tool parameters: their JSON schemas (the public contract) and their validation.
//! Arguments arrive as raw JSON and are checked here before any I/O, so that every
//! mistake becomes a tool error that names the parameter and the fix.

use schemars::JsonSchema;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::output::{Failure, ResponseFormat};

/// A bad argument: which one, what was wrong, how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid `{param}`: {problem}")]
pub struct InvalidParam {
    pub param: String,
    pub problem: String,
    pub fix: String,
}

impl From<InvalidParam> for Failure {
    fn from(e: InvalidParam) -> Self {
        let error = e.to_string();
        Failure::new(error, e.fix)
    }
}

fn invalid(param: &str, problem: impl Into<String>, fix: impl Into<String>) -> InvalidParam {
    InvalidParam {
        param: param.into(),
        problem: problem.into(),
        fix: fix.into(),
    }
}

/// Deserializes raw arguments, naming the parameter that was wrong.
pub fn parse<T: DeserializeOwned>(
    args: serde_json::Map<String, serde_json::Value>,
) -> Result<T, InvalidParam> {
    let value = serde_json::Value::Object(args);
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let msg = e.inner().to_string();
        // Missing and unknown fields are reported at the top level; name them.
        let param = if path == "." {
            msg.split('`').nth(1).unwrap_or("arguments").to_string()
        } else {
            path
        };
        invalid(
            &param,
            msg,
            "Check the tool's input schema for the expected parameters and types.",
        )
    })
}

/// The exec tools' `timeout`: whole seconds, 1 to [`Timeout::MAX`] (default 30).
/// Given as a number (`30`, or `30.0`: JSON Schema counts that as an integer) or a string
/// of one (`"30"`), as the reference server took it; a value above the maximum is
/// clamped to it, as the reference did, and the result says so. Zero, negative or
/// fractional values are refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeout {
    pub secs: u64,
    /// What was asked, when it was above the maximum.
    pub clamped_from: Option<u64>,
}

impl Timeout {
    pub const MAX: u64 = 300;
    pub const DEFAULT: u64 = 30;

    /// A sentence for the result when the value was clamped.
    pub fn note(&self) -> Option<String> {
        self.clamped_from.map(|asked| {
            format!(
                "timeout {asked} s is above the maximum of {} s; {} s was used",
                Self::MAX,
                self.secs
            )
        })
    }

    fn from_number(n: f64) -> Result<Self, String> {
        if !n.is_finite() || n.fract() != 0.0 {
            return Err(format!(
                "{n} is not a whole number of seconds (give 1 to {})",
                Self::MAX
            ));
        }
        if n < 1.0 {
            return Err(format!("{n} is below 1 second (give 1 to {})", Self::MAX));
        }
        let asked = if n >= u64::MAX as f64 {
            u64::MAX
        } else {
            n as u64
        };
        Ok(if asked > Self::MAX {
            Timeout {
                secs: Self::MAX,
                clamped_from: Some(asked),
            }
        } else {
            Timeout {
                secs: asked,
                clamped_from: None,
            }
        })
    }
}

impl Default for Timeout {
    fn default() -> Self {
        Timeout {
            secs: Self::DEFAULT,
            clamped_from: None,
        }
    }
}

impl<'de> Deserialize<'de> for Timeout {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::Number(n) => {
                let n = n.as_f64().ok_or_else(|| D::Error::custom("not a number"))?;
                Timeout::from_number(n).map_err(D::Error::custom)
            }
            serde_json::Value::String(s) => match s.trim().parse::<f64>() {
                Ok(n) => Timeout::from_number(n).map_err(D::Error::custom),
                Err(_) => Err(D::Error::custom(format!(
                    "{s:?} is not a number of seconds (give 1 to {})",
                    Timeout::MAX
                ))),
            },
            other => Err(D::Error::custom(format!(
                "invalid type: {other}, expected a number of seconds (1 to {})",
                Timeout::MAX
            ))),
        }
    }
}

impl serde::Serialize for Timeout {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.secs)
    }
}

impl JsonSchema for Timeout {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Timeout".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({"type": "integer", "minimum": 1, "maximum": Timeout::MAX})
    }
}

/// `ssh_exec_command` arguments.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExecParams {
    /// The shell command to run on the host (1-10000 characters), e.g. `df -h`. It runs in
    /// the login shell of the SSH user, without a terminal and without standard input.
    #[schemars(length(min = 1, max = 10000))]
    pub command: String,
    /// Wall-clock limit in whole seconds for the whole command (1-300, default 30; a larger
    /// value is clamped to 300, and the result says so). When it
    /// expires the remote command is ended and the partial output returned.
    #[serde(default)]
    pub timeout: Timeout,
    /// `text` (default) for readable sections, or `json` for one JSON object.
    #[serde(default)]
    pub response_format: ResponseFormat,
}

impl ExecParams {
    pub fn validate(&self) -> Result<(), InvalidParam> {
        check_command(&self.command)
    }
}

/// The `command` of either exec tool: 1 to 10000 characters, not starting with '-'.
pub fn check_command(command: &str) -> Result<(), InvalidParam> {
    check_text(
        "command",
        command,
        10_000,
        "Give a command of 1 to 10000 characters.",
    )?;
    // Both exec tools run `SHELL -c COMMAND`: a leading '-' would be read as an
    // option of that shell (`sh -c -x` fails with "-c requires an argument").
    if command.starts_with('-') {
        return Err(invalid(
            "command",
            "starts with '-', which the shell would take as one of its own options",
            "Start the command with a program name, e.g. `ls -l`; to run a program whose name \
             starts with '-', give its path, e.g. `./-name`.",
        ));
    }
    Ok(())
}

// 3 or 4 octal digits. A fourth (leading) digit holds the special bits, setuid 4,
// setgid 2 and sticky 1: legitimate modes (4755 for a setuid program, 1777 for a shared
// directory), so every mode chmod accepts, 7777 included, is accepted. (A plain comment:
// a doc comment here would change the published input schema.)
/// Octal permission bits, given as a string ("644") or a number (644).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Permissions {
    Text(String),
    Number(u64),
}

impl Permissions {
    /// The mode bits, e.g. "4755" → 0o4755.
    pub fn mode(&self, param: &str) -> Result<u32, InvalidParam> {
        let digits = match self {
            Permissions::Text(s) => s.trim().to_string(),
            Permissions::Number(n) => n.to_string(),
        };
        let ok =
            (3..=4).contains(&digits.len()) && digits.chars().all(|c| ('0'..='7').contains(&c));
        match u32::from_str_radix(&digits, 8) {
            Ok(mode) if ok => Ok(mode),
            _ => Err(invalid(
                param,
                format!("{digits:?} is not an octal mode"),
                "Give 3 or 4 octal digits, e.g. 644, 755, 600 or 4755.",
            )),
        }
    }
}

/// `ssh_upload_file` arguments.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UploadParams {
    /// Path of the file on this machine (the one running the MCP server); relative
    /// paths start from the server's working directory.
    #[schemars(length(min = 1, max = 4096))]
    pub local_path: String,
    /// Full path of the file to create on the remote host (relative paths start in the
    /// SSH user's home directory).
    #[schemars(length(min = 1, max = 4096))]
    pub remote_path: String,
    /// Octal permissions for the remote file, e.g. "644", "755", "600", "4755". Without
    /// it a replaced file keeps its mode and a new file gets 644.
    #[serde(default)]
    pub permissions: Option<Permissions>,
    /// Replace the remote file if it exists (default false: an existing file is refused).
    #[serde(default)]
    pub overwrite: bool,
}

/// `ssh_download_file` arguments.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DownloadParams {
    /// Path of the file on the remote host (relative paths start in the SSH user's home).
    #[schemars(length(min = 1, max = 4096))]
    pub remote_path: String,
    /// Path of the file to create on this machine; its directory must exist.
    #[schemars(length(min = 1, max = 4096))]
    pub local_path: String,
    /// Replace the local file if it exists (default false).
    #[serde(default)]
    pub overwrite: bool,
}

/// Checks a text argument: not empty, not too long, no NUL byte.
pub fn check_text(param: &str, value: &str, max: usize, fix: &str) -> Result<(), InvalidParam> {
    let len = value.chars().count();
    if value.trim().is_empty() {
        return Err(invalid(param, "is empty", fix));
    }
    if len > max {
        return Err(invalid(
            param,
            format!("is {len} characters, more than {max}"),
            fix,
        ));
    }
    if value.contains('\0') {
        return Err(invalid(param, "contains a NUL byte", fix));
    }
    Ok(())
}

pub fn check_path(param: &str, value: &str) -> Result<(), InvalidParam> {
    check_text(
        param,
        value,
        4096,
        "Give a file path of 1 to 4096 characters.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn args(v: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn exec_defaults_and_limits() {
        let p: ExecParams = parse(args(json!({"command": "ls"}))).unwrap();
        assert_eq!(
            (p.timeout, p.response_format),
            (Timeout::default(), ResponseFormat::Text)
        );
        assert_eq!(p.timeout.secs, 30);
        p.validate().unwrap();
        let p: ExecParams = parse(args(json!({"command": ""}))).unwrap();
        assert_eq!(p.validate().unwrap_err().param, "command");
        for c in ["-x", "--version", "-c touch /tmp/m"] {
            let p: ExecParams = parse(args(json!({ "command": c }))).unwrap();
            assert_eq!(p.validate().unwrap_err().param, "command", "{c}");
        }
        let p: ExecParams = parse(args(json!({"command": "ls -l -- -x"}))).unwrap();
        p.validate().unwrap();
        let p: ExecParams = parse(args(json!({"command": "x".repeat(10_001)}))).unwrap();
        assert!(
            p.validate()
                .unwrap_err()
                .problem
                .contains("10001 characters")
        );
    }

    #[test]
    fn timeouts_are_whole_seconds_in_any_exact_form_and_clamped_above_the_maximum() {
        let t = |v: serde_json::Value| {
            parse::<ExecParams>(args(json!({"command": "ls", "timeout": v}))).map(|p| p.timeout)
        };
        for ok in [
            json!(30),
            json!(30.0),
            json!("30"),
            json!(" 30 "),
            json!("30.0"),
        ] {
            assert_eq!(
                t(ok.clone()).unwrap(),
                Timeout {
                    secs: 30,
                    clamped_from: None
                },
                "{ok}"
            );
        }
        let clamped = t(json!(600)).unwrap();
        assert_eq!((clamped.secs, clamped.clamped_from), (300, Some(600)));
        assert!(
            clamped
                .note()
                .unwrap()
                .contains("600 s is above the maximum of 300 s")
        );
        assert_eq!(t(json!(300)).unwrap().clamped_from, None);
        for bad in [
            json!(0),
            json!(-5),
            json!(30.5),
            json!("soon"),
            json!(true),
            json!(null),
        ] {
            let e = t(bad.clone()).unwrap_err();
            assert_eq!(e.param, "timeout", "{bad}: {e:?}");
        }
        assert!(
            t(json!(30.5))
                .unwrap_err()
                .problem
                .contains("not a whole number")
        );
        assert!(t(json!(0)).unwrap_err().problem.contains("below 1 second"));
    }

    #[test]
    fn bad_types_name_the_parameter() {
        let e = parse::<ExecParams>(args(json!({"command": "ls", "timeout": "soon"}))).unwrap_err();
        assert!(e.problem.contains("not a number of seconds"), "{e:?}");
        assert_eq!(e.param, "timeout", "{e:?}");
        let e = parse::<ExecParams>(args(json!({"timeout": 3}))).unwrap_err();
        assert_eq!(e.param, "command", "{e:?}");
        let e = parse::<ExecParams>(args(json!({"command": "ls", "timout": 3}))).unwrap_err();
        assert_eq!(e.param, "timout", "{e:?}");
        let e = parse::<ExecParams>(args(json!({"command": "ls", "response_format": "xml"})))
            .unwrap_err();
        assert!(e.problem.contains("unknown variant"), "{e:?}");
    }

    #[test]
    fn permissions_are_octal_digits() {
        assert_eq!(Permissions::Text("644".into()).mode("p").unwrap(), 0o644);
        assert_eq!(Permissions::Number(4755).mode("p").unwrap(), 0o4755);
        assert_eq!(Permissions::Text("0600".into()).mode("p").unwrap(), 0o600);
        assert_eq!(Permissions::Text("7777".into()).mode("p").unwrap(), 0o7777);
        assert_eq!(
            Permissions::Number(0).mode("p").err().map(|e| e.param),
            Some("p".into())
        );
        for bad in ["9", "rwx", "77777", "64", "-644", "0x1ff"] {
            assert!(Permissions::Text(bad.into()).mode("p").is_err(), "{bad}");
        }
    }
}
