//! The job queue depth query (`GET /metrics`' `scaivault_job_queue_depth`) against the
//! real apalis tables, on a fresh SQLite file and on a fresh PostgreSQL database: tasks of the
//! three queues, pending and done, are counted per queue and status.

#[macro_use]
mod common;

use std::time::{Duration, Instant};

use common::{DEADLINE, options};
use scaivault_jobs::QueueDepth;
use scaivault_jobs::{JobQueue, RenewalTask, ScanTask, WebhookDelivery};
use time::OffsetDateTime;
use tokio::sync::watch;

fn depth(queue: &str, status: &str, count: i64) -> QueueDepth {
    QueueDepth {
        queue: queue.into(),
        status: status.into(),
        count,
    }
}

on_both!(depth_per_queue_and_status, |url: String| async move {
    let renewals = JobQueue::<RenewalTask>::connect_with(&url, options())
        .await
        .expect("renewals");
    let scans = JobQueue::<ScanTask>::connect_with(&url, options())
        .await
        .expect("scans");
    let webhooks = JobQueue::<WebhookDelivery>::connect_with(&url, options())
        .await
        .expect("webhooks");
    let database = renewals.database().clone();
    assert_eq!(database.queue_depths().await.expect("empty"), []);

    let later = OffsetDateTime::now_utc() + Duration::from_secs(3600);
    for certificate_id in ["crt_a", "crt_b"] {
        renewals
            .schedule(
                RenewalTask {
                    certificate_id: certificate_id.into(),
                    version: 1,
                    check: 0,
                    attempt: 0,
                },
                later,
            )
            .await
            .expect("renewal");
    }
    webhooks
        .schedule(
            WebhookDelivery {
                delivery_id: "whd_1".into(),
                attempt: 0,
            },
            later,
        )
        .await
        .expect("delivery");
    scans
        .schedule(
            ScanTask {
                slot: Some(1),
                attempt: 0,
            },
            OffsetDateTime::now_utc(),
        )
        .await
        .expect("scan");

    // The scan is due now: a worker runs it to `Done`.
    let (stop, shutdown) = watch::channel(false);
    let worker = scans.run(|_: ScanTask| async { Ok(()) }, shutdown);
    let deadline = Instant::now() + DEADLINE;
    let depths = loop {
        let mut depths = database.queue_depths().await.expect("depths");
        // Sorted here: PostgreSQL's collation need not order bytewise.
        depths.sort_by(|a, b| (&a.queue, &a.status).cmp(&(&b.queue, &b.status)));
        if depths
            .iter()
            .any(|d| d.queue == "scans" && d.status == "Done")
        {
            break depths;
        }
        assert!(Instant::now() < deadline, "the scan ran: {depths:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    stop.send(true).expect("stop");
    worker.await.expect("worker");
    assert_eq!(
        depths,
        [
            depth("renewals", "Pending", 2),
            depth("scans", "Done", 1),
            depth("webhooks", "Pending", 1),
        ]
    );
});
