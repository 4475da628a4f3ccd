//! `make chaos`: CHAOS_EVENTS events (default 10000) through the real code against moto while
//! AWS calls fail, receivers misbehave and function instances are killed (see
//! `hookline_local::chaos`). Prints the injected faults and kills, and ends with exactly
//! `chaos: accepted A, delivered D, failed F, alerted L, duplicates U, lost X`; exits non-zero
//! when anything was lost or a promise broken.
//!
//!   CHAOS_EVENTS=10000 CHAOS_SEED=14 CHAOS_FAULTS_PER_MILLE=100 CHAOS_KILL_EVERY_MS=3000 hookline-chaos

use std::process::ExitCode;
use std::time::Duration;

use hookline_local::chaos::{self, Options};

fn env_number(name: &str, default: u64) -> Result<u64, String> {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => {
            v.trim().parse().map_err(|_| format!("{name} must be a whole number, not {v:?}"))
        }
        _ => Ok(default),
    }
}

fn options() -> Result<Options, String> {
    let mut o = Options::new(env_number("CHAOS_EVENTS", 10_000)?);
    o.seed = env_number("CHAOS_SEED", o.seed)?;
    o.faults_per_mille = u32::try_from(env_number("CHAOS_FAULTS_PER_MILLE", u64::from(o.faults_per_mille))?)
        .ok()
        .filter(|n| *n <= 1000)
        .ok_or("CHAOS_FAULTS_PER_MILLE must be 0 to 1000")?;
    o.kill_every = Duration::from_millis(env_number("CHAOS_KILL_EVERY_MS", o.kill_every.as_millis() as u64)?.max(100));
    Ok(o)
}

#[tokio::main]
async fn main() -> ExitCode {
    let options = match options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("hookline-chaos: {e}");
            return ExitCode::FAILURE;
        }
    };
    match chaos::run(options).await {
        Ok(report) => {
            print!("{}", report.text());
            if report.kept() { ExitCode::SUCCESS } else { ExitCode::FAILURE }
        }
        Err(e) => {
            eprintln!("hookline-chaos: {e}");
            ExitCode::FAILURE
        }
    }
}
