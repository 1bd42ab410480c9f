//! What the job queue tests share: each test runs once on a fresh SQLite file and once on a
//! fresh PostgreSQL database (127.0.0.1:5432, user postgres, dropped afterwards), with short
//! polling and backoff so the tests take seconds.

use std::future::Future;
use std::time::Duration;

use scaivault_jobs::{Backoff, QueueOptions};

/// How long any awaited state may take before the test fails.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// Shows the queue's logs on failure (`RUST_LOG` picks the level; warnings by default).
pub fn logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .try_init();
}

/// Runs `test` with the URL of a fresh SQLite file.
pub async fn on_sqlite<F, Fut>(test: F)
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = ()>,
{
    logs();
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}/nested/service.db", dir.path().display());
    test(url).await;
}

/// Runs `test` with the URL of a fresh PostgreSQL database (the harness's, dropped afterwards).
pub async fn on_postgres<F, Fut>(test: F)
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = ()>,
{
    logs();
    let database = scaivault_testkit::PgDatabase::create();
    test(database.url()).await;
}

/// Declares `name` as a pair of tests, one per backend.
macro_rules! on_both {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                common::on_sqlite($body).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                common::on_postgres($body).await;
            }
        }
    };
}

/// Short polling and backoff, so the tests take seconds.
pub fn options() -> QueueOptions {
    QueueOptions {
        poll_interval: Duration::from_millis(50),
        backoff: Backoff {
            base: Duration::from_millis(500),
            max: Duration::from_secs(30),
        },
        max_attempts: None,
    }
}
