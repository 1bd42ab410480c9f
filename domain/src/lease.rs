//! Order leases: with several instances on one database, each unfinished order is driven by
//! exactly one instance at a time, the one holding its lease (owner instance id, expiry).

use time::OffsetDateTime;

/// The lease of one order, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderLease {
    pub order_id: String,
    /// The instance id (`inst_...`) of the holder.
    pub owner: String,
    /// Until when the holder may drive the order without renewing.
    pub expires_at: OffsetDateTime,
    /// When the current holder took it.
    pub acquired_at: OffsetDateTime,
}
