//! Tokens to text while they stream: incremental detokenization and stop strings.
//!
//! [`IncrementalDecoder`] turns one token at a time into the text it adds, as TGI and vLLM do:
//! it decodes a short window ending at the new token and emits what the window gained, holding
//! back text while the last bytes are an incomplete UTF-8 character (byte-level BPE splits
//! characters over tokens) and keeping a few tokens of left context so tokenizers that mark
//! word starts (SentencePiece's `▁`) put their spaces right.
//!
//! [`StopMatcher`] cuts the output at the first occurrence of a stop string. Streamed text can
//! never be taken back, so it holds back the longest tail that could still become a stop string
//! and releases it once it cannot.

use crate::{InferenceError, Result};
use tokenizers::Tokenizer;

/// Tokens of prompt context the decoder starts from.
const CONTEXT_TOKENS: usize = 5;

/// Turns a stream of tokens into the text each one adds.
#[derive(Debug, Clone)]
pub struct IncrementalDecoder {
    tokens: Vec<u32>,
    /// Start of the window decoded for context.
    prefix_offset: usize,
    /// End of the part of the window already emitted.
    read_offset: usize,
    skip_special: bool,
}

impl IncrementalDecoder {
    /// A decoder that continues after `prompt` (whose text is not emitted).
    pub fn new(prompt: &[u32], skip_special: bool) -> Self {
        let tail = &prompt[prompt.len().saturating_sub(CONTEXT_TOKENS)..];
        Self {
            tokens: tail.to_vec(),
            prefix_offset: 0,
            read_offset: tail.len(),
            skip_special,
        }
    }

    /// Adds `token` and returns the text it completes (possibly empty).
    pub fn push(&mut self, tokenizer: &Tokenizer, token: u32) -> Result<String> {
        self.tokens.push(token);
        let decode = |ids: &[u32]| {
            tokenizer
                .decode(ids, self.skip_special)
                .map_err(|e| InferenceError::Tokenizer(e.to_string()))
        };
        let prefix = decode(&self.tokens[self.prefix_offset..self.read_offset])?;
        let full = decode(&self.tokens[self.prefix_offset..])?;
        if full.len() > prefix.len()
            && !full.ends_with('\u{FFFD}')
            && let Some(new) = full.get(prefix.len()..)
        {
            let new = new.to_string();
            self.prefix_offset = self.read_offset;
            self.read_offset = self.tokens.len();
            // Only the window is ever decoded again: drop what is before it.
            self.tokens.drain(..self.prefix_offset);
            self.read_offset -= self.prefix_offset;
            self.prefix_offset = 0;
            return Ok(new);
        }
        Ok(String::new())
    }
}

/// Finds stop strings in streamed text.
#[derive(Debug, Clone, Default)]
pub struct StopMatcher {
    stops: Vec<String>,
    /// Text received but not released (it may be the start of a stop string).
    held: String,
}

/// What [`StopMatcher::push`] released.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Released {
    /// Text that is final.
    pub text: String,
    /// The stop string that ended the output, if one did (it is not in `text`).
    pub stop: Option<String>,
}

impl StopMatcher {
    /// A matcher for `stops` (empty strings are ignored).
    pub fn new(stops: Vec<String>) -> Self {
        Self {
            stops: stops.into_iter().filter(|s| !s.is_empty()).collect(),
            held: String::new(),
        }
    }

    /// Adds `text`; returns what is now final and whether a stop string was reached (then the
    /// output ends before it).
    pub fn push(&mut self, text: &str) -> Released {
        self.held.push_str(text);
        let first = self
            .stops
            .iter()
            .filter_map(|s| self.held.find(s.as_str()).map(|at| (at, s)))
            .min_by_key(|(at, s)| (*at, std::cmp::Reverse(s.len())));
        if let Some((at, stop)) = first {
            let stop = stop.clone();
            let text = self.held[..at].to_string();
            self.held.clear();
            return Released {
                text,
                stop: Some(stop),
            };
        }
        let keep = self.partial_tail();
        let cut = self.held.len() - keep;
        let text = self.held[..cut].to_string();
        self.held.drain(..cut);
        Released { text, stop: None }
    }

    /// Releases what is held (the output ended without a stop string).
    pub fn finish(&mut self) -> String {
        std::mem::take(&mut self.held)
    }

    /// The length of the longest tail of `held` that is a proper prefix of a stop string (on a
    /// character boundary).
    fn partial_tail(&self) -> usize {
        let h = &self.held;
        let longest = self.stops.iter().map(String::len).max().unwrap_or(0);
        (1..longest.min(h.len() + 1))
            .rev()
            .find(|&n| {
                let start = h.len() - n;
                h.is_char_boundary(start) && self.stops.iter().any(|s| s.starts_with(&h[start..]))
            })
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::byte_level_tokenizer;

    #[test]
    fn streamed_text_equals_the_whole_decode_even_across_split_characters() {
        let tok = byte_level_tokenizer(&["<s>", "</s>"]).unwrap();
        let text = "héllo wörld, 東京 🚀!";
        let ids = tok.encode(text, false).unwrap().get_ids().to_vec();
        let prompt = tok.encode("prompt: ", false).unwrap().get_ids().to_vec();
        let mut d = IncrementalDecoder::new(&prompt, true);
        let mut out = String::new();
        for &id in &ids {
            let piece = d.push(&tok, id).unwrap();
            assert!(!piece.contains('\u{FFFD}'), "a split character leaked");
            out.push_str(&piece);
        }
        assert_eq!(out, text);
        // Special tokens are skipped.
        let eos = tok.token_to_id("</s>").unwrap();
        assert_eq!(d.push(&tok, eos).unwrap(), "");
    }

    #[test]
    fn stop_strings_cut_at_the_first_match_and_hold_back_partial_matches() {
        let mut m = StopMatcher::new(vec!["STOP".into(), "\n\n".into(), String::new()]);
        assert_eq!(m.push("abc").text, "abc");
        // "ST" could start "STOP": held back.
        assert_eq!(m.push("xST").text, "x");
        // It did not: released.
        assert_eq!(m.push("ay ").text, "STay ");
        let r = m.push("S");
        assert_eq!((r.text.as_str(), r.stop.as_deref()), ("", None));
        let r = m.push("TOP and more");
        assert_eq!((r.text.as_str(), r.stop.as_deref()), ("", Some("STOP")));

        let mut m = StopMatcher::new(vec!["ab".into(), "b".into()]);
        // The earliest match wins; at the same place, the longer string.
        let r = m.push("xxab");
        assert_eq!((r.text.as_str(), r.stop.as_deref()), ("xx", Some("ab")));

        let mut m = StopMatcher::new(vec!["éé".into()]);
        assert_eq!(m.push("aé").text, "a");
        assert_eq!(m.finish(), "é");
        assert_eq!(StopMatcher::new(vec![]).push("any").text, "any");
    }
}
