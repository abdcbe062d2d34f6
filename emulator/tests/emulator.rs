//! End-to-end tests: the emulator on an ephemeral port in a temp dir, driven over HTTP.

mod common;

use bytes::Bytes;
use common::*;
use emulator::sign;
use http_body_util::Full;
use serde_json::json;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fc_signature_accept_and_reject() {
    let dir = tempfile::tempdir().unwrap();
    let emu = start(dir.path()).await;
    let mut fc = Fc::new(emu.info());
    let r = fc
        .call(
            "GET",
            "/2023-03-30/functions",
            "limit=10&prefix=img+classify",
            "ListFunctions",
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.json());
    assert!(r.header("x-fc-request-id").is_some());
    assert!(r.header("x-acs-request-id").is_some());

    fc.secret = "wrong-secret".into();
    let r = fc
        .call("GET", "/2023-03-30/functions", "", "ListFunctions", None)
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(r.json()["Code"], "SignatureNotMatch");
    assert!(r.json()["RequestId"].is_string());

    fc.ak = "LTAI5tUnknownKey".into();
    let r = fc
        .call("GET", "/2023-03-30/functions", "", "ListFunctions", None)
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(r.json()["Code"], "InvalidAccessKeyID");

    let mut fc = Fc::new(emu.info());
    fc.date_offset = -20 * 60;
    let r = fc
        .call("GET", "/2023-03-30/functions", "", "ListFunctions", None)
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(r.json()["Code"], "InvalidTimeStamp.Expired");

    // Unsigned request.
    let r = get(
        &client(),
        &format!("{}/2023-03-30/functions", emu.info().fc_endpoint),
    )
    .await;
    assert_eq!(r.status, 403);

    // Error shapes.
    let fc = Fc::new(emu.info());
    let r = fc
        .call("GET", "/2023-03-30/functions/nope", "", "GetFunction", None)
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["Code"], "FunctionNotFound");
    emu.shutdown().await;
}

fn oss_req(
    info: &emulator::Info,
    secret: &str,
    method: &str,
    bucket: &str,
    key: &str,
    query: &str,
    body: &[u8],
) -> http::Request<Full<Bytes>> {
    let date = httpdate::fmt_http_date(std::time::SystemTime::now());
    let hs = vec![
        ("date".to_string(), date.clone()),
        (
            "content-type".to_string(),
            "application/octet-stream".to_string(),
        ),
    ];
    let q = sign::parse_query(query);
    let resource = if key.is_empty() {
        format!("/{bucket}/")
    } else {
        format!("/{bucket}/{key}")
    };
    let sts = sign::oss_v1_string_to_sign(method, &hs, &resource, &q);
    let sig = sign::oss_v1_signature(secret, &sts);
    let mut uri = format!("{}/{}/{}", info.oss_endpoint, bucket, key);
    if !query.is_empty() {
        uri.push('?');
        uri.push_str(query);
    }
    http::Request::builder()
        .method(method)
        .uri(uri)
        .header("date", date)
        .header("content-type", "application/octet-stream")
        .header(
            "authorization",
            format!("OSS {}:{}", info.access_key_id, sig),
        )
        .body(Full::new(Bytes::copy_from_slice(body)))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn oss_v1_is_refused_like_a_new_account() {
    let dir = tempfile::tempdir().unwrap();
    let emu = start(dir.path()).await;
    let info = emu.info().clone();
    let r = send(
        &client(),
        oss_req(
            &info,
            &info.access_key_secret,
            "PUT",
            "new-bucket",
            "",
            "",
            b"",
        ),
    )
    .await;
    assert_eq!(r.status, 403);
    let body = String::from_utf8_lossy(&r.body);
    assert!(body.contains("<Code>AccessDenied</Code>"), "{body}");
    assert!(body.contains("<EC>0002-00000080</EC>"), "{body}");
    emu.shutdown().await;
}

/// The object operations, signed with V1 (this helper's signer) on an emulator that, like an
/// old account, still accepts V1.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn oss_signature_objects_and_range() {
    let dir = tempfile::tempdir().unwrap();
    let emu = common::start_with(emulator::Config {
        data_dir: dir.path().to_path_buf(),
        allow_oss_v1: true,
        ..Default::default()
    })
    .await;
    let info = emu.info().clone();
    let c = client();
    let s = &info.access_key_secret;
    assert_eq!(
        send(&c, oss_req(&info, s, "PUT", "artifacts", "", "", b""))
            .await
            .status,
        200
    );
    let r = send(
        &c,
        oss_req(&info, s, "PUT", "artifacts", "dir/a.bin", "", b"0123456789"),
    )
    .await;
    assert_eq!(r.status, 200);
    assert!(r.header("etag").unwrap().starts_with('"'));
    let r = send(
        &c,
        oss_req(
            &info,
            "bad-secret",
            "PUT",
            "artifacts",
            "dir/b.bin",
            "",
            b"x",
        ),
    )
    .await;
    assert_eq!(r.status, 403);
    assert!(String::from_utf8_lossy(&r.body).contains("SignatureDoesNotMatch"));
    let mut req = oss_req(&info, s, "GET", "artifacts", "dir/a.bin", "", b"");
    req.headers_mut()
        .insert("range", "bytes=2-4".parse().unwrap());
    let r = send(&c, req).await;
    assert_eq!(r.status, 206);
    assert_eq!(&r.body[..], b"234");
    let r = send(
        &c,
        oss_req(
            &info,
            s,
            "GET",
            "artifacts",
            "",
            "list-type=2&prefix=dir%2F",
            b"",
        ),
    )
    .await;
    assert_eq!(r.status, 200);
    assert!(String::from_utf8_lossy(&r.body).contains("<Key>dir/a.bin</Key>"));
    let r = send(
        &c,
        oss_req(&info, s, "GET", "artifacts", "missing", "", b""),
    )
    .await;
    assert_eq!(r.status, 404);
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cold_start_code_nas_env_and_domain() {
    let dir = tempfile::tempdir().unwrap();
    let emu = start(dir.path()).await;
    let info = emu.info().clone();
    std::fs::write(info.nas_dir.join("marker.txt"), "nas-ok").unwrap();
    let fc = Fc::new(&info);
    let url = deploy(&fc, "hello", 1).await;
    let c = client();

    // provision 0 → first request is a cold start with phase timings.
    let r = get(&c, &format!("{url}/some/path?x=1")).await;
    assert_eq!(r.status, 200, "{:?}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.header("x-fcctl-cold-start"), Some("true"));
    assert!(r.header("x-fcctl-instance-start-ms").is_some());
    assert!(r.header("x-fcctl-initialize-ms").is_some());
    assert!(r.header("x-fc-instance-id").is_some());
    let j = r.json();
    assert_eq!(j["path"], "/some/path?x=1");
    assert_eq!(j["initialized"], true);
    assert_eq!(j["version"], "1");
    assert_eq!(j["function"], "hello");
    assert_eq!(j["greeting"], "hello");
    assert_eq!(j["code_has_server"], true, "{j}");
    assert_eq!(j["nas_marker"], "nas-ok", "{j}");
    assert_eq!(j["request_id"].as_str(), r.header("x-fc-request-id"));
    let r2 = get(&c, &url).await;
    assert_eq!(r2.header("x-fcctl-cold-start"), Some("false"));
    assert_eq!(r2.header("x-fc-instance-id"), r.header("x-fc-instance-id"));

    // Method enforcement.
    let r = send(
        &c,
        http::Request::delete(&url)
            .body(Full::new(Bytes::new()))
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 405);

    // InvokeFunction (event) goes to POST /invoke.
    let r = fc
        .raw(
            "POST",
            "/2023-03-30/functions/hello/invocations",
            "qualifier=prod",
            "InvokeFunction",
            b"{\"k\":1}".to_vec(),
            Some("application/octet-stream"),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["path"], "/invoke");
    assert_eq!(r.json()["body"], "{\"k\":1}");

    // Custom domain routed by Host header, once it "resolves" (the emulator's DNS table).
    emulator::dns::add(&info.data_dir, "cat-dog.example").unwrap();
    let r = fc
        .call(
            "POST",
            "/2023-03-30/custom-domains",
            "",
            "CreateCustomDomain",
            Some(&json!({"domainName": "cat-dog.example", "protocol": "HTTP",
                "routeConfig": {"routes": [{"path": "/*", "functionName": "hello", "qualifier": "prod"}]}})),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.json());
    let req = http::Request::get(format!("{}/classify", info.domain_endpoint))
        .header("host", "cat-dog.example")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let r = send(&c, req).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["path"], "/classify");
    assert_eq!(r.json()["host"], "cat-dog.example");

    // ListInstances shows the on-demand instance.
    let r = fc
        .call(
            "GET",
            "/2023-03-30/functions/hello/instances",
            "",
            "ListInstances",
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["instances"].as_array().unwrap().len(), 1);

    // Deleting a version referenced by an alias is refused.
    let r = fc
        .call(
            "DELETE",
            "/2023-03-30/functions/hello/versions/1",
            "",
            "DeleteFunctionVersion",
            None,
        )
        .await;
    assert_eq!(r.status, 400);
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn provision_10_then_1000_requests_without_cold_starts() {
    let dir = tempfile::tempdir().unwrap();
    let emu = start(dir.path()).await;
    let fc = Fc::new(emu.info());
    let url = deploy(&fc, "prov", 1).await;
    let r = fc
        .call(
            "PUT",
            "/2023-03-30/functions/prov/provision-config",
            "qualifier=prod",
            "PutProvisionConfig",
            Some(&json!({"target": 10})),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.json());
    assert_eq!(r.json()["target"], 10);
    let t0 = Instant::now();
    loop {
        let r = fc
            .call(
                "GET",
                "/2023-03-30/functions/prov/provision-config",
                "qualifier=prod",
                "GetProvisionConfig",
                None,
            )
            .await;
        let j = r.json();
        if j["current"] == 10 {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(90),
            "provision did not converge: {j}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("provision 10 converged in {:?}", t0.elapsed());
    let r = fc
        .call(
            "GET",
            "/2023-03-30/functions/prov/instances",
            "qualifier=prod",
            "ListInstances",
            None,
        )
        .await;
    let inst = r.json()["instances"].as_array().unwrap().clone();
    assert_eq!(inst.len(), 10);
    assert!(inst.iter().all(|i| i["resourceType"] == "Provisioned"));

    let c = client();
    let mut tasks = Vec::new();
    for w in 0..10 {
        let (c, url) = (c.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            let (mut ok, mut cold) = (0, 0);
            for i in 0..100 {
                let r = get(&c, &format!("{url}/r/{w}/{i}")).await;
                if r.status == 200 {
                    ok += 1;
                }
                if r.header("x-fcctl-cold-start") != Some("false") {
                    cold += 1;
                }
            }
            (ok, cold)
        }));
    }
    let (mut ok, mut cold) = (0, 0);
    for t in tasks {
        let (o, c) = t.await.unwrap();
        ok += o;
        cold += c;
    }
    assert_eq!(ok, 1000, "errors");
    assert_eq!(cold, 0, "cold starts");
    let r = fc
        .call(
            "GET",
            "/2023-03-30/functions/prov/instances",
            "",
            "ListInstances",
            None,
        )
        .await;
    assert_eq!(
        r.json()["instances"].as_array().unwrap().len(),
        10,
        "no on-demand scale-out expected"
    );
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn state_survives_restart() {
    let dir = tempfile::tempdir().unwrap();
    let emu = start(dir.path()).await;
    let fc = Fc::new(emu.info());
    let url = deploy(&fc, "keep", 2).await;
    let r = fc
        .call(
            "PUT",
            "/2023-03-30/functions/keep/provision-config",
            "qualifier=prod",
            "PutProvisionConfig",
            Some(&json!({"target": 1})),
        )
        .await;
    assert_eq!(r.status, 200);
    emu.shutdown().await;

    let emu = start(dir.path()).await;
    let fc = Fc::new(emu.info());
    assert_eq!(
        fc.call("GET", "/2023-03-30/functions/keep", "", "GetFunction", None)
            .await
            .status,
        200
    );
    let r = fc
        .call(
            "GET",
            "/2023-03-30/functions/keep/versions",
            "",
            "ListFunctionVersions",
            None,
        )
        .await;
    assert_eq!(r.json()["versions"].as_array().unwrap().len(), 1);
    let r = fc
        .call(
            "GET",
            "/2023-03-30/functions/keep/aliases/prod",
            "",
            "GetAlias",
            None,
        )
        .await;
    assert_eq!(r.json()["versionId"], "1");
    let r = fc
        .call(
            "GET",
            "/2023-03-30/functions/keep/provision-config",
            "qualifier=prod",
            "GetProvisionConfig",
            None,
        )
        .await;
    assert_eq!(r.json()["target"], 1);
    let r = fc
        .call(
            "GET",
            "/2023-03-30/functions/keep/triggers/http",
            "",
            "GetTrigger",
            None,
        )
        .await;
    assert_eq!(
        r.json()["httpTrigger"]["urlInternet"].as_str(),
        Some(url.as_str()),
        "trigger URL kept"
    );
    let r = get(&client(), &url).await;
    assert_eq!(r.status, 200);
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_are_injected() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = emulator::Config {
        data_dir: dir.path().to_path_buf(),
        faults: "error_rate=1".parse().unwrap(),
        ..Default::default()
    };
    let emu = emulator::Emulator::start(cfg).await.unwrap();
    let fc = Fc::new(emu.info());
    let r = fc
        .call("GET", "/2023-03-30/functions", "", "ListFunctions", None)
        .await;
    assert!(r.status == 429 || r.status == 503, "{}", r.status);
    emu.shutdown().await;
}

/// FC3 refuses a function without `handler` (required by the SDK's CreateFunctionInput), custom
/// runtimes included; the emulator must too, or a deploy that omits it passes here and fails
/// on the cloud.
#[tokio::test]
async fn create_function_without_handler_is_refused_like_fc() {
    let dir = tempfile::tempdir().unwrap();
    let emu = start(dir.path()).await;
    let fc = Fc::new(emu.info());
    let mut body = function_body("no-handler", 1);
    body.as_object_mut().unwrap().remove("handler");
    let r = fc
        .call(
            "POST",
            "/2023-03-30/functions",
            "",
            "CreateFunction",
            Some(&body),
        )
        .await;
    assert_eq!(r.status, 400, "{:?}", r.json());
    assert_eq!(r.json()["Code"], "InvalidArgument");
    assert_eq!(r.json()["Message"], "Handler is required but not provided");
    let r = fc
        .call(
            "GET",
            "/2023-03-30/functions/no-handler",
            "",
            "GetFunction",
            None,
        )
        .await;
    assert_eq!(r.status, 404, "nothing was created");
}

/// What FC refuses before it looks at the request: a nonce used twice, a request dated 30
/// minutes ago, a request without its signature nonce, and a `triggerConfig` sent as an
/// object instead of the JSON string the SDK model declares.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fc_refuses_replays_stale_dates_missing_nonces_and_object_trigger_configs() {
    let dir = tempfile::tempdir().unwrap();
    let emu = start(dir.path()).await;
    let info = emu.info().clone();
    let host = info.fc_endpoint.trim_start_matches("http://").to_string();
    let signed = |date: &str| {
        sign::acs3_sign_headers(
            "GET",
            &host,
            "/2023-03-30/functions",
            "",
            "ListFunctions",
            b"",
            None,
            &info.access_key_id,
            &info.access_key_secret,
            None,
            date,
        )
    };
    let request = |headers: &[(String, String)]| {
        let mut b = http::Request::builder()
            .method("GET")
            .uri(format!("{}/2023-03-30/functions", info.fc_endpoint));
        for (k, v) in headers {
            b = b.header(k, v);
        }
        b.body(Full::new(Bytes::new())).unwrap()
    };
    let c = client();
    let once = signed(&acs_date(0));
    assert_eq!(send(&c, request(&once)).await.status, 200);
    let again = send(&c, request(&once)).await;
    assert_eq!(again.status, 400);
    assert_eq!(again.json()["Code"], "SignatureNonceUsed");

    let stale = send(&c, request(&signed(&acs_date(-30 * 60)))).await;
    assert_eq!(stale.status, 403);
    assert_eq!(stale.json()["Code"], "InvalidTimeStamp.Expired");

    let no_nonce: Vec<(String, String)> = signed(&acs_date(0))
        .into_iter()
        .filter(|(k, _)| k != "x-acs-signature-nonce")
        .collect();
    let r = send(&c, request(&no_nonce)).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["Code"], "MissingRequiredHeader");

    let fc = Fc::new(&info);
    deploy(&fc, "f", 1).await;
    let r = fc
        .call(
            "POST",
            "/2023-03-30/functions/f/triggers",
            "",
            "CreateTrigger",
            Some(&serde_json::json!({
                "triggerName": "obj",
                "triggerType": "http",
                "triggerConfig": {"authType": "anonymous", "methods": ["GET"]},
            })),
        )
        .await;
    assert_eq!(r.status, 400, "{:?}", r.json());
    assert_eq!(r.json()["Code"], "InvalidArgument");
    emu.shutdown().await;
}

/// List APIs page like FC3: `limit` 1–100 (SDK list request models), `nextToken` onwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_apis_page_and_refuse_oversized_limits() {
    let dir = tempfile::tempdir().unwrap();
    let emu = start(dir.path()).await;
    let fc = Fc::new(emu.info());
    deploy(&fc, "f", 1).await;
    for alias in ["a1", "a2"] {
        let r = fc
            .call(
                "POST",
                "/2023-03-30/functions/f/aliases",
                "",
                "CreateAlias",
                Some(&json!({"aliasName": alias, "versionId": "1"})),
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.json());
    }
    let first = fc
        .call(
            "GET",
            "/2023-03-30/functions/f/aliases",
            "limit=2",
            "ListAliases",
            None,
        )
        .await;
    assert_eq!(first.json()["aliases"].as_array().unwrap().len(), 2);
    let token = first.json()["nextToken"].as_str().unwrap().to_string();
    let rest = fc
        .call(
            "GET",
            "/2023-03-30/functions/f/aliases",
            &format!("limit=2&nextToken={token}"),
            "ListAliases",
            None,
        )
        .await;
    assert_eq!(rest.json()["aliases"].as_array().unwrap().len(), 1);
    assert!(rest.json().get("nextToken").is_none_or(|t| t.is_null()));
    let r = fc
        .call(
            "GET",
            "/2023-03-30/functions/f/aliases",
            "limit=101",
            "ListAliases",
            None,
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["Code"], "InvalidArgument");
    emu.shutdown().await;
}

/// A function with a VPC or NAS mount is `Pending` until FC has attached it (callers must wait
/// for `Active`); an update that keeps them is `InProgress` for as long.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn functions_attaching_nas_are_pending_until_settled() {
    let dir = tempfile::tempdir().unwrap();
    let emu = common::start_with(emulator::Config {
        data_dir: dir.path().to_path_buf(),
        attach_delay: Duration::from_millis(400),
        ..Default::default()
    })
    .await;
    let fc = Fc::new(emu.info());
    let mut body = function_body("n", 1);
    body["nasConfig"] = json!({"userId": 0, "groupId": 0,
        "mountPoints": [{"serverAddr": "x.cn-shenzhen.nas.aliyuncs.com:/n", "mountDir": "/mnt/n"}]});
    let r = fc
        .call(
            "POST",
            "/2023-03-30/functions",
            "",
            "CreateFunction",
            Some(&body),
        )
        .await;
    assert_eq!(r.json()["state"], "Pending", "{:?}", r.json());
    let get = || fc.call("GET", "/2023-03-30/functions/n", "", "GetFunction", None);
    assert_eq!(get().await.json()["state"], "Pending");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let r = get().await;
    assert_eq!(r.json()["state"], "Active");
    assert_eq!(r.json()["lastUpdateStatus"], "Successful");
    let r = fc
        .call(
            "PUT",
            "/2023-03-30/functions/n",
            "",
            "UpdateFunction",
            Some(&json!({"timeout": 30})),
        )
        .await;
    assert_eq!(r.json()["lastUpdateStatus"], "InProgress", "{:?}", r.json());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(get().await.json()["lastUpdateStatus"], "Successful");
    emu.shutdown().await;
}

/// CreateFunction values out of FC3's ranges (SDK CreateFunctionInput docs, FC3 limits) → 400.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_function_refuses_values_fc_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let emu = start(dir.path()).await;
    let fc = Fc::new(emu.info());
    let cases = [
        json!({"memorySize": 1000}),
        json!({"memorySize": 1024, "cpu": 2.0}),
        json!({"memorySize": 8192, "cpu": 1.0}),
        json!({"cpu": 0.33}),
        json!({"diskSize": 2048}),
        json!({"timeout": 0}),
        json!({"instanceLifecycleConfig": {"initializer": {"handler": "true", "timeout": 600}}}),
        json!({"instanceLifecycleConfig": {"preStop": {"handler": "true", "timeout": 120}}}),
    ];
    for (i, bad) in cases.iter().enumerate() {
        let mut body = function_body(&format!("bad{i}"), 1);
        for (k, v) in bad.as_object().unwrap() {
            body[k] = v.clone();
        }
        let r = fc
            .call(
                "POST",
                "/2023-03-30/functions",
                "",
                "CreateFunction",
                Some(&body),
            )
            .await;
        assert_eq!(r.status, 400, "{bad}: {:?}", r.json());
        assert_eq!(r.json()["Code"], "InvalidArgument", "{bad}");
    }
    emu.shutdown().await;
}
