//! Order leases: with several instances on one database, each unfinished order is driven by
//! exactly one instance at a time, the one holding its lease.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::Result;
use crate::lease::OrderLease;

#[async_trait]
pub trait LeaseStore: Send + Sync + std::fmt::Debug {
    /// Takes the order's lease for `owner` until `expires_at`, atomically: only if nobody holds
    /// it, its lease expired before `now`, or `owner` already holds it (then it is extended).
    /// `true` when `owner` holds it now.
    async fn acquire_order_lease(
        &self,
        order_id: &str,
        owner: &str,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<bool>;
    /// Extends every lease `owner` holds to `expires_at` in one statement; returns the ids of
    /// the orders whose leases it still holds (a lease another instance took is not among them).
    async fn renew_order_leases(
        &self,
        owner: &str,
        expires_at: OffsetDateTime,
    ) -> Result<Vec<String>>;
    /// Hands the order's lease back if `owner` holds it; `true` when it did.
    async fn release_order_lease(&self, order_id: &str, owner: &str) -> Result<bool>;
    /// Hands back every lease `owner` holds (graceful shutdown); returns how many.
    async fn release_order_leases(&self, owner: &str) -> Result<u64>;
    /// Drops every lease not held by `owner`; returns how many. Only for a database one
    /// instance uses (SQLite), at start: any other holder is an earlier process that died.
    async fn clear_foreign_order_leases(&self, owner: &str) -> Result<u64>;
    /// Drops leases that expired before `now` on orders that are final (or gone); returns how
    /// many. An instance killed between recording an order's end and handing its lease back
    /// leaves such a row: nobody would ever take it over, so nobody else would delete it.
    async fn clear_stale_order_leases(&self, now: OffsetDateTime) -> Result<u64>;
    /// Unfinished orders nobody drives: without a lease or with one expired before `now`,
    /// oldest first.
    async fn claimable_orders(&self, now: OffsetDateTime, limit: u32) -> Result<Vec<String>>;
    /// The order's lease, if any (expired or not).
    async fn get_order_lease(&self, order_id: &str) -> Result<Option<OrderLease>>;
}
