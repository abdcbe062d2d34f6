//! Path-style OSS subset: buckets, Put/Get(Range)/Head/Delete/Copy object, multipart
//! (initiate / upload part / complete / abort / list parts), ListObjects (V1 + V2),
//! DeleteMultipleObjects. Data on disk under `<data_dir>/oss/<bucket>/`.

use crate::api_error::{Api, ApiError, xml_escape};
use crate::context::Ctx;
use crate::util::{atomic_write, crc64, crc64_update, request_id};
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use base64::Engine as _;
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use http_body_util::BodyExt as _;
use md5::{Digest as _, Md5};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

const MAX_OBJECT: usize = 5 * 1024 * 1024 * 1024;

pub fn router(ctx: Arc<Ctx>) -> Router {
    Router::new().fallback(handle).with_state(ctx)
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Meta {
    key: String,
    size: u64,
    etag: String,
    content_type: String,
    last_modified: u64,
    crc64: u64,
    #[serde(default)]
    multipart: bool,
    #[serde(default)]
    user_meta: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct UploadInfo {
    key: String,
    content_type: String,
    initiated: u64,
    user_meta: BTreeMap<String, String>,
}

type Reply = Result<Response, ApiError>;

fn xml_ok(body: String) -> Reply {
    let mut r = Response::new(Body::from(format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{body}"
    )));
    r.headers_mut()
        .insert("content-type", HeaderValue::from_static("application/xml"));
    Ok(r)
}

fn empty(status: u16) -> Reply {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    Ok(r)
}

fn iso(ms: u64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp((ms / 1000) as i64)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let f = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].000Z");
    t.format(&f).unwrap_or_default()
}

fn http_date(ms: u64) -> String {
    httpdate::fmt_http_date(std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms))
}

fn bucket_dir(ctx: &Ctx, b: &str) -> PathBuf {
    ctx.info.data_dir.join("oss").join(b)
}

fn obj_paths(ctx: &Ctx, b: &str, key: &str) -> (PathBuf, PathBuf) {
    let h = crate::sign::sha256_hex(key.as_bytes());
    let d = bucket_dir(ctx, b).join("objects");
    (d.join(&h), d.join(format!("{h}.json")))
}

fn load_meta(ctx: &Ctx, b: &str, key: &str) -> Option<Meta> {
    let (_, m) = obj_paths(ctx, b, key);
    serde_json::from_slice(&std::fs::read(m).ok()?).ok()
}

/// Reads a whole object (used for `code.ossBucketName/ossObjectName`).
pub fn read_object(ctx: &Ctx, bucket: &str, key: &str) -> Option<Vec<u8>> {
    load_meta(ctx, bucket, key)?;
    std::fs::read(obj_paths(ctx, bucket, key).0).ok()
}

fn valid_bucket(b: &str) -> bool {
    (3..=63).contains(&b.len())
        && b.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !b.starts_with('-')
        && !b.ends_with('-')
}

fn header<'a>(h: &'a HeaderMap, n: &str) -> Option<&'a str> {
    h.get(n).and_then(|v| v.to_str().ok())
}

fn user_meta(h: &HeaderMap) -> BTreeMap<String, String> {
    h.iter()
        .filter(|(k, _)| k.as_str().starts_with("x-oss-meta-"))
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

fn etag_of(md5: &[u8]) -> String {
    format!("\"{}\"", hex::encode_upper(md5))
}

async fn handle(State(ctx): State<Arc<Ctx>>, req: Request) -> Response {
    let rid = request_id();
    if let Some(r) = ctx.cfg.faults.inject(Api::Oss, &rid).await {
        return r;
    }
    let mut r = match handle_inner(&ctx, req, &rid).await {
        Ok(r) => r,
        Err(e) => return e.to_response(Api::Oss, &rid),
    };
    if let Ok(v) = HeaderValue::from_str(&rid) {
        r.headers_mut().insert("x-oss-request-id", v);
    }
    r
}

async fn handle_inner(ctx: &Arc<Ctx>, req: Request, _rid: &str) -> Reply {
    let (parts, body) = req.into_parts();
    let raw_path = parts.uri.path().to_string();
    let query = crate::sign::parse_query(parts.uri.query().unwrap_or(""));
    let path = percent_encoding::percent_decode_str(&raw_path)
        .decode_utf8_lossy()
        .into_owned();
    let trimmed = path.trim_start_matches('/');
    let (bucket, key) = match trimmed.split_once('/') {
        Some((b, k)) => (b.to_string(), k.to_string()),
        None => (trimmed.to_string(), String::new()),
    };
    let resource = if bucket.is_empty() {
        "/".to_string()
    } else {
        format!("/{bucket}/{key}")
    };
    ctx.auth
        .verify_oss(parts.method.as_str(), &resource, &query, &parts.headers)?;
    let has = |k: &str| query.iter().any(|(a, _)| a == k);
    let qv = |k: &str| query.iter().find(|(a, _)| a == k).map(|(_, v)| v.clone());
    let m = parts.method.clone();
    if bucket.is_empty() {
        return if m == Method::GET {
            list_buckets(ctx)
        } else {
            Err(ApiError::new(405, "MethodNotAllowed", "unsupported"))
        };
    }
    let bdir = bucket_dir(ctx, &bucket);
    if key.is_empty() {
        return match m {
            Method::PUT => {
                if !valid_bucket(&bucket) {
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
            _ if !bdir.exists() => Err(ApiError::new(
                404,
                "NoSuchBucket",
                format!("The specified bucket does not exist: {bucket}"),
            )),
            Method::DELETE => {
                let n = std::fs::read_dir(bdir.join("objects"))
                    .map(|d| d.count())
                    .unwrap_or(0);
                if n > 0 {
                    return Err(ApiError::new(
                        409,
                        "BucketNotEmpty",
                        "The bucket you tried to delete is not empty.",
                    ));
                }
                std::fs::remove_dir_all(&bdir).map_err(internal_error)?;
                empty(204)
            }
            Method::GET if has("location") => xml_ok(format!(
                "<LocationConstraint>oss-{}</LocationConstraint>",
                ctx.cfg.region
            )),
            Method::GET if has("bucketInfo") => xml_ok(format!(
                "<BucketInfo><Bucket><Name>{bucket}</Name><Location>oss-{r}</Location><ExtranetEndpoint>{e}</ExtranetEndpoint><IntranetEndpoint>{e}</IntranetEndpoint><StorageClass>Standard</StorageClass><CreationDate>{c}</CreationDate><Owner><ID>{a}</ID><DisplayName>{a}</DisplayName></Owner><AccessControlList><Grant>private</Grant></AccessControlList></Bucket></BucketInfo>",
                r = ctx.cfg.region,
                e = ctx.info.oss_endpoint.trim_start_matches("http://"),
                c = iso(crate::util::now_ms()),
                a = ctx.cfg.account_id
            )),
            Method::GET => list_objects(ctx, &bucket, &query),
            Method::HEAD => empty(200),
            Method::POST if has("delete") => {
                let body = collect(body, 16 * 1024 * 1024).await?;
                delete_multiple(ctx, &bucket, &body)
            }
            _ => Err(ApiError::new(
                405,
                "MethodNotAllowed",
                "unsupported bucket operation",
            )),
        };
    }
    if !bdir.exists() {
        return Err(ApiError::new(
            404,
            "NoSuchBucket",
            format!("The specified bucket does not exist: {bucket}"),
        ));
    }
    match m {
        Method::PUT if has("partNumber") && has("uploadId") => {
            let n: u32 = qv("partNumber")
                .and_then(|p| p.parse().ok())
                .filter(|n| (1..=10000).contains(n))
                .ok_or_else(|| ApiError::invalid_argument("partNumber must be 1..=10000"))?;
            let up = bdir
                .join("uploads")
                .join(sanitize(&qv("uploadId").unwrap_or_default()));
            if !up.exists() {
                return Err(no_such_upload());
            }
            let data = collect(body, MAX_OBJECT).await?;
            check_md5(&parts.headers, &data)?;
            let md5 = Md5::digest(&data);
            atomic_write(&up.join(format!("part-{n:05}")), &data).map_err(internal_error)?;
            let mut r = empty(200)?;
            r.headers_mut()
                .insert("etag", HeaderValue::from_str(&etag_of(&md5)).expect("hex"));
            r.headers_mut()
                .insert("x-oss-hash-crc64ecma", HeaderValue::from(crc64(&data)));
            Ok(r)
        }
        Method::PUT => {
            if let Some(src) = header(&parts.headers, "x-oss-copy-source") {
                return copy_object(ctx, &bucket, &key, src, &parts.headers);
            }
            let data = collect(body, MAX_OBJECT).await?;
            check_md5(&parts.headers, &data)?;
            let md5 = Md5::digest(&data);
            let meta = Meta {
                key: key.clone(),
                size: data.len() as u64,
                etag: etag_of(&md5),
                content_type: header(&parts.headers, "content-type")
                    .unwrap_or("application/octet-stream")
                    .to_string(),
                last_modified: crate::util::now_ms(),
                crc64: crc64(&data),
                multipart: false,
                user_meta: user_meta(&parts.headers),
            };
            store(ctx, &bucket, &meta, &data)?;
            let mut r = empty(200)?;
            set_obj_headers(r.headers_mut(), &meta, false);
            Ok(r)
        }
        Method::POST if has("uploads") => {
            let id = uuid::Uuid::new_v4()
                .simple()
                .to_string()
                .to_ascii_uppercase();
            let up = bdir.join("uploads").join(&id);
            std::fs::create_dir_all(&up).map_err(internal_error)?;
            let info = UploadInfo {
                key: key.clone(),
                content_type: header(&parts.headers, "content-type")
                    .unwrap_or("application/octet-stream")
                    .to_string(),
                initiated: crate::util::now_ms(),
                user_meta: user_meta(&parts.headers),
            };
            atomic_write(
                &up.join("info.json"),
                &serde_json::to_vec(&info).unwrap_or_default(),
            )
            .map_err(internal_error)?;
            xml_ok(format!(
                "<InitiateMultipartUploadResult><Bucket>{}</Bucket><Key>{}</Key><UploadId>{id}</UploadId></InitiateMultipartUploadResult>",
                xml_escape(&bucket),
                xml_escape(&key)
            ))
        }
        Method::POST if has("uploadId") => {
            let body = collect(body, 16 * 1024 * 1024).await?;
            complete_upload(
                ctx,
                &bucket,
                &key,
                &qv("uploadId").unwrap_or_default(),
                &body,
                &parts.headers,
            )
        }
        Method::DELETE if has("uploadId") => {
            let up = bdir
                .join("uploads")
                .join(sanitize(&qv("uploadId").unwrap_or_default()));
            if !up.exists() {
                return Err(no_such_upload());
            }
            std::fs::remove_dir_all(up).map_err(internal_error)?;
            empty(204)
        }
        Method::GET if has("uploadId") => {
            list_parts(ctx, &bucket, &key, &qv("uploadId").unwrap_or_default())
        }
        Method::GET | Method::HEAD => {
            let head = m == Method::HEAD;
            let meta = load_meta(ctx, &bucket, &key).ok_or_else(|| {
                ApiError::new(404, "NoSuchKey", "The specified key does not exist.")
            })?;
            let (data_p, _) = obj_paths(ctx, &bucket, &key);
            let range = header(&parts.headers, "range").and_then(|r| parse_range(r, meta.size));
            if let Some(Err(())) = range {
                return Err(ApiError::new(
                    416,
                    "InvalidRange",
                    "The requested range is not satisfiable",
                ));
            }
            let mut resp;
            if let Some(Ok((a, b))) = range {
                let data = if head {
                    Vec::new()
                } else {
                    let all = std::fs::read(&data_p).map_err(internal_error)?;
                    all[a as usize..=b as usize].to_vec()
                };
                resp = Response::new(Body::from(data));
                *resp.status_mut() = StatusCode::PARTIAL_CONTENT;
                set_obj_headers(resp.headers_mut(), &meta, true);
                resp.headers_mut().insert(
                    "content-range",
                    HeaderValue::from_str(&format!("bytes {a}-{b}/{}", meta.size)).expect("ascii"),
                );
                resp.headers_mut()
                    .insert("content-length", HeaderValue::from(b - a + 1));
                resp.headers_mut().remove("x-oss-hash-crc64ecma");
            } else {
                let data = if head {
                    Vec::new()
                } else {
                    std::fs::read(&data_p).map_err(internal_error)?
                };
                resp = Response::new(Body::from(data));
                set_obj_headers(resp.headers_mut(), &meta, true);
                resp.headers_mut()
                    .insert("content-length", HeaderValue::from(meta.size));
            }
            Ok(resp)
        }
        Method::DELETE => {
            let (d, mp) = obj_paths(ctx, &bucket, &key);
            let _ = std::fs::remove_file(mp);
            let _ = std::fs::remove_file(d);
            empty(204)
        }
        _ => Err(ApiError::new(
            405,
            "MethodNotAllowed",
            "unsupported object operation",
        )),
    }
}

fn internal_error(e: std::io::Error) -> ApiError {
    ApiError::new(500, "InternalError", e.to_string())
}

fn sanitize(s: &str) -> String {
    s.chars().filter(|c| c.is_ascii_alphanumeric()).collect()
}

async fn collect(body: Body, limit: usize) -> Result<bytes::Bytes, ApiError> {
    http_body_util::Limited::new(body, limit)
        .collect()
        .await
        .map(|c| c.to_bytes())
        .map_err(|e| ApiError::new(400, "EntityTooLarge", e.to_string()))
}

fn check_md5(h: &HeaderMap, data: &[u8]) -> Result<(), ApiError> {
    if let Some(m) = header(h, "content-md5") {
        let got = base64::engine::general_purpose::STANDARD.encode(Md5::digest(data));
        if got != m.trim() {
            return Err(ApiError::new(
                400,
                "InvalidDigest",
                "The Content-MD5 you specified did not match what we received.",
            ));
        }
    }
    Ok(())
}

fn store(ctx: &Ctx, bucket: &str, meta: &Meta, data: &[u8]) -> Result<(), ApiError> {
    let (d, m) = obj_paths(ctx, bucket, &meta.key);
    atomic_write(&d, data).map_err(internal_error)?;
    atomic_write(&m, &serde_json::to_vec(meta).unwrap_or_default()).map_err(internal_error)
}

fn set_obj_headers(h: &mut HeaderMap, m: &Meta, full: bool) {
    h.insert(
        "etag",
        HeaderValue::from_str(&m.etag).unwrap_or(HeaderValue::from_static("\"\"")),
    );
    h.insert("x-oss-hash-crc64ecma", HeaderValue::from(m.crc64));
    if full {
        h.insert(
            "content-type",
            HeaderValue::from_str(&m.content_type)
                .unwrap_or(HeaderValue::from_static("application/octet-stream")),
        );
        h.insert(
            "last-modified",
            HeaderValue::from_str(&http_date(m.last_modified)).expect("ascii"),
        );
        h.insert("accept-ranges", HeaderValue::from_static("bytes"));
        h.insert(
            "x-oss-object-type",
            HeaderValue::from_static(if m.multipart { "Multipart" } else { "Normal" }),
        );
        h.insert("x-oss-storage-class", HeaderValue::from_static("Standard"));
        for (k, v) in &m.user_meta {
            if let (Ok(k), Ok(v)) = (
                http::HeaderName::from_bytes(k.as_bytes()),
                HeaderValue::from_str(v),
            ) {
                h.insert(k, v);
            }
        }
    }
}

/// Parses a single `bytes=` range. None = ignore (serve whole object), Some(Err) = 416.
fn parse_range(r: &str, size: u64) -> Option<Result<(u64, u64), ()>> {
    let spec = r.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    if a.is_empty() {
        let n: u64 = b.parse().ok()?;
        if n == 0 || size == 0 {
            return Some(Err(()));
        }
        let n = n.min(size);
        return Some(Ok((size - n, size - 1)));
    }
    let a: u64 = a.parse().ok()?;
    if a >= size {
        return Some(Err(()));
    }
    let b: u64 = if b.is_empty() {
        size - 1
    } else {
        b.parse::<u64>().ok()?.min(size - 1)
    };
    if b < a {
        return None;
    }
    Some(Ok((a, b)))
}

fn list_buckets(ctx: &Ctx) -> Reply {
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
            iso(crate::util::now_ms()), e = ctx.info.oss_endpoint.trim_start_matches("http://"), r = ctx.cfg.region))
        .collect();
    xml_ok(format!(
        "<ListAllMyBucketsResult><Owner><ID>{a}</ID><DisplayName>{a}</DisplayName></Owner><Buckets>{items}</Buckets></ListAllMyBucketsResult>",
        a = ctx.cfg.account_id
    ))
}

fn all_meta(ctx: &Ctx, bucket: &str) -> Vec<Meta> {
    let mut v: Vec<Meta> = std::fs::read_dir(bucket_dir(ctx, bucket).join("objects"))
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
                .filter_map(|e| serde_json::from_slice(&std::fs::read(e.path()).ok()?).ok())
                .collect()
        })
        .unwrap_or_default();
    v.sort_by(|a, b| a.key.cmp(&b.key));
    v
}

fn list_objects(ctx: &Ctx, bucket: &str, q: &[(String, String)]) -> Reply {
    let qv = |k: &str| {
        q.iter()
            .find(|(a, _)| a == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let v2 = qv("list-type") == "2";
    let prefix = qv("prefix");
    let delim = qv("delimiter");
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
    let url_enc = qv("encoding-type") == "url";
    let enc = |s: &str| {
        if url_enc {
            crate::sign::rfc3986(s).replace("%2F", "/")
        } else {
            xml_escape(s)
        }
    };
    let mut contents = String::new();
    let mut prefixes: Vec<String> = Vec::new();
    let mut count = 0;
    let mut truncated = false;
    let mut last = String::new();
    for m in all_meta(ctx, bucket) {
        if !m.key.starts_with(&prefix) || (!start.is_empty() && m.key.as_str() <= start.as_str()) {
            continue;
        }
        if !delim.is_empty()
            && let Some(pos) = m.key[prefix.len()..].find(&delim)
        {
            let cp = m.key[..prefix.len() + pos + delim.len()].to_string();
            if prefixes.last() == Some(&cp) {
                continue;
            }
            if count >= max {
                truncated = true;
                break;
            }
            prefixes.push(cp.clone());
            count += 1;
            last = cp;
            continue;
        }
        if count >= max {
            truncated = true;
            break;
        }
        contents.push_str(&format!(
            "<Contents><Key>{}</Key><LastModified>{}</LastModified><ETag>{}</ETag><Type>{}</Type><Size>{}</Size><StorageClass>Standard</StorageClass><Owner><ID>{a}</ID><DisplayName>{a}</DisplayName></Owner></Contents>",
            enc(&m.key),
            iso(m.last_modified),
            xml_escape(&m.etag),
            if m.multipart { "Multipart" } else { "Normal" },
            m.size,
            a = ctx.cfg.account_id
        ));
        count += 1;
        last = m.key.clone();
    }
    let cps: String = prefixes
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
                    enc(&last)
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
                format!("<NextMarker>{}</NextMarker>", enc(&last))
            } else {
                String::new()
            },
        )
    };
    xml_ok(body)
}

/// Extracts the text of every `<tag>` element in order (tiny XML subset, enough for OSS bodies).
fn xml_values(xml: &str, tag: &str) -> Vec<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(i) = rest.find(&open) {
        let after = &rest[i + open.len()..];
        let Some(j) = after.find(&close) else { break };
        out.push(
            after[..j]
                .replace("&quot;", "\"")
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&apos;", "'")
                .replace("&amp;", "&"),
        );
        rest = &after[j + close.len()..];
    }
    out
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

fn copy_object(ctx: &Ctx, bucket: &str, key: &str, src: &str, h: &HeaderMap) -> Reply {
    let src = percent_encoding::percent_decode_str(src)
        .decode_utf8_lossy()
        .into_owned();
    let (sb, sk) = src
        .trim_start_matches('/')
        .split_once('/')
        .ok_or_else(|| ApiError::invalid_argument("bad x-oss-copy-source"))?;
    let mut meta = load_meta(ctx, sb, sk)
        .ok_or_else(|| ApiError::new(404, "NoSuchKey", "The specified key does not exist."))?;
    let data = std::fs::read(obj_paths(ctx, sb, sk).0).map_err(internal_error)?;
    meta.key = key.to_string();
    meta.last_modified = crate::util::now_ms();
    if header(h, "x-oss-metadata-directive") == Some("REPLACE") {
        meta.user_meta = user_meta(h);
        if let Some(ct) = header(h, "content-type") {
            meta.content_type = ct.to_string();
        }
    }
    store(ctx, bucket, &meta, &data)?;
    xml_ok(format!(
        "<CopyObjectResult><ETag>{}</ETag><LastModified>{}</LastModified></CopyObjectResult>",
        xml_escape(&meta.etag),
        iso(meta.last_modified)
    ))
}

fn parts_of(up: &std::path::Path) -> Vec<(u32, PathBuf)> {
    let mut v: Vec<(u32, PathBuf)> = std::fs::read_dir(up)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter_map(|e| {
                    let n = e
                        .file_name()
                        .to_string_lossy()
                        .strip_prefix("part-")?
                        .parse()
                        .ok()?;
                    Some((n, e.path()))
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn complete_upload(
    ctx: &Ctx,
    bucket: &str,
    key: &str,
    upload_id: &str,
    body: &[u8],
    h: &HeaderMap,
) -> Reply {
    let up = bucket_dir(ctx, bucket)
        .join("uploads")
        .join(sanitize(upload_id));
    let info: UploadInfo = std::fs::read(up.join("info.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(no_such_upload)?;
    if info.key != key {
        return Err(ApiError::invalid_argument(
            "upload id belongs to another key",
        ));
    }
    let stored = parts_of(&up);
    let xml = String::from_utf8_lossy(body);
    let wanted: Vec<(u32, Option<String>)> =
        if header(h, "x-oss-complete-all").is_some_and(|v| v.eq_ignore_ascii_case("yes")) {
            stored.iter().map(|(n, _)| (*n, None)).collect()
        } else {
            let nums = xml_values(&xml, "PartNumber");
            let etags = xml_values(&xml, "ETag");
            if nums.is_empty() || nums.len() != etags.len() {
                return Err(ApiError::new(
                    400,
                    "MalformedXML",
                    "The XML you provided was not well-formed.",
                ));
            }
            let mut v = Vec::new();
            for (n, e) in nums.iter().zip(etags) {
                v.push((
                    n.trim().parse().map_err(|_| {
                        ApiError::new(400, "InvalidPart", format!("bad part number {n}"))
                    })?,
                    Some(e),
                ));
            }
            v
        };
    let mut prev = 0;
    let mut data = Vec::new();
    let mut md5s = Vec::new();
    for (n, etag) in &wanted {
        if *n <= prev {
            return Err(ApiError::new(
                400,
                "InvalidPartOrder",
                "The list of parts was not in ascending order.",
            ));
        }
        prev = *n;
        let p = stored.iter().find(|(x, _)| x == n).ok_or_else(|| {
            ApiError::new(400, "InvalidPart", format!("part {n} was not uploaded"))
        })?;
        let b = std::fs::read(&p.1).map_err(internal_error)?;
        let md5 = Md5::digest(&b);
        if let Some(e) = etag
            && !e.trim_matches('"').eq_ignore_ascii_case(&hex::encode(md5))
        {
            return Err(ApiError::new(
                400,
                "InvalidPart",
                format!("ETag of part {n} does not match"),
            ));
        }
        md5s.extend_from_slice(&md5);
        data.extend_from_slice(&b);
    }
    let etag = format!(
        "\"{}-{}\"",
        hex::encode_upper(Md5::digest(&md5s)),
        wanted.len()
    );
    let meta = Meta {
        key: key.to_string(),
        size: data.len() as u64,
        etag: etag.clone(),
        content_type: info.content_type,
        last_modified: crate::util::now_ms(),
        crc64: crc64_update(0, &data),
        multipart: true,
        user_meta: info.user_meta,
    };
    store(ctx, bucket, &meta, &data)?;
    let _ = std::fs::remove_dir_all(&up);
    let mut r = xml_ok(format!(
        "<CompleteMultipartUploadResult><Location>{}/{}/{}</Location><Bucket>{}</Bucket><Key>{}</Key><ETag>{}</ETag></CompleteMultipartUploadResult>",
        ctx.info.oss_endpoint,
        xml_escape(bucket),
        xml_escape(key),
        xml_escape(bucket),
        xml_escape(key),
        xml_escape(&etag)
    ))?;
    r.headers_mut()
        .insert("etag", HeaderValue::from_str(&etag).expect("ascii"));
    r.headers_mut()
        .insert("x-oss-hash-crc64ecma", HeaderValue::from(meta.crc64));
    Ok(r)
}

/// The error OSS gives for an unknown or finished multipart upload id.
fn no_such_upload() -> ApiError {
    ApiError::new(404, "NoSuchUpload", "The specified upload does not exist.")
}

fn list_parts(ctx: &Ctx, bucket: &str, key: &str, upload_id: &str) -> Reply {
    let up = bucket_dir(ctx, bucket)
        .join("uploads")
        .join(sanitize(upload_id));
    if !up.join("info.json").exists() {
        return Err(no_such_upload());
    }
    let mut parts = String::new();
    for (n, p) in parts_of(&up) {
        let b = std::fs::read(&p).map_err(internal_error)?;
        let mt = std::fs::metadata(&p)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        parts.push_str(&format!(
            "<Part><PartNumber>{n}</PartNumber><LastModified>{}</LastModified><ETag>{}</ETag><Size>{}</Size></Part>",
            iso(mt),
            xml_escape(&etag_of(&Md5::digest(&b))),
            b.len()
        ));
    }
    xml_ok(format!(
        "<ListPartsResult><Bucket>{}</Bucket><Key>{}</Key><UploadId>{}</UploadId><PartNumberMarker>0</PartNumberMarker><NextPartNumberMarker>0</NextPartNumberMarker><MaxParts>1000</MaxParts><IsTruncated>false</IsTruncated>{parts}</ListPartsResult>",
        xml_escape(bucket),
        xml_escape(key),
        xml_escape(upload_id)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-9", 100), Some(Ok((0, 9))));
        assert_eq!(parse_range("bytes=90-", 100), Some(Ok((90, 99))));
        assert_eq!(parse_range("bytes=-10", 100), Some(Ok((90, 99))));
        assert_eq!(parse_range("bytes=100-", 100), Some(Err(())));
        assert_eq!(parse_range("bytes=5-200", 100), Some(Ok((5, 99))));
    }
}
