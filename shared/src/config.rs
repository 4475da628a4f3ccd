//! Configuration from the environment, read and validated once at start-up so a missing or
//! malformed setting stops the function with a message that names it.

use std::collections::HashMap;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigError {
    #[error("missing required environment variable {0}")]
    Missing(&'static str),
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

pub const ENV_TABLE: &str = "HOOKLINE_TABLE";
pub const ENV_DELIVERY_QUEUE_URL: &str = "HOOKLINE_DELIVERY_QUEUE_URL";
pub const ENV_ALLOW_PRIVATE_TARGETS: &str = "HOOKLINE_ALLOW_PRIVATE_TARGETS";
pub const ENV_RETENTION_DAYS: &str = "HOOKLINE_RETENTION_DAYS";

/// Rules of a deployment that the domain functions need.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Let webhooks target loopback/private addresses. Only for local development.
    pub allow_private_targets: bool,
    /// How long events and deliveries are kept (DynamoDB TTL).
    pub retention_days: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Self { allow_private_targets: false, retention_days: 30 }
    }
}

/// Everything the api function needs.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiConfig {
    pub table_name: String,
    pub delivery_queue_url: String,
    pub settings: Settings,
}

impl ApiConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        let vars: HashMap<String, String> = std::env::vars().collect();
        Self::from_lookup(|name| vars.get(name).cloned())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let required =
            |name: &'static str| get(name).filter(|v| !v.trim().is_empty()).ok_or(ConfigError::Missing(name));
        Ok(Self {
            table_name: required(ENV_TABLE)?,
            delivery_queue_url: required(ENV_DELIVERY_QUEUE_URL)?,
            settings: Settings::from_lookup(&get)?,
        })
    }
}

impl Settings {
    pub fn from_lookup(get: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let defaults = Settings::default();
        let allow_private_targets = match get(ENV_ALLOW_PRIVATE_TARGETS).as_deref() {
            None | Some("") | Some("false") | Some("0") => false,
            Some("true") | Some("1") => true,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    name: ENV_ALLOW_PRIVATE_TARGETS,
                    reason: format!("expected true or false, got {other:?}"),
                });
            }
        };
        let retention_days = match get(ENV_RETENTION_DAYS) {
            None => defaults.retention_days,
            Some(v) => v.trim().parse::<u32>().ok().filter(|d| (1..=3650).contains(d)).ok_or(ConfigError::Invalid {
                name: ENV_RETENTION_DAYS,
                reason: format!("expected 1..=3650 days, got {v:?}"),
            })?,
        };
        Ok(Self { allow_private_targets, retention_days })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn missing_and_invalid_settings_are_named() {
        assert_eq!(ApiConfig::from_lookup(lookup(&[])), Err(ConfigError::Missing(ENV_TABLE)));
        assert_eq!(
            ApiConfig::from_lookup(lookup(&[(ENV_TABLE, "t")])),
            Err(ConfigError::Missing(ENV_DELIVERY_QUEUE_URL))
        );
        let err = ApiConfig::from_lookup(lookup(&[
            (ENV_TABLE, "t"),
            (ENV_DELIVERY_QUEUE_URL, "q"),
            (ENV_RETENTION_DAYS, "0"),
        ]))
        .expect_err("0 days");
        assert!(err.to_string().contains(ENV_RETENTION_DAYS));
    }

    #[test]
    fn defaults_apply() {
        let cfg = ApiConfig::from_lookup(lookup(&[(ENV_TABLE, "t"), (ENV_DELIVERY_QUEUE_URL, "q")])).expect("valid");
        assert_eq!(cfg.settings, Settings::default());
        let cfg = ApiConfig::from_lookup(lookup(&[
            (ENV_TABLE, "t"),
            (ENV_DELIVERY_QUEUE_URL, "q"),
            (ENV_ALLOW_PRIVATE_TARGETS, "true"),
        ]))
        .expect("valid");
        assert!(cfg.settings.allow_private_targets);
    }
}
