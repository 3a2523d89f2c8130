//! JSON as Perl's JSON module writes it with `canonical` (keys sorted): compact on one
//! line, or pretty with a 3-space indent and `"key" : value`. pvesh's `json` and
//! `json-pretty` output formats and qm's agent results (pve-common CLIFormatter.pm,
//! qemu-server qm.pm) share it.

use serde_json::Value;

/// JSON text of `v` with every object's keys sorted.
fn write_json(v: &Value, pretty: bool, depth: usize, out: &mut String) {
    let indent = |d: usize| "   ".repeat(d);
    match v {
        Value::Object(m) if !m.is_empty() => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                if pretty {
                    out.push('\n');
                    out.push_str(&indent(depth + 1));
                }
                out.push_str(&Value::String((*k).clone()).to_string());
                out.push_str(if pretty { " : " } else { ":" });
                write_json(&m[k.as_str()], pretty, depth + 1, out);
            }
            if pretty {
                out.push('\n');
                out.push_str(&indent(depth));
            }
            out.push('}');
        }
        Value::Array(a) if !a.is_empty() => {
            out.push('[');
            for (i, item) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                if pretty {
                    out.push('\n');
                    out.push_str(&indent(depth + 1));
                }
                write_json(item, pretty, depth + 1, out);
            }
            if pretty {
                out.push('\n');
                out.push_str(&indent(depth));
            }
            out.push(']');
        }
        Value::Object(_) => out.push_str("{}"),
        Value::Array(_) => out.push_str("[]"),
        other => out.push_str(&other.to_string()),
    }
}

/// `--output-format json`: one line, then a newline.
pub fn json(v: &Value) -> String {
    let mut s = String::new();
    write_json(v, false, 0, &mut s);
    s.push('\n');
    s
}

/// `--output-format json-pretty`.
pub fn json_pretty(v: &Value) -> String {
    let mut s = String::new();
    write_json(v, true, 0, &mut s);
    s.push('\n');
    s
}
