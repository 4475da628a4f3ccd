//! `make chaos` in small: 300 events through the real code against moto while a tenth of the
//! AWS calls fail, receivers misbehave and function instances are killed every couple of
//! seconds; nothing may be lost and every promise of the end check must hold.

use std::time::Duration;

use hookline_local::chaos::{self, Options};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_chaos_run_loses_nothing() {
    // GIVEN 300 events, 10 % of AWS calls failing, an instance killed about every 2 s
    let mut options = Options::new(300);
    options.kill_every = Duration::from_secs(2);
    options.concurrency = 12;
    options.settle = Duration::from_secs(120);
    // WHEN the chaos run sends them and waits for the queues to empty
    let report = chaos::run(options).await.expect("the chaos run");
    let text = report.text();
    eprintln!("{text}");

    // THEN faults and kills really happened
    assert!(report.faults.values().sum::<u64>() > 20, "{text}");
    assert!(report.kills > 3, "{text}");
    // AND every event was accepted, nothing lost, every delivery accounted for
    let v = &report.verdict;
    assert!(report.settled, "{text}");
    assert_eq!(v.accepted, 300, "{text}");
    assert_eq!(v.lost, 0, "{text}");
    assert_eq!(v.delivered + v.failed, v.deliveries, "{text}");
    assert!(v.problems.is_empty(), "{text}");
    // AND the API answered no 5xx but 503
    assert!(report.sending.bad_5xx.is_empty(), "{text}");
    assert!(report.kept(), "{text}");
    // AND the report ends with the closing line
    assert_eq!(text.lines().last(), Some(v.line().as_str()));
    assert!(v.line().starts_with("chaos: accepted 300, delivered "), "{text}");
}
