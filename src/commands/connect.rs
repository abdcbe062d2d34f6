//! Turns config + credentials (or `--local`) into connected FC3 and OSS clients.

use anyhow::Context as _;

use crate::aliyun::oss::{OssClient, OssConfig, default_oss_endpoint};
use crate::aliyun::{AccessKey, ClientOptions, FcClient, default_endpoint};
use crate::commands::Ctx;
use crate::config::Config;
use crate::credentials::Source;
use crate::local;

/// Everything a cloud-facing command needs.
pub struct Cloud {
    /// The loaded config (endpoint overrides applied).
    pub cfg: Config,
    /// FC3 client.
    pub fc: FcClient,
    /// OSS client on the staging bucket.
    pub oss: OssClient,
    /// Account id in use.
    pub account_id: String,
    /// Where the credentials came from.
    pub source: Source,
    /// The local emulator, with `--local`.
    pub local: Option<local::Info>,
    /// Talking to an emulator (`--local`, or an endpoint override on loopback): `auto` NAS,
    /// VPC and domain settings are then served locally instead of refused.
    pub emulated: bool,
}

impl Ctx {
    /// Connects to the cloud, or to this project's running emulator with `--local`.
    pub async fn cloud(&self) -> anyhow::Result<Cloud> {
        let cfg = self.config()?;
        let local = if self.global.local {
            let dir = local::default_data_dir(&self.work_dir());
            Some(local::find_running(&dir).await.with_context(|| {
                format!(
                    "--local: no emulator is running for this project (looked in {}); \
                     start one with `fcctl local start` or `fcctl up --local`",
                    dir.display()
                )
            })?)
        } else {
            None
        };
        self.connect(cfg, local)
    }

    /// Connects with an already-known emulator (used by `up --local` after starting one).
    pub fn connect(&self, mut cfg: Config, local: Option<local::Info>) -> anyhow::Result<Cloud> {
        let (key, account_id, source) = match &local {
            Some(info) => {
                cfg.fc_endpoint = Some(info.fc_endpoint.clone());
                cfg.oss_endpoint = Some(info.oss_endpoint.clone());
                cfg.region = info.region.clone();
                (
                    AccessKey::new(&info.access_key_id, &info.access_key_secret),
                    info.account_id.clone(),
                    Source::Emulator,
                )
            }
            None => {
                let c = self.credentials()?;
                let account = cfg
                    .account_id
                    .clone()
                    .or_else(|| c.account_id.clone())
                    .context(
                        "the account id is unknown: set `account_id:` in fcctl.yaml or export \
                         ALIBABA_CLOUD_ACCOUNT_ID (FC3 endpoints contain it)",
                    )?;
                let mut key = AccessKey::new(&c.access_key_id, c.access_key_secret.expose());
                if let Some(t) = &c.security_token {
                    key = key.with_security_token(t.expose());
                }
                (key, account, c.source)
            }
        };
        let fc_endpoint = cfg
            .fc_endpoint
            .clone()
            .unwrap_or_else(|| default_endpoint(&account_id, &cfg.region));
        let fc = FcClient::new(&fc_endpoint, key.clone(), ClientOptions::default())
            .with_context(|| format!("FC endpoint {fc_endpoint}"))?;
        let oss_endpoint = cfg
            .oss_endpoint
            .clone()
            .unwrap_or_else(|| default_oss_endpoint(&cfg.region, false));
        let bucket = bucket_name(&cfg, &account_id);
        let oss = OssClient::new(OssConfig::new(&oss_endpoint, &bucket), key)
            .with_context(|| format!("OSS endpoint {oss_endpoint}"))?;
        tracing::debug!(%fc_endpoint, %oss_endpoint, %bucket, source = %source, "connected");
        let emulated = local.is_some() || is_loopback(&fc_endpoint);
        Ok(Cloud {
            emulated,
            cfg,
            fc,
            oss,
            account_id,
            source,
            local,
        })
    }
}

/// The staging bucket: configured, or `fcctl-<account>-<region>` for `auto`.
pub fn bucket_name(cfg: &Config, account_id: &str) -> String {
    if cfg.oss.bucket == "auto" {
        format!("fcctl-{account_id}-{}", cfg.region)
    } else {
        cfg.oss.bucket.clone()
    }
}

/// `http://127.x.x.x:…`, `http://localhost:…` or `http://[::1]:…`.
fn is_loopback(endpoint: &str) -> bool {
    let Some(rest) = endpoint.strip_prefix("http://") else {
        return false;
    };
    let host = rest.split('/').next().unwrap_or("");
    let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
    host == "localhost" || host == "[::1]" || host.starts_with("127.")
}

#[cfg(test)]
mod tests {
    #[test]
    fn loopback_endpoints() {
        assert!(super::is_loopback("http://127.0.0.1:9000"));
        assert!(super::is_loopback("http://localhost:1/x"));
        assert!(!super::is_loopback("https://1.cn-shenzhen.fc.aliyuncs.com"));
        assert!(!super::is_loopback("http://10.0.0.1:80"));
    }
}
