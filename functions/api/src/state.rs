//! What every handler shares: the store, the queue and the deployment's settings, built once
//! per cold start.

use std::sync::Arc;

use hookline_shared::adapters::dynamo::DynamoStore;
use hookline_shared::adapters::http_sender::{HttpSender, SenderConfig};
use hookline_shared::adapters::sdk::{self, SdkConfig};
use hookline_shared::adapters::ses::SesMailer;
use hookline_shared::adapters::sqs::SqsQueue;
use hookline_shared::app::access::UnknownKeys;
use hookline_shared::app::send_test::Tester;
use hookline_shared::config::ApiConfig;
use hookline_shared::domain::settings::Settings;
use hookline_shared::outbound::request::SigningSettings;
use hookline_shared::ports::queue::TaskQueue;
use hookline_shared::ports::store::Store;

pub struct App<S, Q> {
    pub store: S,
    pub queue: Q,
    pub settings: Settings,
    /// For test sends: the same SSRF-safe client and signing as the delivery function.
    pub sender: HttpSender,
    pub signing: SigningSettings,
    /// API key hashes this instance found unknown lately (see `UnknownKeys`).
    pub unknown_keys: UnknownKeys,
    /// Sends alert recipients their confirmation e-mails; `None` without a configured sender.
    pub mailer: Option<SesMailer>,
}

/// The app as deployed: DynamoDB and SQS.
pub type AwsApp = App<DynamoStore, SqsQueue>;

impl<S: Store, Q: TaskQueue> App<S, Q> {
    pub fn new(store: S, queue: Q, settings: Settings) -> Arc<Self> {
        Self::with_mailer(store, queue, settings, None)
    }

    /// The app that sends alert recipients their confirmation e-mails with `mailer`.
    pub fn with_mailer(store: S, queue: Q, settings: Settings, mailer: Option<SesMailer>) -> Arc<Self> {
        let sender = HttpSender::new(SenderConfig {
            allow_private_targets: settings.allow_private_targets,
            ..SenderConfig::default()
        })
        // Only a broken TLS backend fails here, at cold start, before any request.
        .expect("the outbound HTTP client cannot be built");
        let signing = SigningSettings::from_settings(&settings);
        Arc::new(Self { store, queue, settings, sender, signing, unknown_keys: UnknownKeys::default(), mailer })
    }
}

impl<S, Q> App<S, Q> {
    /// What test sends need, from this app's client, signing and catalog.
    pub fn tester(&self) -> Tester<'_> {
        Tester {
            sender: &self.sender,
            signing: &self.signing,
            catalog: self.settings.catalog.as_deref(),
            quota: self.settings.quotas.test_sends.as_ref(),
        }
    }
}

impl AwsApp {
    pub fn from_config(sdk: &SdkConfig, config: &ApiConfig) -> Arc<Self> {
        let mailer = config
            .mail
            .as_ref()
            .map(|m| SesMailer::new(aws_sdk_ses::Client::new(sdk), &m.sender, m.configuration_set.clone()));
        App::with_mailer(
            DynamoStore::connect(sdk, &config.table_name, &config.secrets_key),
            SqsQueue::new(sdk::sqs_client(sdk), &config.delivery_queue_url),
            config.settings.clone(),
            mailer,
        )
    }
}
