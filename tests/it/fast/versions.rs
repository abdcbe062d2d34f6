//! End-to-end: `fcctl versions ls|prune` against a fresh emulator (fake builds stand in for
//! the model server, so five releases take seconds).

use crate::support::{TestProject, text};

fn ids(ls: &serde_json::Value) -> Vec<String> {
    ls["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn prune_keeps_the_newest_and_the_aliased_and_dry_run_deletes_nothing() {
    let p = TestProject::builder().start();
    for i in 1..=5 {
        p.fake_build(&format!("v{i}"), &format!("r-{i}"));
        p.json(&["deploy", "--json"]);
        let v = p.json(&["publish", "--json"]);
        assert_eq!(v["version"], i.to_string());
    }
    p.json(&[
        "alias",
        "--version",
        "1",
        "--canary",
        "2",
        "--weight",
        "0.25",
        "--json",
    ]);

    let ls = p.json(&["versions", "ls", "--json"]);
    assert_eq!(ids(&ls), ["5", "4", "3", "2", "1"], "{ls}");
    let v1 = &ls["versions"][4];
    assert_eq!(
        v1["release"], "r-1",
        "the release comes from the version's env"
    );
    assert_eq!(v1["aliases"][0]["alias"], "prod");
    assert_eq!(v1["aliases"][0]["weight"], 0.75);
    assert_eq!(ls["versions"][3]["aliases"][0]["canary"], true);
    assert!(ls["versions"][0]["digest"].is_string(), "{ls}");
    let human = text(&p.fcctl(&["versions", "ls"]));
    assert!(
        human.contains("prod 25%") && human.contains("r-3"),
        "{human}"
    );

    let dry = p.json(&["versions", "prune", "--keep", "2", "--dry-run", "--json"]);
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["deleted"], serde_json::json!(["3"]), "{dry}");
    assert_eq!(dry["releases_freed"], serde_json::json!(["r-3"]), "{dry}");
    let human = text(&p.fcctl(&["versions", "prune", "--keep", "2", "--dry-run"]));
    assert!(human.contains("would delete 1 version(s): 3"), "{human}");
    assert!(human.contains("1 (alias prod)"), "{human}");
    assert_eq!(ids(&p.json(&["versions", "ls", "--json"])).len(), 5);

    let r = p.json(&["versions", "prune", "--keep", "2", "--json"]);
    assert_eq!(r["dry_run"], false);
    assert_eq!(r["deleted"], serde_json::json!(["3"]), "{r}");
    assert_eq!(
        ids(&p.json(&["versions", "ls", "--json"])),
        ["5", "4", "2", "1"]
    );

    // Keeping none still never touches what prod routes to.
    let r = p.json(&["versions", "prune", "--keep", "0", "--json"]);
    assert_eq!(r["deleted"], serde_json::json!(["4", "5"]), "{r}");
    assert_eq!(ids(&p.json(&["versions", "ls", "--json"])), ["2", "1"]);
}
