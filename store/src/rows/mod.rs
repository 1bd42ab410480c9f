//! Rows as the statements read them (`#[derive(sqlx::FromRow)]`, one field per selected
//! column), and their conversion into the domain's records: times from unix milliseconds,
//! lists from JSON text, enums from their stored names. A row that does not convert is a
//! [`StoreFailure::Data`](scaivault_domain::StoreFailure::Data) error naming the column.

mod accounts;
mod certificates;
mod dns;
mod events;
mod leases;
mod orders;
mod pauses;
mod tokens;
mod webhooks;

use std::str::FromStr;

use scaivault_domain::{Error, Result};

pub(crate) use accounts::AccountRow;
pub(crate) use certificates::{CertificateRow, ExpiryRow, RevocationRow, VersionRow};
pub(crate) use dns::{DnsProviderRow, DnsRecordRow};
pub(crate) use events::EventRow;
pub(crate) use leases::LeaseRow;
pub(crate) use orders::{ChallengeRow, OrderRow, OrderWithChallengeRow};
pub(crate) use pauses::PauseRow;
pub(crate) use tokens::{SecretInfoRow, SecretRow, TokenRow};
pub(crate) use webhooks::{DeliveryAttemptRow, DeliveryRow, WebhookRow};

/// A stored enum through its `FromStr`.
fn stored<T: FromStr>(column: &str, value: &str) -> Result<T> {
    value
        .parse()
        .map_err(|_| Error::corrupt(format!("column {column}: unexpected value {value:?}")))
}

/// Lists are stored as JSON text on both backends.
pub(crate) fn to_json(list: &[String]) -> Result<String> {
    serde_json::to_string(list).map_err(|e| Error::corrupt(format!("encoding a list: {e}")))
}

pub(crate) fn from_json(column: &str, text: &str) -> Result<Vec<String>> {
    serde_json::from_str(text).map_err(|e| Error::corrupt(format!("column {column}: {e}")))
}
