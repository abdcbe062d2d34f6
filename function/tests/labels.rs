//! A model that is not cat/dog: the tiny red/green/blue classifier (generated at test time),
//! served with plain labels and then with groups, through the HTTP router.

mod common;

use std::path::Path;

use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode};
use fcctl_function::preprocess::DecodeLimits;
use fcctl_function::server::{AppState, Config, Shared, router};
use serde_json::Value;
use tower::ServiceExt;

fn state(model_dir: &Path) -> Shared {
    AppState::new(Config {
        model_dir: model_dir.to_path_buf(),
        ort_lib: Some(common::ort_lib()),
        model_cache: None,
        instance_id: "test-instance".into(),
        version: "1".into(),
        limits: DecodeLimits::default(),
        max_jobs: 1,
    })
}

async fn send(s: &Shared, req: Request<Body>) -> (StatusCode, Vec<u8>) {
    let resp = router(s.clone()).oneshot(req).await.unwrap();
    let status = resp.status();
    (
        status,
        to_bytes(resp.into_body(), 1 << 20).await.unwrap().to_vec(),
    )
}

fn png(rgb: [u8; 3]) -> Vec<u8> {
    let img = image::RgbImage::from_pixel(20, 12, image::Rgb(rgb));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

async fn classify(s: &Shared, rgb: [u8; 3]) -> Value {
    let req = Request::post("/classify")
        .body(Body::from(png(rgb)))
        .unwrap();
    let (st, body) = send(s, req).await;
    assert_eq!(st, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    serde_json::from_slice(&body).unwrap()
}

fn keys(v: &Value) -> Vec<&str> {
    let mut k: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    k.sort();
    k
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_colour_model_answers_its_own_labels_with_scores_and_its_page_names_them() {
    let dir = tempfile::tempdir().unwrap();
    common::make_colour(dir.path());
    let s = state(dir.path());

    let (st, page) = send(&s, Request::get("/").body(Body::empty()).unwrap()).await;
    assert_eq!(st, StatusCode::OK);
    let page = String::from_utf8(page).unwrap();
    assert!(page.contains("<h1>Red, green or blue?</h1>"), "{page}");
    assert!(!page.contains("Cat or dog"), "{page}");

    let j = classify(&s, [230, 20, 10]).await;
    assert_eq!(j["label"], "red", "{j}");
    assert_eq!(j["model"], "colour");
    assert!(j["scores"]["red"].as_f64().unwrap() > 0.99, "{j}");
    assert_eq!(
        j["scores"].as_object().unwrap().len(),
        3,
        "every class of a small model"
    );
    assert_eq!(j["top5"].as_array().unwrap().len(), 3);
    assert_eq!(j["top5"][0]["class"], "red");
    assert_eq!(
        keys(&j),
        [
            "label", "model", "ms", "other", "scores", "timings", "top5", "version"
        ],
        "no dog/cat/mass fields for a plain-label model: {j}"
    );
    assert_eq!(classify(&s, [10, 20, 240]).await["label"], "blue");
    // Grey: every class at 1/3, under other_threshold 0.5.
    assert_eq!(classify(&s, [128, 128, 128]).await["label"], "other");

    // The form post renders the manifest's verdict with the top scores.
    let boundary = "B0undary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"g.png\"\r\n\r\n"
    )
    .into_bytes();
    body.extend(png([5, 250, 5]));
    body.extend(format!("\r\n--{boundary}--\r\n").into_bytes());
    let req = Request::post("/")
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(Body::from(body))
        .unwrap();
    let (st, html) = send(&s, req).await;
    assert_eq!(st, StatusCode::OK);
    let html = String::from_utf8(html).unwrap();
    assert!(html.contains("green 1.00 · "), "{html}");
    assert!(
        html.contains(" — It&#39;s green.") || html.contains(" — It's green."),
        "{html}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_of_a_colour_model_answer_as_top_level_fields_with_their_mass() {
    let dir = tempfile::tempdir().unwrap();
    common::make_colour(dir.path());
    let yaml = std::fs::read_to_string(dir.path().join("model.yaml")).unwrap();
    let yaml = yaml.replace(
        "  other_threshold: 0.5\n",
        "  groups:\n    warm: {classes: [0]}\n    cool: {classes: [[1, 2]], weight: 2}\n  \
         renormalise: true\npage:\n  title: Warm or cool?\n  verdicts:\n    cool: Brr.\n",
    );
    std::fs::write(dir.path().join("model.yaml"), yaml).unwrap();
    let s = state(dir.path());

    let j = classify(&s, [10, 20, 240]).await;
    assert_eq!(j["label"], "cool", "{j}");
    let (cool, warm) = (j["cool"].as_f64().unwrap(), j["warm"].as_f64().unwrap());
    assert_eq!(j["scores"]["cool"].as_f64().unwrap(), cool);
    assert!((cool + warm - 1.0).abs() < 1e-6, "renormalised: {j}");
    assert!(j["mass"]["cool"].as_f64().unwrap() > 0.99, "{j}");
    assert_eq!(classify(&s, [250, 5, 5]).await["label"], "warm");
    // Grey: warm 1/3 against cool 2·(2/3): the weight decides.
    assert_eq!(classify(&s, [128, 128, 128]).await["label"], "cool");

    let (_, page) = send(&s, Request::get("/").body(Body::empty()).unwrap()).await;
    let page = String::from_utf8(page).unwrap();
    assert!(page.contains("<title>Warm or cool?</title>"), "{page}");
    assert!(page.contains(r#""cool":"Brr.""#), "{page}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn labels_or_groups_that_do_not_fit_the_output_make_the_model_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    common::make_colour(dir.path());
    std::fs::write(dir.path().join("labels.txt"), "red\ngreen\n").unwrap();
    let req = || {
        Request::post("/classify")
            .body(Body::from(png([1, 2, 3])))
            .unwrap()
    };
    let (st, body) = send(&state(dir.path()), req()).await;
    assert_eq!(st, StatusCode::SERVICE_UNAVAILABLE);
    let j: Value = serde_json::from_slice(&body).unwrap();
    assert!(
        j["message"]
            .as_str()
            .unwrap()
            .contains("2 class names are listed but the model has 3 outputs"),
        "{j}"
    );

    let yaml = std::fs::read_to_string(dir.path().join("model.yaml")).unwrap();
    let yaml = yaml.replace("  labels_file: labels.txt\n", "").replace(
        "  other_threshold: 0.5\n",
        "  groups:\n    a: {classes: [[0, 3]]}\n",
    );
    std::fs::write(dir.path().join("model.yaml"), yaml).unwrap();
    let (st, body) = send(&state(dir.path()), req()).await;
    assert_eq!(st, StatusCode::SERVICE_UNAVAILABLE);
    let j: Value = serde_json::from_slice(&body).unwrap();
    assert!(
        j["message"]
            .as_str()
            .unwrap()
            .contains("a group reaches class index 3 but the model has 3 outputs"),
        "{j}"
    );
}
