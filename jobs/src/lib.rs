//! ScaiVault's durable jobs (apalis): renewals, webhook deliveries and periodic scans arrive
//! here with their issues. What every one of them shares is already fixed: the backoff rule.

pub mod backoff;

pub use backoff::Backoff;
