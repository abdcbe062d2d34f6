//! The `<function>-nas-agent` helper function: deploy (create-or-update, skipped when
//! unchanged) and jobs in the shared protocol types (`fcctl_protocol::agent`).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context as _;
use base64::Engine as _;
use fcctl_protocol::agent::{Failure, Job, decode_answer};
use serde::de::DeserializeOwned;

use crate::aliyun::fc_models::{
    CreateFunctionInput, CustomRuntimeConfig, Function, InputCodeLocation, InvocationType,
    InvokeFunctionRequest, UpdateFunctionInput, VpcConfig,
};
use crate::aliyun::{FcClient, oss::ObjectStore as _};
use crate::cloud::Cloud;
use crate::config::Config;

/// Invocation time budget the agent is given per call (seconds); the function timeout adds
/// a margin on top.
pub const BUDGET_S: u64 = 600;
/// Function timeout of the agent.
pub const TIMEOUT_S: i64 = 900;
const _: () = assert!(
    BUDGET_S < TIMEOUT_S as u64,
    "a job's budget fits in the function timeout"
);

/// The agent's function name.
pub fn name(cfg: &Config) -> String {
    format!("{}-nas-agent", cfg.function_name())
}

use crate::deploy::plan::{nas_config, vpc_config};

fn env(cfg: &Config) -> BTreeMap<String, String> {
    BTreeMap::from([(fcctl_protocol::env::NAS_ROOT.to_string(), cfg.nas_app_dir())])
}

/// What the agent function must look like; `vpc` is the main function's (resolved ids).
fn unchanged(f: &Function, cfg: &Config, crc: &str, vpc: &Option<VpcConfig>) -> bool {
    let nas = nas_config(cfg);
    let same_nas = f.nas_config.as_ref().is_some_and(|n| {
        n.user_id == nas.user_id
            && n.group_id == nas.group_id
            && n.mount_points.as_ref().map(|m| {
                m.iter()
                    .map(|p| (p.server_addr.clone(), p.mount_dir.clone()))
                    .collect::<Vec<_>>()
            }) == nas.mount_points.as_ref().map(|m| {
                m.iter()
                    .map(|p| (p.server_addr.clone(), p.mount_dir.clone()))
                    .collect::<Vec<_>>()
            })
    });
    let same_vpc = match vpc {
        None => true,
        Some(v) => f.vpc_config.as_ref().is_some_and(|x| {
            x.vpc_id == v.vpc_id
                && x.v_switch_ids == v.v_switch_ids
                && x.security_group_id == v.security_group_id
        }),
    };
    f.code_checksum.as_deref() == Some(crc)
        && f.runtime.as_deref() == Some(cfg.function.runtime.as_str())
        && f.environment_variables.as_ref() == Some(&env(cfg))
        && f.timeout == Some(TIMEOUT_S)
        && same_nas
        && same_vpc
}

/// Creates or updates the agent function from `zip` (CRC-64 `crc`); returns whether it changed.
pub async fn ensure(cloud: &Cloud, zip: &Path, crc: &str) -> anyhow::Result<bool> {
    let cfg = &cloud.cfg;
    let name = name(cfg);
    // The main function's VPC: `auto` was resolved to ids (pipeline::infra) before this runs.
    let vpc = vpc_config(cfg);
    let existing = match cloud.fc.get_function(&name, None).await {
        Ok(f) => Some(f),
        Err(e) if e.is_not_found() => None,
        Err(e) => return Err(e).context(format!("reading function {name}")),
    };
    if let Some(f) = &existing
        && unchanged(f, cfg, crc, &vpc)
    {
        return Ok(false);
    }
    let bytes = std::fs::read(zip)
        .with_context(|| format!("{} is missing; run `fcctl build` first", zip.display()))?;
    let code = code_location(cloud, &bytes, crc).await?;
    let rc = CustomRuntimeConfig {
        port: Some(9000),
        command: Some(vec!["/code/bootstrap".into()]),
        ..Default::default()
    };
    let description = "fcctl nas-agent: materialises NAS releases from OSS blobs".to_string();
    match existing {
        None => {
            let input = CreateFunctionInput {
                function_name: Some(name.clone()),
                code: Some(code),
                runtime: Some(cfg.function.runtime.as_str().into()),
                handler: Some("bootstrap".into()),
                memory_size: Some(1024),
                cpu: Some(1.0),
                disk_size: Some(512),
                timeout: Some(TIMEOUT_S),
                instance_concurrency: Some(1),
                custom_runtime_config: Some(rc),
                environment_variables: Some(env(cfg)),
                nas_config: Some(nas_config(cfg)),
                vpc_config: vpc.clone(),
                description: Some(description),
                ..Default::default()
            };
            match cloud.fc.create_function(&input).await {
                Ok(_) => {}
                Err(e) if e.is_already_exists() => {
                    update(&cloud.fc, &name, cfg, &vpc, input.code.clone()).await?
                }
                Err(e) => return Err(e).context(format!("creating function {name}")),
            }
        }
        Some(_) => update(&cloud.fc, &name, cfg, &vpc, Some(code)).await?,
    }
    wait_ready(&cloud.fc, &name).await?;
    Ok(true)
}

async fn update(
    fc: &FcClient,
    name: &str,
    cfg: &Config,
    vpc: &Option<VpcConfig>,
    code: Option<InputCodeLocation>,
) -> anyhow::Result<()> {
    let input = UpdateFunctionInput {
        code,
        runtime: Some(cfg.function.runtime.as_str().into()),
        timeout: Some(TIMEOUT_S),
        environment_variables: Some(env(cfg)),
        nas_config: Some(nas_config(cfg)),
        vpc_config: vpc.clone(),
        custom_runtime_config: Some(CustomRuntimeConfig {
            port: Some(9000),
            command: Some(vec!["/code/bootstrap".into()]),
            ..Default::default()
        }),
        ..Default::default()
    };
    fc.update_function(name, &input)
        .await
        .with_context(|| format!("updating function {name}"))?;
    Ok(())
}

async fn code_location(
    cloud: &Cloud,
    bytes: &[u8],
    crc: &str,
) -> anyhow::Result<InputCodeLocation> {
    // The agent is ~2 MB: inline unless it would not fit (then stage it on OSS).
    if bytes.len() as u64 <= crate::package::INLINE_LIMIT / 4 * 3 {
        return Ok(InputCodeLocation {
            zip_file: Some(base64::engine::general_purpose::STANDARD.encode(bytes)),
            checksum: Some(crc.into()),
            ..Default::default()
        });
    }
    let key = format!("{}/code/nas-agent-{crc}.zip", cloud.cfg.oss_prefix());
    cloud.oss.put(&key, bytes.to_vec()).await?;
    Ok(InputCodeLocation {
        oss_bucket_name: Some(cloud.oss.bucket().into()),
        oss_object_name: Some(key),
        checksum: Some(crc.into()),
        ..Default::default()
    })
}

async fn wait_ready(fc: &FcClient, name: &str) -> anyhow::Result<()> {
    // FC attaches the NAS/VPC for a while after create/update: poll, 3 minutes at most.
    for _ in 0..360 {
        let f = fc.get_function(name, None).await?;
        if !f.is_pending() {
            if f.state.as_deref() == Some("Failed") {
                anyhow::bail!(
                    "function {name} failed to become active: {}",
                    f.state_reason.unwrap_or_default()
                );
            }
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    anyhow::bail!("function {name} is still pending after 3 minutes")
}

/// Runs `job` on the agent synchronously and returns its reply; the agent's own failure is an
/// [`AgentFailure`] in the error chain.
pub async fn invoke<T: DeserializeOwned>(
    fc: &FcClient,
    name: &str,
    job: &Job,
) -> anyhow::Result<T> {
    let body = serde_json::to_vec(job)?;
    if body.len() > 30 * 1024 * 1024 {
        anyhow::bail!(
            "internal: nas-agent job of {} bytes exceeds FC's 32 MB sync payload",
            body.len()
        );
    }
    let op = job.op();
    let out = fc
        .invoke_function(
            name,
            &InvokeFunctionRequest {
                body,
                invocation_type: InvocationType::Sync,
                // stage skips placed files, commit answers `already` for a done release.
                idempotent: true,
                // The agent works up to BUDGET_S per job under a function timeout of TIMEOUT_S;
                // the client's default (300 s) would give up on a long staging batch that FC
                // is still running.
                timeout: Some(std::time::Duration::from_secs(TIMEOUT_S as u64 + 30)),
                ..Default::default()
            },
        )
        .await
        .with_context(|| format!("invoking {name} ({op})"))?;
    if let Some(t) = &out.error_type {
        anyhow::bail!(
            "{name} ({op}) failed: {t}: {}",
            String::from_utf8_lossy(&out.body)
        );
    }
    let answer = decode_answer::<T>(&out.body).with_context(|| {
        format!(
            "{name} ({op}) answered with status {}: {}",
            out.status,
            String::from_utf8_lossy(&out.body)
        )
    })?;
    answer.map_err(|failure| {
        anyhow::Error::new(AgentFailure {
            op,
            agent: name.to_string(),
            failure,
        })
    })
}

/// The nas-agent ran the job and reported a failure.
#[derive(Debug, thiserror::Error)]
#[error("nas-agent {op} failed ({agent}): {failure}")]
pub struct AgentFailure {
    pub op: &'static str,
    pub agent: String,
    #[source]
    pub failure: Failure,
}
