//! Automatic renewal end to end: Pebble issues one-minute certificates, so `renew_at` (half the
//! lifetime for short certificates) comes about 30 s after issuance, and the durable renewal
//! queue must renew by itself — also across a kill -9 before the renewal time.

#[macro_use]
mod common;

use std::time::{Duration, Instant};

use common::{Db, Issuing, domains, drop_renewal_tasks, issuing, wait_final};
use scaivault_testkit::{ApiClient, PebbleOptions};
use serde_json::{Value, json};

/// Waits until `GET /metrics` counts at least `at_least` automatic renewal
/// attempts with `result` (`success` or `failure`); returns the count.
async fn wait_renewals_counted(api: &ApiClient, result: &str, at_least: f64) -> f64 {
    let series = format!("scaivault_renewals_total{{result=\"{result}\"}} ");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let response = api.raw(reqwest::Method::GET, "/metrics", None).await;
        assert_eq!(response.status, 200, "{}", response.body);
        let count: f64 = response
            .body
            .lines()
            .find_map(|line| line.strip_prefix(series.as_str()))
            .unwrap_or_else(|| panic!("no {series}in /metrics"))
            .trim()
            .parse()
            .expect("a number");
        if count >= at_least {
            return count;
        }
        assert!(
            Instant::now() < deadline,
            "{series}stays at {count}, expected at least {at_least}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

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
    let done = common::issue_http01(&api, &env.account_id, Duration::from_secs(60)).await;
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
    let api = env.service.client();
    assert_eq!(wait_renewals_counted(&api, "success", 1.0).await, 1.0);
    assert_eq!(wait_renewals_counted(&api, "failure", 0.0).await, 0.0);
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

async fn renewal_failures_are_reported_with_growing_delays(db: Db) {
    // Retries from 1 s, doubling up to 8 s, so three failures show within seconds.
    let env = issuing(
        db,
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
    // Each failed attempt is counted once its retry is stored, as its event is written.
    assert!(wait_renewals_counted(&api, "failure", 3.0).await >= 3.0);
    assert_eq!(wait_renewals_counted(&api, "success", 0.0).await, 0.0);
}

on_both_backends!(renewal_failures_are_reported_with_growing_delays);

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

/// A forced renewal while the automatic one is backing off does not start a second chain: the
/// backoff's pending retry is retired when the forced renewal's version lands, and only the new
/// version's task stays pending. The automatic renewal fails at order creation: a local ACME
/// front before Pebble answers `rateLimited` (Pebble could reuse the valid authorization, so a
/// validation failure cannot be arranged reliably). Its Retry-After (8 s) outweighs the backoff
/// (2 s): the retry waits for the CA.
async fn forced_renewal_during_backoff_does_not_start_a_second_chain(db: Db) {
    let env = issuing(
        db,
        one_minute_certificates(),
        &[
            ("SCAIVAULT_RENEWAL__RETRY_BASE", "2s"),
            ("SCAIVAULT_RENEWAL__RETRY_MAX", "2s"),
        ],
    )
    .await;
    let front = scaivault_testkit::AcmeFront::start(&env.pebble, Default::default()).await;
    let api = env.service.client();
    let account_id = common::register_custom(&api, "via-front", &front.directory_url()).await;
    let done = common::issue_http01(&api, &account_id, Duration::from_secs(60)).await;
    assert_eq!(done["status"], "valid", "{done}");
    let id = done["certificate_id"]
        .as_str()
        .expect("certificate")
        .to_owned();
    // Every new order is refused from now on, so the automatic renewal fails.
    front.rate_limit_new_orders(1_000, 8);
    let deadline = Instant::now() + Duration::from_secs(75);
    let failed = loop {
        let (_, events) = api.get("/v1/events?type=certificate.renewal_failed").await;
        if let Some(event) = events["events"].as_array().and_then(|l| l.first()).cloned() {
            break event;
        }
        assert!(
            Instant::now() < deadline,
            "a failed renewal expected\n{}",
            env.service.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let next_attempt_at = time::OffsetDateTime::parse(
        failed["data"]["next_attempt_at"]
            .as_str()
            .expect("next attempt"),
        &time::format_description::well_known::Rfc3339,
    )
    .expect("rfc3339");
    let failed_at = time::OffsetDateTime::parse(
        failed["created_at"].as_str().expect("created_at"),
        &time::format_description::well_known::Rfc3339,
    )
    .expect("rfc3339");
    assert!(
        next_attempt_at - failed_at >= time::Duration::milliseconds(7_900),
        "the retry must wait for the CA's Retry-After: {failed}"
    );
    // The failed attempt finishes (its task is acknowledged) and only its retry is left.
    let database = env.service.database_url();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let live = common::live_renewal_tasks(&database, &id).await;
        if live.len() == 1 && live[0].ends_with(":a1") {
            break;
        }
        assert!(Instant::now() < deadline, "backing off: {live:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The CA accepts orders again; the operator forces a renewal during the backoff.
    front.rate_limit_new_orders(0, 0);
    let (status, forced) = api
        .post(&format!("/v1/pki/certificates/{id}/renew"), &json!({}))
        .await;
    assert_eq!(status, 202, "{forced}");
    let forced_order = forced["order_id"].as_str().expect("order id").to_owned();
    let done = wait_final(&api, &forced_order, Duration::from_secs(60)).await;
    assert_eq!(done["status"], "valid", "{done}");
    assert!(
        time::OffsetDateTime::now_utc() < next_attempt_at,
        "the forced renewal finished after the retry was due; the test proves nothing"
    );

    // The retry of version 1 is retired: one pending task, version 2's.
    let live = common::live_renewal_tasks(&database, &id).await;
    assert_eq!(live.len(), 1, "{live:?}");
    assert!(
        live[0].starts_with(&format!("renewal:{id}:v2:")),
        "{live:?}"
    );
    // Past the retired retry's due time nothing else happens: no new failure, no version 3.
    while time::OffsetDateTime::now_utc() < next_attempt_at + time::Duration::seconds(2) {
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let (_, events) = api.get("/v1/events?type=certificate.renewal_failed").await;
    assert_eq!(
        events["events"].as_array().map(Vec::len),
        Some(1),
        "{events}"
    );
    let (_, certificate) = api.get(&format!("/v1/pki/certificates/{id}")).await;
    assert_eq!(certificate["current_version"], 2, "{certificate}");
    let live = common::live_renewal_tasks(&database, &id).await;
    assert_eq!(live.len(), 1, "{live:?}");
}

on_both_backends!(forced_renewal_during_backoff_does_not_start_a_second_chain);

/// Start-up gives every valid auto-renewed certificate without a renewal task exactly one, and
/// a second start adds none.
async fn startup_schedules_missing_renewals_once(db: Db) {
    let mut env = issuing(
        db,
        PebbleOptions {
            nonce_reject_percent: Some(0),
            ..Default::default()
        },
        &[],
    )
    .await;
    let (id, _) = issue(&env).await;
    let database = env.service.database_url();
    assert_eq!(common::live_renewal_tasks(&database, &id).await.len(), 1);
    env.service.kill9();
    drop_renewal_tasks(&database).await;
    assert!(common::live_renewal_tasks(&database, &id).await.is_empty());
    env.service.restart().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let live = common::live_renewal_tasks(&database, &id).await;
        if live.len() == 1 {
            assert!(
                live[0].starts_with(&format!("renewal:{id}:v1:")),
                "{live:?}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "live renewal tasks: {live:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    env.service.restart().await;
    let (status, _) = env.service.client().get("/readyz").await;
    assert_eq!(status, 200);
    assert_eq!(common::live_renewal_tasks(&database, &id).await.len(), 1);
}

on_both_backends!(startup_schedules_missing_renewals_once);
