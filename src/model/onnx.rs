//! The graph inputs of an ONNX file: the few `onnx.proto` messages (field numbers from ONNX's
//! `onnx/onnx.proto`) on the path `ModelProto.graph.input[].type.tensor_type`, decoded with
//! prost. Every other field, weights included, is skipped undecoded.

use prost::Message;

#[derive(Clone, PartialEq, Message)]
struct ModelProto {
    #[prost(message, optional, tag = "7")]
    graph: Option<GraphProto>,
}

#[derive(Clone, PartialEq, Message)]
struct GraphProto {
    #[prost(message, repeated, tag = "1")]
    node: Vec<NodeProto>,
    #[prost(message, repeated, tag = "5")]
    initializer: Vec<TensorName>,
    #[prost(message, repeated, tag = "11")]
    input: Vec<ValueInfoProto>,
    #[prost(message, repeated, tag = "12")]
    output: Vec<ValueInfoProto>,
}

/// `NodeProto`, only what says which operator produces which tensor.
#[derive(Clone, PartialEq, Message)]
struct NodeProto {
    #[prost(string, repeated, tag = "2")]
    output: Vec<String>,
    #[prost(string, tag = "4")]
    op_type: String,
}

/// `TensorProto`, only its name: before IR version 4 weights were also listed as graph inputs.
#[derive(Clone, PartialEq, Message)]
struct TensorName {
    #[prost(string, tag = "8")]
    name: String,
}

#[derive(Clone, PartialEq, Message)]
struct ValueInfoProto {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(message, optional, tag = "2")]
    r#type: Option<TypeProto>,
}

#[derive(Clone, PartialEq, Message)]
struct TypeProto {
    #[prost(message, optional, tag = "1")]
    tensor_type: Option<TensorTypeProto>,
}

#[derive(Clone, PartialEq, Message)]
struct TensorTypeProto {
    #[prost(int32, tag = "1")]
    elem_type: i32,
    #[prost(message, optional, tag = "2")]
    shape: Option<TensorShapeProto>,
}

#[derive(Clone, PartialEq, Message)]
struct TensorShapeProto {
    #[prost(message, repeated, tag = "1")]
    dim: Vec<Dimension>,
}

#[derive(Clone, PartialEq, Message)]
struct Dimension {
    #[prost(int64, optional, tag = "1")]
    dim_value: Option<i64>,
    #[prost(string, optional, tag = "2")]
    dim_param: Option<String>,
}

/// One dimension of an input: fixed, or named / unknown (any size at run time).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dim {
    Fixed(i64),
    Free(Option<String>),
}

impl std::fmt::Display for Dim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Dim::Fixed(n) => write!(f, "{n}"),
            Dim::Free(Some(name)) => write!(f, "{name}"),
            Dim::Free(None) => write!(f, "?"),
        }
    }
}

/// A graph input that is fed at run time (not a weight).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    pub name: String,
    /// `TensorProto.DataType` (1 = float); `None` when the input is not a tensor.
    pub elem_type: Option<i32>,
    /// `None` when the file does not say (any rank).
    pub shape: Option<Vec<Dim>>,
}

/// `TensorProto.DataType.FLOAT`: what the function feeds.
pub const FLOAT: i32 = 1;

impl Input {
    /// `float [1, 3, 224, 224]`.
    pub fn describe(&self) -> String {
        let ty = match self.elem_type {
            Some(FLOAT) => "float".to_string(),
            Some(t) => elem_type_name(t),
            None => "non-tensor".to_string(),
        };
        match &self.shape {
            Some(dims) => format!(
                "{ty} [{}]",
                dims.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            None => format!("{ty} of any shape"),
        }
    }
}

/// Names of `TensorProto.DataType` values a classifier input might plausibly have.
pub fn elem_type_name(t: i32) -> String {
    match t {
        1 => "float",
        2 => "uint8",
        3 => "int8",
        6 => "int32",
        7 => "int64",
        10 => "float16",
        11 => "double",
        16 => "bfloat16",
        _ => return format!("element type {t}"),
    }
    .to_string()
}

/// The inputs of the serialized model `bytes`, in graph order, weights left out.
pub fn inputs(bytes: &[u8]) -> Result<Vec<Input>, prost::DecodeError> {
    let graph = ModelProto::decode(bytes)?.graph.unwrap_or_default();
    let weights: std::collections::HashSet<&str> =
        graph.initializer.iter().map(|t| t.name.as_str()).collect();
    Ok(graph
        .input
        .iter()
        .filter(|i| !weights.contains(i.name.as_str()))
        .map(value)
        .collect())
}

/// The outputs of the serialized model `bytes`, in graph order (the function reads the first).
pub fn outputs(bytes: &[u8]) -> Result<Vec<Input>, prost::DecodeError> {
    let graph = ModelProto::decode(bytes)?.graph.unwrap_or_default();
    Ok(graph.output.iter().map(value).collect())
}

/// The operator (`Softmax`, `Gemm`, …) of the node producing the tensor `name`, if any.
pub fn producer(bytes: &[u8], name: &str) -> Result<Option<String>, prost::DecodeError> {
    let graph = ModelProto::decode(bytes)?.graph.unwrap_or_default();
    Ok(graph
        .node
        .iter()
        .find(|n| n.output.iter().any(|o| o == name))
        .map(|n| n.op_type.clone()))
}

fn value(i: &ValueInfoProto) -> Input {
    let tensor = i.r#type.as_ref().and_then(|t| t.tensor_type.as_ref());
    Input {
        name: i.name.clone(),
        elem_type: tensor.map(|t| t.elem_type),
        shape: tensor.and_then(|t| t.shape.as_ref()).map(|s| {
            s.dim
                .iter()
                .map(|d| match d.dim_value {
                    Some(n) => Dim::Fixed(n),
                    None => Dim::Free(d.dim_param.clone()),
                })
                .collect()
        }),
    }
}

impl Input {
    /// As an output: the number of classes, the product of every dimension after the first
    /// (the batch), or of the only one; `None` when one of them is not fixed.
    pub fn class_count(&self) -> Option<u64> {
        let dims = self.shape.as_deref()?;
        let classes = match dims {
            [_, rest @ ..] if !rest.is_empty() => rest,
            d => d,
        };
        classes.iter().try_fold(1u64, |acc, d| match d {
            Dim::Fixed(n) if *n > 0 => acc.checked_mul(*n as u64),
            _ => None,
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A serialized model with one weight `w` (listed as an input, as IR < 4 did) and the
    /// inputs given as `(name, dims)`, `None` for a named dimension.
    pub(crate) fn model(inputs: &[(&str, &[Option<i64>])]) -> Vec<u8> {
        model_with_output(inputs, &[])
    }

    /// [`model`] with one output of `out` dims.
    pub(crate) fn model_with_output(
        inputs: &[(&str, &[Option<i64>])],
        out: &[Option<i64>],
    ) -> Vec<u8> {
        let dims = |d: &[Option<i64>]| TensorShapeProto {
            dim: d
                .iter()
                .map(|v| Dimension {
                    dim_value: *v,
                    dim_param: v.is_none().then(|| "batch".to_string()),
                })
                .collect(),
        };
        let vi = |name: &str, d: &[Option<i64>]| ValueInfoProto {
            name: name.into(),
            r#type: Some(TypeProto {
                tensor_type: Some(TensorTypeProto {
                    elem_type: FLOAT,
                    shape: Some(dims(d)),
                }),
            }),
        };
        let mut input = vec![vi("w", &[Some(8)])];
        input.extend(inputs.iter().map(|(n, d)| vi(n, d)));
        ModelProto {
            graph: Some(GraphProto {
                node: vec![NodeProto {
                    output: vec!["probs".into()],
                    op_type: "Softmax".into(),
                }],
                initializer: vec![TensorName { name: "w".into() }],
                input,
                output: vec![vi("probs", out)],
            }),
        }
        .encode_to_vec()
    }

    #[test]
    fn weights_are_not_inputs_and_free_dims_keep_their_names() {
        let got = inputs(&model(&[("pixels", &[None, Some(3), Some(64), Some(64)])])).unwrap();
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0].name, "pixels");
        assert_eq!(got[0].describe(), "float [batch, 3, 64, 64]");
    }

    #[test]
    fn outputs_count_classes_after_the_batch() {
        let m = model_with_output(&[("x", &[Some(1)])], &[None, Some(3)]);
        let out = outputs(&m).unwrap();
        assert_eq!(out[0].name, "probs");
        assert_eq!(out[0].class_count(), Some(3));
        let m = model_with_output(&[("x", &[Some(1)])], &[Some(1), None]);
        assert_eq!(outputs(&m).unwrap()[0].class_count(), None);
        let m = model_with_output(&[("x", &[Some(1)])], &[Some(1000)]);
        assert_eq!(outputs(&m).unwrap()[0].class_count(), Some(1000));
    }

    #[test]
    fn garbage_is_an_error_not_an_empty_model() {
        assert!(inputs(b"\xff\xff\xff\xff not protobuf").is_err());
    }
}
