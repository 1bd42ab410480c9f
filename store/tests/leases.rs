//! Order leases (several instances on one database), held to the same behaviour on SQLite and
//! PostgreSQL: one atomic acquire decides between instances, renewal reports lost leases, an
//! expired lease can be taken over, and release hands leases back.

#[macro_use]
mod common;

use std::time::Duration;

use scaivault_domain::account::{AccountRecord, AccountStatus};
use scaivault_domain::order::{ChallengeType, OrderProgress, OrderRecord, OrderStatus};
use scaivault_domain::pki::KeyType;
use scaivault_domain::provider::{Environment, Provider};
use scaivault_domain::timestamp::{now, to_millis};
use scaivault_domain::{SharedStore, ids};

/// An account and `count` pending orders, oldest first.
async fn orders(store: &SharedStore, count: usize) -> Vec<String> {
    let account = AccountRecord {
        id: ids::new_id("acme"),
        name: ids::new_id("leases"),
        provider: Provider::Custom,
        environment: Environment::Staging,
        directory_url: "https://127.0.0.1:14000/dir".into(),
        email: "certs@acme.example".into(),
        status: AccountStatus::Active,
        account_url: "https://127.0.0.1:14000/my-account/1".into(),
        eab_kid: None,
        created_at: now(),
        deactivated_at: None,
        key_thumbprint: None,
        key_rolled_at: None,
    };
    store
        .insert_account(&account, b"sealed")
        .await
        .expect("account");
    let mut ids_out = Vec::new();
    for i in 0..count {
        let id = ids::new_id("acme_order");
        let at = now() + time::Duration::milliseconds(i as i64);
        let order = OrderRecord {
            id: id.clone(),
            account_id: account.id.clone(),
            certificate_id: None,
            domains: vec![format!("h{i}.example.test")],
            challenge_type: ChallengeType::Http01,
            key_type: KeyType::EcdsaP256,
            csr_pem: None,
            profile: None,
            auto_renew: true,
            dns_provider_id: None,
            status: OrderStatus::Pending,
            order_url: format!("https://ca.test/order/{id}"),
            error: None,
            ca_attempts: 1,
            not_after: None,
            created_at: at,
            updated_at: at,
        };
        store.insert_order(&order, &[]).await.expect("order");
        ids_out.push(id);
    }
    ids_out
}

fn later(secs: i64) -> time::OffsetDateTime {
    now() + time::Duration::seconds(secs)
}

/// Ends the order (invalid): a final order, never claimable.
async fn end_order(store: &SharedStore, id: &str) {
    store
        .set_order_progress(
            id,
            &OrderProgress {
                status: OrderStatus::Invalid,
                error: None,
                at: now(),
            },
        )
        .await
        .expect("progress");
}

/// Whether the order has a lease row (expired or not).
async fn has_lease(store: &SharedStore, id: &str) -> bool {
    store.get_order_lease(id).await.expect("lease").is_some()
}

on_both!(
    one_instance_wins_and_renews,
    |store: SharedStore| async move {
        let ids = orders(&store, 2).await;
        let (a, b) = ("inst_a", "inst_b");
        assert!(
            store
                .acquire_order_lease(&ids[0], a, now(), later(30))
                .await
                .expect("acquire")
        );
        // B cannot take a live lease; A can extend its own.
        assert!(
            !store
                .acquire_order_lease(&ids[0], b, now(), later(30))
                .await
                .expect("acquire")
        );
        let first = store
            .get_order_lease(&ids[0])
            .await
            .expect("lease")
            .expect("some");
        assert_eq!(first.owner, a);
        assert!(
            store
                .acquire_order_lease(&ids[0], a, now(), later(60))
                .await
                .expect("re-acquire")
        );
        let again = store
            .get_order_lease(&ids[0])
            .await
            .expect("lease")
            .expect("some");
        assert_eq!(
            again.acquired_at, first.acquired_at,
            "kept by the same owner"
        );
        assert!(again.expires_at > first.expires_at);
        // Only the order without a lease is claimable.
        assert_eq!(
            store.claimable_orders(now(), 10).await.expect("claimable"),
            vec![ids[1].clone()]
        );
        assert!(
            store
                .acquire_order_lease(&ids[1], b, now(), later(30))
                .await
                .expect("acquire")
        );
        assert!(
            store
                .claimable_orders(now(), 10)
                .await
                .expect("claimable")
                .is_empty()
        );
        let until = later(90);
        let mut renewed = store.renew_order_leases(a, until).await.expect("renew");
        renewed.sort();
        assert_eq!(renewed, vec![ids[0].clone()]);
        let lease = store
            .get_order_lease(&ids[0])
            .await
            .expect("lease")
            .expect("some");
        assert_eq!(to_millis(lease.expires_at), to_millis(until));
    }
);

on_both!(
    expired_leases_are_taken_over,
    |store: SharedStore| async move {
        let ids = orders(&store, 1).await;
        let id = &ids[0];
        let past = now() - time::Duration::seconds(1);
        assert!(
            store
                .acquire_order_lease(id, "inst_a", past - time::Duration::seconds(5), past)
                .await
                .expect("acquire")
        );
        assert_eq!(
            store.claimable_orders(now(), 10).await.expect("claimable"),
            vec![id.clone()],
            "an expired lease is claimable"
        );
        assert!(
            store
                .acquire_order_lease(id, "inst_b", now(), later(30))
                .await
                .expect("take over")
        );
        let lease = store
            .get_order_lease(id)
            .await
            .expect("lease")
            .expect("some");
        assert_eq!(lease.owner, "inst_b");
        // A's renewal no longer includes it, and A cannot release B's lease.
        assert!(
            store
                .renew_order_leases("inst_a", later(30))
                .await
                .expect("renew")
                .is_empty()
        );
        assert!(
            !store
                .release_order_lease(id, "inst_a")
                .await
                .expect("release")
        );
        assert!(
            store
                .release_order_lease(id, "inst_b")
                .await
                .expect("release")
        );
        assert!(store.get_order_lease(id).await.expect("lease").is_none());
    }
);

on_both!(
    release_all_and_final_orders,
    |store: SharedStore| async move {
        let ids = orders(&store, 3).await;
        for id in &ids {
            assert!(
                store
                    .acquire_order_lease(id, "inst_a", now(), later(30))
                    .await
                    .expect("acquire")
            );
        }
        // A dead process's leases are cleared at a single-instance start.
        assert_eq!(
            store
                .clear_foreign_order_leases("inst_b")
                .await
                .expect("clear"),
            3
        );
        for id in &ids {
            assert!(
                store
                    .acquire_order_lease(id, "inst_a", now(), later(30))
                    .await
                    .expect("acquire")
            );
        }
        assert_eq!(
            store
                .clear_foreign_order_leases("inst_a")
                .await
                .expect("clear"),
            0
        );
        assert_eq!(
            store
                .release_order_leases("inst_a")
                .await
                .expect("release all"),
            3
        );
        assert_eq!(
            store.claimable_orders(now(), 2).await.expect("claimable"),
            ids[..2].to_vec(),
            "oldest first, limited"
        );
        // Final orders are never claimable.
        end_order(&store, &ids[0]).await;
        assert_eq!(
            store.claimable_orders(now(), 10).await.expect("claimable"),
            ids[1..].to_vec()
        );
    }
);

on_both!(racing_acquirers_one_wins, |store: SharedStore| async move {
    let ids = orders(&store, 1).await;
    let id = ids[0].clone();
    let mut tasks = Vec::new();
    for i in 0..8 {
        let (store, id) = (store.clone(), id.clone());
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(1)).await;
            store
                .acquire_order_lease(&id, &format!("inst_{i}"), now(), later(30))
                .await
                .expect("acquire")
        }));
    }
    let mut won = 0;
    for task in tasks {
        won += usize::from(task.await.expect("join"));
    }
    assert_eq!(won, 1, "exactly one instance holds the lease");
});

on_both!(
    stale_leases_of_final_orders_are_dropped,
    |store: SharedStore| async move {
        // An instance killed between an order's end and handing its lease back leaves a lease
        // on a final order; only such a lease, once expired, is dropped.
        let ids = orders(&store, 3).await;
        let past = now() - time::Duration::seconds(5);
        for id in &ids {
            assert!(
                store
                    .acquire_order_lease(id, "inst_dead", past, past + time::Duration::seconds(1))
                    .await
                    .expect("acquire")
            );
        }
        for id in &ids[..2] {
            end_order(&store, id).await;
        }
        // ids[1] is final but its lease is live again (taken a moment ago): it stays.
        assert!(
            store
                .acquire_order_lease(&ids[1], "inst_live", now(), later(30))
                .await
                .expect("acquire")
        );
        assert_eq!(
            store.clear_stale_order_leases(now()).await.expect("clear"),
            1
        );
        assert!(!has_lease(&store, &ids[0]).await);
        assert!(has_lease(&store, &ids[1]).await);
        // The unfinished order keeps its expired lease: a takeover pass claims it.
        assert!(has_lease(&store, &ids[2]).await);
        assert_eq!(
            store.claimable_orders(now(), 10).await.expect("claimable"),
            vec![ids[2].clone()]
        );
        assert_eq!(
            store.clear_stale_order_leases(now()).await.expect("clear"),
            0
        );
    }
);
