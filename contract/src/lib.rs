//! The HTTP contract of ScaiVault ACME: every request and response body of the API as Rust
//! types. The service's handlers take and return them, the OpenAPI document is generated from
//! them, and the end-to-end tests deserialize answers into them, so a field renamed in one place
//! is renamed in all three or the build fails.
//!
//! The domain's records are not the wire shape: each body here is built from a record by a
//! `From` conversion, and leaves out what only the service keeps (sealed values, key hashes,
//! CA URLs of challenges, chains). Enums are mirrored from the domain (`utoipa` stays out of the
//! domain) with conversions both ways.

mod accounts;
mod caa;
mod certificates;
mod dns_providers;
mod enums;
mod error;
mod events;
mod health;
mod orders;
mod page;
mod profiles;
mod secrets;
mod tokens;
mod webhooks;

pub use accounts::{
    Account, AccountList, AccountPaused, Eab, ProviderEnvironments, ProviderList, ProviderView,
    Register, UpdateAccount,
};
pub use caa::{CaaAdvice, CaaCheck, CaaLookup, CaaPublished, CaaQuery, CaaStatus};
pub use certificates::{
    Certificate, CertificateDetail, CertificateList, CertificateVersion, RevokeBody, Revoked,
};
pub use dns_providers::{
    CreateDnsProvider, DnsProvider, DnsProviderList, DnsProviderTest, DnsRecord, TestDnsProvider,
};
pub use enums::{
    AccountStatus, CertificateStatus, ChallengeType, CommonName, DeliveryStatus, Environment,
    EventKind, KeyType, OrderStatus, Provider, ProviderStatus, RevocationReason, Scope,
};
pub use error::{ErrorBody, ErrorCode, ErrorDetail};
pub use events::{Event, EventList, ListEvents};
pub use health::{Health, Readiness};
pub use orders::{
    Challenge, Issue, ListOrders, Order, OrderDetail, OrderError, OrderList, OrderWithChallenges,
    RenewalOrder,
};
pub use page::PageQuery;
pub use profiles::{ProfileView, ScheduledChange, ScheduledView};
pub use secrets::{ListSecrets, PutSecret, Secret, SecretList, SecretSummary, SecretWithValue};
pub use tokens::{CreateToken, CreatedToken, Token, TokenList};
pub use webhooks::{
    CreateWebhook, CreatedWebhook, Delivery, DeliveryAttempt, DeliveryList, Webhook, WebhookList,
};
