//! Data keys from KMS for sealing secrets at rest (`domain::sealed`), cached per instance:
//! one `GenerateDataKey` the first time this instance seals, one `Decrypt` the first time it
//! meets each other instance's wrapped key. A delivery therefore calls KMS only on the cold
//! start of its instance (once per data key it reads), never per message.

use std::collections::HashMap;

use aws_sdk_kms::error::DisplayErrorContext;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::DataKeySpec;
use tokio::sync::{Mutex, OnceCell};

use crate::domain::sealed::{DataKey, KEY_LEN};

/// Bound to every data key: KMS opens a wrapped key only with the same context, so a data
/// key is good for Hookline's secrets and nothing else made with the same KMS key.
const CONTEXT_KEY: &str = "purpose";
const CONTEXT_VALUE: &str = "hookline-secrets";
/// Unwrapped keys kept; one per writing instance in practice. Past it the cache starts over.
const MAX_CACHED_KEYS: usize = 1024;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("kms {operation} failed: {message}")]
    Kms { operation: &'static str, message: String },
    #[error("kms {0} answered without a usable 256-bit key")]
    BadAnswer(&'static str),
    /// KMS refused the wrapped key itself (altered, or made under another KMS key).
    #[error("kms refused the wrapped data key: {0}")]
    Refused(String),
}

pub struct KmsDataKeys {
    client: aws_sdk_kms::Client,
    key_id: String,
    current: OnceCell<DataKey>,
    /// Wrapped key → its plain form. A tokio mutex held across the `Decrypt`, so concurrent
    /// deliveries meeting one new key make one call between them.
    opened: Mutex<HashMap<Vec<u8>, [u8; KEY_LEN]>>,
}

impl KmsDataKeys {
    /// `key_id`: the KMS key's id, ARN or alias. Nothing is called until a key is needed.
    pub fn new(client: aws_sdk_kms::Client, key_id: impl Into<String>) -> Self {
        Self { client, key_id: key_id.into(), current: OnceCell::new(), opened: Mutex::new(HashMap::new()) }
    }

    /// The data key this instance seals with, generated on first use.
    pub async fn current(&self) -> Result<&DataKey, KeyError> {
        self.current
            .get_or_try_init(|| async {
                let out = self
                    .client
                    .generate_data_key()
                    .key_id(&self.key_id)
                    .key_spec(DataKeySpec::Aes256)
                    .encryption_context(CONTEXT_KEY, CONTEXT_VALUE)
                    .send()
                    .await
                    .map_err(|e| KeyError::Kms {
                        operation: "GenerateDataKey",
                        message: DisplayErrorContext(e).to_string(),
                    })?;
                let key = plain_key(out.plaintext, "GenerateDataKey")?;
                let wrapped = out.ciphertext_blob.map(Blob::into_inner).unwrap_or_default();
                DataKey::new(key, wrapped).ok_or(KeyError::BadAnswer("GenerateDataKey"))
            })
            .await
    }

    /// The plain form of a stored value's wrapped data key.
    pub async fn open(&self, wrapped: &[u8]) -> Result<[u8; KEY_LEN], KeyError> {
        if let Some(current) = self.current.get()
            && current.wrapped() == wrapped
        {
            return Ok(*current.key());
        }
        let mut opened = self.opened.lock().await;
        if let Some(key) = opened.get(wrapped) {
            return Ok(*key);
        }
        let out = self
            .client
            .decrypt()
            // Only this KMS key: a wrapped key made under another one is refused by KMS.
            .key_id(&self.key_id)
            .ciphertext_blob(Blob::new(wrapped))
            .encryption_context(CONTEXT_KEY, CONTEXT_VALUE)
            .send()
            .await
            .map_err(|e| {
                let refused = e
                    .as_service_error()
                    .is_some_and(|s| s.is_invalid_ciphertext_exception() || s.is_incorrect_key_exception());
                let message = DisplayErrorContext(e).to_string();
                if refused { KeyError::Refused(message) } else { KeyError::Kms { operation: "Decrypt", message } }
            })?;
        let key = plain_key(out.plaintext, "Decrypt")?;
        if opened.len() >= MAX_CACHED_KEYS {
            opened.clear();
        }
        opened.insert(wrapped.to_vec(), key);
        Ok(key)
    }
}

fn plain_key(blob: Option<Blob>, operation: &'static str) -> Result<[u8; KEY_LEN], KeyError> {
    blob.and_then(|b| <[u8; KEY_LEN]>::try_from(b.as_ref()).ok()).ok_or(KeyError::BadAnswer(operation))
}
