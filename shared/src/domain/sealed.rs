//! Secrets at rest: a secret value (signing secret, endpoint-auth value, custom header value)
//! is stored sealed with AES-256-GCM under a data key, which the key-management service
//! (KMS) wraps; the store keeps the wrapped key beside the ciphertext, never the plain key.
//!
//! A sealed value is self-contained bytes, so each value can be replaced on its own:
//!
//! ```text
//! 0x01 | len (u16, big-endian) | wrapped data key (len bytes) | nonce (12) | ciphertext + tag (16)
//! ```
//!
//! The associated data is that header (version, length, wrapped key) followed by the
//! caller's `context`, the item's own key: a value copied into another item, or with its
//! wrapped key swapped, fails to open instead of being used there.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use rand::RngCore;

/// The format's first byte. A later format gets another number; this one still opens.
pub const FORMAT_V1: u8 = 1;
pub const KEY_LEN: usize = 32;
pub const NONCE_LEN: usize = 12;
pub const TAG_LEN: usize = 16;
/// The length prefix of the wrapped key is a u16.
const MAX_WRAPPED_LEN: usize = u16::MAX as usize;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("sealed value is malformed: {0}")]
    Malformed(&'static str),
    #[error("sealed value has an unknown format version {0}")]
    UnknownVersion(u8),
    #[error("sealed value does not open for this item (copied from another item, altered, or under another key)")]
    DoesNotOpen,
}

/// A data key: the AES key, and the same key as KMS wrapped it (what the store keeps).
#[derive(Clone)]
pub struct DataKey {
    key: [u8; KEY_LEN],
    wrapped: Vec<u8>,
}

impl DataKey {
    /// `None` when the wrapped form is empty or too long for the format's length prefix.
    pub fn new(key: [u8; KEY_LEN], wrapped: Vec<u8>) -> Option<Self> {
        (!wrapped.is_empty() && wrapped.len() <= MAX_WRAPPED_LEN).then_some(Self { key, wrapped })
    }

    pub fn wrapped(&self) -> &[u8] {
        &self.wrapped
    }

    pub fn key(&self) -> &[u8; KEY_LEN] {
        &self.key
    }
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(redacted)")
    }
}

/// A sealed value taken apart (nothing decrypted yet): `wrapped_key` says which data key opens it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedParts<'a> {
    pub wrapped_key: &'a [u8],
    header: &'a [u8],
    nonce: &'a [u8],
    ciphertext: &'a [u8],
}

/// Seals `plaintext` for the item `context` names, with a fresh random nonce.
pub fn seal(key: &DataKey, context: &[u8], plaintext: &str) -> Vec<u8> {
    let mut nonce = [0u8; NONCE_LEN];
    rand::rng().fill_bytes(&mut nonce);
    seal_with_nonce(key, context, plaintext, nonce)
}

/// `seal` with a given nonce: for known-answer tests. A nonce must never repeat under one key.
pub fn seal_with_nonce(key: &DataKey, context: &[u8], plaintext: &str, nonce: [u8; NONCE_LEN]) -> Vec<u8> {
    let wrapped_len = u16::try_from(key.wrapped.len()).unwrap_or(u16::MAX);
    let mut out = Vec::with_capacity(3 + key.wrapped.len() + NONCE_LEN + plaintext.len() + TAG_LEN);
    out.push(FORMAT_V1);
    out.extend_from_slice(&wrapped_len.to_be_bytes());
    out.extend_from_slice(&key.wrapped);
    let aad = [out.as_slice(), context].concat();
    let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&key.key));
    let Ok(ciphertext) = cipher.encrypt(Nonce::from_slice(&nonce), Payload { msg: plaintext.as_bytes(), aad: &aad })
    else {
        // AES-GCM fails only past 64 GiB of plaintext; a secret is at most a few KB.
        unreachable!("AES-GCM refused a short plaintext")
    };
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ciphertext);
    out
}

/// Takes a sealed value apart, checking its shape and version.
pub fn parse(blob: &[u8]) -> Result<SealedParts<'_>, SealError> {
    let (&version, rest) = blob.split_first().ok_or(SealError::Malformed("empty"))?;
    if version != FORMAT_V1 {
        return Err(SealError::UnknownVersion(version));
    }
    let (len, rest) = rest.split_first_chunk::<2>().ok_or(SealError::Malformed("no key length"))?;
    let len = usize::from(u16::from_be_bytes(*len));
    if len == 0 || rest.len() < len + NONCE_LEN + TAG_LEN {
        return Err(SealError::Malformed("too short"));
    }
    let (wrapped_key, rest) = rest.split_at(len);
    let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
    Ok(SealedParts { wrapped_key, header: &blob[..3 + len], nonce, ciphertext })
}

/// Opens a sealed value with the plain form of its data key, for the item `context` names.
pub fn open(key: &[u8; KEY_LEN], parts: &SealedParts<'_>, context: &[u8]) -> Result<String, SealError> {
    let aad = [parts.header, context].concat();
    let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key));
    let plain = cipher
        .decrypt(Nonce::from_slice(parts.nonce), Payload { msg: parts.ciphertext, aad: &aad })
        .map_err(|_| SealError::DoesNotOpen)?;
    String::from_utf8(plain).map_err(|_| SealError::Malformed("not UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> DataKey {
        DataKey::new([7u8; KEY_LEN], b"wrapped-by-kms".to_vec()).expect("key")
    }

    const CONTEXT: &[u8] = b"TENANT#acme\nWEBHOOK#wh_1";

    #[test]
    fn known_answer_of_the_v1_format() {
        // GIVEN a fixed key, wrapped form, nonce and context
        // WHEN a secret is sealed
        let blob = seal_with_nonce(&key(), CONTEXT, "whsec_abc", [1u8; NONCE_LEN]);
        // THEN the bytes are the documented layout, and the ciphertext is AES-256-GCM's
        let mut expected = vec![FORMAT_V1, 0, 14];
        expected.extend_from_slice(b"wrapped-by-kms");
        expected.extend_from_slice(&[1u8; NONCE_LEN]);
        assert_eq!(&blob[..expected.len()], expected.as_slice());
        assert_eq!(blob.len(), expected.len() + "whsec_abc".len() + TAG_LEN);
        assert_eq!(
            hex::encode(&blob[expected.len()..]),
            "0189fad2f3e08d6cb2a9b6f13c0ead057b77565f759944e7b1",
            "AES-256-GCM of this key, nonce, plaintext and associated data (computed with Python's cryptography)"
        );
        // AND it opens back to the secret
        let parts = parse(&blob).expect("parses");
        assert_eq!(parts.wrapped_key, b"wrapped-by-kms");
        assert_eq!(open(key().key(), &parts, CONTEXT).expect("opens"), "whsec_abc");
    }

    #[test]
    fn every_seal_differs_and_opens() {
        let (a, b) = (seal(&key(), CONTEXT, "pw"), seal(&key(), CONTEXT, "pw"));
        assert_ne!(a, b, "a fresh nonce each time");
        for blob in [a, b] {
            assert_eq!(open(key().key(), &parse(&blob).expect("parses"), CONTEXT).expect("opens"), "pw");
        }
    }

    #[test]
    fn another_items_context_does_not_open() {
        // GIVEN a value sealed for one webhook
        let blob = seal(&key(), CONTEXT, "bearer-token");
        // WHEN it is opened as another webhook's (copied into its item)
        let other = open(key().key(), &parse(&blob).expect("parses"), b"TENANT#acme\nWEBHOOK#wh_2");
        // THEN it is refused
        assert_eq!(other, Err(SealError::DoesNotOpen));
    }

    #[test]
    fn any_altered_byte_is_refused() {
        let blob = seal(&key(), CONTEXT, "password");
        for i in 0..blob.len() {
            let mut bad = blob.clone();
            bad[i] ^= 0x01;
            let opened = parse(&bad).and_then(|parts| open(key().key(), &parts, CONTEXT));
            assert!(opened.is_err(), "byte {i} altered still opened");
        }
        // A wrong key is refused like tampering.
        assert_eq!(open(&[8u8; KEY_LEN], &parse(&blob).expect("parses"), CONTEXT), Err(SealError::DoesNotOpen));
    }

    #[test]
    fn malformed_and_unknown_versions_are_errors_not_panics() {
        assert_eq!(parse(&[]), Err(SealError::Malformed("empty")));
        assert_eq!(parse(&[2, 0, 1, 0]), Err(SealError::UnknownVersion(2)));
        assert_eq!(parse(&[FORMAT_V1]), Err(SealError::Malformed("no key length")));
        assert_eq!(parse(&[FORMAT_V1, 0, 0]), Err(SealError::Malformed("too short")));
        assert_eq!(parse(&[FORMAT_V1, 0, 4, 1, 2, 3, 4]), Err(SealError::Malformed("too short")));
        let blob = seal(&key(), CONTEXT, "x");
        assert!(parse(&blob[..blob.len() - TAG_LEN]).is_err(), "cut short");
    }

    #[test]
    fn data_keys_need_a_wrapped_form_that_fits_and_hide_in_debug() {
        assert!(DataKey::new([0; KEY_LEN], Vec::new()).is_none());
        assert!(DataKey::new([0; KEY_LEN], vec![0; MAX_WRAPPED_LEN + 1]).is_none());
        assert_eq!(format!("{:?}", key()), "DataKey(redacted)");
    }
}
