//! Profiles' limits and certificate lifetimes (issue 17 points 2 and 8): the provider table's
//! profiles as the API lists them, orders over a profile's limit refused before the CA is asked,
//! and renewal times computed from each certificate's own lifetime, for the lifetimes the CAs
//! issue in 2026–2029 (Pebble issues them with `certificateValidityPeriod`).

#[macro_use]
mod common;

use std::time::Duration;

use common::{Db, Issuing, domains, issuing_with};
use scaivault_testkit::PebbleOptions;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

fn pebble(validity: Option<Duration>) -> PebbleOptions {
    PebbleOptions {
        nonce_reject_percent: Some(0),
        validity_period_secs: validity.map(|v| v.as_secs()),
        ..Default::default()
    }
}

/// Pebble standing in for Let's Encrypt's production directory, and a `letsencrypt` account
/// there; `dns_wait` sets `[dns] propagation_timeout`.
async fn as_lets_encrypt(db: Db, dns_wait: &str) -> (Issuing, String) {
    let dns_wait = dns_wait.to_owned();
    let env = issuing_with(db, pebble(None), move |opts, pebble| {
        opts.set(
            "acme",
            "directories",
            format!("{{ letsencrypt = \"{}\" }}", pebble.directory_url()),
        )
        .set("dns", "propagation_timeout", format!("\"{dns_wait}\""))
    })
    .await;
    let (status, account) = env
        .service
        .client()
        .post(
            "/v1/pki/acme/accounts",
            &json!({"name": "le", "provider": "letsencrypt", "environment": "production",
                    "email": "certs@acme.example"}),
        )
        .await;
    assert_eq!(status, 201, "{account}");
    let id = account["id"].as_str().expect("id").to_owned();
    (env, id)
}

fn profile<'a>(providers: &'a Value, provider: &str, name: &str) -> &'a Value {
    providers["providers"]
        .as_array()
        .expect("providers")
        .iter()
        .find(|p| p["name"] == provider)
        .and_then(|p| p["profiles"].as_array())
        .and_then(|profiles| profiles.iter().find(|p| p["name"] == name))
        .unwrap_or_else(|| panic!("{provider} has no profile {name}: {providers}"))
}

#[tokio::test]
async fn providers_list_their_profiles_and_limits() {
    let env = common::start(Db::Sqlite, pebble(None)).await;
    let (status, providers) = env.service.client().get("/v1/pki/acme/providers").await;
    assert_eq!(status, 200, "{providers}");

    let classic = profile(&providers, "letsencrypt", "classic");
    assert_eq!(classic["default"], true, "{classic}");
    assert_eq!(classic["max_names"], 100);
    assert_eq!(classic["common_name"], "first_short_name");
    assert_eq!(classic["pending_authorization_seconds"], 7 * 86_400);
    assert_eq!(
        classic["lifetime"]["changes"],
        json!([{"from": "2027-02-10", "seconds": 64 * 86_400},
               {"from": "2028-02-16", "seconds": 45 * 86_400}]),
        "{classic}"
    );
    assert_eq!(classic["lifetime"]["initial_seconds"], 90 * 86_400);
    assert_eq!(
        classic["authorization_reuse"]["changes"][1],
        json!({"from": "2028-02-16", "seconds": 7 * 3600})
    );
    // Today (2026-12) classic certificates last 90 days; the value follows the clock.
    let now = OffsetDateTime::now_utc().date();
    let expected = if now >= time::macros::date!(2028 - 02 - 16) {
        45
    } else if now >= time::macros::date!(2027 - 02 - 10) {
        64
    } else {
        90
    };
    assert_eq!(
        classic["lifetime"]["current_seconds"],
        expected * 86_400,
        "{classic}"
    );

    for name in ["tlsserver", "shortlived"] {
        let limited = profile(&providers, "letsencrypt", name);
        assert_eq!(limited["default"], false, "{limited}");
        assert_eq!(limited["max_names"], 25, "{limited}");
        assert_eq!(limited["common_name"], "omitted", "{limited}");
        assert_eq!(limited["pending_authorization_seconds"], 3600, "{limited}");
    }
    let shortlived = profile(&providers, "letsencrypt", "shortlived");
    assert_eq!(shortlived["lifetime"]["current_seconds"], 160 * 3600);
    assert_eq!(shortlived["ip_addresses"], true);
    let tlsserver = profile(&providers, "letsencrypt", "tlsserver");
    assert_eq!(
        tlsserver["lifetime"]["changes"],
        json!([{"from": "2026-05-13", "seconds": 45 * 86_400}])
    );

    let list = providers["providers"].as_array().expect("providers");
    for provider in list {
        match provider["name"].as_str() {
            Some("letsencrypt") => assert_eq!(provider["ip_profile"], "shortlived"),
            // No published profiles: an empty list, and no IP rule.
            _ => {
                assert_eq!(provider["profiles"], json!([]), "{provider}");
                assert_eq!(provider["ip_profile"], Value::Null, "{provider}");
            }
        }
    }
}

/// Refused with 400 naming `field` and containing `message`, and nothing reached the CA.
async fn refused(env: &Issuing, body: Value, field: &str, message: &str) {
    let (status, answer) = env.service.client().post("/v1/pki/acme/issue", &body).await;
    assert_eq!(status, 400, "{body} -> {answer}");
    assert_eq!(answer["error"]["code"], "invalid_request", "{answer}");
    assert_eq!(answer["error"]["details"]["field"], field, "{answer}");
    let text = answer["error"]["message"].as_str().expect("message");
    assert!(text.contains(message), "{text}");
    assert!(
        !env.pebble.log_text().contains("Added order"),
        "an order reached the CA: {}",
        env.pebble.log_text()
    );
}

async fn orders_over_a_profile_limit_are_refused_before_the_ca(db: Db) {
    let (env, le) = as_lets_encrypt(db, "2h").await;
    let names = domains(26);
    for profile in ["tlsserver", "shortlived"] {
        refused(
            &env,
            json!({"account_id": le, "domains": names, "challenge_type": "http-01",
                    "profile": profile}),
            "domains",
            &format!("profile \"{profile}\" allows at most 25 names per order; this order has 26"),
        )
        .await;
    }
    // dns-01 waits up to 2h for propagation here: longer than tlsserver keeps a pending
    // authorization (1h). Refused before the DNS provider is even looked up.
    refused(
        &env,
        json!({"account_id": le, "domains": domains(1), "challenge_type": "dns-01",
                "profile": "tlsserver", "dns_provider_id": "none-needed"}),
        "profile",
        "drops pending authorizations after 1h, but dns-01 waits up to 2h",
    )
    .await;

    // The default profile (classic) takes the 26 names, and so does a profile the table does
    // not know (the CA decides): both orders reach the CA.
    let api = env.service.client();
    let (status, placed) = api
        .post(
            "/v1/pki/acme/issue",
            &json!({"account_id": le, "domains": names, "challenge_type": "http-01"}),
        )
        .await;
    assert_eq!(status, 202, "{placed}");
    let done = common::wait_final(
        &api,
        placed["order_id"].as_str().expect("id"),
        Duration::from_secs(120),
    )
    .await;
    assert_eq!(done["status"], "valid", "{done}");
    let (status, placed) = api
        .post(
            "/v1/pki/acme/issue",
            &json!({"account_id": le, "domains": domains(2), "challenge_type": "http-01",
                    "profile": "published-later"}),
        )
        .await;
    assert_eq!(status, 202, "{placed}");
    assert_eq!(placed["profile"], "published-later");
}
on_both_backends!(orders_over_a_profile_limit_are_refused_before_the_ca);

fn at(value: &Value) -> OffsetDateTime {
    OffsetDateTime::parse(value.as_str().expect("a timestamp"), &Rfc3339).expect("RFC 3339")
}

/// Issues one certificate of `lifetime` (no ARI: Pebble offers none) and checks its renewal
/// time is `expected` after its notBefore, less at most the jitter (1 % of the lifetime, at
/// most an hour).
async fn renews_by_its_own_lifetime(lifetime: Duration, expected: time::Duration) {
    let env = common::issuing(Db::Sqlite, pebble(Some(lifetime)), &[]).await;
    let api = env.service.client();
    let done = common::issue_http01(&api, &env.account_id, Duration::from_secs(60)).await;
    assert_eq!(done["status"], "valid", "{done}");
    let id = done["certificate_id"].as_str().expect("certificate");
    let (status, detail) = api.get(&format!("/v1/pki/certificates/{id}")).await;
    assert_eq!(status, 200, "{detail}");
    let version = &detail["versions"][0];
    let (not_before, not_after) = (at(&version["not_before"]), at(&version["not_after"]));
    // Pebble's validity period is the lifetime, to the second.
    let issued = not_after - not_before;
    assert!(
        (issued - time::Duration::try_from(lifetime).expect("lifetime")).abs()
            <= time::Duration::seconds(1),
        "Pebble issued {issued} for {lifetime:?}"
    );
    let renew_at = at(&detail["renew_at"]);
    let base = not_before + expected;
    let jitter = (issued / 100_i32).min(time::Duration::hours(1));
    assert!(
        renew_at <= base && renew_at >= base - jitter - time::Duration::seconds(1),
        "lifetime {issued}: renew_at {renew_at}, expected {base} less up to {jitter}"
    );
}

#[tokio::test]
async fn a_160_hour_certificate_renews_at_half_its_lifetime() {
    // Let's Encrypt shortlived: half left (80 h), not "30 days before expiry".
    renews_by_its_own_lifetime(Duration::from_secs(160 * 3600), time::Duration::hours(80)).await;
}

#[tokio::test]
async fn a_45_day_certificate_renews_with_half_its_lifetime_left() {
    // tlsserver today, classic from 2028-02-16: the 30-day window is capped at half (22.5 days).
    renews_by_its_own_lifetime(
        Duration::from_secs(45 * 86_400),
        time::Duration::hours(22 * 24 + 12),
    )
    .await;
}

#[tokio::test]
async fn a_64_day_certificate_renews_30_days_before_expiry() {
    // classic from 2027-02-10: 30 days before expiry (day 34) is earlier than a third left.
    renews_by_its_own_lifetime(Duration::from_secs(64 * 86_400), time::Duration::days(34)).await;
}
