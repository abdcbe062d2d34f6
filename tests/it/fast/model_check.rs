//! model.yaml checked before anything is packaged (issue 16 item 3): a wrong sha256, a wrong
//! input name or size and a missing key fail `fcctl build` at their line in model.yaml, before
//! code.zip is written; `fcctl model hash --write` fixes the sha256 and nothing else; a missing
//! sha256 is computed and said. The real model of this repository (`model/`, read at run time);
//! the function binary is build_inputs' tiny static ELF, so the trial run is `--no-trial`
//! here and in `slow::model_check`.

use std::path::{Path, PathBuf};
use std::process::Output;

use sha2::Digest as _;

use crate::support;

struct Proj {
    tmp: tempfile::TempDir,
}

impl Proj {
    /// A project with the repository's model files and `edit` applied to its model.yaml.
    fn new(edit: impl FnOnce(&str) -> String) -> Proj {
        let tmp = tempfile::tempdir().unwrap();
        let p = Proj { tmp };
        let model = p.dir().join("model");
        std::fs::create_dir_all(&model).unwrap();
        for name in ["efficientnet-lite0-int8.onnx", "imagenet_classes.txt"] {
            std::fs::copy(support::repo().join("model").join(name), model.join(name)).unwrap();
        }
        std::fs::write(p.manifest(), edit(&original())).unwrap();
        std::fs::write(
            p.dir().join("fcctl.yaml"),
            "app: t\nbuild:\n  onnxruntime: false\n  files:\n    - src: model\n      dst: model\n",
        )
        .unwrap();
        std::fs::write(p.dir().join("exit0"), super::build_inputs::tiny_elf()).unwrap();
        p
    }

    fn dir(&self) -> &Path {
        self.tmp.path()
    }

    fn manifest(&self) -> PathBuf {
        self.dir().join("model/model.yaml")
    }

    fn fcctl(&self, args: &[&str]) -> Output {
        support::fcctl_command(self.dir(), args).output().unwrap()
    }

    fn build(&self) -> Output {
        let elf = self.dir().join("exit0");
        let elf = elf.to_str().unwrap();
        self.fcctl(&[
            "build",
            "--no-trial",
            "--binary",
            elf,
            "--agent-binary",
            elf,
        ])
    }

    fn packaged(&self) -> bool {
        self.dir().join("target/fcctl/code.zip").exists()
    }
}

fn original() -> String {
    std::fs::read_to_string(support::repo().join("model/model.yaml")).unwrap()
}

fn onnx_sha256() -> String {
    let bytes = std::fs::read(support::repo().join("model/efficientnet-lite0-int8.onnx")).unwrap();
    hex::encode(sha2::Sha256::digest(bytes))
}

/// 1-based number of the first line of `text` starting with `prefix`.
fn line_of(text: &str, prefix: &str) -> usize {
    text.lines()
        .position(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("model.yaml has a line starting with {prefix:?}"))
        + 1
}

/// `text` with the line starting with `prefix` replaced by `line` (removed when `None`).
fn with_line(text: &str, prefix: &str, line: Option<&str>) -> String {
    let _ = line_of(text, prefix);
    text.lines()
        .filter_map(|l| match l.starts_with(prefix) {
            true => line,
            false => Some(l),
        })
        .map(|l| format!("{l}\n"))
        .collect()
}

fn refused(out: &Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{}", support::text(out));
    err
}

const ZEROS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[test]
fn a_wrong_sha256_fails_build_at_its_line_naming_both_hashes_and_model_hash_fixes_it() {
    let p = Proj::new(|t| with_line(t, "sha256:", Some(&format!("sha256: {ZEROS}"))));
    let err = refused(&p.build());
    let line = line_of(&original(), "sha256:");
    assert!(
        err.contains(&format!("model/model.yaml:{line}:1: `sha256`")),
        "{err}"
    );
    assert!(err.contains(ZEROS) && err.contains(&onnx_sha256()), "{err}");
    assert!(
        err.contains("hint: run `fcctl model hash --write`"),
        "{err}"
    );
    assert!(!p.packaged(), "nothing is packaged for a bad model");

    // Without --write it only prints.
    let out = p.fcctl(&["model", "hash"]);
    assert!(out.status.success(), "{}", support::text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with(&onnx_sha256()));
    assert!(
        std::fs::read_to_string(p.manifest())
            .unwrap()
            .contains(ZEROS)
    );

    let out = p.fcctl(&["model", "hash", "--write"]);
    assert!(out.status.success(), "{}", support::text(&out));
    // Comments and every other line are as they were.
    assert_eq!(std::fs::read_to_string(p.manifest()).unwrap(), original());
    let out = p.build();
    assert!(out.status.success(), "{}", support::text(&out));
    assert!(
        support::text(&out).contains("matches"),
        "{}",
        support::text(&out)
    );
}

#[test]
fn a_wrong_input_name_fails_build_at_its_line_naming_the_inputs() {
    let p = Proj::new(|t| with_line(t, "  name:", Some("  name: pixels")));
    let err = refused(&p.build());
    let line = line_of(&original(), "  name:");
    assert!(
        err.contains(&format!("model/model.yaml:{line}:3: `input.name`")),
        "{err}"
    );
    assert!(
        err.contains("has no input `pixels`; its inputs: `input`"),
        "{err}"
    );
    assert!(err.contains("hint: set `input.name: input`"), "{err}");
    assert!(!p.packaged());
}

#[test]
fn an_input_size_the_model_does_not_have_fails_build_at_its_line() {
    let p = Proj::new(|t| with_line(t, "  width:", Some("  width: 256")));
    let err = refused(&p.build());
    let line = line_of(&original(), "  width:");
    assert!(
        err.contains(&format!("model/model.yaml:{line}:3: `input.width`")),
        "{err}"
    );
    assert!(err.contains("hint: set `input.width: 224`"), "{err}");
    assert!(!p.packaged());
}

#[test]
fn a_missing_key_fails_build_at_the_mapping_that_lacks_it() {
    let p = Proj::new(|t| with_line(t, "  resize:", None));
    let err = refused(&p.build());
    let line = line_of(&original(), "input:");
    assert!(
        err.contains(&format!(
            "model/model.yaml:{line}:1: `input.resize`: missing field `resize`"
        )),
        "{err}"
    );
    assert!(err.contains("hint: add `resize:` under `input:`"), "{err}");
    assert!(!p.packaged());
}

#[test]
fn a_missing_sha256_is_computed_and_said_and_doctor_checks_the_model() {
    let p = Proj::new(|t| with_line(t, "sha256:", None));
    let out = p.build();
    assert!(out.status.success(), "{}", support::text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("no sha256 in it, computed {}", onnx_sha256())),
        "{err}"
    );

    std::fs::write(
        p.manifest(),
        with_line(&original(), "  height:", Some("  height: 200")),
    )
    .unwrap();
    // `doctor --local` fails here anyway (no emulator); its model line is what counts.
    let out = p.fcctl(&["doctor", "--local", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let model = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "model")
        .unwrap_or_else(|| panic!("doctor has a model check: {v}"));
    assert_eq!(model["status"], "fail", "{model}");
    assert!(
        model["detail"].as_str().unwrap().contains("`input.height`"),
        "{model}"
    );
    assert_eq!(model["fix"], "set `input.height: 224`", "{model}");
}

#[test]
fn a_group_past_the_models_outputs_fails_build_at_its_line() {
    let p = Proj::new(|t| with_line(t, "  cat:", Some("  cat: [[281, 1000]]")));
    let err = refused(&p.build());
    let line = line_of(&original(), "  cat:");
    assert!(
        err.contains(&format!("model/model.yaml:{line}:3: `output.cat`")),
        "{err}"
    );
    assert!(
        err.contains("group `cat` names class 1000, but output `logits` of")
            && err.contains("has 1000 classes (indices 0 to 999)"),
        "{err}"
    );
    assert!(!p.packaged());
}

#[test]
fn a_labels_file_of_the_wrong_length_fails_build_at_its_line() {
    let p = Proj::new(str::to_string);
    let labels = p.dir().join("model/imagenet_classes.txt");
    let text = std::fs::read_to_string(&labels).unwrap();
    let short: String = text.lines().take(999).map(|l| format!("{l}\n")).collect();
    std::fs::write(&labels, short).unwrap();
    let err = refused(&p.build());
    let line = line_of(&original(), "  classes_file:");
    assert!(
        err.contains(&format!("model/model.yaml:{line}:3: `output.classes_file`")),
        "{err}"
    );
    assert!(
        err.contains("imagenet_classes.txt has 999 labels (one a line), but output `logits`")
            && err.contains("has 1000 classes"),
        "{err}"
    );
    assert!(err.contains("hint: list exactly 1000 labels"), "{err}");
    assert!(!p.packaged());
}

#[test]
fn two_groups_claiming_one_class_fail_build_at_the_second() {
    let groups = "  groups:\n    dog:\n      classes: [[151, 268]]\n    cat:\n      classes: \
                  [[281, 285], 151]\n      weight: 10.0\n";
    let p = Proj::new(|t| {
        let t = with_line(t, "  dog:", Some(groups.trim_end()));
        let t = with_line(&t, "  cat:", None);
        with_line(&t, "  cat_weight:", None)
    });
    let text = std::fs::read_to_string(p.manifest()).unwrap();
    let err = refused(&p.build());
    let line = text
        .lines()
        .position(|l| l.starts_with("      classes: [[281"))
        .unwrap()
        + 1;
    assert!(
        err.contains(&format!(
            "model/model.yaml:{line}:7: `output.groups.cat.classes`: class 151 is in group \
             `dog` and in group `cat`"
        )),
        "{err}"
    );
    assert!(!p.packaged());

    // Without the shared class, the groups form of the same model builds.
    std::fs::write(
        p.manifest(),
        text.replace("[[281, 285], 151]", "[[281, 285]]"),
    )
    .unwrap();
    let out = p.build();
    assert!(out.status.success(), "{}", support::text(&out));
}
