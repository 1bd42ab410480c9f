//! A CA's pause of an account for some identifiers, end to end. Let's Encrypt pauses issuance
//! for an (account, identifier) pair after long repeated validation failures and refuses every
//! newOrder naming it with a link to its self-service unpause portal; a local ACME front before
//! Pebble answers newOrder that way for chosen names. The service must answer the caller with
//! the pause, show it on the account, hold the automatic renewal instead of retrying it into the
//! pause, and let an operator lift it (clearing it, or a forced renewal the CA accepts).

#[macro_use]
mod common;

use std::time::{Duration, Instant};

use common::{Db, domains, issuing, live_renewal_tasks, register_custom, wait_final};
use scaivault_testkit::{AcmeFront, AcmeFrontOptions, ApiClient, PauseProblem, PebbleOptions};
use serde_json::{Value, json};

const UNPAUSE_URL: &str = "https://portal.letsencrypt.org/sfe/v1/unpause?jwt=abc.def.ghi";

/// Issues `names` through `account` and waits for the certificate; returns its id.
async fn certificate(api: &ApiClient, account: &str, names: &[String]) -> String {
    let (status, placed) = api
        .post(
            "/v1/pki/acme/issue",
            &json!({"account_id": account, "domains": names, "challenge_type": "http-01"}),
        )
        .await;
    assert_eq!(status, 202, "{placed}");
    let done = wait_final(
        api,
        placed["order_id"].as_str().expect("order id"),
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(done["status"], "valid", "{done}");
    done["certificate_id"]
        .as_str()
        .expect("certificate")
        .to_owned()
}

/// The account's `paused`, `Null` when it is not paused.
async fn paused(api: &ApiClient, account: &str) -> Value {
    let (status, body) = api.get(&format!("/v1/pki/acme/accounts/{account}")).await;
    assert_eq!(status, 200, "{body}");
    body.get("paused").cloned().unwrap_or(Value::Null)
}

/// The `certificate.renewal_failed` events so far.
async fn renewal_failures(api: &ApiClient) -> Vec<Value> {
    let (_, events) = api.get("/v1/events?type=certificate.renewal_failed").await;
    events["events"].as_array().cloned().unwrap_or_default()
}

/// Asserts a 403 `account_paused` naming `identifiers` and the unpause link.
fn assert_paused(status: u16, body: &Value, identifiers: &[String]) {
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "account_paused", "{body}");
    let details = &body["error"]["details"];
    assert_eq!(details["unpause_url"], UNPAUSE_URL, "{body}");
    assert_eq!(details["identifiers"], json!(identifiers), "{body}");
}

async fn a_paused_account_holds_its_renewals(db: Db) {
    // One-minute certificates renew about 30 s after issuance; retries from 1 s would show
    // several failed attempts within seconds if the hold were a failure.
    let env = issuing(
        db,
        PebbleOptions {
            nonce_reject_percent: Some(0),
            validity_period_secs: Some(60),
            ..Default::default()
        },
        &[
            ("SCAIVAULT_RENEWAL__RETRY_BASE", "1s"),
            ("SCAIVAULT_RENEWAL__RETRY_MAX", "2s"),
        ],
    )
    .await;
    let front = AcmeFront::start(&env.pebble, AcmeFrontOptions::default()).await;
    let api = env.service.client();
    let account = register_custom(&api, "paused", &front.directory_url()).await;
    let renewed_names = domains(1);
    let id = certificate(&api, &account, &renewed_names).await;

    // The CA pauses both the certificate's name and another one.
    let other = domains(1);
    let both = [renewed_names[0].clone(), other[0].clone()];
    front.pause_identifiers(&both, UNPAUSE_URL, PauseProblem::RateLimited);
    let orders_before = front.new_order_payloads().len();
    let (status, body) = api
        .post(
            "/v1/pki/acme/issue",
            &json!({"account_id": account, "domains": other, "challenge_type": "http-01"}),
        )
        .await;
    assert_paused(status, &body, &other);
    // Recognised from the wording whatever the type: Let's Encrypt has sent `unauthorized` too.
    front.pause_identifiers(&both, UNPAUSE_URL, PauseProblem::Unauthorized);
    let (status, body) = api
        .post(
            "/v1/pki/acme/issue",
            &json!({"account_id": account, "domains": other, "challenge_type": "http-01"}),
        )
        .await;
    assert_paused(status, &body, &other);
    assert_eq!(front.new_order_payloads().len(), orders_before + 2);
    let shown = paused(&api, &account).await;
    assert_eq!(shown["identifiers"], json!(other), "{shown}");
    assert_eq!(shown["unpause_url"], UNPAUSE_URL, "{shown}");
    assert!(shown["since"].is_string(), "{shown}");

    // The automatic renewal meets the pause: reported once with the link, and held.
    let deadline = Instant::now() + Duration::from_secs(75);
    let held = loop {
        if let Some(event) = renewal_failures(&api).await.first().cloned() {
            break event;
        }
        assert!(
            Instant::now() < deadline,
            "the renewal meets the pause\n{}",
            env.service.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let data = &held["data"];
    assert_eq!(data["certificate_id"], id.as_str(), "{held}");
    assert_eq!(data["paused"]["unpause_url"], UNPAUSE_URL, "{held}");
    assert_eq!(
        data["paused"]["identifiers"],
        json!(renewed_names),
        "{held}"
    );
    assert_eq!(data["paused"]["account_id"], account.as_str(), "{held}");
    let at = |v: &Value| {
        time::OffsetDateTime::parse(
            v.as_str().expect("time"),
            &time::format_description::well_known::Rfc3339,
        )
        .expect("rfc3339")
    };
    let probe_in = at(&data["next_attempt_at"]) - at(&held["created_at"]);
    assert!(
        probe_in > time::Duration::hours(23) && probe_in <= time::Duration::hours(24),
        "the next probe is a day away, not a backoff: {held}"
    );
    // Its one live task is the probe (the next check, the same attempt), once the task that met
    // the pause has finished.
    let probe = vec![format!("renewal:{id}:v1:c1:a0")];
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let live = live_renewal_tasks(&env.service.database_url(), &id).await;
        if live == probe {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "live tasks {live:?}, not {probe:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Over several backoff periods, nothing is retried into the pause.
    let requests_before = front.new_order_payloads().len();
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(renewal_failures(&api).await.len(), 1);
    assert_eq!(front.new_order_payloads().len(), requests_before);
    // The account lists every paused name, sorted.
    let mut sorted = both.to_vec();
    sorted.sort();
    let shown = paused(&api, &account).await;
    assert_eq!(shown["identifiers"], json!(sorted), "{shown}");
    // The link is for API callers only: the log has it without its token.
    let log = env.service.log_text();
    assert!(!log.contains("abc.def.ghi"), "the unpause JWT is logged");
    assert!(log.contains("https://portal.letsencrypt.org/sfe/v1/unpause?…"));

    // The operator used the link and clears the pauses here: the held renewal runs now, not at
    // its probe a day later, without being forced.
    front.unpause_identifiers();
    let (status, cleared) = api
        .delete(&format!("/v1/pki/acme/accounts/{account}/pauses"))
        .await;
    assert_eq!(status, 200, "{cleared}");
    assert!(cleared.get("paused").is_none(), "{cleared}");
    assert_eq!(paused(&api, &account).await, Value::Null);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, renewed) = api.get(&format!("/v1/pki/certificates/{id}")).await;
        if renewed["current_version"] == 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the held renewal runs once the pauses are cleared: {renewed}\n{}",
            env.service.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(
        env.service
            .log_text()
            .contains("held renewals started account="),
        "{}",
        env.service.log_tail()
    );
    certificate(&api, &account, &other).await;

    // Paused again: a forced renewal asks the CA whatever is stored, is refused while the CA
    // pauses, and once the CA accepts, its acceptance clears the pause of the certificate's name.
    front.pause_identifiers(&renewed_names, UNPAUSE_URL, PauseProblem::RateLimited);
    let (status, body) = api
        .post(&format!("/v1/pki/certificates/{id}/renew"), &json!({}))
        .await;
    assert_paused(status, &body, &renewed_names);
    assert_eq!(
        paused(&api, &account).await["identifiers"],
        json!(renewed_names)
    );
    front.unpause_identifiers();
    let (status, renewal) = api
        .post(&format!("/v1/pki/certificates/{id}/renew"), &json!({}))
        .await;
    assert_eq!(status, 202, "{renewal}");
    let done = wait_final(
        &api,
        renewal["order_id"].as_str().expect("order id"),
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(done["status"], "valid", "{done}");
    assert_eq!(paused(&api, &account).await, Value::Null);
}

on_both_backends!(a_paused_account_holds_its_renewals);
