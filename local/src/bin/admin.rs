//! `hookline-admin`: operator commands against a deployment's table.
//!
//!   hookline-admin create-api-key --table <TableName> [--name <label>]
//!
//! Uses the standard AWS credential chain (profile, environment); `AWS_ENDPOINT_URL` points it
//! at a local moto server. The key is printed once; only its SHA-256 is stored.

use std::process::ExitCode;

use hookline_shared::adapters::dynamo::DynamoStore;
use hookline_shared::domain::api_key;
use hookline_shared::ports::store::ApiKeyStore;

const USAGE: &str = "usage: hookline-admin create-api-key --table <TableName> [--name <label>]";

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
    match args.first().map(String::as_str) {
        Some("create-api-key") => {
            let table = flag(args, "--table").ok_or(USAGE)?;
            let name = flag(args, "--name").unwrap_or("default");
            let sdk = hookline_shared::adapters::sdk::load_sdk_config().await;
            let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), table);
            let (key, record) = api_key::new_key(name);
            store.put_api_key(&record).await?;
            println!("API key {} ({name}) created. It is shown only now:", record.key_id);
            println!("{key}");
            Ok(())
        }
        _ => Err(USAGE.into()),
    }
}
