//! ScaiVault's durable jobs (apalis): renewals, webhook deliveries and periodic scans, in the
//! service's own database. This crate alone knows apalis and its tables: the queues
//! ([`JobQueue`], one per [`Job`] kind, on one [`JobDatabase`]), the durable backoff every one
//! of them shares ([`Backoff`]), and the statements apalis does not offer (superseding renewal
//! tasks, finding certificates without one, the due probe, queue depths).

mod backoff;
mod database;
mod due_gate;
mod error;
mod expiry_scan;
mod queue;
mod renewal;
mod tables;
mod webhook;
mod webhook_target;

pub use crate::backoff::Backoff;
pub use crate::database::JobDatabase;
pub use crate::due_gate::DueProbe;
pub use crate::error::{Error, JobError};
pub use crate::expiry_scan::{ScanTask, start_expiry_scan};
pub use crate::queue::{FailedAttempt, Job, JobQueue, QueueOptions, Storage, Stored};
pub use crate::renewal::{RenewalTask, Renewals, start_worker};
pub use crate::tables::QueueDepth;
pub use crate::webhook::{WebhookDelivery, WebhookSettings, Webhooks};
pub use crate::webhook_target::{TargetRefused, check_target, parse_url};
