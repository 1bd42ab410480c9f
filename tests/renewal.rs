//! Automatic renewal end to end: Pebble issues one-minute certificates, so `renew_at` (half the
//! lifetime for short certificates) comes about 30 s after issuance, and the durable renewal
//! queue must renew by itself — also across a kill -9 before the renewal time.

#[macro_use]
mod common;

use std::time::{Duration, Instant};

use common::{Db, Issuing, domains, issuing, wait_final};
use scaivault_testkit::PebbleOptions;
use serde_json::{Value, json};

fn one_minute_certificates() -> PebbleOptions {
    PebbleOptions {
        nonce_reject_percent: Some(0),
        validity_period_secs: Some(60),
        ..Default::default()
    }
}

/// Issues one auto-renewed certificate and returns (its id, its GET body).
async fn issue(env: &Issuing) -> (String, Value) {
    let api = env.service.client();
    let (status, placed) = api
        .post(
            "/v1/pki/acme/issue",
            &json!({"account_id": env.account_id, "domains": domains(1), "challenge_type": "http-01"}),
        )
        .await;
    assert_eq!(status, 202, "{placed}");
    let done = wait_final(
        &api,
        placed["order_id"].as_str().expect("id"),
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(done["status"], "valid", "{done}");
    let id = done["certificate_id"]
        .as_str()
        .expect("certificate")
        .to_owned();
    let (_, certificate) = api.get(&format!("/v1/pki/certificates/{id}")).await;
    (id, certificate)
}

/// Waits until the certificate has version 2 (polling its state; the deadline only bounds a
/// failure).
async fn wait_renewed(env: &Issuing, id: &str, within: Duration) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let (_, certificate) = env
            .service
            .client()
            .get(&format!("/v1/pki/certificates/{id}"))
            .await;
        if certificate["current_version"].as_i64().unwrap_or(0) >= 2 {
            return certificate;
        }
        assert!(
            Instant::now() < deadline,
            "not renewed within {within:?}: {certificate}\n{}",
            env.service.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn renews_by_itself(db: Db) {
    let env = issuing(db, one_minute_certificates(), &[]).await;
    let (id, first) = issue(&env).await;
    let issued = time::OffsetDateTime::parse(
        first["versions"][0]["not_before"]
            .as_str()
            .expect("not_before"),
        &time::format_description::well_known::Rfc3339,
    )
    .expect("rfc3339");
    let renew_at = time::OffsetDateTime::parse(
        first["renew_at"].as_str().expect("renew_at"),
        &time::format_description::well_known::Rfc3339,
    )
    .expect("rfc3339");
    let delay = renew_at - issued;
    assert!(
        delay > time::Duration::seconds(25) && delay <= time::Duration::seconds(30),
        "renew_at about half-way through a one-minute lifetime: {delay}"
    );

    let renewed = wait_renewed(&env, &id, Duration::from_secs(75)).await;
    let versions = renewed["versions"].as_array().expect("versions");
    assert_ne!(versions[0]["serial_number"], versions[1]["serial_number"]);
    assert!(
        renewed["renew_at"].as_str() > first["renew_at"].as_str(),
        "the next renewal moved on"
    );
    // The job notices its order is valid at its next look (every 250 ms) and logs it.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !env.service.log_text().contains("certificate renewed") {
        assert!(Instant::now() < deadline, "the renewal job reports success");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
on_both_backends!(renews_by_itself);

async fn renews_after_kill9_before_the_renewal_time(db: Db) {
    let mut env = issuing(db, one_minute_certificates(), &[]).await;
    let (id, first) = issue(&env).await;
    assert_eq!(first["current_version"], 1);
    // The renewal task is only in the database now.
    env.service.kill9();
    env.service.restart().await;
    wait_renewed(&env, &id, Duration::from_secs(75)).await;
}
on_both_backends!(renews_after_kill9_before_the_renewal_time);

#[tokio::test]
async fn renewal_failures_are_reported_with_growing_delays() {
    // Retries from 1 s, doubling up to 8 s, so three failures show within seconds.
    let env = issuing(
        Db::Sqlite,
        one_minute_certificates(),
        &[
            ("SCAIVAULT_RENEWAL__RETRY_BASE", "1s"),
            ("SCAIVAULT_RENEWAL__RETRY_MAX", "8s"),
        ],
    )
    .await;
    let (id, _) = issue(&env).await;
    let Issuing {
        service, pebble, ..
    } = env;
    // The CA goes away before the renewal time (about 30 s after issuance).
    drop(pebble);
    let api = service.client();
    let deadline = Instant::now() + Duration::from_secs(75);
    let failures = loop {
        let (_, events) = api.get("/v1/events?type=certificate.renewal_failed").await;
        let list = events["events"].as_array().cloned().unwrap_or_default();
        if list.len() >= 3 {
            break list;
        }
        assert!(
            Instant::now() < deadline,
            "three failed attempts expected: {events}\n{}",
            service.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let parse = |v: &Value| {
        time::OffsetDateTime::parse(
            v.as_str().expect("time"),
            &time::format_description::well_known::Rfc3339,
        )
        .expect("rfc3339")
    };
    let mut gaps = Vec::new();
    for (i, event) in failures.iter().take(3).enumerate() {
        assert_eq!(event["data"]["certificate_id"], id.as_str());
        assert_eq!(event["data"]["attempt"], i);
        assert!(!event["data"]["reason"].as_str().expect("reason").is_empty());
        gaps.push(parse(&event["data"]["next_attempt_at"]) - parse(&event["created_at"]));
    }
    assert!(
        gaps[0] < gaps[1] && gaps[1] < gaps[2],
        "delays grow: {gaps:?}"
    );
    let (_, certificate) = api.get(&format!("/v1/pki/certificates/{id}")).await;
    assert_eq!(
        certificate["current_version"], 1,
        "no new version while the CA is down"
    );
}

#[tokio::test]
async fn expiring_is_reported_once_per_version() {
    let env = issuing(
        Db::Sqlite,
        one_minute_certificates(),
        &[("SCAIVAULT_RENEWAL__SCAN_INTERVAL", "1s")],
    )
    .await;
    let api = env.service.client();
    let (status, placed) = api
        .post(
            "/v1/pki/acme/issue",
            &json!({"account_id": env.account_id, "domains": domains(1), "challenge_type": "http-01", "auto_renew": false}),
        )
        .await;
    assert_eq!(status, 202, "{placed}");
    let done = wait_final(
        &api,
        placed["order_id"].as_str().expect("id"),
        Duration::from_secs(60),
    )
    .await;
    let id = done["certificate_id"]
        .as_str()
        .expect("certificate")
        .to_owned();
    // A one-minute certificate is always within the default 14 days of expiry.
    let deadline = Instant::now() + Duration::from_secs(15);
    let event = loop {
        let (_, events) = api.get("/v1/events?type=certificate.expiring").await;
        if let Some(event) = events["events"].as_array().and_then(|l| l.first()).cloned() {
            break event;
        }
        assert!(
            Instant::now() < deadline,
            "certificate.expiring expected\n{}",
            env.service.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(event["data"]["certificate_id"], id.as_str());
    assert_eq!(event["data"]["version"], 1);
    assert!(
        event["data"]["reason"]
            .as_str()
            .expect("reason")
            .contains("within 14d"),
        "{event}"
    );
    // Several more scans (one a second) report nothing new for the same version.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (_, events) = api.get("/v1/events?type=certificate.expiring").await;
    assert_eq!(
        events["events"].as_array().expect("events").len(),
        1,
        "{events}"
    );
}
