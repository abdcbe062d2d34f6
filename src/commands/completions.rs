//! `fcctl completions <shell>`.

use clap::CommandFactory as _;

use crate::cli::{Cli, CompletionsArgs};

/// Prints completions for the shell to stdout.
pub fn run(a: CompletionsArgs) -> anyhow::Result<()> {
    let mut cmd = Cli::command();
    clap_complete::generate(a.shell, &mut cmd, "fcctl", &mut std::io::stdout());
    Ok(())
}
