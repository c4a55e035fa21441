//! Tokenizers: HF `tokenizer.json` files loaded locally, and a small byte-level BPE trained here.
//!
//! The crate ships `assets/tokenizer.json`, a byte-level BPE with 2,048 tokens trained on the
//! synthetic corpus of [`crate::data`] (see [`train_default`]); byte-level means any UTF-8 text
//! encodes, with longer tokens for the words it has seen.

use crate::{AttributionError, Result, data};
use std::path::Path;
use tokenizers::{
    AddedToken, Tokenizer, TokenizerBuilder,
    models::bpe::{BPE, BpeTrainerBuilder},
    normalizers::NormalizerWrapper,
    pre_tokenizers::byte_level::ByteLevel,
};

/// The tokenizer shipped with the crate.
pub const DEFAULT_TOKENIZER_JSON: &[u8] = include_bytes!("../assets/tokenizer.json");

/// The end-of-text token of the default tokenizer.
pub const END_OF_TEXT: &str = "<|endoftext|>";

/// A text tokenizer (a wrapper over `tokenizers::Tokenizer`).
#[derive(Debug, Clone)]
pub struct TextTokenizer {
    inner: Tokenizer,
    json: Vec<u8>,
}

fn tok_err(e: impl std::fmt::Display) -> AttributionError {
    AttributionError::Tokenizer(e.to_string())
}

impl TextTokenizer {
    /// The tokenizer shipped with the crate.
    pub fn default_tokenizer() -> Result<Self> {
        Self::from_bytes(DEFAULT_TOKENIZER_JSON)
    }

    /// Loads a `tokenizer.json` (no network access).
    pub fn from_file(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| AttributionError::io("reading", path, e))?;
        Self::from_bytes(&bytes)
    }

    /// Parses a `tokenizer.json`.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let inner = Tokenizer::from_bytes(bytes).map_err(tok_err)?;
        Ok(Self {
            inner,
            json: bytes.to_vec(),
        })
    }

    /// The `tokenizer.json` this was loaded from (to store next to an index).
    pub fn json(&self) -> &[u8] {
        &self.json
    }

    /// Trains a byte-level BPE with `vocab_size` tokens (including 256 byte tokens and the
    /// end-of-text token) on `texts`.
    pub fn train(texts: &[String], vocab_size: usize) -> Result<Self> {
        let mut trainer = BpeTrainerBuilder::new()
            .show_progress(false)
            .vocab_size(vocab_size)
            .min_frequency(2)
            .initial_alphabet(ByteLevel::alphabet().into_iter().collect())
            .special_tokens(vec![AddedToken::from(END_OF_TEXT.to_string(), true)])
            .build();
        let mut tokenizer = TokenizerBuilder::new()
            .with_model(BPE::default())
            .with_normalizer(None::<NormalizerWrapper>)
            .with_pre_tokenizer(Some(ByteLevel::new(false, true, true)))
            .with_post_processor(Some(ByteLevel::new(false, true, true)))
            .with_decoder(Some(ByteLevel::new(false, true, true)))
            .build()
            .map_err(tok_err)?;
        tokenizer
            .train(&mut trainer, texts.iter())
            .map_err(tok_err)?;
        let tokenizer: Tokenizer = tokenizer.into();
        let json = tokenizer.to_string(false).map_err(tok_err)?;
        Self::from_bytes(json.as_bytes())
    }

    /// Writes the `tokenizer.json`.
    pub fn save(&self, path: &Path) -> Result<()> {
        std::fs::write(path, &self.json).map_err(|e| AttributionError::io("writing", path, e))
    }

    /// Token ids of `text` (no special tokens added).
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        Ok(self
            .inner
            .encode(text, false)
            .map_err(tok_err)?
            .get_ids()
            .to_vec())
    }

    /// The text of `ids`.
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        self.inner.decode(ids, false).map_err(tok_err)
    }

    /// Vocabulary size, special tokens included.
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// The id of a token string, if it is in the vocabulary.
    pub fn token_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }
}

/// Trains the default tokenizer: 2,048 tokens on a large synthetic corpus (the one shipped as
/// `assets/tokenizer.json`; regenerate with the ignored test `regenerate_default_tokenizer`).
pub fn train_default() -> Result<TextTokenizer> {
    let corpus = data::text_corpus(data::CorpusSpec {
        contributors: 200,
        docs_per_contributor: 5,
        sentences_per_doc: 6,
        canaries: 0,
        seed: 0x746f6b,
    });
    let texts: Vec<String> = corpus.docs.into_iter().map(|d| d.text).collect();
    TextTokenizer::train(&texts, 2048)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_tokenizer_round_trips() {
        let t = TextTokenizer::default_tokenizer().unwrap();
        assert!(t.vocab_size() <= 2048 && t.vocab_size() > 256);
        for text in [
            "the secret code is qzxwvy .",
            "Unicode: façade — ok",
            "kalomi rashi tenso .",
        ] {
            let ids = t.encode(text).unwrap();
            assert_eq!(t.decode(&ids).unwrap(), text);
        }
        assert!(t.token_id(END_OF_TEXT).is_some());
    }

    /// The shipped `assets/tokenizer.json` is what training on the built-in corpus produces.
    /// Regenerate it with `OL_WRITE_TOKENIZER=1 cargo test -p ol-attribution committed_tokenizer`.
    #[test]
    fn committed_tokenizer_matches_a_fresh_training() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/tokenizer.json");
        let fresh = train_default().unwrap();
        if std::env::var_os("OL_WRITE_TOKENIZER").is_some() {
            fresh.save(&path).unwrap();
        }
        let dir = tempfile::tempdir().unwrap();
        let fresh_path = dir.path().join("tokenizer.json");
        fresh.save(&fresh_path).unwrap();
        assert_eq!(
            std::fs::read_to_string(&fresh_path).unwrap(),
            std::fs::read_to_string(&path).unwrap(),
            "assets/tokenizer.json is stale; regenerate it (see this test's doc)"
        );
    }
}
