//! `fcctl invoke`: classify a local image through the deployed function (InvokeFunction).

use anyhow::{Context as _, bail};

use crate::aliyun::fc_models::InvokeFunctionRequest;
use crate::cli::InvokeArgs;
use crate::commands::Ctx;
use crate::exit::{ExitStatus, Refusal};
use crate::fsutil::{MAX_REQUEST_BODY, read_capped};

/// Sends the image bytes to the function's `/invoke` and prints its JSON answer.
pub async fn run(ctx: &Ctx, a: InvokeArgs) -> anyhow::Result<()> {
    // The image first: a wrong file fails before any connection is made.
    let body = read_capped(&a.image, MAX_REQUEST_BODY, "image")?;
    let cloud = ctx.cloud().await?;
    let qualifier = a
        .qualifier
        .clone()
        .unwrap_or_else(|| cloud.cfg.release.alias.clone());
    let out = cloud
        .fc
        .invoke_function(
            cloud.cfg.function_name(),
            &InvokeFunctionRequest {
                qualifier: Some(qualifier.clone()),
                body,
                // FC answers with the request's last 4 KB of log (`x-fc-log-result`).
                tail_log: true,
                ..Default::default()
            },
        )
        .await?;
    let text = String::from_utf8_lossy(&out.body).to_string();
    let rid = out.request_id.clone().unwrap_or_default();
    // The log tail on stderr (stdout is the answer), so a failure shows its cause.
    if let Some(log) = out.log_result.as_deref().filter(|l| !l.trim().is_empty()) {
        ctx.out.note(format!("log of request {rid}:"));
        for l in log.lines() {
            ctx.out.note(format!("  {l}"));
        }
    }
    let logs_hint =
        || (!rid.is_empty()).then(|| format!("its log lines: fcctl logs --request-id {rid}"));
    // FC answers a function's own failure with 200 + `x-fc-error-type`: an error answer from
    // the service all the same (README: exit 3), not bad input.
    if let Some(kind) = &out.error_type {
        return Err(Refusal {
            status: ExitStatus::Cloud,
            message: format!("the function failed ({kind}) in request {rid}: {text}"),
            hint: logs_hint(),
        }
        .into());
    }
    let mut v: serde_json::Value = serde_json::from_str(&text).with_context(|| {
        format!(
            "the function answered {} with non-JSON in request {rid}: {text}",
            out.status
        )
    })?;
    if !(200..300).contains(&out.status) {
        let message = format!(
            "the function refused the image ({}) in request {rid}: {}",
            out.status,
            v.get("message").and_then(|m| m.as_str()).unwrap_or(&text)
        );
        // A 4xx is about the image sent (the user's input); a 5xx is the function failing.
        if out.status >= 500 {
            return Err(Refusal {
                status: ExitStatus::Cloud,
                message,
                hint: logs_hint(),
            }
            .into());
        }
        bail!(message);
    }
    if let Some(o) = v.as_object_mut() {
        o.insert("request_id".into(), out.request_id.clone().into());
    }
    ctx.out.result(&v, || {
        let label = v["label"].as_str().unwrap_or("?");
        let top: Vec<String> = v["top5"]
            .as_array()
            .map(|a| {
                a.iter()
                    .take(3)
                    .map(|t| {
                        format!(
                            "{} {:.2}",
                            t["class"].as_str().unwrap_or("?"),
                            t["p"].as_f64().unwrap_or(0.0)
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        // Which version answered: with a canary the alias serves two.
        let version = v["version"]
            .as_str()
            .map(|n| format!(" (version {n})"))
            .unwrap_or_default();
        format!(
            "{}: {label} ({}) via {}:{qualifier}{version}, {} ms\n  top: {}\n  request id: {rid}",
            a.image.display(),
            scores_text(&v),
            cloud.cfg.function_name(),
            ms_text(&v["ms"]),
            top.join(", ")
        )
    });
    Ok(())
}

/// The answer's three best `scores` (`dog 0.96 · cat 0.02`); before `scores` existed, its
/// `dog` and `cat`.
fn scores_text(v: &serde_json::Value) -> String {
    let mut s: Vec<(&str, f64)> = match v["scores"].as_object() {
        Some(m) => m
            .iter()
            .filter_map(|(k, p)| Some((k.as_str(), p.as_f64()?)))
            .collect(),
        None => ["dog", "cat"]
            .into_iter()
            .filter_map(|k| Some((k, v[k].as_f64()?)))
            .collect(),
    };
    s.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
    s.iter()
        .take(3)
        .map(|(k, p)| format!("{k} {p:.2}"))
        .collect::<Vec<_>>()
        .join(" · ")
}

/// The function's `ms` to two decimals (`3.1367550000000004` → `3.14`); `?` when absent.
fn ms_text(ms: &serde_json::Value) -> String {
    ms.as_f64()
        .map_or_else(|| "?".into(), |m| format!("{m:.2}"))
}

#[cfg(test)]
mod tests {
    use super::ms_text;
    use serde_json::json;

    #[test]
    fn scores_are_shown_best_first_from_scores_or_the_old_fields() {
        let v = json!({"dog": 0.1, "cat": 0.9, "scores": {"dog": 0.1, "cat": 0.9}});
        assert_eq!(super::scores_text(&v), "cat 0.90 · dog 0.10");
        let v = json!({"scores": {"red": 0.85, "green": 0.05, "blue": 0.1, "grey": 0.0}});
        assert_eq!(super::scores_text(&v), "red 0.85 · blue 0.10 · green 0.05");
        assert_eq!(
            super::scores_text(&json!({"dog": 0.96, "cat": 0.02})),
            "dog 0.96 · cat 0.02"
        );
    }

    #[test]
    fn ms_is_rounded_to_two_decimals() {
        assert_eq!(ms_text(&json!(3.1367550000000004)), "3.14");
        assert_eq!(ms_text(&json!(12)), "12.00");
        assert_eq!(ms_text(&json!(null)), "?");
    }
}
