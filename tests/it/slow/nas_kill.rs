//! Crash safety: SIGKILL `fcctl nas-sync` at many random moments; each rerun converges and no
//! partial release is ever visible under `releases/`.

use std::time::Duration;

use crate::support::{TestProject, verify_releases_cached, write_file};

#[test]
fn sigkill_at_random_moments_then_rerun_converges() {
    let p = TestProject::nas();
    // Small tree: one multipart blob (2 MiB in 256 KiB parts: the resumable path), a few
    // small files.
    write_file(&p.tree().join("big.bin"), 2 << 20, 7);
    let mut seen = std::collections::HashSet::new();
    for i in 0..8 {
        write_file(
            &p.tree().join(format!("small/{i}.txt")),
            3000 + i * 100,
            i as u64,
        );
    }
    p.build_with_agent_only();
    let mut rng: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    // At least 34 kill moments, and more (up to 60) until 20 of them hit a running sync: how
    // many land mid-run depends on this machine's speed at the time, and the point is the 20.
    let (min_iterations, max_iterations) = (34, 60);
    // Kill moments are spread over the measured length of a sync (whole process lifetime).
    let mut last_ms: u64 = 150;
    let mut killed_mid_run = 0;
    for i in 0..max_iterations {
        if i >= min_iterations && killed_mid_run >= 20 {
            break;
        }
        // New content every round so there is always work to interrupt; every third round
        // changes the big file (multipart upload).
        if i % 3 == 0 {
            write_file(&p.tree().join("big.bin"), 2 << 20, 1000 + i);
        }
        write_file(
            &p.tree().join(format!("small/{}.txt", i % 8)),
            5000,
            2000 + i,
        );
        p.build_with_agent_only();
        let delay = Duration::from_millis(next() % (last_ms * 3 / 4).max(10));
        let mut child = p
            .command(&["nas-sync", "--json"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        if child.try_wait().unwrap().is_none() {
            killed_mid_run += 1;
        }
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        // No partial release is visible, and state (if set) names a complete release.
        let ids = verify_releases_cached(&p.releases(), &mut seen);
        if let Ok(b) = std::fs::read(p.work().join("state.json")) {
            let st: serde_json::Value = serde_json::from_slice(&b).unwrap();
            if let Some(id) = st["release_id"].as_str() {
                assert!(
                    ids.iter().any(|x| x == id),
                    "state names missing release {id}"
                );
            }
        }
        // Rerun converges.
        let t = std::time::Instant::now();
        let r = p.json(&["nas-sync", "--json"]);
        last_ms = (t.elapsed().as_millis() as u64).max(last_ms * 3 / 4);
        let id = r["release_id"].as_str().unwrap().to_string();
        let ids = verify_releases_cached(&p.releases(), &mut seen);
        assert!(ids.contains(&id), "round {i}: {id} not published: {ids:?}");
        let again = p.json(&["nas-sync", "--json"]);
        assert_eq!(again["release_id"], id.as_str());
        assert_eq!(again["release_existed"], true, "{again}");
        assert_eq!(again["uploaded_bytes"], 0);
    }
    assert!(
        killed_mid_run >= 20,
        "only {killed_mid_run} kills hit a running sync"
    );
    drop(p);
}
