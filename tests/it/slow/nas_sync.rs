//! End-to-end: `fcctl nas-sync` against a fresh emulator (small trees).

use crate::support::{TestProject, text, verify_releases, write_file};

#[test]
fn sync_publishes_a_verified_release_and_reruns_are_no_ops() {
    let p = TestProject::nas();
    write_file(&p.tree().join("weights.bin"), 3 << 20, 1);
    write_file(&p.tree().join("sub/a.txt"), 1000, 2);
    write_file(&p.tree().join("sub/b.txt"), 2000, 3);
    std::os::unix::fs::symlink("weights.bin", p.tree().join("current.bin")).ok();
    p.build_with_agent_only();

    let plan = p.json(&["nas-sync", "--dry-run", "--json"]);
    assert_eq!(plan["dry_run"], true);
    assert_eq!(plan["files_uploaded"], 3, "{plan}");
    assert!(plan["added"].as_array().unwrap().len() >= 3, "{plan}");
    assert!(!p.releases().exists() || verify_releases(&p.releases()).is_empty());

    let r1 = p.json(&["nas-sync", "--json"]);
    let id = r1["release_id"].as_str().unwrap().to_string();
    assert!(id.starts_with("r-"), "{r1}");
    assert_eq!(r1["files_uploaded"], 3, "{r1}");
    assert_eq!(verify_releases(&p.releases()), vec![id.clone()]);
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(p.work().join("state.json")).unwrap()).unwrap();
    assert_eq!(state["release_id"], id.as_str());
    // The served layout: MODEL_DIR=<release>/model.
    assert!(p.releases().join(&id).join("model/sub/a.txt").is_file());

    // Unchanged rerun: same id, nothing uploaded, nothing re-hashed, release already there.
    let r2 = p.json(&["nas-sync", "--json"]);
    assert_eq!(r2["release_id"], id.as_str());
    assert_eq!(r2["files_uploaded"], 0, "{r2}");
    assert_eq!(r2["uploaded_bytes"], 0);
    assert_eq!(r2["files_hashed"], 0);
    assert_eq!(r2["release_existed"], true);
    assert_eq!(r2["agent_updated"], false);

    // One changed file → only it is sent; unchanged files are hard-linked, not downloaded.
    write_file(&p.tree().join("sub/b.txt"), 2000, 99);
    p.build_with_agent_only();
    let plan = p.json(&["nas-sync", "--dry-run", "--json"]);
    assert_eq!(
        plan["changed"],
        serde_json::json!(["model/sub/b.txt"]),
        "{plan}"
    );
    let r3 = p.json(&["nas-sync", "--json"]);
    assert_ne!(r3["release_id"], id.as_str());
    assert_eq!(r3["files_uploaded"], 1, "{r3}");
    assert_eq!(r3["uploaded_bytes"], 2000);
    assert_eq!(r3["agent_downloaded"], 1, "{r3}");
    // weights.bin, sub/a.txt and current.bin (the source symlink is followed, so it is a
    // second copy of weights.bin's content).
    assert_eq!(r3["agent_linked"], 3, "{r3}");
    let ids = verify_releases(&p.releases());
    assert_eq!(ids.len(), 2);
    let new_id = r3["release_id"].as_str().unwrap().to_string();

    // ls shows both; gc removes the unreferenced old one, never the live (state.json) one.
    let ls = p.json(&["nas", "ls", "--json"]);
    assert_eq!(ls["releases"].as_array().unwrap().len(), 2, "{ls}");
    let gc = p.json(&["nas", "gc", "--dry-run", "--json"]);
    assert_eq!(gc["removed"], serde_json::json!([id]), "{gc}");
    assert_eq!(
        verify_releases(&p.releases()).len(),
        2,
        "dry run removes nothing"
    );
    p.json(&["nas", "gc", "--json"]);
    assert_eq!(verify_releases(&p.releases()), vec![new_id]);
    drop(p);
}

/// Overwrites (same size) the stored bytes of the blob with content `sha256` in the emulator's
/// OSS. `as_a_put`: also give it the ETag and CRC-64 of the new bytes, as an upload of wrong
/// content would; otherwise the metadata still describes the old bytes (damage at rest).
fn corrupt_blob(p: &TestProject, sha256: &str, as_a_put: bool) {
    let suffix = format!("/blobs/{sha256}");
    for bucket in std::fs::read_dir(p.data_dir().join("oss")).unwrap() {
        let objects = bucket.unwrap().path().join("objects");
        let Ok(entries) = std::fs::read_dir(&objects) else {
            continue;
        };
        for e in entries {
            let meta_path = e.unwrap().path();
            if meta_path.extension().is_none_or(|x| x != "json") {
                continue;
            }
            let mut meta: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&meta_path).unwrap()).unwrap();
            if !meta["key"].as_str().unwrap().ends_with(&suffix) {
                continue;
            }
            let data_path = meta_path.with_extension("");
            let mut data = std::fs::read(&data_path).unwrap();
            for b in data.iter_mut().take(64) {
                *b ^= 0x5a;
            }
            std::fs::write(&data_path, &data).unwrap();
            if as_a_put {
                meta["crc64"] = emulator::crc64(&data).into();
                meta["etag"] = "0123456789ABCDEF0123456789ABCDEF".into();
                std::fs::write(&meta_path, meta.to_string()).unwrap();
            }
            return;
        }
    }
    panic!("no blob {sha256} in the emulator's OSS");
}

fn sha_of(path: &std::path::Path) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(std::fs::read(path).unwrap()))
}

/// A blob whose stored bytes are not the content its key names is replaced from the local
/// file, whether the listing shows it (new ETag → the server's CRC-64 is compared) or only the
/// agent's download finds it (the metadata still claims the old bytes): the sync succeeds, and
/// the one after it is clean. Before, every later sync failed on the agent's verification.
#[test]
fn a_blob_with_wrong_content_is_replaced_not_trusted_forever() {
    let p = TestProject::nas();
    write_file(&p.tree().join("weights.bin"), 3 << 20, 1);
    write_file(&p.tree().join("a.txt"), 1000, 2);
    p.build_with_agent_only();
    let first = p.json(&["nas-sync", "--json"]);
    let id = first["release_id"].as_str().unwrap().to_string();
    let (weights, small) = (
        sha_of(&p.tree().join("weights.bin")),
        sha_of(&p.tree().join("a.txt")),
    );

    // Damage at rest, then the NAS copy lost: only the agent's sha256 check can tell.
    corrupt_blob(&p, &small, false);
    std::fs::remove_dir_all(p.releases()).unwrap();
    let out = p.fcctl(&["nas-sync", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("is not the content it names; uploading it again"),
        "{}",
        text(&out)
    );
    assert_eq!(verify_releases(&p.releases()), vec![id.clone()]);

    // Wrong content uploaded under the key (new ETag and CRC-64): seen in the plan already.
    corrupt_blob(&p, &weights, true);
    std::fs::remove_dir_all(p.releases()).unwrap();
    let r = p.json(&["nas-sync", "--json"]);
    assert_eq!(r["files_uploaded"], 1, "{r}");
    assert_eq!(verify_releases(&p.releases()), vec![id.clone()]);

    // Healed for good: nothing more to send.
    let again = p.json(&["nas-sync", "--json"]);
    assert_eq!(again["files_uploaded"], 0, "{again}");
    assert_eq!(again["release_existed"], true, "{again}");
}

/// `target/fcctl/uploads` does not collect a resume file per killed upload: those of uploads
/// that finished or that no sync will continue are removed at the next sync.
#[test]
fn stale_upload_resume_files_are_pruned() {
    let p = TestProject::nas();
    write_file(&p.tree().join("weights.bin"), 3 << 20, 1);
    p.build_with_agent_only();
    let uploads = p.work().join("uploads");
    std::fs::create_dir_all(&uploads).unwrap();
    // What a kill leaves: a state for an upload of content no build has any more, and one
    // whose own write was cut short.
    let bucket =
        ::fcctl::cloud::bucket_name(&::fcctl::config::Config::with_app("t"), &p.info.account_id);
    std::fs::write(
        uploads.join("0123.json"),
        serde_json::json!({"bucket": bucket, "key": "fcctl/t/blobs/0000", "file": "/gone",
            "size": 5, "mtime_ns": 1, "part_size": 262144, "upload_id": "no-such-upload"})
        .to_string(),
    )
    .unwrap();
    std::fs::write(uploads.join("4567.json"), b"{\"bucket\":").unwrap();
    let r = p.json(&["nas-sync", "--json"]);
    assert_eq!(r["files_uploaded"], 1, "{r}");
    let left: Vec<_> = std::fs::read_dir(&uploads).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
    // The fcctl-owned (`auto`) staging bucket expires old code packages and aborts stale
    // uploads by itself (PutBucketLifecycle, set once).
    let rules =
        std::fs::read_to_string(p.data_dir().join("oss").join(&bucket).join("lifecycle.xml"))
            .expect("nas-sync set the staging bucket's lifecycle rules");
    assert!(
        rules.contains("<ID>fcctl-t-code</ID>")
            && rules.contains("<Prefix>fcctl/t/blobs/</Prefix>"),
        "{rules}"
    );
}
