//! `fcctl completions <shell>`.

use clap::CommandFactory as _;

use crate::cli::{Cli, CompletionsArgs};

/// Prints completions for the shell to stdout.
pub fn run(a: CompletionsArgs) -> anyhow::Result<()> {
    let mut cmd = Cli::command();
    // Into a buffer first: clap_complete panics on a write error, and a closed pipe
    // (`fcctl completions bash | head`) is not an error.
    let mut script = Vec::new();
    clap_complete::generate(a.shell, &mut cmd, "fcctl", &mut script);
    crate::printer::write_stdout(&script);
    Ok(())
}
