//! Persistence, one small trait per aggregate (accounts, orders, certificates, leases, events,
//! webhooks, secrets, tokens, DNS providers, ...). [`Store`] is their sum, so one object serves
//! the whole service as `Arc<dyn Store>` while each consumer asks only for the trait it uses
//! (an `Arc<dyn Store>` coerces to `Arc<dyn LeaseStore>`).
//!
//! SQLite and PostgreSQL implement every trait in the `store` crate, and the same conformance
//! suite runs against both, so the rest of the service never sees SQL. The job queue's tables
//! are not here: the jobs crate owns them.

use std::sync::Arc;

mod accounts;
mod certificates;
mod deliveries;
mod dns_providers;
mod dns_records;
mod events;
mod leases;
mod ledger;
mod meta;
mod orders;
mod pauses;
mod revocations;
mod sealed;
mod secrets;
mod tokens;
mod webhooks;

pub use accounts::AccountStore;
pub use certificates::{CertificateStore, RenewalCandidate};
pub use deliveries::DeliveryStore;
pub use dns_providers::DnsProviderStore;
pub use dns_records::DnsRecordStore;
pub use events::EventStore;
pub use leases::LeaseStore;
pub use ledger::LedgerStore;
pub use meta::MetaStore;
pub use orders::OrderStore;
pub use pauses::PauseStore;
pub use revocations::RevocationStore;
pub use sealed::{Resealed, SealedColumn, SealedRow, SealedStore, SealedValue};
pub use secrets::SecretStore;
pub use tokens::TokenStore;
pub use webhooks::WebhookStore;

/// Every aggregate's persistence in one object.
pub trait Store:
    MetaStore
    + TokenStore
    + SecretStore
    + AccountStore
    + OrderStore
    + LeaseStore
    + CertificateStore
    + RevocationStore
    + DnsProviderStore
    + DnsRecordStore
    + EventStore
    + LedgerStore
    + PauseStore
    + WebhookStore
    + DeliveryStore
    + SealedStore
{
}

impl<T> Store for T where
    T: MetaStore
        + TokenStore
        + SecretStore
        + AccountStore
        + OrderStore
        + LeaseStore
        + CertificateStore
        + RevocationStore
        + DnsProviderStore
        + DnsRecordStore
        + EventStore
        + LedgerStore
        + PauseStore
        + WebhookStore
        + DeliveryStore
        + SealedStore
{
}

/// A store shared by every part of the service.
pub type SharedStore = Arc<dyn Store>;
