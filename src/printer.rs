//! Output conventions: the result on stdout (human text or one JSON object), everything else on stderr.

use serde::Serialize;

/// Prints results in the mode the user chose.
#[derive(Debug, Clone, Copy)]
pub struct Printer {
    /// `--json` was given.
    pub json: bool,
    /// `--quiet` was given.
    pub quiet: bool,
}

impl Printer {
    /// Prints the result: `value` as JSON with `--json`, else the human text.
    pub fn result<T: Serialize>(&self, value: &T, human: impl FnOnce() -> String) {
        if self.json {
            let line = serde_json::to_string(value).expect("results serialize");
            write_stdout(format!("{line}\n").as_bytes());
        } else {
            let text = human();
            if !text.is_empty() {
                write_stdout(format!("{}\n", text.trim_end()).as_bytes());
            }
        }
    }

    /// Whether progress bars are drawn: only for a human watching a terminal.
    pub fn shows_progress(&self) -> bool {
        use std::io::IsTerminal as _;
        !self.json && !self.quiet && std::io::stderr().is_terminal()
    }

    /// A progress note for humans on stderr (silent with `--quiet`).
    pub fn note(&self, msg: impl AsRef<str>) {
        if !self.quiet {
            eprintln!("{}", msg.as_ref());
        }
    }
}

/// Writes to stdout. A reader that closed the pipe early (`fcctl render -o - | head -1`) got
/// what it wanted: exit 0 at once, as ripgrep does, instead of the panic `print!` gives (exit
/// 101). Any other write error is reported and exits 1.
pub fn write_stdout(bytes: &[u8]) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        Err(e) => {
            eprintln!("error: writing to stdout: {e}");
            std::process::exit(1);
        }
    }
}
