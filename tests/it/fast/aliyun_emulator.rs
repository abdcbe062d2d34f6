//! End-to-end: fcctl's wire layer against the local emulator (127.0.0.1 only).
//! The emulator verifies ACS3 / OSS V1 signatures like the cloud: right keys pass, a wrong
//! secret gets 403 with a typed error, request id and hint.

use std::time::Duration;

use fcctl::aliyun::oss::{MultipartOptions, ObjectStore, OssClient, OssConfig};
use fcctl::aliyun::{AccessKey, ClientOptions, FcClient, RetryPolicy, fc_models::ListRequest};
use fcctl::exit::Hint as _;

async fn start(
    faults: &str,
    keys: Vec<emulator::AccessKey>,
) -> (emulator::Emulator, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = emulator::Config {
        data_dir: dir.path().join("emu"),
        faults: faults.parse().unwrap(),
        ..Default::default()
    };
    if !keys.is_empty() {
        cfg.keys = keys;
    }
    let emu = emulator::Emulator::start(cfg).await.unwrap();
    (emu, dir)
}

fn opts() -> ClientOptions {
    ClientOptions {
        retry: RetryPolicy {
            max_attempts: 10,
            initial_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(50),
            deadline: Duration::from_secs(20),
        },
        ..Default::default()
    }
}

#[tokio::test]
async fn emulator_accepts_fcctl_signatures_and_rejects_a_wrong_secret() {
    let (emu, _dir) = start("", vec![]).await;
    let info = emu.info().clone();
    let good = AccessKey::new(&info.access_key_id, &info.access_key_secret);
    let fc = FcClient::new(&info.fc_endpoint, good.clone(), opts()).unwrap();
    fc.list_functions(&ListRequest::default()).await.unwrap();
    let nf = fc.get_function("does-not-exist", None).await.unwrap_err();
    assert!(nf.is_not_found(), "{nf}");
    assert!(nf.request_id().is_some(), "{nf}");
    assert_eq!(fc.write_count(), 0);

    let bad = FcClient::new(
        &info.fc_endpoint,
        AccessKey::new(&info.access_key_id, "wrong-secret"),
        opts(),
    )
    .unwrap();
    let e = bad
        .list_functions(&ListRequest::default())
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(403), "{e}");
    assert!(e.request_id().is_some(), "{e}");
    assert!(e.hint().is_some(), "{e}");
    assert_eq!(bad.call_count(), 1, "403 is not retried");

    let oss = OssClient::new(
        OssConfig::new(&info.oss_endpoint, "fcctl-e2e", &info.region),
        good,
    )
    .unwrap();
    oss.ensure_bucket().await.unwrap();
    oss.put("a/b.txt", b"hello".to_vec()).await.unwrap();
    assert_eq!(oss.get("a/b.txt", Some(1..4)).await.unwrap(), b"ell");
    let bad_oss = OssClient::new(
        OssConfig::new(&info.oss_endpoint, "fcctl-e2e", &info.region),
        AccessKey::new(&info.access_key_id, "wrong-secret"),
    )
    .unwrap();
    let e = bad_oss.get("a/b.txt", None).await.unwrap_err();
    assert_eq!(e.status(), Some(403), "{e}");
    emu.shutdown().await;
}

#[tokio::test]
async fn sts_token_is_accepted_by_the_emulator() {
    let key = emulator::AccessKey {
        id: "STS.e2e".into(),
        secret: "sts-secret".into(),
        security_token: Some("CAIS+tok/en==".into()),
    };
    let (emu, _dir) = start("", vec![key]).await;
    let info = emu.info().clone();
    let k = AccessKey::new("STS.e2e", "sts-secret").with_security_token("CAIS+tok/en==");
    let fc = FcClient::new(&info.fc_endpoint, k.clone(), opts()).unwrap();
    fc.list_functions(&ListRequest::default()).await.unwrap();
    let oss = OssClient::new(
        OssConfig::new(&info.oss_endpoint, "fcctl-sts", &info.region),
        k,
    )
    .unwrap();
    oss.ensure_bucket().await.unwrap();
    oss.put("x", vec![1, 2, 3]).await.unwrap();
    emu.shutdown().await;
}

#[tokio::test]
async fn survives_injected_throttling_5xx_and_drops() {
    let (emu, dir) = start("error_rate=0.3,drop_rate=0.1", vec![]).await;
    let info = emu.info().clone();
    let key = AccessKey::new(&info.access_key_id, &info.access_key_secret);
    let fc = FcClient::new(&info.fc_endpoint, key.clone(), opts()).unwrap();
    for _ in 0..10 {
        fc.list_functions(&ListRequest::default()).await.unwrap();
    }
    let mut cfg = OssConfig::new(&info.oss_endpoint, "fcctl-faults", &info.region);
    cfg.retry = opts().retry;
    let oss = OssClient::new(cfg, key).unwrap();
    oss.ensure_bucket().await.unwrap();
    let file = dir.path().join("blob.bin");
    let data: Vec<u8> = (0..350 * 1024).map(|i| (i % 253) as u8).collect();
    std::fs::write(&file, &data).unwrap();
    let mo = MultipartOptions {
        part_size: 100 * 1024,
        concurrency: 2,
        resume_dir: Some(dir.path().join("resume")),
        headers: vec![],
        expect_sha256: None,
    };
    let rep = oss.put_multipart("blobs/x", &file, &mo).await.unwrap();
    assert_eq!(rep.parts_total, 4);
    assert_eq!(oss.get("blobs/x", None).await.unwrap(), data);
    emu.shutdown().await;
}

/// fcctl's SLS client and the emulator's SLS (each with its own signer) agree: projects found
/// by tag, logstore, index, an empty query; a wrong secret and a denied action are typed.
#[tokio::test]
async fn sls_client_against_the_emulator() {
    use fcctl::aliyun::rpc::Tag;
    use fcctl::aliyun::sls::{GetLogs, IndexConfig, LogStore, SlsClient};
    let (emu, _dir) = start("deny=sls:DeleteProject", vec![]).await;
    let info = emu.info().clone();
    let key = AccessKey::new(&info.access_key_id, &info.access_key_secret);
    let sls = SlsClient::new(&info.sls_endpoint, key, opts()).unwrap();
    sls.create_project("fcctl-cat-dog", "fcctl: cat-dog")
        .await
        .unwrap();
    let again = sls.create_project("fcctl-cat-dog", "").await.unwrap_err();
    assert!(again.is_already_exists(), "{again}");
    sls.tag_project("fcctl-cat-dog", &[Tag::app("cat-dog")])
        .await
        .unwrap();
    sls.create_project("fcctl-other", "").await.unwrap();
    assert_eq!(
        sls.projects_tagged(&[Tag::app("cat-dog")]).await.unwrap(),
        ["fcctl-cat-dog"]
    );
    assert_eq!(sls.list_projects(None).await.unwrap().len(), 2);
    sls.create_logstore("fcctl-cat-dog", &LogStore::new("app", 7))
        .await
        .unwrap();
    assert_eq!(
        sls.get_logstore("fcctl-cat-dog", "app").await.unwrap().ttl,
        7
    );
    assert_eq!(sls.list_logstores("fcctl-cat-dog").await.unwrap(), ["app"]);
    let index = IndexConfig::full_text_with_keys(&["request_id", "instance_id"]);
    sls.create_index("fcctl-cat-dog", "app", &index)
        .await
        .unwrap();
    assert_eq!(sls.get_index("fcctl-cat-dog", "app").await.unwrap(), index);
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let got = sls
        .get_logs(
            "fcctl-cat-dog",
            "app",
            &GetLogs {
                from: now - 600,
                to: now + 1,
                query: "request_id: \"1-abc\"".into(),
                topic: None,
                line: 100,
                offset: 0,
                reverse: true,
            },
        )
        .await
        .unwrap();
    assert!(got.complete && got.logs.is_empty(), "{got:?}");
    let gone = sls.get_logstore("fcctl-cat-dog", "nope").await.unwrap_err();
    assert!(gone.is_not_found() && !gone.is_already_exists(), "{gone}");
    assert_eq!(gone.code(), Some("LogStoreNotExist"));
    assert!(gone.request_id().is_some());
    let denied = sls.delete_project("fcctl-cat-dog").await.unwrap_err();
    assert_eq!(
        (denied.status(), denied.code()),
        (Some(401), Some("Unauthorized"))
    );
    assert!(denied.to_string().contains("log:DeleteProject"), "{denied}");
    assert!(denied.hint().unwrap().contains("AliyunLogFullAccess"));

    let bad = SlsClient::new(
        &info.sls_endpoint,
        AccessKey::new(&info.access_key_id, "wrong-secret"),
        opts(),
    )
    .unwrap();
    let e = bad.get_project("fcctl-cat-dog").await.unwrap_err();
    assert_eq!(
        (e.status(), e.code()),
        (Some(401), Some("SignatureNotMatch"))
    );
    assert!(e.hint().unwrap().contains("clock"));
    emu.shutdown().await;
}
