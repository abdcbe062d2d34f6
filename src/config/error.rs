//! [`ConfigError`]: what went wrong, where (file:line:col or the env var / flag) and a hint.

use std::fmt;

/// A configuration error with its location.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct ConfigError {
    /// Where the bad value came from: a file path, an env var or a flag.
    pub origin: String,
    /// 1-based line and column, when known.
    pub position: Option<(u64, u64)>,
    /// Dotted key path, e.g. `function.memory_mb`.
    pub key_path: Option<String>,
    pub message: String,
    /// "did you mean" or another hint.
    pub hint: Option<String>,
    /// The source line, for context.
    pub snippet: Option<String>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.origin)?;
        if let Some((l, c)) = self.position {
            write!(f, ":{l}:{c}")?;
        }
        write!(f, ": ")?;
        if let Some(p) = &self.key_path {
            write!(f, "`{p}`: ")?;
        }
        write!(f, "{}", clip(&self.message))?;
        if let Some(s) = &self.snippet {
            write!(f, "\n    | {}", clip(s))?;
        }
        Ok(())
    }
}

/// Messages quote the offending value; a value can be megabytes long.
fn clip(s: &str) -> std::borrow::Cow<'_, str> {
    const MAX: usize = 300;
    match s.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}… ({} more bytes)", &s[..i], s.len() - i).into(),
        None => s.into(),
    }
}

impl crate::exit::Hint for ConfigError {
    fn hint(&self) -> Option<std::borrow::Cow<'_, str>> {
        self.hint.as_deref().map(std::borrow::Cow::Borrowed)
    }
}

#[cfg(test)]
mod tests {
    use crate::config::testing::err;

    #[test]
    fn a_huge_line_is_not_echoed_whole() {
        let huge = "x".repeat(2_000_000);
        for text in [
            format!("app: cat-dog\ncustom_domain:\n  name: a{huge}.example.com\n"),
            format!("app: cat-dog\nfunction:\n  memory_mb: [{huge}]\n"),
            format!("app: cat-dog\nfoo: {huge}\n"),
        ] {
            let shown = err(&text).to_string();
            assert!(
                shown.len() < 1_000,
                "{} bytes: {}",
                shown.len(),
                &shown[..400]
            );
        }
    }

    #[test]
    fn quoted_numbers_and_booleans_are_refused_with_the_key() {
        let e = err("app: cat-dog\nfunction:\n  memory_mb: '1024'\n");
        assert_eq!(e.key_path.as_deref(), Some("function.memory_mb"), "{e}");
        assert!(e.to_string().starts_with("fcctl.yaml:3:"), "{e}");
        assert!(e.hint.as_deref().unwrap().contains("remove the quotes"));
        let e = err("app: cat-dog\nprovision:\n  instances: \"2\"\n");
        assert_eq!(e.key_path.as_deref(), Some("provision.instances"), "{e}");
        // Strings that happen to look like numbers stay fine where a string is wanted.
        crate::config::testing::ok("app: cat-dog\nfunction:\n  env:\n    MODE: '0755'\n");
    }

    #[test]
    fn display_is_file_line_col() {
        let e = err("app: cat-dog\nfunction:\n  memory_mb: 1000\n");
        assert!(
            e.to_string()
                .starts_with("fcctl.yaml:3:3: `function.memory_mb`"),
            "{e}"
        );
    }
}
