//! The RocksDB content store and its signed access, end to end over real files and real
//! secp256k1 signatures.

use alloy_primitives::{Address, B256, U256, keccak256};
use alloy_signer::SignerSync as _;
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::SolStruct as _;
use ol_content::{
    ContentAccess, ContentError, ContentKey, ContentLimits, ContentStore, GetContent, PutContent,
    ReadAuthority, ReadOutcome, ReaderRole, RocksContentStore, SignedPut, SignedRead,
    content_domain,
};
use std::{path::Path, sync::Arc};

const REGISTRY: Address = Address::repeat_byte(0x42);
const NOW: u64 = 1_800_000_000;

fn open(dir: &Path, key: [u8; 32], limits: ContentLimits) -> Arc<RocksContentStore> {
    Arc::new(RocksContentStore::open(dir, ContentKey::from_bytes(&key), limits).unwrap())
}

fn access(store: Arc<RocksContentStore>) -> ContentAccess {
    ContentAccess::new(store, content_domain(1611, REGISTRY), 600)
}

fn signed_put(access: &ContentAccess, signer: &PrivateKeySigner, content: &[u8]) -> SignedPut {
    let message = PutContent {
        contributor: signer.address(),
        contentHash: keccak256(content),
        size: content.len() as u64,
    };
    let signature = signer
        .sign_hash_sync(&message.eip712_signing_hash(access.domain()))
        .unwrap();
    SignedPut {
        contributor: signer.address(),
        content_hash: keccak256(content),
        content: content.to_vec(),
        signature: signature.as_bytes().to_vec(),
    }
}

fn signed_read(
    access: &ContentAccess,
    signer: &PrivateKeySigner,
    hash: B256,
    datanet: u64,
    nonce: u64,
    expiry: u64,
) -> SignedRead {
    let message = GetContent {
        reader: signer.address(),
        contentHash: hash,
        datanetId: U256::from(datanet),
        nonce,
        expiry,
    };
    let signature = signer
        .sign_hash_sync(&message.eip712_signing_hash(access.domain()))
        .unwrap();
    SignedRead {
        message,
        signature: signature.as_bytes().to_vec(),
    }
}

/// Datanet 1's curator is `curator`; nobody else holds a role.
struct OneCurator {
    curator: Address,
}

impl ReadAuthority for OneCurator {
    fn role(
        &self,
        reader: Address,
        _hash: B256,
        datanet: U256,
    ) -> Result<Option<ReaderRole>, String> {
        Ok((reader == self.curator && datanet == U256::from(1)).then_some(ReaderRole::Curator))
    }
}

const PASSAGE: &[u8] = b"the quokka ledger of vindemiatrix: a passage no other document holds";

#[test]
fn contributions_are_encrypted_at_rest_and_read_back_whole() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), [9; 32], ContentLimits::default());
    let contributor = PrivateKeySigner::random();
    let access = access(store.clone());
    let meta = access
        .put(&signed_put(&access, &contributor, PASSAGE))
        .unwrap();
    assert_eq!(meta.hash, keccak256(PASSAGE));
    assert_eq!(meta.size, PASSAGE.len() as u64);
    assert_eq!(meta.uploader, contributor.address());
    // Uploading the same bytes again stores nothing new.
    access
        .put(&signed_put(&access, &contributor, PASSAGE))
        .unwrap();
    assert_eq!(store.stored_bytes().unwrap(), PASSAGE.len() as u64);
    drop(access);
    drop(store);

    // No file of the database holds the plaintext.
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        assert!(
            !bytes.windows(16).any(|w| w == &PASSAGE[..16]),
            "plaintext found on disk"
        );
    }

    // Reopened with its key, the object is whole; with another key, it does not open.
    let store = open(dir.path(), [9; 32], ContentLimits::default());
    assert_eq!(store.get(keccak256(PASSAGE)).unwrap().unwrap(), PASSAGE);
    assert_eq!(store.stored_bytes().unwrap(), PASSAGE.len() as u64);
    drop(store);
    let wrong = open(dir.path(), [8; 32], ContentLimits::default());
    assert!(matches!(
        wrong.get(keccak256(PASSAGE)),
        Err(ContentError::Corrupt { .. })
    ));
}

#[test]
fn a_wrong_signature_or_a_wrong_hash_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), [1; 32], ContentLimits::default());
    let access = access(store.clone());
    let contributor = PrivateKeySigner::random();
    let stranger = PrivateKeySigner::random();

    let mut forged = signed_put(&access, &stranger, PASSAGE);
    forged.contributor = contributor.address();
    assert!(matches!(
        access.put(&forged),
        Err(ContentError::WrongSigner { .. })
    ));

    let mut garbled = signed_put(&access, &contributor, PASSAGE);
    garbled.signature.truncate(64);
    assert!(matches!(
        access.put(&garbled),
        Err(ContentError::BadSignature(_))
    ));

    let mut swapped = signed_put(&access, &contributor, PASSAGE);
    swapped.content = b"other bytes".to_vec();
    assert!(matches!(
        access.put(&swapped),
        Err(ContentError::HashMismatch { .. })
    ));

    // Signed for another chain: the signature recovers to someone else.
    let other_chain = ContentAccess::new(store.clone(), content_domain(1, REGISTRY), 600);
    assert!(matches!(
        access.put(&signed_put(&other_chain, &contributor, PASSAGE)),
        Err(ContentError::WrongSigner { .. })
    ));

    assert_eq!(store.meta(keccak256(PASSAGE)).unwrap(), None);
    assert_eq!(store.stored_bytes().unwrap(), 0);
}

#[test]
fn budgets_refuse_oversized_uploads_a_full_store_and_a_spent_quota() {
    let dir = tempfile::tempdir().unwrap();
    let limits = ContentLimits {
        max_object_bytes: 100,
        max_total_bytes: 150,
        max_bytes_per_uploader: 120,
    };
    let store = open(dir.path(), [2; 32], limits);
    let access = access(store.clone());
    let alice = PrivateKeySigner::random();
    let bob = PrivateKeySigner::random();

    let big = vec![b'x'; 101];
    assert!(matches!(
        access.put(&signed_put(&access, &alice, &big)),
        Err(ContentError::TooLarge {
            size: 101,
            max: 100
        })
    ));
    access
        .put(&signed_put(&access, &alice, &[b'a'; 80]))
        .unwrap();
    assert!(matches!(
        access.put(&signed_put(&access, &alice, &[b'b'; 50])),
        Err(ContentError::QuotaExceeded { used: 80, .. })
    ));
    assert!(matches!(
        access.put(&signed_put(&access, &bob, &[b'c'; 90])),
        Err(ContentError::StoreFull { used: 80, .. })
    ));
    assert_eq!(store.stored_bytes().unwrap(), 80);
    assert_eq!(store.meta(keccak256([b'c'; 90])).unwrap(), None);
}

#[test]
fn reads_give_plaintext_to_roles_only_and_refuse_replays() {
    let dir = tempfile::tempdir().unwrap();
    let access = access(open(dir.path(), [3; 32], ContentLimits::default()));
    let contributor = PrivateKeySigner::random();
    let curator = PrivateKeySigner::random();
    let stranger = PrivateKeySigner::random();
    let authority = OneCurator {
        curator: curator.address(),
    };
    let hash = access
        .put(&signed_put(&access, &contributor, PASSAGE))
        .unwrap()
        .hash;

    // Without a signature: the hash and size only; an unknown hash: nothing.
    let outcome = access.read(hash, None, &authority, NOW).unwrap().unwrap();
    assert!(matches!(outcome, ReadOutcome::MetaOnly(meta) if meta.size == PASSAGE.len() as u64));
    assert_eq!(
        access.read(B256::ZERO, None, &authority, NOW).unwrap(),
        None
    );

    // The contributor and Datanet 1's curator read the plaintext.
    let read = signed_read(&access, &contributor, hash, 0, 1, NOW + 60);
    let Some(ReadOutcome::Plaintext { content, role, .. }) =
        access.read(hash, Some(&read), &authority, NOW).unwrap()
    else {
        panic!("the contributor must read its content");
    };
    assert_eq!(
        (content.as_slice(), role),
        (PASSAGE, ReaderRole::Contributor)
    );
    let read = signed_read(&access, &curator, hash, 1, 1, NOW + 60);
    assert!(matches!(
        access.read(hash, Some(&read), &authority, NOW).unwrap(),
        Some(ReadOutcome::Plaintext {
            role: ReaderRole::Curator,
            ..
        })
    ));

    // The same signature again is a replay.
    assert!(matches!(
        access.read(hash, Some(&read), &authority, NOW),
        Err(ContentError::Replayed { nonce: 1, .. })
    ));
    // A curator of another Datanet, and a stranger, are refused.
    let read = signed_read(&access, &curator, hash, 2, 2, NOW + 60);
    assert!(matches!(
        access.read(hash, Some(&read), &authority, NOW),
        Err(ContentError::Unauthorized { .. })
    ));
    let read = signed_read(&access, &stranger, hash, 1, 1, NOW + 60);
    assert!(matches!(
        access.read(hash, Some(&read), &authority, NOW),
        Err(ContentError::Unauthorized { .. })
    ));
    // Expired, valid for too long, signed for another hash, signed by someone else.
    let read = signed_read(&access, &contributor, hash, 0, 5, NOW - 1);
    assert!(matches!(
        access.read(hash, Some(&read), &authority, NOW),
        Err(ContentError::Expired { .. })
    ));
    let read = signed_read(&access, &contributor, hash, 0, 6, NOW + 601);
    assert!(matches!(
        access.read(hash, Some(&read), &authority, NOW),
        Err(ContentError::ExpiryTooFar { .. })
    ));
    let read = signed_read(&access, &contributor, B256::ZERO, 0, 7, NOW + 60);
    assert!(matches!(
        access.read(hash, Some(&read), &authority, NOW),
        Err(ContentError::HashMismatch { .. })
    ));
    let mut read = signed_read(&access, &stranger, hash, 0, 8, NOW + 60);
    read.message.reader = contributor.address();
    assert!(matches!(
        access.read(hash, Some(&read), &authority, NOW),
        Err(ContentError::WrongSigner { .. })
    ));
}

#[test]
fn spent_nonces_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let reader = Address::repeat_byte(5);
    {
        let store = open(dir.path(), [4; 32], ContentLimits::default());
        store.spend_nonce(reader, 7, NOW + 60, NOW).unwrap();
    }
    let store = open(dir.path(), [4; 32], ContentLimits::default());
    assert!(matches!(
        store.spend_nonce(reader, 7, NOW + 60, NOW),
        Err(ContentError::Replayed { .. })
    ));
    store.spend_nonce(reader, 8, NOW + 60, NOW).unwrap();
}
