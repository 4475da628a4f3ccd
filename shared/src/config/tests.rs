//! The configuration's unit tests (kept apart so config.rs stays short).

use super::*;

fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    move |k| map.get(k).cloned()
}

#[test]
fn missing_and_invalid_settings_are_named() {
    assert_eq!(ApiConfig::from_lookup(lookup(&[])), Err(ConfigError::Missing(ENV_TABLE)));
    assert_eq!(ApiConfig::from_lookup(lookup(&[(ENV_TABLE, "t")])), Err(ConfigError::Missing(ENV_DELIVERY_QUEUE_URL)));
    let err =
        ApiConfig::from_lookup(lookup(&[(ENV_TABLE, "t"), (ENV_DELIVERY_QUEUE_URL, "q"), (ENV_RETENTION_DAYS, "0")]))
            .expect_err("0 days");
    assert!(err.to_string().contains(ENV_RETENTION_DAYS));
    // Secrets are never stored unsealed: no key, no start.
    let no_key = [
        (ENV_TABLE, "t"),
        (ENV_DELIVERY_QUEUE_URL, "q"),
        (ENV_DEAD_LETTER_QUEUE_URL, "d"),
        (ENV_ALERT_SENDER, "a@b.c"),
    ];
    assert_eq!(ApiConfig::from_lookup(lookup(&no_key)), Err(ConfigError::Missing(ENV_SECRETS_KEY)));
    assert!(DeliveryConfig::from_lookup(lookup(&no_key)).is_err());
    assert_eq!(AlertConfig::from_lookup(lookup(&no_key)), Err(ConfigError::Missing(ENV_SECRETS_KEY)));
}

#[test]
fn delivery_config_defaults_and_errors() {
    let base = [(ENV_TABLE, "t"), (ENV_DELIVERY_QUEUE_URL, "q"), (ENV_SECRETS_KEY, "k")];
    let cfg = DeliveryConfig::from_lookup(lookup(&base)).expect("valid");
    assert_eq!(cfg.retry.max_attempts(), 6);
    assert_eq!(cfg.request_timeout, std::time::Duration::from_secs(10));
    assert_eq!(cfg.signing.source, DEFAULT_SOURCE);
    for (name, value) in [
        (ENV_HEADER_PREFIX, "X Bad"),
        (ENV_MAX_ATTEMPTS, "many"),
        (ENV_RETRY_SCHEDULE, "soon"),
        (ENV_RETRY_SCHEDULE, "18446744073709551615s"),
        (ENV_REQUEST_TIMEOUT_MS, "0"),
        (ENV_QUEUE_RETENTION_SECONDS, "0"),
    ] {
        let mut pairs = base.to_vec();
        pairs.push((name, value));
        let err = DeliveryConfig::from_lookup(lookup(&pairs)).expect_err(name);
        assert!(err.to_string().contains(name), "{err}");
    }
}

#[test]
fn a_schedule_that_outlasts_the_queue_retention_stops_the_start() {
    // GIVEN 10 attempts 12 h apart (108 h) and the default 14-day retention: fine
    let base = [
        (ENV_TABLE, "t"),
        (ENV_DELIVERY_QUEUE_URL, "q"),
        (ENV_SECRETS_KEY, "k"),
        (ENV_RETRY_SCHEDULE, "12h"),
        (ENV_MAX_ATTEMPTS, "10"),
    ];
    assert!(DeliveryConfig::from_lookup(lookup(&base)).is_ok());
    // WHEN the queue keeps messages only 4 days
    let mut pairs = base.to_vec();
    pairs.push((ENV_QUEUE_RETENTION_SECONDS, "345600"));
    // THEN the function refuses to start, naming the schedule
    let err = DeliveryConfig::from_lookup(lookup(&pairs)).expect_err("outlasts");
    assert!(err.to_string().contains(ENV_RETRY_SCHEDULE) && err.to_string().contains("expire"), "{err}");
}

#[test]
fn console_settings_default_and_are_checked() {
    let base = [(ENV_TABLE, "t"), (ENV_DELIVERY_QUEUE_URL, "q"), (ENV_SECRETS_KEY, "k")];
    let cfg = ApiConfig::from_lookup(lookup(&base)).expect("valid");
    assert_eq!(cfg.settings.console, ConsoleSettings::default());
    let mut pairs = base.to_vec();
    pairs.extend([
        (ENV_CONSOLE_FRAME_ANCESTORS, "https://app.example.com, https://admin.example.com"),
        (ENV_CONSOLE_SESSION_MINUTES, "30"),
        (ENV_PUBLIC_URL, "https://hooks.example.com/"),
    ]);
    let console = ApiConfig::from_lookup(lookup(&pairs)).expect("valid").settings.console;
    assert_eq!(console.frame_ancestors, ["https://app.example.com", "https://admin.example.com"]);
    assert_eq!(console.session_ttl, Duration::from_secs(1800));
    assert_eq!(console.public_url.as_deref(), Some("https://hooks.example.com"));
    for (name, value) in [
        (ENV_ACCENT_COLOR, "red; x"),
        (ENV_PRODUCT_NAME, ""),
        (ENV_CONSOLE_FRAME_ANCESTORS, "*"),
        (ENV_CONSOLE_LINK_MINUTES, "0"),
        (ENV_PUBLIC_URL, "ftp://x"),
    ] {
        let mut pairs = base.to_vec();
        pairs.push((name, value));
        let err = ApiConfig::from_lookup(lookup(&pairs)).expect_err(name);
        assert!(err.to_string().contains(name), "{err}");
    }
}

#[test]
fn e_mail_caps_default_and_are_checked_and_alerts_need_a_public_url() {
    let base = [(ENV_TABLE, "t"), (ENV_DELIVERY_QUEUE_URL, "q"), (ENV_SECRETS_KEY, "k")];
    let cfg = ApiConfig::from_lookup(lookup(&base)).expect("valid");
    assert_eq!(cfg.settings.opt_in, OptInSettings::default());
    assert_eq!(cfg.mail, None, "no sender, no confirmations");
    let mut pairs = base.to_vec();
    pairs.extend([(ENV_CONFIRMATION_EMAILS_PER_DAY, "5"), (ENV_ALERT_SENDER, "a@h.example")]);
    let cfg = ApiConfig::from_lookup(lookup(&pairs)).expect("valid");
    assert_eq!(cfg.settings.opt_in.confirmations_per_day, 5);
    assert_eq!(cfg.mail, Some(MailConfig { sender: "a@h.example".into(), configuration_set: None }));
    for (name, value) in [(ENV_CONFIRMATION_EMAILS_PER_DAY, "-1"), (ENV_ALERT_EMAILS_PER_DAY, "100001")] {
        let mut pairs = base.to_vec();
        pairs.push((name, value));
        let err = ApiConfig::from_lookup(lookup(&pairs)).expect_err(name);
        assert!(err.to_string().contains(name), "{err}");
    }
    let alert =
        [(ENV_TABLE, "t"), (ENV_DEAD_LETTER_QUEUE_URL, "d"), (ENV_SECRETS_KEY, "k"), (ENV_ALERT_SENDER, "a@h.example")];
    assert_eq!(AlertConfig::from_lookup(lookup(&alert)), Err(ConfigError::Missing(ENV_PUBLIC_URL)));
    let mut pairs = alert.to_vec();
    pairs.extend([(ENV_PUBLIC_URL, "https://hooks.example.com"), (ENV_ALERT_EMAILS_PER_DAY, "7")]);
    let cfg = AlertConfig::from_lookup(lookup(&pairs)).expect("valid");
    assert_eq!(cfg.mail.base_url, "https://hooks.example.com");
    assert_eq!(cfg.mail.product, DEFAULT_PRODUCT_NAME);
    assert_eq!(cfg.mail.opt_in.alert_emails_per_day, 7);
}

#[test]
fn catalog_settings_and_bad_files() {
    assert_eq!(load_catalog(None), Ok(None));
    assert_eq!(load_catalog(Some("none")), Ok(None));
    assert!(load_catalog(Some("seed")).expect("seed").is_some());
    assert!(load_catalog(Some("/nonexistent/catalog.json")).is_err());
}

#[test]
fn quotas_are_off_unless_set_and_are_checked() {
    let base = [(ENV_TABLE, "t"), (ENV_DELIVERY_QUEUE_URL, "q"), (ENV_SECRETS_KEY, "k")];
    let cfg = ApiConfig::from_lookup(lookup(&base)).expect("valid");
    assert_eq!(cfg.settings.quotas, Quotas::default());
    let mut pairs = base.to_vec();
    pairs.extend([(ENV_EVENTS_PER_SECOND, "50"), (ENV_TEST_SENDS_PER_MINUTE, "0")]);
    let quotas = ApiConfig::from_lookup(lookup(&pairs)).expect("valid").settings.quotas;
    assert_eq!(quotas.events, Some(RateQuota { limit: 50, window: Duration::from_secs(1) }));
    assert_eq!(quotas.test_sends, None, "0 is unlimited");
    for (name, value) in [(ENV_EVENTS_PER_SECOND, "-1"), (ENV_TEST_SENDS_PER_MINUTE, "many")] {
        let mut pairs = base.to_vec();
        pairs.push((name, value));
        let err = ApiConfig::from_lookup(lookup(&pairs)).expect_err(name);
        assert!(err.to_string().contains(name), "{err}");
    }
}

#[test]
fn egress_ips_are_none_unless_set_and_each_must_be_an_address() {
    let base = [(ENV_TABLE, "t"), (ENV_DELIVERY_QUEUE_URL, "q"), (ENV_SECRETS_KEY, "k")];
    // GIVEN no list (StaticEgressIps off): none
    assert!(ApiConfig::from_lookup(lookup(&base)).expect("valid").settings.egress_ips.is_empty());
    // GIVEN the template's comma-joined Elastic IPs: both, in order
    let mut pairs = base.to_vec();
    pairs.push((ENV_EGRESS_IPS, "203.0.113.7, 198.51.100.9"));
    let ips = ApiConfig::from_lookup(lookup(&pairs)).expect("valid").settings.egress_ips;
    assert_eq!(ips.iter().map(ToString::to_string).collect::<Vec<_>>(), ["203.0.113.7", "198.51.100.9"]);
    // GIVEN a typo: the start stops, naming the variable
    let mut pairs = base.to_vec();
    pairs.push((ENV_EGRESS_IPS, "203.0.113.7,203.0.113"));
    let err = ApiConfig::from_lookup(lookup(&pairs)).expect_err("a bad address");
    assert!(err.to_string().contains(ENV_EGRESS_IPS), "{err}");
}

#[test]
fn defaults_apply() {
    let cfg =
        ApiConfig::from_lookup(lookup(&[(ENV_TABLE, "t"), (ENV_DELIVERY_QUEUE_URL, "q"), (ENV_SECRETS_KEY, "k")]))
            .expect("valid");
    assert_eq!(cfg.settings, Settings::default());
    let cfg = ApiConfig::from_lookup(lookup(&[
        (ENV_TABLE, "t"),
        (ENV_DELIVERY_QUEUE_URL, "q"),
        (ENV_ALLOW_PRIVATE_TARGETS, "true"),
        (ENV_SECRETS_KEY, "k"),
    ]))
    .expect("valid");
    assert!(cfg.settings.allow_private_targets);
}

#[test]
fn the_integration_endpoint_override_is_honoured_only_where_private_targets_are_allowed() {
    let base = [(ENV_TABLE, "t"), (ENV_DELIVERY_QUEUE_URL, "q"), (ENV_SECRETS_KEY, "k")];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut pairs = base.to_vec();
        pairs.extend_from_slice(extra);
        DeliveryConfig::from_lookup(lookup(&pairs))
    };
    // GIVEN no override: the tools' own endpoints
    assert_eq!(with(&[]).expect("valid").signing.integration_endpoint_override, None);
    // GIVEN an override on a stack that does not allow private targets (every deployed one)
    let refused = with(&[(ENV_INTEGRATION_ENDPOINT_OVERRIDE, "http://127.0.0.1:9000")]).expect_err("refused");
    // THEN the function does not start, naming the setting
    assert!(refused.to_string().contains(ENV_INTEGRATION_ENDPOINT_OVERRIDE), "{refused}");
    assert!(
        ApiConfig::from_lookup(lookup(&[
            (ENV_TABLE, "t"),
            (ENV_DELIVERY_QUEUE_URL, "q"),
            (ENV_SECRETS_KEY, "k"),
            (ENV_INTEGRATION_ENDPOINT_OVERRIDE, "http://127.0.0.1:9000"),
        ]))
        .is_err()
    );
    // GIVEN the local runner's settings THEN it is read (and must be a base URL)
    let local =
        with(&[(ENV_ALLOW_PRIVATE_TARGETS, "true"), (ENV_INTEGRATION_ENDPOINT_OVERRIDE, "http://127.0.0.1:9000")]);
    assert_eq!(local.expect("local").signing.integration_endpoint_override.as_deref(), Some("http://127.0.0.1:9000"));
    assert!(with(&[(ENV_ALLOW_PRIVATE_TARGETS, "true"), (ENV_INTEGRATION_ENDPOINT_OVERRIDE, "not a url")]).is_err());
    // AND the template sets neither, so no deployed function reads an override
    let template = include_str!("../../../template.yaml");
    assert!(!template.contains(ENV_INTEGRATION_ENDPOINT_OVERRIDE) && !template.contains(ENV_ALLOW_PRIVATE_TARGETS));
}
