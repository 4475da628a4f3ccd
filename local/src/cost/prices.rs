//! The price table (`local/prices.json`): one list price per billed component, each with its
//! unit and source, so every figure `make cost` prints can be traced to a published price.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::meter::Component;

#[derive(Debug, thiserror::Error)]
pub enum PriceError {
    #[error("{0}: {1}")]
    Read(String, std::io::Error),
    #[error("{0}: {1}")]
    Parse(String, serde_json::Error),
    #[error("the price table has no price for {0}")]
    Missing(&'static str),
    #[error("the price of {0} must be a positive number of dollars per a positive number of units")]
    Invalid(&'static str),
    #[error("the price table has no assumption {0}")]
    MissingAssumption(&'static str),
}

/// `usd` dollars for `per` units of `unit`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Price {
    pub usd: f64,
    pub per: f64,
    pub unit: String,
    pub source: String,
}

/// A figure the model assumes that is not a price (e.g. what Lambda logs per invocation).
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Assumption {
    pub value: f64,
    pub about: String,
    pub source: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PriceTable {
    pub region: String,
    pub as_of: String,
    prices: BTreeMap<String, Price>,
    assumptions: BTreeMap<String, Assumption>,
}

/// The price table of this repository.
pub fn default_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("prices.json")
}

impl PriceTable {
    pub fn load(path: &Path) -> Result<Self, PriceError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| PriceError::Read(name.clone(), e))?;
        Self::parse(&text).map_err(|e| match e {
            PriceError::Parse(_, e) => PriceError::Parse(name, e),
            other => other,
        })
    }

    /// Parses a table and checks it prices every component.
    pub fn parse(text: &str) -> Result<Self, PriceError> {
        let table: Self = serde_json::from_str(text).map_err(|e| PriceError::Parse("prices".into(), e))?;
        for component in Component::ALL {
            let price = table.prices.get(component.key()).ok_or(PriceError::Missing(component.key()))?;
            if !(price.usd.is_finite() && price.usd >= 0.0 && price.per.is_finite() && price.per > 0.0) {
                return Err(PriceError::Invalid(component.key()));
            }
        }
        Ok(table)
    }

    pub fn price(&self, component: Component) -> &Price {
        // `parse` checked that every component has its price.
        &self.prices[component.key()]
    }

    /// Dollars per one unit of `component` (a write unit, a request, a GB-second, a GB, ...).
    pub fn unit_price(&self, component: Component) -> f64 {
        let price = self.price(component);
        price.usd / price.per
    }

    pub fn assumption(&self, name: &'static str) -> Result<f64, PriceError> {
        self.assumptions.get(name).map(|a| a.value).ok_or(PriceError::MissingAssumption(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_repository_table_prices_every_component_with_a_source() {
        // GIVEN the committed price table
        let table = PriceTable::load(&default_path()).expect("prices.json");
        // THEN every component has a price with an https source, and the assumptions the bill uses are there
        for component in Component::ALL {
            assert!(table.price(component).source.starts_with("https://aws.amazon.com/"), "{component:?}");
        }
        assert_eq!(table.region, "us-east-1");
        assert!((table.unit_price(Component::DynamoWrites) - 0.625e-6).abs() < 1e-15);
        assert!(table.assumption("lambda_platform_log_bytes").expect("assumption") > 0.0);
        assert!(table.assumption("webhook_deliveries_per_second").expect("assumption") > 0.0);
    }

    #[test]
    fn a_table_missing_a_price_or_with_a_bad_one_is_refused() {
        // GIVEN a table with only one price
        let one = r#"{"region":"us-east-1","as_of":"x","assumptions":{},
            "prices":{"sqs":{"usd":0.4,"per":1000000,"unit":"request","source":"https://aws.amazon.com/sqs/pricing/"}}}"#;
        // THEN it is refused, naming a missing one
        assert!(matches!(PriceTable::parse(one), Err(PriceError::Missing(_))));
        // AND a price per zero units is refused
        let text = std::fs::read_to_string(default_path()).expect("prices.json");
        let bad = text.replacen("\"per\": 1000000", "\"per\": 0", 1);
        assert!(matches!(PriceTable::parse(&bad), Err(PriceError::Invalid(_))));
    }
}
