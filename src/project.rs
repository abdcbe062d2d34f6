//! The project on disk: where fcctl.yaml lives, the paths derived from it, and its config.

use std::path::{Path, PathBuf};

use crate::config::{self, Config, ConfigError};
use crate::fsutil::absolute_dir;

/// One fcctl project, located from the `--config` path.
#[derive(Debug, Clone)]
pub struct Project {
    /// Absolute and canonical: these paths are handed to child processes (cargo, build scripts,
    /// the emulator) that run in other directories, where a relative `./.venv/bin` finds nothing.
    dir: PathBuf,
    config_file: PathBuf,
    region_override: Option<String>,
}

impl Project {
    /// The project whose config file is `config_file`; `region_override` is `--region`.
    pub fn locate(config_file: &Path, region_override: Option<String>) -> Project {
        let dir = absolute_dir(match config_file.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        });
        Project {
            dir,
            config_file: config_file.to_path_buf(),
            region_override,
        }
    }

    /// Where fcctl.yaml lives.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A path from fcctl.yaml: relative ones are relative to the project directory.
    pub fn path(&self, p: &Path) -> PathBuf {
        if p.is_relative() {
            self.dir.join(p)
        } else {
            p.to_path_buf()
        }
    }

    /// fcctl.yaml itself.
    pub fn config_path(&self) -> PathBuf {
        self.path(&self.config_file)
    }

    /// `target/fcctl` under the project: build output, state, local emulator records.
    pub fn work_dir(&self) -> PathBuf {
        self.dir.join("target").join("fcctl")
    }

    /// Loads fcctl.yaml with `FCCTL_*` env and `--region` overrides.
    #[allow(clippy::result_large_err)] // once per run; every field is shown to the user
    pub fn config(&self) -> Result<Config, ConfigError> {
        let mut loader = config::Loader::default();
        if let Some(r) = &self.region_override {
            loader.flag_overrides.push(("region".into(), r.clone()));
        }
        loader.load(&self.config_file, std::env::vars())
    }
}
