//! Seeded synthetic data: tabular classification tasks and a text corpus with planted canaries.
//!
//! Nothing is downloaded: the evaluation harness and the tests run on data generated here, and a
//! seed fixes it on every machine.

use crate::rng::{Rng, mix};
use alloy_primitives::{Address, B256, keccak256};

/// A classification data set with dense features.
#[derive(Debug, Clone)]
pub struct TabularData {
    /// Feature rows.
    pub x: Vec<Vec<f64>>,
    /// Class labels.
    pub y: Vec<u32>,
    /// Number of classes.
    pub classes: usize,
}

impl TabularData {
    /// Number of examples.
    pub fn len(&self) -> usize {
        self.y.len()
    }

    /// Whether there is no example.
    pub fn is_empty(&self) -> bool {
        self.y.is_empty()
    }

    /// Number of features.
    pub fn features(&self) -> usize {
        self.x.first().map_or(0, Vec::len)
    }

    /// The examples at `idx`, in that order.
    pub fn select(&self, idx: &[usize]) -> Self {
        Self {
            x: idx.iter().map(|&i| self.x[i].clone()).collect(),
            y: idx.iter().map(|&i| self.y[i]).collect(),
            classes: self.classes,
        }
    }

    /// Row references, for building batches.
    pub fn rows(&self) -> Vec<&[f64]> {
        self.x.iter().map(Vec::as_slice).collect()
    }
}

/// Parameters of [`classification`].
#[derive(Debug, Clone, Copy)]
pub struct ClassificationSpec {
    /// Number of examples.
    pub n: usize,
    /// Number of features.
    pub features: usize,
    /// Number of classes.
    pub classes: usize,
    /// Standard deviation of the class means around the origin (larger = easier).
    pub separation: f64,
    /// Seed of the class means (shared by a train and a test split).
    pub task_seed: u64,
    /// Seed of the examples.
    pub sample_seed: u64,
}

/// A Gaussian-mixture classification task: class means drawn once from the task seed, each
/// example its class mean plus standard normal noise, classes balanced in expectation.
pub fn classification(spec: ClassificationSpec) -> TabularData {
    let mut task = Rng::from_words(&[spec.task_seed, 0x7461736b]);
    let means: Vec<Vec<f64>> = (0..spec.classes)
        .map(|_| {
            (0..spec.features)
                .map(|_| task.normal() * spec.separation)
                .collect()
        })
        .collect();
    let mut rng = Rng::from_words(&[spec.task_seed, spec.sample_seed, 0x73616d70]);
    let mut x = Vec::with_capacity(spec.n);
    let mut y = Vec::with_capacity(spec.n);
    for _ in 0..spec.n {
        let c = rng.below(spec.classes as u64) as usize;
        x.push(means[c].iter().map(|m| m + rng.normal()).collect());
        y.push(c as u32);
    }
    TabularData {
        x,
        y,
        classes: spec.classes,
    }
}

/// Flips the labels of `fraction` of the examples (chosen with `seed`) to another class drawn
/// uniformly; returns the flipped indices, sorted.
pub fn flip_labels(data: &mut TabularData, fraction: f64, seed: u64) -> Vec<usize> {
    let mut rng = Rng::from_words(&[seed, 0x666c6970]);
    let k = ((data.len() as f64) * fraction).round() as usize;
    let idx = rng.subset(data.len(), k);
    for &i in &idx {
        let shift = 1 + rng.below(data.classes as u64 - 1) as u32;
        data.y[i] = (data.y[i] + shift) % data.classes as u32;
    }
    idx
}

/// A document of a Datanet: content-addressed id, contributor, text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// `keccak256(text)`: the content address, as the content store uses.
    pub id: B256,
    /// The contributor's account.
    pub contributor: Address,
    /// The text.
    pub text: String,
}

impl Document {
    /// A document whose id is the keccak256 of its text.
    pub fn new(contributor: Address, text: String) -> Self {
        Self {
            id: keccak256(text.as_bytes()),
            contributor,
            text,
        }
    }
}

/// A canary: a unique phrase planted in exactly one document.
#[derive(Debug, Clone)]
pub struct Canary {
    /// The sentence containing the phrase, as it appears in the document.
    pub sentence: String,
    /// The document it was planted in (index into [`TextCorpus::docs`]).
    pub doc: usize,
    /// Its contributor.
    pub contributor: Address,
}

/// A generated text corpus.
#[derive(Debug, Clone)]
pub struct TextCorpus {
    /// The documents, grouped by contributor.
    pub docs: Vec<Document>,
    /// The contributors, in order.
    pub contributors: Vec<Address>,
    /// The planted canaries.
    pub canaries: Vec<Canary>,
}

/// Parameters of [`text_corpus`].
#[derive(Debug, Clone, Copy)]
pub struct CorpusSpec {
    /// Number of contributors.
    pub contributors: usize,
    /// Documents per contributor.
    pub docs_per_contributor: usize,
    /// Sentences per document.
    pub sentences_per_doc: usize,
    /// Number of canaries (each in a distinct document of a distinct contributor while
    /// possible).
    pub canaries: usize,
    /// Seed.
    pub seed: u64,
}

impl Default for CorpusSpec {
    fn default() -> Self {
        Self {
            contributors: 20,
            docs_per_contributor: 4,
            sentences_per_doc: 4,
            canaries: 10,
            seed: 1,
        }
    }
}

const SYLLABLES: [&str; 24] = [
    "ka", "lo", "mi", "ra", "ten", "so", "vi", "du", "pe", "na", "gor", "li", "ba", "shi", "tu",
    "ver", "an", "el", "om", "ri", "ze", "qua", "fi", "ho",
];

const COMMON: [&str; 16] = [
    "the", "a", "of", "and", "in", "with", "near", "under", "over", "before", "after", "while",
    "because", "every", "some", "this",
];

fn pseudo_word(rng: &mut Rng, syllables: usize) -> String {
    (0..syllables)
        .map(|_| SYLLABLES[rng.below(SYLLABLES.len() as u64) as usize])
        .collect()
}

/// A word that cannot collide with the corpus vocabulary: random letters, 6 to 9 of them.
fn canary_word(rng: &mut Rng) -> String {
    let len = 6 + rng.below(4) as usize;
    (0..len)
        .map(|_| (b'a' + rng.below(26) as u8) as char)
        .collect()
}

/// The address of contributor `i` for a corpus seed (the last 20 bytes of a keccak).
pub fn contributor_address(seed: u64, i: usize) -> Address {
    let h = keccak256(
        [
            mix(&[seed, 0x636f6e74]).to_le_bytes(),
            (i as u64).to_le_bytes(),
        ]
        .concat(),
    );
    Address::from_slice(&h[12..])
}

/// Generates a corpus: a shared vocabulary of pseudo-words, a topic (a preferred slice of the
/// vocabulary) per contributor, template sentences, and canary sentences
/// ("the secret code is w₁ … w₆ .", random-letter words) planted in distinct documents.
pub fn text_corpus(spec: CorpusSpec) -> TextCorpus {
    let mut rng = Rng::from_words(&[spec.seed, 0x636f7270]);
    let mut vocab: Vec<String> = Vec::new();
    while vocab.len() < 400 {
        let syllables = 1 + rng.below(3) as usize;
        let w = pseudo_word(&mut rng, syllables);
        if !vocab.contains(&w) && !COMMON.contains(&w.as_str()) {
            vocab.push(w);
        }
    }
    let contributors: Vec<Address> = (0..spec.contributors)
        .map(|i| contributor_address(spec.seed, i))
        .collect();
    let n_docs = spec.contributors * spec.docs_per_contributor;
    // Documents that receive a canary: spread over contributors first.
    let mut canary_docs: Vec<usize> = Vec::new();
    let mut order: Vec<usize> = (0..spec.contributors).collect();
    rng.shuffle(&mut order);
    'outer: for round in 0..spec.docs_per_contributor {
        for &c in &order {
            if canary_docs.len() == spec.canaries.min(n_docs) {
                break 'outer;
            }
            canary_docs.push(c * spec.docs_per_contributor + round);
        }
    }
    let mut docs = Vec::with_capacity(n_docs);
    let mut canaries = Vec::new();
    for (c, &contributor) in contributors.iter().enumerate() {
        let topic_start = (c * 37) % vocab.len();
        for d in 0..spec.docs_per_contributor {
            let doc_index = c * spec.docs_per_contributor + d;
            let mut sentences: Vec<String> = (0..spec.sentences_per_doc)
                .map(|_| {
                    let word = |rng: &mut Rng| -> &str {
                        if rng.uniform() < 0.7 {
                            &vocab[(topic_start + rng.below(40) as usize) % vocab.len()]
                        } else {
                            &vocab[rng.below(vocab.len() as u64) as usize]
                        }
                    };
                    let c1 = COMMON[rng.below(COMMON.len() as u64) as usize];
                    let w1 = word(&mut rng).to_string();
                    let w2 = word(&mut rng).to_string();
                    let c2 = COMMON[rng.below(COMMON.len() as u64) as usize];
                    let w3 = word(&mut rng).to_string();
                    let w4 = word(&mut rng).to_string();
                    format!("{c1} {w1} {w2} {c2} {w3} {w4} .")
                })
                .collect();
            if canary_docs.contains(&doc_index) {
                let words: Vec<String> = (0..6).map(|_| canary_word(&mut rng)).collect();
                let sentence = format!("the secret code is {} .", words.join(" "));
                let at = rng.below(sentences.len() as u64 + 1) as usize;
                sentences.insert(at, sentence.clone());
                canaries.push(Canary {
                    sentence,
                    doc: doc_index,
                    contributor,
                });
            }
            docs.push(Document::new(contributor, sentences.join(" ")));
        }
    }
    canaries.sort_by_key(|c| c.doc);
    TextCorpus {
        docs,
        contributors,
        canaries,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corpus_is_seeded_and_canaries_are_unique() {
        let spec = CorpusSpec {
            contributors: 8,
            docs_per_contributor: 3,
            canaries: 5,
            ..Default::default()
        };
        let a = text_corpus(spec);
        let b = text_corpus(spec);
        assert_eq!(a.docs, b.docs);
        assert_eq!(a.canaries.len(), 5);
        for canary in &a.canaries {
            let holders: Vec<usize> = a
                .docs
                .iter()
                .enumerate()
                .filter(|(_, d)| d.text.contains(&canary.sentence))
                .map(|(i, _)| i)
                .collect();
            assert_eq!(holders, vec![canary.doc]);
            assert_eq!(a.docs[canary.doc].contributor, canary.contributor);
        }
        // Canaries go to distinct contributors while there are enough.
        let mut owners: Vec<Address> = a.canaries.iter().map(|c| c.contributor).collect();
        owners.sort();
        owners.dedup();
        assert_eq!(owners.len(), 5);
    }

    #[test]
    fn flipping_changes_exactly_the_chosen_labels() {
        let spec = ClassificationSpec {
            n: 200,
            features: 5,
            classes: 3,
            separation: 1.0,
            task_seed: 1,
            sample_seed: 2,
        };
        let clean = classification(spec);
        let mut noisy = clean.clone();
        let flipped = flip_labels(&mut noisy, 0.1, 3);
        assert_eq!(flipped.len(), 20);
        for i in 0..clean.len() {
            assert_eq!(clean.y[i] != noisy.y[i], flipped.contains(&i));
        }
    }
}
