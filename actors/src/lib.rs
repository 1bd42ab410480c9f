//! ScaiVault's actors (ractor). Each ACME account is an [`account::AccountActor`] that owns the
//! decrypted account key and the protocol client and serialises the account's work; the
//! [`supervisor::AccountSupervisor`] watches them. [`accounts::Accounts`] is the handle the rest
//! of the service uses.

pub mod account;
pub mod accounts;
mod acme_endpoint;
pub mod acme_http;
pub mod dns_challenges;
pub mod error;
pub mod event_signal;
pub mod leases;
pub mod order;
pub mod order_supervisor;
pub mod orders;
mod provider_slots;
mod rate_ledger;
pub mod renewals;
pub mod revocation;
pub mod supervisor;

pub use accounts::Accounts;
pub use acme_http::AcmeHttp;
pub use error::{AcmeProblem, Error};
pub use leases::Cluster;
pub use orders::{DnsSettings, IssueRequest, Orders};
pub use renewals::{RenewalFailure, RenewalOutcome, RenewalScheduler, SharedScheduler};
