//! What `fcctl build` reads and writes (issue 15 items 2 and 3): sources stay in the project
//! unless the config names an outside path (and the build says so), links leading out are
//! refused unless `--follow-external-links`, `dst` stays in the package tree, and non-UTF-8
//! names are refused rather than merged. The function binary is a tiny static x86-64 ELF, so
//! these builds package for real without cross-compiling.

use std::os::unix::fs::symlink;
use std::path::PathBuf;
use std::process::Output;

use crate::support;

/// `tmp/proj` (the project: fcctl.yaml, `model/a.onnx`) beside `tmp/outside/key`, a file the
/// build must never pick up on its own.
struct Layout {
    tmp: tempfile::TempDir,
}

impl Layout {
    fn new(config_files: &str) -> Layout {
        let tmp = tempfile::tempdir().unwrap();
        let l = Layout { tmp };
        std::fs::create_dir_all(l.proj().join("model")).unwrap();
        std::fs::create_dir_all(l.outside()).unwrap();
        std::fs::write(l.proj().join("model/a.onnx"), b"onnx").unwrap();
        std::fs::write(l.outside().join("key"), b"AccessKeySecret=not-for-upload").unwrap();
        std::fs::write(
            l.proj().join("fcctl.yaml"),
            format!("app: t\nbuild:\n  onnxruntime: false\n  files:\n{config_files}"),
        )
        .unwrap();
        l
    }

    fn proj(&self) -> PathBuf {
        self.tmp.path().join("proj")
    }

    fn outside(&self) -> PathBuf {
        self.tmp.path().join("outside")
    }

    fn work(&self) -> PathBuf {
        self.proj().join("target/fcctl")
    }

    /// `fcctl build --json` with the tiny ELF as function and agent binary, plus `extra`.
    fn build(&self, extra: &[&str]) -> Output {
        let elf = self.tmp.path().join("exit0");
        if !elf.exists() {
            std::fs::write(&elf, tiny_elf()).unwrap();
        }
        let elf = elf.to_str().unwrap();
        let mut args = vec!["build", "--json", "--binary", elf, "--agent-binary", elf];
        args.extend_from_slice(extra);
        support::fcctl_command(&self.proj(), &args)
            .output()
            .unwrap()
    }

    /// stderr with the temp dir replaced, for snapshots.
    fn stderr(&self, out: &Output) -> String {
        let tmp = self.tmp.path().canonicalize().unwrap();
        String::from_utf8_lossy(&out.stderr)
            .replace(&tmp.display().to_string(), "[TMP]")
            .replace(&self.tmp.path().display().to_string(), "[TMP]")
    }

    /// Every package path shipped: code.zip entries and NAS tree files, sorted.
    fn shipped(&self) -> Vec<String> {
        let zip = std::fs::File::open(self.work().join("code.zip")).unwrap();
        let zip = zip::ZipArchive::new(zip).unwrap();
        let mut all: Vec<String> = zip.file_names().map(str::to_string).collect();
        let nas_dir = self.work().join("nas");
        for e in walkdir::WalkDir::new(&nas_dir) {
            let e = e.unwrap();
            if !e.file_type().is_dir() {
                let rel = e.path().strip_prefix(&nas_dir).unwrap();
                all.push(rel.to_str().unwrap().to_string());
            }
        }
        all.sort();
        all
    }

    /// No file anywhere in the project's outputs holds the outside secret.
    fn assert_secret_not_shipped(&self) {
        for e in walkdir::WalkDir::new(self.tmp.path()) {
            let e = e.unwrap();
            if e.file_type().is_file() && !e.path().starts_with(self.outside()) {
                let bytes = std::fs::read(e.path()).unwrap();
                assert!(
                    !bytes.windows(14).any(|w| w == b"AccessKeySecre"),
                    "{} holds the secret",
                    e.path().display()
                );
            }
        }
    }
}

/// A complete static x86-64 Linux executable that exits 0: ELF header, one PT_LOAD segment,
/// `mov eax, 60; xor edi, edi; syscall`. It needs no glibc, so the build's ELF check passes.
pub(super) fn tiny_elf() -> Vec<u8> {
    const BASE: u64 = 0x40_0000;
    const CODE: [u8; 9] = [0xb8, 0x3c, 0, 0, 0, 0x31, 0xff, 0x0f, 0x05];
    let size = 64 + 56 + CODE.len() as u64;
    let mut v = Vec::new();
    v.extend_from_slice(b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0");
    v.extend_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    v.extend_from_slice(&0x3eu16.to_le_bytes()); // x86-64
    v.extend_from_slice(&1u32.to_le_bytes());
    v.extend_from_slice(&(BASE + 64 + 56).to_le_bytes()); // entry
    v.extend_from_slice(&64u64.to_le_bytes()); // program headers
    v.extend_from_slice(&0u64.to_le_bytes()); // no section headers
    v.extend_from_slice(&0u32.to_le_bytes());
    for h in [64u16, 56, 1, 64, 0, 0] {
        v.extend_from_slice(&h.to_le_bytes());
    }
    v.extend_from_slice(&1u32.to_le_bytes()); // PT_LOAD
    v.extend_from_slice(&5u32.to_le_bytes()); // R+X
    for x in [0, BASE, BASE, size, size, 0x1000] {
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.extend_from_slice(&CODE);
    v
}

const MODEL: &str = "    - src: model\n      dst: model\n";

fn assert_refused(out: &Output) {
    assert_eq!(out.status.code(), Some(1), "{}", support::text(out));
}

#[test]
fn a_symlink_out_of_the_project_is_refused_naming_link_and_target() {
    let l = Layout::new(MODEL);
    symlink(l.outside().join("key"), l.proj().join("model/config.json")).unwrap();
    let out = l.build(&[]);
    assert_refused(&out);
    insta::assert_snapshot!(l.stderr(&out));
    assert!(!l.work().join("code.zip").exists());
    l.assert_secret_not_shipped();
}

#[test]
fn a_directory_symlink_out_of_the_project_is_refused() {
    let l = Layout::new(MODEL);
    symlink("../../outside", l.proj().join("model/more")).unwrap();
    let out = l.build(&[]);
    assert_refused(&out);
    let err = l.stderr(&out);
    assert!(
        err.contains("[TMP]/proj/model/more is a symlink to [TMP]/outside, outside the project"),
        "{err}"
    );
    l.assert_secret_not_shipped();
}

#[test]
fn follow_external_links_ships_the_target_and_prints_each_link() {
    let l = Layout::new(MODEL);
    symlink(l.outside().join("key"), l.proj().join("model/config.json")).unwrap();
    let out = l.build(&["--follow-external-links"]);
    assert!(out.status.success(), "{}", support::text(&out));
    assert!(
        l.stderr(&out).contains(
            "following [TMP]/proj/model/config.json → [TMP]/outside/key outside the project"
        ),
        "{}",
        l.stderr(&out)
    );
    assert_eq!(
        l.shipped(),
        ["bootstrap", "model/a.onnx", "model/config.json"]
    );
}

#[test]
fn a_source_named_outside_the_project_is_shipped_and_printed() {
    let l = Layout::new(&format!("{MODEL}    - src: ../outside\n      dst: extra\n"));
    let out = l.build(&[]);
    assert!(out.status.success(), "{}", support::text(&out));
    assert!(
        l.stderr(&out)
            .contains("including [TMP]/outside from outside the project (build.files[1].src)"),
        "{}",
        l.stderr(&out)
    );
    assert_eq!(l.shipped(), ["bootstrap", "extra/key", "model/a.onnx"]);
}

#[test]
fn symlinks_inside_the_project_are_shipped_as_files_once_none_leads_out() {
    let l = Layout::new(MODEL);
    std::fs::write(l.proj().join("labels.txt"), b"cat\ndog\n").unwrap();
    symlink("../labels.txt", l.proj().join("model/labels.txt")).unwrap();
    symlink("a.onnx", l.proj().join("model/b.onnx")).unwrap();
    symlink("../../outside/key", l.proj().join("model/z")).unwrap();
    assert_refused(&l.build(&[]));
    std::fs::remove_file(l.proj().join("model/z")).unwrap();
    let out = l.build(&[]);
    assert!(out.status.success(), "{}", support::text(&out));
    assert_eq!(
        l.shipped(),
        [
            "bootstrap",
            "model/a.onnx",
            "model/b.onnx",
            "model/labels.txt"
        ]
    );
    // The default `nas.include` (`model/**`) puts them in the NAS tree, as plain files.
    let shipped = l.work().join("nas/model/labels.txt");
    assert!(shipped.symlink_metadata().unwrap().is_file());
    assert_eq!(std::fs::read(shipped).unwrap(), b"cat\ndog\n");
}

#[test]
fn a_symlink_loop_is_an_error_not_a_hang() {
    let l = Layout::new(MODEL);
    symlink("..", l.proj().join("model/up")).unwrap();
    let out = l.build(&[]);
    assert_refused(&out);
    assert!(
        l.stderr(&out).contains("through a symlink: a loop"),
        "{}",
        l.stderr(&out)
    );
}

#[test]
fn a_dst_leaving_the_package_tree_is_a_config_error_at_its_line() {
    let l = Layout::new("    - src: model\n      dst: ../../../../escaped\n");
    let out = l.build(&[]);
    assert_refused(&out);
    insta::assert_snapshot!(l.stderr(&out));
    assert!(!l.tmp.path().join("escaped").exists());
    assert!(!l.work().join("code.zip").exists());
}

#[test]
fn non_utf8_file_names_are_refused_naming_the_file_not_merged() {
    use std::os::unix::ffi::OsStrExt as _;
    let l = Layout::new(MODEL);
    for name in [&b"bad\xffname.bin"[..], &b"bad\xfename.bin"[..]] {
        let p = l
            .proj()
            .join("model")
            .join(std::ffi::OsStr::from_bytes(name));
        std::fs::write(p, name).unwrap();
    }
    let out = l.build(&[]);
    assert_refused(&out);
    insta::assert_snapshot!(l.stderr(&out));
    assert!(!l.work().join("code.zip").exists());
}

#[test]
fn two_sources_for_one_package_path_are_refused_not_one_dropped() {
    let l = Layout::new(&format!("{MODEL}    - src: other\n      dst: model\n"));
    std::fs::create_dir_all(l.proj().join("other")).unwrap();
    std::fs::write(l.proj().join("other/a.onnx"), b"other").unwrap();
    let out = l.build(&[]);
    assert_refused(&out);
    let err = l.stderr(&out);
    assert!(
        err.contains("package path `model/a.onnx` comes from two sources"),
        "{err}"
    );
}

#[test]
fn a_source_file_at_the_binary_path_is_refused() {
    let l = Layout::new("    - src: model\n      dst: .\n");
    std::fs::create_dir_all(l.proj().join("model/bootstrap")).unwrap();
    std::fs::write(l.proj().join("model/bootstrap/x"), b"x").unwrap();
    let out = l.build(&[]);
    assert_refused(&out);
    let err = l.stderr(&out);
    assert!(
        err.contains("package path `bootstrap` is a file (the function binary) and also"),
        "{err}"
    );
}
