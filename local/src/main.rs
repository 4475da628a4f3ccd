//! `make run`: the whole local stack in one process. Starts moto, creates the resources of
//! template.yaml in it, makes sure an API key exists, and serves the api Router on
//! `HOOKLINE_LISTEN` (default 127.0.0.1:8080), and runs the delivery function on the delivery
//! queue and the alert function on the dead-letter queue the way Lambda's event source mapping
//! would (batch size and batching window from the template). Ctrl-C stops everything.
//! While private targets are allowed (the local default) it listens on loopback only.

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::Arc;

use hookline_alert::AlertFunction;
use hookline_api::{AwsApp, router};
use hookline_delivery::DeliveryFunction;
use hookline_local::moto::MotoServer;
use hookline_local::{listen, pump, sdk, stack};
use hookline_shared::adapters::dynamo::DynamoStore;
use hookline_shared::app::access;
use hookline_shared::config::{
    AlertConfig, ApiConfig, DeliveryConfig, ENV_ALERT_SENDER, ENV_ALLOW_PRIVATE_TARGETS, ENV_DEAD_LETTER_QUEUE_URL,
    ENV_DELIVERY_QUEUE_URL, ENV_MAX_ATTEMPTS, ENV_PUBLIC_URL, ENV_SECRETS_KEY, ENV_TABLE, ENV_TOPIC_CATALOG,
};
use hookline_shared::domain::api_key;
use hookline_shared::ports::store::ApiKeyStore;
use hookline_shared::telemetry;

const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
const DEFAULT_MOTO_PORT: u16 = 4566;
const STACK_PREFIX: &str = "hookline-local";
/// The tenant whose console `make run` opens.
const DEMO_TENANT: &str = "demo";

#[tokio::main]
async fn main() -> ExitCode {
    telemetry::init(false);
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hookline-local: {e}");
            ExitCode::FAILURE
        }
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let listen = env("HOOKLINE_LISTEN").unwrap_or_else(|| DEFAULT_LISTEN.to_string());
    let moto_port = env("HOOKLINE_MOTO_PORT").map(|p| p.parse::<u16>()).transpose()?.unwrap_or(DEFAULT_MOTO_PORT);
    // Bind first: a taken port should fail before anything else starts.
    let listener =
        tokio::net::TcpListener::bind(&listen).await.map_err(|e| format!("cannot listen on {listen}: {e}"))?;

    let moto = MotoServer::start(moto_port)?;
    let sdk = sdk::for_endpoint(&moto.endpoint()).await;
    let template = stack::Template::load(&stack::template_path())?;
    let created = stack::provision(&sdk, &template, STACK_PREFIX, &HashMap::new()).await?;

    // The functions read the same variables as in Lambda; the stack's names fill in the ones
    // the template would. Local receivers live on localhost, so private targets are allowed
    // unless the environment says otherwise. Never in a deployment: the template does not.
    let mut vars: HashMap<String, String> = std::env::vars().filter(|(_, v)| !v.trim().is_empty()).collect();
    vars.insert(ENV_TABLE.into(), created.table("HooklineTable")?.to_string());
    vars.insert(ENV_DELIVERY_QUEUE_URL.into(), created.queue("DeliveryQueue")?.url.clone());
    vars.entry(ENV_ALLOW_PRIVATE_TARGETS.into()).or_insert_with(|| "true".into());
    vars.entry(ENV_MAX_ATTEMPTS.into()).or_insert_with(|| template.parameter("MaxReceiveCount").unwrap_or("6").into());
    vars.entry(ENV_TOPIC_CATALOG.into()).or_insert_with(|| template.parameter("TopicCatalog").unwrap_or("none").into());
    vars.insert(ENV_SECRETS_KEY.into(), created.key("SecretsKey")?.to_string());
    vars.insert(ENV_DEAD_LETTER_QUEUE_URL.into(), created.queue("DeliveryDeadLetterQueue")?.url.clone());
    vars.entry(ENV_ALERT_SENDER.into())
        .or_insert_with(|| template.parameter("AlertSenderEmail").unwrap_or("alerts@example.com").into());
    // Links in e-mails (confirm, unsubscribe) lead to this runner.
    let port = listener.local_addr()?.port();
    vars.entry(ENV_PUBLIC_URL.into()).or_insert_with(|| format!("http://127.0.0.1:{port}"));
    let lookup = |name: &str| vars.get(name).cloned();
    let config = ApiConfig::from_lookup(lookup)?;
    listen::check_exposure(listener.local_addr()?, config.settings.allow_private_targets)?;
    let delivery_config = DeliveryConfig::from_lookup(lookup)?;
    let alert_config = AlertConfig::from_lookup(lookup)?;
    // SES sends only from a verified identity; moto verifies at once.
    aws_sdk_ses::Client::new(&sdk).verify_email_identity().email_address(&alert_config.sender).send().await?;
    let app = AwsApp::from_config(&sdk, &config);
    let delivery = Arc::new(DeliveryFunction::from_config(&sdk, &delivery_config)?);
    let delivery_queue = created.queue("DeliveryQueue")?.clone();
    let alerts = Arc::new(AlertFunction::from_config(&sdk, &alert_config));
    let dead_letters = created.queue("DeliveryDeadLetterQueue")?.clone();
    let alert_pump = tokio::spawn(pump::pump(
        aws_sdk_sqs::Client::new(&sdk),
        dead_letters.url.clone(),
        dead_letters.arn.clone(),
        created.batching("DeliveryDeadLetterQueue"),
        move |event| {
            let alerts = alerts.clone();
            async move { alerts.handle(event).await }
        },
    ));
    let pump = tokio::spawn(pump::pump(
        aws_sdk_sqs::Client::new(&sdk),
        delivery_queue.url.clone(),
        delivery_queue.arn.clone(),
        // The template's batching window, so a `form` webhook gets its batches here too.
        created.batching("DeliveryQueue"),
        move |event| {
            let delivery = delivery.clone();
            async move { delivery.handle(event).await }
        },
    ));
    let (key, shown) = match env("HOOKLINE_API_KEY") {
        Some(key) => (key, "from HOOKLINE_API_KEY"),
        None => (api_key::generate(), "generated"),
    };
    let record = api_key::record_for(&key, "local", None);
    let store = DynamoStore::connect(&sdk, &config.table_name, &config.secrets_key);
    store.put_api_key(&record).await?;
    // A console for a demo tenant, ready to open (one-time, like any console link).
    let console = &config.settings.console;
    let (link, link_expires) = access::open_console_link(&store, console, &record.key_hash, DEMO_TENANT).await?;

    if config.settings.allow_private_targets {
        tracing::warn!(
            "HOOKLINE_ALLOW_PRIVATE_TARGETS is on: webhooks may target localhost and private networks (local use only)"
        );
    }
    if let Some(base) = &config.settings.integration_endpoint_override {
        tracing::warn!(
            "integrations' fixed endpoints (Klaviyo, Segment) go to {base} instead, paths kept (local use only)"
        );
    }
    println!("Hookline local stack is ready");
    println!("  API              http://{listen}   (try: curl http://{listen}/v1/health)");
    println!("  API key ({shown}) {key}");
    println!("  console          http://{listen}/console/open?token={link}");
    println!(
        "                   (tenant {DEMO_TENANT}, one-time link until {link_expires}; more: POST /v1/tenants/{{tenant_id}}/console-sessions)"
    );
    println!("  moto (AWS)       {}", moto.endpoint());
    println!("  table            {}", config.table_name);
    println!("  secrets key      {}   (KMS key sealing webhook secrets)", config.secrets_key);
    println!("  delivery queue   {}   (delivered by the delivery function, polled here)", config.delivery_queue_url);
    println!("  dead letters     {}   (alerted by the alert function, polled here)", dead_letters.url);
    println!(
        "  alert e-mails    from {}; sent mail: {}/moto-api/data.json (.ses.RawMessage)",
        alert_config.sender,
        moto.endpoint()
    );
    println!("Ctrl-C stops everything.");

    axum::serve(listener, router(app))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    pump.abort();
    alert_pump.abort();
    drop(moto);
    println!("stopped");
    Ok(())
}
