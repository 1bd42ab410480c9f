//! The store conformance suite: every test runs once on SQLite and once on PostgreSQL
//! (127.0.0.1:5432, user postgres), each on a database of its own, so the two backends are held
//! to the same behaviour.

use std::future::Future;

use scaivault_domain::account::{AccountRecord, AccountStatus};
use scaivault_domain::certificate::{
    CertificateRecord, CertificateStatus, CertificateVersion, Issuance,
};
use scaivault_domain::dns_provider::{DnsChallengeRecord, DnsProviderRecord};
use scaivault_domain::event::{Event, EventQuery};
use scaivault_domain::order::{
    ChallengeRecord, ChallengeType, OrderError, OrderProgress, OrderQuery, OrderRecord, OrderStatus,
};
use scaivault_domain::pki::KeyType;
use scaivault_domain::provider::{Environment, Provider};
use scaivault_domain::scope::Scope;
use scaivault_domain::secret::SecretRecord;
use scaivault_domain::timestamp::now;
use scaivault_domain::timestamp::to_millis;
use scaivault_domain::{Error, SharedStore, ids, token};

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

/// Runs `test` on a fresh PostgreSQL database (the harness's, dropped afterwards).
async fn on_postgres<F, Fut>(test: F)
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

fn order(account_id: &str, id: &str, created_at: time::OffsetDateTime) -> OrderRecord {
    OrderRecord {
        id: id.into(),
        account_id: account_id.into(),
        certificate_id: None,
        domains: vec!["a.example.test".into(), "*.example.test".into()],
        challenge_type: ChallengeType::Http01,
        key_type: KeyType::EcdsaP384,
        csr_pem: None,
        profile: Some("shortlived".into()),
        auto_renew: true,
        dns_provider_id: None,
        status: OrderStatus::Pending,
        order_url: format!("https://ca.test/order/{id}"),
        error: None,
        ca_attempts: 1,
        not_after: None,
        created_at,
        updated_at: created_at,
    }
}

fn challenge(order_id: &str, domain: &str, kind: ChallengeType, token: &str) -> ChallengeRecord {
    ChallengeRecord {
        order_id: order_id.into(),
        domain: domain.into(),
        challenge_type: kind,
        status: "pending".into(),
        token: token.into(),
        key_authorization: format!("{token}.thumbprint"),
        authorization_url: format!("https://ca.test/authz/{token}"),
        challenge_url: format!("https://ca.test/chall/{token}"),
        error: None,
    }
}

conformance!(
    orders_round_trip_progress_and_pages,
    |store: SharedStore| async move {
        let acct = account("orders");
        store.insert_account(&acct, b"x").await.expect("account");
        let base = now();
        for i in 0..5 {
            let o = order(
                &acct.id,
                &format!("acme_order_{i}"),
                base + time::Duration::seconds(i),
            );
            store
                .insert_order(
                    &o,
                    &[challenge(
                        &o.id,
                        "a.example.test",
                        ChallengeType::Http01,
                        &format!("tok{i}"),
                    )],
                )
                .await
                .expect("insert order");
        }
        let back = store
            .get_order("acme_order_3")
            .await
            .expect("get")
            .expect("present");
        assert_eq!(back.domains, vec!["a.example.test", "*.example.test"]);
        assert_eq!(back.key_type, KeyType::EcdsaP384);
        assert_eq!(back.profile.as_deref(), Some("shortlived"));
        assert!(back.auto_renew);
        assert_eq!(back.status, OrderStatus::Pending);

        let page = store
            .list_orders(&OrderQuery {
                status: None,
                limit: 2,
                before: None,
            })
            .await
            .expect("page 1");
        assert_eq!(
            page.iter().map(|o| o.id.as_str()).collect::<Vec<_>>(),
            ["acme_order_4", "acme_order_3"]
        );
        let last = page.last().expect("row");
        let next = store
            .list_orders(&OrderQuery {
                status: None,
                limit: 2,
                before: Some((to_millis(last.created_at), last.id.clone())),
            })
            .await
            .expect("page 2");
        assert_eq!(
            next.iter().map(|o| o.id.as_str()).collect::<Vec<_>>(),
            ["acme_order_2", "acme_order_1"]
        );

        let failed = OrderError::new(
            "validation_failed",
            "a.example.test: http-01 challenge failed",
        );
        assert!(
            store
                .set_order_progress(
                    "acme_order_1",
                    &OrderProgress {
                        status: OrderStatus::Invalid,
                        error: Some(failed.clone()),
                        at: now()
                    },
                )
                .await
                .expect("progress")
        );
        let invalid = store
            .list_orders(&OrderQuery {
                status: Some(OrderStatus::Invalid),
                limit: 10,
                before: None,
            })
            .await
            .expect("filter");
        assert_eq!(invalid.len(), 1);
        assert_eq!(invalid[0].error.as_ref(), Some(&failed));
        let unfinished = store.unfinished_orders().await.expect("unfinished");
        assert_eq!(
            unfinished,
            [
                "acme_order_0",
                "acme_order_2",
                "acme_order_3",
                "acme_order_4"
            ]
        );

        assert_eq!(
            store
                .count_order_restart("acme_order_0")
                .await
                .expect("restart"),
            1
        );
        assert_eq!(
            store
                .count_order_restart("acme_order_0")
                .await
                .expect("restart"),
            2
        );
        store
            .set_order_key("acme_order_0", b"sealed")
            .await
            .expect("key");
        assert_eq!(
            store
                .order_key("acme_order_0")
                .await
                .expect("key")
                .as_deref(),
            Some(&b"sealed"[..])
        );
        assert_eq!(store.order_key("acme_order_2").await.expect("key"), None);
    }
);

conformance!(
    challenge_lookups_only_for_unfinished_orders,
    |store: SharedStore| async move {
        let acct = account("challenges");
        store.insert_account(&acct, b"x").await.expect("account");
        let live = order(&acct.id, "acme_order_live", now());
        store
            .insert_order(
                &live,
                &[
                    challenge(&live.id, "a.example.test", ChallengeType::Http01, "tokA"),
                    challenge(&live.id, "b.example.test", ChallengeType::TlsAlpn01, "tokB"),
                ],
            )
            .await
            .expect("insert");
        assert_eq!(
            store
                .http01_key_authorization("tokA")
                .await
                .expect("lookup")
                .as_deref(),
            Some("tokA.thumbprint")
        );
        assert_eq!(
            store
                .http01_key_authorization("tokB")
                .await
                .expect("lookup"),
            None,
            "type must match"
        );
        assert_eq!(
            store
                .tls_alpn01_key_authorization("b.example.test")
                .await
                .expect("lookup")
                .as_deref(),
            Some("tokB.thumbprint")
        );
        store
            .set_challenge_status(
                &live.id,
                "a.example.test",
                "invalid",
                Some("connection refused"),
            )
            .await
            .expect("status");
        let challenges = store.order_challenges(&live.id).await.expect("challenges");
        assert_eq!(challenges[0].status, "invalid");
        assert_eq!(challenges[0].error.as_deref(), Some("connection refused"));

        store
            .set_order_progress(
                &live.id,
                &OrderProgress {
                    status: OrderStatus::Valid,
                    error: None,
                    at: now(),
                },
            )
            .await
            .expect("progress");
        assert_eq!(
            store
                .http01_key_authorization("tokA")
                .await
                .expect("lookup"),
            None,
            "final orders answer nothing"
        );
        assert_eq!(
            store
                .tls_alpn01_key_authorization("b.example.test")
                .await
                .expect("lookup"),
            None
        );
    }
);

conformance!(
    issuance_is_atomic_and_versions_accumulate,
    |store: SharedStore| async move {
        let acct = account("certs");
        store.insert_account(&acct, b"x").await.expect("account");
        let first = order(&acct.id, "acme_order_first", now());
        store.insert_order(&first, &[]).await.expect("order");
        store
            .set_order_key(&first.id, b"order-key")
            .await
            .expect("key");
        let at = now();
        let cert = CertificateRecord {
            id: "cert_1".into(),
            account_id: acct.id.clone(),
            domains: first.domains.clone(),
            challenge_type: ChallengeType::Http01,
            key_type: KeyType::EcdsaP384,
            dns_provider_id: None,
            profile: None,
            auto_renew: true,
            own_csr: false,
            current_version: 1,
            status: CertificateStatus::Valid,
            serial_number: "1A2B".into(),
            not_after: at + time::Duration::days(90),
            renew_at: Some(at + time::Duration::days(60)),
            created_at: at,
            updated_at: at,
        };
        let version = CertificateVersion {
            certificate_id: "cert_1".into(),
            version: 1,
            order_id: first.id.clone(),
            serial_number: "1A2B".into(),
            issuer: "CN=Pebble Intermediate".into(),
            sans: first.domains.clone(),
            not_before: at,
            not_after: at + time::Duration::days(90),
            chain_pem: "-----BEGIN CERTIFICATE-----\n...".into(),
            has_private_key: true,
            status: CertificateStatus::Valid,
            created_at: at,
        };
        let issuance = Issuance {
            order_id: first.id.clone(),
            certificate: cert.clone(),
            version: version.clone(),
            sealed_key: Some(b"version-key".to_vec()),
        };
        store.record_issuance(&issuance).await.expect("issue");
        assert!(
            matches!(
                store.record_issuance(&issuance).await,
                Err(Error::Conflict(_))
            ),
            "an order issues once"
        );

        let order_after = store
            .get_order(&first.id)
            .await
            .expect("get")
            .expect("present");
        assert_eq!(order_after.status, OrderStatus::Valid);
        assert_eq!(order_after.certificate_id.as_deref(), Some("cert_1"));
        assert_eq!(order_after.not_after, Some(version.not_after));
        assert_eq!(
            store.order_key(&first.id).await.expect("key"),
            None,
            "the order's key copy is dropped"
        );

        // A renewal: the next version of the same certificate.
        let second = order(&acct.id, "acme_order_second", now());
        store.insert_order(&second, &[]).await.expect("order");
        let renewed = Issuance {
            order_id: second.id.clone(),
            certificate: CertificateRecord {
                current_version: 2,
                serial_number: "3C4D".into(),
                renew_at: Some(at + time::Duration::days(120)),
                ..cert.clone()
            },
            version: CertificateVersion {
                version: 2,
                order_id: second.id.clone(),
                serial_number: "3C4D".into(),
                ..version.clone()
            },
            sealed_key: None,
        };
        store.record_issuance(&renewed).await.expect("renew");
        let current = store
            .get_certificate("cert_1")
            .await
            .expect("get")
            .expect("present");
        assert_eq!(current.current_version, 2);
        assert_eq!(current.renew_at, Some(at + time::Duration::days(120)));
        assert_eq!(current.serial_number, "3C4D");
        assert_eq!(current.renew_at, Some(at + time::Duration::days(120)));
        assert_eq!(current.created_at, cert.created_at);
        let versions = store
            .certificate_versions("cert_1")
            .await
            .expect("versions");
        assert_eq!(
            versions.iter().map(|v| v.version).collect::<Vec<_>>(),
            [2, 1]
        );
        assert!(!versions[0].has_private_key);
        assert!(versions[1].has_private_key);
        assert_eq!(
            store
                .version_key("cert_1", 1)
                .await
                .expect("key")
                .as_deref(),
            Some(&b"version-key"[..])
        );
        assert_eq!(store.version_key("cert_1", 2).await.expect("key"), None);
        let listed = store.list_certificates(10, None).await.expect("list");
        assert_eq!(listed.len(), 1);
    }
);

conformance!(
    dns_providers_and_cleanup_queue,
    |store: SharedStore| async move {
        let acct = account("dns");
        store.insert_account(&acct, b"x").await.expect("account");
        let provider = DnsProviderRecord {
            id: "dnsp_1".into(),
            name: "bind".into(),
            kind: "rfc2136".into(),
            config: [("nameserver".to_string(), "127.0.0.53:53".to_string())]
                .into_iter()
                .collect(),
            created_at: now(),
        };
        store.insert_dns_provider(&provider).await.expect("insert");
        assert!(matches!(
            store
                .insert_dns_provider(&DnsProviderRecord {
                    id: "dnsp_2".into(),
                    ..provider.clone()
                })
                .await,
            Err(Error::Conflict(_))
        ));
        let back = store
            .get_dns_provider("dnsp_1")
            .await
            .expect("get")
            .expect("present");
        assert_eq!(back.config, provider.config);
        assert_eq!(store.list_dns_providers().await.expect("list").len(), 1);

        let mut in_flight = order(&acct.id, "acme_order_dns", now());
        in_flight.challenge_type = ChallengeType::Dns01;
        in_flight.dns_provider_id = Some("dnsp_1".into());
        store.insert_order(&in_flight, &[]).await.expect("order");
        assert!(
            matches!(
                store.delete_dns_provider("dnsp_1").await,
                Err(Error::Conflict(_))
            ),
            "in use"
        );

        let record = DnsChallengeRecord {
            order_id: in_flight.id.clone(),
            domain: "*.example.test".into(),
            provider_id: "dnsp_1".into(),
            fqdn: "_acme-challenge.example.test".into(),
            value: "v1".into(),
            state: "present".into(),
            attempts: 0,
            last_error: None,
        };
        store.upsert_dns_record(&record).await.expect("upsert");
        store
            .upsert_dns_record(&record)
            .await
            .expect("upsert is idempotent");
        assert!(
            store
                .due_dns_cleanups(now(), 10)
                .await
                .expect("due")
                .is_empty(),
            "not while the order runs"
        );

        store
            .set_order_progress(
                &in_flight.id,
                &OrderProgress {
                    status: OrderStatus::Invalid,
                    error: None,
                    at: now(),
                },
            )
            .await
            .expect("final");
        let due = store.due_dns_cleanups(now(), 10).await.expect("due");
        assert_eq!(due, vec![record.clone()]);
        let later = now() + time::Duration::minutes(5);
        store
            .set_dns_record_state(
                &in_flight.id,
                "*.example.test",
                "remove_failed",
                Some("SERVFAIL"),
                later,
            )
            .await
            .expect("failed");
        assert!(
            store
                .due_dns_cleanups(now(), 10)
                .await
                .expect("due")
                .is_empty(),
            "backing off"
        );
        let retried = store.due_dns_cleanups(later, 10).await.expect("due");
        assert_eq!(retried[0].attempts, 1);
        assert_eq!(retried[0].last_error.as_deref(), Some("SERVFAIL"));
        store
            .set_dns_record_state(&in_flight.id, "*.example.test", "removed", None, later)
            .await
            .expect("removed");
        assert!(
            store
                .due_dns_cleanups(later, 10)
                .await
                .expect("due")
                .is_empty()
        );
        assert_eq!(
            store
                .order_dns_records(&in_flight.id)
                .await
                .expect("records")[0]
                .state,
            "removed"
        );

        assert!(
            store.delete_dns_provider("dnsp_1").await.expect("delete"),
            "free once the order is final"
        );
        assert!(
            !store
                .delete_dns_provider("dnsp_1")
                .await
                .expect("delete again")
        );
    }
);

conformance!(
    one_renewal_in_flight_per_certificate,
    |store: SharedStore| async move {
        let acct = account("renewals");
        store.insert_account(&acct, b"x").await.expect("account");
        let mut first = order(&acct.id, "acme_order_renew_1", now());
        first.certificate_id = Some("cert_r".into());
        store
            .insert_order(&first, &[])
            .await
            .expect("first renewal");
        assert_eq!(
            store
                .renewal_in_flight("cert_r")
                .await
                .expect("lookup")
                .map(|o| o.id),
            Some(first.id.clone())
        );
        let mut second = order(&acct.id, "acme_order_renew_2", now());
        second.certificate_id = Some("cert_r".into());
        assert!(
            matches!(
                store.insert_order(&second, &[]).await,
                Err(Error::Conflict(_))
            ),
            "a second renewal in flight is refused by the store"
        );
        store
            .set_order_progress(
                &first.id,
                &OrderProgress {
                    status: OrderStatus::Invalid,
                    error: None,
                    at: now(),
                },
            )
            .await
            .expect("final");
        assert!(
            store
                .renewal_in_flight("cert_r")
                .await
                .expect("lookup")
                .is_none()
        );
        store
            .insert_order(&second, &[])
            .await
            .expect("a new renewal once the first is final");
        let mut initial = order(&acct.id, "acme_order_initial", now());
        initial.certificate_id = None;
        store
            .insert_order(&initial, &[])
            .await
            .expect("orders without a certificate are unconstrained");
    }
);

conformance!(event_log_reads_forwards, |store: SharedStore| async move {
    let base = now();
    let mut events = Vec::new();
    for (i, kind) in ["certificate.issued", "order.invalid", "certificate.issued"]
        .iter()
        .enumerate()
    {
        let mut event = Event::new(
            kind,
            serde_json::json!({ "n": i, "domains": ["a.example.test"] }),
        );
        event.created_at = base + time::Duration::milliseconds(i64::try_from(i).expect("small"));
        store.insert_event(&event).await.expect("insert");
        events.push(event);
    }
    let all = store
        .list_events(&EventQuery {
            kind: None,
            after: None,
            limit: 10,
        })
        .await
        .expect("list");
    assert_eq!(all, events, "oldest first, data intact");
    let issued = store
        .list_events(&EventQuery {
            kind: Some("certificate.issued".into()),
            after: None,
            limit: 10,
        })
        .await
        .expect("filter");
    assert_eq!(issued.len(), 2);
    let first = &all[0];
    let rest = store
        .list_events(&EventQuery {
            kind: None,
            after: Some((to_millis(first.created_at), first.id.clone())),
            limit: 1,
        })
        .await
        .expect("page");
    assert_eq!(rest, vec![events[1].clone()]);
});
