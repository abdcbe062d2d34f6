//! A small pure-Rust engine for the first answers of a cold start.
//!
//! ONNX Runtime has a fixed start-up cost in a fresh process (its environment registers every
//! operator schema, ~15–25 ms; a session ≥ 24 ms even from the cached optimised graph) that no
//! option removes. This engine has none: it decodes the ONNX protobuf, folds the constant
//! `DequantizeLinear`s of the weights, and runs the graph node by node. It knows the few
//! operators of a plain convolutional classifier (Conv — dense or depthwise —, Clip, Relu, Add,
//! GlobalAveragePool, Flatten, Gemm, QuantizeLinear/DequantizeLinear); a model with anything
//! else is refused at load and the server waits for ONNX Runtime as before. The server answers
//! with it only until ONNX Runtime is ready (`server::AppState::model`).
//!
//! QDQ models run in f32 with each QuantizeLinear → DequantizeLinear pair applied to the
//! activations (round half to even, saturate), which is what ONNX Runtime's integer kernels
//! compute up to the rounding of the f32 sums: scores agree to about 1e-2 and labels agree
//! (README "Figures", `examples/quickagree.rs`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use ndarray::{ArrayView2, ArrayViewMut2};

/// The ONNX protobuf messages, only the fields this engine reads (field numbers from onnx.proto).
mod pb {
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Model {
        #[prost(message, optional, tag = "7")]
        pub graph: Option<Graph>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Graph {
        #[prost(message, repeated, tag = "1")]
        pub node: Vec<Node>,
        #[prost(message, repeated, tag = "5")]
        pub initializer: Vec<Tensor>,
        #[prost(message, repeated, tag = "11")]
        pub input: Vec<ValueInfo>,
        #[prost(message, repeated, tag = "12")]
        pub output: Vec<ValueInfo>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ValueInfo {
        #[prost(string, tag = "1")]
        pub name: String,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Node {
        #[prost(string, repeated, tag = "1")]
        pub input: Vec<String>,
        #[prost(string, repeated, tag = "2")]
        pub output: Vec<String>,
        #[prost(string, tag = "4")]
        pub op_type: String,
        #[prost(message, repeated, tag = "5")]
        pub attribute: Vec<Attribute>,
        #[prost(string, tag = "7")]
        pub domain: String,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Attribute {
        #[prost(string, tag = "1")]
        pub name: String,
        #[prost(float, tag = "2")]
        pub f: f32,
        #[prost(int64, tag = "3")]
        pub i: i64,
        #[prost(bytes = "vec", tag = "4")]
        pub s: Vec<u8>,
        #[prost(int64, repeated, tag = "8")]
        pub ints: Vec<i64>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Tensor {
        #[prost(int64, repeated, tag = "1")]
        pub dims: Vec<i64>,
        #[prost(int32, tag = "2")]
        pub data_type: i32,
        #[prost(float, repeated, tag = "4")]
        pub float_data: Vec<f32>,
        #[prost(int32, repeated, tag = "5")]
        pub int32_data: Vec<i32>,
        #[prost(int64, repeated, tag = "7")]
        pub int64_data: Vec<i64>,
        #[prost(string, tag = "8")]
        pub name: String,
        #[prost(bytes = "vec", tag = "9")]
        pub raw_data: Vec<u8>,
        #[prost(int32, tag = "14")]
        pub data_location: i32,
    }
}

#[derive(Debug, thiserror::Error)]
pub enum QuickError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("not an ONNX model: {0}")]
    Decode(#[from] prost::DecodeError),
    /// The model uses something this engine does not implement (ONNX Runtime serves it).
    #[error("not supported by the quick engine: {0}")]
    Unsupported(String),
    #[error("quick engine: {0}")]
    Run(String),
}

fn unsupported(what: impl Into<String>) -> QuickError {
    QuickError::Unsupported(what.into())
}

/// A constant: f32 values (integer initializers converted) and their shape.
#[derive(Debug, Clone)]
struct Const {
    dims: Vec<usize>,
    data: Vec<f32>,
}

fn constant(t: &pb::Tensor) -> Result<Const, QuickError> {
    if t.data_location != 0 {
        return Err(unsupported(format!("external data for {}", t.name)));
    }
    let dims = t
        .dims
        .iter()
        .map(|d| usize::try_from(*d).map_err(|_| unsupported(format!("dims of {}", t.name))))
        .collect::<Result<Vec<_>, _>>()?;
    let raw = &t.raw_data;
    let chunks = |n: usize| raw.chunks_exact(n);
    let data: Vec<f32> = match t.data_type {
        1 if !raw.is_empty() => chunks(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
        1 => t.float_data.clone(),
        2 if !raw.is_empty() => raw.iter().map(|b| f32::from(*b)).collect(),
        3 if !raw.is_empty() => raw.iter().map(|b| f32::from(*b as i8)).collect(),
        2 | 3 => t.int32_data.iter().map(|v| *v as f32).collect(),
        6 if !raw.is_empty() => chunks(4)
            .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f32)
            .collect(),
        6 => t.int32_data.iter().map(|v| *v as f32).collect(),
        7 if !raw.is_empty() => chunks(8)
            .map(|b| i64::from_le_bytes(b.try_into().unwrap_or_default()) as f32)
            .collect(),
        7 => t.int64_data.iter().map(|v| *v as f32).collect(),
        other => {
            return Err(unsupported(format!(
                "tensor {} of data type {other}",
                t.name
            )));
        }
    };
    if data.len() != dims.iter().product::<usize>() {
        return Err(unsupported(format!("tensor {} size", t.name)));
    }
    Ok(Const { dims, data })
}

#[derive(Debug)]
enum Op {
    Conv(Box<Conv>),
    Clip {
        lo: f32,
        hi: f32,
    },
    Add,
    GlobalAveragePool,
    Flatten,
    Gemm(Box<Gemm>),
    /// QuantizeLinear (`dequantize: false`, f32 holding the integer level) or
    /// DequantizeLinear of an activation; per-tensor.
    Quant {
        scale: f32,
        zero: f32,
        lo: f32,
        hi: f32,
        dequantize: bool,
    },
}

#[derive(Debug)]
struct Conv {
    /// [co, ci / group, kh, kw]
    w: Vec<f32>,
    b: Vec<f32>,
    co: usize,
    cig: usize,
    group: usize,
    k: [usize; 2],
    stride: [usize; 2],
    /// top, left, bottom, right
    pads: [usize; 4],
}

#[derive(Debug)]
struct Gemm {
    /// [n, k] (B transposed) scaled by alpha
    w: Vec<f32>,
    b: Vec<f32>,
    n: usize,
    k: usize,
}

#[derive(Debug)]
struct Step {
    op: Op,
    inputs: Vec<usize>,
    output: usize,
}

/// A value while running: shape [c, h, w] (batch 1) or [k].
#[derive(Debug, Clone, Default)]
struct Value {
    dims: Vec<usize>,
    data: Vec<f32>,
}

/// A loaded graph, ready to run on one image.
#[derive(Debug)]
pub struct Net {
    steps: Vec<Step>,
    slots: usize,
    input: usize,
    output: usize,
}

impl Net {
    /// Reads and prepares `path`; refuses (`Unsupported`) any graph outside this engine's ops.
    pub fn load(path: &Path) -> Result<Self, QuickError> {
        let bytes = std::fs::read(path).map_err(|source| QuickError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_bytes(&bytes)
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, QuickError> {
        let model = <pb::Model as prost::Message>::decode(bytes)?;
        let graph = model.graph.ok_or_else(|| unsupported("no graph"))?;
        let mut consts: HashMap<String, Const> = HashMap::new();
        for t in &graph.initializer {
            consts.insert(t.name.clone(), constant(t)?);
        }
        let mut slot_of: HashMap<String, usize> = HashMap::new();
        let input_name = graph
            .input
            .iter()
            .map(|i| i.name.as_str())
            .find(|n| !consts.contains_key(*n))
            .ok_or_else(|| unsupported("no graph input"))?;
        slot_of.insert(input_name.to_string(), 0);
        let mut steps = Vec::new();
        for node in &graph.node {
            if !node.domain.is_empty() && node.domain != "ai.onnx" {
                return Err(unsupported(format!("operator domain {}", node.domain)));
            }
            let out = node
                .output
                .first()
                .filter(|_| node.output.len() == 1)
                .ok_or_else(|| unsupported(format!("{} with several outputs", node.op_type)))?;
            let attr = |name: &str| node.attribute.iter().find(|a| a.name == name);
            let konst = |i: usize| node.input.get(i).and_then(|n| consts.get(n));
            // Constant folding: a DequantizeLinear of an initializer becomes an initializer.
            if node.op_type == "DequantizeLinear"
                && let Some(x) = konst(0)
            {
                let folded = dequantize(x, konst(1), konst(2), attr("axis").map_or(1, |a| a.i))?;
                consts.insert(out.clone(), folded);
                continue;
            }
            let op = match node.op_type.as_str() {
                "Conv" => {
                    let w = konst(1).ok_or_else(|| unsupported("Conv weights not constant"))?;
                    Op::Conv(Box::new(conv(node, w, konst(2))?))
                }
                "Clip" => {
                    let bound = |i: usize, d: f32| match node.input.get(i).filter(|n| !n.is_empty())
                    {
                        None => Ok(d),
                        Some(_) => konst(i)
                            .and_then(|c| c.data.first().copied())
                            .ok_or_else(|| unsupported("Clip bounds not constant")),
                    };
                    Op::Clip {
                        lo: bound(1, f32::NEG_INFINITY)?,
                        hi: bound(2, f32::INFINITY)?,
                    }
                }
                "Relu" => Op::Clip {
                    lo: 0.0,
                    hi: f32::INFINITY,
                },
                "Add" => Op::Add,
                "GlobalAveragePool" => Op::GlobalAveragePool,
                "Flatten" if attr("axis").is_none_or(|a| a.i == 1) => Op::Flatten,
                "Gemm" => {
                    let w = konst(1).ok_or_else(|| unsupported("Gemm weights not constant"))?;
                    Op::Gemm(Box::new(gemm(node, w, konst(2))?))
                }
                "QuantizeLinear" | "DequantizeLinear" => {
                    let scale = konst(1)
                        .filter(|c| c.data.len() == 1)
                        .ok_or_else(|| unsupported("per-channel activation quantization"))?;
                    let zp = node
                        .input
                        .get(2)
                        .and_then(|n| graph.initializer.iter().find(|t| &t.name == n));
                    // The integer type is the zero point's (uint8 when absent).
                    let (lo, hi) = match zp.map_or(2, |t| t.data_type) {
                        2 => (0.0, 255.0),
                        3 => (-128.0, 127.0),
                        other => {
                            return Err(unsupported(format!("quantization type {other}")));
                        }
                    };
                    Op::Quant {
                        scale: scale.data[0],
                        zero: konst(2)
                            .and_then(|c| c.data.first().copied())
                            .unwrap_or(0.0),
                        lo,
                        hi,
                        dequantize: node.op_type == "DequantizeLinear",
                    }
                }
                other => return Err(unsupported(format!("operator {other}"))),
            };
            let arity = match op {
                Op::Add => 2,
                _ => 1,
            };
            let inputs =
                node.input
                    .iter()
                    .take(arity)
                    .map(|n| {
                        slot_of.get(n).copied().ok_or_else(|| {
                            unsupported(format!("input {n} is not computed before use"))
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
            if inputs.len() != arity {
                return Err(unsupported(format!("{} arity", node.op_type)));
            }
            let output = slot_of.len();
            slot_of.insert(out.clone(), output);
            steps.push(Step { op, inputs, output });
        }
        let out_name = &graph
            .output
            .first()
            .ok_or_else(|| unsupported("no graph output"))?
            .name;
        let output = *slot_of
            .get(out_name)
            .ok_or_else(|| unsupported("the output is not computed"))?;
        Ok(Self {
            steps,
            slots: slot_of.len(),
            input: 0,
            output,
        })
    }

    /// Runs one image, `input` laid out [3, h, w] (NCHW, batch 1); returns the raw outputs.
    pub fn run(&self, input: &[f32], dims: [usize; 3]) -> Result<Vec<f32>, QuickError> {
        if input.len() != dims.iter().product::<usize>() {
            return Err(QuickError::Run(
                "input size does not match its shape".into(),
            ));
        }
        let mut vals: Vec<Value> = vec![Value::default(); self.slots];
        vals[self.input] = Value {
            dims: dims.to_vec(),
            data: input.to_vec(),
        };
        // How many steps still read each slot, so a value is freed after its last use.
        let mut uses = vec![0usize; self.slots];
        for s in &self.steps {
            for i in &s.inputs {
                uses[*i] += 1;
            }
        }
        for s in &self.steps {
            let first = s.inputs[0];
            // Element-wise steps reuse their input's buffer when they are its last reader.
            if uses[first] == 1 && first != self.output {
                let done = match &s.op {
                    Op::Clip { lo, hi } => {
                        let mut v = std::mem::take(&mut vals[first]);
                        v.data.iter_mut().for_each(|x| *x = x.clamp(*lo, *hi));
                        Some(v)
                    }
                    Op::Quant {
                        scale,
                        zero,
                        lo,
                        hi,
                        dequantize,
                    } => {
                        let mut v = std::mem::take(&mut vals[first]);
                        quant(&mut v.data, *scale, *zero, *lo, *hi, *dequantize);
                        Some(v)
                    }
                    _ => None,
                };
                if let Some(v) = done {
                    uses[first] = 0;
                    vals[s.output] = v;
                    continue;
                }
            }
            let v = {
                let x = &vals[first];
                match &s.op {
                    Op::Conv(c) => run_conv(c, x)?,
                    Op::Clip { lo, hi } => map(x, |v| v.clamp(*lo, *hi)),
                    Op::Quant {
                        scale,
                        zero,
                        lo,
                        hi,
                        dequantize,
                    } => {
                        let mut v = x.clone();
                        quant(&mut v.data, *scale, *zero, *lo, *hi, *dequantize);
                        v
                    }
                    Op::Add => {
                        let y = &vals[s.inputs[1]];
                        if x.dims != y.dims {
                            return Err(QuickError::Run("Add of different shapes".into()));
                        }
                        Value {
                            dims: x.dims.clone(),
                            data: x.data.iter().zip(&y.data).map(|(a, b)| a + b).collect(),
                        }
                    }
                    Op::GlobalAveragePool => {
                        let [c, h, w] = chw(x)?;
                        let n = (h * w) as f32;
                        Value {
                            dims: vec![c, 1, 1],
                            data: x
                                .data
                                .chunks_exact(h * w)
                                .map(|p| p.iter().sum::<f32>() / n)
                                .collect(),
                        }
                    }
                    Op::Flatten => Value {
                        dims: vec![x.data.len()],
                        data: x.data.clone(),
                    },
                    Op::Gemm(g) => {
                        if x.data.len() != g.k {
                            return Err(QuickError::Run("Gemm input size".into()));
                        }
                        let data =
                            g.w.chunks_exact(g.k)
                                .zip(&g.b)
                                .map(|(row, b)| {
                                    row.iter().zip(&x.data).map(|(w, v)| w * v).sum::<f32>() + b
                                })
                                .collect();
                        Value {
                            dims: vec![g.n],
                            data,
                        }
                    }
                }
            };
            vals[s.output] = v;
            for i in &s.inputs {
                uses[*i] -= 1;
                if uses[*i] == 0 && *i != self.output {
                    vals[*i] = Value::default();
                }
            }
        }
        Ok(std::mem::take(&mut vals[self.output].data))
    }
}

/// QuantizeLinear (to the integer level, held in f32) or DequantizeLinear, per tensor.
fn quant(data: &mut [f32], scale: f32, zero: f32, lo: f32, hi: f32, dequantize: bool) {
    if dequantize {
        data.iter_mut().for_each(|v| *v = (*v - zero) * scale);
        return;
    }
    // Saturate first (the bounds are integers, so this commutes with rounding), then round
    // half to even with the 1.5·2^23 trick: exact for |x| < 2^22, and it vectorises where
    // `round_ties_even` is a libm call per element.
    const MAGIC: f32 = 12_582_912.0;
    let (a, b) = (lo - zero, hi - zero);
    data.iter_mut().for_each(|v| {
        let x = (*v / scale).clamp(a, b);
        *v = (x + MAGIC) - MAGIC + zero;
    });
}

fn map(x: &Value, f: impl Fn(f32) -> f32) -> Value {
    Value {
        dims: x.dims.clone(),
        data: x.data.iter().map(|v| f(*v)).collect(),
    }
}

fn chw(x: &Value) -> Result<[usize; 3], QuickError> {
    match x.dims[..] {
        [c, h, w] => Ok([c, h, w]),
        _ => Err(QuickError::Run(format!(
            "expected a [C, H, W] value, got {:?}",
            x.dims
        ))),
    }
}

fn dequantize(
    x: &Const,
    scale: Option<&Const>,
    zero: Option<&Const>,
    axis: i64,
) -> Result<Const, QuickError> {
    let scale = scale.ok_or_else(|| unsupported("DequantizeLinear scale not constant"))?;
    let n = scale.data.len();
    let zero_at = |i: usize| zero.map_or(0.0, |z| z.data.get(i).copied().unwrap_or(z.data[0]));
    if n == 1 {
        let (s, z) = (scale.data[0], zero_at(0));
        return Ok(Const {
            dims: x.dims.clone(),
            data: x.data.iter().map(|v| (v - z) * s).collect(),
        });
    }
    let rank = x.dims.len() as i64;
    let axis = usize::try_from(if axis < 0 { axis + rank } else { axis })
        .ok()
        .filter(|a| x.dims.get(*a) == Some(&n))
        .ok_or_else(|| unsupported("DequantizeLinear axis"))?;
    let inner: usize = x.dims[axis + 1..].iter().product::<usize>().max(1);
    let mut data = Vec::with_capacity(x.data.len());
    for (blk, chunk) in x.data.chunks(inner).enumerate() {
        let c = blk % n;
        let (z, s) = (zero_at(c), scale.data[c]);
        data.extend(chunk.iter().map(|v| (v - z) * s));
    }
    Ok(Const {
        dims: x.dims.clone(),
        data,
    })
}

fn conv(node: &pb::Node, w: &Const, b: Option<&Const>) -> Result<Conv, QuickError> {
    let attr = |name: &str| node.attribute.iter().find(|a| a.name == name);
    let ints = |name: &str, d: Vec<usize>| -> Result<Vec<usize>, QuickError> {
        match attr(name) {
            None => Ok(d),
            Some(a) => a
                .ints
                .iter()
                .map(|v| usize::try_from(*v).map_err(|_| unsupported(format!("Conv {name}"))))
                .collect(),
        }
    };
    if attr("auto_pad").is_some_and(|a| !a.s.is_empty() && a.s != b"NOTSET") {
        return Err(unsupported("Conv auto_pad"));
    }
    if ints("dilations", vec![1, 1])?.iter().any(|d| *d != 1) {
        return Err(unsupported("Conv dilations"));
    }
    let [co, cig, kh, kw] = w.dims[..] else {
        return Err(unsupported("Conv weights of rank other than 4"));
    };
    let group = attr("group").map_or(1, |a| usize::try_from(a.i).unwrap_or(0));
    if group != 1 && cig != 1 {
        return Err(unsupported("grouped Conv other than depthwise"));
    }
    let stride: [usize; 2] = ints("strides", vec![1, 1])?
        .try_into()
        .map_err(|_| unsupported("Conv strides"))?;
    let pads: [usize; 4] = ints("pads", vec![0; 4])?
        .try_into()
        .map_err(|_| unsupported("Conv pads"))?;
    if stride.contains(&0) || group == 0 || co % group != 0 {
        return Err(unsupported("Conv shape"));
    }
    let b = match b {
        Some(b) if b.data.len() == co => b.data.clone(),
        Some(_) => return Err(unsupported("Conv bias size")),
        None => vec![0.0; co],
    };
    Ok(Conv {
        w: w.data.clone(),
        b,
        co,
        cig,
        group,
        k: [kh, kw],
        stride,
        pads,
    })
}

fn gemm(node: &pb::Node, w: &Const, b: Option<&Const>) -> Result<Gemm, QuickError> {
    let attr = |name: &str| node.attribute.iter().find(|a| a.name == name);
    if attr("transA").is_some_and(|a| a.i != 0) {
        return Err(unsupported("Gemm transA"));
    }
    let alpha = attr("alpha").map_or(1.0, |a| a.f);
    let beta = attr("beta").map_or(1.0, |a| a.f);
    let [r, c] = w.dims[..] else {
        return Err(unsupported("Gemm weights of rank other than 2"));
    };
    let trans_b = attr("transB").is_some_and(|a| a.i != 0);
    let (n, k) = if trans_b { (r, c) } else { (c, r) };
    let w: Vec<f32> = if trans_b {
        w.data.iter().map(|v| v * alpha).collect()
    } else {
        (0..n)
            .flat_map(|j| (0..k).map(move |i| (i, j)))
            .map(|(i, j)| w.data[i * n + j] * alpha)
            .collect()
    };
    let b = match b {
        Some(b) if b.data.len() == n => b.data.iter().map(|v| v * beta).collect(),
        Some(b) if b.data.len() == 1 => vec![b.data[0] * beta; n],
        Some(_) => return Err(unsupported("Gemm bias size")),
        None => vec![0.0; n],
    };
    Ok(Gemm { w, b, n, k })
}

fn run_conv(c: &Conv, x: &Value) -> Result<Value, QuickError> {
    let [ci, h, w] = chw(x)?;
    if ci != c.cig * c.group {
        return Err(QuickError::Run("Conv input channels".into()));
    }
    let [kh, kw] = c.k;
    let [sh, sw] = c.stride;
    let [pt, pl, pb, pr] = c.pads;
    let (hp, wp) = (h + pt + pb, w + pl + pr);
    if hp < kh || wp < kw {
        return Err(QuickError::Run("Conv kernel larger than its input".into()));
    }
    let (oh, ow) = ((hp - kh) / sh + 1, (wp - kw) / sw + 1);
    let mut out = vec![0f32; c.co * oh * ow];
    // One zero-padded plane buffer, refilled per channel (the borders stay zero).
    let mut p = vec![0f32; hp * wp];
    let fill = |p: &mut [f32], plane: &[f32]| {
        for y in 0..h {
            p[(y + pt) * wp + pl..][..w].copy_from_slice(&plane[y * w..][..w]);
        }
    };
    if c.group == 1 {
        // im2col (the identity for 1×1, stride 1, no padding) then one matrix product.
        let cols: std::borrow::Cow<'_, [f32]> =
            if kh == 1 && kw == 1 && sh == 1 && sw == 1 && c.pads == [0; 4] {
                std::borrow::Cow::Borrowed(&x.data)
            } else {
                let mut cols = vec![0f32; ci * kh * kw * oh * ow];
                for (ch, plane) in x.data.chunks_exact(h * w).enumerate() {
                    fill(&mut p, plane);
                    for ky in 0..kh {
                        for kx in 0..kw {
                            let row = &mut cols[((ch * kh + ky) * kw + kx) * oh * ow..][..oh * ow];
                            for oy in 0..oh {
                                let src = &p[(oy * sh + ky) * wp + kx..];
                                for (ox, d) in row[oy * ow..][..ow].iter_mut().enumerate() {
                                    *d = src[ox * sw];
                                }
                            }
                        }
                    }
                }
                std::borrow::Cow::Owned(cols)
            };
        let k = ci * kh * kw;
        let run = |e: ndarray::ShapeError| QuickError::Run(e.to_string());
        let a = ArrayView2::from_shape((c.co, k), &c.w).map_err(run)?;
        let b = ArrayView2::from_shape((k, oh * ow), &cols[..]).map_err(run)?;
        let mut o = ArrayViewMut2::from_shape((c.co, oh * ow), &mut out).map_err(run)?;
        ndarray::linalg::general_mat_mul(1.0, &a, &b, 0.0, &mut o);
    } else {
        // Depthwise: one kernel per channel, rows accumulated so the inner loop vectorises.
        for (ch, plane) in x.data.chunks_exact(h * w).enumerate() {
            fill(&mut p, plane);
            let k = &c.w[ch * kh * kw..][..kh * kw];
            let o = &mut out[ch * oh * ow..][..oh * ow];
            for oy in 0..oh {
                let orow = &mut o[oy * ow..][..ow];
                for ky in 0..kh {
                    let src = &p[(oy * sh + ky) * wp..][..wp];
                    for kx in 0..kw {
                        let kv = k[ky * kw + kx];
                        if sw == 1 {
                            for (d, s) in orow.iter_mut().zip(&src[kx..]) {
                                *d += kv * s;
                            }
                        } else {
                            for (d, s) in orow.iter_mut().zip(src[kx..].iter().step_by(sw)) {
                                *d += kv * s;
                            }
                        }
                    }
                }
            }
        }
    }
    for (plane, b) in out.chunks_exact_mut(oh * ow).zip(&c.b) {
        for v in plane {
            *v += b;
        }
    }
    Ok(Value {
        dims: vec![c.co, oh, ow],
        data: out,
    })
}
