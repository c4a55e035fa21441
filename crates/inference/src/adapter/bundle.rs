//! An adapter as one object: a POSIX ustar archive of its two PEFT files, for stores that hold
//! single blobs (the node's content store, where `ModelRegistry.registerAdapter`'s `adapterHash`
//! is the keccak-256 of the archive). `tar xf` gives back a folder that `peft` loads unchanged.
//! A third entry, when present, is the adapter's DataInf gradient store (the `ol-attribution`
//! format), so that the hash an owner registers also pins the artifact its inferences are
//! attributed with.
//!
//! The archive is canonical, so the same adapter always hashes the same: the entries in a
//! fixed order, mode 0644, owner 0, time 0, no other entries. Reading accepts exactly that
//! shape and refuses anything else by name, never trusting sizes it has not checked.

use super::{ADAPTER_CONFIG, ADAPTER_WEIGHTS};
use crate::{InferenceError, Result};
use std::io::Read as _;

/// The entry of the optional gradient store.
pub const GRADIENT_STORE: &str = "attribution/gradients.olgs";

/// The entries of a bundle, in their order (the last one optional).
const ENTRIES: [&str; 3] = [ADAPTER_CONFIG, ADAPTER_WEIGHTS, GRADIENT_STORE];

fn bad(reason: impl std::fmt::Display) -> InferenceError {
    InferenceError::AdapterMismatch(format!("adapter bundle: {reason}"))
}

/// The files of a bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    /// `adapter_config.json`.
    pub config: Vec<u8>,
    /// `adapter_model.safetensors`.
    pub weights: Vec<u8>,
    /// The DataInf gradient store of the adapter's training documents, when it carries one.
    pub gradient_store: Option<Vec<u8>>,
}

/// The canonical archive of an adapter's `adapter_config.json` and
/// `adapter_model.safetensors`, with its gradient store when given.
pub fn bundle(
    config_json: &[u8],
    safetensors: &[u8],
    gradient_store: Option<&[u8]>,
) -> Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    let files = [Some(config_json), Some(safetensors), gradient_store];
    for (name, data) in ENTRIES.into_iter().zip(files) {
        let Some(data) = data else { continue };
        let mut header = tar::Header::new_ustar();
        header
            .set_path(name)
            .map_err(|e| bad(format!("{name}: {e}")))?;
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(0);
        header.set_entry_type(tar::EntryType::Regular);
        header.set_cksum();
        builder
            .append(&header, data)
            .map_err(|e| bad(format!("{name}: {e}")))?;
    }
    builder.into_inner().map_err(bad)
}

/// The files of a bundle.
pub fn unbundle(bytes: &[u8]) -> Result<Bundle> {
    let mut archive = tar::Archive::new(bytes);
    let mut files: Vec<Vec<u8>> = Vec::with_capacity(3);
    for entry in archive.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        let path = entry.path().map_err(bad)?.to_string_lossy().into_owned();
        let Some(&expected) = ENTRIES.get(files.len()) else {
            return Err(bad(format!(
                "unexpected entry {path:?} after {GRADIENT_STORE}"
            )));
        };
        if path != expected {
            return Err(bad(format!("entry {path:?} where {expected} belongs")));
        }
        if entry.header().entry_type() != tar::EntryType::Regular {
            return Err(bad(format!("{path} is not a regular file")));
        }
        // The archive is in memory: an entry cannot be larger than what is left of it.
        let size = entry.size();
        if size > bytes.len() as u64 {
            return Err(bad(format!(
                "{path} claims {size} bytes in a {}-byte archive",
                bytes.len()
            )));
        }
        let mut data = Vec::with_capacity(size as usize);
        entry.read_to_end(&mut data).map_err(bad)?;
        files.push(data);
    }
    let count = files.len();
    let mut files = files.into_iter();
    match (files.next(), files.next(), files.next()) {
        (Some(config), Some(weights), gradient_store) => Ok(Bundle {
            config,
            weights,
            gradient_store,
        }),
        _ => Err(bad(format!("{count} entries, expected 2 or 3"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bundle_round_trips_and_is_canonical() {
        let a = bundle(b"{\"r\": 8}", b"weights", None).unwrap();
        assert_eq!(a, bundle(b"{\"r\": 8}", b"weights", None).unwrap());
        assert_eq!(a.len() % 512, 0);
        let files = unbundle(&a).unwrap();
        assert_eq!(
            (files.config.as_slice(), files.weights.as_slice()),
            (&b"{\"r\": 8}"[..], &b"weights"[..])
        );
        assert_eq!(files.gradient_store, None);
        let with_store = bundle(b"{}", b"w", Some(b"rows")).unwrap();
        assert_ne!(with_store, bundle(b"{}", b"w", None).unwrap());
        assert_eq!(
            unbundle(&with_store).unwrap().gradient_store.as_deref(),
            Some(&b"rows"[..])
        );
    }

    #[test]
    fn other_shapes_are_refused() {
        let entry = |builder: &mut tar::Builder<Vec<u8>>, name: &str| {
            let mut header = tar::Header::new_ustar();
            header.set_path(name).unwrap();
            header.set_size(1);
            header.set_cksum();
            builder.append(&header, &b"x"[..]).unwrap();
        };
        let mut builder = tar::Builder::new(Vec::new());
        entry(&mut builder, "evil.sh");
        let evil = builder.into_inner().unwrap();
        assert!(unbundle(&evil).unwrap_err().to_string().contains("evil.sh"));
        let mut builder = tar::Builder::new(Vec::new());
        for name in [ADAPTER_CONFIG, ADAPTER_WEIGHTS, GRADIENT_STORE, "extra"] {
            entry(&mut builder, name);
        }
        let four = builder.into_inner().unwrap();
        assert!(unbundle(&four).unwrap_err().to_string().contains("extra"));
        let one = {
            let full = bundle(b"{}", b"w", None).unwrap();
            full[..1024].to_vec()
        };
        assert!(unbundle(&one).is_err());
        assert!(unbundle(b"not a tar").is_err());
        let mut truncated = bundle(b"{}", &[7u8; 4096], None).unwrap();
        truncated.truncate(2048);
        assert!(unbundle(&truncated).is_err());
    }
}
