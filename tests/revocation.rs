//! Revocation end to end (`POST /v1/pki/revoke`): certificates issued by a real Pebble through
//! the service, revoked at the CA through the ordering account (RFC 8555 §7.6) or only marked
//! here, with Pebble's management API (`/cert-status-by-serial/<hex>`) as the CA's own word.

#[macro_use]
mod common;

use std::time::{Duration, Instant};

use common::{Db, Issuing, issuing, wait_final};
use scaivault_testkit::{ApiClient, PebbleOptions};
use serde_json::{Value, json};

const ORDER_TIMEOUT: Duration = Duration::from_secs(60);

fn fast() -> PebbleOptions {
    PebbleOptions {
        nonce_reject_percent: Some(0),
        ..Default::default()
    }
}

/// Issues one certificate over http-01; returns its id and its GET body.
async fn issue(env: &Issuing) -> (String, Value) {
    let api = env.service.client();
    let done = common::issue_http01(&api, &env.account_id, ORDER_TIMEOUT).await;
    assert_eq!(done["status"], "valid", "{done}");
    let id = done["certificate_id"]
        .as_str()
        .expect("certificate")
        .to_owned();
    (id.clone(), certificate(&api, &id).await)
}

async fn certificate(api: &ApiClient, id: &str) -> Value {
    let (status, body) = api.get(&format!("/v1/pki/certificates/{id}")).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// The current version's serial as the API shows it (`1A:2B:..`).
fn serial(certificate: &Value) -> String {
    certificate["serial_number"]
        .as_str()
        .expect("serial")
        .to_owned()
}

async fn revoke(api: &ApiClient, body: Value) -> (u16, Value) {
    api.post("/v1/pki/revoke", &body).await
}

async fn revoked_events(api: &ApiClient) -> Vec<Value> {
    let (status, events) = api.get("/v1/events?type=certificate.revoked").await;
    assert_eq!(status, 200, "{events}");
    events["events"].as_array().expect("events").clone()
}

/// Pebble's status word for `serial` ("Valid" or "Revoked") and its whole answer.
async fn ca_status(env: &Issuing, serial: &str) -> (String, Value) {
    let status = env
        .pebble
        .cert_status_by_serial(serial)
        .await
        .unwrap_or_else(|| panic!("Pebble knows serial {serial}"));
    (
        status["Status"].as_str().expect("Status").to_owned(),
        status,
    )
}

/// Revoked at the CA through the ordering account: Pebble reports it revoked with the reason;
/// version, order and certificate show `revoked`; the event fired once; a second request is a
/// conflict saying when; and the renewal job, when `renew_at` comes, does nothing.
async fn revokes_at_the_ca(db: Db) {
    // One-minute certificates: renew_at comes about 30 s after issuance.
    let env = issuing(
        db,
        PebbleOptions {
            validity_period_secs: Some(60),
            ..fast()
        },
        &[],
    )
    .await;
    let api = env.service.client();
    let (id, issued) = issue(&env).await;
    let serial = serial(&issued);
    assert!(serial.contains(':'), "{serial}");
    assert_eq!(ca_status(&env, &serial).await.0, "Valid");
    let order_id = issued["versions"][0]["order_id"]
        .as_str()
        .expect("order id")
        .to_owned();

    // The colon form in lower case.
    let (status, answer) = revoke(
        &api,
        json!({"serial_number": serial.to_lowercase(), "reason": "key_compromise", "use_acme": true}),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["serial_number"], serial.as_str());
    assert_eq!(answer["certificate_id"], id.as_str());
    assert_eq!(answer["version"], 1);
    assert_eq!(answer["order_id"], order_id.as_str());
    assert_eq!(answer["status"], "revoked");
    assert_eq!(answer["reason"], "key_compromise");
    assert_eq!(answer["via_acme"], true);
    assert_eq!(answer["certificate_revoked"], true);
    let revoked_at = answer["revoked_at"]
        .as_str()
        .expect("revoked_at")
        .to_owned();

    let (word, at_ca) = ca_status(&env, &serial).await;
    assert_eq!(word, "Revoked", "{at_ca}");
    assert_eq!(
        at_ca["Reason"], 1,
        "keyCompromise (RFC 5280 §5.3.1): {at_ca}"
    );

    let after = certificate(&api, &id).await;
    assert_eq!(after["status"], "revoked", "{after}");
    let version = &after["versions"][0];
    assert_eq!(version["status"], "revoked");
    assert_eq!(version["revoked_at"], revoked_at.as_str());
    assert_eq!(version["revocation_reason"], "key_compromise");
    assert_eq!(version["revoked_via_acme"], true);
    let (_, order) = api.get(&format!("/v1/pki/acme/orders/{order_id}")).await;
    assert_eq!(order["status"], "revoked", "{order}");
    let (_, listed) = api.get("/v1/pki/acme/orders?status=revoked").await;
    assert_eq!(listed["orders"].as_array().expect("orders").len(), 1);

    let events = revoked_events(&api).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["type"], "certificate.revoked");
    assert_eq!(
        events[0]["data"],
        json!({
            "certificate_id": id,
            "order_id": order_id,
            "domains": issued["domains"],
            "version": 1,
            "serial_number": serial,
            "reason": "key_compromise",
            "via_acme": true,
        })
    );
    assert_eq!(events[0]["created_at"], revoked_at.as_str());

    // Again, as plain upper-case hex: refused here, before the CA, saying when.
    let plain = serial.replace(':', "");
    let (status, again) = revoke(
        &api,
        json!({"serial_number": plain, "reason": "superseded", "use_acme": true}),
    )
    .await;
    assert_eq!(status, 409, "{again}");
    assert_eq!(again["error"]["code"], "conflict");
    let message = again["error"]["message"].as_str().expect("message");
    assert!(
        message.contains(&format!("already revoked at {revoked_at}")),
        "{message}"
    );
    assert!(message.contains("key_compromise"), "{message}");
    assert_eq!(revoked_events(&api).await.len(), 1, "no second event");

    // The renewal task still comes due at renew_at and must find nothing to do.
    let renew_at = time::OffsetDateTime::parse(
        issued["renew_at"].as_str().expect("renew_at"),
        &time::format_description::well_known::Rfc3339,
    )
    .expect("rfc3339");
    let deadline = Instant::now()
        + Duration::try_from(renew_at - time::OffsetDateTime::now_utc()).unwrap_or_default()
        + Duration::from_secs(20);
    loop {
        let log = env.service.log_text();
        if log
            .lines()
            .any(|line| line.contains("job done") && line.contains(&id))
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the renewal job for {id} runs at renew_at\n{}",
            env.service.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let later = certificate(&api, &id).await;
    assert_eq!(later["current_version"], 1, "not renewed: {later}");
    assert_eq!(later["status"], "revoked");
    let (_, orders) = api.get("/v1/pki/acme/orders").await;
    assert_eq!(
        orders["orders"].as_array().expect("orders").len(),
        1,
        "no renewal order: {orders}"
    );
    let log = env.service.log_text();
    assert!(
        !log.contains("automatic renewal running"),
        "{}",
        env.service.log_tail()
    );
    for kind in ["certificate.renewed", "certificate.renewal_failed"] {
        let (_, events) = api.get(&format!("/v1/events?type={kind}")).await;
        assert_eq!(events["events"], json!([]), "{kind}");
    }
}
on_both_backends!(revokes_at_the_ca);

/// Marked here only: Pebble still says valid. An older version revoked leaves the certificate
/// valid; the current one revokes it. Unknown serials, bad fields and a token without
/// `pki:write` are refused, and two racing requests revoke once.
async fn revokes_here_only(db: Db) {
    let env = issuing(db, fast(), &[]).await;
    let api = env.service.client();
    let (id, first) = issue(&env).await;
    let old_serial = serial(&first);

    // A renewal makes version 2; version 1 is then an older version.
    let (status, renewal) = api
        .post(&format!("/v1/pki/certificates/{id}/renew"), &json!({}))
        .await;
    assert_eq!(status, 202, "{renewal}");
    let done = wait_final(
        &api,
        renewal["order_id"].as_str().expect("order"),
        ORDER_TIMEOUT,
    )
    .await;
    assert_eq!(done["status"], "valid", "{done}");
    let renewed = certificate(&api, &id).await;
    assert_eq!(renewed["current_version"], 2);
    let current_serial = serial(&renewed);

    // Plain lower-case hex, no reason (unspecified), no use_acme (false).
    let (status, answer) = revoke(
        &api,
        json!({"serial_number": old_serial.replace(':', "").to_lowercase()}),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["version"], 1);
    assert_eq!(answer["reason"], "unspecified");
    assert_eq!(answer["via_acme"], false);
    assert_eq!(answer["certificate_revoked"], false);
    assert_eq!(
        ca_status(&env, &old_serial).await.0,
        "Valid",
        "the CA was not told"
    );
    let after = certificate(&api, &id).await;
    assert_eq!(after["status"], "valid", "an older version: {after}");
    assert_eq!(after["versions"][0]["status"], "valid");
    assert_eq!(after["versions"][1]["status"], "revoked");
    assert_eq!(after["versions"][1]["revoked_via_acme"], false);

    // The current version, by two racing requests: one revokes, the other is a conflict.
    let body = json!({"serial_number": current_serial, "reason": "cessation_of_operation"});
    let ((s1, a1), (s2, a2)) = tokio::join!(revoke(&api, body.clone()), revoke(&api, body));
    let mut statuses = [s1, s2];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 409], "{a1} {a2}");
    let winner = if s1 == 200 { &a1 } else { &a2 };
    assert_eq!(winner["certificate_revoked"], true);
    assert_eq!(ca_status(&env, &current_serial).await.0, "Valid");
    let after = certificate(&api, &id).await;
    assert_eq!(after["status"], "revoked", "{after}");
    let events = revoked_events(&api).await;
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[1]["data"]["version"], 2);
    assert_eq!(events[1]["data"]["reason"], "cessation_of_operation");
    assert_eq!(events[1]["data"]["via_acme"], false);

    // A revoked certificate can still be replaced by a manual renewal.
    let (status, renewal) = api
        .post(&format!("/v1/pki/certificates/{id}/renew"), &json!({}))
        .await;
    assert_eq!(status, 202, "{renewal}");
    let done = wait_final(
        &api,
        renewal["order_id"].as_str().expect("order"),
        ORDER_TIMEOUT,
    )
    .await;
    assert_eq!(done["status"], "valid", "{done}");
    let replaced = certificate(&api, &id).await;
    assert_eq!(replaced["current_version"], 3);
    assert_eq!(replaced["status"], "valid");

    // Serials not issued here: 404 either way, the CA is not asked.
    for use_acme in [false, true] {
        let (status, answer) = revoke(
            &api,
            json!({"serial_number": "01:02:03:04:05", "reason": "superseded", "use_acme": use_acme}),
        )
        .await;
        assert_eq!(status, 404, "{answer}");
        assert_eq!(answer["error"]["code"], "not_found");
        assert!(
            answer["error"]["message"]
                .as_str()
                .expect("message")
                .contains("01:02:03:04:05"),
            "{answer}"
        );
    }

    // Bad fields, named.
    for (body, field) in [
        (
            json!({"serial_number": current_serial, "reason": "keyCompromise"}),
            "reason",
        ),
        (
            json!({"serial_number": current_serial, "reason": "certificate_hold"}),
            "reason",
        ),
        (
            json!({"serial_number": "12:zz", "reason": "superseded"}),
            "serial_number",
        ),
        (json!({"serial_number": "1A2:B"}), "serial_number"),
        (json!({"reason": "superseded"}), "serial_number"),
    ] {
        let (status, answer) = revoke(&api, body.clone()).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert_eq!(answer["error"]["code"], "invalid_request", "{answer}");
        assert_eq!(answer["error"]["details"]["field"], field, "{answer}");
    }
    let (status, answer) = revoke(&api, json!({"serial_number": "1A", "use_acme": "yes"})).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"]["code"], "invalid_request");

    // Scope pki:write.
    let (status, created) = api
        .post(
            "/v1/auth/tokens",
            &json!({"name": "reader", "scopes": ["pki:read"]}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let reader = api.with_token(created["token"].as_str().expect("token"));
    let (status, answer) = revoke(
        &reader,
        json!({"serial_number": serial(&replaced), "reason": "superseded"}),
    )
    .await;
    assert_eq!(status, 403, "{answer}");
    assert_eq!(answer["error"]["code"], "forbidden");
    assert_eq!(answer["error"]["details"]["required_scope"], "pki:write");
    let (status, _) = revoke(
        &api.without_token(),
        json!({"serial_number": serial(&replaced)}),
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(certificate(&api, &id).await["status"], "valid");
    assert_eq!(revoked_events(&api).await.len(), 2);

    // Through the CA without a reason: the request carries none (RFC 5280 §5.3.1: absent rather
    // than unspecified), and the CA records none.
    let (status, answer) = revoke(
        &api,
        json!({"serial_number": serial(&replaced), "use_acme": true}),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["reason"], "unspecified");
    assert_eq!(answer["version"], 3);
    let (word, at_ca) = ca_status(&env, &serial(&replaced)).await;
    assert_eq!(word, "Revoked", "{at_ca}");
    assert!(at_ca["Reason"].is_null(), "no reason code: {at_ca}");
    assert_eq!(certificate(&api, &id).await["status"], "revoked");
}
on_both_backends!(revokes_here_only);

/// The CA first, then the marks: a crash right after the CA said yes leaves nothing marked; the
/// repeated request meets the CA's `alreadyRevoked` (409, nothing marked, with the way out), and
/// revoking without the CA records it. A CA that cannot be reached marks nothing (502).
#[tokio::test]
async fn crash_after_the_ca_and_ca_down() {
    let mut env = issuing(
        Db::Sqlite,
        fast(),
        &[("SV_TEST_CRASH_AFTER_CA_REVOKE", "1")],
    )
    .await;
    let api = env.service.client();
    let (first_id, first) = issue(&env).await;
    let (second_id, second) = issue(&env).await;
    let first_serial = serial(&first);

    let crashed = api
        .try_raw(
            reqwest::Method::POST,
            "/v1/pki/revoke",
            Some(&json!({"serial_number": first_serial, "reason": "superseded", "use_acme": true})),
        )
        .await;
    assert!(
        crashed.is_err(),
        "the service exits mid-request: {crashed:?}"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while env.service.is_running() {
        assert!(Instant::now() < deadline, "the service exits");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // (is_running reaped the exited process; kill9 then only drops the harness's handle on it,
    // which a second is_running would otherwise mistake for a live process.)
    env.service.kill9();
    env.service.restart().await;
    let api = env.service.client();

    let (word, at_ca) = ca_status(&env, &first_serial).await;
    assert_eq!(word, "Revoked", "{at_ca}");
    assert_eq!(at_ca["Reason"], 4, "superseded: {at_ca}");
    let after = certificate(&api, &first_id).await;
    assert_eq!(after["status"], "valid", "nothing marked: {after}");
    assert!(revoked_events(&api).await.is_empty());

    let (status, again) = revoke(
        &api,
        json!({"serial_number": first_serial, "reason": "superseded", "use_acme": true}),
    )
    .await;
    assert_eq!(status, 409, "{again}");
    assert_eq!(again["error"]["code"], "conflict");
    assert_eq!(
        again["error"]["details"]["ca_problem"]["type"],
        "urn:ietf:params:acme:error:alreadyRevoked"
    );
    assert!(
        again["error"]["message"]
            .as_str()
            .expect("message")
            .contains("use_acme false"),
        "{again}"
    );
    assert_eq!(certificate(&api, &first_id).await["status"], "valid");

    let (status, recorded) = revoke(
        &api,
        json!({"serial_number": first_serial, "reason": "superseded", "use_acme": false}),
    )
    .await;
    assert_eq!(status, 200, "{recorded}");
    assert_eq!(certificate(&api, &first_id).await["status"], "revoked");

    // The CA goes away: nothing is marked, and the error names the backend.
    let Issuing {
        service, pebble, ..
    } = env;
    drop(pebble);
    let (status, down) = revoke(
        &api,
        json!({"serial_number": serial(&second), "reason": "superseded", "use_acme": true}),
    )
    .await;
    assert_eq!(status, 502, "{down}");
    assert_eq!(down["error"]["code"], "backend_error");
    let after = certificate(&api, &second_id).await;
    assert_eq!(after["status"], "valid", "{after}");
    assert_eq!(after["versions"][0]["status"], "valid");
    assert_eq!(revoked_events(&api).await.len(), 1);
    drop(service);
}
