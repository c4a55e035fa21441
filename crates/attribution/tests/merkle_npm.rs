//! Our evidence trees are OpenZeppelin `StandardMerkleTree`s: `@openzeppelin/merkle-tree` (npm,
//! pinned in the root package.json) loads our dump, rebuilds the same root from the values and
//! verifies every proof we generate.

use alloy_primitives::{Address, B256, keccak256};
use ol_attribution::{
    merkle::verify,
    weights::{DatapointScore, contributor_weights},
};
use serde_json::json;
use std::{path::Path, process::Command};

#[test]
fn npm_merkle_tree_verifies_our_proofs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap();
    let lib = root.join("node_modules/@openzeppelin/merkle-tree");
    assert!(
        lib.is_dir(),
        "{} is missing: run `npm ci` in {} (the npm tooling is part of the test setup)",
        lib.display(),
        root.display()
    );
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/js/verify_merkle.js");
    let dir = tempfile::tempdir().unwrap();
    // Several sizes, including a single leaf and odd counts; scores span the quantisation range.
    for (case, n) in [1usize, 2, 3, 7, 37].into_iter().enumerate() {
        let mut rng = ol_attribution::rng::Rng::new(case as u64);
        let scores: Vec<DatapointScore> = (0..n)
            .map(|i| DatapointScore {
                datapoint: keccak256(
                    [rng.next_u64().to_le_bytes(), (i as u64).to_le_bytes()].concat(),
                ),
                contributor: Address::with_last_byte((rng.below(5) + 1) as u8),
                datanet: B256::ZERO,
                score: if i == 0 { 1.0 } else { rng.uniform() + 1e-9 },
            })
            .collect();
        let weights = contributor_weights(&scores).unwrap();
        let tree = weights.evidence_tree();
        assert_eq!(tree.root(), weights.evidence_root);
        let proofs: Vec<serde_json::Value> = tree
            .leaves()
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let proof = tree.proof(i);
                assert!(verify(tree.root(), l, &proof));
                json!({
                    "value": [l.datapoint.to_string(), l.contributor.to_checksum(None), l.score.to_string()],
                    "proof": proof.iter().map(|h| h.to_string()).collect::<Vec<_>>(),
                })
            })
            .collect();
        let input =
            json!({ "root": tree.root().to_string(), "dump": tree.dump(), "proofs": proofs });
        let path = dir.path().join(format!("case{case}.json"));
        std::fs::write(&path, serde_json::to_vec(&input).unwrap()).unwrap();
        let out = Command::new("node")
            .arg(&script)
            .arg(&root)
            .arg(&path)
            .output()
            .expect("node must be installed to run this test");
        assert!(
            out.status.success(),
            "case {case} ({n} leaves): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            format!("ok {n}")
        );
    }
}
