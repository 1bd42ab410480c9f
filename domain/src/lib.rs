//! ScaiVault's domain: the types, validation and state-machine rules, and the per-aggregate store
//! traits ([`store`]) that every other crate shares. It knows nothing of actors, jobs, SQL or
//! HTTP, so rules live in one place and can be tested without any of them; the API's bodies are
//! built from these records by the contract crate.

pub mod account;
pub mod caa;
pub mod certificate;
pub mod dns_pick;
pub mod dns_provider;
pub mod error;
pub mod event;
pub mod ids;
pub mod lease;
pub mod metrics;
pub mod order;
pub mod outbound;
pub mod pause;
pub mod pki;
pub mod profile;
pub mod provider;
pub mod rate_limit;
pub mod renewal;
pub mod revocation;
pub mod scope;
pub mod seal;
pub mod secret;
pub mod store;
pub mod timestamp;
pub mod token;
pub mod webhook;

pub use error::{BoxError, Error, Result, StoreFailure};
pub use store::{SharedStore, Store};
