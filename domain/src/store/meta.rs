//! The database itself: reachability, the backend's name, and small service-wide values.

use async_trait::async_trait;

use crate::Result;

#[async_trait]
pub trait MetaStore: Send + Sync + std::fmt::Debug {
    /// A cheap round trip, for readiness.
    async fn ping(&self) -> Result<()>;
    /// Which backend this is (`sqlite` or `postgres`), for logs and `/readyz`.
    fn backend(&self) -> &'static str;
    /// Sets `key` to `value` only if it has no value yet; `true` when this call set it. Atomic,
    /// so when several instances start together exactly one wins (e.g. the bootstrap token).
    async fn set_meta_if_absent(&self, key: &str, value: &str) -> Result<bool>;
    /// The value of `key`.
    async fn get_meta(&self, key: &str) -> Result<Option<String>>;
    /// Sets each `(key, value)` of `set` and removes each key of `remove`, in one transaction,
    /// so a change of several values (the end of a master-key rotation) is never half made.
    async fn update_meta(&self, set: &[(&str, &str)], remove: &[&str]) -> Result<()>;
}
