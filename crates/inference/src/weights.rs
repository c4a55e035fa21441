//! Reading and writing safetensors data: F32, F16 and BF16 tensors in, F32 tensors out, with
//! errors that name the file and the tensor.

use crate::{InferenceError, Result};
use candle_core::{DType, Device, Tensor};
use safetensors::{Dtype, SafeTensors, tensor::TensorView};
use std::collections::BTreeMap;

/// The dtypes a checkpoint may store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreDtype {
    /// 32-bit floats.
    F32,
    /// IEEE half precision.
    F16,
    /// bfloat16.
    BF16,
}

impl StoreDtype {
    /// The `torch_dtype` name transformers writes.
    pub fn torch_name(self) -> &'static str {
        match self {
            Self::F32 => "float32",
            Self::F16 => "float16",
            Self::BF16 => "bfloat16",
        }
    }

    fn safetensors(self) -> Dtype {
        match self {
            Self::F32 => Dtype::F32,
            Self::F16 => Dtype::F16,
            Self::BF16 => Dtype::BF16,
        }
    }
}

/// Parses a safetensors buffer; `what` names it in errors.
pub(crate) fn parse<'a>(bytes: &'a [u8], what: &str) -> Result<SafeTensors<'a>> {
    SafeTensors::deserialize(bytes).map_err(|e| InferenceError::Safetensors {
        what: what.to_string(),
        reason: e.to_string(),
    })
}

/// The shape of every tensor of a parsed file, checking each dtype is one we read.
pub(crate) fn shapes(st: &SafeTensors<'_>, what: &str) -> Result<BTreeMap<String, Vec<usize>>> {
    let mut out = BTreeMap::new();
    for (name, view) in st.iter() {
        check_dtype(&view, name, what)?;
        out.insert(name.to_string(), view.shape().to_vec());
    }
    Ok(out)
}

fn check_dtype(view: &TensorView<'_>, name: &str, what: &str) -> Result<()> {
    match view.dtype() {
        Dtype::F32 | Dtype::F16 | Dtype::BF16 => Ok(()),
        other => Err(InferenceError::Safetensors {
            what: what.to_string(),
            reason: format!("tensor `{name}` has dtype {other:?} (supported: F32, F16, BF16)"),
        }),
    }
}

/// Reads one tensor as F32 on `device`.
pub(crate) fn read(
    st: &SafeTensors<'_>,
    name: &str,
    what: &str,
    device: &Device,
) -> Result<Tensor> {
    let view = st.tensor(name).map_err(|_| InferenceError::MissingTensor {
        name: name.to_string(),
        context: format!("in {what}"),
    })?;
    check_dtype(&view, name, what)?;
    let data = view.data();
    // The bytes of a tensor may sit at any offset of a mapped file, so they are decoded from
    // little-endian chunks rather than reinterpreted in place.
    let values: Vec<f32> = match view.dtype() {
        Dtype::F16 => data
            .chunks_exact(2)
            .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
            .collect(),
        Dtype::BF16 => data
            .chunks_exact(2)
            .map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32())
            .collect(),
        _ => data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
    };
    Ok(Tensor::from_vec(values, view.shape(), device)?)
}

/// Serialises `tensors` (any float dtype, converted) as a safetensors buffer of `dtype`.
pub(crate) fn encode(tensors: &BTreeMap<String, Tensor>, dtype: StoreDtype) -> Result<Vec<u8>> {
    let mut buffers = Vec::with_capacity(tensors.len());
    for (name, t) in tensors {
        let values = t.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
        let bytes: Vec<u8> = match dtype {
            StoreDtype::F32 => values.iter().flat_map(|v| v.to_le_bytes()).collect(),
            StoreDtype::F16 => values
                .iter()
                .flat_map(|v| half::f16::from_f32(*v).to_le_bytes())
                .collect(),
            StoreDtype::BF16 => values
                .iter()
                .flat_map(|v| half::bf16::from_f32(*v).to_le_bytes())
                .collect(),
        };
        buffers.push((name.as_str(), t.dims().to_vec(), bytes));
    }
    let mut views = Vec::with_capacity(buffers.len());
    for (name, shape, bytes) in &buffers {
        let view = TensorView::new(dtype.safetensors(), shape.clone(), bytes).map_err(|e| {
            InferenceError::Safetensors {
                what: format!("tensor `{name}`"),
                reason: e.to_string(),
            }
        })?;
        views.push((*name, view));
    }
    let mut metadata = std::collections::HashMap::new();
    metadata.insert("format".to_string(), "pt".to_string());
    safetensors::serialize(views, Some(metadata)).map_err(|e| InferenceError::Safetensors {
        what: "output".into(),
        reason: e.to_string(),
    })
}

/// Reads a whole file.
pub(crate) fn read_file(path: &std::path::Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| InferenceError::io("reading", path, e))
}

/// Writes a whole file.
pub(crate) fn write_file(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).map_err(|e| InferenceError::io("writing", path, e))
}
