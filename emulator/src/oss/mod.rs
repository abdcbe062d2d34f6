//! Path-style OSS subset: buckets, Put/Get(Range)/Head/Delete/Copy object, multipart
//! (initiate / upload part / complete / abort / list parts / list uploads), ListObjects (V1 + V2),
//! DeleteMultipleObjects. Data on disk under `<data_dir>/oss/<bucket>/`.

mod buckets;
mod multipart;
mod objects;
mod reply;
mod request;
mod store;

pub use store::read_object;

use crate::api_error::{Api, ApiError};
use crate::context::Ctx;
use crate::util::request_id;
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use http::{HeaderValue, Method};
use reply::Reply;
use request::OssRequest;
use std::sync::Arc;

pub fn router(ctx: Arc<Ctx>) -> Router {
    Router::new().fallback(handle).with_state(ctx)
}

async fn handle(State(ctx): State<Arc<Ctx>>, req: axum::extract::Request) -> Response {
    let rid = request_id();
    if let Some(r) = ctx.cfg.faults.inject(Api::Oss, &rid).await {
        return r;
    }
    let mut r = match route(&ctx, req).await {
        Ok(r) => r,
        Err(e) => return e.to_response(Api::Oss, &rid),
    };
    if let Ok(v) = HeaderValue::from_str(&rid) {
        r.headers_mut().insert("x-oss-request-id", v);
    }
    r
}

async fn route(ctx: &Arc<Ctx>, req: axum::extract::Request) -> Reply {
    let (parts, body) = req.into_parts();
    let r = OssRequest::new(parts);
    ctx.auth.verify_oss(
        r.parts.method.as_str(),
        &r.resource(),
        &r.query,
        &r.parts.headers,
    )?;
    if let Some(log) = &ctx.request_log {
        let authorization = r.header("authorization");
        let kind = crate::request_log::oss_signature_kind(authorization, &r.query);
        log.oss(r.parts.method.as_str(), &r.resource(), kind);
    }
    if r.bucket.is_empty() {
        return if r.parts.method == Method::GET {
            buckets::list_buckets(ctx)
        } else {
            Err(ApiError::new(405, "MethodNotAllowed", "unsupported"))
        };
    }
    if r.key.is_empty() {
        return buckets::bucket_operation(ctx, &r, body).await;
    }
    if !store::bucket_dir(ctx, &r.bucket).exists() {
        return Err(buckets::no_such_bucket(&r.bucket));
    }
    match r.parts.method {
        Method::PUT if r.has("partNumber") && r.has("uploadId") => {
            multipart::upload_part(ctx, &r, body).await
        }
        Method::PUT => objects::put_object(ctx, &r, body).await,
        Method::POST if r.has("uploads") => multipart::initiate(ctx, &r),
        Method::POST if r.has("uploadId") => multipart::complete(ctx, &r, body).await,
        Method::DELETE if r.has("uploadId") => multipart::abort(ctx, &r),
        Method::GET if r.has("uploadId") => multipart::list_parts(ctx, &r),
        Method::GET => objects::get_object(ctx, &r, false),
        Method::HEAD => objects::get_object(ctx, &r, true),
        Method::DELETE => objects::delete_object(ctx, &r),
        _ => Err(ApiError::new(
            405,
            "MethodNotAllowed",
            "unsupported object operation",
        )),
    }
}
