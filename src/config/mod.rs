//! `fcctl.yaml`: the one project file a user edits — typed, strictly validated, layered.
//!
//! Layers, lowest first: built-in defaults < `fcctl.yaml` < `FCCTL_*` environment variables <
//! command-line flags. Every error names the file, line and column, the key path, and a
//! "did you mean" suggestion where a key or value is close to a valid one.

mod error;
mod load;
mod schema;
mod validate;

pub use error::ConfigError;
pub use load::{Loader, error_at, parse_str, parse_yaml, suggest};
pub use schema::*;
pub use validate::validate;

pub const FILE_NAME: &str = "fcctl.yaml";

#[cfg(test)]
pub(crate) mod testing {
    use super::{Config, ConfigError, Loader};

    #[allow(clippy::result_large_err)]
    pub(crate) fn load(text: &str) -> Result<Config, ConfigError> {
        Loader::default().load_str(text, "fcctl.yaml", Vec::new())
    }

    pub(super) fn ok(text: &str) -> Config {
        load(text).unwrap_or_else(|e| panic!("{e}"))
    }

    pub(super) fn err(text: &str) -> ConfigError {
        load(text).expect_err("must fail")
    }
}
