//! ACME Renewal Information (RFC 9773) end to end: a local ACME front before Pebble (Debian's
//! Pebble 2.4 has no renewalInfo) advertises ARI and answers each certificate's window. The
//! service must pick its renewal time inside the window, look again as Retry-After says, renew
//! when the window arrives with `replaces` naming the old certificate, fall back to an order
//! without it on `alreadyReplaced`, and keep exactly one pending renewal task per certificate.

#[macro_use]
mod common;

use std::time::{Duration, Instant};

use common::{Db, Issuing, issue_http01, issuing, live_renewal_tasks, register_custom};
use scaivault_testkit::{AcmeFront, AcmeFrontOptions, PebbleOptions, RenewalWindow, ari_cert_id};
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

fn rfc3339(value: &Value) -> OffsetDateTime {
    OffsetDateTime::parse(value.as_str().expect("a time"), &Rfc3339).expect("rfc3339")
}

/// Polls the certificate until its current version is at least `version`.
async fn wait_version(env: &Issuing, id: &str, version: i64, within: Duration) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let (_, certificate) = env
            .service
            .client()
            .get(&format!("/v1/pki/certificates/{id}"))
            .await;
        if certificate["current_version"].as_i64().unwrap_or(0) >= version {
            return certificate;
        }
        assert!(
            Instant::now() < deadline,
            "version {version} not reached within {within:?}: {certificate}\n{}",
            env.service.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Polls until `check` holds, failing with `what` after `within`.
async fn wait_until(what: &str, within: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !check() {
        assert!(Instant::now() < deadline, "{what} within {within:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn current_pem(env: &Issuing, id: &str) -> String {
    let response = env
        .service
        .client()
        .raw(
            reqwest::Method::GET,
            &format!("/v1/pki/certificates/{id}/pem"),
            None,
        )
        .await;
    assert_eq!(response.status, 200);
    response.body
}

async fn ari_window_drives_renewal_with_replaces(db: Db) {
    let env = issuing(
        db,
        PebbleOptions {
            nonce_reject_percent: Some(0),
            ..Default::default()
        },
        &[],
    )
    .await;
    let front = AcmeFront::start(&env.pebble, AcmeFrontOptions::with_renewal_info()).await;
    let now = OffsetDateTime::now_utc();
    // Every certificate's window is far ahead unless a test moves it; Retry-After 1 s.
    let far = (
        now + time::Duration::days(10),
        now + time::Duration::days(11),
    );
    front.set_renewal_window(far.0, far.1, 1);

    let api = env.service.client();
    let account_id = register_custom(&api, "ari", &front.directory_url()).await;
    let done = issue_http01(&api, &account_id, Duration::from_secs(60)).await;
    assert_eq!(done["status"], "valid", "{done}");
    let id = done["certificate_id"]
        .as_str()
        .expect("certificate")
        .to_owned();
    let v1_pem = current_pem(&env, &id).await;
    let v1_id = ari_cert_id(&v1_pem);

    // renew_at lies inside the CA's window, not at the lifetime-based time. The order is valid
    // as soon as the version is stored, and the CA's window is asked for right after: poll.
    let deadline = Instant::now() + Duration::from_secs(10);
    let certificate = loop {
        let (_, certificate) = api.get(&format!("/v1/pki/certificates/{id}")).await;
        let renew_at = rfc3339(&certificate["renew_at"]);
        if renew_at >= far.0 && renew_at < far.1 {
            break certificate;
        }
        assert!(
            Instant::now() < deadline,
            "renew_at {renew_at} outside the window {far:?}\n{}",
            env.service.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // The service looks again as Retry-After says (1 s here), keeping one pending task.
    wait_until("two renewal-info requests", Duration::from_secs(20), || {
        front
            .renewal_info_requests()
            .iter()
            .filter(|cert_id| **cert_id == v1_id)
            .count()
            >= 2
    })
    .await;
    let (_, again) = api.get(&format!("/v1/pki/certificates/{id}")).await;
    assert_eq!(
        again["renew_at"], certificate["renew_at"],
        "an unchanged window keeps renew_at"
    );
    // One live task: the check that just ran hands over to its successor, and is acknowledged
    // (no longer live) at the worker's next poll.
    let database = env.service.database_url();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let live = live_renewal_tasks(&database, &id).await;
        if live.len() == 1 {
            break;
        }
        assert!(Instant::now() < deadline, "live renewal tasks: {live:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The window arrives; the CA first says the certificate was already replaced.
    let orders_before = front.new_order_payloads().len();
    front.refuse_replaces(1);
    let now = OffsetDateTime::now_utc();
    front.set_renewal_info_for(
        &v1_id,
        RenewalWindow::new(
            now - time::Duration::minutes(1),
            now + time::Duration::seconds(2),
            1,
        ),
    );
    let renewed = wait_version(&env, &id, 2, Duration::from_secs(60)).await;
    let payloads = front.new_order_payloads()[orders_before..].to_vec();
    assert_eq!(payloads.len(), 2, "{payloads:?}");
    assert_eq!(payloads[0]["replaces"], v1_id.as_str(), "{payloads:?}");
    assert!(payloads[1].get("replaces").is_none(), "{payloads:?}");

    // Version 2's window arrives too: this time `replaces` is accepted.
    let v2_pem = current_pem(&env, &id).await;
    let v2_id = ari_cert_id(&v2_pem);
    assert_ne!(v1_id, v2_id);
    let renew_at_v2 = rfc3339(&renewed["renew_at"]);
    assert!(renew_at_v2 >= far.0 && renew_at_v2 < far.1, "{renewed}");
    let now = OffsetDateTime::now_utc();
    front.set_renewal_info_for(
        &v2_id,
        RenewalWindow::new(
            now - time::Duration::minutes(1),
            now + time::Duration::seconds(2),
            1,
        ),
    );
    wait_version(&env, &id, 3, Duration::from_secs(60)).await;
    let last = front
        .new_order_payloads()
        .last()
        .cloned()
        .expect("an order");
    assert_eq!(last["replaces"], v2_id.as_str(), "{last}");

    // Exactly one pending renewal task, for the newest version; the old ones are retired.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let live = live_renewal_tasks(&database, &id).await;
        if live.len() == 1 && live[0].starts_with(&format!("renewal:{id}:v3:")) {
            break;
        }
        assert!(Instant::now() < deadline, "live renewal tasks: {live:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (_, events) = api.get("/v1/events?type=certificate.renewed").await;
    let renewed_versions: Vec<i64> = events["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["data"]["certificate_id"] == id.as_str())
        .filter_map(|e| e["data"]["version"].as_i64())
        .collect();
    assert_eq!(renewed_versions.len(), 2, "{events}");
}

on_both_backends!(ari_window_drives_renewal_with_replaces);
