//! The report `make cost` prints: each run described (what was sent, what happened, every
//! AWS operation with its billed units), the table of $ per million deliveries per component
//! and path, and the two closing lines. Also the checks that keep the run honest: every
//! delivery accounted for and every call priced.

use std::fmt::Write;
use std::time::Duration;

use super::alert_emails::{self, AlertTraffic};
use super::dynamo::TableModel;
use super::ledger;
use super::meter::Component;
use super::prices::{self, PriceTable};
use super::run::{self, BoxError, EVENT_BYTES, Mix, MixResult};
use crate::moto::MotoServer;
use crate::stack::{self, Template};
use hookline_shared::domain::webhook::model::DEFAULT_ALERT_INTERVAL_MINUTES;

/// What to run.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Events of the realistic mix.
    pub events: u64,
    /// Events of the common-case run (1 KB, one webhook, first try).
    pub common_events: u64,
    /// Events a request carries (1: each event its own `POST …/events`).
    pub batch: u64,
    /// One minute of the alert interval, shortened so held dead letters come back within the run.
    pub alert_minute_ms: u64,
}

/// The printed report and the figures in it.
#[derive(Debug)]
pub struct Report {
    pub text: String,
    pub mix: MixResult,
    pub common: MixResult,
    pub mix_per_million: f64,
    pub common_per_million: f64,
}

/// What does not add up in a run: deliveries unaccounted for, calls without a price.
pub fn problems(result: &MixResult) -> Vec<String> {
    let mut out: Vec<String> = result.unpriced.iter().map(|e| format!("unpriced: {e}")).collect();
    let t = &result.tally;
    if t.deliveries != result.deliveries_made {
        out.push(format!("the API made {} deliveries, the receivers saw {}", result.deliveries_made, t.deliveries));
    }
    if t.delivered_first_try + t.delivered_after_retry + result.dead_alerted != result.deliveries_made {
        out.push(format!(
            "{} deliveries made, but {t:?} and {} dead alerted",
            result.deliveries_made, result.dead_alerted
        ));
    }
    if result.dead_alerted != t.dead {
        out.push(format!("{} deliveries died, {} were alerted", t.dead, result.dead_alerted));
    }
    if result.ledger.deliveries != result.deliveries_made {
        out.push("the ledger counts other deliveries than were made".into());
    }
    out
}

/// Runs the mix and the common case on one moto server, prices them and writes the report.
pub async fn report(options: Options) -> Result<Report, BoxError> {
    let template = Template::load(&stack::template_path())?;
    let prices = PriceTable::load(&prices::default_path())?;
    let table = TableModel::from_template(template.properties("HooklineTable").ok_or("no HooklineTable")?)?;
    let traffic = AlertTraffic {
        deliveries_per_second: prices.assumption("webhook_deliveries_per_second")?,
        interval_minutes: DEFAULT_ALERT_INTERVAL_MINUTES,
        recipients: run::ALERT_RECIPIENTS,
    };
    let moto = MotoServer::start(0)?;
    // Long enough for every retry and the alert's hold; the run ends as soon as all is done.
    let timeout = |events: u64| Duration::from_secs(120 + events / 5);
    // Each run's result (e-mails billed at `traffic`) and its ledger with every e-mail it sent.
    let run_priced = async |mix: Mix, prefix: &str| -> Result<(MixResult, ledger::Ledger), BoxError> {
        let (mut result, invocations) =
            Box::pin(run::run_mix(&moto, &template, mix, prefix, options.alert_minute_ms, timeout(mix.events))).await?;
        run::price(&mut result, &invocations, &table, &prices)?;
        let as_run = result.ledger.clone();
        alert_emails::bill_at(&mut result.ledger, &traffic);
        Ok((result, as_run))
    };
    let (mix, mix_as_run) = Box::pin(run_priced(
        Mix { batch: options.batch, ..Mix::realistic(options.events) },
        &format!("cost{}-mix", std::process::id()),
    ))
    .await?;
    let (common, _) = Box::pin(run_priced(
        Mix { batch: options.batch, ..Mix::common_case(options.common_events) },
        &format!("cost{}-common", std::process::id()),
    ))
    .await?;
    let mix_per_million = mix.ledger.per_million(&mix.ledger.total(), &prices);
    let common_per_million = common.ledger.per_million(&common.ledger.total(), &prices);

    let mut text = String::new();
    let _ = writeln!(
        text,
        "hookline cost: AWS list prices, {} as of {} (local/prices.json); the real api Router, delivery and alert handlers against moto",
        prices.region, prices.as_of
    );
    let _ = writeln!(
        text,
        "alert interval minute shortened to {} ms (e-mails billed at a stated rate, below); retries every 1 s; Lambda memory and platform log records ({}) from template.yaml; free tiers ignored",
        options.alert_minute_ms,
        if mix.platform_logs { "logged" } else { "off: SystemLogLevel WARN" }
    );
    let _ = writeln!(text, "\nmix: {}", describe(&mix, &prices));
    text.push_str(&emails_line(&mix, &mix_as_run, &traffic, options.alert_minute_ms, &prices));
    text.push_str(&mix.ledger.render(&prices));
    let _ = writeln!(text, "\ncommon case: {}", describe(&common, &prices));
    text.push_str(&common.ledger.render(&prices));
    text.push('\n');
    text.push_str(&ledger::closing_lines(common_per_million, mix_per_million));
    Ok(Report { text, mix, common, mix_per_million, common_per_million })
}

/// What the mix's alert e-mails are billed as, and what the mix costs at other rates.
fn emails_line(
    mix: &MixResult,
    as_run: &ledger::Ledger,
    traffic: &AlertTraffic,
    minute_ms: u64,
    prices: &PriceTable,
) -> String {
    let at = |deliveries_per_second: f64| {
        let mut ledger = as_run.clone();
        alert_emails::bill_at(&mut ledger, &AlertTraffic { deliveries_per_second, ..*traffic });
        ledger.per_million(&ledger.total(), prices)
    };
    format!(
        "  alert e-mails: {:.0} sent (the run's {minute_ms} ms minute stands for {:.4} deliveries/s to each webhook), billed as {:.2}: \
         at most one per recipient per webhook per {}-minute interval at {}/s to each webhook (local/prices.json); \
         the mix at 0.1/s: ${:.2}, at 0.01/s: ${:.2}, as run: ${:.2} per million\n",
        as_run.total().get(Component::Ses),
        mix.rate_per_webhook(minute_ms),
        mix.ledger.total().get(Component::Ses),
        traffic.interval_minutes,
        traffic.deliveries_per_second,
        at(0.1),
        at(0.01),
        as_run.per_million(&as_run.total(), prices),
    )
}

/// A mix in a paragraph: what was sent, what happened, what was called.
pub fn describe(result: &MixResult, prices: &PriceTable) -> String {
    let mut out = String::new();
    let t = &result.tally;
    let m = &result.mix;
    let three = m.events_to_three();
    let _ = writeln!(
        out,
        "{} events of {EVENT_BYTES} bytes, {} a request ({} to one webhook, {three} to three): {} deliveries; {} delivered first try, {} after one retry, {} dead after every attempt and alerted ({:.1} s)",
        m.events,
        m.batch,
        m.events - three,
        result.deliveries_made,
        t.delivered_first_try,
        t.delivered_after_retry,
        result.dead_alerted,
        result.elapsed.as_secs_f64()
    );
    let n = |k: &str| result.invocations.get(k).copied().unwrap_or(0);
    let per_batch = result.delivery_records as f64 / n("delivery").max(1) as f64;
    let _ = writeln!(
        out,
        "  invocations: api {}, delivery {} ({per_batch:.1} records each), alert {}; empty receives (idle polling, not billed): {}",
        n("api"),
        n("delivery"),
        n("alert"),
        result.idle_receives
    );
    let _ = writeln!(out, "  AWS calls (calls, billed units, $ per million deliveries):");
    for (operation, (count, usage)) in &result.calls {
        let billed: Vec<String> = Component::ALL
            .iter()
            .filter(|c| usage.get(**c) > 0.0)
            .map(|c| format!("{:.1} {}", usage.get(*c), unit_name(*c)))
            .collect();
        let _ = writeln!(
            out,
            "    {operation:<34} {count:>7}  {:<24} {:>8.4}",
            billed.join(", "),
            result.ledger.per_million(usage, prices)
        );
    }
    out
}

fn unit_name(c: Component) -> &'static str {
    match c {
        Component::DynamoWrites => "WRU",
        Component::DynamoReads => "RRU",
        Component::Ses => "e-mails",
        _ => "requests",
    }
}
