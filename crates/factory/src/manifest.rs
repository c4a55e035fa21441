//! The training manifest: what a factory job was given and what it produced, written last, so
//! a folder with a manifest is a complete job.

use crate::{Datapoint, FactoryError, Result, TrainSpec};
use alloy_primitives::{B256, keccak256};
use serde::{Deserialize, Serialize};
use std::{collections::BTreeMap, path::Path};

/// The manifest file of a job's output folder.
pub const MANIFEST: &str = "manifest.json";

/// What a job trained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    /// A LoRA adapter of a base model (`adapter/`).
    Lora,
    /// A base model from scratch (`model/`).
    Base,
}

/// The base model of a LoRA job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaseRef {
    /// Where it was read from.
    pub path: String,
    /// [`model_dir_hash`] of its folder.
    pub hash: B256,
}

/// The data a job was trained on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataSnapshot {
    /// The Datanet id.
    pub datanet: B256,
    /// Merkle root over the datapoints (see [`crate::Dataset::root`]).
    pub root: B256,
    /// Every document, sorted by hash, with its contributor and split.
    pub datapoints: Vec<Datapoint>,
}

/// The figures of a job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Results {
    /// Optimiser steps.
    pub steps: usize,
    /// Predicted tokens trained on, over all epochs.
    pub train_tokens: u64,
    /// Mean training loss of the last epoch (nats per token).
    pub final_train_loss: f64,
    /// Mean loss of the trained model on the held-out documents (`None`: nothing held out).
    pub heldout_loss: Option<f64>,
    /// The same for the base model alone (LoRA jobs).
    pub base_heldout_loss: Option<f64>,
    /// Seconds from start to the manifest (of the last run, when resumed).
    pub wall_time_s: f64,
    /// The step a resumed job continued from.
    pub resumed_at_step: Option<usize>,
}

/// The attribution artifacts built with the model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Artifacts {
    /// The projected DataInf gradient store of the training documents (LoRA jobs), relative to
    /// the output folder.
    pub gradient_store: Option<String>,
    /// The model hash recorded in the store's header (of the adapter's parameters).
    pub gradient_model_hash: Option<B256>,
    /// The suffix-array index of the training documents, relative to the output folder.
    pub lineage_index: String,
}

/// A job's manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Format version (1).
    pub version: u32,
    /// What was trained.
    pub kind: JobKind,
    /// The base model (LoRA jobs).
    pub base_model: Option<BaseRef>,
    /// The trained files (`adapter/…` or `model/…`) with their keccak256.
    pub files: BTreeMap<String, B256>,
    /// The data.
    pub data: DataSnapshot,
    /// The hyper-parameters, seed included.
    pub hyperparameters: TrainSpec,
    /// The figures.
    pub results: Results,
    /// The attribution artifacts.
    pub artifacts: Artifacts,
}

impl Manifest {
    /// Reads the manifest of the job folder `dir` and checks that the trained files are those
    /// it lists.
    pub fn read(dir: &Path) -> Result<Self> {
        let path = dir.join(MANIFEST);
        let bytes = std::fs::read(&path).map_err(FactoryError::io("reading", &path))?;
        let manifest: Self = serde_json::from_slice(&bytes)
            .map_err(|e| FactoryError::format(&path, e.to_string()))?;
        if manifest.version != 1 {
            return Err(FactoryError::format(
                &path,
                format!("unknown manifest version {}", manifest.version),
            ));
        }
        for (file, want) in &manifest.files {
            let p = dir.join(file);
            let got = keccak256(std::fs::read(&p).map_err(FactoryError::io("reading", &p))?);
            if &got != want {
                return Err(FactoryError::format(
                    &p,
                    "the file's hash differs from the manifest's",
                ));
            }
        }
        Ok(manifest)
    }

    /// Writes the manifest into `dir`.
    pub fn write(&self, dir: &Path) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(self)
            .map_err(|e| FactoryError::format(dir, e.to_string()))?;
        crate::write_atomic(&dir.join(MANIFEST), &bytes)
    }
}

/// The hashes of the regular files of `dir/sub`, keyed `sub/<name>`, sorted.
pub fn file_hashes(dir: &Path, sub: &str) -> Result<BTreeMap<String, B256>> {
    let folder = dir.join(sub);
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(&folder).map_err(FactoryError::io("reading", &folder))? {
        let entry = entry.map_err(FactoryError::io("reading", &folder))?;
        let path = entry.path();
        if path.is_file() {
            let name = entry.file_name().to_string_lossy().to_string();
            let bytes = std::fs::read(&path).map_err(FactoryError::io("reading", &path))?;
            out.insert(format!("{sub}/{name}"), keccak256(bytes));
        }
    }
    Ok(out)
}

/// The identity of a base model folder: keccak256 over `name ‖ 0 ‖ keccak256(bytes)` of its
/// `config.json`, `tokenizer.json` and weight files (`*.safetensors`, the shard index), in name
/// order. Other files (a README, a generation config) do not change what is computed and are
/// left out.
pub fn model_dir_hash(dir: &Path) -> Result<B256> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(FactoryError::io("reading", dir))? {
        let entry = entry.map_err(FactoryError::io("reading", dir))?;
        let name = entry.file_name().to_string_lossy().to_string();
        let counts = name == "config.json"
            || name == "tokenizer.json"
            || name.ends_with(".safetensors")
            || name == "model.safetensors.index.json";
        if counts && entry.path().is_file() {
            names.push(name);
        }
    }
    names.sort();
    let mut buf = Vec::new();
    for name in names {
        let path = dir.join(&name);
        let bytes = std::fs::read(&path).map_err(FactoryError::io("reading", &path))?;
        buf.extend_from_slice(name.as_bytes());
        buf.push(0);
        buf.extend_from_slice(keccak256(bytes).as_slice());
    }
    Ok(keccak256(buf))
}
