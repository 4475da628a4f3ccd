//! Configuration from the environment, read and validated once at start-up so a missing or
//! malformed setting stops the function with a message that names it.

use std::collections::HashMap;

use std::time::Duration;

use crate::app::alert_mail::AlertMail;
use crate::domain::catalog::{SEED_CATALOG, TopicCatalog};
use crate::domain::console::{
    self, ConsoleSettings, DEFAULT_ACCENT_COLOR, DEFAULT_LINK_MINUTES, DEFAULT_PRODUCT_NAME, DEFAULT_SESSION_MINUTES,
};
use crate::domain::quota::{Quotas, RateQuota};
use crate::domain::recipient::{
    DEFAULT_ALERT_EMAILS_PER_DAY, DEFAULT_CONFIRMATIONS_PER_DAY, MAX_DAILY_CAP, OptInSettings,
};
use crate::domain::settings::{DEFAULT_HEADER_PREFIX, DEFAULT_SOURCE, Settings};
use crate::outbound::request::SigningSettings;
use crate::outbound::signatures::HeaderNames;

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
/// Where requests to an integration's fixed endpoint go instead (a base URL; the local runner
/// and tests). Refused unless private targets are allowed, which no deployed stack does:
/// template.yaml sets neither.
pub const ENV_INTEGRATION_ENDPOINT_OVERRIDE: &str = "HOOKLINE_INTEGRATION_ENDPOINT_OVERRIDE";
pub const ENV_RETENTION_DAYS: &str = "HOOKLINE_RETENTION_DAYS";
pub const ENV_HEADER_PREFIX: &str = "HOOKLINE_HEADER_PREFIX";
pub const ENV_SOURCE: &str = "HOOKLINE_SOURCE";
pub const ENV_MAX_ATTEMPTS: &str = "HOOKLINE_MAX_ATTEMPTS";
pub const ENV_RETRY_SCHEDULE: &str = "HOOKLINE_RETRY_SCHEDULE";
pub const ENV_RETRY_JITTER: &str = "HOOKLINE_RETRY_JITTER";
pub const ENV_REQUEST_TIMEOUT_MS: &str = "HOOKLINE_REQUEST_TIMEOUT_MS";
/// Timeouts or connection failures in a row that open an endpoint's circuit (0 = no circuit),
/// and how long it stays open (see `domain::circuit`).
pub const ENV_CIRCUIT_FAILURES: &str = "HOOKLINE_CIRCUIT_FAILURES";
pub const ENV_CIRCUIT_COOLDOWN_MS: &str = "HOOKLINE_CIRCUIT_COOLDOWN_MS";
pub const ENV_QUEUE_RETENTION_SECONDS: &str = "HOOKLINE_QUEUE_RETENTION_SECONDS";

/// SQS's longest (and the template's default) message retention: 14 days.
pub const MAX_QUEUE_RETENTION_SECONDS: u64 = 14 * 86_400;

pub const ENV_TOPIC_CATALOG: &str = "HOOKLINE_TOPIC_CATALOG";
pub const ENV_PRODUCT_NAME: &str = "HOOKLINE_PRODUCT_NAME";
pub const ENV_ACCENT_COLOR: &str = "HOOKLINE_ACCENT_COLOR";
pub const ENV_CONSOLE_FRAME_ANCESTORS: &str = "HOOKLINE_CONSOLE_FRAME_ANCESTORS";
pub const ENV_CONSOLE_LINK_MINUTES: &str = "HOOKLINE_CONSOLE_LINK_MINUTES";
pub const ENV_CONSOLE_SESSION_MINUTES: &str = "HOOKLINE_CONSOLE_SESSION_MINUTES";
pub const ENV_PUBLIC_URL: &str = "HOOKLINE_PUBLIC_URL";
pub const ENV_DEAD_LETTER_QUEUE_URL: &str = "HOOKLINE_DEAD_LETTER_QUEUE_URL";
pub const ENV_ALERT_SENDER: &str = "HOOKLINE_ALERT_SENDER";
pub const ENV_ALERT_MINUTE_MS: &str = "HOOKLINE_ALERT_MINUTE_MS";
pub const ENV_ALERT_CLAIM_LEASE_MS: &str = "HOOKLINE_ALERT_CLAIM_LEASE_MS";
pub const ENV_EVENTS_PER_SECOND: &str = "HOOKLINE_EVENTS_PER_SECOND";
pub const ENV_TEST_SENDS_PER_MINUTE: &str = "HOOKLINE_TEST_SENDS_PER_MINUTE";
/// The KMS key (id, ARN or alias) whose data keys seal webhooks' secrets in the table.
pub const ENV_SECRETS_KEY: &str = "HOOKLINE_SECRETS_KEY";
pub const ENV_SES_CONFIGURATION_SET: &str = "HOOKLINE_SES_CONFIGURATION_SET";
pub const ENV_CONFIRMATION_EMAILS_PER_DAY: &str = "HOOKLINE_CONFIRMATION_EMAILS_PER_DAY";
pub const ENV_ALERT_EMAILS_PER_DAY: &str = "HOOKLINE_ALERT_EMAILS_PER_DAY";
/// Comma-separated IP addresses deliveries leave from (the template sets it from the Elastic
/// IPs when `StaticEgressIps` is on); unset or blank: none.
pub const ENV_EGRESS_IPS: &str = "HOOKLINE_EGRESS_IPS";

/// The seed pages' TTL for a webhook request.
pub const DEFAULT_REQUEST_TIMEOUT_MS: u64 = 10_000;

/// The process environment as a lookup (blank values count as unset).
fn process_env() -> impl Fn(&str) -> Option<String> {
    let vars: HashMap<String, String> = std::env::vars().filter(|(_, v)| !v.trim().is_empty()).collect();
    move |name| vars.get(name).cloned()
}

fn required(get: &impl Fn(&str) -> Option<String>, name: &'static str) -> Result<String, ConfigError> {
    get(name).filter(|v| !v.trim().is_empty()).ok_or(ConfigError::Missing(name))
}

/// An optional setting parsed as `T`, `default` when unset, refused when it does not parse
/// or `valid` says no (`expected` tells the operator what would do).
fn parsed<T: std::str::FromStr>(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: T,
    valid: impl Fn(&T) -> bool,
    expected: &str,
) -> Result<T, ConfigError> {
    match get(name) {
        None => Ok(default),
        Some(raw) => raw
            .trim()
            .parse::<T>()
            .ok()
            .filter(|v| valid(v))
            .ok_or_else(|| ConfigError::Invalid { name, reason: format!("expected {expected}, got {raw:?}") }),
    }
}

/// Everything the api function needs.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiConfig {
    pub table_name: String,
    pub delivery_queue_url: String,
    pub settings: Settings,
    /// See `ENV_SECRETS_KEY`.
    pub secrets_key: String,
    /// How opt-in confirmations are sent; `None` without a sender (none are sent then).
    pub mail: Option<MailConfig>,
}

/// The SES identity e-mails come from, and the configuration set that reports their
/// bounces and complaints.
#[derive(Debug, Clone, PartialEq)]
pub struct MailConfig {
    pub sender: String,
    pub configuration_set: Option<String>,
}

impl MailConfig {
    fn from_lookup(get: &impl Fn(&str) -> Option<String>) -> Option<Self> {
        let sender = get(ENV_ALERT_SENDER)?.trim().to_string();
        Some(Self { sender, configuration_set: get(ENV_SES_CONFIGURATION_SET).map(|c| c.trim().to_string()) })
    }
}

/// The per-tenant daily caps on e-mail.
fn opt_in_from_lookup(get: &impl Fn(&str) -> Option<String>) -> Result<OptInSettings, ConfigError> {
    let cap = |name, default| parsed(get, name, default, |n: &u32| *n <= MAX_DAILY_CAP, "0..=100000 e-mails a day");
    Ok(OptInSettings {
        confirmations_per_day: cap(ENV_CONFIRMATION_EMAILS_PER_DAY, DEFAULT_CONFIRMATIONS_PER_DAY)?,
        alert_emails_per_day: cap(ENV_ALERT_EMAILS_PER_DAY, DEFAULT_ALERT_EMAILS_PER_DAY)?,
    })
}

impl ApiConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(process_env())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(Self {
            table_name: required(&get, ENV_TABLE)?,
            delivery_queue_url: required(&get, ENV_DELIVERY_QUEUE_URL)?,
            settings: settings_from_lookup(&get)?,
            secrets_key: required(&get, ENV_SECRETS_KEY)?,
            mail: MailConfig::from_lookup(&get),
        })
    }
}

/// Everything the delivery function needs.
#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    pub table_name: String,
    pub delivery_queue_url: String,
    pub signing: SigningSettings,
    pub retry: crate::outbound::retry::RetryPolicy,
    pub request_timeout: std::time::Duration,
    pub allow_private_targets: bool,
    /// See `ENV_SECRETS_KEY`.
    pub secrets_key: String,
    pub circuit: crate::domain::circuit::CircuitSettings,
}

impl DeliveryConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(process_env())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let settings = settings_from_lookup(&get)?;
        let max_attempts = parsed(&get, ENV_MAX_ATTEMPTS, 6u32, |n| (1..=100).contains(n), "1..=100 attempts")?;
        let jitter = parsed(
            &get,
            ENV_RETRY_JITTER,
            crate::outbound::retry::DEFAULT_JITTER,
            |j| (0.0..=1.0).contains(j),
            "0 to 1",
        )?;
        let schedule = get(ENV_RETRY_SCHEDULE).unwrap_or_else(|| crate::outbound::retry::DEFAULT_SCHEDULE.to_string());
        let retry = crate::outbound::retry::RetryPolicy::new(&schedule, max_attempts, jitter)
            .map_err(|e| ConfigError::Invalid { name: ENV_RETRY_SCHEDULE, reason: e.to_string() })?;
        let retention_secs = parsed(
            &get,
            ENV_QUEUE_RETENTION_SECONDS,
            MAX_QUEUE_RETENTION_SECONDS,
            |s| (60..=MAX_QUEUE_RETENTION_SECONDS).contains(s),
            "60..=1209600 seconds",
        )?;
        retry
            .check_retention(Duration::from_secs(retention_secs))
            .map_err(|e| ConfigError::Invalid { name: ENV_RETRY_SCHEDULE, reason: e.to_string() })?;
        let timeout_ms = parsed(
            &get,
            ENV_REQUEST_TIMEOUT_MS,
            DEFAULT_REQUEST_TIMEOUT_MS,
            |ms| (1..=60_000).contains(ms),
            "1..=60000 ms",
        )?;
        let circuit = crate::domain::circuit::CircuitSettings {
            failures_to_open: parsed(
                &get,
                ENV_CIRCUIT_FAILURES,
                crate::domain::circuit::DEFAULT_FAILURES_TO_OPEN,
                |n| *n <= 1000,
                "0..=1000 failures",
            )?,
            // SQS delays a message by at most 15 minutes: the longest a held-back delivery waits.
            cooldown: Duration::from_millis(parsed(
                &get,
                ENV_CIRCUIT_COOLDOWN_MS,
                crate::domain::timestamp::millis(crate::domain::circuit::DEFAULT_COOLDOWN),
                |ms| (1..=900_000).contains(ms),
                "1..=900000 ms",
            )?),
        };
        Ok(Self {
            table_name: required(&get, ENV_TABLE)?,
            delivery_queue_url: required(&get, ENV_DELIVERY_QUEUE_URL)?,
            circuit,
            signing: SigningSettings::from_settings(&settings),
            retry,
            request_timeout: std::time::Duration::from_millis(timeout_ms),
            allow_private_targets: settings.allow_private_targets,
            secrets_key: required(&get, ENV_SECRETS_KEY)?,
        })
    }
}

/// Everything the alert function needs.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertConfig {
    pub table_name: String,
    pub dead_letter_queue_url: String,
    /// The verified SES identity alert e-mails come from.
    pub sender: String,
    /// How long one minute of `alert_interval_minutes` lasts: 60 s, shorter only in tests.
    pub minute: std::time::Duration,
    /// How long a claim to send an alert stands (see `alerts`): 120 s, four times the
    /// function's timeout; shorter only in tests.
    pub claim_lease: std::time::Duration,
    /// See `ENV_SECRETS_KEY` (alerts read webhooks, secrets included).
    pub secrets_key: String,
    /// The configuration set that reports bounces and complaints.
    pub configuration_set: Option<String>,
    /// The product name, the public address for unsubscribe links, the daily cap.
    pub mail: AlertMail,
}

impl AlertConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(process_env())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let minute_ms = parsed(&get, ENV_ALERT_MINUTE_MS, 60_000u64, |ms| (1..=60_000).contains(ms), "1..=60000 ms")?;
        let lease_ms =
            parsed(&get, ENV_ALERT_CLAIM_LEASE_MS, 120_000u64, |ms| (1..=900_000).contains(ms), "1..=900000 ms")?;
        Ok(Self {
            table_name: required(&get, ENV_TABLE)?,
            dead_letter_queue_url: required(&get, ENV_DEAD_LETTER_QUEUE_URL)?,
            sender: required(&get, ENV_ALERT_SENDER)?,
            minute: std::time::Duration::from_millis(minute_ms),
            claim_lease: std::time::Duration::from_millis(lease_ms),
            secrets_key: required(&get, ENV_SECRETS_KEY)?,
            configuration_set: get(ENV_SES_CONFIGURATION_SET).map(|c| c.trim().to_string()),
            mail: alert_mail_from_lookup(&get)?,
        })
    }
}

/// What alert e-mails need: unsubscribe links must lead somewhere, so the public URL is
/// required here (the template sets it to the API's own address when no domain is named).
fn alert_mail_from_lookup(get: &impl Fn(&str) -> Option<String>) -> Result<AlertMail, ConfigError> {
    let console = console_from_lookup(get)?;
    let base_url = console.public_url.ok_or(ConfigError::Missing(ENV_PUBLIC_URL))?;
    Ok(AlertMail { product: console.product_name, base_url, opt_in: opt_in_from_lookup(get)? })
}

/// The deployment settings, from the environment.
pub fn settings_from_lookup(get: &impl Fn(&str) -> Option<String>) -> Result<Settings, ConfigError> {
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
    let catalog = load_catalog(get(ENV_TOPIC_CATALOG).as_deref())
        .map_err(|reason| ConfigError::Invalid { name: ENV_TOPIC_CATALOG, reason })?
        .map(std::sync::Arc::new);
    let header_prefix = get(ENV_HEADER_PREFIX).unwrap_or_else(|| DEFAULT_HEADER_PREFIX.to_string());
    HeaderNames::with_prefix(&header_prefix)
        .map_err(|e| ConfigError::Invalid { name: ENV_HEADER_PREFIX, reason: e.to_string() })?;
    let source = get(ENV_SOURCE).unwrap_or_else(|| DEFAULT_SOURCE.to_string());
    let console = console_from_lookup(get)?;
    let quotas = quotas_from_lookup(get)?;
    let opt_in = opt_in_from_lookup(get)?;
    let integration_endpoint_override = integration_override_from_lookup(get, allow_private_targets)?;
    let egress_ips = egress_ips_from_lookup(get)?;
    Ok(Settings {
        allow_private_targets,
        retention_days,
        catalog,
        header_prefix,
        source,
        console,
        quotas,
        opt_in,
        integration_endpoint_override,
        egress_ips,
    })
}

/// The stand-in for the tools' fixed endpoints: only where private targets are allowed (the
/// local runner, tests), so a deployed stack always talks to the real tools.
fn integration_override_from_lookup(
    get: &impl Fn(&str) -> Option<String>,
    allow_private_targets: bool,
) -> Result<Option<String>, ConfigError> {
    let Some(base) = get(ENV_INTEGRATION_ENDPOINT_OVERRIDE).map(|b| b.trim().to_string()) else { return Ok(None) };
    let invalid = |reason: String| ConfigError::Invalid { name: ENV_INTEGRATION_ENDPOINT_OVERRIDE, reason };
    if !allow_private_targets {
        return Err(invalid(format!(
            "only with {ENV_ALLOW_PRIVATE_TARGETS}=true (local runs and tests), never deployed"
        )));
    }
    let ok = url::Url::parse(&base).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.has_host());
    if !ok {
        return Err(invalid(format!("expected a base URL like http://127.0.0.1:9000, got {base:?}")));
    }
    Ok(Some(base))
}

/// `ENV_EGRESS_IPS`: each entry an IP address (a typo must stop the start, not show tenants
/// a wrong allow-list).
fn egress_ips_from_lookup(get: &impl Fn(&str) -> Option<String>) -> Result<Vec<std::net::IpAddr>, ConfigError> {
    let Some(list) = get(ENV_EGRESS_IPS) else { return Ok(Vec::new()) };
    list.split(',')
        .map(str::trim)
        .filter(|ip| !ip.is_empty())
        .map(|ip| {
            ip.parse().map_err(|_| ConfigError::Invalid {
                name: ENV_EGRESS_IPS,
                reason: format!("expected comma-separated IP addresses, got {ip:?}"),
            })
        })
        .collect()
}

/// The per-tenant rate quotas; 0 or unset is unlimited (and costs no write).
fn quotas_from_lookup(get: &impl Fn(&str) -> Option<String>) -> Result<Quotas, ConfigError> {
    let quota = |name, window| {
        let limit = parsed(get, name, 0u32, |n| *n <= 1_000_000, "0 (unlimited) to 1000000")?;
        Ok((limit > 0).then_some(RateQuota { limit, window }))
    };
    Ok(Quotas {
        events: quota(ENV_EVENTS_PER_SECOND, Duration::from_secs(1))?,
        test_sends: quota(ENV_TEST_SENDS_PER_MINUTE, Duration::from_secs(60))?,
    })
}

fn console_from_lookup(get: &impl Fn(&str) -> Option<String>) -> Result<ConsoleSettings, ConfigError> {
    let checked = |name: &'static str, default: &str, valid: fn(&str) -> bool, expected: &str| {
        let value = get(name).map(|v| v.trim().to_string()).unwrap_or_else(|| default.to_string());
        if valid(&value) {
            Ok(value)
        } else {
            Err(ConfigError::Invalid { name, reason: format!("expected {expected}, got {value:?}") })
        }
    };
    let frame_ancestors: Vec<String> = get(ENV_CONSOLE_FRAME_ANCESTORS)
        .unwrap_or_default()
        .split([',', ' '])
        .filter(|o| !o.is_empty())
        .map(str::to_string)
        .collect();
    if let Some(bad) = frame_ancestors.iter().find(|o| !console::valid_origin(o)) {
        return Err(ConfigError::Invalid {
            name: ENV_CONSOLE_FRAME_ANCESTORS,
            reason: format!("expected origins like https://app.example.com, got {bad:?}"),
        });
    }
    let minutes = |name, default| parsed(get, name, default, |m: &u64| (1..=1440).contains(m), "1..=1440 minutes");
    Ok(ConsoleSettings {
        product_name: checked(
            ENV_PRODUCT_NAME,
            DEFAULT_PRODUCT_NAME,
            console::valid_product_name,
            "1 to 60 characters",
        )?,
        accent_color: checked(ENV_ACCENT_COLOR, DEFAULT_ACCENT_COLOR, console::valid_accent_color, "#rrggbb")?,
        frame_ancestors,
        link_ttl: Duration::from_secs(60 * minutes(ENV_CONSOLE_LINK_MINUTES, DEFAULT_LINK_MINUTES)?),
        session_ttl: Duration::from_secs(60 * minutes(ENV_CONSOLE_SESSION_MINUTES, DEFAULT_SESSION_MINUTES)?),
        public_url: get(ENV_PUBLIC_URL)
            .map(|u| checked(ENV_PUBLIC_URL, &u, console::valid_public_url, "an https:// origin"))
            .transpose()?
            .map(|u| u.trim_end_matches('/').to_string()),
    })
}

/// The topic catalog a deployment names: none, the seed pages' (`seed`), or a JSON file.
fn load_catalog(setting: Option<&str>) -> Result<Option<TopicCatalog>, String> {
    match setting.map(str::trim) {
        None | Some("") | Some("none") => Ok(None),
        Some(SEED_CATALOG) => Ok(Some(TopicCatalog::seed())),
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
            TopicCatalog::parse(&text).map(Some).map_err(|e| format!("{path}: {e}"))
        }
    }
}

#[cfg(test)]
mod tests;
