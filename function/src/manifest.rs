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
    #[serde(default)]
    pub page: PageSpec,
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
    /// Class names, one per output index: a file next to the manifest (one label a line), or
    /// inline. `labels_file` / `labels` are the same keys under their older names.
    #[serde(alias = "labels_file")]
    pub classes_file: Option<String>,
    #[serde(default, alias = "labels")]
    pub classes: Vec<String>,
    /// Named groups of class indices, each answered as one label (see [`Group`]); absent
    /// (and no `dog`/`cat`): every class is its own label.
    #[serde(default)]
    pub groups: Option<Groups>,
    /// The cat/dog form from before `groups`: `dog`/`cat` ranges and `cat_weight` are the
    /// groups `dog` (weight 1) and `cat` (weight `cat_weight`), in that order.
    pub dog: Option<Vec<ClassRef>>,
    pub cat: Option<Vec<ClassRef>>,
    pub cat_weight: Option<f32>,
    /// Answer `other_label` when the groups' total mass (plain labels: the top class's
    /// probability) is below this (0 disables it).
    #[serde(default)]
    pub other_threshold: f32,
    #[serde(default = "default_other")]
    pub other_label: String,
    /// Report each group's weighted mass divided by the sum of the weighted masses, so the
    /// groups' scores add up to 1 (softmax ImageNet models).
    #[serde(default)]
    pub renormalise: bool,
}

fn default_other() -> String {
    "other".into()
}

/// Output indices: one class `7`, or an inclusive range `[151, 268]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum ClassRef {
    One(usize),
    Range([usize; 2]),
}

impl ClassRef {
    pub fn bounds(self) -> (usize, usize) {
        match self {
            ClassRef::One(i) => (i, i),
            ClassRef::Range([a, b]) => (a, b),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupSpec {
    pub classes: Vec<ClassRef>,
    /// Prior correction: the label is the group with the largest `weight · mass` (ImageNet has
    /// 118 dog classes but only 5 domestic-cat classes, so cat mass is systematically low).
    #[serde(default = "one_f32")]
    pub weight: f32,
}

/// `groups:` in file order (the first group wins a tie).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Groups(pub Vec<(String, GroupSpec)>);

impl<'de> Deserialize<'de> for Groups {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Groups;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a mapping of group name to {classes: [..], weight}")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut m: A) -> Result<Groups, A::Error> {
                let mut out: Vec<(String, GroupSpec)> = Vec::new();
                while let Some((k, v)) = m.next_entry::<String, GroupSpec>()? {
                    if out.iter().any(|(n, _)| *n == k) {
                        return Err(serde::de::Error::custom(format!(
                            "group `{k}` is listed twice"
                        )));
                    }
                    out.push((k, v));
                }
                Ok(Groups(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// Answer fields a group's score would collide with (group scores are also top-level fields).
pub const RESERVED: &[&str] = &[
    "label", "other", "top5", "model", "ms", "scores", "mass", "timings", "version", "error",
    "message",
];

/// The upload page's words; every field has a default (the page module fills them in).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageSpec {
    pub title: Option<String>,
    /// Sentence for a label without its own entry in `verdicts`; `{label}` is replaced.
    pub verdict: Option<String>,
    /// Sentence per label (the other label included).
    #[serde(default)]
    pub verdicts: std::collections::BTreeMap<String, String>,
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

    /// The class names: `labels_file` (one a line, blank lines skipped) or inline `labels`.
    pub fn read_classes(&self, model_dir: &Path) -> Result<Vec<String>, (PathBuf, std::io::Error)> {
        match &self.output.classes_file {
            Some(f) => {
                let p = model_dir.join(f);
                Ok(std::fs::read_to_string(&p)
                    .map_err(|e| (p, e))?
                    .lines()
                    .map(|l| l.trim().to_string())
                    .filter(|l| !l.is_empty())
                    .collect())
            }
            None => Ok(self.output.classes.clone()),
        }
    }

    /// The output's groups in order: `groups:`, or the cat/dog form's `dog` and `cat`; `None`
    /// for a plain-label model.
    pub fn groups(&self) -> Option<Vec<(String, GroupSpec)>> {
        let o = &self.output;
        if let Some(g) = &o.groups {
            return Some(g.0.clone());
        }
        if o.dog.is_none() && o.cat.is_none() {
            return None;
        }
        let group = |c: &Option<Vec<ClassRef>>, weight| GroupSpec {
            classes: c.clone().unwrap_or_default(),
            weight,
        };
        Some(vec![
            ("dog".into(), group(&o.dog, 1.0)),
            ("cat".into(), group(&o.cat, o.cat_weight.unwrap_or(1.0))),
        ])
    }

    /// Whether the output is written in the cat/dog form (`dog:`/`cat:`), whose page words
    /// default to the cat/dog page.
    pub fn is_cat_dog_form(&self) -> bool {
        self.output.groups.is_none() && (self.output.dog.is_some() || self.output.cat.is_some())
    }

    /// Dotted key of a group's field, for errors at its line.
    pub fn group_key(&self, name: &str, field: &str) -> String {
        if self.output.groups.is_some() {
            format!("output.groups.{name}.{field}")
        } else if field == "weight" {
            "output.cat_weight".into()
        } else {
            format!("output.{name}")
        }
    }

    /// The rules serde's types cannot say, each failure with the dotted key it is about (so
    /// `fcctl build` can point at its line in model.yaml).
    pub fn check(&self) -> Result<(), (String, String)> {
        let err = |k: &str, m: String| Err((k.to_string(), m));
        let i = &self.input;
        if !(1..=4096).contains(&i.width) {
            return err(
                "input.width",
                "input width/height must be in 1..=4096".into(),
            );
        }
        if !(1..=4096).contains(&i.height) {
            return err(
                "input.height",
                "input width/height must be in 1..=4096".into(),
            );
        }
        if !(i.crop_fraction > 0.0 && i.crop_fraction <= 1.0) {
            return err(
                "input.crop_fraction",
                "input.crop_fraction must be in (0, 1]".into(),
            );
        }
        if i.std.contains(&0.0) {
            return err("input.std", "input.std must not contain 0".into());
        }
        let o = &self.output;
        if o.classes_file.is_some() && !o.classes.is_empty() {
            return err(
                "output.classes",
                "give the labels either inline (`labels:`) or as a file (`labels_file:`), not both"
                    .into(),
            );
        }
        let legacy = o.dog.is_some() || o.cat.is_some() || o.cat_weight.is_some();
        if o.groups.is_some() && legacy {
            return err(
                "output.groups",
                "output has both `groups:` and the cat/dog form (`dog:`, `cat:`, `cat_weight:`): \
                 move dog and cat under `groups:` (cat_weight becomes the cat group's `weight`)"
                    .into(),
            );
        }
        if legacy {
            let need = "output.dog and output.cat need at least one [first, last] range";
            if o.dog.as_ref().is_none_or(Vec::is_empty) {
                return err("output.dog", need.into());
            }
            if o.cat.as_ref().is_none_or(Vec::is_empty) {
                return err("output.cat", need.into());
            }
        }
        if o.other_label.trim().is_empty() {
            return err(
                "output.other_label",
                "output.other_label must not be empty".into(),
            );
        }
        let groups = self.groups().unwrap_or_default();
        if o.groups.as_ref().is_some_and(|g| g.0.is_empty()) {
            return err(
                "output.groups",
                "output.groups is empty: list at least one group, or remove `groups:` to \
                 answer every class by its label"
                    .into(),
            );
        }
        // Which group claimed each class first.
        let mut claimed: Vec<(usize, usize, &str)> = Vec::new();
        for (name, g) in &groups {
            let key = |f: &str| self.group_key(name, f);
            if name.trim().is_empty() {
                return Err(("output.groups".into(), "a group needs a name".into()));
            }
            if RESERVED.contains(&name.as_str()) || *name == o.other_label {
                let at = match o.groups {
                    Some(_) => format!("output.groups.{name}"),
                    None => "output.other_label".into(),
                };
                return Err((
                    at,
                    format!(
                        "group name `{name}` is taken by the answer's own `{name}` field (or \
                         `other_label`); rename the group"
                    ),
                ));
            }
            if g.classes.is_empty() {
                return Err((key("classes"), format!("group `{name}` lists no classes")));
            }
            for c in &g.classes {
                let (a, b) = c.bounds();
                if a > b {
                    return Err((
                        key("classes"),
                        format!("label range [{a}, {b}] is reversed"),
                    ));
                }
                if let Some((_, _, other)) = claimed.iter().find(|(x, y, _)| a <= *y && *x <= b) {
                    let shared = claimed
                        .iter()
                        .filter(|(_, _, n)| n == other)
                        .filter_map(|(x, y, _)| {
                            let lo = a.max(*x);
                            (lo <= b.min(*y)).then_some(lo)
                        })
                        .min()
                        .unwrap_or(a);
                    let message = if other == name {
                        format!("class {shared} is listed twice in group `{name}`")
                    } else {
                        format!(
                            "class {shared} is in group `{other}` and in group `{name}`: a class \
                             may count for one group only"
                        )
                    };
                    return Err((key("classes"), message));
                }
                claimed.push((a, b, name));
            }
            if !(g.weight > 0.0 && g.weight.is_finite()) {
                return Err((key("weight"), format!("group `{name}`: weight must be > 0")));
            }
        }
        if !(0.0..=1.0).contains(&o.other_threshold) {
            return err(
                "output.other_threshold",
                "output.other_threshold must be in [0, 1]".into(),
            );
        }
        Ok(())
    }

    /// The largest class index the groups name.
    pub fn max_class_index(&self) -> Option<usize> {
        self.groups()?
            .iter()
            .flat_map(|(_, g)| g.classes.iter().map(|c| c.bounds().1))
            .max()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(output: &str) -> Result<Manifest, String> {
        let text = format!(
            "name: m\nonnx: m.onnx\ninput: {{width: 8, height: 8, layout: NCHW, resize: bilinear, \
             crop: squash, mean: [0, 0, 0], std: [1, 1, 1]}}\noutput:\n  activation: softmax\n{output}"
        );
        let m: Manifest = serde_saphyr::from_str(&text).map_err(|e| e.to_string())?;
        m.check().map_err(|(k, msg)| format!("{k}: {msg}"))?;
        Ok(m)
    }

    #[test]
    fn the_cat_dog_form_reads_as_two_groups() {
        let m = parse("  dog: [[151, 268]]\n  cat: [[281, 285]]\n  cat_weight: 10\n").unwrap();
        assert!(m.is_cat_dog_form());
        let g = m.groups().unwrap();
        assert_eq!(g[0].0, "dog");
        assert_eq!(g[0].1.classes, [ClassRef::Range([151, 268])]);
        assert_eq!(g[0].1.weight, 1.0);
        assert_eq!((g[1].0.as_str(), g[1].1.weight), ("cat", 10.0));
        assert_eq!(m.max_class_index(), Some(285));
        // Groups keep the file's order, single indices and ranges alike.
        let m = parse("  groups:\n    z: {classes: [9, [3, 4]]}\n    a: {classes: [0]}\n").unwrap();
        assert!(!m.is_cat_dog_form());
        let names: Vec<_> = m.groups().unwrap().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["z", "a"]);
        assert_eq!(m.max_class_index(), Some(9));
        // Neither: a plain-label model.
        assert!(parse("  labels_file: l.txt\n").unwrap().groups().is_none());
    }

    #[test]
    fn bad_groups_are_refused_at_their_key() {
        let err = |o: &str| parse(o).unwrap_err();
        assert_eq!(
            err("  groups:\n    a: {classes: [[0, 5]]}\n    b: {classes: [7, [4, 6]]}\n"),
            "output.groups.b.classes: class 4 is in group `a` and in group `b`: a class may \
             count for one group only"
        );
        assert!(
            err("  groups:\n    a: {classes: [[0, 5], 3]}\n").contains("class 3 is listed twice")
        );
        assert!(err("  dog: [[0, 5]]\n  cat: [[5, 6]]\n").starts_with("output.cat: class 5"));
        assert!(err("  groups:\n    a: {classes: [[5, 1]]}\n").contains("[5, 1] is reversed"));
        assert!(err("  groups:\n    a: {classes: []}\n").starts_with("output.groups.a.classes"));
        assert!(
            err("  groups:\n    a: {classes: [1], weight: 0}\n")
                .starts_with("output.groups.a.weight")
        );
        assert!(err("  groups:\n    label: {classes: [1]}\n").starts_with("output.groups.label:"));
        assert!(err("  groups:\n    other: {classes: [1]}\n").contains("other_label"));
        assert!(err("  groups: {}\n").starts_with("output.groups: output.groups is empty"));
        assert!(
            err("  groups:\n    a: {classes: [1]}\n  dog: [[2, 3]]\n")
                .starts_with("output.groups: output has both")
        );
        assert!(err("  dog: [[2, 3]]\n").starts_with("output.cat:"));
        assert!(err("  cat_weight: 3\n").starts_with("output.dog:"));
        assert!(err("  labels: [a]\n  labels_file: l.txt\n").starts_with("output.classes:"));
        assert!(
            err("  groups:\n    a: {classes: [1]}\n    a: {classes: [2]}\n")
                .contains("duplicate mapping key: a"),
        );
    }
}
