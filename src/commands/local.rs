//! `fcctl local start|stop|status`: the local FC3 + OSS + NAS emulator.

use crate::cli::LocalCommand;
use crate::commands::Ctx;

/// Runs the emulator subcommands.
pub async fn run(_ctx: &Ctx, _c: LocalCommand) -> anyhow::Result<()> {
    super::not_yet("local", 9)
}
