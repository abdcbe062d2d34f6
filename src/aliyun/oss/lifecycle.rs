//! Bucket lifecycle rules (PutBucketLifecycle / GetBucketLifecycle): the staging bucket fcctl
//! creates for itself expires what fcctl can make again, so a fresh account's bucket does not
//! grow forever. Body shape from the official `oss2` SDK (`xml_utils.to_put_bucket_lifecycle`,
//! `parse_get_bucket_lifecycle`); see docs/cloud-facts.md.

use reqwest::Method;
use serde::Deserialize;

use super::OssClient;
use super::sign::md5_b64;
use super::xml::xml_escape;
use crate::aliyun::error::Result;
use crate::aliyun::retry::Idempotency;

/// One rule, in the subset fcctl writes: an object expiry and/or an incomplete-upload expiry
/// for a key prefix, in days.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LifecycleRule {
    pub id: String,
    pub prefix: String,
    pub enabled: bool,
    /// Objects under the prefix are deleted this many days after their last change.
    pub expiration_days: Option<u32>,
    /// Incomplete multipart uploads under the prefix are aborted after this many days.
    pub abort_multipart_days: Option<u32>,
}

impl LifecycleRule {
    fn xml(&self) -> String {
        let mut s = format!(
            "<Rule><ID>{}</ID><Prefix>{}</Prefix><Status>{}</Status>",
            xml_escape(&self.id),
            xml_escape(&self.prefix),
            if self.enabled { "Enabled" } else { "Disabled" }
        );
        if let Some(d) = self.expiration_days {
            s.push_str(&format!("<Expiration><Days>{d}</Days></Expiration>"));
        }
        if let Some(d) = self.abort_multipart_days {
            s.push_str(&format!(
                "<AbortMultipartUpload><Days>{d}</Days></AbortMultipartUpload>"
            ));
        }
        s.push_str("</Rule>");
        s
    }
}

/// The body of PutBucketLifecycle.
pub fn lifecycle_body(rules: &[LifecycleRule]) -> String {
    let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?><LifecycleConfiguration>");
    for r in rules {
        s.push_str(&r.xml());
    }
    s.push_str("</LifecycleConfiguration>");
    s
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Configuration {
    #[serde(default)]
    rule: Vec<RuleXml>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RuleXml {
    #[serde(rename = "ID", default)]
    id: String,
    #[serde(default)]
    prefix: String,
    #[serde(default)]
    status: String,
    expiration: Option<DaysXml>,
    abort_multipart_upload: Option<DaysXml>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DaysXml {
    days: Option<u32>,
}

impl OssClient {
    /// The bucket's rules (empty when it has none: OSS answers 404 `NoSuchLifecycle`).
    pub async fn get_lifecycle(&self) -> Result<Vec<LifecycleRule>> {
        let mut r = self.req("GetBucketLifecycle", Method::GET, "");
        r.query.push(("lifecycle".into(), String::new()));
        let resp = match self.call(&r).await {
            Ok(resp) => resp,
            Err(e) if e.code() == Some("NoSuchLifecycle") => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let c: Configuration = super::xml::decode(&resp, "GetBucketLifecycle")?;
        Ok(c.rule
            .into_iter()
            .map(|r| LifecycleRule {
                id: r.id,
                prefix: r.prefix,
                enabled: r.status == "Enabled",
                expiration_days: r.expiration.and_then(|d| d.days),
                abort_multipart_days: r.abort_multipart_upload.and_then(|d| d.days),
            })
            .collect())
    }

    /// Replaces the bucket's rules.
    pub async fn put_lifecycle(&self, rules: &[LifecycleRule]) -> Result<()> {
        let body = lifecycle_body(rules);
        let mut r = self.req("PutBucketLifecycle", Method::PUT, "");
        r.query.push(("lifecycle".into(), String::new()));
        r.headers
            .push(("content-md5".into(), md5_b64(body.as_bytes())));
        r.headers
            .push(("content-type".into(), "application/xml".into()));
        r.body = body.into_bytes();
        r.idem = Idempotency::Idempotent;
        self.call(&r).await.map(|_| ())
    }

    /// Makes `wanted` part of the bucket's rules, keeping rules with other ids (a user may add
    /// their own); writes only when something differs. Returns whether it wrote.
    pub async fn ensure_lifecycle(&self, wanted: &[LifecycleRule]) -> Result<bool> {
        let have = self.get_lifecycle().await?;
        let mut rules: Vec<LifecycleRule> = have
            .iter()
            .filter(|r| !wanted.iter().any(|w| w.id == r.id))
            .cloned()
            .collect();
        rules.extend(wanted.iter().cloned());
        let same = wanted.iter().all(|w| have.contains(w));
        if same {
            return Ok(false);
        }
        self.put_lifecycle(&rules).await?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::super::ObjectStore as _;
    use super::super::tests::{client, default_key, emulator};
    use super::*;

    fn staging_rules() -> Vec<LifecycleRule> {
        vec![LifecycleRule {
            id: "fcctl-code".into(),
            prefix: "fcctl/app/code/".into(),
            enabled: true,
            expiration_days: Some(7),
            abort_multipart_days: Some(3),
        }]
    }

    #[test]
    fn body_has_the_sdk_shape() {
        let b = lifecycle_body(&staging_rules());
        assert_eq!(
            b,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><LifecycleConfiguration><Rule><ID>fcctl-code</ID><Prefix>fcctl/app/code/</Prefix><Status>Enabled</Status><Expiration><Days>7</Days></Expiration><AbortMultipartUpload><Days>3</Days></AbortMultipartUpload></Rule></LifecycleConfiguration>"
        );
    }

    /// Against the emulator: none at first, set once, a second ensure writes nothing, a rule
    /// someone else added is kept.
    #[tokio::test]
    async fn ensure_sets_once_and_keeps_foreign_rules() {
        let (emu, _dir) = emulator(vec![]).await;
        let info = emu.info().clone();
        let c = client(&info.oss_endpoint, "fcctl-artifacts", default_key(&info));
        c.ensure_bucket().await.unwrap();
        assert!(c.get_lifecycle().await.unwrap().is_empty());
        let foreign = LifecycleRule {
            id: "user-logs".into(),
            prefix: "logs/".into(),
            enabled: true,
            expiration_days: Some(30),
            abort_multipart_days: None,
        };
        c.put_lifecycle(std::slice::from_ref(&foreign))
            .await
            .unwrap();
        assert!(c.ensure_lifecycle(&staging_rules()).await.unwrap());
        assert!(!c.ensure_lifecycle(&staging_rules()).await.unwrap());
        let now = c.get_lifecycle().await.unwrap();
        assert!(now.contains(&foreign), "{now:?}");
        assert!(now.contains(&staging_rules()[0]), "{now:?}");
        emu.shutdown().await;
    }
}
