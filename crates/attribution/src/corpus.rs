//! Documents folders, and one assembled from real text: the Markdown documentation of the crates
//! in a cargo registry.
//!
//! A documents folder holds one sub-folder per contributor, named by the contributor's address
//! (`0x` + 40 hex digits); every regular file in it is one document (UTF-8 text) whose datapoint
//! id is the keccak256 of its bytes. Hidden entries are skipped. `openledger attribution index
//! build` indexes such a folder and `openledger attribution eval --corpus` measures attribution
//! on one.

use crate::{AttributionError, Result, lineage::DocMeta, lineage::TextDocument};
use alloy_primitives::{Address, B256, keccak256};
use serde::Serialize;
use std::{
    collections::{BTreeMap, HashSet},
    path::{Path, PathBuf},
};

fn io(context: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> AttributionError {
    let path = path.to_path_buf();
    move |e| AttributionError::io(context, path, e)
}

/// The entries of `dir` that are not hidden, sorted by name.
fn visible_entries(dir: &Path) -> Result<Vec<std::fs::DirEntry>> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(io("reading", dir))?
        .collect::<std::io::Result<_>>()
        .map_err(io("reading", dir))?;
    entries.retain(|e| !e.file_name().to_string_lossy().starts_with('.'));
    entries.sort_by_key(std::fs::DirEntry::file_name);
    Ok(entries)
}

/// Reads a documents folder (see the module documentation), sorted by contributor then file
/// name, every document in Datanet `datanet`.
pub fn read_documents(dir: &Path, datanet: B256) -> Result<Vec<TextDocument>> {
    let mut docs = Vec::new();
    for entry in visible_entries(dir)? {
        let path = entry.path();
        if !entry.file_type().map_err(io("reading", &path))?.is_dir() {
            continue;
        }
        let name = entry.file_name().to_string_lossy().to_string();
        let contributor: Address = name.parse().map_err(|_| {
            AttributionError::invalid(format!(
                "{}: sub-folders must be named by the contributor's address (0x + 40 hex digits)",
                path.display()
            ))
        })?;
        for f in visible_entries(&path)? {
            let file = f.path();
            if !f.file_type().map_err(io("reading", &file))?.is_file() {
                continue;
            }
            let bytes = std::fs::read(&file).map_err(io("reading", &file))?;
            let datapoint = keccak256(&bytes);
            let text = String::from_utf8(bytes).map_err(|_| {
                AttributionError::invalid(format!("{} is not UTF-8 text", file.display()))
            })?;
            docs.push(TextDocument {
                meta: DocMeta {
                    datapoint,
                    contributor,
                    datanet,
                },
                text,
            });
        }
    }
    if docs.is_empty() {
        return Err(AttributionError::invalid(format!(
            "no documents under {} (expected <dir>/<contributor address>/<files>)",
            dir.display()
        )));
    }
    Ok(docs)
}

/// The cargo registry source folders (`$CARGO_HOME/registry/src/*`, `CARGO_HOME` defaulting to
/// `~/.cargo`), sorted; empty when there is none.
pub fn cargo_registry_sources() -> Vec<PathBuf> {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    let Some(src) = home.map(|h| h.join("registry").join("src")) else {
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(src)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default();
    dirs.sort();
    dirs
}

/// What [`assemble_registry_corpus`] wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegistryCorpus {
    /// Crates whose documents were taken (the newest version of each).
    pub crates: usize,
    /// Documents written.
    pub documents: usize,
    /// Contributors (sub-folders).
    pub contributors: usize,
    /// Bytes of text written.
    pub bytes: u64,
}

/// A crate's `name`, `version` and `repository` from its (normalised) `Cargo.toml`.
fn package_fields(manifest: &str) -> (Option<String>, Option<String>, Option<String>) {
    let (mut name, mut version, mut repository) = (None, None, None);
    let mut in_package = false;
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_package = line == "[package]";
            continue;
        }
        if !in_package {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let value = value.trim().trim_matches('"').to_string();
        match key.trim() {
            "name" => name = Some(value),
            "version" => version = Some(value),
            "repository" => repository = Some(value),
            _ => {}
        }
    }
    (name, version, repository)
}

/// The owner of a repository URL: `github.com/<owner>/...` gives `github.com/<owner>`, lower
/// case; `None` for a URL without an owner segment.
fn repository_owner(url: &str) -> Option<String> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let mut parts = rest.split('/').filter(|p| !p.is_empty());
    let host = parts.next()?.trim_start_matches("www.");
    let owner = parts.next()?;
    Some(format!("{host}/{owner}").to_lowercase())
}

/// Numeric components of a version, for choosing the newest (pre-release tags compare as text).
fn version_key(v: &str) -> (Vec<u64>, String) {
    let (core, pre) = v.split_once('-').unwrap_or((v, ""));
    let nums = core.split('.').map(|p| p.parse().unwrap_or(0)).collect();
    // A release sorts after its pre-releases.
    (
        nums,
        if pre.is_empty() {
            "~".into()
        } else {
            pre.into()
        },
    )
}

/// The Markdown documents of a crate folder: `*.md` at its root and in `docs/`.
fn markdown_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for sub in [dir.to_path_buf(), dir.join("docs")] {
        let Ok(rd) = std::fs::read_dir(&sub) else {
            continue;
        };
        let mut here: Vec<PathBuf> = rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && p.extension().is_some_and(|e| e.eq_ignore_ascii_case("md")))
            .collect();
        here.sort();
        files.extend(here);
    }
    files
}

/// The newest version of a crate seen so far: its version key, folder and owner.
type Newest = ((Vec<u64>, String), PathBuf, String);

/// Assembles a documents folder in `out` from the crates under `sources` (cargo registry source
/// folders, see [`cargo_registry_sources`]): the Markdown files (`*.md` at a crate's root and in
/// its `docs/`) of the newest version of every crate, one contributor per repository owner
/// (`github.com/<owner>`, from the `repository` field of its `Cargo.toml`; the crate name when
/// it has none), whose address is the last 20 bytes of `keccak256("owner:" ‖ owner)`. Files that
/// are not UTF-8, larger than `max_file_bytes` or identical to one already taken are skipped; at
/// most `max_docs` documents are taken, in an order fixed by their paths' hashes.
/// Deterministic for the same registry contents (which `Cargo.lock` fixes).
pub fn assemble_registry_corpus(
    sources: &[PathBuf],
    out: &Path,
    max_docs: usize,
    max_file_bytes: u64,
) -> Result<RegistryCorpus> {
    // Newest version of every crate: name → (version key, folder, owner).
    let mut crates: BTreeMap<String, Newest> = BTreeMap::new();
    for src in sources {
        for entry in visible_entries(src)? {
            let dir = entry.path();
            let Ok(manifest) = std::fs::read_to_string(dir.join("Cargo.toml")) else {
                continue;
            };
            let (Some(name), Some(version), repository) = package_fields(&manifest) else {
                continue;
            };
            let owner = repository
                .as_deref()
                .and_then(repository_owner)
                .unwrap_or_else(|| format!("crate/{name}"));
            let key = version_key(&version);
            if crates.get(&name).is_none_or(|(k, _, _)| *k < key) {
                crates.insert(name, (key, dir, owner));
            }
        }
    }
    // Candidate documents in an order fixed by their relative paths' hashes.
    let mut candidates: Vec<(B256, String, PathBuf, String)> = Vec::new();
    for (name, (_, dir, owner)) in &crates {
        for file in markdown_files(dir) {
            let rel = file.strip_prefix(dir).unwrap_or(&file).to_string_lossy();
            let label = format!("{name}--{}", rel.replace(['/', '\\'], "_"));
            candidates.push((keccak256(label.as_bytes()), label, file, owner.clone()));
        }
    }
    candidates.sort();
    std::fs::create_dir_all(out).map_err(io("creating", out))?;
    let mut seen: HashSet<B256> = HashSet::new();
    let mut owners: HashSet<String> = HashSet::new();
    let mut taken_crates: HashSet<&str> = HashSet::new();
    let (mut documents, mut bytes) = (0usize, 0u64);
    for (_, label, file, owner) in &candidates {
        if documents >= max_docs {
            break;
        }
        let Ok(meta) = std::fs::metadata(file) else {
            continue;
        };
        if meta.len() > max_file_bytes || meta.len() == 0 {
            continue;
        }
        let content = std::fs::read(file).map_err(io("reading", file))?;
        if std::str::from_utf8(&content).is_err() || !seen.insert(keccak256(&content)) {
            continue;
        }
        let address = Address::from_slice(&keccak256(format!("owner:{owner}").as_bytes())[12..]);
        let folder = out.join(format!("{address:#x}"));
        std::fs::create_dir_all(&folder).map_err(io("creating", &folder))?;
        let dst = folder.join(label);
        std::fs::write(&dst, &content).map_err(io("writing", &dst))?;
        owners.insert(owner.clone());
        taken_crates.insert(label.split("--").next().unwrap_or(label));
        documents += 1;
        bytes += content.len() as u64;
    }
    Ok(RegistryCorpus {
        crates: taken_crates.len(),
        documents,
        contributors: owners.len(),
        bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cargo_manifest_fields_and_owners() {
        let manifest = "[package]\nedition = \"2021\"\nname = \"md-5\"\nversion = \"0.10.6\"\nrepository = \"https://github.com/RustCrypto/hashes\"\n\n[dependencies.digest]\nversion = \"0.10\"\n";
        let (n, v, r) = package_fields(manifest);
        assert_eq!((n.as_deref(), v.as_deref()), (Some("md-5"), Some("0.10.6")));
        assert_eq!(
            repository_owner(&r.unwrap()).as_deref(),
            Some("github.com/rustcrypto")
        );
        assert_eq!(repository_owner("https://example.org"), None);
        assert!(version_key("1.0.0-alpha.1") < version_key("1.0.0"));
        assert!(version_key("1.10.0") > version_key("1.9.3"));
    }

    #[test]
    fn a_documents_folder_reads_back_sorted_and_bad_names_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join(format!("{:#x}", Address::repeat_byte(2)));
        let b = dir.path().join(format!("{:#x}", Address::repeat_byte(1)));
        for (d, f, text) in [
            (&a, "x.md", "two"),
            (&b, "z.md", "one z"),
            (&b, "y.md", "one y"),
        ] {
            std::fs::create_dir_all(d).unwrap();
            std::fs::write(d.join(f), text).unwrap();
        }
        std::fs::write(b.join(".hidden"), "skipped").unwrap();
        let docs = read_documents(dir.path(), B256::ZERO).unwrap();
        let texts: Vec<&str> = docs.iter().map(|d| d.text.as_str()).collect();
        assert_eq!(texts, ["one y", "one z", "two"]);
        assert_eq!(docs[0].meta.datapoint, keccak256(b"one y"));
        std::fs::create_dir_all(dir.path().join("not-an-address")).unwrap();
        assert!(read_documents(dir.path(), B256::ZERO).is_err());
    }
}
