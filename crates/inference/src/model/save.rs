//! Saving a base model in the Hugging Face layout, so models made here (random ones in tests)
//! load with transformers as well as with [`load_model_dir`](super::load_model_dir).

use super::{
    LlamaModel,
    load::{WEIGHTS, WEIGHTS_INDEX},
    names,
};
use crate::{
    InferenceError, Result,
    weights::{self, StoreDtype},
};
use serde_json::{Value, json};
use std::{collections::BTreeMap, path::Path};
use tokenizers::Tokenizer;

/// How to write the weights.
#[derive(Debug, Clone, Copy)]
pub struct SaveOptions {
    /// The stored dtype.
    pub dtype: StoreDtype,
    /// Start a new shard once one would pass this many bytes of tensor data (`None`: one
    /// `model.safetensors`). Every shard holds at least one tensor.
    pub max_shard_bytes: Option<usize>,
}

impl Default for SaveOptions {
    fn default() -> Self {
        Self {
            dtype: StoreDtype::F32,
            max_shard_bytes: None,
        }
    }
}

fn to_json_bytes(v: &Value) -> Result<Vec<u8>> {
    serde_json::to_vec_pretty(v).map_err(|e| InferenceError::Json {
        what: "output".into(),
        reason: e.to_string(),
    })
}

/// Writes `model` and `tokenizer` to `dir` (created if needed): `config.json`,
/// `generation_config.json`, `tokenizer.json`, `tokenizer_config.json` and the weights.
pub fn save_model_dir(
    model: &LlamaModel,
    tokenizer: &Tokenizer,
    dir: &Path,
    opts: SaveOptions,
) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| InferenceError::io("creating", dir, e))?;
    let c = model.config();
    let mut config = c.to_json();
    config["torch_dtype"] = json!(opts.dtype.torch_name());
    weights::write_file(&dir.join("config.json"), &to_json_bytes(&config)?)?;
    let mut generation = json!({ "_from_model_config": true });
    if let Some(bos) = c.bos_token_id {
        generation["bos_token_id"] = json!(bos);
    }
    if !c.eos_token_ids.is_empty() {
        generation["eos_token_id"] = json!(c.eos_token_ids);
    }
    weights::write_file(
        &dir.join("generation_config.json"),
        &to_json_bytes(&generation)?,
    )?;
    let tok_json = tokenizer
        .to_string(true)
        .map_err(|e| InferenceError::Tokenizer(e.to_string()))?;
    weights::write_file(&dir.join("tokenizer.json"), tok_json.as_bytes())?;
    let token = |id: Option<u32>| id.and_then(|i| tokenizer.id_to_token(i));
    let tok_config = json!({
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": token(c.bos_token_id),
        "eos_token": token(c.eos_token_ids.first().copied()),
        "model_max_length": c.max_position_embeddings,
        "clean_up_tokenization_spaces": false,
    });
    weights::write_file(
        &dir.join("tokenizer_config.json"),
        &to_json_bytes(&tok_config)?,
    )?;
    save_weights(model, dir, opts)
}

fn save_weights(model: &LlamaModel, dir: &Path, opts: SaveOptions) -> Result<()> {
    let mut tensors = model.to_tensors()?;
    let bytes_per = match opts.dtype {
        StoreDtype::F32 => 4,
        StoreDtype::F16 | StoreDtype::BF16 => 2,
    };
    // Shards follow the block order of the checkpoint, as transformers writes them.
    let order = names::expected_tensors(model.config());
    let mut shards: Vec<BTreeMap<String, candle_core::Tensor>> = vec![BTreeMap::new()];
    let mut size = 0usize;
    let mut total = 0usize;
    for (name, shape) in order {
        let Some(t) = tensors.remove(&name) else {
            continue;
        };
        let n = shape.iter().product::<usize>() * bytes_per;
        if let (Some(max), Some(last)) = (opts.max_shard_bytes, shards.last())
            && !last.is_empty()
            && size + n > max
        {
            shards.push(BTreeMap::new());
            size = 0;
        }
        size += n;
        total += n;
        if let Some(last) = shards.last_mut() {
            last.insert(name, t);
        }
    }
    if shards.len() == 1 {
        let bytes = weights::encode(&shards[0], opts.dtype)?;
        return weights::write_file(&dir.join(WEIGHTS), &bytes);
    }
    let count = shards.len();
    let mut weight_map = serde_json::Map::new();
    for (i, shard) in shards.iter().enumerate() {
        let file = format!("model-{:05}-of-{count:05}.safetensors", i + 1);
        for name in shard.keys() {
            weight_map.insert(name.clone(), json!(file));
        }
        weights::write_file(&dir.join(&file), &weights::encode(shard, opts.dtype)?)?;
    }
    let index = json!({ "metadata": { "total_size": total }, "weight_map": weight_map });
    weights::write_file(&dir.join(WEIGHTS_INDEX), &to_json_bytes(&index)?)
}
