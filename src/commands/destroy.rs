//! `fcctl destroy`.

use std::io::{BufRead as _, IsTerminal as _, Write as _};

use crate::cli::DestroyArgs;
use crate::commands::Ctx;
use crate::exit::{ExitStatus, Refusal};
use crate::pipeline::destroy::{self, DestroyReport};

/// `fcctl destroy [--yes] [--purge-data] [--dry-run]`: plan, confirm, delete.
pub async fn run(ctx: &Ctx, a: DestroyArgs) -> anyhow::Result<()> {
    let cloud = ctx.cloud().await?;
    let plan = destroy::plan(&cloud, a.purge_data).await?;
    if a.dry_run {
        let r = plan.dry_run_report(&cloud);
        ctx.out.result(&r, || describe(&r));
        return Ok(());
    }
    if !a.yes {
        // A script without --yes must not hang on a question nobody can answer.
        if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
            return Err(Refusal {
                status: ExitStatus::User,
                message: format!(
                    "destroy deletes {}'s function, versions, aliases, triggers and staging \
                     objects, and there is no terminal to confirm on",
                    cloud.cfg.function_name()
                ),
                hint: Some(
                    "pass --yes to confirm (see what would go first with `fcctl destroy --dry-run`)"
                        .into(),
                ),
            }
            .into());
        }
        let preview = plan.dry_run_report(&cloud);
        eprintln!("{}", describe(&preview));
        if !confirm(&format!(
            "Delete these {} resource(s)? [y/N] ",
            preview.would_delete.len()
        ))? {
            return Err(Refusal {
                status: ExitStatus::User,
                message: "nothing deleted: not confirmed".into(),
                hint: None,
            }
            .into());
        }
    }
    let r = destroy::execute(&cloud, plan, &ctx.out).await?;
    ctx.out.result(&r, || describe(&r));
    Ok(())
}

fn confirm(question: &str) -> anyhow::Result<bool> {
    let mut err = std::io::stderr().lock();
    err.write_all(question.as_bytes())?;
    err.flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(matches!(line.trim(), "y" | "Y" | "yes" | "YES" | "Yes"))
}

/// What went (or would go) and what stays.
pub fn describe(r: &DestroyReport) -> String {
    let mut s = String::new();
    let (verb, list) = if r.dry_run {
        ("would delete", &r.would_delete)
    } else {
        ("deleted", &r.deleted)
    };
    if list.is_empty() {
        s.push_str(&format!(
            "{}: nothing of this app left to delete\n",
            r.function
        ));
    } else {
        s.push_str(&format!("{}: {verb}\n", r.function));
        for x in list {
            let n = if x.kind == "oss_objects" {
                format!(" ({} objects)", r.oss_objects)
            } else {
                String::new()
            };
            s.push_str(&format!("  - {:<20} {}{n}\n", x.kind, x.id));
        }
    }
    for k in &r.kept {
        s.push_str(&format!("  kept {:<15} {}: {}\n", k.kind, k.id, k.reason));
    }
    if r.dry_run {
        s.push_str("dry run: nothing was deleted\n");
    }
    s
}
