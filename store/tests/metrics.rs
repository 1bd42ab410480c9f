//! The store-backed gauges of `GET /metrics` (orders by status, certificate expiries) on both
//! backends, each on a database of its own. The job queue depth query reads apalis' table,
//! which only the job queue creates: it is tested in jobs/tests/queue_depth.rs.

#[macro_use]
mod common;

use scaivault_domain::account::{AccountRecord, AccountStatus};
use scaivault_domain::certificate::{
    CertificateRecord, CertificateStatus, CertificateVersion, Issuance,
};
use scaivault_domain::metrics::CertificateExpiry;
use scaivault_domain::order::{ChallengeType, OrderRecord, OrderStatus};
use scaivault_domain::pki::KeyType;
use scaivault_domain::provider::{Environment, Provider};
use scaivault_domain::timestamp::{from_millis, now, to_millis};
use scaivault_domain::{SharedStore, ids};

async fn account(store: &SharedStore) -> String {
    let account = AccountRecord {
        id: ids::new_id("acme"),
        name: "metrics".into(),
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
    store.insert_account(&account, b"x").await.expect("account");
    account.id
}

async fn order(store: &SharedStore, account_id: &str, status: OrderStatus) -> OrderRecord {
    let at = now();
    let order = OrderRecord {
        id: ids::new_id("acme_order"),
        account_id: account_id.into(),
        certificate_id: None,
        domains: vec!["a.example.test".into()],
        challenge_type: ChallengeType::Http01,
        key_type: KeyType::EcdsaP256,
        csr_pem: None,
        profile: None,
        auto_renew: true,
        dns_provider_id: None,
        status,
        order_url: "https://ca.test/order/1".into(),
        error: None,
        ca_attempts: 1,
        not_after: None,
        created_at: at,
        updated_at: at,
    };
    store.insert_order(&order, &[]).await.expect("order");
    order
}

/// Issues a certificate named `domains` (first one first) with `status`, expiring in `days`.
async fn certificate(
    store: &SharedStore,
    account_id: &str,
    domains: &[&str],
    status: CertificateStatus,
    days: i64,
    renew_at: Option<time::OffsetDateTime>,
) -> CertificateRecord {
    let placed = order(store, account_id, OrderStatus::Valid).await;
    // Whole milliseconds, as the store keeps them.
    let at = from_millis(to_millis(now()));
    let domains: Vec<String> = domains.iter().map(|d| (*d).to_owned()).collect();
    let certificate = CertificateRecord {
        id: ids::new_id("cert"),
        account_id: account_id.into(),
        domains: domains.clone(),
        challenge_type: ChallengeType::Http01,
        key_type: KeyType::EcdsaP256,
        dns_provider_id: None,
        profile: None,
        auto_renew: true,
        own_csr: false,
        current_version: 1,
        status,
        serial_number: hex_serial(),
        not_after: at + time::Duration::days(days),
        renew_at,
        created_at: at,
        updated_at: at,
    };
    let version = CertificateVersion {
        certificate_id: certificate.id.clone(),
        version: 1,
        order_id: placed.id.clone(),
        serial_number: certificate.serial_number.clone(),
        issuer: "CN=Pebble Intermediate".into(),
        sans: domains,
        not_before: at,
        not_after: certificate.not_after,
        chain_pem: "-----BEGIN CERTIFICATE-----\n...".into(),
        has_private_key: false,
        status,
        revocation: None,
        created_at: at,
    };
    store
        .record_issuance(&Issuance {
            order_id: placed.id,
            certificate: certificate.clone(),
            version,
            sealed_key: None,
        })
        .await
        .expect("issue");
    certificate
}

fn hex_serial() -> String {
    ids::new_id("s").trim_start_matches("s_").to_uppercase()
}

on_both!(
    orders_are_counted_by_status,
    |store: SharedStore| async move {
        assert_eq!(
            store.order_counts_by_status().await.expect("empty"),
            Vec::<(String, i64)>::new()
        );
        let account_id = account(&store).await;
        for status in [
            OrderStatus::Pending,
            OrderStatus::Pending,
            OrderStatus::Invalid,
            OrderStatus::Valid,
        ] {
            order(&store, &account_id, status).await;
        }
        assert_eq!(
            store.order_counts_by_status().await.expect("counts"),
            [
                ("invalid".to_owned(), 1),
                ("pending".to_owned(), 2),
                ("valid".to_owned(), 1)
            ]
        );
    }
);

on_both!(
    expiries_of_valid_certificates_with_their_first_name,
    |store: SharedStore| async move {
        let account_id = account(&store).await;
        let renew_at = from_millis(to_millis(now() + time::Duration::days(60)));
        let many: Vec<String> = (0..100).map(|i| format!("n{i}.example.test")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        let a = certificate(
            &store,
            &account_id,
            &["first.example.test", "second.example.test"],
            CertificateStatus::Valid,
            90,
            Some(renew_at),
        )
        .await;
        let b = certificate(
            &store,
            &account_id,
            &many,
            CertificateStatus::Valid,
            7,
            None,
        )
        .await;
        certificate(
            &store,
            &account_id,
            &["revoked.example.test"],
            CertificateStatus::Revoked,
            30,
            None,
        )
        .await;
        let mut expected = vec![
            CertificateExpiry {
                certificate_id: a.id.clone(),
                domain: "first.example.test".into(),
                not_after: a.not_after,
                renew_at: Some(renew_at),
            },
            CertificateExpiry {
                certificate_id: b.id.clone(),
                domain: "n0.example.test".into(),
                not_after: b.not_after,
                renew_at: None,
            },
        ];
        expected.sort_by(|x, y| x.certificate_id.cmp(&y.certificate_id));
        // Compared sorted here: PostgreSQL's collation need not order ids bytewise.
        let mut actual = store.certificate_expiries().await.expect("expiries");
        actual.sort_by(|x, y| x.certificate_id.cmp(&y.certificate_id));
        assert_eq!(actual, expected);
    }
);
