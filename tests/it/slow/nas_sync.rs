//! End-to-end: `fcctl nas-sync` against a fresh emulator (small trees).

use crate::support::{TestProject, verify_releases, write_file};

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
