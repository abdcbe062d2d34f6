//! HTTP server: FC3 custom-runtime contract + the upload page + JSON classification API.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;
use tokio::sync::{OnceCell, Semaphore};

use crate::labels::Labeller;
use crate::manifest::Manifest;
use crate::model::{Classifier, ClassifyError, LoadError, Prediction, locate_runtime};
use crate::page::{self, PageText};
use crate::preprocess::{DecodeError, DecodeLimits};

/// FC's synchronous invocation payload limit.
pub const MAX_BODY: usize = 32 << 20;

pub const H_INSTANCE: HeaderName = HeaderName::from_static("x-fcctl-instance-id");
/// The function version that answered.
pub const H_VERSION: HeaderName = HeaderName::from_static("x-fcctl-function-version");
pub const H_LOAD: HeaderName = HeaderName::from_static("x-fcctl-model-load");
pub const H_LOAD_MS: HeaderName = HeaderName::from_static("x-fcctl-model-load-ms");

#[derive(Debug, Clone)]
pub struct Config {
    pub model_dir: PathBuf,
    pub ort_lib: Option<PathBuf>,
    /// Shared directory for optimised graphs (`FCCTL_MODEL_CACHE`; off when unset).
    pub model_cache: Option<PathBuf>,
    pub instance_id: String,
    /// The function version this instance runs (FC sets `FC_FUNCTION_VERSION` on Debian 11+
    /// runtimes, `FC_VER_ID` before): answers carry it so a canary split is visible.
    pub version: String,
    pub limits: DecodeLimits,
    /// Concurrent decode+inference jobs (bounds memory under hostile input).
    pub max_jobs: usize,
}

impl Config {
    pub fn from_env() -> Self {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let mut limits = DecodeLimits::default();
        if let Some(v) = env(fcctl_protocol::env::MAX_PIXELS).and_then(|v| v.parse().ok()) {
            limits.max_pixels = v;
        }
        let cpus = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        Self {
            model_dir: PathBuf::from(
                env(fcctl_protocol::env::MODEL_DIR).unwrap_or_else(|| "model".into()),
            ),
            ort_lib: env("ORT_DYLIB_PATH").map(PathBuf::from),
            model_cache: env(fcctl_protocol::env::MODEL_CACHE).map(PathBuf::from),
            version: env("FC_FUNCTION_VERSION")
                .or_else(|| env("FC_VER_ID"))
                .unwrap_or_else(|| "LATEST".into()),
            instance_id: env("FC_INSTANCE_ID")
                .unwrap_or_else(|| format!("local-{}", uuid::Uuid::new_v4())),
            limits,
            max_jobs: env(fcctl_protocol::env::MAX_JOBS)
                .and_then(|v| v.parse().ok())
                .unwrap_or(cpus.clamp(1, 4)),
        }
    }
}

pub struct AppState {
    pub config: Config,
    model: OnceCell<Arc<Classifier>>,
    /// The page's words, read from model.yaml by the first page view (without the model).
    page: std::sync::OnceLock<PageText>,
    loaded: AtomicBool,
    jobs: Semaphore,
    pub started: Instant,
}

pub type Shared = Arc<AppState>;

impl AppState {
    pub fn new(config: Config) -> Shared {
        let jobs = Semaphore::new(config.max_jobs.max(1));
        Arc::new(Self {
            config,
            model: OnceCell::new(),
            page: std::sync::OnceLock::new(),
            loaded: AtomicBool::new(false),
            jobs,
            started: Instant::now(),
        })
    }

    /// The page's words from model.yaml; when it cannot be read, neutral words (a
    /// classification then says what is wrong) and a retry on the next view.
    fn page_text(&self) -> PageText {
        if let Some(t) = self.page.get() {
            return t.clone();
        }
        let dir = &self.config.model_dir;
        let read = Manifest::load(dir).ok().and_then(|m| {
            let classes = m.read_classes(dir).ok()?;
            let labels = Labeller::new(&m, classes).label_names();
            Some(PageText::new(&m, &labels))
        });
        match read {
            Some(t) => self.page.get_or_init(|| t).clone(),
            None => PageText::fallback(),
        }
    }

    /// The model, loading it once (concurrent callers wait on the same load). Returns
    /// whether this caller had to wait for a load.
    pub async fn model(self: &Arc<Self>) -> Result<(Arc<Classifier>, bool), ApiError> {
        if let Some(m) = self.model.get() {
            return Ok((m.clone(), false));
        }
        let me = self.clone();
        let m = self
            .model
            .get_or_try_init(|| async move {
                let cfg = me.config.clone();
                let res = tokio::task::spawn_blocking(move || -> Result<Classifier, LoadError> {
                    let lib = locate_runtime(&cfg.model_dir, cfg.ort_lib.as_deref())?;
                    Classifier::load(&cfg.model_dir, &lib, cfg.limits, cfg.model_cache.as_deref())
                })
                .await
                .map_err(|e| ApiError::internal(format!("model loader crashed: {e}")))?;
                match res {
                    Ok(c) => {
                        let phases: serde_json::Map<String, serde_json::Value> = c
                            .phases
                            .iter()
                            .map(|(k, v)| ((*k).to_string(), json!(round_ms(*v))))
                            .collect();
                        crate::events::emit(
                            "model_load",
                            None,
                            json!({"instance_id": me.config.instance_id, "model": c.manifest.name,
                                   "load_ms": round_ms(c.load_ms), "phases": phases,
                                   "optimized_cache": format!("{:?}", c.optimized_cache)}),
                        );
                        me.loaded.store(true, Ordering::Release);
                        Ok(Arc::new(c))
                    }
                    Err(e) => {
                        crate::events::emit(
                            "model_load",
                            None,
                            json!({"instance_id": me.config.instance_id, "level": "error",
                                   "error": e.to_string()}),
                        );
                        Err(ApiError::new(
                            StatusCode::SERVICE_UNAVAILABLE,
                            "model_unavailable",
                            e.to_string(),
                        ))
                    }
                }
            })
            .await?;
        Ok((m.clone(), true))
    }
}

/// A 4xx/5xx JSON error: `{"error": code, "message": text}`.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }
    fn internal(message: String) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }
    fn too_large() -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!(
                "request body is over {} MiB (Function Compute's synchronous limit)",
                MAX_BODY >> 20
            ),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let outcome = Outcome {
            error: Some((self.code, self.message.clone())),
            ..Outcome::default()
        };
        let mut r = (
            self.status,
            axum::Json(json!({"error": self.code, "message": self.message})),
        )
            .into_response();
        r.extensions_mut().insert(outcome);
        r
    }
}

/// What a handler tells the access line about its request (a response extension).
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub label: Option<String>,
    pub timings: Option<crate::model::Timings>,
    pub error: Option<(&'static str, String)>,
}

impl Outcome {
    fn of(p: &Prediction) -> Outcome {
        Outcome {
            label: Some(p.label.clone()),
            timings: Some(p.timings),
            error: None,
        }
    }
}

fn round_ms(ms: f64) -> f64 {
    (ms * 100.0).round() / 100.0
}

fn request_id(h: &HeaderMap) -> Option<String> {
    h.get("x-fc-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .map(String::from)
}

/// The access line: one per request, after its answer is ready (so the line is in the
/// log before the answer leaves). `/initialize` and `/pre-stop` write lifecycle lines
/// instead.
async fn access_log(
    State(state): State<Shared>,
    req: Request,
    next: axum::middleware::Next,
) -> Response {
    let t0 = Instant::now();
    let method = req.method().to_string();
    let path = req.uri().path().to_string();
    let rid = request_id(req.headers());
    let bytes_in = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let resp = next.run(req).await;
    if path == "/initialize" || path == "/pre-stop" {
        return resp;
    }
    let status = resp.status().as_u16();
    let o = resp
        .extensions()
        .get::<Outcome>()
        .cloned()
        .unwrap_or_default();
    let mut f = json!({
        "instance_id": state.config.instance_id, "version": state.config.version,
        "method": method, "path": path, "status": status, "bytes_in": bytes_in,
        "ms": round_ms(t0.elapsed().as_secs_f64() * 1e3),
    });
    if let Some(t) = o.timings {
        f["decode_ms"] = json!(round_ms(t.decode_ms));
        f["resize_ms"] = json!(round_ms(t.resize_ms));
        f["inference_ms"] = json!(round_ms(t.infer_ms));
    }
    if let Some(l) = o.label {
        f["label"] = json!(l);
    }
    if let Some((code, message)) = o.error {
        f["error"] = json!(code);
        f["message"] = json!(message);
    }
    f["level"] = json!(if status >= 500 { "error" } else { "info" });
    crate::events::emit("request", rid.as_deref(), f);
    resp
}

impl From<ClassifyError> for ApiError {
    fn from(e: ClassifyError) -> Self {
        let msg = e.to_string();
        match e {
            ClassifyError::Decode(d) => match d {
                DecodeError::Empty => Self::new(StatusCode::BAD_REQUEST, "empty_body", msg),
                DecodeError::UnknownFormat | DecodeError::UnsupportedFormat(_) => Self::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_format",
                    msg,
                ),
                DecodeError::TooManyPixels { .. } | DecodeError::TooMuchMemory(_) => {
                    Self::new(StatusCode::PAYLOAD_TOO_LARGE, "image_too_large", msg)
                }
                DecodeError::Truncated(_) => {
                    Self::new(StatusCode::UNPROCESSABLE_ENTITY, "truncated_image", msg)
                }
                DecodeError::ZeroSize | DecodeError::Corrupt(_) => {
                    Self::new(StatusCode::UNPROCESSABLE_ENTITY, "corrupt_image", msg)
                }
            },
            ClassifyError::Inference(_) => Self::internal(msg),
        }
    }
}

pub fn router(state: Shared) -> Router {
    Router::new()
        .route("/", get(index).post(index_post))
        .route("/classify", post(classify))
        .route("/invoke", post(invoke))
        .route("/initialize", post(initialize))
        .route("/pre-stop", get(pre_stop))
        .route("/healthz", get(healthz))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            access_log,
        ))
        .with_state(state)
}

fn base_headers(state: &AppState) -> HeaderMap {
    let mut h = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&state.config.instance_id) {
        h.insert(H_INSTANCE, v);
    }
    if let Ok(v) = HeaderValue::from_str(&state.config.version) {
        h.insert(H_VERSION, v);
    }
    h
}

fn load_headers(h: &mut HeaderMap, paid: bool, load_ms: f64) {
    h.insert(
        H_LOAD,
        HeaderValue::from_static(if paid { "true" } else { "false" }),
    );
    if paid && let Ok(v) = HeaderValue::from_str(&format!("{load_ms:.1}")) {
        h.insert(H_LOAD_MS, v);
    }
}

async fn not_found(state: State<Shared>) -> Response {
    let e = ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such route: use GET / (upload page), POST /classify or POST /invoke (image body)",
    );
    (base_headers(&state), e).into_response()
}

async fn healthz(State(state): State<Shared>) -> Response {
    let loaded = state.loaded.load(Ordering::Acquire);
    (
        base_headers(&state),
        axum::Json(json!({"status": "ok", "model_loaded": loaded})),
    )
        .into_response()
}

async fn pre_stop(State(state): State<Shared>, headers: HeaderMap) -> Response {
    crate::events::emit(
        "pre_stop",
        request_id(&headers).as_deref(),
        json!({"instance_id": state.config.instance_id,
               "uptime_s": state.started.elapsed().as_secs()}),
    );
    (
        base_headers(&state),
        axum::Json(json!({"status": "stopping"})),
    )
        .into_response()
}

async fn initialize(State(state): State<Shared>, headers: HeaderMap) -> Response {
    let t0 = Instant::now();
    let rid = request_id(&headers);
    let mut h = base_headers(&state);
    let loaded = state.model().await;
    let mut f = json!({"instance_id": state.config.instance_id, "version": state.config.version,
                       "ms": round_ms(t0.elapsed().as_secs_f64() * 1e3)});
    match &loaded {
        Ok((m, _)) => {
            f["status"] = json!(200);
            f["model"] = json!(m.manifest.name);
            f["level"] = json!("info");
        }
        Err(e) => {
            f["status"] = json!(e.status.as_u16());
            f["level"] = json!("error");
            f["error"] = json!(e.code);
            f["message"] = json!(e.message);
        }
    }
    crate::events::emit("initialize", rid.as_deref(), f);
    match loaded {
        Ok((m, paid)) => {
            load_headers(&mut h, paid, m.load_ms);
            let body = json!({"status": "initialized", "model": m.manifest.name, "load_ms": m.load_ms,
                              "instance_id": state.config.instance_id});
            (h, axum::Json(body)).into_response()
        }
        Err(e) => (h, e).into_response(),
    }
}

/// Run decode + inference off the async workers, bounded by the job semaphore.
async fn run_classify(state: &Shared, bytes: Bytes) -> Result<(Prediction, bool, f64), ApiError> {
    if bytes.is_empty() {
        return Err(ClassifyError::Decode(DecodeError::Empty).into());
    }
    // Cheap content sniff before waiting on the model or a job slot.
    crate::preprocess::sniff(&bytes).map_err(ClassifyError::from)?;
    let _permit = state
        .jobs
        .acquire()
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?;
    // Decode while the model may still be loading: on a cold start the two overlap.
    let limits = state.config.limits;
    let decoding = tokio::task::spawn_blocking(move || {
        let t = Instant::now();
        crate::preprocess::decode_rgb(&bytes, &limits).map(|img| (img, t.elapsed()))
    });
    let model = state.model().await;
    let (img, decode) = decoding
        .await
        .map_err(|e| ApiError::internal(format!("decoding task failed: {e}")))?
        .map_err(ClassifyError::from)?;
    let (model, paid) = model?;
    let m = model.clone();
    let pred = tokio::task::spawn_blocking(move || m.classify_decoded(&img, decode))
        .await
        .map_err(|e| ApiError::internal(format!("classification task failed: {e}")))??;
    Ok((pred, paid, model.load_ms))
}

fn json_response(state: &AppState, res: Result<(Prediction, bool, f64), ApiError>) -> Response {
    let mut h = base_headers(state);
    match res {
        Ok((p, paid, load_ms)) => {
            load_headers(&mut h, paid, load_ms);
            let mut v = serde_json::to_value(&p).unwrap_or_default();
            if let Some(o) = v.as_object_mut() {
                o.insert("version".into(), state.config.version.clone().into());
            }
            let mut r = (h, axum::Json(v)).into_response();
            r.extensions_mut().insert(Outcome::of(&p));
            r
        }
        Err(e) => (h, e).into_response(),
    }
}

fn is_multipart(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("multipart/form-data")
        })
}

/// Content types that are clearly not an image body.
fn wrong_content_type(headers: &HeaderMap) -> Option<String> {
    let ct = headers
        .get(header::CONTENT_TYPE)?
        .to_str()
        .ok()?
        .trim()
        .to_ascii_lowercase();
    let bad = ct.starts_with("text/")
        || ct.starts_with("application/json")
        || ct.starts_with("application/x-www-form-urlencoded")
        || ct.starts_with("multipart/") && !ct.starts_with("multipart/form-data");
    bad.then_some(ct)
}

async fn read_raw(req: Request, state: &Shared) -> Result<Bytes, ApiError> {
    let bad_ct = wrong_content_type(req.headers());
    let bytes = Bytes::from_request(req, state).await.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::too_large()
        } else {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_body",
                format!("cannot read the request body: {}", e.body_text()),
            )
        }
    })?;
    // Content decides (curl --data-binary labels images as form-urlencoded); a declared
    // non-image type only shapes the error when the bytes are not an image either.
    if let Some(ct) = bad_ct
        && !bytes.is_empty()
        && crate::preprocess::sniff(&bytes).is_err()
    {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "wrong_content_type",
            format!(
                "content type {ct:?} is not an image: send the image bytes (image/* or \
                 application/octet-stream) or multipart/form-data with a `file` field"
            ),
        ));
    }
    Ok(bytes)
}

/// The `file` field (or the first field carrying a file name) of a multipart form.
async fn read_multipart(req: Request, state: &Shared) -> Result<Bytes, ApiError> {
    let mut mp = Multipart::from_request(req, state).await.map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_multipart",
            format!("bad multipart request: {}", e.body_text()),
        )
    })?;
    let mp_err = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::too_large()
        } else {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "malformed_multipart",
                format!("bad multipart body: {}", e.body_text()),
            )
        }
    };
    let mut fallback: Option<Bytes> = None;
    for _ in 0..32 {
        let Some(field) = mp.next_field().await.map_err(mp_err)? else {
            break;
        };
        let is_file = field.name() == Some("file");
        let has_name = field.file_name().is_some_and(|n| !n.is_empty());
        let data = field.bytes().await.map_err(mp_err)?;
        if is_file {
            return Ok(data);
        }
        if has_name && fallback.is_none() {
            fallback = Some(data);
        }
    }
    fallback.ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "missing_file",
            "the multipart form has no `file` field with an image",
        )
    })
}

/// Reads the image (multipart `file` or the raw body) and classifies it.
async fn read_and_classify(
    state: &Shared,
    req: Request,
) -> Result<(Prediction, bool, f64), ApiError> {
    let body = if is_multipart(req.headers()) {
        read_multipart(req, state).await
    } else {
        read_raw(req, state).await
    };
    run_classify(state, body?).await
}

async fn classify(State(state): State<Shared>, req: Request) -> Response {
    let res = read_and_classify(&state, req).await;
    json_response(&state, res)
}

async fn invoke(State(state): State<Shared>, req: Request) -> Response {
    let res = match read_raw(req, &state).await {
        Ok(b) => run_classify(&state, b).await,
        Err(e) => Err(e),
    };
    json_response(&state, res)
}

async fn index(State(state): State<Shared>) -> Response {
    let text = state.page_text();
    (base_headers(&state), Html(page::render(&text, None))).into_response()
}

fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

/// Seed-compatible form post: multipart `file` → the page with the result (JSON when the
/// client asks for it with `Accept: application/json`, as the page's script does).
async fn index_post(State(state): State<Shared>, req: Request) -> Response {
    let json_wanted = wants_json(req.headers());
    let text = state.page_text();
    let res = read_and_classify(&state, req).await;
    if json_wanted {
        return json_response(&state, res);
    }
    let mut h = base_headers(&state);
    match res {
        Ok((p, paid, load_ms)) => {
            load_headers(&mut h, paid, load_ms);
            let mut r = (h, Html(page::render(&text, Some(Ok(&p))))).into_response();
            r.extensions_mut().insert(Outcome::of(&p));
            r
        }
        Err(e) => {
            let outcome = Outcome {
                error: Some((e.code, e.message.clone())),
                ..Outcome::default()
            };
            let mut r = (
                e.status,
                h,
                Html(page::render(&text, Some(Err(&e.message)))),
            )
                .into_response();
            r.extensions_mut().insert(outcome);
            r
        }
    }
}
