//! Bucket operations: create, delete, info, list buckets, list objects (V1 and V2),
//! delete multiple objects; ListMultipartUploads is routed to `multipart.rs`.

use crate::api_error::{ApiError, xml_escape};
use crate::context::Ctx;
use crate::oss::multipart;
use crate::oss::reply::{Reply, empty, iso, xml_ok};
use crate::oss::request::{MAX_XML_BODY, OssRequest, collect, xml_values};
use crate::oss::store::{Meta, all_meta, bucket_dir, internal_error, obj_paths};
use crate::util::now_ms;
use axum::body::Body;
use http::Method;

pub fn no_such_bucket(bucket: &str) -> ApiError {
    ApiError::new(
        404,
        "NoSuchBucket",
        format!("The specified bucket does not exist: {bucket}"),
    )
}

/// Requests to `/<bucket>` (no key).
pub async fn bucket_operation(ctx: &Ctx, r: &OssRequest, body: Body) -> Reply {
    let bucket = &r.bucket;
    let bdir = bucket_dir(ctx, bucket);
    match r.parts.method {
        Method::PUT | Method::GET | Method::DELETE if r.has("lifecycle") => {
            if !bdir.exists() {
                return Err(no_such_bucket(bucket));
            }
            lifecycle(&bdir, r, body).await
        }
        // PutBucket takes no subresource; one this emulator does not know (`?acl`, `?tagging`,
        // …) must not silently create or reset the bucket.
        Method::PUT if !r.query.is_empty() => Err(ApiError::new(
            501,
            "NotImplemented",
            format!(
                "the emulator does not implement PUT /{bucket}?{}",
                r.query.first().map(|q| q.0.as_str()).unwrap_or_default()
            ),
        )),
        Method::PUT => {
            if !valid_bucket(bucket) {
                return Err(ApiError::new(
                    400,
                    "InvalidBucketName",
                    format!("The specified bucket is not valid: {bucket}"),
                ));
            }
            std::fs::create_dir_all(bdir.join("objects")).map_err(internal_error)?;
            std::fs::create_dir_all(bdir.join("uploads")).map_err(internal_error)?;
            empty(200)
        }
        _ if !bdir.exists() => Err(no_such_bucket(bucket)),
        Method::DELETE => {
            let n = std::fs::read_dir(bdir.join("objects"))
                .map(|d| d.count())
                .unwrap_or(0);
            // OSS counts incomplete multipart uploads as content (docs/cloud-facts.md).
            if n > 0 || !multipart::incomplete_uploads(ctx, bucket).is_empty() {
                return Err(ApiError::new(
                    409,
                    "BucketNotEmpty",
                    "The bucket you tried to delete is not empty.",
                ));
            }
            std::fs::remove_dir_all(&bdir).map_err(internal_error)?;
            empty(204)
        }
        Method::GET if r.has("location") => xml_ok(format!(
            "<LocationConstraint>oss-{}</LocationConstraint>",
            ctx.cfg.region
        )),
        Method::GET if r.has("bucketInfo") => bucket_info(ctx, bucket),
        Method::GET if r.has("uploads") => multipart::list_uploads(ctx, r),
        Method::GET => list_objects(ctx, bucket, &r.query),
        Method::HEAD => empty(200),
        Method::POST if r.has("delete") => {
            // OSS docs, EC 0016-00000606: DeleteMultipleObjects requires Content-MD5 (its value
            // is checked against the body when the body is read).
            if r.header("content-md5").is_none() {
                return Err(ApiError::invalid_argument(
                    "DeleteMultipleObjects requires the Content-MD5 header",
                )
                .with_ec("0016-00000606"));
            }
            let body = collect(body, MAX_XML_BODY).await?;
            delete_multiple(ctx, bucket, &body)
        }
        _ => Err(ApiError::new(
            405,
            "MethodNotAllowed",
            "unsupported bucket operation",
        )),
    }
}

/// Put/Get/DeleteBucketLifecycle. The rules are kept as sent (they are only read back; the
/// emulator expires nothing). Checked like OSS: well-formed XML, 1–1000 rules, each with an
/// `ID` of at most 255 characters, a `Status` of `Enabled` or `Disabled` and at least one
/// action, and positive whole `Days`.
async fn lifecycle(bdir: &std::path::Path, r: &OssRequest, body: Body) -> Reply {
    let file = bdir.join("lifecycle.xml");
    match r.parts.method {
        Method::GET => match std::fs::read_to_string(&file) {
            Ok(xml) => xml_ok(xml),
            Err(_) => Err(ApiError::new(
                404,
                "NoSuchLifecycle",
                "No Row found in Lifecycle Table.",
            )),
        },
        Method::DELETE => {
            let _ = std::fs::remove_file(&file);
            empty(204)
        }
        _ => {
            let body = collect(body, MAX_XML_BODY).await?;
            let text = String::from_utf8_lossy(&body).into_owned();
            let rules = check_lifecycle(&text)?;
            let xml = format!(
                "<LifecycleConfiguration>{}</LifecycleConfiguration>",
                rules.join("")
            );
            crate::util::atomic_write(&file, xml.as_bytes()).map_err(internal_error)?;
            empty(200)
        }
    }
}

fn check_lifecycle(text: &str) -> Result<Vec<String>, ApiError> {
    let malformed = || {
        ApiError::new(
            400,
            "MalformedXML",
            "The XML you provided was not well-formed or did not validate against our published schema.",
        )
    };
    let body = text.trim();
    let body = match body.strip_prefix("<?xml") {
        Some(rest) => rest
            .split_once("?>")
            .map(|(_, b)| b.trim())
            .ok_or_else(malformed)?,
        None => body,
    };
    if !body.starts_with("<LifecycleConfiguration>") || !body.ends_with("</LifecycleConfiguration>")
    {
        return Err(malformed());
    }
    let rules = xml_values(body, "Rule");
    if rules.is_empty() || rules.len() > 1000 {
        return Err(malformed());
    }
    let actions = [
        "Expiration",
        "AbortMultipartUpload",
        "Transition",
        "NoncurrentVersionExpiration",
    ];
    let mut out = Vec::new();
    for rule in &rules {
        let id = xml_values(rule, "ID").pop().unwrap_or_default();
        let status = xml_values(rule, "Status").pop().unwrap_or_default();
        if id.chars().count() > 255 || !matches!(status.as_str(), "Enabled" | "Disabled") {
            return Err(malformed());
        }
        if !actions.iter().any(|a| rule.contains(&format!("<{a}>"))) {
            return Err(ApiError::invalid_argument(format!(
                "lifecycle rule {id:?} has no action (Expiration, AbortMultipartUpload, Transition)"
            )));
        }
        for days in xml_values(rule, "Days") {
            if !days.parse::<u32>().is_ok_and(|d| d > 0) {
                return Err(ApiError::invalid_argument(format!(
                    "lifecycle rule {id:?}: Days must be a positive integer, got {days:?}"
                )));
            }
        }
        out.push(format!("<Rule>{rule}</Rule>"));
    }
    Ok(out)
}

fn bucket_info(ctx: &Ctx, bucket: &str) -> Reply {
    xml_ok(format!(
        "<BucketInfo><Bucket><Name>{bucket}</Name><Location>oss-{r}</Location><ExtranetEndpoint>{e}</ExtranetEndpoint><IntranetEndpoint>{e}</IntranetEndpoint><StorageClass>Standard</StorageClass><CreationDate>{c}</CreationDate><Owner><ID>{a}</ID><DisplayName>{a}</DisplayName></Owner><AccessControlList><Grant>private</Grant></AccessControlList></Bucket></BucketInfo>",
        r = ctx.cfg.region,
        e = ctx.info.oss_endpoint.trim_start_matches("http://"),
        c = iso(now_ms()),
        a = ctx.cfg.account_id
    ))
}

fn valid_bucket(b: &str) -> bool {
    (3..=63).contains(&b.len())
        && b.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !b.starts_with('-')
        && !b.ends_with('-')
}

pub fn list_buckets(ctx: &Ctx) -> Reply {
    let mut names: Vec<String> = std::fs::read_dir(ctx.info.data_dir.join("oss"))
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    let items: String = names
        .iter()
        .map(|n| format!("<Bucket><CreationDate>{}</CreationDate><ExtranetEndpoint>{e}</ExtranetEndpoint><IntranetEndpoint>{e}</IntranetEndpoint><Location>oss-{r}</Location><Name>{n}</Name><Region>{r}</Region><StorageClass>Standard</StorageClass></Bucket>",
            iso(now_ms()), e = ctx.info.oss_endpoint.trim_start_matches("http://"), r = ctx.cfg.region))
        .collect();
    xml_ok(format!(
        "<ListAllMyBucketsResult><Owner><ID>{a}</ID><DisplayName>{a}</DisplayName></Owner><Buckets>{items}</Buckets></ListAllMyBucketsResult>",
        a = ctx.cfg.account_id
    ))
}

/// ListObjects / ListObjectsV2 (`list-type=2`): keys after the marker, grouped into common
/// prefixes by the delimiter.
fn list_objects(ctx: &Ctx, bucket: &str, q: &[(String, String)]) -> Reply {
    let qv = |k: &str| {
        q.iter()
            .find(|(a, _)| a == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let v2 = qv("list-type") == "2";
    let max: usize = qv("max-keys")
        .parse()
        .ok()
        .filter(|n| *n > 0)
        .unwrap_or(100)
        .min(1000);
    let start = if v2 {
        let t = qv("continuation-token");
        if t.is_empty() { qv("start-after") } else { t }
    } else {
        qv("marker")
    };
    let (prefix, delim) = (qv("prefix"), qv("delimiter"));
    let page = Listing::collect(all_meta(ctx, bucket), &prefix, &delim, &start, max);
    let url_enc = qv("encoding-type") == "url";
    let enc = |s: &str| {
        if url_enc {
            crate::sign::rfc3986(s).replace("%2F", "/")
        } else {
            xml_escape(s)
        }
    };
    let contents: String = page
        .objects
        .iter()
        .map(|m| object_xml(m, &enc(&m.key), &ctx.cfg.account_id))
        .collect();
    let cps: String = page
        .prefixes
        .iter()
        .map(|p| {
            format!(
                "<CommonPrefixes><Prefix>{}</Prefix></CommonPrefixes>",
                enc(p)
            )
        })
        .collect();
    let encoding = if url_enc {
        "<EncodingType>url</EncodingType>"
    } else {
        ""
    };
    let (truncated, count) = (page.truncated, page.count);
    let body = if v2 {
        format!(
            "<ListBucketResult><Name>{}</Name><Prefix>{}</Prefix><StartAfter>{}</StartAfter><MaxKeys>{max}</MaxKeys><Delimiter>{}</Delimiter>{encoding}<IsTruncated>{truncated}</IsTruncated><KeyCount>{count}</KeyCount>{}{}{contents}{cps}</ListBucketResult>",
            xml_escape(bucket),
            enc(&prefix),
            enc(&qv("start-after")),
            enc(&delim),
            if qv("continuation-token").is_empty() {
                String::new()
            } else {
                format!(
                    "<ContinuationToken>{}</ContinuationToken>",
                    enc(&qv("continuation-token"))
                )
            },
            if truncated {
                format!(
                    "<NextContinuationToken>{}</NextContinuationToken>",
                    enc(&page.last)
                )
            } else {
                String::new()
            },
        )
    } else {
        format!(
            "<ListBucketResult><Name>{}</Name><Prefix>{}</Prefix><Marker>{}</Marker><MaxKeys>{max}</MaxKeys><Delimiter>{}</Delimiter>{encoding}<IsTruncated>{truncated}</IsTruncated>{}{contents}{cps}</ListBucketResult>",
            xml_escape(bucket),
            enc(&prefix),
            enc(&qv("marker")),
            enc(&delim),
            if truncated {
                format!("<NextMarker>{}</NextMarker>", enc(&page.last))
            } else {
                String::new()
            },
        )
    };
    xml_ok(body)
}

fn object_xml(m: &Meta, key: &str, account: &str) -> String {
    format!(
        "<Contents><Key>{key}</Key><LastModified>{}</LastModified><ETag>{}</ETag><Type>{}</Type><Size>{}</Size><StorageClass>Standard</StorageClass><Owner><ID>{account}</ID><DisplayName>{account}</DisplayName></Owner></Contents>",
        iso(m.last_modified),
        xml_escape(&m.etag),
        if m.multipart { "Multipart" } else { "Normal" },
        m.size,
    )
}

/// One page of a listing: objects and common prefixes, in key order.
struct Listing {
    objects: Vec<Meta>,
    prefixes: Vec<String>,
    /// Objects + prefixes on this page (`KeyCount`).
    count: usize,
    truncated: bool,
    /// The last key or prefix on this page: the next marker.
    last: String,
}

impl Listing {
    /// `all` must be sorted by key.
    fn collect(all: Vec<Meta>, prefix: &str, delim: &str, start: &str, max: usize) -> Listing {
        let mut page = Listing {
            objects: Vec::new(),
            prefixes: Vec::new(),
            count: 0,
            truncated: false,
            last: String::new(),
        };
        for m in all {
            if !m.key.starts_with(prefix) || (!start.is_empty() && m.key.as_str() <= start) {
                continue;
            }
            if !delim.is_empty()
                && let Some(pos) = m.key[prefix.len()..].find(delim)
            {
                let cp = m.key[..prefix.len() + pos + delim.len()].to_string();
                if page.prefixes.last() == Some(&cp) {
                    continue;
                }
                if page.count >= max {
                    page.truncated = true;
                    break;
                }
                page.prefixes.push(cp.clone());
                page.count += 1;
                page.last = cp;
                continue;
            }
            if page.count >= max {
                page.truncated = true;
                break;
            }
            page.count += 1;
            page.last = m.key.clone();
            page.objects.push(m);
        }
        page
    }
}

fn delete_multiple(ctx: &Ctx, bucket: &str, body: &[u8]) -> Reply {
    let xml = String::from_utf8_lossy(body);
    let quiet = xml_values(&xml, "Quiet")
        .first()
        .is_some_and(|q| q == "true");
    let mut out = String::new();
    for k in xml_values(&xml, "Key") {
        let (d, m) = obj_paths(ctx, bucket, &k);
        let _ = std::fs::remove_file(m);
        let _ = std::fs::remove_file(d);
        if !quiet {
            out.push_str(&format!("<Deleted><Key>{}</Key></Deleted>", xml_escape(&k)));
        }
    }
    xml_ok(format!("<DeleteResult>{out}</DeleteResult>"))
}
