//! `fcctl destroy` against the emulator: what fcctl made for the app goes, in order; a dry run
//! and a run without confirmation delete nothing; a re-run is a no-op; deploy works again.

use fcctl::aliyun::fc_models::ListRequest;
use fcctl::aliyun::oss::{ObjectStore as _, OssClient, OssConfig};
use fcctl::aliyun::{AccessKey, ClientOptions, FcClient};

use crate::support::{TestProject, text};

fn kinds(list: &serde_json::Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|r| r["kind"].as_str().unwrap().to_string())
        .collect()
}

/// Runs `f` on a runtime of its own with a client of the project's staging bucket.
fn with_oss<T: Send + 'static>(
    p: &TestProject,
    f: impl AsyncFnOnce(OssClient) -> T + Send + 'static,
) -> T {
    let info = p.info.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let bucket = format!("fcctl-{}-{}", info.account_id, info.region);
        let key = AccessKey::new(&info.access_key_id, &info.access_key_secret);
        let oss = OssClient::new(
            OssConfig::new(&info.oss_endpoint, &bucket, &info.region),
            key,
        )
        .unwrap();
        rt.block_on(f(oss))
    })
    .join()
    .unwrap()
}

/// Function names and custom domains the emulator holds, read through the API.
fn cloud_inventory(p: &TestProject) -> (Vec<String>, Vec<String>) {
    let info = p.info.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let key = AccessKey::new(&info.access_key_id, &info.access_key_secret);
            let fc = FcClient::new(&info.fc_endpoint, key, ClientOptions::default()).unwrap();
            let functions = fc
                .list_functions(&ListRequest::default())
                .await
                .unwrap()
                .functions
                .unwrap_or_default()
                .into_iter()
                .filter_map(|f| f.function_name)
                .collect();
            let domains = fc
                .list_custom_domains(&ListRequest::default())
                .await
                .unwrap()
                .custom_domains
                .unwrap_or_default()
                .into_iter()
                .filter_map(|d| d.domain_name)
                .collect();
            (functions, domains)
        })
    })
    .join()
    .unwrap()
}

#[test]
fn destroy_removes_the_release_chain_keeps_nas_data_and_reruns_as_a_noop() {
    let p = TestProject::builder().start();
    p.fake_build("v1", "r-one");
    p.json(&["deploy", "--json"]);
    p.json(&["publish", "--json"]);
    p.json(&["alias", "--version", "1", "--json"]);
    p.json(&["provision", "--instances", "1", "--wait", "--json"]);
    // Staging objects as a large code package and nas-sync leave them.
    with_oss(&p, async |oss| {
        oss.ensure_bucket().await.unwrap();
        oss.put("fcctl/cat-dog/code/1.zip", b"zip".to_vec())
            .await
            .unwrap();
        oss.put("fcctl/cat-dog/blobs/ab/cd", b"blob".to_vec())
            .await
            .unwrap();
    });
    let (functions, domains) = cloud_inventory(&p);
    assert_eq!(functions, vec!["cat-dog"]);
    assert_eq!(domains.len(), 1, "{domains:?}");

    // A dry run lists everything in reverse dependency order and deletes nothing.
    let dry = p.json(&["destroy", "--dry-run", "--json"]);
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["deleted"].as_array().unwrap().len(), 0, "{dry}");
    assert_eq!(dry["oss_objects"], 2, "{dry}");
    assert_eq!(
        kinds(&dry["would_delete"]),
        [
            "provision_config",
            "custom_domain",
            "trigger",
            "alias",
            "version",
            "function",
            "nas_mount_target",
            "security_group",
            "vswitch",
            "vpc",
            "sls_project",
            "oss_objects",
            "bucket"
        ],
        "{dry}"
    );
    let infra_before = p.json(&["status", "--json"])["infra"].clone();
    let fs = infra_before["nas_file_system_id"].clone();
    assert!(fs.is_string(), "{infra_before}");
    assert_eq!(cloud_inventory(&p), (functions.clone(), domains.clone()));

    // No terminal and no --yes: refused, nothing deleted.
    let refused = p.fcctl(&["destroy", "--json"]);
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert!(text(&refused).contains("--yes"), "{}", text(&refused));
    assert!(refused.stdout.is_empty());
    assert_eq!(cloud_inventory(&p), (functions, domains));

    let r = p.json(&["destroy", "--yes", "--json"]);
    assert_eq!(r["dry_run"], false);
    assert_eq!(r["deleted"], dry["would_delete"], "{r}");
    assert!(
        r["deleted"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!({"kind": "alias", "id": "cat-dog/prod"})),
        "{r}"
    );
    let kept = r["kept"].as_array().unwrap();
    assert!(
        kept.iter()
            .any(|k| k["kind"] == "nas_data"
                && k["reason"].as_str().unwrap().contains("--purge-data")),
        "{r}"
    );
    assert_eq!(cloud_inventory(&p), (vec![], vec![]));
    let bucket_gone = with_oss(&p, async |oss| {
        oss.list("").await.unwrap_err().is_not_found()
    });
    assert!(bucket_gone, "the empty fcctl bucket is deleted");
    let status = p.json(&["status", "--json"]);
    assert_eq!(status["exists"], false, "{status}");
    assert_eq!(status["versions"].as_array().unwrap().len(), 0, "{status}");
    assert_eq!(status["aliases"].as_array().unwrap().len(), 0, "{status}");
    assert_eq!(status["provision"].as_array().unwrap().len(), 0, "{status}");
    // Found through each product's list API by the app's tag: only the file system (the
    // model releases) is left, reported with what it costs.
    let infra = &status["infra"];
    for key in [
        "vpc_id",
        "vswitch_id",
        "security_group_id",
        "nas_mount_target",
    ] {
        assert!(infra[key].is_null(), "{key} left behind: {infra}");
    }
    assert_eq!(infra["nas_file_system_id"], fs, "{infra}");
    assert!(
        kept.iter().any(|k| k["kind"] == "nas_file_system"
            && k["id"] == fs
            && k["reason"].as_str().unwrap().contains("GiB-month")),
        "{r}"
    );
    assert!(
        kept.iter().any(|k| k["kind"] == "service_linked_role"),
        "the account-wide role stays: {r}"
    );

    // A re-run finds nothing to delete and succeeds.
    let again = p.json(&["destroy", "--yes", "--json"]);
    assert_eq!(again["deleted"].as_array().unwrap().len(), 0, "{again}");
    assert_eq!(again["kept"], r["kept"]);

    // The app can be released again: a new network, the same file system.
    p.json(&["deploy", "--json"]);
    let infra_after = p.json(&["status", "--json"])["infra"].clone();
    assert_eq!(infra_after["nas_file_system_id"], fs, "{infra_after}");
    assert_ne!(
        infra_after["vpc_id"], infra_before["vpc_id"],
        "{infra_after}"
    );
    assert!(infra_after["nas_mount_target"].is_string(), "{infra_after}");
    let v = p.json(&["publish", "--json"]);
    assert_eq!(v["version"], "1", "{v}");
    p.json(&["alias", "--version", "1", "--json"]);
    assert_eq!(cloud_inventory(&p).0, vec!["cat-dog"]);
}

#[test]
fn a_bucket_other_apps_use_is_kept_with_only_this_apps_objects_removed() {
    let p = TestProject::builder().start();
    with_oss(&p, async |oss| {
        oss.ensure_bucket().await.unwrap();
        oss.put("fcctl/cat-dog/code/1.zip", b"zip".to_vec())
            .await
            .unwrap();
        oss.put("fcctl/other/code/1.zip", b"zip".to_vec())
            .await
            .unwrap();
    });
    let r = p.json(&["destroy", "--yes", "--json"]);
    assert_eq!(kinds(&r["deleted"]), ["oss_objects"], "{r}");
    assert!(
        r["kept"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["kind"] == "bucket" && k["reason"].as_str().unwrap().contains("1 object")),
        "{r}"
    );
    let left = with_oss(&p, async |oss| {
        oss.list("")
            .await
            .unwrap()
            .into_iter()
            .map(|o| o.key)
            .collect::<Vec<_>>()
    });
    assert_eq!(left, vec!["fcctl/other/code/1.zip"]);
}

/// An upload a killed sync left under the app's prefix is aborted, so the bucket it kept
/// non-empty is deleted.
#[test]
fn destroy_aborts_the_apps_incomplete_uploads_and_deletes_the_bucket() {
    let p = TestProject::builder().start();
    let bucket = with_oss(&p, async |oss| {
        oss.ensure_bucket().await.unwrap();
        oss.initiate("fcctl/cat-dog/blobs/ab/cd", &[])
            .await
            .unwrap();
        oss.bucket().to_string()
    });
    let dry = p.json(&["destroy", "--dry-run", "--json"]);
    assert_eq!(
        dry["would_delete"],
        serde_json::json!([
            {"kind": "oss_incomplete_uploads", "id": format!("oss://{bucket}/fcctl/cat-dog/")},
            {"kind": "bucket", "id": bucket},
        ]),
        "{dry}"
    );
    let r = p.json(&["destroy", "--yes", "--json"]);
    assert_eq!(r["deleted"], dry["would_delete"], "{r}");
    let bucket_gone = with_oss(&p, async |oss| {
        oss.list("").await.unwrap_err().is_not_found()
    });
    assert!(bucket_gone, "{r}");
    let again = p.json(&["destroy", "--yes", "--json"]);
    assert_eq!(again["deleted"], serde_json::json!([]), "{again}");
}

/// Another app's incomplete upload is not this app's to abort: the bucket stays, with OSS's
/// refusal as the reason, and a later destroy deletes it once that upload is gone.
#[test]
fn another_apps_incomplete_upload_keeps_the_bucket() {
    let p = TestProject::builder().start();
    let (ours, theirs) = with_oss(&p, async |oss| {
        oss.ensure_bucket().await.unwrap();
        (
            oss.initiate("fcctl/cat-dog/code/1.zip", &[]).await.unwrap(),
            oss.initiate("fcctl/other/code/1.zip", &[]).await.unwrap(),
        )
    });
    let r = p.json(&["destroy", "--yes", "--json"]);
    assert_eq!(kinds(&r["deleted"]), ["oss_incomplete_uploads"], "{r}");
    assert!(
        r["kept"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["kind"] == "bucket"
                && k["reason"].as_str().unwrap().contains("BucketNotEmpty")),
        "{r}"
    );
    let left = with_oss(&p, async |oss| {
        oss.list_multipart_uploads("")
            .await
            .unwrap()
            .into_iter()
            .map(|u| u.upload_id)
            .collect::<Vec<_>>()
    });
    assert_eq!(left, vec![theirs.clone()], "ours ({ours}) is aborted");

    with_oss(&p, async move |oss| {
        oss.abort_multipart("fcctl/other/code/1.zip", &theirs)
            .await
            .unwrap()
    });
    let r = p.json(&["destroy", "--yes", "--json"]);
    assert_eq!(kinds(&r["deleted"]), ["bucket"], "{r}");
}
