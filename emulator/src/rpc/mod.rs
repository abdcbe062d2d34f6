//! The RPC-style OpenAPIs — VPC 2016-04-28, ECS 2014-05-26 (security groups), NAS
//! 2017-06-26, RAM 2015-05-01 — one listener each. The official SDKs send every action as
//! `POST /` with the parameters in the query, the action and version in `x-acs-action` /
//! `x-acs-version`, signed with ACS3-HMAC-SHA256 (docs/cloud-facts.md). This module checks
//! what all four share: signature (answered with the OpenAPI gateway's codes), version,
//! action, faults and `deny`; `params` reads the query; one module per product runs the action.

mod ecs;
mod nas;
mod params;
mod ram;
pub(crate) mod vpc;

use crate::api_error::{Api, ApiError};
use crate::context::Ctx;
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use http::HeaderValue;
use http_body_util::BodyExt as _;
use params::Params;
use serde_json::{Value, json};
use std::sync::Arc;

/// What an action answers: the JSON body without `RequestId` (added here).
pub type Answer = Result<Value, ApiError>;

/// Form bodies are small; nothing these APIs take comes near this.
const MAX_BODY: usize = 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Product {
    Vpc,
    Ecs,
    Nas,
    Ram,
}

impl Product {
    pub const ALL: [Product; 4] = [Product::Vpc, Product::Ecs, Product::Nas, Product::Ram];

    /// The API version the product's SDK sends (`x-acs-version`).
    pub fn version(self) -> &'static str {
        match self {
            Product::Vpc => "2016-04-28",
            Product::Ecs => "2014-05-26",
            Product::Nas => "2017-06-26",
            Product::Ram => "2015-05-01",
        }
    }

    /// The RAM service prefix of its actions (`nas:CreateFileSystem`).
    pub fn code(self) -> &'static str {
        match self {
            Product::Vpc => "vpc",
            Product::Ecs => "ecs",
            Product::Nas => "nas",
            Product::Ram => "ram",
        }
    }

    fn actions(self) -> &'static [&'static str] {
        match self {
            Product::Vpc => vpc::ACTIONS,
            Product::Ecs => ecs::ACTIONS,
            Product::Nas => nas::ACTIONS,
            Product::Ram => ram::ACTIONS,
        }
    }

    fn run(self, ctx: &Ctx, action: &str, p: &Params) -> Answer {
        match self {
            Product::Vpc => vpc::run(ctx, action, p),
            Product::Ecs => ecs::run(ctx, action, p),
            Product::Nas => nas::run(ctx, action, p),
            Product::Ram => ram::run(ctx, action, p),
        }
    }
}

pub fn router(ctx: Arc<Ctx>, product: Product) -> Router {
    Router::new().fallback(handle).with_state((ctx, product))
}

/// An OpenAPI request id: an upper-case UUID, as the gateway sends.
fn request_id() -> String {
    uuid::Uuid::new_v4().hyphenated().to_string().to_uppercase()
}

async fn handle(State((ctx, product)): State<(Arc<Ctx>, Product)>, req: Request) -> Response {
    let rid = request_id();
    if let Some(r) = ctx.cfg.faults.inject(Api::Rpc, &rid).await {
        return r;
    }
    let host = req
        .headers()
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("")
        .to_string();
    match serve(&ctx, product, req).await {
        Ok(v) => ok_response(v, &rid),
        Err(e) => {
            let recommend = format!(
                "https://api.aliyun.com/troubleshoot?q={}&product={}&requestId={rid}",
                e.code,
                product.code()
            );
            e.with_field("HostId", host.into())
                .with_field("Recommend", recommend.into())
                .to_response(Api::Rpc, &rid)
        }
    }
}

fn ok_response(mut v: Value, rid: &str) -> Response {
    if let Value::Object(m) = &mut v {
        m.insert("RequestId".into(), rid.into());
    }
    let mut r = Response::new(Body::from(v.to_string()));
    let h = r.headers_mut();
    h.insert(
        "content-type",
        HeaderValue::from_static("application/json;charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(rid) {
        h.insert("x-acs-request-id", v);
    }
    r
}

async fn serve(ctx: &Ctx, product: Product, req: Request) -> Answer {
    let (parts, body) = req.into_parts();
    let body = http_body_util::Limited::new(body, MAX_BODY)
        .collect()
        .await
        .map_err(|e| ApiError::new(400, "InvalidParameter", format!("request body: {e}")))?
        .to_bytes();
    let path = parts.uri.path();
    let query = parts.uri.query().unwrap_or("");
    ctx.auth
        .verify_acs3(
            parts.method.as_str(),
            path,
            query,
            &parts.headers,
            &body,
            true,
        )
        .map_err(gateway_error)?;
    if !matches!(parts.method.as_str(), "POST" | "GET") || path != "/" {
        return Err(ApiError::new(
            404,
            "InvalidAction.NotFound",
            format!(
                "Specified api is not found, please check your url and method. ({} {path}: RPC actions are POST /)",
                parts.method
            ),
        ));
    }
    let header = |k: &str| {
        parts
            .headers
            .get(k)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    let (action, version) = (header("x-acs-action"), header("x-acs-version"));
    if version != product.version() {
        return Err(ApiError::new(
            400,
            "InvalidVersion",
            format!(
                "Specified parameter Version is not valid. ({} speaks {}, not `{version}`)",
                product.code(),
                product.version()
            ),
        ));
    }
    if !product.actions().contains(&action) {
        return Err(ApiError::new(
            404,
            "InvalidAction.NotFound",
            format!(
                "Specified api is not found, please check your url and method. ({}:{action} is not an action of {} {} the emulator serves)",
                product.code(),
                product.code(),
                product.version()
            ),
        ));
    }
    let mut pairs = crate::sign::parse_query(query);
    if header("content-type").starts_with("application/x-www-form-urlencoded") {
        pairs.extend(crate::sign::parse_query(&String::from_utf8_lossy(&body)));
    }
    if let Some(log) = &ctx.request_log {
        log.rpc(product.code(), action, &pairs);
    }
    if ctx.cfg.faults.denies(product.code(), action) {
        return Err(forbidden_ram(product, action, header("x-acs-accesskey-id")));
    }
    product.run(ctx, action, &Params::new(pairs))
}

/// A call the caller's RAM policy does not allow. The gateway names the action it checked in
/// `AccessDeniedDetail.AuthAction`; the message names it too, so a log line alone says
/// which permission to add.
fn forbidden_ram(product: Product, action: &str, access_key_id: &str) -> ApiError {
    let auth_action = format!("{}:{action}", product.code());
    ApiError::new(
        403,
        "Forbidden.RAM",
        format!(
            "User not authorized to operate on the specified resource, or this API doesn't support RAM. (action: {auth_action})"
        ),
    )
    .with_field(
        "AccessDeniedDetail",
        json!({
            "AuthAction": auth_action,
            "AuthPrincipalType": "SubUser",
            "AuthPrincipalDisplayName": access_key_id,
            "NoPermissionType": "ImplicitDeny",
            "PolicyType": "AccountLevelIdentityBasedPolicy",
            "EncodedDiagnosticMessage": "",
        }),
    )
}

/// The authenticator speaks FC's dialect; the OpenAPI gateway in front of the RPC products
/// answers authentication failures with its own codes and statuses.
fn gateway_error(e: ApiError) -> ApiError {
    let detail = e.message.clone();
    let (status, code, message) = match e.code.as_ref() {
        "SignatureNotMatch" => (
            400,
            "SignatureDoesNotMatch",
            "Specified signature is not matched with our calculation.",
        ),
        "InvalidAccessKeyID" => (
            404,
            "InvalidAccessKeyId.NotFound",
            "Specified access key is not found.",
        ),
        "MissingAuthorization" | "InvalidAuthorization" => (
            400,
            "IncompleteSignature",
            "The request signature does not conform to Aliyun standards.",
        ),
        "MissingParameter.x-acs-date" => (
            400,
            "InvalidTimeStamp.Format",
            "Specified time stamp or date value is not well formatted.",
        ),
        "InvalidTimeStamp.Expired" => (
            400,
            "InvalidTimeStamp.Expired",
            "Specified time stamp or date value is expired.",
        ),
        _ => return e,
    };
    ApiError::new(status, code, format!("{message} ({detail})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gateway_codes_replace_fc_codes() {
        let e = gateway_error(ApiError::new(403, "SignatureNotMatch", "sts abc"));
        assert_eq!((e.status, e.code.as_ref()), (400, "SignatureDoesNotMatch"));
        assert!(e.message.contains("sts abc"), "keeps the detail");
        let e = gateway_error(ApiError::new(403, "InvalidAccessKeyID", "x"));
        assert_eq!(
            (e.status, e.code.as_ref()),
            (404, "InvalidAccessKeyId.NotFound")
        );
        let e = gateway_error(ApiError::new(400, "SignatureNonceUsed", "x"));
        assert_eq!(e.code, "SignatureNonceUsed", "shared codes pass through");
    }

    #[test]
    fn forbidden_names_the_action() {
        let e = forbidden_ram(Product::Nas, "CreateFileSystem", "LTAIx");
        assert_eq!((e.status, e.code.as_ref()), (403, "Forbidden.RAM"));
        assert!(e.message.contains("nas:CreateFileSystem"), "{}", e.message);
        let detail = &e.extra.unwrap()["AccessDeniedDetail"];
        assert_eq!(detail["AuthAction"], "nas:CreateFileSystem");
    }

    #[test]
    fn every_product_has_its_sdk_version() {
        let v: Vec<_> = Product::ALL.iter().map(|p| p.version()).collect();
        assert_eq!(v, ["2016-04-28", "2014-05-26", "2017-06-26", "2015-05-01"]);
    }
}
