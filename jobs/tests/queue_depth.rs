//! The store's job queue depth query (`GET /metrics`' `scaivault_job_queue_depth`) against the
//! real apalis tables, on a fresh SQLite file and on a fresh PostgreSQL database: tasks of the
//! three queues, pending and done, are counted per queue and status.

use std::future::Future;
use std::time::{Duration, Instant};

use scaivault_domain::metrics::QueueDepth;
use scaivault_jobs::{Backoff, JobQueue, QueueOptions, RenewalTask, ScanTask, WebhookDelivery};
use time::OffsetDateTime;
use tokio::sync::watch;

const DEADLINE: Duration = Duration::from_secs(20);

async fn on_sqlite<F, Fut>(test: F)
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().expect("tempdir");
    test(format!("sqlite://{}/service.db", dir.path().display())).await;
}

async fn on_postgres<F, Fut>(test: F)
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = ()>,
{
    let database = scaivault_testkit::PgDatabase::create();
    test(database.url()).await;
}

macro_rules! on_both {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                on_sqlite($body).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                on_postgres($body).await;
            }
        }
    };
}

fn options() -> QueueOptions {
    QueueOptions {
        poll_interval: Duration::from_millis(50),
        backoff: Backoff {
            base: Duration::from_millis(500),
            max: Duration::from_secs(30),
        },
        max_attempts: None,
    }
}

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
    let store = scaivault_store::connect(&url).await.expect("store");
    assert_eq!(store.job_queue_depths().await.expect("empty"), []);

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
        let mut depths = store.job_queue_depths().await.expect("depths");
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
