//! The connection: FC3 and OSS clients for an Alibaba Cloud account or a local emulator,
//! built once per command from the config and the credentials.

use crate::aliyun::ecs::EcsClient;
use crate::aliyun::nas_api::NasApiClient;
use crate::aliyun::oss::{OssClient, OssConfig, SignatureVersion, default_oss_endpoint};
use crate::aliyun::ram::RamClient;
use crate::aliyun::rpc;
use crate::aliyun::sls::SlsClient;
use crate::aliyun::vpc::VpcClient;
use crate::aliyun::{AccessKey, ClientOptions, FcClient, default_endpoint};
use crate::config::Config;
use crate::credentials::{Credentials, Source};
use crate::local;

/// Everything a cloud-facing step needs.
pub struct Cloud {
    /// The loaded config, with the emulator's endpoints applied for `--local`.
    pub cfg: Config,
    pub fc: FcClient,
    /// OSS client on the staging bucket.
    pub oss: OssClient,
    /// The infrastructure APIs behind `auto` (VPC, ECS security groups, NAS). On an account
    /// they always exist (public regional endpoints); against an emulator only when its
    /// endpoint is configured, so a step needing one can say which is missing.
    pub infra: Infra,
    pub account_id: String,
    /// Where the credentials came from.
    pub source: Source,
    /// The key the clients sign with; presigned URLs for the nas-agent use it too.
    pub key: AccessKey,
    /// The local emulator, with `--local`.
    pub local: Option<local::Info>,
    /// Talking to an emulator (`--local`, or an endpoint override on loopback): endpoints left
    /// unset get no public default (the emulator's keys must never reach the real cloud).
    /// Everything else follows the cloud's rules; only `--local` (`local`) serves
    /// `custom_domain.name: auto` on a local name.
    pub emulated: bool,
}

/// Clients of the RPC-style APIs; `None` where no endpoint is known (an emulator without it).
#[derive(Debug, Clone, Default)]
pub struct Infra {
    pub vpc: Option<VpcClient>,
    pub ecs: Option<EcsClient>,
    pub nas: Option<NasApiClient>,
    pub ram: Option<RamClient>,
    pub sls: Option<SlsClient>,
}

/// Whom to connect to.
pub enum Target {
    /// An account, with resolved credentials.
    Account(Credentials),
    /// A running local emulator (its endpoints, region and keys replace the config's).
    Emulator(Box<local::Info>),
}

/// Why no connection could be set up (before any request is sent).
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error(
        "the account id is unknown: set `account_id:` in fcctl.yaml or export \
         ALIBABA_CLOUD_ACCOUNT_ID (FC3 endpoints contain it)"
    )]
    UnknownAccount,
    #[error("{service} endpoint {endpoint}: {source}")]
    Endpoint {
        service: &'static str,
        endpoint: String,
        #[source]
        source: Box<crate::aliyun::Error>,
    },
}

impl crate::exit::Hint for ConnectError {
    fn hint(&self) -> Option<std::borrow::Cow<'_, str>> {
        match self {
            ConnectError::UnknownAccount => None,
            ConnectError::Endpoint { source, .. } => crate::exit::Hint::hint(source.as_ref()),
        }
    }
}

impl Cloud {
    /// The staging bucket exists, and when fcctl owns it (`oss.bucket: auto`) it expires what
    /// fcctl can make again: old code packages and incomplete multipart uploads. NAS blobs are
    /// kept (nas-sync deduplicates against them). Returns whether the rules were written.
    pub async fn prepare_staging_bucket(&self) -> Result<bool, crate::aliyun::Error> {
        use crate::aliyun::oss::ObjectStore as _;
        self.oss.ensure_bucket().await?;
        if self.cfg.oss.bucket != "auto" {
            return Ok(false);
        }
        self.oss
            .ensure_lifecycle(&staging_rules(&self.cfg.app, &self.cfg.oss_prefix()))
            .await
    }

    /// Builds the clients; nothing is sent yet.
    pub fn connect(mut cfg: Config, target: Target) -> Result<Cloud, ConnectError> {
        let (key, account_id, source, local) = match target {
            Target::Emulator(info) => {
                cfg.fc_endpoint = Some(info.fc_endpoint.clone());
                cfg.oss_endpoint = Some(info.oss_endpoint.clone());
                cfg.endpoints.vpc = Some(info.vpc_endpoint.clone());
                cfg.endpoints.ecs = Some(info.ecs_endpoint.clone());
                cfg.endpoints.nas = Some(info.nas_endpoint.clone());
                cfg.endpoints.ram = Some(info.ram_endpoint.clone());
                cfg.endpoints.sls = Some(info.sls_endpoint.clone());
                cfg.region = info.region.clone();
                let key = AccessKey::new(&info.access_key_id, &info.access_key_secret);
                (key, info.account_id.clone(), Source::Emulator, Some(*info))
            }
            Target::Account(c) => {
                let account = cfg
                    .account_id
                    .clone()
                    .or_else(|| c.account_id.clone())
                    .ok_or(ConnectError::UnknownAccount)?;
                let mut key = AccessKey::new(&c.access_key_id, c.access_key_secret.expose());
                if let Some(t) = &c.security_token {
                    key = key.with_security_token(t.expose());
                }
                (key, account, c.source, None)
            }
        };
        let fc_endpoint = cfg
            .fc_endpoint
            .clone()
            .unwrap_or_else(|| default_endpoint(&account_id, &cfg.region));
        let fc = FcClient::new(&fc_endpoint, key.clone(), ClientOptions::default()).map_err(
            |source| ConnectError::Endpoint {
                service: "FC",
                endpoint: fc_endpoint.clone(),
                source: Box::new(source),
            },
        )?;
        let oss_endpoint = cfg
            .oss_endpoint
            .clone()
            .unwrap_or_else(|| default_oss_endpoint(&cfg.region, false));
        let bucket = bucket_name(&cfg, &account_id);
        let mut oss_cfg = OssConfig::new(&oss_endpoint, &bucket, &cfg.region);
        oss_cfg.signature = match cfg.oss.signature {
            crate::config::OssSignature::V4 => SignatureVersion::V4,
            crate::config::OssSignature::V1 => SignatureVersion::V1,
        };
        let oss =
            OssClient::new(oss_cfg, key.clone()).map_err(|source| ConnectError::Endpoint {
                service: "OSS",
                endpoint: oss_endpoint.clone(),
                source: Box::new(source),
            })?;
        tracing::debug!(%fc_endpoint, %oss_endpoint, %bucket, source = %source, "connected");
        let emulated = local.is_some() || is_loopback(&fc_endpoint);
        let infra = infra_clients(&cfg, &key, emulated)?;
        Ok(Cloud {
            emulated,
            cfg,
            fc,
            oss,
            infra,
            account_id,
            source,
            key,
            local,
        })
    }
}

/// The VPC/ECS/NAS clients: the configured endpoint, else (on an account) the product's public
/// endpoint for the region. An emulator has no public fallback: the default would reach the
/// real cloud with the emulator's keys.
fn infra_clients(cfg: &Config, key: &AccessKey, emulated: bool) -> Result<Infra, ConnectError> {
    let endpoint = |product: &str, set: &Option<String>| {
        set.clone()
            .or_else(|| (!emulated).then(|| rpc::default_endpoint(product, &cfg.region)))
    };
    let fail = |service: &'static str, endpoint: &str| {
        let endpoint = endpoint.to_string();
        move |source| ConnectError::Endpoint {
            service,
            endpoint,
            source: Box::new(source),
        }
    };
    let opts = ClientOptions::default;
    let e = &cfg.endpoints;
    let vpc = endpoint("vpc", &e.vpc)
        .map(|ep| VpcClient::new(&ep, &cfg.region, key.clone(), opts()).map_err(fail("VPC", &ep)))
        .transpose()?;
    let ecs = endpoint("ecs", &e.ecs)
        .map(|ep| EcsClient::new(&ep, &cfg.region, key.clone(), opts()).map_err(fail("ECS", &ep)))
        .transpose()?;
    let nas = endpoint("nas", &e.nas)
        .map(|ep| {
            NasApiClient::new(&ep, &cfg.region, key.clone(), opts()).map_err(fail("NAS", &ep))
        })
        .transpose()?;
    // RAM has one global endpoint; Log Service one per region, named differently.
    let ram = e
        .ram
        .clone()
        .or_else(|| (!emulated).then(|| "https://ram.aliyuncs.com".to_string()))
        .map(|ep| RamClient::new(&ep, &cfg.region, key.clone(), opts()).map_err(fail("RAM", &ep)))
        .transpose()?;
    let sls = e
        .sls
        .clone()
        .or_else(|| (!emulated).then(|| crate::aliyun::sls::default_endpoint(&cfg.region)))
        .map(|ep| SlsClient::new(&ep, key.clone(), opts()).map_err(fail("SLS", &ep)))
        .transpose()?;
    Ok(Infra {
        vpc,
        ecs,
        nas,
        ram,
        sls,
    })
}

/// Lifecycle rules of an fcctl-owned staging bucket, one per prefix (OSS refuses overlapping
/// prefixes with the same action): code packages expire after 7 days (FC copies a package at
/// CreateFunction/UpdateFunction, so an old one is never read again), incomplete uploads of
/// code and blobs are aborted after 3 days.
pub fn staging_rules(app: &str, prefix: &str) -> Vec<crate::aliyun::oss::LifecycleRule> {
    use crate::aliyun::oss::LifecycleRule;
    let prefix = prefix.trim_end_matches('/');
    vec![
        LifecycleRule {
            id: format!("fcctl-{app}-code"),
            prefix: format!("{prefix}/code/"),
            enabled: true,
            expiration_days: Some(7),
            abort_multipart_days: Some(3),
        },
        LifecycleRule {
            id: format!("fcctl-{app}-blob-uploads"),
            prefix: format!("{prefix}/blobs/"),
            enabled: true,
            expiration_days: None,
            abort_multipart_days: Some(3),
        },
    ]
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
    use super::*;

    fn cfg() -> Config {
        let mut c = Config::with_app("cat-dog");
        c.region = "cn-shenzhen".into();
        c
    }

    #[test]
    fn infra_clients_use_public_endpoints_on_an_account_and_overrides_anywhere() {
        let key = AccessKey::new("id", "secret");
        let i = infra_clients(&cfg(), &key, false).unwrap();
        assert_eq!(
            i.vpc.unwrap().endpoint(),
            "https://vpc.cn-shenzhen.aliyuncs.com"
        );
        assert_eq!(
            i.ecs.unwrap().endpoint(),
            "https://ecs.cn-shenzhen.aliyuncs.com"
        );
        assert_eq!(
            i.nas.unwrap().endpoint(),
            "https://nas.cn-shenzhen.aliyuncs.com"
        );
        let i = infra_clients(&cfg(), &key, true).unwrap();
        assert!(i.vpc.is_none() && i.ecs.is_none() && i.nas.is_none());
        let mut c = cfg();
        c.endpoints.nas = Some("http://127.0.0.1:9".into());
        let i = infra_clients(&c, &key, true).unwrap();
        assert_eq!(i.nas.unwrap().endpoint(), "http://127.0.0.1:9");
        c.endpoints.vpc = Some("http://h/path".into());
        let e = infra_clients(&c, &key, true).unwrap_err();
        assert!(
            e.to_string().starts_with("VPC endpoint http://h/path"),
            "{e}"
        );
    }

    #[test]
    fn loopback_endpoints() {
        assert!(super::is_loopback("http://127.0.0.1:9000"));
        assert!(super::is_loopback("http://localhost:1/x"));
        assert!(!super::is_loopback("https://1.cn-shenzhen.fc.aliyuncs.com"));
        assert!(!super::is_loopback("http://10.0.0.1:80"));
    }
}
