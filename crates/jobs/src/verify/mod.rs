//! Re-checking a record: the answer a verifier recomputed against what the attestor wrote on
//! chain, field by field, bit for bit ([`compare`]). `openledger attribution verify` does it
//! for one request over a node's RPC; a follower's [`Verifier`] does it for every record its
//! chain carries and keeps each verdict ([`store`]).

mod service;
pub mod store;

pub use service::Verifier;
pub use store::{Entry, Recorded, Verdict, Verifications};

use crate::journal::Answer;
use alloy_primitives::{Address, B256};
use serde::{Deserialize, Serialize};

/// What the chain says about a request: its PoA record and, once fulfilled, the counted
/// tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OnChain {
    /// The record's `outputHash`.
    pub output_hash: B256,
    /// Its method id.
    pub method: u8,
    /// Its contributors.
    pub contributors: Vec<Address>,
    /// Their weights, ppm.
    pub weights_ppm: Vec<u32>,
    /// Its evidence root.
    pub evidence_root: B256,
    /// `(tokensIn, tokensOut)` of `fulfill`, when fulfilled.
    pub tokens: Option<(u32, u32)>,
}

/// One field where the record and the recomputed answer differ.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mismatch {
    /// The field.
    pub field: String,
    /// On chain.
    pub recorded: String,
    /// Recomputed.
    pub recomputed: String,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: recorded {}, recomputed {}",
            self.field, self.recorded, self.recomputed
        )
    }
}

/// Every field of `record` that `answer` does not reproduce (empty: they agree).
pub fn compare(record: &OnChain, answer: &Answer) -> Vec<Mismatch> {
    let mut out = Vec::new();
    let mut check = |field: &'static str, recorded: String, recomputed: String| {
        if recorded != recomputed {
            out.push(Mismatch {
                field: field.to_owned(),
                recorded,
                recomputed,
            });
        }
    };
    check(
        "outputHash",
        record.output_hash.to_string(),
        answer.output_hash.to_string(),
    );
    check(
        "method",
        record.method.to_string(),
        answer.method.to_string(),
    );
    check(
        "contributors",
        format!("{:?}", record.contributors),
        format!("{:?}", answer.contributors),
    );
    check(
        "weightsPpm",
        format!("{:?}", record.weights_ppm),
        format!("{:?}", answer.weights_ppm),
    );
    check(
        "evidenceRoot",
        record.evidence_root.to_string(),
        answer.evidence_root.to_string(),
    );
    if let Some((tokens_in, tokens_out)) = record.tokens {
        check(
            "tokens",
            format!("{tokens_in}/{tokens_out}"),
            format!("{}/{}", answer.tokens_in, answer.tokens_out),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_differing_field_is_named() {
        let answer = Answer {
            output: "x".into(),
            output_hash: B256::repeat_byte(1),
            tokens_in: 3,
            tokens_out: 4,
            method: 2,
            contributors: vec![Address::repeat_byte(2)],
            weights_ppm: vec![1_000_000],
            evidence_root: B256::repeat_byte(3),
            evidence: Vec::new(),
            snapshot: B256::ZERO,
            spans: Vec::new(),
        };
        let mut record = OnChain {
            output_hash: answer.output_hash,
            method: 2,
            contributors: answer.contributors.clone(),
            weights_ppm: answer.weights_ppm.clone(),
            evidence_root: answer.evidence_root,
            tokens: Some((3, 4)),
        };
        assert!(compare(&record, &answer).is_empty());
        record.weights_ppm = vec![999_999];
        record.tokens = Some((3, 5));
        let fields: Vec<_> = compare(&record, &answer)
            .into_iter()
            .map(|m| m.field)
            .collect();
        assert_eq!(fields, ["weightsPpm", "tokens"]);
    }
}
