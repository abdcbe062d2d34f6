//! From class probabilities to the answer's label and scores, as model.yaml's `output` says:
//! named groups of classes (the cat/dog model is two groups) or one label per class.

use crate::manifest::{Activation, GroupSpec, Manifest};

/// Plain-label models report every class in `scores` up to this many classes, else the top
/// [`TOP_SCORES`] (a 1000-class answer would be ~30 KB of JSON).
pub const ALL_SCORES_UP_TO: usize = 32;
pub const TOP_SCORES: usize = 5;

/// Label → score in a fixed order (serialised as a JSON object).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scores(pub Vec<(String, f32)>);

impl Scores {
    pub fn get(&self, label: &str) -> Option<f32> {
        self.0.iter().find(|(l, _)| l == label).map(|(_, p)| *p)
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl serde::Serialize for Scores {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

/// What one set of probabilities decides.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub label: String,
    /// Groups: each group's score (renormalised when asked); plain: class probabilities.
    pub scores: Scores,
    /// Groups: each group's raw mass; plain: empty.
    pub mass: Scores,
    /// Softmax models: probability mass outside every group (plain: 0).
    pub other: f32,
}

#[derive(Debug, Clone)]
pub struct Labeller {
    groups: Option<Vec<(String, GroupSpec)>>,
    classes: Vec<String>,
    other_label: String,
    other_threshold: f32,
    renormalise: bool,
    softmax: bool,
}

impl Labeller {
    /// `classes`: the class names read from `labels`/`labels_file` (may be empty).
    pub fn new(m: &Manifest, classes: Vec<String>) -> Self {
        Self {
            groups: m.groups(),
            classes,
            other_label: m.output.other_label.clone(),
            other_threshold: m.output.other_threshold,
            renormalise: m.output.renormalise,
            softmax: m.output.activation == Activation::Softmax,
        }
    }

    pub fn class_name(&self, i: usize) -> String {
        self.classes
            .get(i)
            .cloned()
            .unwrap_or_else(|| format!("class {i}"))
    }

    /// The labels an answer can carry besides `other_label`: the groups, else the classes.
    pub fn label_names(&self) -> Vec<String> {
        match &self.groups {
            Some(g) => g.iter().map(|(n, _)| n.clone()).collect(),
            None => self.classes.clone(),
        }
    }

    pub fn is_grouped(&self) -> bool {
        self.groups.is_some()
    }

    pub fn decide(&self, p: &[f32]) -> Decision {
        match &self.groups {
            Some(groups) => self.decide_groups(groups, p),
            None => self.decide_plain(p),
        }
    }

    /// Label: `other_label` when the groups' total mass is under `other_threshold`, else the
    /// group with the largest `weight · mass` (the first on a tie).
    fn decide_groups(&self, groups: &[(String, GroupSpec)], p: &[f32]) -> Decision {
        let masses: Vec<f32> = groups
            .iter()
            .map(|(_, g)| {
                g.classes
                    .iter()
                    .map(|c| {
                        let (a, b) = c.bounds();
                        p.get(a..=b).map(|s| s.iter().sum::<f32>()).unwrap_or(0.0)
                    })
                    .sum()
            })
            .collect();
        let weighted: Vec<f32> = groups
            .iter()
            .zip(&masses)
            .map(|((_, g), m)| g.weight * m)
            .collect();
        let total: f32 = masses.iter().sum();
        let mut best = 0;
        for (i, w) in weighted.iter().enumerate() {
            if *w > weighted[best] {
                best = i;
            }
        }
        let label = if total < self.other_threshold {
            self.other_label.clone()
        } else {
            groups[best].0.clone()
        };
        let wsum: f32 = weighted.iter().sum();
        let shown: Vec<f32> = if self.renormalise && wsum > 0.0 {
            weighted.iter().map(|w| w / wsum).collect()
        } else {
            masses.clone()
        };
        let named = |v: &[f32]| {
            Scores(
                groups
                    .iter()
                    .zip(v)
                    .map(|((n, _), s)| (n.clone(), *s))
                    .collect(),
            )
        };
        Decision {
            label,
            scores: named(&shown),
            mass: named(&masses),
            other: if self.softmax {
                (1.0 - total).max(0.0)
            } else {
                0.0
            },
        }
    }

    /// Label: the most probable class, or `other_label` when its probability is under
    /// `other_threshold`. Scores: every class for small models, else the top ones; a name
    /// listed twice (ImageNet has two `crane`s) keeps its more probable class.
    fn decide_plain(&self, p: &[f32]) -> Decision {
        let ranked = top_k(
            p,
            p.len().min(if p.len() <= ALL_SCORES_UP_TO {
                ALL_SCORES_UP_TO
            } else {
                TOP_SCORES
            }),
        );
        let mut scores: Vec<(String, f32)> = Vec::with_capacity(ranked.len());
        for i in &ranked {
            let name = self.class_name(*i);
            if !scores.iter().any(|(n, _)| *n == name) {
                scores.push((name, p[*i]));
            }
        }
        let label = match ranked.first() {
            Some(i) if p[*i] >= self.other_threshold => self.class_name(*i),
            _ => self.other_label.clone(),
        };
        Decision {
            label,
            scores: Scores(scores),
            mass: Scores::default(),
            other: 0.0,
        }
    }
}

/// Indices of the `k` largest values, largest first.
pub fn top_k(p: &[f32], k: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..p.len()).collect();
    let k = k.min(idx.len());
    if k > 0 && k < idx.len() {
        idx.select_nth_unstable_by(k - 1, |a, b| p[*b].total_cmp(&p[*a]));
    }
    idx.truncate(k);
    idx.sort_by(|a, b| p[*b].total_cmp(&p[*a]).then(a.cmp(b)));
    idx
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn manifest(output: &str) -> Manifest {
        let text = format!(
            "name: m\nonnx: m.onnx\ninput: {{width: 8, height: 8, layout: NCHW, resize: bilinear, \
             crop: squash, mean: [0, 0, 0], std: [1, 1, 1]}}\noutput:\n{output}"
        );
        let m: Manifest = serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        m.check().unwrap_or_else(|e| panic!("{e:?}\n{text}"));
        m
    }

    const OLD: &str = "  activation: softmax\n  dog: [[1, 3]]\n  cat: [[4, 5]]\n  \
                       cat_weight: 10.0\n  other_threshold: 0.08\n  renormalise: true\n";
    const NEW: &str = "  activation: softmax\n  groups:\n    dog:\n      classes: [[1, 3]]\n    \
                       cat:\n      classes: [4, 5]\n      weight: 10.0\n  other_threshold: 0.08\n  \
                       renormalise: true\n";

    /// Probability vectors over 7 classes: dog-heavy, cat-heavy (only after weighting),
    /// neither, and a weighted tie.
    fn cases() -> Vec<Vec<f32>> {
        vec![
            vec![0.02, 0.5, 0.2, 0.1, 0.05, 0.03, 0.1],
            vec![0.3, 0.2, 0.1, 0.05, 0.04, 0.01, 0.3],
            vec![0.5, 0.01, 0.01, 0.01, 0.001, 0.001, 0.468],
            vec![0.0, 0.5, 0.0, 0.0, 0.05, 0.0, 0.45],
        ]
    }

    #[test]
    fn the_cat_dog_form_and_its_groups_form_answer_alike_and_as_before() {
        let old = Labeller::new(&manifest(OLD), vec![]);
        let new = Labeller::new(&manifest(NEW), vec![]);
        let labels: Vec<String> = cases().iter().map(|p| old.decide(p).label).collect();
        assert_eq!(labels, ["dog", "cat", "other", "dog"]);
        for p in cases() {
            let (a, b) = (old.decide(&p), new.decide(&p));
            assert_eq!(a, b, "{p:?}");
            // The formula of the cat/dog function before groups existed.
            let (d, c) = (p[1] + p[2] + p[3], p[4] + p[5]);
            let cw = 10.0 * c;
            assert_eq!(a.scores.get("dog"), Some(d / (d + cw)));
            assert_eq!(a.scores.get("cat"), Some(cw / (d + cw)));
            assert_eq!(a.mass, Scores(vec![("dog".into(), d), ("cat".into(), c)]));
            assert!((a.other - (1.0 - d - c)).abs() < 1e-6);
        }
    }

    #[test]
    fn without_renormalise_scores_are_masses_and_the_first_group_wins_a_tie() {
        let l = Labeller::new(
            &manifest(
                "  activation: probabilities\n  groups:\n    a: {classes: [0]}\n    \
                 b: {classes: [1]}\n    c: {classes: [[2, 3]]}\n",
            ),
            vec![],
        );
        let d = l.decide(&[0.25, 0.25, 0.1, 0.1]);
        assert_eq!(d.label, "a");
        assert_eq!(
            d.scores.0.iter().map(|x| x.1).collect::<Vec<_>>(),
            [0.25, 0.25, 0.2]
        );
        assert_eq!(d.other, 0.0, "not a softmax model");
        assert_eq!(l.decide(&[0.1, 0.2, 0.3, 0.3]).label, "c");
    }

    #[test]
    fn plain_labels_answer_the_top_class_and_every_score_of_a_small_model() {
        let m = manifest(
            "  activation: probabilities\n  labels: [red, green, blue]\n  other_threshold: 0.5\n  \
             other_label: unsure\n",
        );
        let l = Labeller::new(&m, m.output.classes.clone());
        let d = l.decide(&[0.1, 0.7, 0.2]);
        assert_eq!(d.label, "green");
        assert_eq!(
            d.scores,
            Scores(vec![
                ("green".into(), 0.7),
                ("blue".into(), 0.2),
                ("red".into(), 0.1)
            ])
        );
        assert!(d.mass.is_empty());
        assert_eq!(l.decide(&[0.3, 0.3, 0.4]).label, "unsure");
        let json = serde_json::to_string(&d.scores).unwrap();
        assert_eq!(json, r#"{"green":0.7,"blue":0.2,"red":0.1}"#);
    }

    #[test]
    fn a_large_plain_model_reports_its_top_scores_once_per_name() {
        let m = manifest("  activation: probabilities\n");
        let mut names: Vec<String> = (0..100).map(|i| format!("c{i}")).collect();
        names[7] = "crane".into();
        names[9] = "crane".into();
        let l = Labeller::new(&m, names);
        let mut p = vec![0.001f32; 100];
        (p[9], p[7], p[3], p[50], p[60], p[70]) = (0.5, 0.2, 0.1, 0.05, 0.04, 0.03);
        let d = l.decide(&p);
        assert_eq!(d.label, "crane");
        let got: Vec<&str> = d.scores.0.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            got,
            ["crane", "c3", "c50", "c60"],
            "top 5 classes, one crane"
        );
        assert_eq!(d.scores.get("crane"), Some(0.5));
        // Without names, classes are numbered.
        let unnamed = Labeller::new(&m, vec![]);
        assert_eq!(unnamed.decide(&p).label, "class 9");
    }
}
