//! The node's content key: it wraps the per-object data keys, so it alone decides who can read
//! the store's files. It lives in a file of its own (`--content.key-file`), created on first
//! start readable by its owner only, and is refused if anyone else may read it (as `ssh` refuses
//! a private key that others can read).

use crate::ContentError;
use alloy_primitives::{B256, hex};
use chacha20poly1305::{
    Key, XChaCha20Poly1305, XNonce,
    aead::{Aead, Generate, KeyInit, Payload},
};
use std::{
    fs::{self, OpenOptions},
    io::Write as _,
    os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _},
    path::Path,
};
use zeroize::Zeroizing;

/// Length of a key (content key and data keys alike).
pub(crate) const KEY_LEN: usize = 32;
/// Length of an XChaCha20 nonce: random nonces of this size never repeat in practice.
pub(crate) const NONCE_LEN: usize = 24;
/// Length of a Poly1305 tag.
pub(crate) const TAG_LEN: usize = 16;
/// A data key as stored: nonce, then the key encrypted under the content key, then its tag.
pub(crate) const WRAPPED_KEY_LEN: usize = NONCE_LEN + KEY_LEN + TAG_LEN;

/// Domain separation of the two encryptions bound to an object's hash.
const DATA_KEY_AAD: &[u8] = b"openledger/content/v1/data-key";
const CONTENT_AAD: &[u8] = b"openledger/content/v1/content";

/// The node's key-encryption key.
pub struct ContentKey {
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for ContentKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ContentKey(..)")
    }
}

impl ContentKey {
    /// A key from its 32 bytes.
    pub fn from_bytes(bytes: &[u8; KEY_LEN]) -> Self {
        Self {
            cipher: XChaCha20Poly1305::new(&Key::from(*bytes)),
        }
    }

    /// Reads the key file at `path` (64 hex digits), or creates one with a fresh random key,
    /// mode 0600, written to a temporary file and renamed into place so that a crash never
    /// leaves half a key. Refuses a file that its group or others may read.
    pub fn load_or_create(path: &Path) -> Result<Self, ContentError> {
        let io = |source| ContentError::KeyFile {
            path: path.to_path_buf(),
            source,
        };
        match fs::metadata(path) {
            Ok(meta) => {
                let mode = meta.permissions().mode() & 0o777;
                if mode & 0o077 != 0 {
                    return Err(ContentError::KeyFilePermissions {
                        path: path.to_path_buf(),
                        mode,
                    });
                }
                let text = Zeroizing::new(fs::read_to_string(path).map_err(io)?);
                let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
                hex::decode_to_slice(text.trim(), bytes.as_mut_slice()).map_err(|_| {
                    ContentError::KeyFileMalformed {
                        path: path.to_path_buf(),
                    }
                })?;
                Ok(Self::from_bytes(&bytes))
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                let bytes = Zeroizing::new(<[u8; KEY_LEN]>::generate());
                write_key_file(path, &bytes).map_err(io)?;
                tracing::info!(path = %path.display(), "created the content key");
                Ok(Self::from_bytes(&bytes))
            }
            Err(err) => Err(io(err)),
        }
    }

    /// Encrypts `content` under a fresh data key, and the data key under this key, both bound
    /// to `hash` (so that no stored object can be passed off as another). Returns the wrapped
    /// key and the sealed content (nonce ‖ ciphertext ‖ tag).
    pub(crate) fn seal(
        &self,
        hash: B256,
        content: &[u8],
    ) -> Result<([u8; WRAPPED_KEY_LEN], Vec<u8>), ContentError> {
        let data_key = Zeroizing::new(<[u8; KEY_LEN]>::generate());
        let mut wrapped = [0u8; WRAPPED_KEY_LEN];
        let key_nonce = XNonce::generate();
        let aad = bound(DATA_KEY_AAD, hash);
        let encrypted_key = self
            .cipher
            .encrypt(
                &key_nonce,
                Payload {
                    msg: data_key.as_slice(),
                    aad: &aad,
                },
            )
            .map_err(|_| ContentError::Crypto("wrapping a data key"))?;
        wrapped[..NONCE_LEN].copy_from_slice(&key_nonce);
        wrapped[NONCE_LEN..].copy_from_slice(&encrypted_key);

        let data = XChaCha20Poly1305::new(&Key::from(*data_key));
        let nonce = XNonce::generate();
        let aad = bound(CONTENT_AAD, hash);
        let ciphertext = data
            .encrypt(
                &nonce,
                Payload {
                    msg: content,
                    aad: &aad,
                },
            )
            .map_err(|_| ContentError::Crypto("encrypting content"))?;
        let mut sealed = Vec::with_capacity(NONCE_LEN + ciphertext.len());
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        Ok((wrapped, sealed))
    }

    /// The content [`Self::seal`] sealed for `hash`; an error when either layer fails to
    /// authenticate (another key, another hash, or altered bytes).
    pub(crate) fn open(
        &self,
        hash: B256,
        wrapped: &[u8; WRAPPED_KEY_LEN],
        sealed: &[u8],
    ) -> Result<Vec<u8>, ContentError> {
        let aad = bound(DATA_KEY_AAD, hash);
        let data_key = Zeroizing::new(
            self.cipher
                .decrypt(
                    &nonce_of(&wrapped[..NONCE_LEN]),
                    Payload {
                        msg: &wrapped[NONCE_LEN..],
                        aad: &aad,
                    },
                )
                .map_err(|_| ContentError::Corrupt {
                    hash,
                    what: "its data key does not open with this node's content key",
                })?,
        );
        if sealed.len() < NONCE_LEN + TAG_LEN || data_key.len() != KEY_LEN {
            return Err(ContentError::Corrupt {
                hash,
                what: "the sealed object is truncated",
            });
        }
        let mut key_bytes = Zeroizing::new([0u8; KEY_LEN]);
        key_bytes.copy_from_slice(&data_key);
        let data = XChaCha20Poly1305::new(&Key::from(*key_bytes));
        let aad = bound(CONTENT_AAD, hash);
        data.decrypt(
            &nonce_of(&sealed[..NONCE_LEN]),
            Payload {
                msg: &sealed[NONCE_LEN..],
                aad: &aad,
            },
        )
        .map_err(|_| ContentError::Corrupt {
            hash,
            what: "its ciphertext does not authenticate",
        })
    }
}

fn nonce_of(bytes: &[u8]) -> XNonce {
    let mut nonce = [0u8; NONCE_LEN];
    nonce.copy_from_slice(bytes);
    XNonce::from(nonce)
}

fn bound(domain: &[u8], hash: B256) -> Vec<u8> {
    let mut aad = Vec::with_capacity(domain.len() + 32);
    aad.extend_from_slice(domain);
    aad.extend_from_slice(hash.as_slice());
    aad
}

fn write_key_file(path: &Path, key: &[u8; KEY_LEN]) -> std::io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent)?;
    }
    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(".tmp");
    let tmp = Path::new(&tmp_name);
    let _ = fs::remove_file(tmp);
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(tmp)?;
    let text = Zeroizing::new(format!("{}\n", hex::encode(key)));
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    drop(file);
    fs::rename(tmp, path)?;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::File::open(parent)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_created_key_file_is_private_and_loads_back_the_same_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys").join("content.key");
        let first = ContentKey::load_or_create(&path).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let hash = B256::repeat_byte(7);
        let (wrapped, sealed) = first.seal(hash, b"contribution").unwrap();
        let second = ContentKey::load_or_create(&path).unwrap();
        assert_eq!(
            second.open(hash, &wrapped, &sealed).unwrap(),
            b"contribution"
        );
    }

    #[test]
    fn a_key_file_others_can_read_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("content.key");
        ContentKey::load_or_create(&path).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let err = ContentKey::load_or_create(&path).unwrap_err();
        assert!(
            matches!(err, ContentError::KeyFilePermissions { mode: 0o644, .. }),
            "{err}"
        );
    }

    #[test]
    fn a_malformed_key_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("content.key");
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .unwrap();
        file.write_all(b"not hex\n").unwrap();
        let err = ContentKey::load_or_create(&path).unwrap_err();
        assert!(
            matches!(err, ContentError::KeyFileMalformed { .. }),
            "{err}"
        );
    }

    #[test]
    fn sealed_content_opens_only_with_its_key_and_its_hash() {
        let key = ContentKey::from_bytes(&[1; KEY_LEN]);
        let other = ContentKey::from_bytes(&[2; KEY_LEN]);
        let hash = B256::repeat_byte(1);
        let (wrapped, mut sealed) = key.seal(hash, b"secret passage").unwrap();
        assert!(!sealed.windows(6).any(|w| w == b"secret"));
        assert!(other.open(hash, &wrapped, &sealed).is_err());
        assert!(key.open(B256::repeat_byte(2), &wrapped, &sealed).is_err());
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        assert!(key.open(hash, &wrapped, &sealed).is_err());
    }
}
