//! The webhook: the stored model, the commands that create and change it, the rules its
//! settings keep, and its alert state.

pub mod alert_state;
pub mod commands;
mod counts;
pub mod model;
mod validate;

#[cfg(test)]
mod tests;

pub use alert_state::PendingSummary;
pub use commands::{CreateWebhook, UpdateWebhook, WebhookChanges};
pub use model::{DEFAULT_FORM_KEY, PayloadFormat, Webhook};
pub use validate::EMAIL_PATTERN;
