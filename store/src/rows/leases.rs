//! Order leases.

use scaivault_domain::lease::OrderLease;
use scaivault_domain::timestamp::from_millis;

/// `order_leases`.
#[derive(sqlx::FromRow)]
pub(crate) struct LeaseRow {
    order_id: String,
    owner: String,
    expires_at: i64,
    acquired_at: i64,
}

impl LeaseRow {
    pub(crate) fn into_record(self) -> OrderLease {
        OrderLease {
            order_id: self.order_id,
            owner: self.owner,
            expires_at: from_millis(self.expires_at),
            acquired_at: from_millis(self.acquired_at),
        }
    }
}
