//! What every store test file shares: running a test once on a fresh SQLite file and once on a
//! fresh PostgreSQL database (127.0.0.1:5432, user postgres, dropped afterwards), so the two
//! backends are held to the same behaviour.

use std::future::Future;

use scaivault_domain::SharedStore;

/// Runs `test` on a fresh SQLite file (in a directory the store must create).
pub async fn on_sqlite<F, Fut>(test: F)
where
    F: FnOnce(SharedStore) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}/nested/store.db", dir.path().display());
    let store = scaivault_store::connect(&url).await.expect("open sqlite");
    assert_eq!(store.backend(), "sqlite");
    test(store).await;
}

/// Runs `test` on a fresh PostgreSQL database (the harness's, dropped afterwards).
pub async fn on_postgres<F, Fut>(test: F)
where
    F: FnOnce(SharedStore) -> Fut,
    Fut: Future<Output = ()>,
{
    let database = scaivault_testkit::PgDatabase::create();
    let store = scaivault_store::connect(&database.url())
        .await
        .expect("open postgres");
    assert_eq!(store.backend(), "postgres");
    test(store).await;
}

/// Declares `name` as a pair of tests, one per backend.
macro_rules! on_both {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;

            #[tokio::test]
            async fn sqlite() {
                common::on_sqlite($body).await;
            }

            #[tokio::test]
            async fn postgres() {
                common::on_postgres($body).await;
            }
        }
    };
}
