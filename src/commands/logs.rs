//! `fcctl logs`: the function's log lines from its logstore, filtered, or followed.

use std::io::IsTerminal as _;
use std::time::Duration;

use anyhow::Context as _;

use crate::cli::LogsArgs;
use crate::commands::Ctx;
use crate::pipeline::logs::{self, Filter, Follower, LogLine};
use crate::printer::write_stdout;

pub async fn run(ctx: &Ctx, a: LogsArgs) -> anyhow::Result<()> {
    let now = logs::now_unix();
    // Times first: a typo fails before any connection is made.
    let since = logs::parse_time(&a.since, now)?;
    let until = a
        .until
        .as_deref()
        .map(|u| logs::parse_time(u, now))
        .transpose()?;
    if let Some(u) = until
        && u <= since
    {
        anyhow::bail!(
            "--until ({}) is not after --since ({})",
            a.until.unwrap_or_default(),
            a.since
        );
    }
    let cloud = ctx.cloud().await?;
    let (sls, at) = logs::locate(&cloud).await?;
    let filter = Filter {
        request_id: a.request_id,
        instance: a.instance,
        qualifier: a.qualifier,
        grep: a.grep,
    };
    let style = Style {
        json: ctx.out.json,
        color: !ctx.out.json
            && std::io::stdout().is_terminal()
            && std::env::var_os("NO_COLOR").is_none(),
    };
    let to = until.unwrap_or(now + 1);
    let lines = logs::recent(&sls, &at, &filter, since, to, a.limit)
        .await
        .context("fcctl logs")?;
    for l in &lines {
        print_line(l, &style);
    }
    if !a.follow {
        if lines.is_empty() {
            ctx.out.note(format!(
                "no log lines in {}/{} for this filter since {}",
                at.project, at.logstore, a.since
            ));
        }
        return Ok(());
    }
    ctx.out.note(format!(
        "following {}/{} (Ctrl-C to stop)",
        at.project, at.logstore
    ));
    let mut f = Follower::new(filter, now);
    f.seen(&lines);
    let mut wait = Duration::from_millis(200);
    let mut failing = Duration::ZERO;
    loop {
        tokio::time::sleep(if failing.is_zero() { wait } else { failing }).await;
        match f.poll(&sls, &at).await {
            Ok(new) => {
                if !failing.is_zero() {
                    ctx.out.note("Log Service answers again");
                    failing = Duration::ZERO;
                }
                wait = logs::next_interval(wait, !new.is_empty());
                for l in &new {
                    print_line(l, &style);
                }
            }
            Err(e) => {
                if failing.is_zero() {
                    ctx.out
                        .note(format!("warning: reading logs failed, retrying: {e}"));
                }
                failing = logs::error_backoff(failing);
            }
        }
    }
}

struct Style {
    json: bool,
    color: bool,
}

const RED: &str = "\x1b[31m";
const BOLD_CYAN: &str = "\x1b[1;36m";
const DIM: &str = "\x1b[2m";
const RESET: &str = "\x1b[0m";

fn print_line(l: &LogLine, s: &Style) {
    let text = if s.json {
        serde_json::to_string(l).expect("log lines serialize")
    } else {
        human(l, s.color)
    };
    write_stdout(format!("{text}\n").as_bytes());
}

/// `time  instance  message`: the instance cut to 10 characters (enough to tell instances
/// apart; `--instance` takes the start of an id), its request id highlighted and an error
/// line red on a terminal.
fn human(l: &LogLine, color: bool) -> String {
    let inst: String = l
        .instance_id
        .as_deref()
        .unwrap_or("-")
        .chars()
        .take(10)
        .collect();
    let msg = l.message.trim_end();
    if !color {
        return format!("{} {inst:<10} {msg}", l.time);
    }
    let mut msg = match &l.request_id {
        Some(r) if msg.contains(r.as_str()) => {
            let base = if l.is_error() { RED } else { RESET };
            msg.replace(r.as_str(), &format!("{BOLD_CYAN}{r}{RESET}{base}"))
        }
        _ => msg.to_string(),
    };
    if l.is_error() {
        msg = format!("{RED}{msg}{RESET}");
    }
    format!("{DIM}{}{RESET} {inst:<10} {msg}", l.time)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(msg: &str, rid: Option<&str>) -> LogLine {
        LogLine {
            time: "2024-05-20T08:30:01.250Z".into(),
            request_id: rid.map(String::from),
            instance_id: Some("c-0123456789abcdef".into()),
            qualifier: Some("prod".into()),
            version: Some("3".into()),
            message: msg.into(),
            fields: None,
            unix: 0,
        }
    }

    #[test]
    fn human_lines_are_plain_off_a_terminal_and_colored_on_one() {
        let l = line("served 1-abc in 3 ms", Some("1-abc"));
        assert_eq!(
            human(&l, false),
            "2024-05-20T08:30:01.250Z c-01234567 served 1-abc in 3 ms"
        );
        let c = human(&l, true);
        assert!(c.contains(&format!("{BOLD_CYAN}1-abc{RESET}")), "{c:?}");
        assert!(!c.contains(RED));
        let e = human(
            &line("FC Invoke End RequestId: 1-x, Error: boom", None),
            true,
        );
        assert!(e.contains(RED), "{e:?}");
        assert!(!human(&line("boom Error: x", None), false).contains('\x1b'));
    }
}
