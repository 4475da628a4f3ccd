//! The topic catalog: the event types a deployment offers, each with a description and a
//! sample payload (what a test send posts by default). Chosen by `config` from
//! `HOOKLINE_TOPIC_CATALOG`: `seed` (the catalog shipped in `shared/catalog/seed-topics.json`:
//! the 17 topics of seed page 001, with samples built from its field lists, and page 004's 18
//! channel activities, `<channel>_<activity>`, with samples in its event shape), a path to a JSON
//! file of the same shape, or `none`/unset. With a catalog, webhooks may subscribe only to its
//! topics; without one, to any well-formed topic name.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::domain::event::EventPayload;

/// The setting that names the shipped catalog.
pub const SEED_CATALOG: &str = "seed";
const SEED_JSON: &str = include_str!("../../catalog/seed-topics.json");

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Topic {
    pub name: String,
    pub description: String,
    pub sample: EventPayload,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    topics: Vec<Topic>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TopicCatalog {
    topics: BTreeMap<String, Topic>,
}

impl TopicCatalog {
    pub fn parse(json: &str) -> Result<Self, String> {
        let file: CatalogFile = serde_json::from_str(json).map_err(|e| e.to_string())?;
        let mut topics = BTreeMap::new();
        for t in file.topics {
            crate::domain::topic::validate_topic(&t.name).map_err(|e| e.to_string())?;
            if topics.insert(t.name.clone(), t).is_some() {
                return Err("a topic is listed twice".into());
            }
        }
        Ok(Self { topics })
    }

    pub fn seed() -> Self {
        // The shipped file is checked by a test; an empty catalog is the safe fallback.
        Self::parse(SEED_JSON).unwrap_or(Self { topics: BTreeMap::new() })
    }

    pub fn get(&self, name: &str) -> Option<&Topic> {
        self.topics.get(name)
    }

    pub fn topics(&self) -> impl Iterator<Item = &Topic> {
        self.topics.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_catalog_has_page_004s_channel_activities_in_its_shape() {
        let c = TopicCatalog::parse(SEED_JSON).expect("the shipped catalog parses");
        // GIVEN page 004's table of channels and the activities tracked for each
        let table: &[(&str, &[&str])] = &[
            ("email", &["delivered", "opened", "clicked", "bounced"]),
            ("sms", &["delivered", "clicked"]),
            ("apn", &["delivered", "clicked"]),
            ("bpn", &["delivered", "clicked"]),
            ("whatsapp", &["delivered", "opened", "clicked", "failed"]),
            ("rcs", &["delivered", "opened", "clicked", "failed"]),
        ];
        for (channel, activities) in table {
            for activity in *activities {
                // THEN each is a topic whose sample is one of page 004's event objects
                let name = format!("{channel}_{activity}");
                let t = c.get(&name).unwrap_or_else(|| panic!("{name} missing"));
                let data = &t.sample.data;
                assert_eq!(data["channel"], *channel, "{name}");
                for key in
                    ["event", "msgid", "webhook_name", "journey_name", "custom_params", "att_params", "event_params"]
                {
                    assert!(data.contains_key(key), "{name}: {key}");
                }
                assert!(data["event_params"]["timestamp"].is_string(), "{name}");
            }
        }
        assert_eq!(c.topics().filter(|t| t.sample.data.contains_key("channel")).count(), 18);
    }

    #[test]
    fn the_seed_catalog_has_page_001s_seventeen_topics() {
        let c = TopicCatalog::parse(SEED_JSON).expect("the shipped catalog parses");
        assert_eq!(c.topics().count(), 17 + 18, "page 001's, and page 004's channel activities");
        for name in ["lead_create", "coupon_create", "order_update", "wallettrasaction_update", "referrernotify_create"]
        {
            assert!(c.get(name).is_some(), "{name}");
        }
        let coupon = c.get("coupon_create").expect("coupon_create");
        assert_eq!(coupon.sample.data["fiat_value"], 2);
        assert_eq!(coupon.sample.context["business_currency_code"], "INR");
    }

    #[test]
    fn bad_topic_names_are_refused() {
        assert!(
            TopicCatalog::parse(
                r#"{"topics": [{"name": "bad name", "description": "", "sample": {"context": {}, "data": {}}}]}"#
            )
            .is_err()
        );
    }
}
