//! Crash safety of `auto` infrastructure: SIGKILL `fcctl deploy` at 16 moments spread over
//! the creation of a VPC, vSwitch, security group, NAS file system and mount target; the rerun
//! converges with exactly one of each (found by tag, never created twice).

use std::time::{Duration, Instant};

use crate::support::{TestProject, text};

/// Per kind, how many resources the emulator holds for `app` (mount targets through their
/// file system's tag).
fn counts_for(p: &TestProject, app: &str) -> [usize; 5] {
    let Ok(bytes) = std::fs::read(p.data_dir().join("state.json")) else {
        return [0; 5];
    };
    let state: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let infra = &state["infra"];
    let tagged = |v: &serde_json::Value| {
        v["tags"].as_array().is_some_and(|t| {
            t.iter()
                .any(|t| t["key"] == "fcctl:app" && t["value"] == app)
        })
    };
    let of = |k: &str| -> Vec<serde_json::Value> {
        infra[k]
            .as_object()
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default()
    };
    let fss: Vec<String> = of("fileSystems")
        .iter()
        .filter(|f| tagged(f))
        .map(|f| f["id"].as_str().unwrap().to_string())
        .collect();
    [
        of("vpcs").iter().filter(|v| tagged(v)).count(),
        of("vswitches").iter().filter(|v| tagged(v)).count(),
        of("securityGroups").iter().filter(|v| tagged(v)).count(),
        fss.len(),
        of("mountTargets")
            .iter()
            .filter(|m| fss.iter().any(|f| m["fileSystemId"] == f.as_str()))
            .count(),
    ]
}

fn use_app(p: &TestProject, app: &str) {
    std::fs::write(p.path().join("fcctl.yaml"), format!("app: {app}\n")).unwrap();
}

/// Runs `deploy` to the end of its infra step (it then stops at the missing build, which is
/// not what these runs are about).
fn converge(p: &TestProject) -> String {
    let out = p.fcctl(&["deploy"]);
    let all = text(&out);
    assert!(
        out.status.success() || all.contains("fcctl build"),
        "deploy failed before its build step: {all}"
    );
    all
}

#[test]
fn sigkill_during_infra_creation_then_rerun_converges_to_one_of_each() {
    let p = TestProject::builder().connect_with_env().start();
    // How long creating everything takes here (the emulator's resources take ~1 s to become
    // usable, like the cloud's take minutes).
    use_app(&p, "probe");
    let t0 = Instant::now();
    converge(&p);
    let full = t0.elapsed();
    assert_eq!(counts_for(&p, "probe"), [1; 5]);

    // 16 moments spread over 0.85 of a full run, and more rounds (up to 24) until 15 kills
    // have hit a running deploy: under load a late moment can land after the process ended,
    // and the point is the 15.
    let (moments, max_rounds) = (16, 24);
    let mut mid_run = 0;
    for i in 0..max_rounds {
        if i >= moments && mid_run >= 15 {
            break;
        }
        // A fresh app each round: every kill lands in a creation, not in a converged run.
        let app = format!("k{i}");
        use_app(&p, &app);
        let at =
            full.mul_f64(0.85 * (i % moments) as f64 / moments as f64) + Duration::from_millis(30);
        let mut child = p.command(&["deploy"]).spawn().unwrap();
        std::thread::sleep(at);
        if child.try_wait().unwrap().is_none() {
            mid_run += 1;
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let before = counts_for(&p, &app);
        assert!(
            before.iter().all(|&n| n <= 1),
            "round {i} (killed at {at:?}): {before:?}"
        );
        converge(&p);
        assert_eq!(
            counts_for(&p, &app),
            [1; 5],
            "round {i} (killed at {at:?}, had {before:?})"
        );
        // And a second rerun writes nothing.
        let again = p.fcctl(&["deploy", "--json"]);
        let all = text(&again);
        assert!(!all.contains("created "), "round {i}: {all}");
    }
    assert!(
        mid_run >= 15,
        "only {mid_run} kills hit a running deploy (full run {full:?})"
    );
}
