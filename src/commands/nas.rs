//! `fcctl nas ls|gc`: list and garbage-collect NAS releases.

use crate::cli::NasCommand;
use crate::commands::Ctx;

/// Runs the subcommand.
pub async fn run(_ctx: &Ctx, _c: NasCommand) -> anyhow::Result<()> {
    super::not_yet("nas", 6)
}
