//! The architecture's invariants (ARCHITECTURE.md, "Invariants"), checked by reading the
//! workspace's sources: a broken invariant fails the build's tests, not a review.
//!
//! Each check reads files as text; comments are skipped where they could mislead.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The workspace root (this crate lives in `tests/`).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root")
        .to_path_buf()
}

/// Every `.rs` file below `dir`, relative to the workspace root, sorted.
fn rust_files(dir: &str) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    walk(&root().join(dir), &mut out);
    out.sort();
    out.into_iter()
        .map(|p| p.strip_prefix(root()).unwrap().to_path_buf())
        .collect()
}

fn read(rel: &Path) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{}: {e}", rel.display()))
}

/// The lines of a file that are code: `//` comments (doc comments included) dropped.
fn code_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines().enumerate().filter_map(|(i, l)| {
        let t = l.trim_start();
        (!t.starts_with("//")).then_some((i + 1, l))
    })
}

/// Lines of `files` (code only) that contain `needle`, as `path:line`.
fn uses(files: &[PathBuf], needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for f in files {
        let text = read(f);
        for (n, line) in code_lines(&text) {
            if line.contains(needle) {
                found.push(format!("{}:{n}", f.display()));
            }
        }
    }
    found
}

#[test]
fn rmcp_is_known_only_to_the_tools_the_transport_and_the_entry_points() {
    let allowed = |p: &Path| {
        p.starts_with("server/src/tools")
            || [
                "server/src/transport.rs",
                "server/src/http.rs",
                "server/src/main.rs",
                "server/src/demo.rs",
            ]
            .iter()
            .any(|a| p == Path::new(a))
    };
    let files: Vec<PathBuf> = rust_files("server/src")
        .into_iter()
        .filter(|p| !allowed(p))
        .collect();
    let found = uses(&files, "rmcp");
    assert!(
        found.is_empty(),
        "rmcp outside server/src/tools, transport.rs, http.rs, main.rs and demo.rs: {found:?}"
    );
}

#[test]
fn the_server_never_uses_the_fake_pct_emulator() {
    // The server's parsers and the fake's emulators are written from the specs
    // apart, so that one can catch the other's mistake.
    let files = rust_files("server");
    for emulator in [
        "fake_pve::pct",
        "fake_pve::vzdump",
        "fake_pve::pvesm",
        "fake_pve::backup",
        "fake_pve::pvesh",
        "fake_pve::qm",
    ] {
        let found = uses(&files, emulator);
        assert!(found.is_empty(), "the server uses {emulator}: {found:?}");
    }
}

#[test]
fn fake_pve_never_starts_a_real_process() {
    let files = rust_files("fake-pve/src");
    let mut found = uses(&files, "std::process::Command");
    found.extend(uses(&files, "tokio::process"));
    assert!(found.is_empty(), "fake-pve/src starts processes: {found:?}");
}

#[test]
fn one_function_quotes_for_the_shell() {
    let files: Vec<PathBuf> = rust_files("server/src")
        .into_iter()
        .filter(|p| p != Path::new("server/src/quote.rs"))
        .collect();
    let mut found = uses(&files, "shlex::try_quote");
    found.extend(uses(&files, "shlex::quote"));
    assert!(
        found.is_empty(),
        "shell quoting outside server/src/quote.rs: {found:?}"
    );
}

/// The top-level module of `fake-pve/src` a file belongs to (`ssh`, `pct`, …).
fn top_module(rel: &Path) -> Option<String> {
    let inner = rel.strip_prefix("fake-pve/src").ok()?;
    let first = inner.components().next()?.as_os_str().to_string_lossy();
    let name = first.trim_end_matches(".rs").to_string();
    (!matches!(name.as_str(), "lib" | "main")).then_some(name)
}

/// `crate::X` references of each top-level module of fake-pve (X another module).
fn fake_pve_edges() -> BTreeMap<String, BTreeSet<String>> {
    let files = rust_files("fake-pve/src");
    let modules: BTreeSet<String> = files.iter().filter_map(|f| top_module(f)).collect();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in &files {
        let Some(from) = top_module(f) else { continue };
        // A module's own unit tests may reach anywhere.
        if f.ends_with("tests.rs") {
            continue;
        }
        let text = read(f);
        for (_, line) in code_lines(&text) {
            let mut rest = line;
            while let Some(i) = rest.find("crate::") {
                rest = &rest[i + "crate::".len()..];
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if name != from && modules.contains(&name) {
                    edges.entry(from.clone()).or_default().insert(name);
                }
            }
            // `use crate::{a, b::c}` groups.
            if let Some(i) = line.find("crate::{") {
                for part in line[i + "crate::{".len()..].split([',', '}']) {
                    let name: String = part
                        .trim()
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    if name != from && modules.contains(&name) {
                        edges.entry(from.clone()).or_default().insert(name);
                    }
                }
            }
        }
    }
    edges
}

/// A cycle in `edges`, if there is one, as a path `a -> b -> … -> a`.
fn find_cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(node.to_string(), 1);
        stack.push(node.to_string());
        for next in edges.get(node).into_iter().flatten() {
            match state.get(next.as_str()).copied().unwrap_or(0) {
                1 => {
                    let at = stack.iter().position(|s| s == next).unwrap();
                    let mut cycle = stack[at..].to_vec();
                    cycle.push(next.clone());
                    return Some(cycle);
                }
                0 => {
                    if let Some(c) = visit(next, edges, state, stack) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(node.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for node in edges.keys() {
        if state.get(node.as_str()).copied().unwrap_or(0) == 0 {
            let mut stack = Vec::new();
            if let Some(c) = visit(node, edges, &mut state, &mut stack) {
                return Some(c);
            }
        }
    }
    None
}

#[test]
fn the_cycle_finder_finds_cycles() {
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    edges.entry("a".into()).or_default().insert("b".into());
    edges.entry("b".into()).or_default().insert("c".into());
    assert_eq!(find_cycle(&edges), None);
    edges.entry("c".into()).or_default().insert("a".into());
    assert_eq!(
        find_cycle(&edges),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
}

#[test]
fn fake_pve_modules_import_each_other_without_a_cycle() {
    let edges = fake_pve_edges();
    assert!(
        !edges.is_empty(),
        "no module edges found: the reader is broken"
    );
    if let Some(cycle) = find_cycle(&edges) {
        panic!(
            "fake-pve's modules import each other in a circle: {}\nall edges: {edges:#?}",
            cycle.join(" -> ")
        );
    }
    // The layers: the process layer and the state know no program, shell or pct.
    for low in ["proc", "unix", "fs", "process", "host", "io"] {
        let refs = edges.get(low).cloned().unwrap_or_default();
        assert!(
            !refs.contains("programs") && !refs.contains("shell") && !refs.contains("pct"),
            "{low} reaches up into {refs:?}"
        );
    }
    // Only the program table reaches the shell: the shell is one program.
    for (module, refs) in &edges {
        assert!(
            !refs.contains("shell") || module == "programs",
            "{module} imports the shell; go through the program table"
        );
    }
}

#[test]
fn no_source_file_is_over_900_lines_except_tests() {
    let mut long = Vec::new();
    for dir in [
        "server/src",
        "fake-pve/src",
        "test-hosts/src",
        "tests/src",
        "testkit/src",
    ] {
        for f in rust_files(dir) {
            if f.ends_with("tests.rs") || f.components().any(|c| c.as_os_str() == "tests") {
                continue;
            }
            let n = read(&f).lines().count();
            if n > 900 {
                long.push(format!("{} ({n} lines)", f.display()));
            }
        }
    }
    assert!(long.is_empty(), "split these: {long:?}");
}

#[test]
fn test_support_needs_no_dead_code_allowance() {
    let mut files = rust_files("server/tests");
    files.extend(rust_files("fake-pve/tests"));
    files.extend(rust_files("test-hosts/tests"));
    files.extend(rust_files("tests/tests"));
    files.extend(rust_files("testkit"));
    // Spelt in two halves, so that this line does not find itself.
    let found = uses(&files, concat!("allow(", "dead_code)"));
    assert!(found.is_empty(), "dead code allowed in: {found:?}");
}
