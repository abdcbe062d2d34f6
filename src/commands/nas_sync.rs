//! `fcctl nas-sync`: upload the NAS tree as an atomic, versioned release.

use crate::cli::NasSyncArgs;
use crate::commands::Ctx;

/// Prints the sync result.
pub async fn run(_ctx: &Ctx, _a: NasSyncArgs) -> anyhow::Result<()> {
    super::not_yet("nas-sync", 6)
}
