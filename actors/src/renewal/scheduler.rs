//! Where renewals are scheduled.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use time::OffsetDateTime;

/// The durable job queue's side of renewals, implemented by the jobs crate.
#[async_trait]
pub trait RenewalScheduler: Send + Sync + fmt::Debug {
    /// Runs the renewal of `version` of `certificate_id` at `run_at` (first attempt), and
    /// retires the certificate's other pending renewal tasks: one pending task per certificate.
    async fn schedule(
        &self,
        certificate_id: &str,
        version: i64,
        run_at: OffsetDateTime,
    ) -> Result<(), String>;
}

/// A scheduler shared by the order actors.
pub type SharedScheduler = Arc<dyn RenewalScheduler>;
