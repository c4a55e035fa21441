//! A small byte-level BPE tokenizer for models made here (tests, benchmarks): one token per
//! byte plus special tokens, no merges. It encodes any UTF-8 text and serialises to a standard
//! `tokenizer.json` that Hugging Face tokenizers (Rust or Python) load as is.

use crate::{InferenceError, Result};
use tokenizers::{
    AddedToken, Tokenizer, TokenizerBuilder,
    decoders::DecoderWrapper,
    models::bpe::{BPE, Vocab},
    normalizers::NormalizerWrapper,
    pre_tokenizers::PreTokenizerWrapper,
    pre_tokenizers::byte_level::ByteLevel,
    processors::PostProcessorWrapper,
};

/// A byte-level tokenizer with ids `0..256` for the bytes (in the order of their byte-level
/// characters) followed by `specials` (e.g. `<s>`, `</s>`) from id 256 on.
pub fn byte_level_tokenizer(specials: &[&str]) -> Result<Tokenizer> {
    let err = |e: tokenizers::Error| InferenceError::Tokenizer(e.to_string());
    let mut alphabet: Vec<char> = ByteLevel::alphabet().into_iter().collect();
    alphabet.sort_unstable();
    let vocab: Vocab = alphabet
        .iter()
        .enumerate()
        .map(|(i, c)| (c.to_string(), i as u32))
        .collect();
    let bpe = BPE::builder()
        .vocab_and_merges(vocab, Vec::new())
        .build()
        .map_err(err)?;
    let byte_level = ByteLevel::new(false, true, true);
    let built = TokenizerBuilder::<
        BPE,
        NormalizerWrapper,
        PreTokenizerWrapper,
        PostProcessorWrapper,
        DecoderWrapper,
    >::new()
    .with_model(bpe)
    .with_normalizer(None)
    .with_pre_tokenizer(Some(byte_level.into()))
    .with_post_processor(Some(byte_level.into()))
    .with_decoder(Some(byte_level.into()))
    .build()
    .map_err(err)?;
    let mut tokenizer: Tokenizer = built.into();
    let added: Vec<AddedToken> = specials
        .iter()
        .map(|s| AddedToken::from(s.to_string(), true))
        .collect();
    tokenizer.add_special_tokens(added).map_err(err)?;
    Ok(tokenizer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_text_and_json() {
        let tok = byte_level_tokenizer(&["<s>", "</s>"]).unwrap();
        assert_eq!(tok.get_vocab_size(true), 258);
        assert_eq!(tok.token_to_id("</s>"), Some(257));
        let enc = tok.encode("héllo wörld", false).unwrap();
        assert_eq!(enc.get_ids().len(), "héllo wörld".len());
        assert_eq!(tok.decode(enc.get_ids(), true).unwrap(), "héllo wörld");
        let json = tok.to_string(false).unwrap();
        let back = Tokenizer::from_bytes(json.as_bytes()).unwrap();
        assert_eq!(
            back.encode("héllo", false).unwrap().get_ids(),
            tok.encode("héllo", false).unwrap().get_ids()
        );
    }
}
