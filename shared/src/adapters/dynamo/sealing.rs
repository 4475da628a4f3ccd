//! A webhook item's secrets sealed at rest (`domain::sealed`): the signing secret, the
//! previous one, the endpoint-auth value or password, and every custom header value are
//! stored as Binary attributes sealed for the item's own key (pk and sk). Items written
//! before this hold them as String: they still read, and are sealed on their next update.

use std::collections::{BTreeSet, HashMap};

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;

use super::DynamoStore;
use super::items::{Item, KIND, from_item, sdk_err, unless_condition_failed};
use super::keys::{self, PK, SK};
use crate::adapters::kms::KeyError;
use crate::domain::integration;
use crate::domain::sealed::{self, DataKey, KEY_LEN, SealError};
use crate::domain::webhook::Webhook;
use crate::ports::store::{StoreError, StoreResult};

/// The webhook attributes that hold secrets (see `leaves` for where in each).
pub(super) const SEALED_ATTRIBUTES: &[&str] = &["secret", "previous_secret", "auth", "headers", "integration"];
/// The secret fields of an `auth` map; `type`, `header` and `username` stay readable.
const AUTH_SECRET_FIELDS: &[&str] = &["value", "password"];

/// The associated data of a webhook's sealed values: its item's key.
pub(super) fn context(tenant_id: &str, webhook_id: &str) -> Vec<u8> {
    format!("{}\n{}", keys::tenant_pk(tenant_id), keys::webhook_sk(webhook_id)).into_bytes()
}

/// The secret strings of attribute `name` (the attribute itself, or some of its map's values).
fn leaves<'a>(name: &str, value: &'a mut AttributeValue) -> Vec<&'a mut AttributeValue> {
    match (name, value) {
        ("secret" | "previous_secret", v) => vec![v],
        ("auth", AttributeValue::M(m)) => {
            m.iter_mut().filter(|(k, _)| AUTH_SECRET_FIELDS.contains(&k.as_str())).map(|(_, v)| v).collect()
        }
        ("headers", AttributeValue::M(m)) => m.values_mut().collect(),
        // An integration's secret settings, as its preset names them (`type` stays readable).
        ("integration", AttributeValue::M(m)) => {
            let kind = match m.get("type") {
                Some(AttributeValue::S(kind)) => kind.clone(),
                _ => String::new(),
            };
            let secret = integration::catalog::secret_settings(&kind);
            m.iter_mut().filter(|(k, _)| secret.contains(&k.as_str())).map(|(_, v)| v).collect()
        }
        _ => Vec::new(),
    }
}

/// Whether attribute `name` still holds a secret in plain text (written before sealing).
pub(super) fn holds_plain(name: &str, value: &AttributeValue) -> bool {
    let mut value = value.clone();
    leaves(name, &mut value).iter().any(|leaf| matches!(leaf, AttributeValue::S(_)))
}

/// Seals every plain secret of attribute `name` with `key` for the item `context` names.
pub(super) fn seal_attribute(name: &str, value: &mut AttributeValue, key: &DataKey, context: &[u8]) {
    for leaf in leaves(name, value) {
        if let AttributeValue::S(plain) = leaf {
            *leaf = AttributeValue::B(Blob::new(sealed::seal(key, context, plain)));
        }
    }
}

/// The wrapped data keys the item's sealed values need.
fn wrapped_keys(item: &mut Item) -> Result<BTreeSet<Vec<u8>>, SealError> {
    let mut wanted = BTreeSet::new();
    for name in SEALED_ATTRIBUTES {
        if let Some(value) = item.get_mut(*name) {
            for leaf in leaves(name, value) {
                if let AttributeValue::B(blob) = leaf {
                    wanted.insert(sealed::parse(blob.as_ref())?.wrapped_key.to_vec());
                }
            }
        }
    }
    Ok(wanted)
}

/// Opens every sealed value of the item in place (plain text again, as serde reads it).
fn open_item(item: &mut Item, keys: &HashMap<Vec<u8>, [u8; KEY_LEN]>, context: &[u8]) -> Result<(), SealError> {
    for name in SEALED_ATTRIBUTES {
        if let Some(value) = item.get_mut(*name) {
            for leaf in leaves(name, value) {
                if let AttributeValue::B(blob) = leaf {
                    let parts = sealed::parse(blob.as_ref())?;
                    let key = keys.get(parts.wrapped_key).ok_or(SealError::DoesNotOpen)?;
                    *leaf = AttributeValue::S(sealed::open(key, &parts, context)?);
                }
            }
        }
    }
    Ok(())
}

fn text(item: &Item, name: &str) -> String {
    match item.get(name) {
        Some(AttributeValue::S(s)) => s.clone(),
        _ => String::new(),
    }
}

impl DynamoStore {
    /// Seals the plain secrets among `values` (attribute name → value) for one webhook; calls
    /// KMS only if there is something to seal and this instance has no data key yet.
    pub(super) async fn seal_secrets<'a>(
        &self,
        tenant_id: &str,
        webhook_id: &str,
        values: impl IntoIterator<Item = (&'a str, &'a mut AttributeValue)>,
    ) -> StoreResult<()> {
        let plain: Vec<_> = values.into_iter().filter(|(name, value)| holds_plain(name, value)).collect();
        if plain.is_empty() {
            return Ok(());
        }
        let key = self.data_keys.current().await.map_err(|e| StoreError::Keys(e.to_string()))?;
        let context = context(tenant_id, webhook_id);
        for (name, value) in plain {
            seal_attribute(name, value, key, &context);
        }
        Ok(())
    }

    /// A webhook from its item, its sealed secrets opened (each data key unwrapped once per
    /// instance). A value that does not open for this item is refused, never used.
    pub(super) async fn webhook_from_item(&self, mut item: Item) -> StoreResult<Webhook> {
        let webhook_id = text(&item, "id");
        let unreadable =
            |e: SealError| StoreError::SecretUnreadable { webhook_id: webhook_id.clone(), reason: e.to_string() };
        let mut keys = HashMap::new();
        for wrapped in wrapped_keys(&mut item).map_err(unreadable)? {
            // KMS refusing a wrapped key (not ours, altered) is the item's fault, not an outage.
            let key = self.data_keys.open(&wrapped).await.map_err(|e| match e {
                KeyError::Refused(_) => unreadable(SealError::DoesNotOpen),
                e => StoreError::Keys(e.to_string()),
            })?;
            keys.insert(wrapped, key);
        }
        // The key the item is stored under (not the ids it claims): a whole item copied to
        // another key does not open there either.
        let context = format!("{}\n{}", text(&item, PK), text(&item, SK)).into_bytes();
        open_item(&mut item, &keys, &context).map_err(unreadable)?;
        from_item(item)
    }

    /// A webhook from its item for fan-out, which reads its topics, filters and state but
    /// never its secrets: they stay sealed (emptied here), so matching an event costs no
    /// decryption, and one webhook whose secrets do not open (altered, or its key gone) does
    /// not refuse its tenant's events. Its deliveries are then held back by the delivery
    /// function, which reads the webhook whole, and end failed and alerted.
    pub(super) fn webhook_for_fan_out(mut item: Item) -> StoreResult<Webhook> {
        for name in SEALED_ATTRIBUTES {
            if let Some(value) = item.get_mut(*name) {
                for leaf in leaves(name, value) {
                    if matches!(leaf, AttributeValue::B(_)) {
                        *leaf = AttributeValue::S(String::new());
                    }
                }
            }
        }
        from_item(item)
    }

    /// After an update: seals what the item still holds in plain text (written before
    /// sealing, or copied by a rotation from a plain `secret`). Each attribute is replaced only
    /// if it is still the value read, so a concurrent update is never overwritten; that one
    /// sealed its own values, and anything left is sealed by the next update.
    pub(super) async fn seal_plain_leftovers(&self, tenant_id: &str, webhook_id: &str, item: &Item) -> StoreResult<()> {
        let mut sealed: Vec<(&str, AttributeValue)> = SEALED_ATTRIBUTES
            .iter()
            .filter_map(|name| item.get(*name).filter(|v| holds_plain(name, v)).map(|v| (*name, v.clone())))
            .collect();
        if sealed.is_empty() {
            return Ok(());
        }
        self.seal_secrets(tenant_id, webhook_id, sealed.iter_mut().map(|(n, v)| (*n, v))).await?;
        let mut update = self.update_webhook_item(tenant_id, webhook_id);
        let (mut sets, mut conditions) = (Vec::new(), Vec::new());
        for (name, value) in sealed {
            sets.push(format!("#{name} = :new_{name}"));
            conditions.push(format!("#{name} = :old_{name}"));
            update = update
                .expression_attribute_names(format!("#{name}"), name)
                .expression_attribute_values(format!(":new_{name}"), value)
                .expression_attribute_values(format!(":old_{name}"), item[name].clone());
        }
        let result = update
            .update_expression(format!("SET {}", sets.join(", ")))
            .condition_expression(conditions.join(" AND "))
            .send()
            .await;
        unless_condition_failed("UpdateItem", result)?;
        Ok(())
    }
}

impl DynamoStore {
    /// Seals every webhook item that still holds a secret in plain text, without waiting for
    /// its next update; returns how many it sealed. An operator's one-off after upgrading
    /// (`hookline-admin seal-secrets`): a Scan, so never on a request path.
    pub async fn seal_plain_webhooks(&self) -> StoreResult<usize> {
        let mut sealed = 0;
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression("#kind = :webhook")
                .expression_attribute_names("#kind", KIND)
                .expression_attribute_values(":webhook", AttributeValue::S("webhook".into()))
                .set_exclusive_start_key(start)
                .consistent_read(true)
                .send()
                .await
                .map_err(sdk_err("Scan"))?;
            for item in out.items.unwrap_or_default() {
                // Sealed for the key it is stored under, like every read opens it.
                let (pk, sk) = (text(&item, PK), text(&item, SK));
                let ids = pk.strip_prefix(keys::TENANT_PK_PREFIX).zip(sk.strip_prefix(keys::WEBHOOK_SK_PREFIX));
                let plain = SEALED_ATTRIBUTES.iter().any(|name| item.get(*name).is_some_and(|v| holds_plain(name, v)));
                if let (Some((tenant_id, webhook_id)), true) = (ids, plain) {
                    self.seal_plain_leftovers(tenant_id, webhook_id, &item).await?;
                    sealed += 1;
                }
            }
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(sealed);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> DataKey {
        DataKey::new([3u8; KEY_LEN], b"wrapped".to_vec()).expect("key")
    }

    fn s(v: &str) -> AttributeValue {
        AttributeValue::S(v.into())
    }

    fn webhook_item() -> Item {
        Item::from([
            ("id".into(), s("wh_1")),
            ("secret".into(), s("whsec_current")),
            ("previous_secret".into(), s("whsec_previous")),
            (
                "auth".into(),
                AttributeValue::M(HashMap::from([
                    ("type".into(), s("basic")),
                    ("username".into(), s("hookline")),
                    ("password".into(), s("pa55word")),
                ])),
            ),
            ("headers".into(), AttributeValue::M(HashMap::from([("x-token".into(), s("tok-123"))]))),
            (
                "integration".into(),
                AttributeValue::M(HashMap::from([
                    ("type".into(), s("klaviyo")),
                    ("api_key".into(), s("pk_klaviyo_key")),
                    ("email_field".into(), s("user_email")),
                ])),
            ),
            ("url".into(), s("https://example.com")),
        ])
    }

    #[test]
    fn every_secret_leaf_is_sealed_and_opens_back_the_rest_untouched() {
        // GIVEN a webhook item in plain text (as written before sealing)
        let mut item = webhook_item();
        let ctx = context("acme", "wh_1");
        // WHEN its secret attributes are sealed
        for name in SEALED_ATTRIBUTES {
            assert!(holds_plain(name, &item[*name]), "{name} is plain");
            seal_attribute(name, item.get_mut(*name).expect("attribute"), &key(), &ctx);
            assert!(!holds_plain(name, &item[*name]), "{name} is sealed");
        }
        // THEN no secret is left in the item, the other fields are as they were
        let shown = format!("{item:?}");
        for secret in ["whsec_current", "whsec_previous", "pa55word", "tok-123", "pk_klaviyo_key"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        for readable in ["basic", "hookline", "x-token", "https://example.com", "klaviyo", "user_email"] {
            assert!(shown.contains(readable), "{readable} kept");
        }
        // AND it opens back to the plain item, for this item only
        let keys = HashMap::from([(b"wrapped".to_vec(), *key().key())]);
        assert_eq!(wrapped_keys(&mut item).expect("keys"), BTreeSet::from([b"wrapped".to_vec()]));
        let mut copy = item.clone();
        assert_eq!(open_item(&mut copy, &keys, &context("acme", "wh_2")), Err(SealError::DoesNotOpen));
        open_item(&mut item, &keys, &ctx).expect("opens");
        assert_eq!(item, webhook_item());
    }

    #[test]
    fn a_value_without_its_key_does_not_open() {
        let mut item = webhook_item();
        seal_attribute("secret", item.get_mut("secret").expect("secret"), &key(), &context("acme", "wh_1"));
        assert_eq!(open_item(&mut item, &HashMap::new(), &context("acme", "wh_1")), Err(SealError::DoesNotOpen));
    }
}
