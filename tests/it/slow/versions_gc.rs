//! End-to-end: five releases, `versions prune --keep 2`, then `nas gc` frees exactly the NAS
//! releases only the deleted versions pinned (the nas-agent is the real, cross-built one).

use crate::support::{TestProject, verify_releases, write_file};

#[test]
fn prune_then_gc_frees_only_the_releases_of_deleted_versions() {
    let p = TestProject::nas();
    let mut releases = Vec::new();
    for i in 1..=5u64 {
        write_file(&p.tree().join("weights.bin"), 4000, i);
        p.build_with_agent_only();
        let sync = p.json(&["nas-sync", "--json"]);
        releases.push(sync["release_id"].as_str().unwrap().to_string());
        p.json(&["deploy", "--json"]);
        let v = p.json(&["publish", "--json"]);
        assert_eq!(v["version"], i.to_string(), "{v}");
    }
    p.json(&["alias", "--version", "1", "--json"]);
    p.json(&["alias", "staging", "--version", "2", "--json"]);

    let pruned = p.json(&["versions", "prune", "--keep", "2", "--json"]);
    assert_eq!(pruned["deleted"], serde_json::json!(["3"]), "{pruned}");
    assert_eq!(pruned["releases_freed"], serde_json::json!([releases[2]]));

    let gc = p.json(&["nas", "gc", "--json"]);
    assert_eq!(gc["removed"], serde_json::json!([releases[2]]), "{gc}");
    let mut left = verify_releases(&p.releases());
    left.sort();
    let mut want: Vec<String> = [0, 1, 3, 4].iter().map(|i| releases[*i].clone()).collect();
    want.sort();
    assert_eq!(left, want);
}
