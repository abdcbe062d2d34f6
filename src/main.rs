use clap::Parser;

fn main() {
    let cli = fcctl::cli::Cli::parse();
    std::process::exit(fcctl::commands::run(cli));
}
