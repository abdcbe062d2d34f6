//! The error every API surface of the emulator answers with, rendered in the wire format of
//! the API that failed: FC's JSON body or OSS's XML body.

use axum::body::Body;
use axum::response::Response;
use http::{HeaderValue, StatusCode};
use serde_json::{Value, json};
use std::borrow::Cow;

/// Which API an error belongs to; decides the body format and the request-id headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// The FC OpenAPI (`/2023-03-30/...`), including InvokeFunction.
    Fc,
    /// HTTP triggers and custom domains: the function's own endpoints.
    Function,
    Oss,
    /// The RPC-style OpenAPIs (VPC, ECS, NAS, RAM): a JSON body with `Code`, `Message`,
    /// `RequestId` (+ `HostId`, `Recommend` and whatever `extra` holds).
    Rpc,
    /// Log Service: JSON `{"errorCode","errorMessage"}`, request id in `x-log-requestid`.
    Sls,
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    pub status: u16,
    /// Static for the fixed codes; RPC products also build codes from a parameter's name
    /// (`MissingVpcId`).
    pub code: Cow<'static, str>,
    pub message: String,
    /// FC reports runtime failures as 200 + `x-fc-error-type` on invocations.
    pub error_type: Option<&'static str>,
    /// OSS's detailed error code (`<EC>0002-00000080</EC>`), which its docs index by.
    pub ec: Option<&'static str>,
    /// More top-level fields of an RPC error body (`HostId`, `AccessDeniedDetail`).
    pub extra: Option<serde_json::Map<String, Value>>,
}

impl ApiError {
    pub fn new(
        status: u16,
        code: impl Into<Cow<'static, str>>,
        message: impl Into<String>,
    ) -> Self {
        ApiError {
            status,
            code: code.into(),
            message: message.into(),
            error_type: None,
            ec: None,
            extra: None,
        }
    }

    /// The same status with another code.
    pub fn with_code(mut self, code: &'static str) -> Self {
        self.code = code.into();
        self
    }

    /// With one more top-level field in an RPC error body.
    pub fn with_field(mut self, key: &str, value: Value) -> Self {
        self.extra
            .get_or_insert_with(Default::default)
            .insert(key.to_string(), value);
        self
    }

    /// With OSS's detailed error code.
    pub fn with_ec(mut self, ec: &'static str) -> Self {
        self.ec = Some(ec);
        self
    }

    /// A failure of the function itself (timeout, initializer): FC answers 200 and names the
    /// failure in `x-fc-error-type`.
    pub fn function_failure(code: &'static str, error_type: &'static str, message: String) -> Self {
        ApiError {
            status: 200,
            code: code.into(),
            message,
            error_type: Some(error_type),
            ec: None,
            extra: None,
        }
    }

    pub fn internal(message: impl Into<String>) -> Self {
        ApiError::new(500, "InternalServerError", message)
    }

    pub fn invalid_argument(message: impl Into<String>) -> Self {
        ApiError::new(400, "InvalidArgument", message)
    }

    pub fn to_response(&self, api: Api, request_id: &str) -> Response {
        match api {
            Api::Fc | Api::Function => self.json_response(api, request_id),
            Api::Oss => self.xml_response(request_id),
            Api::Rpc => self.rpc_response(request_id),
            Api::Sls => self.sls_response(request_id),
        }
    }

    fn rpc_response(&self, request_id: &str) -> Response {
        let mut body = serde_json::Map::new();
        body.insert("RequestId".into(), request_id.into());
        body.insert("Code".into(), Value::from(self.code.as_ref()));
        body.insert("Message".into(), Value::from(self.message.as_str()));
        for (k, v) in self.extra.iter().flatten() {
            body.insert(k.clone(), v.clone());
        }
        let mut r = self.response_with(
            Body::from(Value::Object(body).to_string()),
            "application/json;charset=utf-8",
        );
        if let Ok(v) = HeaderValue::from_str(request_id) {
            r.headers_mut().insert("x-acs-request-id", v);
        }
        r
    }

    fn sls_response(&self, request_id: &str) -> Response {
        let body = json!({"errorCode": self.code, "errorMessage": self.message});
        let mut r = self.response_with(Body::from(body.to_string()), "application/json");
        if let Ok(v) = HeaderValue::from_str(request_id) {
            r.headers_mut().insert("x-log-requestid", v);
        }
        r
    }

    fn json_response(&self, api: Api, request_id: &str) -> Response {
        let body = json!({"Code": self.code, "Message": self.message, "RequestId": request_id});
        // The OpenAPI's own errors carry the charset like FC's; errors on the function's
        // endpoints (and function failures) come from the invocation path, which FC sends
        // as plain `application/json`.
        let content_type = if api == Api::Fc && self.error_type.is_none() {
            "application/json; charset=utf-8"
        } else {
            "application/json"
        };
        let mut r = self.response_with(Body::from(body.to_string()), content_type);
        let h = r.headers_mut();
        if let Some(t) = self.error_type {
            h.insert("x-fc-error-type", HeaderValue::from_static(t));
        }
        if let Ok(v) = HeaderValue::from_str(request_id) {
            h.insert("x-fc-request-id", v.clone());
            h.insert("x-acs-request-id", v);
        }
        r
    }

    fn xml_response(&self, request_id: &str) -> Response {
        let ec = self
            .ec
            .map(|ec| format!("  <EC>{ec}</EC>\n"))
            .unwrap_or_default();
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error>\n  <Code>{}</Code>\n  <Message>{}</Message>\n  <RequestId>{}</RequestId>\n  <HostId>127.0.0.1</HostId>\n{ec}</Error>\n",
            xml_escape(&self.code),
            xml_escape(&self.message),
            request_id
        );
        let mut r = self.response_with(Body::from(body), "application/xml");
        if let Ok(v) = HeaderValue::from_str(request_id) {
            r.headers_mut().insert("x-oss-request-id", v);
        }
        r
    }

    fn response_with(&self, body: Body, content_type: &'static str) -> Response {
        let mut r = Response::new(body);
        *r.status_mut() =
            StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        r.headers_mut()
            .insert("content-type", HeaderValue::from_static(content_type));
        r
    }
}

pub fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt as _;

    async fn body_of(r: Response) -> String {
        let b = r.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(b.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn fc_errors_are_json_with_both_request_id_headers() {
        let r = ApiError::new(404, "FunctionNotFound", "no f").to_response(Api::Fc, "rid-1");
        assert_eq!(r.status(), 404);
        assert_eq!(
            r.headers()["content-type"],
            "application/json; charset=utf-8"
        );
        assert_eq!(r.headers()["x-fc-request-id"], "rid-1");
        assert_eq!(r.headers()["x-acs-request-id"], "rid-1");
        let v: serde_json::Value = serde_json::from_str(&body_of(r).await).unwrap();
        assert_eq!(
            v,
            json!({"Code": "FunctionNotFound", "Message": "no f", "RequestId": "rid-1"})
        );
    }

    #[tokio::test]
    async fn function_failures_name_their_type() {
        let e = ApiError::function_failure("FunctionTimeout", "FunctionTimeoutError", "t".into());
        let r = e.to_response(Api::Fc, "rid");
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "application/json");
        assert_eq!(r.headers()["x-fc-error-type"], "FunctionTimeoutError");
    }

    #[tokio::test]
    async fn oss_errors_are_escaped_xml() {
        let r = ApiError::new(404, "NoSuchKey", "a<b").to_response(Api::Oss, "rid-2");
        assert_eq!(r.status(), 404);
        assert_eq!(r.headers()["content-type"], "application/xml");
        assert_eq!(r.headers()["x-oss-request-id"], "rid-2");
        assert!(r.headers().get("x-fc-request-id").is_none());
        let b = body_of(r).await;
        assert!(b.contains("<Code>NoSuchKey</Code>"), "{b}");
        assert!(b.contains("<Message>a&lt;b</Message>"), "{b}");
        assert!(b.contains("<RequestId>rid-2</RequestId>"), "{b}");
    }
}
