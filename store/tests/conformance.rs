//! The store conformance suite: every test runs once on SQLite and once on PostgreSQL
//! (127.0.0.1:5432, user postgres), each on a database of its own, so the two backends are held
//! to the same behaviour.

use std::future::Future;

use scaivault_domain::account::{AccountRecord, AccountStatus};
use scaivault_domain::provider::{Environment, Provider};
use scaivault_domain::scope::Scope;
use scaivault_domain::secret::SecretRecord;
use scaivault_domain::timestamp::now;
use scaivault_domain::{Error, SharedStore, ids, token};
use sqlx::Connection;

const PG_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// Runs `test` on a fresh SQLite file.
async fn on_sqlite<F, Fut>(test: F)
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

/// Runs `test` on a fresh PostgreSQL database, dropped afterwards.
async fn on_postgres<F, Fut>(test: F)
where
    F: FnOnce(SharedStore) -> Fut,
    Fut: Future<Output = ()>,
{
    let name = ids::new_id("sv_store_test");
    let mut admin = sqlx::PgConnection::connect(PG_ADMIN_URL)
        .await
        .expect("PostgreSQL must run on 127.0.0.1:5432 (scripts/test starts it)");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .expect("create database");
    let store = scaivault_store::connect(&format!("postgres://postgres@127.0.0.1:5432/{name}"))
        .await
        .expect("open postgres");
    assert_eq!(store.backend(), "postgres");
    test(store).await;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE {name} WITH (FORCE)"
    )))
    .execute(&mut admin)
    .await
    .expect("drop database");
}

/// Declares `name` as a pair of tests, one per backend.
macro_rules! conformance {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;

            #[tokio::test]
            async fn sqlite() {
                on_sqlite($body).await;
            }

            #[tokio::test]
            async fn postgres() {
                on_postgres($body).await;
            }
        }
    };
}

fn account(name: &str) -> AccountRecord {
    AccountRecord {
        id: ids::new_id("acme"),
        name: name.into(),
        provider: Provider::Custom,
        environment: Environment::Staging,
        directory_url: "https://127.0.0.1:14000/dir".into(),
        email: "certs@acme.example".into(),
        status: AccountStatus::Active,
        account_url: "https://127.0.0.1:14000/my-account/1".into(),
        eab_kid: Some("kid-1".into()),
        created_at: now(),
        deactivated_at: None,
    }
}

conformance!(ping_works, |store: SharedStore| async move {
    store.ping().await.expect("ping");
});

conformance!(meta_set_once, |store: SharedStore| async move {
    assert!(store.set_meta_if_absent("k", "first").await.expect("set"));
    assert!(!store.set_meta_if_absent("k", "second").await.expect("set"));
    assert_eq!(
        store.get_meta("k").await.expect("get").as_deref(),
        Some("first")
    );
    assert_eq!(store.get_meta("missing").await.expect("get"), None);
});

conformance!(tokens_round_trip, |store: SharedStore| async move {
    let expires = now() + time::Duration::days(1);
    let minted = token::mint(
        "ci",
        vec![Scope::PkiRead, Scope::Admin],
        now(),
        Some(expires),
    );
    store.insert_token(&minted.record).await.expect("insert");
    let back = store
        .get_token(&minted.record.id)
        .await
        .expect("get")
        .expect("present");
    assert_eq!(back, minted.record);
    let second = token::mint("other", vec![Scope::SecretsRead], now(), None);
    store.insert_token(&second.record).await.expect("insert");
    assert_eq!(store.list_tokens().await.expect("list").len(), 2);
    assert!(store.delete_token(&minted.record.id).await.expect("delete"));
    assert!(
        !store
            .delete_token(&minted.record.id)
            .await
            .expect("delete again")
    );
    assert!(
        store
            .get_token(&minted.record.id)
            .await
            .expect("get")
            .is_none()
    );
});

conformance!(
    secrets_version_and_delete,
    |store: SharedStore| async move {
        let first = SecretRecord {
            path: "infra/aws/key".into(),
            sealed: vec![1, 2, 3],
            version: 0,
            created_at: now(),
            updated_at: now(),
        };
        let stored = store.put_secret(&first).await.expect("put");
        assert_eq!(stored.version, 1);
        assert_eq!(stored.sealed, vec![1, 2, 3]);
        let later = SecretRecord {
            sealed: vec![9],
            updated_at: now() + time::Duration::seconds(5),
            ..first.clone()
        };
        let replaced = store.put_secret(&later).await.expect("put again");
        assert_eq!(replaced.version, 2);
        assert_eq!(replaced.created_at, stored.created_at);
        assert_eq!(replaced.updated_at, later.updated_at);
        let read = store
            .get_secret("infra/aws/key")
            .await
            .expect("get")
            .expect("present");
        assert_eq!(read.sealed, vec![9]);
        assert!(store.delete_secret("infra/aws/key").await.expect("delete"));
        assert!(
            !store
                .delete_secret("infra/aws/key")
                .await
                .expect("delete again")
        );
        assert!(
            store
                .get_secret("infra/aws/key")
                .await
                .expect("get")
                .is_none()
        );
    }
);

conformance!(
    accounts_round_trip_and_status,
    |store: SharedStore| async move {
        let a = account("first");
        store.insert_account(&a, b"sealed-a").await.expect("insert");
        let back = store
            .get_account(&a.id)
            .await
            .expect("get")
            .expect("present");
        assert_eq!(back.name, "first");
        assert_eq!(back.provider, Provider::Custom);
        assert_eq!(back.environment, Environment::Staging);
        assert_eq!(back.eab_kid.as_deref(), Some("kid-1"));
        assert_eq!(back.created_at, a.created_at);
        assert_eq!(
            store
                .account_credentials(&a.id)
                .await
                .expect("creds")
                .as_deref(),
            Some(&b"sealed-a"[..])
        );

        let duplicate = account("first");
        assert!(matches!(
            store.insert_account(&duplicate, b"x").await,
            Err(Error::Conflict(_))
        ));

        let at = now();
        assert!(
            store
                .set_account_status(&a.id, AccountStatus::Deactivated, at)
                .await
                .expect("status")
        );
        let back = store
            .get_account(&a.id)
            .await
            .expect("get")
            .expect("present");
        assert_eq!(back.status, AccountStatus::Deactivated);
        assert_eq!(back.deactivated_at, Some(at));
        assert!(
            !store
                .set_account_status("acme_missing", AccountStatus::Active, at)
                .await
                .expect("status")
        );

        store
            .insert_account(&account("second"), b"b")
            .await
            .expect("insert");
        let names: Vec<_> = store
            .list_accounts()
            .await
            .expect("list")
            .into_iter()
            .map(|a| a.name)
            .collect();
        assert_eq!(names.len(), 2);
        assert!(names.contains(&"second".to_string()));
    }
);
