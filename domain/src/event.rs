//! Events: what happened, as API.md names it, with data naming the certificate, order,
//! domains, version, serial and reasons — so a consumer can act without another lookup.

use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;

use crate::{Error, Result, ids, timestamp};

/// The event types of API.md.
pub const TYPES: [&str; 6] = [
    "certificate.issued",
    "certificate.renewed",
    "certificate.renewal_failed",
    "certificate.expiring",
    "certificate.revoked",
    "order.invalid",
];

/// One event.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Event {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub data: Value,
}

impl Event {
    /// A new event of a known type, now.
    pub fn new(kind: &'static str, data: Value) -> Self {
        debug_assert!(TYPES.contains(&kind), "unknown event type {kind}");
        Self {
            id: ids::new_id("evt"),
            kind: kind.to_owned(),
            created_at: timestamp::now(),
            data,
        }
    }
}

/// Checks a `type` filter.
pub fn validate_type(kind: &str) -> Result<()> {
    if TYPES.contains(&kind) {
        Ok(())
    } else {
        Err(Error::invalid(
            "type",
            format!("unknown event type {kind:?}; known: {}", TYPES.join(", ")),
        ))
    }
}

/// A page of events, oldest first (a log is read forwards).
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    pub kind: Option<String>,
    /// Only events strictly after this `(created_at millis, id)` position.
    pub after: Option<(i64, String)>,
    pub limit: u32,
}
