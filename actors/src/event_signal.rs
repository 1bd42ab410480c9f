//! A process-wide signal raised after an event is recorded. The webhook dispatcher waits on it,
//! so an event's deliveries (written in the event's own transaction) are queued at once rather
//! than at the dispatcher's next sweep. Only a wake-up: the deliveries themselves are in the
//! store, and the sweep finds any that a missed signal left behind.

use tokio::sync::Notify;

static RECORDED: Notify = Notify::const_new();

/// Tells the dispatcher that events were recorded.
pub fn raise() {
    // One stored permit: a signal raised while nobody waits wakes the next wait.
    RECORDED.notify_one();
}

/// Resolves at the next [`raise`] (at once if one came since the last wait).
pub async fn recorded() {
    RECORDED.notified().await;
}
