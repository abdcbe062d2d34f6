//! The classifier: ONNX Runtime (dlopened from the NAS release) + manifest-driven label logic.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use ort::session::Session;
use ort::session::builder::GraphOptimizationLevel;
use ort::value::TensorRef;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::labels::{Labeller, Scores};
use crate::manifest::{Activation, Manifest, ManifestError};
use crate::preprocess::{self, DecodeError, DecodeLimits, PrepTimings};
use crate::{opt_cache, release};

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error(
        "libonnxruntime not found: looked at {looked}. Set ORT_DYLIB_PATH to the library, or \
         place it in <release>/lib/ next to <release>/model/ (run scripts/setup, which calls \
         scripts/fetch-onnxruntime.sh, to obtain it)"
    )]
    NoRuntime { looked: String },
    #[error("cannot load ONNX Runtime from {path}: {message}")]
    Runtime { path: PathBuf, message: String },
    #[error("cannot read model file {path}: {source}")]
    ReadModel {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("model file {path} has sha256 {actual}, but model.yaml expects {expected}")]
    Checksum {
        path: PathBuf,
        expected: String,
        actual: String,
    },
    #[error("cannot create the ONNX Runtime session for {path}: {message}")]
    Session { path: PathBuf, message: String },
    #[error("cannot read class names {path}: {source}")]
    Classes {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("model.yaml inconsistent with the model: {0}")]
    Mismatch(String),
}

#[derive(Debug, thiserror::Error)]
pub enum ClassifyError {
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error("inference failed: {0}")]
    Inference(String),
}

/// Find libonnxruntime: `ORT_DYLIB_PATH`, else `$MODEL_DIR/../lib/`, else `$MODEL_DIR/lib/`.
pub fn locate_runtime(model_dir: &Path, env_path: Option<&Path>) -> Result<PathBuf, LoadError> {
    if let Some(p) = env_path {
        if p.is_file() {
            return Ok(p.to_path_buf());
        }
        return Err(LoadError::NoRuntime {
            looked: format!("ORT_DYLIB_PATH={} (no such file)", p.display()),
        });
    }
    let mut looked = vec!["ORT_DYLIB_PATH (unset)".to_string()];
    for dir in [model_dir.join("..").join("lib"), model_dir.join("lib")] {
        looked.push(format!("{}/libonnxruntime.so*", dir.display()));
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut found: Vec<PathBuf> = rd
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| {
                p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                    n == "libonnxruntime.so" || n.starts_with("libonnxruntime.so.")
                }) && p.is_file()
            })
            .collect();
        // Prefer the plain name, then the longest (most specific) versioned name.
        found.sort_by_key(|p| {
            let n = p.file_name().map(|n| n.len()).unwrap_or(0);
            (p.file_name().is_some_and(|n| n == "libonnxruntime.so"), n)
        });
        if let Some(p) = found.pop() {
            return Ok(p);
        }
    }
    Err(LoadError::NoRuntime {
        looked: looked.join(", "),
    })
}

static ORT_ENV: OnceLock<Result<ort::environment::Environment, String>> = OnceLock::new();

fn environment(lib: &Path) -> Result<&'static ort::environment::Environment, LoadError> {
    ORT_ENV
        .get_or_init(|| {
            ort::init_from(lib)
                .map_err(|e| e.to_string())?
                .with_name("fcctl-function")
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|message| LoadError::Runtime {
            path: lib.to_path_buf(),
            message: message.clone(),
        })
}

#[derive(Debug, Clone, Serialize)]
pub struct TopClass {
    pub class: String,
    pub p: f32,
}

#[derive(Debug, Clone, Serialize)]
pub struct Prediction {
    /// A group's name, a class's label, or `other_label` (`dog`, `cat` or `other`).
    pub label: String,
    /// Grouped models: each group's score as a top-level field too (`dog`, `cat`), as the
    /// cat/dog answer always had them.
    #[serde(flatten)]
    pub groups: Scores,
    /// Probability mass outside the groups (softmax models; 0 otherwise).
    pub other: f32,
    pub top5: Vec<TopClass>,
    pub model: String,
    /// Server-side time for this classification (decode + resize + inference), ms.
    pub ms: f64,
    /// Label → probability: grouped models, each group's (renormalised) score; plain-label
    /// models, every class's (the top 5 when there are more than 32 classes).
    pub scores: Scores,
    /// Grouped models: each group's mass before renormalisation.
    #[serde(skip_serializing_if = "Scores::is_empty")]
    pub mass: Scores,
    pub timings: Timings,
}

impl Prediction {
    /// The score of `label` (0 when the answer has none).
    pub fn score(&self, label: &str) -> f32 {
        self.scores.get(label).unwrap_or(0.0)
    }
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct Timings {
    pub decode_ms: f64,
    pub resize_ms: f64,
    pub infer_ms: f64,
}

pub struct Classifier {
    pub manifest: Manifest,
    session: Mutex<Session>,
    input_name: String,
    pub labeller: Labeller,
    pub limits: DecodeLimits,
    pub load_ms: f64,
    /// Where the load's time went, ms: (phase, ms) in order (the lifecycle log line).
    pub phases: Vec<(&'static str, f64)>,
    /// Whether the optimised-graph cache was used for this load.
    pub optimized_cache: OptimizedCache,
}

impl std::fmt::Debug for Classifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Classifier")
            .field("model", &self.manifest.name)
            .finish()
    }
}

fn opt_level(s: &str) -> Result<GraphOptimizationLevel, LoadError> {
    Ok(match s {
        "disable" => GraphOptimizationLevel::Disable,
        "basic" => GraphOptimizationLevel::Level1,
        "extended" => GraphOptimizationLevel::Level2,
        "all" => GraphOptimizationLevel::Level3,
        other => {
            return Err(LoadError::Mismatch(format!(
                "runtime.graph_optimization {other:?}: use disable, basic, extended or all"
            )));
        }
    })
}

fn sha256_file(path: &Path) -> Result<String, LoadError> {
    let read_err = |source| LoadError::ReadModel {
        path: path.to_path_buf(),
        source,
    };
    let mut f = std::fs::File::open(path).map_err(read_err)?;
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h).map_err(read_err)?;
    Ok(hex::encode(h.finalize()))
}

/// Builds the session: from the cached optimised graph when there is one, else from the
/// model itself, saving the optimised graph for the next cold start when a cache is set.
fn build_session(
    env: &ort::environment::Environment,
    manifest: &Manifest,
    onnx_path: &Path,
    cache_dir: Option<&Path>,
) -> Result<(Session, OptimizedCache), LoadError> {
    let threads = match manifest.runtime.threads {
        0 => std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .min(4),
        n => n,
    };
    let level = opt_level(&manifest.runtime.graph_optimization)?;
    let builder = |level, save_to: Option<&Path>| {
        let err = |e: &dyn std::fmt::Display| LoadError::Session {
            path: onnx_path.to_path_buf(),
            message: e.to_string(),
        };
        let b = Session::builder(env)
            .map_err(|e| err(&e))?
            .with_optimization_level(level)
            .map_err(|e| err(&e))?
            .with_intra_threads(threads)
            .map_err(|e| err(&e))?
            .with_inter_threads(1)
            .map_err(|e| err(&e))?
            // Spinning pool threads keep a core busy between requests and starve the decode
            // and network threads: c=1 p99 17.4 → 12.7 ms, c=2 p99 27.1 → 21.1 ms without it
            // (bench/function, 3 interleaved runs), at ~1 ms of c=1 p50.
            .with_intra_op_spinning(false)
            .map_err(|e| err(&e))?;
        match save_to {
            Some(p) => b.with_optimized_model_path(p).map_err(|e| err(&e)),
            None => Ok(b),
        }
    };
    // From the model itself, no cache.
    let uncached = || -> Result<(Session, OptimizedCache), LoadError> {
        let s = builder(level, None)?
            .commit_from_file(onnx_path)
            .map_err(|e| LoadError::Session {
                path: onnx_path.to_path_buf(),
                message: e.to_string(),
            })?;
        Ok((s, OptimizedCache::Off))
    };
    let entry = cache_dir
        .zip(manifest.sha256.as_deref())
        .filter(|_| level != GraphOptimizationLevel::Disable)
        .map(|(dir, sha)| {
            opt_cache::entry(
                dir,
                &manifest.name,
                sha,
                &manifest.runtime.graph_optimization,
                ort::info(),
            )
        });
    let Some(entry) = entry else {
        return uncached();
    };
    if entry.is_file() {
        match builder(GraphOptimizationLevel::Disable, None)?.commit_from_file(&entry) {
            Ok(s) => return Ok((s, OptimizedCache::Hit)),
            Err(e) => {
                // Unreadable or from an incompatible build after all: rebuild it below.
                tracing::warn!(cache = %entry.display(), error = %e, "ignoring the cached optimised model");
                let _ = std::fs::remove_file(&entry);
            }
        }
    }
    let tmp = opt_cache::temp_for(&entry);
    if let Err(e) = entry.parent().map(std::fs::create_dir_all).transpose() {
        tracing::warn!(cache = %entry.display(), error = %e, "optimised-model cache not writable; continuing without it");
        return uncached();
    }
    let session = match builder(level, Some(&tmp))?.commit_from_file(onnx_path) {
        Ok(s) => s,
        Err(e) => {
            // Saving can fail (NAS full, permissions) where loading would not.
            let _ = std::fs::remove_file(&tmp);
            tracing::warn!(cache = %entry.display(), error = %e, "could not save the optimised model; loading without the cache");
            return uncached();
        }
    };
    if let Err(e) = std::fs::rename(&tmp, &entry) {
        let _ = std::fs::remove_file(&tmp);
        tracing::warn!(cache = %entry.display(), error = %e, "could not store the optimised model");
        return Ok((session, OptimizedCache::Off));
    }
    Ok((session, OptimizedCache::Stored))
}

/// How the session was built, for logs and benchmarks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OptimizedCache {
    /// No cache directory configured (or the model has no sha256 to key it on).
    Off,
    /// Loaded the saved optimised graph with optimisation off.
    Hit,
    /// Optimised the model and saved the result for the next cold start.
    Stored,
}

impl Classifier {
    /// Load `model.yaml` + ONNX from `model_dir`, dlopening ONNX Runtime from `ort_lib`
    /// (see [`locate_runtime`]); `cache_dir` holds optimised graphs ([`crate::opt_cache`]).
    pub fn load(
        model_dir: &Path,
        ort_lib: &Path,
        limits: DecodeLimits,
        cache_dir: Option<&Path>,
    ) -> Result<Self, LoadError> {
        let t0 = Instant::now();
        // dlopen + environment on one core while the other reads the manifest and hashes.
        let lib = {
            let ort_lib = ort_lib.to_path_buf();
            std::thread::spawn(move || environment(&ort_lib))
        };
        let manifest = Manifest::load(model_dir)?;
        let onnx_path = model_dir.join(&manifest.onnx);
        let expected = manifest.sha256.as_deref();
        let hasher = expected
            .filter(|sha| !release::vouches_for(model_dir, &manifest.onnx, sha))
            .map(|_| {
                let p = onnx_path.clone();
                std::thread::spawn(move || sha256_file(&p))
            });
        let env = lib.join().unwrap_or_else(|_| {
            Err(LoadError::Runtime {
                path: ort_lib.to_path_buf(),
                message: "panicked".into(),
            })
        })?;
        let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
        let runtime_ms = ms(t0.elapsed());
        let t1 = Instant::now();
        let built = build_session(env, &manifest, &onnx_path, cache_dir);
        let session_ms = ms(t1.elapsed());
        let t2 = Instant::now();
        if let (Some(expected), Some(h)) = (expected, hasher) {
            let actual = h.join().unwrap_or_else(|_| {
                Err(LoadError::ReadModel {
                    path: onnx_path.clone(),
                    source: std::io::Error::other("hashing thread panicked"),
                })
            })?;
            if !expected.eq_ignore_ascii_case(&actual) {
                return Err(LoadError::Checksum {
                    path: onnx_path,
                    expected: expected.to_string(),
                    actual,
                });
            }
        }
        let hash_wait_ms = ms(t2.elapsed());
        let (session, cache) = built?;
        let input_name = match &manifest.input.name {
            Some(n) => n.clone(),
            None => session
                .inputs()
                .first()
                .map(|i| i.name().to_string())
                .ok_or_else(|| LoadError::Mismatch("the ONNX model has no inputs".into()))?,
        };
        let classes = manifest
            .read_classes(model_dir)
            .map_err(|(path, source)| LoadError::Classes { path, source })?;
        if let Some(max_idx) = manifest.max_class_index()
            && !classes.is_empty()
            && max_idx >= classes.len()
        {
            return Err(LoadError::Mismatch(format!(
                "a group reaches class index {max_idx} but only {} class names are listed",
                classes.len()
            )));
        }
        if let Some(n) = session
            .outputs()
            .first()
            .and_then(|o| o.dtype().tensor_shape().map(|s| s.to_vec()))
            .and_then(|dims| output_classes(&dims))
        {
            if !classes.is_empty() && classes.len() != n {
                return Err(LoadError::Mismatch(format!(
                    "{} class names are listed but the model has {n} outputs",
                    classes.len()
                )));
            }
            if let Some(max_idx) = manifest.max_class_index().filter(|m| *m >= n) {
                return Err(LoadError::Mismatch(format!(
                    "a group reaches class index {max_idx} but the model has {n} outputs"
                )));
            }
        }
        let labeller = Labeller::new(&manifest, classes);
        Ok(Self {
            manifest,
            session: Mutex::new(session),
            input_name,
            labeller,
            limits,
            load_ms: ms(t0.elapsed()),
            phases: vec![
                ("runtime_ms", runtime_ms),
                ("session_ms", session_ms),
                ("hash_wait_ms", hash_wait_ms),
            ],
            optimized_cache: cache,
        })
    }

    /// Decode + preprocess + infer one image.
    pub fn classify(&self, bytes: &[u8]) -> Result<Prediction, ClassifyError> {
        let t0 = Instant::now();
        let img = preprocess::decode_rgb(bytes, &self.limits)?;
        self.classify_decoded(&img, t0.elapsed())
    }

    /// Preprocess + infer an image decoded earlier (the server decodes while the model is
    /// still loading); `decode` is what decoding took, counted in the reported `ms`.
    pub fn classify_decoded(
        &self,
        img: &image::RgbImage,
        decode: std::time::Duration,
    ) -> Result<Prediction, ClassifyError> {
        let t1 = Instant::now();
        let t0 = t1.checked_sub(decode).unwrap_or(t1);
        let rgb = preprocess::resize_rgb(img, &self.manifest.input)?;
        let tensor = preprocess::to_tensor(&rgb, &self.manifest.input);
        let prep = PrepTimings {
            decode_ms: decode.as_secs_f64() * 1e3,
            resize_ms: t1.elapsed().as_secs_f64() * 1e3,
        };
        self.classify_tensor(&tensor, prep, t0)
    }

    /// Raw model outputs (after the manifest's activation) for already-preprocessed data.
    pub fn probabilities(&self, tensor: &[f32]) -> Result<Vec<f32>, ClassifyError> {
        let i = &self.manifest.input;
        let shape: [usize; 4] = match i.layout {
            crate::manifest::Layout::Nchw => [1, 3, i.height as usize, i.width as usize],
            crate::manifest::Layout::Nhwc => [1, i.height as usize, i.width as usize, 3],
        };
        let inf = |e: &dyn std::fmt::Display| ClassifyError::Inference(e.to_string());
        let value = TensorRef::from_array_view((shape, tensor)).map_err(|e| inf(&e))?;
        let mut out: Vec<f32> = {
            let mut session = self.session.lock().unwrap_or_else(|p| p.into_inner());
            let outputs = session
                .run(ort::inputs![self.input_name.as_str() => value])
                .map_err(|e| inf(&e))?;
            let (_, data) = outputs[0]
                .try_extract_tensor::<f32>()
                .map_err(|e| inf(&e))?;
            data.to_vec()
        };
        match self.manifest.output.activation {
            Activation::Softmax => {
                let m = out.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let mut sum = 0f64;
                for v in out.iter_mut() {
                    *v = (*v - m).exp();
                    sum += f64::from(*v);
                }
                for v in out.iter_mut() {
                    *v = (f64::from(*v) / sum) as f32;
                }
            }
            Activation::Sigmoid => {
                for v in out.iter_mut() {
                    *v = 1.0 / (1.0 + (-*v).exp());
                }
            }
            Activation::Probabilities => {}
        }
        if out.iter().any(|v| !v.is_finite()) {
            return Err(ClassifyError::Inference(
                "model produced non-finite outputs".into(),
            ));
        }
        Ok(out)
    }

    fn classify_tensor(
        &self,
        tensor: &[f32],
        prep: PrepTimings,
        t0: Instant,
    ) -> Result<Prediction, ClassifyError> {
        let t1 = Instant::now();
        let p = self.probabilities(tensor)?;
        let infer_ms = t1.elapsed().as_secs_f64() * 1e3;
        let d = self.labeller.decide(&p);
        let top5 = crate::labels::top_k(&p, 5)
            .into_iter()
            .map(|i| TopClass {
                class: self.labeller.class_name(i),
                p: p[i],
            })
            .collect();
        Ok(Prediction {
            label: d.label,
            groups: if self.labeller.is_grouped() {
                d.scores.clone()
            } else {
                Scores::default()
            },
            other: d.other,
            top5,
            model: self.manifest.name.clone(),
            ms: t0.elapsed().as_secs_f64() * 1e3,
            scores: d.scores,
            mass: d.mass,
            timings: Timings {
                decode_ms: prep.decode_ms,
                resize_ms: prep.resize_ms,
                infer_ms,
            },
        })
    }
}

/// The class count of an output shape `[N, C]` / `[C]` (a free batch counts as 1); `None` when
/// a class dimension is not fixed.
fn output_classes(dims: &[i64]) -> Option<usize> {
    let fixed: Vec<i64> = match dims {
        [_, rest @ ..] if !rest.is_empty() => rest.to_vec(),
        d => d.to_vec(),
    };
    fixed.iter().try_fold(1usize, |acc, d| {
        usize::try_from(*d).ok().filter(|d| *d > 0).map(|d| acc * d)
    })
}
