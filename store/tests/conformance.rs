//! The store conformance suite: every test runs once on SQLite and once on PostgreSQL
//! (127.0.0.1:5432, user postgres), each on a database of its own, so the two backends are held
//! to the same behaviour.

#[macro_use]
mod common;

use scaivault_domain::account::{AccountRecord, AccountStatus};
use scaivault_domain::certificate::{
    CertificateRecord, CertificateStatus, CertificateVersion, Issuance,
};
use scaivault_domain::dns_provider::{DnsChallengeRecord, DnsProviderRecord};
use scaivault_domain::event::{Event, EventKind, EventQuery};
use scaivault_domain::order::{
    ChallengeRecord, ChallengeType, OrderError, OrderProgress, OrderQuery, OrderRecord, OrderStatus,
};
use scaivault_domain::pki::KeyType;
use scaivault_domain::provider::{Environment, Provider};
use scaivault_domain::scope::Scope;
use scaivault_domain::secret::SecretRecord;
use scaivault_domain::store::{RenewalCandidate, SealedColumn, SealedRow};
use scaivault_domain::timestamp::now;
use scaivault_domain::timestamp::to_millis;
use scaivault_domain::webhook::{DeliveryAttempt, DeliveryRecord, DeliveryStatus, WebhookRecord};
use scaivault_domain::{Error, SharedStore, ids, token};

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
        key_thumbprint: None,
        key_rolled_at: None,
    }
}

on_both!(ping_works, |store: SharedStore| async move {
    store.ping().await.expect("ping");
});

on_both!(meta_set_once, |store: SharedStore| async move {
    assert!(store.set_meta_if_absent("k", "first").await.expect("set"));
    assert!(!store.set_meta_if_absent("k", "second").await.expect("set"));
    assert_eq!(
        store.get_meta("k").await.expect("get").as_deref(),
        Some("first")
    );
    assert_eq!(store.get_meta("missing").await.expect("get"), None);
});

on_both!(
    secrets_list_by_prefix_without_values,
    |store: SharedStore| async move {
        let base = now();
        // Created 1 ms apart, so newest first is the reverse of this list.
        let paths = [
            "infra/aws/key",
            "infra/aws_other/key",
            "infra/gcp/key",
            "dns/bind/tsig",
            "infraX",
        ];
        for (i, path) in paths.iter().enumerate() {
            let at = base + time::Duration::milliseconds(i as i64);
            store
                .put_secret(&SecretRecord {
                    path: (*path).into(),
                    sealed: vec![7; 8],
                    version: 1,
                    created_at: at,
                    updated_at: at,
                })
                .await
                .expect("put");
        }
        // Replacing one bumps its version and updated_at, not its place.
        let later = base + time::Duration::seconds(10);
        store
            .put_secret(&SecretRecord {
                path: "infra/aws/key".into(),
                sealed: vec![8],
                version: 1,
                created_at: later,
                updated_at: later,
            })
            .await
            .expect("replace");

        let listed = |prefix: &'static str, limit: u32, before: Option<(i64, String)>| {
            let store = store.clone();
            async move {
                store
                    .list_secrets(prefix, limit, before)
                    .await
                    .expect("list")
            }
        };
        let names = |list: &[scaivault_domain::secret::SecretInfo]| {
            list.iter().map(|s| s.path.clone()).collect::<Vec<_>>()
        };
        let all = listed("", 100, None).await;
        assert_eq!(
            names(&all),
            vec![
                "infraX",
                "dns/bind/tsig",
                "infra/gcp/key",
                "infra/aws_other/key",
                "infra/aws/key"
            ]
        );
        let replaced = all.last().expect("oldest");
        assert_eq!(replaced.version, 2);
        assert_eq!(replaced.created_at, base);
        assert_eq!(replaced.updated_at, later);

        // A prefix is matched byte for byte: `_` is no wildcard, case matters.
        assert_eq!(
            names(&listed("infra/", 100, None).await),
            vec!["infra/gcp/key", "infra/aws_other/key", "infra/aws/key"]
        );
        assert_eq!(
            names(&listed("infra/aws", 100, None).await),
            vec!["infra/aws_other/key", "infra/aws/key"]
        );
        assert_eq!(
            names(&listed("infra/aws_", 100, None).await),
            vec!["infra/aws_other/key"]
        );
        assert!(listed("INFRA/", 100, None).await.is_empty());
        assert!(listed("infra/aws/key/", 100, None).await.is_empty());

        // Pages: the cursor of a full page leads on, and prefix and cursor combine.
        let first = listed("infra", 2, None).await;
        assert_eq!(names(&first), vec!["infraX", "infra/gcp/key"]);
        let last = first.last().expect("row");
        let rest = listed(
            "infra",
            2,
            Some((to_millis(last.created_at), last.path.clone())),
        )
        .await;
        assert_eq!(names(&rest), vec!["infra/aws_other/key", "infra/aws/key"]);
        let last = rest.last().expect("row");
        assert!(
            listed(
                "infra",
                2,
                Some((to_millis(last.created_at), last.path.clone()))
            )
            .await
            .is_empty()
        );
    }
);

on_both!(tokens_round_trip, |store: SharedStore| async move {
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
    // Paged newest first: the cursor of the first page leads to the second, then nothing.
    let first = store.tokens_page(1, None).await.expect("page");
    assert_eq!(first.len(), 1);
    let cursor = (to_millis(first[0].created_at), first[0].id.clone());
    let rest = store.tokens_page(10, Some(cursor)).await.expect("page");
    assert_eq!(rest.len(), 1);
    assert_ne!(rest[0].id, first[0].id);
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

on_both!(
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

on_both!(
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
        let first = store.accounts_page(1, None).await.expect("page");
        let cursor = (to_millis(first[0].created_at), first[0].id.clone());
        let rest = store.accounts_page(10, Some(cursor)).await.expect("page");
        assert_eq!(first.len() + rest.len(), 2);
        assert_ne!(rest[0].id, first[0].id);
    }
);

on_both!(
    account_key_rollover_pending_then_promoted_or_dropped,
    |store: SharedStore| async move {
        let mut a = account("rolling");
        a.key_thumbprint = Some("thumb-1".into());
        store.insert_account(&a, b"key-1").await.expect("insert");
        let back = store.require_account(&a.id).await.expect("get");
        assert_eq!(back.key_thumbprint.as_deref(), Some("thumb-1"));
        assert_eq!(back.key_rolled_at, None);
        assert_eq!(
            store.pending_account_key(&a.id).await.expect("pending"),
            None
        );

        // A pending key sits beside the current one until the key change is resolved.
        assert!(
            store
                .set_pending_account_key(&a.id, b"key-2")
                .await
                .expect("pending")
        );
        assert_eq!(
            store
                .pending_account_key(&a.id)
                .await
                .expect("pending")
                .as_deref(),
            Some(&b"key-2"[..])
        );
        assert_eq!(
            store
                .account_credentials(&a.id)
                .await
                .expect("creds")
                .as_deref(),
            Some(&b"key-1"[..]),
            "the current key is untouched while the CA is asked"
        );
        assert!(
            !store
                .set_pending_account_key("acme_missing", b"x")
                .await
                .expect("pending")
        );

        // The CA took it: current and pending change together.
        let at = now();
        assert!(
            store
                .promote_account_key(&a.id, b"key-2", "thumb-2", at)
                .await
                .expect("promote")
        );
        assert_eq!(
            store
                .account_credentials(&a.id)
                .await
                .expect("creds")
                .as_deref(),
            Some(&b"key-2"[..])
        );
        assert_eq!(
            store.pending_account_key(&a.id).await.expect("pending"),
            None
        );
        let back = store.require_account(&a.id).await.expect("get");
        assert_eq!(back.key_thumbprint.as_deref(), Some("thumb-2"));
        assert_eq!(back.key_rolled_at, Some(at));
        assert!(
            !store
                .promote_account_key("acme_missing", b"x", "t", at)
                .await
                .expect("promote")
        );

        // The CA never took it: the pending key goes, the current one stays.
        store
            .set_pending_account_key(&a.id, b"key-3")
            .await
            .expect("pending");
        // A master-key rotation finds the pending key too (and only where there is one).
        let pending = store
            .sealed_values(SealedColumn::PendingAccountKeys, None, 10)
            .await
            .expect("sealed values");
        assert_eq!(pending.len(), 1);
        assert_eq!(
            pending[0].row,
            SealedRow::PendingAccountKey { id: a.id.clone() }
        );
        assert_eq!(pending[0].sealed, b"key-3");
        store.clear_pending_account_key(&a.id).await.expect("clear");
        assert_eq!(
            store.pending_account_key(&a.id).await.expect("pending"),
            None
        );
        assert_eq!(
            store
                .account_credentials(&a.id)
                .await
                .expect("creds")
                .as_deref(),
            Some(&b"key-2"[..])
        );

        // An older record learns its thumbprint once; a recorded one is not overwritten.
        let old = account("older");
        store.insert_account(&old, b"k").await.expect("insert");
        assert_eq!(
            store
                .require_account(&old.id)
                .await
                .expect("get")
                .key_thumbprint,
            None
        );
        store
            .fill_account_key_thumbprint(&old.id, "thumb-old")
            .await
            .expect("fill");
        store
            .fill_account_key_thumbprint(&old.id, "thumb-other")
            .await
            .expect("fill");
        assert_eq!(
            store
                .require_account(&old.id)
                .await
                .expect("get")
                .key_thumbprint
                .as_deref(),
            Some("thumb-old")
        );
    }
);

on_both!(account_email_changes, |store: SharedStore| async move {
    let a = account("contact");
    store.insert_account(&a, b"k").await.expect("insert");
    assert!(
        store
            .set_account_email(&a.id, "ops@acme.example")
            .await
            .expect("email")
    );
    assert_eq!(
        store.require_account(&a.id).await.expect("get").email,
        "ops@acme.example"
    );
    assert!(
        !store
            .set_account_email("acme_missing", "ops@acme.example")
            .await
            .expect("email")
    );
});

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

on_both!(
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

on_both!(
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
        // After an account key rollover the challenge answers with the new key's thumbprint.
        store
            .set_challenge_key_authorization(&live.id, "b.example.test", "tokB.rolled")
            .await
            .expect("key authorization");
        assert_eq!(
            store
                .tls_alpn01_key_authorization("b.example.test")
                .await
                .expect("lookup")
                .as_deref(),
            Some("tokB.rolled")
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
        // The one-query read of order and challenges gives exactly the two separate reads.
        let (joined_order, joined) = store
            .get_order_with_challenges(&live.id)
            .await
            .expect("joined")
            .expect("the order");
        let alone = store
            .get_order(&live.id)
            .await
            .expect("order")
            .expect("the order");
        assert_eq!(joined_order, alone);
        assert_eq!(joined, challenges);
        assert_eq!(joined.len(), 2);
        // An order without challenges (a caller whose order the CA had not answered yet), and
        // no order at all.
        let bare = order(&acct.id, "acme_order_bare", now());
        store.insert_order(&bare, &[]).await.expect("insert");
        let (joined_order, joined) = store
            .get_order_with_challenges(&bare.id)
            .await
            .expect("joined")
            .expect("the order");
        assert_eq!(joined_order.id, bare.id);
        assert!(joined.is_empty());
        assert!(
            store
                .get_order_with_challenges("acme_order_none")
                .await
                .expect("joined")
                .is_none()
        );

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

on_both!(
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
            revocation: None,
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

on_both!(
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
            zones: vec!["example.test".into(), "acme.example".into()],
            is_default: true,
            created_at: now(),
        };
        store.insert_dns_provider(&provider).await.expect("insert");
        // One default provider at most: a second is refused, naming the first.
        let second_default = store
            .insert_dns_provider(&DnsProviderRecord {
                id: "dnsp_3".into(),
                name: "other".into(),
                ..provider.clone()
            })
            .await;
        assert!(
            matches!(&second_default, Err(Error::Conflict(m)) if m.contains("dnsp_1")),
            "{second_default:?}"
        );
        store
            .insert_dns_provider(&DnsProviderRecord {
                id: "dnsp_3".into(),
                name: "other".into(),
                is_default: false,
                ..provider.clone()
            })
            .await
            .expect("a second provider that is not the default");
        assert!(store.delete_dns_provider("dnsp_3").await.expect("delete"));
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
        assert_eq!(back.zones, provider.zones);
        assert!(back.is_default);
        assert_eq!(store.list_dns_providers().await.expect("list").len(), 1);
        assert_eq!(
            store.dns_providers_page(5, None).await.expect("page")[0].id,
            provider.id
        );

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

on_both!(
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

on_both!(event_log_reads_forwards, |store: SharedStore| async move {
    let base = now();
    let mut events = Vec::new();
    for (i, kind) in ["certificate.issued", "order.invalid", "certificate.issued"]
        .iter()
        .enumerate()
    {
        let mut event = Event::new(
            kind.parse().expect("kind"),
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
            kind: Some(EventKind::CertificateIssued),
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

/// A revocation of `version` with a `certificate.revoked` event naming it.
fn revocation_of(
    certificate: &CertificateRecord,
    version: &CertificateVersion,
    reason: scaivault_domain::revocation::RevocationReason,
    via_acme: bool,
) -> scaivault_domain::revocation::Revocation {
    let event = Event::new(
        EventKind::CertificateRevoked,
        serde_json::json!({
            "certificate_id": certificate.id,
            "version": version.version,
            "reason": reason.as_str(),
            "via_acme": via_acme,
        }),
    );
    scaivault_domain::revocation::Revocation::new(certificate, version, reason, via_acme, event)
}

/// Issues `version` of certificate `cert_rev` from a new order with `serial`; returns the
/// certificate and version as written.
async fn issue_version(
    store: &SharedStore,
    account_id: &str,
    version: i64,
    serial: &str,
) -> (CertificateRecord, CertificateVersion) {
    let placed = order(account_id, &format!("acme_order_rev_{version}"), now());
    store.insert_order(&placed, &[]).await.expect("order");
    let at = now();
    let certificate = CertificateRecord {
        id: "cert_rev".into(),
        account_id: account_id.into(),
        domains: placed.domains.clone(),
        challenge_type: ChallengeType::Http01,
        key_type: KeyType::EcdsaP256,
        dns_provider_id: None,
        profile: None,
        auto_renew: true,
        own_csr: false,
        current_version: version,
        status: CertificateStatus::Valid,
        serial_number: serial.into(),
        not_after: at + time::Duration::days(90),
        renew_at: Some(at - time::Duration::days(1)),
        created_at: at,
        updated_at: at,
    };
    let issued = CertificateVersion {
        certificate_id: "cert_rev".into(),
        version,
        order_id: placed.id.clone(),
        serial_number: serial.into(),
        issuer: "CN=Pebble Intermediate".into(),
        sans: placed.domains.clone(),
        not_before: at,
        not_after: at + time::Duration::days(90),
        chain_pem: "-----BEGIN CERTIFICATE-----\n...".into(),
        has_private_key: false,
        status: CertificateStatus::Valid,
        revocation: None,
        created_at: at,
    };
    store
        .record_issuance(&Issuance {
            order_id: placed.id.clone(),
            certificate: certificate.clone(),
            version: issued.clone(),
            sealed_key: None,
        })
        .await
        .expect("issue");
    (certificate, issued)
}

on_both!(
    revocation_marks_version_order_and_certificate_once,
    |store: SharedStore| async move {
        use scaivault_domain::revocation::RevocationReason;

        let acct = account("revocation");
        store.insert_account(&acct, b"x").await.expect("account");
        let (_, first) = issue_version(&store, &acct.id, 1, "1A2B").await;
        let (certificate, current) = issue_version(&store, &acct.id, 2, "3C4D").await;
        let revoked_events = || async {
            store
                .list_events(&EventQuery {
                    kind: Some(EventKind::CertificateRevoked),
                    after: None,
                    limit: 10,
                })
                .await
                .expect("events")
        };

        let found = store
            .version_by_serial("1A2B")
            .await
            .expect("lookup")
            .expect("present");
        assert_eq!(
            (found.certificate_id.as_str(), found.version),
            ("cert_rev", 1)
        );
        assert_eq!(found.order_id, first.order_id);
        assert_eq!(found.revocation, None);
        assert!(
            store
                .version_by_serial("FFFF")
                .await
                .expect("lookup")
                .is_none()
        );

        // An older version: it and its order are revoked, the certificate stays valid.
        let old = revocation_of(&certificate, &first, RevocationReason::Superseded, false);
        assert!(
            !store.record_revocation(&old).await.expect("revoke"),
            "not current"
        );
        let found = store
            .version_by_serial("1A2B")
            .await
            .expect("lookup")
            .expect("present");
        assert_eq!(found.status, CertificateStatus::Revoked);
        assert_eq!(found.revocation.as_ref(), Some(&old.revocation));
        let order_after = store
            .get_order(&first.order_id)
            .await
            .expect("get")
            .expect("present");
        assert_eq!(order_after.status, OrderStatus::Revoked);
        let still = store
            .get_certificate("cert_rev")
            .await
            .expect("get")
            .expect("present");
        assert_eq!(still.status, CertificateStatus::Valid);
        assert_eq!(revoked_events().await, vec![old.event.clone()]);

        // Again: refused saying when, nothing written (the first mark stays, no second event).
        let again = revocation_of(&certificate, &first, RevocationReason::KeyCompromise, true);
        match store.record_revocation(&again).await {
            Err(Error::Conflict(message)) => {
                assert!(message.contains("already revoked at"), "{message}");
                assert!(message.contains("superseded"), "{message}");
            }
            other => panic!("expected a conflict, got {other:?}"),
        }
        let found = store
            .version_by_serial("1A2B")
            .await
            .expect("lookup")
            .expect("present");
        assert_eq!(found.revocation.as_ref(), Some(&old.revocation));
        assert_eq!(revoked_events().await.len(), 1);

        // One transaction: when the event cannot be written, the version is not marked either.
        let mut broken = revocation_of(
            &certificate,
            &current,
            RevocationReason::KeyCompromise,
            true,
        );
        broken.event.id = old.event.id.clone();
        assert!(store.record_revocation(&broken).await.is_err());
        let found = store
            .version_by_serial("3C4D")
            .await
            .expect("lookup")
            .expect("present");
        assert_eq!(found.status, CertificateStatus::Valid);
        assert_eq!(found.revocation, None);
        let order_after = store
            .get_order(&current.order_id)
            .await
            .expect("get")
            .expect("present");
        assert_eq!(order_after.status, OrderStatus::Valid);
        let still = store
            .get_certificate("cert_rev")
            .await
            .expect("get")
            .expect("present");
        assert_eq!(still.status, CertificateStatus::Valid);

        // The current version: the certificate is revoked too, and no longer reported as
        // expiring (renewal, too, looks only at valid certificates).
        let revocation = revocation_of(
            &certificate,
            &current,
            RevocationReason::KeyCompromise,
            true,
        );
        assert!(
            store.record_revocation(&revocation).await.expect("revoke"),
            "current"
        );
        let after = store
            .get_certificate("cert_rev")
            .await
            .expect("get")
            .expect("present");
        assert_eq!(after.status, CertificateStatus::Revoked);
        assert_eq!(after.current_version, 2);
        assert!(
            store
                .expiring_certificates(now() + time::Duration::days(365), now())
                .await
                .expect("expiring")
                .is_empty()
        );
        let versions = store
            .certificate_versions("cert_rev")
            .await
            .expect("versions");
        assert!(
            versions
                .iter()
                .all(|v| v.status == CertificateStatus::Revoked)
        );
        assert_eq!(
            versions[0].revocation.as_ref(),
            Some(&revocation.revocation)
        );
        assert!(versions[0].revocation.as_ref().expect("revoked").via_acme);
        assert_eq!(
            store
                .get_order(&current.order_id)
                .await
                .expect("get")
                .expect("present")
                .status,
            OrderStatus::Revoked
        );
        assert_eq!(
            revoked_events().await,
            vec![old.event.clone(), revocation.event.clone()]
        );

        // A version that does not exist.
        let ghost = CertificateVersion {
            version: 9,
            ..current.clone()
        };
        assert!(matches!(
            store
                .record_revocation(&revocation_of(
                    &certificate,
                    &ghost,
                    RevocationReason::Unspecified,
                    false
                ))
                .await,
            Err(Error::NotFound { .. })
        ));
    }
);

// ---- Webhooks -------------------------------------------------------------------------------

fn webhook(events: &[&str], created_at: time::OffsetDateTime) -> WebhookRecord {
    WebhookRecord {
        id: ids::new_id("whk"),
        url: "https://hooks.example.test/scaivault".into(),
        events: events.iter().map(|e| (*e).to_owned()).collect(),
        created_at,
    }
}

/// Every delivery of `webhook_id`, newest first.
async fn deliveries_of(store: &SharedStore, webhook_id: &str) -> Vec<DeliveryRecord> {
    store
        .list_webhook_deliveries(webhook_id, 100, None)
        .await
        .expect("deliveries")
}

on_both!(
    webhooks_round_trip_and_page,
    |store: SharedStore| async move {
        let base = now();
        let mut hooks = Vec::new();
        for i in 0..3i64 {
            let hook = webhook(
                &["certificate.issued", "order.invalid"],
                base + time::Duration::milliseconds(i),
            );
            store
                .insert_webhook(&hook, format!("sealed-{i}").as_bytes())
                .await
                .expect("insert");
            hooks.push(hook);
        }
        let back = store
            .get_webhook(&hooks[0].id)
            .await
            .expect("get")
            .expect("present");
        assert_eq!(back, hooks[0]);
        assert_eq!(
            store.webhook_secret(&hooks[1].id).await.expect("secret"),
            Some(b"sealed-1".to_vec())
        );
        let first = store.list_webhooks(2, None).await.expect("page 1");
        assert_eq!(
            first,
            vec![hooks[2].clone(), hooks[1].clone()],
            "newest first"
        );
        let last = &first[1];
        let second = store
            .list_webhooks(2, Some((to_millis(last.created_at), last.id.clone())))
            .await
            .expect("page 2");
        assert_eq!(second, vec![hooks[0].clone()]);
        assert!(store.delete_webhook(&hooks[0].id).await.expect("delete"));
        assert!(!store.delete_webhook(&hooks[0].id).await.expect("again"));
        assert!(
            store
                .get_webhook(&hooks[0].id)
                .await
                .expect("get")
                .is_none()
        );
        assert!(
            store
                .webhook_secret(&hooks[0].id)
                .await
                .expect("secret")
                .is_none()
        );
        assert_eq!(store.list_webhooks(10, None).await.expect("list").len(), 2);
    }
);

on_both!(
    events_fan_out_to_subscribed_webhooks_atomically,
    |store: SharedStore| async move {
        let base = now();
        let issued_only = webhook(&["certificate.issued"], base);
        let everything = webhook(&["*"], base + time::Duration::milliseconds(1));
        let invalid_only = webhook(&["order.invalid"], base + time::Duration::milliseconds(2));
        for hook in [&issued_only, &everything, &invalid_only] {
            store.insert_webhook(hook, b"s").await.expect("webhook");
        }
        let event = Event::new(
            EventKind::CertificateIssued,
            serde_json::json!({ "certificate_id": "cert_1", "domains": ["a.example.test"] }),
        );
        store.insert_event(&event).await.expect("event");

        let body = serde_json::to_string(&event).expect("json");
        for hook in [&issued_only, &everything] {
            let deliveries = deliveries_of(&store, &hook.id).await;
            assert_eq!(deliveries.len(), 1, "one delivery for {}", hook.id);
            let delivery = &deliveries[0];
            assert!(delivery.id.starts_with("whd_"));
            assert_eq!(delivery.webhook_id, hook.id);
            assert_eq!(delivery.event_id, event.id);
            assert_eq!(delivery.event_type, "certificate.issued");
            assert_eq!(delivery.status, DeliveryStatus::Pending);
            assert_eq!(delivery.attempts, 0);
            assert_eq!(delivery.payload, body, "the event exactly as JSON");
            assert_eq!(delivery.created_at, event.created_at);
            assert!(delivery.attempt_log.is_empty());
        }
        assert!(deliveries_of(&store, &invalid_only.id).await.is_empty());

        // A failed event insert writes no delivery either (one transaction).
        let mut duplicate = Event::new(EventKind::OrderInvalid, serde_json::json!({}));
        duplicate.id = event.id.clone();
        assert!(store.insert_event(&duplicate).await.is_err());
        assert!(deliveries_of(&store, &invalid_only.id).await.is_empty());
        assert_eq!(deliveries_of(&store, &everything.id).await.len(), 1);

        // The dispatcher's view: pending and not yet queued, oldest first.
        let unqueued = store.unqueued_deliveries(10).await.expect("unqueued");
        assert_eq!(unqueued.len(), 2);
        assert!(unqueued.iter().all(|d| d.event_id == event.id));
        store
            .mark_delivery_queued(&unqueued[0].id, now())
            .await
            .expect("mark");
        store
            .mark_delivery_queued(&unqueued[0].id, now())
            .await
            .expect("mark again is harmless");
        let left = store.unqueued_deliveries(10).await.expect("unqueued");
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].id, unqueued[1].id);
        assert_eq!(store.unqueued_deliveries(1).await.expect("limit").len(), 1);

        // Deleting a webhook takes its deliveries along.
        let gone = deliveries_of(&store, &everything.id).await[0].id.clone();
        assert!(store.delete_webhook(&everything.id).await.expect("delete"));
        assert!(
            store
                .get_webhook_delivery(&gone)
                .await
                .expect("get")
                .is_none()
        );
        assert!(
            store
                .unqueued_deliveries(10)
                .await
                .expect("unqueued")
                .iter()
                .all(|d| d.id != gone)
        );
    }
);

on_both!(
    a_redelivery_is_a_new_delivery_of_the_same_event,
    |store: SharedStore| async move {
        let hook = webhook(&["certificate.issued"], now());
        let other = webhook(&["certificate.issued"], now());
        for h in [&hook, &other] {
            store.insert_webhook(h, b"s").await.expect("webhook");
        }
        let event = Event::new(
            EventKind::CertificateIssued,
            serde_json::json!({ "certificate_id": "cert_1" }),
        );
        store.insert_event(&event).await.expect("event");
        let source = deliveries_of(&store, &hook.id).await.remove(0);
        store
            .mark_delivery_queued(&source.id, now())
            .await
            .expect("queued");
        let delivered = DeliveryAttempt {
            delivery_id: source.id.clone(),
            attempt: 1,
            at: now(),
            status_code: Some(200),
            error: None,
            duration_ms: 5,
        };
        store
            .record_delivery_attempt(&delivered, DeliveryStatus::Delivered)
            .await
            .expect("delivered");

        let at = now() + time::Duration::seconds(1);
        let id = scaivault_domain::webhook::new_delivery_id();
        let again = store
            .redeliver(&hook.id, &source.id, &id, at)
            .await
            .expect("redeliver")
            .expect("the webhook has that delivery");
        assert_eq!(again.id, id);
        assert_eq!(again.webhook_id, hook.id);
        assert_eq!(again.event_id, event.id);
        assert_eq!(again.event_type, "certificate.issued");
        assert_eq!(again.payload, source.payload, "the same bytes");
        assert_eq!(again.status, DeliveryStatus::Pending);
        assert_eq!(again.attempts, 0);
        assert_eq!(again.last_error, None);
        assert_eq!(again.last_status_code, None);
        assert_eq!(again.delivered_at, None);
        assert_eq!(again.created_at, at);
        assert_eq!(again.redelivery_of.as_deref(), Some(source.id.as_str()));
        assert!(again.attempt_log.is_empty());
        assert_eq!(source.redelivery_of, None, "the event's own delivery");
        assert_eq!(
            store
                .get_webhook_delivery(&id)
                .await
                .expect("get")
                .expect("stored"),
            again
        );

        // Queued by the dispatcher like an event's own delivery.
        let unqueued = store.unqueued_deliveries(10).await.expect("unqueued");
        assert!(unqueued.iter().any(|d| d.id == id), "{unqueued:?}");
        // Newest first, both listed; the source is untouched.
        let listed = deliveries_of(&store, &hook.id).await;
        assert_eq!(
            listed.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(),
            vec![id.as_str(), source.id.as_str()]
        );
        assert_eq!(listed[1].status, DeliveryStatus::Delivered);
        assert_eq!(listed[1].attempt_log, vec![delivered]);
        // A redelivery can be redelivered again.
        let third = store
            .redeliver(
                &hook.id,
                &id,
                &scaivault_domain::webhook::new_delivery_id(),
                at,
            )
            .await
            .expect("redeliver")
            .expect("present");
        assert_eq!(third.redelivery_of.as_deref(), Some(id.as_str()));
        assert_eq!(deliveries_of(&store, &hook.id).await.len(), 3);

        // Unknown delivery, or another webhook's: nothing written.
        for (webhook_id, delivery_id) in [
            (hook.id.as_str(), "whd_missing"),
            (other.id.as_str(), source.id.as_str()),
            ("whk_missing", source.id.as_str()),
        ] {
            assert!(
                store
                    .redeliver(
                        webhook_id,
                        delivery_id,
                        &scaivault_domain::webhook::new_delivery_id(),
                        at
                    )
                    .await
                    .expect("redeliver")
                    .is_none(),
                "{webhook_id} {delivery_id}"
            );
        }
        assert_eq!(deliveries_of(&store, &hook.id).await.len(), 3);
        assert_eq!(deliveries_of(&store, &other.id).await.len(), 1);

        // The event's fan-out still writes one delivery per webhook: a second event reaches
        // each webhook once, redeliveries of the first notwithstanding.
        let second = Event::new(
            EventKind::CertificateIssued,
            serde_json::json!({ "certificate_id": "cert_2" }),
        );
        store.insert_event(&second).await.expect("event");
        let listed = deliveries_of(&store, &hook.id).await;
        assert_eq!(listed.iter().filter(|d| d.event_id == second.id).count(), 1);

        // Deleting the webhook takes the redeliveries along.
        assert!(store.delete_webhook(&hook.id).await.expect("delete"));
        assert!(
            store
                .get_webhook_delivery(&id)
                .await
                .expect("get")
                .is_none()
        );
    }
);

on_both!(
    delivery_attempts_are_recorded,
    |store: SharedStore| async move {
        let hook = webhook(&["order.invalid"], now());
        store.insert_webhook(&hook, b"s").await.expect("webhook");
        let base = now();
        for i in 0..3i64 {
            let mut event = Event::new(EventKind::OrderInvalid, serde_json::json!({ "n": i }));
            event.created_at = base + time::Duration::milliseconds(i);
            store.insert_event(&event).await.expect("event");
        }
        let all = deliveries_of(&store, &hook.id).await;
        assert_eq!(all.len(), 3);
        assert!(all[0].created_at > all[1].created_at, "newest first");
        let page = store
            .list_webhook_deliveries(&hook.id, 2, None)
            .await
            .expect("page 1");
        assert_eq!(page.len(), 2);
        let cursor = (to_millis(page[1].created_at), page[1].id.clone());
        let rest = store
            .list_webhook_deliveries(&hook.id, 2, Some(cursor))
            .await
            .expect("page 2");
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0].id, all[2].id);

        let id = all[0].id.clone();
        let failed = DeliveryAttempt {
            delivery_id: id.clone(),
            attempt: 1,
            at: now(),
            status_code: Some(503),
            error: Some("HTTP 503 Service Unavailable".into()),
            duration_ms: 12,
        };
        assert!(
            store
                .record_delivery_attempt(&failed, DeliveryStatus::Pending)
                .await
                .expect("attempt 1")
        );
        let next = now() + time::Duration::seconds(30);
        store
            .set_delivery_next_attempt(&id, 1, Some(next))
            .await
            .expect("next");
        let after_one = store
            .get_webhook_delivery(&id)
            .await
            .expect("get")
            .expect("present");
        assert_eq!(after_one.status, DeliveryStatus::Pending);
        assert_eq!(after_one.attempts, 1);
        assert_eq!(after_one.last_status_code, Some(503));
        assert_eq!(
            after_one.last_error.as_deref(),
            Some("HTTP 503 Service Unavailable")
        );
        assert_eq!(after_one.next_attempt_at, Some(next));
        assert_eq!(after_one.attempt_log, vec![failed.clone()]);

        // The same attempt again (a re-run after a crash) replaces its row.
        let refused = DeliveryAttempt {
            status_code: None,
            error: Some("connection refused".into()),
            ..failed.clone()
        };
        store
            .record_delivery_attempt(&refused, DeliveryStatus::Pending)
            .await
            .expect("attempt 1 again");
        let delivered = DeliveryAttempt {
            delivery_id: id.clone(),
            attempt: 2,
            at: now(),
            status_code: Some(204),
            error: None,
            duration_ms: 3,
        };
        store
            .record_delivery_attempt(&delivered, DeliveryStatus::Delivered)
            .await
            .expect("attempt 2");
        let done = store
            .get_webhook_delivery(&id)
            .await
            .expect("get")
            .expect("present");
        assert_eq!(done.status, DeliveryStatus::Delivered);
        assert_eq!(done.attempts, 2);
        assert_eq!(done.delivered_at, Some(delivered.at));
        assert_eq!(done.next_attempt_at, None);
        assert_eq!(done.last_status_code, Some(204));
        assert_eq!(
            done.last_error.as_deref(),
            Some("connection refused"),
            "the last failure"
        );
        assert_eq!(done.attempt_log, vec![refused.clone(), delivered.clone()]);
        // The listing carries the attempts too.
        let listed = deliveries_of(&store, &hook.id).await;
        assert_eq!(listed[0].attempt_log, done.attempt_log);
        assert!(listed[1].attempt_log.is_empty());

        // A delivered delivery stays delivered; giving up applies only to pending ones.
        store
            .set_delivery_next_attempt(&id, 2, None)
            .await
            .expect("no-op");
        let late = DeliveryAttempt {
            attempt: 3,
            ..refused.clone()
        };
        store
            .record_delivery_attempt(&late, DeliveryStatus::Failed)
            .await
            .expect("late attempt");
        let still = store
            .get_webhook_delivery(&id)
            .await
            .expect("get")
            .expect("present");
        assert_eq!(still.status, DeliveryStatus::Delivered);

        // A late report for an earlier attempt does not override a later one; giving up a
        // pending one.
        let other = all[1].id.clone();
        for attempt in 1..=2 {
            let failure = DeliveryAttempt {
                delivery_id: other.clone(),
                attempt,
                ..failed.clone()
            };
            store
                .record_delivery_attempt(&failure, DeliveryStatus::Pending)
                .await
                .expect("failed attempt");
        }
        store
            .set_delivery_next_attempt(&other, 1, Some(next))
            .await
            .expect("stale");
        let pending = store
            .get_webhook_delivery(&other)
            .await
            .expect("get")
            .expect("present");
        assert_eq!(pending.next_attempt_at, None, "attempt 2 came after");
        store
            .set_delivery_next_attempt(&other, 2, Some(next))
            .await
            .expect("current");
        let pending = store
            .get_webhook_delivery(&other)
            .await
            .expect("get")
            .expect("present");
        assert_eq!(pending.next_attempt_at, Some(next));
        store
            .set_delivery_next_attempt(&other, 2, None)
            .await
            .expect("give up");
        let failed_one = store
            .get_webhook_delivery(&other)
            .await
            .expect("get")
            .expect("present");
        assert_eq!(failed_one.status, DeliveryStatus::Failed);
        assert!(
            store
                .unqueued_deliveries(10)
                .await
                .expect("unqueued")
                .iter()
                .all(|d| d.id != other),
            "a failed delivery is not queued again"
        );

        // Once the webhook is gone, attempts find nothing to record.
        assert!(store.delete_webhook(&hook.id).await.expect("delete"));
        let orphan = DeliveryAttempt {
            delivery_id: all[2].id.clone(),
            ..failed.clone()
        };
        assert!(
            !store
                .record_delivery_attempt(&orphan, DeliveryStatus::Pending)
                .await
                .expect("no delivery")
        );
    }
);

on_both!(
    revocation_event_fans_out_in_its_transaction,
    |store: SharedStore| async move {
        use scaivault_domain::revocation::RevocationReason;

        let hook = webhook(&["certificate.revoked"], now());
        store.insert_webhook(&hook, b"s").await.expect("webhook");
        let acct = account("revocation-webhooks");
        store.insert_account(&acct, b"x").await.expect("account");
        let (certificate, version) = issue_version(&store, &acct.id, 1, "5E6F").await;
        let revocation = revocation_of(
            &certificate,
            &version,
            RevocationReason::KeyCompromise,
            false,
        );
        store.record_revocation(&revocation).await.expect("revoke");
        let deliveries = deliveries_of(&store, &hook.id).await;
        assert_eq!(deliveries.len(), 1);
        assert_eq!(deliveries[0].event_id, revocation.event.id);
        assert_eq!(deliveries[0].event_type, "certificate.revoked");
        assert_eq!(
            deliveries[0].payload,
            serde_json::to_string(&revocation.event).expect("json")
        );
    }
);

on_both!(
    pending_authorizations_count_open_challenges_of_pending_orders,
    |store: SharedStore| async move {
        let acct = account("pending-authz");
        let other = account("pending-authz-other");
        store.insert_account(&acct, b"x").await.expect("account");
        store.insert_account(&other, b"x").await.expect("account");
        assert_eq!(
            store.pending_authorizations(&acct.id).await.expect("count"),
            0
        );
        let at = now();
        // Two pending orders of two names each; one name already validated.
        for (id, token) in [("acme_order_pa1", "pa1"), ("acme_order_pa2", "pa2")] {
            let names = ["a.example.test", "b.example.test"];
            let challenges: Vec<ChallengeRecord> = names
                .iter()
                .map(|n| challenge(id, n, ChallengeType::Http01, &format!("{token}{n}")))
                .collect();
            store
                .insert_order(&order(&acct.id, id, at), &challenges)
                .await
                .expect("order");
        }
        store
            .set_challenge_status("acme_order_pa1", "a.example.test", "valid", None)
            .await
            .expect("status");
        store
            .set_challenge_status("acme_order_pa2", "b.example.test", "processing", None)
            .await
            .expect("status");
        // Another account's pending order does not count.
        store
            .insert_order(
                &order(&other.id, "acme_order_pa3", at),
                &[challenge(
                    "acme_order_pa3",
                    "c.example.test",
                    ChallengeType::Http01,
                    "pa3",
                )],
            )
            .await
            .expect("order");
        assert_eq!(
            store.pending_authorizations(&acct.id).await.expect("count"),
            3
        );
        assert_eq!(
            store
                .pending_authorizations(&other.id)
                .await
                .expect("count"),
            1
        );
    }
);

on_both!(
    rate_ledger_counts_by_key_and_window,
    |store: SharedStore| async move {
        use scaivault_domain::rate_limit::{LedgerEntry, LedgerKey, LedgerKind};

        let scope = format!("https://ca.example/{}", ids::new_id("dir"));
        let key = |kind, subject: &str| LedgerKey {
            scope: scope.clone(),
            kind,
            subject: subject.to_owned(),
        };
        let base = time::OffsetDateTime::from_unix_timestamp(1_700_000_000).expect("time");
        let at = |secs: i64| base + time::Duration::seconds(secs);
        let entry = |k: LedgerKey, secs: i64| LedgerEntry {
            key: k,
            account_id: "acme_ledger".into(),
            at: at(secs),
        };
        store
            .insert_ledger_entries(&[
                entry(key(LedgerKind::Certificate, "example.com"), 30),
                entry(key(LedgerKind::Certificate, "example.com"), 10),
                entry(key(LedgerKind::Certificate, "example.org"), 20),
                entry(key(LedgerKind::Order, "acme_ledger"), 10),
            ])
            .await
            .expect("insert");
        store
            .insert_ledger_entries(&[])
            .await
            .expect("nothing to insert");
        // Oldest first, only this key, only after `after` (exclusive).
        let times = store
            .ledger_times(&key(LedgerKind::Certificate, "example.com"), at(0))
            .await
            .expect("times");
        assert_eq!(times, vec![at(10), at(30)]);
        let times = store
            .ledger_times(&key(LedgerKind::Certificate, "example.com"), at(10))
            .await
            .expect("times");
        assert_eq!(times, vec![at(30)]);
        assert_eq!(
            store
                .ledger_times(&key(LedgerKind::Order, "acme_ledger"), at(0))
                .await
                .expect("times"),
            vec![at(10)]
        );
        assert!(
            store
                .ledger_times(&key(LedgerKind::Duplicate, "example.com"), at(0))
                .await
                .expect("times")
                .is_empty()
        );
        // Another scope (another CA) counts apart.
        let other = LedgerKey {
            scope: format!("{scope}/other"),
            ..key(LedgerKind::Certificate, "example.com")
        };
        assert!(
            store
                .ledger_times(&other, at(0))
                .await
                .expect("times")
                .is_empty()
        );
        // Pruning removes the scope's entries at or before the time, nothing else.
        store
            .insert_ledger_entries(&[entry(other.clone(), 5)])
            .await
            .expect("insert other");
        assert_eq!(store.prune_ledger(&scope, at(10)).await.expect("prune"), 2);
        assert_eq!(
            store
                .ledger_times(&key(LedgerKind::Certificate, "example.com"), at(0))
                .await
                .expect("times"),
            vec![at(30)]
        );
        assert_eq!(
            store.ledger_times(&other, at(0)).await.expect("times"),
            vec![at(5)]
        );
    }
);

/// Issues version 1 of certificate `id` (with `serial`) as its own order; `renew_at: None` for a
/// certificate without a renewal time.
async fn issue_certificate(
    store: &SharedStore,
    account_id: &str,
    (id, serial): (&str, &str),
    auto_renew: bool,
    renew_at: Option<time::OffsetDateTime>,
) {
    let placed = order(account_id, &format!("acme_order_{id}"), now());
    store.insert_order(&placed, &[]).await.expect("order");
    let at = now();
    let certificate = CertificateRecord {
        id: id.into(),
        account_id: account_id.into(),
        domains: placed.domains.clone(),
        challenge_type: ChallengeType::Http01,
        key_type: KeyType::EcdsaP256,
        dns_provider_id: None,
        profile: None,
        auto_renew,
        own_csr: false,
        current_version: 1,
        status: CertificateStatus::Valid,
        serial_number: serial.into(),
        not_after: at + time::Duration::days(90),
        renew_at,
        created_at: at,
        updated_at: at,
    };
    let version = CertificateVersion {
        certificate_id: id.into(),
        version: 1,
        order_id: placed.id.clone(),
        serial_number: certificate.serial_number.clone(),
        issuer: "CN=Pebble Intermediate".into(),
        sans: placed.domains.clone(),
        not_before: at,
        not_after: certificate.not_after,
        chain_pem: "-----BEGIN CERTIFICATE-----\n...".into(),
        has_private_key: false,
        status: CertificateStatus::Valid,
        revocation: None,
        created_at: at,
    };
    store
        .record_issuance(&Issuance {
            order_id: placed.id,
            certificate,
            version,
            sealed_key: None,
        })
        .await
        .expect("issue");
}

on_both!(
    renewal_candidates_are_valid_auto_renewed_and_paged_by_id,
    |store: SharedStore| async move {
        let acct = account("candidates");
        store.insert_account(&acct, b"x").await.expect("account");
        let due = now() + time::Duration::days(60);
        issue_certificate(&store, &acct.id, ("crt_c", "C1"), true, Some(due)).await;
        issue_certificate(&store, &acct.id, ("crt_a", "A1"), true, Some(due)).await;
        issue_certificate(&store, &acct.id, ("crt_manual", "B1"), false, Some(due)).await;
        issue_certificate(&store, &acct.id, ("crt_unplanned", "D1"), true, None).await;
        let candidates = store.renewal_candidates("", 10).await.expect("candidates");
        assert_eq!(
            candidates,
            vec![
                RenewalCandidate {
                    certificate_id: "crt_a".into(),
                    version: 1,
                    renew_at: due,
                },
                RenewalCandidate {
                    certificate_id: "crt_c".into(),
                    version: 1,
                    renew_at: due,
                },
            ]
        );
        // Pages by id: after the first, at most one.
        let next = store
            .renewal_candidates("crt_a", 1)
            .await
            .expect("next page");
        assert_eq!(next, candidates[1..].to_vec());
        assert_eq!(
            store.renewal_candidates("crt_c", 10).await.expect("end"),
            []
        );
    }
);

on_both!(
    account_pauses_keep_their_first_refusal,
    |store: SharedStore| async move {
        use scaivault_domain::pause::AccountPause;

        let acct = account("paused");
        let other = account("not-paused");
        store.insert_account(&acct, b"a").await.expect("insert");
        store.insert_account(&other, b"b").await.expect("insert");
        let base = time::OffsetDateTime::from_unix_timestamp(1_800_000_000).expect("time");
        let at = |secs: i64| base + time::Duration::seconds(secs);
        let pause =
            |account_id: &str, identifier: &str, url: Option<&str>, secs: i64| AccountPause {
                account_id: account_id.into(),
                identifier: identifier.into(),
                unpause_url: url.map(str::to_owned),
                paused_at: at(secs),
                checked_at: at(secs),
            };
        assert!(
            store
                .account_pauses(&acct.id)
                .await
                .expect("none")
                .is_empty()
        );
        store
            .record_pauses(&[
                pause(
                    &acct.id,
                    "b.example.com",
                    Some("https://p/unpause?jwt=1"),
                    10,
                ),
                pause(&acct.id, "a.example.com", None, 10),
                pause(
                    &other.id,
                    "b.example.com",
                    Some("https://p/unpause?jwt=9"),
                    5,
                ),
            ])
            .await
            .expect("record");
        store.record_pauses(&[]).await.expect("nothing to record");
        // Refused again later: the first refusal's time stays, the link and check move on.
        store
            .record_pauses(&[pause(
                &acct.id,
                "b.example.com",
                Some("https://p/unpause?jwt=2"),
                70,
            )])
            .await
            .expect("record again");
        let pauses = store.account_pauses(&acct.id).await.expect("pauses");
        assert_eq!(
            pauses,
            vec![
                pause(&acct.id, "a.example.com", None, 10),
                AccountPause {
                    checked_at: at(70),
                    ..pause(
                        &acct.id,
                        "b.example.com",
                        Some("https://p/unpause?jwt=2"),
                        10
                    )
                },
            ]
        );
        // Clearing some identifiers, then all; another account's pauses stay.
        let some = vec!["b.example.com".to_owned(), "c.example.com".to_owned()];
        assert_eq!(
            store
                .clear_pauses(&acct.id, Some(&some))
                .await
                .expect("clear some"),
            1
        );
        assert_eq!(
            store.account_pauses(&acct.id).await.expect("pauses").len(),
            1
        );
        assert_eq!(
            store.clear_pauses(&acct.id, None).await.expect("clear all"),
            1
        );
        assert!(
            store
                .account_pauses(&acct.id)
                .await
                .expect("pauses")
                .is_empty()
        );
        assert_eq!(
            store.account_pauses(&other.id).await.expect("other"),
            vec![pause(
                &other.id,
                "b.example.com",
                Some("https://p/unpause?jwt=9"),
                5
            )]
        );
    }
);
