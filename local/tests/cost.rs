//! `make cost` in small: 50 events of the realistic mix and 20 of the common case through the
//! real code against moto, so the tool cannot rot unseen: the report has its shape, every
//! delivery is accounted for, and every AWS call the functions made has a price.

use hookline_local::cost::ledger::CostPath;
use hookline_local::cost::meter::Component;
use hookline_local::cost::report::{self, Options};

#[tokio::test]
async fn a_small_cost_run_accounts_for_every_delivery_and_prices_every_call() {
    // GIVEN 50 events of the mix (1 in 10 to three webhooks; per 100 deliveries 1 dead, 4 retried),
    // sent 10 to a batch
    let options = Options { events: 50, common_events: 20, batch: 10, alert_minute_ms: 20 };
    // WHEN the cost run measures them and 20 common-case events
    let report = report::report(options).await.expect("the cost run");

    // THEN every delivery the API made reached its receiver or died and was alerted, per mix
    for run in [&report.mix, &report.common] {
        assert_eq!(report::problems(run), Vec::<String>::new(), "{}", report.text);
        assert!(run.unpriced.is_empty());
        assert!(run.calls.keys().all(|op| !op.starts_with("unknown")), "{:?}", run.calls.keys());
        assert_eq!(run.ledger.deliveries, run.deliveries_made);
    }
    let mix = &report.mix;
    assert_eq!(mix.deliveries_made, 45 + 5 * 3, "45 events to one webhook, 5 to three");
    assert_eq!(mix.tally.dead, 1, "the first of each 100 deliveries dies");
    assert_eq!(mix.dead_alerted, 1);
    assert_eq!(mix.tally.delivered_after_retry, 4);
    assert_eq!(mix.tally.delivered_first_try, 55);
    // AND every path of the mix costs something, and the common case has no retry or dead path
    for path in CostPath::ALL {
        assert!(mix.ledger.by_path.get(&path).is_some_and(|u| u.get(Component::LambdaRequests) > 0.0), "{path:?}");
    }
    assert!(!report.common.ledger.by_path.contains_key(&CostPath::Retry));
    assert_eq!(report.common.tally.delivered_first_try, 20);
    // AND each batch of 10 events is one API Gateway request and one api invocation
    let ingest = mix.ledger.by_path[&CostPath::Ingest];
    assert_eq!(ingest.get(Component::ApiGateway), 5.0);
    assert_eq!(ingest.get(Component::LambdaRequests), 5.0);

    // AND the report has a row per component and ends with exactly the two closing lines
    for component in Component::ALL {
        assert!(report.text.lines().any(|l| l.starts_with(component.label())), "{}", component.label());
    }
    let last: Vec<&str> = report.text.lines().rev().take(2).collect();
    assert_eq!(last[1], format!("common case: ${:.2} per million deliveries", report.common_per_million));
    assert_eq!(last[0], format!("mix: ${:.2} per million deliveries", report.mix_per_million));
    assert!(report.mix_per_million > 0.0 && report.common_per_million > 0.0);
}
