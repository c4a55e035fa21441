//! The node's libp2p identity: a secp256k1 key kept hex-encoded in a file, as op-node keeps
//! `opnode_p2p_priv.txt`, created on first start so that the peer id survives restarts (static
//! peers of other nodes name it).

use super::NetworkError;
use libp2p::identity::{Keypair, secp256k1};
use std::{io::Write, path::Path};

/// Loads the key in `path`, or creates one there (readable by the owner only) when the file is
/// missing. A file that holds anything but a 32-byte hex key is an error, never replaced.
pub fn load_or_create_key(path: &Path) -> Result<Keypair, NetworkError> {
    let bad = |reason: String| NetworkError::Key {
        path: path.display().to_string(),
        reason,
    };
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let text = text.trim();
            let hex = text.strip_prefix("0x").unwrap_or(text);
            let mut bytes =
                alloy_primitives::hex::decode(hex).map_err(|err| bad(format!("not hex: {err}")))?;
            if bytes.len() != 32 {
                return Err(bad(format!("{} bytes, a key has 32", bytes.len())));
            }
            let secret = secp256k1::SecretKey::try_from_bytes(&mut bytes)
                .map_err(|err| bad(format!("not a secp256k1 key: {err}")))?;
            Ok(secp256k1::Keypair::from(secret).into())
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            let keypair = secp256k1::Keypair::generate();
            let hex = alloy_primitives::hex::encode(keypair.secret().to_bytes());
            write_private(path, hex.as_bytes()).map_err(|err| bad(err.to_string()))?;
            Ok(keypair.into())
        }
        Err(err) => Err(bad(err.to_string())),
    }
}

/// Writes `contents` to a temporary file with mode 0600 and renames it into place, so that a
/// crash never leaves a half-written key.
fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&tmp)?;
    file.write_all(contents)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_created_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p2p").join("priv.txt");
        let first = load_or_create_key(&path).unwrap();
        let again = load_or_create_key(&path).unwrap();
        assert_eq!(first.public().to_peer_id(), again.public().to_peer_id());
        assert_eq!(std::fs::read_to_string(&path).unwrap().len(), 64);
    }

    #[test]
    fn a_bad_key_file_is_an_error_and_stays() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("priv.txt");
        for contents in ["not hex", "0x1234", &"00".repeat(32)] {
            std::fs::write(&path, contents).unwrap();
            let err = load_or_create_key(&path).unwrap_err().to_string();
            assert!(err.contains("priv.txt"), "{err}");
            assert_eq!(std::fs::read_to_string(&path).unwrap(), contents);
        }
    }
}
