//! The event log.

use scaivault_domain::event::Event;
use scaivault_domain::timestamp::from_millis;
use scaivault_domain::{Error, Result};

use super::stored;

/// `events`.
#[derive(sqlx::FromRow)]
pub(crate) struct EventRow {
    id: String,
    kind: String,
    created_at: i64,
    data: String,
}

impl EventRow {
    pub(crate) fn into_record(self) -> Result<Event> {
        Ok(Event {
            id: self.id,
            kind: stored("kind", &self.kind)?,
            created_at: from_millis(self.created_at),
            data: serde_json::from_str(&self.data)
                .map_err(|e| Error::corrupt(format!("column data: {e}")))?,
        })
    }
}
