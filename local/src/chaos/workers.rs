//! The delivery and alert functions of a chaos run, each instance a tokio task pumping its
//! queue as the event source mapping would, killed at random (its task aborted, mid-batch as
//! often as not) and replaced by a fresh instance: a Lambda that timed out or crashed. What
//! the dead instance had received stays invisible on the queue until its visibility timeout
//! ends, then comes back: SQS's own semantics (moto's), nothing simulated here.

use std::sync::Arc;
use std::time::Duration;

use hookline_alert::AlertFunction;
use hookline_delivery::DeliveryFunction;
use hookline_shared::config::{AlertConfig, DeliveryConfig};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::task::JoinHandle;

use crate::pump::{self, Batching};
use crate::stack::QueueRef;

/// One kind of worker: how to start a fresh instance of it.
#[derive(Clone)]
pub enum Kind {
    Delivery(Arc<DeliveryConfig>),
    Alert(Arc<AlertConfig>),
}

/// Where a worker reads and with what it calls AWS.
#[derive(Clone)]
pub struct Wiring {
    /// The function's own calls (through the faulty proxy).
    pub function_sdk: aws_config::SdkConfig,
    /// The event source mapping's receives and deletes (AWS's machinery, not Hookline's).
    pub esm_sqs: aws_sdk_sqs::Client,
    pub queue: QueueRef,
    pub batching: Batching,
}

struct Worker {
    kind: Kind,
    wiring: Wiring,
    task: JoinHandle<()>,
}

fn start(kind: &Kind, wiring: &Wiring) -> JoinHandle<()> {
    let (kind, w) = (kind.clone(), wiring.clone());
    tokio::spawn(async move {
        match kind {
            Kind::Delivery(config) => match DeliveryFunction::from_config(&w.function_sdk, &config) {
                Ok(f) => pump::pump(w.esm_sqs, w.queue.url, w.queue.arn, w.batching, |e| f.handle(e)).await,
                Err(e) => tracing::error!(error = %e, "chaos: the delivery function cannot start"),
            },
            Kind::Alert(config) => {
                let f = AlertFunction::from_config(&w.function_sdk, &config);
                pump::pump(w.esm_sqs, w.queue.url, w.queue.arn, w.batching, |e| f.handle(e)).await
            }
        }
    })
}

/// The running instances, and how many were killed.
pub struct Workers {
    workers: Vec<Worker>,
    rng: StdRng,
    pub kills: u64,
}

impl Workers {
    pub fn new(seed: u64) -> Self {
        Self { workers: Vec::new(), rng: StdRng::seed_from_u64(seed), kills: 0 }
    }

    pub fn add(&mut self, kind: Kind, wiring: Wiring) {
        let task = start(&kind, &wiring);
        self.workers.push(Worker { kind, wiring, task });
    }

    /// How long until the next kill: uniform in `[every / 2, every * 3 / 2)`.
    pub fn next_kill_in(&mut self, every: Duration) -> Duration {
        let ms = every.as_millis().max(2) as u64;
        Duration::from_millis(self.rng.random_range(ms / 2..ms * 3 / 2))
    }

    /// Kills one instance picked at random and starts a fresh one in its place.
    pub fn kill_one(&mut self) {
        if self.workers.is_empty() {
            return;
        }
        let i = self.rng.random_range(0..self.workers.len());
        let worker = &mut self.workers[i];
        worker.task.abort();
        worker.task = start(&worker.kind, &worker.wiring);
        self.kills += 1;
    }

    pub fn stop(&mut self) {
        for w in self.workers.drain(..) {
            w.task.abort();
        }
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        self.stop();
    }
}
