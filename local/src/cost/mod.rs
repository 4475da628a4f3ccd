//! `make cost`: what Hookline costs per million deliveries at AWS list prices, measured from
//! the calls the real code makes. The pure model (units from sizes by AWS's billing rules,
//! prices from `local/prices.json`, the split over paths) is here beside the runner that
//! drives the api Router and the delivery and alert handlers against moto.

pub mod alert_emails;
pub mod bill;
pub mod dynamo;
pub mod ledger;
pub mod meter;
pub mod prices;
pub mod report;
pub mod run;
