//! ScaiVault's actors (ractor) and what only they use.
//!
//! # Design
//!
//! - **Accounts** ([`Accounts`], `account/`): one actor per ACME account, named after it in
//!   ractor's registry, owning the account's key and protocol client and running account-level
//!   work one message at a time. Looking an account up never waits for a CA.
//! - **Orders** ([`Orders`], `order/`): one actor per order in flight drives RFC 8555 §7.4 from
//!   the store and the CA's view of the order, under a supervisor that restarts it from the
//!   store, on the instance holding the order's lease. dns-01 goes through `scaivault-dns`.
//! - **ACME transport** (`acme/`): the HTTP client every protocol client uses, and
//!   [`ProblemKind`], what a CA's problem means.
//! - **Events** ([`Events`]): typed payloads recorded in the store, and the notifier that wakes
//!   the webhook dispatcher.
//! - **Renewal** ([`RenewalService`], `renewal/`): what the renewal and expiry jobs ask for, and
//!   the ARI plan each new version gets.
//!
//! Everything is built from a config struct ([`AccountsConfig`], [`OrdersConfig`]) once at
//! start; nothing is process-wide state. Fault injection for tests ([`Faults`]) is part of the
//! configuration and does nothing in release builds.

mod account;
mod acme;
mod error;
mod events;
mod faults;
mod order;
mod renewal;

// The public interface.
pub use crate::account::{Accounts, AccountsConfig, Revoked, ZeroSslApi};
pub use crate::acme::{
    AcmeHttp, AcmeProblem, DEFAULT_REQUESTS_PER_CA, HttpLimits, HttpPolicy, MAX_BODY_BYTES,
    ProblemKind, parse_retry_after,
};
pub use crate::error::{Error, UnreachableKind};
pub use crate::events::{EventNotifier, Events, RenewalFailed, RenewalPaused};
pub use crate::faults::{Faults, KeyChangeCrash, OrderStep};
pub use crate::order::{
    CaaReport, Cluster, DnsProbe, DnsProbeError, DnsSettings, IssueRequest, Orders, OrdersConfig,
    ProbeStage,
};
pub use crate::renewal::{
    HeldRenewal, RenewalFailure, RenewalOutcome, RenewalScheduler, RenewalService, SharedScheduler,
};
