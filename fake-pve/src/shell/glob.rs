//! Pathname expansion.

use super::Shell;
use crate::unix::glob_match;

impl Shell {
    /// Pathname expansion of the last component (`/var/log/*.log`, `*.txt`).
    pub(super) fn glob(&self, pattern: &str) -> Vec<String> {
        let (dir, pat) = match pattern.rfind('/') {
            Some(i) => (&pattern[..=i], &pattern[i + 1..]),
            None => ("", pattern),
        };
        if dir.contains('*') || dir.contains('?') {
            return Vec::new();
        }
        let abs = self.ctx.resolve(if dir.is_empty() { "." } else { dir });
        let Ok(entries) = self.ctx.with_fs(|fs| fs.list_dir(&abs)) else {
            return Vec::new();
        };
        entries
            .into_iter()
            .filter(|(name, _)| {
                (pat.starts_with('.') || !name.starts_with('.')) && glob_match(pat, name)
            })
            .map(|(name, _)| format!("{dir}{name}"))
            .collect()
    }
}
