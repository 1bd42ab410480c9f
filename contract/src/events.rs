//! `GET /v1/events`.

use scaivault_domain::event::Event as EventRecord;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};

use crate::EventKind;

/// `GET /v1/events?type=&since=&limit=&cursor=`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListEvents {
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub kind: Option<EventKind>,
    /// RFC 3339; events created at or after it.
    pub since: Option<String>,
    /// 1 to 100; 50 when absent.
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// An event, as the log and webhook deliveries carry it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Event {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: EventKind,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Depends on the type: the certificate, order and names concerned.
    #[schema(value_type = Object)]
    pub data: Value,
}

impl From<&EventRecord> for Event {
    fn from(record: &EventRecord) -> Self {
        Self {
            id: record.id.clone(),
            kind: record.kind.into(),
            created_at: record.created_at,
            data: record.data.clone(),
        }
    }
}

/// A page of events, oldest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EventList {
    pub events: Vec<Event>,
    /// Pass back as `cursor` for the next page; `null` on the last.
    pub next_cursor: Option<String>,
}
