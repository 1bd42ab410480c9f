//! ScaiVault's domain: the types, validation rules and the `Store` trait that every other crate
//! shares. It knows nothing of HTTP, actors, jobs or SQL, so rules live in one place and can be
//! tested without any of them.

pub mod account;
pub mod certificate;
pub mod dns_provider;
pub mod error;
pub mod event;
pub mod ids;
pub mod lease;
pub mod metrics;
pub mod order;
pub mod pki;
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

pub use error::{Error, Result};
pub use store::{SharedStore, Store};
