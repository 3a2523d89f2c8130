//! pve-common's option parsing, the same for every emulated Proxmox CLI (pct, qm,
//! qmrestore, vzdump, pvesh): Getopt::Long as JSONSchema::get_options configures it,
//! and the binding of the words left to the positional parameters.

use std::collections::BTreeMap;

/// What an option takes, in Getopt::Long terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `:s` — an optional value; a bare flag means true.
    Bool,
    /// `=s` — a mandatory value (also integers; they are checked afterwards).
    Value,
    /// `=s@` — a mandatory value, repeatable.
    List,
}

/// A parsed option value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Val {
    One(String),
    Many(Vec<String>),
}

/// What Getopt::Long made of the words: option values, the remaining words, and its
/// warnings (non-empty means it failed).
pub(crate) struct Getopt {
    pub values: BTreeMap<&'static str, Val>,
    pub words: Vec<String>,
    pub warnings: String,
}

impl Getopt {
    /// The words left fill the positional parameters in turn (overriding an option of
    /// the same name; `extra-args` takes the rest); a parameter given only as an
    /// option does not count. The error is pve-common's message, without its `400 `.
    pub(crate) fn bind_positional(
        &mut self,
        positional: &'static [&'static str],
    ) -> Result<(), &'static str> {
        if !self.words.is_empty()
            && positional.contains(&"extra-args")
            && self.values.contains_key("extra-args")
        {
            // `--extra-args` given as an option trips pve-common's own sanity check.
            return Err("internal error: extra-args must be the last argument");
        }
        let mut words = std::mem::take(&mut self.words).into_iter();
        for param in positional {
            if *param == "extra-args" {
                self.values
                    .insert("extra-args", Val::Many(words.by_ref().collect()));
                continue;
            }
            let Some(w) = words.next() else {
                return Err("not enough arguments");
            };
            self.values.insert(param, Val::One(w));
        }
        if words.next().is_some() {
            return Err("too many arguments");
        }
        Ok(())
    }
}

/// Getopt::Long with `prefix_pattern=(--|-)`, permute, auto_abbrev and ignore_case:
/// pve-common's CLIHandler, the same for every Proxmox command-line tool.
pub(crate) fn getopt(args: &[String], options: &[(&'static str, Kind)]) -> Getopt {
    let mut out = Getopt {
        values: BTreeMap::new(),
        words: Vec::new(),
        warnings: String::new(),
    };
    let mut names: Vec<(String, &'static str, Kind)> = options
        .iter()
        .map(|(n, k)| (n.to_ascii_lowercase(), *n, *k))
        .collect();
    names.sort_by(|a, b| a.0.cmp(&b.0));
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        if arg == "--" {
            out.words.extend(args[i..].iter().cloned());
            break;
        }
        let body = match arg.strip_prefix("--").or_else(|| arg.strip_prefix('-')) {
            Some(body) if arg != "-" => body,
            _ => {
                out.words.push(arg.clone());
                continue;
            }
        };
        let (name, inline) = match body.get(1..).and_then(|rest| rest.find('=')) {
            Some(pos) => (&body[..pos + 1], Some(&body[pos + 2..])),
            None => (body, None),
        };
        let name = name.to_ascii_lowercase();
        let hits: Vec<&(String, &'static str, Kind)> = names
            .iter()
            .filter(|(n, _, _)| n.starts_with(&name))
            .collect();
        let hit = match hits.iter().find(|(n, _, _)| *n == name) {
            Some(exact) => *exact,
            None if hits.len() == 1 => hits[0],
            None if hits.is_empty() => {
                out.warnings.push_str(&format!("Unknown option: {name}\n"));
                continue;
            }
            None => {
                let list: Vec<&str> = hits.iter().map(|(n, _, _)| n.as_str()).collect();
                out.warnings.push_str(&format!(
                    "Option {name} is ambiguous ({})\n",
                    list.join(", ")
                ));
                continue;
            }
        };
        let (_, canonical, kind) = *hit;
        let value = match (kind, inline) {
            (Kind::Bool, Some(v)) => v.to_string(),
            (Kind::Bool, None) => match args.get(i) {
                Some(next) if next == "-" || !(next == "--" || is_option_like(next)) => {
                    i += 1;
                    next.clone()
                }
                _ => String::new(),
            },
            (_, Some(v)) if !v.is_empty() => v.to_string(),
            (_, Some(_)) => {
                out.warnings
                    .push_str(&format!("Option {name} requires an argument\n"));
                continue;
            }
            (_, None) => match args.get(i) {
                Some(next) => {
                    i += 1;
                    next.clone()
                }
                None => {
                    out.warnings
                        .push_str(&format!("Option {name} requires an argument\n"));
                    continue;
                }
            },
        };
        match kind {
            Kind::List => match out
                .values
                .entry(canonical)
                .or_insert_with(|| Val::Many(Vec::new()))
            {
                Val::Many(list) => list.push(value),
                one => *one = Val::Many(vec![value]),
            },
            _ => {
                out.values.insert(canonical, Val::One(value));
            }
        }
    }
    out
}

/// A word Getopt would take for an option: a dash followed by anything.
fn is_option_like(word: &str) -> bool {
    word.len() > 1 && word.starts_with('-')
}
