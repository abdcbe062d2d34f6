use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = fcctl::cli::Cli::parse();
    fcctl::commands::run(cli).into()
}
