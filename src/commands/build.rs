//! `fcctl build`: compile the function for the FC runtime, package code.zip and the NAS tree.

use crate::cli::BuildArgs;
use crate::commands::Ctx;

/// Prints the build result.
pub async fn run(_ctx: &Ctx, _a: BuildArgs) -> anyhow::Result<()> {
    super::not_yet("build", 6)
}
