//! The functions of a cost run, measured one invocation at a time: the queue-triggered ones
//! driven the way the event source mapping drives them (`pump`), each invocation timed, its
//! log bytes counted, and the AWS calls it and its event source mapping made gathered from
//! their recording proxies.

use std::future::Future;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use tracing::Dispatch;
use tracing::instrument::WithSubscriber;
use tracing_subscriber::EnvFilter;

use crate::aws_proxy::{AwsCall, CallLog};
use crate::cost::ledger::{self, CostPath, Invocation};
use crate::pump::{self, Batching};

/// Counts the bytes a function logs (as the Lambda would write them: JSON lines, the same
/// format `telemetry::init(true)` sets up), and drops them.
#[derive(Clone)]
pub struct LogCapture {
    dispatch: Dispatch,
    bytes: Arc<AtomicU64>,
}

struct CountingWriter(Arc<AtomicU64>);

impl io::Write for CountingWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.fetch_add(buf.len() as u64, Ordering::Relaxed);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl LogCapture {
    /// At `level` (the template's LogLevel).
    pub fn new(level: &str) -> Self {
        let bytes = Arc::new(AtomicU64::new(0));
        let counter = bytes.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(EnvFilter::new(level))
            .with_target(false)
            .json()
            .with_current_span(true)
            .without_time()
            .with_writer(move || CountingWriter(counter.clone()))
            .finish();
        Self { dispatch: Dispatch::new(subscriber), bytes }
    }

    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    /// Runs `work` with its logs counted here; returns its output, its duration and its bytes.
    pub async fn measure<T>(&self, work: impl Future<Output = T>) -> (T, Duration, u64) {
        let before = self.bytes();
        let started = Instant::now();
        let out = work.with_subscriber(self.dispatch.clone()).await;
        (out, started.elapsed(), self.bytes() - before)
    }
}

/// What a queue's driver saw.
#[derive(Debug, Default)]
pub struct Driven {
    pub invocations: Vec<Invocation>,
    /// Receives that got nothing: the event source mapping's idle polling, a cost per poller
    /// and minute that does not grow with deliveries (not billed per delivery).
    pub idle_receives: u64,
    /// Records the function finished with (deleted), and records it reported failed.
    pub records_done: u64,
    pub records_failed: u64,
}

/// One queue and its function, as the event source mapping runs it.
pub struct QueueDriver {
    /// Goes through `esm_log`'s proxy: the event source mapping's receives and deletes.
    pub sqs: aws_sdk_sqs::Client,
    pub queue_url: String,
    pub queue_arn: String,
    pub batching: Batching,
    pub esm_log: CallLog,
    /// The function's own calls.
    pub function_log: CallLog,
    pub memory_mb: u32,
    pub logs: LogCapture,
    /// Which path a record serves, by its attempt number (`ApproximateReceiveCount`).
    pub path_of: fn(u64) -> CostPath,
}

fn is_empty_receive(call: &AwsCall) -> bool {
    call.operation == "sqs:ReceiveMessage"
        && serde_json::from_slice::<serde_json::Value>(&call.response)
            .ok()
            .and_then(|v| v.get("Messages").and_then(|m| m.as_array()).map(|m| !m.is_empty()))
            != Some(true)
}

struct Measured {
    duration: Duration,
    logged: u64,
    shares: Vec<(CostPath, f64)>,
    failed: u64,
}

impl QueueDriver {
    /// Gathers and hands over batches until `stop`; records each invocation in `out`.
    pub async fn drive<H, F>(&self, handler: H, stop: Arc<AtomicBool>, out: Arc<Mutex<Driven>>)
    where
        H: Fn(SqsEvent) -> F,
        F: Future<Output = SqsBatchResponse>,
    {
        while !stop.load(Ordering::SeqCst) {
            let (esm_mark, function_mark) = (self.esm_log.len(), self.function_log.len());
            let measured: Mutex<Option<Measured>> = Mutex::new(None);
            let wrapped = |event: SqsEvent| {
                let paths: Vec<CostPath> = event
                    .records
                    .iter()
                    .map(|r| {
                        let attempt = r.attributes.get("ApproximateReceiveCount").and_then(|n| n.parse().ok());
                        (self.path_of)(attempt.unwrap_or(1))
                    })
                    .collect();
                let run = self.logs.measure(handler(event));
                let measured = &measured;
                async move {
                    let (response, duration, logged) = run.await;
                    let n = paths.len().max(1) as f64;
                    let mut shares: Vec<(CostPath, f64)> = Vec::new();
                    for path in paths {
                        match shares.iter_mut().find(|(p, _)| *p == path) {
                            Some((_, share)) => *share += 1.0 / n,
                            None => shares.push((path, 1.0 / n)),
                        }
                    }
                    let failed = response.batch_item_failures.len() as u64;
                    *measured.lock().unwrap_or_else(|e| e.into_inner()) =
                        Some(Measured { duration, logged, shares, failed });
                    response
                }
            };
            let got = pump::pump_once(&self.sqs, &self.queue_url, &self.queue_arn, self.batching, &wrapped).await;
            let esm_calls = self.esm_log.since(esm_mark);
            let idle = esm_calls.iter().filter(|c| is_empty_receive(c)).count() as u64;
            let failed = {
                let mut out = out.lock().unwrap_or_else(|e| e.into_inner());
                out.idle_receives += idle;
                self.record(
                    &mut out,
                    got,
                    measured.into_inner().unwrap_or_else(|e| e.into_inner()),
                    function_mark,
                    esm_calls,
                )
            };
            if let Err(e) = failed {
                tracing::warn!(error = %e, "cost run: receive failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }

    fn record(
        &self,
        out: &mut Driven,
        got: Result<usize, String>,
        measured: Option<Measured>,
        function_mark: usize,
        esm_calls: Vec<AwsCall>,
    ) -> Result<(), String> {
        match (got?, measured) {
            (n, Some(m)) if n > 0 => {
                let mut calls = self.function_log.since(function_mark);
                let duration = ledger::net_duration(m.duration, &calls);
                calls.extend(esm_calls.into_iter().filter(|c| !is_empty_receive(c)));
                out.records_done += n as u64 - m.failed;
                out.records_failed += m.failed;
                out.invocations.push(Invocation {
                    memory_mb: self.memory_mb,
                    duration_ns: duration.as_nanos(),
                    logged_bytes: m.logged,
                    calls,
                    api_request_bytes: None,
                    shares: m.shares,
                });
            }
            _ => {}
        }
        Ok(())
    }
}
