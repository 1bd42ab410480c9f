//! The event log. Recording an event also creates a `pending` delivery for each webhook
//! subscribed to its type, in the same transaction, so deliveries exist exactly when the event
//! does.

use async_trait::async_trait;

use crate::Result;
use crate::event::{Event, EventQuery};

#[async_trait]
pub trait EventStore: Send + Sync + std::fmt::Debug {
    /// Appends an event to the log, with its webhook deliveries.
    async fn insert_event(&self, event: &Event) -> Result<()>;
    /// A page of events, oldest first.
    async fn list_events(&self, query: &EventQuery) -> Result<Vec<Event>>;
}
