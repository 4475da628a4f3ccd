//! `hookline-admin`: operator commands against a deployment's table.
//!
//!   hookline-admin create-api-key --table <TableName> [--name <label>] [--tenant <tenant_id>]
//!   hookline-admin list-api-keys  --table <TableName>
//!   hookline-admin revoke-api-key --table <TableName> --id <key_id>
//!   hookline-admin seal-secrets   --table <TableName>   (with HOOKLINE_SECRETS_KEY set)
//!
//! Uses the standard AWS credential chain (profile, environment); `AWS_ENDPOINT_URL` points it
//! at a local moto server. A key is printed once; only its SHA-256 is stored. Without
//! `--tenant` the key is an operator key (every tenant, and these key commands over the API).

use std::process::ExitCode;

use hookline_shared::adapters::dynamo::DynamoStore;
use hookline_shared::app::access::{self, CreateApiKey};

const USAGE: &str = "usage: hookline-admin create-api-key --table <TableName> [--name <label>] [--tenant <tenant_id>]
       hookline-admin list-api-keys --table <TableName>
       hookline-admin revoke-api-key --table <TableName> --id <key_id>
       hookline-admin seal-secrets --table <TableName>   (HOOKLINE_SECRETS_KEY: the stack's SecretsKeyArn)";

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hookline-admin: {e}");
            ExitCode::FAILURE
        }
    }
}

fn flag<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).map(String::as_str)
}

async fn run(args: &[String]) -> Result<(), Box<dyn std::error::Error>> {
    let command = args.first().map(String::as_str).ok_or(USAGE)?;
    let table = flag(args, "--table").ok_or(USAGE)?;
    let sdk = hookline_shared::adapters::sdk::load_sdk_config().await;
    // The key commands never read webhooks, so only seal-secrets needs the KMS key.
    let secrets_key = std::env::var(hookline_shared::config::ENV_SECRETS_KEY).unwrap_or_default();
    let store = DynamoStore::connect(&sdk, table, &secrets_key);
    match command {
        "create-api-key" => {
            let request = CreateApiKey {
                name: flag(args, "--name").unwrap_or("default").to_string(),
                tenant_id: flag(args, "--tenant").map(str::to_string),
            };
            let created = access::create_api_key(&store, request).await?;
            let scope = created.view.tenant_id.as_deref().map_or("operator key".to_string(), |t| format!("tenant {t}"));
            println!("API key {} ({}, {scope}) created. It is shown only now:", created.view.id, created.view.name);
            println!("{}", created.key);
        }
        "list-api-keys" => {
            for key in access::list_api_keys(&store).await? {
                let scope = key.tenant_id.as_deref().unwrap_or("(operator)");
                println!("{}\t{}\t{scope}\t{}\t{}", key.id, key.hint, key.created_at, key.name);
            }
        }
        "revoke-api-key" => {
            let id = flag(args, "--id").ok_or(USAGE)?;
            access::revoke_api_key(&store, id).await?;
            println!("API key {id} revoked.");
        }
        "seal-secrets" => {
            if secrets_key.is_empty() {
                return Err(format!(
                    "seal-secrets needs {}: the stack's SecretsKeyArn output",
                    hookline_shared::config::ENV_SECRETS_KEY
                )
                .into());
            }
            // Webhooks written before sealing hold their secrets in plain text until their next
            // update; this seals them all now.
            let sealed = store.seal_plain_webhooks().await?;
            println!("{sealed} webhook(s) had plain-text secrets; now sealed.");
        }
        _ => return Err(USAGE.into()),
    }
    Ok(())
}
