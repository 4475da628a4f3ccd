//! The rules of one deployment that the use-cases need (read from the environment by `config`).

use std::sync::Arc;

use crate::domain::catalog::TopicCatalog;
use crate::domain::console::ConsoleSettings;
use crate::domain::quota::Quotas;
use crate::domain::recipient::OptInSettings;

/// Hookline's own header prefix unless the deployment sets another.
pub const DEFAULT_HEADER_PREFIX: &str = "x-hookline";
/// The `x-source` header's value unless the deployment sets another.
pub const DEFAULT_SOURCE: &str = "hookline";

/// Rules of a deployment that the domain functions need.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Let webhooks target loopback/private addresses. Only for local development.
    pub allow_private_targets: bool,
    /// How long events and deliveries are kept (DynamoDB TTL).
    pub retention_days: u32,
    /// The topics webhooks may subscribe to; any well-formed topic when `None`.
    pub catalog: Option<Arc<TopicCatalog>>,
    /// Hookline's own header prefix: custom endpoint headers may not use it.
    pub header_prefix: String,
    /// The `x-source` header's value.
    pub source: String,
    /// The tenant console (api function only).
    pub console: ConsoleSettings,
    /// Per-tenant rate quotas (api function only); none unless the deployment sets them.
    pub quotas: Quotas,
    /// Per-tenant daily caps on opt-in confirmations and alert e-mails.
    pub opt_in: OptInSettings,
    /// A base URL that requests to an integration's fixed endpoint (Klaviyo's, Segment's) go
    /// to instead, the path kept: the local runner's and the tests' stand-in for the tool.
    /// Only with `allow_private_targets` (config refuses it otherwise), so never in AWS.
    pub integration_endpoint_override: Option<String>,
    /// The fixed addresses deliveries and test sends leave from (the deployment's NAT
    /// gateways' Elastic IPs, for receivers' allow-lists); empty without static egress.
    pub egress_ips: Vec<std::net::IpAddr>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            allow_private_targets: false,
            retention_days: 30,
            catalog: None,
            header_prefix: DEFAULT_HEADER_PREFIX.into(),
            source: DEFAULT_SOURCE.into(),
            console: ConsoleSettings::default(),
            quotas: Quotas::default(),
            opt_in: OptInSettings::default(),
            integration_endpoint_override: None,
            egress_ips: Vec::new(),
        }
    }
}
