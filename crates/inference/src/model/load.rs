//! Loading a base model from a folder in the Hugging Face layout: `config.json`, the weights
//! (`model.safetensors`, or shards listed by `model.safetensors.index.json`), `tokenizer.json`,
//! and when present `generation_config.json` and the chat template (`chat_template.jinja`, or
//! the entry of `tokenizer_config.json`).
//!
//! Every header is parsed and every name and shape checked against the configuration before any
//! tensor data is decoded, so a bad checkpoint fails fast with the name of what is wrong.

use super::{LlamaModel, names};
use crate::{
    InferenceError, Result,
    config::{GenerationConfig, ModelConfig, chat_template_from_json},
    weights,
};
use candle_core::Device;
use memmap2::Mmap;
use std::{
    collections::BTreeMap,
    fs::File,
    path::{Path, PathBuf},
};
use tokenizers::Tokenizer;

/// The single-file weights.
pub(crate) const WEIGHTS: &str = "model.safetensors";
/// The index of sharded weights.
pub(crate) const WEIGHTS_INDEX: &str = "model.safetensors.index.json";
/// The chat template file of transformers' newer layout.
const CHAT_TEMPLATE: &str = "chat_template.jinja";

/// A base model with the files that come with it.
#[derive(Debug, Clone)]
pub struct BaseModel {
    /// The network.
    pub model: LlamaModel,
    /// Its tokenizer.
    pub tokenizer: Tokenizer,
    /// Generation defaults (empty when the folder has no `generation_config.json`).
    pub generation: GenerationConfig,
    /// The chat template, from `chat_template.jinja` or else `tokenizer_config.json`.
    pub chat_template: Option<String>,
}

/// Loads the base model stored in `dir`, computing in F32 on `device`.
pub fn load_model_dir(dir: &Path, device: &Device) -> Result<BaseModel> {
    let config = ModelConfig::from_json(&weights::read_file(&dir.join("config.json"))?)?;
    let model = load_weights(dir, config, device)?;
    let tokenizer_path = dir.join("tokenizer.json");
    let tokenizer = Tokenizer::from_bytes(weights::read_file(&tokenizer_path)?)
        .map_err(|e| InferenceError::Tokenizer(format!("{}: {e}", tokenizer_path.display())))?;
    let optional = |name: &str| -> Result<Option<Vec<u8>>> {
        let path = dir.join(name);
        if path.exists() {
            weights::read_file(&path).map(Some)
        } else {
            Ok(None)
        }
    };
    let generation = match optional("generation_config.json")? {
        Some(bytes) => GenerationConfig::from_json(&bytes)?,
        None => GenerationConfig::default(),
    };
    // transformers (since 4.47, and always when saving in 5) writes the template to
    // `chat_template.jinja` instead of `tokenizer_config.json`, and prefers that file on load.
    let chat_template = match optional(CHAT_TEMPLATE)? {
        Some(bytes) => Some(String::from_utf8(bytes).map_err(|_| InferenceError::Json {
            what: CHAT_TEMPLATE.into(),
            reason: "not UTF-8".into(),
        })?),
        None => match optional("tokenizer_config.json")? {
            Some(bytes) => chat_template_from_json(&bytes)?,
            None => None,
        },
    };
    Ok(BaseModel {
        model,
        tokenizer,
        generation,
        chat_template,
    })
}

/// The weight files of a folder, and the index's tensor → file map when sharded.
type WeightFiles = (Vec<PathBuf>, Option<BTreeMap<String, String>>);

fn weight_files(dir: &Path) -> Result<WeightFiles> {
    let index_path = dir.join(WEIGHTS_INDEX);
    if index_path.exists() {
        let bytes = weights::read_file(&index_path)?;
        let value = crate::config::Fields::parse(WEIGHTS_INDEX, &bytes)?;
        let bad = |reason: String| InferenceError::config(WEIGHTS_INDEX, "weight_map", reason);
        let map = value
            .get("weight_map")
            .and_then(|m| m.as_object())
            .ok_or_else(|| bad("missing or not an object".into()))?;
        let mut weight_map = BTreeMap::new();
        for (tensor, file) in map {
            let file = file
                .as_str()
                .ok_or_else(|| bad(format!("`{tensor}` maps to a non-string")))?;
            // The index comes with the model: it must not point outside the folder.
            let plain = !file.is_empty()
                && Path::new(file).file_name().and_then(|f| f.to_str()) == Some(file)
                && file != ".."
                && file.ends_with(".safetensors");
            if !plain {
                return Err(bad(format!(
                    "`{tensor}` maps to `{file}`, not a .safetensors file in the model folder"
                )));
            }
            weight_map.insert(tensor.clone(), file.to_string());
        }
        let mut files: Vec<String> = weight_map.values().cloned().collect();
        files.sort();
        files.dedup();
        return Ok((
            files.iter().map(|f| dir.join(f)).collect(),
            Some(weight_map),
        ));
    }
    let single = dir.join(WEIGHTS);
    if single.exists() {
        return Ok((vec![single], None));
    }
    Err(InferenceError::MissingTensor {
        name: WEIGHTS.into(),
        context: format!(
            "{} has neither {WEIGHTS} nor {WEIGHTS_INDEX}",
            dir.display()
        ),
    })
}

fn map_file(path: &Path) -> Result<Mmap> {
    let file = File::open(path).map_err(|e| InferenceError::io("opening", path, e))?;
    // SAFETY: the mapping is read-only and lives only while this load runs; as with every
    // memory-mapped loader (candle, safetensors), the file must not be truncated meanwhile.
    unsafe { Mmap::map(&file) }.map_err(|e| InferenceError::io("mapping", path, e))
}

/// Loads and checks the weights of `dir` for `config`.
fn load_weights(dir: &Path, config: ModelConfig, device: &Device) -> Result<LlamaModel> {
    let (files, weight_map) = weight_files(dir)?;
    let maps = files
        .iter()
        .map(|f| map_file(f))
        .collect::<Result<Vec<_>>>()?;
    let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    let parsed = maps
        .iter()
        .zip(&names)
        .map(|(m, what)| weights::parse(m, what))
        .collect::<Result<Vec<_>>>()?;
    let mut shapes = BTreeMap::new();
    let mut location = BTreeMap::new();
    for (fi, st) in parsed.iter().enumerate() {
        for (name, shape) in weights::shapes(st, &names[fi])? {
            if let Some(prev) = location.insert(name.clone(), fi) {
                return Err(InferenceError::UnexpectedTensor {
                    name,
                    context: format!("stored twice, in {} and {}", names[prev], names[fi]),
                });
            }
            shapes.insert(name, shape);
        }
    }
    if let Some(map) = &weight_map {
        for (tensor, file) in map {
            let in_file = location.get(tensor).map(|&fi| &files[fi]);
            if in_file != Some(&dir.join(file)) {
                return Err(InferenceError::MissingTensor {
                    name: tensor.clone(),
                    context: format!("{WEIGHTS_INDEX} places it in {file}"),
                });
            }
        }
        if let Some(stray) = location.keys().find(|t| !map.contains_key(*t)) {
            return Err(InferenceError::UnexpectedTensor {
                name: stray.clone(),
                context: format!("in a shard but not in {WEIGHTS_INDEX}"),
            });
        }
    }
    names::check_tensors(&config, &shapes)?;
    let mut tensors = BTreeMap::new();
    for (name, &fi) in &location {
        if names::is_ignored_buffer(name) {
            continue;
        }
        tensors.insert(
            name.clone(),
            weights::read(&parsed[fi], name, &names[fi], device)?,
        );
    }
    LlamaModel::from_tensors(config, tensors, device)
}
