//! What the use-cases need from the outside world, as traits: `adapters` implements them on
//! AWS and HTTP, tests on whatever they like. Adapter errors become `DomainError`s here.

pub mod gate;
pub mod mailer;
pub mod queue;
pub mod sender;
pub mod store;
