//! The one function that quotes a string for a POSIX shell. Every word that reaches a
//! remote shell goes through it; property tests prove it round-trips through real
//! shell parsers (shlex and fake-pve's brush-parser-based shell).

/// A string that cannot be passed through a shell (it holds a NUL byte).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} contains a NUL byte, which no shell command can carry")]
pub struct Unquotable {
    pub what: &'static str,
}

/// Quotes `word` so that a POSIX shell reads it back as exactly one word, unchanged.
/// `what` names the value in the error (e.g. "the command").
pub fn quote(word: &str, what: &'static str) -> Result<String, Unquotable> {
    if word.is_empty() {
        return Ok("''".to_string());
    }
    shlex::try_quote(word)
        .map(|q| q.into_owned())
        .map_err(|_| Unquotable { what })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn simple_and_nasty_words() {
        assert_eq!(quote("", "x").unwrap(), "''");
        for word in [
            "abc",
            "a b",
            "it's",
            "$(rm -rf /)",
            "`x`",
            "a\nb",
            "{a,b}",
            "~root",
            "*",
            "-n",
            "é ü",
        ] {
            let q = quote(word, "x").unwrap();
            assert_eq!(shlex::split(&q).unwrap(), vec![word.to_string()], "{q}");
        }
        assert!(
            quote("a\0b", "the path")
                .unwrap_err()
                .to_string()
                .starts_with("the path")
        );
    }

    proptest! {
        #[test]
        fn round_trips_through_shlex(word in "[^\0]{0,40}") {
            let q = quote(&word, "x").unwrap();
            prop_assert_eq!(shlex::split(&q).unwrap(), vec![word]);
        }
    }
}
