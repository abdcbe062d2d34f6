//! OSS replies: XML bodies, object headers, timestamps.

use crate::api_error::ApiError;
use crate::oss::store::Meta;
use axum::body::Body;
use axum::response::Response;
use http::{HeaderMap, HeaderValue, StatusCode};

pub type Reply = Result<Response, ApiError>;

pub fn xml_ok(body: String) -> Reply {
    let mut r = Response::new(Body::from(format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{body}"
    )));
    r.headers_mut()
        .insert("content-type", HeaderValue::from_static("application/xml"));
    Ok(r)
}

pub fn empty(status: u16) -> Reply {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    Ok(r)
}

pub fn iso(ms: u64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp((ms / 1000) as i64)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let f = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].000Z");
    t.format(&f).unwrap_or_default()
}

pub fn http_date(ms: u64) -> String {
    httpdate::fmt_http_date(std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms))
}

pub fn etag_of(md5: &[u8]) -> String {
    format!("\"{}\"", hex::encode_upper(md5))
}

pub fn set_obj_headers(h: &mut HeaderMap, m: &Meta, full: bool) {
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
