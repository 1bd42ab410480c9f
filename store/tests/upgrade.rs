//! Upgrading a database that has data: migration 0015 (redeliveries) rebuilds
//! `webhook_deliveries` on SQLite, which cannot drop a UNIQUE constraint in place. On both
//! backends a database migrated up to 0014 is filled with a webhook, an event, its delivery and
//! an attempt, then opened by the store (which applies the rest): everything is still there, and
//! redeliveries and the event fan-out work on it.

use std::path::Path;
use std::str::FromStr;

use scaivault_domain::event::{Event, EventKind};
use scaivault_domain::timestamp::{from_millis, now};
use scaivault_domain::webhook::{DeliveryStatus, new_delivery_id};
use sqlx::migrate::Migrator;

/// The store's migrations table (`scaivault_store::MIGRATIONS_TABLE`, private to the crate).
const MIGRATIONS_TABLE: &str = "scaivault_migrations";
/// The last migration before redeliveries.
const BEFORE: i64 = 14;

/// `dir`'s migrations up to [`BEFORE`], recorded where the store records them.
async fn migrator_before(dir: &str) -> Migrator {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../migrations")
        .join(dir);
    let mut migrator = Migrator::new(path).await.expect("migrations");
    migrator.migrations = migrator
        .migrations
        .iter()
        .filter(|m| m.version <= BEFORE)
        .cloned()
        .collect::<Vec<_>>()
        .into();
    migrator.dangerous_set_table_name(MIGRATIONS_TABLE);
    migrator
}

/// The webhook written before the upgrade; `$1` is its sealed secret.
const SEED_WEBHOOK: &str = "INSERT INTO webhooks (id, url, events, sealed_secret, created_at) \
     VALUES ('whk_old', 'https://hooks.example.test/', '[\"*\"]', $1, 1000)";
/// The rest, in 0014's schema.
const SEED: &[&str] = &[
    "INSERT INTO events (id, kind, created_at, data) \
     VALUES ('evt_old', 'certificate.issued', 1000, '{}')",
    "INSERT INTO webhook_deliveries (id, webhook_id, event_id, event_type, payload, status, \
     attempts, last_status_code, delivered_at, queued_at, created_at) \
     VALUES ('whd_old', 'whk_old', 'evt_old', 'certificate.issued', '{\"id\":\"evt_old\"}', \
     'delivered', 1, 200, 1002, 1001, 1000)",
    "INSERT INTO webhook_delivery_attempts (delivery_id, attempt, at, status_code, error, \
     duration_ms) VALUES ('whd_old', 1, 1002, 200, NULL, 7)",
];

async fn seed_sqlite(url: &str) {
    let options = sqlx::sqlite::SqliteConnectOptions::from_str(url)
        .expect("url")
        .create_if_missing(true)
        .foreign_keys(true);
    let pool = sqlx::SqlitePool::connect_with(options).await.expect("open");
    migrator_before("sqlite")
        .await
        .run(&pool)
        .await
        .expect("migrate to 0014");
    sqlx::query(SEED_WEBHOOK)
        .bind(&b"sealed"[..])
        .execute(&pool)
        .await
        .expect("seed");
    for statement in SEED {
        sqlx::query(*statement).execute(&pool).await.expect("seed");
    }
    pool.close().await;
}

async fn seed_postgres(url: &str) {
    let pool = sqlx::PgPool::connect(url).await.expect("open");
    migrator_before("postgres")
        .await
        .run(&pool)
        .await
        .expect("migrate to 0014");
    sqlx::query(SEED_WEBHOOK)
        .bind(&b"sealed"[..])
        .execute(&pool)
        .await
        .expect("seed");
    for statement in SEED {
        sqlx::query(*statement).execute(&pool).await.expect("seed");
    }
    pool.close().await;
}

/// What the upgraded store must show and do.
async fn check_upgraded(store: scaivault_domain::SharedStore) {
    let old = store
        .get_webhook_delivery("whd_old")
        .await
        .expect("get")
        .expect("kept");
    assert_eq!(old.webhook_id, "whk_old");
    assert_eq!(old.event_id, "evt_old");
    assert_eq!(old.status, DeliveryStatus::Delivered);
    assert_eq!(old.attempts, 1);
    assert_eq!(old.last_status_code, Some(200));
    assert_eq!(old.delivered_at, Some(from_millis(1002)));
    assert_eq!(old.created_at, from_millis(1000));
    assert_eq!(old.payload, r#"{"id":"evt_old"}"#);
    assert_eq!(old.redelivery_of, None);
    assert_eq!(old.attempt_log.len(), 1, "the attempts are kept");
    assert_eq!(old.attempt_log[0].duration_ms, 7);
    assert!(
        store
            .unqueued_deliveries(10)
            .await
            .expect("unqueued")
            .is_empty(),
        "queued_at is kept"
    );

    let again = store
        .redeliver("whk_old", "whd_old", &new_delivery_id(), now())
        .await
        .expect("redeliver")
        .expect("present");
    assert_eq!(again.redelivery_of.as_deref(), Some("whd_old"));
    let event = Event::new(EventKind::OrderInvalid, serde_json::json!({}));
    store.insert_event(&event).await.expect("fan-out");
    let listed = store
        .list_webhook_deliveries("whk_old", 10, None)
        .await
        .expect("list");
    assert_eq!(listed.len(), 3, "{listed:?}");
    assert!(listed.iter().any(|d| d.event_id == event.id));
    // The attempts still belong to their delivery: deleting the webhook takes them along.
    assert!(store.delete_webhook("whk_old").await.expect("delete"));
    assert!(
        store
            .get_webhook_delivery("whd_old")
            .await
            .expect("get")
            .is_none()
    );
}

#[tokio::test]
async fn redeliveries_migration_keeps_deliveries_and_attempts_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}/store.db", dir.path().display());
    seed_sqlite(&url).await;
    let store = scaivault_store::connect(&url).await.expect("upgrade");
    check_upgraded(store).await;
}

#[tokio::test]
async fn redeliveries_migration_keeps_deliveries_and_attempts_postgres() {
    let database = scaivault_testkit::PgDatabase::create();
    seed_postgres(&database.url()).await;
    let store = scaivault_store::connect(&database.url())
        .await
        .expect("upgrade");
    check_upgraded(store).await;
}
