//! Hookline's shared library, in one-way layers: each module imports only from those above it
//! in this list (`tests/layers.rs` holds the rule in `make test`).
//!
//! - `domain`: the model and its rules; pure, no I/O.
//! - `outbound`: one webhook request built and judged (render, sign, classify, retry schedule); no I/O.
//! - `ports`: the traits the use-cases need (stores, queues, mailer, sender) and their errors.
//! - `app`: the use-cases, over the ports; testable without AWS.
//! - `adapters`: the only AWS and HTTP code, implementing the ports (app and adapters never meet).
//! - `config` and `telemetry`: the environment read into settings, and logging: the wiring.

pub mod domain;
pub mod outbound;
pub mod ports;

pub mod adapters;
pub mod app;

pub mod config;
pub mod telemetry;
