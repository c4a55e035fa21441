//! Suffix-array lineage on real text: the Markdown documentation of the crates this workspace
//! builds with, from the local cargo registry (present wherever `cargo test` has built the
//! workspace, and fixed by `Cargo.lock`), one contributor per repository owner.
//!
//! Asserts the goals of issue 14 on a few hundred documents: outputs made only of sentences that
//! occur nowhere in the index attribute nothing (at least 95%), outputs splicing two
//! contributors' passages around an invented sentence put at least 80% of the ppm on the two
//! true sources (at least 90% of them) with the true sources ranked first, and the same outputs
//! traced without the evidence threshold do not (so the test measures the threshold, not an
//! easy corpus).

use alloy_primitives::B256;
use ol_attribution::{
    corpus::{assemble_registry_corpus, cargo_registry_sources, read_documents},
    corpus_eval::{CorpusEvalSpec, eval_corpus},
    tokenizer::TextTokenizer,
};

#[test]
fn on_registry_docs_invented_text_abstains_and_spliced_text_concentrates() {
    let sources = cargo_registry_sources();
    assert!(
        !sources.is_empty(),
        "no cargo registry sources under $CARGO_HOME/registry/src (or ~/.cargo/registry/src): \
         this test reads the Markdown docs of the crates the workspace depends on; run \
         `cargo fetch` first"
    );
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("docs");
    let made = assemble_registry_corpus(&sources, &folder, 300, 64 * 1024).unwrap();
    assert!(
        made.documents >= 200 && made.contributors >= 40,
        "the registry holds too few Markdown documents for the measurement: {made:?}"
    );
    let docs = read_documents(&folder, B256::ZERO).unwrap();
    assert_eq!(docs.len(), made.documents);
    let tokenizer = TextTokenizer::default_tokenizer().unwrap();
    let spec = CorpusEvalSpec {
        outputs: 40,
        ..CorpusEvalSpec::default()
    };
    let report = eval_corpus(
        &docs,
        &tokenizer,
        &spec,
        &dir.path().join("index"),
        &mut |_| {},
    )
    .unwrap();
    eprintln!("{made:?}\n{}", report.render());
    assert_eq!(
        report.spliced, spec.outputs,
        "too few passages could be drawn"
    );
    assert!(
        report.missed_goals().is_empty(),
        "{:?}",
        report.missed_goals()
    );
    let base = report.without_threshold;
    assert!(
        base.false_payout > 0.5 && base.concentrated < report.calibrated.concentrated,
        "without the threshold the corpus should pay for invented text and spread the weight: {base:?}"
    );
}
