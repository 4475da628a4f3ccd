//! `make cost`: what Hookline costs per million deliveries at AWS list prices, measured by
//! running a realistic mix and the common case through the real code against moto (see
//! `hookline_local::cost`). Ends with the two lines
//! `common case: $X.XX per million deliveries` and `mix: $Y.YY per million deliveries`.
//!
//!   COST_EVENTS=1000 COST_COMMON_EVENTS=200 COST_BATCH=100 COST_ALERT_MINUTE_MS=100 hookline-cost
//!
//! COST_BATCH is how many events one request carries (1: each alone, `POST …/events`).

use std::process::ExitCode;

use hookline_local::cost::report::{self, Options};

fn env_number(name: &str, default: u64) -> Result<u64, String> {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => {
            v.trim().parse().map_err(|_| format!("{name} must be a whole number, not {v:?}"))
        }
        _ => Ok(default),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let options = (|| {
        Ok::<_, String>(Options {
            events: env_number("COST_EVENTS", 1000)?,
            common_events: env_number("COST_COMMON_EVENTS", 200)?,
            batch: env_number("COST_BATCH", hookline_local::cost::run::DEFAULT_BATCH)?,
            alert_minute_ms: env_number("COST_ALERT_MINUTE_MS", 100)?,
        })
    })();
    let options = match options {
        Ok(o) => o,
        Err(e) => {
            eprintln!("hookline-cost: {e}");
            return ExitCode::FAILURE;
        }
    };
    match report::report(options).await {
        Ok(report) => {
            let problems: Vec<String> =
                report::problems(&report.mix).into_iter().chain(report::problems(&report.common)).collect();
            if !problems.is_empty() {
                eprintln!("{}", report.text);
                for p in problems {
                    eprintln!("hookline-cost: {p}");
                }
                return ExitCode::FAILURE;
            }
            print!("{}", report.text);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("hookline-cost: {e}");
            ExitCode::FAILURE
        }
    }
}
