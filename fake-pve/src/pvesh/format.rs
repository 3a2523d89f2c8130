//! pvesh's output formats (pve-common CLIFormatter.pm:99-447): `json` (compact, keys
//! sorted, one line), `json-pretty` (keys sorted, 3-space indent, `"k" : v`) and the
//! `text` tables, the last only for the results whose schema fake-pve knows.

use serde_json::Value;

pub use crate::perl_json::{json, json_pretty};

/// How a column's values are rendered (a property's type and renderer).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Render {
    Text,
    /// A boolean: `1` or `0`, left-aligned.
    Bool,
    /// An integer or a number, as Perl prints it, right-aligned.
    Integer,
    Percentage,
    Bytes,
    Duration,
}

/// One column of a text table: the property and how it is rendered.
pub type Column = (&'static str, Render);

/// `PVE::Format::render_duration` with the accuracy limited (as the CLI calls it).
pub fn duration(secs: u64) -> String {
    if secs == 0 {
        return "0s".into();
    }
    let mut rest = secs;
    let mut parts = Vec::new();
    let mut step = |unit: &str, len: u64, parts: &mut Vec<String>| {
        let v = rest / len;
        if v > 0 {
            parts.push(format!("{v}{unit}"));
            rest -= v * len;
            true
        } else {
            false
        }
    };
    let weeks = step("w", 7 * 86400, &mut parts);
    let days = step("d", 86400, &mut parts) || weeks;
    step("h", 3600, &mut parts);
    if !weeks {
        step("m", 60, &mut parts);
    }
    if !days {
        step("s", 1, &mut parts);
    }
    parts.join(" ")
}

/// `PVE::Format::render_bytes`: two decimals and the largest binary unit.
pub fn bytes(value: f64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut unit = 0;
    let mut v = value;
    if value > 1023.0 {
        unit = ((value.ln() / 1024f64.ln()) as usize).min(UNITS.len() - 1);
        v = value / 1024f64.powi(unit as i32);
    }
    format!("{v:.2} {}", UNITS[unit])
}

fn cell(v: Option<&Value>, render: Render) -> String {
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return String::new();
    };
    let f = v.as_f64();
    match (render, f) {
        (Render::Percentage, Some(f)) => format!("{:.2}%", f * 100.0),
        (Render::Bytes, Some(f)) => bytes(f),
        (Render::Duration, Some(f)) => duration(f.round() as u64),
        (Render::Bool, _) => {
            let truthy = match v {
                Value::Bool(b) => *b,
                Value::Number(n) => n.as_f64() != Some(0.0),
                Value::String(s) => !s.is_empty() && s != "0",
                _ => true,
            };
            if truthy { "1" } else { "0" }.to_string()
        }
        _ => match v {
            Value::String(s) => s.clone(),
            Value::Object(_) | Value::Array(_) => json(v).trim_end().to_string(),
            other => other.to_string(),
        },
    }
}

/// A text table of `rows` (objects) in these columns, sorted by the first, with the
/// UTF-8 frame (`noborder`: none, space-separated; `noheader`: no title row).
pub fn table(rows: &[Value], columns: &[Column], noborder: bool, noheader: bool) -> String {
    let mut cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            columns
                .iter()
                .map(|(k, how)| cell(r.get(*k), *how))
                .collect()
        })
        .collect();
    let numeric = |how: Render| !matches!(how, Render::Text | Render::Bool);
    let first_numeric = columns.first().is_some_and(|(_, h)| numeric(*h));
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_by(|&a, &b| {
        let key = |i: usize| rows[i].get(columns[0].0);
        if first_numeric {
            let n = |i| key(i).and_then(Value::as_f64).unwrap_or(f64::MIN);
            n(a).total_cmp(&n(b))
        } else {
            cells[a][0].cmp(&cells[b][0])
        }
    });
    cells = order.into_iter().map(|i| cells[i].clone()).collect();
    let widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, (title, _))| {
            cells
                .iter()
                .map(|r| r[i].chars().count())
                .chain([title.chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let pad = |s: &str, i: usize| {
        let fill = " ".repeat(widths[i] - s.chars().count());
        if numeric(columns[i].1) {
            format!("{fill}{s}")
        } else {
            format!("{s}{fill}")
        }
    };
    let line = |vals: &[String]| -> String {
        if noborder {
            let last = vals.len() - 1;
            let parts: Vec<String> = vals
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    if i == last {
                        v.clone()
                    } else {
                        pad(v, i) + " "
                    }
                })
                .collect();
            return parts.concat() + "\n";
        }
        let parts: Vec<String> = vals.iter().enumerate().map(|(i, v)| pad(v, i)).collect();
        format!("│ {} │\n", parts.join(" │ "))
    };
    let rule = |l: &str, fill: &str, mid: &str, r: &str| -> String {
        let parts: Vec<String> = widths.iter().map(|w| fill.repeat(w + 2)).collect();
        format!("{l}{}{r}\n", parts.join(mid))
    };
    let mut out = String::new();
    if !noborder {
        out.push_str(&rule("┌", "─", "┬", "┐"));
    }
    if !noheader {
        let titles: Vec<String> = columns.iter().map(|(t, _)| t.to_string()).collect();
        out.push_str(&line(&titles));
    }
    for (i, r) in cells.iter().enumerate() {
        if !noborder && (i != 0 || !noheader) {
            if i == 0 {
                out.push_str(&rule("╞", "═", "╪", "╡"));
            } else {
                out.push_str(&rule("├", "─", "┼", "┤"));
            }
        }
        out.push_str(&line(r));
    }
    if !noborder {
        out.push_str(&rule("└", "─", "┴", "┘"));
    }
    out
}

/// An object as the two-column `key`/`value` table, keys sorted: the keys of
/// `schema` only, rendered as it says (every key as text without one).
pub fn key_value(obj: &Value, schema: Option<&[Column]>, noborder: bool, noheader: bool) -> String {
    let render = |k: &str| match schema {
        None => Some(Render::Text),
        Some(cols) => cols.iter().find(|(c, _)| *c == k).map(|(_, r)| *r),
    };
    let rows: Vec<Value> = obj
        .as_object()
        .map(|m| {
            m.iter()
                .filter(|(_, v)| !v.is_null())
                .filter_map(|(k, v)| {
                    let how = render(k)?;
                    Some(serde_json::json!({"key": k, "value": cell(Some(v), how)}))
                })
                .collect()
        })
        .unwrap_or_default();
    table(
        &rows,
        &[("key", Render::Text), ("value", Render::Text)],
        noborder,
        noheader,
    )
}
