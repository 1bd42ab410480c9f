//! Rate limits end to end. A CA's `rateLimited` problem (RFC 8555 §6.6) reaches the caller as
//! `429 backend_rate_limited` with the CA's own `Retry-After` (a local ACME front before Pebble
//! answers newOrder with it); and the local ledger refuses an order over the configured limits
//! before the CA is asked at all, failed authorizations per name included.

#[macro_use]
mod common;

use std::time::Duration;

use common::{Db, Issuing, domains, issuing, issuing_with, wait_final};
use scaivault_testkit::{AcmeFront, AcmeFrontOptions, PebbleOptions, RawResponse};
use serde_json::{Value, json};

/// A custom account whose directory is the front's.
async fn front_account(env: &Issuing, front: &AcmeFront, name: &str) -> String {
    let (status, account) = env
        .service
        .client()
        .post(
            "/v1/pki/acme/accounts",
            &json!({"name": name, "provider": "custom", "environment": "staging",
                    "email": "certs@acme.example", "directory_url": front.directory_url()}),
        )
        .await;
    assert_eq!(status, 201, "{account}");
    account["id"].as_str().expect("account id").to_owned()
}

async fn post(env: &Issuing, path: &str, body: Option<&Value>) -> RawResponse {
    env.service
        .client()
        .raw(reqwest::Method::POST, path, body)
        .await
}

async fn issue(env: &Issuing, account_id: &str, names: &[String]) -> RawResponse {
    post(
        env,
        "/v1/pki/acme/issue",
        Some(
            &json!({"account_id": account_id, "domains": names, "challenge_type": "http-01",
                     "auto_renew": false}),
        ),
    )
    .await
}

/// Waits for the order of a 202 answer to be valid; returns its certificate id.
async fn issued(env: &Issuing, placed: &RawResponse) -> String {
    let body = placed.json();
    assert_eq!(placed.status, 202, "{body}");
    let done = wait_final(
        &env.service.client(),
        body["order_id"].as_str().expect("order id"),
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(done["status"], "valid", "{done}");
    done["certificate_id"]
        .as_str()
        .expect("certificate")
        .to_owned()
}

/// A 429 `backend_rate_limited` whose `Retry-After` header and `details.retry_after` are `secs`.
fn assert_rate_limited(response: &RawResponse, secs: u64) -> Value {
    let body = response.json();
    assert_eq!(response.status, 429, "{body}");
    assert_eq!(body["error"]["code"], "backend_rate_limited", "{body}");
    assert_eq!(body["error"]["details"]["retry_after"], secs, "{body}");
    let header = response
        .headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert_eq!(header, secs.to_string(), "{body}");
    body
}

fn quiet_pebble() -> PebbleOptions {
    PebbleOptions {
        nonce_reject_percent: Some(0),
        ..Default::default()
    }
}

async fn ca_rate_limit_passes_its_retry_after(db: Db) {
    let env = issuing(db, quiet_pebble(), &[]).await;
    let front = AcmeFront::start(&env.pebble, AcmeFrontOptions::default()).await;
    let account = front_account(&env, &front, "limited").await;

    front.rate_limit_new_orders(1, 1234);
    let before = front.new_order_payloads().len();
    let refused = issue(&env, &account, &domains(1)).await;
    let body = assert_rate_limited(&refused, 1234);
    assert_eq!(
        body["error"]["details"]["ca_problem"]["type"], "urn:ietf:params:acme:error:rateLimited",
        "{body}"
    );
    assert_eq!(front.new_order_payloads().len(), before + 1);

    // The limit is over: the next order goes through.
    let placed = issue(&env, &account, &domains(1)).await;
    let certificate = issued(&env, &placed).await;

    // A forced renewal while the CA limits answers the same way.
    front.rate_limit_new_orders(1, 777);
    let refused = post(
        &env,
        &format!("/v1/pki/certificates/{certificate}/renew"),
        None,
    )
    .await;
    assert_rate_limited(&refused, 777);
    // And succeeds once the limit is over.
    let renewed = post(
        &env,
        &format!("/v1/pki/certificates/{certificate}/renew"),
        None,
    )
    .await;
    assert_eq!(renewed.status, 202, "{}", renewed.body);
}

on_both_backends!(ca_rate_limit_passes_its_retry_after);

/// The local ledger with 2 certificates per registered domain for custom accounts: the third
/// order for names under the same registered domain is refused before the CA sees it.
async fn ledger_refuses_before_the_ca(db: Db) {
    let env = issuing(
        db,
        quiet_pebble(),
        &[
            (
                "SCAIVAULT_RATE_LIMITS__CUSTOM__CERTIFICATES_PER_DOMAIN",
                "2",
            ),
            ("SCAIVAULT_RATE_LIMITS__CUSTOM__CERTIFICATES_WINDOW", "1h"),
        ],
    )
    .await;
    let front = AcmeFront::start(&env.pebble, AcmeFrontOptions::default()).await;
    let account = front_account(&env, &front, "ledger").await;
    // Every name of `domains` is under example.test (the Public Suffix List's `*` rule makes
    // the unlisted `test` a suffix), so all count for one registered domain.
    let first = issue(&env, &account, &domains(1)).await;
    let started = std::time::Instant::now();
    issued(&env, &first).await;
    let second = issue(&env, &account, &domains(2)).await;
    assert_eq!(second.status, 202, "{}", second.body);

    let orders_before = front.new_order_payloads().len();
    let refused = issue(&env, &account, &domains(1)).await;
    let body = refused.json();
    assert_eq!(refused.status, 429, "{body}");
    assert_eq!(body["error"]["code"], "backend_rate_limited", "{body}");
    let details = &body["error"]["details"];
    assert_eq!(details["limit"], "certificates_per_domain", "{body}");
    assert_eq!(details["subject"], "example.test", "{body}");
    assert_eq!(
        (details["count"].as_u64(), details["max"].as_u64()),
        (Some(2), Some(2))
    );
    // The first entry leaves the one-hour window first.
    let wait = details["retry_after"].as_u64().expect("retry_after");
    let elapsed = started.elapsed().as_secs();
    assert!(
        wait <= 3600 && wait + elapsed + 5 >= 3600,
        "retry_after {wait} after {elapsed} s: {body}"
    );
    let header = refused
        .headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert_eq!(header, wait.to_string());
    assert_eq!(
        front.new_order_payloads().len(),
        orders_before,
        "no new order reached the CA"
    );

    // Another registered domain, and the first account's other CA (Pebble directly), are
    // counted apart.
    let elsewhere = vec![format!(
        "www.{}.example.co.uk",
        domains(1)[0].split('.').nth(1).expect("tag")
    )];
    let placed = issue(&env, &account, &elsewhere).await;
    assert_eq!(placed.status, 202, "{}", placed.body);
    let direct = issue(&env, &env.account_id, &domains(1)).await;
    assert_eq!(direct.status, 202, "{}", direct.body);
}

on_both_backends!(ledger_refuses_before_the_ca);

/// The local ledger with 3 pending authorizations per custom account: an order that would take
/// the account past it (its own names count) is refused before the CA sees it, one that fits is
/// placed. (The store's count of the authorizations already pending is in the conformance tests.)
async fn pending_authorizations_are_counted_before_the_ca(db: Db) {
    let env = issuing(
        db,
        quiet_pebble(),
        &[("SCAIVAULT_RATE_LIMITS__CUSTOM__PENDING_AUTHORIZATIONS", "3")],
    )
    .await;
    let front = AcmeFront::start(&env.pebble, AcmeFrontOptions::default()).await;
    let account = front_account(&env, &front, "pending-authz").await;

    let refused = issue(&env, &account, &domains(4)).await;
    let body = refused.json();
    assert_eq!(refused.status, 429, "{body}");
    assert_eq!(body["error"]["code"], "backend_rate_limited", "{body}");
    let details = &body["error"]["details"];
    assert_eq!(details["limit"], "pending_authorizations", "{body}");
    assert_eq!(details["subject"], account.as_str(), "{body}");
    assert_eq!(
        (details["count"].as_u64(), details["max"].as_u64()),
        (Some(4), Some(3)),
        "{body}"
    );
    assert!(
        details["retry_after"].as_u64().is_some_and(|s| s > 0),
        "{body}"
    );
    assert!(
        front.new_order_payloads().is_empty(),
        "no order reached the CA"
    );

    let placed = issue(&env, &account, &domains(3)).await;
    issued(&env, &placed).await;
}

on_both_backends!(pending_authorizations_are_counted_before_the_ca);

/// Staging directories have their own limits: with Pebble standing in for both of Let's
/// Encrypt's directories (`[acme.directories]`) and production's duplicates limit at 1, a
/// production account is refused the second certificate for the same names, while a staging
/// account is held to `[rate_limits.letsencrypt_staging]` (the default's published staging
/// limits) and gets it.
async fn staging_has_its_own_limits(db: Db) {
    let env = issuing_with(db, quiet_pebble(), |opts, pebble| {
        opts.set(
            "acme",
            "directories",
            format!(
                "{{ letsencrypt = \"{dir}\", letsencrypt_staging = \"{dir}\" }}",
                dir = pebble.directory_url()
            ),
        )
        .env("SCAIVAULT_RATE_LIMITS__LETSENCRYPT__DUPLICATES", "1")
    })
    .await;
    let api = env.service.client();
    let (status, providers) = api.get("/v1/pki/acme/providers").await;
    assert_eq!(status, 200, "{providers}");
    assert_eq!(
        providers["providers"][0]["environments"]["staging"],
        env.pebble.directory_url().as_str(),
        "{providers}"
    );
    let mut accounts = Vec::new();
    for environment in ["production", "staging"] {
        let (status, account) = api
            .post(
                "/v1/pki/acme/accounts",
                &json!({"name": format!("le-{environment}"), "provider": "letsencrypt",
                        "environment": environment, "email": "certs@acme.example"}),
            )
            .await;
        assert_eq!(status, 201, "{account}");
        assert_eq!(
            account["directory_url"],
            env.pebble.directory_url().as_str()
        );
        accounts.push(account["id"].as_str().expect("id").to_owned());
    }
    let (production, staging) = (&accounts[0], &accounts[1]);

    let names = domains(1);
    issued(&env, &issue(&env, production, &names).await).await;
    let refused = issue(&env, production, &names).await;
    assert_eq!(refused.status, 429, "{}", refused.body);
    assert_eq!(refused.json()["error"]["details"]["limit"], "duplicates");

    let names = domains(1);
    issued(&env, &issue(&env, staging, &names).await).await;
    issued(&env, &issue(&env, staging, &names).await).await;
}

on_both_backends!(staging_has_its_own_limits);

/// Failed authorizations per identifier per account, at most 2 an hour for custom accounts: a
/// name whose http-01 validation fails (nothing answers at its address) fails twice — the
/// service places the order once more when the CA could not connect, and each CA order's
/// authorization ends invalid — and the third order for it is refused before the CA sees it,
/// while another name is still ordered.
async fn failed_authorizations_are_counted_per_name(db: Db) {
    let env = issuing(
        db,
        quiet_pebble(),
        &[("SCAIVAULT_RATE_LIMITS__CUSTOM__FAILED_AUTHORIZATIONS", "2")],
    )
    .await;
    let front = AcmeFront::start(&env.pebble, AcmeFrontOptions::default()).await;
    let account = front_account(&env, &front, "failing").await;
    let failing = domains(1);
    env.dns.add_a(&failing[0], &["127.0.0.254"]).await;

    let placed = issue(&env, &account, &failing).await;
    assert_eq!(placed.status, 202, "{}", placed.body);
    let done = wait_final(
        &env.service.client(),
        placed.json()["order_id"].as_str().expect("order id"),
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(done["status"], "invalid", "{done}");
    assert_eq!(
        done["ca_attempts"], 2,
        "two CA orders, two failures: {done}"
    );
    let orders_before = front.new_order_payloads().len();
    assert_eq!(orders_before, 2);

    let refused = issue(&env, &account, &failing).await;
    let body = refused.json();
    assert_eq!(refused.status, 429, "{body}");
    assert_eq!(body["error"]["code"], "backend_rate_limited", "{body}");
    let details = &body["error"]["details"];
    assert_eq!(details["limit"], "failed_authorizations", "{body}");
    assert_eq!(
        details["subject"],
        format!("{account}:{}", failing[0]),
        "{body}"
    );
    assert_eq!(
        (details["count"].as_u64(), details["max"].as_u64()),
        (Some(2), Some(2)),
        "{body}"
    );
    // The older failure leaves the hour first.
    let wait = details["retry_after"].as_u64().expect("retry_after");
    assert!((3500..=3600).contains(&wait), "{body}");
    assert_eq!(
        front.new_order_payloads().len(),
        orders_before,
        "no new order reached the CA"
    );

    // Another name through the same account is not held to the failing name's count.
    issued(&env, &issue(&env, &account, &domains(1)).await).await;
}

on_both_backends!(failed_authorizations_are_counted_per_name);
