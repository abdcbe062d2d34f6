//! `model.yaml` for an ONNX image classifier fcctl has never seen (`fcctl init --model`): what
//! the file itself says (input name, layout, size, class count, sha256, a final Softmax) is
//! read from it; what it cannot say (how its images were normalised) is a stated, commented
//! default the user checks.

use std::path::Path;

use sha2::Digest as _;

use super::onnx::{self, Dim, FLOAT};

/// Why a model cannot be described.
#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    #[error("{file} is not an ONNX model: {why}")]
    NotOnnx { file: String, why: String },
    #[error("{file}: {why}")]
    Unsupported { file: String, why: String },
    #[error("{labels} has {got} labels, but {file} outputs {want} classes")]
    LabelCount {
        labels: String,
        file: String,
        got: usize,
        want: u64,
    },
}

impl crate::exit::Hint for ScaffoldError {
    fn hint(&self) -> Option<std::borrow::Cow<'_, str>> {
        Some(match self {
            ScaffoldError::NotOnnx { .. } => "pass the .onnx file the model was exported to".into(),
            ScaffoldError::Unsupported { .. } => {
                "the function serves image classifiers: one float image input [N, 3, H, W] or \
                 [N, H, W, 3] and one output of class scores; re-export the model in that shape"
                    .into()
            }
            ScaffoldError::LabelCount { .. } => {
                "give one label per line, in output order (blank lines are skipped)".into()
            }
        })
    }
}

/// What `init --model` learnt about the model.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Described {
    pub name: String,
    pub input: String,
    /// `float [N, 3, 224, 224]`.
    pub input_tensor: String,
    pub layout: &'static str,
    pub width: i64,
    pub height: i64,
    /// Whether the size was a default because the model takes any size.
    pub size_defaulted: bool,
    pub classes: u64,
    /// `softmax` (logits) or `probabilities` (the graph ends in a Softmax).
    pub activation: &'static str,
    pub sha256: String,
}

/// Side used when the model accepts any image size: what most ImageNet classifiers expect.
const DEFAULT_SIDE: i64 = 224;

/// Reads `bytes` (the file `file`) and, with `labels` (one per class) when given, describes it.
pub fn describe(
    file: &str,
    bytes: &[u8],
    labels: Option<(&str, &[String])>,
) -> Result<Described, ScaffoldError> {
    let not_onnx = |e: prost::DecodeError| ScaffoldError::NotOnnx {
        file: file.into(),
        why: e.to_string(),
    };
    let unsupported = |why: String| ScaffoldError::Unsupported {
        file: file.into(),
        why,
    };
    let inputs = onnx::inputs(bytes).map_err(not_onnx)?;
    let outputs = onnx::outputs(bytes).map_err(not_onnx)?;
    let (input, output) = match (inputs.as_slice(), outputs.first()) {
        ([i], Some(o)) => (i, o),
        ([], _) | (_, None) => {
            return Err(ScaffoldError::NotOnnx {
                file: file.into(),
                why: "it has no graph inputs or outputs".into(),
            });
        }
        (many, _) => {
            return Err(unsupported(format!(
                "it takes {} inputs ({}); the function feeds one image",
                many.len(),
                many.iter()
                    .map(|i| i.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    };
    if input.elem_type != Some(FLOAT) {
        return Err(unsupported(format!(
            "its input `{}` is {}; the function feeds float pixels",
            input.name,
            input.describe()
        )));
    }
    let dims = input.shape.clone().unwrap_or_default();
    let fixed = |d: &Dim| match d {
        Dim::Fixed(n) if *n > 0 => Some(*n),
        _ => None,
    };
    let (layout, h, w) = match dims.as_slice() {
        [_, c, h, w] if fixed(c) == Some(3) => ("NCHW", fixed(h), fixed(w)),
        [_, h, w, c] if fixed(c) == Some(3) => ("NHWC", fixed(h), fixed(w)),
        _ => {
            return Err(unsupported(format!(
                "its input `{}` is {}, not an RGB image batch",
                input.name,
                input.describe()
            )));
        }
    };
    let classes = output.class_count().ok_or_else(|| {
        unsupported(format!(
            "its output `{}` has no fixed class count ({})",
            output.name,
            output.describe()
        ))
    })?;
    if let Some((labels_file, l)) = labels
        && l.len() as u64 != classes
    {
        return Err(ScaffoldError::LabelCount {
            labels: labels_file.into(),
            file: file.into(),
            got: l.len(),
            want: classes,
        });
    }
    let activation = match onnx::producer(bytes, &output.name).map_err(not_onnx)? {
        Some(op) if op == "Softmax" => "probabilities",
        _ => "softmax",
    };
    let name = Path::new(file)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("model")
        .to_string();
    Ok(Described {
        name,
        input: input.name.clone(),
        input_tensor: input.describe(),
        layout,
        width: w.unwrap_or(DEFAULT_SIDE),
        height: h.unwrap_or(DEFAULT_SIDE),
        size_defaulted: h.is_none() || w.is_none(),
        classes,
        activation,
        sha256: hex::encode(sha2::Sha256::digest(bytes)),
    })
}

/// Labels from a labels file's text: one a line, trimmed, blank lines skipped.
pub fn parse_labels(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

/// The model.yaml text for `d`, its ONNX file `onnx` and labels file `labels` (both relative
/// to the manifest).
pub fn manifest(d: &Described, onnx: &str, labels: &str) -> String {
    let size_note = if d.size_defaulted {
        format!(
            "  # The model takes any size; {DEFAULT_SIDE}×{DEFAULT_SIDE} is the usual ImageNet size. Use \
             the size it was trained at.\n"
        )
    } else {
        String::new()
    };
    let activation_note = if d.activation == "probabilities" {
        "the graph ends in a Softmax, so its outputs are used as they are"
    } else {
        "the graph does not end in a Softmax, so its outputs are read as logits"
    };
    format!(
        "# Written by `fcctl init --model` from {onnx}. What the ONNX file states (input name,\n\
         # layout, size, class count, sha256) was read from it; the rest are defaults to check\n\
         # against how the model was trained, then `fcctl model check`.\n\
         name: {name}\n\
         onnx: {onnx}\n\
         sha256: {sha}\n\
         input:\n\
         \x20 name: {input}                 # {tensor}\n\
         \x20 layout: {layout}\n\
         {size_note}\
         \x20 width: {w}\n\
         \x20 height: {h}\n\
         \x20 # Default: the centre square (0.875 of the shorter side, as torchvision's and\n\
         \x20 # TF's ImageNet evaluation do), area-aware bilinear. `crop: squash` resizes the\n\
         \x20 # whole image instead, ignoring its aspect ratio.\n\
         \x20 resize: bilinear\n\
         \x20 crop: center\n\
         \x20 crop_fraction: 0.875\n\
         \x20 # Default: ImageNet's per-channel (R, G, B) mean and std on 0–255 pixels\n\
         \x20 # (torchvision). A model trained on x/255 wants mean [0, 0, 0], std [255, 255, 255];\n\
         \x20 # one trained on (x - 127.5)/127.5 wants 127.5 for both.\n\
         \x20 mean: [123.675, 116.28, 103.53]\n\
         \x20 std: [58.395, 57.12, 57.375]\n\
         output:\n\
         \x20 activation: {activation}        # {activation_note}\n\
         \x20 labels_file: {labels}         # {classes} classes, one label a line, in output order\n\
         \x20 # Answer `other` when the top class's probability is below this (0: never).\n\
         \x20 other_threshold: 0.0\n\
         runtime:\n\
         \x20 graph_optimization: all\n\
         \x20 threads: 0                  # 0: one per CPU of the instance (at most 4)\n\
         page:\n\
         \x20 title: {name}\n",
        name = yaml_str(&d.name),
        sha = d.sha256,
        input = yaml_str(&d.input),
        tensor = d.input_tensor,
        layout = d.layout,
        w = d.width,
        h = d.height,
        activation = d.activation,
        classes = d.classes,
        onnx = yaml_str(onnx),
        labels = yaml_str(labels),
    )
}

/// A YAML scalar for `s`: plain when that reads back as the same string, else quoted.
fn yaml_str(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
        && s.chars().next().is_some_and(|c| c.is_ascii_alphabetic());
    if plain {
        s.to_string()
    } else {
        serde_json::to_string(s).expect("a string serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::onnx::tests::model_with_output;

    #[test]
    fn an_nchw_model_with_a_fixed_size_and_a_softmax_is_read_from_the_file() {
        let bytes = model_with_output(
            &[("pixels", &[None, Some(3), Some(32), Some(48)])],
            &[None, Some(3)],
        );
        let labels = parse_labels("red\n\n green \nblue\n");
        let d = describe("m/colour.onnx", &bytes, Some(("labels.txt", &labels))).unwrap();
        assert_eq!(
            (
                d.name.as_str(),
                d.input.as_str(),
                d.layout,
                d.width,
                d.height
            ),
            ("colour", "pixels", "NCHW", 48, 32)
        );
        assert_eq!(
            (d.classes, d.activation, d.size_defaulted),
            (3, "probabilities", false)
        );
        let text = manifest(&d, "colour.onnx", "labels.txt");
        // What fcctl writes, the function's own manifest type reads.
        let m: fcctl_function::manifest::Manifest = serde_saphyr::from_str(&text).unwrap();
        assert_eq!(m.sha256.as_deref(), Some(d.sha256.as_str()));
        assert_eq!((m.input.width, m.input.height), (48, 32));
        assert_eq!(m.output.classes_file.as_deref(), Some("labels.txt"));
        assert_eq!(m.page.title.as_deref(), Some("colour"));
    }

    #[test]
    fn a_free_size_nhwc_input_gets_the_stated_default() {
        let bytes = model_with_output(&[("x", &[None, None, None, Some(3)])], &[None, Some(10)]);
        let d = describe("net.onnx", &bytes, None).unwrap();
        assert_eq!(
            (d.layout, d.width, d.height, d.size_defaulted),
            ("NHWC", 224, 224, true)
        );
        assert!(manifest(&d, "net.onnx", "labels.txt").contains("takes any size"));
    }

    #[test]
    fn wrong_label_counts_and_non_image_inputs_are_refused_naming_both_sides() {
        let bytes = model_with_output(
            &[("pixels", &[None, Some(3), Some(8), Some(8)])],
            &[None, Some(3)],
        );
        let two = parse_labels("a\nb\n");
        let e = describe("c.onnx", &bytes, Some(("labels.txt", &two))).unwrap_err();
        assert_eq!(
            e.to_string(),
            "labels.txt has 2 labels, but c.onnx outputs 3 classes"
        );
        let bytes = model_with_output(&[("tokens", &[None, Some(128)])], &[None, Some(2)]);
        let e = describe("bert.onnx", &bytes, None).unwrap_err();
        assert!(e.to_string().contains("not an RGB image batch"), "{e}");
        let e = describe("x.onnx", b"\xff\xff not protobuf", None).unwrap_err();
        assert!(
            e.to_string().starts_with("x.onnx is not an ONNX model"),
            "{e}"
        );
    }
}
