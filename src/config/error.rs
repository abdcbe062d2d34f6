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
        write!(f, "{}", self.message)?;
        if let Some(s) = &self.snippet {
            write!(f, "\n    | {s}")?;
        }
        Ok(())
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
    fn display_is_file_line_col() {
        let e = err("app: cat-dog\nfunction:\n  memory_mb: 1000\n");
        assert!(
            e.to_string()
                .starts_with("fcctl.yaml:3:3: `function.memory_mb`"),
            "{e}"
        );
    }
}
