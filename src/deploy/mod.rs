//! The control plane: what the function, trigger and custom domain should look like (from
//! fcctl.yaml, the build and the NAS release), how that differs from what exists, and the calls
//! that converge them. Commands in `src/commands/` only orchestrate and print.

pub mod digest;
pub mod plan;
pub mod version_stamp;

use std::path::Path;

use anyhow::Context as _;
use serde::Deserialize;

/// The parts of `target/fcctl/build.json` the control plane reads.
#[derive(Debug, Clone, Deserialize)]
pub struct BuiltCode {
    /// Path of code.zip.
    pub code_zip: String,
    /// CRC-64/ECMA of code.zip, decimal, as FC reports `codeChecksum`.
    pub code_zip_crc64: String,
}

impl BuiltCode {
    /// Reads the last build's manifest.
    pub fn load(work_dir: &Path) -> anyhow::Result<BuiltCode> {
        let path = work_dir.join("build.json");
        let bytes = std::fs::read(&path).with_context(|| {
            format!(
                "no build found ({} is missing); run `fcctl build` first",
                path.display()
            )
        })?;
        serde_json::from_slice(&bytes).with_context(|| {
            format!(
                "{} is not a build manifest; run `fcctl build` again",
                path.display()
            )
        })
    }
}
