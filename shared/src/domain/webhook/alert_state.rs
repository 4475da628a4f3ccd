//! A webhook's failure state, kept for its alerts: the failures not yet told in an e-mail.

use super::model::Webhook;

/// The delivery ids an alert summary names: a few, not all, so a webhook's item does not
/// grow with an outage (the count says how many failed).
pub const MAX_PENDING_DELIVERY_IDS: usize = 5;

/// A webhook's failures not yet told in an alert e-mail.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PendingSummary {
    pub count: u32,
    pub first_at: Option<String>,
    pub last_at: Option<String>,
    pub last_error: Option<String>,
    pub delivery_ids: Vec<String>,
}

impl Webhook {
    /// What stays pending once the e-mail telling `told`'s summary went out: the failures
    /// counted after it was read (none, usually).
    pub fn pending_after_telling(&self, told: &Webhook) -> PendingSummary {
        let count = self.pending_count.saturating_sub(told.pending_count);
        if count == 0 {
            return PendingSummary::default();
        }
        PendingSummary {
            count,
            // Their own first time isn't kept; they all came after the last failure told.
            first_at: told.pending_last_at.clone().or_else(|| self.pending_first_at.clone()),
            last_at: self.pending_last_at.clone(),
            last_error: self.pending_last_error.clone(),
            delivery_ids: self
                .pending_delivery_ids
                .iter()
                .filter(|id| !told.pending_delivery_ids.contains(id))
                .cloned()
                .collect(),
        }
    }
}
