//! ScaiVault's durable jobs (apalis): renewals, webhook deliveries and periodic scans. What
//! every one of them shares: the backoff rule, and the storage in the service's own database
//! ([`queue`]).

pub mod backoff;
pub mod due_gate;
pub mod error;
pub mod expiry_scan;
pub mod queue;
pub mod renewal;
pub mod webhook;
pub mod webhook_target;

pub use backoff::Backoff;
pub use due_gate::DueProbe;
pub use error::{Error, JobError};
pub use expiry_scan::{ScanTask, start_expiry_scan};
pub use queue::{FailedAttempt, Job, JobDatabase, JobQueue, QueueOptions, Storage, Stored};
pub use renewal::{RenewalTask, Renewals, start_worker};
pub use webhook::{WebhookDelivery, WebhookSettings, Webhooks};
