//! An adapter as one object: a POSIX ustar archive of its two PEFT files, for stores that hold
//! single blobs (the node's content store, where `ModelRegistry.registerAdapter`'s `adapterHash`
//! is the keccak-256 of the archive). `tar xf` gives back a folder that `peft` loads unchanged.
//!
//! The archive is canonical, so the same adapter always hashes the same: the two entries in a
//! fixed order, mode 0644, owner 0, time 0, no other entries. Reading accepts exactly that
//! shape and refuses anything else by name, never trusting sizes it has not checked.

use super::{ADAPTER_CONFIG, ADAPTER_WEIGHTS};
use crate::{InferenceError, Result};
use std::io::Read as _;

/// The entries of a bundle, in their order.
const ENTRIES: [&str; 2] = [ADAPTER_CONFIG, ADAPTER_WEIGHTS];

fn bad(reason: impl std::fmt::Display) -> InferenceError {
    InferenceError::AdapterMismatch(format!("adapter bundle: {reason}"))
}

/// The canonical archive of an adapter's `adapter_config.json` and `adapter_model.safetensors`.
pub fn bundle(config_json: &[u8], safetensors: &[u8]) -> Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, data) in ENTRIES.into_iter().zip([config_json, safetensors]) {
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

/// The two files of a bundle: `(adapter_config.json, adapter_model.safetensors)`.
pub fn unbundle(bytes: &[u8]) -> Result<(Vec<u8>, Vec<u8>)> {
    let mut archive = tar::Archive::new(bytes);
    let mut files: Vec<Vec<u8>> = Vec::with_capacity(2);
    for entry in archive.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        let path = entry.path().map_err(bad)?.to_string_lossy().into_owned();
        let Some(&expected) = ENTRIES.get(files.len()) else {
            return Err(bad(format!(
                "unexpected entry {path:?} after {ADAPTER_WEIGHTS}"
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
    let [config, weights]: [Vec<u8>; 2] = files
        .try_into()
        .map_err(|files: Vec<Vec<u8>>| bad(format!("{} entries, expected 2", files.len())))?;
    Ok((config, weights))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bundle_round_trips_and_is_canonical() {
        let a = bundle(b"{\"r\": 8}", b"weights").unwrap();
        assert_eq!(a, bundle(b"{\"r\": 8}", b"weights").unwrap());
        assert_eq!(a.len() % 512, 0);
        let (config, weights) = unbundle(&a).unwrap();
        assert_eq!(
            (config.as_slice(), weights.as_slice()),
            (&b"{\"r\": 8}"[..], &b"weights"[..])
        );
    }

    #[test]
    fn other_shapes_are_refused() {
        let mut builder = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_ustar();
        header.set_path("evil.sh").unwrap();
        header.set_size(1);
        header.set_cksum();
        builder.append(&header, &b"x"[..]).unwrap();
        let evil = builder.into_inner().unwrap();
        assert!(unbundle(&evil).unwrap_err().to_string().contains("evil.sh"));
        let one = {
            let full = bundle(b"{}", b"w").unwrap();
            full[..1024].to_vec()
        };
        assert!(unbundle(&one).is_err());
        assert!(unbundle(b"not a tar").is_err());
        let mut truncated = bundle(b"{}", &[7u8; 4096]).unwrap();
        truncated.truncate(2048);
        assert!(unbundle(&truncated).is_err());
    }
}
