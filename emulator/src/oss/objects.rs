//! Object operations: put, copy, get / head (with Range), delete.

use crate::api_error::{ApiError, xml_escape};
use crate::context::Ctx;
use crate::oss::reply::{Reply, empty, etag_of, iso, set_obj_headers, xml_ok};
use crate::oss::request::{
    MAX_OBJECT, OssRequest, check_md5, collect, header, parse_range, user_meta,
};
use crate::oss::store::{Meta, internal_error, load_meta, obj_paths, store};
use crate::util::{crc64, now_ms};
use axum::body::Body;
use axum::response::Response;
use http::{HeaderMap, HeaderValue, StatusCode};
use md5::{Digest as _, Md5};

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
    meta.last_modified = now_ms();
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

pub async fn put_object(ctx: &Ctx, r: &OssRequest, body: Body) -> Reply {
    let h = &r.parts.headers;
    if let Some(src) = header(h, "x-oss-copy-source") {
        return copy_object(ctx, &r.bucket, &r.key, src, h);
    }
    let data = collect(body, MAX_OBJECT).await?;
    check_md5(h, &data)?;
    let md5 = Md5::digest(&data);
    let meta = Meta {
        key: r.key.clone(),
        size: data.len() as u64,
        etag: etag_of(&md5),
        content_type: header(h, "content-type")
            .unwrap_or("application/octet-stream")
            .to_string(),
        last_modified: now_ms(),
        crc64: crc64(&data),
        multipart: false,
        user_meta: user_meta(h),
    };
    store(ctx, &r.bucket, &meta, &data)?;
    let mut resp = empty(200)?;
    set_obj_headers(resp.headers_mut(), &meta, false);
    Ok(resp)
}

/// GetObject and HeadObject (`head`: headers only), honouring a single `bytes=` Range.
pub fn get_object(ctx: &Ctx, r: &OssRequest, head: bool) -> Reply {
    let meta = load_meta(ctx, &r.bucket, &r.key)
        .ok_or_else(|| ApiError::new(404, "NoSuchKey", "The specified key does not exist."))?;
    let (data_p, _) = obj_paths(ctx, &r.bucket, &r.key);
    let range = r.header("range").and_then(|v| parse_range(v, meta.size));
    if let Some(Err(())) = range {
        return Err(ApiError::new(
            416,
            "InvalidRange",
            "The requested range is not satisfiable",
        ));
    }
    let read = || std::fs::read(&data_p).map_err(internal_error);
    let mut resp;
    if let Some(Ok((a, b))) = range {
        let data = if head {
            Vec::new()
        } else {
            read()?[a as usize..=b as usize].to_vec()
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
        let data = if head { Vec::new() } else { read()? };
        resp = Response::new(Body::from(data));
        set_obj_headers(resp.headers_mut(), &meta, true);
        resp.headers_mut()
            .insert("content-length", HeaderValue::from(meta.size));
    }
    Ok(resp)
}

pub fn delete_object(ctx: &Ctx, r: &OssRequest) -> Reply {
    let (d, mp) = obj_paths(ctx, &r.bucket, &r.key);
    let _ = std::fs::remove_file(mp);
    let _ = std::fs::remove_file(d);
    empty(204)
}
