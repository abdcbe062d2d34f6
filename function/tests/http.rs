//! The HTTP contract, driven in-process through the axum Router with the real model.

mod common;

use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode};
use fcctl_function::preprocess::DecodeLimits;
use fcctl_function::server::{AppState, Config, Shared, router};
use serde_json::Value;
use tower::ServiceExt;

fn state() -> Shared {
    AppState::new(Config {
        model_dir: common::default_model_dir(),
        ort_lib: Some(common::ort_lib()),
        model_cache: None,
        instance_id: "test-instance".into(),
        version: "7".into(),
        limits: DecodeLimits::default(),
        max_jobs: 2,
    })
}

async fn send(s: &Shared, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let resp = router(s.clone()).oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = to_bytes(resp.into_body(), 64 << 20).await.unwrap().to_vec();
    (status, headers, body)
}

fn raw(path: &str, ct: Option<&str>, body: Vec<u8>) -> Request<Body> {
    let mut b = Request::post(path);
    if let Some(ct) = ct {
        b = b.header("content-type", ct);
    }
    b.body(Body::from(body)).unwrap()
}

fn multipart(path: &str, field: &str, filename: &str, data: &[u8]) -> Request<Body> {
    let boundary = "XfcctlBoundary7";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{filename}\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(data);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    Request::post(path)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(Body::from(body))
        .unwrap()
}

fn json(body: &[u8]) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(body)))
}

fn seed(name: &str) -> Vec<u8> {
    std::fs::read(common::shared().join("seed").join(name)).unwrap()
}

fn assert_error(status: StatusCode, body: &[u8], want: StatusCode, code: &str) {
    assert_eq!(status, want, "body: {}", String::from_utf8_lossy(body));
    let j = json(body);
    assert_eq!(j["error"], code, "{j}");
    assert!(j["message"].as_str().is_some_and(|m| m.len() > 10), "{j}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_page_and_classification() {
    let s = state();
    let (st, h, body) = send(&s, Request::get("/healthz").body(Body::empty()).unwrap()).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(h["x-fcctl-instance-id"], "test-instance");
    assert_eq!(json(&body)["model_loaded"], false);

    let (st, h, body) = send(
        &s,
        Request::post("/initialize").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    assert_eq!(h["x-fcctl-model-load"], "true");
    assert!(h.contains_key("x-fcctl-model-load-ms"));
    let (st, h, _) = send(
        &s,
        Request::post("/initialize").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(h["x-fcctl-model-load"], "false");

    let (st, _, body) = send(&s, Request::get("/").body(Body::empty()).unwrap()).await;
    assert_eq!(st, StatusCode::OK);
    let page = String::from_utf8(body).unwrap();
    assert!(page.contains("<form method=\"post\" enctype=\"multipart/form-data\""));
    assert!(
        !page.contains("action="),
        "the form must post to the page's own URL"
    );
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "no external assets"
    );

    let (st, h, body) = send(
        &s,
        raw("/classify", Some("image/jpeg"), seed("test_dog.jpg")),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(h["x-fcctl-model-load"], "false");
    let j = json(&body);
    assert_eq!(j["label"], "dog");
    assert!(j["dog"].as_f64().unwrap() > 0.9);
    assert_eq!(j["top5"].as_array().unwrap().len(), 5);
    assert_eq!(j["top5"][0]["class"], "golden retriever");
    assert_eq!(j["model"], "efficientnet-lite0");
    // Which version answered, in the body and a header (a canary split is visible).
    assert_eq!(j["version"], "7");
    assert_eq!(h["x-fcctl-function-version"], "7");
    assert!(j["ms"].as_f64().unwrap() > 0.0);
    assert!(j["other"].as_f64().is_some());

    // curl --data-binary sends form-urlencoded: content decides.
    let (st, _, body) = send(
        &s,
        raw(
            "/invoke",
            Some("application/x-www-form-urlencoded"),
            seed("test_cat.jpg"),
        ),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(json(&body)["label"], "cat");

    let (st, _, body) = send(
        &s,
        multipart("/classify", "file", "x.bin", &seed("test_cat.jpg")),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(json(&body)["label"], "cat");

    let (st, h, body) = send(&s, multipart("/", "file", "dog.jpg", &seed("test_dog.jpg"))).await;
    assert_eq!(st, StatusCode::OK);
    assert!(h["content-type"].to_str().unwrap().starts_with("text/html"));
    let html = String::from_utf8(body).unwrap();
    assert!(
        html.contains("It&#39;s a dog!") || html.contains("It's a dog!"),
        "{html}"
    );
    assert!(html.contains("golden retriever"));

    let (st, _, body) = send(&s, Request::get("/pre-stop").body(Body::empty()).unwrap()).await;
    assert_eq!(st, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_request_without_initialize_pays_the_load_once() {
    let s = state();
    let a = send(&s, raw("/classify", None, seed("test_dog.jpg")));
    let b = send(&s, raw("/classify", None, seed("test_dog.jpg")));
    let ((sa, ha, _), (sb, hb, _)) = tokio::join!(a, b);
    assert_eq!((sa, sb), (StatusCode::OK, StatusCode::OK));
    let paid = [&ha, &hb]
        .iter()
        .filter(|h| h["x-fcctl-model-load"] == "true")
        .count();
    assert!(paid >= 1);
    let (_, h, _) = send(&s, raw("/classify", None, seed("test_dog.jpg"))).await;
    assert_eq!(h["x-fcctl-model-load"], "false");
}

fn crc32(data: &[u8]) -> u32 {
    let mut c = 0xFFFF_FFFFu32;
    for &b in data {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
    }
    !c
}

fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let mut c = kind.to_vec();
    c.extend_from_slice(data);
    out.extend_from_slice(&c);
    out.extend_from_slice(&crc32(&c).to_be_bytes());
}

/// A PNG whose header claims `w × h` pixels, with a tiny IDAT.
fn png_claiming(w: u32, h: u32) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = w.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    png_chunk(&mut out, b"IHDR", &ihdr);
    png_chunk(
        &mut out,
        b"IDAT",
        &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    );
    png_chunk(&mut out, b"IEND", &[]);
    out
}

/// A GIF whose logical screen and frame claim 65535 × 65535.
fn gif_bomb() -> Vec<u8> {
    let mut g = b"GIF89a".to_vec();
    g.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x80, 0, 0]);
    g.extend_from_slice(&[0, 0, 0, 255, 255, 255]);
    g.extend_from_slice(&[0x2c, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0]);
    g.extend_from_slice(&[2, 2, 0x4c, 0x01, 0, 0x3b]);
    g
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_input_gets_clear_4xx() {
    let s = state();
    let dog = seed("test_dog.jpg");

    let (st, _, b) = send(&s, raw("/classify", Some("image/jpeg"), vec![])).await;
    assert_error(st, &b, StatusCode::BAD_REQUEST, "empty_body");
    let (st, _, b) = send(
        &s,
        raw(
            "/classify",
            Some("application/octet-stream"),
            b"GIF89a-not-really".to_vec(),
        ),
    )
    .await;
    assert!(st.is_client_error(), "{st}");
    let (st, _, b2) = send(
        &s,
        raw(
            "/invoke",
            None,
            b"\x00\x01 definitely not an image".to_vec(),
        ),
    )
    .await;
    assert_error(
        st,
        &b2,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_format",
    );
    let _ = b;
    let (st, _, b) = send(
        &s,
        raw(
            "/classify",
            Some("application/json"),
            br#"{"image": "x"}"#.to_vec(),
        ),
    )
    .await;
    assert_error(
        st,
        &b,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "wrong_content_type",
    );
    let (st, _, b) = send(&s, raw("/classify", Some("text/plain"), b"hello".to_vec())).await;
    assert_error(
        st,
        &b,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "wrong_content_type",
    );

    // Truncated JPEGs, baseline and progressive, wherever the cut falls: 422, never a
    // classification of the part that arrived.
    let (st, _, b) = send(&s, raw("/classify", None, dog[..2].to_vec())).await;
    assert!(st.is_client_error(), "{st}");
    json(&b);
    // Flagged `progressive` in dev/labels.csv.
    let progressive =
        std::fs::read(common::shared().join("images/dev/breeds_chanakya/cat_0.jpg")).unwrap();
    for (name, whole) in [
        ("test_dog.jpg", &dog),
        ("progressive cat_0.jpg", &progressive),
    ] {
        let n = whole.len();
        for cut in [20, 200, 2000, n / 10, n / 2, n * 9 / 10, n - 2] {
            let (st, _, b) = send(&s, raw("/classify", None, whole[..cut].to_vec())).await;
            assert_eq!(
                st,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{name} cut at {cut} of {n}"
            );
            assert_error(st, &b, StatusCode::UNPROCESSABLE_ENTITY, "truncated_image");
        }
    }

    // Malformed multipart.
    let req = Request::post("/classify")
        .header("content-type", "multipart/form-data; boundary=abc")
        .body(Body::from(
            "--abc\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nxx-no-end",
        ))
        .unwrap();
    let (st, _, b) = send(&s, req).await;
    assert!(st.is_client_error(), "{st}");
    json(&b);
    let req = Request::post("/classify")
        .header("content-type", "multipart/form-data; boundary=abc")
        .body(Body::from("this is not multipart at all"))
        .unwrap();
    let (st, _, b) = send(&s, req).await;
    assert_error(st, &b, StatusCode::BAD_REQUEST, "malformed_multipart");
    let req = Request::post("/")
        .header("content-type", "multipart/form-data")
        .body(Body::from("x"))
        .unwrap();
    let (st, _, _) = send(&s, req).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    let (st, _, b) = send(&s, multipart("/classify", "other", "", b"abc")).await;
    assert_error(st, &b, StatusCode::BAD_REQUEST, "missing_file");

    // Over FC's 32 MiB sync limit.
    let mut big = dog.clone();
    big.resize(33 << 20, 0);
    let (st, _, b) = send(&s, raw("/classify", Some("image/jpeg"), big.clone())).await;
    assert_error(st, &b, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    let (st, _, b) = send(&s, multipart("/classify", "file", "big.jpg", &big)).await;
    assert_error(st, &b, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");

    // Pixel budget: header-declared giants are rejected before any pixel buffer exists.
    let giant =
        std::fs::read(common::shared().join("images/dev/sharp_fixtures/other_3.jpg")).unwrap();
    let (st, _, b) = send(&s, raw("/classify", None, giant)).await;
    assert_error(st, &b, StatusCode::PAYLOAD_TOO_LARGE, "image_too_large");
    let (st, _, b) = send(&s, raw("/classify", None, png_claiming(100_000, 100_000))).await;
    assert_error(st, &b, StatusCode::PAYLOAD_TOO_LARGE, "image_too_large");
    let (st, _, b) = send(&s, raw("/classify", None, gif_bomb())).await;
    assert_error(st, &b, StatusCode::PAYLOAD_TOO_LARGE, "image_too_large");
    // Within budget but lying about its data: corrupt, not a crash.
    let (st, _, b) = send(&s, raw("/classify", None, png_claiming(3000, 3000))).await;
    assert_error(st, &b, StatusCode::UNPROCESSABLE_ENTITY, "corrupt_image");

    // A real zlib bomb within the pixel budget (24 Mpx of zeros, ~24 KB): decoded in bounded memory.
    let mut png = Vec::new();
    image::ImageEncoder::write_image(
        image::codecs::png::PngEncoder::new_with_quality(
            &mut png,
            image::codecs::png::CompressionType::Best,
            image::codecs::png::FilterType::NoFilter,
        ),
        &vec![0u8; 4900 * 4900],
        4900,
        4900,
        image::ExtendedColorType::L8,
    )
    .unwrap();
    assert!(png.len() < 200_000, "bomb is {} bytes", png.len());
    let (st, _, b) = send(&s, raw("/classify", None, png)).await;
    assert_eq!(st, StatusCode::OK, "{}", String::from_utf8_lossy(&b));

    // Unknown route.
    let (st, _, b) = send(&s, Request::get("/nope").body(Body::empty()).unwrap()).await;
    assert_error(st, &b, StatusCode::NOT_FOUND, "not_found");
}

/// Every awkward file flagged in dev/labels.csv (`note`) is handled: an answer, or for the
/// 280 Mpx synthetic JPEG a 413.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn awkward_dev_files_are_handled() {
    let s = state();
    let dev = common::shared().join("images/dev");
    let csv = std::fs::read_to_string(dev.join("labels.csv")).unwrap();
    let mut n = 0;
    for line in csv.lines().skip(1) {
        let cols: Vec<&str> = line.split(',').collect();
        let (file, label, note) = (cols[0], cols[1], cols[8..].join(","));
        let awkward = [
            "progressive",
            "grayscale",
            "cmyk",
            "alpha",
            "EXIF",
            "webp",
            "large",
            "3840",
            "png",
        ]
        .iter()
        .any(|k| note.contains(k));
        if !awkward {
            continue;
        }
        n += 1;
        let (st, _, b) = send(
            &s,
            raw("/classify", None, std::fs::read(dev.join(file)).unwrap()),
        )
        .await;
        if note.contains("20000x14000") {
            assert_error(st, &b, StatusCode::PAYLOAD_TOO_LARGE, "image_too_large");
            continue;
        }
        assert_eq!(
            st,
            StatusCode::OK,
            "{file} ({note}): {}",
            String::from_utf8_lossy(&b)
        );
        let j = json(&b);
        if (label == "cat" || label == "dog")
            && !note.contains("ambiguous")
            && !note.contains("cat-breeds-set")
        {
            assert_eq!(j["label"], label, "{file} ({note}): {j}");
        }
    }
    assert!(n >= 20, "only {n} awkward files found");
}
