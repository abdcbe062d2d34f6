//! `fcctl invoke`: classify a local image through the deployed function (InvokeFunction).

use anyhow::{Context as _, bail};

use crate::aliyun::fc_models::InvokeFunctionRequest;
use crate::cli::InvokeArgs;
use crate::commands::Ctx;
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
                ..Default::default()
            },
        )
        .await?;
    let text = String::from_utf8_lossy(&out.body).to_string();
    if let Some(kind) = &out.error_type {
        bail!("the function failed ({kind}): {text}");
    }
    let v: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("the function answered {} with non-JSON: {text}", out.status))?;
    if !(200..300).contains(&out.status) {
        bail!(
            "the function refused the image ({}): {}",
            out.status,
            v.get("message").and_then(|m| m.as_str()).unwrap_or(&text)
        );
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
        format!(
            "{}: {label} (dog {:.2} · cat {:.2}) via {}:{qualifier}, {} ms\n  top: {}",
            a.image.display(),
            v["dog"].as_f64().unwrap_or(0.0),
            v["cat"].as_f64().unwrap_or(0.0),
            cloud.cfg.function_name(),
            v["ms"],
            top.join(", ")
        )
    });
    Ok(())
}
