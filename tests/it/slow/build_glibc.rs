//! `fcctl build`: the glibc check and deterministic packaging.

use crate::support::{TestProject, agent_binary, write_file};

#[test]
fn native_binary_is_rejected_for_debian10_and_the_zig_build_passes() {
    let p = TestProject::nas();
    write_file(&p.tree().join("w.bin"), 1000, 1);
    // fcctl itself was built normally on this machine (glibc ≥ 2.34 symbols).
    let native = env!("CARGO_BIN_EXE_fcctl");
    let agent = agent_binary();
    let a = agent.to_str().unwrap();
    let out = p.fcctl(&["build", "--json", "--binary", native, "--agent-binary", a]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("only has glibc 2.28"), "{err}");
    assert!(err.contains("@GLIBC_2.3"), "names the symbols: {err}");
    assert!(err.contains("cargo zigbuild"), "suggests the fix: {err}");

    let r = p.build_with_agent_only();
    assert_eq!(r["runtime"], "custom.debian10");
    let max = r["glibc_max"].as_str().unwrap();
    let minor: u32 = max.split('.').nth(1).unwrap().parse().unwrap();
    assert!(minor <= 28, "{r}");
    assert_eq!(r["code_files"], serde_json::json!(["bootstrap"]), "{r}");
    assert_eq!(r["code_upload"], "inline");
    drop(p);
}

#[test]
fn two_builds_give_identical_code_zip() {
    let p = TestProject::nas();
    // A small file below the threshold and outside nas.include stays in code.zip.
    std::fs::write(
        p.path().join("fcctl.yaml"),
        "app: t\nbuild:\n  onnxruntime: false\n  files:\n    - src: tree\n      dst: static\nnas:\n  threshold_mb: 1\n  include: ['static/*.bin']\n",
    )
    .unwrap();
    write_file(&p.tree().join("index.html"), 500, 1);
    write_file(&p.tree().join("big.bin"), 2000, 2);
    let r1 = p.build_with_agent_only();
    // Touch everything: timestamps must not change the archive.
    std::thread::sleep(std::time::Duration::from_millis(20));
    write_file(&p.tree().join("index.html"), 500, 1);
    std::fs::remove_file(p.work().join("code.zip")).unwrap();
    let r2 = p.build_with_agent_only();
    assert_eq!(r1["code_zip_sha256"], r2["code_zip_sha256"]);
    assert_eq!(r1["code_zip_crc64"], r2["code_zip_crc64"]);
    assert_eq!(
        r1["code_files"],
        serde_json::json!(["bootstrap", "static/index.html"])
    );
    assert_eq!(r1["nas_files"], 1);
    // CRC-64 is what the emulator reports as codeChecksum.
    let zip = std::fs::read(p.work().join("code.zip")).unwrap();
    assert_eq!(
        r1["code_zip_crc64"].as_str().unwrap(),
        emulator::crc64(&zip).to_string()
    );
    let build_json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(p.work().join("build.json")).unwrap()).unwrap();
    assert_eq!(build_json["code_zip_sha256"], r1["code_zip_sha256"]);
    drop(p);
}
