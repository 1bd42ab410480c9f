//! ScaiVault's durable jobs (apalis): renewals, webhook deliveries and periodic scans arrive
//! here with their issues. What every one of them shares is already fixed: the backoff rule,
//! and the storage in the service's own database ([`queue`]).

pub mod backoff;
pub mod error;
pub mod expiry_scan;
pub mod queue;
pub mod renewal;

pub use backoff::Backoff;
pub use error::{Error, JobError};
pub use expiry_scan::start_expiry_scan;
pub use queue::{
    FailedAttempt, QUEUE_NAME, QueueOptions, RenewalQueue, RenewalTask, Storage as QueueStorage,
    Stored as StoredRenewal,
};
pub use renewal::start_worker;
