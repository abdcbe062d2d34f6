//! `model.yaml`: everything the server needs to know about a model, so one binary serves the
//! default EfficientNet-Lite0 and, in tests, the seed's 64×64 Keras CNN.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// File name of the manifest inside `MODEL_DIR`.
pub const MANIFEST_FILE: &str = "model.yaml";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Short model name reported in every answer (`model` field).
    pub name: String,
    /// ONNX file, relative to the manifest's directory.
    pub onnx: String,
    /// Expected sha256 of the ONNX file (hex). Checked while the session is being built.
    pub sha256: Option<String>,
    pub input: InputSpec,
    pub output: OutputSpec,
    #[serde(default)]
    pub runtime: RuntimeSpec,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputSpec {
    /// Input tensor name; the session's first input when absent.
    pub name: Option<String>,
    pub width: u32,
    pub height: u32,
    pub layout: Layout,
    pub resize: ResizeFilter,
    pub crop: CropPolicy,
    /// Only for `crop: center`: the centre square of side `crop_fraction · min(w, h)` is
    /// resized to the input size (0.875 = "shorter side to 256, centre-crop 224").
    #[serde(default = "one")]
    pub crop_fraction: f64,
    /// Per-channel (R, G, B) `(x - mean) / std` on 0–255 values.
    pub mean: [f32; 3],
    pub std: [f32; 3],
}

fn one() -> f64 {
    1.0
}

fn one_f32() -> f32 {
    1.0
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Layout {
    #[serde(rename = "NCHW")]
    Nchw,
    #[serde(rename = "NHWC")]
    Nhwc,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResizeFilter {
    /// Area-aware bilinear (Pillow `BILINEAR` semantics when downscaling).
    Bilinear,
    /// Pixel-centre nearest neighbour: `src = floor((dst + 0.5) · scale)` (Pillow `NEAREST`).
    Nearest,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CropPolicy {
    /// Centre square (see `crop_fraction`), then resize: keeps the aspect ratio.
    Center,
    /// Resize the whole image to the input size, ignoring the aspect ratio.
    Squash,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputSpec {
    /// `softmax`: outputs are logits of mutually exclusive classes; `sigmoid`: outputs are
    /// logits of independent classes; `probabilities`: outputs are used as they are.
    pub activation: Activation,
    /// Class names, one per output index: a file next to the manifest, or inline.
    pub classes_file: Option<String>,
    #[serde(default)]
    pub classes: Vec<String>,
    /// Output index ranges (inclusive) summed into the dog and cat scores.
    pub dog: Vec<[usize; 2]>,
    pub cat: Vec<[usize; 2]>,
    /// Answer `other` when dog + cat mass is below this (0 disables `other`).
    #[serde(default)]
    pub other_threshold: f32,
    /// Report `dog/(dog + w·cat)` and `w·cat/(dog + w·cat)` (softmax ImageNet models).
    #[serde(default)]
    pub renormalise: bool,
    /// Prior correction `w` for the cat group: ImageNet has 118 dog classes but only 5
    /// domestic-cat classes, so cat mass is systematically low; the label is `cat` when
    /// `w·cat > dog`. 1 = plain comparison.
    #[serde(default = "one_f32")]
    pub cat_weight: f32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    Softmax,
    Sigmoid,
    Probabilities,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuntimeSpec {
    /// ONNX Runtime graph optimisation at load: `disable` when the file is already optimised
    /// offline (faster cold start), else `basic` / `extended` / `all`.
    #[serde(default = "default_opt")]
    pub graph_optimization: String,
    /// Intra-op threads; 0 = number of available CPUs (capped at 4).
    #[serde(default)]
    pub threads: usize,
}

fn default_opt() -> String {
    "all".into()
}

impl Default for RuntimeSpec {
    fn default() -> Self {
        Self {
            graph_optimization: default_opt(),
            threads: 0,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("cannot read {path}: {source} (MODEL_DIR must contain model.yaml and the ONNX file)")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid {path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

impl Manifest {
    pub fn load(model_dir: &Path) -> Result<Self, ManifestError> {
        let path = model_dir.join(MANIFEST_FILE);
        let text = std::fs::read_to_string(&path).map_err(|source| ManifestError::Read {
            path: path.clone(),
            source,
        })?;
        let m: Manifest = serde_saphyr::from_str(&text).map_err(|e| ManifestError::Invalid {
            path: path.clone(),
            message: e.to_string(),
        })?;
        m.validate()
            .map_err(|message| ManifestError::Invalid { path, message })?;
        Ok(m)
    }

    fn validate(&self) -> Result<(), String> {
        self.check().map_err(|(_, message)| message)
    }

    /// The rules serde's types cannot say, each failure with the dotted key it is about (so
    /// `fcctl build` can point at its line in model.yaml).
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        let i = &self.input;
        if !(1..=4096).contains(&i.width) {
            return Err((
                "input.width",
                "input width/height must be in 1..=4096".into(),
            ));
        }
        if !(1..=4096).contains(&i.height) {
            return Err((
                "input.height",
                "input width/height must be in 1..=4096".into(),
            ));
        }
        if !(i.crop_fraction > 0.0 && i.crop_fraction <= 1.0) {
            return Err((
                "input.crop_fraction",
                "input.crop_fraction must be in (0, 1]".into(),
            ));
        }
        if i.std.contains(&0.0) {
            return Err(("input.std", "input.std must not contain 0".into()));
        }
        let need = "output.dog and output.cat need at least one [first, last] range";
        if self.output.dog.is_empty() {
            return Err(("output.dog", need.into()));
        }
        if self.output.cat.is_empty() {
            return Err(("output.cat", need.into()));
        }
        for (key, ranges) in [
            ("output.dog", &self.output.dog),
            ("output.cat", &self.output.cat),
        ] {
            for [a, b] in ranges {
                if a > b {
                    return Err((key, format!("label range [{a}, {b}] is reversed")));
                }
            }
        }
        if !(self.output.cat_weight > 0.0 && self.output.cat_weight.is_finite()) {
            return Err(("output.cat_weight", "output.cat_weight must be > 0".into()));
        }
        if !(0.0..=1.0).contains(&self.output.other_threshold) {
            return Err((
                "output.other_threshold",
                "output.other_threshold must be in [0, 1]".into(),
            ));
        }
        Ok(())
    }
}
