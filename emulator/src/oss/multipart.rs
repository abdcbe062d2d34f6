//! Multipart uploads: initiate, upload part, complete, abort, list parts, list the bucket's
//! incomplete uploads.

use crate::api_error::{ApiError, xml_escape};
use crate::context::Ctx;
use crate::oss::reply::{Reply, empty, etag_of, iso, xml_ok};
use crate::oss::request::{
    MAX_OBJECT, MAX_XML_BODY, OssRequest, check_md5, collect, header, user_meta, xml_values,
};
use crate::oss::store::{Meta, UploadInfo, bucket_dir, internal_error, parts_of, sanitize, store};
use crate::util::{atomic_write, crc64, now_ms};
use axum::body::Body;
use http::{HeaderMap, HeaderValue};
use md5::{Digest as _, Md5};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

fn upload_dir(ctx: &Ctx, r: &OssRequest) -> std::path::PathBuf {
    bucket_dir(ctx, &r.bucket)
        .join("uploads")
        .join(sanitize(&r.param("uploadId")))
}

/// 32 upper-case hex digits like OSS's, led by the initiation time in milliseconds and a
/// sequence number: ordered by id, one key's uploads are in the order they were initiated (also
/// within one millisecond), which is how ListMultipartUploads lists them and what its
/// `upload-id-marker` ("the uploads after this one") counts on.
fn upload_id(initiated_ms: u64) -> String {
    static LAST: AtomicU64 = AtomicU64::new(0);
    let stamp = initiated_ms << 16;
    let prev = LAST
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |last| {
            Some(stamp.max(last + 1))
        })
        .unwrap_or(0);
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!("{:016X}{}", stamp.max(prev + 1), &random[..16]).to_ascii_uppercase()
}

pub fn initiate(ctx: &Ctx, r: &OssRequest) -> Reply {
    let initiated = now_ms();
    let id = upload_id(initiated);
    let up = bucket_dir(ctx, &r.bucket).join("uploads").join(&id);
    std::fs::create_dir_all(&up).map_err(internal_error)?;
    let info = UploadInfo {
        key: r.key.clone(),
        content_type: r
            .header("content-type")
            .unwrap_or("application/octet-stream")
            .to_string(),
        initiated,
        user_meta: user_meta(&r.parts.headers),
    };
    atomic_write(
        &up.join("info.json"),
        &serde_json::to_vec(&info).unwrap_or_default(),
    )
    .map_err(internal_error)?;
    xml_ok(format!(
        "<InitiateMultipartUploadResult><Bucket>{}</Bucket><Key>{}</Key><UploadId>{id}</UploadId></InitiateMultipartUploadResult>",
        xml_escape(&r.bucket),
        xml_escape(&r.key)
    ))
}

pub async fn upload_part(ctx: &Ctx, r: &OssRequest, body: Body) -> Reply {
    let n: u32 = r
        .param("partNumber")
        .parse()
        .ok()
        .filter(|n| (1..=10000).contains(n))
        .ok_or_else(|| ApiError::invalid_argument("partNumber must be 1..=10000"))?;
    let up = upload_dir(ctx, r);
    if !up.exists() {
        return Err(no_such_upload());
    }
    let data = collect(body, MAX_OBJECT).await?;
    check_md5(&r.parts.headers, &data)?;
    let md5 = Md5::digest(&data);
    atomic_write(&up.join(format!("part-{n:05}")), &data).map_err(internal_error)?;
    let mut resp = empty(200)?;
    resp.headers_mut()
        .insert("etag", HeaderValue::from_str(&etag_of(&md5)).expect("hex"));
    resp.headers_mut()
        .insert("x-oss-hash-crc64ecma", HeaderValue::from(crc64(&data)));
    Ok(resp)
}

pub async fn complete(ctx: &Ctx, r: &OssRequest, body: Body) -> Reply {
    let body = collect(body, MAX_XML_BODY).await?;
    let (bucket, key) = (r.bucket.as_str(), r.key.as_str());
    let up = upload_dir(ctx, r);
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
    let wanted = requested_parts(&r.parts.headers, &body, &stored)?;
    let (data, etag) = concatenate_parts(&wanted, &stored)?;
    let meta = Meta {
        key: key.to_string(),
        size: data.len() as u64,
        etag: etag.clone(),
        content_type: info.content_type,
        last_modified: now_ms(),
        crc64: crc64(&data),
        multipart: true,
        user_meta: info.user_meta,
    };
    store(ctx, bucket, &meta, &data)?;
    let _ = std::fs::remove_dir_all(&up);
    let mut resp = xml_ok(format!(
        "<CompleteMultipartUploadResult><Location>{}/{}/{}</Location><Bucket>{}</Bucket><Key>{}</Key><ETag>{}</ETag></CompleteMultipartUploadResult>",
        ctx.info.oss_endpoint,
        xml_escape(bucket),
        xml_escape(key),
        xml_escape(bucket),
        xml_escape(key),
        xml_escape(&etag)
    ))?;
    resp.headers_mut()
        .insert("etag", HeaderValue::from_str(&etag).expect("ascii"));
    resp.headers_mut()
        .insert("x-oss-hash-crc64ecma", HeaderValue::from(meta.crc64));
    Ok(resp)
}

/// The parts to join, with the ETag the client expects for each: every stored part with
/// `x-oss-complete-all: yes`, else the `<Part>` list of the XML body.
fn requested_parts(
    h: &HeaderMap,
    body: &[u8],
    stored: &[(u32, PathBuf)],
) -> Result<Vec<(u32, Option<String>)>, ApiError> {
    if header(h, "x-oss-complete-all").is_some_and(|v| v.eq_ignore_ascii_case("yes")) {
        return Ok(stored.iter().map(|(n, _)| (*n, None)).collect());
    }
    let xml = String::from_utf8_lossy(body);
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
            n.trim()
                .parse()
                .map_err(|_| ApiError::new(400, "InvalidPart", format!("bad part number {n}")))?,
            Some(e),
        ));
    }
    Ok(v)
}

/// Joins the parts in order, checking order and ETags; returns the data and OSS's multipart
/// ETag (MD5 of the part MD5s, then `-<part count>`).
fn concatenate_parts(
    wanted: &[(u32, Option<String>)],
    stored: &[(u32, PathBuf)],
) -> Result<(Vec<u8>, String), ApiError> {
    let mut prev = 0;
    let mut data = Vec::new();
    let mut md5s = Vec::new();
    let last = wanted.last().map(|(n, _)| *n);
    for (n, etag) in wanted {
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
        // OSS docs (multipart upload): every part but the last is at least 100 KB.
        if Some(*n) != last && b.len() < MIN_PART_SIZE {
            return Err(ApiError::new(
                400,
                "EntityTooSmall",
                format!(
                    "Your proposed upload is smaller than the minimum allowed size: part {n} has {} bytes, every part but the last needs at least {MIN_PART_SIZE}.",
                    b.len()
                ),
            ));
        }
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
    Ok((data, etag))
}

pub fn abort(ctx: &Ctx, r: &OssRequest) -> Reply {
    let up = upload_dir(ctx, r);
    if !up.exists() {
        return Err(no_such_upload());
    }
    std::fs::remove_dir_all(up).map_err(internal_error)?;
    empty(204)
}

/// The error OSS gives for an unknown or finished multipart upload id.
pub fn no_such_upload() -> ApiError {
    ApiError::new(404, "NoSuchUpload", "The specified upload does not exist.")
}

/// Smallest part OSS accepts anywhere but last (100 KB).
const MIN_PART_SIZE: usize = 100 * 1024;

/// ListParts pages: `max-parts` (default and cap 1000, OSS docs) after `part-number-marker`.
pub fn list_parts(ctx: &Ctx, r: &OssRequest) -> Reply {
    let (bucket, key, upload_id) = (r.bucket.as_str(), r.key.as_str(), &r.param("uploadId"));
    let up = upload_dir(ctx, r);
    if !up.join("info.json").exists() {
        return Err(no_such_upload());
    }
    let max_parts: usize = r
        .param("max-parts")
        .parse()
        .ok()
        .filter(|m| (1..=1000).contains(m))
        .unwrap_or(1000);
    let marker: u32 = r.param("part-number-marker").parse().unwrap_or(0);
    let after_marker: Vec<(u32, PathBuf)> = parts_of(&up)
        .into_iter()
        .filter(|(n, _)| *n > marker)
        .collect();
    let truncated = after_marker.len() > max_parts;
    let page = &after_marker[..after_marker.len().min(max_parts)];
    let next_marker = page.last().map_or(marker, |(n, _)| *n);
    let mut parts = String::new();
    for (n, p) in page {
        let b = std::fs::read(p).map_err(internal_error)?;
        let mt = std::fs::metadata(p)
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
        "<ListPartsResult><Bucket>{}</Bucket><Key>{}</Key><UploadId>{}</UploadId><PartNumberMarker>{marker}</PartNumberMarker><NextPartNumberMarker>{next_marker}</NextPartNumberMarker><MaxParts>{max_parts}</MaxParts><IsTruncated>{truncated}</IsTruncated>{parts}</ListPartsResult>",
        xml_escape(bucket),
        xml_escape(key),
        xml_escape(upload_id)
    ))
}

/// The bucket's incomplete uploads (key, upload id, info), ordered by key and then by upload id
/// (= initiation time).
pub fn incomplete_uploads(ctx: &Ctx, bucket: &str) -> Vec<(String, String, UploadInfo)> {
    let mut v: Vec<(String, String, UploadInfo)> =
        std::fs::read_dir(bucket_dir(ctx, bucket).join("uploads"))
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .filter_map(|e| {
                        let id = e.file_name().into_string().ok()?;
                        let info: UploadInfo = serde_json::from_slice(
                            &std::fs::read(e.path().join("info.json")).ok()?,
                        )
                        .ok()?;
                        Some((info.key.clone(), id, info))
                    })
                    .collect()
            })
            .unwrap_or_default();
    v.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    v
}

/// ListMultipartUploads (`GET /<bucket>?uploads`): up to `max-uploads` (default and cap 1000,
/// OSS docs) uploads whose key starts with `prefix`, after `key-marker` (all of that key's
/// uploads, or with `upload-id-marker` those up to and including that id). `NextKeyMarker` and
/// `NextUploadIdMarker` name the last upload listed; `encoding-type=url` (oss2 always sends it)
/// URL-encodes the keys, prefix, markers and delimiter.
pub fn list_uploads(ctx: &Ctx, r: &OssRequest) -> Reply {
    let delimiter = r.param("delimiter");
    if !delimiter.is_empty() {
        return Err(ApiError::new(
            501,
            "NotImplemented",
            "the emulator does not implement ListMultipartUploads with a delimiter",
        ));
    }
    let (prefix, key_marker, id_marker) = (
        r.param("prefix"),
        r.param("key-marker"),
        r.param("upload-id-marker"),
    );
    let max: usize = r
        .param("max-uploads")
        .parse()
        .ok()
        .filter(|m| (1..=1000).contains(m))
        .unwrap_or(1000);
    let after_marker = |key: &str, id: &str| {
        key_marker.is_empty()
            || key > key_marker.as_str()
            || (key == key_marker && !id_marker.is_empty() && id > id_marker.as_str())
    };
    let mut matching = incomplete_uploads(ctx, &r.bucket)
        .into_iter()
        .filter(|(key, id, _)| key.starts_with(&prefix) && after_marker(key, id));
    let page: Vec<_> = matching.by_ref().take(max).collect();
    let truncated = matching.next().is_some();
    let url_enc = r.param("encoding-type") == "url";
    let enc = |s: &str| {
        if url_enc {
            crate::sign::rfc3986(s).replace("%2F", "/")
        } else {
            xml_escape(s)
        }
    };
    let (next_key, next_id) = page
        .last()
        .map(|(k, id, _)| (enc(k), xml_escape(id)))
        .unwrap_or_default();
    let uploads: String = page
        .iter()
        .map(|(key, id, info)| {
            format!(
                "<Upload><Key>{}</Key><UploadId>{}</UploadId><Initiated>{}</Initiated></Upload>",
                enc(key),
                xml_escape(id),
                iso(info.initiated)
            )
        })
        .collect();
    xml_ok(format!(
        "<ListMultipartUploadsResult><Bucket>{}</Bucket>{}<KeyMarker>{}</KeyMarker><UploadIdMarker>{}</UploadIdMarker><NextKeyMarker>{next_key}</NextKeyMarker><NextUploadIdMarker>{next_id}</NextUploadIdMarker><Delimiter></Delimiter><Prefix>{}</Prefix><MaxUploads>{max}</MaxUploads><IsTruncated>{truncated}</IsTruncated>{uploads}</ListMultipartUploadsResult>",
        xml_escape(&r.bucket),
        if url_enc {
            "<EncodingType>url</EncodingType>"
        } else {
            ""
        },
        enc(&key_marker),
        xml_escape(&id_marker),
        enc(&prefix),
    ))
}

#[cfg(test)]
mod tests {
    use super::upload_id;

    #[test]
    fn upload_ids_sort_in_initiation_order_within_one_millisecond() {
        let ids: Vec<String> = (0..50).map(|_| upload_id(1_700_000_000_000)).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
        assert!(
            ids.iter()
                .all(|id| id.len() == 32 && id.chars().all(|c| c.is_ascii_hexdigit()))
        );
        assert!(upload_id(1_800_000_000_000) > ids[49]);
    }
}
