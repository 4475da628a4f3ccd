//! The api function: an axum Router over the domain functions of `hookline_shared`.
//! The same Router is served by `lambda_http` in Lambda and by the local runner on a port.

mod auth;
pub mod console;
pub mod error;
mod extract;
mod handlers;
pub mod openapi;
mod routes;
pub mod state;
pub mod views;

pub use routes::router;
pub use state::{App, AwsApp};
