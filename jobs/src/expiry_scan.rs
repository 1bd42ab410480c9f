//! The expiry scan as durable jobs in the `scans` queue: one scan at start, then one per
//! `[renewal] scan_interval` slot. Certificates close to expiry or with an overdue renewal are
//! reported (`certificate.expiring`, once per version).
//!
//! Each periodic scan is keyed by its slot (`expiry-scan:<n>`, n = unix time / interval), so
//! however many instances share the database a slot is scanned once; the scan that runs stores
//! the next slot's task before it finishes, and every start stores the next slot again (a no-op
//! when it exists), so the chain survives a crash between the two. A missed or repeated scan is
//! harmless: the next one finds the same certificates, and each version is reported once.

use std::time::Duration;

use scaivault_actors::RenewalService;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::{Error, Job, JobError, JobQueue};

/// How long past `renew_at` a renewal may still be running before it counts as overdue.
const OVERDUE_GRACE: Duration = Duration::from_secs(10 * 60);

/// One expiry scan. `slot` is `None` for the scan at start (not keyed: every start scans).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanTask {
    pub slot: Option<i64>,
    #[serde(default)]
    pub attempt: u32,
}

impl Job for ScanTask {
    const QUEUE: &'static str = "scans";

    fn attempt(&self) -> u32 {
        self.attempt
    }

    fn next_attempt(&self) -> Self {
        Self {
            attempt: self.attempt.saturating_add(1),
            ..self.clone()
        }
    }

    fn key(&self) -> Option<String> {
        self.slot
            .map(|slot| format!("expiry-scan:{slot}:a{}", self.attempt))
    }

    fn subject(&self) -> String {
        match self.slot {
            Some(slot) => format!("expiry scan slot {slot}"),
            None => "expiry scan at start".into(),
        }
    }
}

/// The slot after the one `now` falls in, and when it starts.
fn next_slot(now: OffsetDateTime, interval: Duration) -> (i64, OffsetDateTime) {
    let secs = i64::try_from(interval.as_secs().max(1)).unwrap_or(i64::MAX);
    let slot = now.unix_timestamp().div_euclid(secs) + 1;
    let at = OffsetDateTime::from_unix_timestamp(slot.saturating_mul(secs)).unwrap_or(now);
    (slot, at)
}

async fn schedule_next(queue: &JobQueue<ScanTask>, interval: Duration) -> Result<(), Error> {
    let (slot, at) = next_slot(OffsetDateTime::now_utc(), interval);
    queue
        .schedule(
            ScanTask {
                slot: Some(slot),
                attempt: 0,
            },
            at,
        )
        .await
}

/// Stores the scan at start and the next periodic one, and runs the scan worker until
/// `shutdown`.
pub async fn start_expiry_scan(
    queue: &JobQueue<ScanTask>,
    service: RenewalService,
    within: Duration,
    interval: Duration,
    shutdown: watch::Receiver<bool>,
) -> Result<JoinHandle<()>, Error> {
    queue
        .schedule(
            ScanTask {
                slot: None,
                attempt: 0,
            },
            OffsetDateTime::now_utc(),
        )
        .await?;
    schedule_next(queue, interval).await?;
    let next = queue.clone();
    Ok(queue.run(
        move |task: ScanTask| {
            let service = service.clone();
            let next = next.clone();
            async move {
                if task.slot.is_some() && task.attempt == 0 {
                    // First, so the chain goes on whatever this scan meets.
                    schedule_next(&next, interval)
                        .await
                        .map_err(JobError::new)?;
                }
                match service.report_expiring(within, OVERDUE_GRACE).await {
                    Ok(0) => Ok(()),
                    Ok(count) => {
                        tracing::info!(count, "expiry scan reported certificates");
                        Ok(())
                    }
                    Err(err) => Err(JobError::new(format!("expiry scan failed: {err}"))),
                }
            }
        },
        shutdown,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_slot_starts_at_the_following_boundary() {
        let now = OffsetDateTime::from_unix_timestamp(1_000_030).expect("time");
        let (slot, at) = next_slot(now, Duration::from_secs(60));
        assert_eq!(slot, 1_000_030 / 60 + 1);
        assert_eq!(at.unix_timestamp() % 60, 0);
        assert!(at > now && at - now <= time::Duration::seconds(60));
    }
}
