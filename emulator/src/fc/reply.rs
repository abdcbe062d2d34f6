//! Successful FC API replies and the errors shared by every resource.

use crate::api_error::ApiError;
use axum::body::Body;
use axum::response::Response;
use http::{HeaderValue, StatusCode};
use serde_json::Value;

pub type Reply = Result<Response, ApiError>;

pub fn with_request_ids(mut r: Response, rid: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(rid) {
        r.headers_mut().insert("x-fc-request-id", v.clone());
        r.headers_mut().insert("x-acs-request-id", v);
    }
    r
}

pub fn json_response(status: u16, v: &Value) -> Response {
    let mut r = Response::new(Body::from(v.to_string()));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    r.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    r
}

pub fn ok(v: Value) -> Reply {
    Ok(json_response(200, &v))
}

pub fn no_content() -> Reply {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = StatusCode::NO_CONTENT;
    Ok(r)
}

pub fn function_not_found(f: &str) -> ApiError {
    ApiError::new(
        404,
        "FunctionNotFound",
        format!("function '{f}' does not exist"),
    )
}
